//! `rbac-sidecar import-legacy FILE`: the migration table of docs/model.md, a dry run that
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

/// What a successful import printed (its errors shown if it failed).
fn imported(url: &str, file: &serde_json::Value, flags: &[&str]) -> String {
    let output = import(url, file, flags);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout(&output)
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
    let plan = imported(&server.url, &file, &["--dry-run"]);
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
    let done = imported(&server.url, &file, &[]);
    assert_eq!(revision().await, before + 1, "{done}");
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
    let again = imported(&server.url, &file, &[]);
    assert!(again.contains("already holds every role"), "{again}");
    assert_eq!(revision().await, before + 1);
    server.stop().await;
}

/// A file of preferences alone changes the instance: the plan, the report and the audit
/// row say so, instead of "0 users created, 0 assignments added".
#[tokio::test]
async fn a_preference_the_import_changes_is_reported_and_audited() {
    let server = TestServer::start(Backend::Sqlite).await.unwrap();
    let admin: &mut Admin = &mut server.admin.clone();
    let impersonation = async |admin: &mut Admin| {
        admin
            .get_preferences(as_admin(pb::GetPreferencesRequest {}))
            .await
            .unwrap()
            .into_inner()
            .impersonation_enabled
    };
    assert!(!impersonation(admin).await);
    let file = json!({ "preferences": { "impersonation_enabled": true }, "users": [] });
    let plan = imported(&server.url, &file, &["--dry-run"]);
    assert!(
        plan.contains("set impersonation_enabled: false -> true"),
        "{plan}"
    );
    assert!(plan.contains("1 preference change planned"), "{plan}");
    assert!(!impersonation(admin).await, "a dry run writes nothing");

    let report = imported(&server.url, &file, &[]);
    assert!(
        report.contains("set impersonation_enabled: false -> true"),
        "{report}"
    );
    assert!(report.contains("1 preference changed"), "{report}");
    assert!(impersonation(admin).await);
    let events = admin
        .list_audit_events(as_admin(pb::ListAuditEventsRequest {
            action: "ImportLegacy".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .events;
    let event = events.first().expect("the import is audited");
    assert!(
        event.before.contains("impersonation_enabled: false")
            && event.after.contains("impersonation_enabled: true"),
        "{event:?}"
    );
    // Nothing left to change: nothing written, nothing reported as changed.
    let again = import(&server.url, &file, &[]);
    assert!(
        !stdout(&again).contains("set impersonation_enabled"),
        "{}",
        stdout(&again)
    );
    server.stop().await;
}

/// The import applies the API's text rules: no NUL or terminal escapes stored, no
/// e-mail over its limit, and a hostile value is never repeated in full.
#[tokio::test]
async fn legacy_text_follows_the_api_rules() {
    let server = TestServer::start(Backend::Sqlite).await.unwrap();
    let admin: &mut Admin = &mut server.admin.clone();
    let msp = world::tenant(admin, "msp", None, true).await;
    let acme = world::tenant(admin, "acme", Some(&msp.id), false).await;
    let long = format!("{}@example.com", "e".repeat(5_000));
    let user = |n: u32, email: &str, first_name: &str| {
        json!({
            "azure_object_id": format!("1e9ac100-0000-4000-8000-00000000010{n}"),
            "tenant_id": acme.id,
            "email": email,
            "first_name": first_name,
            "user_type": "tenant_user",
        })
    };
    let file = json!({
        "users": [
            user(0, "nul\u{0}@example.com", ""),
            user(1, "\u{1b}[31mred@example.com", ""),
            user(2, &long, ""),
            user(3, "bell@example.com", "ring\u{7}"),
            user(4, "fine@example.com", "Fine"),
        ],
    });
    let refused = import(&server.url, &file, &["--dry-run"]);
    let report = stdout(&refused);
    for (index, why) in [
        (0, "`email` must not contain NUL"),
        (
            1,
            "`email` must not contain NUL or other control characters",
        ),
        (2, "`email` must be at most 320 characters"),
        (3, "`first_name` must not contain NUL"),
    ] {
        let line = report
            .lines()
            .find(|l| l.starts_with(&format!("NOT MAPPED: user #{index} ")))
            .unwrap_or_else(|| panic!("user #{index} is not refused: {report}"));
        assert!(line.contains(why), "{line}");
    }
    assert!(report.contains("create user fine@example.com"), "{report}");
    let everything = format!("{report}{}", String::from_utf8_lossy(&refused.stderr));
    assert!(!everything.contains(&"e".repeat(65)), "{everything}");
    assert!(
        !everything.contains(['\u{0}', '\u{1b}', '\u{7}']),
        "{everything:?}"
    );
    server.stop().await;
}
