//! Who is asking, tried as an attacker would (issue "a proven actor"): impersonation that
//! tries to escalate, impersonated writes racing the revoke of each impersonation right, a
//! temporary administrator making itself permanent, Check Access beyond what one may see,
//! and access requests that outlive their tenant. Each asserts what the attacker can do
//! afterwards, by CheckAccess or by reading back, on SQLite and PostgreSQL.

use rbac_sidecar::api::pb::rbac::v1 as pb;
use tonic::Code;
use tonic_types::StatusExt;

use crate::support::world::{
    self, Admin, assert_status, assignment_request, built_in, grant, impersonating, owned_role,
};
use crate::support::{Backend, TestServer, as_actor, as_admin, on_both_backends};

use pb::Decision::NotGranted;
use pb::principal::Kind::UserId as ToUser;
use pb::scope::Kind as At;

const IMPERSONATOR: &str = "1a1a0000-0000-4000-8000-0000000000c1";
const TENANT_ADMIN: &str = "1a1a0000-0000-4000-8000-0000000000c2";

/// An MSP with a customer T1 and another MSP's customer; T1's administrator (Administrator
/// (Legacy) at User's Tenant) and a helpdesk user of T1 who holds only
/// `users.impersonate` (and `users.view`) there; impersonation on.
struct Estate {
    server: TestServer,
    t1: pb::Tenant,
    elsewhere: pb::Tenant,
    impersonator: pb::User,
    tenant_admin: pb::User,
    impersonate_grant: pb::RoleAssignment,
}

async fn estate(backend: Backend) -> Option<Estate> {
    let mut server = TestServer::start(backend).await?;
    let admin = &mut server.admin;
    let msp = world::tenant(admin, "msp", None, true).await;
    let t1 = world::tenant(admin, "t1", Some(&msp.id), false).await;
    let other_msp = world::tenant(admin, "other msp", None, true).await;
    let elsewhere = world::tenant(admin, "elsewhere", Some(&other_msp.id), false).await;
    let impersonator = world::user_with_object_id(admin, &t1.id, IMPERSONATOR).await;
    let tenant_admin = world::user_with_object_id(admin, &t1.id, TENANT_ADMIN).await;
    grant(
        admin,
        &built_in("Administrator (Legacy)"),
        ToUser(tenant_admin.id.clone()),
        At::UsersTenant(()),
        pb::Effect::Allow,
    )
    .await;
    let helpdesk = owned_role(admin, None, &["users.view", "users.impersonate"]).await;
    let impersonate_grant = grant(
        admin,
        &helpdesk.id,
        ToUser(impersonator.id.clone()),
        At::TenantId(t1.id.clone()),
        pb::Effect::Allow,
    )
    .await;
    set_impersonation(admin, true).await;
    Some(Estate {
        server,
        t1,
        elsewhere,
        impersonator,
        tenant_admin,
        impersonate_grant,
    })
}

async fn set_impersonation(admin: &mut Admin, on: bool) -> u64 {
    admin
        .update_preferences(as_admin(pb::UpdatePreferencesRequest {
            impersonation_enabled: on,
            validate_only: false,
        }))
        .await
        .unwrap()
        .into_inner()
        .revision
}

fn assert_refused<T: std::fmt::Debug>(result: Result<T, tonic::Status>, reason: &str) {
    let status = result.expect_err("the call must be refused");
    assert_eq!(
        status.code(),
        Code::PermissionDenied,
        "{}",
        status.message()
    );
    let info = status.get_details_error_info().expect("an ErrorInfo");
    assert_eq!(info.reason, reason, "{}", status.message());
}

/// The escalation: a helpdesk user impersonates its tenant's administrator and, as them,
/// assigns itself Administrator (Legacy). Impersonation is now bounded by containment, so
/// it does not start, and no impersonated write hands the impersonator anything.
async fn impersonation_never_escalates(backend: Backend) {
    let Some(mut e) = estate(backend).await else {
        return;
    };
    let mut admin = e.server.admin.clone();
    assert_refused(
        admin
            .start_impersonation(as_actor(
                IMPERSONATOR,
                pb::StartImpersonationRequest {
                    user_id: e.tenant_admin.id.clone(),
                    validate_only: false,
                },
            ))
            .await,
        "MISSING_PERMISSION",
    );
    let escalate = assignment_request(
        &built_in("Administrator (Legacy)"),
        ToUser(e.impersonator.id.clone()),
        At::UsersTenant(()),
        pb::Effect::Allow,
    );
    let refused = admin
        .create_role_assignment(impersonating(IMPERSONATOR, &e.tenant_admin.id, escalate))
        .await;
    assert_eq!(refused.unwrap_err().code(), Code::PermissionDenied);
    set_impersonation(&mut admin, false).await;
    let now = world::check(
        &mut e.server.authz,
        &e.impersonator.id,
        "computers.manage",
        &e.t1.id,
        0,
    )
    .await
    .unwrap();
    assert_eq!(now, NotGranted, "the impersonator holds nothing new");
    e.server.stop().await;
}

/// Eight clients write under impersonation while the impersonation right is revoked (the
/// preference turned off, or `users.impersonate` removed): no write commits after the
/// revoke did. The helpdesk user impersonates a plain user of T1 it may act as.
async fn impersonated_writes_do_not_outlive_the_revoke(backend: Backend) {
    for revoke_permission in [false, true] {
        let Some(e) = estate(backend).await else {
            return;
        };
        let mut admin = e.server.admin.clone();
        // The target may create groups of T1; the impersonator holds that too, so the
        // impersonation is contained.
        let groups = owned_role(&mut admin, None, &["rbac.groups.manage"]).await;
        let target = world::user(&mut admin, &e.t1.id).await;
        for user in [&target, &e.impersonator] {
            grant(
                &mut admin,
                &groups.id,
                ToUser(user.id.clone()),
                At::TenantId(e.t1.id.clone()),
                pb::Effect::Allow,
            )
            .await;
        }
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let mut writers = Vec::new();
        for writer in 0..8 {
            let (mut client, stop) = (e.server.admin.clone(), std::sync::Arc::clone(&stop));
            let (target, tenant) = (target.id.clone(), e.t1.id.clone());
            writers.push(tokio::spawn(async move {
                let mut committed = Vec::new();
                let mut n = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    n += 1;
                    let request = pb::CreateGroupRequest {
                        name: format!("g{writer}-{n}"),
                        description: String::new(),
                        owner_tenant_id: Some(tenant.clone()),
                        validate_only: false,
                    };
                    match client
                        .create_group(impersonating(IMPERSONATOR, &target, request))
                        .await
                    {
                        Ok(group) => committed.push(group.into_inner().revision),
                        Err(status) => assert_eq!(status.code(), Code::PermissionDenied),
                    }
                }
                committed
            }));
        }
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let revoked_at = if revoke_permission {
            admin
                .delete_role_assignment(as_admin(pb::DeleteRoleAssignmentRequest {
                    assignment_id: e.impersonate_grant.id.clone(),
                    validate_only: false,
                }))
                .await
                .unwrap()
                .into_inner()
                .revision
        } else {
            set_impersonation(&mut admin, false).await
        };
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let mut before = 0;
        for writer in writers {
            for revision in writer.await.unwrap() {
                assert!(
                    revision < revoked_at,
                    "an impersonated write committed at {revision}, after the revoke at {revoked_at}"
                );
                before += 1;
            }
        }
        assert!(before > 0, "the writers never got in before the revoke");
        e.server.stop().await;
    }
}

/// A temporary administrator (an hour left) cannot make itself permanent or extend its own
/// expiry; it may shorten it. Another administrator may extend it.
async fn a_temporary_administrator_stays_temporary(backend: Backend) {
    let Some(e) = estate(backend).await else {
        return;
    };
    let mut admin = e.server.admin.clone();
    let in_an_hour = crate::support::tokens::now() + 3600;
    let update = |expires_at_unix: i64| pb::UpdateUserRequest {
        user_id: e.tenant_admin.id.clone(),
        email: e.tenant_admin.email.clone(),
        first_name: String::new(),
        last_name: String::new(),
        expires_at_unix,
        validate_only: false,
    };
    admin
        .update_user(as_admin(update(in_an_hour)))
        .await
        .unwrap();
    for later in [0, in_an_hour + 10 * 365 * 86_400, in_an_hour + 1] {
        assert_refused(
            admin
                .update_user(as_actor(TENANT_ADMIN, update(later)))
                .await,
            "SELF_ELEVATION",
        );
    }
    let read = |admin: &mut Admin| {
        let mut admin = admin.clone();
        let id = e.tenant_admin.id.clone();
        async move {
            admin
                .get_user(as_admin(pb::GetUserRequest { user_id: id }))
                .await
                .unwrap()
                .into_inner()
                .expires_at_unix
        }
    };
    assert_eq!(read(&mut admin).await, in_an_hour);
    admin
        .update_user(as_actor(TENANT_ADMIN, update(in_an_hour - 60)))
        .await
        .unwrap();
    assert_eq!(read(&mut admin).await, in_an_hour - 60);
    e.server.stop().await;
}

/// Check Access explains decisions only where the actor may see the target: a tenant of
/// another MSP is refused, and so is one that does not exist (a refusal does not tell
/// which ids exist); the actor's own tenant is answered.
async fn check_access_stays_within_what_one_may_see(backend: Backend) {
    let Some(e) = estate(backend).await else {
        return;
    };
    let mut admin = e.server.admin.clone();
    let at = |tenant: &str| pb::CheckUserAccessRequest {
        user_id: e.impersonator.id.clone(),
        target: Some(pb::Target {
            kind: Some(pb::target::Kind::TenantId(tenant.into())),
        }),
    };
    let ta = |message| as_actor(TENANT_ADMIN, message);
    let own = admin.check_user_access(ta(at(&e.t1.id))).await.unwrap();
    assert!(!own.into_inner().permissions.is_empty());
    let far = admin.check_user_access(ta(at(&e.elsewhere.id))).await;
    assert_status(far, Code::PermissionDenied, "`tenants.view`");
    let none = admin
        .check_user_access(ta(at(&uuid::Uuid::new_v4().to_string())))
        .await;
    assert_status(none, Code::PermissionDenied, "`tenants.view`");
    e.server.stop().await;
}

/// A rejected access request no longer keeps its tenant alive: the tenant is deleted with
/// its requests, and the audit row says so.
async fn a_tenant_goes_with_its_access_requests(backend: Backend) {
    let Some(e) = estate(backend).await else {
        return;
    };
    let mut admin = e.server.admin.clone();
    let lonely = world::tenant(&mut admin, "lonely", None, false).await;
    let request = admin
        .submit_access_request(pb::SubmitAccessRequestRequest {
            tenant_id: lonely.id.clone(),
            azure_object_id: uuid::Uuid::new_v4().to_string(),
            email: "asker@example.com".into(),
            first_name: String::new(),
            last_name: String::new(),
            validate_only: false,
        })
        .await
        .unwrap()
        .into_inner();
    admin
        .reject_access_request(as_admin(pb::RejectAccessRequestRequest {
            access_request_id: request.id,
            validate_only: false,
        }))
        .await
        .unwrap();
    admin
        .delete_tenant(as_admin(pb::DeleteTenantRequest {
            tenant_id: lonely.id.clone(),
            validate_only: false,
        }))
        .await
        .unwrap();
    let event = world::newest_event(&mut admin, "DeleteTenant", "").await;
    assert!(event.after.contains("1 access requests"), "{event:?}");
    e.server.stop().await;
}

on_both_backends!(
    impersonation_never_escalates,
    impersonated_writes_do_not_outlive_the_revoke,
    a_temporary_administrator_stays_temporary,
    check_access_stays_within_what_one_may_see,
    a_tenant_goes_with_its_access_requests,
);
