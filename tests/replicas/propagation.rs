//! A write through one replica reaches the others: at once with `min_revision`, and
//! within a second without it.

use std::time::{Duration, Instant};

use rbac_sidecar::api::pb::rbac::v1 as pb;

use crate::support::{self, PostgresDatabase, Replica, as_admin, world};

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
            validate_only: false,
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

/// An answer is decided on the state of the revision it names. Replica B polls the log
/// only once a minute here, so it has not applied A's grant when it is asked about a
/// user it never cached; the load reads the newest state, grant included, and B must
/// apply the log up to that state before deciding: an allow at a revision before the
/// grant would be an answer that matches no revision.
#[tokio::test]
async fn an_answer_holds_at_the_revision_it_names() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("one.db").display());
    let mut a = Replica::spawn(&url).await;
    let mut b = Replica::spawn_polling(&url, 60_000).await;
    let msp = world::tenant(&mut a.admin, "msp", None, true).await;
    let customer = world::tenant(&mut a.admin, "customer", Some(&msp.id), false).await;
    let tech = world::user(&mut a.admin, &msp.id).await;
    let other = world::user(&mut a.admin, &msp.id).await;
    let role = world::role(&mut a.admin, &["computers.view"]).await;
    // B applies the world so far, through a check of another user that waits for it.
    let newest = world::status(&mut a.authz).await.latest_revision;
    let other = world::check(
        &mut b.authz,
        &other.id,
        "computers.view",
        &customer.id,
        newest,
    );
    assert_eq!(other.await.unwrap(), pb::Decision::NotGranted);
    let scope = world::scope(pb::scope::Kind::TenantId(customer.id.clone()));
    let grant = world::assign(&mut a.admin, &role.id, &tech.id, scope, pb::Effect::Allow).await;

    let answer = b
        .authz
        .check_access(world::check_request(
            &tech.id,
            "computers.view",
            &customer.id,
            0,
        ))
        .await
        .unwrap()
        .into_inner();
    if answer.decision == pb::Decision::Allowed as i32 {
        assert!(
            answer.revision >= grant.revision,
            "allowed at revision {}, before the grant at {}",
            answer.revision,
            grant.revision
        );
    }
}
