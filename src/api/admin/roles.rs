//! Roles, and the permission catalogue.

use tonic::Status;

use crate::admin::{Actor, Admin, NewRole, RoleUpdate};
use crate::api::convert::{self, invalid};
use crate::api::pb::rbac::v1 as pb;
use crate::model::{RoleId, catalogue};

pub(super) async fn create_role(
    admin: &Admin,
    actor: Actor,
    r: pb::CreateRoleRequest,
) -> Result<pb::Role, Status> {
    let new = NewRole {
        name: r.name,
        description: r.description,
        owner: convert::optional_tenant_id("owner_tenant_id", r.owner_tenant_id.as_deref())?,
        permissions: r.permissions,
    };
    let (role, revision, warnings) = admin.create_role(&actor, new).await?;
    Ok(pb::Role {
        warnings,
        ..convert::role_to_pb(&role, revision)
    })
}

pub(super) async fn get_role(
    admin: &Admin,
    actor: Actor,
    r: pb::GetRoleRequest,
) -> Result<pb::Role, Status> {
    let id = role_id("role_id", &r.role_id)?;
    let role = admin.get_role(&actor, id).await?;
    Ok(convert::role_to_pb(&role, 0))
}

pub(super) async fn update_role(
    admin: &Admin,
    actor: Actor,
    r: pb::UpdateRoleRequest,
) -> Result<pb::Role, Status> {
    let update = RoleUpdate {
        role_id: role_id("role_id", &r.role_id)?,
        name: r.name,
        description: r.description,
        permissions: r.permissions,
    };
    let (role, revision, warnings) = admin.update_role(&actor, update).await?;
    Ok(pb::Role {
        warnings,
        ..convert::role_to_pb(&role, revision)
    })
}

pub(super) async fn delete_role(
    admin: &Admin,
    actor: Actor,
    r: pb::DeleteRoleRequest,
) -> Result<pb::DeleteRoleResponse, Status> {
    let id = role_id("role_id", &r.role_id)?;
    let (revision, removed) = admin.delete_role(&actor, id, r.remove_assignments).await?;
    Ok(pb::DeleteRoleResponse {
        revision,
        removed_assignments: u32::try_from(removed).unwrap_or(u32::MAX),
    })
}

pub(super) async fn list_roles(
    admin: &Admin,
    actor: Actor,
    _: pb::ListRolesRequest,
) -> Result<pb::ListRolesResponse, Status> {
    let roles = admin.list_roles(&actor).await?;
    Ok(pb::ListRolesResponse {
        roles: roles.iter().map(|r| convert::role_to_pb(r, 0)).collect(),
    })
}

pub(super) async fn list_permissions(
    _admin: &Admin,
    _actor: Actor,
    _: pb::ListPermissionsRequest,
) -> Result<pb::ListPermissionsResponse, Status> {
    let permissions = catalogue()
        .permissions()
        .iter()
        .map(|p| pb::Permission {
            key: p.key.clone(),
            name: p.name.clone(),
            description: p.description.clone(),
            subject: p.subject.clone(),
            category: p.category.as_str().to_owned(),
            system: p.system,
            msp_only: p.msp_only,
            great_power: p.great_power,
            dependencies: p.dependencies.clone(),
        })
        .collect();
    Ok(pb::ListPermissionsResponse { permissions })
}

pub(super) fn role_id(field: &'static str, value: &str) -> Result<RoleId, Status> {
    RoleId::parse(field, value).map_err(|e| invalid(e.to_string()))
}
