//! Traces end to end: the service binary, started with an OTLP endpoint, exports to a real
//! OTLP/HTTP receiver run by this test, which decodes each export with `opentelemetry-proto`.
//!
//! The tracer provider is process-global, so the service runs as its own process (the binary
//! cargo built) rather than in this one: the other test targets never have traces on.

// The harness is shared with tests/api; this target uses only its engine endpoint and ports.
#[allow(dead_code)]
#[path = "../api/support.rs"]
mod support;

use std::{
    process::{Child, Command, Stdio},
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use axum::{Router, body::Bytes, extract::State, http::header, routing::post};
use opentelemetry_proto::tonic::{
    collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse},
    common::v1::any_value::Value as AnyValue,
    trace::v1::{Span, span::SpanKind},
};
use prost::Message;
use serde_json::Value;

/// The spans received so far, each with its resource's `service.name`; and the transport of
/// each export (`http` or `grpc`).
#[derive(Clone, Default)]
struct Received(
    Arc<Mutex<Vec<(String, Span)>>>,
    Arc<Mutex<Vec<&'static str>>>,
);

impl Received {
    fn spans(&self) -> Vec<(String, Span)> {
        self.0.lock().unwrap().clone()
    }

    /// The spans of one trace, once `until` holds for them (the export is asynchronous).
    async fn trace(&self, trace_id: &str, until: impl Fn(&[Span]) -> bool) -> Vec<Span> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let spans: Vec<Span> = self
                .spans()
                .into_iter()
                .map(|(_, span)| span)
                .filter(|span| hex::encode(&span.trace_id) == trace_id)
                .collect();
            if until(&spans) {
                return spans;
            }
            assert!(
                Instant::now() < deadline,
                "trace {trace_id} incomplete after 20 s: {spans:#?}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// A minimal OTLP receiver: `POST /v1/traces` (OTLP/HTTP, protobuf) and the gRPC `Export`.
async fn receiver() -> (String, Received) {
    fn store(received: &Received, body: Bytes, transport: &'static str) {
        received.1.lock().unwrap().push(transport);
        let request = ExportTraceServiceRequest::decode(body).expect("a valid OTLP export");
        let mut spans = received.0.lock().unwrap();
        for resource in request.resource_spans {
            let service = resource
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|kv| kv.key == "service.name")
                .and_then(|kv| string(kv.value.as_ref()?.value.as_ref()?))
                .unwrap_or_default();
            for scope in resource.scope_spans {
                spans.extend(scope.spans.into_iter().map(|s| (service.clone(), s)));
            }
        }
    }
    async fn export(
        State(received): State<Received>,
        body: Bytes,
    ) -> impl axum::response::IntoResponse {
        store(&received, body, "http");
        (
            [(header::CONTENT_TYPE, "application/x-protobuf")],
            ExportTraceServiceResponse::default().encode_to_vec(),
        )
    }
    /// The same over gRPC: one length-prefixed message each way, and the status in trailers.
    async fn export_grpc(
        State(received): State<Received>,
        body: Bytes,
    ) -> axum::response::Response {
        assert_eq!(body[0], 0, "an uncompressed message");
        store(&received, body.slice(5..), "grpc");
        let mut message = vec![0u8; 5];
        ExportTraceServiceResponse::default()
            .encode(&mut message)
            .unwrap();
        let length = u32::try_from(message.len() - 5).unwrap();
        message[1..5].copy_from_slice(&length.to_be_bytes());
        axum::response::Response::builder()
            .header(header::CONTENT_TYPE, "application/grpc")
            .body(axum::body::Body::new(GrpcBody(Some(message.into()), true)))
            .unwrap()
    }
    let received = Received::default();
    let app = Router::new()
        .route("/v1/traces", post(export))
        .route(
            "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
            post(export_grpc),
        )
        .with_state(received.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (endpoint, received)
}

/// A gRPC response body: the message, then the `grpc-status: 0` trailers.
struct GrpcBody(Option<Bytes>, bool);

impl http_body::Body for GrpcBody {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Self::Error>>> {
        let frame = if let Some(message) = self.0.take() {
            Some(http_body::Frame::data(message))
        } else if std::mem::take(&mut self.1) {
            let mut trailers = axum::http::HeaderMap::new();
            trailers.insert("grpc-status", axum::http::HeaderValue::from_static("0"));
            Some(http_body::Frame::trailers(trailers))
        } else {
            None
        };
        std::task::Poll::Ready(frame.map(Ok))
    }
}

fn string(value: &AnyValue) -> Option<String> {
    match value {
        AnyValue::StringValue(s) => Some(s.clone()),
        _ => None,
    }
}

fn attribute(span: &Span, key: &str) -> Option<AnyValue> {
    span.attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.clone())
}

mod hex {
    pub(crate) fn encode(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The service binary on its own table, with traces sent to `otlp`; its stdout is collected.
struct Service {
    child: Child,
    base: String,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Service {
    fn start(otlp: &str, schedule_delay_ms: u64) -> Self {
        Self::start_with(otlp, schedule_delay_ms, &[])
    }

    /// `otlp` empty: no endpoint, traces off.
    fn start_with(otlp: &str, schedule_delay_ms: u64, more_env: &[(&str, &str)]) -> Self {
        let table = format!("Tracing{}", uuid::Uuid::new_v4().simple());
        let engine = support::engine_endpoint();
        let env = |command: &mut Command| {
            command
                .env_clear()
                .env("PATH", std::env::var_os("PATH").unwrap_or_default())
                .env("BOOKSTORE_TABLE", &table)
                .env("AWS_ENDPOINT_URL", &engine)
                .env("AWS_REGION", "us-east-1")
                .env("AWS_ACCESS_KEY_ID", "test")
                .env("AWS_SECRET_ACCESS_KEY", "test")
                .env("AWS_EC2_METADATA_DISABLED", "true")
                .env("RUST_LOG", "info");
        };
        let bin = support::BIN;
        let mut migrate = Command::new(bin);
        migrate.arg("migrate");
        env(&mut migrate);
        let status = migrate.stdout(Stdio::null()).status().unwrap();
        assert!(status.success(), "migrate failed");

        let mut serve = Command::new(bin);
        serve.arg("serve");
        env(&mut serve);
        serve
            .env("BOOKSTORE_API_TOKENS", "test-token")
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", otlp)
            .env("OTEL_SERVICE_NAME", "bookstore-under-test")
            .env("OTEL_BSP_SCHEDULE_DELAY", schedule_delay_ms.to_string())
            .envs(more_env.iter().copied());
        let support::Listening { child, addr, logs } = support::spawn_listening(&mut serve);
        Self {
            child,
            base: format!("http://{addr}"),
            logs,
        }
    }

    async fn get(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = reqwest::Client::new().get(format!("{}{path}", self.base));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.unwrap()
    }

    /// SIGTERM, then the exit status.
    fn terminate(mut self) -> std::process::ExitStatus {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        let status = self.child.wait().unwrap();
        std::mem::forget(self);
        status
    }

    /// The first log line that `matches`, once the service has written it.
    async fn log_line(&self, matches: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let found = self
                .logs
                .lock()
                .unwrap()
                .iter()
                .filter_map(|line| serde_json::from_str(line).ok())
                .find(&matches);
            if let Some(line) = found {
                return line;
            }
            assert!(Instant::now() < deadline, "no such log line");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_ID: &str = "00f067aa0ba902b7";
/// A sampled `traceparent` with [`TRACE_ID`] and [`PARENT_ID`].
const TRACEPARENT: (&str, &str) = (
    "traceparent",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
);

#[tokio::test]
async fn a_traceparent_is_continued_with_a_dynamodb_child_and_shows_in_the_404_and_the_logs() {
    let (otlp, received) = receiver().await;
    let service = Service::start(&otlp, 100);

    let response = service.get("/books/No%20One/Nothing", &[TRACEPARENT]).await;
    assert_eq!(response.status(), 404);
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["trace_id"], TRACE_ID, "{problem}");

    let spans = received.trace(TRACE_ID, |spans| spans.len() >= 2).await;
    let server = spans
        .iter()
        .find(|s| s.kind == SpanKind::Server as i32)
        .expect("a server span");
    assert_eq!(server.name, "GET /books/{author}/{title}");
    assert_eq!(hex::encode(&server.parent_span_id), PARENT_ID);
    assert_eq!(
        attribute(server, "http.response.status_code"),
        Some(AnyValue::IntValue(404))
    );
    assert_eq!(
        attribute(server, "http.route"),
        Some(AnyValue::StringValue("/books/{author}/{title}".into()))
    );
    let dynamodb = spans
        .iter()
        .find(|s| s.kind == SpanKind::Client as i32)
        .expect("a DynamoDB client span");
    assert_eq!(dynamodb.parent_span_id, server.span_id);
    assert_eq!(
        attribute(dynamodb, "db.system"),
        Some(AnyValue::StringValue("dynamodb".into()))
    );
    assert_eq!(
        attribute(dynamodb, "db.operation.name"),
        Some(AnyValue::StringValue("GetItem".into()))
    );
    assert!(received.1.lock().unwrap().iter().all(|t| *t == "http"));
    let services: Vec<String> = received.spans().into_iter().map(|(s, _)| s).collect();
    assert!(
        services.iter().all(|s| s == "bookstore-under-test"),
        "{services:?}"
    );

    let finished = service
        .log_line(|line| line["message"] == "request finished" && line["status"] == 404)
        .await;
    assert_eq!(finished["trace_id"], TRACE_ID, "{finished}");
}

#[tokio::test]
async fn an_alb_trace_header_gives_the_trace_id_and_a_malformed_one_a_new_trace() {
    let (otlp, received) = receiver().await;
    let service = Service::start(&otlp, 100);

    let root = "1-67891233-abcdef012345678912345678";
    let response = service
        .get(
            "/books/No%20One/Nothing",
            &[("x-amzn-trace-id", &format!("Root={root}"))],
        )
        .await;
    assert_eq!(response.status(), 404);
    let problem: Value = response.json().await.unwrap();
    let from_xray = "67891233abcdef012345678912345678";
    assert_eq!(problem["trace_id"], from_xray);
    let spans = received
        .trace(from_xray, |spans| {
            spans.iter().any(|s| s.kind == SpanKind::Server as i32)
        })
        .await;
    let server = spans
        .iter()
        .find(|s| s.kind == SpanKind::Server as i32)
        .unwrap();
    assert!(server.parent_span_id.is_empty(), "a root span: {server:?}");

    for (name, value) in [
        ("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-zz-01"),
        ("x-amzn-trace-id", "Root=1-evil\"}{marker;Parent=zz"),
    ] {
        let response = service.get("/health/live", &[(name, value)]).await;
        assert_eq!(response.status(), 200, "{name}: {value:?}");
        let request_id = response.headers()["x-request-id"]
            .to_str()
            .unwrap()
            .to_owned();
        let line = service
            .log_line(|line| line["span"]["request_id"] == request_id.as_str())
            .await;
        let trace_id = line["trace_id"].as_str().expect("a trace id").to_owned();
        assert_eq!(trace_id.len(), 32);
        assert!(
            trace_id
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_ne!(trace_id, TRACE_ID);
        let spans = received.trace(&trace_id, |spans| !spans.is_empty()).await;
        assert!(spans[0].parent_span_id.is_empty(), "a new trace: {spans:?}");
        assert_eq!(spans[0].name, "GET /health/live");
    }
    let logs = service.logs.lock().unwrap().join("\n");
    assert!(
        !logs.contains("\"}{"),
        "the malformed header is never logged"
    );
}

#[tokio::test]
async fn spans_still_buffered_at_sigterm_are_exported_before_exit() {
    let (otlp, received) = receiver().await;
    // Batches would wait ten minutes: only the shutdown flush can send this one.
    let service = Service::start(&otlp, 600_000);
    let response = service.get("/health/live", &[TRACEPARENT]).await;
    assert_eq!(response.status(), 200);
    assert!(
        received.spans().is_empty(),
        "nothing exported before the signal"
    );

    let status = service.terminate();
    assert!(status.success(), "{status:?}");
    let spans = received.trace(TRACE_ID, |spans| !spans.is_empty()).await;
    assert_eq!(spans[0].name, "GET /health/live");
    assert_eq!(hex::encode(&spans[0].parent_span_id), PARENT_ID);
}

#[tokio::test]
async fn grpc_is_used_when_asked_for() {
    let (otlp, received) = receiver().await;
    let service = Service::start_with(&otlp, 100, &[("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc")]);
    let response = service.get("/health/live", &[TRACEPARENT]).await;
    assert_eq!(response.status(), 200);
    let spans = received.trace(TRACE_ID, |spans| !spans.is_empty()).await;
    assert_eq!(spans[0].name, "GET /health/live");
    assert!(received.1.lock().unwrap().iter().all(|t| *t == "grpc"));
    let status = service.terminate();
    assert!(status.success(), "{status:?}");
}

#[tokio::test]
async fn without_an_endpoint_there_is_no_trace_id() {
    let service = Service::start("", 100);
    let response = service.get("/books/No%20One/Nothing", &[TRACEPARENT]).await;
    assert_eq!(response.status(), 404);
    let problem: Value = response.json().await.unwrap();
    assert!(problem.get("trace_id").is_none(), "{problem}");
    let finished = service
        .log_line(|line| line["message"] == "request finished")
        .await;
    assert!(finished.get("trace_id").is_none(), "{finished}");
    assert_eq!(finished["span"]["route"], "/books/{author}/{title}");
}

#[tokio::test]
async fn with_the_collector_down_requests_are_answered_and_lost_spans_counted() {
    // Nothing listens there: every export fails (after the exporter's own retries), and with a
    // queue of one span the requests meanwhile find it full.
    let closed = format!("http://127.0.0.1:{}", support::free_port());
    let service = Service::start_with(&closed, 100, &[("OTEL_BSP_MAX_QUEUE_SIZE", "1")]);
    let metrics = service.get("/metrics", &[]).await.text().await.unwrap();
    for reason in ["queue_full", "export_failed"] {
        let series = format!("tracing_spans_dropped_total{{reason=\"{reason}\"}} ");
        assert!(
            metrics.contains(&series),
            "{reason} is there from the start"
        );
    }
    for _ in 0..50 {
        assert_eq!(service.get("/health/live", &[]).await.status(), 200);
    }
    let dropped = |metrics: &str, reason: &str| -> u64 {
        let series = format!("tracing_spans_dropped_total{{reason=\"{reason}\"}} ");
        metrics
            .lines()
            .find_map(|line| line.strip_prefix(&series))
            .map_or(0, |n| n.trim().parse().unwrap())
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let metrics = service.get("/metrics", &[]).await.text().await.unwrap();
        let (full, failed) = (
            dropped(&metrics, "queue_full"),
            dropped(&metrics, "export_failed"),
        );
        if full > 0 && failed > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "queue_full {full}, export_failed {failed}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
