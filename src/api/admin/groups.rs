//! Groups and their members.

use super::{Call, Reply, optional};
use crate::admin::NewGroup;
use crate::api::convert;
use crate::api::pb::rbac::v1 as pb;

impl Call<'_> {
    pub async fn create_group(self, r: pb::CreateGroupRequest) -> Reply<pb::Group> {
        let new = NewGroup {
            name: r.name,
            description: r.description,
            owner: convert::optional_tenant_id("owner_tenant_id", r.owner_tenant_id.as_deref())?,
        };
        let (group, revision) = self.admin.create_group(&self.actor, new).await?;
        Ok(group_to_pb(&group, revision))
    }

    pub async fn get_group(self, r: pb::GetGroupRequest) -> Reply<pb::Group> {
        let id = convert::group_id("group_id", &r.group_id)?;
        let group = self.admin.get_group(&self.actor, id).await?;
        Ok(group_to_pb(&group, 0))
    }

    pub async fn list_groups(self, r: pb::ListGroupsRequest) -> Reply<pb::ListGroupsResponse> {
        let owner = optional(&r.owner_tenant_id, |v| {
            convert::tenant_id("owner_tenant_id", v)
        })?;
        let groups = self.admin.list_groups(&self.actor, owner).await?;
        Ok(pb::ListGroupsResponse {
            groups: groups.iter().map(|g| group_to_pb(g, 0)).collect(),
        })
    }

    pub async fn update_group(self, r: pb::UpdateGroupRequest) -> Reply<pb::Group> {
        let id = convert::group_id("group_id", &r.group_id)?;
        let (group, revision) = self
            .admin
            .update_group(&self.actor, id, &r.name, &r.description)
            .await?;
        Ok(group_to_pb(&group, revision))
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

    pub async fn list_group_members(
        self,
        r: pb::ListGroupMembersRequest,
    ) -> Reply<pb::ListGroupMembersResponse> {
        let id = convert::group_id("group_id", &r.group_id)?;
        let members = self.admin.list_group_members(&self.actor, id).await?;
        Ok(pb::ListGroupMembersResponse {
            members: members.iter().map(|u| convert::user_to_pb(u, 0)).collect(),
        })
    }

    pub async fn list_user_groups(
        self,
        r: pb::ListUserGroupsRequest,
    ) -> Reply<pb::ListUserGroupsResponse> {
        let id = convert::user_id("user_id", &r.user_id)?;
        let groups = self.admin.list_user_groups(&self.actor, id).await?;
        Ok(pb::ListUserGroupsResponse {
            groups: groups.iter().map(|g| group_to_pb(g, 0)).collect(),
        })
    }
}

fn group_to_pb(group: &crate::model::Group, revision: u64) -> pb::Group {
    pb::Group {
        id: group.id.to_string(),
        name: group.name.clone(),
        description: group.description.clone(),
        owner_tenant_id: group.owner.map(|t| t.to_string()).unwrap_or_default(),
        revision,
    }
}

impl Call<'_> {
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
