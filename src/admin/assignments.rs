//! Role assignments: listed, created and deleted under the rules of docs/model.md.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use sea_orm::ConnectionTrait;

use crate::model::permissions::ASSIGNMENTS_VIEW;
use crate::model::{
    Action, AssignmentId, Effect, Principal, ResourceRef, RoleAssignment, RoleId, Scope, TenantId,
};
use crate::store::{self, AssignmentFilter, StoredAssignment, Write};

use super::reach::reaches;
use super::{Actor, Admin, AdminError, Changed, PageSize, Result, existing};

/// An assignment to create.
#[derive(Clone, Debug)]
pub struct NewAssignment {
    pub role_id: RoleId,
    pub principal: Principal,
    pub scope: Scope,
    pub effect: Effect,
}

/// Assignments per page when none is asked for, and the most a page holds.
const PAGE: PageSize = PageSize {
    default: 100,
    max: 1000,
};

impl Admin {
    /// Assignments that `filter` matches, by id, one page at a time: those whose
    /// principal's tenant (a group's owner; Owner scope for an unowned group) the actor
    /// holds `rbac.assignments.view` on. `filter.principals` is set here: `principal`'s,
    /// and for a user, unless `direct_only`, their groups' too. A `limit` of None or 0
    /// asks for the default page.
    pub async fn list_assignments(
        &self,
        actor: &Actor,
        principal: Option<Principal>,
        direct_only: bool,
        mut filter: AssignmentFilter,
    ) -> Result<(Vec<StoredAssignment>, Option<AssignmentId>)> {
        let db = self.store.db();
        filter.principals = match principal {
            None => None,
            Some(Principal::User(user)) if !direct_only => {
                let mut principals = vec![Principal::User(user)];
                principals.extend(
                    store::user_groups(db, user)
                        .await?
                        .into_iter()
                        .map(|g| Principal::Group(g.id)),
                );
                Some(principals)
            }
            Some(principal) => Some(vec![principal]),
        };
        let limit = PAGE.limit(filter.limit.unwrap_or_default());
        filter.limit = Some(limit);
        let mut visible = Vec::new();
        let mut owners: HashMap<Principal, Option<TenantId>> = HashMap::new();
        // Rows the actor may not see are skipped, so keep reading until the page is full.
        loop {
            let rows = store::assignments(db, &filter).await?;
            let exhausted = (rows.len() as u64) < limit;
            for row in rows {
                filter.after = Some(row.assignment.id);
                let principal = row.assignment.principal;
                let owner = match owners.get(&principal) {
                    Some(owner) => *owner,
                    None => {
                        let owner = self.principal_tenant(principal).await?;
                        *owners.entry(principal).or_insert(owner)
                    }
                };
                if self
                    .require_on_owner(actor, ASSIGNMENTS_VIEW, owner)
                    .is_ok()
                {
                    visible.push(row);
                    if visible.len() as u64 == limit {
                        return Ok((visible, filter.after));
                    }
                }
            }
            if exhausted {
                return Ok((visible, None));
            }
        }
    }

    /// The tenant a principal belongs to: a user's tenant, a group's owner.
    async fn principal_tenant(&self, principal: Principal) -> Result<Option<TenantId>> {
        let db = self.store.db();
        Ok(match principal {
            Principal::User(id) => store::find(db, id).await?.map(|u| u.tenant_id),
            Principal::Group(id) => store::find(db, id).await?.and_then(|g| g.owner),
        })
    }

    /// Checks that a scope names things that exist and fit.
    async fn validate_scope<C: ConnectionTrait>(
        &self,
        db: &C,
        actor: &Actor,
        scope: &Scope,
    ) -> Result<()> {
        match scope {
            Scope::Msp(tenant) => {
                let tenant = existing(db, *tenant).await?;
                if !tenant.is_msp {
                    return Err(AdminError::FailedPrecondition(format!(
                        "tenant `{}` is not an MSP, so it cannot be an MSP scope; use a tenant scope",
                        tenant.id
                    )));
                }
            }
            Scope::Tenant(tenant) => {
                existing(db, *tenant).await?;
            }
            Scope::TenantTag(tag) => {
                existing(db, *tag).await?;
            }
            Scope::Resource(resource) => existing_resource(actor, resource)?,
            Scope::Owner | Scope::UsersTenant => {}
        }
        Ok(())
    }

    /// Creates an assignment under the rules of docs/model.md; returns it with its warnings.
    pub async fn create_assignment(
        &self,
        actor: &Actor,
        new: NewAssignment,
    ) -> Result<(StoredAssignment, u64, Vec<String>)> {
        self.write(
            actor,
            Action::CreateRoleAssignment,
            new.role_id,
            async |write, actor| {
                let role = existing(write.txn(), new.role_id).await?;
                self.validate_scope(write.txn(), actor, &new.scope).await?;
                let assignment = RoleAssignment {
                    id: AssignmentId::random(),
                    role_id: new.role_id,
                    principal: new.principal,
                    scope: new.scope,
                    effect: new.effect,
                };
                let warnings = self
                    .require_assign(write.txn(), actor, &assignment, &role)
                    .await?;
                let widened =
                    reaches(write.txn(), &assignment, role.permissions, true, None).await?;
                self.judge(actor, &widened)?;
                let stored = StoredAssignment::now(assignment, Some(actor.id()));
                write.insert_assignment(&stored).await?;
                let assignment = &stored.assignment;
                let changed = Changed {
                    target: assignment.id.to_string(),
                    before: None,
                    after: format!(
                        "{} {} at {}",
                        role.name, assignment.effect, assignment.scope
                    ),
                };
                Ok(((stored, warnings), changed))
            },
        )
        .await
        .map(|((stored, warnings), revision)| (stored, revision, warnings))
    }

    /// Deletes an assignment: the same rules as creating it.
    pub async fn delete_assignment(&self, actor: &Actor, id: AssignmentId) -> Result<u64> {
        self.change(
            actor,
            Action::DeleteRoleAssignment,
            id,
            async |write, actor| {
                let assignment = existing(write.txn(), id).await?;
                self.delete_assignments(write, actor, &[assignment]).await?;
                Ok(Changed::new(id, None, String::new()))
            },
        )
        .await
    }

    /// Deletes assignments, alone or with the role or group that holds them: the actor
    /// must be able to delete each (the rules of creating it), and what their going lets
    /// reach anyone (a lifted deny) is judged against the actor's own access.
    pub(super) async fn delete_assignments(
        &self,
        write: &mut Write<'_>,
        actor: &Actor,
        assignments: &[RoleAssignment],
    ) -> Result<()> {
        let mut widened = Vec::new();
        // Most go with one role (a deleted role's assignments): each role is read once.
        let mut roles = HashMap::new();
        for assignment in assignments {
            let role = match roles.entry(assignment.role_id) {
                Entry::Occupied(known) => known.into_mut(),
                Entry::Vacant(new) => new.insert(existing(write.txn(), assignment.role_id).await?),
            };
            self.require_assign(write.txn(), actor, assignment, role)
                .await?;
            widened.extend(reaches(write.txn(), assignment, role.permissions, false, None).await?);
        }
        self.judge(actor, &widened)?;
        for assignment in assignments {
            write.delete_assignment(assignment).await?;
        }
        Ok(())
    }
}

/// NOT_FOUND unless the resource is registered in the state the call is judged on.
fn existing_resource(actor: &Actor, resource: &ResourceRef) -> Result<()> {
    match actor.state.resources.owner(resource) {
        Some(_) => Ok(()),
        None => Err(AdminError::NotFound(format!(
            "resource `{resource}` is not registered; register it with UpsertResource first"
        ))),
    }
}
