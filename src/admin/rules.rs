//! Who may change what (docs/model.md): each rule is the actor's own access, decided by the
//! engine on the state inside the write, and a refusal names the permission and the
//! scope that were missing. What a write lets newly reach anyone is judged apart
//! (`reach.rs`).

use sea_orm::ConnectionTrait;

use crate::engine::{
    self, Decision, EffectiveAccess, Reach, Refusal, RefusalReason, Target, assignable, holds_at,
    scope_kind_permission,
};
use crate::model::permissions::{
    ASSIGN_CROSS_TENANT_ROLES, GROUPS_MANAGE, Named, ROLES_MANAGE, ROLES_MANAGE_PUBLIC,
    USERS_MANAGE,
};
use crate::model::{
    Group, PermissionId, PermissionSet, Principal, Role, RoleAssignment, Scope, TenantId, User,
    UserId, catalogue, unix_now,
};
use crate::store;

use super::reach::widening;
use super::visibility::Visible;
use super::{Actor, Admin, AdminError, Result, existing};

fn denied(who: UserId, permission: PermissionId, place: impl std::fmt::Display) -> AdminError {
    let key = &catalogue().get(permission).key;
    AdminError::PermissionDenied(
        Refusal::new(
            RefusalReason::MissingPermission,
            format!("actor `{who}` needs `{key}` on {place}"),
        )
        .at(key, place),
    )
}

/// Refused, naming who lacks it, unless `holds` says yes for the actor and for the
/// impersonator behind them.
fn require_each(
    actor: &Actor,
    permission: PermissionId,
    place: impl std::fmt::Display,
    holds: impl Fn(&EffectiveAccess) -> Result<bool>,
) -> Result<()> {
    for access in actor.accesses() {
        if !holds(access)? {
            return Err(denied(access.user_id(), permission, &place));
        }
    }
    Ok(())
}

impl Admin {
    /// The actor holds `key` on the tenant (an ordinary check).
    pub(super) fn require_on_tenant(
        &self,
        actor: &Actor,
        permission: impl Into<PermissionId>,
        tenant: TenantId,
    ) -> Result<()> {
        self.require_on(
            actor,
            permission.into(),
            &Target::Tenant(tenant),
            &format!("tenant `{tenant}`"),
        )
    }

    /// The actor (and the impersonator behind them) holds `permission` on the target.
    pub(super) fn require_on(
        &self,
        actor: &Actor,
        permission: PermissionId,
        target: &Target,
        place: &str,
    ) -> Result<()> {
        require_each(actor, permission, place, |access| {
            let tenants = &actor.state.tenants;
            let verdict =
                engine::decide(Some(access), permission, target, tenants, unix_now(), false)
                    .map_err(|e| AdminError::InvalidArgument(e.to_string()))?;
            Ok(verdict.decision == Decision::Allowed)
        })
    }

    /// The actor (and the impersonator behind them) holds `key` over the whole scope: an
    /// allow whose scope contains it and no deny reaching into it (User's Tenant must be
    /// resolved by the caller).
    pub(super) fn require_at(
        &self,
        actor: &Actor,
        permission: impl Into<PermissionId>,
        scope: &Scope,
    ) -> Result<()> {
        let permission = permission.into();
        let (tenants, resources) = (&actor.state.tenants, &actor.state.resources);
        require_each(actor, permission, scope, |access| {
            Ok(holds_at(
                access,
                permission,
                scope,
                tenants,
                resources,
                unix_now(),
            ))
        })
    }

    /// `key` on an owner tenant, or at Owner scope for what no tenant owns.
    pub(super) fn require_on_owner(
        &self,
        actor: &Actor,
        permission: impl Into<PermissionId>,
        owner: Option<TenantId>,
    ) -> Result<()> {
        match owner {
            Some(tenant) => self.require_on_tenant(actor, permission, tenant),
            None => self.require_at(actor, permission, &Scope::Owner),
        }
    }

    /// Where a list may look: the tenants where the actor holds `key` (only `only`, when
    /// given), sorted; None when that is every tenant, so that no filter is needed.
    pub(super) fn tenants_where(
        &self,
        actor: &Actor,
        permission: Named,
        only: Option<TenantId>,
    ) -> Option<Vec<TenantId>> {
        let tenants = &actor.state.tenants;
        let permitted = |id: TenantId| self.require_on_tenant(actor, permission, id).is_ok();
        if let Some(id) = only {
            return Some(vec![id].into_iter().filter(|id| permitted(*id)).collect());
        }
        let mut ids: Vec<TenantId> = tenants
            .nodes()
            .map(|node| node.id)
            .filter(|id| permitted(*id))
            .collect();
        if ids.len() == tenants.nodes().count() {
            return None;
        }
        ids.sort();
        Some(ids)
    }

    /// Editing roles: never built-in ones; public ones need the system permission, a
    /// tenant's `rbac.roles.manage` there; and the actor must hold every permission they
    /// add where the role can be used (its owner tenant; Owner scope for a public role or
    /// a system permission). What the edit lets reach the role's holders is judged apart.
    pub(super) fn require_role_edit(
        &self,
        actor: &Actor,
        role: &Role,
        added: &PermissionSet,
    ) -> Result<()> {
        if role.built_in {
            return Err(AdminError::PermissionDenied(Refusal::new(
                RefusalReason::BuiltInRole,
                format!(
                    "built-in role `{}` is read-only for everyone; copy it into a custom role instead",
                    role.name
                ),
            )));
        }
        match role.owner {
            None => self.require_at(actor, ROLES_MANAGE_PUBLIC, &Scope::Owner)?,
            Some(tenant) => self.require_on_tenant(actor, ROLES_MANAGE, tenant)?,
        }
        for permission in added.iter() {
            let key = &catalogue().get(permission).key;
            let scope = match role.owner {
                Some(tenant) if !catalogue().is_system(permission) => Scope::Tenant(tenant),
                _ => Scope::Owner,
            };
            if self.require_at(actor, permission, &scope).is_err() {
                let reason = if catalogue().is_system(permission) {
                    RefusalReason::SystemPermission
                } else {
                    RefusalReason::MissingPermission
                };
                return Err(AdminError::PermissionDenied(
                    Refusal::new(
                        reason,
                        format!(
                            "actor `{}` cannot put `{key}` into role `{}`: nobody grants a permission they do not hold at {scope}",
                            actor.id(),
                            role.name,
                        ),
                    )
                    .at(key, scope),
                ));
            }
        }
        Ok(())
    }

    /// Creating or deleting an assignment (docs/model.md): the scope-kind permission at a
    /// containing scope, a visible role assignable there, a managed principal, and the
    /// cross-tenant permission for roles with system permissions. Returns the warnings to
    /// show. What a new allow or a removed deny lets reach its users is judged apart.
    pub(super) async fn require_assign<C: ConnectionTrait>(
        &self,
        db: &C,
        actor: &Actor,
        assignment: &RoleAssignment,
        role: &Role,
    ) -> Result<Vec<String>> {
        let (principal_tenant, group) = match assignment.principal {
            Principal::User(id) => {
                let user = existing(db, id).await?;
                (Some(user.tenant_id), None)
            }
            Principal::Group(id) => {
                let group = existing(db, id).await?;
                (group.owner, Some(group))
            }
        };
        self.require_scope_kind(actor, &assignment.scope, principal_tenant)?;
        role.require_seen(self, actor)?;
        if let Some(owner) = role.owner {
            let fits = assignable(
                owner,
                &assignment.scope,
                principal_tenant,
                &actor.state.tenants,
                &actor.state.resources,
            );
            if !fits {
                return Err(AdminError::PermissionDenied(Refusal::new(
                    RefusalReason::OutsideAssignableScope,
                    format!(
                        "role `{}` belongs to tenant `{owner}`, so it can be assigned only at scopes inside that tenant's subtree, not at {}",
                        role.name, assignment.scope
                    ),
                )));
            }
        }
        match group {
            None => {
                if let Some(tenant) = principal_tenant {
                    self.require_on_tenant(actor, USERS_MANAGE, tenant)?;
                }
            }
            Some(group) => self.require_manage_group(actor, &group)?,
        }
        let mut warnings = Vec::new();
        if role.permissions.intersects(&catalogue().system()) {
            self.require_system(actor)?;
            if assignment.scope != Scope::Owner {
                let keys = catalogue().keys(&PermissionSet::from_iter(
                    role.permissions
                        .iter()
                        .filter(|p| catalogue().is_system(*p)),
                ));
                warnings.push(format!(
                    "role `{}` holds system permissions ({}) that are not limited by {}",
                    role.name,
                    keys.join(", "),
                    assignment.scope
                ));
            }
        }
        Ok(warnings)
    }

    /// `rbac.assign-cross-tenant-roles`, for anything that hands out system permissions.
    fn require_system(&self, actor: &Actor) -> Result<()> {
        let key = ASSIGN_CROSS_TENANT_ROLES.key();
        self.require_at(actor, ASSIGN_CROSS_TENANT_ROLES, &Scope::Owner)
            .map_err(|_| {
                AdminError::PermissionDenied(
                    Refusal::new(
                        RefusalReason::SystemPermission,
                        format!(
                            "actor `{}` needs `{key}` to hand out a role with system permissions",
                            actor.id()
                        ),
                    )
                    .at(key, Scope::Owner),
                )
            })
    }

    /// The permission for the scope's kind, held over the whole scope.
    fn require_scope_kind(
        &self,
        actor: &Actor,
        scope: &Scope,
        principal_tenant: Option<TenantId>,
    ) -> Result<()> {
        let key = scope_kind_permission(scope);
        match (scope, principal_tenant) {
            (Scope::UsersTenant, Some(tenant)) => self.require_on_tenant(actor, key, tenant),
            (Scope::UsersTenant, None) => self.require_at(actor, key, &Scope::Owner),
            (scope, _) => self.require_at(actor, key, scope),
        }
    }

    /// Managing a group: `rbac.groups.manage` on its owner, or at Owner scope.
    pub(super) fn require_manage_group(&self, actor: &Actor, group: &Group) -> Result<()> {
        self.require_on_owner(actor, GROUPS_MANAGE, group.owner)
    }

    /// Changing a group's members changes what the member holds: the right to manage the
    /// group and the member, and every allow of the group that a new member gains (or
    /// deny a leaving member loses) judged as a grant to them.
    pub(super) async fn require_membership_change<C: ConnectionTrait>(
        &self,
        db: &C,
        actor: &Actor,
        group: &Group,
        member: &User,
        joins: bool,
    ) -> Result<()> {
        self.require_manage_group(actor, group)?;
        self.require_on_tenant(actor, USERS_MANAGE, member.tenant_id)?;
        let mut widened = Vec::new();
        for assignment in store::group_assignments(db, group.id).await? {
            let Some(role) = store::find(db, assignment.role_id).await? else {
                continue;
            };
            let Some(widening) = widening(assignment.effect, joins) else {
                continue;
            };
            widened.push(Reach {
                user: member.into(),
                permissions: role.permissions,
                scope: assignment.scope,
                over: None,
                widening,
            });
        }
        self.judge(actor, &widened)
    }

    /// Acting on a user who holds a system permission the actor (or the impersonator
    /// behind them) lacks is an escalation.
    pub(super) fn require_not_more_powerful(
        &self,
        actor: &Actor,
        target: &EffectiveAccess,
    ) -> Result<()> {
        let tenants = &actor.state.tenants;
        let now = unix_now();
        let holds = |access, permission| {
            engine::decide(Some(access), permission, &Target::None, tenants, now, false)
                .is_ok_and(|v| v.decision == Decision::Allowed)
        };
        for access in actor.accesses() {
            for permission in catalogue().system().iter() {
                if holds(target, permission) && !holds(access, permission) {
                    let key = &catalogue().get(permission).key;
                    return Err(AdminError::PermissionDenied(
                        Refusal::new(
                            RefusalReason::SystemPermission,
                            format!(
                                "actor `{}` cannot act on `{}`, who holds the system permission `{key}` that the actor lacks",
                                access.user_id(),
                                target.user_id(),
                            ),
                        )
                        .at(key, Scope::Owner),
                    ));
                }
            }
        }
        Ok(())
    }
}
