//! `rbac-sidecar check USER PERMISSION [--tenant T | --resource TYPE/ID] [--explain]`:
//! asks a running server's CheckAccess and prints the answer for a person, with the
//! assignments that applied when asked to explain. Exit status: 0 allowed, 1 not
//! allowed (denied, not granted, user inactive), 2 no answer (unreachable server, a
//! refused or invalid check), 64 a bad command line.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use tonic::metadata::MetadataValue;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::api::pb::rbac::v1 as pb;
use crate::config::BearerToken;
use crate::telemetry::{code_name, error_chain};

/// The sysexits code of a bad command line.
pub const EX_USAGE: u8 = 64;

/// What `check` asks, and where.
#[derive(Clone, Debug, Args)]
pub struct CheckArgs {
    /// The user: a user id, or `oid:` and an Azure object id (`oid:6b1f8d3e-...`).
    pub user: String,
    /// A permission key, e.g. `computers.manage`.
    pub permission: String,
    /// Check on this tenant (a tenant id).
    #[arg(long, value_name = "TENANT_ID", conflicts_with = "resource")]
    pub tenant: Option<String>,
    /// Check on this resource, as TYPE/ID (e.g. `computer/c-42`). With neither --tenant
    /// nor --resource the permission must be a system one.
    #[arg(long, value_name = "TYPE/ID")]
    pub resource: Option<String>,
    /// Show the assignments that applied and the one that decided.
    #[arg(long)]
    pub explain: bool,
    /// Answer only once the server has applied this change-log revision.
    #[arg(long, value_name = "REVISION", default_value_t = 0)]
    pub min_revision: u64,
    /// The server: `host:port` or http://host:port, or https://host:port for TLS.
    #[arg(
        long,
        env = "RBAC_SERVER",
        value_name = "URL",
        default_value = "http://127.0.0.1:50051"
    )]
    pub server: String,
    /// PEM CA certificates to check the server's certificate with [default: the system's].
    #[arg(long, value_name = "FILE")]
    pub tls_ca: Option<PathBuf>,
    /// PEM client certificate, for a server that requires mutual TLS.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// The name the server's certificate must carry [default: the host of --server].
    #[arg(long, value_name = "NAME")]
    pub tls_server_name: Option<String>,
    /// The bearer token the server requires.
    #[arg(long, env = "RBAC_AUTH_TOKEN", value_name = "TOKEN")]
    #[arg(hide_env_values = true)]
    pub auth_token: Option<BearerToken>,
    /// A file holding the bearer token.
    #[arg(long, env = "RBAC_AUTH_TOKEN_FILE", value_name = "FILE")]
    pub auth_token_file: Option<PathBuf>,
    /// Give up after this many milliseconds.
    #[arg(long, value_name = "MS", default_value_t = 10_000)]
    pub timeout_ms: u64,
}

/// Why `check` has no answer.
#[derive(Debug, thiserror::Error)]
pub enum CheckCommandError {
    #[error("{0}")]
    Usage(String),
    #[error("cannot read `{}`: {source}", path.display())]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot reach `{server}`: {message}")]
    Unreachable { server: String, message: String },
    #[error("the server answered {code}: {message}")]
    Refused { code: &'static str, message: String },
}

impl CheckCommandError {
    fn exit_code(&self) -> ExitCode {
        match self {
            CheckCommandError::Usage(_) | CheckCommandError::ReadFile { .. } => {
                ExitCode::from(EX_USAGE)
            }
            CheckCommandError::Unreachable { .. } | CheckCommandError::Refused { .. } => {
                ExitCode::from(2)
            }
        }
    }
}

/// Runs the check and prints the answer: 0 allowed, 1 not allowed, 2 no answer, 64 usage.
pub async fn run_check(args: CheckArgs) -> ExitCode {
    match check(&args).await {
        Ok(answer) => {
            print!("{}", render(&args, &answer));
            if allowed(&answer) {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            }
        }
        Err(err) => {
            eprintln!("rbac-sidecar check: {err}");
            err.exit_code()
        }
    }
}

/// Only an explicit allow is an allow.
fn allowed(answer: &pb::CheckAccessResponse) -> bool {
    answer.allowed && answer.decision() == pb::Decision::Allowed
}

async fn check(args: &CheckArgs) -> Result<pb::CheckAccessResponse, CheckCommandError> {
    let mut request = tonic::Request::new(request(args)?);
    if let Some(token) = token(args)? {
        let value =
            MetadataValue::try_from(format!("Bearer {}", token.expose())).map_err(|_| {
                CheckCommandError::Usage("the bearer token is not valid metadata".into())
            })?;
        request.metadata_mut().insert("authorization", value);
    }
    let channel = connect(args).await?;
    pb::authorization_service_client::AuthorizationServiceClient::new(channel)
        .check_access(request)
        .await
        .map(tonic::Response::into_inner)
        .map_err(|status| match status.code() {
            tonic::Code::Unavailable if status.message().contains("error trying to connect") => {
                CheckCommandError::Unreachable {
                    server: args.server.clone(),
                    message: status.message().to_owned(),
                }
            }
            code => CheckCommandError::Refused {
                code: code_name(code),
                message: status.message().to_owned(),
            },
        })
}

fn request(args: &CheckArgs) -> Result<pb::CheckAccessRequest, CheckCommandError> {
    use pb::check_access_request::Subject;
    let subject = match args.user.strip_prefix("oid:") {
        Some(object_id) => Subject::AzureObjectId(object_id.to_owned()),
        None => Subject::UserId(args.user.clone()),
    };
    let target = match (&args.tenant, &args.resource) {
        (Some(tenant), _) => Some(pb::target::Kind::TenantId(tenant.clone())),
        (None, Some(resource)) => {
            let Some((kind, id)) = resource.split_once('/') else {
                return Err(CheckCommandError::Usage(format!(
                    "`--resource` takes TYPE/ID, e.g. `computer/c-42`; got `{resource}`"
                )));
            };
            Some(pb::target::Kind::Resource(pb::ResourceRef {
                r#type: kind.to_owned(),
                id: id.to_owned(),
            }))
        }
        (None, None) => None,
    };
    Ok(pb::CheckAccessRequest {
        subject: Some(subject),
        permission: args.permission.clone(),
        target: target.map(|kind| pb::Target { kind: Some(kind) }),
        explain: args.explain,
        min_revision: args.min_revision,
    })
}

fn token(args: &CheckArgs) -> Result<Option<BearerToken>, CheckCommandError> {
    BearerToken::resolve(args.auth_token.clone(), args.auth_token_file.as_deref())
        .map_err(|err| CheckCommandError::Usage(err.to_string()))
}

fn read(path: &Path) -> Result<Vec<u8>, CheckCommandError> {
    std::fs::read(path).map_err(|source| CheckCommandError::ReadFile {
        path: path.to_owned(),
        source,
    })
}

async fn connect(args: &CheckArgs) -> Result<Channel, CheckCommandError> {
    let tls = ClientTls {
        ca: args.tls_ca.as_deref(),
        cert: args.tls_cert.as_deref(),
        key: args.tls_key.as_deref(),
        server_name: args.tls_server_name.as_deref(),
    };
    channel(&args.server, &tls, Duration::from_millis(args.timeout_ms)).await
}

/// How a command trusts an https:// server and proves itself to it.
#[derive(Default)]
pub(super) struct ClientTls<'a> {
    pub ca: Option<&'a Path>,
    pub cert: Option<&'a Path>,
    pub key: Option<&'a Path>,
    pub server_name: Option<&'a str>,
}

/// A channel to `server`: `host:port` (plaintext, as every other address of this
/// service is written) or an `http(s)://` URL.
pub(super) async fn channel(
    server: &str,
    tls: &ClientTls<'_>,
    timeout: Duration,
) -> Result<Channel, CheckCommandError> {
    let url = if server.contains("://") {
        server.to_owned()
    } else {
        format!("http://{server}")
    };
    let mut endpoint = Endpoint::from_shared(url)
        .map_err(|e| {
            CheckCommandError::Usage(format!("`--server` `{server}` is not an address: {e}"))
        })?
        .connect_timeout(timeout)
        .timeout(timeout);
    let https = server.starts_with("https://");
    if !https && (tls.ca.is_some() || tls.cert.is_some() || tls.server_name.is_some()) {
        return Err(CheckCommandError::Usage(
            "the --tls-* options need an https:// --server".into(),
        ));
    }
    if https {
        let mut config = ClientTlsConfig::new();
        config = match tls.ca {
            Some(ca) => config.ca_certificate(Certificate::from_pem(read(ca)?)),
            None => config.with_native_roots(),
        };
        if let (Some(cert), Some(key)) = (tls.cert, tls.key) {
            config = config.identity(Identity::from_pem(read(cert)?, read(key)?));
        }
        if let Some(name) = tls.server_name {
            config = config.domain_name(name.to_owned());
        }
        endpoint = endpoint.tls_config(config).map_err(|e| {
            CheckCommandError::Usage(format!("invalid TLS settings: {}", error_chain(&e)))
        })?;
    }
    endpoint
        .connect()
        .await
        .map_err(|e| CheckCommandError::Unreachable {
            server: server.to_owned(),
            message: error_chain(&e),
        })
}

/// The answer as a person reads it: the decision on one line, then with --explain one
/// line per applied assignment, the decisive one marked.
fn render(args: &CheckArgs, answer: &pb::CheckAccessResponse) -> String {
    let decision = match answer.decision() {
        pb::Decision::Allowed if answer.allowed => "ALLOWED",
        pb::Decision::Allowed | pb::Decision::Unspecified => "NOT ALLOWED (no decision)",
        pb::Decision::NotGranted => "NOT GRANTED",
        pb::Decision::Denied => "DENIED",
        pb::Decision::UserInactive => "USER INACTIVE",
    };
    let on = match (&args.tenant, &args.resource) {
        (Some(tenant), _) => format!("on tenant {tenant}"),
        (None, Some(resource)) => format!("on resource {resource}"),
        (None, None) => "(system-wide)".to_owned(),
    };
    let mut text = format!(
        "{decision}  {} {on} for user {} (revision {})\n",
        args.permission, args.user, answer.revision
    );
    if !args.explain {
        return text;
    }
    if answer.explanation.is_empty() {
        text.push_str(&format!("  {}\n", answer.reason));
        return text;
    }
    let rows: Vec<[String; 5]> = answer
        .explanation
        .iter()
        .map(|applied| {
            [
                if applied.decisive { ">" } else { " " }.to_owned(),
                match applied.effect() {
                    pb::Effect::Allow => "allow",
                    pb::Effect::Deny => "deny",
                    pb::Effect::Unspecified => "?",
                }
                .to_owned(),
                applied.role_name.clone(),
                format!("at {}", scope(applied.scope.as_ref())),
                if applied.via_group_id.is_empty() {
                    "direct".to_owned()
                } else {
                    format!("via group {}", applied.via_group_id)
                },
            ]
        })
        .collect();
    let width = |i: usize| rows.iter().map(|r| r[i].chars().count()).max().unwrap_or(0);
    let (effect, role, at, path) = (width(1), width(2), width(3), width(4));
    for (row, applied) in rows.iter().zip(&answer.explanation) {
        let line = format!(
            "  {} {:effect$}  {:role$}  {:at$}  {:path$}  assignment {}{}",
            row[0],
            row[1],
            row[2],
            row[3],
            row[4],
            applied.assignment_id,
            if applied.decisive { "  (decisive)" } else { "" },
        );
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

fn scope(scope: Option<&pb::Scope>) -> String {
    use pb::scope::Kind;
    match scope.and_then(|s| s.kind.as_ref()) {
        Some(Kind::Owner(())) => "Owner".to_owned(),
        Some(Kind::MspTenantId(id)) => format!("MSP {id}"),
        Some(Kind::TenantId(id)) => format!("tenant {id}"),
        Some(Kind::TenantTagId(id)) => format!("tenant tag {id}"),
        Some(Kind::UsersTenant(())) => "the user's tenant".to_owned(),
        Some(Kind::Resource(r)) => format!("resource {}/{}", r.r#type, r.id),
        None => "an unknown scope".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn args(line: &[&str]) -> CheckArgs {
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            check: CheckArgs,
        }
        Cli::try_parse_from(std::iter::once("check").chain(line.iter().copied()))
            .unwrap()
            .check
    }

    fn applied(
        effect: pb::Effect,
        scope: pb::scope::Kind,
        group: &str,
        decisive: bool,
    ) -> pb::AppliedAssignment {
        pb::AppliedAssignment {
            assignment_id: format!("a-{}", effect.as_str_name()),
            role_id: "r".into(),
            role_name: "Technician".into(),
            effect: effect as i32,
            scope: Some(pb::Scope { kind: Some(scope) }),
            via_group_id: group.into(),
            decisive,
        }
    }

    #[test]
    fn an_allow_is_one_line() {
        let args = args(&["u-1", "computers.manage", "--tenant", "t-1"]);
        let answer = pb::CheckAccessResponse {
            allowed: true,
            decision: pb::Decision::Allowed as i32,
            revision: 12,
            explanation: Vec::new(),
            reason: String::new(),
        };
        assert_eq!(
            render(&args, &answer),
            "ALLOWED  computers.manage on tenant t-1 for user u-1 (revision 12)\n"
        );
        assert!(allowed(&answer));
    }

    #[test]
    fn an_explained_deny_marks_the_decisive_assignment() {
        let args = args(&[
            "oid:o-1",
            "computers.manage",
            "--tenant",
            "t-1",
            "--explain",
        ]);
        let answer = pb::CheckAccessResponse {
            allowed: false,
            decision: pb::Decision::Denied as i32,
            revision: 7,
            explanation: vec![
                applied(pb::Effect::Allow, pb::scope::Kind::Owner(()), "", false),
                applied(
                    pb::Effect::Deny,
                    pb::scope::Kind::TenantId("t-1".into()),
                    "g-1",
                    true,
                ),
            ],
            reason: "a deny of `computers.manage` applies here".into(),
        };
        assert_eq!(
            render(&args, &answer),
            "DENIED  computers.manage on tenant t-1 for user oid:o-1 (revision 7)\n\
             \x20   allow  Technician  at Owner       direct         assignment a-EFFECT_ALLOW\n\
             \x20 > deny   Technician  at tenant t-1  via group g-1  assignment a-EFFECT_DENY  (decisive)\n"
        );
        assert!(!allowed(&answer));
    }

    #[test]
    fn a_system_permission_and_nothing_applying() {
        let args = args(&["u-1", "billing.manage", "--explain"]);
        let answer = pb::CheckAccessResponse {
            allowed: false,
            decision: pb::Decision::NotGranted as i32,
            revision: 3,
            explanation: Vec::new(),
            reason: "no assignment of the user grants `billing.manage` here".into(),
        };
        assert_eq!(
            render(&args, &answer),
            "NOT GRANTED  billing.manage (system-wide) for user u-1 (revision 3)\n  no assignment of the user grants `billing.manage` here\n"
        );
    }

    #[test]
    fn a_resource_is_type_slash_id() {
        let asked = request(&args(&[
            "u-1",
            "computers.view",
            "--resource",
            "computer/c-42",
        ]))
        .unwrap();
        let Some(pb::target::Kind::Resource(resource)) = asked.target.and_then(|t| t.kind) else {
            panic!("a resource target");
        };
        assert_eq!(
            (resource.r#type.as_str(), resource.id.as_str()),
            ("computer", "c-42")
        );
        assert!(request(&args(&["u-1", "computers.view", "--resource", "c-42"])).is_err());
        assert!(matches!(
            request(&args(&["oid:o-1", "computers.view"])).unwrap().subject,
            Some(pb::check_access_request::Subject::AzureObjectId(id)) if id == "o-1"
        ));
    }

    #[test]
    fn a_tenant_and_a_resource_together_are_refused() {
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            check: CheckArgs,
        }
        assert!(
            Cli::try_parse_from([
                "check",
                "u",
                "p",
                "--tenant",
                "t",
                "--resource",
                "computer/c"
            ])
            .is_err()
        );
    }
}
