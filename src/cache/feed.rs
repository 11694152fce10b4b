//! The change feed, both ways. A replica records what each publish changed, so that it can
//! feed others (`feed_after`: the changes since a revision, with the tenant rows and
//! resource owners they touched, as of one state). A sidecar without a database starts
//! from the tier's state, applies its feed (`apply_fed`), and loads missing users from
//! it (`read_from_upstream`), each answer of one revision's state as with a database.

use std::collections::{HashMap, HashSet, VecDeque};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use super::apply::Indexes;
use super::lookup::{Read, Subject};
use super::{AccessCache, follower};
use crate::engine::{EffectiveAccess, TenantIndex, TenantNode};
use crate::model::{ResourceRef, Tenant, TenantId};
use crate::store::{Change, StoreError};

/// A boxed future, for the object-safe [`Upstream`].
pub type Pending<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// What a sidecar without a database asks the database tier.
pub trait Upstream: Send + Sync {
    /// A subject's access (None: no such user) at `min_revision` or newer, and the
    /// revision it is of.
    fn load_access(
        &self,
        subject: Subject,
        min_revision: u64,
    ) -> Pending<'_, (Option<EffectiveAccess>, u64)>;
    /// The newest revision written.
    fn newest_revision(&self) -> Pending<'_, u64>;
}

/// The tenant tree and resource owners at one revision: where a replica starts.
#[derive(Clone, Debug, Default)]
pub struct FedState {
    pub revision: u64,
    pub tenants: Vec<Tenant>,
    pub resources: Vec<(ResourceRef, Option<TenantId>)>,
}

/// The changes up to a revision, with the tenants and resources they name as of it
/// (a named tenant or resource missing here is gone).
#[derive(Clone, Debug, Default)]
pub struct FedBatch {
    pub revision: u64,
    pub changes: Vec<Change>,
    pub tenants: Vec<Tenant>,
    pub resources: Vec<(ResourceRef, Option<TenantId>)>,
}

/// How many changes a replica remembers for the feed; a follower further behind is told to
/// reload the state.
const HISTORY_CHANGES: usize = 100_000;
/// The most changes one message of the feed carries; a follower further behind reloads the
/// state, which costs less (and fits in a message).
const MAX_BATCH_CHANGES: usize = 10_000;
/// How long a sidecar waits for the feed to bring it to the revision a load was read at.
const FEED_WAIT: Duration = Duration::from_secs(2);

/// What each publish changed, by the revision it published, oldest first.
pub(super) struct History {
    /// Every change after this revision is in `entries`.
    complete_after: u64,
    entries: VecDeque<(u64, Arc<[Change]>)>,
    /// The changes in `entries`.
    changes: usize,
}

impl History {
    pub(super) fn starting_at(revision: u64) -> History {
        History {
            complete_after: revision,
            entries: VecDeque::new(),
            changes: 0,
        }
    }
}

impl AccessCache {
    /// Remembers what the publish of `revision` changed (None: unknown, after a resync).
    /// A bulk load (every tenant) cannot be sent as rows: followers reload the state.
    pub(super) fn record(&self, revision: u64, changes: Option<&[Change]>) {
        let mut history = self
            .history
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let whole_tree = |c: &Change| matches!(c, Change::Tenants { ids } if ids.is_empty());
        match changes {
            Some(changes) if !changes.iter().any(whole_tree) => {
                history.changes += changes.len();
                history.entries.push_back((revision, changes.into()));
                while history.changes > HISTORY_CHANGES {
                    let Some((oldest, dropped)) = history.entries.pop_front() else {
                        break;
                    };
                    history.complete_after = oldest;
                    history.changes -= dropped.len();
                }
            }
            _ => *history = History::starting_at(revision),
        }
    }

    /// Everything a follower at `after` needs to reach the applied state; None when this
    /// replica cannot say what changed since, or it is too much for one message (the
    /// follower reloads the state). A batch at `after` itself has nothing new.
    pub fn feed_after(&self, after: u64) -> Option<FedBatch> {
        // The state first: every publish up to it was recorded before it was published.
        let state = self.applied();
        let changes: Vec<Change> = {
            let history = self
                .history
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if after < history.complete_after {
                return None;
            }
            // A publish ending after `after` may have begun before it: sent whole, it
            // repeats some changes, which only invalidates again.
            let first = history
                .entries
                .partition_point(|(revision, _)| *revision <= after);
            let mut seen = HashSet::new();
            let mut changes = Vec::new();
            for (revision, published) in history.entries.range(first..) {
                if *revision > state.revision {
                    break;
                }
                changes.extend(published.iter().filter(|c| seen.insert(*c)).cloned());
                if changes.len() > MAX_BATCH_CHANGES {
                    return None;
                }
            }
            changes
        };
        let mut batch = FedBatch {
            revision: state.revision.max(after),
            ..FedBatch::default()
        };
        for change in &changes {
            match change {
                Change::Tenants { ids } => {
                    let rows = ids.iter().filter_map(|id| state.tenants.get(TenantId(*id)));
                    batch.tenants.extend(rows.map(TenantNode::to_row));
                }
                Change::Resource {
                    resource_type,
                    resource_id,
                } => {
                    let Ok(kind) = resource_type.parse() else {
                        return None; // cannot be named to the follower: let it reload
                    };
                    let resource = ResourceRef::new(kind, resource_id);
                    if let Some(owner) = state.resources.owner(&resource) {
                        batch.resources.push((resource, owner));
                    }
                }
                Change::User { .. } | Change::Role { .. } | Change::Group { .. } => {}
            }
        }
        batch.changes = changes;
        Some(batch)
    }

    /// The applied revision, for followers of this replica's feed.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.applied.subscribe()
    }

    /// Applies a batch of the tier's feed: exact invalidation, then the tenants and
    /// resources it carries, published at its revision. A batch this replica is already
    /// past only says the feed is alive.
    pub async fn apply_fed(&self, batch: FedBatch) -> Result<(), StoreError> {
        {
            let _serial = self.apply_lock.lock().await;
            if batch.revision > self.applied_revision() {
                let touched = self.invalidate_for(&batch.changes)?;
                if touched.whole_tree {
                    return Err(StoreError::Upstream(
                        "the feed named every tenant; the state is reloaded".into(),
                    ));
                }
                let tenants = (!touched.tenants.is_empty())
                    .then(|| self.tenants_with(touched.tenants, batch.tenants));
                let mut owners: HashMap<ResourceRef, Option<TenantId>> =
                    batch.resources.into_iter().collect();
                let owners = touched
                    .resources
                    .into_iter()
                    .map(|r| {
                        let owner = owners.remove(&r);
                        (r, owner)
                    })
                    .collect();
                let indexes = Indexes {
                    tenants,
                    resources: self.resources_with(owners),
                };
                self.publish(batch.revision, indexes, Some(&batch.changes));
            }
        }
        self.mark_caught_up();
        Ok(())
    }

    /// Drops every cached entry and starts again from the tier's state: after a gap in
    /// the feed. A state older than the applied one is refused (answers never go back).
    pub async fn reset(&self, state: FedState) -> Result<(), StoreError> {
        let _serial = self.apply_lock.lock().await;
        let applied = self.applied_revision();
        if state.revision < applied {
            return Err(StoreError::Upstream(format!(
                "the tier sent its state at revision {}, behind this replica's {applied}; retrying",
                state.revision
            )));
        }
        self.invalidate_all();
        let indexes = Indexes {
            tenants: Some(TenantIndex::build(state.tenants)),
            resources: Some(state.resources.into_iter().collect()),
        };
        self.publish(state.revision, indexes, None);
        tracing::info!(
            revision = state.revision,
            "cache dropped and state reloaded from the tier"
        );
        drop(_serial);
        self.mark_caught_up();
        Ok(())
    }

    /// The feed is alive and this replica has applied everything it sent.
    fn mark_caught_up(&self) {
        self.caught_up_at_ms
            .store(follower::unix_ms(), Ordering::Release);
        self.connected.store(true, Ordering::Release);
    }

    /// The feed was lost: cached users are still answered, at their revision.
    pub fn mark_disconnected(&self) {
        self.counters.follow_errors.inc();
        if self.connected.swap(false, Ordering::AcqRel) {
            tracing::warn!("the tier's change feed was lost; serving cached users only");
        }
    }

    /// Loads a subject from the tier at this replica's revision or newer, then waits for
    /// the feed to reach the revision it was read at. It holds at the state then applied
    /// if nothing touching it was applied since the look-up began (else: read again).
    pub(super) async fn read_from_upstream(
        &self,
        upstream: &dyn Upstream,
        subject: Subject,
    ) -> Result<Option<Read>, StoreError> {
        // The stamp and the revision of one moment: under the lock no batch is half
        // applied, so the stamp holds every invalidation up to that revision and no later.
        let (before, applied) = {
            let _serial = self.apply_lock.lock().await;
            (self.stamp(), self.applied_revision())
        };
        let (access, revision) = upstream.load_access(subject, applied).await?;
        if revision < applied {
            return Err(StoreError::Upstream(format!(
                "the tier answered for revision {revision}, behind this replica's {applied}; retry"
            )));
        }
        self.wait_for_feed(revision).await?;
        let state = self.applied();
        let now = self.stamp();
        let unchanged = match &access {
            Some(access) => now.same_user(before, access.user_id()),
            None => now.unknown == before.unknown,
        };
        Ok(unchanged.then_some((access, state, before)))
    }

    /// Waits, a little, for the feed to reach the newest revision.
    pub(super) async fn catch_up_with_feed(&self) -> Result<(), StoreError> {
        let newest = self.newest_revision().await?;
        self.wait_for_feed(newest).await
    }

    async fn wait_for_feed(&self, revision: u64) -> Result<(), StoreError> {
        let mut applied = self.applied.subscribe();
        match tokio::time::timeout(FEED_WAIT, applied.wait_for(|r| *r >= revision)).await {
            Ok(Ok(_)) => Ok(()),
            _ => Err(StoreError::Upstream(format!(
                "the tier's change feed did not bring this replica from revision {} to {revision} within {} ms; retry",
                self.applied_revision(),
                FEED_WAIT.as_millis()
            ))),
        }
    }
}
