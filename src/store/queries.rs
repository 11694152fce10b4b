//! Reads, generic over a connection or an open transaction, returning model values.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::StoreError;
use super::entity::{
    group, group_member, resource, role, role_assignment, role_permission, tag, tenant, tenant_tag,
    user,
};
use crate::engine::{AssignmentFacts, EffectiveAccess, RoleFacts, UserFacts};
use crate::model::{
    AssignmentId, Effect, Group, GroupId, PermissionSet, Principal, ResourceRef, Role,
    RoleAssignment, RoleId, Scope, Tag, TagId, Tenant, TenantId, User, UserId, catalogue,
};

fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

pub(super) fn tenant_from(row: tenant::Model, tags: Vec<TagId>) -> Tenant {
    Tenant {
        id: TenantId(row.id),
        name: row.name,
        parent: row.parent_id.map(TenantId),
        is_msp: row.is_msp,
        tags,
    }
}

pub(super) fn user_from(row: user::Model) -> User {
    User {
        id: UserId(row.id),
        tenant_id: TenantId(row.tenant_id),
        azure_object_id: row.azure_object_id,
        email: row.email,
        first_name: row.first_name,
        last_name: row.last_name,
        disabled: row.disabled,
        expires_at: row.expires_at,
    }
}

fn group_from(row: group::Model) -> Group {
    Group {
        id: GroupId(row.id),
        name: row.name,
        description: row.description,
        owner: row.owner_tenant_id.map(TenantId),
    }
}

/// The stored columns of a scope: kind, tenant, tag, resource type, resource id.
pub(super) type ScopeColumns = (
    &'static str,
    Option<Uuid>,
    Option<Uuid>,
    Option<String>,
    Option<String>,
);

pub(super) fn scope_columns(scope: &Scope) -> ScopeColumns {
    match scope {
        Scope::Owner => ("owner", None, None, None, None),
        Scope::Msp(t) => ("msp", Some(t.0), None, None, None),
        Scope::Tenant(t) => ("tenant", Some(t.0), None, None, None),
        Scope::TenantTag(g) => ("tenant_tag", None, Some(g.0), None, None),
        Scope::UsersTenant => ("users_tenant", None, None, None, None),
        Scope::Resource(r) => (
            "resource",
            None,
            None,
            Some(r.kind.as_str().to_owned()),
            Some(r.id.to_string()),
        ),
    }
}

pub(super) fn effect_column(effect: Effect) -> &'static str {
    match effect {
        Effect::Allow => "allow",
        Effect::Deny => "deny",
    }
}

fn scope_from(row: &role_assignment::Model) -> Result<Scope, StoreError> {
    let tenant = || {
        row.scope_tenant_id
            .map(TenantId)
            .ok_or_else(|| corrupt(format!("assignment {} has no scope tenant", row.id)))
    };
    Ok(match row.scope_kind.as_str() {
        "owner" => Scope::Owner,
        "msp" => Scope::Msp(tenant()?),
        "tenant" => Scope::Tenant(tenant()?),
        "tenant_tag" => {
            Scope::TenantTag(TagId(row.scope_tag_id.ok_or_else(|| {
                corrupt(format!("assignment {} has no scope tag", row.id))
            })?))
        }
        "users_tenant" => Scope::UsersTenant,
        "resource" => match (&row.scope_resource_type, &row.scope_resource_id) {
            (Some(kind), Some(id)) => {
                Scope::Resource(ResourceRef::new(kind.parse().map_err(corrupt)?, id))
            }
            _ => {
                return Err(corrupt(format!(
                    "assignment {} has no scope resource",
                    row.id
                )));
            }
        },
        other => {
            return Err(corrupt(format!(
                "assignment {} has scope `{other}`",
                row.id
            )));
        }
    })
}

fn effect_from(row: &role_assignment::Model) -> Result<Effect, StoreError> {
    match row.effect.as_str() {
        "allow" => Ok(Effect::Allow),
        "deny" => Ok(Effect::Deny),
        other => Err(corrupt(format!(
            "assignment {} has effect `{other}`",
            row.id
        ))),
    }
}

fn assignment_from(row: role_assignment::Model) -> Result<RoleAssignment, StoreError> {
    let principal = match (row.user_id, row.group_id) {
        (Some(user), None) => Principal::User(UserId(user)),
        (None, Some(group)) => Principal::Group(GroupId(group)),
        _ => {
            return Err(corrupt(format!(
                "assignment {} has no single principal",
                row.id
            )));
        }
    };
    Ok(RoleAssignment {
        id: AssignmentId(row.id),
        role_id: RoleId(row.role_id),
        principal,
        scope: scope_from(&row)?,
        effect: effect_from(&row)?,
    })
}

/// Keys no longer in the catalogue are skipped: they grant nothing.
fn permission_set(keys: impl IntoIterator<Item = String>) -> PermissionSet {
    keys.into_iter()
        .filter_map(|k| catalogue().id(&k))
        .collect()
}

pub async fn tenants<C: ConnectionTrait>(db: &C) -> Result<Vec<Tenant>, StoreError> {
    let mut tags: HashMap<Uuid, Vec<TagId>> = HashMap::new();
    for row in tenant_tag::Entity::find().all(db).await? {
        tags.entry(row.tenant_id)
            .or_default()
            .push(TagId(row.tag_id));
    }
    Ok(tenant::Entity::find()
        .all(db)
        .await?
        .into_iter()
        .map(|row| {
            let tags = tags.remove(&row.id).unwrap_or_default();
            tenant_from(row, tags)
        })
        .collect())
}

pub async fn find_tenant<C: ConnectionTrait>(
    db: &C,
    id: TenantId,
) -> Result<Option<Tenant>, StoreError> {
    let Some(row) = tenant::Entity::find_by_id(id.0).one(db).await? else {
        return Ok(None);
    };
    let tags = tenant_tag::Entity::find()
        .filter(tenant_tag::Column::TenantId.eq(id.0))
        .all(db)
        .await?
        .into_iter()
        .map(|t| TagId(t.tag_id))
        .collect();
    Ok(Some(tenant_from(row, tags)))
}

pub async fn find_tag<C: ConnectionTrait>(db: &C, id: TagId) -> Result<Option<Tag>, StoreError> {
    Ok(tag::Entity::find_by_id(id.0).one(db).await?.map(|row| Tag {
        id: TagId(row.id),
        name: row.name,
    }))
}

pub async fn find_tag_by_name<C: ConnectionTrait>(
    db: &C,
    name: &str,
) -> Result<Option<Tag>, StoreError> {
    Ok(tag::Entity::find()
        .filter(tag::Column::Name.eq(name))
        .one(db)
        .await?
        .map(|row| Tag {
            id: TagId(row.id),
            name: row.name,
        }))
}

pub async fn find_user<C: ConnectionTrait>(db: &C, id: UserId) -> Result<Option<User>, StoreError> {
    Ok(user::Entity::find_by_id(id.0).one(db).await?.map(user_from))
}

pub async fn find_user_by_object_id<C: ConnectionTrait>(
    db: &C,
    azure_object_id: Uuid,
) -> Result<Option<User>, StoreError> {
    Ok(user::Entity::find()
        .filter(user::Column::AzureObjectId.eq(azure_object_id))
        .one(db)
        .await?
        .map(user_from))
}

pub async fn find_group<C: ConnectionTrait>(
    db: &C,
    id: GroupId,
) -> Result<Option<Group>, StoreError> {
    Ok(group::Entity::find_by_id(id.0)
        .one(db)
        .await?
        .map(group_from))
}

/// The groups with these ids, in no particular order.
pub async fn find_groups<C: ConnectionTrait>(
    db: &C,
    ids: &[GroupId],
) -> Result<Vec<Group>, StoreError> {
    Ok(group::Entity::find()
        .filter(group::Column::Id.is_in(ids.iter().map(|g| g.0)))
        .all(db)
        .await?
        .into_iter()
        .map(group_from)
        .collect())
}

pub async fn is_group_member<C: ConnectionTrait>(
    db: &C,
    group: GroupId,
    user: UserId,
) -> Result<bool, StoreError> {
    Ok(group_member::Entity::find_by_id((group.0, user.0))
        .one(db)
        .await?
        .is_some())
}

async fn role_permissions<C: ConnectionTrait>(
    db: &C,
    roles: &[Uuid],
) -> Result<HashMap<Uuid, Vec<String>>, StoreError> {
    let mut keys: HashMap<Uuid, Vec<String>> = HashMap::new();
    for row in role_permission::Entity::find()
        .filter(role_permission::Column::RoleId.is_in(roles.iter().copied()))
        .all(db)
        .await?
    {
        keys.entry(row.role_id)
            .or_default()
            .push(row.permission_key);
    }
    Ok(keys)
}

async fn roles_from<C: ConnectionTrait>(
    db: &C,
    rows: Vec<role::Model>,
) -> Result<Vec<Role>, StoreError> {
    let ids: Vec<Uuid> = rows.iter().map(|r| r.id).collect();
    let mut keys = role_permissions(db, &ids).await?;
    Ok(rows
        .into_iter()
        .map(|row| Role {
            id: RoleId(row.id),
            permissions: permission_set(keys.remove(&row.id).unwrap_or_default()),
            name: row.name,
            description: row.description,
            owner: row.owner_tenant_id.map(TenantId),
            built_in: row.built_in,
        })
        .collect())
}

pub async fn find_role<C: ConnectionTrait>(db: &C, id: RoleId) -> Result<Option<Role>, StoreError> {
    let rows = role::Entity::find_by_id(id.0).all(db).await?;
    Ok(roles_from(db, rows).await?.pop())
}

pub async fn roles<C: ConnectionTrait>(db: &C) -> Result<Vec<Role>, StoreError> {
    let rows = role::Entity::find().all(db).await?;
    roles_from(db, rows).await
}

pub async fn find_assignment<C: ConnectionTrait>(
    db: &C,
    id: AssignmentId,
) -> Result<Option<RoleAssignment>, StoreError> {
    role_assignment::Entity::find_by_id(id.0)
        .one(db)
        .await?
        .map(assignment_from)
        .transpose()
}

/// Every assignment given to the group.
pub async fn group_assignments<C: ConnectionTrait>(
    db: &C,
    group: GroupId,
) -> Result<Vec<RoleAssignment>, StoreError> {
    role_assignment::Entity::find()
        .filter(role_assignment::Column::GroupId.eq(group.0))
        .all(db)
        .await?
        .into_iter()
        .map(assignment_from)
        .collect()
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

/// Loads and flattens a user's effective access; None for an unknown user.
pub async fn load_access<C: ConnectionTrait>(
    db: &C,
    user_id: UserId,
) -> Result<Option<EffectiveAccess>, StoreError> {
    let Some(user) = find_user(db, user_id).await? else {
        return Ok(None);
    };
    let group_ids: Vec<Uuid> = group_member::Entity::find()
        .filter(group_member::Column::UserId.eq(user_id.0))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.group_id)
        .collect();
    // Two look-ups, each on its own index: SQLite would scan every row for the `OR`.
    let mut rows = role_assignment::Entity::find()
        .filter(role_assignment::Column::UserId.eq(user_id.0))
        .all(db)
        .await?;
    if !group_ids.is_empty() {
        rows.extend(
            role_assignment::Entity::find()
                .filter(role_assignment::Column::GroupId.is_in(group_ids.iter().copied()))
                .all(db)
                .await?,
        );
    }
    let mut assignments = Vec::with_capacity(rows.len());
    let mut role_ids = HashSet::new();
    for row in rows {
        role_ids.insert(row.role_id);
        assignments.push(AssignmentFacts {
            id: AssignmentId(row.id),
            role_id: RoleId(row.role_id),
            scope: scope_from(&row)?,
            effect: effect_from(&row)?,
            via_group: row.group_id.map(GroupId),
        });
    }
    let role_rows = role::Entity::find()
        .filter(role::Column::Id.is_in(role_ids.iter().copied()))
        .all(db)
        .await?;
    let roles = roles_from(db, role_rows)
        .await?
        .into_iter()
        .map(|r| {
            Arc::new(RoleFacts {
                id: r.id,
                name: Arc::from(r.name),
                permissions: r.permissions,
            })
        })
        .collect();
    let groups = group_ids.into_iter().map(GroupId).collect();
    Ok(Some(EffectiveAccess::compile(
        UserFacts::from(&user),
        groups,
        roles,
        assignments,
    )))
}
