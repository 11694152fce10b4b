//! Request size limits and the per-call deadline.

use std::time::{Duration, Instant};

use rbac_sidecar::api::pb::rbac::v1 as pb;
use tonic::Code;

use crate::sidecar::{Launch, Sidecar, WriteLock, admin_check, blocked_write};

#[tokio::test]
async fn oversized_requests_and_slow_calls_are_cut_off() {
    let sidecar = Sidecar::start(Launch::default().args(&[
        "--max-request-bytes",
        "1024",
        "--request-timeout-ms",
        "300",
        "--min-revision-wait-ms",
        "5000",
    ]))
    .await;
    let mut authz = sidecar.authz().await;
    assert!(
        authz
            .check_access(admin_check())
            .await
            .unwrap()
            .into_inner()
            .allowed
    );

    let oversized = pb::CheckAccessRequest {
        permission: "x".repeat(2000),
        ..admin_check()
    };
    let refused = authz.check_access(oversized).await.unwrap_err();
    assert_eq!(refused.code(), Code::OutOfRange, "{refused:?}");
    let batch = pb::BatchCheckRequest {
        checks: vec![admin_check(); 40],
    };
    let refused = authz.batch_check(batch).await.unwrap_err();
    assert_eq!(refused.code(), Code::OutOfRange, "{refused:?}");

    // A write waiting for the database's write lock would wait 10 s; the deadline is 300 ms.
    let lock = WriteLock::take(&sidecar.database_url).await;
    let started = Instant::now();
    let refused = sidecar
        .admin()
        .await
        .create_tag(blocked_write("slow"))
        .await
        .unwrap_err();
    let took = started.elapsed();
    lock.release().await;
    assert_eq!(refused.code(), Code::DeadlineExceeded, "{refused:?}");
    assert!(
        refused.message().contains("--request-timeout-ms"),
        "{refused:?}"
    );
    assert!(
        took >= Duration::from_millis(250) && took < Duration::from_secs(3),
        "{took:?}"
    );
    // The server is fine afterwards.
    assert!(
        authz
            .check_access(admin_check())
            .await
            .unwrap()
            .into_inner()
            .allowed
    );
}
