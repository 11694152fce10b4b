//! Tenants, tags, the tags of tenants, and resources.

use tonic::Status;

use super::optional;
use crate::admin::{Actor, Admin, NewTenant, TenantUpdate};
use crate::api::convert;
use crate::api::pb::rbac::v1 as pb;

pub(super) async fn create_tenant(
    admin: &Admin,
    actor: Actor,
    r: pb::CreateTenantRequest,
) -> Result<pb::Tenant, Status> {
    let new = NewTenant {
        name: r.name,
        parent: convert::optional_tenant_id("parent_tenant_id", r.parent_tenant_id.as_deref())?,
        is_msp: r.is_msp,
    };
    let (tenant, revision) = admin.create_tenant(&actor, new).await?;
    Ok(tenant_to_pb(&tenant, revision))
}

pub(super) async fn get_tenant(
    admin: &Admin,
    actor: Actor,
    r: pb::GetTenantRequest,
) -> Result<pb::Tenant, Status> {
    let id = convert::tenant_id("tenant_id", &r.tenant_id)?;
    let tenant = admin.get_tenant(&actor, id).await?;
    Ok(tenant_to_pb(&tenant, 0))
}

pub(super) async fn list_tenants(
    admin: &Admin,
    actor: Actor,
    r: pb::ListTenantsRequest,
) -> Result<pb::ListTenantsResponse, Status> {
    let parent = optional(&r.parent_tenant_id, |v| {
        convert::tenant_id("parent_tenant_id", v)
    })?;
    let tenants = admin.list_tenants(&actor, parent).await?;
    Ok(pb::ListTenantsResponse {
        tenants: tenants.iter().map(|t| tenant_to_pb(t, 0)).collect(),
    })
}

pub(super) async fn update_tenant(
    admin: &Admin,
    actor: Actor,
    r: pb::UpdateTenantRequest,
) -> Result<pb::Tenant, Status> {
    let update = TenantUpdate {
        tenant_id: convert::tenant_id("tenant_id", &r.tenant_id)?,
        name: (!r.name.is_empty()).then_some(r.name),
        parent: r
            .parent_tenant_id
            .map(|p| optional(&p, |v| convert::tenant_id("parent_tenant_id", v)))
            .transpose()?,
    };
    let (tenant, revision) = admin.update_tenant(&actor, update).await?;
    Ok(tenant_to_pb(&tenant, revision))
}

pub(super) async fn delete_tenant(
    admin: &Admin,
    actor: Actor,
    r: pb::DeleteTenantRequest,
) -> Result<pb::DeleteTenantResponse, Status> {
    let id = convert::tenant_id("tenant_id", &r.tenant_id)?;
    let revision = admin.delete_tenant(&actor, id).await?;
    Ok(pb::DeleteTenantResponse { revision })
}

pub(super) async fn create_tag(
    admin: &Admin,
    actor: Actor,
    r: pb::CreateTagRequest,
) -> Result<pb::Tag, Status> {
    let (tag, revision) = admin.create_tag(&actor, &r.name).await?;
    Ok(tag_to_pb(tag, revision))
}

pub(super) async fn list_tags(
    admin: &Admin,
    _actor: Actor,
    _: pb::ListTagsRequest,
) -> Result<pb::ListTagsResponse, Status> {
    let tags = admin.list_tags().await?;
    Ok(pb::ListTagsResponse {
        tags: tags.into_iter().map(|t| tag_to_pb(t, 0)).collect(),
    })
}

pub(super) async fn update_tag(
    admin: &Admin,
    actor: Actor,
    r: pb::UpdateTagRequest,
) -> Result<pb::Tag, Status> {
    let id = convert::tag_id("tag_id", &r.tag_id)?;
    let (tag, revision) = admin.rename_tag(&actor, id, &r.name).await?;
    Ok(tag_to_pb(tag, revision))
}

pub(super) async fn delete_tag(
    admin: &Admin,
    actor: Actor,
    r: pb::DeleteTagRequest,
) -> Result<pb::DeleteTagResponse, Status> {
    let id = convert::tag_id("tag_id", &r.tag_id)?;
    let revision = admin.delete_tag(&actor, id).await?;
    Ok(pb::DeleteTagResponse { revision })
}

pub(super) async fn add_tenant_tag(
    admin: &Admin,
    actor: Actor,
    r: pb::AddTenantTagRequest,
) -> Result<pb::AddTenantTagResponse, Status> {
    let revision = tag_tenant(admin, &actor, &r.tenant_id, &r.tag_id, true).await?;
    Ok(pb::AddTenantTagResponse { revision })
}

pub(super) async fn remove_tenant_tag(
    admin: &Admin,
    actor: Actor,
    r: pb::RemoveTenantTagRequest,
) -> Result<pb::RemoveTenantTagResponse, Status> {
    let revision = tag_tenant(admin, &actor, &r.tenant_id, &r.tag_id, false).await?;
    Ok(pb::RemoveTenantTagResponse { revision })
}

pub(super) async fn upsert_resource(
    admin: &Admin,
    actor: Actor,
    r: pb::UpsertResourceRequest,
) -> Result<pb::UpsertResourceResponse, Status> {
    let resource = convert::resource(&pb::ResourceRef {
        r#type: r.r#type,
        id: r.id,
    })?;
    let owner = convert::optional_tenant_id("owner_tenant_id", r.owner_tenant_id.as_deref())?;
    let revision = admin.upsert_resource(&actor, resource, owner).await?;
    Ok(pb::UpsertResourceResponse { revision })
}

fn tenant_to_pb(tenant: &crate::model::Tenant, revision: u64) -> pb::Tenant {
    pb::Tenant {
        id: tenant.id.to_string(),
        name: tenant.name.clone(),
        parent_tenant_id: tenant.parent.map(|p| p.to_string()).unwrap_or_default(),
        is_msp: tenant.is_msp,
        tag_ids: tenant.tags.iter().map(ToString::to_string).collect(),
        revision,
    }
}

fn tag_to_pb(tag: crate::model::Tag, revision: u64) -> pb::Tag {
    pb::Tag {
        id: tag.id.to_string(),
        name: tag.name,
        revision,
    }
}

/// Tags or untags a tenant: AddTenantTag and RemoveTenantTag differ only in that.
async fn tag_tenant(
    admin: &Admin,
    actor: &Actor,
    tenant_id: &str,
    tag_id: &str,
    tagged: bool,
) -> Result<u64, Status> {
    let tenant = convert::tenant_id("tenant_id", tenant_id)?;
    let tag = convert::tag_id("tag_id", tag_id)?;
    Ok(admin.set_tenant_tag(actor, tenant, tag, tagged).await?)
}
