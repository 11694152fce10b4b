//! Reads of roles with their permissions.

use std::collections::HashMap;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};

use super::{Keyed, roles_from};
use crate::model::{Role, RoleId};
use crate::store::StoreError;
use crate::store::entity::role;

impl Keyed for RoleId {
    type Row = Role;
    const WHAT: &'static str = "role";

    /// The role with its permissions.
    async fn find(self, db: &impl ConnectionTrait) -> Result<Option<Role>, StoreError> {
        let rows = role::Entity::find_by_id(self.0).all(db).await?;
        Ok(roles_from(db, rows).await?.pop())
    }
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
