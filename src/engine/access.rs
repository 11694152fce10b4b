//! A user's effective access: every assignment that reaches them, directly or through a
//! group, flattened to (role permissions as a bitset, scope, effect), ready to decide on.

use std::sync::Arc;

use uuid::Uuid;

use crate::model::{
    AssignmentId, Effect, GroupId, PermissionId, PermissionSet, RoleId, Scope, TenantId, User,
    UserId,
};

/// A role as a user's effective access needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleFacts {
    pub id: RoleId,
    pub name: Arc<str>,
    pub permissions: PermissionSet,
}

/// A group the user belongs to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupRef {
    pub id: GroupId,
    pub name: String,
}

/// One assignment reaching the user, as loaded from storage.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AssignmentFacts {
    pub id: AssignmentId,
    pub role_id: RoleId,
    pub scope: Scope,
    pub effect: Effect,
    /// None: direct; otherwise the group it comes through.
    pub via_group: Option<GroupId>,
}

/// One applying candidate of a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub assignment_id: AssignmentId,
    /// Index into [`EffectiveAccess::roles`].
    pub role: u16,
    pub scope: Scope,
    pub effect: Effect,
    pub via_group: Option<GroupId>,
}

/// Everything needed to decide any check for one user, without I/O.
#[derive(Clone, Debug)]
pub struct EffectiveAccess {
    pub user: User,
    pub groups: Vec<GroupRef>,
    pub roles: Vec<RoleFacts>,
    pub grants: Vec<Grant>,
    /// Union of the permissions of every allow grant: a miss here is a fast "not granted".
    allowed: PermissionSet,
    /// Union of the permissions of every deny grant.
    denied: PermissionSet,
}

impl EffectiveAccess {
    /// Flattens a user's assignments. Assignments whose role is missing from `roles` are
    /// dropped (the role was deleted concurrently).
    pub fn compile(
        user: User,
        groups: Vec<GroupRef>,
        roles: Vec<RoleFacts>,
        assignments: Vec<AssignmentFacts>,
    ) -> EffectiveAccess {
        let mut allowed = PermissionSet::default();
        let mut denied = PermissionSet::default();
        let grants = assignments
            .into_iter()
            .filter_map(|a| {
                let index = roles.iter().position(|r| r.id == a.role_id)?;
                let permissions = roles[index].permissions;
                match a.effect {
                    Effect::Allow => allowed = allowed.union(&permissions),
                    Effect::Deny => denied = denied.union(&permissions),
                }
                Some(Grant {
                    assignment_id: a.id,
                    role: u16::try_from(index).ok()?,
                    scope: a.scope,
                    effect: a.effect,
                    via_group: a.via_group,
                })
            })
            .collect();
        EffectiveAccess {
            user,
            groups,
            roles,
            grants,
            allowed,
            denied,
        }
    }

    pub fn user_id(&self) -> UserId {
        self.user.id
    }

    pub fn tenant_id(&self) -> TenantId {
        self.user.tenant_id
    }

    pub fn azure_object_id(&self) -> Uuid {
        self.user.azure_object_id
    }

    pub fn role_of(&self, grant: &Grant) -> &RoleFacts {
        &self.roles[usize::from(grant.role)]
    }

    /// True when some grant of either effect mentions the permission.
    pub fn mentions(&self, permission: PermissionId) -> bool {
        self.allowed.contains(permission) || self.denied.contains(permission)
    }

    /// True when some deny grant holds the permission: only then must an allow keep looking.
    pub fn may_deny(&self, permission: PermissionId) -> bool {
        self.denied.contains(permission)
    }

    /// Permissions granted somewhere by an allow.
    pub fn allowed_permissions(&self) -> PermissionSet {
        self.allowed
    }

    /// The grants whose role holds the permission.
    pub fn grants_of(&self, permission: PermissionId) -> impl Iterator<Item = &Grant> {
        self.grants
            .iter()
            .filter(move |g| self.role_of(g).permissions.contains(permission))
    }

    /// True when this entry was built from the role (exact invalidation on role edits).
    pub fn uses_role(&self, role: RoleId) -> bool {
        self.roles.iter().any(|r| r.id == role)
    }

    /// True when the user was a member of the group when this entry was built.
    pub fn in_group(&self, group: GroupId) -> bool {
        self.groups.iter().any(|g| g.id == group)
    }
}
