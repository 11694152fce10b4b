//! One budget for the request bodies the server holds at once, across all connections:
//! HTTP/2 flow control bounds what a peer sends before it is read, but a call's body is
//! read into memory until its message is whole, so many half-sent calls would otherwise
//! hold up to `--max-request-bytes` each. The first `FREE_BYTES` of each call are not
//! counted, so that checks and ordinary calls are answered whatever a flood holds.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http_body::{Body as HttpBody, Frame, SizeHint};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::Status;
use tonic::body::Body;
use tower::{Layer, Service};

/// What each call may hold without the budget: a check or a batch of a hundred.
pub const FREE_BYTES: usize = 16 * 1024;

/// Bytes of request bodies held beyond each call's first `FREE_BYTES`, server-wide.
#[derive(Clone)]
pub struct RequestBytesLayer {
    budget: Arc<Semaphore>,
    limit_mib: u64,
}

impl RequestBytesLayer {
    pub fn new(limit_mib: u64) -> RequestBytesLayer {
        let bytes = usize::try_from(limit_mib.saturating_mul(1024 * 1024))
            .unwrap_or(usize::MAX)
            .min(Semaphore::MAX_PERMITS);
        RequestBytesLayer {
            budget: Arc::new(Semaphore::new(bytes)),
            limit_mib,
        }
    }
}

impl<S> Layer<S> for RequestBytesLayer {
    type Service = RequestBytes<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestBytes {
            inner,
            layer: self.clone(),
        }
    }
}

#[derive(Clone)]
pub struct RequestBytes<S> {
    inner: S,
    layer: RequestBytesLayer,
}

impl<S> Service<http::Request<Body>> for RequestBytes<S>
where
    S: Service<http::Request<Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let layer = self.layer.clone();
        self.inner.call(request.map(|body| {
            Body::new(Counted {
                body,
                layer,
                received: 0,
                held: None,
            })
        }))
    }
}

/// A request body that takes from the budget what it holds past `FREE_BYTES`, and gives
/// it back when the call drops it.
struct Counted {
    body: Body,
    layer: RequestBytesLayer,
    received: usize,
    held: Option<OwnedSemaphorePermit>,
}

impl HttpBody for Counted {
    type Data = bytes::Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let frame = ready!(Pin::new(&mut self.body).poll_frame(cx));
        if let Some(Ok(data)) = frame.as_ref().map(|f| f.as_ref().map(Frame::data_ref)) {
            let length = data.map_or(0, bytes::Bytes::len);
            let before = self.received.saturating_sub(FREE_BYTES);
            self.received = self.received.saturating_add(length);
            let needed = self.received.saturating_sub(FREE_BYTES) - before;
            if needed > 0 {
                let taken = u32::try_from(needed).ok().and_then(|n| {
                    Arc::clone(&self.layer.budget)
                        .try_acquire_many_owned(n)
                        .ok()
                });
                let Some(taken) = taken else {
                    return Poll::Ready(Some(Err(Status::resource_exhausted(format!(
                        "the server holds {} MiB of request bodies at once (--max-inflight-request-mib) and is full; retry later, or send smaller calls",
                        self.layer.limit_mib
                    )))));
                };
                match &mut self.held {
                    Some(held) => held.merge(taken),
                    None => self.held = Some(taken),
                }
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}
