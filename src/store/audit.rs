//! The audit log: every admin write and every refused admin call, read newest first.

use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::StoreError;
use super::entity::audit_event;
use crate::model::UserId;

/// One row of the audit log.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: Uuid,
    /// Unix seconds.
    pub at: i64,
    pub actor: Option<UserId>,
    pub impersonator: Option<UserId>,
    pub action: String,
    pub target: String,
    pub before: Option<String>,
    pub after: Option<String>,
    pub outcome: String,
    pub detail: String,
}

/// Which events to read; every set field narrows.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub actor: Option<UserId>,
    pub action: Option<String>,
    pub outcome: Option<String>,
    /// Inclusive, Unix seconds.
    pub since: Option<i64>,
    /// Exclusive, Unix seconds.
    pub until: Option<i64>,
    /// Continue after this event (the last one of the previous page).
    pub after: Option<(i64, Uuid)>,
    pub limit: u64,
}

/// Events matching the filter, newest first (ties broken by id, so pages never overlap).
pub async fn audit_events<C: ConnectionTrait>(
    db: &C,
    filter: &AuditFilter,
) -> Result<Vec<AuditEvent>, StoreError> {
    let mut query = audit_event::Entity::find();
    if let Some(actor) = filter.actor {
        query = query.filter(audit_event::Column::ActorUserId.eq(actor.0));
    }
    if let Some(action) = &filter.action {
        query = query.filter(audit_event::Column::Action.eq(action.as_str()));
    }
    if let Some(outcome) = &filter.outcome {
        query = query.filter(audit_event::Column::Outcome.eq(outcome.as_str()));
    }
    if let Some(since) = filter.since {
        query = query.filter(audit_event::Column::At.gte(since));
    }
    if let Some(until) = filter.until {
        query = query.filter(audit_event::Column::At.lt(until));
    }
    if let Some((at, id)) = filter.after {
        query = query.filter(
            Condition::any().add(audit_event::Column::At.lt(at)).add(
                Condition::all()
                    .add(audit_event::Column::At.eq(at))
                    .add(audit_event::Column::Id.lt(id)),
            ),
        );
    }
    let rows = query
        .order_by_desc(audit_event::Column::At)
        .order_by_desc(audit_event::Column::Id)
        .limit(filter.limit)
        .all(db)
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| AuditEvent {
            id: row.id,
            at: row.at,
            actor: row.actor_user_id.map(UserId),
            impersonator: row.impersonator_user_id.map(UserId),
            action: row.action,
            target: row.target,
            before: row.before,
            after: row.after,
            outcome: row.outcome,
            detail: row.detail,
        })
        .collect())
}
