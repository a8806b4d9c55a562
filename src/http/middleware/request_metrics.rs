//! The request counter and latency histogram, by method, route template and status.

use std::{
    collections::HashMap,
    sync::{Arc, PoisonError, RwLock},
    time::Duration,
};

use axum::http::{Method, StatusCode};
use metrics::{Counter, Histogram};

/// The metric handles of every (route, method, status) seen so far.
///
/// Naming a metric by its labels builds a key (a vector of label strings) and looks it up in the
/// recorder's registry, on every call; with three labels and two metrics that was about 4% of a
/// GET's CPU. The label sets are few (route templates × standard methods × statuses), so each
/// one's handles are registered once and reused.
#[derive(Clone, Default)]
pub(crate) struct RequestMetrics(Arc<RwLock<HashMap<Box<str>, Vec<Handles>>>>);

/// One label set's handles.
struct Handles {
    method: &'static str,
    status: StatusCode,
    count: Counter,
    duration: Histogram,
}

impl Handles {
    fn register(method: &'static str, route: &str, status: StatusCode) -> Self {
        let labels = [
            ("method", method.to_owned()),
            ("route", route.to_owned()),
            ("status", status.as_str().to_owned()),
        ];
        Self {
            method,
            status,
            count: metrics::counter!("http_requests_total", &labels),
            duration: metrics::histogram!("http_request_duration_seconds", &labels),
        }
    }

    fn is_for(&self, method: &'static str, status: StatusCode) -> bool {
        self.method == method && self.status == status
    }

    fn record(&self, took: Duration) {
        self.count.increment(1);
        self.duration.record(took.as_secs_f64());
    }
}

impl RequestMetrics {
    /// Counts one request and records how long it took.
    pub(crate) fn record(
        &self,
        method: &'static str,
        route: &str,
        status: StatusCode,
        took: Duration,
    ) {
        {
            let known = self.0.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(handles) = find(&known, method, route, status) {
                handles.record(took);
                return;
            }
        }
        let mut known = self.0.write().unwrap_or_else(PoisonError::into_inner);
        // Another request may have registered the same set between the two locks.
        if find(&known, method, route, status).is_none() {
            let handles = Handles::register(method, route, status);
            known.entry(route.into()).or_default().push(handles);
        }
        find(&known, method, route, status)
            .expect("registered just above")
            .record(took);
    }
}

fn find<'a>(
    known: &'a HashMap<Box<str>, Vec<Handles>>,
    method: &'static str,
    route: &str,
    status: StatusCode,
) -> Option<&'a Handles> {
    known.get(route)?.iter().find(|h| h.is_for(method, status))
}

/// The method as a metrics label: HTTP allows any token as a method, and each new label value
/// would be a new time series kept forever, so the non-standard ones share `other`.
pub(super) fn method_label(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "other",
    }
}

#[cfg(test)]
mod tests {
    use metrics_exporter_prometheus::PrometheusBuilder;

    use super::*;

    #[test]
    fn counts_each_label_set_on_its_own_series() {
        let recorder = PrometheusBuilder::new().build_recorder();
        let rendered = metrics::with_local_recorder(&recorder, || {
            let metrics = RequestMetrics::default();
            let took = Duration::from_millis(3);
            metrics.record("GET", "/books/{author}/{title}", StatusCode::OK, took);
            metrics.record("GET", "/books/{author}/{title}", StatusCode::OK, took);
            metrics.record(
                "GET",
                "/books/{author}/{title}",
                StatusCode::NOT_FOUND,
                took,
            );
            metrics.record("PUT", "/books/{author}/{title}", StatusCode::OK, took);
            recorder.handle().render()
        });
        let count = |labels: &str| {
            rendered
                .lines()
                .find(|l| l.starts_with(&format!("http_requests_total{{{labels}}}")))
                .and_then(|l| l.rsplit(' ').next())
                .map(str::to_owned)
        };
        let route = r#"route="/books/{author}/{title}""#;
        assert_eq!(
            count(&format!(r#"method="GET",{route},status="200""#)).as_deref(),
            Some("2")
        );
        assert_eq!(
            count(&format!(r#"method="GET",{route},status="404""#)).as_deref(),
            Some("1")
        );
        assert_eq!(
            count(&format!(r#"method="PUT",{route},status="200""#)).as_deref(),
            Some("1")
        );
    }
}
