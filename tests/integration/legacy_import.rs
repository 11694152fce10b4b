//! `rbac-sidecar import-legacy FILE`: the migration table of DESIGN.md, a dry run that
//! writes nothing, idempotence, and users it cannot map reported with nothing
//! half-imported. Runs the real binary against a running server's database.

use std::process::{Command, Output};

use rbac_sidecar::api::pb::rbac::v1 as pb;
use serde_json::json;

use crate::support::world::{self, Admin};
use crate::support::{Backend, TestServer, as_admin};

fn import(url: &str, file: &serde_json::Value, flags: &[&str]) -> Output {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("legacy.json");
    std::fs::write(&path, file.to_string()).unwrap();
    Command::new(env!("CARGO_BIN_EXE_rbac-sidecar"))
        .arg("import-legacy")
        .arg(&path)
        .args(["--database-url", url])
        .args(flags)
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Role names and scopes of a user's direct assignments, sorted.
async fn roles_of(admin: &mut Admin, object_id: &str) -> Vec<(String, String)> {
    let users = admin
        .list_users(as_admin(pb::ListUsersRequest {
            query: object_id.into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .users;
    let Some(user) = users.first() else {
        return Vec::new();
    };
    let request = pb::ListRoleAssignmentsRequest {
        principal: Some(pb::Principal {
            kind: Some(pb::principal::Kind::UserId(user.id.clone())),
        }),
        direct_only: true,
        ..Default::default()
    };
    let mut roles: Vec<(String, String)> = admin
        .list_role_assignments(as_admin(request))
        .await
        .unwrap()
        .into_inner()
        .role_assignments
        .into_iter()
        .map(|a| {
            let scope = match a.scope.unwrap().kind.unwrap() {
                pb::scope::Kind::Owner(()) => "owner",
                pb::scope::Kind::UsersTenant(()) => "users_tenant",
                other => panic!("unexpected scope {other:?}"),
            };
            (a.role_name, scope.to_owned())
        })
        .collect();
    roles.sort();
    roles
}

fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = expected
        .iter()
        .map(|(r, s)| ((*r).to_owned(), (*s).to_owned()))
        .collect();
    pairs.sort();
    pairs
}

#[tokio::test]
async fn legacy_users_become_built_in_role_assignments() {
    let mut server = TestServer::start(Backend::Sqlite).await.unwrap();
    let admin: &mut Admin = &mut server.admin.clone();
    let msp = world::tenant(admin, "msp", None, true).await;
    let acme = world::tenant(admin, "acme", Some(&msp.id), false).await;
    let existing = world::user(admin, &acme.id).await;
    let user = |oid: &str, tenant: &str, kind: &str, cross_tenant: bool| {
        json!({
            "azure_object_id": oid,
            "tenant_id": tenant,
            "email": format!("{oid}@example.com"),
            "user_type": kind,
            "can_manage_cross_tenant_deployments": cross_tenant,
        })
    };
    let msp_admin = "1e9ac100-0000-4000-8000-000000000001";
    let msp_user = "1e9ac100-0000-4000-8000-000000000002";
    let tenant_admin = "1e9ac100-0000-4000-8000-000000000003";
    let mut file = json!({
        "preferences": {
            "allow_non_admins_and_non_msp_users_to_use_terminal_and_edit_scripts": true,
            "allow_non_admin_users_to_manage_deployments": true,
            "require_change_requests_for_non_admin_cross_tenant_deployments": true,
            "impersonation_enabled": true,
        },
        "users": [
            user(msp_admin, &msp.id, "msp_admin", false),
            user(msp_user, &msp.id, "msp_user", false),
            user(tenant_admin, &acme.id, "tenant_admin", true),
            user(&existing.azure_object_id, &acme.id, "tenant_user", false),
            user("1e9ac100-0000-4000-8000-000000000005", &acme.id, "msp_admin", false),
            user("not-a-guid", &acme.id, "tenant_user", false),
            user("1e9ac100-0000-4000-8000-000000000007", &acme.id, "guest", false),
        ],
    });
    let authz = server.authz.clone();
    let revision = || {
        let mut authz = authz.clone();
        async move { world::status(&mut authz).await.latest_revision }
    };
    let before = revision().await;

    // Users it cannot map: reported, and nothing at all is written.
    let refused = import(&server.url, &file, &[]);
    assert!(!refused.status.success());
    let report = stdout(&refused);
    assert!(
        report.contains("NOT MAPPED: user #4"),
        "{report}{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    assert!(report.contains("not an MSP"), "{report}");
    assert!(report.contains("not-a-guid"), "{report}");
    assert!(report.contains("`guest`"), "{report}");
    assert_eq!(revision().await, before, "nothing half-imported");

    // The dry run prints the plan and writes nothing.
    file["users"].as_array_mut().unwrap().truncate(4);
    let dry = import(&server.url, &file, &["--dry-run"]);
    assert!(
        dry.status.success(),
        "{}",
        String::from_utf8_lossy(&dry.stderr)
    );
    let plan = stdout(&dry);
    assert!(
        plan.contains(&format!("create user {msp_admin}@example.com")),
        "{plan}"
    );
    assert!(
        plan.contains("assign System User (Legacy) at Owner"),
        "{plan}"
    );
    assert!(plan.contains("nothing written"), "{plan}");
    assert_eq!(revision().await, before);

    // The import: one revision for everything.
    let done = import(&server.url, &file, &[]);
    assert!(
        done.status.success(),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert_eq!(revision().await, before + 1, "{}", stdout(&done));
    assert_eq!(
        roles_of(admin, msp_admin).await,
        pairs(&[("System Administrator (Legacy)", "owner")])
    );
    assert_eq!(
        roles_of(admin, msp_user).await,
        pairs(&[
            ("System User (Legacy)", "owner"),
            ("Script Manager", "owner"),
            ("Computer Terminal User", "owner"),
            ("Deployment Manager", "owner"),
            ("Cross-Tenant Deployment Change Requester", "owner"),
        ])
    );
    assert_eq!(
        roles_of(admin, tenant_admin).await,
        pairs(&[
            ("Administrator (Legacy)", "users_tenant"),
            ("Script Manager", "users_tenant"),
            ("Computer Terminal User", "users_tenant"),
            ("Cross-Tenant Deployment Manager", "users_tenant"),
        ])
    );
    assert_eq!(
        roles_of(admin, &existing.azure_object_id).await,
        pairs(&[
            ("User (Legacy)", "users_tenant"),
            ("Script Manager", "users_tenant"),
            ("Computer Terminal User", "users_tenant"),
            ("Deployment Manager", "users_tenant"),
        ])
    );
    let preferences = admin
        .get_preferences(as_admin(pb::GetPreferencesRequest {}))
        .await
        .unwrap()
        .into_inner();
    assert!(preferences.impersonation_enabled);
    // The running server follows the import: the tenant admin manages their tenant now.
    let access = server
        .authz
        .check_access(pb::CheckAccessRequest {
            subject: Some(pb::check_access_request::Subject::AzureObjectId(
                tenant_admin.into(),
            )),
            permission: "users.manage".into(),
            target: Some(pb::Target {
                kind: Some(pb::target::Kind::TenantId(acme.id.clone())),
            }),
            explain: false,
            min_revision: before + 1,
        })
        .await
        .unwrap()
        .into_inner();
    assert!(access.allowed);

    // Idempotent: a second run writes nothing.
    let again = import(&server.url, &file, &[]);
    assert!(again.status.success());
    assert!(
        stdout(&again).contains("already holds every role"),
        "{}",
        stdout(&again)
    );
    assert_eq!(revision().await, before + 1);
    server.stop().await;
}
