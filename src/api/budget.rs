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
                message: Message::default(),
                held: None,
            })
        }))
    }
}

/// A request body that takes from the budget what its message being received holds past
/// `FREE_BYTES`, and gives it back when that message is whole (it is then decoded and
/// handed over) or the call drops the body: a long stream of small messages holds none.
struct Counted {
    body: Body,
    layer: RequestBytesLayer,
    message: Message,
    held: Option<OwnedSemaphorePermit>,
}

/// Where a gRPC length-prefixed message stands: its 5-byte header (compression flag and
/// big-endian length), then that many bytes.
#[derive(Default)]
struct Message {
    header: [u8; 5],
    header_read: usize,
    /// Bytes of the body still to come, once the header is read.
    remaining: usize,
    /// Bytes of this message received so far, header included.
    received: usize,
}

impl Message {
    /// Follows `data`; true when a message was completed in it.
    fn advance(&mut self, mut data: &[u8]) -> bool {
        let mut completed = false;
        while !data.is_empty() {
            let taken = if self.header_read < self.header.len() {
                let taken = (self.header.len() - self.header_read).min(data.len());
                self.header[self.header_read..self.header_read + taken]
                    .copy_from_slice(&data[..taken]);
                self.header_read += taken;
                if self.header_read == self.header.len() {
                    let [_, length @ ..] = self.header;
                    self.remaining = u32::from_be_bytes(length) as usize;
                }
                taken
            } else {
                let taken = self.remaining.min(data.len());
                self.remaining -= taken;
                taken
            };
            self.received += taken;
            data = &data[taken..];
            if self.header_read == self.header.len() && self.remaining == 0 {
                *self = Message::default();
                completed = true;
            }
        }
        completed
    }
}

impl HttpBody for Counted {
    type Data = bytes::Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let frame = ready!(Pin::new(&mut self.body).poll_frame(cx));
        if let Some(Ok(Some(data))) = frame.as_ref().map(|f| f.as_ref().map(Frame::data_ref)) {
            if self.message.advance(data) {
                self.held = None;
            }
            let held = self
                .held
                .as_ref()
                .map_or(0, OwnedSemaphorePermit::num_permits);
            let needed = self
                .message
                .received
                .saturating_sub(FREE_BYTES)
                .saturating_sub(held);
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

#[cfg(test)]
mod tests {
    use super::Message;

    fn framed(length: usize) -> Vec<u8> {
        let mut message = vec![0];
        message.extend(u32::try_from(length).unwrap().to_be_bytes());
        message.extend(std::iter::repeat_n(7, length));
        message
    }

    #[test]
    fn a_message_is_followed_across_chunks_and_a_new_one_starts_after_it() {
        let mut message = Message::default();
        let mut data = framed(10);
        data.extend(framed(3)[..4].to_vec());
        assert!(!message.advance(&data[..3]), "within the first header");
        assert!(!message.advance(&data[3..12]));
        assert_eq!(message.received, 12);
        assert!(
            message.advance(&data[12..]),
            "the first ends, the second begins"
        );
        assert_eq!(message.received, 4, "the second message's header so far");
        assert!(!message.advance(&[3]), "its length: 3");
        assert!(message.advance(&[1, 2, 3]));
        assert_eq!(message.received, 0);
        assert!(
            message.advance(&framed(0)),
            "an empty message ends with its header"
        );
    }
}
