//! Custom roles: their permissions, who may edit them, and what an edit hands out.

use std::collections::HashMap;

use crate::model::{
    Action, DESCRIPTION_MAX, NAME_MAX, PermissionSet, Role, RoleId, TenantId, catalogue,
    optional_text, required_text, shown,
};
use crate::store;

use super::reach::reaches;
use super::visibility::Visible;
use super::{Actor, Admin, AdminError, Changed, Result, existing};

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

/// Parses permission keys: unknown ones are refused, naming every one of them.
fn permission_set(keys: &[String]) -> Result<PermissionSet> {
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
    /// Creates a custom role, public or owned by a tenant; returns it with its diagnostics.
    pub async fn create_role(
        &self,
        actor: &Actor,
        new: NewRole,
    ) -> Result<(Role, u64, Vec<String>)> {
        let role = Role {
            id: RoleId::random(),
            name: required_text("name", &new.name, NAME_MAX)?,
            description: optional_text("description", &new.description, DESCRIPTION_MAX)?,
            owner: new.owner,
            built_in: false,
            permissions: permission_set(&new.permissions)?,
        };
        self.write(actor, Action::CreateRole, new.name, async |write, actor| {
            if let Some(tenant) = role.owner {
                existing(write.txn(), tenant).await?;
            }
            self.require_role_edit(actor, &role, &role.permissions)?;
            write.save_role(&role).await?;
            let changed =
                Changed::new(role.id, None, catalogue().keys(&role.permissions).join(" "));
            Ok((role, changed))
        })
        .await
        .map(|(role, revision)| {
            let warnings = diagnostics(&role.permissions);
            (role, revision, warnings)
        })
    }

    /// Renames a custom role and replaces its permissions; every holder changes at once.
    /// Returns it with its diagnostics.
    pub async fn update_role(
        &self,
        actor: &Actor,
        update: RoleUpdate,
    ) -> Result<(Role, u64, Vec<String>)> {
        let name = required_text("name", &update.name, NAME_MAX)?;
        let permissions = permission_set(&update.permissions)?;
        self.write(
            actor,
            Action::UpdateRole,
            update.role_id,
            async |write, actor| {
                // Read inside the write: a rename carrying an old permission list must not
                // undo a removal committed meanwhile, since `permissions` replace the set.
                let old = existing(write.txn(), update.role_id).await?;
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
                let changed = Changed::new(
                    role.id,
                    Some(catalogue().keys(&old.permissions).join(" ")),
                    catalogue().keys(&role.permissions).join(" "),
                );
                Ok((role, changed))
            },
        )
        .await
        .map(|(role, revision)| {
            let warnings = diagnostics(&role.permissions);
            (role, revision, warnings)
        })
    }

    /// The roles the actor may see: public ones and those of tenants where they manage roles.
    pub async fn list_roles(&self, actor: &Actor) -> Result<Vec<Role>> {
        let mut roles: Vec<Role> = store::roles(self.store.db())
            .await?
            .into_iter()
            .filter(|role| role.require_seen(self, actor).is_ok())
            .collect();
        roles.sort_by(|a, b| (!a.built_in, &a.name).cmp(&(!b.built_in, &b.name)));
        Ok(roles)
    }

    /// The names of these roles, for showing assignments.
    pub async fn role_names(&self, ids: &[RoleId]) -> Result<HashMap<RoleId, String>> {
        Ok(store::role_names(self.store.db(), ids).await?)
    }

    /// A role the actor may see.
    pub async fn get_role(&self, actor: &Actor, id: RoleId) -> Result<Role> {
        self.visible(actor, Action::GetRole, id).await
    }

    /// Deletes a custom role, with the rights to edit it. Refused while it is assigned,
    /// unless `remove_assignments`, and then the actor must be able to delete each
    /// assignment. Returns the revision and how many assignments went with it.
    pub async fn delete_role(
        &self,
        actor: &Actor,
        id: RoleId,
        remove_assignments: bool,
    ) -> Result<(u64, usize)> {
        self.write(actor, Action::DeleteRole, id, async |write, actor| {
            let role = existing(write.txn(), id).await?;
            self.require_role_edit(actor, &role, &PermissionSet::default())?;
            let assignments = store::role_assignments(write.txn(), id).await?;
            if !assignments.is_empty() && !remove_assignments {
                return Err(AdminError::FailedPrecondition(format!(
                    "role `{}` is held by {} role assignments; delete them, or set `remove_assignments` to delete them with the role",
                    role.name,
                    assignments.len()
                )));
            }
            self.delete_assignments(write, actor, &assignments).await?;
            write.delete_role(id).await?;
            let changed = Changed {
                target: id.to_string(),
                before: Some(format!(
                    "{}: {}",
                    role.name,
                    catalogue().keys(&role.permissions).join(" ")
                )),
                after: format!("{} assignments removed", assignments.len()),
            };
            Ok((assignments.len(), changed))
        })
        .await
        .map(|(removed, revision)| (revision, removed))
    }
}
