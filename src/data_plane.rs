//! The data-plane use-cases: resolve the subject and target, wait for a requested
//! revision, and decide through the engine on cached effective access.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::cache::{AccessAt, AccessCache, AppliedState, RevisionNotReached};
use crate::engine::{self, DecideError, Decision, EffectiveAccess, Grant, Target};
use crate::model::{PermissionId, ResourceRef, TenantId, unix_now};
use crate::store::StoreError;
use crate::telemetry::CheckCounters;

pub use crate::cache::Subject;

/// What a check is about, before resolution.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TargetRef {
    None,
    Tenant(TenantId),
    Resource(ResourceRef),
}

/// One access question.
#[derive(Clone, Debug)]
pub struct CheckRequest {
    pub subject: Subject,
    pub permission: PermissionId,
    pub target: TargetRef,
    pub explain: bool,
    pub min_revision: u64,
}

/// One applied assignment, owned, for an explanation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Explained {
    pub grant: Grant,
    /// None: a direct assignment.
    pub via_group: Option<crate::model::GroupId>,
    pub role_id: crate::model::RoleId,
    pub role_name: Arc<str>,
    pub decisive: bool,
}

/// The answer to one check.
#[derive(Clone, Debug)]
pub struct CheckOutcome {
    pub decision: Decision,
    pub revision: u64,
    pub explanation: Vec<Explained>,
    /// With explain: the answer in one sentence for a person.
    pub reason: String,
}

/// Why a check could not be answered. Never an allow.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    MissingTarget(#[from] DecideError),
    #[error("tenant `{0}` does not exist")]
    TenantNotFound(TenantId),
    #[error("resource `{0}` is not registered; register it with UpsertResource first")]
    ResourceNotFound(ResourceRef),
    #[error(transparent)]
    RevisionNotReached(#[from] RevisionNotReached),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Answers checks from the cache.
pub struct Checker {
    cache: Arc<AccessCache>,
    min_revision_wait: Duration,
    counters: CheckCounters,
}

impl Checker {
    pub fn new(cache: Arc<AccessCache>, min_revision_wait: Duration) -> Self {
        Checker {
            cache,
            min_revision_wait,
            counters: CheckCounters::default(),
        }
    }

    /// Counts every check's outcome into `counters` (shown at /metrics).
    pub fn with_counters(self, counters: CheckCounters) -> Self {
        Checker { counters, ..self }
    }

    fn count(&self, outcome: &Result<CheckOutcome, CheckError>) {
        match outcome {
            Ok(outcome) => self.counters.decided(outcome.decision),
            Err(_) => self.counters.failed(),
        }
    }

    pub fn cache(&self) -> &Arc<AccessCache> {
        &self.cache
    }

    /// Waits for `min_revision`, then returns the subject's effective access (None:
    /// unknown user) and the applied state it holds at.
    pub async fn access(
        &self,
        subject: Subject,
        min_revision: u64,
    ) -> Result<AccessAt, CheckError> {
        self.cache
            .wait_for(min_revision, self.min_revision_wait)
            .await?;
        Ok(self.lookup(subject).await?)
    }

    /// Decides one check.
    pub async fn check(&self, request: &CheckRequest) -> Result<CheckOutcome, CheckError> {
        let outcome = async {
            let (access, state) = self.access(request.subject, request.min_revision).await?;
            match self.decide(access.as_deref(), request, &state, unix_now()) {
                Err(CheckError::TenantNotFound(_) | CheckError::ResourceNotFound(_))
                    if self.caught_up().await =>
                {
                    // Written after this replica's revision, perhaps: ask again at the newest.
                    let (access, state) = self.access(request.subject, 0).await?;
                    self.decide(access.as_deref(), request, &state, unix_now())
                }
                decided => decided,
            }
        }
        .await;
        self.count(&outcome);
        outcome
    }

    /// Catches this replica up to the newest revision, within the min_revision wait:
    /// before saying NOT_FOUND, make sure the tenant or resource was not just created.
    /// False when nothing new was applied.
    async fn caught_up(&self) -> bool {
        let before = self.cache.applied_revision();
        // Nothing newer written (the common case of an id that does not exist): no
        // catch-up, no lock.
        if self
            .cache
            .newest_revision()
            .await
            .is_ok_and(|newest| newest <= before)
        {
            return false;
        }
        let caught_up = tokio::time::timeout(self.min_revision_wait, self.cache.catch_up()).await;
        matches!(caught_up, Ok(Ok(()))) && self.cache.applied_revision() > before
    }

    /// Decides many checks, sharing what they have in common: one wait for the highest
    /// `min_revision`, one cache look-up per subject (each item is decided on the state
    /// its subject's access holds at).
    /// Results are in request order; one failed item does not fail the others.
    pub async fn check_batch(
        &self,
        requests: &[CheckRequest],
    ) -> Vec<Result<CheckOutcome, CheckError>> {
        let wanted = requests.iter().map(|r| r.min_revision).max().unwrap_or(0);
        let mut waited = self.cache.wait_for(wanted, self.min_revision_wait).await;
        let mut newest = None;
        if let Err(RevisionNotReached::Unwritten { newest: n, .. }) = waited {
            // Items asking for a revision nobody wrote fail alone, without a wait; the
            // others wait only for what exists.
            newest = Some(n);
            let reachable = requests
                .iter()
                .map(|r| r.min_revision)
                .filter(|r| *r <= n)
                .max()
                .unwrap_or(0);
            waited = self.cache.wait_for(reachable, self.min_revision_wait).await;
        }
        let reached = self.cache.applied_revision();
        let now = unix_now();
        let mut subjects: HashMap<Subject, AccessAt> = HashMap::new();
        let mut outcomes = Vec::with_capacity(requests.len());
        for request in requests {
            if request.min_revision > reached {
                let err = match newest {
                    Some(newest) if request.min_revision > newest => {
                        RevisionNotReached::Unwritten {
                            wanted: request.min_revision,
                            newest,
                        }
                    }
                    _ => RevisionNotReached::Timeout {
                        wanted: request.min_revision,
                        applied: reached,
                        waited_ms: match &waited {
                            Err(RevisionNotReached::Timeout { waited_ms, .. }) => *waited_ms,
                            _ => 0,
                        },
                    },
                };
                outcomes.push(Err(CheckError::RevisionNotReached(err)));
                continue;
            }
            let (access, state) = match subjects.get(&request.subject) {
                Some(found) => found.clone(),
                None => match self.lookup(request.subject).await {
                    Ok(found) => subjects.entry(request.subject).or_insert(found).clone(),
                    Err(err) => {
                        outcomes.push(Err(err.into()));
                        continue;
                    }
                },
            };
            outcomes.push(self.decide(access.as_deref(), request, &state, now));
        }
        outcomes.iter().for_each(|outcome| self.count(outcome));
        outcomes
    }

    /// The subject's access and the applied state it holds at.
    async fn lookup(&self, subject: Subject) -> Result<AccessAt, StoreError> {
        match subject {
            Subject::User(id) => self.cache.access_at(id).await,
            Subject::AzureObject(id) => self.cache.access_by_object_id_at(id).await,
        }
    }

    /// Resolves the target and decides, explaining when asked.
    fn decide(
        &self,
        access: Option<&EffectiveAccess>,
        request: &CheckRequest,
        state: &AppliedState,
        now: i64,
    ) -> Result<CheckOutcome, CheckError> {
        let tenants = &state.tenants;
        let target = resolve(&request.target, state)?;
        let verdict = engine::decide(
            access,
            request.permission,
            &target,
            tenants,
            now,
            request.explain,
        )?;
        let explanation = match access {
            Some(access) => verdict
                .applied
                .iter()
                .map(|applied| {
                    let role = access.role_of(applied.grant);
                    Explained {
                        grant: applied.grant.clone(),
                        via_group: access.via_group(applied.grant),
                        role_id: role.id,
                        role_name: Arc::clone(&role.name),
                        decisive: applied.decisive,
                    }
                })
                .collect(),
            None => Vec::new(),
        };
        let reason = if request.explain {
            reason(access, request.permission, verdict.decision, now)
        } else {
            String::new()
        };
        Ok(CheckOutcome {
            decision: verdict.decision,
            revision: state.revision,
            explanation,
            reason,
        })
    }

    /// The tenants where the subject holds the permission, sorted.
    pub async fn permitted_tenants(
        &self,
        subject: Subject,
        permission: PermissionId,
        min_revision: u64,
    ) -> Result<(Vec<TenantId>, u64), CheckError> {
        let (access, state) = self.access(subject, min_revision).await?;
        let tenants = &state.tenants;
        let now = unix_now();
        let mut permitted: Vec<TenantId> = tenants
            .nodes()
            .filter(|t| {
                engine::decide(
                    access.as_deref(),
                    permission,
                    &Target::Tenant(t.id),
                    tenants,
                    now,
                    false,
                )
                .is_ok_and(|v| v.decision == Decision::Allowed)
            })
            .map(|t| t.id)
            .collect();
        permitted.sort();
        Ok((permitted, state.revision))
    }

    /// The registered resources of one type on which the subject holds the permission,
    /// sorted by id.
    pub async fn permitted_resources(
        &self,
        subject: Subject,
        permission: PermissionId,
        kind: crate::model::ResourceType,
    ) -> Result<(Vec<ResourceRef>, u64), CheckError> {
        let (access, state) = self.access(subject, 0).await?;
        let now = unix_now();
        let mut permitted: Vec<ResourceRef> = state
            .resources
            .iter()
            .filter(|(resource, _)| resource.kind == kind)
            .filter(|(resource, owner)| {
                let target = Target::Resource {
                    resource: (*resource).clone(),
                    owner: **owner,
                };
                engine::decide(
                    access.as_deref(),
                    permission,
                    &target,
                    &state.tenants,
                    now,
                    false,
                )
                .is_ok_and(|v| v.decision == Decision::Allowed)
            })
            .map(|(resource, _)| resource.clone())
            .collect();
        permitted.sort_by(|a, b| a.id.cmp(&b.id));
        Ok((permitted, state.revision))
    }

    /// The groups with these ids, for showing names (not on the hot path). A sidecar
    /// without a database has none: the tier shows them.
    pub async fn groups(
        &self,
        ids: &[crate::model::GroupId],
    ) -> Result<Vec<crate::model::Group>, CheckError> {
        let store = self.cache.store().ok_or_else(|| {
            StoreError::Upstream("group names are held by the database tier; ask it".into())
        })?;
        Ok(crate::store::find_groups(store.db(), ids).await?)
    }
}

/// Resolves a target against the applied indexes: NOT_FOUND for unknown ones.
fn resolve(target: &TargetRef, state: &AppliedState) -> Result<Target, CheckError> {
    match target {
        TargetRef::None => Ok(Target::None),
        TargetRef::Tenant(id) if state.tenants.contains(*id) => Ok(Target::Tenant(*id)),
        TargetRef::Tenant(id) => Err(CheckError::TenantNotFound(*id)),
        TargetRef::Resource(resource) => match state.resources.owner(resource) {
            Some(owner) => Ok(Target::Resource {
                resource: resource.clone(),
                owner,
            }),
            None => Err(CheckError::ResourceNotFound(resource.clone())),
        },
    }
}

/// Why a check was answered as it was, for a person reading an explanation.
fn reason(
    access: Option<&EffectiveAccess>,
    permission: crate::model::PermissionId,
    decision: Decision,
    now: i64,
) -> String {
    let key = &crate::model::catalogue().get(permission).key;
    match (decision, access) {
        (Decision::UserInactive, None) => {
            "no user has this id or Azure object id: create the user, or check the id".into()
        }
        (Decision::UserInactive, Some(access)) if access.user.disabled => {
            "the user is disabled, and a disabled user is denied everything".into()
        }
        (Decision::UserInactive, Some(access)) => format!(
            "the user expired at {} (Unix seconds; now {now}), and an expired user is denied everything",
            access.user.expires_at.unwrap_or_default()
        ),
        (Decision::Denied, _) => {
            format!("a deny of `{key}` applies here, and a deny always wins")
        }
        (Decision::Allowed, _) => format!("an allow of `{key}` applies here and no deny does"),
        (Decision::NotGranted, _) if crate::model::catalogue().get(permission).msp_only => {
            format!(
                "`{key}` is for users of MSP tenants only, or no assignment of the user grants it here"
            )
        }
        (Decision::NotGranted, _) => {
            format!("no assignment of the user, direct or through a group, grants `{key}` here")
        }
    }
}
