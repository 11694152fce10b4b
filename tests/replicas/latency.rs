//! Invalidation latency across replicas, measured (not asserted): from the moment a
//! write is acknowledged by one replica until another replica's answer reflects it.
//! Run with `cargo test --release --test replicas -- --ignored --nocapture`.

use std::time::{Duration, Instant};

use rbac_sidecar::api::pb::rbac::v1 as pb;

use crate::support::{PostgresDatabase, Replica, as_admin, world};

#[tokio::test]
#[ignore = "a measurement for BENCHMARKS.md, not a test"]
async fn invalidation_latency_across_replicas() {
    let _alone = crate::support::SERIAL.lock().await;
    let database = PostgresDatabase::create()
        .await
        .expect("RBAC_TEST_POSTGRES_URL");
    let mut writer = Replica::spawn(&database.url).await;
    let mut reader = Replica::spawn(&database.url).await;
    let admin = &mut writer.admin;
    let msp = world::tenant(admin, "msp", None, true).await;
    let tech = world::user(admin, &msp.id).await;
    let role = world::role(admin, &["computers.view"]).await;

    // Grant, then revoke, 100 times each; the reader has the user cached every time.
    let mut samples = Vec::new();
    for _ in 0..100 {
        let owner = world::scope(pb::scope::Kind::Owner(()));
        let grant = world::assign(
            &mut writer.admin,
            &role.id,
            &tech.id,
            owner,
            pb::Effect::Allow,
        )
        .await;
        samples.push(
            time_until(
                &mut reader,
                &tech.id,
                &msp.id,
                pb::Decision::Allowed,
                Instant::now(),
            )
            .await,
        );
        let request = pb::DeleteRoleAssignmentRequest {
            assignment_id: grant.id,
            validate_only: false,
        };
        writer
            .admin
            .delete_role_assignment(as_admin(request))
            .await
            .unwrap();
        samples.push(
            time_until(
                &mut reader,
                &tech.id,
                &msp.id,
                pb::Decision::NotGranted,
                Instant::now(),
            )
            .await,
        );
    }
    samples.sort();
    let pick = |p: f64| samples[((samples.len() - 1) as f64 * p).round() as usize];
    println!(
        "invalidation latency across replicas (PostgreSQL, NOTIFY + 200 ms polling), {} writes: p50 {:?}, p99 {:?}, max {:?}",
        samples.len(),
        pick(0.5),
        pick(0.99),
        samples.last().unwrap()
    );
    drop((writer, reader));
    database.remove().await;
}

/// Polls the reader until it answers `expected`; returns the time since `acknowledged`.
async fn time_until(
    reader: &mut Replica,
    user: &str,
    tenant: &str,
    expected: pb::Decision,
    acknowledged: Instant,
) -> Duration {
    loop {
        let decision = world::check(&mut reader.authz, user, "computers.view", tenant, 0)
            .await
            .unwrap();
        if decision == expected {
            return acknowledged.elapsed();
        }
        assert!(
            acknowledged.elapsed() < Duration::from_secs(10),
            "never saw {expected:?}"
        );
    }
}
