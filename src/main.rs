//! The binary: parse the command line, start tracing, serve until a signal.

use std::process::ExitCode;

use clap::Parser;
use std::sync::Arc;

use rbac_sidecar::admin::{Admin, LegacyFile};
use rbac_sidecar::cache::{AccessCache, CacheConfig};
use rbac_sidecar::config::{Cli, Command, DatasetConfig, ImportConfig, ServeConfig};
use rbac_sidecar::server::{self, ServeError, Server};
use rbac_sidecar::store::{DatasetSpec, Store};

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .init();
    let outcome = match Cli::parse().command {
        Command::Serve(config) => serve(config).await,
        Command::Dataset(config) => dataset(config).await,
        Command::ImportLegacy(config) => return import_legacy(config).await,
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "rbac-sidecar stopped");
            ExitCode::FAILURE
        }
    }
}

async fn serve(config: ServeConfig) -> Result<(), ServeError> {
    let listener = server::bind(&config).await?;
    let server = Server::start(&config).await?;
    tracing::info!(listen = %config.listen, "serving gRPC");
    server.serve(listener, shutdown_signal()).await
}

/// Generates the world and prints what a load run needs, as JSON.
async fn dataset(config: DatasetConfig) -> Result<(), ServeError> {
    let started = std::time::Instant::now();
    let store = Store::open(&config.database_url).await?;
    let spec = DatasetSpec {
        tenants: config.tenants,
        users: config.users,
        assignments: config.assignments,
        groups: config.groups,
        ..DatasetSpec::target_scale()
    };
    let dataset = store.generate_dataset(&spec).await?;
    let summary = serde_json::json!({
        "tenants": spec.tenants,
        "users": spec.users,
        "assignments": spec.assignments,
        "seconds": started.elapsed().as_secs_f64(),
        "revision": dataset.revision,
        "sample_user_id": dataset.users.first().map(ToString::to_string),
        "sample_tenant_id": dataset.tenants.last().map(ToString::to_string),
    });
    println!("{summary}");
    Ok(())
}

/// Imports a legacy export and prints the report. Exit status 1 when something could
/// not be imported (nothing is then written, unless `--skip-unmapped`).
async fn import_legacy(config: ImportConfig) -> ExitCode {
    let file: LegacyFile = match std::fs::read_to_string(&config.file)
        .map_err(|e| e.to_string())
        .and_then(|text| serde_json::from_str(&text).map_err(|e| e.to_string()))
    {
        Ok(file) => file,
        Err(err) => {
            eprintln!("cannot read {}: {err}", config.file.display());
            return ExitCode::FAILURE;
        }
    };
    let imported = async {
        let store = Arc::new(Store::open(&config.database_url).await?);
        let cache = AccessCache::load(store, &CacheConfig::default()).await?;
        let admin = Admin::new(cache);
        Ok::<_, ServeError>(
            admin
                .import_legacy(&file, config.dry_run, config.skip_unmapped)
                .await?,
        )
    };
    match imported.await {
        Ok(report) => {
            print!("{report}");
            if report.unmapped.is_empty() || (config.skip_unmapped && !config.dry_run) {
                ExitCode::SUCCESS
            } else {
                eprintln!(
                    "{} users could not be mapped; fix them or pass --skip-unmapped",
                    report.unmapped.len()
                );
                ExitCode::FAILURE
            }
        }
        Err(err) => {
            eprintln!("import failed, nothing was written: {err}");
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
