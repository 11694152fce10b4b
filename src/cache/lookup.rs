//! Looking up a user's effective access: from the cache when the entry holds at the
//! applied state, else read from the database in one snapshot, with the change log
//! applied up to it first, so that access and state are of one revision.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use uuid::Uuid;

use super::{AccessCache, AppliedState, Entry, STRIPES, Source, stripe};
use crate::engine::{AccessFacts, EffectiveAccess};
use crate::model::{User, UserId};
use crate::store::{self, Store, StoreError, max_revision};

/// Whom a look-up (and a check) names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Subject {
    User(UserId),
    AzureObject(Uuid),
}

/// How often a look-up is tried again when the replica moved on while it read.
const ATTEMPTS: usize = 5;

/// The invalidation generations at one moment: a read that saw them may be cached
/// only if no invalidation that could touch it came after.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Stamp {
    all: u64,
    users: [u64; STRIPES],
    pub(super) unknown: u64,
}

impl Stamp {
    /// Nothing that touches this user's entry changed between the two.
    pub(super) fn same_user(&self, then: Stamp, user: UserId) -> bool {
        self.all == then.all && self.users[stripe(user)] == then.users[stripe(user)]
    }
}

/// A subject's access (None: no such user) and the applied state it holds at.
pub type AccessAt = (Option<Arc<EffectiveAccess>>, Arc<AppliedState>);

/// What a miss read: the access, the state it holds at, and the stamp to cache it by.
/// None: the state moved on while it read (read again).
pub(super) type Read = (Option<EffectiveAccess>, Arc<AppliedState>, Stamp);

fn unsettled() -> StoreError {
    StoreError::Unavailable(sea_orm::DbErr::Custom(
        "this replica's state kept moving while a user's access was read; retry".into(),
    ))
}

impl AccessCache {
    /// The effective access of a user; None for an unknown user.
    pub async fn access(&self, user: UserId) -> Result<Option<Arc<EffectiveAccess>>, StoreError> {
        Ok(self.access_at(user).await?.0)
    }

    /// The effective access of a user (None: unknown) and the applied state it holds at:
    /// an answer decided on the two is decided on one revision's state.
    pub async fn access_at(&self, user: UserId) -> Result<AccessAt, StoreError> {
        self.look_up(Subject::User(user)).await
    }

    /// The effective access of the user with this Azure object id; None when unknown.
    pub async fn access_by_object_id(
        &self,
        azure_object_id: Uuid,
    ) -> Result<Option<Arc<EffectiveAccess>>, StoreError> {
        Ok(self.access_by_object_id_at(azure_object_id).await?.0)
    }

    /// The effective access of the user with this Azure object id (None: unknown) and
    /// the applied state it holds at.
    pub async fn access_by_object_id_at(
        &self,
        azure_object_id: Uuid,
    ) -> Result<AccessAt, StoreError> {
        if let Some(user) = self.object_ids.get(&azure_object_id) {
            let found = self.access_at(user).await?;
            match &found.0 {
                Some(access) if access.azure_object_id() == azure_object_id => return Ok(found),
                _ => self.object_ids.invalidate(&azure_object_id),
            }
        }
        let found = self.look_up(Subject::AzureObject(azure_object_id)).await?;
        if let Some(access) = &found.0 {
            self.object_ids.insert(azure_object_id, access.user_id());
        }
        Ok(found)
    }

    /// Looks a subject up in the cache, or else reads it from the database and remembers
    /// it. Cached access newer than the applied state is looked up again.
    async fn look_up(&self, subject: Subject) -> Result<AccessAt, StoreError> {
        for _ in 0..ATTEMPTS {
            // The state first: every change up to it was invalidated before it was
            // published, so an entry found after it and read no later holds at it.
            let state = self.applied();
            if let Some((access, at)) = self.cached(subject) {
                self.counters.hits.inc();
                if at <= state.revision {
                    return Ok((access, state));
                }
                // Read by a newer state, published before it was cached: look again.
                continue;
            }
            self.counters.misses.inc();
            let read = match &self.source {
                Source::Database(store) => self.read_at_applied(store, subject).await,
                Source::Upstream(upstream) => {
                    self.read_from_upstream(upstream.as_ref(), subject).await
                }
            };
            let read = read.inspect_err(|_| {
                self.counters.load_errors.inc();
            })?;
            if let Some((loaded, state, stamp)) = read {
                let access = loaded.map(|access| Arc::new(self.share_roles(access)));
                self.remember(subject, access.clone(), state.revision, stamp);
                return Ok((access, state));
            }
        }
        Err(unsettled())
    }

    /// What the cache holds of a subject: its access, and the revision that was read at.
    fn cached(&self, subject: Subject) -> Option<(Option<Arc<EffectiveAccess>>, u64)> {
        if let Subject::User(user) = subject {
            if let Some(entry) = self.users.get(&user) {
                return Some((Some(entry.access), entry.loaded_at));
            }
        }
        self.unknown.get(&subject).map(|at| (None, at))
    }

    /// Reads a subject's access through one snapshot of the database after applying the
    /// change log up to it, so that what is read and the applied state are of the same
    /// revision. Returns None when another read published a newer state meanwhile (read
    /// again).
    async fn read_at_applied(
        &self,
        store: &Store,
        subject: Subject,
    ) -> Result<Option<Read>, StoreError> {
        let txn = store.begin_read().await?;
        // Taken before the snapshot (its first statement): whatever was invalidated before
        // was committed before, so the read sees it.
        let before = self.stamp();
        let newest = max_revision(&txn).await?;
        let applied = self.applied();
        let (state, stamp) = if applied.revision == newest {
            (applied, before)
        } else {
            // Behind the snapshot: apply the log up to it first. Under the lock nothing
            // else applies, so a stamp taken after holds only revisions up to the read.
            let _serial = self.apply_lock.lock().await;
            (self.apply_log(&txn).await?, self.stamp())
        };
        if state.revision != newest {
            return Ok(None);
        }
        let access = match subject {
            Subject::User(user) => store::access_facts(&txn, user).await?,
            Subject::AzureObject(id) => match store::find_by_object_id::<User>(&txn, id).await? {
                Some(user) => store::access_facts(&txn, user.id).await?,
                None => None,
            },
        }
        .map(AccessFacts::compile);
        txn.commit().await.map_err(StoreError::from)?;
        Ok(Some((access, state, stamp)))
    }

    /// Caches what a read found at `revision`, unless a change was applied since (`stamp`).
    fn remember(
        &self,
        subject: Subject,
        access: Option<Arc<EffectiveAccess>>,
        revision: u64,
        stamp: Stamp,
    ) {
        let _guard = self
            .entry_guard
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match access {
            Some(access) => {
                let user = access.user_id();
                if self.stamp().same_user(stamp, user) {
                    let entry = Entry {
                        access,
                        loaded_at: revision,
                    };
                    self.users.insert(user, entry);
                }
            }
            None => {
                if self.unknown_generation.load(Ordering::Acquire) == stamp.unknown {
                    self.unknown.insert(subject, revision);
                }
            }
        }
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

    pub(super) fn stamp(&self) -> Stamp {
        Stamp {
            all: self.generation.load(Ordering::Acquire),
            users: std::array::from_fn(|i| self.user_generations[i].load(Ordering::Acquire)),
            unknown: self.unknown_generation.load(Ordering::Acquire),
        }
    }
}
