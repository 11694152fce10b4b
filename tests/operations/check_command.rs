//! `rbac-sidecar check` against a running server: the answer as a person reads it, and
//! an exit status a script can branch on.

use crate::security::{Pki, tls_sidecar};
use crate::sidecar::{Launch, Sidecar, World, run, write};
use crate::support::{ADMIN, free_port};

/// Runs `rbac-sidecar check ARGS` with `env`: exit code, stdout, stderr.
fn check(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    run("check", args, env)
}

#[tokio::test]
async fn check_prints_the_decision_and_its_explanation() {
    let sidecar = Sidecar::start(Launch::default().args(&["--auth-token", "op-t0ken"])).await;
    let world = World::build(sidecar.channel().await, Some("op-t0ken")).await;
    let server = format!("http://{}", sidecar.address);
    let with_token = [("RBAC_AUTH_TOKEN", "op-t0ken")];
    let tech = world.technician.id.as_str();

    // Denied, explained: both assignments, the deny marked as decisive.
    let (code, out, err) = check(
        &[
            tech,
            "computers.view",
            "--tenant",
            &world.msp,
            "--explain",
            "--server",
            &server,
        ],
        &with_token,
    );
    assert_eq!(code, 1, "{out}{err}");
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0],
        format!(
            "DENIED  computers.view on tenant {} for user {tech} (revision {})",
            world.msp, world.revision
        ),
        "{out}"
    );
    assert_eq!(lines.len(), 3, "{out}");
    let allow = lines.iter().find(|l| l.contains(&world.allow_id)).unwrap();
    let deny = lines.iter().find(|l| l.contains(&world.deny_id)).unwrap();
    assert!(allow.starts_with("    allow  Reader  at Owner"), "{out}");
    assert!(
        allow.contains("direct") && !allow.contains("decisive"),
        "{out}"
    );
    assert!(
        deny.starts_with(&format!("  > deny   Reader  at tenant {}", world.msp)),
        "{out}"
    );
    assert!(deny.ends_with("(decisive)"), "{out}");

    // Allowed, by Azure object id, a system permission; the token from a file.
    let dir = tempfile::tempdir().unwrap();
    let token_file = write(dir.path(), "token", "op-t0ken\n");
    let (code, out, err) = check(
        &[
            &format!("oid:{ADMIN}"),
            "billing.manage",
            "--server",
            &server,
            "--auth-token-file",
            token_file.to_str().unwrap(),
        ],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.starts_with(&format!(
            "ALLOWED  billing.manage (system-wide) for user oid:{ADMIN}"
        )),
        "{out}"
    );

    // Not granted, with nothing to explain.
    let (code, out, _) = check(
        &[
            tech,
            "computers.manage",
            "--tenant",
            &world.customer,
            "--explain",
            "--server",
            &server,
        ],
        &with_token,
    );
    assert_eq!(code, 1);
    assert!(
        out.starts_with("NOT GRANTED  computers.manage")
            && out.contains("\n  no assignment of the user, direct or through a group, grants `computers.manage` here\n"),
        "{out}"
    );

    // No answer: exit 2, with the server's reason.
    let unknown = uuid::Uuid::new_v4().to_string();
    let (code, out, err) = check(
        &[
            tech,
            "computers.view",
            "--tenant",
            &unknown,
            "--server",
            &server,
        ],
        &with_token,
    );
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("NOT_FOUND") && err.contains(&unknown), "{err}");
    let (code, _, err) = check(
        &[
            tech,
            "computers.view",
            "--tenant",
            &world.msp,
            "--server",
            &server,
        ],
        &[],
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("UNAUTHENTICATED"), "{err}");
    let nobody = format!("http://127.0.0.1:{}", free_port());
    let (code, _, err) = check(
        &[
            tech,
            "computers.view",
            "--tenant",
            &world.msp,
            "--server",
            &nobody,
        ],
        &with_token,
    );
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("cannot reach"), "{err}");

    // A bad command line: 64.
    let (code, _, err) = check(
        &[
            tech,
            "computers.view",
            "--resource",
            "c-42",
            "--server",
            &server,
        ],
        &with_token,
    );
    assert_eq!(code, 64, "{err}");
    assert!(err.contains("TYPE/ID"), "{err}");
}

#[tokio::test]
async fn check_speaks_mutual_tls() {
    let pki = Pki::new("server");
    let sidecar = tls_sidecar(&pki, true).await;
    let dir = tempfile::tempdir().unwrap();
    let ca = write(dir.path(), "ca.crt", &pki.ca);
    let cert = write(dir.path(), "client.crt", &pki.client.0);
    let key = write(dir.path(), "client.key", &pki.client.1);
    let server = format!("https://{}", sidecar.address);
    let tls = [
        "--tls-ca",
        ca.to_str().unwrap(),
        "--tls-server-name",
        "localhost",
    ];
    let identity = [
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ];
    let user = format!("oid:{ADMIN}");
    let base = [user.as_str(), "billing.manage", "--server", server.as_str()];
    let args: Vec<&str> = base.iter().chain(&tls).chain(&identity).copied().collect();
    let (code, out, err) = check(&args, &[]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("ALLOWED"), "{out}");
    let without_identity: Vec<&str> = base.iter().chain(&tls).copied().collect();
    let (code, out, err) = check(&without_identity, &[]);
    assert_eq!(code, 2, "{out}{err}");
}
