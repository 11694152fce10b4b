//! A write through one replica reaches the others: at once with `min_revision`, and
//! within a second without it.

use std::time::{Duration, Instant};

use rbac_sidecar::api::pb::rbac::v1 as pb;

use crate::support::{self, PostgresDatabase, as_admin, world};

#[tokio::test]
async fn a_write_on_one_replica_is_seen_by_every_other() {
    let _alone = crate::support::SERIAL.lock().await;
    let Some(database) = PostgresDatabase::create().await else {
        return;
    };
    let mut replicas = support::replicas(&database.url, 3).await;
    let admin = &mut replicas[0].admin.clone();
    let msp = world::tenant(admin, "msp", None, true).await;
    let customer = world::tenant(admin, "customer", Some(&msp.id), false).await;
    let tech = world::user(admin, &msp.id).await;
    let role = world::role(admin, &["computers.manage"]).await;
    let owner = world::scope(pb::scope::Kind::Owner(()));
    let grant = world::assign(admin, &role.id, &tech.id, owner, pb::Effect::Allow).await;

    // With min_revision, every replica answers with the write applied.
    for replica in &mut replicas {
        let decision = world::check(
            &mut replica.authz,
            &tech.id,
            "computers.manage",
            &customer.id,
            grant.revision,
        )
        .await
        .unwrap();
        assert_eq!(decision, pb::Decision::Allowed);
    }

    // Revoke through replica 1; the others have the user cached as allowed.
    let revoked = replicas[1]
        .admin
        .delete_role_assignment(as_admin(pb::DeleteRoleAssignmentRequest {
            assignment_id: grant.id.clone(),
        }))
        .await
        .unwrap()
        .into_inner();
    let decision = world::check(
        &mut replicas[2].authz,
        &tech.id,
        "computers.manage",
        &customer.id,
        revoked.revision,
    )
    .await
    .unwrap();
    assert_eq!(
        decision,
        pb::Decision::NotGranted,
        "min_revision must never be answered stale"
    );

    // Without min_revision: correct within one second.
    let started = Instant::now();
    loop {
        let decision = world::check(
            &mut replicas[0].authz,
            &tech.id,
            "computers.manage",
            &customer.id,
            0,
        )
        .await
        .unwrap();
        if decision == pb::Decision::NotGranted {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "replica 0 still allows 1 s after the revoke"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    // Each replica reports the revision it has applied.
    for replica in &mut replicas {
        let status = world::status(&mut replica.authz).await;
        assert!(status.database_reachable);
        assert!(status.applied_revision >= revoked.revision, "{status:?}");
        assert_eq!(status.latest_revision, revoked.revision, "{status:?}");
    }
    drop(replicas);
    database.remove().await;
}
