//! The fleet: a database tier of replicas on one PostgreSQL database, and sidecars with no
//! database fed by it (`serve --upstream`). Every sidecar must see every grant and revoke
//! (at once with `min_revision`), agree with the tier on every check, forward admin calls,
//! and lose and regain the tier without ever answering from a state it did not reach.

use std::time::{Duration, Instant};

use rbac_sidecar::api::pb::rbac::v1 as pb;
use tonic::Code;

use crate::support::world::{self, Admin, Authz};
use crate::support::{PostgresDatabase, Replica, as_admin};

const VIEW: &str = "computers.view";

/// What the checks of a fleet test ask about: a user granted and revoked, and others.
struct World {
    tenants: Vec<String>,
    users: Vec<String>,
    role: String,
}

async fn world(admin: &mut Admin) -> World {
    let msp = world::tenant(admin, "msp", None, true).await.id;
    let customer = world::tenant(admin, "customer", Some(&msp), false).await.id;
    let mut users = Vec::new();
    for tenant in [&msp, &customer, &customer] {
        users.push(world::user(admin, tenant).await.id);
    }
    let role = world::role(admin, &[VIEW, "computers.manage"]).await.id;
    // One standing grant and one standing deny, so the checks are not all "not granted".
    let msp_scope = pb::scope::Kind::MspTenantId(msp.clone());
    let user = pb::principal::Kind::UserId(users[1].clone());
    world::grant(admin, &role, user, msp_scope, pb::Effect::Allow).await;
    let deny = pb::scope::Kind::TenantId(customer.clone());
    let user = pb::principal::Kind::UserId(users[2].clone());
    world::grant(admin, &role, user, deny, pb::Effect::Deny).await;
    World {
        tenants: vec![msp, customer],
        users,
        role,
    }
}

/// Every (user, permission, tenant) of the world, as one replica answers at `revision`.
async fn answers(authz: &mut Authz, world: &World, revision: u64) -> Vec<pb::Decision> {
    let mut decisions = Vec::new();
    for user in &world.users {
        for permission in [VIEW, "computers.manage", "scripts.view"] {
            for tenant in &world.tenants {
                let decision = world::check(authz, user, permission, tenant, revision).await;
                decisions.push(decision.unwrap());
            }
        }
    }
    decisions
}

/// Asks until the sidecar gives `wanted` (no min_revision), at most 5 s; how long it took.
async fn seen_within(
    authz: &mut Authz,
    user: &str,
    tenant: &str,
    wanted: pb::Decision,
) -> Duration {
    let started = Instant::now();
    loop {
        if world::check(authz, user, VIEW, tenant, 0).await.ok() == Some(wanted) {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "not {wanted:?} after 5 s"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test]
async fn every_sidecar_sees_every_grant_and_revoke_through_the_tier() {
    let _serial = crate::support::SERIAL.lock().await;
    let Some(db) = PostgresDatabase::create().await else {
        return;
    };
    let tier = vec![Replica::spawn(&db.url).await, Replica::spawn(&db.url).await];
    let mut sidecars = Vec::new();
    for i in 0..10 {
        sidecars.push(Replica::spawn_fed(&tier[i % tier.len()].address).await);
    }
    let mut admin = tier[0].admin.clone();
    let world = world(&mut admin).await;
    let (user, tenant) = (world.users[0].clone(), world.tenants[1].clone());

    let mut slowest = Duration::ZERO;
    for round in 0..5 {
        // Grants and revokes alternate between the tier and a sidecar (forwarded).
        let mut writer = if round % 2 == 0 {
            tier[round % tier.len()].admin.clone()
        } else {
            sidecars[round].admin.clone()
        };
        let principal = pb::principal::Kind::UserId(user.clone());
        let scope = pb::scope::Kind::TenantId(tenant.clone());
        let granted = world::grant(
            &mut writer,
            &world.role,
            principal,
            scope,
            pb::Effect::Allow,
        )
        .await;
        for sidecar in &mut sidecars {
            let at = world::check(&mut sidecar.authz, &user, VIEW, &tenant, granted.revision);
            assert_eq!(at.await.unwrap(), pb::Decision::Allowed);
        }
        let request = pb::DeleteRoleAssignmentRequest {
            assignment_id: granted.id,
        };
        let revoked = writer
            .delete_role_assignment(as_admin(request))
            .await
            .unwrap()
            .into_inner()
            .revision;
        for sidecar in &mut sidecars {
            let took = seen_within(&mut sidecar.authz, &user, &tenant, pb::Decision::NotGranted);
            slowest = slowest.max(took.await);
            let at = world::check(&mut sidecar.authz, &user, VIEW, &tenant, revoked);
            assert_eq!(at.await.unwrap(), pb::Decision::NotGranted);
        }
    }
    eprintln!("slowest revoke seen without min_revision: {slowest:?}");

    // Every sidecar agrees with the tier on every check, at one revision.
    let revision = world::status(&mut tier[0].authz.clone())
        .await
        .latest_revision;
    let reference = answers(&mut tier[1].authz.clone(), &world, revision).await;
    for sidecar in &mut sidecars {
        assert_eq!(
            answers(&mut sidecar.authz, &world, revision).await,
            reference
        );
    }

    // A sidecar shows a user's access as the tier does (names are the tier's).
    let request = pb::GetEffectiveAccessRequest {
        subject: Some(pb::get_effective_access_request::Subject::UserId(
            world.users[1].clone(),
        )),
        min_revision: revision,
    };
    let shown = sidecars[3]
        .authz
        .get_effective_access(request)
        .await
        .unwrap();
    assert_eq!(shown.into_inner().assignments.len(), 1);
    drop((sidecars, tier));
    db.remove().await;
}

#[tokio::test]
async fn a_sidecar_that_loses_the_tier_answers_only_what_it_holds_and_misses_nothing() {
    let _serial = crate::support::SERIAL.lock().await;
    let Some(db) = PostgresDatabase::create().await else {
        return;
    };
    let writer = Replica::spawn(&db.url).await;
    let feeding_address = crate::support::free_address();
    let feeding_env = [("DATABASE_URL", db.url.as_str())];
    let spawn_feeding = || Replica::spawn_with(&feeding_address, &[], &feeding_env);
    let feeding = spawn_feeding().await;
    let mut sidecar = Replica::spawn_fed(&feeding.address).await;
    let mut admin = writer.admin.clone();
    let world = world(&mut admin).await;
    let (cached, cold, tenant) = (&world.users[1], &world.users[0], &world.tenants[1]);
    let revision = world::status(&mut writer.authz.clone())
        .await
        .latest_revision;
    let before = world::check(&mut sidecar.authz, cached, VIEW, tenant, revision).await;
    assert_eq!(before.unwrap(), pb::Decision::Allowed);

    drop(feeding);
    // The user it holds is answered, at its revision; the one it does not is UNAVAILABLE;
    // a revision it has not reached is never answered.
    let answered = sidecar
        .authz
        .check_access(world::check_request(cached, VIEW, tenant, 0))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(answered.decision(), pb::Decision::Allowed);
    assert_eq!(answered.revision, revision);
    let refused = world::check(&mut sidecar.authz, cold, VIEW, tenant, 0).await;
    assert_eq!(refused.unwrap_err().code(), Code::Unavailable);

    // Meanwhile the user loses the access, and a tenant is created.
    let revoked = revoke_all(&mut admin, cached).await;
    let late = world::tenant(&mut admin, "late", None, false).await;
    let stale = world::check(&mut sidecar.authz, cached, VIEW, tenant, revoked).await;
    assert!(
        stale.is_err(),
        "answered a revision it has not reached: {stale:?}"
    );

    // The tier returns (a new process: its history starts after the sidecar's revision,
    // so the sidecar reloads): the revoke and the tenant are seen, nothing is missed.
    let _feeding = spawn_feeding().await;
    let after = world::check(&mut sidecar.authz, cached, VIEW, tenant, late.revision).await;
    assert_eq!(after.unwrap(), pb::Decision::NotGranted);
    let on_late = world::check(&mut sidecar.authz, cached, VIEW, &late.id, late.revision).await;
    assert_eq!(on_late.unwrap(), pb::Decision::NotGranted);
    let cold_now = world::check(&mut sidecar.authz, cold, VIEW, tenant, 0).await;
    assert_eq!(cold_now.unwrap(), pb::Decision::NotGranted);
    drop((sidecar, writer));
    db.remove().await;
}

/// Deletes every assignment the user holds; the revision of the last.
async fn revoke_all(admin: &mut Admin, user: &str) -> u64 {
    let request = pb::ListRoleAssignmentsRequest {
        principal: Some(pb::Principal {
            kind: Some(pb::principal::Kind::UserId(user.to_owned())),
        }),
        ..pb::ListRoleAssignmentsRequest::default()
    };
    let assignments = admin
        .list_role_assignments(as_admin(request))
        .await
        .unwrap()
        .into_inner()
        .role_assignments;
    let mut revision = 0;
    for assignment in assignments {
        let request = pb::DeleteRoleAssignmentRequest {
            assignment_id: assignment.id,
        };
        let deleted = admin
            .delete_role_assignment(as_admin(request))
            .await
            .unwrap();
        revision = deleted.into_inner().revision;
    }
    revision
}
