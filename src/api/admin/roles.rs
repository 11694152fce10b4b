//! Roles, and the permission catalogue.

use tonic::Status;

use super::{Call, Reply};

use crate::admin::{NewRole, RoleUpdate};
use crate::api::convert::{self, invalid};
use crate::api::pb::rbac::v1 as pb;
use crate::model::{Role, RoleId, catalogue};

impl Call<'_> {
    pub async fn create_role(self, r: pb::CreateRoleRequest) -> Reply<(Role, u64, Vec<String>)> {
        let new = NewRole {
            name: r.name,
            description: r.description,
            owner: convert::optional_tenant_id("owner_tenant_id", r.owner_tenant_id.as_deref())?,
            permissions: r.permissions,
        };
        Ok(self.admin.create_role(&self.actor, new).await?)
    }

    pub async fn get_role(self, r: pb::GetRoleRequest) -> Reply<Role> {
        let id = role_id("role_id", &r.role_id)?;
        Ok(self.admin.get_role(&self.actor, id).await?)
    }

    pub async fn update_role(self, r: pb::UpdateRoleRequest) -> Reply<(Role, u64, Vec<String>)> {
        let update = RoleUpdate {
            role_id: role_id("role_id", &r.role_id)?,
            name: r.name,
            description: r.description,
            permissions: r.permissions,
        };
        Ok(self.admin.update_role(&self.actor, update).await?)
    }

    pub async fn delete_role(self, r: pb::DeleteRoleRequest) -> Reply<pb::DeleteRoleResponse> {
        let id = role_id("role_id", &r.role_id)?;
        let (revision, removed) = self
            .admin
            .delete_role(&self.actor, id, r.remove_assignments)
            .await?;
        Ok(pb::DeleteRoleResponse {
            revision,
            removed_assignments: u32::try_from(removed).unwrap_or(u32::MAX),
            preview: None,
        })
    }

    pub async fn list_roles(self, _: pb::ListRolesRequest) -> Reply<Vec<Role>> {
        Ok(self.admin.list_roles(&self.actor).await?)
    }

    pub async fn list_permissions(
        self,
        _: pb::ListPermissionsRequest,
    ) -> Reply<pb::ListPermissionsResponse> {
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
}

pub(super) fn role_id(field: &'static str, value: &str) -> Result<RoleId, Status> {
    RoleId::parse(field, value).map_err(|e| invalid(e.to_string()))
}
