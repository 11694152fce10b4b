//! Reads of role assignments: by id, by principal, role or scope, and filtered pages.

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};

use super::{FromRow, rows, scope_columns};
use crate::model::{
    AssignmentId, GroupId, Principal, RoleAssignment, RoleId, Scope, UserId, unix_now,
};
use crate::store::StoreError;
use crate::store::entity::role_assignment;

keyed! {
    AssignmentId => RoleAssignment, "role assignment";
}

/// Every assignment given to the group.
pub async fn group_assignments<C: ConnectionTrait>(
    db: &C,
    group: GroupId,
) -> Result<Vec<RoleAssignment>, StoreError> {
    assignments_where(db, role_assignment::Column::GroupId.eq(group.0)).await
}

/// The assignments the condition selects.
async fn assignments_where<C: ConnectionTrait>(
    db: &C,
    condition: impl sea_orm::sea_query::IntoCondition,
) -> Result<Vec<RoleAssignment>, StoreError> {
    rows(db, role_assignment::Entity::find().filter(condition)).await
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
                assignment: RoleAssignment::from_row(row)?,
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
    assignments_where(db, any).await
}

/// Every assignment of a role.
pub async fn role_assignments<C: ConnectionTrait>(
    db: &C,
    role: RoleId,
) -> Result<Vec<RoleAssignment>, StoreError> {
    assignments_where(db, role_assignment::Column::RoleId.eq(role.0)).await
}
