//! The six escalations a tenant administrator once got through, each as a regression on
//! SQLite and PostgreSQL. Each asserts what the attacker can do afterwards, by
//! CheckAccess, besides the refusal and its `google.rpc.ErrorInfo`.

use rbac_sidecar::api::pb::rbac::v1 as pb;
use rbac_sidecar::store::Store;
use tonic::Code;
use tonic_types::StatusExt;

use crate::support::world::{
    self, Admin, Authz, assignment_request, built_in, grant, group, owned_role,
};
use crate::support::{Backend, TestServer, as_actor, on_both_backends};

use pb::Decision::{Allowed, Denied, NotGranted};
use pb::principal::Kind::{GroupId as ToGroup, UserId as ToUser};
use pb::scope::Kind as At;

const TA: &str = "7e4a0000-0000-4000-8000-0000000000a1";

/// An MSP with two customers, and TA: Administrator (Legacy) of the first.
struct Estate {
    server: TestServer,
    msp: pb::Tenant,
    c1: pb::Tenant,
    c2: pb::Tenant,
    ta: pb::User,
    /// TA's Administrator (Legacy) at Tenant(c1).
    ta_admin: pb::RoleAssignment,
}

async fn estate(backend: Backend) -> Option<Estate> {
    let mut server = TestServer::start(backend).await?;
    let admin = &mut server.admin;
    let msp = world::tenant(admin, "msp", None, true).await;
    let c1 = world::tenant(admin, "c1", Some(&msp.id), false).await;
    let c2 = world::tenant(admin, "c2", Some(&msp.id), false).await;
    let ta = world::user_with_object_id(admin, &c1.id, TA).await;
    let administrator = built_in("Administrator (Legacy)");
    let ta_admin = grant(
        admin,
        &administrator,
        ToUser(ta.id.clone()),
        At::TenantId(c1.id.clone()),
        pb::Effect::Allow,
    )
    .await;
    Some(Estate {
        server,
        msp,
        c1,
        c2,
        ta,
        ta_admin,
    })
}

fn ta<T>(message: T) -> tonic::Request<T> {
    as_actor(TA, message)
}

/// A refusal: PERMISSION_DENIED with an ErrorInfo of domain `rbac.v1` and this reason.
fn assert_refused<T: std::fmt::Debug>(result: Result<T, tonic::Status>, reason: &str) {
    let status = result.expect_err("the call must be refused");
    assert_eq!(
        status.code(),
        Code::PermissionDenied,
        "{}",
        status.message()
    );
    let info = status
        .get_details_error_info()
        .expect("a google.rpc.ErrorInfo detail");
    assert_eq!(info.domain, "rbac.v1");
    assert_eq!(info.reason, reason, "{}", status.message());
}

async fn decision(authz: &mut Authz, user: &str, permission: &str, tenant: &str) -> pb::Decision {
    world::check(authz, user, permission, tenant, 0)
        .await
        .expect("check")
}

fn role_update(role: &pb::Role, permissions: &[&str]) -> pb::UpdateRoleRequest {
    pb::UpdateRoleRequest {
        role_id: role.id.clone(),
        name: role.name.clone(),
        description: role.description.clone(),
        permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
        validate_only: false,
    }
}

/// 1. A tenant's role is assignable only inside its subtree; and a role edit is judged
///    against every assignment of the role, not only on its owner tenant.
async fn a_role_edit_does_not_widen_past_the_tenant(backend: Backend) {
    let Some(mut e) = estate(backend).await else {
        return;
    };
    let admin: &mut Admin = &mut e.server.admin.clone();
    let helpdesk = owned_role(admin, Some(&e.c1.id), &["computers.view"]).await;
    // The attack's first step, an MSP-wide assignment of C1's role, is refused outright.
    assert_refused(
        admin
            .create_role_assignment(crate::support::as_admin(assignment_request(
                &helpdesk.id,
                ToUser(e.ta.id.clone()),
                At::MspTenantId(e.msp.id.clone()),
                pb::Effect::Allow,
            )))
            .await,
        "OUTSIDE_ASSIGNABLE_SCOPE",
    );
    // Where a role may be assigned beyond what its editor holds, the edit is refused: a
    // role of the MSP, held by a user of C2, edited by someone managing roles on the MSP
    // tenant alone.
    let msp_role = owned_role(admin, Some(&e.msp.id), &["computers.view"]).await;
    let c2_user = world::user(admin, &e.c2.id).await;
    grant(
        admin,
        &msp_role.id,
        ToUser(c2_user.id.clone()),
        At::TenantId(e.c2.id.clone()),
        pb::Effect::Allow,
    )
    .await;
    let editor_role = owned_role(
        admin,
        None,
        &["rbac.roles.manage", "users.manage", "computers.manage"],
    )
    .await;
    grant(
        admin,
        &editor_role.id,
        ToUser(e.ta.id.clone()),
        At::TenantId(e.msp.id.clone()),
        pb::Effect::Allow,
    )
    .await;
    let mut a = e.server.admin.clone();
    assert_refused(
        a.update_role(ta(role_update(
            &msp_role,
            &["computers.view", "computers.manage"],
        )))
        .await,
        "MISSING_PERMISSION",
    );
    let authz = &mut e.server.authz;
    assert_eq!(
        decision(authz, &c2_user.id, "computers.manage", &e.c2.id).await,
        NotGranted
    );
    // And TA never gets to create users, or assign, in the sibling tenant.
    assert_eq!(
        decision(authz, &e.ta.id, "users.manage", &e.c2.id).await,
        NotGranted
    );
    assert_refused(
        a.create_role_assignment(ta(assignment_request(
            &built_in("Administrator (Legacy)"),
            ToUser(e.ta.id.clone()),
            At::TenantId(e.msp.id.clone()),
            pb::Effect::Allow,
        )))
        .await,
        "MISSING_PERMISSION",
    );
    e.server.stop().await;
}

/// 2. Adding a system permission to an assigned role needs the cross-tenant permission.
async fn a_role_edit_cannot_hand_out_a_system_permission(backend: Backend) {
    let Some(mut e) = estate(backend).await else {
        return;
    };
    let admin: &mut Admin = &mut e.server.admin.clone();
    let billing = owned_role(admin, None, &["billing.view"]).await;
    let at_owner = grant(
        admin,
        &billing.id,
        ToUser(e.ta.id.clone()),
        At::Owner(()),
        pb::Effect::Allow,
    )
    .await;
    assert!(at_owner.warnings.is_empty(), "{:?}", at_owner.warnings);
    // Below Owner scope, a system permission is not limited by the scope: the answer says so.
    let at_c1 = grant(
        admin,
        &billing.id,
        ToUser(e.ta.id.clone()),
        At::TenantId(e.c1.id.clone()),
        pb::Effect::Allow,
    )
    .await;
    assert!(
        at_c1.warnings.len() == 1 && at_c1.warnings[0].contains("billing.view"),
        "{:?}",
        at_c1.warnings
    );
    let viewer = owned_role(admin, Some(&e.c1.id), &["computers.view"]).await;
    let user = world::user(admin, &e.c1.id).await;
    let mut a = e.server.admin.clone();
    a.create_role_assignment(ta(assignment_request(
        &viewer.id,
        ToUser(user.id.clone()),
        At::TenantId(e.c1.id.clone()),
        pb::Effect::Allow,
    )))
    .await
    .unwrap();
    // What TA holds on C1 it may put into C1's role: it is judged at the role's tenant.
    a.update_role(ta(role_update(
        &viewer,
        &["computers.view", "computers.manage"],
    )))
    .await
    .expect("a permission held on the role's tenant");
    assert_eq!(
        decision(&mut e.server.authz, &user.id, "computers.manage", &e.c1.id).await,
        Allowed
    );
    // A system permission is judged at Owner scope, even in a tenant's role.
    let refused = a
        .update_role(ta(role_update(&viewer, &["computers.view", "audit.view"])))
        .await
        .expect_err("TA does not hold audit.view");
    let info = refused.get_details_error_info().expect("ErrorInfo");
    assert_eq!(
        (
            info.reason.as_str(),
            info.metadata.get("scope").map(String::as_str)
        ),
        ("SYSTEM_PERMISSION", Some("Owner scope")),
        "{}",
        refused.message()
    );
    assert_refused(
        a.update_role(ta(role_update(
            &viewer,
            &["computers.view", "billing.view"],
        )))
        .await,
        "SYSTEM_PERMISSION",
    );
    let response = e
        .server
        .authz
        .check_access(pb::CheckAccessRequest {
            subject: Some(pb::check_access_request::Subject::UserId(user.id.clone())),
            permission: "billing.view".into(),
            target: None,
            explain: false,
            min_revision: 0,
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(response.decision, NotGranted as i32);
    e.server.stop().await;
}

/// 3. A deny on the administrator, direct, at User's Tenant or through a group, stays.
async fn a_restricted_administrator_cannot_lift_its_deny(backend: Backend) {
    let Some(mut e) = estate(backend).await else {
        return;
    };
    let admin: &mut Admin = &mut e.server.admin.clone();
    let computers = owned_role(admin, None, &["computers.view"]).await;
    let direct = grant(
        admin,
        &computers.id,
        ToUser(e.ta.id.clone()),
        At::TenantId(e.c1.id.clone()),
        pb::Effect::Deny,
    )
    .await;
    let at_home = grant(
        admin,
        &computers.id,
        ToUser(e.ta.id.clone()),
        At::UsersTenant(()),
        pb::Effect::Deny,
    )
    .await;
    let restricted = group(admin, "restricted", Some(&e.c1.id)).await;
    grant(
        admin,
        &computers.id,
        ToGroup(restricted.id.clone()),
        At::TenantId(e.c1.id.clone()),
        pb::Effect::Deny,
    )
    .await;
    admin
        .add_group_member(crate::support::as_admin(pb::AddGroupMemberRequest {
            group_id: restricted.id.clone(),
            user_id: e.ta.id.clone(),
            validate_only: false,
        }))
        .await
        .unwrap();
    let mut a = e.server.admin.clone();
    for id in [&direct.id, &at_home.id] {
        assert_refused(
            a.delete_role_assignment(ta(pb::DeleteRoleAssignmentRequest {
                assignment_id: id.clone(),
                validate_only: false,
            }))
            .await,
            "SELF_ELEVATION",
        );
    }
    assert_refused(
        a.remove_group_member(ta(pb::RemoveGroupMemberRequest {
            group_id: restricted.id.clone(),
            user_id: e.ta.id.clone(),
            validate_only: false,
        }))
        .await,
        "SELF_ELEVATION",
    );
    assert_eq!(
        decision(&mut e.server.authz, &e.ta.id, "computers.view", &e.c1.id).await,
        Denied
    );
    e.server.stop().await;
}

/// 4. A rename carrying an old permission list does not undo a removal committed first:
///    the role is read inside the write, so the stale list is an addition, judged so.
async fn a_stale_role_update_does_not_restore_a_removed_permission(backend: Backend) {
    let Some(mut e) = estate(backend).await else {
        return;
    };
    let admin: &mut Admin = &mut e.server.admin.clone();
    let old = ["computers.view", "computers.run-bulk-scripts"];
    let tools = owned_role(admin, Some(&e.c1.id), &old).await;
    grant(
        admin,
        &tools.id,
        ToUser(e.ta.id.clone()),
        At::TenantId(e.c1.id.clone()),
        pb::Effect::Allow,
    )
    .await;
    // TA reads the role (old list); the MSP admin removes the permission; TA renames.
    admin
        .update_role(crate::support::as_admin(role_update(
            &tools,
            &["computers.view"],
        )))
        .await
        .unwrap();
    let mut a = e.server.admin.clone();
    let mut rename = role_update(&tools, &old);
    rename.name = "renamed".into();
    assert_refused(a.update_role(ta(rename)).await, "MISSING_PERMISSION");
    assert_eq!(
        decision(
            &mut e.server.authz,
            &e.ta.id,
            "computers.run-bulk-scripts",
            &e.c1.id
        )
        .await,
        NotGranted
    );
    e.server.stop().await;
}

/// 5. TA cannot hand out System User (Legacy), to itself or to a colleague: it holds
///    permissions TA does not.
async fn a_tenant_administrator_grants_only_what_it_holds(backend: Backend) {
    let Some(mut e) = estate(backend).await else {
        return;
    };
    let admin: &mut Admin = &mut e.server.admin.clone();
    let colleague = world::user(admin, &e.c1.id).await;
    let mut a = e.server.admin.clone();
    for (who, reason) in [
        (&e.ta.id, "SELF_ELEVATION"),
        (&colleague.id, "MISSING_PERMISSION"),
    ] {
        assert_refused(
            a.create_role_assignment(ta(assignment_request(
                &built_in("System User (Legacy)"),
                ToUser(who.clone()),
                At::TenantId(e.c1.id.clone()),
                pb::Effect::Allow,
            )))
            .await,
            reason,
        );
    }
    let authz = &mut e.server.authz;
    for who in [&e.ta.id, &colleague.id] {
        assert_eq!(
            decision(authz, who, "computers.run-bulk-scripts", &e.c1.id).await,
            NotGranted
        );
    }
    // What TA holds, TA may hand on.
    let viewer = built_in("User (Legacy)");
    a.create_role_assignment(ta(assignment_request(
        &viewer,
        ToUser(colleague.id.clone()),
        At::TenantId(e.c1.id.clone()),
        pb::Effect::Allow,
    )))
    .await
    .unwrap();
    e.server.stop().await;
}

/// 6. Two actor headers naming different users: INVALID_ARGUMENT, and nothing runs.
async fn a_call_has_one_actor(backend: Backend) {
    let Some(e) = estate(backend).await else {
        return;
    };
    let admin: &mut Admin = &mut e.server.admin.clone();
    let other = world::user(admin, &e.c2.id).await;
    let mut request = crate::support::as_admin(pb::CreateUserRequest {
        tenant_id: e.c2.id.clone(),
        email: "two@example.com".into(),
        first_name: String::new(),
        last_name: String::new(),
        azure_object_id: uuid::Uuid::new_v4().to_string(),
        validate_only: false,
    });
    request
        .metadata_mut()
        .insert("x-actor-user-id", other.id.parse().unwrap());
    let status = admin.create_user(request).await.expect_err("two actors");
    assert_eq!(status.code(), Code::InvalidArgument, "{}", status.message());
    // The same user named twice is one actor.
    let mut request = ta(pb::GetUserRequest {
        user_id: e.ta.id.clone(),
    });
    request
        .metadata_mut()
        .insert("x-actor-user-id", e.ta.id.parse().unwrap());
    admin.get_user(request).await.unwrap();
    e.server.stop().await;
}

/// Making an inactive user active again hands back everything they hold: enabling them,
/// or moving their expiry later, is judged as a grant of all of it.
async fn reviving_a_user_hands_back_only_what_the_actor_holds(backend: Backend) {
    let Some(mut e) = estate(backend).await else {
        return;
    };
    let admin: &mut Admin = &mut e.server.admin.clone();
    let tools = owned_role(admin, Some(&e.c1.id), &["computers.run-bulk-scripts"]).await;
    let (disabled, expired) = (
        world::user(admin, &e.c1.id).await,
        world::user(admin, &e.c1.id).await,
    );
    for user in [&disabled, &expired] {
        grant(
            admin,
            &tools.id,
            ToUser(user.id.clone()),
            At::TenantId(e.c1.id.clone()),
            pb::Effect::Allow,
        )
        .await;
    }
    admin
        .set_user_disabled(crate::support::as_admin(pb::SetUserDisabledRequest {
            user_id: disabled.id.clone(),
            disabled: true,
            validate_only: false,
        }))
        .await
        .unwrap();
    let expiry = |at: i64| pb::UpdateUserRequest {
        user_id: expired.id.clone(),
        email: expired.email.clone(),
        first_name: String::new(),
        last_name: String::new(),
        expires_at_unix: at,
        validate_only: false,
    };
    admin
        .update_user(crate::support::as_admin(expiry(1)))
        .await
        .unwrap();
    let mut a = e.server.admin.clone();
    assert_refused(
        a.set_user_disabled(ta(pb::SetUserDisabledRequest {
            user_id: disabled.id.clone(),
            disabled: false,
            validate_only: false,
        }))
        .await,
        "MISSING_PERMISSION",
    );
    assert_refused(a.update_user(ta(expiry(0))).await, "MISSING_PERMISSION");
    let authz = &mut e.server.authz;
    for user in [&disabled, &expired] {
        assert_eq!(
            decision(authz, &user.id, "computers.run-bulk-scripts", &e.c1.id).await,
            pb::Decision::UserInactive
        );
    }
    // Disabling is a restriction: TA may.
    a.set_user_disabled(ta(pb::SetUserDisabledRequest {
        user_id: expired.id.clone(),
        disabled: true,
        validate_only: false,
    }))
    .await
    .unwrap();
    e.server.stop().await;
}

/// Races: a revoke committed while TA's write waits for the write lock, by this replica's
/// own store (`same_replica`) or by another connection to the database. TA's write is
/// judged after the lock, on the revoke: it is refused, and TA ends with nothing.
async fn a_write_never_commits_on_rights_a_committed_revoke_removed(
    backend: Backend,
    same_replica: bool,
) {
    let Some(mut e) = estate(backend).await else {
        return;
    };
    let admin: &mut Admin = &mut e.server.admin.clone();
    let revoked = e.ta_admin.clone();
    let colleague = world::user(admin, &e.c1.id).await;
    let colleague_id = colleague.id.clone();
    // Warm TA into the replica's cache, as a busy replica would have it.
    assert_eq!(
        decision(&mut e.server.authz, &e.ta.id, "users.manage", &e.c1.id).await,
        Allowed
    );
    let store = if same_replica {
        e.server.store()
    } else {
        std::sync::Arc::new(Store::open(&e.server.url).await.unwrap())
    };
    let held = store.begin_write().await.unwrap();
    let mut a = e.server.admin.clone();
    let attempt = tokio::spawn(async move {
        a.create_role_assignment(ta(assignment_request(
            &built_in("User (Legacy)"),
            ToUser(colleague.id.clone()),
            At::TenantId(colleague.tenant_id.clone()),
            pb::Effect::Allow,
        )))
        .await
    });
    e.server
        .wait_for_a_blocked_writer(backend, same_replica)
        .await;
    // The revoke, committed while TA's write waits.
    let mut revoke = held;
    let assignment = rbac_sidecar::store::find(
        revoke.txn(),
        rbac_sidecar::model::AssignmentId::parse("id", &revoked.id).unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    revoke.delete_assignment(&assignment).await.unwrap();
    revoke
        .commit(crate::support::audit_of(
            rbac_sidecar::model::Action::DeleteRoleAssignment,
            &revoked.id,
        ))
        .await
        .unwrap();
    let status = attempt.await.unwrap().expect_err("judged on the revoke");
    assert_eq!(
        status.code(),
        Code::PermissionDenied,
        "{}",
        status.message()
    );
    let authz = &mut e.server.authz;
    assert_eq!(
        decision(authz, &e.ta.id, "users.manage", &e.c1.id).await,
        NotGranted
    );
    assert_eq!(
        decision(authz, &colleague_id, "computers.view", &e.c1.id).await,
        NotGranted,
        "the assignment TA asked for was not made"
    );
    e.server.stop().await;
}

on_both_backends!(
    a_role_edit_does_not_widen_past_the_tenant,
    a_role_edit_cannot_hand_out_a_system_permission,
    a_restricted_administrator_cannot_lift_its_deny,
    a_stale_role_update_does_not_restore_a_removed_permission,
    a_tenant_administrator_grants_only_what_it_holds,
    a_call_has_one_actor,
    reviving_a_user_hands_back_only_what_the_actor_holds,
    a_revoke_on_this_replica_is_seen_by_a_waiting_write,
    a_revoke_from_another_replica_is_seen_by_a_waiting_write,
);

async fn a_revoke_on_this_replica_is_seen_by_a_waiting_write(backend: Backend) {
    a_write_never_commits_on_rights_a_committed_revoke_removed(backend, true).await;
}

async fn a_revoke_from_another_replica_is_seen_by_a_waiting_write(backend: Backend) {
    a_write_never_commits_on_rights_a_committed_revoke_removed(backend, false).await;
}
