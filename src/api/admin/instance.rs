//! Instance preferences, impersonation, and the audit log.

use tonic::Status;

use super::optional;
use crate::admin::{Actor, Admin};
use crate::api::convert::{self, invalid};
use crate::api::pb::rbac::v1 as pb;
use crate::model::Preferences;
use crate::store::AuditFilter;

pub(super) async fn get_preferences(
    admin: &Admin,
    _actor: Actor,
    _: pb::GetPreferencesRequest,
) -> Result<pb::Preferences, Status> {
    let preferences = admin.preferences().await?;
    Ok(pb::Preferences {
        impersonation_enabled: preferences.impersonation_enabled,
        revision: 0,
    })
}

pub(super) async fn update_preferences(
    admin: &Admin,
    actor: Actor,
    r: pb::UpdatePreferencesRequest,
) -> Result<pb::Preferences, Status> {
    let wanted = Preferences {
        impersonation_enabled: r.impersonation_enabled,
    };
    let (preferences, revision) = admin.update_preferences(&actor, wanted).await?;
    Ok(pb::Preferences {
        impersonation_enabled: preferences.impersonation_enabled,
        revision,
    })
}

pub(super) async fn start_impersonation(
    admin: &Admin,
    actor: Actor,
    r: pb::StartImpersonationRequest,
) -> Result<pb::StartImpersonationResponse, Status> {
    let target = convert::user_id("user_id", &r.user_id)?;
    let user = admin.start_impersonation(&actor, target).await?;
    Ok(pb::StartImpersonationResponse {
        user: Some(convert::user_to_pb(&user, 0)),
    })
}

pub(super) async fn list_audit_events(
    admin: &Admin,
    actor: Actor,
    r: pb::ListAuditEventsRequest,
) -> Result<pb::ListAuditEventsResponse, Status> {
    let text = |field, value: String| {
        crate::model::optional_text(field, &value, crate::model::QUERY_MAX)
            .map(|v| (!v.is_empty()).then_some(v))
            .map_err(|e| invalid(e.to_string()))
    };
    let filter = AuditFilter {
        actor: optional(&r.actor_user_id, |v| convert::user_id("actor_user_id", v))?,
        action: text("action", r.action)?,
        outcome: text("outcome", r.outcome)?,
        since: (r.since_unix != 0).then_some(r.since_unix),
        until: (r.until_unix != 0).then_some(r.until_unix),
        after: optional(&r.page_token, page_token)?,
        limit: u64::from(r.page_size),
    };
    let page = admin.list_audit_events(&actor, filter).await?;
    let next_page_token = page
        .next
        .map(|(at, id)| format!("{at}.{id}"))
        .unwrap_or_default();
    let id = |u: Option<crate::model::UserId>| u.map(|u| u.to_string()).unwrap_or_default();
    Ok(pb::ListAuditEventsResponse {
        events: page
            .events
            .into_iter()
            .map(|e| pb::AuditEvent {
                id: e.id.to_string(),
                at_unix: e.at,
                actor_user_id: id(e.actor),
                impersonator_user_id: id(e.impersonator),
                action: e.action,
                target: e.target,
                before: e.before.unwrap_or_default(),
                after: e.after.unwrap_or_default(),
                outcome: e.outcome,
                detail: e.detail,
            })
            .collect(),
        next_page_token,
    })
}

/// A page token is the last event's `at` and `id`, as handed out by ListAuditEvents.
fn page_token(token: &str) -> Result<(i64, uuid::Uuid), Status> {
    let invalid = || {
        invalid(format!(
            "`page_token` `{token}` is not one this service handed out"
        ))
    };
    let (at, id) = token.split_once('.').ok_or_else(invalid)?;
    Ok((
        at.parse().map_err(|_| invalid())?,
        id.parse().map_err(|_| invalid())?,
    ))
}
