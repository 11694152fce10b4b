//! The per-call deadline: a call still running after `--request-timeout-ms` is dropped
//! (its work cancelled) and answered DEADLINE_EXCEEDED. A caller's shorter `grpc-timeout`
//! is enforced by tonic itself.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tonic::Status;
use tonic::body::Body;
use tower::{Layer, Service};

/// Bounds every call of the services it wraps.
#[derive(Clone, Copy, Debug)]
pub struct DeadlineLayer {
    limit: Duration,
}

impl DeadlineLayer {
    pub fn new(limit: Duration) -> DeadlineLayer {
        DeadlineLayer { limit }
    }
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = Deadline<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Deadline {
            inner,
            limit: self.limit,
        }
    }
}

/// The service [`DeadlineLayer`] wraps around another.
#[derive(Clone, Debug)]
pub struct Deadline<S> {
    inner: S,
    limit: Duration,
}

impl<S> Service<http::Request<Body>> for Deadline<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>>,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = DeadlineFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        DeadlineFuture {
            call: tokio::time::timeout(self.limit, self.inner.call(request)),
            limit: self.limit,
        }
    }
}

pin_project_lite::pin_project! {
    /// A call's answer, or DEADLINE_EXCEEDED once its time is up.
    pub struct DeadlineFuture<F> {
        #[pin]
        call: tokio::time::Timeout<F>,
        limit: Duration,
    }
}

impl<F, E> Future for DeadlineFuture<F>
where
    F: Future<Output = Result<http::Response<Body>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        match std::task::ready!(this.call.poll(cx)) {
            Ok(answer) => Poll::Ready(answer),
            Err(_elapsed) => Poll::Ready(Ok(Status::deadline_exceeded(format!(
                "the call did not finish within {} ms (the server's --request-timeout-ms)",
                this.limit.as_millis()
            ))
            .into_http())),
        }
    }
}
