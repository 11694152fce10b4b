//! The access facts of a user: what their effective access is compiled from.

use std::collections::HashSet;
use std::sync::Arc;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::{Keyed, effect_from, roles_from, scope_from};
use crate::engine::{AccessFacts, AssignmentFacts, RoleFacts, UserFacts};
use crate::model::{AssignmentId, GroupId, RoleId, UserId};
use crate::store::StoreError;
use crate::store::entity::{group_member, role, role_assignment};

/// What a user's effective access is compiled from; None for an unknown user.
pub async fn access_facts<C: ConnectionTrait>(
    db: &C,
    user_id: UserId,
) -> Result<Option<AccessFacts>, StoreError> {
    let Some(user) = user_id.find(db).await? else {
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
