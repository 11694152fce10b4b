//! Reads, generic over a connection or a transaction; here the row-to-model helpers they share.

/// `Id => Row, "what";`: `Id` is [`Keyed`], its row the one of `Row`'s table with the id as
/// primary key.
macro_rules! keyed {
    ($($id:ty => $row:ty, $what:literal;)*) => {$(
        impl $crate::store::queries::Keyed for $id {
            type Row = $row;
            const WHAT: &'static str = $what;
            async fn find(
                self,
                db: &impl sea_orm::ConnectionTrait,
            ) -> Result<Option<$row>, StoreError> {
                let query = <$row as $crate::store::queries::FromRow>::Entity::find_by_id(self.0);
                $crate::store::queries::first(db, query).await
            }
        }
    )*};
}

pub(super) mod access;
pub(super) mod assignments;
pub(super) mod groups;
pub(super) mod preferences;
pub(super) mod roles;
pub(super) mod tenants;
pub(super) mod users;

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Select};
use uuid::Uuid;

use super::StoreError;
use super::entity::{role, role_assignment, role_permission, user};
use crate::model::{
    Effect, PermissionSet, ResourceRef, Role, RoleId, Scope, TagId, TenantId, User, UserId,
    catalogue,
};

/// An id that names one stored row, read by [`find`].
#[expect(
    async_fn_in_trait,
    reason = "used by this crate's use-cases, on concrete ids whose futures are Send"
)]
pub trait Keyed: Copy + std::fmt::Display {
    type Row;
    /// What the row is ("role assignment"), as messages name it.
    const WHAT: &'static str;
    async fn find(self, db: &impl ConnectionTrait) -> Result<Option<Self::Row>, StoreError>;
}

/// The row `id` names; None when there is none.
pub async fn find<I: Keyed>(
    db: &impl ConnectionTrait,
    id: I,
) -> Result<Option<I::Row>, StoreError> {
    id.find(db).await
}

/// A model value read from one row of its table (which it may find corrupt).
trait FromRow: Sized {
    type Entity: EntityTrait;
    fn from_row(row: <Self::Entity as EntityTrait>::Model) -> Result<Self, StoreError>;
}

/// Every row `query` selects, as model values, in its order.
async fn rows<T: FromRow>(
    db: &impl ConnectionTrait,
    query: Select<T::Entity>,
) -> Result<Vec<T>, StoreError> {
    query.all(db).await?.into_iter().map(T::from_row).collect()
}

/// The first row `query` selects, as a model value; None when it selects none.
async fn first<T: FromRow>(
    db: &impl ConnectionTrait,
    query: Select<T::Entity>,
) -> Result<Option<T>, StoreError> {
    query.one(db).await?.map(T::from_row).transpose()
}

fn corrupt(what: impl std::fmt::Display) -> StoreError {
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

/// Keys no longer in the catalogue are skipped: they grant nothing.
fn permission_set(keys: impl IntoIterator<Item = String>) -> PermissionSet {
    keys.into_iter()
        .filter_map(|k| catalogue().id(&k))
        .collect()
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
