//! Logs (JSON lines through `tracing`), OpenTelemetry traces and the Prometheus metrics recorder.

mod json_lines;
pub mod otel;

use std::{sync::OnceLock, time::Duration};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// Latency buckets in seconds: DynamoDB answers in milliseconds, timeouts are seconds.
const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// How often the recorder is drained (see [`metrics_handle`]): the exporter's own default.
const UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Installs JSON-lines logging to stdout, filtered by `RUST_LOG` (default `info`).
///
/// Each line carries the fields of its request span (request id, method, route).
pub fn init_logging() {
    install_subscriber();
}

/// [`init_logging`], and OpenTelemetry traces when an OTLP endpoint is configured (see [`otel`]):
/// what `serve` runs with. Keep the returned pipeline to flush it on shutdown.
pub fn init_logging_and_tracing() -> Result<Option<otel::Tracing>, otel::TracingError> {
    let tracing = otel::init()?;
    install_subscriber();
    Ok(tracing)
}

/// The subscriber: the filter, the JSON lines, and the OpenTelemetry layer if traces are on.
fn install_subscriber() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = fmt::layer()
        .with_ansi(false)
        .fmt_fields(json_lines::JsonPairs)
        .event_format(json_lines::JsonLines);
    // Ignore the error a second initialisation gives (tests build several apps in one process).
    let _ = tracing_subscriber::registry()
        .with(filter)
        .with(json)
        .with(otel::layer())
        .try_init();
}

/// An error and its sources, `: `-separated: a log field, or the one line a failed command prints.
pub struct ErrorChain<'a>(pub &'a (dyn std::error::Error + 'static));

impl std::fmt::Display for ErrorChain<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// The process-wide Prometheus recorder, installed on first use with a thread that drains it.
///
/// The recorder keeps every histogram observation in a queue until a render or an upkeep folds it
/// into the buckets, and `install_recorder` starts no upkeep of its own. A task nobody scrapes (a
/// deployment without Prometheus) would otherwise keep two samples per request forever: RSS grew
/// by about 1.2 MiB per 10 s of GETs at 3,000 requests/s, without bound (bench/history.md). The
/// upkeep is a plain thread, not a tokio task, so it lives as long as the recorder whatever
/// runtime first asked for it.
pub fn metrics_handle() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let handle = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), LATENCY_BUCKETS)
                .expect("the bucket list is not empty")
                .install_recorder()
                .expect("no other metrics recorder is installed");
            let upkeep = handle.clone();
            std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || {
                    loop {
                        std::thread::sleep(UPKEEP_INTERVAL);
                        upkeep.run_upkeep();
                    }
                })
                .expect("the system can start one more thread");
            handle
        })
        .clone()
}
