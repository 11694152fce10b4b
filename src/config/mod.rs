//! The command line. `serve` is configured by flags, environment variables and an
//! optional TOML file, in that order of precedence, over built-in defaults ([`serve`]);
//! the other commands by flags and environment variables.

pub mod ext_authz;
mod serve;
mod upstream;

pub use upstream::UpstreamConfig;

pub use serve::{
    BearerToken, ConfigError, LogFormat, ServeArgs, ServeConfig, ServeSettings, TlsFiles,
};

use clap::{Args, Parser, Subcommand};

use crate::cli::CheckArgs;

/// A gRPC authorization sidecar: may this user do this, here?
#[derive(Debug, Parser)]
#[command(name = "rbac-sidecar", version)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
#[allow(
    clippy::large_enum_variant,
    reason = "parsed once at start; `serve` simply has many settings"
)]
pub enum Command {
    /// Runs migrations, then serves gRPC until SIGTERM or Ctrl-C, then drains in-flight calls.
    Serve(ServeArgs),
    /// Asks a running server whether a user holds a permission, and why. Exit status: 0
    /// allowed, 1 not allowed, 2 the check could not be made.
    Check(CheckArgs),
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
    /// The database; its password never shows in `--help` [default: sqlite://rbac.db?mode=rwc].
    #[arg(
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
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
    /// The database; its password never shows in `--help` [default: sqlite://rbac.db?mode=rwc].
    #[arg(
        long,
        env = "DATABASE_URL",
        hide_env_values = true,
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
    /// Write into a database that already has tenants (a service's own, say). Without
    /// it, such a database is refused.
    #[arg(long)]
    pub into_non_empty: bool,
}
