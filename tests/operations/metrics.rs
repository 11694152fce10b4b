//! The Prometheus endpoint after a known sequence of calls: every count is exact.

use std::collections::HashMap;
use std::io::{Read, Write};

use rbac_sidecar::api::pb::rbac::v1 as pb;
use tonic::Code;

use crate::sidecar::{Launch, Sidecar, World, admin_check, check};
use crate::support::free_port;

/// GET over HTTP/1.1: the status code and the body.
pub fn http_get(address: &str, path: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(address).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// Every sample of an exposition, by `name{labels}`.
fn samples(text: &str) -> HashMap<String, f64> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').unwrap();
            (series.to_owned(), value.parse().unwrap())
        })
        .collect()
}

#[tokio::test]
async fn metrics_count_checks_by_decision_calls_writes_and_the_cache() {
    let metrics_address = format!("127.0.0.1:{}", free_port());
    let sidecar =
        Sidecar::start(Launch::default().args(&["--metrics-listen", &metrics_address])).await;
    let mut authz = sidecar.authz().await;
    let mut admin = sidecar.admin().await;
    let world = World::build(sidecar.channel().await, None).await;

    // One refused write: no actor.
    let refused = admin
        .create_tag(pb::CreateTagRequest {
            name: "no actor".into(),
            validate_only: false,
        })
        .await
        .unwrap_err();
    assert_eq!(refused.code(), Code::Unauthenticated);

    let tech = world.technician.id.as_str();
    let after_writes = |mut request: pb::CheckAccessRequest| {
        request.min_revision = world.revision;
        request
    };
    let mut decisions = Vec::new();
    for request in [
        admin_check(),
        admin_check(),
        after_writes(check(tech, "computers.view", Some(&world.customer))),
        after_writes(check(tech, "computers.view", Some(&world.msp))),
        after_writes(check(tech, "computers.manage", Some(&world.customer))),
        check(
            &uuid::Uuid::new_v4().to_string(),
            "computers.view",
            Some(&world.customer),
        ),
    ] {
        decisions.push(
            authz
                .check_access(request)
                .await
                .unwrap()
                .into_inner()
                .decision(),
        );
    }
    use pb::Decision::*;
    assert_eq!(
        decisions,
        [Allowed, Allowed, Allowed, Denied, NotGranted, UserInactive]
    );
    let unknown_tenant = uuid::Uuid::new_v4().to_string();
    let error = authz
        .check_access(check(tech, "computers.view", Some(&unknown_tenant)))
        .await
        .unwrap_err();
    assert_eq!(error.code(), Code::NotFound);
    let batch = authz
        .batch_check(pb::BatchCheckRequest {
            checks: vec![
                admin_check(),
                check(tech, "computers.view", Some(&world.msp)),
            ],
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(batch.results.len(), 2);

    let (status, text) = http_get(&metrics_address, "/metrics");
    assert_eq!(status, 200, "{text}");
    assert!(text.ends_with("# EOF\n"), "{text}");
    let samples = samples(&text);
    let value = |series: &str| {
        *samples
            .get(series)
            .unwrap_or_else(|| panic!("no `{series}` in:\n{text}"))
    };
    for (decision, count) in [
        ("allowed", 4.0),
        ("denied", 2.0),
        ("not_granted", 1.0),
        ("user_inactive", 1.0),
        ("error", 1.0),
    ] {
        assert_eq!(
            value(&format!("rbac_checks_total{{decision=\"{decision}\"}}")),
            count,
            "{decision}"
        );
    }
    let calls = |method: &str, code: &str| {
        value(&format!(
            "rbac_grpc_server_handling_seconds_count{{service=\"rbac.v1.AuthorizationService\",method=\"{method}\",code=\"{code}\"}}"
        ))
    };
    assert_eq!(calls("CheckAccess", "OK"), 6.0);
    assert_eq!(calls("CheckAccess", "NOT_FOUND"), 1.0);
    assert_eq!(calls("BatchCheck", "OK"), 1.0);
    assert_eq!(calls("GetEffectiveAccess", "OK"), 1.0);
    assert_eq!(
        value(
            "rbac_grpc_server_handling_seconds_bucket{le=\"+Inf\",service=\"rbac.v1.AuthorizationService\",method=\"CheckAccess\",code=\"OK\"}"
        ),
        6.0
    );
    let writes = |action: &str, outcome: &str| {
        value(&format!(
            "rbac_admin_writes_total{{action=\"{action}\",outcome=\"{outcome}\"}}"
        ))
    };
    assert_eq!(writes("CreateTenant", "OK"), 1.0);
    assert_eq!(writes("CreateUser", "OK"), 1.0);
    assert_eq!(writes("CreateRole", "OK"), 1.0);
    assert_eq!(writes("CreateRoleAssignment", "OK"), 2.0);
    assert_eq!(writes("CreateTag", "UNAUTHENTICATED"), 1.0);
    assert!(
        !text.contains("action=\"ListRoles\""),
        "reads are not writes"
    );
    assert!(value("rbac_cache_misses_total") >= 2.0, "{text}");
    assert!(value("rbac_cache_hits_total") >= 1.0, "{text}");
    assert_eq!(value("rbac_cache_evictions_total"), 0.0);
    assert_eq!(value("rbac_database_errors_total{operation=\"load\"}"), 0.0);
    assert_eq!(
        value("rbac_database_errors_total{operation=\"follow\"}"),
        0.0
    );
    assert_eq!(value("rbac_applied_revision"), world.revision as f64);
    assert_eq!(value("rbac_database_reachable"), 1.0);
    assert!(value("rbac_cached_users") >= 2.0, "{text}");
    assert!(value("rbac_follower_lag_seconds") < 5.0, "{text}");

    assert_eq!(http_get(&metrics_address, "/healthz").0, 200);
    assert_eq!(
        http_get(&metrics_address, "/readyz"),
        (200, "ready\n".to_owned())
    );
    assert_eq!(http_get(&metrics_address, "/nothing").0, 404);
}
