//! The control plane's use-cases. Every call names an actor, is authorized by the
//! actor's own access (`rules`), commits in one transaction with its change-log and audit
//! rows, and applies its changes to the local cache before it returns.

mod access_requests;
mod assignments;
mod audit;
mod bootstrap;
mod groups;
mod impersonation;
mod instance_file;
mod legacy;
mod preview;
mod reach;
mod reports;
mod resources;
mod roles;
mod rules;
mod tags;
mod tenants;
mod users;
mod visibility;

use std::fmt::Display;
use std::sync::Arc;

use sea_orm::ConnectionTrait;
use uuid::Uuid;

use crate::cache::{AccessCache, AppliedState};
use crate::engine::{AccessFacts, EffectiveAccess, Refusal, RefusalReason};
use crate::model::{Action, InvalidId, Outcome, TextError, UserId, shown, unix_now};
use crate::store::{self, AuditRecord, Keyed, Store, StoreError, Write};

pub use access_requests::{Expiry, MAX_PENDING_ACCESS_REQUESTS};
pub use assignments::NewAssignment;
pub use audit::AuditPage;
pub use groups::NewGroup;
pub use legacy::{ImportReport, LegacyFile};
pub use preview::Previewing;
pub use roles::{NewRole, RoleUpdate};
pub use tenants::{NewTenant, TenantUpdate};
pub use users::{Identity, UserUpdate};

/// How a request names its actor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ActorRef {
    AzureObject(Uuid),
    User(UserId),
}

/// An authenticated, active actor and their effective access.
#[derive(Clone, Debug)]
pub struct Actor {
    /// Whose access the call is authorized by: the impersonated user while impersonating.
    pub access: Arc<EffectiveAccess>,
    /// The signed-in user behind an impersonated call, with their own access. Every rule
    /// must hold for them too: impersonation does nothing they could not do directly.
    pub impersonator: Option<Arc<EffectiveAccess>>,
    /// The tenant tree and resource owners the call is judged on: for a write, as of the
    /// newest revision, read after its lock (the state it commits on).
    pub state: Arc<AppliedState>,
    /// Some: the call is a preview (`validate_only`), rolled back, its diff left here.
    pub previewing: Option<Arc<Previewing>>,
}

impl Actor {
    /// An actor acting as themselves.
    fn direct(access: Arc<EffectiveAccess>, state: Arc<AppliedState>) -> Actor {
        Actor {
            access,
            impersonator: None,
            state,
            previewing: None,
        }
    }

    pub fn id(&self) -> UserId {
        self.access.user_id()
    }

    /// The signed-in user behind an impersonated call.
    pub fn impersonator_id(&self) -> Option<UserId> {
        self.impersonator.as_ref().map(|a| a.user_id())
    }

    /// Each access the call's rules are judged for: the actor's, then the impersonator's.
    fn accesses(&self) -> impl Iterator<Item = &EffectiveAccess> {
        std::iter::once(&*self.access).chain(self.impersonator.as_deref())
    }

    /// Whether `user` is the actor or the impersonator behind them.
    fn is_self(&self, user: UserId) -> bool {
        user == self.id() || Some(user) == self.impersonator_id()
    }
}

/// What an admin call returns.
pub type Result<T, E = AdminError> = std::result::Result<T, E>;

/// Why an admin call was not carried out. Messages say what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    InvalidArgument(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("{0}")]
    PermissionDenied(Refusal),
    #[error("{0}")]
    ResourceExhausted(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<InvalidId> for AdminError {
    fn from(err: InvalidId) -> Self {
        AdminError::InvalidArgument(err.to_string())
    }
}

/// What a write's audit row records: the target, and the state before and after.
struct Changed {
    target: String,
    before: Option<String>,
    after: String,
}

impl Changed {
    fn new(target: impl ToString, before: Option<String>, after: String) -> Changed {
        Changed {
            target: target.to_string(),
            before,
            after,
        }
    }
}

/// How long a page of a listing is: `default` when 0 is asked for, never over `max`.
struct PageSize {
    default: u64,
    max: u64,
}

impl PageSize {
    fn limit(&self, asked: u64) -> u64 {
        match asked {
            0 => self.default,
            n => n.min(self.max),
        }
    }
}

/// Where the page after `rows` starts: the key of its last row, when the page is full.
fn next_page<T, K>(rows: &[T], limit: u64, key: impl FnOnce(&T) -> K) -> Option<K> {
    rows.last().filter(|_| rows.len() as u64 == limit).map(key)
}

/// The row of `id`, or NOT_FOUND naming what was asked for.
async fn existing<I: Keyed>(db: &impl ConnectionTrait, id: I) -> Result<I::Row> {
    store::find(db, id)
        .await?
        .ok_or_else(|| AdminError::NotFound(format!("{} `{id}` does not exist", I::WHAT)))
}

/// ALREADY_EXISTS, saying what is `taken`, when a row was found.
fn absent<T>(found: Option<T>, taken: String) -> Result<()> {
    match found {
        Some(_) => Err(AdminError::AlreadyExists(taken)),
        None => Ok(()),
    }
}

/// A user's access as `db` has it, refused unless they are still active.
async fn reloaded(db: &impl ConnectionTrait, user: UserId) -> Result<Arc<EffectiveAccess>> {
    store::access_facts(db, user)
        .await?
        .map(AccessFacts::compile)
        .filter(|access| access.user.is_active(unix_now()))
        .map(Arc::new)
        .ok_or_else(|| {
            AdminError::PermissionDenied(Refusal::new(
                RefusalReason::InactiveActor,
                format!("actor `{user}` was deleted, disabled or expired meanwhile"),
            ))
        })
}

/// The admin use-cases over one store and its cache.
pub struct Admin {
    store: Arc<Store>,
    cache: Arc<AccessCache>,
    /// How many changes a preview lists.
    preview_limit: usize,
}

impl Admin {
    /// The use-cases over `store`, whose change log `cache` follows.
    pub fn new(store: Arc<Store>, cache: Arc<AccessCache>) -> Self {
        Admin {
            store,
            cache,
            preview_limit: crate::config::DEFAULT_PREVIEW_MAX_CHANGES,
        }
    }

    /// The use-cases with previews listing at most `limit` changes.
    pub fn with_preview_limit(self, limit: usize) -> Self {
        Admin {
            preview_limit: limit,
            ..self
        }
    }

    /// Resolves and checks the actor of a call: unknown or inactive is refused and audited.
    pub async fn actor(&self, actor: ActorRef, action: Action) -> Result<Actor> {
        let access = match actor {
            ActorRef::AzureObject(id) => self.cache.access_by_object_id(id).await?,
            ActorRef::User(id) => self.cache.access(id).await?,
        };
        match access {
            Some(access) if access.user.is_active(unix_now()) => {
                Ok(Actor::direct(access, self.cache.applied()))
            }
            _ => {
                let who = match actor {
                    ActorRef::AzureObject(id) => format!("azure object id `{id}`"),
                    ActorRef::User(id) => format!("user id `{id}`"),
                };
                let err = AdminError::PermissionDenied(Refusal::new(
                    RefusalReason::InactiveActor,
                    format!("actor with {who} is unknown, disabled or expired"),
                ));
                self.audit_refusal(None, action, &who, &err).await;
                Err(err)
            }
        }
    }

    /// Starts a write and what it is judged on (the invariants' linearizability): takes
    /// the write lock, catches this replica up to the newest revision through the write's
    /// own transaction, and reloads the actor's access there, with the tenant tree and
    /// resource owners of that revision; an impersonation is judged again there in full
    /// (the preference, `users.impersonate`, containment). Rules judge the returned actor
    /// once, on exactly the state the write commits on: no revoke committed before is
    /// missed.
    async fn begin(&self, actor: &Actor) -> Result<(Write<'_>, Actor)> {
        let write = self.store.begin_write().await?;
        self.cache.catch_up_with(write.txn()).await?;
        // Under the write lock nothing newer can be applied: this is the newest state.
        let state = self.cache.applied();
        let mut reloaded = match actor.impersonator_id() {
            None => Actor::direct(reloaded(write.txn(), actor.id()).await?, state),
            Some(impersonator) => {
                let impersonator = Actor::direct(reloaded(write.txn(), impersonator).await?, state);
                let (_, access) = self
                    .impersonation_target(write.txn(), &impersonator, actor.id())
                    .await?;
                Actor {
                    access,
                    impersonator: Some(impersonator.access),
                    state: impersonator.state,
                    previewing: None,
                }
            }
        };
        reloaded.previewing = actor.previewing.clone();
        Ok((write, reloaded))
    }

    /// Runs a write: `call` gets the open write and the actor as reloaded inside it
    /// (`begin`), and returns its answer with what it changed; it commits with that audit
    /// row and returns the answer with the revision. A refusal is audited under `action`
    /// and `target` (the caller's text, not yet validated). A preview's write is carried
    /// out after a savepoint and taken back (`preview`): it answers with the revision it
    /// began on.
    async fn write<T>(
        &self,
        actor: &Actor,
        action: Action,
        target: impl Display,
        call: impl AsyncFnOnce(&mut Write<'_>, &Actor) -> Result<(T, Changed)>,
    ) -> Result<(T, u64)> {
        self.audited(actor, action, target, async {
            let (mut write, actor) = self.begin(actor).await?;
            if actor.previewing.is_some() {
                write.savepoint().await?;
                let (answer, _) = call(&mut write, &actor).await?;
                self.preview(&actor, &mut write).await?;
                write.rollback().await?;
                return Ok((answer, actor.state.revision));
            }
            let (answer, changed) = call(&mut write, &actor).await?;
            let revision = self
                .commit_as(
                    write,
                    Some(&actor),
                    action,
                    changed.target,
                    changed.before,
                    changed.after,
                )
                .await?;
            Ok((answer, revision))
        })
        .await
    }

    /// A write that answers only the revision it reached: `call` returns what it changed.
    async fn change(
        &self,
        actor: &Actor,
        action: Action,
        target: impl Display,
        call: impl AsyncFnOnce(&mut Write<'_>, &Actor) -> Result<Changed>,
    ) -> Result<u64> {
        let written = self.write(actor, action, target, async |write, actor| {
            Ok(((), call(write, actor).await?))
        });
        Ok(written.await?.1)
    }

    /// Runs an admin call, auditing it if it is refused.
    async fn audited<T>(
        &self,
        actor: &Actor,
        action: Action,
        target: impl Display,
        call: impl Future<Output = Result<T>>,
    ) -> Result<T> {
        let result = call.await;
        if let Err(err @ AdminError::PermissionDenied(_)) = &result {
            self.audit_refusal(Some(actor), action, &target.to_string(), err)
                .await;
        }
        result
    }

    async fn audit_refusal(
        &self,
        actor: Option<&Actor>,
        action: Action,
        target: &str,
        err: &AdminError,
    ) {
        let record = AuditRecord {
            actor: actor.map(Actor::id),
            impersonator: actor.and_then(Actor::impersonator_id),
            action,
            // A refused call's target is the caller's text, not yet validated.
            target: shown(target),
            before: None,
            after: None,
            outcome: Outcome::Refused,
            detail: err.to_string(),
        };
        if let Err(audit_err) = self.store.audit(record).await {
            tracing::error!(error = %audit_err, action = action.as_str(), "could not audit a refused admin call");
        }
    }

    /// Commits a write with its audit row, made by an actor or by nobody (an access
    /// request, an import), applies it to the local cache, and returns its revision.
    async fn commit_as(
        &self,
        write: Write<'_>,
        actor: Option<&Actor>,
        action: Action,
        target: String,
        before: Option<String>,
        after: String,
    ) -> Result<u64> {
        let revision = write
            .commit(AuditRecord {
                actor: actor.map(Actor::id),
                impersonator: actor.and_then(Actor::impersonator_id),
                action,
                target,
                before,
                after: Some(after),
                outcome: Outcome::Succeeded,
                detail: String::new(),
            })
            .await?;
        // Its own revision applied before it returns: read-your-own-writes on this replica.
        match self.cache.catch_up().await {
            Ok(()) => {}
            Err(err) => {
                // The follower will apply it again; until then nothing stale may answer.
                tracing::warn!(error = %err, revision, "could not apply a local write; cache dropped");
                self.cache.invalidate_all();
            }
        }
        self.cache.notify_written();
        Ok(revision)
    }
}

impl From<TextError> for AdminError {
    fn from(err: TextError) -> Self {
        AdminError::InvalidArgument(err.to_string())
    }
}
