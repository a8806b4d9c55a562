//! The DynamoDB client: built once per process with bounded timeouts, and instrumented calls.

use std::{future::Future, time::Duration, time::Instant};

use crate::telemetry::otel;
use aws_config::{BehaviorVersion, SdkConfig, retry::RetryConfig, timeout::TimeoutConfig};
use aws_sdk_dynamodb::{
    Client,
    config::{
        StalledStreamProtectionConfig,
        interceptors::InterceptorContext,
        retry::{ClassifyRetry, RetryAction},
    },
};

/// How long the client waits on DynamoDB: connecting, one attempt, and a whole operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientTimeouts {
    /// How long to wait for a TCP/TLS connection to DynamoDB.
    pub connect: Duration,
    /// How long one attempt may take; DynamoDB answers in milliseconds, so this only catches stalls.
    pub attempt: Duration,
    /// How long one operation may take across retries, so a stalled DynamoDB is a 503 within
    /// seconds (inside the request deadline).
    pub operation: Duration,
}

impl Default for ClientTimeouts {
    /// What the service runs with.
    fn default() -> Self {
        Self {
            connect: Duration::from_millis(1_000),
            attempt: Duration::from_millis(1_500),
            operation: Duration::from_millis(4_000),
        }
    }
}

/// Attempts per operation (the first plus retries), with the SDK's standard jittered backoff.
const MAX_ATTEMPTS: u32 = 3;

/// Loads the standard AWS configuration: region, credentials chain (the ECS task role in
/// production) and `AWS_ENDPOINT_URL` / `AWS_ENDPOINT_URL_DYNAMODB` for a local engine.
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest()).load().await
}

/// Builds the client with this service's timeouts and retries on top of `sdk`.
///
/// Build it once and clone it: clones share the connection pool and the credentials cache.
pub fn build_client(sdk: &SdkConfig) -> Client {
    build_client_with(sdk, ClientTimeouts::default())
}

/// [`build_client`] with other timeouts (the tests give moto, a Python engine, more time).
pub fn build_client_with(sdk: &SdkConfig, limits: ClientTimeouts) -> Client {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(limits.connect)
        .operation_attempt_timeout(limits.attempt)
        .operation_timeout(limits.operation)
        .build();
    let config = aws_sdk_dynamodb::config::Builder::from(sdk)
        .timeout_config(timeouts)
        .retry_config(RetryConfig::standard().with_max_attempts(MAX_ATTEMPTS))
        .retry_classifier(NoRetryAfterTimeout)
        // The attempt timeout above already bounds a stalled answer (DynamoDB's are a few KiB,
        // read in one go); the SDK's throughput monitor on top of it only costs CPU per call.
        .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
        .build();
    Client::from_conf(config)
}

/// Forbids the SDK's retry of an attempt that timed out.
///
/// A timed-out request may still reach DynamoDB and be applied later, after its retry has been
/// applied and answered, and after the client has moved on: a delete could be undone by the late
/// copy of the create before it, or an update applied twice. DynamoDB documents the outcome of a
/// timed-out request as unknown, so the client gets that answer (a 503 to retry if it wants)
/// instead. Throttling, 5xx answers and broken connections are still retried as the standard
/// strategy does: DynamoDB refused those requests, or the process that held them is gone.
#[derive(Debug)]
struct NoRetryAfterTimeout;

impl ClassifyRetry for NoRetryAfterTimeout {
    fn classify_retry(&self, ctx: &InterceptorContext) -> RetryAction {
        match ctx.output_or_error() {
            Some(Err(e))
                if e.is_timeout_error()
                    || e.as_connector_error().is_some_and(|c| c.is_timeout()) =>
            {
                RetryAction::RetryForbidden
            }
            _ => RetryAction::NoActionIndicated,
        }
    }

    fn name(&self) -> &'static str {
        "NoRetryAfterTimeout"
    }
}

/// Backoff for retries the SDK does not make itself (UnprocessedItems / UnprocessedKeys):
/// 50 ms doubling, capped at 5 s, with "equal jitter" (half fixed, half random).
pub(crate) fn backoff(attempt: u32) -> Duration {
    let cap = 50u64.saturating_mul(1 << attempt.min(7)).min(5_000);
    // Jitter from the clock's sub-second noise is enough to spread retries; no RNG needed.
    let noise = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    Duration::from_millis(cap / 2 + noise % (cap / 2 + 1))
}

/// Runs one DynamoDB call, counting it and timing it per operation for `/metrics`, and as a
/// client span of the request's trace when traces are on.
pub(crate) async fn instrumented<T, E>(
    operation: &'static str,
    call: impl Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let span = otel::dynamodb_call(operation);
    let started = Instant::now();
    let result = call.await;
    if let Some(span) = span {
        otel::end_dynamodb_call(span, result.is_ok());
    }
    let outcome = if result.is_ok() { "ok" } else { "error" };
    metrics::counter!("dynamodb_requests_total", "operation" => operation, "outcome" => outcome)
        .increment(1);
    metrics::histogram!("dynamodb_request_duration_seconds", "operation" => operation)
        .record(started.elapsed().as_secs_f64());
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_capped() {
        assert!(backoff(0) <= Duration::from_millis(50));
        assert!(backoff(20) <= Duration::from_secs(5));
        assert!(backoff(20) >= Duration::from_millis(2_500));
    }
}
