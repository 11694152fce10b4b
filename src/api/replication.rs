//! `rbac.v1.ReplicationService`: the change feed and what a replica without a database
//! starts from and loads users by. Every replica serves it from its applied state.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, watch};
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Request, Response, Status};

use super::pb::rbac::v1 as pb;
use super::status::from_check;
use super::{convert, feed_messages};
use crate::cache::RevisionNotReached;
use crate::data_plane::{CheckError, Checker};

/// How often a quiet feed says it is alive.
pub const HEARTBEAT: Duration = Duration::from_secs(2);
/// Tenants, and resources, per page of GetState.
const PAGE: usize = 5_000;

type Streamed<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// The answer of a streaming call: what a spawned task sends into `rx`, as it sends it.
fn streamed<T: Send + 'static>(rx: mpsc::Receiver<Result<T, Status>>) -> Response<Streamed<T>> {
    Response::new(Box::pin(ReceiverStream::new(rx)))
}

/// The feed over a [`Checker`]'s cache. Streams end when `stopping` turns true, so that
/// a draining replica's followers move to another.
pub struct ReplicationApi {
    checker: Arc<Checker>,
    stopping: watch::Receiver<bool>,
}

impl ReplicationApi {
    pub fn new(checker: Arc<Checker>, stopping: watch::Receiver<bool>) -> Self {
        ReplicationApi { checker, stopping }
    }
}

/// Who may call ReplicationService at all: its data is everyone's access. Closed (every
/// call refused) where nothing says who the caller is and it must not be open: a sidecar,
/// which would answer with its tier's credential, or a server proving its actors, with no
/// service credential configured. Where one is, the bearer layer or mutual TLS checked it.
#[derive(Clone, Copy)]
pub struct ReplicationGate {
    pub open: bool,
}

impl tonic::service::Interceptor for ReplicationGate {
    fn call(&mut self, request: Request<()>) -> Result<Request<()>, Status> {
        if self.open {
            return Ok(request);
        }
        Err(Status::unauthenticated(
            "ReplicationService is served only to holders of this server's service credential, and none is configured: set --auth-token-file (or --tls-client-ca) here and give the same token to its followers (--upstream-token-file)",
        ))
    }
}

#[tonic::async_trait]
impl pb::replication_service_server::ReplicationService for ReplicationApi {
    type WatchChangesStream = Streamed<pb::WatchChangesResponse>;
    type GetStateStream = Streamed<pb::GetStateResponse>;

    async fn watch_changes(
        &self,
        request: Request<pb::WatchChangesRequest>,
    ) -> Result<Response<Self::WatchChangesStream>, Status> {
        let cache = Arc::clone(self.checker.cache());
        let mut applied = cache.subscribe();
        let mut after = match request.into_inner().after_revision {
            None => *applied.borrow(),
            Some(after) => after,
        };
        // A revision no write has made would come back as the feed's revision, and a
        // follower would take it as applied: refused, as CheckAccess refuses it.
        if after > cache.applied_revision() {
            let newest = cache.newest_revision().await.map_err(|e| {
                tracing::warn!(error = %e, "cannot read the newest revision for a feed");
                Status::unavailable(format!(
                    "cannot tell whether revision {after} has been written; retry, or follow another replica"
                ))
            })?;
            if after > newest {
                let unwritten = RevisionNotReached::Unwritten {
                    wanted: after,
                    newest,
                };
                return Err(from_check(&CheckError::RevisionNotReached(unwritten)));
            }
        }
        let mut stopping = self.stopping.clone();
        let (tx, rx) = mpsc::channel(8);
        tokio::spawn(async move {
            loop {
                applied.borrow_and_update();
                let message = if !cache.is_connected() {
                    // Heartbeats from here would vouch for a state that may be stale.
                    Err(Status::unavailable(
                        "this replica has lost what it follows (its database, or its tier); follow another",
                    ))
                } else if let Some(batch) = cache.feed_after(after) {
                    after = batch.revision;
                    Ok(feed_messages::batch_to_pb(&batch))
                } else {
                    Ok(pb::WatchChangesResponse {
                        revision: cache.applied_revision(),
                        resync: true,
                        ..pb::WatchChangesResponse::default()
                    })
                };
                let last = message.as_ref().map_or(true, |m| m.resync);
                tokio::select! {
                    sent = tx.send(message) => if sent.is_err() || last { return },
                    _ = stopping.wait_for(|stop| *stop) => return,
                }
                tokio::select! {
                    _ = applied.changed() => {}
                    () = tokio::time::sleep(HEARTBEAT) => {}
                    _ = stopping.wait_for(|stop| *stop) => return,
                    () = tx.closed() => return,
                }
            }
        });
        Ok(streamed(rx))
    }

    async fn get_state(
        &self,
        _request: Request<pb::GetStateRequest>,
    ) -> Result<Response<Self::GetStateStream>, Status> {
        // Pages are made as the caller reads them, from one snapshot: many followers
        // reloading at once hold a page each, not the whole state each.
        let state = self.checker.cache().applied();
        let (tx, rx) = mpsc::channel(2);
        tokio::spawn(async move {
            let mut tenants = state
                .tenants
                .nodes()
                .map(|node| feed_messages::tenant_to_pb(&node.to_row()));
            let mut resources = state
                .resources
                .iter()
                .map(|(r, owner)| feed_messages::owner_to_pb(r, *owner));
            loop {
                let page = pb::GetStateResponse {
                    revision: state.revision,
                    tenants: tenants.by_ref().take(PAGE).collect(),
                    resources: resources.by_ref().take(PAGE).collect(),
                };
                let last = page.tenants.len() < PAGE && page.resources.len() < PAGE;
                if tx.send(Ok(page)).await.is_err() || last {
                    return;
                }
            }
        });
        Ok(streamed(rx))
    }

    async fn load_access(
        &self,
        request: Request<pb::LoadAccessRequest>,
    ) -> Result<Response<pb::LoadAccessResponse>, Status> {
        let pb::LoadAccessRequest {
            subject,
            min_revision,
        } = request.into_inner();
        let subject = convert::load_subject(subject)?;
        let (access, state) = self
            .checker
            .access(subject, min_revision)
            .await
            .map_err(|e| from_check(&e))?;
        Ok(Response::new(pb::LoadAccessResponse {
            access: access.map(|a| feed_messages::access_to_pb(&a)),
            revision: state.revision,
        }))
    }
}
