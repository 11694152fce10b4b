//! Roles, groups, group members and role assignments.

use std::collections::HashMap;

use sea_orm::ConnectionTrait;

use crate::model::permissions::{ASSIGNMENTS_VIEW, GROUPS_VIEW, USERS_VIEW};
use crate::model::{
    Action, AssignmentId, DESCRIPTION_MAX, Effect, Group, GroupId, NAME_MAX, PermissionSet,
    Principal, ResourceRef, Role, RoleAssignment, RoleId, Scope, TenantId, User, UserId, catalogue,
    optional_text, required_text, shown,
};
use crate::store::{self, AssignmentFilter, StoredAssignment};

use super::rules::reaches;
use super::{Actor, Admin, AdminError};

/// A custom role to create.
#[derive(Clone, Debug)]
pub struct NewRole {
    pub name: String,
    pub description: String,
    pub owner: Option<TenantId>,
    pub permissions: Vec<String>,
}

/// A role's new name, description and whole permission set.
#[derive(Clone, Debug)]
pub struct RoleUpdate {
    pub role_id: RoleId,
    pub name: String,
    pub description: String,
    pub permissions: Vec<String>,
}

/// A group to create.
#[derive(Clone, Debug)]
pub struct NewGroup {
    pub name: String,
    pub description: String,
    pub owner: Option<TenantId>,
}

/// An assignment to create.
#[derive(Clone, Debug)]
pub struct NewAssignment {
    pub role_id: RoleId,
    pub principal: Principal,
    pub scope: Scope,
    pub effect: Effect,
}

/// Which assignments to list.
#[derive(Clone, Debug, Default)]
pub struct AssignmentQuery {
    pub principal: Option<Principal>,
    pub role: Option<RoleId>,
    /// With a user principal: leave out what they hold through groups.
    pub direct_only: bool,
    pub after: Option<AssignmentId>,
    pub page_size: u64,
}

/// Assignments per page when none is asked for, and the most a page holds.
const DEFAULT_PAGE: u64 = 100;
const MAX_PAGE: u64 = 1000;

/// Parses permission keys: unknown ones are refused, naming every one of them.
fn permission_set(keys: &[String]) -> Result<PermissionSet, AdminError> {
    let unknown: Vec<&str> = keys
        .iter()
        .filter(|k| catalogue().id(k).is_none())
        .map(String::as_str)
        .collect();
    if !unknown.is_empty() {
        return Err(AdminError::InvalidArgument(format!(
            "unknown permission keys: `{}`; ListPermissions shows the catalogue",
            unknown
                .iter()
                .take(5)
                .map(|k| shown(k))
                .collect::<Vec<_>>()
                .join("`, `")
        )));
    }
    Ok(keys.iter().filter_map(|k| catalogue().id(k)).collect())
}

/// Role diagnostics: one warning per permission that lacks what it needs in practice.
fn diagnostics(permissions: &PermissionSet) -> Vec<String> {
    let key = |id| catalogue().get(id).key.as_str();
    catalogue()
        .missing_dependencies(permissions)
        .into_iter()
        .map(|(permission, missing)| {
            let missing: Vec<&str> = missing.into_iter().map(key).collect();
            format!(
                "`{}` usually needs `{}`, which the role lacks",
                key(permission),
                missing.join("`, `")
            )
        })
        .collect()
}

fn difference(new: &PermissionSet, old: &PermissionSet) -> PermissionSet {
    new.iter().filter(|p| !old.contains(*p)).collect()
}

impl Admin {
    async fn existing_role<C: ConnectionTrait>(
        &self,
        db: &C,
        id: RoleId,
    ) -> Result<Role, AdminError> {
        store::find_role(db, id)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("role `{id}` does not exist")))
    }

    pub(super) async fn existing_group<C: ConnectionTrait>(
        &self,
        db: &C,
        id: GroupId,
    ) -> Result<Group, AdminError> {
        store::find_group(db, id)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("group `{id}` does not exist")))
    }

    /// Creates a custom role, public or owned by a tenant; returns it with its diagnostics.
    pub async fn create_role(
        &self,
        actor: &Actor,
        new: NewRole,
    ) -> Result<(Role, u64, Vec<String>), AdminError> {
        self.audited(actor, Action::CreateRole, new.name.clone(), async {
            let role = Role {
                id: RoleId::random(),
                name: required_text("name", &new.name, NAME_MAX)?,
                description: optional_text("description", &new.description, DESCRIPTION_MAX)?,
                owner: new.owner,
                built_in: false,
                permissions: permission_set(&new.permissions)?,
            };
            let (mut write, actor) = self.begin(actor).await?;
            let actor = &actor;
            if let Some(tenant) = role.owner {
                self.existing_tenant(write.txn(), tenant).await?;
            }
            self.require_role_edit(actor, &role, &role.permissions)?;
            write.save_role(&role).await?;
            let revision = self
                .commit(
                    write,
                    actor,
                    Action::CreateRole,
                    role.id.to_string(),
                    None,
                    catalogue().keys(&role.permissions).join(" "),
                )
                .await?;
            let warnings = diagnostics(&role.permissions);
            Ok((role, revision, warnings))
        })
        .await
    }

    /// Renames a custom role and replaces its permissions; every holder changes at once.
    /// Returns it with its diagnostics.
    pub async fn update_role(
        &self,
        actor: &Actor,
        update: RoleUpdate,
    ) -> Result<(Role, u64, Vec<String>), AdminError> {
        self.audited(
            actor,
            Action::UpdateRole,
            update.role_id.to_string(),
            async {
                let name = required_text("name", &update.name, NAME_MAX)?;
                let permissions = permission_set(&update.permissions)?;
                // Read inside the write: a rename carrying an old permission list must not
                // undo a removal committed meanwhile, since `permissions` replace the set.
                let (mut write, actor) = self.begin(actor).await?;
                let actor = &actor;
                let old = self.existing_role(write.txn(), update.role_id).await?;
                let role = Role {
                    name,
                    description: optional_text(
                        "description",
                        &update.description,
                        DESCRIPTION_MAX,
                    )?,
                    permissions,
                    ..old.clone()
                };
                let added = difference(&role.permissions, &old.permissions);
                let removed = difference(&old.permissions, &role.permissions);
                self.require_role_edit(actor, &old, &added)?;
                let mut widened = Vec::new();
                for assignment in store::role_assignments(write.txn(), role.id).await? {
                    widened.extend(reaches(write.txn(), &assignment, added, true, None).await?);
                    widened.extend(reaches(write.txn(), &assignment, removed, false, None).await?);
                }
                self.judge(actor, &widened)?;
                write.save_role(&role).await?;
                let revision = self
                    .commit(
                        write,
                        actor,
                        Action::UpdateRole,
                        role.id.to_string(),
                        Some(catalogue().keys(&old.permissions).join(" ")),
                        catalogue().keys(&role.permissions).join(" "),
                    )
                    .await?;
                let warnings = diagnostics(&role.permissions);
                Ok((role, revision, warnings))
            },
        )
        .await
    }

    /// The roles the actor may see: public ones and those of tenants where they manage roles.
    pub async fn list_roles(&self, actor: &Actor) -> Result<Vec<Role>, AdminError> {
        let mut roles: Vec<Role> = store::roles(self.store.db())
            .await?
            .into_iter()
            .filter(|role| self.can_see_role(actor, role))
            .collect();
        roles.sort_by(|a, b| (!a.built_in, &a.name).cmp(&(!b.built_in, &b.name)));
        Ok(roles)
    }

    /// The names of these roles, for showing assignments.
    pub async fn role_names(&self, ids: &[RoleId]) -> Result<HashMap<RoleId, String>, AdminError> {
        Ok(store::role_names(self.store.db(), ids).await?)
    }

    /// A role the actor may see.
    pub async fn get_role(&self, actor: &Actor, id: RoleId) -> Result<Role, AdminError> {
        self.audited(actor, Action::GetRole, id.to_string(), async {
            let role = self.existing_role(self.store.db(), id).await?;
            self.require_see_role(actor, &role)?;
            Ok(role)
        })
        .await
    }

    /// Deletes a custom role, with the rights to edit it. Refused while it is assigned,
    /// unless `remove_assignments`, and then the actor must be able to delete each
    /// assignment. Returns the revision and how many assignments went with it.
    pub async fn delete_role(
        &self,
        actor: &Actor,
        id: RoleId,
        remove_assignments: bool,
    ) -> Result<(u64, usize), AdminError> {
        self.audited(actor, Action::DeleteRole, id.to_string(), async {
            let (mut write, actor) = self.begin(actor).await?;
            let actor = &actor;
            let role = self.existing_role(write.txn(), id).await?;
            self.require_role_edit(actor, &role, &PermissionSet::default())?;
            let assignments = store::role_assignments(write.txn(), id).await?;
            if !assignments.is_empty() && !remove_assignments {
                return Err(AdminError::FailedPrecondition(format!(
                    "role `{}` is held by {} role assignments; delete them, or set `remove_assignments` to delete them with the role",
                    role.name,
                    assignments.len()
                )));
            }
            let mut widened = Vec::new();
            for assignment in &assignments {
                self.require_assign(write.txn(), actor, assignment, &role)
                    .await?;
                widened.extend(reaches(write.txn(), assignment, role.permissions, false, None).await?);
            }
            self.judge(actor, &widened)?;
            for assignment in &assignments {
                write.delete_assignment(assignment).await?;
            }
            write.delete_role(id).await?;
            let revision = self
                .commit(
                    write,
                    actor,
                    Action::DeleteRole,
                    id.to_string(),
                    Some(format!(
                        "{}: {}",
                        role.name,
                        catalogue().keys(&role.permissions).join(" ")
                    )),
                    format!("{} assignments removed", assignments.len()),
                )
                .await?;
            Ok((revision, assignments.len()))
        })
        .await
    }

    /// A group: `rbac.groups.view` on its owner, or at Owner scope.
    pub async fn get_group(&self, actor: &Actor, id: GroupId) -> Result<Group, AdminError> {
        self.audited(actor, Action::GetGroup, id.to_string(), async {
            let group = self.existing_group(self.store.db(), id).await?;
            self.require_on_owner(actor, GROUPS_VIEW, group.owner)?;
            Ok(group)
        })
        .await
    }

    /// The groups the actor may see, by name; optionally only one tenant's.
    pub async fn list_groups(
        &self,
        actor: &Actor,
        owner: Option<TenantId>,
    ) -> Result<Vec<Group>, AdminError> {
        Ok(store::groups(self.store.db())
            .await?
            .into_iter()
            .filter(|g| owner.is_none() || g.owner == owner)
            .filter(|g| self.require_on_owner(actor, GROUPS_VIEW, g.owner).is_ok())
            .collect())
    }

    /// Renames a group or changes its description: the right to manage it.
    pub async fn update_group(
        &self,
        actor: &Actor,
        id: GroupId,
        name: &str,
        description: &str,
    ) -> Result<(Group, u64), AdminError> {
        self.audited(actor, Action::UpdateGroup, id.to_string(), async {
            let name = required_text("name", name, NAME_MAX)?;
            let (mut write, actor) = self.begin(actor).await?;
            let actor = &actor;
            let old = self.existing_group(write.txn(), id).await?;
            self.require_manage_group(actor, &old)?;
            let group = Group {
                name,
                description: optional_text("description", description, DESCRIPTION_MAX)?,
                ..old.clone()
            };
            write.update_group(&group).await?;
            let revision = self
                .commit(
                    write,
                    actor,
                    Action::UpdateGroup,
                    id.to_string(),
                    Some(old.name),
                    group.name.clone(),
                )
                .await?;
            Ok((group, revision))
        })
        .await
    }

    /// Deletes a group with its memberships and assignments: the right to manage it and to
    /// delete each of its assignments (a deny through it may be what holds members back).
    pub async fn delete_group(&self, actor: &Actor, id: GroupId) -> Result<u64, AdminError> {
        self.audited(actor, Action::DeleteGroup, id.to_string(), async {
            let (mut write, actor) = self.begin(actor).await?;
            let actor = &actor;
            let group = self.existing_group(write.txn(), id).await?;
            self.require_manage_group(actor, &group)?;
            let assignments = store::group_assignments(write.txn(), id).await?;
            let mut widened = Vec::new();
            for assignment in &assignments {
                let role = self.existing_role(write.txn(), assignment.role_id).await?;
                self.require_assign(write.txn(), actor, assignment, &role)
                    .await?;
                widened
                    .extend(reaches(write.txn(), assignment, role.permissions, false, None).await?);
            }
            self.judge(actor, &widened)?;
            for assignment in &assignments {
                write.delete_assignment(assignment).await?;
            }
            write.delete_group(id).await?;
            self.commit(
                write,
                actor,
                Action::DeleteGroup,
                id.to_string(),
                Some(format!(
                    "{} with {} assignments",
                    group.name,
                    assignments.len()
                )),
                String::new(),
            )
            .await
        })
        .await
    }

    /// A group's members: the right to see the group.
    pub async fn list_group_members(
        &self,
        actor: &Actor,
        id: GroupId,
    ) -> Result<Vec<User>, AdminError> {
        self.audited(actor, Action::ListGroupMembers, id.to_string(), async {
            let group = self.existing_group(self.store.db(), id).await?;
            self.require_on_owner(actor, GROUPS_VIEW, group.owner)?;
            Ok(store::group_members(self.store.db(), id).await?)
        })
        .await
    }

    /// The groups a user belongs to: `users.view` on their tenant.
    pub async fn list_user_groups(
        &self,
        actor: &Actor,
        id: UserId,
    ) -> Result<Vec<Group>, AdminError> {
        self.audited(actor, Action::ListUserGroups, id.to_string(), async {
            let user = self.existing_user(self.store.db(), id).await?;
            self.require_on_tenant(actor, USERS_VIEW, user.tenant_id)?;
            Ok(store::user_groups(self.store.db(), id).await?)
        })
        .await
    }

    /// Assignments by principal and role, by id, one page at a time: those whose
    /// principal's tenant (a group's owner; Owner scope for an unowned group) the actor
    /// holds `rbac.assignments.view` on.
    pub async fn list_assignments(
        &self,
        actor: &Actor,
        query: AssignmentQuery,
    ) -> Result<(Vec<StoredAssignment>, Option<AssignmentId>), AdminError> {
        let db = self.store.db();
        let principals = match query.principal {
            None => None,
            Some(Principal::User(user)) if !query.direct_only => {
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
        let limit = match query.page_size {
            0 => DEFAULT_PAGE,
            n => n.min(MAX_PAGE),
        };
        let mut filter = AssignmentFilter {
            principals,
            role: query.role,
            after: query.after,
            limit: Some(limit),
        };
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
    async fn principal_tenant(&self, principal: Principal) -> Result<Option<TenantId>, AdminError> {
        let db = self.store.db();
        Ok(match principal {
            Principal::User(id) => store::find_user(db, id).await?.map(|u| u.tenant_id),
            Principal::Group(id) => store::find_group(db, id).await?.and_then(|g| g.owner),
        })
    }

    /// Creates a group: `rbac.groups.manage` on its owner, or at Owner scope.
    pub async fn create_group(
        &self,
        actor: &Actor,
        new: NewGroup,
    ) -> Result<(Group, u64), AdminError> {
        self.audited(actor, Action::CreateGroup, new.name.clone(), async {
            let group = Group {
                id: GroupId::random(),
                name: required_text("name", &new.name, NAME_MAX)?,
                description: optional_text("description", &new.description, DESCRIPTION_MAX)?,
                owner: new.owner,
            };
            let (mut write, actor) = self.begin(actor).await?;
            let actor = &actor;
            if let Some(tenant) = group.owner {
                self.existing_tenant(write.txn(), tenant).await?;
            }
            self.require_manage_group(actor, &group)?;
            write.insert_group(&group).await?;
            let revision = self
                .commit(
                    write,
                    actor,
                    Action::CreateGroup,
                    group.id.to_string(),
                    None,
                    group.name.clone(),
                )
                .await?;
            Ok((group, revision))
        })
        .await
    }

    /// Adds or removes a member. A tenant-owned group takes only that tenant's users.
    pub async fn set_group_member(
        &self,
        actor: &Actor,
        group_id: GroupId,
        user_id: UserId,
        member: bool,
    ) -> Result<u64, AdminError> {
        let action = if member {
            Action::AddGroupMember
        } else {
            Action::RemoveGroupMember
        };
        self.audited(actor, action, format!("{group_id} {user_id}"), async {
            let (mut write, actor) = self.begin(actor).await?;
            let actor = &actor;
            let group = self.existing_group(write.txn(), group_id).await?;
            let user = self.existing_user(write.txn(), user_id).await?;
            if member && group.owner.is_some_and(|owner| owner != user.tenant_id) {
                return Err(AdminError::FailedPrecondition(format!(
                    "group `{}` belongs to a tenant, so only users of that tenant may join; user `{}` is of tenant `{}`",
                    group.name, user.email, user.tenant_id
                )));
            }
            self.require_membership_change(write.txn(), actor, &group, &user, member)
                .await?;
            if member {
                write.add_group_member(group_id, user_id).await?;
            } else {
                write.remove_group_member(group_id, user_id).await?;
            }
            self.commit(write, actor, action, group_id.to_string(), None, user_id.to_string())
                .await
        })
        .await
    }

    /// Checks that a scope names things that exist and fit.
    async fn validate_scope<C: ConnectionTrait>(
        &self,
        db: &C,
        scope: &Scope,
    ) -> Result<(), AdminError> {
        match scope {
            Scope::Msp(tenant) => {
                let tenant = self.existing_tenant(db, *tenant).await?;
                if !tenant.is_msp {
                    return Err(AdminError::FailedPrecondition(format!(
                        "tenant `{}` is not an MSP, so it cannot be an MSP scope; use a tenant scope",
                        tenant.id
                    )));
                }
            }
            Scope::Tenant(tenant) => {
                self.existing_tenant(db, *tenant).await?;
            }
            Scope::TenantTag(tag) => {
                self.existing_tag(db, *tag).await?;
            }
            Scope::Resource(resource) => self.existing_resource(resource)?,
            Scope::Owner | Scope::UsersTenant => {}
        }
        Ok(())
    }

    fn existing_resource(&self, resource: &ResourceRef) -> Result<(), AdminError> {
        match self.cache.resources().owner(resource) {
            Some(_) => Ok(()),
            None => Err(AdminError::NotFound(format!(
                "resource `{resource}` is not registered; register it with UpsertResource first"
            ))),
        }
    }

    /// Creates an assignment under the rules of DESIGN.md; returns it with its warnings.
    pub async fn create_assignment(
        &self,
        actor: &Actor,
        new: NewAssignment,
    ) -> Result<(StoredAssignment, u64, Vec<String>), AdminError> {
        self.audited(
            actor,
            Action::CreateRoleAssignment,
            new.role_id.to_string(),
            async {
                let (mut write, actor) = self.begin(actor).await?;
                let actor = &actor;
                let role = self.existing_role(write.txn(), new.role_id).await?;
                self.validate_scope(write.txn(), &new.scope).await?;
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
                let revision = self
                    .commit(
                        write,
                        actor,
                        Action::CreateRoleAssignment,
                        assignment.id.to_string(),
                        None,
                        format!(
                            "{} {} at {}",
                            role.name, assignment.effect, assignment.scope
                        ),
                    )
                    .await?;
                Ok((stored, revision, warnings))
            },
        )
        .await
    }

    /// Deletes an assignment: the same rules as creating it.
    pub async fn delete_assignment(
        &self,
        actor: &Actor,
        id: AssignmentId,
    ) -> Result<u64, AdminError> {
        self.audited(actor, Action::DeleteRoleAssignment, id.to_string(), async {
            let (mut write, actor) = self.begin(actor).await?;
            let actor = &actor;
            let assignment = store::find_assignment(write.txn(), id)
                .await?
                .ok_or_else(|| {
                    AdminError::NotFound(format!("role assignment `{id}` does not exist"))
                })?;
            let role = self.existing_role(write.txn(), assignment.role_id).await?;
            self.require_assign(write.txn(), actor, &assignment, &role)
                .await?;
            let widened = reaches(write.txn(), &assignment, role.permissions, false, None).await?;
            self.judge(actor, &widened)?;
            write.delete_assignment(&assignment).await?;
            self.commit(
                write,
                actor,
                Action::DeleteRoleAssignment,
                id.to_string(),
                None,
                String::new(),
            )
            .await
        })
        .await
    }
}
