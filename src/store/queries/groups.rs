//! Reads of groups and of their members.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder};

use super::rows;
use crate::model::{Group, GroupId, User, UserId};
use crate::store::StoreError;
use crate::store::entity::{group, group_member, user};

keyed! {
    GroupId => Group, "group";
}

/// The groups with these ids, in no particular order.
pub async fn find_groups<C: ConnectionTrait>(
    db: &C,
    ids: &[GroupId],
) -> Result<Vec<Group>, StoreError> {
    let query = group::Entity::find().filter(group::Column::Id.is_in(ids.iter().map(|g| g.0)));
    rows(db, query).await
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

pub async fn groups<C: ConnectionTrait>(db: &C) -> Result<Vec<Group>, StoreError> {
    rows(db, group::Entity::find().order_by_asc(group::Column::Name)).await
}

/// Every membership, as (group, user), by group then user.
pub async fn memberships<C: ConnectionTrait>(db: &C) -> Result<Vec<(GroupId, UserId)>, StoreError> {
    Ok(group_member::Entity::find()
        .order_by_asc(group_member::Column::GroupId)
        .order_by_asc(group_member::Column::UserId)
        .all(db)
        .await?
        .into_iter()
        .map(|m| (GroupId(m.group_id), UserId(m.user_id)))
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
    let query = user::Entity::find()
        .filter(user::Column::Id.is_in(ids))
        .order_by_asc(user::Column::Email);
    rows(db, query).await
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
