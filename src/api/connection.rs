//! What one TCP connection may cost: at most `max_connections` at once (more are closed
//! as soon as they are accepted), and a connection that sends nothing within the
//! handshake timeout (no HTTP/2 preface, no TLS hello) is closed. With the HTTP/2 limits
//! set in `serve` (streams per connection, flow-control windows), memory per connection
//! is bounded, so a flood is bounded too, and given back when it ends.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::transport::server::{Connected, TcpConnectInfo};

/// How many connections a port holds at once, and how long one may stay silent at first.
#[derive(Clone, Debug)]
pub struct ConnectionLimits {
    pub max_connections: usize,
    pub handshake_timeout: Duration,
}

/// Hands out one permit per open connection.
#[derive(Clone)]
pub struct ConnectionGate {
    permits: Arc<Semaphore>,
    handshake_timeout: Duration,
}

impl ConnectionGate {
    pub fn new(limits: &ConnectionLimits) -> Self {
        ConnectionGate {
            permits: Arc::new(Semaphore::new(limits.max_connections)),
            handshake_timeout: limits.handshake_timeout,
        }
    }

    /// The connection, guarded; None (and the connection closed) when the port is full.
    pub fn admit(&self, stream: TcpStream) -> Option<GuardedStream> {
        let Ok(permit) = Arc::clone(&self.permits).try_acquire_owned() else {
            tracing::warn!(
                peer = ?stream.peer_addr().ok(),
                "connection limit reached; closing a new connection"
            );
            return None;
        };
        Some(GuardedStream {
            inner: stream,
            first_byte: Some(Box::pin(tokio::time::sleep(self.handshake_timeout))),
            _permit: permit,
        })
    }
}

/// A TCP connection that holds its permit while open and fails its reads when the peer
/// says nothing within the handshake timeout.
pub struct GuardedStream {
    inner: TcpStream,
    /// Some until the first byte arrives.
    first_byte: Option<Pin<Box<tokio::time::Sleep>>>,
    _permit: OwnedSemaphorePermit,
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let filled = buf.filled().len();
        let read = Pin::new(&mut self.inner).poll_read(cx, buf);
        let Some(deadline) = self.first_byte.as_mut() else {
            return read;
        };
        match read {
            Poll::Ready(Ok(())) if buf.filled().len() > filled => {
                self.first_byte = None;
                read
            }
            Poll::Pending if deadline.as_mut().poll(cx).is_ready() => {
                Poll::Ready(Err(std::io::Error::new(
                    std::io::ErrorKind::TimedOut,
                    "the peer sent nothing within the handshake timeout",
                )))
            }
            other => other,
        }
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

impl Connected for GuardedStream {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> Self::ConnectInfo {
        self.inner.connect_info()
    }
}
