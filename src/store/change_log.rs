//! The change log: every write appends one row, in its own transaction, naming what it
//! touched, so each replica invalidates exactly that.

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, Order, QueryFilter, QueryOrder, QuerySelect,
};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::entity::change_log;
use super::{Store, StoreError};
use crate::model::ResourceRef;

/// What one write touched.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    /// The user's existence, status, tenant, direct assignments or group memberships.
    /// Replicas also forget every subject they remembered as unknown.
    User { id: Uuid },
    /// The role's permissions, or the role itself.
    Role { id: Uuid },
    /// The group's assignments, or the group itself (members are `User` changes).
    Group { id: Uuid },
    /// These tenants' rows or tags (created, renamed, moved, tagged or deleted); none
    /// named means the whole tree (a bulk load, and rows written before ids were kept).
    /// Replicas that predate the ids read it as the whole tree, which is still exact.
    Tenants {
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        ids: Vec<Uuid>,
    },
    /// A resource's registration or owner.
    Resource {
        resource_type: String,
        resource_id: String,
    },
}

impl Change {
    /// The resource a `Resource` change names; None for any other change.
    pub fn resource(&self) -> Result<Option<ResourceRef>, StoreError> {
        let Change::Resource {
            resource_type,
            resource_id,
        } = self
        else {
            return Ok(None);
        };
        let kind = resource_type
            .parse()
            .map_err(|e| StoreError::Corrupt(format!("change log: {e}")))?;
        Ok(Some(ResourceRef::new(kind, resource_id)))
    }
}

/// The changes of one revision.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ChangeBatch {
    pub revision: u64,
    pub changes: Vec<Change>,
}

impl Store {
    /// The newest revision in the log (0 when empty).
    pub async fn max_revision(&self) -> Result<u64, StoreError> {
        max_revision(self.db()).await
    }

    /// Up to `limit` revisions after `after`, oldest first.
    pub async fn changes_after(
        &self,
        after: u64,
        limit: u64,
    ) -> Result<Vec<ChangeBatch>, StoreError> {
        changes_after(self.db(), after, limit).await
    }
}

/// Up to `limit` revisions after `after`, oldest first, read through `db` (a write's
/// transaction catches up through its own connection).
pub async fn changes_after<C: ConnectionTrait>(
    db: &C,
    after: u64,
    limit: u64,
) -> Result<Vec<ChangeBatch>, StoreError> {
    let rows = change_log::Entity::find()
        .filter(change_log::Column::Revision.gt(to_i64(after)))
        .order_by_asc(change_log::Column::Revision)
        .limit(limit)
        .all(db)
        .await?;
    rows.into_iter()
        .map(|row| {
            let changes = serde_json::from_str(&row.changes).map_err(|e| {
                StoreError::Corrupt(format!("change log revision {}: {e}", row.revision))
            })?;
            Ok(ChangeBatch {
                revision: u64::try_from(row.revision).unwrap_or_default(),
                changes,
            })
        })
        .collect()
}

impl Store {
    /// The oldest revision still in the log (0 when empty).
    pub async fn oldest_revision(&self) -> Result<u64, StoreError> {
        oldest_revision(self.db()).await
    }

    /// Deletes revisions older than `older_than_unix` (seconds), always keeping the
    /// newest, so revisions never restart. Returns how many were deleted.
    pub async fn compact_change_log(&self, older_than_unix: i64) -> Result<u64, StoreError> {
        let newest = to_i64(self.max_revision().await?);
        let deleted = change_log::Entity::delete_many()
            .filter(change_log::Column::At.lt(older_than_unix))
            .filter(change_log::Column::Revision.lt(newest))
            .exec(self.db())
            .await?;
        Ok(deleted.rows_affected)
    }
}

/// The oldest revision still in the log (0 when empty).
pub async fn oldest_revision<C: ConnectionTrait>(db: &C) -> Result<u64, StoreError> {
    end_revision(db, Order::Asc).await
}

/// The newest revision in the log (0 when empty).
pub async fn max_revision<C: ConnectionTrait>(db: &C) -> Result<u64, StoreError> {
    end_revision(db, Order::Desc).await
}

/// The first revision in this order (0 when the log is empty).
async fn end_revision<C: ConnectionTrait>(db: &C, order: Order) -> Result<u64, StoreError> {
    let first = change_log::Entity::find()
        .order_by(change_log::Column::Revision, order)
        .one(db)
        .await?;
    Ok(first.map_or(0, |row| u64::try_from(row.revision).unwrap_or_default()))
}

pub(super) fn to_i64(revision: u64) -> i64 {
    i64::try_from(revision).unwrap_or(i64::MAX)
}
