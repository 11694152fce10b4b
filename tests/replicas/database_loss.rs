//! Losing the database: a replica whose connections to PostgreSQL are cut keeps
//! answering the users it has cached, refuses (UNAVAILABLE) the ones it has not, never
//! answers a `min_revision` it has not reached, and after the database returns drops its
//! cache and catches up with no stale allow.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rbac_sidecar::api::pb::rbac::v1 as pb;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tonic::Code;

use crate::support::{PostgresDatabase, Replica, as_admin, world};

/// A TCP proxy in front of PostgreSQL that can cut every connection and refuse new ones.
struct Proxy {
    port: u16,
    cut: Arc<AtomicBool>,
    connections: Arc<tokio::sync::Mutex<JoinSet<()>>>,
}

impl Proxy {
    async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let cut = Arc::new(AtomicBool::new(false));
        let connections = Arc::new(tokio::sync::Mutex::new(JoinSet::new()));
        let (accept_cut, accept_connections) = (Arc::clone(&cut), Arc::clone(&connections));
        tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                if accept_cut.load(Ordering::Acquire) {
                    continue; // dropped: connection refused by a dead database
                }
                let upstream = upstream.clone();
                accept_connections.lock().await.spawn(async move {
                    if let Ok(mut server) = TcpStream::connect(upstream).await {
                        let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                    }
                });
            }
        });
        Proxy {
            port,
            cut,
            connections,
        }
    }

    async fn cut(&self) {
        self.cut.store(true, Ordering::Release);
        self.connections.lock().await.abort_all();
    }

    fn restore(&self) {
        self.cut.store(false, Ordering::Release);
    }
}

/// `postgres://user@host:port/db` with the port replaced.
fn through(url: &str, port: u16) -> (String, String) {
    let (scheme_user, rest) = url.split_once('@').unwrap();
    let (host_port, database) = rest.split_once('/').unwrap();
    let host = host_port.split(':').next().unwrap();
    let upstream = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host}:5432")
    };
    (
        format!("{scheme_user}@127.0.0.1:{port}/{database}"),
        upstream,
    )
}

#[tokio::test]
async fn a_replica_that_loses_the_database_fails_closed_and_recovers() {
    let _alone = crate::support::SERIAL.lock().await;
    let Some(database) = PostgresDatabase::create().await else {
        return;
    };
    let (_, upstream) = through(&database.url, 0);
    let proxy = Proxy::start(upstream).await;
    let (proxied_url, _) = through(&database.url, proxy.port);
    let mut writer = Replica::spawn(&database.url).await;
    let mut cut_off = Replica::spawn(&proxied_url).await;

    let admin = &mut writer.admin;
    let msp = world::tenant(admin, "msp", None, true).await;
    let cached = world::user(admin, &msp.id).await;
    let uncached = world::user(admin, &msp.id).await;
    let role = world::role(admin, &["computers.view"]).await;
    let owner = || world::scope(pb::scope::Kind::Owner(()));
    let grant = world::assign(admin, &role.id, &cached.id, owner(), pb::Effect::Allow).await;
    world::assign(admin, &role.id, &uncached.id, owner(), pb::Effect::Allow).await;
    // Warm the cache once this replica has applied every write.
    let settled = loop {
        let status = world::status(&mut cut_off.authz).await;
        if status.lag_revisions == 0 && status.applied_revision > 0 {
            break status;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let before = world::check(
        &mut cut_off.authz,
        &cached.id,
        "computers.view",
        &msp.id,
        settled.latest_revision,
    )
    .await
    .unwrap();
    assert_eq!(before, pb::Decision::Allowed);
    let status = world::status(&mut cut_off.authz).await;
    assert_eq!(
        status.cached_users, 1,
        "only the warmed user is cached: {status:?}"
    );

    proxy.cut().await;
    // Under load while the database is gone: the cached user is answered from the cache,
    // the uncached user is refused, never allowed.
    let mut checkers = JoinSet::new();
    for _ in 0..4 {
        let mut authz = cut_off.authz.clone();
        let (cached, uncached, tenant) = (cached.id.clone(), uncached.id.clone(), msp.id.clone());
        checkers.spawn(async move {
            let until = Instant::now() + Duration::from_secs(3);
            let mut answered = 0;
            while Instant::now() < until {
                let response = authz
                    .check_access(world::check_request(&cached, "computers.view", &tenant, 0))
                    .await
                    .unwrap()
                    .into_inner();
                assert_eq!(response.decision, pb::Decision::Allowed as i32);
                assert!(
                    response.revision >= 1,
                    "a cached answer reports the revision it is exact up to"
                );
                answered += 1;
                let refused = authz
                    .check_access(world::check_request(
                        &uncached,
                        "computers.view",
                        &tenant,
                        0,
                    ))
                    .await;
                assert_eq!(
                    refused.unwrap_err().code(),
                    Code::Unavailable,
                    "an uncached user fails closed"
                );
            }
            answered
        });
    }
    // Meanwhile the revoke is written through the replica that still has the database.
    let revoked = writer
        .admin
        .delete_role_assignment(as_admin(pb::DeleteRoleAssignmentRequest {
            assignment_id: grant.id.clone(),
            validate_only: false,
        }))
        .await
        .unwrap()
        .into_inner();
    let mut answered = 0;
    while let Some(count) = checkers.join_next().await {
        answered += count.unwrap();
    }
    assert!(answered > 0);
    let stale = cut_off
        .authz
        .check_access(world::check_request(
            &cached.id,
            "computers.view",
            &msp.id,
            revoked.revision,
        ))
        .await;
    assert_eq!(
        stale.unwrap_err().code(),
        Code::Unavailable,
        "a revision not reached is never answered"
    );
    let write = cut_off
        .admin
        .create_tag(as_admin(pb::CreateTagRequest {
            name: "during outage".into(),
            validate_only: false,
        }))
        .await;
    assert_eq!(write.unwrap_err().code(), Code::Unavailable);
    let status = world::status(&mut cut_off.authz).await;
    assert!(!status.database_reachable, "{status:?}");

    proxy.restore();
    // Pool connections come back within their acquire timeout; until then UNAVAILABLE.
    let deadline = Instant::now() + Duration::from_secs(30);
    let decision = loop {
        match world::check(
            &mut cut_off.authz,
            &cached.id,
            "computers.view",
            &msp.id,
            revoked.revision,
        )
        .await
        {
            Ok(decision) => break decision,
            Err(status) if status.code() == Code::Unavailable && Instant::now() < deadline => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(status) => panic!("no recovery: {status}"),
        }
    };
    assert_eq!(
        decision,
        pb::Decision::NotGranted,
        "no stale allow after the database returns"
    );
    let status = world::status(&mut cut_off.authz).await;
    assert!(
        status.database_reachable && status.lag_revisions == 0,
        "{status:?}"
    );
    drop((writer, cut_off));
    database.remove().await;
}
