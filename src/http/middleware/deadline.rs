//! The two deadlines of a request: its body's upload, and the work once the body is in.

use std::{
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use axum::{
    body::{Body, Bytes, HttpBody as _},
    extract::Request,
    middleware::Next,
    response::{IntoResponse, Response},
};
use tokio::sync::Notify;

use crate::http::problem::ApiError;

/// Longest a request may take once its body is in; beyond it the client gets a 503 rather than a
/// hang. Longer than the DynamoDB client's own operation timeout, so that one normally answers
/// first.
pub const REQUEST_DEADLINE: Duration = Duration::from_secs(6);

/// Longest a client may take to send a request body, from the start of the request; beyond it
/// the answer is a 408. Separate from [`REQUEST_DEADLINE`]: a slow upload is the client's delay,
/// not the service's, and must neither use up the work's time nor be reported as a 503.
pub const BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Runs the rest of the stack, answering 408 when the body takes longer than [`BODY_READ_TIMEOUT`]
/// to arrive, and 503 when the work runs past [`REQUEST_DEADLINE`], counted from when the body was
/// read (or from the start, for requests whose body is never read).
pub(super) async fn within_deadlines(request: Request, next: Next) -> Response {
    // Most requests (GET, HEAD, DELETE) have no body: the work's deadline runs from now, and
    // none of the tracking below is needed on that hot path.
    if request.body().is_end_stream() {
        return tokio::time::timeout(REQUEST_DEADLINE, next.run(request))
            .await
            .unwrap_or_else(|_| past_deadline());
    }
    let started = tokio::time::Instant::now();
    let upload = Arc::new(Upload::default());
    let request = request.map(|body| {
        Body::new(TrackedBody {
            body,
            upload: upload.clone(),
        })
    });
    let work = next.run(request);
    tokio::pin!(work);
    loop {
        let (at, expired) = upload.deadline(started);
        tokio::select! {
            response = &mut work => return response,
            () = upload.changed.notified() => {}
            () = tokio::time::sleep_until(at) => {
                if upload.deadline(started).0 > at {
                    continue;
                }
                return match expired {
                    Expired::Work => past_deadline(),
                    Expired::Upload => {
                        tracing::info!("request body not received in time");
                        ApiError::RequestTimeout(BODY_READ_TIMEOUT.as_secs()).into_response()
                    }
                };
            }
        }
    }
}

/// The 503 for a request whose work ran past [`REQUEST_DEADLINE`].
fn past_deadline() -> Response {
    tracing::warn!("request ran past its deadline");
    ApiError::Unavailable(None).into_response()
}

/// How far the request body has been read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Progress {
    /// Nothing asked for it (yet).
    NotRead,
    /// Being read.
    Reading,
    /// Read to the end (or failed) at this instant.
    Read(tokio::time::Instant),
}

/// Which deadline fired.
#[derive(Debug, Clone, Copy)]
enum Expired {
    Work,
    Upload,
}

/// The body's progress, shared by the body and the [`deadline`] middleware.
#[derive(Debug)]
struct Upload {
    progress: std::sync::Mutex<Progress>,
    changed: Notify,
}

impl Default for Upload {
    fn default() -> Self {
        Self {
            progress: std::sync::Mutex::new(Progress::NotRead),
            changed: Notify::new(),
        }
    }
}

impl Upload {
    fn progress(&self) -> Progress {
        *self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn set(&self, next: Progress) {
        let mut progress = self.progress.lock().unwrap_or_else(|e| e.into_inner());
        // Only forward: a body read to the end stays read.
        let moved_on = matches!(
            (*progress, next),
            (Progress::NotRead, Progress::Reading | Progress::Read(_))
                | (Progress::Reading, Progress::Read(_))
        );
        if moved_on {
            *progress = next;
            self.changed.notify_one();
        }
    }

    fn deadline(&self, started: tokio::time::Instant) -> (tokio::time::Instant, Expired) {
        match self.progress() {
            Progress::NotRead => (started + REQUEST_DEADLINE, Expired::Work),
            Progress::Reading => (started + BODY_READ_TIMEOUT, Expired::Upload),
            Progress::Read(at) => (at + REQUEST_DEADLINE, Expired::Work),
        }
    }
}

/// A request body that reports its progress to the [`deadline`] middleware.
struct TrackedBody {
    body: Body,
    upload: Arc<Upload>,
}

impl http_body::Body for TrackedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let poll = Pin::new(&mut this.body).poll_frame(cx);
        let done = match &poll {
            Poll::Ready(None | Some(Err(_))) => true,
            Poll::Ready(Some(Ok(_))) => this.body.is_end_stream(),
            Poll::Pending => false,
        };
        this.upload.set(if done {
            Progress::Read(tokio::time::Instant::now())
        } else {
            Progress::Reading
        });
        poll
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
