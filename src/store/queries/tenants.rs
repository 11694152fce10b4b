//! Reads of tenants with their tags, of tags and resource owners, and of what refers to them.

use std::collections::HashMap;

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Select,
};
use uuid::Uuid;

use super::{Keyed, corrupt, first, rows};
use crate::model::{ResourceRef, Tag, TagId, Tenant, TenantId};
use crate::store::StoreError;
use crate::store::entity::{
    group, person, resource, role, role_assignment, tag, tenant, tenant_tag, user,
};

/// Tenant rows with their tags: `tags` selects the tag rows of (at least) these tenants.
async fn with_tags<C: ConnectionTrait>(
    db: &C,
    rows: Vec<tenant::Model>,
    tags: Select<tenant_tag::Entity>,
) -> Result<Vec<Tenant>, StoreError> {
    let mut tags_of: HashMap<Uuid, Vec<TagId>> = HashMap::new();
    for row in tags.all(db).await? {
        tags_of
            .entry(row.tenant_id)
            .or_default()
            .push(TagId(row.tag_id));
    }
    Ok(rows
        .into_iter()
        .map(|row| Tenant {
            tags: tags_of.remove(&row.id).unwrap_or_default(),
            id: TenantId(row.id),
            name: row.name,
            parent: row.parent_id.map(TenantId),
            is_msp: row.is_msp,
        })
        .collect())
}

pub async fn tenants<C: ConnectionTrait>(db: &C) -> Result<Vec<Tenant>, StoreError> {
    let rows = tenant::Entity::find().all(db).await?;
    with_tags(db, rows, tenant_tag::Entity::find()).await
}

/// The tenants among `ids` that exist, with their tags.
pub async fn tenants_with_ids<C: ConnectionTrait>(
    db: &C,
    ids: &[TenantId],
) -> Result<Vec<Tenant>, StoreError> {
    let mut found = Vec::with_capacity(ids.len());
    // Chunks stay under every backend's bind-parameter limit.
    for chunk in ids.chunks(1000) {
        let uuids = chunk.iter().map(|id| id.0);
        let rows = tenant::Entity::find()
            .filter(tenant::Column::Id.is_in(uuids.clone()))
            .all(db)
            .await?;
        let tags = tenant_tag::Entity::find().filter(tenant_tag::Column::TenantId.is_in(uuids));
        found.extend(with_tags(db, rows, tags).await?);
    }
    Ok(found)
}

impl Keyed for TenantId {
    type Row = Tenant;
    const WHAT: &'static str = "tenant";

    /// The tenant with its tags.
    async fn find(self, db: &impl ConnectionTrait) -> Result<Option<Tenant>, StoreError> {
        let Some(row) = tenant::Entity::find_by_id(self.0).one(db).await? else {
            return Ok(None);
        };
        let tags = tenant_tag::Entity::find().filter(tenant_tag::Column::TenantId.eq(self.0));
        Ok(with_tags(db, vec![row], tags).await?.pop())
    }
}

keyed! {
    TagId => Tag, "tag";
}

pub async fn find_tag_by_name<C: ConnectionTrait>(
    db: &C,
    name: &str,
) -> Result<Option<Tag>, StoreError> {
    first(db, tag::Entity::find().filter(tag::Column::Name.eq(name))).await
}

pub async fn resources<C: ConnectionTrait>(
    db: &C,
) -> Result<Vec<(ResourceRef, Option<TenantId>)>, StoreError> {
    resource::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|row| {
            let kind = row.resource_type.parse().map_err(corrupt)?;
            Ok((
                ResourceRef::new(kind, &row.resource_id),
                row.owner_tenant_id.map(TenantId),
            ))
        })
        .collect()
}

/// The owner of a registered resource; None when it is not registered.
pub async fn find_resource<C: ConnectionTrait>(
    db: &C,
    resource: &ResourceRef,
) -> Result<Option<Option<TenantId>>, StoreError> {
    Ok(
        resource::Entity::find_by_id((resource.kind.as_str().to_owned(), resource.id.to_string()))
            .one(db)
            .await?
            .map(|row| row.owner_tenant_id.map(TenantId)),
    )
}

pub async fn tags<C: ConnectionTrait>(db: &C) -> Result<Vec<Tag>, StoreError> {
    rows(db, tag::Entity::find().order_by_asc(tag::Column::Name)).await
}

/// What still refers to a tenant, by kind, for a refused delete; empty when nothing does.
pub async fn tenant_usage<C: ConnectionTrait>(
    db: &C,
    id: TenantId,
) -> Result<Vec<(u64, &'static str)>, StoreError> {
    macro_rules! counts {
        ($($table:ident . $column:ident => $what:literal),* $(,)?) => {
            [$((
                $table::Entity::find()
                    .filter($table::Column::$column.eq(id.0))
                    .count(db)
                    .await?,
                $what,
            )),*]
        };
    }
    let counts = counts![
        user.TenantId => "users",
        tenant.ParentId => "child tenants",
        role_assignment.ScopeTenantId => "role assignments scoped to it",
        role.OwnerTenantId => "roles",
        group.OwnerTenantId => "groups",
        resource.OwnerTenantId => "resources",
        person.TenantId => "persons",
    ];
    Ok(counts.into_iter().filter(|(n, _)| *n > 0).collect())
}

/// What still refers to a tag: tenants carrying it and assignments scoped to it.
pub async fn tag_usage<C: ConnectionTrait>(db: &C, id: TagId) -> Result<(u64, u64), StoreError> {
    let tenants = tenant_tag::Entity::find()
        .filter(tenant_tag::Column::TagId.eq(id.0))
        .count(db)
        .await?;
    let assignments = role_assignment::Entity::find()
        .filter(role_assignment::Column::ScopeTagId.eq(id.0))
        .count(db)
        .await?;
    Ok((tenants, assignments))
}
