//! `export`, `apply` and `schema`: the instance as a file (docs/instance.md), read from
//! and written to a database directly, for backups, restores and GitOps.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::config::DatabaseArg;
use crate::instance::{self, InstanceFile};
use crate::store::Store;

/// What `export` reads and where it writes.
#[derive(Clone, Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub database: DatabaseArg,
    /// Write the file here instead of to stdout.
    #[arg(long, short, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

/// What `apply` reads and where it writes.
#[derive(Clone, Debug, Args)]
pub struct ApplyArgs {
    /// The instance file (YAML), as `export` writes it.
    pub file: PathBuf,
    #[command(flatten)]
    pub database: DatabaseArg,
    /// Print the plan on stdout and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: exit 2 when the plan is not empty (drift), 0 when it is.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

/// `export`: the instance as YAML, on stdout or in `--output`. Exit 1 on failure.
pub async fn run_export(args: ExportArgs) -> ExitCode {
    let exported = async {
        let store = Store::open(&args.database.url)
            .await
            .map_err(|e| e.to_string())?;
        instance::export(&store)
            .await
            .map_err(|e| e.to_string())?
            .to_yaml()
    };
    let yaml = match exported.await {
        Ok(yaml) => yaml,
        Err(err) => {
            eprintln!("export failed: {err}");
            return ExitCode::FAILURE;
        }
    };
    match &args.output {
        None => print!("{yaml}"),
        Some(path) => {
            if let Err(err) = std::fs::write(path, yaml) {
                eprintln!("cannot write {}: {err}", path.display());
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}

/// `apply FILE`: the plan on stdout, then the instance made equal to the file in one
/// revision. Exit 1 when refused or invalid (the reason on stderr, nothing written); with
/// `--dry-run --detailed-exitcode`, 2 when the plan is not empty.
pub async fn run_apply(args: ApplyArgs) -> ExitCode {
    let file = match std::fs::read_to_string(&args.file)
        .map_err(|e| e.to_string())
        .and_then(|text| InstanceFile::from_yaml(&text))
    {
        Ok(file) => file,
        Err(err) => {
            eprintln!(
                "cannot read {}: {err}; nothing was written",
                args.file.display()
            );
            return ExitCode::FAILURE;
        }
    };
    let applied = async {
        let store = Store::open(&args.database.url).await?;
        instance::apply(&store, &file, args.dry_run).await
    };
    match applied.await {
        Err(err) => {
            eprintln!("{err}");
            ExitCode::FAILURE
        }
        Ok(applied) => {
            if applied.plan.is_empty() {
                println!(
                    "No changes: the instance already equals {}.",
                    args.file.display()
                );
                return ExitCode::SUCCESS;
            }
            print!("{}", applied.plan);
            match applied.revision {
                Some(revision) => println!("Applied in revision {revision}."),
                None if args.detailed_exitcode => return ExitCode::from(2),
                None => {}
            }
            ExitCode::SUCCESS
        }
    }
}

/// `schema`: the JSON Schema of the instance file, for editors.
pub fn run_schema() -> ExitCode {
    println!("{}", InstanceFile::schema());
    ExitCode::SUCCESS
}
