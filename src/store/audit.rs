//! The audit log: every admin write and every refused admin call, written with the call's
//! transaction (or alone, for a refusal) and read newest first.

use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
};
use uuid::Uuid;

use super::entity::audit_event;
use super::{Store, StoreError};
use crate::model::{Action, Outcome, UserId, unix_now};

/// One row of the audit log: who did what to what, and how it ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRecord {
    pub actor: Option<UserId>,
    /// The signed-in user behind an impersonated call.
    pub impersonator: Option<UserId>,
    pub action: Action,
    pub target: String,
    pub before: Option<String>,
    pub after: Option<String>,
    /// Refused ones keep the reason in `detail`.
    pub outcome: Outcome,
    pub detail: String,
}

/// A row of the audit log as read back: its id, when it was written, and what it records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEvent {
    /// Time-ordered (UUIDv7), so that events within one second still list in order.
    pub id: Uuid,
    /// Unix seconds.
    pub at: i64,
    pub record: AuditRecord,
}

/// Which events to read; every set field narrows.
#[derive(Clone, Debug, Default)]
pub struct AuditFilter {
    pub actor: Option<UserId>,
    pub action: Option<Action>,
    pub outcome: Option<Outcome>,
    /// Inclusive, Unix seconds.
    pub since: Option<i64>,
    /// Exclusive, Unix seconds.
    pub until: Option<i64>,
    /// Continue after this event (the last one of the previous page).
    pub after: Option<(i64, Uuid)>,
    pub limit: u64,
}

pub(super) async fn insert_audit<C: ConnectionTrait>(
    db: &C,
    audit: AuditRecord,
) -> Result<(), StoreError> {
    audit_event::Entity::insert(audit_event::ActiveModel {
        id: Set(Uuid::now_v7()),
        at: Set(unix_now()),
        actor_user_id: Set(audit.actor.map(|u| u.0)),
        impersonator_user_id: Set(audit.impersonator.map(|u| u.0)),
        action: Set(audit.action.as_str().to_owned()),
        target: Set(audit.target),
        before: Set(audit.before),
        after: Set(audit.after),
        outcome: Set(audit.outcome.as_str().to_owned()),
        detail: Set(audit.detail),
    })
    .exec_without_returning(db)
    .await?;
    Ok(())
}

impl Store {
    /// Records an audit row alone: a refused call, or an event that changes no data.
    pub async fn audit(&self, audit: AuditRecord) -> Result<(), StoreError> {
        insert_audit(self.db(), audit).await
    }
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
    if let Some(action) = filter.action {
        query = query.filter(audit_event::Column::Action.eq(action.as_str()));
    }
    if let Some(outcome) = filter.outcome {
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
    rows.into_iter()
        .map(|row| {
            let corrupt = |column: &str, value: &str| {
                StoreError::Corrupt(format!("audit event {} has {column} `{value}`", row.id))
            };
            let record = AuditRecord {
                actor: row.actor_user_id.map(UserId),
                impersonator: row.impersonator_user_id.map(UserId),
                action: row
                    .action
                    .parse()
                    .map_err(|_| corrupt("action", &row.action))?,
                target: row.target,
                before: row.before,
                after: row.after,
                outcome: row
                    .outcome
                    .parse()
                    .map_err(|_| corrupt("outcome", &row.outcome))?,
                detail: row.detail,
            };
            Ok(AuditEvent {
                id: row.id,
                at: row.at,
                record,
            })
        })
        .collect()
}
