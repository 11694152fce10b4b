//! Wiring: store, cache and follower, use-cases, gRPC routers, TLS, the bearer token,
//! telemetry, and the drain on shutdown. Used by `main` and by the integration tests,
//! so both run the same server.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_rustls::TlsAcceptor;

use crate::admin::{Admin, AdminError};
use crate::api::authzen::AuthzenState;
use crate::api::{self, AdminBackend, Routers, Services, TierClient, Transport, UpstreamError};
use crate::cache::{AccessCache, CacheConfig, FollowConfig, Upstream};
use crate::config::{ServeConfig, TlsFiles, UpstreamConfig};
use crate::console::Console;
use crate::data_plane::Checker;
use crate::identity::{ActorVerifier, KeySetError, OidcError, OidcSignIn};
use crate::store::{Store, StoreError};
use crate::telemetry::{self, EndpointState, Metrics, RpcTelemetryLayer};

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error("cannot load the state from the database tier: {0}")]
    TierState(StoreError),
    #[error("{0}")]
    Catalogue(String),
    #[error("cannot bootstrap the administrator: {0}")]
    Bootstrap(#[from] AdminError),
    #[error(transparent)]
    Router(#[from] api::RouterError),
    #[error("cannot listen on `{addr}`: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("the TLS certificate, key or client CA cannot be used: {0}")]
    Tls(String),
    #[error(transparent)]
    ActorKeys(#[from] KeySetError),
    #[error("AdminService is served apart (`admin_listen`) but no admin listener was given")]
    NoAdminListener,
    #[error(
        "the database already has {0} tenants; a synthetic world would be mixed into it. Point --database-url at an empty database, or pass --into-non-empty"
    )]
    DatasetIntoNonEmpty(usize),
    #[error("gRPC transport failed: {0}")]
    Transport(#[from] tonic::transport::Error),
    #[error("the metrics endpoint failed: {0}")]
    Metrics(std::io::Error),
    #[error("the AuthZEN HTTP endpoint failed: {0}")]
    Http(std::io::Error),
    #[error("the console's identity provider: {0}")]
    Oidc(#[from] OidcError),
    #[error("calls were still in flight {} ms after the shutdown signal; stopped anyway", .0.as_millis())]
    DrainTimeout(Duration),
}

/// A started server's parts, for callers that want them in process (tests, tools).
pub struct Server {
    pub checker: Arc<Checker>,
    pub admin: Arc<Admin>,
    pub store: Arc<Store>,
    pub cache: Arc<AccessCache>,
    pub metrics: Arc<Metrics>,
    pub serving: Serving,
}

/// A started server's routes and how they are served, whichever way its cache is fed:
/// by its own database ([`Server`]) or by the database tier ([`Serving::fed`]).
pub struct Serving {
    routers: Routers,
    authzen: AuthzenState,
    /// Some: the HTTP port serves TLS.
    https: Option<tokio_rustls::TlsAcceptor>,
    http_limits: api::http_port::HttpLimits,
    /// Some: this replica has a database, and serves the console on the HTTP port.
    console: Option<Console>,
    /// Whom the one-time sign-in link printed at start signs in (the bootstrap
    /// administrator), when the HTTP port is on loopback.
    console_link_for: Option<uuid::Uuid>,
    transport: Transport,
    metrics: Arc<Metrics>,
    cache: Arc<AccessCache>,
    shutdown_grace: Duration,
    /// Ends the change feeds this replica serves, when it starts to drain.
    stop_feeds: watch::Sender<bool>,
    stop_following: watch::Sender<bool>,
}

/// The sockets a server serves on: gRPC, and when configured AdminService apart and
/// the metrics endpoint.
pub struct Listeners {
    pub grpc: TcpListener,
    pub admin: Option<TcpListener>,
    pub metrics: Option<TcpListener>,
    /// AuthZEN over HTTP.
    pub http: Option<TcpListener>,
}

impl From<TcpListener> for Listeners {
    /// gRPC only.
    fn from(grpc: TcpListener) -> Self {
        Listeners {
            grpc,
            admin: None,
            metrics: None,
            http: None,
        }
    }
}

fn cache_config(config: &ServeConfig, metrics: &Metrics) -> CacheConfig {
    CacheConfig {
        max_bytes: config.cache_max_mib.saturating_mul(1024 * 1024),
        counters: metrics.cache(),
        ..CacheConfig::default()
    }
}

impl Server {
    /// Reads the TLS files, opens the store (running migrations), loads the cache,
    /// starts the follower and bootstraps the administrator if asked.
    pub async fn start(config: &ServeConfig) -> Result<Server, ServeError> {
        crate::model::permissions::check().map_err(ServeError::Catalogue)?;
        let tls = config
            .tls
            .as_ref()
            .map(|files| tls_acceptor(files, b"h2"))
            .transpose()?;
        let metrics = Arc::new(Metrics::new());
        let store = Arc::new(
            Store::open_with_pool(&config.database_url, config.database_max_connections).await?,
        );
        let cache = AccessCache::load(Arc::clone(&store), &cache_config(config, &metrics)).await?;
        let (stop_following, stopped) = watch::channel(false);
        let follow = FollowConfig {
            poll_interval: config.poll_interval(),
            retention: config.change_log_retention(),
        };
        tokio::spawn(Arc::clone(&cache).follow_change_log(follow, stopped));
        let admin = Arc::new(
            Admin::new(Arc::clone(&store), Arc::clone(&cache))
                .with_preview_limit(config.preview_max_changes),
        );
        if let Some(object_id) = config.bootstrap_admin_object_id {
            if let Some(user) = admin.bootstrap(object_id).await? {
                tracing::info!(user_id = %user.id, tenant_id = %user.tenant_id, "bootstrap administrator created");
            }
        }
        let backend = AdminBackend::Local(Arc::clone(&admin));
        let (checker, serving) =
            Serving::new(config, tls, metrics, cache, backend, stop_following).await?;
        Ok(Server {
            checker,
            admin,
            store,
            cache: Arc::clone(&serving.cache),
            metrics: Arc::clone(&serving.metrics),
            serving,
        })
    }
}

impl Serving {
    /// A sidecar without a database, fed by the database tier (`--upstream`): reads the
    /// TLS files, loads the tier's state, and follows its feed.
    pub async fn fed(
        config: &ServeConfig,
        upstream: &UpstreamConfig,
    ) -> Result<Serving, ServeError> {
        let tls = config
            .tls
            .as_ref()
            .map(|files| tls_acceptor(files, b"h2"))
            .transpose()?;
        let metrics = Arc::new(Metrics::new());
        let tier = Arc::new(TierClient::connect(upstream)?);
        let state = tier.state().await.map_err(ServeError::TierState)?;
        let source: Arc<dyn Upstream> = Arc::clone(&tier) as _;
        let cache = AccessCache::fed(source, state, &cache_config(config, &metrics));
        let (stop_following, stopped) = watch::channel(false);
        tokio::spawn(Arc::clone(&tier).follow_feed(Arc::clone(&cache), stopped));
        let backend = AdminBackend::Tier(tier);
        let (_, serving) =
            Serving::new(config, tls, metrics, cache, backend, stop_following).await?;
        Ok(serving)
    }

    /// The checker, the routes and how they are served.
    async fn new(
        config: &ServeConfig,
        tls: Option<TlsAcceptor>,
        metrics: Arc<Metrics>,
        cache: Arc<AccessCache>,
        admin: AdminBackend,
        stop_following: watch::Sender<bool>,
    ) -> Result<(Arc<Checker>, Serving), ServeError> {
        let checker = Arc::new(
            Checker::new(Arc::clone(&cache), config.min_revision_wait())
                .with_counters(metrics.checks()),
        );
        let (stop_feeds, stopping) = watch::channel(false);
        let actor_tokens = match &config.actor_jwt {
            Some(actor_jwt) => Some(Arc::new(ActorVerifier::start(actor_jwt).await?)),
            None => None,
        };
        let console = match &admin {
            AdminBackend::Local(admin) => {
                let oidc = match &config.console_oidc {
                    Some(oidc) => Some(Arc::new(OidcSignIn::discover(oidc).await?)),
                    None => None,
                };
                Some(Console::new(
                    Arc::clone(admin),
                    actor_tokens.clone(),
                    oidc,
                    config.tls.is_some(),
                ))
            }
            AdminBackend::Tier(_) => None,
        };
        let routers = api::routers(
            Services {
                checker: Arc::clone(&checker),
                admin,
                batch_limit: config.batch_limit,
                max_request_bytes: config.max_request_bytes,
                stopping,
                ext_authz: config.ext_authz.clone().unwrap_or_default(),
                ext_authz_counters: metrics.ext_authz(),
                actor_tokens,
                callers_authenticated: config.auth_token.is_some()
                    || config.tls.as_ref().is_some_and(|t| t.client_ca.is_some()),
            },
            config.admin_listen.is_some(),
        )
        .await?;
        let transport = Transport {
            tls,
            auth_token: config.auth_token.clone(),
            request_timeout: config.request_timeout(),
            telemetry: RpcTelemetryLayer::new(
                Arc::clone(&metrics),
                &api::pb::SERVED_DESCRIPTOR_SETS,
            ),
            connections: api::ConnectionLimits {
                max_connections: config.max_connections,
                handshake_timeout: Duration::from_millis(config.handshake_timeout_ms),
            },
            max_concurrent_streams: config.max_concurrent_streams,
            request_bytes: api::RequestBytesLayer::new(config.max_inflight_request_mib),
            stalls: api::StallWatch::new(
                config.max_unread_response_mib,
                Duration::from_millis(config.stalled_connection_timeout_ms),
            ),
        };
        let https = match (&config.tls, config.http_listen) {
            (Some(files), Some(_)) => Some(tls_acceptor(files, b"http/1.1")?),
            _ => None,
        };
        let authzen = AuthzenState {
            checker: Arc::clone(&checker),
            auth_token: config.auth_token.clone(),
            scheme: if https.is_some() { "https" } else { "http" },
            public_url: config.public_url.clone(),
            batch_limit: config.batch_limit,
            max_body: config.max_request_bytes,
            request_timeout: config.request_timeout(),
        };
        let http_limits = api::http_port::HttpLimits {
            max_connections: config.max_connections,
            handshake_timeout: Duration::from_millis(config.handshake_timeout_ms),
            header_timeout: Duration::from_millis(config.http_header_timeout_ms),
        };
        let serving = Serving {
            routers,
            authzen,
            https,
            http_limits,
            console,
            console_link_for: config.bootstrap_admin_object_id,
            transport,
            metrics,
            cache,
            shutdown_grace: config.shutdown_grace(),
            stop_feeds,
            stop_following,
        };
        Ok((checker, serving))
    }

    /// Serves until `shutdown` resolves. Then every listener closes (new connections are
    /// refused), the change feeds it serves end, in-flight calls finish while the follower
    /// still applies the change log (a call waiting for a revision can get it), and the
    /// follower stops. Calls still running after the grace period are abandoned:
    /// [`ServeError::DrainTimeout`].
    pub async fn serve(
        self,
        listeners: impl Into<Listeners>,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let listeners = listeners.into();
        if self.routers.admin.is_some() && listeners.admin.is_none() {
            return Err(ServeError::NoAdminListener);
        }
        let (draining_tx, draining) = watch::channel(false);
        let stop_feeds = self.stop_feeds;
        let signal = tokio::spawn(async move {
            shutdown.await;
            tracing::info!("shutting down: refusing new calls, draining in-flight ones");
            let _ = draining_tx.send(true);
            let _ = stop_feeds.send(true);
        });
        let (drained_tx, drained) = watch::channel(false);

        let transport = &self.transport;
        let main = api::serve(
            self.routers.main,
            listeners.grpc,
            transport,
            turned_true(draining.clone()),
        );
        let admin = async {
            match (self.routers.admin, listeners.admin) {
                (Some(routes), Some(listener)) => {
                    api::serve(routes, listener, transport, turned_true(draining.clone())).await
                }
                _ => Ok(()),
            }
        };
        let grace = self.shutdown_grace;
        let grpc = async {
            let result = tokio::select! {
                served = async { tokio::try_join!(main, admin) } => served.map(|_| ()).map_err(ServeError::from),
                () = async {
                    turned_true(draining.clone()).await;
                    tokio::time::sleep(grace).await;
                } => Err(ServeError::DrainTimeout(grace)),
            };
            let _ = drained_tx.send(true);
            result
        };
        let endpoint = async {
            let Some(listener) = listeners.metrics else {
                return Ok(());
            };
            let state = EndpointState {
                metrics: Arc::clone(&self.metrics),
                cache: Arc::clone(&self.cache),
                draining: draining.clone(),
            };
            telemetry::serve_endpoint(listener, state, turned_true(drained.clone()))
                .await
                .map_err(ServeError::Metrics)
        };
        let http = async {
            let Some(listener) = listeners.http else {
                return Ok(());
            };
            let local = listener.local_addr().map_err(ServeError::Http)?;
            let mut router = api::authzen::router(self.authzen.clone(), local);
            match &self.console {
                None => router = router.merge(crate::console::elsewhere()),
                Some(console) => {
                    let scheme = if self.https.is_some() {
                        "https"
                    } else {
                        "http"
                    };
                    let base = (self.authzen.public_url.clone())
                        .unwrap_or_else(|| format!("{scheme}://{local}"));
                    router = router.merge(crate::console::router(
                        console.clone(),
                        &base,
                        self.authzen.max_body,
                        self.authzen.request_timeout,
                    ));
                    if let (Some(object_id), true) =
                        (self.console_link_for, local.ip().is_loopback())
                    {
                        let link = console.sessions().link_for(object_id);
                        // On stdout, for the person who started the server: not a log line.
                        println!(
                            "Console: open {scheme}://{local}{link} to sign in as the bootstrap administrator (the link works once; restart for another)."
                        );
                    }
                }
            }
            let stop = turned_true(draining.clone());
            api::http_port::serve(
                listener,
                self.https.clone(),
                router,
                self.http_limits.clone(),
                stop,
            )
            .await;
            Ok(())
        };
        let (grpc, endpoint, http) = tokio::join!(grpc, endpoint, http);
        signal.abort();
        let _ = self.stop_following.send(true);
        tracing::info!("drained; change-log follower stopped");
        grpc.and(endpoint).and(http)
    }
}

/// Resolves once the flag turns true (or its sender is gone).
async fn turned_true(mut flag: watch::Receiver<bool>) {
    let _ = flag.wait_for(|set| *set).await;
}

/// TLS over the `--tls-*` files for a port speaking `protocol` (ALPN): `h2` on the gRPC
/// ports, `http/1.1` on the HTTP port.
fn tls_acceptor(files: &TlsFiles, protocol: &[u8]) -> Result<TlsAcceptor, ServeError> {
    api::https::acceptor(files, protocol).map_err(|e| ServeError::Tls(e.to_string()))
}

/// Binds the configured gRPC address.
pub async fn bind(config: &ServeConfig) -> Result<TcpListener, ServeError> {
    bind_addr(config.listen).await
}

/// Binds every configured address: gRPC, AdminService apart, metrics.
pub async fn bind_all(config: &ServeConfig) -> Result<Listeners, ServeError> {
    Ok(Listeners {
        grpc: bind_addr(config.listen).await?,
        admin: match config.admin_listen {
            Some(addr) => Some(bind_addr(addr).await?),
            None => None,
        },
        metrics: match config.metrics_listen {
            Some(addr) => Some(bind_addr(addr).await?),
            None => None,
        },
        http: match config.http_listen {
            Some(addr) => Some(bind_addr(addr).await?),
            None => None,
        },
    })
}

async fn bind_addr(addr: SocketAddr) -> Result<TcpListener, ServeError> {
    TcpListener::bind(addr)
        .await
        .map_err(|source| ServeError::Listen { addr, source })
}
