//! [`ServeSettings`]: one layer of `serve`'s settings (flags and env, or the TOML file).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::ext_authz::ExtAuthzSettings;
use super::{BearerToken, ConfigError};

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

    /// The URL callers reach the HTTP port at (e.g. https://rbac.example.com, behind a
    /// proxy), which the AuthZEN discovery document names [default: the --http-listen
    /// address, with https:// when TLS is on]. Never taken from a request's Host header.
    #[arg(long, env = "RBAC_PUBLIC_URL", value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_url: Option<String>,

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

    /// Connections each port (gRPC and HTTP) holds at once; more are closed as they
    /// arrive [default: 10000].
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

    /// MiB of answers the server holds for clients that do not read them (their HTTP/2
    /// window is spent), across all connections, each counted at 3 KiB; past it, the
    /// connections stalled longest are closed until the rest fit [default: 64].
    #[arg(long, env = "RBAC_MAX_UNREAD_RESPONSE_MIB", value_name = "MIB")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_unread_response_mib: Option<u64>,

    /// A gRPC connection with an answer that waits this many milliseconds on a spent
    /// HTTP/2 window (sending less than 4 KiB of it meanwhile), or whose socket stays full
    /// that long, is closed and what it held given back [default: 10000].
    #[arg(long, env = "RBAC_STALLED_CONNECTION_TIMEOUT_MS", value_name = "MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stalled_connection_timeout_ms: Option<u64>,

    /// A connection that sends nothing (no HTTP/2 preface, no TLS hello) within this many
    /// milliseconds of being accepted is closed; on the HTTP port, a TLS handshake not
    /// done by then [default: 10000].
    #[arg(long, env = "RBAC_HANDSHAKE_TIMEOUT_MS", value_name = "MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub handshake_timeout_ms: Option<u64>,

    /// On the HTTP port, a connection whose request headers are not all in within this
    /// many milliseconds of its start, or of its previous response, is closed: silent,
    /// slow and idle connections alike. Each byte does not restart it [default: 10000].
    #[arg(long, env = "RBAC_HTTP_HEADER_TIMEOUT_MS", value_name = "MS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_header_timeout_ms: Option<u64>,

    /// Most access changes a `validate_only` preview lists; `truncated` and
    /// `users_affected` still count all of them [default: 1000].
    #[arg(long, env = "RBAC_PREVIEW_MAX_CHANGES", value_name = "N")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub preview_max_changes: Option<usize>,

    /// Largest request message accepted, in bytes; larger ones fail with OUT_OF_RANGE
    /// [default: 4194304].
    #[arg(long, env = "RBAC_MAX_REQUEST_BYTES", value_name = "BYTES")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_request_bytes: Option<usize>,

    /// Longest a call may run, in milliseconds; past it the call fails with
    /// DEADLINE_EXCEEDED. A shorter grpc-timeout from the caller still applies. On the
    /// HTTP port, the longest a request may take, its body read included (408 past it)
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
    #[arg(long, env = "RBAC_AUTH_TOKEN", value_name = "TOKEN")]
    #[arg(hide_env_values = true)]
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

    /// Prove admin callers: the JSON Web Key Set (a file, or an https:// URL such as
    /// Entra ID's `https://login.microsoftonline.com/TENANT/discovery/v2.0/keys`) that
    /// verifies the JWT each admin call carries in `x-actor-token`. Claimed actor headers
    /// alone are then refused [default: off].
    #[arg(long, env = "RBAC_ACTOR_JWKS", value_name = "FILE_OR_URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_jwks: Option<String>,

    /// The CA that signs the JWKS URL's certificate [default: the system's roots].
    #[arg(long, env = "RBAC_ACTOR_JWKS_CA", value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_jwks_ca: Option<PathBuf>,

    /// The `iss` actors' tokens must carry (Entra ID v2.0:
    /// `https://login.microsoftonline.com/TENANT/v2.0`); required with `actor_jwks`.
    #[arg(long, env = "RBAC_ACTOR_JWT_ISSUER", value_name = "ISS")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_jwt_issuer: Option<String>,

    /// The `aud` actors' tokens must carry (the application's client id, or its
    /// `api://` URI); required with `actor_jwks`.
    #[arg(long, env = "RBAC_ACTOR_JWT_AUDIENCE", value_name = "AUD")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_jwt_audience: Option<String>,

    /// The claim holding the actor's Azure object id [default: oid].
    #[arg(long, env = "RBAC_ACTOR_JWT_CLAIM", value_name = "NAME")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor_jwt_claim: Option<String>,

    /// The console's own OpenID Connect sign-in: the provider's issuer (Entra ID v2.0:
    /// `https://login.microsoftonline.com/TENANT/v2.0`), whose discovery document names
    /// its endpoints. The ID token's `oid` claim names the person.
    #[arg(long, env = "RBAC_CONSOLE_OIDC_ISSUER", value_name = "URL")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_oidc_issuer: Option<String>,

    /// The console's client id at the provider (its app registration); required with
    /// `console_oidc_issuer`. Register `<public URL>/console/sign-in/callback` as its
    /// redirect URI.
    #[arg(long, env = "RBAC_CONSOLE_OIDC_CLIENT_ID", value_name = "ID")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_oidc_client_id: Option<String>,

    /// A file holding the console's client secret [default: none, a public client proven
    /// by PKCE alone].
    #[arg(
        long,
        env = "RBAC_CONSOLE_OIDC_CLIENT_SECRET_FILE",
        value_name = "FILE"
    )]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_oidc_client_secret_file: Option<PathBuf>,

    /// The CA that signs the provider's certificate [default: the system's roots].
    #[arg(long, env = "RBAC_CONSOLE_OIDC_CA", value_name = "FILE")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_oidc_ca: Option<PathBuf>,

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
            public_url: self.public_url.or(lower.public_url),
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
            preview_max_changes: self.preview_max_changes.or(lower.preview_max_changes),
            max_request_bytes: self.max_request_bytes.or(lower.max_request_bytes),
            max_connections: self.max_connections.or(lower.max_connections),
            max_concurrent_streams: self.max_concurrent_streams.or(lower.max_concurrent_streams),
            max_inflight_request_mib: self
                .max_inflight_request_mib
                .or(lower.max_inflight_request_mib),
            max_unread_response_mib: self
                .max_unread_response_mib
                .or(lower.max_unread_response_mib),
            stalled_connection_timeout_ms: self
                .stalled_connection_timeout_ms
                .or(lower.stalled_connection_timeout_ms),
            handshake_timeout_ms: self.handshake_timeout_ms.or(lower.handshake_timeout_ms),
            http_header_timeout_ms: self.http_header_timeout_ms.or(lower.http_header_timeout_ms),
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
            actor_jwks: self.actor_jwks.or(lower.actor_jwks),
            actor_jwks_ca: self.actor_jwks_ca.or(lower.actor_jwks_ca),
            actor_jwt_issuer: self.actor_jwt_issuer.or(lower.actor_jwt_issuer),
            actor_jwt_audience: self.actor_jwt_audience.or(lower.actor_jwt_audience),
            actor_jwt_claim: self.actor_jwt_claim.or(lower.actor_jwt_claim),
            console_oidc_issuer: self.console_oidc_issuer.or(lower.console_oidc_issuer),
            console_oidc_client_id: self.console_oidc_client_id.or(lower.console_oidc_client_id),
            console_oidc_client_secret_file: self
                .console_oidc_client_secret_file
                .or(lower.console_oidc_client_secret_file),
            console_oidc_ca: self.console_oidc_ca.or(lower.console_oidc_ca),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ServeConfig;
    use crate::config::serve::tests::serve_args;

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
    fn an_unknown_key_is_refused_with_its_name() {
        let err = ServeSettings::from_toml("lissten = \"127.0.0.1:1\"\n").unwrap_err();
        assert!(err.contains("unknown field `lissten`"), "{err}");
    }

    #[test]
    fn a_bad_value_shows_its_key() {
        let err = ServeSettings::from_toml("batch_limit = \"lots\"\n").unwrap_err();
        assert!(err.contains("batch_limit"), "{err}");
    }
}
