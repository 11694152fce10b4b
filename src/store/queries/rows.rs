//! How a stored row becomes its model value ([`FromRow`]), or is found corrupt; and the
//! columns that hold an assignment's scope and effect.

use sea_orm::{ConnectionTrait, EntityTrait, Select};
use uuid::Uuid;

use crate::model::{
    AccessRequest, AccessRequestId, AssignmentId, Effect, Group, GroupId, Person, PersonId,
    Principal, ResourceRef, RoleAssignment, RoleId, Scope, Tag, TagId, TenantId, User, UserId,
};
use crate::store::StoreError;
use crate::store::entity::{access_request, group, person, role_assignment, tag, user};

/// A model value read from one row of its table (which it may find corrupt).
pub trait FromRow: Sized {
    type Entity: EntityTrait;
    fn from_row(row: <Self::Entity as EntityTrait>::Model) -> Result<Self, StoreError>;
}

/// Every row `query` selects, as model values, in its order.
pub(super) async fn rows<T: FromRow>(
    db: &impl ConnectionTrait,
    query: Select<T::Entity>,
) -> Result<Vec<T>, StoreError> {
    query.all(db).await?.into_iter().map(T::from_row).collect()
}

/// The first row `query` selects, as a model value; None when it selects none.
pub(super) async fn first<T: FromRow>(
    db: &impl ConnectionTrait,
    query: Select<T::Entity>,
) -> Result<Option<T>, StoreError> {
    query.one(db).await?.map(T::from_row).transpose()
}

pub(super) fn corrupt(what: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(what.to_string())
}

impl FromRow for User {
    type Entity = user::Entity;

    fn from_row(row: user::Model) -> Result<User, StoreError> {
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
}

impl FromRow for Group {
    type Entity = group::Entity;

    fn from_row(row: group::Model) -> Result<Group, StoreError> {
        Ok(Group {
            id: GroupId(row.id),
            name: row.name,
            description: row.description,
            owner: row.owner_tenant_id.map(TenantId),
        })
    }
}

impl FromRow for Tag {
    type Entity = tag::Entity;

    fn from_row(row: tag::Model) -> Result<Tag, StoreError> {
        Ok(Tag {
            id: TagId(row.id),
            name: row.name,
        })
    }
}

impl FromRow for Person {
    type Entity = person::Entity;

    fn from_row(row: person::Model) -> Result<Person, StoreError> {
        Ok(Person {
            id: PersonId(row.id),
            tenant_id: TenantId(row.tenant_id),
            azure_object_id: row.azure_object_id,
            email: row.email,
            first_name: row.first_name,
            last_name: row.last_name,
            user_id: row.user_id.map(UserId),
        })
    }
}

impl FromRow for AccessRequest {
    type Entity = access_request::Entity;

    fn from_row(row: access_request::Model) -> Result<AccessRequest, StoreError> {
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
}

impl FromRow for RoleAssignment {
    type Entity = role_assignment::Entity;

    fn from_row(row: role_assignment::Model) -> Result<RoleAssignment, StoreError> {
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
}

/// The stored columns of a scope: kind, tenant, tag, resource type, resource id.
pub(in crate::store) type ScopeColumns = (
    &'static str,
    Option<Uuid>,
    Option<Uuid>,
    Option<String>,
    Option<String>,
);

pub(in crate::store) fn scope_columns(scope: &Scope) -> ScopeColumns {
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

pub(in crate::store) fn effect_column(effect: Effect) -> &'static str {
    match effect {
        Effect::Allow => "allow",
        Effect::Deny => "deny",
    }
}

pub(super) fn scope_from(row: &role_assignment::Model) -> Result<Scope, StoreError> {
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

pub(super) fn effect_from(row: &role_assignment::Model) -> Result<Effect, StoreError> {
    match row.effect.as_str() {
        "allow" => Ok(Effect::Allow),
        "deny" => Ok(Effect::Deny),
        other => Err(corrupt(format!(
            "assignment {} has effect `{other}`",
            row.id
        ))),
    }
}
