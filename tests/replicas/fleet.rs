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

/// With verified actors end to end: the tier proves actors and serves only holders of the
/// service token; sidecars follow it with that token and forward admin calls that carry
/// the signed-in user's JWT (`as_actor` sends one).
#[tokio::test]
async fn every_sidecar_sees_every_grant_and_revoke_through_the_tier() {
    let _serial = crate::support::SERIAL.lock().await;
    let Some(db) = PostgresDatabase::create().await else {
        return;
    };
    let tier = vec![
        Replica::spawn_proven(&db.url).await,
        Replica::spawn_proven(&db.url).await,
    ];
    let mut sidecars = Vec::new();
    for i in 0..10 {
        sidecars.push(Replica::spawn_fed_proven(&tier[i % tier.len()].address).await);
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
            validate_only: false,
        };
        let revoked = writer
            .delete_role_assignment(as_admin(request))
            .await
            .unwrap()
            .into_inner()
            .revision;
        if round % 2 == 1 {
            // Written through this sidecar: it answers with the write at once.
            let own = &mut sidecars[round].authz;
            let now = world::check(own, &user, VIEW, &tenant, 0).await.unwrap();
            assert_eq!(
                now,
                pb::Decision::NotGranted,
                "a sidecar missed its own write"
            );
        }
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
    what_a_sidecar_lends_to_nobody(&tier[0], &mut sidecars[0]).await;
    drop((sidecars, tier));
    db.remove().await;
}

/// A sidecar lends its tier credential to no caller that proves nothing: a claimed actor
/// header alone is refused, a header beside a stranger's token names nobody, and the
/// sidecar serves no ReplicationService; the tier serves it only with the service token.
async fn what_a_sidecar_lends_to_nobody(tier: &Replica, sidecar: &mut Replica) {
    use crate::support::{ADMIN, PROVEN};
    let tenant = || pb::CreateTenantRequest {
        name: "lent".into(),
        parent_tenant_id: None,
        is_msp: false,
        validate_only: false,
    };
    let mut claimed = tonic::Request::new(tenant());
    claimed
        .metadata_mut()
        .insert("x-actor-object-id", ADMIN.parse().unwrap());
    let refused = sidecar.admin.create_tenant(claimed).await.unwrap_err();
    assert_eq!(
        refused.code(),
        Code::Unauthenticated,
        "{}",
        refused.message()
    );
    let stranger = "5a5a0000-0000-4000-8000-00000000dead";
    let mut disguised = tonic::Request::new(tenant());
    let token = PROVEN.get().unwrap().token(stranger);
    disguised
        .metadata_mut()
        .insert("x-actor-token", token.parse().unwrap());
    disguised
        .metadata_mut()
        .insert("x-actor-object-id", ADMIN.parse().unwrap());
    let refused = sidecar.admin.create_tenant(disguised).await.unwrap_err();
    assert_eq!(
        refused.code(),
        Code::PermissionDenied,
        "{}",
        refused.message()
    );
    assert!(
        refused.message().contains(stranger),
        "{}",
        refused.message()
    );

    // An access request names no actor: it goes on, and the tier asks for the token.
    let ask = pb::SubmitAccessRequestRequest {
        tenant_id: uuid::Uuid::new_v4().to_string(),
        azure_object_id: stranger.into(),
        email: "asker@example.com".into(),
        ..Default::default()
    };
    let refused = sidecar.admin.submit_access_request(ask).await.unwrap_err();
    assert!(
        refused.message().contains("proven actors"),
        "{}",
        refused.message()
    );

    let state = |address: &str, bearer: Option<&str>| {
        let url = format!("http://{address}");
        let bearer = bearer.map(|b| format!("Bearer {b}"));
        async move {
            let channel = tonic::transport::Channel::from_shared(url)
                .unwrap()
                .connect()
                .await
                .unwrap();
            let mut client = pb::replication_service_client::ReplicationServiceClient::new(channel);
            let mut request = tonic::Request::new(pb::GetStateRequest::default());
            if let Some(bearer) = bearer {
                request
                    .metadata_mut()
                    .insert("authorization", bearer.parse().unwrap());
            }
            client
                .get_state(request)
                .await
                .map(|_| ())
                .map_err(|s| s.code())
        }
    };
    assert_eq!(
        state(&sidecar.address, None).await,
        Err(Code::Unauthenticated)
    );
    assert_eq!(state(&tier.address, None).await, Err(Code::Unauthenticated));
    let service = crate::support::SERVICE_TOKEN;
    assert_eq!(state(&tier.address, Some(service)).await, Ok(()));
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
            validate_only: false,
        };
        let deleted = admin
            .delete_role_assignment(as_admin(request))
            .await
            .unwrap();
        revision = deleted.into_inner().revision;
    }
    revision
}

/// The fleet at scale, for `scripts/fleet` (not CI: it starts `RBAC_FLEET_SIDECARS`
/// sidecars, 100 by default, and takes minutes). Prints, for BENCHMARKS.md: PostgreSQL
/// connections idle and under a burst of cold checks on every sidecar at once, revoke
/// latency to the last sidecar, memory of a sidecar idle and with 10,000 cached users,
/// and the tier's CPU per write as the fleet grows. Asserts the connection bound and
/// that no sidecar ever answers a revoked grant at the revoke's revision.
#[tokio::test]
#[ignore = "a measurement of minutes: scripts/fleet runs it"]
async fn fleet_at_scale() {
    use crate::support::ADMIN;
    let _serial = crate::support::SERIAL.lock().await;
    let Some(db) = PostgresDatabase::create().await else {
        return;
    };
    let size: usize = std::env::var("RBAC_FLEET_SIDECARS").map_or(100, |v| v.parse().unwrap());
    let users = 10_000;
    let (code, out, err) = scale::dataset(&db.url, users);
    assert_eq!(code, 0, "dataset: {out}{err}");
    let user_ids = scale::user_ids(&db.url, users).await;
    let tier: Vec<Replica> = {
        let mut tier = Vec::new();
        for _ in 0..3 {
            let args = ["--bootstrap-admin-object-id", ADMIN];
            let env = [("DATABASE_URL", db.url.as_str())];
            tier.push(Replica::spawn_with(&crate::support::free_address(), &args, &env).await);
        }
        tier
    };
    let mut admin = tier[0].admin.clone();
    let msp = world::tenant(&mut admin, "fleet msp", None, true).await.id;
    let target = world::tenant(&mut admin, "fleet customer", Some(&msp), false)
        .await
        .id;
    let watched = world::user(&mut admin, &target).await.id;
    let role = world::role(&mut admin, &[VIEW]).await.id;

    let mut sidecars: Vec<Replica> = Vec::new();
    let mut rows = Vec::new();
    let stages: Vec<usize> = [10, 50]
        .into_iter()
        .filter(|s| *s < size)
        .chain([size])
        .collect();
    for stage in stages {
        while sidecars.len() < stage {
            let upstream = &tier[sidecars.len() % tier.len()].address;
            sidecars.push(Replica::spawn_fed(upstream).await);
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
        let revokes = if stage == size { 100 } else { 30 };
        let cpu_before = scale::cpu_ms(&tier);
        let latencies =
            scale::revokes(&tier[0], &mut sidecars, &watched, &target, &role, revokes).await;
        let cpu = scale::cpu_ms(&tier) - cpu_before;
        rows.push((stage, revokes * 2, cpu, latencies));
    }
    let idle_connections = scale::connections(&db.url).await;
    let idle_rss = scale::rss_mib(sidecars.last().unwrap().pid());
    let (burst_connections, disagreements) =
        scale::cold_burst(&db.url, &tier[0], &mut sidecars, &user_ids, &target).await;
    let loaded = &mut sidecars[0];
    scale::load_users(loaded, &user_ids, &target).await;
    let loaded_rss = scale::rss_mib(loaded.pid());

    eprintln!(
        "\n| sidecars | writes | tier CPU per write | revoke to last sidecar p50 | p99 | max |"
    );
    eprintln!("|---|---|---|---|---|---|");
    for (stage, writes, cpu, latencies) in &rows {
        let [p50, p99, max] = scale::percentiles(latencies);
        let per_write = *cpu as f64 / *writes as f64;
        eprintln!(
            "| {stage} | {writes} | {per_write:.2} ms | {p50:.1} ms | {p99:.1} ms | {max:.1} ms |"
        );
    }
    eprintln!(
        "\nPostgreSQL connections: idle {idle_connections}, under the cold burst at most {burst_connections}"
    );
    eprintln!("sidecar RSS: idle {idle_rss:.1} MiB, with {users} cached users {loaded_rss:.1} MiB");
    assert_eq!(disagreements, 0, "sidecars disagreed with the tier");
    assert!(burst_connections <= 25, "{burst_connections} connections");
    drop((sidecars, tier));
    db.remove().await;
}

/// The measurements of `fleet_at_scale`.
mod scale {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};
    use std::time::{Duration, Instant};

    use rbac_sidecar::api::pb::rbac::v1 as pb;
    use sea_orm::{ConnectionTrait, Database, Statement};
    use tokio::task::JoinSet;

    use super::VIEW;
    use crate::support::world::{self, Authz};
    use crate::support::{Replica, as_admin};

    type Replication =
        pb::replication_service_client::ReplicationServiceClient<tonic::transport::Channel>;

    pub fn dataset(url: &str, users: usize) -> (i32, String, String) {
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_rbac-sidecar"))
            .args(["dataset", "--database-url", url, "--tenants", "1000"])
            .args([
                "--users",
                &users.to_string(),
                "--assignments",
                &(users * 3).to_string(),
            ])
            .args(["--groups", "100"])
            .output()
            .unwrap();
        (
            output.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    }

    pub async fn user_ids(url: &str, limit: usize) -> Vec<String> {
        let db = Database::connect(url).await.unwrap();
        let sql = format!("SELECT id::text AS id FROM users LIMIT {limit}");
        let rows = db
            .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .unwrap();
        db.close().await.ok();
        rows.iter()
            .map(|r| r.try_get::<String>("", "id").unwrap())
            .collect()
    }

    /// Connections to the test's database, from every process.
    pub async fn connections(url: &str) -> i64 {
        let (base, name) = url.rsplit_once('/').unwrap();
        let db = Database::connect(format!("{base}/postgres")).await.unwrap();
        let sql = format!("SELECT count(*) AS n FROM pg_stat_activity WHERE datname = '{name}'");
        let row = db
            .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .unwrap()
            .unwrap();
        db.close().await.ok();
        row.try_get::<i64>("", "n").unwrap()
    }

    /// User plus system CPU time of the tier's processes, in milliseconds.
    pub fn cpu_ms(tier: &[Replica]) -> u64 {
        tier.iter()
            .map(|replica| {
                let stat =
                    std::fs::read_to_string(format!("/proc/{}/stat", replica.pid())).unwrap();
                let fields: Vec<&str> = stat
                    .rsplit_once(')')
                    .unwrap()
                    .1
                    .split_whitespace()
                    .collect();
                let ticks: u64 =
                    fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
                ticks * 10 // USER_HZ is 100 on Linux
            })
            .sum()
    }

    pub fn rss_mib(pid: u32) -> f64 {
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let line = status.lines().find(|l| l.starts_with("VmRSS:")).unwrap();
        let kib: f64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
        kib / 1024.0
    }

    pub fn percentiles(samples: &[f64]) -> [f64; 3] {
        let mut sorted = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let at =
            |q: f64| sorted[((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1];
        [at(0.5), at(0.99), *sorted.last().unwrap()]
    }

    /// Each revision a sidecar's feed announced, and when.
    type Announced = Vec<(u64, Instant)>;

    /// When each sidecar published each revision, from its own change feed.
    struct Arrivals {
        seen: Arc<Mutex<Vec<Announced>>>,
        tasks: JoinSet<()>,
    }

    impl Arrivals {
        async fn watch(sidecars: &[Replica]) -> Arrivals {
            let seen = Arc::new(Mutex::new(vec![Vec::new(); sidecars.len()]));
            let mut tasks = JoinSet::new();
            for (i, sidecar) in sidecars.iter().enumerate() {
                let channel =
                    tonic::transport::Channel::from_shared(format!("http://{}", sidecar.address))
                        .unwrap()
                        .connect()
                        .await
                        .unwrap();
                let mut stream = Replication::new(channel)
                    .watch_changes(pb::WatchChangesRequest {
                        after_revision: None,
                    })
                    .await
                    .unwrap()
                    .into_inner();
                let seen = Arc::clone(&seen);
                tasks.spawn(async move {
                    while let Ok(Some(message)) = stream.message().await {
                        seen.lock().unwrap()[i].push((message.revision, Instant::now()));
                    }
                });
            }
            Arrivals { seen, tasks }
        }

        /// Waits until every sidecar published `revision`; the last of them, when.
        async fn all_reached(&self, revision: u64) -> Instant {
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                let last = {
                    let seen = self.seen.lock().unwrap();
                    seen.iter()
                        .map(|s| s.iter().find(|(r, _)| *r >= revision).map(|(_, at)| *at))
                        .collect::<Option<Vec<Instant>>>()
                        .map(|ats| ats.into_iter().max().unwrap())
                };
                if let Some(last) = last {
                    return last;
                }
                assert!(
                    Instant::now() < deadline,
                    "revision {revision} not reached after 30 s"
                );
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
        }
    }

    /// Grants and revokes `count` times through the tier; each revoke's latency from its
    /// acknowledgement to the last sidecar publishing it (ms). Every sidecar is then asked
    /// at the revoke's revision and must not allow.
    pub async fn revokes(
        writer: &Replica,
        sidecars: &mut [Replica],
        user: &str,
        tenant: &str,
        role: &str,
        count: usize,
    ) -> Vec<f64> {
        let arrivals = Arrivals::watch(sidecars).await;
        let mut admin = writer.admin.clone();
        let mut latencies = Vec::with_capacity(count);
        for _ in 0..count {
            let principal = pb::principal::Kind::UserId(user.to_owned());
            let scope = pb::scope::Kind::TenantId(tenant.to_owned());
            let granted = world::grant(&mut admin, role, principal, scope, pb::Effect::Allow).await;
            for sidecar in sidecars.iter_mut().step_by(7) {
                let allowed =
                    world::check(&mut sidecar.authz, user, VIEW, tenant, granted.revision);
                assert_eq!(allowed.await.unwrap(), pb::Decision::Allowed);
            }
            let request = pb::DeleteRoleAssignmentRequest {
                assignment_id: granted.id,
                validate_only: false,
            };
            let revoked = admin
                .delete_role_assignment(as_admin(request))
                .await
                .unwrap();
            let acknowledged = Instant::now();
            let revision = revoked.into_inner().revision;
            let last = arrivals.all_reached(revision).await;
            latencies.push(last.saturating_duration_since(acknowledged).as_secs_f64() * 1000.0);
            let mut asked = JoinSet::new();
            for sidecar in sidecars.iter() {
                let mut authz = sidecar.authz.clone();
                let (user, tenant) = (user.to_owned(), tenant.to_owned());
                asked.spawn(async move {
                    world::check(&mut authz, &user, VIEW, &tenant, revision).await
                });
            }
            while let Some(answer) = asked.join_next().await {
                assert_eq!(
                    answer.unwrap().unwrap(),
                    pb::Decision::NotGranted,
                    "a stale allow"
                );
            }
        }
        drop(arrivals.tasks);
        latencies
    }

    /// Every sidecar at once checks users it has not cached, while the connections are
    /// sampled; each answer is compared with the tier's. The most connections seen, and
    /// how many answers differed.
    pub async fn cold_burst(
        url: &str,
        tier: &Replica,
        sidecars: &mut [Replica],
        users: &[String],
        tenant: &str,
    ) -> (i64, usize) {
        let revision = world::status(&mut tier.authz.clone()).await.latest_revision;
        let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let sampler = {
            let (url, sampling) = (url.to_owned(), Arc::clone(&sampling));
            tokio::spawn(async move {
                let mut most = 0;
                while sampling.load(std::sync::atomic::Ordering::Acquire) {
                    most = most.max(connections(&url).await);
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                most
            })
        };
        let per_sidecar = 20;
        let mut asked = JoinSet::new();
        for (i, sidecar) in sidecars.iter().enumerate() {
            for j in 0..per_sidecar {
                let user = users[(i * per_sidecar + j) % users.len()].clone();
                let (mut authz, tenant) = (sidecar.authz.clone(), tenant.to_owned());
                asked.spawn(async move {
                    let answer = world::check(&mut authz, &user, VIEW, &tenant, revision).await;
                    (user, answer.unwrap())
                });
            }
        }
        let mut answers = HashMap::new();
        while let Some(answer) = asked.join_next().await {
            let (user, decision) = answer.unwrap();
            answers.entry(user).or_insert_with(Vec::new).push(decision);
        }
        sampling.store(false, std::sync::atomic::Ordering::Release);
        let most = sampler.await.unwrap();
        let mut reference: Authz = tier.authz.clone();
        let mut disagreements = 0;
        for (user, decisions) in answers {
            let expected = world::check(&mut reference, &user, VIEW, tenant, revision)
                .await
                .unwrap();
            disagreements += decisions.iter().filter(|d| **d != expected).count();
        }
        (most, disagreements)
    }

    /// Caches every user on one sidecar.
    pub async fn load_users(sidecar: &mut Replica, users: &[String], tenant: &str) {
        for chunk in users.chunks(64) {
            let mut asked = JoinSet::new();
            for user in chunk {
                let (mut authz, user, tenant) =
                    (sidecar.authz.clone(), user.clone(), tenant.to_owned());
                asked.spawn(async move {
                    world::check(&mut authz, &user, VIEW, &tenant, 0)
                        .await
                        .unwrap()
                });
            }
            while asked.join_next().await.is_some() {}
        }
    }
}
