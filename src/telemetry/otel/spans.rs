//! The spans: one server span per request, continued from the caller's trace headers, and one
//! client span per DynamoDB call; and the trace id that logs and problem documents carry.

use std::{borrow::Cow, cell::Cell, fmt};

use axum::http::{HeaderMap, StatusCode};
use opentelemetry::{
    Context, KeyValue,
    propagation::TextMapPropagator as _,
    trace::{
        Span as _, SpanContext, SpanId, SpanKind, Status, TraceContextExt as _, TraceId,
        Tracer as _,
    },
};
use opentelemetry_http::HeaderExtractor;
use opentelemetry_sdk::{
    propagation::TraceContextPropagator,
    trace::{IdGenerator, RandomIdGenerator},
};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::{Registry, registry::LookupSpan};

/// The header an AWS load balancer adds: `Root=1-<8 hex>-<24 hex>[;Parent=<16 hex>;Sampled=<0|1|?>]`.
const X_AMZN_TRACE_ID: &str = "x-amzn-trace-id";

/// A request's trace id, kept in its span's extensions for the log lines written inside it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceIdHex(TraceId);

impl fmt::Display for TraceIdHex {
    /// 32 lowercase hex digits, the W3C form (also for a trace that came in as X-Ray's).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:032x}", self.0)
    }
}

/// The `request` span of a request, as an OpenTelemetry server span named
/// `METHOD /route/{template}` that continues the caller's trace, if it sent one.
///
/// A `traceparent` is continued as it is. An `X-Amzn-Trace-Id` with a parent and a sampling
/// decision is too; one with a root only (what an ALB adds) or a deferred decision gives the
/// trace id, and this service's sampler decides. A malformed header counts as absent: the
/// request starts a new trace, as it would without it.
pub fn server_span(
    headers: &HeaderMap,
    request_id: &str,
    method: &'static str,
    route: Option<&str>,
) -> tracing::Span {
    let name: Cow<'_, str> = match route {
        Some(route) => format!("{method} {route}").into(),
        None => method.into(),
    };
    let span = tracing::info_span!(
        "request",
        request_id,
        method,
        route = route.unwrap_or("unmatched"),
        otel.name = %name,
        otel.kind = "server",
    );
    let (parent, root) = incoming(headers);
    if let Some(parent) = parent {
        // Fails only for a span no layer records; it is then untraced anyway.
        let _ = span.set_parent(parent);
    }
    span.set_attribute("http.request.method", method);
    if let Some(route) = route {
        span.set_attribute("http.route", route.to_owned());
    }
    // Starts the OpenTelemetry span now, so that the trace id is known for the logs.
    let cx = ContinuingIds::with_trace_id(root, || span.context());
    let trace_id = cx.span().span_context().trace_id();
    if trace_id != TraceId::INVALID {
        remember(&span, TraceIdHex(trace_id));
    }
    span
}

/// Adds the response status to a [`server_span`]; a 5xx marks it as an error.
pub fn record_response(span: &tracing::Span, status: StatusCode) {
    span.set_attribute("http.response.status_code", i64::from(status.as_u16()));
    if status.is_server_error() {
        span.set_status(Status::error(status.as_str().to_owned()));
    }
}

/// The caller's trace: a remote parent to continue, or only a trace id to continue.
fn incoming(headers: &HeaderMap) -> (Option<Context>, Option<TraceId>) {
    let w3c = TraceContextPropagator::new().extract(&HeaderExtractor(headers));
    if w3c.span().span_context().is_valid() {
        return (Some(w3c), None);
    }
    let Some(xray) = headers
        .get(X_AMZN_TRACE_ID)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| opentelemetry_aws::trace::xray_propagator::span_context_from_str(v.trim()))
    else {
        return (None, None);
    };
    if xray.is_valid() && decided(&xray) {
        (Some(Context::new().with_remote_span_context(xray)), None)
    } else {
        (None, Some(xray.trace_id()))
    }
}

/// Whether an X-Ray context carries a sampling decision (`Sampled=1` or `0`, not `?` or none,
/// which the propagator marks with the flag bit 0x02).
fn decided(xray: &SpanContext) -> bool {
    xray.trace_flags().to_u8() & 0x02 == 0
}

/// Keeps the trace id in the span's extensions, where [`trace_id_in_scope`] finds it.
fn remember(span: &tracing::Span, trace_id: TraceIdHex) {
    span.with_subscriber(|(id, dispatch)| {
        if let Some(span) = dispatch
            .downcast_ref::<Registry>()
            .and_then(|registry| registry.span(id))
        {
            span.extensions_mut().insert(trace_id);
        }
    });
}

/// The trace id of `span` or of the nearest span around it that has one.
pub fn trace_id_in_scope<'a, R: LookupSpan<'a>>(
    span: &tracing_subscriber::registry::SpanRef<'a, R>,
) -> Option<TraceIdHex> {
    span.scope()
        .find_map(|s| s.extensions().get::<TraceIdHex>().copied())
}

/// The trace id of the request being handled, when traces are on.
pub fn current_trace_id() -> Option<TraceIdHex> {
    if !super::enabled() {
        return None;
    }
    tracing::Span::current()
        .with_subscriber(|(id, dispatch)| {
            let registry = dispatch.downcast_ref::<Registry>()?;
            trace_id_in_scope(&registry.span(id)?)
        })
        .flatten()
}

/// A client span for one DynamoDB call, child of the request's span; `None` when traces are off.
///
/// Made with the OpenTelemetry API rather than as a `tracing` span: log lines written during the
/// call keep the request span's fields, and nothing is formatted for a span no log shows.
pub fn dynamodb_call(operation: &'static str) -> Option<opentelemetry_sdk::trace::Span> {
    let tracer = super::tracer()?;
    let parent = Context::current();
    let span = tracer
        .span_builder(format!("DynamoDB.{operation}"))
        .with_kind(SpanKind::Client)
        .with_attributes([
            KeyValue::new("db.system", "dynamodb"),
            KeyValue::new("db.system.name", "aws.dynamodb"),
            KeyValue::new("db.operation", operation),
            KeyValue::new("db.operation.name", operation),
            KeyValue::new("rpc.system", "aws-api"),
            KeyValue::new("rpc.service", "DynamoDB"),
            KeyValue::new("rpc.method", operation),
        ])
        .start_with_context(tracer, &parent);
    Some(span)
}

/// Ends a [`dynamodb_call`] span, marking a failed call as an error.
pub fn end_dynamodb_call(mut span: opentelemetry_sdk::trace::Span, ok: bool) {
    if !ok {
        span.set_status(Status::error("DynamoDB call failed"));
    }
    span.end();
}

thread_local! {
    /// The trace id the next new trace on this thread takes, set by [`ContinuingIds::with_trace_id`].
    static NEXT_TRACE_ID: Cell<Option<TraceId>> = const { Cell::new(None) };
}

/// Random ids, except for a trace continued from an X-Ray root without a parent.
///
/// The SDK gives a span without a valid parent a fresh trace id from its id generator, and has
/// no other way in: so this generator hands out the caller's root instead, for the one span
/// started under [`ContinuingIds::with_trace_id`], on the thread that starts it.
#[derive(Debug, Default)]
pub(super) struct ContinuingIds(RandomIdGenerator);

impl ContinuingIds {
    /// Runs `start` (which starts one span) so that a new trace it starts has `trace_id`.
    fn with_trace_id<T>(trace_id: Option<TraceId>, start: impl FnOnce() -> T) -> T {
        NEXT_TRACE_ID.set(trace_id);
        let started = start();
        NEXT_TRACE_ID.set(None);
        started
    }
}

impl IdGenerator for ContinuingIds {
    fn new_trace_id(&self) -> TraceId {
        NEXT_TRACE_ID
            .take()
            .unwrap_or_else(|| self.0.new_trace_id())
    }

    fn new_span_id(&self) -> SpanId {
        self.0.new_span_id()
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(*name, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    fn hex(trace_id: TraceId) -> String {
        TraceIdHex(trace_id).to_string()
    }

    const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    #[test]
    fn a_traceparent_is_a_parent() {
        let (parent, root) = incoming(&headers(&[("traceparent", TRACEPARENT)]));
        let parent = parent.expect("continued");
        let span = parent.span();
        let sc = span.span_context();
        assert_eq!(hex(sc.trace_id()), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(format!("{:016x}", sc.span_id()), "00f067aa0ba902b7");
        assert!(sc.is_remote() && sc.is_sampled());
        assert_eq!(root, None);
    }

    #[test]
    fn an_alb_root_gives_the_trace_id_only() {
        let (parent, root) = incoming(&headers(&[(
            "x-amzn-trace-id",
            "Root=1-67891233-abcdef012345678912345678",
        )]));
        assert!(parent.is_none());
        assert_eq!(hex(root.expect("root")), "67891233abcdef012345678912345678");
    }

    #[test]
    fn an_xray_parent_with_a_decision_is_a_parent() {
        let (parent, root) = incoming(&headers(&[(
            "x-amzn-trace-id",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
        )]));
        let parent = parent.expect("continued");
        let span = parent.span();
        assert_eq!(
            hex(span.span_context().trace_id()),
            "5759e988bd862e3fe1be46a994272793"
        );
        assert!(span.span_context().is_sampled());
        assert_eq!(root, None);
        // A deferred decision leaves it to this service's sampler.
        let (parent, root) = incoming(&headers(&[(
            "x-amzn-trace-id",
            "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=?",
        )]));
        assert!(parent.is_none());
        assert_eq!(hex(root.unwrap()), "5759e988bd862e3fe1be46a994272793");
    }

    #[test]
    fn traceparent_wins_over_xray() {
        let (parent, _) = incoming(&headers(&[
            (
                "x-amzn-trace-id",
                "Root=1-67891233-abcdef012345678912345678",
            ),
            ("traceparent", TRACEPARENT),
        ]));
        assert_eq!(
            hex(parent.unwrap().span().span_context().trace_id()),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
    }

    #[test]
    fn malformed_headers_are_ignored() {
        for (name, value) in [
            (
                "traceparent",
                "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            ),
            (
                "traceparent",
                "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            ),
            ("traceparent", "zz-\"quoted\"\t-x"),
            ("x-amzn-trace-id", "Root=1-zzzz-abc"),
            (
                "x-amzn-trace-id",
                "Self=1-67891233-abcdef012345678912345678",
            ),
            ("x-amzn-trace-id", "garbage \" { }"),
        ] {
            assert_eq!(
                incoming(&headers(&[(name, value)])).0.map(|_| ()),
                None,
                "{name}: {value}"
            );
            assert_eq!(
                incoming(&headers(&[(name, value)])).1,
                None,
                "{name}: {value}"
            );
        }
    }

    #[test]
    fn the_preset_trace_id_is_used_once() {
        let ids = ContinuingIds::default();
        let wanted = TraceId::from_hex("67891233abcdef012345678912345678").unwrap();
        let (first, second) =
            ContinuingIds::with_trace_id(Some(wanted), || (ids.new_trace_id(), ids.new_trace_id()));
        assert_eq!(first, wanted);
        assert_ne!(second, wanted);
        assert_ne!(ids.new_trace_id(), wanted);
    }
}
