//! The HTTP port's connections (`--http-listen`): at most `--max-connections` at once
//! (more are closed as they arrive), a TLS handshake bounded by `--handshake-timeout-ms`,
//! and a header deadline (`--http-header-timeout-ms`) counted from the connection's start,
//! or from the previous response, and not reset by each byte: a peer that says nothing,
//! drips its headers a byte at a time, or idles between requests is closed when it runs
//! out. hyper's HTTP/1 server keeps the deadline; this module owns the accept loop.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::rt::{Read, Write};
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

/// What one connection of the HTTP port may cost.
#[derive(Clone, Debug)]
pub struct HttpLimits {
    /// Connections held at once.
    pub max_connections: usize,
    /// Longest a TLS handshake may take.
    pub handshake_timeout: Duration,
    /// Longest from a connection's start, or its previous response, to a request's last
    /// header.
    pub header_timeout: Duration,
}

/// Serves `router` on `listener` (over TLS with `tls`) until `shutdown` resolves: then the
/// listener closes at once, idle connections close, and the call returns once the
/// requests in flight have been answered.
pub async fn serve(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    router: Router,
    limits: HttpLimits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(false);
    let mut connections = JoinSet::new();
    tokio::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            () = &mut shutdown => break,
        };
        while connections.try_join_next().is_some() {}
        let (tcp, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(err) => {
                // Out of file descriptors, say: wait a moment rather than spin.
                tracing::warn!(error = %err, "the HTTP port cannot accept a connection");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = Arc::clone(&permits).try_acquire_owned() else {
            tracing::warn!(%peer, "HTTP connection limit reached; closing a new connection");
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let (router, tls, limits, stopping) = (
            router.clone(),
            tls.clone(),
            limits.clone(),
            stopping.clone(),
        );
        connections.spawn(async move {
            let _permit = permit;
            match tls {
                None => connection(TokioIo::new(tcp), router, &limits, stopping).await,
                Some(acceptor) => {
                    let handshake =
                        tokio::time::timeout(limits.handshake_timeout, acceptor.accept(tcp));
                    if let Ok(Ok(tls)) = handshake.await {
                        connection(TokioIo::new(tls), router, &limits, stopping).await;
                    }
                }
            }
        });
    }
    drop(listener);
    let _ = stop.send(true);
    while connections.join_next().await.is_some() {}
}

/// One connection, until the peer or the deadline closes it, or the port stops.
async fn connection<I>(
    io: I,
    router: Router,
    limits: &HttpLimits,
    mut stopping: watch::Receiver<bool>,
) where
    I: Read + Write + Unpin + Send + 'static,
{
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout)
        .keep_alive(true);
    let served = builder.serve_connection(io, TowerToHyperService::new(router));
    tokio::pin!(served);
    let stop = async {
        let _ = stopping.wait_for(|stop| *stop).await;
    };
    let ended = tokio::select! {
        ended = served.as_mut() => ended,
        () = stop => {
            served.as_mut().graceful_shutdown();
            served.await
        }
    };
    if let Err(err) = ended {
        tracing::debug!(error = %err, "HTTP connection closed");
    }
}
