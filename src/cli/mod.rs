//! The command line: the command tree, and the operator commands that talk to a running
//! server over gRPC, as its callers do.

mod check;
mod instance;

use clap::{Parser, Subcommand};

pub use check::{CheckArgs, CheckCommandError, run_check};
pub use instance::{ApplyArgs, ExportArgs, run_apply, run_export, run_schema};

use crate::config::{DatasetConfig, ImportConfig, ServeArgs};

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
    /// Writes the whole instance as YAML (docs/instance.md): deterministic, ids kept, no
    /// revisions, timestamps of writes or audit.
    Export(ExportArgs),
    /// Makes the instance equal to a file in one revision, or writes nothing: what the
    /// file lacks is removed. Exit status 1 when refused or invalid.
    Apply(ApplyArgs),
    /// Prints the JSON Schema of the instance file.
    Schema,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    #[test]
    fn a_bearer_token_from_the_environment_never_shows_in_help() {
        let cli = Cli::command();
        for name in ["serve", "check"] {
            let command = cli.find_subcommand(name).expect("a subcommand");
            let token = command
                .get_arguments()
                .find(|a| a.get_id() == "auth_token")
                .expect("--auth-token");
            assert!(token.is_hide_env_values_set(), "{name} --auth-token");
        }
    }
}
