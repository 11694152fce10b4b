//! `serve`'s configuration, in layers: a command-line flag beats its environment
//! variable, which beats the TOML file (`--config`), which beats the built-in default.
//! clap reads the first two layers into [`ServeSettings`]; the file is the same struct
//! read by serde, rejecting unknown keys; [`ServeConfig::from_settings`] fills the
//! defaults and checks the combination.

use std::fmt;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ext_authz::{ExtAuthzSettings, RouteMap};
use super::upstream::UpstreamConfig;

/// The default database: an embedded SQLite file in the working directory (API.md).
pub const DEFAULT_DATABASE_URL: &str = "sqlite://rbac.db?mode=rwc";

/// `serve`'s command line: the configuration file, and every setting as a flag.
#[derive(Clone, Debug, Default, Args)]
pub struct ServeArgs {
    /// A TOML file with any of the settings below, keyed by the flag's name in snake_case
    /// (`batch_limit = 500`). Flags and environment variables take precedence over it.
    #[arg(long, env = "RBAC_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print the resolved configuration as TOML (secrets left out) and exit.
    #[arg(long)]
    pub print_config: bool,

    #[command(flatten)]
    pub settings: ServeSettings,
}

impl ServeArgs {
    /// Layers the flags and environment over the file over the defaults.
    pub fn resolve(self) -> Result<ServeConfig, ConfigError> {
        let file = match &self.config {
            Some(path) => ServeSettings::from_file(path)?,
            None => ServeSettings::default(),
        };
        ServeConfig::from_settings(self.settings.or(file))
    }
}

/// One layer of `serve`'s settings, every one optional: the flags and environment
/// variables (clap), or the TOML file (serde; its keys are these field names).
#[derive(Clone, Debug, Default, Args, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ServeSettings {
    /// Address to serve gRPC on [default: 127.0.0.1:50051].
    #[arg(long, env = "RBAC_LISTEN", value_name = "ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub listen: Option<SocketAddr>,

    /// Serve AdminService on this address only, and not on --listen (e.g. 127.0.0.1:50052,
    /// to keep it off the pod network) [default: AdminService on --listen].
    #[arg(long, env = "RBAC_ADMIN_LISTEN", value_name = "ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admin_listen: Option<SocketAddr>,

    /// Serve Prometheus metrics at http://ADDR/metrics, with /healthz and /readyz
    /// [default: off].
    #[arg(long, env = "RBAC_METRICS_LISTEN", value_name = "ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub metrics_listen: Option<SocketAddr>,

    /// Serve the OpenID AuthZEN Authorization API over HTTP here; over HTTPS (and mutual
    /// TLS) with the gRPC port's --tls-* files [default: off].
    #[arg(long, env = "RBAC_HTTP_LISTEN", value_name = "ADDR")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_listen: Option<SocketAddr>,

    /// sqlite://FILE?mode=rwc (embedded) or postgres://USER@HOST/DB
    /// [default: sqlite://rbac.db?mode=rwc].
    #[arg(long, env = "DATABASE_URL", value_name = "URL", hide_env_values = true)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_url: Option<String>,

    /// At most this many database connections; PostgreSQL's LISTEN takes one of them
    /// [default: 5].
    #[arg(long, env = "RBAC_DATABASE_MAX_CONNECTIONS", value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub database_max_connections: Option<u32>,

    /// A sidecar with no database, fed by the database tier at this URL (http:// or
    /// https://): it loads users' access from the tier, follows its change feed, and
    /// forwards AdminService to it.
    #[arg(long, env = "RBAC_UPSTREAM", value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream: Option<String>,

    /// The CA that signed the tier's certificate (https:// upstream); the system's roots
    /// otherwise.
    #[arg(long, env = "RBAC_UPSTREAM_CA", value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_ca: Option<PathBuf>,

    /// A file holding the bearer token the tier wants.
    #[arg(long, env = "RBAC_UPSTREAM_TOKEN_FILE", value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upstream_token_file: Option<PathBuf>,

    /// How Envoy's external authorization requests become checks: the file's
    /// `[ext_authz]` section only (see `config::ext_authz`).
    #[arg(skip)]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ext_authz: Option<ExtAuthzSettings>,

    /// Creates an MSP tenant and a System Administrator with this Azure object id if none has it.
    #[arg(long, env = "RBAC_BOOTSTRAP_ADMIN_OBJECT_ID", value_name = "UUID")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bootstrap_admin_object_id: Option<Uuid>,

    /// Most checks accepted in one BatchCheck [default: 1000].
    #[arg(long, env = "RBAC_BATCH_LIMIT", value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub batch_limit: Option<usize>,

    /// Longest a check waits for its min_revision before UNAVAILABLE, in milliseconds
    /// [default: 5000].
    #[arg(long, env = "RBAC_MIN_REVISION_WAIT_MS", value_name = "MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub min_revision_wait_ms: Option<u64>,

    /// How often the change log is polled, in milliseconds [default: 200].
    #[arg(long, env = "RBAC_POLL_INTERVAL_MS", value_name = "MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub poll_interval_ms: Option<u64>,

    /// Change-log rows older than this are deleted, in hours; a replica further behind
    /// drops its whole cache and resynchronises [default: 24].
    #[arg(long, env = "RBAC_CHANGE_LOG_RETENTION_HOURS", value_name = "HOURS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub change_log_retention_hours: Option<u64>,

    /// Upper bound of the effective-access cache, in MiB [default: 256].
    #[arg(long, env = "RBAC_CACHE_MAX_MIB", value_name = "MIB")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_max_mib: Option<u64>,

    /// Connections each gRPC port holds at once; more are closed as they arrive
    /// [default: 10000].
    #[arg(long, env = "RBAC_MAX_CONNECTIONS", value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<usize>,

    /// HTTP/2 streams (calls in flight) one connection may have open at once; more are
    /// refused with REFUSED_STREAM, which clients retry [default: 100].
    #[arg(long, env = "RBAC_MAX_CONCURRENT_STREAMS", value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_concurrent_streams: Option<u32>,

    /// MiB of request bodies the server holds at once across all connections, beyond the
    /// first 16 KiB of each call (which every check fits in); a call that would need more
    /// is refused with RESOURCE_EXHAUSTED [default: 64].
    #[arg(long, env = "RBAC_MAX_INFLIGHT_REQUEST_MIB", value_name = "MIB")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_inflight_request_mib: Option<u64>,

    /// A connection that sends nothing (no HTTP/2 preface, no TLS hello) within this many
    /// milliseconds of being accepted is closed [default: 10000].
    #[arg(long, env = "RBAC_HANDSHAKE_TIMEOUT_MS", value_name = "MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handshake_timeout_ms: Option<u64>,

    /// Largest request message accepted, in bytes; larger ones fail with OUT_OF_RANGE
    /// [default: 4194304].
    #[arg(long, env = "RBAC_MAX_REQUEST_BYTES", value_name = "BYTES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_request_bytes: Option<usize>,

    /// Longest a call may run, in milliseconds; past it the call fails with
    /// DEADLINE_EXCEEDED. A shorter grpc-timeout from the caller still applies
    /// [default: 10000].
    #[arg(long, env = "RBAC_REQUEST_TIMEOUT_MS", value_name = "MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_timeout_ms: Option<u64>,

    /// After SIGTERM, how long in-flight calls may take to finish before the process
    /// exits anyway (with status 1), in milliseconds [default: 20000].
    #[arg(long, env = "RBAC_SHUTDOWN_GRACE_MS", value_name = "MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shutdown_grace_ms: Option<u64>,

    /// PEM certificate chain: serve gRPC over TLS (needs --tls-key).
    #[arg(long, env = "RBAC_TLS_CERT", value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_cert: Option<PathBuf>,

    /// PEM private key of --tls-cert.
    #[arg(long, env = "RBAC_TLS_KEY", value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_key: Option<PathBuf>,

    /// PEM CA certificates: require every caller to present a client certificate they
    /// signed (mutual TLS; needs --tls-cert).
    #[arg(long, env = "RBAC_TLS_CLIENT_CA", value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls_client_ca: Option<PathBuf>,

    /// Require `authorization: Bearer TOKEN` on every call except grpc.health.v1.Health.
    /// Prefer --auth-token-file: a flag shows in the process list.
    #[arg(
        long,
        env = "RBAC_AUTH_TOKEN",
        value_name = "TOKEN",
        hide_env_values = true
    )]
    #[serde(skip_serializing)]
    pub auth_token: Option<BearerToken>,

    /// A file holding the bearer token (surrounding whitespace ignored), e.g. a mounted Secret.
    #[arg(long, env = "RBAC_AUTH_TOKEN_FILE", value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_token_file: Option<PathBuf>,

    /// Log lines as human-readable text or as JSON objects [default: pretty].
    #[arg(long, env = "RBAC_LOG_FORMAT", value_name = "FORMAT")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_format: Option<LogFormat>,

    /// Which log events to keep, as a tracing filter (`info`, `rbac_sidecar=debug,info`)
    /// [default: info].
    #[arg(long, env = "RUST_LOG", value_name = "FILTER")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log_filter: Option<String>,

    /// Export traces over OTLP/gRPC to this collector, e.g. http://127.0.0.1:4317
    /// [default: no export].
    #[arg(long, env = "OTEL_EXPORTER_OTLP_ENDPOINT", value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub otlp_endpoint: Option<String>,

    /// For a demo only: serve AdminService on a non-loopback address with neither the
    /// bearer token nor mutual TLS, where anyone who reaches it can act as any
    /// administrator. Without it, such a start is refused [default: false].
    #[arg(
        long,
        env = "RBAC_INSECURE_ADMIN_WITHOUT_AUTH",
        value_name = "BOOL",
        num_args = 0..=1,
        default_missing_value = "true"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub insecure_admin_without_auth: Option<bool>,
}

impl ServeSettings {
    /// Reads a TOML file; an unknown key or a bad value names the file, the line and the key.
    pub fn from_file(path: &Path) -> Result<ServeSettings, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
            path: path.to_owned(),
            source,
        })?;
        Self::from_toml(&text).map_err(|message| ConfigError::ParseFile {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses TOML text; the error is toml's, which shows the offending line.
    pub fn from_toml(text: &str) -> Result<ServeSettings, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_owned())
    }

    /// Each setting from `self`, or else from `lower`.
    pub fn or(self, lower: ServeSettings) -> ServeSettings {
        ServeSettings {
            listen: self.listen.or(lower.listen),
            admin_listen: self.admin_listen.or(lower.admin_listen),
            metrics_listen: self.metrics_listen.or(lower.metrics_listen),
            http_listen: self.http_listen.or(lower.http_listen),
            database_url: self.database_url.or(lower.database_url),
            database_max_connections: self
                .database_max_connections
                .or(lower.database_max_connections),
            upstream: self.upstream.or(lower.upstream),
            ext_authz: self.ext_authz.or(lower.ext_authz),
            upstream_ca: self.upstream_ca.or(lower.upstream_ca),
            upstream_token_file: self.upstream_token_file.or(lower.upstream_token_file),
            bootstrap_admin_object_id: self
                .bootstrap_admin_object_id
                .or(lower.bootstrap_admin_object_id),
            batch_limit: self.batch_limit.or(lower.batch_limit),
            min_revision_wait_ms: self.min_revision_wait_ms.or(lower.min_revision_wait_ms),
            poll_interval_ms: self.poll_interval_ms.or(lower.poll_interval_ms),
            change_log_retention_hours: self
                .change_log_retention_hours
                .or(lower.change_log_retention_hours),
            cache_max_mib: self.cache_max_mib.or(lower.cache_max_mib),
            max_request_bytes: self.max_request_bytes.or(lower.max_request_bytes),
            max_connections: self.max_connections.or(lower.max_connections),
            max_concurrent_streams: self.max_concurrent_streams.or(lower.max_concurrent_streams),
            max_inflight_request_mib: self
                .max_inflight_request_mib
                .or(lower.max_inflight_request_mib),
            handshake_timeout_ms: self.handshake_timeout_ms.or(lower.handshake_timeout_ms),
            request_timeout_ms: self.request_timeout_ms.or(lower.request_timeout_ms),
            shutdown_grace_ms: self.shutdown_grace_ms.or(lower.shutdown_grace_ms),
            tls_cert: self.tls_cert.or(lower.tls_cert),
            tls_key: self.tls_key.or(lower.tls_key),
            tls_client_ca: self.tls_client_ca.or(lower.tls_client_ca),
            auth_token: self.auth_token.or(lower.auth_token),
            auth_token_file: self.auth_token_file.or(lower.auth_token_file),
            log_format: self.log_format.or(lower.log_format),
            log_filter: self.log_filter.or(lower.log_filter),
            otlp_endpoint: self.otlp_endpoint.or(lower.otlp_endpoint),
            insecure_admin_without_auth: self
                .insecure_admin_without_auth
                .or(lower.insecure_admin_without_auth),
        }
    }
}

/// How log lines are written.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, ValueEnum, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One human-readable line per event.
    #[default]
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// The certificate and key of the gRPC ports, and the CA of callers for mutual TLS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Some: mutual TLS, every caller presents a certificate this CA signed.
    pub client_ca: Option<PathBuf>,
}

/// The shared secret callers present as `authorization: Bearer <token>`. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct BearerToken(String);

impl BearerToken {
    /// A token: one or more visible ASCII characters without spaces (RFC 6750).
    pub fn new(token: &str) -> Result<BearerToken, ConfigError> {
        let token = BearerToken(token.to_owned());
        token.check("auth_token")?;
        Ok(token)
    }

    fn check(&self, key: &'static str) -> Result<(), ConfigError> {
        if !self.0.is_empty() && self.0.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(())
        } else {
            Err(ConfigError::invalid(
                key,
                "must be one or more visible ASCII characters without spaces (RFC 6750)",
            ))
        }
    }

    pub(super) fn from_file(path: &Path, key: &'static str) -> Result<BearerToken, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
            path: path.to_owned(),
            source,
        })?;
        let token = BearerToken(text.trim().to_owned());
        token.check(key)?;
        Ok(token)
    }

    /// The secret itself, to compare or to send.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

/// Parsing never fails nor echoes the value: it is checked, without being shown, once
/// every layer is merged.
impl FromStr for BearerToken {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(BearerToken(s.to_owned()))
    }
}

impl<'de> Deserialize<'de> for BearerToken {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(BearerToken)
    }
}

/// Why `serve`'s configuration was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read `{}`: {source}", path.display())]
    ReadFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("invalid configuration file `{}`: {message}", path.display())]
    ParseFile { path: PathBuf, message: String },
    #[error("`{key}` (--{flag}) {problem}", flag = key.replace('_', "-"))]
    Invalid { key: &'static str, problem: String },
}

impl ConfigError {
    pub(super) fn invalid(key: &'static str, problem: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            key,
            problem: problem.into(),
        }
    }
}

/// Everything `serve` needs, resolved: every setting has its value.
#[derive(Clone, Debug)]
pub struct ServeConfig {
    pub listen: SocketAddr,
    pub database_url: String,
    pub database_max_connections: u32,
    /// Some: no database; fed by this tier.
    pub upstream: Option<UpstreamConfig>,
    /// The ext_authz route map; None: every ext_authz request is refused.
    pub ext_authz: Option<RouteMap>,
    pub bootstrap_admin_object_id: Option<Uuid>,
    pub batch_limit: usize,
    pub min_revision_wait_ms: u64,
    pub poll_interval_ms: u64,
    pub change_log_retention_hours: u64,
    pub cache_max_mib: u64,
    /// Some: AdminService is served there, and not on `listen`.
    pub admin_listen: Option<SocketAddr>,
    /// Some: `/metrics`, `/healthz` and `/readyz` are served there over HTTP.
    pub metrics_listen: Option<SocketAddr>,
    /// AuthZEN over HTTP.
    pub http_listen: Option<SocketAddr>,
    pub max_request_bytes: usize,
    pub max_connections: usize,
    pub max_concurrent_streams: u32,
    pub max_inflight_request_mib: u64,
    pub handshake_timeout_ms: u64,
    pub request_timeout_ms: u64,
    pub shutdown_grace_ms: u64,
    /// Some: both gRPC ports speak TLS only.
    pub tls: Option<TlsFiles>,
    /// Some: every call but health needs this bearer token.
    pub auth_token: Option<BearerToken>,
    pub log_format: LogFormat,
    pub log_filter: String,
    pub otlp_endpoint: Option<String>,
    /// AdminService may be served unauthenticated on a non-loopback address (a demo).
    pub insecure_admin_without_auth: bool,
}

impl ServeConfig {
    /// The defaults, listening on `listen` with `database_url` (for tests and tools).
    pub fn new(listen: SocketAddr, database_url: &str) -> Self {
        ServeConfig {
            listen,
            database_url: database_url.to_owned(),
            database_max_connections: crate::store::DEFAULT_MAX_CONNECTIONS,
            upstream: None,
            ext_authz: None,
            bootstrap_admin_object_id: None,
            batch_limit: 1000,
            min_revision_wait_ms: 5000,
            poll_interval_ms: 200,
            change_log_retention_hours: 24,
            cache_max_mib: 256,
            admin_listen: None,
            metrics_listen: None,
            http_listen: None,
            max_request_bytes: 4 * 1024 * 1024,
            max_connections: 10_000,
            max_concurrent_streams: 100,
            max_inflight_request_mib: 64,
            handshake_timeout_ms: 10_000,
            request_timeout_ms: 10_000,
            shutdown_grace_ms: 20_000,
            tls: None,
            auth_token: None,
            log_format: LogFormat::Pretty,
            log_filter: "info".to_owned(),
            otlp_endpoint: None,
            insecure_admin_without_auth: false,
        }
    }

    /// Fills what `settings` leaves unset with the defaults, reads the token file and
    /// checks the combination.
    pub fn from_settings(s: ServeSettings) -> Result<ServeConfig, ConfigError> {
        let upstream = UpstreamConfig::from_settings(&s)?;
        let listen = s.listen.unwrap_or_else(default_listen);
        let defaults = ServeConfig::new(
            listen,
            s.database_url.as_deref().unwrap_or(DEFAULT_DATABASE_URL),
        );
        let tls = match (s.tls_cert, s.tls_key, s.tls_client_ca) {
            (Some(cert), Some(key), client_ca) => Some(TlsFiles {
                cert,
                key,
                client_ca,
            }),
            (None, None, None) => None,
            (Some(_), None, _) => {
                return Err(ConfigError::invalid(
                    "tls_cert",
                    "is set without `tls_key` (--tls-key); set both",
                ));
            }
            (None, Some(_), _) => {
                return Err(ConfigError::invalid(
                    "tls_key",
                    "is set without `tls_cert` (--tls-cert); set both",
                ));
            }
            (None, None, Some(_)) => {
                return Err(ConfigError::invalid(
                    "tls_client_ca",
                    "needs `tls_cert` and `tls_key`: mutual TLS is TLS that also checks the caller's certificate",
                ));
            }
        };
        let auth_token = match (s.auth_token, s.auth_token_file) {
            (Some(_), Some(_)) => {
                return Err(ConfigError::invalid(
                    "auth_token",
                    "and `auth_token_file` (--auth-token-file) are both set; set one",
                ));
            }
            (Some(token), None) => {
                token.check("auth_token")?;
                Some(token)
            }
            (None, Some(path)) => Some(BearerToken::from_file(&path, "auth_token_file")?),
            (None, None) => None,
        };
        let admin_listen = s.admin_listen;
        if admin_listen == Some(listen) {
            return Err(ConfigError::invalid(
                "admin_listen",
                format!(
                    "must differ from `listen` (`{listen}`); leave it unset to serve AdminService on `listen`"
                ),
            ));
        }
        let metrics_listen = s.metrics_listen;
        if let Some(metrics) = metrics_listen {
            if metrics == listen || Some(metrics) == admin_listen {
                return Err(ConfigError::invalid(
                    "metrics_listen",
                    format!(
                        "`{metrics}` is already a gRPC address; give metrics a port of their own"
                    ),
                ));
            }
        }
        let http_listen = s.http_listen;
        if let Some(http) = http_listen {
            if [Some(listen), admin_listen, metrics_listen].contains(&Some(http)) {
                return Err(ConfigError::invalid(
                    "http_listen",
                    format!(
                        "`{http}` is already taken by another port; give AuthZEN a port of its own"
                    ),
                ));
            }
        }
        if let Some(endpoint) = &s.otlp_endpoint {
            if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                return Err(ConfigError::invalid(
                    "otlp_endpoint",
                    format!("must be an http:// or https:// URL, got `{endpoint}`"),
                ));
            }
        }
        // The actor is plain metadata: only the token or a client certificate says who may
        // send it, so off the loopback one of them must guard AdminService.
        let insecure_admin_without_auth = s.insecure_admin_without_auth.unwrap_or(false);
        let admin_addr = admin_listen.unwrap_or(listen);
        let guarded = auth_token.is_some() || tls.as_ref().is_some_and(|t| t.client_ca.is_some());
        if !admin_addr.ip().is_loopback() && !guarded && !insecure_admin_without_auth {
            let key = if admin_listen.is_some() {
                "admin_listen"
            } else {
                "listen"
            };
            return Err(ConfigError::invalid(
                key,
                format!(
                    "would serve AdminService on `{admin_addr}`, which is not a loopback address, with neither a bearer token nor mutual TLS: anyone who reaches it could act as any administrator. Set --auth-token-file or --tls-client-ca, or keep AdminService on the loopback with --admin-listen 127.0.0.1:50052; for a demo only, --insecure-admin-without-auth"
                ),
            ));
        }
        let ext_authz = s
            .ext_authz
            .as_ref()
            .map(RouteMap::compile)
            .transpose()
            .map_err(|why| ConfigError::invalid("ext_authz", why))?;
        let config = ServeConfig {
            upstream,
            ext_authz,
            database_max_connections: at_least_one(
                "database_max_connections",
                s.database_max_connections,
                defaults.database_max_connections,
            )?,
            insecure_admin_without_auth,
            bootstrap_admin_object_id: s.bootstrap_admin_object_id,
            batch_limit: at_least_one("batch_limit", s.batch_limit, defaults.batch_limit)?,
            min_revision_wait_ms: s
                .min_revision_wait_ms
                .unwrap_or(defaults.min_revision_wait_ms),
            poll_interval_ms: at_least_one(
                "poll_interval_ms",
                s.poll_interval_ms,
                defaults.poll_interval_ms,
            )?,
            change_log_retention_hours: s
                .change_log_retention_hours
                .unwrap_or(defaults.change_log_retention_hours),
            cache_max_mib: s.cache_max_mib.unwrap_or(defaults.cache_max_mib),
            admin_listen,
            metrics_listen,
            http_listen,
            max_request_bytes: at_least_one(
                "max_request_bytes",
                s.max_request_bytes,
                defaults.max_request_bytes,
            )?,
            max_connections: at_least_one(
                "max_connections",
                s.max_connections,
                defaults.max_connections,
            )?,
            max_concurrent_streams: at_least_one(
                "max_concurrent_streams",
                s.max_concurrent_streams,
                defaults.max_concurrent_streams,
            )?,
            max_inflight_request_mib: at_least_one(
                "max_inflight_request_mib",
                s.max_inflight_request_mib,
                defaults.max_inflight_request_mib,
            )?,
            handshake_timeout_ms: at_least_one(
                "handshake_timeout_ms",
                s.handshake_timeout_ms,
                defaults.handshake_timeout_ms,
            )?,
            request_timeout_ms: at_least_one(
                "request_timeout_ms",
                s.request_timeout_ms,
                defaults.request_timeout_ms,
            )?,
            shutdown_grace_ms: s.shutdown_grace_ms.unwrap_or(defaults.shutdown_grace_ms),
            tls,
            auth_token,
            log_format: s.log_format.unwrap_or_default(),
            log_filter: s.log_filter.unwrap_or(defaults.log_filter.clone()),
            otlp_endpoint: s.otlp_endpoint,
            ..defaults
        };
        Ok(config)
    }

    /// The configuration as a TOML file that reproduces it, except for secrets: the
    /// token is left out and a database password masked.
    pub fn to_toml(&self) -> String {
        let settings = ServeSettings {
            listen: Some(self.listen),
            admin_listen: self.admin_listen,
            metrics_listen: self.metrics_listen,
            http_listen: self.http_listen,
            database_url: match self.upstream {
                None => Some(mask_password(&self.database_url)),
                Some(_) => None,
            },
            database_max_connections: Some(self.database_max_connections),
            upstream: self.upstream.as_ref().map(|u| u.url.clone()),
            ext_authz: self.ext_authz.as_ref().map(|m| m.settings.clone()),
            upstream_ca: self.upstream.as_ref().and_then(|u| u.ca.clone()),
            upstream_token_file: self.upstream.as_ref().and_then(|u| u.token_file.clone()),
            bootstrap_admin_object_id: self.bootstrap_admin_object_id,
            batch_limit: Some(self.batch_limit),
            min_revision_wait_ms: Some(self.min_revision_wait_ms),
            poll_interval_ms: Some(self.poll_interval_ms),
            change_log_retention_hours: Some(self.change_log_retention_hours),
            cache_max_mib: Some(self.cache_max_mib),
            max_request_bytes: Some(self.max_request_bytes),
            max_connections: Some(self.max_connections),
            max_concurrent_streams: Some(self.max_concurrent_streams),
            max_inflight_request_mib: Some(self.max_inflight_request_mib),
            handshake_timeout_ms: Some(self.handshake_timeout_ms),
            request_timeout_ms: Some(self.request_timeout_ms),
            shutdown_grace_ms: Some(self.shutdown_grace_ms),
            tls_cert: self.tls.as_ref().map(|t| t.cert.clone()),
            tls_key: self.tls.as_ref().map(|t| t.key.clone()),
            tls_client_ca: self.tls.as_ref().and_then(|t| t.client_ca.clone()),
            auth_token: None,
            auth_token_file: None,
            log_format: Some(self.log_format),
            log_filter: Some(self.log_filter.clone()),
            otlp_endpoint: self.otlp_endpoint.clone(),
            insecure_admin_without_auth: Some(self.insecure_admin_without_auth),
        };
        let mut text = String::new();
        if self.auth_token.is_some() {
            text.push_str("# a bearer token is required (not shown)\n");
        }
        // Serialising plain values into TOML cannot fail; say so rather than panic.
        text.push_str(
            &toml::to_string(&settings)
                .unwrap_or_else(|e| format!("# cannot show the configuration: {e}\n")),
        );
        text
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

    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.request_timeout_ms)
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_millis(self.shutdown_grace_ms)
    }
}

/// The default gRPC address (API.md): 127.0.0.1:50051.
fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 50051))
}

fn at_least_one<T: PartialOrd + From<u8> + fmt::Display>(
    key: &'static str,
    value: Option<T>,
    default: T,
) -> Result<T, ConfigError> {
    match value {
        Some(v) if v < T::from(1) => Err(ConfigError::invalid(
            key,
            format!("must be at least 1, got `{v}`"),
        )),
        Some(v) => Ok(v),
        None => Ok(default),
    }
}

/// `postgres://user:secret@host/db` becomes `postgres://user:****@host/db`.
fn mask_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let Some(at) = rest[..authority_end].rfind('@') else {
        return url.to_owned();
    };
    match rest[..at].split_once(':') {
        Some((user, _password)) => format!("{scheme}://{user}:****{}", &rest[at..]),
        None => url.to_owned(),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Serve {
        #[command(flatten)]
        args: ServeArgs,
    }

    /// `rbac-sidecar serve ARGS`, parsed (for the configuration's unit tests).
    pub(in crate::config) fn serve_args(args: &[&str]) -> ServeArgs {
        let serve = Serve::try_parse_from(["serve"].iter().chain(args)).unwrap();
        serve.args
    }

    #[test]
    fn defaults_match_the_contract() {
        let config = ServeConfig::from_settings(ServeSettings::default()).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:50051");
        assert_eq!(config.database_url, DEFAULT_DATABASE_URL);
        assert_eq!(config.bootstrap_admin_object_id, None);
        assert_eq!(config.batch_limit, 1000);
        assert_eq!(config.admin_listen, None);
        assert_eq!(config.metrics_listen, None);
        assert!(config.tls.is_none() && config.auth_token.is_none());
        let new = ServeConfig::new(default_listen(), DEFAULT_DATABASE_URL);
        assert_eq!(config.to_toml(), new.to_toml());
    }

    #[test]
    fn a_bad_bootstrap_id_names_the_flag() {
        let err = Serve::try_parse_from(["serve", "--bootstrap-admin-object-id", "not-a-guid"])
            .err()
            .expect("refused");
        assert!(
            err.to_string().contains("--bootstrap-admin-object-id"),
            "{err}"
        );
    }

    #[test]
    fn a_flag_beats_the_file_which_beats_the_default() {
        let file = ServeSettings::from_toml(
            "listen = \"127.0.0.1:7000\"\nbatch_limit = 7\npoll_interval_ms = 70\n",
        )
        .unwrap();
        let flags = serve_args(&["--listen", "127.0.0.1:8000"]).settings;
        let config = ServeConfig::from_settings(flags.or(file)).unwrap();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8000");
        assert_eq!(config.batch_limit, 7);
        assert_eq!(config.poll_interval_ms, 70);
        assert_eq!(config.min_revision_wait_ms, 5000);
    }

    #[test]
    fn every_key_of_the_printed_configuration_reads_back() {
        let mut config = ServeConfig::new(default_listen(), "postgres://rbac:s3cret@db/rbac");
        config.admin_listen = Some("127.0.0.1:50052".parse().unwrap());
        config.metrics_listen = Some("0.0.0.0:9464".parse().unwrap());
        config.tls = Some(TlsFiles {
            cert: "/tls/tls.crt".into(),
            key: "/tls/tls.key".into(),
            client_ca: Some("/tls/ca.crt".into()),
        });
        config.auth_token = Some(BearerToken::new("t0ken").unwrap());
        config.otlp_endpoint = Some("http://127.0.0.1:4317".into());
        config.log_format = LogFormat::Json;
        let text = config.to_toml();
        assert!(
            !text.contains("t0ken") && !text.contains("s3cret"),
            "{text}"
        );
        assert!(text.contains("postgres://rbac:****@db/rbac"), "{text}");
        let back = ServeConfig::from_settings(ServeSettings::from_toml(&text).unwrap()).unwrap();
        assert_eq!(back.tls, config.tls);
        assert_eq!(back.log_format, LogFormat::Json);
        assert_eq!(back.admin_listen, config.admin_listen);
        assert_eq!(back.metrics_listen, config.metrics_listen);
        assert_eq!(back.otlp_endpoint, config.otlp_endpoint);
        assert_eq!(
            back.to_toml(),
            text.lines().skip(1).collect::<Vec<_>>().join("\n") + "\n"
        );
    }

    #[test]
    fn an_unknown_key_is_refused_with_its_name() {
        let err = ServeSettings::from_toml("lissten = \"127.0.0.1:1\"\n").unwrap_err();
        assert!(err.contains("unknown field `lissten`"), "{err}");
    }

    #[test]
    fn a_bad_value_shows_its_key() {
        let err = ServeSettings::from_toml("batch_limit = \"lots\"\n").unwrap_err();
        assert!(err.contains("batch_limit"), "{err}");
    }

    #[test]
    fn half_a_tls_configuration_is_refused() {
        let settings = ServeSettings {
            tls_key: Some("k.pem".into()),
            ..ServeSettings::default()
        };
        let err = ServeConfig::from_settings(settings)
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            "`tls_key` (--tls-key) is set without `tls_cert` (--tls-cert); set both"
        );
        let settings = ServeSettings {
            tls_client_ca: Some("ca.pem".into()),
            ..ServeSettings::default()
        };
        let err = ServeConfig::from_settings(settings)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("`tls_client_ca` (--tls-client-ca) needs"),
            "{err}"
        );
    }

    #[test]
    fn a_bad_token_is_refused_without_being_shown() {
        let settings = serve_args(&["--auth-token", "two words"]).settings;
        let err = ServeConfig::from_settings(settings)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("`auth_token` (--auth-token) must be"),
            "{err}"
        );
        assert!(!err.contains("two words"), "{err}");
        let settings = serve_args(&["--auth-token", "a", "--auth-token-file", "f"]).settings;
        assert!(ServeConfig::from_settings(settings).is_err());
    }

    #[test]
    fn zero_limits_are_refused() {
        for key in [
            "batch_limit",
            "max_request_bytes",
            "request_timeout_ms",
            "poll_interval_ms",
        ] {
            let settings = ServeSettings::from_toml(&format!("{key} = 0\n")).unwrap();
            let err = ServeConfig::from_settings(settings)
                .unwrap_err()
                .to_string();
            assert!(err.starts_with(&format!("`{key}`")), "{err}");
            assert!(err.ends_with("must be at least 1, got `0`"), "{err}");
        }
    }

    #[test]
    fn admin_and_metrics_need_ports_of_their_own() {
        let settings = serve_args(&["--admin-listen", "127.0.0.1:50051"]).settings;
        assert!(ServeConfig::from_settings(settings).is_err());
        let settings = serve_args(&["--metrics-listen", "127.0.0.1:50051"]).settings;
        assert!(ServeConfig::from_settings(settings).is_err());
    }

    #[test]
    fn passwords_are_masked() {
        assert_eq!(
            mask_password("postgres://u:p@h:5432/d?x=1"),
            "postgres://u:****@h:5432/d?x=1"
        );
        assert_eq!(mask_password("postgres://u@h/d"), "postgres://u@h/d");
        assert_eq!(
            mask_password("sqlite://rbac.db?mode=rwc"),
            "sqlite://rbac.db?mode=rwc"
        );
    }
}
