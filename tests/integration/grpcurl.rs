//! The release contract as an outside client sees it: the real binary, started from the
//! command line, called by a real grpcurl through server reflection.

use std::path::PathBuf;
use std::process::Command;

use crate::support::{ADMIN, Replica, strict};

/// grpcurl on PATH; None (skip) when missing, unless the run is strict.
fn grpcurl() -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("grpcurl"))
            .find(|candidate| candidate.is_file())
    });
    if found.is_none() {
        assert!(
            !strict(),
            "grpcurl is not on PATH but RBAC_TEST_STRICT=1 (scripts/test installs it)"
        );
        eprintln!("skipped: grpcurl is not on PATH");
    }
    found
}

fn run(grpcurl: &PathBuf, args: &[&str]) -> (bool, String) {
    let output = Command::new(grpcurl)
        .args(args)
        .output()
        .expect("run grpcurl");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    (output.status.success(), text)
}

#[tokio::test]
async fn grpcurl_lists_the_services_and_checks_access_by_json() {
    let Some(grpcurl) = grpcurl() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("rbac.db").display());
    let sidecar = Replica::spawn(&url).await;
    let address = sidecar.address.clone();

    let (ok, listed) = run(&grpcurl, &["-plaintext", &address, "list"]);
    assert!(ok, "{listed}");
    for service in [
        "rbac.v1.AuthorizationService",
        "rbac.v1.AdminService",
        "rbac.v1.ReplicationService",
        "envoy.service.auth.v3.Authorization",
        "grpc.health.v1.Health",
    ] {
        assert!(listed.contains(service), "`list` lacks {service}: {listed}");
    }

    let check =
        format!(r#"{{"azure_object_id":"{ADMIN}","permission":"billing.manage","explain":true}}"#);
    let (ok, answer) = run(
        &grpcurl,
        &[
            "-plaintext",
            "-d",
            &check,
            &address,
            "rbac.v1.AuthorizationService/CheckAccess",
        ],
    );
    assert!(ok, "{answer}");
    assert!(answer.contains("DECISION_ALLOWED"), "{answer}");
    assert!(answer.contains("System Administrator (Legacy)"), "{answer}");

    let unauthenticated = r#"{"name":"no actor"}"#;
    let (ok, refused) = run(
        &grpcurl,
        &[
            "-plaintext",
            "-d",
            unauthenticated,
            &address,
            "rbac.v1.AdminService/CreateTag",
        ],
    );
    assert!(!ok && refused.contains("Unauthenticated"), "{refused}");

    // A restart bootstraps nothing new: the same administrator still holds one assignment.
    drop(sidecar);
    let sidecar = Replica::spawn(&url).await;
    let address = sidecar.address.clone();
    let profile = format!(r#"{{"azure_object_id":"{ADMIN}"}}"#);
    let (ok, access) = run(
        &grpcurl,
        &[
            "-plaintext",
            "-d",
            &profile,
            &address,
            "rbac.v1.AuthorizationService/GetEffectiveAccess",
        ],
    );
    assert!(ok, "{access}");
    assert_eq!(access.matches("\"assignmentId\"").count(), 1, "{access}");
}

/// A refusal's `google.rpc.ErrorInfo` is served by reflection, so grpcurl prints its
/// reason, domain and metadata instead of "google.rpc.ErrorInfo is not recognized".
#[tokio::test]
async fn grpcurl_prints_the_details_of_a_refusal() {
    let Some(grpcurl) = grpcurl() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("rbac.db").display());
    let mut sidecar = Replica::spawn(&url).await;
    let address = sidecar.address.clone();
    // A user with no role: a write of theirs is refused with an ErrorInfo.
    let tenant = crate::support::world::tenant(&mut sidecar.admin, "msp", None, true)
        .await
        .id;
    let oid = uuid::Uuid::new_v4().to_string();
    crate::support::world::user_with_object_id(&mut sidecar.admin, &tenant, &oid).await;
    let actor = format!("x-actor-object-id: {oid}");
    let (ok, refused) = run(
        &grpcurl,
        &[
            "-plaintext",
            "-H",
            &actor,
            "-d",
            r#"{"name":"not mine"}"#,
            &address,
            "rbac.v1.AdminService/CreateTag",
        ],
    );
    assert!(!ok && refused.contains("PermissionDenied"), "{refused}");
    assert!(!refused.contains("not recognized"), "{refused}");
    let compact: String = refused.chars().filter(|c| !c.is_whitespace()).collect();
    for shown in [
        "\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\"",
        "\"reason\":\"MISSING_PERMISSION\"",
        "\"domain\":\"rbac.v1\"",
        "\"permission\":\"tags.manage\"",
    ] {
        assert!(
            compact.contains(shown),
            "grpcurl does not show {shown}: {refused}"
        );
    }
}
