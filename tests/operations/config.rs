//! Configuration layers, as the binary resolves them: a flag beats its environment
//! variable, which beats the TOML file, which beats the default; a bad file, key or
//! value stops the start with exit status 64 and a message naming it.

use rbac_sidecar::api::pb::rbac::v1 as pb;
use tonic::Code;

use crate::sidecar::{Launch, Sidecar, admin_check, run, write};

/// Runs `rbac-sidecar serve ARGS` with `env`: exit code, stdout, stderr.
fn serve(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    run("serve", args, env)
}

fn resolved(printed: &str) -> toml::Table {
    printed.parse().unwrap_or_else(|e| panic!("{e}: {printed}"))
}

#[test]
fn a_flag_beats_the_environment_which_beats_the_file_which_beats_the_default() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "rbac.toml",
        "listen = \"127.0.0.1:7001\"\nbatch_limit = 7\npoll_interval_ms = 70\nlog_format = \"json\"\n",
    );
    let file = file.to_str().unwrap();
    let (code, out, err) = serve(
        &["--listen", "127.0.0.1:7003", "--print-config"],
        &[
            ("RBAC_CONFIG", file),
            ("RBAC_LISTEN", "127.0.0.1:7002"),
            ("RBAC_BATCH_LIMIT", "8"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    let config = resolved(&out);
    assert_eq!(
        config["listen"].as_str(),
        Some("127.0.0.1:7003"),
        "flag: {out}"
    );
    assert_eq!(
        config["batch_limit"].as_integer(),
        Some(8),
        "environment: {out}"
    );
    assert_eq!(
        config["poll_interval_ms"].as_integer(),
        Some(70),
        "file: {out}"
    );
    assert_eq!(config["log_format"].as_str(), Some("json"), "file: {out}");
    assert_eq!(
        config["min_revision_wait_ms"].as_integer(),
        Some(5000),
        "default: {out}"
    );
    assert_eq!(
        config["request_timeout_ms"].as_integer(),
        Some(10_000),
        "default: {out}"
    );
    assert!(
        config.get("admin_listen").is_none() && config.get("auth_token").is_none(),
        "{out}"
    );

    // --config beats RBAC_CONFIG too; with neither, every value is the default.
    let (code, out, err) = serve(
        &["--config", file, "--print-config"],
        &[("RBAC_CONFIG", "/nonexistent/rbac.toml")],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(resolved(&out)["listen"].as_str(), Some("127.0.0.1:7001"));
    let (code, out, _) = serve(&["--print-config"], &[]);
    assert_eq!(code, 0);
    let defaults = resolved(&out);
    assert_eq!(defaults["listen"].as_str(), Some("127.0.0.1:50051"));
    assert_eq!(
        defaults["database_url"].as_str(),
        Some("sqlite://rbac.db?mode=rwc")
    );
    assert_eq!(defaults["batch_limit"].as_integer(), Some(1000));
    assert_eq!(defaults["log_format"].as_str(), Some("pretty"));
}

#[test]
fn a_bad_configuration_exits_64_naming_what_is_wrong() {
    let dir = tempfile::tempdir().unwrap();
    let unknown = write(
        dir.path(),
        "unknown.toml",
        "batch_limit = 5\nlissten = \"127.0.0.1:1\"\n",
    );
    let bad_value = write(dir.path(), "bad-value.toml", "listen = \"nowhere\"\n");
    let bad_type = write(dir.path(), "bad-type.toml", "batch_limit = \"lots\"\n");
    let zero = write(dir.path(), "zero.toml", "request_timeout_ms = 0\n");
    let missing = dir.path().join("missing.toml");
    // Flags, environment, what the error must say.
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, Vec<String>);
    let cases: Vec<Case> = vec![
        (
            vec!["--config", unknown.to_str().unwrap()],
            vec![],
            vec![
                unknown.display().to_string(),
                "unknown field `lissten`".into(),
            ],
        ),
        (
            vec!["--config", bad_value.to_str().unwrap()],
            vec![],
            vec![
                bad_value.display().to_string(),
                "listen = \"nowhere\"".into(),
            ],
        ),
        (
            vec!["--config", bad_type.to_str().unwrap()],
            vec![],
            vec![bad_type.display().to_string(), "batch_limit".into()],
        ),
        (
            vec!["--config", zero.to_str().unwrap()],
            vec![],
            vec!["`request_timeout_ms` (--request-timeout-ms) must be at least 1, got `0`".into()],
        ),
        (
            vec![],
            vec![("RBAC_CONFIG", missing.to_str().unwrap())],
            vec![format!("cannot read `{}`", missing.display())],
        ),
        (
            vec![],
            vec![("RBAC_BATCH_LIMIT", "lots")],
            vec![
                "--batch-limit".into(),
                "lots".into(),
                "environment variable RBAC_BATCH_LIMIT".into(),
            ],
        ),
        (
            vec!["--tls-cert", "server.pem"],
            vec![],
            vec!["`tls_cert` (--tls-cert) is set without `tls_key` (--tls-key)".into()],
        ),
        (
            vec!["--log-format", "yaml"],
            vec![],
            vec!["--log-format".into(), "yaml".into()],
        ),
        (
            vec!["--log-filter", "rbac_sidecar=loud"],
            vec![],
            vec!["`log_filter`".into()],
        ),
        // AdminService off the loopback with nothing to say who may name an actor.
        (
            vec!["--admin-listen", "0.0.0.0:0"],
            vec![],
            vec![
                "`admin_listen` (--admin-listen) would serve AdminService on `0.0.0.0:0`".into(),
                "--auth-token-file or --tls-client-ca".into(),
                "--insecure-admin-without-auth".into(),
            ],
        ),
        (
            vec![],
            vec![("RBAC_ADMIN_LISTEN", "[::]:0")],
            vec!["not a loopback address".into()],
        ),
    ];
    // Should a case be accepted, the start still fails at once: no database can open here.
    let safety = [
        "--listen",
        "127.0.0.1:0",
        "--database-url",
        "sqlite:///nonexistent-dir/rbac.db?mode=rwc",
    ];
    for (args, env, expected) in cases {
        let args: Vec<&str> = safety.iter().copied().chain(args).collect();
        let (code, out, err) = serve(&args, &env);
        assert_eq!(code, 64, "{args:?} {env:?}: {out}{err}");
        for text in &expected {
            assert!(
                err.contains(text.as_str()),
                "{args:?} {env:?}: `{text}` not in: {err}"
            );
        }
    }
}

#[tokio::test]
async fn the_server_runs_with_what_the_file_says() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(dir.path(), "rbac.toml", "batch_limit = 2\n");
    let sidecar = Sidecar::start(Launch {
        env: vec![("RBAC_CONFIG", file.display().to_string())],
        ..Launch::default()
    })
    .await;
    let refused = sidecar
        .authz()
        .await
        .batch_check(pb::BatchCheckRequest {
            checks: vec![admin_check(); 3],
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::InvalidArgument);
    assert!(
        refused.message().contains("at most 2 checks"),
        "{refused:?}"
    );
}

#[tokio::test]
async fn admin_service_off_the_loopback_needs_a_guard_or_a_loud_opt_out() {
    let exposed = format!("0.0.0.0:{}", crate::support::free_port());
    // A token guards it.
    let guarded = Sidecar::start(Launch::default().args(&[
        "--admin-listen",
        &exposed,
        "--auth-token",
        "a-token-of-thirty-two-characters-at-least",
    ]))
    .await;
    drop(guarded);
    // The demo opt-out starts, and says loudly what it means.
    let exposed = format!("0.0.0.0:{}", crate::support::free_port());
    let demo = Sidecar::start(Launch::default().args(&[
        "--admin-listen",
        &exposed,
        "--insecure-admin-without-auth",
    ]))
    .await;
    let log = demo.output();
    assert!(
        log.contains("INSECURE: AdminService is served off the loopback"),
        "{log}"
    );
}

#[test]
fn a_database_that_cannot_be_opened_is_named_with_the_cause() {
    let refused = format!(
        "postgres://postgres:secret@127.0.0.1:{}/test",
        crate::support::free_port()
    );
    let cases = [
        (
            refused.as_str(),
            "PostgreSQL at 127.0.0.1:",
            "the connection was refused",
        ),
        (
            "sqlite:///nonexistent-dir/rbac.db?mode=rwc",
            "the SQLite file `/nonexistent-dir/rbac.db` cannot be opened",
            "directory exists and is writable",
        ),
    ];
    for (url, place, cause) in cases {
        let (code, out, err) = serve(&["--listen", "127.0.0.1:0", "--database-url", url], &[]);
        let said = format!("{out}{err}");
        assert_ne!(code, 0, "{url}: {said}");
        assert!(
            said.contains(place) && said.contains(cause),
            "{url}: {said}"
        );
        assert!(
            !said.contains("secret"),
            "the password is never shown: {said}"
        );
    }
}

#[tokio::test]
async fn processes_started_together_on_one_new_sqlite_file_both_serve() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("shared.db").display()
    );
    let launch = || Launch {
        database_url: Some(url.clone()),
        ..Launch::default()
    };
    // Each waits until it serves: one migrates, the other waits for SQLite's write lock.
    let (first, second) = tokio::join!(Sidecar::start(launch()), Sidecar::start(launch()));
    for sidecar in [&first, &second] {
        let answer = sidecar
            .authz()
            .await
            .check_access(admin_check())
            .await
            .unwrap()
            .into_inner();
        assert!(answer.allowed, "{}", sidecar.output());
    }
}
