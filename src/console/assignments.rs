//! Role assignments on the pages: the "Direct Role Assignment" form of a user's or a
//! group's page ("Role", "Scope Category", "Scope", "Allow" / "Deny", "Preview",
//! "Assign"), the rows with their "Remove" buttons, and the "Direct Role Assignments"
//! tab. "Preview" runs the same call with `validate_only` and shows who gains and who
//! loses what; "Assign" commits at once.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};

use super::Console;
use super::form::Fields;
use super::groups;
use super::names::{self, Names};
use super::page::{self, Answer, Frame};
use super::users;
use crate::admin::{Actor, Admin, NewAssignment, Result};
use crate::engine::{AccessPreview, Target};
use crate::model::{
    Action, AssignmentId, Effect, GroupId, Principal, RoleId, Scope, TagId, TenantId, UserId,
    catalogue,
};
use crate::store::AssignmentFilter;

/// Assignments listed on a page, at most.
const LISTED: u64 = 1000;

/// One assignment as a row: what, where, and whether the viewer sees a "Remove" button.
pub struct AssignmentRow {
    pub id: AssignmentId,
    pub principal: String,
    pub role: String,
    pub scope: String,
    pub effect: &'static str,
}

/// The assignments of `principal` the actor may see (a user's own only, with
/// `direct_only`), or of everyone.
pub async fn rows(
    admin: &Admin,
    actor: &Actor,
    names: &Names,
    principal: Principal,
    direct_only: bool,
) -> Result<Vec<AssignmentRow>> {
    listed(admin, actor, names, Some(principal), direct_only, None).await
}

async fn listed(
    admin: &Admin,
    actor: &Actor,
    names: &Names,
    principal: Option<Principal>,
    direct_only: bool,
    role: Option<RoleId>,
) -> Result<Vec<AssignmentRow>> {
    let filter = AssignmentFilter {
        role,
        limit: Some(LISTED),
        ..AssignmentFilter::default()
    };
    let (stored, _) = admin
        .list_assignments(actor, principal, direct_only, filter)
        .await?;
    Ok(stored
        .into_iter()
        .map(|s| AssignmentRow {
            id: s.assignment.id,
            principal: names.principal(s.assignment.principal),
            role: names.role(s.assignment.role_id),
            scope: names.scope(&s.assignment.scope),
            effect: effect_word(s.assignment.effect),
        })
        .collect())
}

fn effect_word(effect: Effect) -> &'static str {
    match effect {
        Effect::Allow => "Allow",
        Effect::Deny => "Deny",
    }
}

/// The preview of a write: who gains and who loses what.
pub struct PreviewView {
    pub users_affected: u32,
    pub truncated: bool,
    /// User, permission, target, before, after.
    pub changes: Vec<(String, String, String, &'static str, &'static str)>,
}

impl PreviewView {
    pub async fn new(
        admin: &Admin,
        actor: &Actor,
        names: &Names,
        preview: AccessPreview,
    ) -> PreviewView {
        let mut people = std::collections::HashMap::new();
        for change in &preview.changes {
            if let std::collections::hash_map::Entry::Vacant(slot) = people.entry(change.user) {
                let name = match admin.get_user(actor, change.user).await {
                    Ok(user) => names::label(&user),
                    Err(_) => change.user.to_string(),
                };
                slot.insert(name);
            }
        }
        PreviewView {
            users_affected: preview.users_affected,
            truncated: preview.truncated,
            changes: preview
                .changes
                .iter()
                .map(|c| {
                    (
                        people.get(&c.user).cloned().unwrap_or_default(),
                        catalogue().get(c.permission).key.clone(),
                        match &c.target {
                            Target::None => "the whole instance".to_owned(),
                            Target::Tenant(id) => names.tenant(*id),
                            Target::Resource { resource, .. } => resource.to_string(),
                        },
                        names::decision(c.before),
                        names::decision(c.after),
                    )
                })
                .collect(),
        }
    }
}

/// What the preview left on `previewing` (a clone of `actor`), named for the page.
pub async fn preview_of(
    console: &Console,
    actor: &Actor,
    previewing: &Actor,
    frame: &Frame,
    back: &str,
) -> std::result::Result<PreviewView, axum::response::Response> {
    let names = Names::load(&console.admin, actor)
        .await
        .map_err(|err| page::admin_error(frame, &err, back))?;
    let preview = previewing.preview().unwrap_or_default();
    Ok(PreviewView::new(&console.admin, actor, &names, preview).await)
}

/// The "Direct Role Assignment" form: its choices, what was chosen, and a preview.
pub struct AssignForm {
    pub action: String,
    pub roles: Vec<(RoleId, String)>,
    /// Tenants (MSPs among them, marked), tags and resources, each by name.
    pub tenants: Vec<(TenantId, String, bool)>,
    pub tags: Vec<(TagId, String)>,
    pub resources: Vec<String>,
    pub role: String,
    pub category: String,
    pub scope: String,
    pub effect: String,
    pub preview: Option<PreviewView>,
}

/// The Scope Category options: value and the product's word.
pub const CATEGORIES: [(&str, &str); 6] = [
    ("owner", "Owner"),
    ("msp", "MSP"),
    ("tenant", "Tenant"),
    ("tag", "Tenant Tag"),
    ("users_tenant", "User's Tenant"),
    ("resource", "Resource"),
];

impl AssignForm {
    pub fn new(names: &Names, actor: &Actor, action: &str) -> AssignForm {
        let mut resources: Vec<String> = actor
            .state
            .resources
            .iter()
            .map(|(r, _)| r.to_string())
            .collect();
        resources.sort();
        AssignForm {
            action: action.to_owned(),
            roles: names.roles(),
            tenants: names
                .tenants
                .iter()
                .map(|t| (t.id, t.name.clone(), t.is_msp))
                .collect(),
            tags: names.tags(),
            resources,
            role: String::new(),
            category: String::new(),
            scope: String::new(),
            effect: "allow".to_owned(),
            preview: None,
        }
    }

    /// Keeps what the form sent, to show it again beside its preview.
    fn chosen(mut self, form: &Fields) -> AssignForm {
        self.role = form.text("role");
        self.category = form.text("category");
        self.scope = form.text("scope");
        self.effect = form.text("effect");
        self
    }
}

/// The assignment a form asks for, or what is wrong with it.
fn requested(form: &Fields, principal: Principal) -> std::result::Result<NewAssignment, String> {
    let role = form
        .choice::<uuid::Uuid>("role", "Role")?
        .map(RoleId)
        .ok_or("choose a “Role”")?;
    let effect = match form.get("effect") {
        Some("allow") => Effect::Allow,
        Some("deny") => Effect::Deny,
        _ => return Err("choose “Allow” or “Deny”".into()),
    };
    let scope_value = form.get("scope");
    let tenant = || -> std::result::Result<TenantId, String> {
        scope_value
            .and_then(|v| v.strip_prefix("tenant:"))
            .and_then(|id| id.parse().ok())
            .map(TenantId)
            .ok_or_else(|| "choose a tenant in “Scope”".to_owned())
    };
    let scope = match form.get("category") {
        Some("owner") => Scope::Owner,
        Some("msp") => Scope::Msp(tenant()?),
        Some("tenant") => Scope::Tenant(tenant()?),
        Some("tag") => Scope::TenantTag(
            scope_value
                .and_then(|v| v.strip_prefix("tag:"))
                .and_then(|id| id.parse().ok())
                .map(TagId)
                .ok_or("choose a tag in “Scope”")?,
        ),
        Some("users_tenant") => Scope::UsersTenant,
        Some("resource") => Scope::Resource(
            scope_value
                .and_then(|v| v.strip_prefix("resource:"))
                .and_then(super::form::resource)
                .ok_or("choose a resource in “Scope”")?,
        ),
        _ => return Err("choose a “Scope Category”".into()),
    };
    Ok(NewAssignment {
        role_id: role,
        principal,
        scope,
        effect,
    })
}

/// `POST /console/users/{id}/assignments`: "Preview" or "Assign".
pub async fn assign_to_user(
    State(console): State<Console>,
    Path(id): Path<uuid::Uuid>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    assign(console, headers, body, Principal::User(UserId(id))).await
}

/// `POST /console/groups/{id}/assignments`: "Preview" or "Assign".
pub async fn assign_to_group(
    State(console): State<Console>,
    Path(id): Path<uuid::Uuid>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    assign(console, headers, body, Principal::Group(GroupId(id))).await
}

/// "Assign" commits and comes back to the page; "Preview" shows the page again with the
/// form as it was sent and what assigning would change.
async fn assign(console: Console, headers: HeaderMap, body: Bytes, principal: Principal) -> Answer {
    let form = Fields::parse(&body);
    let viewer = console
        .acting(&headers, &form, Action::CreateRoleAssignment)
        .await?;
    let (frame, actor) = (&viewer.frame, &viewer.actor);
    let back = match principal {
        Principal::User(id) => format!("/console/users/{id}"),
        Principal::Group(id) => format!("/console/groups/{id}"),
    };
    let new = requested(&form, principal)
        .map_err(|m| page::refused(frame, StatusCode::BAD_REQUEST, &m, &back))?;
    let acting = viewer.actor_for(&form);
    console
        .admin
        .create_assignment(&acting, new)
        .await
        .map_err(|err| page::admin_error(frame, &err, &back))?;
    if acting.previewing.is_none() {
        return Ok(page::redirect(frame, &back));
    }
    let names = Names::load(&console.admin, actor)
        .await
        .map_err(|err| page::admin_error(frame, &err, &back))?;
    let mut assign = AssignForm::new(&names, actor, &format!("{back}/assignments")).chosen(&form);
    assign.preview = Some(preview_of(&console, actor, &acting, frame, &back).await?);
    Ok(match principal {
        Principal::User(id) => {
            let (page, _) = users::user_page(&console, actor, frame, id, Some(assign)).await?;
            page::render(frame, &page)
        }
        Principal::Group(id) => {
            let page = groups::group_page(&console, actor, frame, id, Some(assign)).await?;
            page::render(frame, &page)
        }
    })
}

/// A write's preview, and the button that carries it out.
#[derive(Template)]
#[template(path = "confirm.html")]
pub struct Confirm {
    pub frame: Frame,
    pub title: String,
    pub preview: PreviewView,
    pub action: String,
    /// The form's fields, sent again with the button.
    pub fields: Vec<(String, String)>,
    pub button: String,
    pub back: String,
}

/// `POST /console/assignments/{id}/remove`: "Remove", back to the page it was on; with
/// `preview`, what removing would change, and the button that does it.
pub async fn remove(
    State(console): State<Console>,
    Path(id): Path<uuid::Uuid>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let form = Fields::parse(&body);
    let viewer = console
        .acting(&headers, &form, Action::DeleteRoleAssignment)
        .await?;
    // Only back to a page of the console, named plainly.
    let plain = |b: &&str| {
        b.starts_with("/console/")
            && !b.contains("..")
            && !b.contains("//")
            && b.bytes()
                .all(|c| c.is_ascii_alphanumeric() || b"/-_?=&".contains(&c))
    };
    let back = form
        .get("back")
        .filter(plain)
        .unwrap_or("/console/assignments")
        .to_owned();
    let actor = viewer.actor_for(&form);
    let previewing = actor.previewing.is_some();
    console
        .admin
        .delete_assignment(&actor, AssignmentId(id))
        .await
        .map_err(|err| page::admin_error(&viewer.frame, &err, &back))?;
    if !previewing {
        return Ok(page::redirect(&viewer.frame, &back));
    }
    let confirm = Confirm {
        frame: viewer.frame.clone(),
        title: "Remove the role assignment?".into(),
        preview: preview_of(&console, &viewer.actor, &actor, &viewer.frame, &back).await?,
        action: format!("/console/assignments/{id}/remove"),
        fields: vec![("back".into(), back.clone())],
        button: "Remove".into(),
        back,
    };
    Ok(page::render(&viewer.frame, &confirm))
}

#[derive(Template)]
#[template(path = "assignments.html")]
struct Assignments {
    frame: Frame,
    rows: Vec<AssignmentRow>,
    users: Vec<(UserId, String)>,
    roles: Vec<(RoleId, String)>,
    user: String,
    role: String,
    scope: String,
}

/// `GET /console/assignments`: "Direct Role Assignments", filterable by user, role and
/// scope.
pub async fn list(
    State(console): State<Console>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Answer {
    let viewer = console
        .viewer(&headers, Action::ListRoleAssignments)
        .await?;
    let frame = &viewer.frame;
    let query = Fields::parse(query.unwrap_or_default().as_bytes());
    let failed = |err| page::admin_error(frame, &err, "/console/");
    let refused =
        |m: String| page::refused(frame, StatusCode::BAD_REQUEST, &m, "/console/assignments");
    let user = query
        .choice::<uuid::Uuid>("user", "User")
        .map_err(refused)?;
    let role = query
        .choice::<uuid::Uuid>("role", "Role")
        .map_err(refused)?;
    let scope = query.text("scope").to_lowercase();
    let (users, _) = console
        .admin
        .list_users(
            &viewer.actor,
            None,
            crate::store::UserFilter {
                limit: LISTED,
                ..Default::default()
            },
        )
        .await
        .map_err(failed)?;
    let names = Names::load(&console.admin, &viewer.actor)
        .await
        .map_err(failed)?
        .with_users(&users);
    let principal = user.map(|u| Principal::User(UserId(u)));
    let rows = listed(
        &console.admin,
        &viewer.actor,
        &names,
        principal,
        true,
        role.map(RoleId),
    )
    .await
    .map_err(failed)?
    .into_iter()
    .filter(|row| scope.is_empty() || row.scope.to_lowercase().contains(&scope))
    .collect();
    Ok(page::render(
        frame,
        &Assignments {
            frame: frame.clone(),
            rows,
            users: users.iter().map(|u| (u.id, names::label(u))).collect(),
            roles: names.roles(),
            user: user.map(|u| u.to_string()).unwrap_or_default(),
            role: role.map(|r| r.to_string()).unwrap_or_default(),
            scope: query.text("scope"),
        },
    ))
}
