//! `export`, `apply` and `schema`: the instance as a file (docs/instance.md), read from
//! and written to a database directly (a backup, a restore), or through a running
//! server's AdminService as an actor, judged and audited like any admin write (GitOps).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use tonic::metadata::MetadataValue;

use super::check::{ClientTls, channel};
use crate::api::pb::rbac::v1 as pb;
use crate::config::{BearerToken, DatabaseArg};
use crate::instance::{self, InstanceFile};
use crate::store::Store;
use crate::telemetry::code_name;

/// Where the instance is: a database, or a running server and who is asking.
#[derive(Clone, Debug, Args)]
pub struct Place {
    #[command(flatten)]
    pub database: DatabaseArg,
    /// A running server's AdminService instead of a database: `host:port` (plaintext) or
    /// an `http(s)://` URL.
    #[arg(long, value_name = "ADDR")]
    pub server: Option<String>,
    /// With --server: the actor, by Azure object id (a server that verifies actors needs
    /// --actor-token-file instead).
    #[arg(long, value_name = "OID", requires = "server")]
    pub actor_object_id: Option<String>,
    /// With --server: a file holding the actor's JWT, sent as `x-actor-token`.
    #[arg(long, value_name = "FILE", requires = "server")]
    pub actor_token_file: Option<PathBuf>,
    /// With --server: a file holding the service's bearer token, if it has one.
    #[arg(long, env = "RBAC_AUTH_TOKEN_FILE", value_name = "FILE")]
    pub auth_token_file: Option<PathBuf>,
    /// With an https:// --server: the CA that signs its certificate.
    #[arg(long, value_name = "FILE", requires = "server")]
    pub tls_ca: Option<PathBuf>,
}

/// What `export` reads and where it writes.
#[derive(Clone, Debug, Args)]
pub struct ExportArgs {
    #[command(flatten)]
    pub place: Place,
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
    pub place: Place,
    /// Print the plan on stdout and write nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// With --dry-run: exit 2 when the plan is not empty (drift), 0 when it is.
    #[arg(long)]
    pub detailed_exitcode: bool,
}

/// An AdminService client of `place`'s server, and the metadata naming its actor.
struct Server {
    client: pb::admin_service_client::AdminServiceClient<tonic::transport::Channel>,
    metadata: Vec<(&'static str, String)>,
}

impl Server {
    async fn connect(place: &Place, server: &str) -> Result<Server, String> {
        let read = |path: &PathBuf| {
            std::fs::read_to_string(path)
                .map(|t| t.trim().to_owned())
                .map_err(|e| format!("cannot read {}: {e}", path.display()))
        };
        let mut metadata = Vec::new();
        if let Some(oid) = &place.actor_object_id {
            metadata.push(("x-actor-object-id", oid.clone()));
        }
        if let Some(path) = &place.actor_token_file {
            metadata.push(("x-actor-token", read(path)?));
        }
        if metadata.is_empty() {
            return Err(
                "--server needs the actor: --actor-object-id OID or --actor-token-file FILE".into(),
            );
        }
        if let Some(token) = BearerToken::resolve(None, place.auth_token_file.as_deref())
            .map_err(|e| e.to_string())?
        {
            metadata.push(("authorization", format!("Bearer {}", token.expose())));
        }
        let tls = ClientTls {
            ca: place.tls_ca.as_deref(),
            ..ClientTls::default()
        };
        // A whole instance may take a while to write.
        let channel = channel(server, &tls, Duration::from_secs(600))
            .await
            .map_err(|e| e.to_string())?;
        let client = pb::admin_service_client::AdminServiceClient::new(channel)
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX);
        Ok(Server { client, metadata })
    }

    fn request<T>(&self, message: T) -> Result<tonic::Request<T>, String> {
        let mut request = tonic::Request::new(message);
        for (key, value) in &self.metadata {
            let value = MetadataValue::try_from(value.as_str())
                .map_err(|_| format!("`{key}` is not valid metadata"))?;
            request.metadata_mut().insert(*key, value);
        }
        Ok(request)
    }
}

/// A refused call, as a person reads it.
fn refused(status: &tonic::Status) -> String {
    format!(
        "the server answered {}: {}",
        code_name(status.code()),
        status.message()
    )
}

/// `export`: the instance as YAML, on stdout or in `--output`. Exit 1 on failure.
pub async fn run_export(args: ExportArgs) -> ExitCode {
    let exported = async {
        if let Some(server) = &args.place.server {
            let mut server = Server::connect(&args.place, server).await?;
            let request = server.request(pb::ExportInstanceRequest {})?;
            let answer = (server.client.export_instance(request).await).map_err(|s| refused(&s))?;
            return Ok(answer.into_inner().instance);
        }
        let store = Store::open(&args.place.database.url)
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
    if let Some(server) = args.place.server.clone() {
        return apply_on_server(&args, &server).await;
    }
    let applied = async {
        let store = Store::open(&args.place.database.url).await?;
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

/// `apply --server`: one ApplyInstance call as the actor; with --dry-run a preview, whose
/// access diff is printed under the plan.
async fn apply_on_server(args: &ApplyArgs, server: &str) -> ExitCode {
    let applied = async {
        let text = std::fs::read_to_string(&args.file)
            .map_err(|e| format!("cannot read {}: {e}", args.file.display()))?;
        let mut server = Server::connect(&args.place, server).await?;
        let request = server.request(pb::ApplyInstanceRequest {
            instance: text,
            validate_only: args.dry_run,
        })?;
        let answer = server
            .client
            .apply_instance(request)
            .await
            .map_err(|s| refused(&s))?;
        Ok::<_, String>(answer.into_inner())
    };
    let answer = match applied.await {
        Ok(answer) => answer,
        Err(err) => {
            eprintln!("{err}; nothing was written");
            return ExitCode::FAILURE;
        }
    };
    let plan = instance::Plan {
        created: answer.created,
        changed: answer.changed,
        removed: answer.removed,
    };
    if plan.is_empty() {
        println!(
            "No changes: the instance already equals {}.",
            args.file.display()
        );
        return ExitCode::SUCCESS;
    }
    print!("{plan}");
    if !args.dry_run {
        println!("Applied in revision {}.", answer.revision);
        return ExitCode::SUCCESS;
    }
    if let Some(preview) = answer.preview {
        println!(
            "Access: {} user(s) gain or lose something{}",
            preview.users_affected,
            if preview.truncated {
                " (the first changes listed)"
            } else {
                ":"
            }
        );
        for change in preview.changes {
            let target = match change.target.and_then(|t| t.kind) {
                Some(pb::target::Kind::TenantId(id)) => format!("tenant {id}"),
                Some(pb::target::Kind::Resource(r)) => format!("{}/{}", r.r#type, r.id),
                None => "the instance".to_owned(),
            };
            let word = |d: i32| pb::Decision::try_from(d).map_or("unknown", |d| d.as_str_name());
            println!(
                "  user {}: {} at {}: {} -> {}",
                change.user_id,
                change.permission,
                target,
                word(change.before),
                word(change.after)
            );
        }
    }
    if args.detailed_exitcode {
        return ExitCode::from(2);
    }
    ExitCode::SUCCESS
}

/// `schema`: the JSON Schema of the instance file, for editors.
pub fn run_schema() -> ExitCode {
    println!("{}", InstanceFile::schema());
    ExitCode::SUCCESS
}
