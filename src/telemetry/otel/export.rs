//! The export queue: bounded, with every span it loses counted in `/metrics`.
//!
//! The SDK's batch processor already exports from its own thread through a bounded queue, so a
//! collector that is down or slow never holds a request up: a full queue drops the span. But it
//! keeps its count of drops private (one log line at the first, a total at shutdown). So the
//! bound is kept here, in front of it: [`Bounding`] counts a span as queued when it ends and
//! [`Counting`] uncounts it when the exporter takes it; a span that finds [`Queue::capacity`]
//! spans queued is dropped and counted. The SDK's own queue has the same capacity and holds
//! only spans counted here, so it never drops one itself.

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use opentelemetry::Context;
use opentelemetry_sdk::{
    Resource,
    error::OTelSdkResult,
    trace::{Span, SpanData, SpanExporter, SpanProcessor},
};

/// The metric of lost spans, by reason: `queue_full` or `export_failed`.
const DROPPED: &str = "tracing_spans_dropped_total";

/// The SDK's default queue size (`OTEL_BSP_MAX_QUEUE_SIZE`).
const DEFAULT_QUEUE_SIZE: usize = 2048;

/// The count of spans ended and not yet taken by the exporter, with its bound.
#[derive(Debug, Clone)]
pub(super) struct Queue {
    queued: Arc<AtomicUsize>,
    capacity: usize,
}

impl Queue {
    /// A queue of `OTEL_BSP_MAX_QUEUE_SIZE` spans (2048 unless set), as the SDK would size it.
    pub(super) fn from_env() -> Self {
        let capacity = std::env::var("OTEL_BSP_MAX_QUEUE_SIZE")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .filter(|&n: &usize| n > 0)
            .unwrap_or(DEFAULT_QUEUE_SIZE);
        Self {
            queued: Arc::default(),
            capacity,
        }
    }

    /// How many spans may wait for export.
    pub(super) fn capacity(&self) -> usize {
        self.capacity
    }

    /// `exporter`, uncounting the spans it takes.
    pub(super) fn counting<E>(&self, exporter: E) -> Counting<E> {
        Counting {
            inner: exporter,
            queue: self.clone(),
        }
    }

    /// `processor`, fed only while the queue has room.
    pub(super) fn bounding<P>(&self, processor: P) -> Bounding<P> {
        Bounding {
            inner: processor,
            queue: self.clone(),
        }
    }

    /// Takes a place in the queue, if there is one.
    fn reserve(&self) -> bool {
        self.queued
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.capacity).then_some(n + 1)
            })
            .is_ok()
    }

    fn release(&self, spans: usize) {
        self.queued.fetch_sub(spans, Ordering::AcqRel);
    }
}

/// Registers the drop counter at zero, so that an alert on it has a series from the start.
pub(super) fn describe_metrics() {
    metrics::describe_counter!(
        DROPPED,
        "Spans lost before reaching the OTLP collector, by reason (queue_full, export_failed)"
    );
    for reason in ["queue_full", "export_failed"] {
        metrics::counter!(DROPPED, "reason" => reason).increment(0);
    }
}

/// A span processor that passes a span on only when the [`Queue`] has room for it.
pub(super) struct Bounding<P> {
    inner: P,
    queue: Queue,
}

impl<P> fmt::Debug for Bounding<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Bounding")
            .field("queue", &self.queue)
            .finish_non_exhaustive()
    }
}

impl<P: SpanProcessor> SpanProcessor for Bounding<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.inner.on_start(span, cx);
    }

    fn on_end(&self, span: SpanData) {
        if self.queue.reserve() {
            self.inner.on_end(span);
        } else {
            metrics::counter!(DROPPED, "reason" => "queue_full").increment(1);
        }
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

/// An exporter that frees the [`Queue`] places of the spans it takes and counts failed exports.
#[derive(Debug)]
pub(super) struct Counting<E> {
    inner: E,
    queue: Queue,
}

impl<E: SpanExporter> SpanExporter for Counting<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len();
        self.queue.release(spans);
        let result = self.inner.export(batch).await;
        if result.is_err() {
            metrics::counter!(DROPPED, "reason" => "export_failed").increment(spans as u64);
        }
        result
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queue_refuses_past_its_capacity_and_frees_what_is_exported() {
        let queue = Queue {
            queued: Arc::default(),
            capacity: 2,
        };
        assert!(queue.reserve());
        assert!(queue.reserve());
        assert!(!queue.reserve(), "a third span finds the queue full");
        queue.release(2);
        assert!(queue.reserve());
    }
}
