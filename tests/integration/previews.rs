//! Previews over gRPC (`validate_only`, Google AIP-163): every mutating admin call takes
//! it; a preview writes nothing (no revision, no audit row of a change, no decision
//! changed), is refused as the write would be and audited as that refusal, and lists
//! exactly what the write then does, as CheckAccess sees it. The oracle comparison over
//! random writes is in `invariants`.

use std::collections::HashMap;

use prost::Message;
use prost_types::field_descriptor_proto::Type;
use rbac_sidecar::api::pb::FILE_DESCRIPTOR_SET;
use rbac_sidecar::api::pb::rbac::v1 as pb;
use tonic::Code;

use crate::support::world::{self, Admin};
use crate::support::{Backend, TestServer, as_actor, as_admin, on_both_backends};

/// Calls that change nothing, by the prefix of their name.
const READS: [&str; 4] = ["Get", "List", "Check", "Export"];

#[test]
fn every_mutating_admin_call_takes_validate_only_and_answers_a_preview() {
    let set = prost_types::FileDescriptorSet::decode(FILE_DESCRIPTOR_SET).unwrap();
    let mut messages = HashMap::new();
    for file in &set.file {
        for message in &file.message_type {
            messages.insert(format!(".{}.{}", file.package(), message.name()), message);
        }
    }
    let service = set
        .file
        .iter()
        .flat_map(|f| &f.service)
        .find(|s| s.name() == "AdminService")
        .unwrap();
    let mut writes = Vec::new();
    for method in &service.method {
        let name = method.name();
        if READS.iter().any(|read| name.starts_with(read)) {
            continue;
        }
        let request = messages[method.input_type()];
        assert!(
            request
                .field
                .iter()
                .any(|f| f.name() == "validate_only" && f.r#type() == Type::Bool),
            "{name}: its request has no `bool validate_only`"
        );
        let answer = messages[method.output_type()];
        assert!(
            answer
                .field
                .iter()
                .any(|f| f.name() == "preview" && f.type_name() == ".rbac.v1.AccessPreview"),
            "{name}: its answer has no `AccessPreview preview`"
        );
        writes.push(name);
    }
    assert!(writes.len() >= 30, "only {writes:?} were walked");
}

/// A decision as the preview reports it.
fn decision(value: i32) -> pb::Decision {
    pb::Decision::try_from(value).unwrap()
}

/// The tenant a change is about.
fn tenant_of(change: &pb::AccessChange) -> &str {
    match change.target.as_ref().and_then(|t| t.kind.as_ref()) {
        Some(pb::target::Kind::TenantId(id)) => id,
        other => panic!("a change not on a tenant: {other:?}"),
    }
}

/// How many audit rows record a succeeded `action`.
async fn succeeded(admin: &mut Admin, action: &str) -> usize {
    let request = pb::ListAuditEventsRequest {
        action: action.into(),
        outcome: "succeeded".into(),
        page_size: 100,
        ..Default::default()
    };
    let events = admin.list_audit_events(as_admin(request)).await.unwrap();
    events.into_inner().events.len()
}

async fn a_preview_writes_nothing_and_lists_what_the_write_does(backend: Backend) {
    let Some(mut server) = TestServer::start(backend).await else {
        return;
    };
    let admin = &mut server.admin;
    let msp = world::tenant(admin, "msp", None, true).await;
    let customer = world::tenant(admin, "customer", Some(&msp.id), false).await;
    let tech = world::user(admin, &msp.id).await;
    let role = world::role(admin, &["computers.view"]).await;
    let team = world::group(admin, "technicians", None).await;
    let join = pb::AddGroupMemberRequest {
        group_id: team.id.clone(),
        user_id: tech.id.clone(),
        validate_only: false,
    };
    admin.add_group_member(as_admin(join)).await.unwrap();
    let msp_scope = pb::scope::Kind::MspTenantId(msp.id.clone());
    let group = pb::principal::Kind::GroupId(team.id.clone());
    let allow = pb::Effect::Allow;
    world::grant(admin, &role.id, group, msp_scope, allow).await;
    let revision = world::status(&mut server.authz).await.latest_revision;

    // The role edit reaches the technician through the group, over the MSP and below it.
    let edit = pb::UpdateRoleRequest {
        role_id: role.id.clone(),
        name: "role".into(),
        description: String::new(),
        permissions: vec!["computers.view".into(), "computers.manage".into()],
        validate_only: true,
    };
    let previewed = admin.update_role(as_admin(edit.clone())).await.unwrap();
    let previewed = previewed.into_inner();
    assert_eq!(
        previewed.revision, revision,
        "a preview answers the revision it began on"
    );
    let preview = previewed.preview.unwrap();
    assert_eq!((preview.users_affected, preview.truncated), (1, false));
    let mut listed: Vec<(&str, &str, pb::Decision, pb::Decision)> = preview
        .changes
        .iter()
        .map(|c| {
            assert_eq!(c.user_id, tech.id);
            (
                c.permission.as_str(),
                tenant_of(c),
                decision(c.before),
                decision(c.after),
            )
        })
        .collect();
    listed.sort();
    let mut expected = vec![
        (
            "computers.manage",
            msp.id.as_str(),
            pb::Decision::NotGranted,
            pb::Decision::Allowed,
        ),
        (
            "computers.manage",
            customer.id.as_str(),
            pb::Decision::NotGranted,
            pb::Decision::Allowed,
        ),
    ];
    expected.sort();
    assert_eq!(listed, expected);

    // Nothing was written: no revision, no audit row of a change, no decision changed.
    assert_eq!(
        world::status(&mut server.authz).await.latest_revision,
        revision
    );
    assert_eq!(succeeded(admin, "UpdateRole").await, 0);
    let authz = &mut server.authz;
    let manage = world::check(authz, &tech.id, "computers.manage", &customer.id, 0).await;
    assert_eq!(manage.unwrap(), pb::Decision::NotGranted);
    let get = pb::GetRoleRequest {
        role_id: role.id.clone(),
    };
    let kept = admin.get_role(as_admin(get)).await.unwrap().into_inner();
    assert_eq!(kept.permissions, ["computers.view"]);

    // The write does what the preview said, and its own answer carries no preview.
    let written = pb::UpdateRoleRequest {
        validate_only: false,
        ..edit
    };
    let written = admin
        .update_role(as_admin(written))
        .await
        .unwrap()
        .into_inner();
    assert!(written.preview.is_none());
    for change in &preview.changes {
        let now = world::check(
            authz,
            &tech.id,
            &change.permission,
            tenant_of(change),
            written.revision,
        )
        .await;
        assert_eq!(now.unwrap(), decision(change.after), "{change:?}");
    }

    // A deny at the customer: ALLOWED becomes DENIED there, and only there.
    let deny = pb::CreateRoleAssignmentRequest {
        validate_only: true,
        ..world::assignment_request(
            &role.id,
            pb::principal::Kind::UserId(tech.id.clone()),
            pb::scope::Kind::TenantId(customer.id.clone()),
            pb::Effect::Deny,
        )
    };
    let assigned = admin.create_role_assignment(as_admin(deny)).await.unwrap();
    let preview = assigned.into_inner().preview.unwrap();
    assert_eq!(preview.changes.len(), 2, "{preview:?}");
    for change in &preview.changes {
        assert_eq!(tenant_of(change), customer.id);
        assert_eq!(
            (decision(change.before), decision(change.after)),
            (pb::Decision::Allowed, pb::Decision::Denied)
        );
    }
    let assignments = pb::ListRoleAssignmentsRequest {
        principal: Some(pb::Principal {
            kind: Some(pb::principal::Kind::UserId(tech.id.clone())),
        }),
        direct_only: true,
        ..Default::default()
    };
    let listed = admin
        .list_role_assignments(as_admin(assignments))
        .await
        .unwrap();
    assert!(
        listed.into_inner().role_assignments.is_empty(),
        "the previewed deny was kept"
    );
}

async fn a_refused_preview_is_refused_as_the_write_and_audited(backend: Backend) {
    let Some(mut server) = TestServer::start(backend).await else {
        return;
    };
    let admin = &mut server.admin;
    let msp = world::tenant(admin, "msp", None, true).await;
    let object_id = uuid::Uuid::new_v4().to_string();
    world::user_with_object_id(admin, &msp.id, &object_id).await;
    let attempt = pb::CreateRoleRequest {
        name: "billing".into(),
        description: String::new(),
        owner_tenant_id: None,
        permissions: vec!["billing.view".into()],
        validate_only: true,
    };
    let refused = admin
        .create_role(as_actor(&object_id, attempt.clone()))
        .await
        .unwrap_err();
    assert_eq!(
        refused.code(),
        Code::PermissionDenied,
        "{}",
        refused.message()
    );
    let written = pb::CreateRoleRequest {
        validate_only: false,
        ..attempt
    };
    let also = admin
        .create_role(as_actor(&object_id, written))
        .await
        .unwrap_err();
    assert_eq!(
        also.message(),
        refused.message(),
        "the preview refuses as the write does"
    );
    let event = world::newest_event(admin, "CreateRole", "refused").await;
    assert_eq!(event.detail, refused.message());
    let roles = admin
        .list_roles(as_admin(pb::ListRolesRequest::default()))
        .await
        .unwrap();
    assert!(roles.into_inner().roles.iter().all(|r| r.name != "billing"));
}

async fn a_long_preview_is_truncated_and_still_counts_every_user(backend: Backend) {
    let configure = |config: &mut rbac_sidecar::config::ServeConfig| config.preview_max_changes = 3;
    let Some(mut server) = TestServer::start_configured(backend, configure).await else {
        return;
    };
    let admin = &mut server.admin;
    let msp = world::tenant(admin, "msp", None, true).await;
    // A new user: every decision anywhere goes from USER_INACTIVE to NOT_GRANTED.
    let new = pb::CreateUserRequest {
        tenant_id: msp.id.clone(),
        email: "new@example.com".into(),
        first_name: String::new(),
        last_name: String::new(),
        azure_object_id: uuid::Uuid::new_v4().to_string(),
        validate_only: true,
    };
    let created = admin.create_user(as_admin(new)).await.unwrap().into_inner();
    let preview = created.preview.unwrap();
    assert_eq!(preview.changes.len(), 3);
    assert!(preview.truncated);
    assert_eq!(preview.users_affected, 1);
    for change in &preview.changes {
        assert_eq!(change.user_id, created.id);
        assert_eq!(decision(change.before), pb::Decision::UserInactive);
        assert_eq!(decision(change.after), pb::Decision::NotGranted);
    }
    let users = admin
        .list_users(as_admin(pb::ListUsersRequest::default()))
        .await
        .unwrap();
    assert!(users.into_inner().users.iter().all(|u| u.id != created.id));
}

async fn a_preview_lists_only_what_the_actor_may_look_at(backend: Backend) {
    let Some(mut server) = TestServer::start(backend).await else {
        return;
    };
    let admin = &mut server.admin;
    let msp = world::tenant(admin, "msp", None, true).await;
    let customer = world::tenant(admin, "customer", Some(&msp.id), false).await;
    let other = world::tenant(admin, "other msp", None, true).await;
    let object_id = uuid::Uuid::new_v4().to_string();
    let boss = world::user_with_object_id(admin, &customer.id, &object_id).await;
    let legacy = world::built_in("Administrator (Legacy)");
    let to_boss = pb::principal::Kind::UserId(boss.id.clone());
    let own = pb::scope::Kind::UsersTenant(());
    world::grant(admin, &legacy, to_boss, own, pb::Effect::Allow).await;
    // A new user of the customer changes their decisions on every tenant of the instance;
    // the customer's administrator sees those on the customer only.
    let new = pb::CreateUserRequest {
        tenant_id: customer.id.clone(),
        email: "new@example.com".into(),
        first_name: String::new(),
        last_name: String::new(),
        azure_object_id: uuid::Uuid::new_v4().to_string(),
        validate_only: true,
    };
    let created = admin.create_user(as_actor(&object_id, new.clone())).await;
    let preview = created.unwrap().into_inner().preview.unwrap();
    assert_eq!(preview.users_affected, 1);
    assert!(preview.changes.iter().any(|c| c.target.is_some()));
    for change in preview.changes.iter().filter(|c| c.target.is_some()) {
        assert_eq!(tenant_of(change), customer.id, "{change:?}");
    }
    // The bootstrap administrator sees them everywhere, the other MSP included.
    let everywhere = admin.create_user(as_admin(new)).await.unwrap().into_inner();
    let seen = everywhere.preview.unwrap();
    assert!(
        seen.changes
            .iter()
            .any(|c| c.target.is_some() && tenant_of(c) == other.id)
    );
}

on_both_backends!(
    a_preview_lists_only_what_the_actor_may_look_at,
    no_preview_of_any_call_writes_anything,
    a_preview_writes_nothing_and_lists_what_the_write_does,
    a_refused_preview_is_refused_as_the_write_and_audited,
    a_long_preview_is_truncated_and_still_counts_every_user,
);

/// Previews `$method` and checks that it answered one.
macro_rules! preview {
    ($admin:expr, $method:ident, $request:expr) => {{
        let answer = $admin
            .$method(as_admin($request))
            .await
            .unwrap_or_else(|s| panic!("{}: {}", stringify!($method), s.message()))
            .into_inner();
        assert!(
            answer.preview.is_some(),
            "{}: no preview",
            stringify!($method)
        );
    }};
}

/// How many admin calls the audit log records as done.
async fn done(admin: &mut Admin) -> usize {
    let request = pb::ListAuditEventsRequest {
        outcome: "succeeded".into(),
        page_size: 1000,
        ..Default::default()
    };
    let events = admin.list_audit_events(as_admin(request)).await.unwrap();
    events.into_inner().events.len()
}

async fn no_preview_of_any_call_writes_anything(backend: Backend) {
    let Some(mut server) = TestServer::start(backend).await else {
        return;
    };
    let admin = &mut server.admin;
    let msp = world::tenant(admin, "msp", None, true).await;
    let spare = world::tenant(admin, "spare", Some(&msp.id), false).await;
    let tech = world::user(admin, &msp.id).await;
    let boss = world::user(admin, &msp.id).await;
    let role = world::role(admin, &["computers.view"]).await;
    let team = world::group(admin, "team", None).await;
    let empty = world::group(admin, "empty", None).await;
    let join = pb::AddGroupMemberRequest {
        group_id: team.id.clone(),
        user_id: tech.id.clone(),
        validate_only: false,
    };
    admin.add_group_member(as_admin(join)).await.unwrap();
    let to_team = pb::principal::Kind::GroupId(team.id.clone());
    let owner = pb::scope::Kind::Owner(());
    let assignment = world::grant(admin, &role.id, to_team, owner, pb::Effect::Allow).await;
    let tag = |name: &str| pb::CreateTagRequest {
        name: name.into(),
        validate_only: false,
    };
    let vip = admin
        .create_tag(as_admin(tag("vip")))
        .await
        .unwrap()
        .into_inner();
    let unused = admin
        .create_tag(as_admin(tag("unused")))
        .await
        .unwrap()
        .into_inner();
    let person = pb::UpsertPersonRequest {
        tenant_id: msp.id.clone(),
        azure_object_id: uuid::Uuid::new_v4().to_string(),
        email: "pat@example.com".into(),
        first_name: String::new(),
        last_name: String::new(),
        validate_only: false,
    };
    let person = admin
        .upsert_person(as_admin(person))
        .await
        .unwrap()
        .into_inner();
    let ask = pb::SubmitAccessRequestRequest {
        tenant_id: msp.id.clone(),
        azure_object_id: uuid::Uuid::new_v4().to_string(),
        email: "sam@example.com".into(),
        first_name: String::new(),
        last_name: String::new(),
        validate_only: false,
    };
    let asked = admin
        .submit_access_request(tonic::Request::new(ask.clone()))
        .await
        .unwrap()
        .into_inner();
    let on = pb::UpdatePreferencesRequest {
        impersonation_enabled: true,
        validate_only: false,
    };
    admin.update_preferences(as_admin(on)).await.unwrap();
    let revision = world::status(&mut server.authz).await.latest_revision;
    let audited = done(admin).await;

    let v = true;
    preview!(
        admin,
        create_tenant,
        pb::CreateTenantRequest {
            name: "new".into(),
            parent_tenant_id: Some(msp.id.clone()),
            is_msp: false,
            validate_only: v
        }
    );
    preview!(
        admin,
        update_tenant,
        pb::UpdateTenantRequest {
            tenant_id: spare.id.clone(),
            name: "renamed".into(),
            parent_tenant_id: None,
            validate_only: v
        }
    );
    preview!(
        admin,
        delete_tenant,
        pb::DeleteTenantRequest {
            tenant_id: spare.id.clone(),
            validate_only: v
        }
    );
    preview!(
        admin,
        create_tag,
        pb::CreateTagRequest {
            name: "new".into(),
            validate_only: v
        }
    );
    preview!(
        admin,
        update_tag,
        pb::UpdateTagRequest {
            tag_id: vip.id.clone(),
            name: "renamed".into(),
            validate_only: v
        }
    );
    preview!(
        admin,
        delete_tag,
        pb::DeleteTagRequest {
            tag_id: unused.id.clone(),
            validate_only: v
        }
    );
    preview!(
        admin,
        add_tenant_tag,
        pb::AddTenantTagRequest {
            tenant_id: msp.id.clone(),
            tag_id: vip.id.clone(),
            validate_only: v
        }
    );
    preview!(
        admin,
        remove_tenant_tag,
        pb::RemoveTenantTagRequest {
            tenant_id: msp.id.clone(),
            tag_id: vip.id.clone(),
            validate_only: v
        }
    );
    preview!(
        admin,
        create_user,
        pb::CreateUserRequest {
            tenant_id: msp.id.clone(),
            email: "new@example.com".into(),
            first_name: String::new(),
            last_name: String::new(),
            azure_object_id: uuid::Uuid::new_v4().to_string(),
            validate_only: v
        }
    );
    preview!(
        admin,
        update_user,
        pb::UpdateUserRequest {
            user_id: tech.id.clone(),
            email: "other@example.com".into(),
            first_name: String::new(),
            last_name: String::new(),
            expires_at_unix: 0,
            validate_only: v
        }
    );
    preview!(
        admin,
        set_user_disabled,
        pb::SetUserDisabledRequest {
            user_id: tech.id.clone(),
            disabled: true,
            validate_only: v
        }
    );
    preview!(
        admin,
        delete_user,
        pb::DeleteUserRequest {
            user_id: boss.id.clone(),
            validate_only: v
        }
    );
    preview!(
        admin,
        upsert_person,
        pb::UpsertPersonRequest {
            email: "pat@elsewhere.example".into(),
            validate_only: v,
            ..person_request(&person)
        }
    );
    preview!(
        admin,
        promote_person,
        pb::PromotePersonRequest {
            person_id: person.id.clone(),
            validate_only: v
        }
    );
    preview!(
        admin,
        approve_access_request,
        pb::ApproveAccessRequestRequest {
            access_request_id: asked.id.clone(),
            expiry: pb::AccessExpiry::OneDay as i32,
            validate_only: v
        }
    );
    preview!(
        admin,
        reject_access_request,
        pb::RejectAccessRequestRequest {
            access_request_id: asked.id.clone(),
            validate_only: v
        }
    );
    preview!(
        admin,
        create_role,
        pb::CreateRoleRequest {
            name: "new".into(),
            description: String::new(),
            owner_tenant_id: None,
            permissions: vec!["computers.view".into()],
            validate_only: v
        }
    );
    preview!(
        admin,
        update_role,
        pb::UpdateRoleRequest {
            role_id: role.id.clone(),
            name: "renamed".into(),
            description: String::new(),
            permissions: vec![],
            validate_only: v
        }
    );
    preview!(
        admin,
        delete_role,
        pb::DeleteRoleRequest {
            role_id: role.id.clone(),
            remove_assignments: true,
            validate_only: v
        }
    );
    preview!(
        admin,
        create_group,
        pb::CreateGroupRequest {
            name: "new".into(),
            description: String::new(),
            owner_tenant_id: None,
            validate_only: v
        }
    );
    preview!(
        admin,
        update_group,
        pb::UpdateGroupRequest {
            group_id: team.id.clone(),
            name: "renamed".into(),
            description: String::new(),
            validate_only: v
        }
    );
    preview!(
        admin,
        delete_group,
        pb::DeleteGroupRequest {
            group_id: empty.id.clone(),
            validate_only: v
        }
    );
    preview!(
        admin,
        add_group_member,
        pb::AddGroupMemberRequest {
            group_id: team.id.clone(),
            user_id: boss.id.clone(),
            validate_only: v
        }
    );
    preview!(
        admin,
        remove_group_member,
        pb::RemoveGroupMemberRequest {
            group_id: team.id.clone(),
            user_id: tech.id.clone(),
            validate_only: v
        }
    );
    preview!(
        admin,
        create_role_assignment,
        pb::CreateRoleAssignmentRequest {
            validate_only: v,
            ..world::assignment_request(
                &role.id,
                pb::principal::Kind::UserId(boss.id.clone()),
                pb::scope::Kind::TenantId(msp.id.clone()),
                pb::Effect::Deny
            )
        }
    );
    preview!(
        admin,
        delete_role_assignment,
        pb::DeleteRoleAssignmentRequest {
            assignment_id: assignment.id.clone(),
            validate_only: v
        }
    );
    preview!(
        admin,
        upsert_resource,
        pb::UpsertResourceRequest {
            r#type: "computer".into(),
            id: "pc".into(),
            owner_tenant_id: Some(msp.id.clone()),
            validate_only: v
        }
    );
    preview!(
        admin,
        update_preferences,
        pb::UpdatePreferencesRequest {
            impersonation_enabled: false,
            validate_only: v
        }
    );
    preview!(
        admin,
        start_impersonation,
        pb::StartImpersonationRequest {
            user_id: tech.id.clone(),
            validate_only: v
        }
    );
    let submitted = admin
        .submit_access_request(tonic::Request::new(pb::SubmitAccessRequestRequest {
            azure_object_id: uuid::Uuid::new_v4().to_string(),
            validate_only: v,
            ..ask
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(submitted.preview.is_some());

    assert_eq!(
        world::status(&mut server.authz).await.latest_revision,
        revision,
        "a preview committed a revision"
    );
    assert_eq!(done(admin).await, audited, "a preview was audited as done");
}

/// The request that made `person`, to change one field of.
fn person_request(person: &pb::Person) -> pb::UpsertPersonRequest {
    pb::UpsertPersonRequest {
        tenant_id: person.tenant_id.clone(),
        azure_object_id: person.azure_object_id.clone(),
        email: person.email.clone(),
        first_name: person.first_name.clone(),
        last_name: person.last_name.clone(),
        validate_only: false,
    }
}
