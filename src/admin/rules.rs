//! Who may change what (DESIGN.md): each rule is the actor's own access, decided by the
//! engine, and a refusal names the permission and the scope that were missing.

use crate::engine::{self, Decision, Target, holds_at, resolve_users_tenant};
use crate::model::{
    Group, PermissionSet, Principal, Role, RoleAssignment, Scope, TenantId, User, catalogue,
    unix_now,
};
use crate::store;

use super::{Actor, Admin, AdminError};

fn denied(actor: &Actor, key: &str, place: impl std::fmt::Display) -> AdminError {
    AdminError::PermissionDenied(format!("actor `{}` needs `{key}` on {place}", actor.id()))
}

impl Admin {
    /// The actor holds `key` on the tenant (an ordinary check).
    pub(super) fn require_on_tenant(
        &self,
        actor: &Actor,
        key: &str,
        tenant: TenantId,
    ) -> Result<(), AdminError> {
        self.require_on(
            actor,
            key,
            &Target::Tenant(tenant),
            &format!("tenant `{tenant}`"),
        )
    }

    pub(super) fn require_on(
        &self,
        actor: &Actor,
        key: &str,
        target: &Target,
        place: &str,
    ) -> Result<(), AdminError> {
        let permission = catalogue().id(key).ok_or_else(|| {
            AdminError::FailedPrecondition(format!("`{key}` is not in the catalogue"))
        })?;
        let verdict = engine::decide(
            Some(&actor.access),
            permission,
            target,
            &self.cache.tenants(),
            unix_now(),
            false,
        )
        .map_err(|e| AdminError::InvalidArgument(e.to_string()))?;
        match verdict.decision {
            Decision::Allowed => Ok(()),
            _ => Err(denied(actor, key, place)),
        }
    }

    /// The actor holds `key` over the whole scope: an allow whose scope contains it and no
    /// deny reaching into it (User's Tenant must be resolved by the caller).
    pub(super) fn require_at(
        &self,
        actor: &Actor,
        key: &str,
        scope: &Scope,
    ) -> Result<(), AdminError> {
        let permission = catalogue().id(key).ok_or_else(|| {
            AdminError::FailedPrecondition(format!("`{key}` is not in the catalogue"))
        })?;
        let held = holds_at(
            &actor.access,
            permission,
            scope,
            &self.cache.tenants(),
            &self.cache.resources(),
            unix_now(),
        );
        if held {
            Ok(())
        } else {
            Err(denied(actor, key, scope))
        }
    }

    /// `key` on an owner tenant, or at Owner scope for what no tenant owns.
    pub(super) fn require_on_owner(
        &self,
        actor: &Actor,
        key: &str,
        owner: Option<TenantId>,
    ) -> Result<(), AdminError> {
        match owner {
            Some(tenant) => self.require_on_tenant(actor, key, tenant),
            None => self.require_at(actor, key, &Scope::Owner),
        }
    }

    /// Where a list may look: the tenants where the actor holds `key` (only `only`, when
    /// given), sorted; None when that is every tenant, so that no filter is needed.
    pub(super) fn tenants_where(
        &self,
        actor: &Actor,
        key: &str,
        only: Option<TenantId>,
    ) -> Option<Vec<TenantId>> {
        let tenants = self.cache.tenants();
        let permitted = |id: TenantId| self.require_on_tenant(actor, key, id).is_ok();
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

    /// Public roles (built-in ones included) are visible to everyone; a tenant's roles to
    /// those who manage roles there.
    pub(super) fn can_see_role(&self, actor: &Actor, role: &Role) -> bool {
        role.owner.is_none_or(|tenant| {
            self.require_on_tenant(actor, "rbac.roles.manage", tenant)
                .is_ok()
        })
    }

    /// Editing roles: never built-in ones; public ones need the system permission; the
    /// actor must hold every permission they add, where the role can be used.
    pub(super) fn require_role_edit(
        &self,
        actor: &Actor,
        role: &Role,
        added: &PermissionSet,
    ) -> Result<(), AdminError> {
        if role.built_in {
            return Err(AdminError::PermissionDenied(format!(
                "built-in role `{}` is read-only for everyone; copy it into a custom role instead",
                role.name
            )));
        }
        match role.owner {
            None => self.require_at(actor, "rbac.roles.manage-public", &Scope::Owner)?,
            Some(tenant) => self.require_on_tenant(actor, "rbac.roles.manage", tenant)?,
        }
        for permission in added.iter() {
            let key = &catalogue().get(permission).key;
            let needed = match role.owner {
                Some(tenant) if !catalogue().is_system(permission) => {
                    self.require_on_tenant(actor, key, tenant)
                }
                _ => self.require_at(actor, key, &Scope::Owner),
            };
            needed.map_err(|_| {
                AdminError::PermissionDenied(format!(
                    "actor `{}` cannot put `{key}` into role `{}`: nobody grants a permission they do not hold{}",
                    actor.id(),
                    role.name,
                    role.owner.map_or(" at Owner scope".to_owned(), |t| format!(" on tenant `{t}`")),
                ))
            })?;
        }
        Ok(())
    }

    /// Creating or deleting an assignment (DESIGN.md): the scope-kind permission at a
    /// containing scope, a visible role, a managed principal, and the cross-tenant
    /// permission for roles with system permissions. Returns the warnings to show.
    pub(super) async fn require_assign(
        &self,
        actor: &Actor,
        assignment: &RoleAssignment,
        role: &Role,
    ) -> Result<Vec<String>, AdminError> {
        let db = self.store.db();
        let (principal_tenant, group_owner) = match assignment.principal {
            Principal::User(id) => {
                let user = store::find_user(db, id)
                    .await?
                    .ok_or_else(|| AdminError::NotFound(format!("user `{id}` does not exist")))?;
                (Some(user.tenant_id), None)
            }
            Principal::Group(id) => {
                let group = store::find_group(db, id)
                    .await?
                    .ok_or_else(|| AdminError::NotFound(format!("group `{id}` does not exist")))?;
                (group.owner, Some(group))
            }
        };
        self.require_scope_kind(actor, &assignment.scope, principal_tenant)?;
        self.require_see_role(actor, role)?;
        match (assignment.principal, group_owner) {
            (Principal::User(_), _) => {
                if let Some(tenant) = principal_tenant {
                    self.require_on_tenant(actor, "users.manage", tenant)?;
                }
            }
            (Principal::Group(_), Some(group)) => self.require_manage_group(actor, &group)?,
            (Principal::Group(_), None) => {}
        }
        let mut warnings = Vec::new();
        if role.permissions.intersects(&catalogue().system()) {
            self.require_at(actor, "rbac.assign-cross-tenant-roles", &Scope::Owner)?;
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

    /// The permission for the scope's kind, held over the whole scope.
    fn require_scope_kind(
        &self,
        actor: &Actor,
        scope: &Scope,
        principal_tenant: Option<TenantId>,
    ) -> Result<(), AdminError> {
        match scope {
            Scope::Owner => self.require_at(actor, "rbac.assign-owner-scope", scope),
            Scope::Msp(_) => self.require_at(actor, "rbac.assign-msp-scope", scope),
            Scope::TenantTag(_) => self.require_at(actor, "rbac.assign-tag-scope", scope),
            Scope::Tenant(_) | Scope::Resource(_) => {
                self.require_at(actor, "rbac.assign-tenant-scope", scope)
            }
            Scope::UsersTenant => match principal_tenant {
                Some(tenant) => self.require_on_tenant(actor, "users.manage", tenant),
                None => self.require_at(actor, "users.manage", &Scope::Owner),
            },
        }
    }

    /// Managing a group: `rbac.groups.manage` on its owner, or at Owner scope.
    pub(super) fn require_manage_group(
        &self,
        actor: &Actor,
        group: &Group,
    ) -> Result<(), AdminError> {
        self.require_on_owner(actor, "rbac.groups.manage", group.owner)
    }

    /// Changing a group's members changes what the members hold: the actor must be able
    /// to make every one of the group's assignments, judged for that member.
    pub(super) async fn require_membership_change(
        &self,
        actor: &Actor,
        group: &Group,
        member: &User,
    ) -> Result<(), AdminError> {
        self.require_manage_group(actor, group)?;
        self.require_on_tenant(actor, "users.manage", member.tenant_id)?;
        let db = self.store.db();
        for assignment in store::group_assignments(db, group.id).await? {
            let Some(role) = store::find_role(db, assignment.role_id).await? else {
                continue;
            };
            let scope = resolve_users_tenant(&assignment.scope, member.tenant_id);
            self.require_scope_kind(actor, &scope, Some(member.tenant_id))?;
            if role.permissions.intersects(&catalogue().system()) {
                self.require_at(actor, "rbac.assign-cross-tenant-roles", &Scope::Owner)?;
            }
        }
        Ok(())
    }

    /// Acting on a user who holds a system permission the actor lacks is an escalation.
    pub(super) fn require_not_more_powerful(
        &self,
        actor: &Actor,
        target_access: Option<&crate::engine::EffectiveAccess>,
    ) -> Result<(), AdminError> {
        let Some(target) = target_access else {
            return Ok(());
        };
        let tenants = self.cache.tenants();
        let now = unix_now();
        let holds = |access, permission| {
            engine::decide(
                Some(access),
                permission,
                &Target::None,
                &tenants,
                now,
                false,
            )
            .is_ok_and(|v| v.decision == Decision::Allowed)
        };
        for permission in catalogue().system().iter() {
            if holds(target, permission) && !holds(&actor.access, permission) {
                return Err(AdminError::PermissionDenied(format!(
                    "actor `{}` cannot act on `{}`, who holds the system permission `{}` that the actor lacks",
                    actor.id(),
                    target.user_id(),
                    catalogue().get(permission).key
                )));
            }
        }
        Ok(())
    }
}
