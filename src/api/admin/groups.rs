//! Groups and their members.

use super::answers::Written;
use super::{Call, Reply, optional};
use crate::admin::NewGroup;
use crate::api::convert;
use crate::api::pb::rbac::v1 as pb;
use crate::model::{Group, User};

impl Call<'_> {
    pub async fn create_group(self, r: pb::CreateGroupRequest) -> Reply<Written<Group>> {
        let new = NewGroup {
            name: r.name,
            description: r.description,
            owner: convert::optional_tenant_id("owner_tenant_id", r.owner_tenant_id.as_deref())?,
        };
        Ok(self.admin.create_group(&self.actor, new).await?)
    }

    pub async fn get_group(self, r: pb::GetGroupRequest) -> Reply<Group> {
        let id = convert::group_id("group_id", &r.group_id)?;
        Ok(self.admin.get_group(&self.actor, id).await?)
    }

    pub async fn list_groups(self, r: pb::ListGroupsRequest) -> Reply<Vec<Group>> {
        let owner = optional(&r.owner_tenant_id, |v| {
            convert::tenant_id("owner_tenant_id", v)
        })?;
        Ok(self.admin.list_groups(&self.actor, owner).await?)
    }

    pub async fn update_group(self, r: pb::UpdateGroupRequest) -> Reply<Written<Group>> {
        let id = convert::group_id("group_id", &r.group_id)?;
        Ok(self
            .admin
            .update_group(&self.actor, id, &r.name, &r.description)
            .await?)
    }

    pub async fn delete_group(self, r: pb::DeleteGroupRequest) -> Reply<u64> {
        let id = convert::group_id("group_id", &r.group_id)?;
        Ok(self.admin.delete_group(&self.actor, id).await?)
    }

    pub async fn add_group_member(self, r: pb::AddGroupMemberRequest) -> Reply<u64> {
        self.set_member(&r.group_id, &r.user_id, true).await
    }

    pub async fn remove_group_member(self, r: pb::RemoveGroupMemberRequest) -> Reply<u64> {
        self.set_member(&r.group_id, &r.user_id, false).await
    }

    pub async fn list_group_members(self, r: pb::ListGroupMembersRequest) -> Reply<Vec<User>> {
        let id = convert::group_id("group_id", &r.group_id)?;
        Ok(self.admin.list_group_members(&self.actor, id).await?)
    }

    pub async fn list_user_groups(self, r: pb::ListUserGroupsRequest) -> Reply<Vec<Group>> {
        let id = convert::user_id("user_id", &r.user_id)?;
        Ok(self.admin.list_user_groups(&self.actor, id).await?)
    }

    /// Adds or removes a member: AddGroupMember and RemoveGroupMember differ only in that.
    async fn set_member(&self, group_id: &str, user_id: &str, member: bool) -> Reply<u64> {
        let group = convert::group_id("group_id", group_id)?;
        let user = convert::user_id("user_id", user_id)?;
        Ok(self
            .admin
            .set_group_member(&self.actor, group, user, member)
            .await?)
    }
}
