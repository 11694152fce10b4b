//! Answers in allocations of their own size. tonic encodes each answer into an 8 KiB
//! buffer and hands on a slice of it, which keeps the whole buffer alive while the answer
//! waits to be sent: for a peer that does not read (see `flow.rs`), 8 KiB for every
//! 100-byte check. This layer copies what an answer has ready when its call returns into
//! exact-size buffers, so a queued answer holds its own bytes.

use std::collections::VecDeque;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Body as HttpBody, Frame};
use tonic::Status;
use tonic::body::Body;
use tower::{Layer, Service};

/// What is copied of an answer at most: a streaming answer's first messages up to this
/// much, and no frame larger (a large answer's frame is most of its buffer already).
const COPIED_MAX: usize = 64 * 1024;

#[derive(Clone, Copy, Default)]
pub struct CompactAnswersLayer;

impl<S> Layer<S> for CompactAnswersLayer {
    type Service = CompactAnswers<S>;

    fn layer(&self, inner: S) -> Self::Service {
        CompactAnswers { inner }
    }
}

#[derive(Clone)]
pub struct CompactAnswers<S> {
    inner: S,
}

impl<S> Service<http::Request<Body>> for CompactAnswers<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>>,
    S::Future: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let call = self.inner.call(request);
        Box::pin(async move {
            let response = call.await?;
            if response.body().is_end_stream() {
                return Ok(response);
            }
            let (parts, mut body) = response.into_parts();
            let (ready, ended) = copy_ready(&mut body).await;
            let body = Compact {
                ready,
                rest: (!ended).then_some(body),
            };
            Ok(http::Response::from_parts(parts, Body::new(body)))
        })
    }
}

/// The frames `body` has ready now (up to `COPIED_MAX` bytes of data), each data frame
/// copied; true when the body has nothing more.
async fn copy_ready(body: &mut Body) -> (VecDeque<Result<Frame<Bytes>, Status>>, bool) {
    let mut ready = VecDeque::new();
    let mut copied = 0;
    let mut ended = false;
    std::future::poll_fn(|cx| {
        while copied < COPIED_MAX {
            match Pin::new(&mut *body).poll_frame(cx) {
                Poll::Ready(Some(Ok(frame))) => ready.push_back(Ok(match frame.into_data() {
                    Ok(data) if data.len() <= COPIED_MAX => {
                        copied += data.len();
                        Frame::data(Bytes::copy_from_slice(&data))
                    }
                    Ok(large) => {
                        copied += large.len();
                        Frame::data(large)
                    }
                    Err(other) => other,
                })),
                Poll::Ready(Some(Err(status))) => ready.push_back(Err(status)),
                Poll::Ready(None) => {
                    ended = true;
                    break;
                }
                Poll::Pending => break,
            }
        }
        Poll::Ready(())
    })
    .await;
    (ready, ended)
}

/// An answer's copied frames, then whatever its call sends later.
struct Compact {
    ready: VecDeque<Result<Frame<Bytes>, Status>>,
    rest: Option<Body>,
}

impl HttpBody for Compact {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        if let Some(next) = self.ready.pop_front() {
            return Poll::Ready(Some(next));
        }
        match self.rest.as_mut() {
            Some(rest) => Pin::new(rest).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.ready.is_empty() && self.rest.as_ref().is_none_or(HttpBody::is_end_stream)
    }
}
