//! The operator's HTTP port (`--metrics-listen`): `/metrics` in the OpenMetrics text
//! format for Prometheus, `/healthz` (the process answers) and `/readyz` (it serves, and
//! is not draining), for probes that cannot speak gRPC or TLS.

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use tokio::net::TcpListener;
use tokio::sync::watch;

use super::Metrics;
use crate::cache::AccessCache;

/// What the endpoint reads.
#[derive(Clone)]
pub struct EndpointState {
    pub metrics: Arc<Metrics>,
    pub cache: Arc<AccessCache>,
    /// Turns true when the server starts draining: `/readyz` then answers 503.
    pub draining: watch::Receiver<bool>,
}

/// Serves the endpoint on `listener` until `shutdown` resolves.
pub async fn serve_endpoint(
    listener: TcpListener,
    state: EndpointState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .with_state(state);
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn metrics(State(state): State<EndpointState>) -> impl IntoResponse {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(&state.cache),
    )
}

async fn readyz(State(state): State<EndpointState>) -> (StatusCode, &'static str) {
    if *state.draining.borrow() {
        (StatusCode::SERVICE_UNAVAILABLE, "draining\n")
    } else {
        (StatusCode::OK, "ready\n")
    }
}
