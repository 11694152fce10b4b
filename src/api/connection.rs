//! What one TCP connection may cost: at most `max_connections` at once (more are closed
//! as soon as they are accepted); a connection that sends nothing within the handshake
//! timeout (no HTTP/2 preface, no TLS hello) is closed; so is one the stall watch finds
//! leaving its answers unread (`stalls.rs`). TLS is ended here, so that the connection's
//! HTTP/2 frames can be followed (`flow.rs`). With the HTTP/2 limits set in `serve`
//! (streams per connection, flow-control windows) and the request-body budget, memory per
//! connection is bounded, so a flood is bounded too, and given back when it ends.

use std::io::IoSlice;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::futures::OwnedNotified;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_rustls::TlsAcceptor;
use tokio_rustls::server::TlsStream;
use tonic::transport::server::Connected;

use super::flow::{Blocked, Flow};
use super::stalls::{ConnectionStall, StallWatch};

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
    tls: Option<TlsAcceptor>,
    stalls: StallWatch,
}

impl ConnectionGate {
    pub fn new(limits: &ConnectionLimits, tls: Option<TlsAcceptor>, stalls: StallWatch) -> Self {
        ConnectionGate {
            permits: Arc::new(Semaphore::new(limits.max_connections)),
            handshake_timeout: limits.handshake_timeout,
            tls,
            stalls,
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
        let stall = self.stalls.open(stream.peer_addr().ok());
        let io = match &self.tls {
            None => Io::Plain(stream),
            Some(tls) => Io::Handshaking(Box::pin(tls.accept(stream))),
        };
        Some(GuardedStream {
            io,
            first_byte: Some(Box::pin(tokio::time::sleep(self.handshake_timeout))),
            closed_by_watch: Box::pin(stall.closing().notified_owned()),
            stall,
            flow: Flow::default(),
            reported: Blocked::default(),
            full: false,
            _permit: permit,
        })
    }
}

enum Io {
    Plain(TcpStream),
    Handshaking(Pin<Box<tokio_rustls::Accept<TcpStream>>>),
    Tls(Box<TlsStream<TcpStream>>),
}

/// A TCP connection (TLS ended) that holds its permit while open, follows its HTTP/2
/// flow for the stall watch, and fails its reads and writes when the peer says nothing
/// within the handshake timeout or the watch closes it.
pub struct GuardedStream {
    io: Io,
    /// Some until the first byte arrives.
    first_byte: Option<Pin<Box<tokio::time::Sleep>>>,
    closed_by_watch: Pin<Box<OwnedNotified>>,
    stall: Arc<ConnectionStall>,
    flow: Flow,
    /// What was last reported to the watch.
    reported: Blocked,
    /// The last write found the socket full.
    full: bool,
    _permit: OwnedSemaphorePermit,
}

impl GuardedStream {
    /// An error once the watch closed the connection (and from then on).
    fn closed(&mut self, cx: &mut Context<'_>) -> Option<std::io::Error> {
        self.closed_by_watch.as_mut().poll(cx).is_ready().then(|| {
            std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "the peer leaves its answers unread",
            )
        })
    }

    /// The stream to read and write, once its TLS handshake (if any) is done.
    fn ready_io(&mut self, cx: &mut Context<'_>) -> Poll<std::io::Result<&mut dyn Stream>> {
        if let Io::Handshaking(accept) = &mut self.io {
            match accept.as_mut().poll(cx) {
                Poll::Ready(tls) => self.io = Io::Tls(Box::new(tls?)),
                // The handshake timeout holds for the TLS handshake, whether a read or a
                // write (h2's first SETTINGS) waits on it.
                Poll::Pending => {
                    let late = self
                        .first_byte
                        .as_mut()
                        .is_some_and(|deadline| deadline.as_mut().poll(cx).is_ready());
                    return if late {
                        Poll::Ready(Err(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            "the peer did not finish its TLS handshake within the handshake timeout",
                        )))
                    } else {
                        Poll::Pending
                    };
                }
            }
        }
        Poll::Ready(match &mut self.io {
            Io::Plain(tcp) => Ok(tcp),
            Io::Tls(tls) => Ok(tls.as_mut()),
            Io::Handshaking(_) => Err(std::io::Error::other("the TLS handshake is not done")),
        })
    }

    fn report(&mut self) {
        let blocked = self.flow.blocked();
        if blocked != self.reported {
            self.reported = blocked;
            self.stall.report_blocked(blocked);
        }
    }

    /// Follows what was written, and tells the watch when writes start and stop finding
    /// the socket full.
    fn wrote(
        &mut self,
        written: Poll<std::io::Result<usize>>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        if written.is_pending() != self.full {
            self.full = written.is_pending();
            self.stall.report_full(self.full);
        }
        if let Poll::Ready(Ok(mut n)) = written {
            for buf in bufs {
                let taken = n.min(buf.len());
                self.flow.wrote(&buf[..taken]);
                n -= taken;
            }
            self.report();
        }
        written
    }
}

trait Stream: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Stream for T {}

impl AsyncRead for GuardedStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if let Some(closed) = self.closed(cx) {
            return Poll::Ready(Err(closed));
        }
        let filled = buf.filled().len();
        let read = match self.ready_io(cx) {
            Poll::Ready(Ok(io)) => Pin::new(io).poll_read(cx, buf),
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        };
        if buf.filled().len() > filled {
            self.flow.read(&buf.filled()[filled..]);
            self.report();
        }
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
        if let Some(closed) = self.closed(cx) {
            return Poll::Ready(Err(closed));
        }
        let written = Pin::new(ready!(self.ready_io(cx))?).poll_write(cx, buf);
        self.wrote(written, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        if let Some(closed) = self.closed(cx) {
            return Poll::Ready(Err(closed));
        }
        let written = Pin::new(ready!(self.ready_io(cx))?).poll_write_vectored(cx, bufs);
        self.wrote(written, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        match &self.io {
            Io::Plain(tcp) => tcp.is_write_vectored(),
            Io::Tls(tls) => tls.is_write_vectored(),
            Io::Handshaking(_) => false,
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        if let Some(closed) = self.closed(cx) {
            return Poll::Ready(Err(closed));
        }
        Pin::new(ready!(self.ready_io(cx))?).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(ready!(self.ready_io(cx))?).poll_shutdown(cx)
    }
}

/// No connect info: with TLS ended here, tonic's `remote_addr()` and `peer_certs()` would
/// be None on TLS ports anyway, and nothing reads them.
impl Connected for GuardedStream {
    type ConnectInfo = ();

    fn connect_info(&self) -> Self::ConnectInfo {}
}
