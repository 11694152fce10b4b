//! The binary: parse the command line, start tracing, serve until a signal.

use std::process::ExitCode;

use clap::Parser;
use rbac_sidecar::config::{Cli, Command};
use rbac_sidecar::server::{self, Server};

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let Command::Serve(config) = Cli::parse().command;
    let started = async {
        let listener = server::bind(&config).await?;
        let server = Server::start(&config).await?;
        tracing::info!(listen = %config.listen, "serving gRPC");
        server.serve(listener, shutdown_signal()).await
    };
    match started.await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "rbac-sidecar stopped");
            ExitCode::FAILURE
        }
    }
}

/// Resolves on SIGTERM (Kubernetes) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
    tracing::info!("shutting down: draining in-flight calls");
}
