//! SIGTERM: the listener closes, in-flight calls finish (the follower keeps applying the
//! change log meanwhile), then the follower stops and the process exits 0.

use std::time::Duration;

use rbac_sidecar::api::pb::rbac::v1 as pb;

use crate::metrics::http_get;
use crate::sidecar::{Authz, Launch, Sidecar, admin_check};
use crate::support::{as_admin, free_port};

#[tokio::test]
async fn sigterm_drains_in_flight_calls_then_exits_zero() {
    let metrics_address = format!("127.0.0.1:{}", free_port());
    let mut draining = Sidecar::start(Launch::default().args(&[
        "--metrics-listen",
        &metrics_address,
        "--min-revision-wait-ms",
        "20000",
    ]))
    .await;
    // A second process on the same database writes the revision the calls wait for.
    let writer = Sidecar::start(Launch {
        database_url: Some(draining.database_url.clone()),
        ..Launch::default()
    })
    .await;
    let mut authz = draining.authz().await;
    let status = authz
        .get_replica_status(pb::GetReplicaStatusRequest {})
        .await
        .unwrap()
        .into_inner();
    let ahead = status.latest_revision + 1;

    // Three calls in flight, waiting for a revision nobody has written yet: two on one
    // connection, one on another.
    let waiting = pb::CheckAccessRequest {
        min_revision: ahead,
        ..admin_check()
    };
    let other_connection = draining.authz().await;
    let mut in_flight = Vec::new();
    for mut client in [authz.clone(), authz.clone(), other_connection] {
        let request = waiting.clone();
        in_flight.push(tokio::spawn(
            async move { client.check_access(request).await },
        ));
    }
    let mut batch_client = authz.clone();
    let batch = tokio::spawn(async move {
        batch_client
            .batch_check(pb::BatchCheckRequest {
                checks: vec![waiting.clone(), waiting],
            })
            .await
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        in_flight.iter().all(|call| !call.is_finished()),
        "the calls did not wait"
    );

    draining.terminate();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Draining: not ready, new connections refused, the calls still waiting.
    assert_eq!(
        http_get(&metrics_address, "/readyz"),
        (503, "draining\n".to_owned())
    );
    let refused = tonic::transport::Channel::from_shared(format!("http://{}", draining.address))
        .unwrap()
        .connect()
        .await;
    assert!(
        refused.is_err(),
        "a new connection was accepted while draining"
    );
    let on_old_connection = authz.check_access(admin_check()).await;
    assert!(
        on_old_connection.is_err(),
        "a new call was served while draining"
    );
    assert!(in_flight.iter().all(|call| !call.is_finished()));

    // The write lands; the draining replica's follower applies it and the calls finish.
    let written = writer
        .admin()
        .await
        .create_tag(as_admin(pb::CreateTagRequest {
            name: "drain".into(),
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(written.revision >= ahead);
    for call in in_flight {
        let answer = call
            .await
            .unwrap()
            .expect("in-flight call completes")
            .into_inner();
        assert!(answer.allowed);
        assert!(answer.revision >= ahead, "{answer:?}");
    }
    let results = batch
        .await
        .unwrap()
        .expect("in-flight batch completes")
        .into_inner()
        .results;
    assert_eq!(results.len(), 2);
    assert!(
        results
            .iter()
            .all(|r| r.response.as_ref().is_some_and(|r| r.allowed)),
        "{results:?}"
    );

    let status = draining.exit_status(Duration::from_secs(10)).await;
    assert!(status.success(), "{status}:\n{}", draining.output());
    assert!(
        draining.output().contains("change-log follower stopped"),
        "{}",
        draining.output()
    );
}

#[tokio::test]
async fn calls_still_running_after_the_grace_period_are_abandoned_with_status_1() {
    let mut sidecar = Sidecar::start(Launch::default().args(&[
        "--min-revision-wait-ms",
        "20000",
        "--request-timeout-ms",
        "30000",
        "--shutdown-grace-ms",
        "400",
    ]))
    .await;
    let mut authz: Authz = sidecar.authz().await;
    let stuck = tokio::spawn(async move {
        authz
            .check_access(pb::CheckAccessRequest {
                min_revision: 1_000_000,
                ..admin_check()
            })
            .await
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    sidecar.terminate();
    let status = sidecar.exit_status(Duration::from_secs(10)).await;
    assert_eq!(status.code(), Some(1), "{}", sidecar.output());
    assert!(
        sidecar
            .output()
            .contains("still in flight 400 ms after the shutdown signal"),
        "{}",
        sidecar.output()
    );
    // Abandoned, never answered allow.
    assert!(stuck.await.unwrap().is_err());
}
