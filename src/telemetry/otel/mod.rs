//! OpenTelemetry traces over OTLP: off unless an endpoint is configured.
//!
//! With neither `OTEL_EXPORTER_OTLP_ENDPOINT` nor `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` set, [`init`]
//! builds nothing: no exporter, no tracing layer, and the request path only reads one flag
//! ([`enabled`]). With one set, each request is a server span (the `request` span of the
//! envelope middleware, turned into an OpenTelemetry span by `tracing-opentelemetry`) and each
//! DynamoDB call a client span under it, exported in batches from a background thread.
//!
//! The SDK reads the standard variables itself: `OTEL_TRACES_SAMPLER` and
//! `OTEL_TRACES_SAMPLER_ARG` (sampler), `OTEL_SERVICE_NAME` and `OTEL_RESOURCE_ATTRIBUTES`
//! (resource), `OTEL_EXPORTER_OTLP_*` (endpoint, headers, timeout) and `OTEL_BSP_*` (batching).

mod export;
mod spans;

use std::{sync::OnceLock, time::Duration};

use opentelemetry::{KeyValue, trace::TracerProvider as _};
use opentelemetry_otlp::{ExporterBuildError, SpanExporter, WithExportConfig as _};
use opentelemetry_sdk::{
    Resource,
    trace::{BatchConfigBuilder, BatchSpanProcessor, SdkTracer, SdkTracerProvider},
};
use tracing_subscriber::{Layer, filter::filter_fn, registry::LookupSpan};

pub use spans::{
    TraceIdHex, current_trace_id, dynamodb_call, end_dynamodb_call, record_response, server_span,
    trace_id_in_scope,
};

/// The service name when neither `OTEL_SERVICE_NAME` nor `OTEL_RESOURCE_ATTRIBUTES` gives one.
const DEFAULT_SERVICE_NAME: &str = "bookstore";

/// Longest the final flush on shutdown may take: ECS sends SIGKILL 30 s after SIGTERM, and the
/// HTTP drain may already have used 20 of them.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(5);

/// The tracer of the process, once [`init`] has built one.
static TRACER: OnceLock<SdkTracer> = OnceLock::new();

/// Whether traces are on: the one check the request path pays when they are off.
#[inline]
pub fn enabled() -> bool {
    TRACER.get().is_some()
}

/// The tracer, when traces are on.
fn tracer() -> Option<&'static SdkTracer> {
    TRACER.get()
}

/// Why tracing could not start; start-up stops with this message.
#[derive(Debug, thiserror::Error)]
pub enum TracingError {
    /// `OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL` names a protocol this build does not speak.
    #[error("{variable}={value:?} is not supported: use http/protobuf (the default) or grpc")]
    UnsupportedProtocol {
        /// The variable that was set.
        variable: &'static str,
        /// Its value.
        value: String,
    },
    /// The exporter rejected its configuration (an endpoint that is not a URL, say).
    #[error("OTLP exporter: {0}")]
    Exporter(#[from] ExporterBuildError),
}

/// The running trace pipeline; [`Tracing::shutdown`] flushes it.
#[derive(Debug)]
pub struct Tracing {
    provider: SdkTracerProvider,
}

impl Tracing {
    /// Exports the spans still buffered and stops the exporter (on SIGTERM, after the drain).
    ///
    /// Blocking, so it runs off the async workers: the gRPC exporter's connection lives on them.
    pub async fn shutdown(self) {
        let provider = self.provider;
        let flushed =
            tokio::task::spawn_blocking(move || provider.shutdown_with_timeout(SHUTDOWN_TIMEOUT))
                .await;
        match flushed {
            // Spans that could not be delivered are counted in tracing_spans_dropped_total.
            Ok(Ok(())) => tracing::info!("trace export flushed and stopped"),
            Ok(Err(e)) => tracing::warn!(error = %e, "traces not all flushed"),
            Err(e) => tracing::warn!(error = %e, "traces not flushed"),
        }
    }
}

/// Whether an OTLP endpoint is configured (the switch that turns traces on).
pub fn configured() -> bool {
    [
        "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
        "OTEL_EXPORTER_OTLP_ENDPOINT",
    ]
    .iter()
    .any(|name| std::env::var_os(name).is_some_and(|v| !v.is_empty()))
}

/// Builds the exporter, the batch processor and the tracer when an endpoint is configured;
/// `None` when none is. Call once, inside the Tokio runtime (the gRPC exporter needs it).
pub fn init() -> Result<Option<Tracing>, TracingError> {
    if !configured() {
        return Ok(None);
    }
    let queue = export::Queue::from_env();
    let batches = BatchSpanProcessor::builder(queue.counting(exporter()?))
        .with_batch_config(
            BatchConfigBuilder::default()
                .with_max_queue_size(queue.capacity())
                .build(),
        )
        .build();
    let provider = SdkTracerProvider::builder()
        .with_span_processor(queue.bounding(batches))
        .with_id_generator(spans::ContinuingIds::default())
        .with_resource(resource())
        .build();
    let tracer = provider.tracer("bookstore");
    if TRACER.set(tracer).is_err() {
        tracing::warn!("tracing was already initialised; keeping the first tracer");
    }
    // The recorder first, so that the drop counter's series exist (at zero) from the start.
    super::metrics_handle();
    export::describe_metrics();
    Ok(Some(Tracing { provider }))
}

/// The `tracing` layer that turns the service's spans into OpenTelemetry spans, when traces are on.
///
/// It sees only this crate's spans, and its warnings and errors (as span events): not the AWS
/// SDK's spans, nor the access-log line of every request.
pub fn layer<S>() -> Option<impl Layer<S>>
where
    S: tracing::Subscriber + for<'span> LookupSpan<'span>,
{
    let tracer = tracer()?.clone();
    let ours = filter_fn(|meta| {
        meta.target().starts_with("bookstore")
            && (meta.is_span() || *meta.level() <= tracing::Level::WARN)
    });
    Some(
        tracing_opentelemetry::layer()
            .with_tracer(tracer)
            .with_location(false)
            .with_threads(false)
            .with_level(false)
            .with_target(false)
            .with_filter(ours),
    )
}

/// The exporter `OTEL_EXPORTER_OTLP_(TRACES_)PROTOCOL` asks for; it reads its endpoint itself.
fn exporter() -> Result<SpanExporter, TracingError> {
    let (variable, value) = [
        "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
        "OTEL_EXPORTER_OTLP_PROTOCOL",
    ]
    .into_iter()
    .find_map(|name| {
        std::env::var(name)
            .ok()
            .filter(|v| !v.is_empty())
            .map(|v| (name, v))
    })
    .unwrap_or(("", String::new()));
    let exporter = match value.as_str() {
        "" | "http/protobuf" => SpanExporter::builder()
            .with_http()
            .with_protocol(opentelemetry_otlp::Protocol::HttpBinary)
            .build()?,
        "grpc" => SpanExporter::builder().with_tonic().build()?,
        _ => return Err(TracingError::UnsupportedProtocol { variable, value }),
    };
    Ok(exporter)
}

/// The SDK's resource (service name and attributes from the environment), named `bookstore`
/// unless the environment names it.
fn resource() -> Resource {
    let detected = Resource::builder().build();
    let unnamed = detected
        .get(&opentelemetry::Key::from_static_str("service.name"))
        .is_none_or(|name| name.as_str().starts_with("unknown_service"));
    if unnamed {
        Resource::builder()
            .with_attribute(KeyValue::new("service.name", DEFAULT_SERVICE_NAME))
            .build()
    } else {
        detected
    }
}
