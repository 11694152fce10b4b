//! Wiring: store, cache and follower, use-cases, gRPC router. Used by `main` and by the
//! integration tests, so both run the same server.

use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::sync::watch;

use crate::admin::{Admin, AdminError};
use crate::api::{self, Services};
use crate::cache::{AccessCache, CacheConfig, FollowConfig};
use crate::check::Checker;
use crate::config::ServeConfig;
use crate::store::{Store, StoreError};

/// Why the server could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("cannot open the database: {0}")]
    Store(#[from] StoreError),
    #[error("cannot bootstrap the administrator: {0}")]
    Bootstrap(#[from] AdminError),
    #[error(transparent)]
    Router(#[from] api::RouterError),
    #[error("cannot listen on `{addr}`: {source}")]
    Listen {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    #[error("gRPC transport failed: {0}")]
    Transport(#[from] tonic::transport::Error),
}

/// A started server's parts, for callers that want them in process (tests, tools).
pub struct Server {
    pub checker: Arc<Checker>,
    pub admin: Arc<Admin>,
    pub cache: Arc<AccessCache>,
    routes: tonic::service::Routes,
    stop_following: watch::Sender<bool>,
}

impl Server {
    /// Opens the store (running migrations), loads the cache, starts the follower and
    /// bootstraps the administrator if asked.
    pub async fn start(config: &ServeConfig) -> Result<Server, ServeError> {
        let store = Arc::new(Store::open(&config.database_url).await?);
        let cache_config = CacheConfig {
            max_bytes: config.cache_max_mib.saturating_mul(1024 * 1024),
            ..CacheConfig::default()
        };
        let cache = AccessCache::load(store, &cache_config).await?;
        let (stop_following, stopped) = watch::channel(false);
        let follow = FollowConfig {
            poll_interval: config.poll_interval(),
            retention: config.change_log_retention(),
        };
        tokio::spawn(Arc::clone(&cache).follow(follow, stopped));
        let admin = Arc::new(Admin::new(Arc::clone(&cache)));
        if let Some(object_id) = config.bootstrap_admin_object_id {
            if let Some(user) = admin.bootstrap(object_id).await? {
                tracing::info!(user_id = %user.id, tenant_id = %user.tenant_id, "bootstrap administrator created");
            }
        }
        let checker = Arc::new(Checker::new(Arc::clone(&cache), config.min_revision_wait()));
        let routes = api::router(Services {
            checker: Arc::clone(&checker),
            admin: Arc::clone(&admin),
            batch_limit: config.batch_limit,
        })
        .await?;
        Ok(Server {
            checker,
            admin,
            cache,
            routes,
            stop_following,
        })
    }

    /// Serves gRPC on the listener until `shutdown` resolves, then stops the follower.
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ServeError> {
        let result = api::serve(self.routes, listener, shutdown).await;
        let _ = self.stop_following.send(true);
        Ok(result?)
    }
}

/// Binds the configured address.
pub async fn bind(config: &ServeConfig) -> Result<TcpListener, ServeError> {
    TcpListener::bind(config.listen)
        .await
        .map_err(|source| ServeError::Listen {
            addr: config.listen,
            source,
        })
}
