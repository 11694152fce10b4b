//! A wide tenant tree (100,000 tenants): how long a CreateTenant takes on the replica
//! that writes it, and how long another replica takes to apply it from the change log.
//! Prints one table per database; timing is measured, never asserted.
//!
//! `cargo bench --bench tenant_tree` (SQLite; with `RBAC_BENCH_POSTGRES_URL=postgres://...`
//! also PostgreSQL, in a database created and dropped for the run).

// A measuring program: it stops with a message when the world cannot be built.
#![allow(clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use rbac_sidecar::admin::{ActorRef, NewTenant};
use rbac_sidecar::cache::{AccessCache, CacheConfig};
use rbac_sidecar::config::ServeConfig;
use rbac_sidecar::server::Server;
use rbac_sidecar::store::{DatasetSpec, Store};
use sea_orm::{ConnectionTrait, Database};

const TENANTS: usize = 100_000;
const WRITES: usize = 500;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}

fn summary(samples: &mut [Duration]) -> String {
    samples.sort();
    let ms = |d: Duration| format!("{:.2} ms", d.as_secs_f64() * 1000.0);
    format!(
        "p50 {}, p99 {}, max {}",
        ms(percentile(samples, 0.5)),
        ms(percentile(samples, 0.99)),
        ms(*samples.last().expect("samples"))
    )
}

async fn measure(name: &str, url: &str) {
    println!("\n## {name}");
    let spec = DatasetSpec {
        msps: 200,
        tenants: TENANTS,
        users: 1_000,
        groups: 10,
        assignments: 10_000,
        ..DatasetSpec::target_scale()
    };
    let started = Instant::now();
    let dataset = Store::open(url)
        .await
        .expect("open")
        .generate_dataset(&spec)
        .await
        .expect("dataset");
    println!(
        "dataset ({TENANTS} tenants): {:.1} s",
        started.elapsed().as_secs_f64()
    );

    let server = Server::start(&ServeConfig::new(
        "127.0.0.1:0".parse().expect("address"),
        url,
    ))
    .await
    .expect("start");
    let admin_user = server
        .admin
        .bootstrap(uuid::Uuid::new_v4())
        .await
        .expect("bootstrap")
        .expect("a new administrator");
    let actor = server
        .admin
        .actor(ActorRef::User(admin_user.id), "CreateTenant")
        .await
        .expect("actor");
    // The other replica: its own connections and cache, caught up by hand so that each
    // apply is timed alone (no follower runs for it).
    let replica = AccessCache::load(
        Arc::new(Store::open(url).await.expect("open replica")),
        &CacheConfig::default(),
    )
    .await
    .expect("replica cache");
    replica.catch_up().await.expect("catch up");

    let (mut writes, mut applies) = (Vec::new(), Vec::new());
    for i in 0..WRITES {
        let parent = dataset.tenants[(i * 7919) % dataset.tenants.len()];
        let started = Instant::now();
        let (tenant, revision) = server
            .admin
            .create_tenant(
                &actor,
                NewTenant {
                    name: format!("bench tenant {i}"),
                    parent: Some(parent),
                    is_msp: false,
                },
            )
            .await
            .expect("create tenant");
        writes.push(started.elapsed());
        let started = Instant::now();
        replica.catch_up().await.expect("replica applies");
        applies.push(started.elapsed());
        assert!(replica.applied_revision() >= revision);
        assert!(replica.tenants().contains(tenant.id), "the replica has it");
    }
    println!("CreateTenant, {WRITES} writes: {}", summary(&mut writes));
    println!(
        "another replica applying each (read the log, load, update its index): {}",
        summary(&mut applies)
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("tree.db").display());
        measure("SQLite (embedded)", &url).await;

        if let Ok(base) = std::env::var("RBAC_BENCH_POSTGRES_URL") {
            let name = format!("rbac_bench_{}", uuid::Uuid::new_v4().simple());
            let admin = Database::connect(&base).await.expect("connect");
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await
                .expect("create");
            let (prefix, _) = base.rsplit_once('/').expect("URL names a database");
            measure("PostgreSQL", &format!("{prefix}/{name}")).await;
            admin
                .execute_unprepared(&format!("DROP DATABASE {name} WITH (FORCE)"))
                .await
                .expect("drop");
        }
    });
}
