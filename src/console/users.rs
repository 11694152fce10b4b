//! The Users tab: every user the viewer may see, "Add New User" (from access requests,
//! from existing people, manually), and a user's page: details, "Direct Role
//! Assignment", their assignments and groups, the "Check Access" tab, "Impersonate".

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::Console;
use super::assignments::{self, AssignForm, AssignmentRow};
use super::form::Fields;
use super::names::{self, Names, label};
use super::page::{self, Answer, Frame};
use crate::admin::Identity;
use crate::data_plane::TargetRef;
use crate::model::{
    Action, PersonId, Principal, Tenant, TenantId, User, UserId, catalogue, unix_now,
};
use crate::store::UserFilter;

/// Users listed on the tab, at most.
const LISTED: u64 = 1000;

#[derive(Template)]
#[template(path = "users.html")]
struct Users {
    frame: Frame,
    users: Vec<(UserId, String, String, String)>,
}

/// `GET /console/` and `/console/users`: the Users tab.
pub async fn list(State(console): State<Console>, headers: HeaderMap) -> Answer {
    let viewer = console.viewer(&headers, Action::ListUsers).await?;
    let frame = &viewer.frame;
    let filter = UserFilter {
        limit: LISTED,
        ..UserFilter::default()
    };
    let (users, _) = console
        .admin
        .list_users(&viewer.actor, None, filter)
        .await
        .map_err(|err| page::admin_error(frame, &err, "/profile"))?;
    let names = Names::load(&console.admin, &viewer.actor)
        .await
        .map_err(|err| page::admin_error(frame, &err, "/profile"))?;
    let users = users
        .iter()
        .map(|u| (u.id, label(u), u.email.clone(), names.tenant(u.tenant_id)))
        .collect();
    Ok(page::render(
        frame,
        &Users {
            frame: frame.clone(),
            users,
        },
    ))
}

#[derive(Template)]
#[template(path = "new_user.html")]
struct NewUser {
    frame: Frame,
    tenants: Vec<Tenant>,
}

/// `GET /console/users/new`: "Manually".
pub async fn new_user(State(console): State<Console>, headers: HeaderMap) -> Answer {
    let viewer = console.viewer(&headers, Action::ListTenants).await?;
    let tenants = console
        .admin
        .list_tenants(&viewer.actor, None)
        .await
        .map_err(|err| page::admin_error(&viewer.frame, &err, "/console/"))?;
    Ok(page::render(
        &viewer.frame,
        &NewUser {
            frame: viewer.frame.clone(),
            tenants,
        },
    ))
}

/// `POST /console/users`: "Create". A malformed Azure Object ID is refused and nothing
/// is created.
pub async fn create(State(console): State<Console>, headers: HeaderMap, body: Bytes) -> Answer {
    let form = Fields::parse(&body);
    let viewer = console.acting(&headers, &form, Action::CreateUser).await?;
    let back = "/console/users/new";
    let tenant = form
        .choice("tenant", "Tenant")
        .map_err(|m| page::refused(&viewer.frame, StatusCode::BAD_REQUEST, &m, back))?
        .map(TenantId)
        .ok_or_else(|| {
            page::refused(
                &viewer.frame,
                StatusCode::BAD_REQUEST,
                "choose the user's “Tenant”",
                back,
            )
        })?;
    let object_id = form.text("azure_object_id");
    if uuid::Uuid::parse_str(&object_id).is_err() {
        let message = format!(
            "“Azure Object ID” must be the person's object id in Entra ID, a GUID such as 3f2504e0-4f89-11d3-9a0c-0305e82c3301; “{}” is not one",
            crate::model::shown(&object_id)
        );
        return Err(page::refused(
            &viewer.frame,
            StatusCode::BAD_REQUEST,
            &message,
            back,
        ));
    }
    let identity = Identity {
        tenant_id: tenant,
        azure_object_id: object_id,
        email: form.text("email"),
        first_name: form.text("first_name"),
        last_name: form.text("last_name"),
    };
    let (user, _) = console
        .admin
        .create_user(&viewer.actor, identity)
        .await
        .map_err(|err| page::admin_error(&viewer.frame, &err, back))?;
    Ok(page::redirect(
        &viewer.frame,
        &format!("/console/users/{}", user.id),
    ))
}

#[derive(Template)]
#[template(path = "people.html")]
struct People {
    frame: Frame,
    people: Vec<(PersonId, String, String, String, bool)>,
}

/// `GET /console/people`: "From Existing People".
pub async fn people(State(console): State<Console>, headers: HeaderMap) -> Answer {
    let viewer = console.viewer(&headers, Action::ListPersons).await?;
    let frame = &viewer.frame;
    let persons = console
        .admin
        .list_persons(&viewer.actor, None)
        .await
        .map_err(|err| page::admin_error(frame, &err, "/console/"))?;
    let names = Names::load(&console.admin, &viewer.actor)
        .await
        .map_err(|err| page::admin_error(frame, &err, "/console/"))?;
    let people = persons
        .iter()
        .map(|p| {
            let name = format!("{} {}", p.first_name, p.last_name);
            (
                p.id,
                name.trim().to_owned(),
                p.email.clone(),
                names.tenant(p.tenant_id),
                p.user_id.is_none(),
            )
        })
        .collect();
    Ok(page::render(
        frame,
        &People {
            frame: frame.clone(),
            people,
        },
    ))
}

/// `POST /console/people/{id}/promote`: makes a person a user.
pub async fn promote(
    State(console): State<Console>,
    Path(id): Path<uuid::Uuid>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let form = Fields::parse(&body);
    let viewer = console
        .acting(&headers, &form, Action::PromotePerson)
        .await?;
    let (user, _) = console
        .admin
        .promote_person(&viewer.actor, PersonId(id))
        .await
        .map_err(|err| page::admin_error(&viewer.frame, &err, "/console/people"))?;
    Ok(page::redirect(
        &viewer.frame,
        &format!("/console/users/{}", user.id),
    ))
}

/// The answer of the "Check Access" tab.
pub struct Checked {
    pub permission: String,
    pub target: String,
    pub decision: &'static str,
    pub reason: String,
    /// Role, scope, effect, how it applies, whether it decided.
    pub applied: Vec<(String, String, String, String, bool)>,
}

#[derive(Template)]
#[template(path = "user.html")]
pub struct UserPage {
    frame: Frame,
    user: User,
    name: String,
    tenant: String,
    status: &'static str,
    groups: Vec<(crate::model::GroupId, String)>,
    assignments: Vec<AssignmentRow>,
    assign: AssignForm,
    check_tab: bool,
    permissions: Vec<(String, String)>,
    tenants: Vec<Tenant>,
    resources: Vec<String>,
    chosen_permission: String,
    chosen_tenant: String,
    chosen_resource: String,
    checked: Option<Checked>,
    check_problem: Option<String>,
}

/// `GET /console/users/{id}`: the user's page; `?tab=check` opens the "Check Access" tab
/// and, with a permission and a tenant or resource, answers it.
pub async fn show(
    State(console): State<Console>,
    Path(id): Path<uuid::Uuid>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Answer {
    let viewer = console.viewer(&headers, Action::GetUser).await?;
    let query = Fields::parse(query.unwrap_or_default().as_bytes());
    let (mut page, names) =
        user_page(&console, &viewer.actor, &viewer.frame, UserId(id), None).await?;
    if query.get("tab") == Some("check") {
        page.check_tab = true;
        check(&console, &viewer.actor, &names, &mut page, &query).await;
    }
    Ok(page::render(&viewer.frame, &page))
}

/// The user's page for `actor`, with the assignment form's choices and preview, and the
/// names it was drawn with (the Check Access tab names its answer's scopes with them).
pub async fn user_page(
    console: &Console,
    actor: &crate::admin::Actor,
    frame: &Frame,
    id: UserId,
    assign: Option<AssignForm>,
) -> Result<(UserPage, Names), Response> {
    let back = "/console/";
    let failed = |err| page::admin_error(frame, &err, back);
    let user = console.admin.get_user(actor, id).await.map_err(failed)?;
    let groups = console
        .admin
        .list_user_groups(actor, id)
        .await
        .map_err(failed)?;
    let names = Names::load(&console.admin, actor)
        .await
        .map_err(failed)?
        .with_users([&user]);
    let assignments = assignments::rows(&console.admin, actor, &names, Principal::User(id), true)
        .await
        .map_err(failed)?;
    let assign = match assign {
        Some(form) => form,
        None => AssignForm::new(&names, actor, &format!("/console/users/{id}/assignments")),
    };
    let status = if user.disabled {
        "Disabled"
    } else if user.expires_at.is_some_and(|at| at <= unix_now()) {
        "Expired"
    } else {
        "Active"
    };
    let mut resources: Vec<String> = actor
        .state
        .resources
        .iter()
        .map(|(r, _)| r.to_string())
        .collect();
    resources.sort();
    let page = UserPage {
        frame: frame.clone(),
        name: label(&user),
        tenant: names.tenant(user.tenant_id),
        status,
        groups: groups.into_iter().map(|g| (g.id, g.name)).collect(),
        assignments,
        assign,
        check_tab: false,
        permissions: catalogue()
            .permissions()
            .iter()
            .map(|p| (p.key.clone(), p.name.clone()))
            .collect(),
        tenants: names.tenants.clone(),
        resources,
        chosen_permission: String::new(),
        chosen_tenant: String::new(),
        chosen_resource: String::new(),
        checked: None,
        check_problem: None,
        user,
    };
    Ok((page, names))
}

/// Answers the "Check Access" tab as CheckUserAccess does, for one permission.
async fn check(
    console: &Console,
    actor: &crate::admin::Actor,
    names: &Names,
    page: &mut UserPage,
    query: &Fields,
) {
    let Some(permission) = query.get("permission") else {
        return;
    };
    page.chosen_permission = permission.to_owned();
    page.chosen_tenant = query.text("tenant");
    page.chosen_resource = query.text("resource");
    let Some(wanted) = catalogue().id(permission) else {
        page.check_problem = Some(format!(
            "“{permission}” is not a permission; choose one from the list"
        ));
        return;
    };
    let target = match (
        query.get("resource"),
        query.choice::<uuid::Uuid>("tenant", "Tenant"),
    ) {
        (Some(resource), _) => match super::form::resource(resource) {
            Some(resource) => TargetRef::Resource(resource),
            None => {
                page.check_problem = Some("choose a resource from the list".into());
                return;
            }
        },
        (None, Ok(Some(tenant))) => TargetRef::Tenant(TenantId(tenant)),
        (None, Ok(None)) => {
            page.check_problem = Some("choose a “Tenant” or a resource to check access at".into());
            return;
        }
        (None, Err(message)) => {
            page.check_problem = Some(message);
            return;
        }
    };
    let target_name = match &target {
        TargetRef::Tenant(id) => page
            .tenants
            .iter()
            .find(|t| t.id == *id)
            .map_or_else(|| id.to_string(), |t| t.name.clone()),
        TargetRef::Resource(r) => r.to_string(),
        TargetRef::None => String::new(),
    };
    let report = match console
        .admin
        .check_user_access(actor, page.user.id, target)
        .await
    {
        Ok(report) => report,
        Err(err) => {
            page.check_problem = Some(err.to_string());
            return;
        }
    };
    let Some((_, outcome)) = report.into_iter().find(|(p, _)| *p == wanted) else {
        return;
    };
    page.checked = Some(Checked {
        permission: permission.to_owned(),
        target: target_name,
        decision: names::decision(outcome.decision),
        reason: outcome.reason.clone(),
        applied: outcome
            .explanation
            .iter()
            .map(|e| {
                (
                    e.role_name.to_string(),
                    names.scope(&e.grant.scope),
                    if e.grant.effect == crate::model::Effect::Allow {
                        "Allow"
                    } else {
                        "Deny"
                    }
                    .to_owned(),
                    match e.via_group {
                        None => "direct".to_owned(),
                        Some(group) => {
                            format!("through {}", names.principal(Principal::Group(group)))
                        }
                    },
                    e.decisive,
                )
            })
            .collect(),
    });
}

/// `POST /console/users/{id}/impersonate`: "Impersonate", when the viewer may.
pub async fn impersonate(
    State(console): State<Console>,
    Path(id): Path<uuid::Uuid>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let form = Fields::parse(&body);
    let viewer = console
        .acting(&headers, &form, Action::StartImpersonation)
        .await?;
    let back = format!("/console/users/{id}");
    if viewer.actor.impersonator_id().is_some() {
        return Err(page::refused(
            &viewer.frame,
            StatusCode::CONFLICT,
            "you are impersonating someone already: press “Stop Impersonating” first",
            &back,
        ));
    }
    console
        .admin
        .start_impersonation(&viewer.actor, UserId(id))
        .await
        .map_err(|err| page::admin_error(&viewer.frame, &err, &back))?;
    viewer.impersonate(Some(UserId(id)));
    Ok(page::redirect(&viewer.frame, "/console/"))
}

/// `POST /console/impersonation/stop`: "Stop Impersonating".
pub async fn stop_impersonating(
    State(console): State<Console>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let form = Fields::parse(&body);
    let viewer = console.acting(&headers, &form, Action::GetMyAccess).await?;
    viewer.impersonate(None);
    Ok(page::redirect(&viewer.frame, "/console/"))
}
