//! The database tier, seen from a sidecar without a database (`serve --upstream URL`):
//! one HTTP/2 channel, over which the sidecar loads its starting state and users' access,
//! follows the change feed, asks for the newest revision, and forwards AdminService.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::sync::watch;
use tonic::body::Body;
use tonic::server::NamedService;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint};
use tonic::{Request, Status};

use super::admin::{ACTOR_OBJECT_ID, ACTOR_TOKEN, ACTOR_USER_ID};
use super::feed_messages;
use super::pb::rbac::v1 as pb;
use super::replication::HEARTBEAT;
use crate::cache::{AccessCache, FedState, Pending, Subject, Upstream};
use crate::config::UpstreamConfig;
use crate::engine::EffectiveAccess;
use crate::store::StoreError;

use pb::authorization_service_client::AuthorizationServiceClient;
use pb::replication_service_client::ReplicationServiceClient;

/// A unary call to the tier that takes longer than this fails (the sidecar answers
/// UNAVAILABLE rather than hold its caller).
const CALL_TIMEOUT: Duration = Duration::from_secs(5);
/// The largest message the tier may send (a page of state, a user with many assignments).
const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;
/// How long a sidecar waits before following the feed again, doubling while it fails.
const RETRY_FIRST: Duration = Duration::from_millis(250);
const RETRY_MOST: Duration = Duration::from_secs(2);

/// Why the tier's channel cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error(
        "`upstream` must be an http:// or https:// URL such as http://rbac-tier:50051, got `{url}`: {reason}"
    )]
    Url { url: String, reason: String },
    #[error("cannot read the upstream CA `{path}`: {source}")]
    Ca {
        path: String,
        source: std::io::Error,
    },
}

/// The channel to the database tier and how calls on it are authorized.
pub struct TierClient {
    url: String,
    channel: Channel,
    /// `Bearer <token>` when the tier wants one.
    authorization: Option<String>,
}

/// Why a feed stopped: the tier cannot say what changed (reload the state), or the
/// connection was lost (watch again once it is back).
enum Stopped {
    Resync,
    Lost(String),
}

impl TierClient {
    /// Sets the channel up; it connects on first use and reconnects by itself.
    pub fn connect(config: &UpstreamConfig) -> Result<TierClient, UpstreamError> {
        let url = config.url.clone();
        let bad = |reason: String| UpstreamError::Url {
            url: url.clone(),
            reason,
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(bad("no scheme".into()));
        }
        let mut endpoint = Endpoint::from_shared(url.clone())
            .map_err(|e| bad(e.to_string()))?
            .connect_timeout(CALL_TIMEOUT)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(Duration::from_secs(10))
            .keep_alive_timeout(Duration::from_secs(5))
            .keep_alive_while_idle(true);
        if url.starts_with("https://") {
            let mut tls = ClientTlsConfig::new().with_native_roots();
            if let Some(ca) = &config.ca {
                let pem = std::fs::read(ca).map_err(|source| UpstreamError::Ca {
                    path: ca.display().to_string(),
                    source,
                })?;
                tls = tls.ca_certificate(Certificate::from_pem(pem));
            }
            endpoint = endpoint.tls_config(tls).map_err(|e| bad(e.to_string()))?;
        }
        Ok(TierClient {
            url: config.url.clone(),
            channel: endpoint.connect_lazy(),
            authorization: config
                .token
                .as_ref()
                .map(|t| format!("Bearer {}", t.expose())),
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    fn request<T>(&self, message: T, timeout: Option<Duration>) -> Request<T> {
        let mut request = Request::new(message);
        if let Some(timeout) = timeout {
            request.set_timeout(timeout);
        }
        if let Some(value) = self.authorization.as_deref().and_then(|a| a.parse().ok()) {
            request.metadata_mut().insert("authorization", value);
        }
        request
    }

    fn lost(&self, status: &Status) -> StoreError {
        StoreError::Upstream(format!(
            "the database tier at {} answered {:?}: {}",
            self.url,
            status.code(),
            status.message()
        ))
    }

    fn replication(&self) -> ReplicationServiceClient<Channel> {
        ReplicationServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
    }

    /// The tier's tenant tree and resource owners, all pages of one revision.
    pub async fn state(&self) -> Result<FedState, StoreError> {
        let mut pages = self
            .replication()
            .get_state(self.request(pb::GetStateRequest {}, None))
            .await
            .map_err(|s| self.lost(&s))?
            .into_inner();
        let mut state = FedState::default();
        while let Some(page) = pages.message().await.map_err(|s| self.lost(&s))? {
            state.revision = page.revision;
            let tenants: Result<Vec<_>, Status> =
                page.tenants.iter().map(feed_messages::tenant).collect();
            state.tenants.extend(tenants.map_err(|s| self.lost(&s))?);
            let owners = feed_messages::owners(&page.resources).map_err(|s| self.lost(&s))?;
            state.resources.extend(owners);
        }
        Ok(state)
    }

    /// Follows the tier's feed into `cache` until `shutdown` turns true: reloads the
    /// state when the feed says it has a gap, and watches again after a loss (from the
    /// applied revision, so nothing is missed; the tier says so when it cannot serve it).
    pub async fn follow_feed(
        self: Arc<Self>,
        cache: Arc<AccessCache>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut backoff = RETRY_FIRST;
        loop {
            let stopped = tokio::select! {
                stopped = self.watch(&cache) => stopped,
                _ = shutdown.wait_for(|stop| *stop) => return,
            };
            let retry = match stopped {
                Stopped::Resync => match self.state().await {
                    Ok(state) => cache.reset(state).await.err(),
                    Err(err) => Some(err),
                },
                Stopped::Lost(why) => Some(StoreError::Upstream(why)),
            };
            let Some(err) = retry else {
                backoff = RETRY_FIRST;
                continue;
            };
            cache.mark_disconnected();
            tracing::debug!(error = %err, ?backoff, "the tier's feed is not followed; retrying");
            tokio::select! {
                () = tokio::time::sleep(backoff) => {}
                _ = shutdown.wait_for(|stop| *stop) => return,
            }
            backoff = (backoff * 2).min(RETRY_MOST);
        }
    }

    /// Applies the feed from the applied revision until it stops.
    async fn watch(&self, cache: &AccessCache) -> Stopped {
        let after_revision = cache.applied_revision();
        let request = pb::WatchChangesRequest {
            after_revision: Some(after_revision),
        };
        let request = self.request(request, None);
        let mut messages = match self.replication().watch_changes(request).await {
            Ok(response) => response.into_inner(),
            Err(status) => return Stopped::Lost(self.lost(&status).to_string()),
        };
        loop {
            let message = match tokio::time::timeout(HEARTBEAT * 3, messages.message()).await {
                Err(_) => {
                    return Stopped::Lost(format!(
                        "no word from {} within {:?}",
                        self.url,
                        HEARTBEAT * 3
                    ));
                }
                Ok(Err(status)) => return Stopped::Lost(self.lost(&status).to_string()),
                Ok(Ok(None)) => return Stopped::Lost(format!("{} ended the feed", self.url)),
                Ok(Ok(Some(message))) => message,
            };
            if message.resync {
                return Stopped::Resync;
            }
            let applied = match feed_messages::batch(&message) {
                Ok(batch) => cache.apply_fed(batch).await,
                Err(status) => Err(self.lost(&status)),
            };
            if let Err(err) = applied {
                tracing::warn!(error = %err, "a batch of the feed cannot be applied; reloading the state");
                return Stopped::Resync;
            }
        }
    }

    /// Forwards a data-plane call the sidecar cannot answer alone (names it has no copy
    /// of): GetEffectiveAccess.
    pub async fn effective_access(
        &self,
        request: pb::GetEffectiveAccessRequest,
    ) -> Result<pb::GetEffectiveAccessResponse, Status> {
        AuthorizationServiceClient::new(self.channel.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .get_effective_access(self.request(request, Some(CALL_TIMEOUT)))
            .await
            .map(tonic::Response::into_inner)
    }
}

impl Upstream for TierClient {
    fn load_access(
        &self,
        subject: Subject,
        min_revision: u64,
    ) -> Pending<'_, (Option<EffectiveAccess>, u64)> {
        Box::pin(async move {
            let request = pb::LoadAccessRequest {
                subject: Some(feed_messages::subject_to_pb(subject)),
                min_revision,
            };
            let response = self
                .replication()
                .load_access(self.request(request, Some(CALL_TIMEOUT)))
                .await
                .map_err(|s| self.lost(&s))?
                .into_inner();
            let access = response
                .access
                .as_ref()
                .map(feed_messages::access)
                .transpose();
            Ok((access.map_err(|s| self.lost(&s))?, response.revision))
        })
    }

    fn newest_revision(&self) -> Pending<'_, u64> {
        Box::pin(async move {
            let status = AuthorizationServiceClient::new(self.channel.clone())
                .get_replica_status(
                    self.request(pb::GetReplicaStatusRequest {}, Some(CALL_TIMEOUT)),
                )
                .await
                .map_err(|s| self.lost(&s))?
                .into_inner();
            if !status.database_reachable {
                return Err(StoreError::Upstream(format!(
                    "the database tier at {} cannot reach its database",
                    self.url
                )));
            }
            Ok(status.latest_revision)
        })
    }
}

/// AdminService on a sidecar: every call goes to the tier as it came, with the tier's
/// token in place of the caller's (the sidecar checked the caller's own, which never
/// leaves it), and the caller's `x-actor-token` untouched for the tier to verify. The
/// tier's credential is lent only to a caller who presented this sidecar's own, or who
/// carries an actor token; for the latter the claimed actor headers are dropped, so the
/// call stands on the token alone. The answer returns once the feed has brought this
/// sidecar to the newest revision, so a check right after a write through it sees it.
#[derive(Clone)]
pub struct AdminForward {
    tier: Arc<TierClient>,
    cache: Arc<AccessCache>,
    /// This sidecar requires a credential (its bearer token, a client certificate) of
    /// every caller.
    callers_authenticated: bool,
}

impl AdminForward {
    pub fn new(
        tier: Arc<TierClient>,
        cache: Arc<AccessCache>,
        callers_authenticated: bool,
    ) -> Self {
        AdminForward {
            tier,
            cache,
            callers_authenticated,
        }
    }

    /// Why this call may not borrow the tier's credential, if it may not; otherwise the
    /// headers are made what the tier may see. SubmitAccessRequest names no actor, so it
    /// goes on as it would to the tier directly.
    fn refusal(&self, path: &str, headers: &mut http::HeaderMap) -> Option<Status> {
        const NO_ACTOR: &str = "/rbac.v1.AdminService/SubmitAccessRequest";
        if !self.callers_authenticated {
            if !headers.contains_key(ACTOR_TOKEN) && path != NO_ACTOR {
                return Some(Status::unauthenticated(format!(
                    "this sidecar forwards AdminService to the database tier only for callers that present its bearer token or a signed-in user's JWT in `{ACTOR_TOKEN}`; a claimed actor header alone is not enough"
                )));
            }
            headers.remove(ACTOR_OBJECT_ID);
            headers.remove(ACTOR_USER_ID);
        }
        headers.remove(http::header::AUTHORIZATION);
        if let Some(value) = self
            .tier
            .authorization
            .as_deref()
            .and_then(|a| a.parse().ok())
        {
            headers.insert(http::header::AUTHORIZATION, value);
        }
        None
    }
}

impl NamedService for AdminForward {
    const NAME: &'static str = "rbac.v1.AdminService";
}

impl tower::Service<http::Request<Body>> for AdminForward {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: http::Request<Body>) -> Self::Future {
        let path = request.uri().path().to_owned();
        if let Some(refused) = self.refusal(&path, request.headers_mut()) {
            return Box::pin(std::future::ready(Ok(refused.into_http())));
        }
        let (tier, cache) = (Arc::clone(&self.tier), Arc::clone(&self.cache));
        Box::pin(async move {
            let mut channel = tier.channel.clone();
            let forwarded = async {
                std::future::poll_fn(|cx| tower::Service::poll_ready(&mut channel, cx)).await?;
                tower::Service::call(&mut channel, request).await
            };
            match forwarded.await {
                Ok(response) => {
                    // The tier answers after its commit: catch up to it (within a bound;
                    // a lagging feed still lets `min_revision` say what was written).
                    let _ = cache.catch_up().await;
                    Ok(response)
                }
                Err(err) => Ok(Status::unavailable(format!(
                    "this sidecar forwards AdminService to the database tier at {}, which cannot be reached: {err}",
                    tier.url
                ))
                .into_http()),
            }
        })
    }
}
