//! The moka cache of each user's effective access, the applied state (revision, tenant
//! tree, resource owners) published as one, the look-ups that read a user at one
//! revision (`lookup`), the follower that applies the change log (`follower`), and what
//! a replica without a database is fed by the tier, and feeds others (`feed`).

mod apply;
mod feed;
mod follower;
mod lookup;

pub use feed::{FedBatch, FedState, Pending, Upstream};
pub use follower::FollowConfig;
pub use lookup::{AccessAt, Subject};

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use arc_swap::ArcSwap;
use moka::sync::Cache;
use tokio::sync::{Mutex, Notify, watch};
use uuid::Uuid;

use crate::engine::{EffectiveAccess, ResourceIndex, RoleFacts, TenantIndex};
use crate::model::{GroupId, RoleId, UserId};

use crate::store::{self, Store, StoreError, max_revision};
use prometheus_client::metrics::counter::Counter;

/// What the cache and its follower count, as /metrics shows them. Detached by default.
#[derive(Clone, Debug, Default)]
pub struct CacheCounters {
    pub hits: Counter,
    pub misses: Counter,
    /// Entries removed for size or age, not by invalidation.
    pub evictions: Counter,
    /// Failed loads of a user's access from the database.
    pub load_errors: Counter,
    /// Failed rounds of the change-log follower.
    pub follow_errors: Counter,
}

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

/// What this replica has applied: a revision, and the tenant tree and resource owners as
/// of it, published together, so that an answer is decided on one revision's state.
#[derive(Debug, Default)]
pub struct AppliedState {
    pub revision: u64,
    pub tenants: Arc<TenantIndex>,
    pub resources: ResourceIndex,
}

/// A cached user's access and the revision it was read at.
#[derive(Clone)]
struct Entry {
    access: Arc<EffectiveAccess>,
    loaded_at: u64,
}

/// Where the cache reads what it does not hold.
pub enum Source {
    /// This replica's own database, whose change log the follower applies.
    Database(Arc<Store>),
    /// The database tier: users' access is loaded from it, and its change feed is applied
    /// (`apply_fed`) by whoever follows it.
    Upstream(Arc<dyn Upstream>),
}

/// Effective access by user, kept exactly in step with the change log.
pub struct AccessCache {
    source: Source,
    users: Cache<UserId, Entry>,
    object_ids: Cache<Uuid, UserId>,
    /// User ids and Azure object ids known not to exist (with the revision they were
    /// looked up at), so that repeated checks for them do not reach the database. Any
    /// user change forgets them all: a user created with a remembered object id must be
    /// seen at once.
    unknown: Cache<Subject, u64>,
    /// Bumped whenever `unknown` is forgotten, so that a miss read before is not inserted
    /// after.
    unknown_generation: AtomicU64,
    state: ArcSwap<AppliedState>,
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
    /// Serialises applying the log (taken after a database connection, never before),
    /// so revisions are applied in order and an older state never replaces a newer one.
    apply_lock: Mutex<()>,
    /// The applied revision, for waiters.
    applied: watch::Sender<u64>,
    written: Notify,
    connected: AtomicBool,
    /// When the follower last read the log to its end (Unix milliseconds).
    caught_up_at_ms: AtomicI64,
    /// What each publish changed, for the change feed this replica serves.
    history: std::sync::Mutex<feed::History>,
    counters: CacheCounters,
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
        // One snapshot: the revision and the indexes as of it; the follower goes on from it.
        let txn = store.begin_read().await?;
        let state = FedState {
            revision: max_revision(&txn).await?,
            tenants: store::tenants(&txn).await?,
            resources: store::resources(&txn).await?,
        };
        txn.commit().await.map_err(StoreError::from)?;
        Ok(Self::new(Source::Database(store), state, config))
    }

    /// Starts from the state the database tier sent; `apply_fed` applies its feed.
    pub fn fed(upstream: Arc<dyn Upstream>, state: FedState, config: &CacheConfig) -> Arc<Self> {
        Self::new(Source::Upstream(upstream), state, config)
    }

    fn new(source: Source, state: FedState, config: &CacheConfig) -> Arc<Self> {
        let evictions = config.counters.evictions.clone();
        let users = Cache::builder()
            .max_capacity(config.max_bytes)
            .weigher(|_, entry: &Entry| entry_weight(&entry.access))
            .time_to_live(config.time_to_live)
            .support_invalidation_closures()
            .eviction_listener(move |_, _, cause| {
                // Size or age; invalidations and replacements are not evictions.
                if cause.was_evicted() {
                    evictions.inc();
                }
            })
            .build();
        let revision = state.revision;
        Arc::new(AccessCache {
            source,
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
            state: ArcSwap::from_pointee(AppliedState {
                revision,
                tenants: Arc::new(TenantIndex::build(state.tenants)),
                resources: state.resources.into_iter().collect(),
            }),
            entry_guard: RwLock::new(()),
            generation: AtomicU64::new(0),
            user_generations: std::array::from_fn(|_| AtomicU64::new(0)),
            roles: std::sync::Mutex::new(HashMap::new()),
            apply_lock: Mutex::new(()),
            applied: watch::channel(revision).0,
            written: Notify::new(),
            connected: AtomicBool::new(true),
            caught_up_at_ms: AtomicI64::new(follower::unix_ms()),
            history: std::sync::Mutex::new(feed::History::starting_at(revision)),
            counters: config.counters.clone(),
        })
    }

    /// This replica's database; None for a sidecar fed by the database tier.
    pub fn store(&self) -> Option<&Arc<Store>> {
        match &self.source {
            Source::Database(store) => Some(store),
            Source::Upstream(_) => None,
        }
    }

    /// The newest revision written, from the database or from the tier.
    pub async fn newest_revision(&self) -> Result<u64, StoreError> {
        match &self.source {
            Source::Database(store) => store.max_revision().await,
            Source::Upstream(upstream) => upstream.newest_revision().await,
        }
    }

    /// The applied revision and the tenant tree as of it.
    pub fn applied(&self) -> Arc<AppliedState> {
        self.state.load_full()
    }

    /// The tenant tree and tags as of the applied revision.
    pub fn tenants(&self) -> Arc<TenantIndex> {
        Arc::clone(&self.state.load().tenants)
    }

    /// Resource owners as of the applied revision.
    pub fn resources(&self) -> ResourceIndex {
        self.state.load().resources.clone()
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
        if let Ok(newest) = self.newest_revision().await {
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

    /// Forgets every remembered unknown subject; the caller holds the entry guard.
    fn forget_unknown(&self) {
        self.unknown_generation.fetch_add(1, Ordering::AcqRel);
        self.unknown.invalidate_all();
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
        if self
            .users
            .invalidate_entries_if(move |user, entry| predicate(user, &entry.access))
            .is_err()
        {
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
