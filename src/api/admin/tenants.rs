//! Tenants, tags, the tags of tenants, and resources.

use super::answers::Written;
use super::{Call, Reply, optional};
use crate::admin::{NewTenant, TenantUpdate};
use crate::api::convert;
use crate::api::pb::rbac::v1 as pb;
use crate::model::{Tag, Tenant};

impl Call<'_> {
    pub async fn create_tenant(self, r: pb::CreateTenantRequest) -> Reply<Written<Tenant>> {
        let new = NewTenant {
            name: r.name,
            parent: convert::optional_tenant_id("parent_tenant_id", r.parent_tenant_id.as_deref())?,
            is_msp: r.is_msp,
        };
        Ok(self.admin.create_tenant(&self.actor, new).await?)
    }

    pub async fn get_tenant(self, r: pb::GetTenantRequest) -> Reply<Tenant> {
        let id = convert::tenant_id("tenant_id", &r.tenant_id)?;
        Ok(self.admin.get_tenant(&self.actor, id).await?)
    }

    pub async fn list_tenants(self, r: pb::ListTenantsRequest) -> Reply<Vec<Tenant>> {
        let parent = optional(&r.parent_tenant_id, |v| {
            convert::tenant_id("parent_tenant_id", v)
        })?;
        Ok(self.admin.list_tenants(&self.actor, parent).await?)
    }

    pub async fn update_tenant(self, r: pb::UpdateTenantRequest) -> Reply<Written<Tenant>> {
        let update = TenantUpdate {
            tenant_id: convert::tenant_id("tenant_id", &r.tenant_id)?,
            name: (!r.name.is_empty()).then_some(r.name),
            parent: r
                .parent_tenant_id
                .map(|p| optional(&p, |v| convert::tenant_id("parent_tenant_id", v)))
                .transpose()?,
        };
        Ok(self.admin.update_tenant(&self.actor, update).await?)
    }

    pub async fn delete_tenant(self, r: pb::DeleteTenantRequest) -> Reply<u64> {
        let id = convert::tenant_id("tenant_id", &r.tenant_id)?;
        Ok(self.admin.delete_tenant(&self.actor, id).await?)
    }

    pub async fn create_tag(self, r: pb::CreateTagRequest) -> Reply<Written<Tag>> {
        Ok(self.admin.create_tag(&self.actor, &r.name).await?)
    }

    pub async fn list_tags(self, _: pb::ListTagsRequest) -> Reply<Vec<Tag>> {
        Ok(self.admin.list_tags().await?)
    }

    pub async fn update_tag(self, r: pb::UpdateTagRequest) -> Reply<Written<Tag>> {
        let id = convert::tag_id("tag_id", &r.tag_id)?;
        Ok(self.admin.rename_tag(&self.actor, id, &r.name).await?)
    }

    pub async fn delete_tag(self, r: pb::DeleteTagRequest) -> Reply<u64> {
        let id = convert::tag_id("tag_id", &r.tag_id)?;
        Ok(self.admin.delete_tag(&self.actor, id).await?)
    }

    pub async fn add_tenant_tag(self, r: pb::AddTenantTagRequest) -> Reply<u64> {
        self.tag_tenant(&r.tenant_id, &r.tag_id, true).await
    }

    pub async fn remove_tenant_tag(self, r: pb::RemoveTenantTagRequest) -> Reply<u64> {
        self.tag_tenant(&r.tenant_id, &r.tag_id, false).await
    }

    pub async fn upsert_resource(self, r: pb::UpsertResourceRequest) -> Reply<u64> {
        let resource = convert::resource(&pb::ResourceRef {
            r#type: r.r#type,
            id: r.id,
        })?;
        let owner = convert::optional_tenant_id("owner_tenant_id", r.owner_tenant_id.as_deref())?;
        Ok(self
            .admin
            .upsert_resource(&self.actor, resource, owner)
            .await?)
    }

    /// Tags or untags a tenant: AddTenantTag and RemoveTenantTag differ only in that.
    async fn tag_tenant(&self, tenant_id: &str, tag_id: &str, tagged: bool) -> Reply<u64> {
        let tenant = convert::tenant_id("tenant_id", tenant_id)?;
        let tag = convert::tag_id("tag_id", tag_id)?;
        Ok(self
            .admin
            .set_tenant_tag(&self.actor, tenant, tag, tagged)
            .await?)
    }
}
