//! Groups and their members.

use crate::model::{
    Action, DESCRIPTION_MAX, Group, GroupId, NAME_MAX, TenantId, User, UserId, optional_text,
    required_text,
};
use crate::store;

use super::visibility::Visible;
use super::{Actor, Admin, AdminError, Changed, Result, existing};

/// A group to create.
#[derive(Clone, Debug)]
pub struct NewGroup {
    pub name: String,
    pub description: String,
    pub owner: Option<TenantId>,
}

impl Admin {
    /// A group: `rbac.groups.view` on its owner, or at Owner scope.
    pub async fn get_group(&self, actor: &Actor, id: GroupId) -> Result<Group> {
        self.visible(actor, Action::GetGroup, id).await
    }

    /// The groups the actor may see, by name; optionally only one tenant's.
    pub async fn list_groups(&self, actor: &Actor, owner: Option<TenantId>) -> Result<Vec<Group>> {
        Ok(store::groups(self.store.db())
            .await?
            .into_iter()
            .filter(|g| owner.is_none() || g.owner == owner)
            .filter(|g| g.require_seen(self, actor).is_ok())
            .collect())
    }

    /// Renames a group or changes its description: the right to manage it.
    pub async fn update_group(
        &self,
        actor: &Actor,
        id: GroupId,
        name: &str,
        description: &str,
    ) -> Result<(Group, u64)> {
        let name = required_text("name", name, NAME_MAX)?;
        self.write(actor, Action::UpdateGroup, id, async |write, actor| {
            let old = existing(write.txn(), id).await?;
            self.require_manage_group(actor, &old)?;
            let group = Group {
                name,
                description: optional_text("description", description, DESCRIPTION_MAX)?,
                ..old.clone()
            };
            write.update_group(&group).await?;
            let changed = Changed::new(id, Some(old.name), group.name.clone());
            Ok((group, changed))
        })
        .await
    }

    /// Deletes a group with its memberships and assignments: the right to manage it and to
    /// delete each of its assignments (a deny through it may be what holds members back).
    pub async fn delete_group(&self, actor: &Actor, id: GroupId) -> Result<u64> {
        self.change(actor, Action::DeleteGroup, id, async |write, actor| {
            let group = existing(write.txn(), id).await?;
            self.require_manage_group(actor, &group)?;
            let assignments = store::group_assignments(write.txn(), id).await?;
            self.delete_assignments(write, actor, &assignments).await?;
            write.delete_group(id).await?;
            Ok(Changed {
                target: id.to_string(),
                before: Some(format!(
                    "{} with {} assignments",
                    group.name,
                    assignments.len()
                )),
                after: String::new(),
            })
        })
        .await
    }

    /// A group's members: the right to see the group.
    pub async fn list_group_members(&self, actor: &Actor, id: GroupId) -> Result<Vec<User>> {
        self.visible(actor, Action::ListGroupMembers, id).await?;
        Ok(store::group_members(self.store.db(), id).await?)
    }

    /// The groups a user belongs to: `users.view` on their tenant.
    pub async fn list_user_groups(&self, actor: &Actor, id: UserId) -> Result<Vec<Group>> {
        self.visible(actor, Action::ListUserGroups, id).await?;
        Ok(store::user_groups(self.store.db(), id).await?)
    }

    /// Creates a group: `rbac.groups.manage` on its owner, or at Owner scope.
    pub async fn create_group(&self, actor: &Actor, new: NewGroup) -> Result<(Group, u64)> {
        let group = Group {
            id: GroupId::random(),
            name: required_text("name", &new.name, NAME_MAX)?,
            description: optional_text("description", &new.description, DESCRIPTION_MAX)?,
            owner: new.owner,
        };
        self.write(
            actor,
            Action::CreateGroup,
            new.name,
            async |write, actor| {
                if let Some(tenant) = group.owner {
                    existing(write.txn(), tenant).await?;
                }
                self.require_manage_group(actor, &group)?;
                write.insert_group(&group).await?;
                let changed = Changed::new(group.id, None, group.name.clone());
                Ok((group, changed))
            },
        )
        .await
    }

    /// Adds or removes a member. A tenant-owned group takes only that tenant's users.
    pub async fn set_group_member(
        &self,
        actor: &Actor,
        group_id: GroupId,
        user_id: UserId,
        member: bool,
    ) -> Result<u64> {
        let action = if member {
            Action::AddGroupMember
        } else {
            Action::RemoveGroupMember
        };
        self.change(actor, action, format!("{group_id} {user_id}"), async |write, actor| {
            let group = existing(write.txn(), group_id).await?;
            let user = existing(write.txn(), user_id).await?;
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
            Ok(Changed::new(group_id, None, user_id.to_string()))
        })
        .await
    }
}
