//! A wide tenant tree (100,000 tenants): how long a CreateTenant takes on the replica
//! that writes it, and how long another replica takes to apply it from the change log;
//! then how far a following replica lags under a burst of writes from four writers.
//! Prints one table per database; timing is measured, never asserted.
//!
//! `cargo bench --bench tenant_tree` (SQLite; with `RBAC_BENCH_POSTGRES_URL=postgres://...`
//! also PostgreSQL, in a database created and dropped for the run).

// A measuring program: it stops with a message when the world cannot be built.
#![allow(clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, Instant};

mod support;

use rbac_sidecar::admin::NewTenant;
use rbac_sidecar::cache::{AccessCache, CacheConfig};
use rbac_sidecar::dataset::DatasetSpec;
use rbac_sidecar::store::Store;

const TENANTS: usize = 100_000;
const WRITES: usize = 500;
const BURST: Duration = Duration::from_secs(20);

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

    let server = support::server(url).await;
    let actor = support::administrator(&server).await;
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

/// Four writers create tenants through one replica for `BURST`; every 50 ms the newest
/// revision is read and the time until another replica (a whole server, following the
/// log as in production) has applied it is recorded.
async fn follower_under_a_burst(name: &str, url: &str) {
    let server = Arc::new(support::server(url).await);
    let follower = support::server(url).await;
    let actor = support::administrator(&server).await;
    let until = Instant::now() + BURST;
    let first = server.cache.applied_revision();
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..4 {
        let (server, actor) = (Arc::clone(&server), actor.clone());
        writers.spawn(async move {
            let mut i = 0;
            while Instant::now() < until {
                let tenant = NewTenant {
                    name: format!("burst {writer}-{i}"),
                    parent: None,
                    is_msp: false,
                };
                server
                    .admin
                    .create_tenant(&actor, tenant)
                    .await
                    .expect("create");
                i += 1;
            }
        });
    }
    let mut lags = Vec::new();
    while Instant::now() < until {
        let newest = server.store.max_revision().await.expect("newest");
        let started = Instant::now();
        while follower.cache.applied_revision() < newest {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        lags.push(started.elapsed());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    while writers.join_next().await.is_some() {}
    let written = server.cache.applied_revision() - first;
    println!(
        "{name}: {written} CreateTenant in {} s from 4 writers; the other replica's lag behind the newest revision: {}",
        BURST.as_secs(),
        summary(&mut lags)
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
        let burst = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("burst.db").display()
        );
        follower_under_a_burst("SQLite (embedded)", &burst).await;

        support::on_postgres(async |url| {
            measure("PostgreSQL", &url).await;
            follower_under_a_burst("PostgreSQL", &url).await;
        })
        .await;
    });
}
