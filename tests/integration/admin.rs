//! Admin-plane use-cases beyond the core: role diagnostics and the audit log.

use rbac_sidecar::api::pb::rbac::v1 as pb;
use tonic::Code;

use crate::support::{Backend, TestServer, as_actor, as_admin, world};

fn role_request(permissions: &[&str]) -> pb::CreateRoleRequest {
    pb::CreateRoleRequest {
        name: "sessions".into(),
        description: String::new(),
        owner_tenant_id: None,
        permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
        validate_only: false,
    }
}

#[tokio::test]
async fn role_diagnostics_warn_about_what_permissions_need_in_practice() {
    let mut server = TestServer::start(Backend::Sqlite).await.unwrap();
    let lacking = server
        .admin
        .create_role(as_admin(role_request(&["sessions.manage"])))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        lacking.warnings,
        [
            "`sessions.manage` usually needs `sessions.view`, `computers.view`, `tenants.view`, which the role lacks"
        ]
    );
    let complete = [
        "sessions.manage",
        "sessions.view",
        "computers.view",
        "tenants.view",
    ];
    let update = pb::UpdateRoleRequest {
        role_id: lacking.id.clone(),
        name: "sessions".into(),
        description: String::new(),
        permissions: complete.iter().map(|p| (*p).to_owned()).collect(),
        validate_only: false,
    };
    let updated = server
        .admin
        .update_role(as_admin(update))
        .await
        .unwrap()
        .into_inner();
    assert!(updated.warnings.is_empty(), "{:?}", updated.warnings);
    server.stop().await;
}

fn audit_request(
    action: &str,
    outcome: &str,
    page_size: u32,
    page_token: String,
) -> pb::ListAuditEventsRequest {
    pb::ListAuditEventsRequest {
        action: action.into(),
        outcome: outcome.into(),
        page_size,
        page_token,
        ..Default::default()
    }
}

#[tokio::test]
async fn the_audit_log_lists_writes_and_refusals_newest_first_in_pages_on_sqlite() {
    audit_log_in_pages(Backend::Sqlite).await;
}

#[tokio::test]
async fn the_audit_log_lists_writes_and_refusals_newest_first_in_pages_on_postgres() {
    audit_log_in_pages(Backend::Postgres).await;
}

async fn audit_log_in_pages(backend: Backend) {
    let Some(mut server) = TestServer::start(backend).await else {
        return;
    };
    for name in ["a", "b", "c"] {
        server
            .admin
            .create_tag(as_admin(pb::CreateTagRequest {
                name: name.into(),
                validate_only: false,
            }))
            .await
            .unwrap();
    }
    let msp = world::tenant(&mut server.admin, "msp", None, true).await;
    let clerk_id = "6d1c6a4e-1d0a-4b55-8f39-1b1a7f2d3c09";
    let clerk = world::user_with_object_id(&mut server.admin, &msp.id, clerk_id).await;
    let refused = server
        .admin
        .create_tag(as_actor(
            clerk_id,
            pb::CreateTagRequest {
                name: "d".into(),
                validate_only: false,
            },
        ))
        .await;
    assert_eq!(refused.unwrap_err().code(), Code::PermissionDenied);

    // Newest first, two to a page, filtered by action and outcome.
    let first = server
        .admin
        .list_audit_events(as_admin(audit_request(
            "CreateTag",
            "succeeded",
            2,
            String::new(),
        )))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<&str> = first.events.iter().map(|e| e.after.as_str()).collect();
    assert_eq!(names, ["c", "b"]);
    assert!(!first.next_page_token.is_empty());
    let second = server
        .admin
        .list_audit_events(as_admin(audit_request(
            "CreateTag",
            "succeeded",
            2,
            first.next_page_token,
        )))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<&str> = second.events.iter().map(|e| e.after.as_str()).collect();
    assert_eq!(names, ["a"]);
    assert!(
        second.next_page_token.is_empty(),
        "the last page hands out no token"
    );

    // The refusal is there, with who and why.
    let refusals = server
        .admin
        .list_audit_events(as_admin(audit_request("", "refused", 0, String::new())))
        .await
        .unwrap()
        .into_inner();
    let refusal = refusals
        .events
        .iter()
        .find(|e| e.action == "CreateTag")
        .expect("refused CreateTag audited");
    assert_eq!(refusal.actor_user_id, clerk.id);
    assert!(
        refusal.detail.contains("`tags.manage`"),
        "{}",
        refusal.detail
    );

    // Reading the log needs `audit.view`; trying without it is itself audited.
    let denied = server
        .admin
        .list_audit_events(as_actor(clerk_id, audit_request("", "", 0, String::new())))
        .await;
    assert_eq!(denied.unwrap_err().code(), Code::PermissionDenied);
    let refusals = server
        .admin
        .list_audit_events(as_admin(audit_request(
            "ListAuditEvents",
            "refused",
            0,
            String::new(),
        )))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(refusals.events.len(), 1);

    let bad = server
        .admin
        .list_audit_events(as_admin(audit_request("", "", 0, "yesterday".into())))
        .await;
    assert_eq!(bad.unwrap_err().code(), Code::InvalidArgument);
    // Whitespace around a filter is ignored, as a form field's would be.
    let padded = server
        .admin
        .list_audit_events(as_admin(audit_request(
            " CreateTag ",
            "succeeded\n",
            0,
            String::new(),
        )))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(padded.events.len(), 3);
    // A filter naming no audited action or outcome is a mistake, not an empty page.
    for (action, outcome) in [("CreateTags", ""), ("", "denied")] {
        let bad = server
            .admin
            .list_audit_events(as_admin(audit_request(action, outcome, 0, String::new())))
            .await
            .unwrap_err();
        assert_eq!(bad.code(), Code::InvalidArgument, "{}", bad.message());
        assert!(bad.message().contains("is not"), "{}", bad.message());
    }
    server.stop().await;
}
