//! The Access Requests tab: pending requests, each approved (with how long the new user
//! stays) or rejected.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};

use super::Console;
use super::form::Fields;
use super::names::Names;
use super::page::{self, Answer, Frame};
use crate::admin::Expiry;
use crate::model::{AccessRequestId, AccessRequestStatus, Action};

#[derive(Template)]
#[template(path = "access_requests.html")]
struct AccessRequests {
    frame: Frame,
    /// Id, name, email, tenant.
    requests: Vec<(AccessRequestId, String, String, String)>,
}

/// `GET /console/access-requests`.
pub async fn list(State(console): State<Console>, headers: HeaderMap) -> Answer {
    let viewer = console.viewer(&headers, Action::ListAccessRequests).await?;
    let frame = &viewer.frame;
    let failed = |err| page::admin_error(frame, &err, "/console/");
    let pending = console
        .admin
        .list_access_requests(&viewer.actor, AccessRequestStatus::Pending, None)
        .await
        .map_err(failed)?;
    let names = Names::load(&console.admin, &viewer.actor)
        .await
        .map_err(failed)?;
    let requests = pending
        .iter()
        .map(|r| {
            let name = format!("{} {}", r.first_name, r.last_name);
            (
                r.id,
                name.trim().to_owned(),
                r.email.clone(),
                names.tenant(r.tenant_id),
            )
        })
        .collect();
    Ok(page::render(
        frame,
        &AccessRequests {
            frame: frame.clone(),
            requests,
        },
    ))
}

/// `POST /console/access-requests/{id}`: "Approve" (with "Expires") or "Reject".
pub async fn decide(
    State(console): State<Console>,
    Path(id): Path<uuid::Uuid>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let form = Fields::parse(&body);
    let approve = form.get("decision") == Some("approve");
    let action = if approve {
        Action::ApproveAccessRequest
    } else {
        Action::RejectAccessRequest
    };
    let viewer = console.acting(&headers, &form, action).await?;
    let back = "/console/access-requests";
    let expiry = match form.get("expires") {
        Some("1h") => Expiry::OneHour,
        Some("1d") => Expiry::OneDay,
        Some("3d") => Expiry::ThreeDays,
        Some("never") | None => Expiry::Never,
        Some(_) => {
            return Err(page::refused(
                &viewer.frame,
                StatusCode::BAD_REQUEST,
                "choose when the new user “Expires”",
                back,
            ));
        }
    };
    let (_, user, _) = console
        .admin
        .decide_access_request(
            &viewer.actor,
            AccessRequestId(id),
            approve.then_some(expiry),
        )
        .await
        .map_err(|err| page::admin_error(&viewer.frame, &err, back))?;
    match user {
        Some(user) => Ok(page::redirect(
            &viewer.frame,
            &format!("/console/users/{}", user.id),
        )),
        None => Ok(page::redirect(&viewer.frame, back)),
    }
}
