//! The profile page (`/profile`): "My User's Group and Role Assignments": the signed-in
//! person's groups, assignments and effective permissions.

use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;

use super::Console;
use super::names::Names;
use super::page::{self, Answer, Frame};
use crate::model::{Action, catalogue};

#[derive(Template)]
#[template(path = "profile.html")]
struct Profile {
    frame: Frame,
    groups: Vec<String>,
    /// Role, scope, effect, how it applies.
    assignments: Vec<(String, String, &'static str, String)>,
    /// Key, name.
    permissions: Vec<(String, String)>,
    revision: u64,
}

/// `GET /profile`.
pub async fn show(State(console): State<Console>, headers: HeaderMap) -> Answer {
    let viewer = console.viewer(&headers, Action::GetMyAccess).await?;
    let frame = &viewer.frame;
    let failed = |err| page::admin_error(frame, &err, "/console/");
    let (access, groups, revision) = console
        .admin
        .my_access(&viewer.actor)
        .await
        .map_err(failed)?;
    let names = Names::load(&console.admin, &viewer.actor)
        .await
        .unwrap_or_default();
    let assignments = access
        .grants
        .iter()
        .map(|grant| {
            let via = match access.via_group(grant) {
                None => "direct".to_owned(),
                Some(group) => groups
                    .iter()
                    .find(|g| g.id == group)
                    .map_or_else(|| group.to_string(), |g| format!("through {}", g.name)),
            };
            let effect = match grant.effect {
                crate::model::Effect::Allow => "Allow",
                crate::model::Effect::Deny => "Deny",
            };
            (
                access.role_of(grant).name.to_string(),
                names.scope(&grant.scope),
                effect,
                via,
            )
        })
        .collect();
    let permissions = access
        .allowed_permissions()
        .iter()
        .map(|id| {
            let p = catalogue().get(id);
            (p.key.clone(), p.name.clone())
        })
        .collect();
    Ok(page::render(
        frame,
        &Profile {
            frame: frame.clone(),
            groups: groups.into_iter().map(|g| g.name).collect(),
            assignments,
            permissions,
            revision,
        },
    ))
}
