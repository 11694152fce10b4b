//! The Audit Log tab: the newest events the viewer may read, refusals among them.

use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;

use super::Console;
use super::page::{self, Answer, Frame};
use crate::model::Action;
use crate::store::AuditFilter;

/// Events shown, newest first.
const SHOWN: u64 = 200;

/// One event as a row.
pub struct Row {
    pub at: String,
    pub actor: String,
    pub action: &'static str,
    pub target: String,
    pub outcome: &'static str,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditLog {
    frame: Frame,
    rows: Vec<Row>,
}

/// `GET /console/audit`.
pub async fn list(State(console): State<Console>, headers: HeaderMap) -> Answer {
    let viewer = console.viewer(&headers, Action::ListAuditEvents).await?;
    let filter = AuditFilter {
        limit: SHOWN,
        ..AuditFilter::default()
    };
    let page = console
        .admin
        .list_audit_events(&viewer.actor, filter)
        .await
        .map_err(|err| page::admin_error(&viewer.frame, &err, "/console/"))?;
    let rows = page
        .events
        .iter()
        .map(|e| {
            let r = &e.record;
            let actor = match (r.actor, r.impersonator) {
                (Some(actor), Some(by)) => format!("{actor} (impersonated by {by})"),
                (Some(actor), None) => actor.to_string(),
                (None, _) => "unknown".to_owned(),
            };
            Row {
                at: format!("{}", e.at),
                actor,
                action: r.action.into(),
                target: r.target.clone(),
                outcome: r.outcome.into(),
                detail: r.detail.clone(),
            }
        })
        .collect();
    Ok(page::render(
        &viewer.frame,
        &AuditLog {
            frame: viewer.frame.clone(),
            rows,
        },
    ))
}
