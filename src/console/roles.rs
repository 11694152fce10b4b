//! The Roles tab: built-in roles (read-only) and custom ones, "New Role" with the
//! permission catalogue by subject ("All <Subject> permissions", system permissions
//! marked), and a role's page with its warnings after saving.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;

use super::Console;
use super::assignments::{self, PreviewView};
use super::form::Fields;
use super::names::Names;
use super::page::{self, Answer, Frame};
use crate::admin::{NewRole, RoleUpdate};
use crate::model::{Action, Role, RoleId, Tenant, TenantId, catalogue};

#[derive(Template)]
#[template(path = "roles.html")]
struct Roles {
    frame: Frame,
    roles: Vec<Role>,
}

/// `GET /console/roles`.
pub async fn list(State(console): State<Console>, headers: HeaderMap) -> Answer {
    let viewer = console.viewer(&headers, Action::ListRoles).await?;
    let roles = console
        .admin
        .list_roles(&viewer.actor)
        .await
        .map_err(|err| page::admin_error(&viewer.frame, &err, "/console/"))?;
    Ok(page::render(
        &viewer.frame,
        &Roles {
            frame: viewer.frame.clone(),
            roles,
        },
    ))
}

/// One subject of the catalogue, as a group of checkboxes.
pub struct Subject {
    pub name: String,
    /// For ids: the subject's name in lower case with dashes.
    pub slug: String,
    /// Key, name, description, system permission.
    pub permissions: Vec<(String, String, String, bool)>,
}

/// The catalogue by subject, in its order.
fn subjects() -> Vec<Subject> {
    let mut subjects: Vec<Subject> = Vec::new();
    for p in catalogue().permissions() {
        let entry = (
            p.key.clone(),
            p.name.clone(),
            p.description.clone(),
            p.system,
        );
        match subjects.iter_mut().find(|s| s.name == p.subject) {
            Some(subject) => subject.permissions.push(entry),
            None => subjects.push(Subject {
                slug: p
                    .subject
                    .to_lowercase()
                    .chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
                    .collect(),
                name: p.subject.clone(),
                permissions: vec![entry],
            }),
        }
    }
    subjects
}

/// "New Role", or a custom role's edit form with its preview.
#[derive(Template)]
#[template(path = "role_form.html")]
struct RoleForm {
    frame: Frame,
    title: String,
    action: String,
    editing: bool,
    name: String,
    description: String,
    tenants: Vec<Tenant>,
    subjects: Vec<Subject>,
    checked: Vec<String>,
    preview: Option<PreviewView>,
}

/// `GET /console/roles/new`: "New Role".
pub async fn new_role(State(console): State<Console>, headers: HeaderMap) -> Answer {
    let viewer = console.viewer(&headers, Action::ListTenants).await?;
    let tenants = console
        .admin
        .list_tenants(&viewer.actor, None)
        .await
        .map_err(|err| page::admin_error(&viewer.frame, &err, "/console/roles"))?;
    let form = RoleForm {
        frame: viewer.frame.clone(),
        title: "New Role".into(),
        action: "/console/roles".into(),
        editing: false,
        name: String::new(),
        description: String::new(),
        tenants,
        subjects: subjects(),
        checked: Vec::new(),
        preview: None,
    };
    Ok(page::render(&viewer.frame, &form))
}

/// `GET /console/roles/{id}/edit`: a custom role's name, description and permissions.
pub async fn edit(
    State(console): State<Console>,
    Path(id): Path<uuid::Uuid>,
    headers: HeaderMap,
) -> Answer {
    let viewer = console.viewer(&headers, Action::GetRole).await?;
    let role = console
        .admin
        .get_role(&viewer.actor, RoleId(id))
        .await
        .map_err(|err| page::admin_error(&viewer.frame, &err, "/console/roles"))?;
    let form = edit_form(&viewer.frame, &role, catalogue().keys(&role.permissions));
    Ok(page::render(&viewer.frame, &form))
}

fn edit_form(frame: &Frame, role: &Role, checked: Vec<String>) -> RoleForm {
    RoleForm {
        frame: frame.clone(),
        title: format!("Edit Role: {}", role.name),
        action: format!("/console/roles/{}", role.id),
        editing: true,
        name: role.name.clone(),
        description: role.description.clone(),
        tenants: Vec::new(),
        subjects: subjects(),
        checked,
        preview: None,
    }
}

/// `POST /console/roles/{id}`: "Save Role", or "Preview": who would gain and lose what.
pub async fn update(
    State(console): State<Console>,
    Path(id): Path<uuid::Uuid>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let form = Fields::parse(&body);
    let viewer = console.acting(&headers, &form, Action::UpdateRole).await?;
    let back = format!("/console/roles/{id}/edit");
    let actor = viewer.actor_for(&form);
    let previewing = actor.previewing.is_some();
    let update = RoleUpdate {
        role_id: RoleId(id),
        name: form.text("name"),
        description: form.text("description"),
        permissions: chosen(&form),
    };
    let checked = update.permissions.clone();
    let (role, _, warnings) = console
        .admin
        .update_role(&actor, update)
        .await
        .map_err(|err| page::admin_error(&viewer.frame, &err, &back))?;
    if !previewing {
        return role_page(&console, &viewer, role, warnings).await;
    }
    let mut page = edit_form(&viewer.frame, &role, checked);
    page.preview =
        Some(assignments::preview_of(&console, &viewer.actor, &actor, &viewer.frame, &back).await?);
    Ok(page::render(&viewer.frame, &page))
}

/// The permissions a New Role form asks for: each checked one, and every one of a
/// subject whose "All <Subject> permissions" is checked.
fn chosen(form: &Fields) -> Vec<String> {
    let all: Vec<&str> = form.all("all").collect();
    let mut keys: Vec<String> = form.all("permission").map(str::to_owned).collect();
    keys.extend(
        catalogue()
            .permissions()
            .iter()
            .filter(|p| all.contains(&p.subject.as_str()))
            .map(|p| p.key.clone()),
    );
    keys.sort();
    keys.dedup();
    keys
}

/// `POST /console/roles`: "Create Role"; the new role's page shows its warnings.
pub async fn create(State(console): State<Console>, headers: HeaderMap, body: Bytes) -> Answer {
    let form = Fields::parse(&body);
    let viewer = console.acting(&headers, &form, Action::CreateRole).await?;
    let back = "/console/roles/new";
    let owner = form
        .choice::<uuid::Uuid>("owner", "Owner tenant")
        .map_err(|m| page::refused(&viewer.frame, axum::http::StatusCode::BAD_REQUEST, &m, back))?
        .map(TenantId);
    let new = NewRole {
        name: form.text("name"),
        description: form.text("description"),
        owner,
        permissions: chosen(&form),
    };
    let (role, _, warnings) = console
        .admin
        .create_role(&viewer.actor, new)
        .await
        .map_err(|err| page::admin_error(&viewer.frame, &err, back))?;
    role_page(&console, &viewer, role, warnings).await
}

#[derive(Template)]
#[template(path = "role.html")]
struct RolePage {
    frame: Frame,
    role: Role,
    owner: String,
    /// Key, name, system permission.
    permissions: Vec<(String, String, bool)>,
    warnings: Vec<String>,
}

/// `GET /console/roles/{id}`.
pub async fn show(
    State(console): State<Console>,
    Path(id): Path<uuid::Uuid>,
    headers: HeaderMap,
) -> Answer {
    let viewer = console.viewer(&headers, Action::GetRole).await?;
    let role = console
        .admin
        .get_role(&viewer.actor, RoleId(id))
        .await
        .map_err(|err| page::admin_error(&viewer.frame, &err, "/console/roles"))?;
    role_page(&console, &viewer, role, Vec::new()).await
}

async fn role_page(
    console: &Console,
    viewer: &super::sign_in::Viewer,
    role: Role,
    warnings: Vec<String>,
) -> Answer {
    let names = Names::load(&console.admin, &viewer.actor)
        .await
        .map_err(|err| page::admin_error(&viewer.frame, &err, "/console/roles"))?;
    let permissions = role
        .permissions
        .iter()
        .map(|id| {
            let p = catalogue().get(id);
            (p.key.clone(), p.name.clone(), p.system)
        })
        .collect();
    Ok(page::render(
        &viewer.frame,
        &RolePage {
            frame: viewer.frame.clone(),
            owner: role
                .owner
                .map_or_else(|| "none (global)".to_owned(), |t| names.tenant(t)),
            permissions,
            warnings,
            role,
        },
    ))
}
