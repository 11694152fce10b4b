//! Privilege escalation by actors who are not owners: every attempt is PERMISSION_DENIED,
//! writes nothing (the change log does not move) and leaves one `refused` audit row.

use rbac_sidecar::api::pb::rbac::v1 as pb;
use tonic::Code;

use crate::support::world::{self, Admin, built_in, grant, group, impersonating, owned_role};
use crate::support::{Backend, TestServer, as_actor, as_admin};

const BOSS: &str = "e5ca1a7e-0000-4000-8000-00000000b055";
const SYS: &str = "e5ca1a7e-0000-4000-8000-000000000555";

use pb::principal::Kind::{GroupId as ToGroup, UserId as ToUser};
use pb::scope::Kind as At;

/// The change-log revision and the number of refused audit rows.
async fn ledger(server: &mut TestServer) -> (u64, i64) {
    let revision = world::status(&mut server.authz).await.latest_revision;
    (revision, world::refused_audit_rows(&server.url).await)
}

/// Runs one attempt: refused, naming `needle`, nothing written, one refusal audited.
macro_rules! refused {
    ($server:expr, $attempts:expr, $needle:expr, $call:expr) => {{
        let (revision, refusals) = ledger(&mut $server).await;
        let status = $call.await.expect_err(stringify!($call));
        assert_eq!(
            status.code(),
            Code::PermissionDenied,
            "{}: {}",
            stringify!($call),
            status.message()
        );
        assert!(
            status.message().contains($needle),
            "`{}` does not mention `{}`",
            status.message(),
            $needle
        );
        assert_eq!(
            ledger(&mut $server).await,
            (revision, refusals + 1),
            "{}: nothing written, one refusal audited",
            stringify!($call)
        );
        $attempts += 1;
    }};
}

fn boss<T>(message: T) -> tonic::Request<T> {
    as_actor(BOSS, message)
}

fn assignment(
    role: &str,
    principal: pb::principal::Kind,
    scope: At,
) -> pb::CreateRoleAssignmentRequest {
    world::assignment_request(role, principal, scope, pb::Effect::Allow)
}

fn role_request(owner: Option<&str>, permissions: &[&str]) -> pb::CreateRoleRequest {
    pb::CreateRoleRequest {
        name: "mine".into(),
        description: String::new(),
        owner_tenant_id: owner.map(Into::into),
        permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
        validate_only: false,
    }
}

fn identity_request(tenant: &str, object_id: &str) -> pb::UpsertPersonRequest {
    pb::UpsertPersonRequest {
        tenant_id: tenant.into(),
        azure_object_id: object_id.into(),
        email: format!("{object_id}@example.com"),
        first_name: String::new(),
        last_name: String::new(),
        validate_only: false,
    }
}

#[tokio::test]
async fn a_tenant_administrator_cannot_escalate_by_any_admin_call() {
    let mut server = TestServer::start(Backend::Sqlite).await.unwrap();
    let admin: &mut Admin = &mut server.admin.clone();

    // The world, built by the Owner-scope administrator.
    let msp = world::tenant(admin, "msp", None, true).await;
    let other_msp = world::tenant(admin, "other msp", None, true).await;
    let contoso = world::tenant(admin, "contoso", Some(&msp.id), false).await;
    let fabrikam = world::tenant(admin, "fabrikam", Some(&msp.id), false).await;
    let boss_user = world::user_with_object_id(admin, &contoso.id, BOSS).await;
    let colleague = world::user(admin, &contoso.id).await;
    let auditor = world::user_with_object_id(admin, &contoso.id, SYS).await;
    let stranger = world::user(admin, &fabrikam.id).await;
    let administrator = built_in("Administrator (Legacy)");
    let tenant_scope = || At::TenantId(contoso.id.clone());
    grant(
        admin,
        &administrator,
        ToUser(boss_user.id.clone()),
        tenant_scope(),
        pb::Effect::Allow,
    )
    .await;
    let impersonator = owned_role(
        admin,
        Some(&contoso.id),
        &["users.view", "users.impersonate"],
    )
    .await;
    grant(
        admin,
        &impersonator.id,
        ToUser(boss_user.id.clone()),
        tenant_scope(),
        pb::Effect::Allow,
    )
    .await;
    grant(
        admin,
        &built_in("User (Legacy)"),
        ToUser(colleague.id.clone()),
        At::UsersTenant(()),
        pb::Effect::Allow,
    )
    .await;
    let audit_role = owned_role(admin, None, &["audit.view"]).await;
    grant(
        admin,
        &audit_role.id,
        ToUser(auditor.id.clone()),
        tenant_scope(),
        pb::Effect::Allow,
    )
    .await;
    let contoso_role = owned_role(admin, Some(&contoso.id), &["computers.view"]).await;
    let fabrikam_role = owned_role(admin, Some(&fabrikam.id), &["computers.view"]).await;
    let public_role = owned_role(admin, None, &["computers.view"]).await;
    let msp_deny = grant(
        admin,
        &public_role.id,
        ToUser(boss_user.id.clone()),
        At::MspTenantId(msp.id.clone()),
        pb::Effect::Deny,
    )
    .await;
    let everyone = group(admin, "everyone", None).await;
    grant(
        admin,
        &public_role.id,
        ToGroup(everyone.id.clone()),
        At::Owner(()),
        pb::Effect::Allow,
    )
    .await;
    let contoso_group = group(admin, "contoso msp viewers", Some(&contoso.id)).await;
    grant(
        admin,
        &public_role.id,
        ToGroup(contoso_group.id.clone()),
        At::MspTenantId(msp.id.clone()),
        pb::Effect::Allow,
    )
    .await;
    let tag = admin
        .create_tag(as_admin(pb::CreateTagRequest {
            name: "vip".into(),
            validate_only: false,
        }))
        .await
        .unwrap()
        .into_inner();
    let person = admin
        .upsert_person(as_admin(identity_request(
            &fabrikam.id,
            "e5ca1a7e-0000-4000-8000-0000000000a1",
        )))
        .await
        .unwrap()
        .into_inner();
    let request = admin
        .submit_access_request(pb::SubmitAccessRequestRequest {
            tenant_id: fabrikam.id.clone(),
            azure_object_id: "e5ca1a7e-0000-4000-8000-0000000000a2".into(),
            email: "asker@example.com".into(),
            first_name: String::new(),
            last_name: String::new(),
            validate_only: false,
        })
        .await
        .unwrap()
        .into_inner();
    let upsert = |owner: &str| pb::UpsertResourceRequest {
        r#type: "computer".into(),
        id: "pc-f".into(),
        owner_tenant_id: Some(owner.into()),
        validate_only: false,
    };
    admin
        .upsert_resource(as_admin(upsert(&fabrikam.id)))
        .await
        .unwrap();
    let admin_user = admin
        .get_my_access(as_admin(pb::GetMyAccessRequest {}))
        .await
        .unwrap()
        .into_inner()
        .user_id;

    let mut attempts = 0;
    let mut a = server.admin.clone();

    // Assignments: scopes beyond their own tenant, roles they cannot see or give,
    // principals they do not manage, denies placed on them.
    refused!(
        server,
        attempts,
        "`rbac.assign-owner-scope`",
        a.create_role_assignment(boss(assignment(
            &administrator,
            ToUser(boss_user.id.clone()),
            At::Owner(())
        )))
    );
    refused!(
        server,
        attempts,
        &fabrikam.id,
        a.create_role_assignment(boss(assignment(
            &administrator,
            ToUser(colleague.id.clone()),
            At::TenantId(fabrikam.id.clone())
        )))
    );
    refused!(
        server,
        attempts,
        "`rbac.assign-cross-tenant-roles`",
        a.create_role_assignment(boss(assignment(
            &built_in("System Administrator (Legacy)"),
            ToUser(colleague.id.clone()),
            tenant_scope()
        )))
    );
    refused!(
        server,
        attempts,
        "`rbac.assign-msp-scope`",
        a.create_role_assignment(boss(assignment(
            &contoso_role.id,
            ToUser(colleague.id.clone()),
            At::MspTenantId(msp.id.clone())
        )))
    );
    refused!(
        server,
        attempts,
        "`rbac.assign-tag-scope`",
        a.create_role_assignment(boss(assignment(
            &contoso_role.id,
            ToUser(colleague.id.clone()),
            At::TenantTagId(tag.id.clone())
        )))
    );
    refused!(
        server,
        attempts,
        "cannot see role",
        a.create_role_assignment(boss(assignment(
            &fabrikam_role.id,
            ToUser(colleague.id.clone()),
            tenant_scope()
        )))
    );
    refused!(
        server,
        attempts,
        "`users.manage`",
        a.create_role_assignment(boss(assignment(
            &contoso_role.id,
            ToUser(stranger.id.clone()),
            tenant_scope()
        )))
    );
    refused!(
        server,
        attempts,
        "`rbac.assign-msp-scope`",
        a.delete_role_assignment(boss(pb::DeleteRoleAssignmentRequest {
            assignment_id: msp_deny.id.clone(),
            validate_only: false,
        }))
    );

    // Roles: public ones, permissions they lack, built-in ones, other tenants' roles.
    refused!(
        server,
        attempts,
        "`rbac.roles.manage-public`",
        a.create_role(boss(role_request(None, &[])))
    );
    refused!(
        server,
        attempts,
        "`billing.manage`",
        a.create_role(boss(role_request(Some(&contoso.id), &["billing.manage"])))
    );
    refused!(
        server,
        attempts,
        "`tenants.manage`",
        a.update_role(boss(pb::UpdateRoleRequest {
            role_id: contoso_role.id.clone(),
            name: "more".into(),
            description: String::new(),
            permissions: vec!["computers.view".into(), "tenants.manage".into()],
            validate_only: false,
        }))
    );
    refused!(
        server,
        attempts,
        "read-only",
        a.update_role(boss(pb::UpdateRoleRequest {
            role_id: administrator.clone(),
            name: "Administrator (Legacy)".into(),
            description: String::new(),
            permissions: vec!["billing.manage".into()],
            validate_only: false,
        }))
    );
    refused!(
        server,
        attempts,
        "read-only",
        a.delete_role(boss(pb::DeleteRoleRequest {
            role_id: administrator.clone(),
            remove_assignments: true,
            validate_only: false,
        }))
    );
    refused!(
        server,
        attempts,
        "`rbac.roles.manage`",
        a.delete_role(boss(pb::DeleteRoleRequest {
            role_id: fabrikam_role.id.clone(),
            remove_assignments: false,
            validate_only: false,
        }))
    );
    refused!(
        server,
        attempts,
        "`rbac.roles.manage-public`",
        a.delete_role(boss(pb::DeleteRoleRequest {
            role_id: public_role.id.clone(),
            remove_assignments: true,
            validate_only: false,
        }))
    );

    // Users: other tenants, and users holding system permissions they lack.
    refused!(
        server,
        attempts,
        "`users.manage`",
        a.create_user(boss(pb::CreateUserRequest {
            tenant_id: fabrikam.id.clone(),
            email: "x@example.com".into(),
            first_name: String::new(),
            last_name: String::new(),
            azure_object_id: "e5ca1a7e-0000-4000-8000-0000000000a3".into(),
            validate_only: false,
        }))
    );
    refused!(
        server,
        attempts,
        "`users.manage`",
        a.set_user_disabled(boss(pb::SetUserDisabledRequest {
            user_id: admin_user.clone(),
            disabled: true,
            validate_only: false,
        }))
    );
    refused!(
        server,
        attempts,
        "system permission `audit.view`",
        a.delete_user(boss(pb::DeleteUserRequest {
            user_id: auditor.id.clone(),
            validate_only: false,
        }))
    );
    refused!(
        server,
        attempts,
        "system permission `audit.view`",
        a.update_user(boss(pb::UpdateUserRequest {
            user_id: auditor.id.clone(),
            email: "auditor@example.com".into(),
            first_name: String::new(),
            last_name: String::new(),
            expires_at_unix: 0,
            validate_only: false,
        }))
    );
    refused!(
        server,
        attempts,
        "`users.view`",
        a.get_user(boss(pb::GetUserRequest {
            user_id: stranger.id.clone()
        }))
    );

    // Tenants and tags: the tree and tags move access, so they need their own rights.
    refused!(
        server,
        attempts,
        "`tenants.manage`",
        a.create_tenant(boss(pb::CreateTenantRequest {
            name: "mine".into(),
            parent_tenant_id: Some(contoso.id.clone()),
            is_msp: false,
            validate_only: false,
        }))
    );
    refused!(
        server,
        attempts,
        "`tenants.manage`",
        a.update_tenant(boss(pb::UpdateTenantRequest {
            tenant_id: contoso.id.clone(),
            name: String::new(),
            parent_tenant_id: Some(other_msp.id.clone()),
            validate_only: false,
        }))
    );
    refused!(
        server,
        attempts,
        "`tenants.manage`",
        a.delete_tenant(boss(pb::DeleteTenantRequest {
            tenant_id: fabrikam.id.clone(),
            validate_only: false,
        }))
    );
    refused!(
        server,
        attempts,
        "`tenants.manage`",
        a.add_tenant_tag(boss(pb::AddTenantTagRequest {
            tenant_id: contoso.id.clone(),
            tag_id: tag.id.clone(),
            validate_only: false,
        }))
    );
    refused!(
        server,
        attempts,
        "`tags.manage`",
        a.delete_tag(boss(pb::DeleteTagRequest {
            tag_id: tag.id.clone(),
            validate_only: false,
        }))
    );

    // Groups: joining a group is receiving its assignments; deleting one may lift them.
    refused!(
        server,
        attempts,
        "`rbac.groups.manage`",
        a.add_group_member(boss(pb::AddGroupMemberRequest {
            group_id: everyone.id.clone(),
            user_id: boss_user.id.clone(),
            validate_only: false,
        }))
    );
    refused!(
        server,
        attempts,
        "cannot grant `computers.view`",
        a.add_group_member(boss(pb::AddGroupMemberRequest {
            group_id: contoso_group.id.clone(),
            user_id: colleague.id.clone(),
            validate_only: false,
        }))
    );
    refused!(
        server,
        attempts,
        "`rbac.assign-msp-scope`",
        a.delete_group(boss(pb::DeleteGroupRequest {
            group_id: contoso_group.id.clone(),
            validate_only: false,
        }))
    );

    // Persons and access requests of other tenants.
    refused!(
        server,
        attempts,
        "`persons.manage`",
        a.upsert_person(boss(identity_request(
            &fabrikam.id,
            "e5ca1a7e-0000-4000-8000-0000000000a4"
        )))
    );
    refused!(
        server,
        attempts,
        "`users.manage`",
        a.promote_person(boss(pb::PromotePersonRequest {
            person_id: person.id.clone(),
            validate_only: false,
        }))
    );
    refused!(
        server,
        attempts,
        "`users.manage-access-requests`",
        a.approve_access_request(boss(pb::ApproveAccessRequestRequest {
            access_request_id: request.id.clone(),
            expiry: pb::AccessExpiry::Never as i32,
            validate_only: false,
        }))
    );

    // Resources of other tenants, the audit log, other tenants' access.
    refused!(
        server,
        attempts,
        "resource `computer/pc-f`",
        a.upsert_resource(boss(upsert(&contoso.id)))
    );
    refused!(
        server,
        attempts,
        "`audit.view`",
        a.list_audit_events(boss(pb::ListAuditEventsRequest::default()))
    );
    refused!(
        server,
        attempts,
        "`rbac.assignments.view`",
        a.check_user_access(boss(pb::CheckUserAccessRequest {
            user_id: stranger.id.clone(),
            target: Some(pb::Target {
                kind: Some(pb::target::Kind::TenantId(fabrikam.id.clone()))
            }),
        }))
    );

    // Impersonation: the preference, the permission, and never a more powerful user.
    refused!(
        server,
        attempts,
        "`preferences.manage`",
        a.update_preferences(boss(pb::UpdatePreferencesRequest {
            impersonation_enabled: true,
            validate_only: false,
        }))
    );
    refused!(
        server,
        attempts,
        "turned off",
        a.start_impersonation(boss(pb::StartImpersonationRequest {
            user_id: colleague.id.clone(),
            validate_only: false,
        }))
    );
    admin
        .update_preferences(as_admin(pb::UpdatePreferencesRequest {
            impersonation_enabled: true,
            validate_only: false,
        }))
        .await
        .unwrap();
    refused!(
        server,
        attempts,
        "system permission `audit.view`",
        a.start_impersonation(boss(pb::StartImpersonationRequest {
            user_id: auditor.id.clone(),
            validate_only: false,
        }))
    );
    refused!(
        server,
        attempts,
        "`users.impersonate`",
        a.start_impersonation(boss(pb::StartImpersonationRequest {
            user_id: admin_user.clone(),
            validate_only: false,
        }))
    );
    // The colleague sees computers where a deny keeps them from the boss: impersonating
    // them would show more than the boss may see.
    refused!(
        server,
        attempts,
        "cannot impersonate",
        a.start_impersonation(boss(pb::StartImpersonationRequest {
            user_id: colleague.id.clone(),
            validate_only: false,
        }))
    );
    // As an intern who holds less than the boss, the boss can do only what the intern may.
    let intern = world::user(admin, &contoso.id).await;
    let viewer = owned_role(admin, Some(&contoso.id), &["users.view"]).await;
    grant(
        admin,
        &viewer.id,
        ToUser(intern.id.clone()),
        At::UsersTenant(()),
        pb::Effect::Allow,
    )
    .await;
    a.start_impersonation(boss(pb::StartImpersonationRequest {
        user_id: intern.id.clone(),
        validate_only: false,
    }))
    .await
    .unwrap();
    refused!(
        server,
        attempts,
        "`users.manage`",
        a.create_user(impersonating(
            BOSS,
            &intern.id,
            pb::CreateUserRequest {
                tenant_id: contoso.id.clone(),
                email: "y@example.com".into(),
                first_name: String::new(),
                last_name: String::new(),
                azure_object_id: "e5ca1a7e-0000-4000-8000-0000000000a5".into(),
                validate_only: false,
            }
        ))
    );

    assert!(attempts >= 25, "{attempts} attempts");
    // The impersonated refusal is audited with both identities.
    let event = world::newest_event(admin, "CreateUser", "refused").await;
    assert_eq!(event.actor_user_id, intern.id);
    assert_eq!(event.impersonator_user_id, boss_user.id);

    // What the boss sees: their own tenant, its users and their assignments.
    let users = a
        .list_users(boss(pb::ListUsersRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .users;
    assert!(
        users.len() >= 3 && users.iter().all(|u| u.tenant_id == contoso.id),
        "{users:?}"
    );
    let tenants = a
        .list_tenants(boss(pb::ListTenantsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .tenants;
    assert_eq!(
        tenants.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(),
        [contoso.id.as_str()]
    );
    let visible = a
        .list_role_assignments(boss(pb::ListRoleAssignmentsRequest {
            page_size: 2,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        visible.role_assignments.len(),
        2,
        "a full page, though most assignments are hidden"
    );
    let everyone_owner = a
        .list_role_assignments(boss(pb::ListRoleAssignmentsRequest {
            principal: Some(pb::Principal {
                kind: Some(ToGroup(everyone.id.clone())),
            }),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(
        everyone_owner.role_assignments.is_empty(),
        "an unowned group's assignments need Owner scope"
    );

    // What the boss may do: their own tenant's users and roles, granting what they hold
    // (not `computers.view`, which a deny takes from them).
    let helpdesk = owned_role(admin, Some(&contoso.id), &["users.view"]).await;
    a.create_role_assignment(boss(assignment(
        &helpdesk.id,
        ToUser(colleague.id.clone()),
        tenant_scope(),
    )))
    .await
    .unwrap();
    a.delete_user(boss(pb::DeleteUserRequest {
        user_id: colleague.id.clone(),
        validate_only: false,
    }))
    .await
    .unwrap();
    server.stop().await;
}
