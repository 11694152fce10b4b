//! `serve`'s configuration, in layers: a command-line flag beats its environment
//! variable, which beats the TOML file (`--config`), which beats the built-in default.
//! clap reads the first two layers into [`ServeSettings`]; the file is the same struct
//! read by serde, rejecting unknown keys; [`ServeConfig::from_settings`] fills the
//! defaults and checks the combination.

use std::fmt;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use uuid::Uuid;

use crate::identity::{ActorJwtConfig, OidcConfig};

use super::actor_jwt::{actor_jwt, console_oidc};
use super::ext_authz::RouteMap;
use super::{BearerToken, ConfigError, LogFormat, ServeSettings, TlsFiles, UpstreamConfig};

/// How many access changes a `validate_only` preview lists by default; `users_affected`
/// and `truncated` still count everything.
pub const DEFAULT_PREVIEW_MAX_CHANGES: usize = 1_000;

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
    /// Where callers reach the HTTP port, for the discovery document; None: the
    /// listener's own address and scheme.
    pub public_url: Option<String>,
    /// Most changes a preview lists.
    pub preview_max_changes: usize,
    pub max_request_bytes: usize,
    pub max_connections: usize,
    pub max_concurrent_streams: u32,
    pub max_inflight_request_mib: u64,
    /// The answers all connections may leave unread.
    pub max_unread_response_mib: u64,
    /// How long a connection's answers may wait unread (or its socket stay full).
    pub stalled_connection_timeout_ms: u64,
    pub handshake_timeout_ms: u64,
    /// The HTTP port's header deadline, from a connection's start or previous response.
    pub http_header_timeout_ms: u64,
    pub request_timeout_ms: u64,
    pub shutdown_grace_ms: u64,
    /// Some: both gRPC ports speak TLS only.
    pub tls: Option<TlsFiles>,
    /// Some: every call but health needs this bearer token.
    pub auth_token: Option<BearerToken>,
    pub log_format: LogFormat,
    pub log_filter: String,
    pub otlp_endpoint: Option<String>,
    /// Some: admin calls' actors are proven by a verified JWT.
    pub actor_jwt: Option<ActorJwtConfig>,
    /// Some: the console signs people in with this OpenID provider.
    pub console_oidc: Option<OidcConfig>,
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
            public_url: None,
            preview_max_changes: DEFAULT_PREVIEW_MAX_CHANGES,
            max_request_bytes: 4 * 1024 * 1024,
            max_connections: 10_000,
            max_concurrent_streams: 100,
            max_inflight_request_mib: 64,
            max_unread_response_mib: 64,
            stalled_connection_timeout_ms: 10_000,
            handshake_timeout_ms: 10_000,
            http_header_timeout_ms: 10_000,
            request_timeout_ms: 10_000,
            shutdown_grace_ms: 20_000,
            tls: None,
            auth_token: None,
            log_format: LogFormat::Pretty,
            log_filter: "info".to_owned(),
            otlp_endpoint: None,
            actor_jwt: None,
            console_oidc: None,
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
        let tls = TlsFiles::from_settings(&s)?;
        let auth_token = BearerToken::resolve(s.auth_token.clone(), s.auth_token_file.as_deref())?;
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
        let public_url = s.public_url.as_deref().map(public_url).transpose()?;
        if let Some(endpoint) = &s.otlp_endpoint {
            if !(endpoint.starts_with("http://") || endpoint.starts_with("https://")) {
                return Err(ConfigError::invalid(
                    "otlp_endpoint",
                    format!("must be an http:// or https:// URL, got `{endpoint}`"),
                ));
            }
        }
        // A claimed actor is plain metadata: only the token or a client certificate says
        // who may send it, so off the loopback one of them (or proven actors) must guard
        // AdminService.
        let actor_jwt = actor_jwt(&s)?;
        let insecure_admin_without_auth = s.insecure_admin_without_auth.unwrap_or(false);
        let admin_addr = admin_listen.unwrap_or(listen);
        let guarded = auth_token.is_some()
            || tls.as_ref().is_some_and(|t| t.client_ca.is_some())
            || actor_jwt.is_some();
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
            actor_jwt,
            console_oidc: console_oidc(&s)?,
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
            public_url,
            preview_max_changes: at_least_one(
                "preview_max_changes",
                s.preview_max_changes,
                defaults.preview_max_changes,
            )?,
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
            max_unread_response_mib: at_least_one(
                "max_unread_response_mib",
                s.max_unread_response_mib,
                defaults.max_unread_response_mib,
            )?,
            stalled_connection_timeout_ms: at_least_one(
                "stalled_connection_timeout_ms",
                s.stalled_connection_timeout_ms,
                defaults.stalled_connection_timeout_ms,
            )?,
            handshake_timeout_ms: at_least_one(
                "handshake_timeout_ms",
                s.handshake_timeout_ms,
                defaults.handshake_timeout_ms,
            )?,
            http_header_timeout_ms: at_least_one(
                "http_header_timeout_ms",
                s.http_header_timeout_ms,
                defaults.http_header_timeout_ms,
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
            public_url: self.public_url.clone(),
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
            preview_max_changes: Some(self.preview_max_changes),
            max_request_bytes: Some(self.max_request_bytes),
            max_connections: Some(self.max_connections),
            max_concurrent_streams: Some(self.max_concurrent_streams),
            max_inflight_request_mib: Some(self.max_inflight_request_mib),
            max_unread_response_mib: Some(self.max_unread_response_mib),
            stalled_connection_timeout_ms: Some(self.stalled_connection_timeout_ms),
            handshake_timeout_ms: Some(self.handshake_timeout_ms),
            http_header_timeout_ms: Some(self.http_header_timeout_ms),
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
            actor_jwks: self.actor_jwt.as_ref().map(|a| a.jwks.clone()),
            actor_jwks_ca: self.actor_jwt.as_ref().and_then(|a| a.jwks_ca.clone()),
            actor_jwt_issuer: self.actor_jwt.as_ref().map(|a| a.issuer.clone()),
            actor_jwt_audience: self.actor_jwt.as_ref().map(|a| a.audience.clone()),
            actor_jwt_claim: self.actor_jwt.as_ref().map(|a| a.claim.clone()),
            console_oidc_issuer: self.console_oidc.as_ref().map(|o| o.issuer.clone()),
            console_oidc_client_id: self.console_oidc.as_ref().map(|o| o.client_id.clone()),
            // Secrets are not shown.
            console_oidc_client_secret_file: None,
            console_oidc_ca: self.console_oidc.as_ref().and_then(|o| o.ca.clone()),
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

/// An http:// or https:// URL with a host and no query, without its trailing `/`.
fn public_url(value: &str) -> Result<String, ConfigError> {
    let refused = |why: &str| {
        ConfigError::invalid(
            "public_url",
            format!(
                "{why}, got `{}`; give the URL callers reach the HTTP port at, e.g. https://rbac.example.com",
                crate::model::shown(value)
            ),
        )
    };
    let uri: http::Uri = value.parse().map_err(|_| refused("is not a URL"))?;
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return Err(refused("must start with http:// or https://"));
    }
    if uri.host().is_none_or(str::is_empty) {
        return Err(refused("names no host"));
    }
    if uri.query().is_some() {
        return Err(refused("must have no query"));
    }
    Ok(value.trim_end_matches('/').to_owned())
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

    /// Why `rbac-sidecar serve ARGS` is refused.
    pub(in crate::config) fn refusal(args: &[&str]) -> String {
        ServeConfig::from_settings(serve_args(args).settings)
            .unwrap_err()
            .to_string()
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
    fn zero_limits_are_refused() {
        for key in [
            "batch_limit",
            "max_request_bytes",
            "request_timeout_ms",
            "poll_interval_ms",
            "http_header_timeout_ms",
            "preview_max_changes",
            "max_unread_response_mib",
            "stalled_connection_timeout_ms",
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
        for flag in ["--admin-listen", "--metrics-listen"] {
            let err = refusal(&[flag, "127.0.0.1:50051"]);
            assert!(err.contains("127.0.0.1:50051"), "{err}");
        }
    }

    #[test]
    fn a_public_url_is_an_http_url() {
        let config = ServeConfig::from_settings(
            serve_args(&["--public-url", "https://rbac.example.com/authz/"]).settings,
        )
        .unwrap();
        assert_eq!(
            config.public_url.as_deref(),
            Some("https://rbac.example.com/authz")
        );
        for bad in [
            "rbac.example.com",
            "ftp://rbac.example.com",
            "https://h/?x=1",
            "http://",
        ] {
            let err = refusal(&["--public-url", bad]);
            assert!(
                err.starts_with("`public_url` (--public-url)"),
                "{bad}: {err}"
            );
        }
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
