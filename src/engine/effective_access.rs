//! A user's effective access: every assignment that reaches them, directly or through a
//! group, flattened to (role permissions as a bitset, scope, effect), ready to decide on.

use std::sync::Arc;

use uuid::Uuid;

use crate::model::{
    AssignmentId, Effect, GroupId, PermissionId, PermissionSet, RoleId, Scope, TenantId, User,
    UserId,
};

/// A user as a decision needs them: no names, so that cached entries stay small.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserFacts {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub azure_object_id: Uuid,
    pub disabled: bool,
    /// Unix seconds after which the user is inactive.
    pub expires_at: Option<i64>,
}

impl UserFacts {
    /// A disabled or expired user is denied everything.
    pub fn is_active(&self, now: i64) -> bool {
        !self.disabled && self.expires_at.is_none_or(|at| now < at)
    }
}

impl From<&User> for UserFacts {
    fn from(user: &User) -> Self {
        UserFacts {
            id: user.id,
            tenant_id: user.tenant_id,
            azure_object_id: user.azure_object_id,
            disabled: user.disabled,
            expires_at: user.expires_at,
        }
    }
}

/// A role as a user's effective access needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleFacts {
    pub id: RoleId,
    pub name: Arc<str>,
    pub permissions: PermissionSet,
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

/// What storage knows of a user's access, before it is compiled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessFacts {
    pub user: UserFacts,
    pub groups: Vec<GroupId>,
    pub roles: Vec<Arc<RoleFacts>>,
    pub assignments: Vec<AssignmentFacts>,
}

impl AccessFacts {
    pub fn compile(self) -> EffectiveAccess {
        EffectiveAccess::compile(self.user, self.groups, self.roles, self.assignments)
    }
}

/// One applying candidate of a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Grant {
    pub assignment_id: AssignmentId,
    /// Index into [`EffectiveAccess::roles`].
    pub role: u16,
    pub scope: Scope,
    pub effect: Effect,
    /// None: direct; otherwise an index into [`EffectiveAccess::groups`].
    via_group: Option<u16>,
}

/// Everything needed to decide any check for one user, without I/O.
#[derive(Clone, Debug)]
pub struct EffectiveAccess {
    pub user: UserFacts,
    /// The groups the user belongs to.
    pub groups: Vec<GroupId>,
    /// Shared between users holding the same role (see `AccessCache`).
    pub roles: Vec<Arc<RoleFacts>>,
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
        user: UserFacts,
        mut groups: Vec<GroupId>,
        mut roles: Vec<Arc<RoleFacts>>,
        assignments: Vec<AssignmentFacts>,
    ) -> EffectiveAccess {
        let mut allowed = PermissionSet::default();
        let mut denied = PermissionSet::default();
        let mut grants = Vec::with_capacity(assignments.len());
        for a in assignments {
            let Some(index) = roles.iter().position(|r| r.id == a.role_id) else {
                continue;
            };
            let via_group = a.via_group.map(|group| {
                groups.iter().position(|g| *g == group).unwrap_or_else(|| {
                    groups.push(group);
                    groups.len() - 1
                })
            });
            let (Ok(role), Ok(via_group)) = (
                u16::try_from(index),
                via_group.map(u16::try_from).transpose(),
            ) else {
                continue;
            };
            let permissions = roles[index].permissions;
            match a.effect {
                Effect::Allow => allowed = allowed.union(&permissions),
                Effect::Deny => denied = denied.union(&permissions),
            }
            grants.push(Grant {
                assignment_id: a.id,
                role,
                scope: a.scope,
                effect: a.effect,
                via_group,
            });
        }
        // Entries live long in the cache: keep no spare capacity (an in-place `collect`
        // by the caller may have left the much larger source allocation behind).
        grants.shrink_to_fit();
        roles.shrink_to_fit();
        groups.shrink_to_fit();
        EffectiveAccess {
            user,
            groups,
            roles,
            grants,
            allowed,
            denied,
        }
    }

    /// The same access with the user active: what they would hold once enabled.
    pub fn as_active(&self) -> EffectiveAccess {
        EffectiveAccess {
            user: UserFacts {
                disabled: false,
                expires_at: None,
                ..self.user.clone()
            },
            ..self.clone()
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

    /// The group a grant comes through; None for a direct assignment.
    pub fn via_group(&self, grant: &Grant) -> Option<GroupId> {
        grant.via_group.map(|index| self.groups[usize::from(index)])
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
        self.groups.contains(&group)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::catalogue;

    fn facts(tenant: TenantId) -> UserFacts {
        UserFacts {
            id: UserId::random(),
            tenant_id: tenant,
            azure_object_id: Uuid::new_v4(),
            disabled: false,
            expires_at: None,
        }
    }

    fn role(keys: &[&str]) -> Arc<RoleFacts> {
        Arc::new(RoleFacts {
            id: RoleId::random(),
            name: Arc::from("role"),
            permissions: keys.iter().map(|k| catalogue().id(k).unwrap()).collect(),
        })
    }

    fn assignment(role: &RoleFacts, effect: Effect, via_group: Option<GroupId>) -> AssignmentFacts {
        AssignmentFacts {
            id: AssignmentId::random(),
            role_id: role.id,
            scope: Scope::Owner,
            effect,
            via_group,
        }
    }

    #[test]
    fn a_user_is_active_until_the_second_they_expire_and_never_while_disabled() {
        let mut user = facts(TenantId::random());
        assert!(user.is_active(i64::MAX));
        user.expires_at = Some(100);
        assert!(user.is_active(99));
        assert!(!user.is_active(100) && !user.is_active(101));
        user.expires_at = None;
        user.disabled = true;
        assert!(!user.is_active(0));
    }

    #[test]
    fn compile_keeps_each_grant_with_its_role_and_group() {
        let id = |key| catalogue().id(key).unwrap();
        let (viewer, denier, deleted) = (
            role(&["computers.view"]),
            role(&["computers.manage"]),
            role(&["users.view"]),
        );
        let (known, joined_meanwhile) = (GroupId::random(), GroupId::random());
        let user = facts(TenantId::random());
        let access = EffectiveAccess::compile(
            user.clone(),
            vec![known],
            vec![Arc::clone(&viewer), Arc::clone(&denier)],
            vec![
                assignment(&viewer, Effect::Allow, Some(joined_meanwhile)),
                assignment(&denier, Effect::Deny, Some(known)),
                assignment(&viewer, Effect::Allow, None),
                assignment(&deleted, Effect::Allow, None),
            ],
        );
        assert_eq!(
            access.grants.len(),
            3,
            "the deleted role's grant is dropped"
        );
        let groups: Vec<_> = access.grants.iter().map(|g| access.via_group(g)).collect();
        assert_eq!(groups, [Some(joined_meanwhile), Some(known), None]);
        assert_eq!(access.groups, [known, joined_meanwhile]);
        assert!(access.in_group(joined_meanwhile) && !access.in_group(GroupId::random()));
        assert!(access.uses_role(viewer.id) && !access.uses_role(deleted.id));
        assert_eq!(access.role_of(&access.grants[1]).id, denier.id);
        assert_eq!(
            access.allowed_permissions(),
            [id("computers.view")].into_iter().collect()
        );
        assert!(access.mentions(id("computers.view")) && access.mentions(id("computers.manage")));
        assert!(!access.mentions(id("users.view")));
        assert!(access.may_deny(id("computers.manage")) && !access.may_deny(id("computers.view")));
        assert_eq!(access.azure_object_id(), user.azure_object_id);
        assert_eq!(
            (access.user_id(), access.tenant_id()),
            (user.id, user.tenant_id)
        );
    }

    #[test]
    fn as_active_lifts_only_disabled_and_expiry() {
        let user = UserFacts {
            disabled: true,
            expires_at: Some(1),
            ..facts(TenantId::random())
        };
        let viewer = role(&["computers.view"]);
        let access = EffectiveAccess::compile(
            user.clone(),
            Vec::new(),
            vec![Arc::clone(&viewer)],
            vec![assignment(&viewer, Effect::Allow, None)],
        );
        let active = access.as_active();
        assert!(active.user.is_active(i64::MAX));
        assert_eq!(
            active.user,
            UserFacts {
                disabled: false,
                expires_at: None,
                ..user
            }
        );
        assert_eq!(active.grants, access.grants);
    }
}
