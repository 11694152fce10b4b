//! Settings. `serve` is configured by flags, environment variables and an optional TOML
//! file, in that order of precedence, over built-in defaults ([`serve`]); the other
//! commands by flags and environment variables. The command tree is `crate::cli`.

mod actor_jwt;
mod credentials;
mod error;
pub mod ext_authz;
mod serve;
mod serve_settings;
mod upstream;

pub use credentials::{BearerToken, TlsFiles};
pub use error::ConfigError;
pub use serve::{DEFAULT_PREVIEW_MAX_CHANGES, ServeArgs, ServeConfig};
pub use serve_settings::{LogFormat, ServeSettings};
pub use upstream::UpstreamConfig;

use clap::Args;

/// The database a one-off command works on.
#[derive(Clone, Debug, Args)]
pub struct DatabaseArg {
    /// The database; its password never shows in `--help` [default: sqlite://rbac.db?mode=rwc].
    #[arg(
        long = "database-url",
        value_name = "DATABASE_URL",
        env = "DATABASE_URL",
        hide_env_values = true,
        default_value = serve::DEFAULT_DATABASE_URL
    )]
    pub url: String,
}

/// What `import-legacy` reads and where it writes.
#[derive(Clone, Debug, Args)]
pub struct ImportConfig {
    /// The legacy export: JSON with `preferences` and `users` (see the README).
    pub file: std::path::PathBuf,
    #[command(flatten)]
    pub database: DatabaseArg,
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
    #[command(flatten)]
    pub database: DatabaseArg,
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
