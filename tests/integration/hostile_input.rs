//! What an attacker sends: NUL bytes, megabytes of text, ids of a megabyte, and a flood
//! of access requests with no actor. Each gets INVALID_ARGUMENT or RESOURCE_EXHAUSTED with
//! a short message, on SQLite and on PostgreSQL, and nothing is written.

use rbac_sidecar::api::pb::rbac::v1 as pb;
use rbac_sidecar::model::{AccessRequest, AccessRequestId, AccessRequestStatus, TenantId};
use rbac_sidecar::store::Store;
use tonic::Code;

use crate::support::world::{self, assert_status};
use crate::support::{Backend, TestServer, as_admin, on_both_backends};

fn access_request(tenant: &str, email: &str, first_name: &str) -> pb::SubmitAccessRequestRequest {
    pb::SubmitAccessRequestRequest {
        tenant_id: tenant.into(),
        azure_object_id: uuid::Uuid::new_v4().to_string(),
        email: email.into(),
        first_name: first_name.into(),
        last_name: String::new(),
    }
}

async fn hostile_text_is_refused_with_a_short_message(backend: Backend) {
    let Some(mut server) = TestServer::start(backend).await else {
        return;
    };
    let admin = &mut server.admin;
    let tenant = world::tenant(admin, "t", None, true).await;
    let revision = world::status(&mut server.authz).await.latest_revision;
    let admin = &mut server.admin;

    let named = |name: &str| pb::CreateTenantRequest {
        name: name.into(),
        parent_tenant_id: None,
        is_msp: false,
    };
    assert_status(
        admin.create_tenant(as_admin(named("nul\0name"))).await,
        Code::InvalidArgument,
        "`name` must not contain NUL",
    );
    assert_status(
        admin.create_tenant(as_admin(named(&"n".repeat(201)))).await,
        Code::InvalidArgument,
        "`name` must be at most 200 characters",
    );
    let role = pb::CreateRoleRequest {
        name: "r".into(),
        description: "d".repeat(3_000_000),
        owner_tenant_id: None,
        permissions: vec![],
    };
    assert_status(
        admin.create_role(as_admin(role)).await,
        Code::InvalidArgument,
        "`description` must be at most 2000 characters",
    );
    // With no actor at all.
    assert_status(
        admin
            .submit_access_request(access_request(&tenant.id, "a\0@example.com", ""))
            .await,
        Code::InvalidArgument,
        "`email` must not contain NUL",
    );
    assert_status(
        admin
            .submit_access_request(access_request(&tenant.id, "a@example.com", "x\0"))
            .await,
        Code::InvalidArgument,
        "`first_name`",
    );
    let query = pb::ListUsersRequest {
        query: "q".repeat(1_000_000),
        ..Default::default()
    };
    assert_status(
        admin.list_users(as_admin(query)).await,
        Code::InvalidArgument,
        "`query` must be at most 200 characters",
    );
    // A megabyte id is named, not echoed.
    let status = admin
        .get_tenant(as_admin(pb::GetTenantRequest {
            tenant_id: "x".repeat(1_000_000),
        }))
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().len() < 300,
        "{} bytes",
        status.message().len()
    );
    let status = server
        .authz
        .check_access(pb::CheckAccessRequest {
            subject: Some(pb::check_access_request::Subject::UserId(tenant.id.clone())),
            permission: format!("{}\0", "p".repeat(100_000)),
            target: None,
            explain: false,
            min_revision: 0,
        })
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::InvalidArgument);
    assert!(
        status.message().len() < 300,
        "{} bytes",
        status.message().len()
    );
    assert_eq!(
        world::status(&mut server.authz).await.latest_revision,
        revision,
        "nothing was written"
    );
    server.stop().await;
}

async fn unauthenticated_access_requests_cannot_fill_the_disk(backend: Backend) {
    let Some(mut server) = TestServer::start(backend).await else {
        return;
    };
    let tenant = world::tenant(&mut server.admin, "t", None, false).await;
    let tenant_id = TenantId(tenant.id.parse().unwrap());
    // The bound's worth of pending requests, written in one transaction.
    let store = Store::open(&server.url).await.unwrap();
    let mut write = store.begin_write().await.unwrap();
    let bound = rbac_sidecar::admin::MAX_PENDING_ACCESS_REQUESTS;
    for _ in 0..bound {
        let request = AccessRequest {
            id: AccessRequestId::random(),
            tenant_id,
            azure_object_id: uuid::Uuid::new_v4(),
            email: "flood@example.com".into(),
            first_name: String::new(),
            last_name: String::new(),
            status: AccessRequestStatus::Pending,
            requested_at: 0,
            decided_by: None,
        };
        write.save_access_request(&request).await.unwrap();
    }
    write
        .commit(crate::support::audit_of(
            rbac_sidecar::model::Action::SubmitAccessRequest,
            "flood",
        ))
        .await
        .unwrap();
    assert_status(
        server
            .admin
            .submit_access_request(access_request(&tenant.id, "one@example.com", ""))
            .await,
        Code::ResourceExhausted,
        "access requests already wait for a decision",
    );
    server.stop().await;
}

/// A tree deeper than the documented limit is refused, by a create or by a move.
async fn the_tenant_tree_has_a_depth_limit(backend: Backend) {
    let Some(mut server) = TestServer::start(backend).await else {
        return;
    };
    let admin = &mut server.admin;
    let limit = rbac_sidecar::engine::MAX_TENANT_DEPTH;
    let root = world::tenant(admin, "root", None, true).await;
    let mut chain = vec![root.clone()];
    for depth in 1..=limit {
        let parent = chain.last().unwrap().id.clone();
        chain.push(world::tenant(admin, &format!("d{depth}"), Some(&parent), true).await);
    }
    let deepest = chain.last().unwrap().id.clone();
    let below = pb::CreateTenantRequest {
        name: "too deep".into(),
        parent_tenant_id: Some(deepest.clone()),
        is_msp: false,
    };
    assert_status(
        admin.create_tenant(as_admin(below)).await,
        Code::FailedPrecondition,
        &format!("at most {limit} levels"),
    );
    // A two-level subtree moved under the second-deepest tenant would pass the limit too.
    let other = world::tenant(admin, "other", None, true).await;
    world::tenant(admin, "child", Some(&other.id), false).await;
    let under = chain[limit - 1].id.clone();
    assert_status(
        admin
            .update_tenant(as_admin(pb::UpdateTenantRequest {
                tenant_id: other.id.clone(),
                name: String::new(),
                parent_tenant_id: Some(under),
            }))
            .await,
        Code::FailedPrecondition,
        "would reach depth",
    );
    server.stop().await;
}

on_both_backends!(
    the_tenant_tree_has_a_depth_limit,
    hostile_text_is_refused_with_a_short_message,
    unauthenticated_access_requests_cannot_fill_the_disk,
);
