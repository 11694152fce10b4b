//! Groups and their members.

use tonic::Status;

use super::optional;
use crate::admin::{Actor, Admin, NewGroup};
use crate::api::convert;
use crate::api::pb::rbac::v1 as pb;

pub(super) async fn create_group(
    admin: &Admin,
    actor: Actor,
    r: pb::CreateGroupRequest,
) -> Result<pb::Group, Status> {
    let new = NewGroup {
        name: r.name,
        description: r.description,
        owner: convert::optional_tenant_id("owner_tenant_id", r.owner_tenant_id.as_deref())?,
    };
    let (group, revision) = admin.create_group(&actor, new).await?;
    Ok(group_to_pb(&group, revision))
}

pub(super) async fn get_group(
    admin: &Admin,
    actor: Actor,
    r: pb::GetGroupRequest,
) -> Result<pb::Group, Status> {
    let id = convert::group_id("group_id", &r.group_id)?;
    let group = admin.get_group(&actor, id).await?;
    Ok(group_to_pb(&group, 0))
}

pub(super) async fn list_groups(
    admin: &Admin,
    actor: Actor,
    r: pb::ListGroupsRequest,
) -> Result<pb::ListGroupsResponse, Status> {
    let owner = optional(&r.owner_tenant_id, |v| {
        convert::tenant_id("owner_tenant_id", v)
    })?;
    let groups = admin.list_groups(&actor, owner).await?;
    Ok(pb::ListGroupsResponse {
        groups: groups.iter().map(|g| group_to_pb(g, 0)).collect(),
    })
}

pub(super) async fn update_group(
    admin: &Admin,
    actor: Actor,
    r: pb::UpdateGroupRequest,
) -> Result<pb::Group, Status> {
    let id = convert::group_id("group_id", &r.group_id)?;
    let (group, revision) = admin
        .update_group(&actor, id, &r.name, &r.description)
        .await?;
    Ok(group_to_pb(&group, revision))
}

pub(super) async fn delete_group(
    admin: &Admin,
    actor: Actor,
    r: pb::DeleteGroupRequest,
) -> Result<pb::DeleteGroupResponse, Status> {
    let id = convert::group_id("group_id", &r.group_id)?;
    let revision = admin.delete_group(&actor, id).await?;
    Ok(pb::DeleteGroupResponse { revision })
}

pub(super) async fn add_group_member(
    admin: &Admin,
    actor: Actor,
    r: pb::AddGroupMemberRequest,
) -> Result<pb::AddGroupMemberResponse, Status> {
    let revision = set_member(admin, &actor, &r.group_id, &r.user_id, true).await?;
    Ok(pb::AddGroupMemberResponse { revision })
}

pub(super) async fn remove_group_member(
    admin: &Admin,
    actor: Actor,
    r: pb::RemoveGroupMemberRequest,
) -> Result<pb::RemoveGroupMemberResponse, Status> {
    let revision = set_member(admin, &actor, &r.group_id, &r.user_id, false).await?;
    Ok(pb::RemoveGroupMemberResponse { revision })
}

pub(super) async fn list_group_members(
    admin: &Admin,
    actor: Actor,
    r: pb::ListGroupMembersRequest,
) -> Result<pb::ListGroupMembersResponse, Status> {
    let id = convert::group_id("group_id", &r.group_id)?;
    let members = admin.list_group_members(&actor, id).await?;
    Ok(pb::ListGroupMembersResponse {
        members: members.iter().map(|u| convert::user_to_pb(u, 0)).collect(),
    })
}

pub(super) async fn list_user_groups(
    admin: &Admin,
    actor: Actor,
    r: pb::ListUserGroupsRequest,
) -> Result<pb::ListUserGroupsResponse, Status> {
    let id = convert::user_id("user_id", &r.user_id)?;
    let groups = admin.list_user_groups(&actor, id).await?;
    Ok(pb::ListUserGroupsResponse {
        groups: groups.iter().map(|g| group_to_pb(g, 0)).collect(),
    })
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

/// Adds or removes a member: AddGroupMember and RemoveGroupMember differ only in that.
async fn set_member(
    admin: &Admin,
    actor: &Actor,
    group_id: &str,
    user_id: &str,
    member: bool,
) -> Result<u64, Status> {
    let group = convert::group_id("group_id", group_id)?;
    let user = convert::user_id("user_id", user_id)?;
    Ok(admin.set_group_member(actor, group, user, member).await?)
}
