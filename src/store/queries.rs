//! Reads, generic over a connection or an open transaction, returning model values.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect,
};
use uuid::Uuid;

use super::StoreError;
use super::entity::{
    access_request, group, group_member, person, preference, resource, role, role_assignment,
    role_permission, tag, tenant, tenant_tag, user,
};
use crate::engine::{AccessFacts, AssignmentFacts, RoleFacts, UserFacts};
use crate::model::{
    AccessRequest, AccessRequestId, AccessRequestStatus, AssignmentId, Effect, Group, GroupId,
    PermissionSet, Person, PersonId, Preferences, Principal, ResourceRef, Role, RoleAssignment,
    RoleId, Scope, Tag, TagId, Tenant, TenantId, User, UserId, UserOrigin, catalogue, unix_now,
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

pub(super) fn user_from(row: user::Model) -> Result<User, StoreError> {
    Ok(User {
        origin: row.origin.parse().map_err(corrupt)?,
        id: UserId(row.id),
        tenant_id: TenantId(row.tenant_id),
        azure_object_id: row.azure_object_id,
        email: row.email,
        first_name: row.first_name,
        last_name: row.last_name,
        disabled: row.disabled,
        expires_at: row.expires_at,
    })
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

/// The tenants among `ids` that exist, with their tags.
pub async fn tenants_with_ids<C: ConnectionTrait>(
    db: &C,
    ids: &[TenantId],
) -> Result<Vec<Tenant>, StoreError> {
    let mut found = Vec::with_capacity(ids.len());
    // Chunks stay under every backend's bind-parameter limit.
    for chunk in ids.chunks(1000) {
        let uuids = chunk.iter().map(|id| id.0);
        let mut tags: HashMap<Uuid, Vec<TagId>> = HashMap::new();
        for row in tenant_tag::Entity::find()
            .filter(tenant_tag::Column::TenantId.is_in(uuids.clone()))
            .all(db)
            .await?
        {
            tags.entry(row.tenant_id)
                .or_default()
                .push(TagId(row.tag_id));
        }
        let rows = tenant::Entity::find()
            .filter(tenant::Column::Id.is_in(uuids))
            .all(db)
            .await?;
        found.extend(rows.into_iter().map(|row| {
            let tags = tags.remove(&row.id).unwrap_or_default();
            tenant_from(row, tags)
        }));
    }
    Ok(found)
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
    user::Entity::find_by_id(id.0)
        .one(db)
        .await?
        .map(user_from)
        .transpose()
}

pub async fn find_user_by_object_id<C: ConnectionTrait>(
    db: &C,
    azure_object_id: Uuid,
) -> Result<Option<User>, StoreError> {
    user::Entity::find()
        .filter(user::Column::AzureObjectId.eq(azure_object_id))
        .one(db)
        .await?
        .map(user_from)
        .transpose()
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

/// The names of these roles, without their permissions.
pub async fn role_names<C: ConnectionTrait>(
    db: &C,
    ids: &[RoleId],
) -> Result<HashMap<RoleId, String>, StoreError> {
    Ok(role::Entity::find()
        .filter(role::Column::Id.is_in(ids.iter().map(|r| r.0)))
        .all(db)
        .await?
        .into_iter()
        .map(|row| (RoleId(row.id), row.name))
        .collect())
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

/// What a user's effective access is compiled from; None for an unknown user.
pub async fn access_facts<C: ConnectionTrait>(
    db: &C,
    user_id: UserId,
) -> Result<Option<AccessFacts>, StoreError> {
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
    Ok(Some(AccessFacts {
        user: UserFacts::from(&user),
        groups,
        roles,
        assignments,
    }))
}

/// The name of the impersonation preference in the `preferences` table.
pub(super) const IMPERSONATION_ENABLED: &str = "impersonation_enabled";

pub async fn preferences<C: ConnectionTrait>(db: &C) -> Result<Preferences, StoreError> {
    let row = preference::Entity::find_by_id(IMPERSONATION_ENABLED.to_owned())
        .one(db)
        .await?;
    Ok(Preferences {
        impersonation_enabled: row.is_some_and(|r| r.value == "true"),
    })
}

pub async fn tags<C: ConnectionTrait>(db: &C) -> Result<Vec<Tag>, StoreError> {
    Ok(tag::Entity::find()
        .order_by_asc(tag::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(|row| Tag {
            id: TagId(row.id),
            name: row.name,
        })
        .collect())
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
        access_request.TenantId => "access requests",
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

/// Which users to list; every set field narrows.
#[derive(Clone, Debug, Default)]
pub struct UserFilter {
    /// Only users of these tenants (the ones the reader may see); None: any tenant.
    pub tenants: Option<Vec<TenantId>>,
    pub query: Option<String>,
    pub disabled: Option<bool>,
    pub origin: Option<UserOrigin>,
    /// Continue after this user id.
    pub after: Option<UserId>,
    pub limit: u64,
}

/// Users matching the filter, by id.
pub async fn users<C: ConnectionTrait>(
    db: &C,
    filter: &UserFilter,
) -> Result<Vec<User>, StoreError> {
    let mut query = user::Entity::find();
    if let Some(tenants) = &filter.tenants {
        query = query.filter(user::Column::TenantId.is_in(tenants.iter().map(|t| t.0)));
    }
    if let Some(text) = &filter.query {
        let pattern = format!("%{}%", text.to_lowercase());
        let lower = |column: user::Column| {
            use sea_orm::sea_query::{Expr, ExprTrait, Func};
            Expr::expr(Func::lower(Expr::col(column))).like(pattern.clone())
        };
        query = query.filter(
            Condition::any()
                .add(lower(user::Column::Email))
                .add(lower(user::Column::FirstName))
                .add(lower(user::Column::LastName)),
        );
    }
    if let Some(disabled) = filter.disabled {
        query = query.filter(user::Column::Disabled.eq(disabled));
    }
    if let Some(origin) = filter.origin {
        query = query.filter(user::Column::Origin.eq(origin.as_str()));
    }
    if let Some(after) = filter.after {
        query = query.filter(user::Column::Id.gt(after.0));
    }
    query
        .order_by_asc(user::Column::Id)
        .limit(filter.limit)
        .all(db)
        .await?
        .into_iter()
        .map(user_from)
        .collect()
}

pub async fn groups<C: ConnectionTrait>(db: &C) -> Result<Vec<Group>, StoreError> {
    Ok(group::Entity::find()
        .order_by_asc(group::Column::Name)
        .all(db)
        .await?
        .into_iter()
        .map(group_from)
        .collect())
}

pub async fn group_members<C: ConnectionTrait>(
    db: &C,
    group: GroupId,
) -> Result<Vec<User>, StoreError> {
    let ids = group_member::Entity::find()
        .filter(group_member::Column::GroupId.eq(group.0))
        .all(db)
        .await?
        .into_iter()
        .map(|m| m.user_id);
    user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .order_by_asc(user::Column::Email)
        .all(db)
        .await?
        .into_iter()
        .map(user_from)
        .collect()
}

pub async fn user_groups<C: ConnectionTrait>(
    db: &C,
    user: UserId,
) -> Result<Vec<Group>, StoreError> {
    let ids: Vec<GroupId> = group_member::Entity::find()
        .filter(group_member::Column::UserId.eq(user.0))
        .all(db)
        .await?
        .into_iter()
        .map(|m| GroupId(m.group_id))
        .collect();
    let mut groups = find_groups(db, &ids).await?;
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(groups)
}

/// A stored assignment with who made it and when.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredAssignment {
    pub assignment: RoleAssignment,
    pub created_by: Option<UserId>,
    pub created_at: i64,
}

impl StoredAssignment {
    /// An assignment made now, by `created_by` (none for the bootstrap or an import).
    pub fn now(assignment: RoleAssignment, created_by: Option<UserId>) -> StoredAssignment {
        StoredAssignment {
            assignment,
            created_by,
            created_at: unix_now(),
        }
    }
}

/// Which assignments to list; every set field narrows.
#[derive(Clone, Debug, Default)]
pub struct AssignmentFilter {
    /// Only assignments given to one of these principals.
    pub principals: Option<Vec<Principal>>,
    pub role: Option<RoleId>,
    /// Continue after this assignment id.
    pub after: Option<AssignmentId>,
    /// None: every match.
    pub limit: Option<u64>,
}

/// Assignments matching the filter, by id.
pub async fn assignments<C: ConnectionTrait>(
    db: &C,
    filter: &AssignmentFilter,
) -> Result<Vec<StoredAssignment>, StoreError> {
    let mut query = role_assignment::Entity::find();
    if let Some(principals) = &filter.principals {
        let mut any = Condition::any();
        for principal in principals {
            any = any.add(match principal {
                Principal::User(u) => role_assignment::Column::UserId.eq(u.0),
                Principal::Group(g) => role_assignment::Column::GroupId.eq(g.0),
            });
        }
        query = query.filter(any);
    }
    if let Some(role) = filter.role {
        query = query.filter(role_assignment::Column::RoleId.eq(role.0));
    }
    if let Some(after) = filter.after {
        query = query.filter(role_assignment::Column::Id.gt(after.0));
    }
    query
        .order_by_asc(role_assignment::Column::Id)
        .limit(filter.limit)
        .all(db)
        .await?
        .into_iter()
        .map(|row| {
            let created_by = row.created_by.map(UserId);
            let created_at = row.created_at;
            Ok(StoredAssignment {
                assignment: assignment_from(row)?,
                created_by,
                created_at,
            })
        })
        .collect()
}

/// Every assignment scoped to one of these scopes (with no User's Tenant or Owner among
/// them): what a tenant move or a tag change makes reach other tenants.
pub async fn assignments_at<C: ConnectionTrait>(
    db: &C,
    scopes: &[Scope],
) -> Result<Vec<RoleAssignment>, StoreError> {
    if scopes.is_empty() {
        return Ok(Vec::new());
    }
    let mut any = Condition::any();
    for scope in scopes {
        let (kind, tenant, tag, resource_type, resource_id) = scope_columns(scope);
        let mut one = Condition::all().add(role_assignment::Column::ScopeKind.eq(kind));
        if let Some(tenant) = tenant {
            one = one.add(role_assignment::Column::ScopeTenantId.eq(tenant));
        }
        if let Some(tag) = tag {
            one = one.add(role_assignment::Column::ScopeTagId.eq(tag));
        }
        if let (Some(kind), Some(id)) = (resource_type, resource_id) {
            one = one
                .add(role_assignment::Column::ScopeResourceType.eq(kind))
                .add(role_assignment::Column::ScopeResourceId.eq(id));
        }
        any = any.add(one);
    }
    role_assignment::Entity::find()
        .filter(any)
        .all(db)
        .await?
        .into_iter()
        .map(assignment_from)
        .collect()
}

/// Every assignment of a role.
pub async fn role_assignments<C: ConnectionTrait>(
    db: &C,
    role: RoleId,
) -> Result<Vec<RoleAssignment>, StoreError> {
    role_assignment::Entity::find()
        .filter(role_assignment::Column::RoleId.eq(role.0))
        .all(db)
        .await?
        .into_iter()
        .map(assignment_from)
        .collect()
}

fn person_from(row: person::Model) -> Person {
    Person {
        id: PersonId(row.id),
        tenant_id: TenantId(row.tenant_id),
        azure_object_id: row.azure_object_id,
        email: row.email,
        first_name: row.first_name,
        last_name: row.last_name,
        user_id: row.user_id.map(UserId),
    }
}

pub async fn find_person<C: ConnectionTrait>(
    db: &C,
    id: PersonId,
) -> Result<Option<Person>, StoreError> {
    Ok(person::Entity::find_by_id(id.0)
        .one(db)
        .await?
        .map(person_from))
}

pub async fn find_person_by_object_id<C: ConnectionTrait>(
    db: &C,
    azure_object_id: Uuid,
) -> Result<Option<Person>, StoreError> {
    Ok(person::Entity::find()
        .filter(person::Column::AzureObjectId.eq(azure_object_id))
        .one(db)
        .await?
        .map(person_from))
}

/// The persons of these tenants (None: of every tenant), by email.
pub async fn persons<C: ConnectionTrait>(
    db: &C,
    tenants: Option<&[TenantId]>,
) -> Result<Vec<Person>, StoreError> {
    let mut query = person::Entity::find();
    if let Some(tenants) = tenants {
        query = query.filter(person::Column::TenantId.is_in(tenants.iter().map(|t| t.0)));
    }
    Ok(query
        .order_by_asc(person::Column::Email)
        .all(db)
        .await?
        .into_iter()
        .map(person_from)
        .collect())
}

fn access_request_from(row: access_request::Model) -> Result<AccessRequest, StoreError> {
    Ok(AccessRequest {
        id: AccessRequestId(row.id),
        tenant_id: TenantId(row.tenant_id),
        azure_object_id: row.azure_object_id,
        email: row.email,
        first_name: row.first_name,
        last_name: row.last_name,
        status: row.status.parse().map_err(corrupt)?,
        requested_at: row.requested_at,
        decided_by: row.decided_by.map(UserId),
    })
}

pub async fn find_access_request<C: ConnectionTrait>(
    db: &C,
    id: AccessRequestId,
) -> Result<Option<AccessRequest>, StoreError> {
    access_request::Entity::find_by_id(id.0)
        .one(db)
        .await?
        .map(access_request_from)
        .transpose()
}

/// A pending request for this Azure object id, if any.
pub async fn pending_access_request<C: ConnectionTrait>(
    db: &C,
    azure_object_id: Uuid,
) -> Result<Option<AccessRequest>, StoreError> {
    access_request::Entity::find()
        .filter(access_request::Column::AzureObjectId.eq(azure_object_id))
        .filter(access_request::Column::Status.eq(AccessRequestStatus::Pending.as_str()))
        .one(db)
        .await?
        .map(access_request_from)
        .transpose()
}

/// How many access requests wait for a decision.
pub async fn pending_access_requests<C: ConnectionTrait>(db: &C) -> Result<u64, StoreError> {
    use sea_orm::PaginatorTrait;
    Ok(access_request::Entity::find()
        .filter(access_request::Column::Status.eq(AccessRequestStatus::Pending.as_str()))
        .count(db)
        .await?)
}

/// The requests of these tenants (None: of every tenant) with this status, oldest first.
pub async fn access_requests<C: ConnectionTrait>(
    db: &C,
    tenants: Option<&[TenantId]>,
    status: AccessRequestStatus,
) -> Result<Vec<AccessRequest>, StoreError> {
    let mut query = access_request::Entity::find();
    if let Some(tenants) = tenants {
        query = query.filter(access_request::Column::TenantId.is_in(tenants.iter().map(|t| t.0)));
    }
    query
        .filter(access_request::Column::Status.eq(status.as_str()))
        .order_by_asc(access_request::Column::RequestedAt)
        .all(db)
        .await?
        .into_iter()
        .map(access_request_from)
        .collect()
}
