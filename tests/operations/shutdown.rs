//! SIGTERM: the listener closes, in-flight calls finish, then the change-log follower
//! stops and the process exits 0.

use std::time::Duration;

use crate::metrics::http_get;
use crate::sidecar::{Launch, Sidecar, WriteLock, admin_check, blocked_write};
use crate::support::free_port;

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
    // Four writes in flight, waiting for the database's write lock that the test holds:
    // three calls, two on one connection and one on another, and a fourth.
    let lock = WriteLock::take(&draining.database_url).await;
    let admin = draining.admin().await;
    let other_connection = draining.admin().await;
    let mut in_flight = Vec::new();
    for (index, mut client) in [
        admin.clone(),
        admin.clone(),
        other_connection,
        admin.clone(),
    ]
    .into_iter()
    .enumerate()
    {
        in_flight.push(tokio::spawn(async move {
            client
                .create_tag(blocked_write(&format!("drain {index}")))
                .await
        }));
    }
    let mut authz = draining.authz().await;
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

    // The lock is released; the calls finish, each with its revision.
    lock.release().await;
    for call in in_flight {
        let tag = call
            .await
            .unwrap()
            .expect("in-flight call completes")
            .into_inner();
        assert!(tag.revision > 0, "{tag:?}");
    }

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
    let lock = WriteLock::take(&sidecar.database_url).await;
    let mut admin = sidecar.admin().await;
    let stuck = tokio::spawn(async move { admin.create_tag(blocked_write("stuck")).await });
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
    // Abandoned, never answered.
    assert!(stuck.await.unwrap().is_err());
    lock.release().await;
}
