//! Roles, groups, group members and role assignments.

use crate::model::{
    AssignmentId, Effect, Group, GroupId, PermissionSet, Principal, ResourceRef, Role,
    RoleAssignment, RoleId, Scope, TenantId, UserId, catalogue,
};
use crate::store;

use super::{Actor, Admin, AdminError, required_text};

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
            unknown.join("`, `")
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
    async fn existing_role(&self, id: RoleId) -> Result<Role, AdminError> {
        store::find_role(self.store.db(), id)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("role `{id}` does not exist")))
    }

    async fn existing_group(&self, id: GroupId) -> Result<Group, AdminError> {
        store::find_group(self.store.db(), id)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("group `{id}` does not exist")))
    }

    /// Creates a custom role, public or owned by a tenant; returns it with its diagnostics.
    pub async fn create_role(
        &self,
        actor: &Actor,
        new: NewRole,
    ) -> Result<(Role, u64, Vec<String>), AdminError> {
        self.audited(actor, "CreateRole", new.name.clone(), async {
            let role = Role {
                id: RoleId::random(),
                name: required_text("name", &new.name, 200)?,
                description: new.description.trim().to_owned(),
                owner: new.owner,
                built_in: false,
                permissions: permission_set(&new.permissions)?,
            };
            if let Some(tenant) = role.owner {
                self.existing_tenant(tenant).await?;
            }
            self.require_role_edit(actor, &role, &role.permissions)?;
            let mut write = self.store.begin_write().await?;
            write.save_role(&role).await?;
            let revision = self
                .commit(
                    write,
                    actor,
                    "CreateRole",
                    role.id.to_string(),
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
        self.audited(actor, "UpdateRole", update.role_id.to_string(), async {
            let old = self.existing_role(update.role_id).await?;
            let role = Role {
                name: required_text("name", &update.name, 200)?,
                description: update.description.trim().to_owned(),
                permissions: permission_set(&update.permissions)?,
                ..old.clone()
            };
            self.require_role_edit(
                actor,
                &old,
                &difference(&role.permissions, &old.permissions),
            )?;
            let mut write = self.store.begin_write().await?;
            write.save_role(&role).await?;
            let revision = self
                .commit(
                    write,
                    actor,
                    "UpdateRole",
                    role.id.to_string(),
                    catalogue().keys(&role.permissions).join(" "),
                )
                .await?;
            let warnings = diagnostics(&role.permissions);
            Ok((role, revision, warnings))
        })
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

    /// Creates a group: `rbac.groups.manage` on its owner, or at Owner scope.
    pub async fn create_group(
        &self,
        actor: &Actor,
        new: NewGroup,
    ) -> Result<(Group, u64), AdminError> {
        self.audited(actor, "CreateGroup", new.name.clone(), async {
            let group = Group {
                id: GroupId::random(),
                name: required_text("name", &new.name, 200)?,
                description: new.description.trim().to_owned(),
                owner: new.owner,
            };
            if let Some(tenant) = group.owner {
                self.existing_tenant(tenant).await?;
            }
            self.require_manage_group(actor, &group)?;
            let mut write = self.store.begin_write().await?;
            write.insert_group(&group).await?;
            let revision = self
                .commit(
                    write,
                    actor,
                    "CreateGroup",
                    group.id.to_string(),
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
            "AddGroupMember"
        } else {
            "RemoveGroupMember"
        };
        self.audited(actor, action, format!("{group_id} {user_id}"), async {
            let group = self.existing_group(group_id).await?;
            let user = self.existing_user(user_id).await?;
            if member && group.owner.is_some_and(|owner| owner != user.tenant_id) {
                return Err(AdminError::FailedPrecondition(format!(
                    "group `{}` belongs to a tenant, so only users of that tenant may join; user `{}` is of tenant `{}`",
                    group.name, user.email, user.tenant_id
                )));
            }
            self.require_membership_change(actor, &group, &user).await?;
            let mut write = self.store.begin_write().await?;
            if member {
                write.add_group_member(group_id, user_id).await?;
            } else {
                write.remove_group_member(group_id, user_id).await?;
            }
            self.commit(write, actor, action, group_id.to_string(), user_id.to_string())
                .await
        })
        .await
    }

    /// Checks that a scope names things that exist and fit.
    async fn validate_scope(&self, scope: &Scope) -> Result<(), AdminError> {
        match scope {
            Scope::Msp(tenant) => {
                let tenant = self.existing_tenant(*tenant).await?;
                if !tenant.is_msp {
                    return Err(AdminError::FailedPrecondition(format!(
                        "tenant `{}` is not an MSP, so it cannot be an MSP scope; use a tenant scope",
                        tenant.id
                    )));
                }
            }
            Scope::Tenant(tenant) => {
                self.existing_tenant(*tenant).await?;
            }
            Scope::TenantTag(tag) => {
                self.existing_tag(*tag).await?;
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
    ) -> Result<(RoleAssignment, u64, Vec<String>), AdminError> {
        self.audited(
            actor,
            "CreateRoleAssignment",
            new.role_id.to_string(),
            async {
                let role = self.existing_role(new.role_id).await?;
                self.validate_scope(&new.scope).await?;
                let assignment = RoleAssignment {
                    id: AssignmentId::random(),
                    role_id: new.role_id,
                    principal: new.principal,
                    scope: new.scope,
                    effect: new.effect,
                };
                let warnings = self.require_assign(actor, &assignment, &role).await?;
                let mut write = self.store.begin_write().await?;
                write
                    .insert_assignment(&assignment, Some(actor.id()))
                    .await?;
                let revision = self
                    .commit(
                        write,
                        actor,
                        "CreateRoleAssignment",
                        assignment.id.to_string(),
                        format!(
                            "{} {} at {}",
                            role.name, assignment.effect, assignment.scope
                        ),
                    )
                    .await?;
                Ok((assignment, revision, warnings))
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
        self.audited(actor, "DeleteRoleAssignment", id.to_string(), async {
            let assignment = store::find_assignment(self.store.db(), id)
                .await?
                .ok_or_else(|| {
                    AdminError::NotFound(format!("role assignment `{id}` does not exist"))
                })?;
            let role = self.existing_role(assignment.role_id).await?;
            self.require_assign(actor, &assignment, &role).await?;
            let mut write = self.store.begin_write().await?;
            write.delete_assignment(&assignment).await?;
            self.commit(
                write,
                actor,
                "DeleteRoleAssignment",
                id.to_string(),
                String::new(),
            )
            .await
        })
        .await
    }
}
