//! Reads, generic over a connection or a transaction, one file per thing read; `rows.rs`
//! turns a row into its model value. Here: the look-up of one row by its id ([`Keyed`]) and
//! the roles with their permissions, which several reads share.

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
mod rows;
pub(super) mod tenants;
pub(super) mod users;

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::StoreError;
use super::entity::{role, role_permission};
use crate::model::{PermissionSet, Role, RoleId, TenantId, catalogue};
use rows::{FromRow, corrupt, effect_from, first, rows, scope_from};
pub(super) use rows::{effect_column, scope_columns};

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
