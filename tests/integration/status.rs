//! Bad input gets the documented status code with a message a person can act on, and
//! nothing is written.

use rbac_sidecar::api::pb::rbac::v1 as pb;
use rbac_sidecar::model::catalogue;
use tonic::Code;

use crate::support::world::assert_status;
use crate::support::{ADMIN, Backend, TestServer, as_actor, as_admin, world};

fn check(
    user_id: &str,
    permission: &str,
    target: Option<pb::target::Kind>,
) -> pb::CheckAccessRequest {
    pb::CheckAccessRequest {
        subject: Some(pb::check_access_request::Subject::UserId(
            user_id.to_owned(),
        )),
        permission: permission.to_owned(),
        target: target.map(|kind| pb::Target { kind: Some(kind) }),
        explain: false,
        min_revision: 0,
    }
}

async fn new_tenant(
    server: &mut TestServer,
    name: &str,
    parent: Option<&str>,
    is_msp: bool,
) -> pb::Tenant {
    world::tenant(&mut server.admin, name, parent, is_msp).await
}

async fn new_user(server: &mut TestServer, tenant: &str, object_id: &str) -> pb::User {
    world::user_with_object_id(&mut server.admin, tenant, object_id).await
}

#[tokio::test]
async fn checks_refuse_bad_input_with_clear_codes() {
    let mut server = TestServer::start(Backend::Sqlite).await.unwrap();
    let msp = new_tenant(&mut server, "msp", None, true).await;
    let user = new_user(&mut server, &msp.id, "6d1c6a4e-1d0a-4b55-8f39-1b1a7f2d3c01").await;
    let authz = &mut server.authz;

    assert_status(
        authz
            .check_access(check("not-a-uuid", "computers.view", None))
            .await,
        Code::InvalidArgument,
        "`user_id`",
    );
    assert_status(
        authz
            .check_access(check(&user.id, "computers.fly", None))
            .await,
        Code::InvalidArgument,
        "`computers.fly`",
    );
    assert_status(
        authz
            .check_access(check(&user.id, "computers.view", None))
            .await,
        Code::InvalidArgument,
        "needs a target",
    );
    let unknown_tenant = "9a7e0b7e-5c35-4a43-bb8e-59bb0c1e7a11";
    assert_status(
        authz
            .check_access(check(
                &user.id,
                "computers.view",
                Some(pb::target::Kind::TenantId(unknown_tenant.into())),
            ))
            .await,
        Code::NotFound,
        unknown_tenant,
    );
    let resource = pb::ResourceRef {
        r#type: "computer".into(),
        id: "pc-404".into(),
    };
    assert_status(
        authz
            .check_access(check(
                &user.id,
                "computers.view",
                Some(pb::target::Kind::Resource(resource)),
            ))
            .await,
        Code::NotFound,
        "computer/pc-404",
    );
    let bad_type = pb::ResourceRef {
        r#type: "printer".into(),
        id: "p1".into(),
    };
    assert_status(
        authz
            .check_access(check(
                &user.id,
                "computers.view",
                Some(pb::target::Kind::Resource(bad_type)),
            ))
            .await,
        Code::InvalidArgument,
        "`printer`",
    );
    let mut no_subject = check(&user.id, "billing.view", None);
    no_subject.subject = None;
    assert_status(
        authz.check_access(no_subject).await,
        Code::InvalidArgument,
        "`user_id` or `azure_object_id`",
    );

    // An unknown user is an answer, not an error: fail closed.
    let unknown = authz
        .check_access(check(
            "3b0b4f64-7b6e-4f7a-9f0e-6a4ad3f1e2d9",
            "billing.view",
            None,
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(unknown.decision, pb::Decision::UserInactive as i32);
    assert!(!unknown.allowed);

    // A revision no write has made: FAILED_PRECONDITION at once, never a stale answer.
    let mut future = check(&user.id, "billing.view", None);
    future.min_revision = 1_000_000;
    assert_status(
        authz.check_access(future).await,
        Code::FailedPrecondition,
        "revision 1000000 has not been written",
    );
    server.stop().await;
}

#[tokio::test]
async fn batch_check_answers_in_order_and_isolates_bad_items() {
    let mut server = TestServer::start(Backend::Sqlite).await.unwrap();
    let msp = new_tenant(&mut server, "msp", None, true).await;
    let user = new_user(&mut server, &msp.id, "6d1c6a4e-1d0a-4b55-8f39-1b1a7f2d3c02").await;
    let admin_check = pb::CheckAccessRequest {
        subject: Some(pb::check_access_request::Subject::AzureObjectId(
            ADMIN.into(),
        )),
        ..check(&user.id, "billing.manage", None)
    };
    let mut future = check(&user.id, "billing.manage", None);
    future.min_revision = 1_000_000;
    let checks = vec![
        admin_check,
        check(&user.id, "computers.fly", None),
        check(&user.id, "billing.manage", None),
        future,
    ];
    let results = server
        .authz
        .batch_check(pb::BatchCheckRequest { checks })
        .await
        .unwrap()
        .into_inner()
        .results;
    assert_eq!(results.len(), 4);
    assert_eq!(
        results[0].response.as_ref().unwrap().decision,
        pb::Decision::Allowed as i32
    );
    let error = results[1].error.as_ref().unwrap();
    assert_eq!(error.code, Code::InvalidArgument as i32);
    assert!(error.message.contains("computers.fly"));
    assert_eq!(
        results[2].response.as_ref().unwrap().decision,
        pb::Decision::NotGranted as i32
    );
    // An item asking for a revision nobody wrote fails alone, and holds nobody up.
    let error = results[3].error.as_ref().unwrap();
    assert_eq!(
        error.code,
        Code::FailedPrecondition as i32,
        "{}",
        error.message
    );

    let too_many = vec![check(&user.id, "billing.view", None); 101];
    assert_status(
        server
            .authz
            .batch_check(pb::BatchCheckRequest { checks: too_many })
            .await,
        Code::InvalidArgument,
        "at most 100",
    );
    server.stop().await;
}

#[tokio::test]
async fn admin_calls_need_a_known_active_actor() {
    let mut server = TestServer::start(Backend::Sqlite).await.unwrap();
    let request = || pb::CreateTagRequest {
        name: "vip".into(),
        validate_only: false,
    };
    assert_status(
        server
            .admin
            .create_tag(tonic::Request::new(request()))
            .await,
        Code::Unauthenticated,
        "x-actor-object-id",
    );
    assert_status(
        server.admin.create_tag(as_actor("nope", request())).await,
        Code::Unauthenticated,
        "x-actor-object-id",
    );
    assert_status(
        server
            .admin
            .create_tag(as_actor("7f4c0a38-3c5e-4a9a-8d8f-2f5b1b0c9e77", request()))
            .await,
        Code::PermissionDenied,
        "unknown, disabled or expired",
    );
    let mut by_user_id = tonic::Request::new(request());
    by_user_id.metadata_mut().insert(
        "x-actor-user-id",
        "7f4c0a38-3c5e-4a9a-8d8f-2f5b1b0c9e77".parse().unwrap(),
    );
    assert_status(
        server.admin.create_tag(by_user_id).await,
        Code::PermissionDenied,
        "unknown, disabled or expired",
    );
    server.stop().await;
}

#[tokio::test]
async fn an_explained_check_of_an_unknown_user_says_no_such_user_exists() {
    let mut server = TestServer::start(Backend::Sqlite).await.unwrap();
    let answer = server
        .authz
        .check_access(pb::CheckAccessRequest {
            subject: Some(pb::check_access_request::Subject::UserId(
                "7f4c0a38-3c5e-4a9a-8d8f-2f5b1b0c9e77".into(),
            )),
            permission: "billing.view".into(),
            target: None,
            explain: true,
            min_revision: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answer.decision, pb::Decision::UserInactive as i32);
    assert!(answer.reason.contains("no user has this id"), "{answer:?}");
    server.stop().await;
}

#[tokio::test]
async fn invalid_writes_change_nothing() {
    let mut server = TestServer::start(Backend::Sqlite).await.unwrap();
    let msp = new_tenant(&mut server, "msp", None, true).await;
    let customer = new_tenant(&mut server, "customer", Some(&msp.id), false).await;
    let object_id = "6d1c6a4e-1d0a-4b55-8f39-1b1a7f2d3c03";
    let user = new_user(&mut server, &customer.id, object_id).await;
    let before = user.revision;

    let duplicate = pb::CreateUserRequest {
        tenant_id: customer.id.clone(),
        email: "again@example.com".into(),
        first_name: String::new(),
        last_name: String::new(),
        azure_object_id: object_id.into(),
        validate_only: false,
    };
    assert_status(
        server.admin.create_user(as_admin(duplicate.clone())).await,
        Code::AlreadyExists,
        object_id,
    );
    let bad_guid = pb::CreateUserRequest {
        azure_object_id: "1234".into(),
        ..duplicate.clone()
    };
    assert_status(
        server.admin.create_user(as_admin(bad_guid)).await,
        Code::InvalidArgument,
        "`azure_object_id`",
    );
    let nowhere = pb::CreateUserRequest {
        tenant_id: "9a7e0b7e-5c35-4a43-bb8e-59bb0c1e7a11".into(),
        ..duplicate
    };
    assert_status(
        server.admin.create_user(as_admin(nowhere)).await,
        Code::NotFound,
        "9a7e0b7e",
    );
    let unknown_keys = pb::CreateRoleRequest {
        name: "r".into(),
        description: String::new(),
        owner_tenant_id: None,
        permissions: vec![
            "computers.view".into(),
            "computers.fly".into(),
            "x.y".into(),
        ],
        validate_only: false,
    };
    assert_status(
        server.admin.create_role(as_admin(unknown_keys)).await,
        Code::InvalidArgument,
        "`computers.fly`, `x.y`",
    );
    let built_in = catalogue().built_in_role_by_name("User (Legacy)").unwrap();
    let edit = pb::UpdateRoleRequest {
        role_id: built_in.id.to_string(),
        name: "mine now".into(),
        description: String::new(),
        permissions: vec!["billing.manage".into()],
        validate_only: false,
    };
    assert_status(
        server.admin.update_role(as_admin(edit)).await,
        Code::PermissionDenied,
        "read-only for everyone",
    );
    let msp_scope_on_customer = pb::CreateRoleAssignmentRequest {
        role_id: built_in.id.to_string(),
        principal: Some(pb::Principal {
            kind: Some(pb::principal::Kind::UserId(user.id.clone())),
        }),
        scope: Some(pb::Scope {
            kind: Some(pb::scope::Kind::MspTenantId(customer.id.clone())),
        }),
        effect: pb::Effect::Allow as i32,
        validate_only: false,
    };
    assert_status(
        server
            .admin
            .create_role_assignment(as_admin(msp_scope_on_customer.clone()))
            .await,
        Code::FailedPrecondition,
        "not an MSP",
    );
    let no_effect = pb::CreateRoleAssignmentRequest {
        effect: 0,
        ..msp_scope_on_customer
    };
    assert_status(
        server
            .admin
            .create_role_assignment(as_admin(no_effect))
            .await,
        Code::InvalidArgument,
        "EFFECT_ALLOW",
    );
    let group = pb::CreateGroupRequest {
        name: "msp staff".into(),
        description: String::new(),
        owner_tenant_id: Some(msp.id.clone()),
        validate_only: false,
    };
    let group = server
        .admin
        .create_group(as_admin(group))
        .await
        .unwrap()
        .into_inner();
    let foreign = pb::AddGroupMemberRequest {
        group_id: group.id.clone(),
        user_id: user.id.clone(),
        validate_only: false,
    };
    assert_status(
        server.admin.add_group_member(as_admin(foreign)).await,
        Code::FailedPrecondition,
        "only users of that tenant",
    );

    // Nothing above consumed a revision: the next write is the one after the group.
    let tag = server
        .admin
        .create_tag(as_admin(pb::CreateTagRequest {
            name: "after".into(),
            validate_only: false,
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(tag.revision, group.revision + 1);
    assert_eq!(group.revision, before + 1);
    server.stop().await;
}

#[tokio::test]
async fn a_tenant_administrator_cannot_escalate() {
    let mut server = TestServer::start(Backend::Sqlite).await.unwrap();
    let msp = new_tenant(&mut server, "msp", None, true).await;
    let contoso = new_tenant(&mut server, "contoso", Some(&msp.id), false).await;
    let fabrikam = new_tenant(&mut server, "fabrikam", Some(&msp.id), false).await;
    let boss_id = "6d1c6a4e-1d0a-4b55-8f39-1b1a7f2d3c04";
    let boss = new_user(&mut server, &contoso.id, boss_id).await;
    let administrator = catalogue()
        .built_in_role_by_name("Administrator (Legacy)")
        .unwrap();
    let grant = pb::CreateRoleAssignmentRequest {
        role_id: administrator.id.to_string(),
        principal: Some(pb::Principal {
            kind: Some(pb::principal::Kind::UserId(boss.id.clone())),
        }),
        scope: Some(pb::Scope {
            kind: Some(pb::scope::Kind::TenantId(contoso.id.clone())),
        }),
        effect: pb::Effect::Allow as i32,
        validate_only: false,
    };
    server
        .admin
        .create_role_assignment(as_admin(grant.clone()))
        .await
        .unwrap();
    let audit_before = world::refused_audit_rows(&server.url).await;

    // Widen their own assignment to Owner scope.
    let owner = pb::CreateRoleAssignmentRequest {
        scope: Some(pb::Scope {
            kind: Some(pb::scope::Kind::Owner(())),
        }),
        ..grant.clone()
    };
    assert_status(
        server
            .admin
            .create_role_assignment(as_actor(boss_id, owner))
            .await,
        Code::PermissionDenied,
        "`rbac.assign-owner-scope`",
    );
    // Reach into a tenant they do not administer.
    let elsewhere = pb::CreateRoleAssignmentRequest {
        scope: Some(pb::Scope {
            kind: Some(pb::scope::Kind::TenantId(fabrikam.id.clone())),
        }),
        ..grant.clone()
    };
    assert_status(
        server
            .admin
            .create_role_assignment(as_actor(boss_id, elsewhere))
            .await,
        Code::PermissionDenied,
        &fabrikam.id,
    );
    // Hand themselves the System Administrator role at their own tenant.
    let sysadmin = catalogue()
        .built_in_role_by_name("System Administrator (Legacy)")
        .unwrap();
    let system_role = pb::CreateRoleAssignmentRequest {
        role_id: sysadmin.id.to_string(),
        ..grant.clone()
    };
    assert_status(
        server
            .admin
            .create_role_assignment(as_actor(boss_id, system_role))
            .await,
        Code::PermissionDenied,
        "`rbac.assign-cross-tenant-roles`",
    );
    // Create a public role.
    let public = pb::CreateRoleRequest {
        name: "p".into(),
        description: String::new(),
        owner_tenant_id: None,
        permissions: vec![],
        validate_only: false,
    };
    assert_status(
        server.admin.create_role(as_actor(boss_id, public)).await,
        Code::PermissionDenied,
        "`rbac.roles.manage-public`",
    );
    // Put a permission they do not hold into their tenant's role.
    let smuggle = pb::CreateRoleRequest {
        name: "s".into(),
        description: String::new(),
        owner_tenant_id: Some(contoso.id.clone()),
        permissions: vec!["billing.manage".into()],
        validate_only: false,
    };
    assert_status(
        server.admin.create_role(as_actor(boss_id, smuggle)).await,
        Code::PermissionDenied,
        "`billing.manage`",
    );
    // Create users in another tenant, or new tenants.
    let stranger = pb::CreateUserRequest {
        tenant_id: fabrikam.id.clone(),
        email: "x@example.com".into(),
        first_name: String::new(),
        last_name: String::new(),
        azure_object_id: "6d1c6a4e-1d0a-4b55-8f39-1b1a7f2d3c05".into(),
        validate_only: false,
    };
    assert_status(
        server.admin.create_user(as_actor(boss_id, stranger)).await,
        Code::PermissionDenied,
        "`users.manage`",
    );
    let tenant = pb::CreateTenantRequest {
        name: "mine".into(),
        parent_tenant_id: Some(contoso.id.clone()),
        is_msp: false,
        validate_only: false,
    };
    assert_status(
        server.admin.create_tenant(as_actor(boss_id, tenant)).await,
        Code::PermissionDenied,
        "`tenants.manage`",
    );
    // Disable the administrator who holds system permissions they lack.
    let admin_user = server
        .authz
        .get_effective_access(pb::GetEffectiveAccessRequest {
            subject: Some(pb::get_effective_access_request::Subject::AzureObjectId(
                ADMIN.into(),
            )),
            min_revision: 0,
        })
        .await
        .unwrap()
        .into_inner();
    let disable = pb::SetUserDisabledRequest {
        user_id: admin_user.user_id,
        disabled: true,
        validate_only: false,
    };
    assert_status(
        server
            .admin
            .set_user_disabled(as_actor(boss_id, disable))
            .await,
        Code::PermissionDenied,
        "needs `users.manage`",
    );

    // What they may do: manage a user of their own tenant.
    let colleague = pb::CreateUserRequest {
        tenant_id: contoso.id.clone(),
        email: "colleague@example.com".into(),
        first_name: String::new(),
        last_name: String::new(),
        azure_object_id: "6d1c6a4e-1d0a-4b55-8f39-1b1a7f2d3c06".into(),
        validate_only: false,
    };
    server
        .admin
        .create_user(as_actor(boss_id, colleague))
        .await
        .unwrap();
    assert_eq!(
        world::refused_audit_rows(&server.url).await,
        audit_before + 8,
        "every refusal is audited"
    );
    server.stop().await;
}

#[tokio::test]
async fn tagging_a_tenant_needs_the_tag_scope_permission() {
    let mut server = TestServer::start(Backend::Sqlite).await.unwrap();
    let msp = new_tenant(&mut server, "msp", None, true).await;
    let customer = new_tenant(&mut server, "customer", Some(&msp.id), false).await;
    let manager_id = "6d1c6a4e-1d0a-4b55-8f39-1b1a7f2d3c07";
    let manager = new_user(&mut server, &msp.id, manager_id).await;
    let tag = server
        .admin
        .create_tag(as_admin(pb::CreateTagRequest {
            name: "vip".into(),
            validate_only: false,
        }))
        .await
        .unwrap()
        .into_inner();
    let assign = |role: &pb::Role, scope| pb::CreateRoleAssignmentRequest {
        role_id: role.id.clone(),
        principal: Some(pb::Principal {
            kind: Some(pb::principal::Kind::UserId(manager.id.clone())),
        }),
        scope: Some(pb::Scope { kind: Some(scope) }),
        effect: pb::Effect::Allow as i32,
        validate_only: false,
    };
    let tenants = world::role(&mut server.admin, &["tenants.view", "tenants.manage"]).await;
    let msp_scope = pb::scope::Kind::MspTenantId(msp.id.clone());
    server
        .admin
        .create_role_assignment(as_admin(assign(&tenants, msp_scope)))
        .await
        .unwrap();

    let tagging = || pb::AddTenantTagRequest {
        tenant_id: customer.id.clone(),
        tag_id: tag.id.clone(),
        validate_only: false,
    };
    // Managing the tenant is not enough: tagging moves every assignment of the tag onto it.
    assert_status(
        server
            .admin
            .add_tenant_tag(as_actor(manager_id, tagging()))
            .await,
        Code::PermissionDenied,
        "`rbac.assign-tag-scope`",
    );

    let tag_assigner = world::role(&mut server.admin, &["rbac.assign-tag-scope"]).await;
    let tag_scope = pb::scope::Kind::TenantTagId(tag.id.clone());
    server
        .admin
        .create_role_assignment(as_admin(assign(&tag_assigner, tag_scope)))
        .await
        .unwrap();
    // Tagging would now hand the manager its own tag assignment on the customer.
    assert_status(
        server
            .admin
            .add_tenant_tag(as_actor(manager_id, tagging()))
            .await,
        Code::PermissionDenied,
        "nobody raises their own access",
    );
    let msp_scope = pb::scope::Kind::MspTenantId(msp.id.clone());
    server
        .admin
        .create_role_assignment(as_admin(assign(&tag_assigner, msp_scope)))
        .await
        .unwrap();
    server
        .admin
        .add_tenant_tag(as_actor(manager_id, tagging()))
        .await
        .unwrap();
    server.stop().await;
}

/// A feed resumed after a revision nobody wrote would answer with that revision, and a
/// follower would take it as applied: FAILED_PRECONDITION, as CheckAccess answers.
#[tokio::test]
async fn the_feed_refuses_to_resume_after_an_unwritten_revision() {
    use pb::replication_service_client::ReplicationServiceClient;
    let server = TestServer::start(Backend::Sqlite).await.unwrap();
    let mut feed = ReplicationServiceClient::new(server.channel.clone());
    for after in [1 << 63, 1_000_000] {
        let answer = feed
            .watch_changes(pb::WatchChangesRequest {
                after_revision: Some(after),
            })
            .await;
        assert_status(
            answer.map(|_| ()),
            Code::FailedPrecondition,
            &format!("revision {after} has not been written"),
        );
    }
    // The newest revision is a place to resume from: the feed answers at it.
    let mut stream = feed
        .watch_changes(pb::WatchChangesRequest {
            after_revision: None,
        })
        .await
        .unwrap()
        .into_inner();
    let newest = stream.message().await.unwrap().unwrap().revision;
    let mut stream = feed
        .watch_changes(pb::WatchChangesRequest {
            after_revision: Some(newest),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(stream.message().await.unwrap().unwrap().revision, newest);
    server.stop().await;
}
