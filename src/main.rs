//! The binary, as a script: parse the command line and the configuration (a bad one
//! exits 64), start logging and tracing, serve until a signal, drain, exit.

use std::process::ExitCode;

use clap::{CommandFactory, Parser};
use std::sync::Arc;

use rbac_sidecar::admin::{Admin, LegacyFile};
use rbac_sidecar::cache::{AccessCache, CacheConfig};
use rbac_sidecar::cli::{Cli, Command, run_apply, run_check, run_export, run_schema};
use rbac_sidecar::config::{DatasetConfig, ImportConfig, LogFormat, ServeArgs, ServeConfig};
use rbac_sidecar::dataset::DatasetSpec;
use rbac_sidecar::server::{self, ServeError, Server, Serving};
use rbac_sidecar::store::Store;
use rbac_sidecar::telemetry;

#[cfg(not(target_env = "msvc"))]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// The sysexits code of a bad command line or configuration.
const EX_USAGE: u8 = 64;

#[tokio::main]
async fn main() -> ExitCode {
    // Freed memory goes back to the system within jemalloc's decay time (10 s), even
    // while the server is idle.
    #[cfg(not(target_env = "msvc"))]
    if let Err(err) = tikv_jemalloc_ctl::background_thread::write(true) {
        eprintln!("jemalloc background threads not started: {err}");
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            if !err.use_stderr() {
                return ExitCode::SUCCESS; // --help, --version
            }
            if let Some(variable) = environment_source(&err) {
                eprintln!("(the value came from the environment variable {variable})");
            }
            return ExitCode::from(EX_USAGE);
        }
    };
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Check(args) => run_check(args).await,
        Command::Dataset(config) => {
            plain_logs();
            report(dataset(config).await)
        }
        Command::ImportLegacy(config) => {
            plain_logs();
            import_legacy(config).await
        }
        Command::Export(args) => run_export(args).await,
        Command::Apply(args) => run_apply(args).await,
        Command::Schema => run_schema(),
    }
}

/// The environment variable a refused value came from, when it was not on the command
/// line: clap names only the flag.
fn environment_source(err: &clap::Error) -> Option<String> {
    let clap::error::ContextValue::String(arg) = err.get(clap::error::ContextKind::InvalidArg)?
    else {
        return None;
    };
    let long = arg.split_whitespace().next()?.strip_prefix("--")?;
    let given_as_flag =
        std::env::args().any(|a| a == format!("--{long}") || a.starts_with(&format!("--{long}=")));
    let command = Cli::command();
    let variable = command
        .get_subcommands()
        .flat_map(|sub| sub.get_arguments())
        .find(|a| a.get_long() == Some(long))?
        .get_env()?
        .to_string_lossy()
        .into_owned();
    (!given_as_flag && std::env::var_os(&variable).is_some()).then_some(variable)
}

/// Readable logs filtered by RUST_LOG (`info` when unset or invalid), for the commands
/// that have no logging flags. No traces are exported: nothing to shut down.
fn plain_logs() {
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "info".to_owned());
    if telemetry::init(LogFormat::Pretty, &filter, None).is_err() {
        let _ = telemetry::init(LogFormat::Pretty, "info", None);
    }
}

fn report(outcome: Result<(), ServeError>) -> ExitCode {
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            tracing::error!(error = %err, "rbac-sidecar stopped");
            ExitCode::FAILURE
        }
    }
}

/// Resolves the configuration, starts telemetry, serves until a signal and drains.
async fn serve(args: ServeArgs) -> ExitCode {
    let print_config = args.print_config;
    let config = match args.resolve() {
        Ok(config) => config,
        Err(err) => {
            eprintln!("rbac-sidecar: {err}");
            return ExitCode::from(EX_USAGE);
        }
    };
    if print_config {
        print!("{}", config.to_toml());
        return ExitCode::SUCCESS;
    }
    let tracing = match telemetry::init(
        config.log_format,
        &config.log_filter,
        config.otlp_endpoint.as_deref(),
    ) {
        Ok(tracing) => tracing,
        Err(err) => {
            eprintln!("rbac-sidecar: {err}");
            return ExitCode::from(EX_USAGE);
        }
    };
    let outcome = run(&config).await;
    if outcome.is_ok() {
        tracing::info!("rbac-sidecar stopped");
    }
    let status = report(outcome);
    tracing.shutdown().await;
    status
}

async fn run(config: &ServeConfig) -> Result<(), ServeError> {
    // Bound before the database is opened, so that probes connect while it loads.
    let listeners = server::bind_all(config).await?;
    let serving = match &config.upstream {
        None => Server::start(config).await?.serving,
        Some(upstream) => Serving::fed(config, upstream).await?,
    };
    tracing::info!(
        upstream = config.upstream.as_ref().map(|u| tracing::field::display(&u.url)),
        listen = %config.listen,
        admin_listen = config.admin_listen.map(tracing::field::display),
        metrics_listen = config.metrics_listen.map(tracing::field::display),
        tls = config.tls.is_some(),
        mutual_tls = config.tls.as_ref().is_some_and(|t| t.client_ca.is_some()),
        bearer_token = config.auth_token.is_some(),
        "serving gRPC"
    );
    let admin_addr = config.admin_listen.unwrap_or(config.listen);
    if config.insecure_admin_without_auth && !admin_addr.ip().is_loopback() {
        tracing::warn!(
            admin = %admin_addr,
            "INSECURE: AdminService is served off the loopback with neither a bearer token nor mutual TLS; anyone who reaches it can act as any administrator. For demos only (--insecure-admin-without-auth)"
        );
    }
    serving.serve(listeners, shutdown_signal()).await
}

/// Generates the world and prints what a load run needs, as JSON.
async fn dataset(config: DatasetConfig) -> Result<(), ServeError> {
    let started = std::time::Instant::now();
    let store = Store::open(&config.database.url).await?;
    let existing = rbac_sidecar::store::tenants(store.db()).await?.len();
    if existing > 0 && !config.into_non_empty {
        return Err(ServeError::DatasetIntoNonEmpty(existing));
    }
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

/// Imports a legacy export and prints the report. Exit status 1 when something was not
/// imported: nothing is then written, or with `--skip-unmapped` only the mappable users.
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
        let store = Arc::new(Store::open(&config.database.url).await?);
        let cache = AccessCache::load(Arc::clone(&store), &CacheConfig::default()).await?;
        let admin = Admin::new(store, cache);
        Ok::<_, ServeError>(
            admin
                .import_legacy(&file, config.dry_run, config.skip_unmapped)
                .await?,
        )
    };
    match imported.await {
        Ok(report) => {
            print!("{report}");
            if report.unmapped.is_empty() {
                ExitCode::SUCCESS
            } else if config.skip_unmapped && !config.dry_run {
                eprintln!(
                    "{} users could not be mapped and were not imported; the others were",
                    report.unmapped.len()
                );
                ExitCode::FAILURE
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
}
