//! What the "Check Access" tab and the profile page show.

use std::sync::Arc;
use std::time::Duration;

use crate::data_plane::{CheckError, CheckOutcome, CheckRequest, Checker, Subject, TargetRef};
use crate::engine::EffectiveAccess;
use crate::model::permissions::{ASSIGNMENTS_VIEW, TENANTS_VIEW};
use crate::model::{Action, Group, PermissionId, User, UserId, catalogue};
use crate::store;

use super::{Actor, Admin, AdminError, Result, existing};

impl Admin {
    /// Every permission of a user at a tenant or resource, each decided and explained:
    /// `rbac.assignments.view` on the user's tenant and `tenants.view` where the target
    /// lives (its tenant, a resource's owner; Owner scope for a global resource or a
    /// tenant that does not exist, so that a refusal does not tell which ids exist).
    pub async fn check_user_access(
        &self,
        actor: &Actor,
        user: UserId,
        target: TargetRef,
    ) -> Result<Vec<(PermissionId, CheckOutcome)>> {
        self.audited(actor, Action::CheckUserAccess, user, async {
            let subject = existing(self.store.db(), user).await?;
            self.require_on_tenant(actor, ASSIGNMENTS_VIEW, subject.tenant_id)?;
            let tenant = match &target {
                TargetRef::None => {
                    return Err(AdminError::InvalidArgument(
                        "`target` must name a tenant or a resource to check access at".into(),
                    ));
                }
                TargetRef::Tenant(id) => Some(*id).filter(|id| actor.state.tenants.contains(*id)),
                TargetRef::Resource(resource) => actor.state.resources.owner(resource).flatten(),
            };
            self.require_on_owner(actor, TENANTS_VIEW, tenant)?;
            let requests: Vec<CheckRequest> = catalogue()
                .permissions()
                .iter()
                .filter_map(|p| catalogue().id(&p.key))
                .map(|permission| CheckRequest {
                    subject: Subject::User(user),
                    permission,
                    target: target.clone(),
                    explain: true,
                    min_revision: 0,
                })
                .collect();
            let checker = Checker::new(Arc::clone(&self.cache), Duration::ZERO);
            let mut report = Vec::with_capacity(requests.len());
            for (request, outcome) in requests.iter().zip(checker.check_batch(&requests).await) {
                let outcome = outcome.map_err(|err| match err {
                    CheckError::TenantNotFound(_) | CheckError::ResourceNotFound(_) => {
                        AdminError::NotFound(err.to_string())
                    }
                    CheckError::Store(err) => AdminError::Store(err),
                    other => AdminError::InvalidArgument(other.to_string()),
                })?;
                report.push((request.permission, outcome));
            }
            Ok(report)
        })
        .await
    }

    /// The actor's own effective access and groups, with the revision it is exact up to.
    pub async fn my_access(
        &self,
        actor: &Actor,
    ) -> Result<(Arc<EffectiveAccess>, Vec<Group>, u64)> {
        let revision = self.cache.applied_revision();
        let groups = store::find_groups(self.store.db(), &actor.access.groups).await?;
        Ok((Arc::clone(&actor.access), groups, revision))
    }

    /// Who the call is from, as people: the actor's own user record and, while
    /// impersonating, the impersonator's. Everyone may read their own.
    pub async fn who(&self, actor: &Actor) -> Result<(User, Option<User>)> {
        let user = existing(self.store.db(), actor.id()).await?;
        let impersonator = match actor.impersonator_id() {
            Some(id) => Some(existing(self.store.db(), id).await?),
            None => None,
        };
        Ok((user, impersonator))
    }
}
