//! The Groups tab: groups with their owner and members, "New Group", members added and
//! removed, and the group's role assignments with the same "Assign" form as a user's.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::Console;
use super::assignments::{self, AssignForm, AssignmentRow, Confirm};
use super::form::Fields;
use super::names::{self, Names};
use super::page::{self, Answer, Frame};
use crate::admin::{Actor, NewGroup};
use crate::model::{Action, Group, GroupId, Principal, Tenant, TenantId, UserId};
use crate::store::UserFilter;

#[derive(Template)]
#[template(path = "groups.html")]
struct Groups {
    frame: Frame,
    /// Id, name, owner.
    groups: Vec<(GroupId, String, String)>,
    tenants: Vec<Tenant>,
}

/// `GET /console/groups`, with "New Group".
pub async fn list(State(console): State<Console>, headers: HeaderMap) -> Answer {
    let viewer = console.viewer(&headers, Action::ListGroups).await?;
    let frame = &viewer.frame;
    let failed = |err| page::admin_error(frame, &err, "/console/");
    let groups = console
        .admin
        .list_groups(&viewer.actor, None)
        .await
        .map_err(failed)?;
    let names = Names::load(&console.admin, &viewer.actor)
        .await
        .map_err(failed)?;
    let groups = groups
        .iter()
        .map(|g| (g.id, g.name.clone(), owner(&names, g)))
        .collect();
    Ok(page::render(
        frame,
        &Groups {
            frame: frame.clone(),
            groups,
            tenants: names.tenants.clone(),
        },
    ))
}

fn owner(names: &Names, group: &Group) -> String {
    group
        .owner
        .map_or_else(|| "none (global)".to_owned(), |t| names.tenant(t))
}

/// `POST /console/groups`: "Create Group".
pub async fn create(State(console): State<Console>, headers: HeaderMap, body: Bytes) -> Answer {
    let form = Fields::parse(&body);
    let viewer = console.acting(&headers, &form, Action::CreateGroup).await?;
    let back = "/console/groups";
    let owner = form
        .choice::<uuid::Uuid>("owner", "Owner tenant")
        .map_err(|m| page::refused(&viewer.frame, StatusCode::BAD_REQUEST, &m, back))?
        .map(TenantId);
    let new = NewGroup {
        name: form.text("name"),
        description: form.text("description"),
        owner,
    };
    let (group, _) = console
        .admin
        .create_group(&viewer.actor, new)
        .await
        .map_err(|err| page::admin_error(&viewer.frame, &err, back))?;
    Ok(page::redirect(
        &viewer.frame,
        &format!("/console/groups/{}", group.id),
    ))
}

#[derive(Template)]
#[template(path = "group.html")]
pub struct GroupPage {
    frame: Frame,
    group: Group,
    owner: String,
    members: Vec<(UserId, String)>,
    /// Users who may be added: not members yet.
    others: Vec<(UserId, String)>,
    assignments: Vec<AssignmentRow>,
    assign: AssignForm,
}

/// `GET /console/groups/{id}`.
pub async fn show(
    State(console): State<Console>,
    Path(id): Path<uuid::Uuid>,
    headers: HeaderMap,
) -> Answer {
    let viewer = console.viewer(&headers, Action::GetGroup).await?;
    let page = group_page(&console, &viewer.actor, &viewer.frame, GroupId(id), None).await?;
    Ok(page::render(&viewer.frame, &page))
}

/// The group's page for `actor`, with the assignment form's choices and preview.
pub async fn group_page(
    console: &Console,
    actor: &Actor,
    frame: &Frame,
    id: GroupId,
    assign: Option<AssignForm>,
) -> Result<GroupPage, Response> {
    let failed = |err| page::admin_error(frame, &err, "/console/groups");
    let group = console.admin.get_group(actor, id).await.map_err(failed)?;
    let members = console
        .admin
        .list_group_members(actor, id)
        .await
        .map_err(failed)?;
    let filter = UserFilter {
        limit: 1000,
        ..UserFilter::default()
    };
    let (users, _) = console
        .admin
        .list_users(actor, None, filter)
        .await
        .map_err(failed)?;
    let names = Names::load(&console.admin, actor)
        .await
        .map_err(failed)?
        .with_users(&users);
    let assignments = assignments::rows(&console.admin, actor, &names, Principal::Group(id), true)
        .await
        .map_err(failed)?;
    let assign = match assign {
        Some(form) => form,
        None => AssignForm::new(&names, actor, &format!("/console/groups/{id}/assignments")),
    };
    let others = users
        .iter()
        .filter(|u| !members.iter().any(|m| m.id == u.id))
        .map(|u| (u.id, names::label(u)))
        .collect();
    Ok(GroupPage {
        frame: frame.clone(),
        owner: owner(&names, &group),
        members: members.iter().map(|u| (u.id, names::label(u))).collect(),
        others,
        assignments,
        assign,
        group,
    })
}

/// `POST /console/groups/{id}/members`: "Add Member" or "Remove" (a member).
pub async fn members(
    State(console): State<Console>,
    Path(id): Path<uuid::Uuid>,
    headers: HeaderMap,
    body: Bytes,
) -> Answer {
    let form = Fields::parse(&body);
    let add = form.get("remove").is_none();
    let action = if add {
        Action::AddGroupMember
    } else {
        Action::RemoveGroupMember
    };
    let viewer = console.acting(&headers, &form, action).await?;
    let back = format!("/console/groups/{id}");
    let user = form
        .choice::<uuid::Uuid>(if add { "user" } else { "remove" }, "User")
        .map_err(|m| page::refused(&viewer.frame, StatusCode::BAD_REQUEST, &m, &back))?
        .ok_or_else(|| {
            page::refused(
                &viewer.frame,
                StatusCode::BAD_REQUEST,
                "choose a “User” to add",
                &back,
            )
        })?;
    let actor = viewer.actor_for(&form);
    let previewing = actor.previewing.is_some();
    console
        .admin
        .set_group_member(&actor, GroupId(id), UserId(user), add)
        .await
        .map_err(|err| page::admin_error(&viewer.frame, &err, &back))?;
    if !previewing {
        return Ok(page::redirect(&viewer.frame, &back));
    }
    let (field, title, button) = if add {
        ("user", "Add the member?", "Add Member")
    } else {
        ("remove", "Remove the member?", "Remove")
    };
    let confirm = Confirm {
        frame: viewer.frame.clone(),
        title: title.into(),
        preview: assignments::preview_of(&console, &viewer.actor, &actor, &viewer.frame, &back)
            .await?,
        action: format!("/console/groups/{id}/members"),
        fields: vec![(field.into(), user.to_string())],
        button: button.into(),
        back,
    };
    Ok(page::render(&viewer.frame, &confirm))
}
