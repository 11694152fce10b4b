//! The command line: every flag also reads an environment variable (API.md, "Binary").

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use uuid::Uuid;

/// A gRPC authorization sidecar: may this user do this, here?
#[derive(Debug, Parser)]
#[command(name = "rbac-sidecar", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Runs migrations, then serves gRPC until SIGTERM or Ctrl-C.
    Serve(ServeConfig),
    /// Writes a synthetic world into the database, for benchmarks and load runs.
    Dataset(DatasetConfig),
    /// Turns legacy users (user type, flags, instance preferences) into built-in role
    /// assignments. Idempotent; all or nothing; reports every user it cannot map.
    ImportLegacy(ImportConfig),
}

/// What `import-legacy` reads and where it writes.
#[derive(Clone, Debug, Args)]
pub struct ImportConfig {
    /// The legacy export: JSON with `preferences` and `users` (see the README).
    pub file: std::path::PathBuf,
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://rbac.db?mode=rwc"
    )]
    pub database_url: String,
    /// Print the plan and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Import the users that can be mapped even if some cannot (they are still reported).
    #[arg(long)]
    pub skip_unmapped: bool,
}

/// The size of a synthetic world (defaults: the scale of the performance targets).
#[derive(Clone, Debug, Args)]
pub struct DatasetConfig {
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://rbac.db?mode=rwc"
    )]
    pub database_url: String,
    #[arg(long, default_value_t = 10_000)]
    pub tenants: usize,
    #[arg(long, default_value_t = 100_000)]
    pub users: usize,
    /// Total role assignments, group ones included.
    #[arg(long, default_value_t = 1_000_000)]
    pub assignments: usize,
    #[arg(long, default_value_t = 1_000)]
    pub groups: usize,
}

/// Everything `serve` needs.
#[derive(Clone, Debug, Args)]
pub struct ServeConfig {
    /// Address to serve gRPC on.
    #[arg(long, env = "RBAC_LISTEN", default_value = "127.0.0.1:50051")]
    pub listen: SocketAddr,

    /// sqlite://FILE?mode=rwc (embedded) or postgres://USER@HOST/DB.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://rbac.db?mode=rwc"
    )]
    pub database_url: String,

    /// Creates an MSP tenant and a System Administrator with this Azure object id if none has it.
    #[arg(long, env = "RBAC_BOOTSTRAP_ADMIN_OBJECT_ID")]
    pub bootstrap_admin_object_id: Option<Uuid>,

    /// Most checks accepted in one BatchCheck.
    #[arg(long, env = "RBAC_BATCH_LIMIT", default_value_t = 1000)]
    pub batch_limit: usize,

    /// Longest a check waits for its min_revision before UNAVAILABLE, in milliseconds.
    #[arg(long, env = "RBAC_MIN_REVISION_WAIT_MS", default_value_t = 5000)]
    pub min_revision_wait_ms: u64,

    /// How often the change log is polled, in milliseconds.
    #[arg(long, env = "RBAC_POLL_INTERVAL_MS", default_value_t = 200)]
    pub poll_interval_ms: u64,

    /// Change-log rows older than this are deleted, in hours. A replica further behind
    /// drops its whole cache and resynchronises.
    #[arg(long, env = "RBAC_CHANGE_LOG_RETENTION_HOURS", default_value_t = 24)]
    pub change_log_retention_hours: u64,

    /// Upper bound of the effective-access cache, in MiB.
    #[arg(long, env = "RBAC_CACHE_MAX_MIB", default_value_t = 256)]
    pub cache_max_mib: u64,
}

impl ServeConfig {
    /// The defaults, listening on `listen` with `database_url` (for tests and tools).
    pub fn new(listen: SocketAddr, database_url: &str) -> Self {
        ServeConfig {
            listen,
            database_url: database_url.to_owned(),
            bootstrap_admin_object_id: None,
            batch_limit: 1000,
            min_revision_wait_ms: 5000,
            poll_interval_ms: 200,
            change_log_retention_hours: 24,
            cache_max_mib: 256,
        }
    }

    pub fn min_revision_wait(&self) -> Duration {
        Duration::from_millis(self.min_revision_wait_ms)
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }

    pub fn change_log_retention(&self) -> Duration {
        Duration::from_secs(self.change_log_retention_hours.saturating_mul(3600))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_match_the_contract() {
        let cli = Cli::try_parse_from(["rbac-sidecar", "serve"]).unwrap();
        let Command::Serve(config) = cli.command else {
            panic!("serve parses as Serve");
        };
        assert_eq!(config.listen.to_string(), "127.0.0.1:50051");
        assert_eq!(config.database_url, "sqlite://rbac.db?mode=rwc");
        assert_eq!(config.bootstrap_admin_object_id, None);
        assert_eq!(config.batch_limit, 1000);
    }

    #[test]
    fn a_bad_bootstrap_id_names_the_flag() {
        let err = Cli::try_parse_from([
            "rbac-sidecar",
            "serve",
            "--bootstrap-admin-object-id",
            "not-a-guid",
        ])
        .unwrap_err();
        assert!(
            err.to_string().contains("--bootstrap-admin-object-id"),
            "{err}"
        );
    }
}
