//! The access facts of a user: what their effective access is compiled from.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use uuid::Uuid;

use super::rows::FromRow;
use super::{effect_from, roles_from, scope_from};
use crate::engine::{AccessFacts, AssignmentFacts, RoleFacts, UserFacts};
use crate::model::{AssignmentId, GroupId, RoleId, User, UserId};
use crate::store::StoreError;
use crate::store::entity::{group_member, role, role_assignment, user};

/// What a user's effective access is compiled from; None for an unknown user.
pub async fn access_facts<C: ConnectionTrait>(
    db: &C,
    user_id: UserId,
) -> Result<Option<AccessFacts>, StoreError> {
    Ok(access_facts_of(db, &[user_id]).await?.remove(&user_id))
}

/// How many ids one `IN (...)` names: well under SQLite's and PostgreSQL's bind limits.
const CHUNK: usize = 1_000;

/// The rows of `entity` whose `column` is one of `ids`, a chunk of ids per query.
async fn rows_in<C, E>(db: &C, column: E::Column, ids: &[Uuid]) -> Result<Vec<E::Model>, StoreError>
where
    C: ConnectionTrait,
    E: EntityTrait,
{
    let mut rows = Vec::new();
    for chunk in ids.chunks(CHUNK) {
        rows.extend(
            E::find()
                .filter(column.is_in(chunk.iter().copied()))
                .all(db)
                .await?,
        );
    }
    Ok(rows)
}

/// What each of these users' effective access is compiled from, read together: a few
/// queries for any number of users (a preview reads every user a write reaches). Unknown
/// users are left out; users holding the same role share its facts.
pub async fn access_facts_of<C: ConnectionTrait>(
    db: &C,
    users: &[UserId],
) -> Result<HashMap<UserId, AccessFacts>, StoreError> {
    let ids: Vec<Uuid> = users.iter().map(|u| u.0).collect();
    let found = rows_in::<_, user::Entity>(db, user::Column::Id, &ids).await?;
    // Only the users that exist (an unknown subject costs one query).
    let ids: Vec<Uuid> = found.iter().map(|u| u.id).collect();
    if ids.is_empty() {
        return Ok(HashMap::new());
    }
    let mut groups: HashMap<Uuid, Vec<GroupId>> = HashMap::new();
    for row in rows_in::<_, group_member::Entity>(db, group_member::Column::UserId, &ids).await? {
        groups
            .entry(row.user_id)
            .or_default()
            .push(GroupId(row.group_id));
    }
    let group_ids: Vec<Uuid> = groups
        .values()
        .flatten()
        .map(|g| g.0)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    // Two look-ups, each on its own index: SQLite would scan every row for the `OR`.
    let direct = rows_in::<_, role_assignment::Entity>(db, role_assignment::Column::UserId, &ids);
    let mut rows = direct.await?;
    rows.extend(
        rows_in::<_, role_assignment::Entity>(db, role_assignment::Column::GroupId, &group_ids)
            .await?,
    );
    let role_ids: Vec<Uuid> = rows
        .iter()
        .map(|r| r.role_id)
        .collect::<HashSet<_>>()
        .into_iter()
        .collect();
    let role_rows = rows_in::<_, role::Entity>(db, role::Column::Id, &role_ids).await?;
    let roles: HashMap<RoleId, Arc<RoleFacts>> = roles_from(db, role_rows)
        .await?
        .into_iter()
        .map(|r| {
            let facts = RoleFacts {
                id: r.id,
                name: Arc::from(r.name),
                permissions: r.permissions,
            };
            (r.id, Arc::new(facts))
        })
        .collect();
    // Each assignment under its user, or under its group for every member.
    let mut direct: HashMap<Uuid, Vec<AssignmentFacts>> = HashMap::new();
    let mut of_group: HashMap<Uuid, Vec<AssignmentFacts>> = HashMap::new();
    for row in rows {
        let facts = AssignmentFacts {
            id: AssignmentId(row.id),
            role_id: RoleId(row.role_id),
            scope: scope_from(&row)?,
            effect: effect_from(&row)?,
            via_group: row.group_id.map(GroupId),
        };
        match (row.user_id, row.group_id) {
            (Some(user), _) => direct.entry(user).or_default().push(facts),
            (None, Some(group)) => of_group.entry(group).or_default().push(facts),
            (None, None) => {}
        }
    }
    let mut facts = HashMap::with_capacity(found.len());
    for row in found {
        let user = User::from_row(row)?;
        let groups = groups.remove(&user.id.0).unwrap_or_default();
        let mut assignments = direct.remove(&user.id.0).unwrap_or_default();
        for group in &groups {
            assignments.extend(of_group.get(&group.0).into_iter().flatten().cloned());
        }
        // In the order the assignments name them.
        let mut held: Vec<Arc<RoleFacts>> = Vec::new();
        for assignment in &assignments {
            if let Some(role) = roles.get(&assignment.role_id)
                && !held.iter().any(|r| r.id == role.id)
            {
                held.push(Arc::clone(role));
            }
        }
        facts.insert(
            user.id,
            AccessFacts {
                user: UserFacts::from(&user),
                groups,
                roles: held,
                assignments,
            },
        );
    }
    Ok(facts)
}
