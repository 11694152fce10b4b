//! The moka cache of each user's effective access, the shared tenant and resource
//! indexes, and the follower that applies the change log to them.

mod follower;

pub use follower::FollowConfig;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard};
use std::time::Duration;

use arc_swap::{ArcSwap, Guard};
use moka::sync::Cache;
use tokio::sync::{Mutex, Notify, watch};
use uuid::Uuid;

use crate::engine::{EffectiveAccess, ResourceIndex, RoleFacts, TenantIndex};
use crate::model::{GroupId, ResourceRef, RoleId, Tenant, TenantId, UserId};
use sea_orm::ConnectionTrait;

use crate::store::{self, Change, Store, StoreError};
use crate::telemetry::CacheCounters;

/// How the cache is sized and how the follower runs.
#[derive(Clone, Debug)]
pub struct CacheConfig {
    /// Upper bound of the cached entries' estimated size, in bytes.
    pub max_bytes: u64,
    /// A safety net only: invalidation is exact.
    pub time_to_live: Duration,
    /// Hits, misses, evictions and database errors (shown at /metrics).
    pub counters: CacheCounters,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            max_bytes: 256 * 1024 * 1024,
            time_to_live: Duration::from_secs(600),
            counters: CacheCounters::default(),
        }
    }
}

/// A revision this replica has not applied: within the allowed wait, or not at all
/// because no write has made it yet.
#[derive(Clone, Debug, thiserror::Error)]
pub enum RevisionNotReached {
    #[error(
        "this replica has applied revision {applied} and did not reach revision {wanted} within {waited_ms} ms; retry, or ask without min_revision"
    )]
    Timeout {
        wanted: u64,
        applied: u64,
        waited_ms: u128,
    },
    #[error(
        "revision {wanted} has not been written (the newest is {newest}); ask for a revision that a write returned"
    )]
    Unwritten { wanted: u64, newest: u64 },
}

/// Effective access by user, kept exactly in step with the change log.
pub struct AccessCache {
    store: Arc<Store>,
    users: Cache<UserId, Arc<EffectiveAccess>>,
    object_ids: Cache<Uuid, UserId>,
    /// User ids and Azure object ids known not to exist, so that repeated checks for
    /// them do not reach the database. Any user change forgets them all: a user created
    /// with a remembered object id must be seen at once.
    unknown: Cache<Unknown, ()>,
    /// Bumped whenever `unknown` is forgotten, so that a miss read before is not inserted
    /// after.
    unknown_generation: AtomicU64,
    tenants: ArcSwap<TenantIndex>,
    resources: RwLock<ResourceIndex>,
    /// Taken shared to insert a loaded entry, exclusively to invalidate: an entry loaded
    /// before an invalidation it may have missed is never inserted after it.
    entry_guard: RwLock<()>,
    /// Bumped by invalidations that may touch any user (role, group, everything).
    generation: AtomicU64,
    /// Bumped by invalidations of one user, striped by user id, so that one user's
    /// change does not keep every other user's load out of the cache.
    user_generations: [AtomicU64; STRIPES],
    /// One shared copy of each role's facts, so that entries hold pointers, not copies.
    roles: std::sync::Mutex<HashMap<RoleId, Arc<RoleFacts>>>,
    /// Serialises index reloads, so an older snapshot never replaces a newer one.
    reload_lock: Mutex<()>,
    applied: watch::Sender<u64>,
    written: Notify,
    connected: AtomicBool,
    /// When the follower last read the log to its end (Unix milliseconds).
    caught_up_at_ms: AtomicI64,
    counters: CacheCounters,
}

/// A subject with no user.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Unknown {
    User(UserId),
    AzureObject(Uuid),
}

const STRIPES: usize = 64;

fn stripe(user: UserId) -> usize {
    (user.0.as_u128() % STRIPES as u128) as usize
}

fn entry_weight(access: &EffectiveAccess) -> u32 {
    // Roles are shared between entries, so each entry pays for its pointers only.
    let bytes = std::mem::size_of::<EffectiveAccess>()
        + access.grants.len() * std::mem::size_of::<crate::engine::Grant>()
        + access.roles.len() * std::mem::size_of::<Arc<crate::engine::RoleFacts>>()
        + access.groups.len() * std::mem::size_of::<GroupId>();
    u32::try_from(bytes).unwrap_or(u32::MAX)
}

impl AccessCache {
    /// Loads the indexes and starts at the newest revision in the log.
    pub async fn load(store: Arc<Store>, config: &CacheConfig) -> Result<Arc<Self>, StoreError> {
        // Read the revision first: whatever commits after it is replayed by the follower.
        let revision = store.max_revision().await?;
        let tenants = store::tenants(store.db()).await?;
        let resources = store::resources(store.db()).await?;
        let evictions = config.counters.evictions.clone();
        let users = Cache::builder()
            .max_capacity(config.max_bytes)
            .weigher(|_, access: &Arc<EffectiveAccess>| entry_weight(access))
            .time_to_live(config.time_to_live)
            .support_invalidation_closures()
            .eviction_listener(move |_, _, cause| {
                // Size or age; invalidations and replacements are not evictions.
                if cause.was_evicted() {
                    evictions.inc();
                }
            })
            .build();
        Ok(Arc::new(AccessCache {
            store,
            users,
            object_ids: Cache::builder()
                .max_capacity(1_000_000)
                .time_to_live(config.time_to_live)
                .build(),
            unknown: Cache::builder()
                .max_capacity(100_000)
                .time_to_live(config.time_to_live)
                .build(),
            unknown_generation: AtomicU64::new(0),
            tenants: ArcSwap::from_pointee(TenantIndex::build(tenants)),
            resources: RwLock::new(resources.into_iter().collect()),
            entry_guard: RwLock::new(()),
            generation: AtomicU64::new(0),
            user_generations: std::array::from_fn(|_| AtomicU64::new(0)),
            roles: std::sync::Mutex::new(HashMap::new()),
            reload_lock: Mutex::new(()),
            applied: watch::channel(revision).0,
            written: Notify::new(),
            connected: AtomicBool::new(true),
            caught_up_at_ms: AtomicI64::new(follower::unix_ms()),
            counters: config.counters.clone(),
        }))
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    /// The tenant tree and tags as of the applied revision.
    pub fn tenants(&self) -> Guard<Arc<TenantIndex>> {
        self.tenants.load()
    }

    /// Resource owners as of the applied revision.
    pub fn resources(&self) -> RwLockReadGuard<'_, ResourceIndex> {
        self.resources
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The revision of the change log this replica has applied.
    pub fn applied_revision(&self) -> u64 {
        *self.applied.borrow()
    }

    /// Waits until this replica has applied `revision`, at most `bound`.
    pub async fn wait_for(
        &self,
        revision: u64,
        bound: Duration,
    ) -> Result<u64, RevisionNotReached> {
        if revision == 0 || self.applied_revision() >= revision {
            return Ok(self.applied_revision());
        }
        // A revision no write has made yet would only run out the wait: say so at once.
        // (A database that cannot answer leaves the wait to decide.)
        if let Ok(newest) = self.store.max_revision().await {
            if revision > newest {
                return Err(RevisionNotReached::Unwritten {
                    wanted: revision,
                    newest,
                });
            }
        }
        self.written.notify_one();
        let mut applied = self.applied.subscribe();
        let started = tokio::time::Instant::now();
        match tokio::time::timeout(bound, applied.wait_for(|r| *r >= revision)).await {
            Ok(Ok(r)) => Ok(*r),
            _ => Err(RevisionNotReached::Timeout {
                wanted: revision,
                applied: self.applied_revision(),
                waited_ms: started.elapsed().as_millis(),
            }),
        }
    }

    /// The effective access of a user; None for an unknown user.
    pub async fn access(&self, user: UserId) -> Result<Option<Arc<EffectiveAccess>>, StoreError> {
        if let Some(access) = self.users.get(&user) {
            self.counters.hits.inc();
            return Ok(Some(access));
        }
        if self.unknown.contains_key(&Unknown::User(user)) {
            self.counters.hits.inc();
            return Ok(None);
        }
        self.counters.misses.inc();
        let generations = self.generations(user);
        let unknown_generation = self.unknown_generation.load(Ordering::Acquire);
        let loaded = self.load_access(user).await.inspect_err(|_| {
            self.counters.load_errors.inc();
        })?;
        let Some(access) = loaded.map(|access| Arc::new(self.share_roles(access))) else {
            self.remember_unknown(Unknown::User(user), unknown_generation);
            return Ok(None);
        };
        let _guard = self
            .entry_guard
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.generations(user) == generations {
            self.users.insert(user, Arc::clone(&access));
        }
        Ok(Some(access))
    }

    async fn load_access(&self, user: UserId) -> Result<Option<EffectiveAccess>, StoreError> {
        let txn = self.store.begin_read().await?;
        let loaded = store::load_access(&txn, user).await?;
        txn.commit().await.map_err(StoreError::from)?;
        Ok(loaded)
    }

    /// Replaces each role of a freshly loaded entry by the shared copy with the same facts.
    fn share_roles(&self, mut access: EffectiveAccess) -> EffectiveAccess {
        let mut shared = self
            .roles
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for role in &mut access.roles {
            match shared.get(&role.id) {
                Some(existing) if existing == role => *role = Arc::clone(existing),
                _ => {
                    shared.insert(role.id, Arc::clone(role));
                }
            }
        }
        access
    }

    fn generations(&self, user: UserId) -> (u64, u64) {
        (
            self.generation.load(Ordering::Acquire),
            self.user_generations[stripe(user)].load(Ordering::Acquire),
        )
    }

    /// The effective access of the user with this Azure object id; None when unknown.
    pub async fn access_by_object_id(
        &self,
        azure_object_id: Uuid,
    ) -> Result<Option<Arc<EffectiveAccess>>, StoreError> {
        if let Some(user) = self.object_ids.get(&azure_object_id) {
            match self.access(user).await? {
                Some(access) if access.azure_object_id() == azure_object_id => {
                    return Ok(Some(access));
                }
                _ => self.object_ids.invalidate(&azure_object_id),
            }
        }
        let unknown = Unknown::AzureObject(azure_object_id);
        if self.unknown.contains_key(&unknown) {
            self.counters.hits.inc();
            return Ok(None);
        }
        let unknown_generation = self.unknown_generation.load(Ordering::Acquire);
        let Some(user) = store::find_user_by_object_id(self.store.db(), azure_object_id).await?
        else {
            self.remember_unknown(unknown, unknown_generation);
            return Ok(None);
        };
        self.object_ids.insert(azure_object_id, user.id);
        self.access(user.id).await
    }

    /// Remembers a subject with no user, unless users changed since it was looked up.
    fn remember_unknown(&self, unknown: Unknown, looked_up_at: u64) {
        let _guard = self
            .entry_guard
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if self.unknown_generation.load(Ordering::Acquire) == looked_up_at {
            self.unknown.insert(unknown, ());
        }
    }

    /// Forgets every remembered unknown subject; the caller holds the entry guard.
    fn forget_unknown(&self) {
        self.unknown_generation.fetch_add(1, Ordering::AcqRel);
        self.unknown.invalidate_all();
    }

    /// Applies what one write touched: exact invalidation, and index reloads.
    pub async fn apply(&self, changes: &[Change]) -> Result<(), StoreError> {
        self.apply_with(self.store.db(), changes).await
    }

    /// Applies changes, reading the indexes through `db`.
    async fn apply_with<C: ConnectionTrait>(
        &self,
        db: &C,
        changes: &[Change],
    ) -> Result<(), StoreError> {
        // Tenant changes are gathered, so a burst updates the tree once.
        let (mut changed_tenants, mut whole_tree) = (Vec::new(), false);
        for change in changes {
            match change {
                Change::User { id } => self.invalidate_user(UserId(*id)),
                Change::Role { id } => {
                    let role = RoleId(*id);
                    self.invalidate_where(move |_, a| a.uses_role(role));
                }
                Change::Group { id } => {
                    let group = GroupId(*id);
                    self.invalidate_where(move |_, a| a.in_group(group));
                }
                Change::Tenants { ids } if ids.is_empty() => whole_tree = true,
                Change::Tenants { ids } => {
                    changed_tenants.extend(ids.iter().map(|id| TenantId(*id)));
                }
                Change::Resource {
                    resource_type,
                    resource_id,
                } => {
                    let kind = resource_type
                        .parse()
                        .map_err(|e| StoreError::Corrupt(format!("change log: {e}")))?;
                    self.reload_resource(db, ResourceRef::new(kind, resource_id))
                        .await?;
                }
            }
        }
        if whole_tree {
            self.reload_tenants(db).await?;
        } else if !changed_tenants.is_empty() {
            self.update_tenants(db, changed_tenants).await?;
        }
        Ok(())
    }

    /// Marks `revision` applied, unless a newer one already is: the follower and local
    /// writes both advance it, never backwards.
    fn advance_applied(&self, revision: u64) {
        self.applied.send_if_modified(|applied| {
            let newer = revision > *applied;
            if newer {
                *applied = revision;
            }
            newer
        });
    }

    /// After a local write commits at `revision` and its changes were applied: when every
    /// revision before it was applied too, so is it, and a check at that revision on this
    /// replica (read-your-own-writes) is answered at once.
    pub fn applied_own_write(&self, revision: u64) {
        if self.applied_revision() + 1 == revision {
            self.advance_applied(revision);
        }
    }

    /// Called after a local write commits, so the follower catches up at once.
    pub fn notify_written(&self) {
        self.written.notify_one();
    }

    fn invalidate_user(&self, user: UserId) {
        let _guard = self
            .entry_guard
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.user_generations[stripe(user)].fetch_add(1, Ordering::AcqRel);
        self.users.invalidate(&user);
        self.forget_unknown();
    }

    fn invalidate_where(
        &self,
        predicate: impl Fn(&UserId, &Arc<EffectiveAccess>) -> bool + Send + Sync + 'static,
    ) {
        let _guard = self
            .entry_guard
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        if self.users.invalidate_entries_if(predicate).is_err() {
            // Closures are enabled at build time; if ever refused, dropping all is still exact.
            self.users.invalidate_all();
        }
    }

    /// Forgets every cached entry: after a reconnect, changes may have been missed.
    pub fn invalidate_all(&self) {
        let _guard = self
            .entry_guard
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.users.invalidate_all();
        self.object_ids.invalidate_all();
        self.forget_unknown();
    }

    async fn reload_tenants<C: ConnectionTrait>(&self, db: &C) -> Result<(), StoreError> {
        let _serial = self.reload_lock.lock().await;
        let tenants = store::tenants(db).await?;
        self.tenants.store(Arc::new(TenantIndex::build(tenants)));
        Ok(())
    }

    /// Reads these tenants' rows and puts them into the tree (a tenant with no row left
    /// is taken out).
    async fn update_tenants<C: ConnectionTrait>(
        &self,
        db: &C,
        mut ids: Vec<TenantId>,
    ) -> Result<(), StoreError> {
        ids.sort_unstable();
        ids.dedup();
        let _serial = self.reload_lock.lock().await;
        let mut rows: HashMap<TenantId, Tenant> = store::tenants_with_ids(db, &ids)
            .await?
            .into_iter()
            .map(|t| (t.id, t))
            .collect();
        let changed = ids.into_iter().map(|id| (id, rows.remove(&id)));
        let updated = self.tenants.load().with(changed);
        self.tenants.store(Arc::new(updated));
        Ok(())
    }

    async fn reload_resource<C: ConnectionTrait>(
        &self,
        db: &C,
        resource: ResourceRef,
    ) -> Result<(), StoreError> {
        let _serial = self.reload_lock.lock().await;
        let owner = store::find_resource(db, &resource).await?;
        self.resources
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .set(resource, owner);
        Ok(())
    }

    async fn reload_resources<C: ConnectionTrait>(&self, db: &C) -> Result<(), StoreError> {
        let _serial = self.reload_lock.lock().await;
        let resources = store::resources(db).await?;
        *self
            .resources
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = resources.into_iter().collect();
        Ok(())
    }

    /// Number of cached users (after pending maintenance).
    pub fn cached_users(&self) -> u64 {
        self.users.run_pending_tasks();
        self.users.entry_count()
    }

    /// False while the follower cannot reach the database.
    pub fn is_connected(&self) -> bool {
        self.connected.load(Ordering::Acquire)
    }

    /// Milliseconds since the follower last read the change log to its end.
    pub fn follower_lag_ms(&self) -> u64 {
        u64::try_from(follower::unix_ms() - self.caught_up_at_ms.load(Ordering::Acquire))
            .unwrap_or_default()
    }
}
