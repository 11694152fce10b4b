//! The service at the target scale (10,000 tenants, 100,000 users, 1,000,000
//! assignments): dataset generation, start-up, cold checks (cache miss: load and flatten
//! from the database) and warm checks through the cache; then memory per cached user.
//! Prints one table per database; timing is measured, never asserted.
//!
//! `cargo bench --bench service` (SQLite; with `RBAC_BENCH_POSTGRES_URL=postgres://...`
//! also PostgreSQL, in a database created and dropped for the run).

// A measuring program: it stops with a message when the world cannot be built.
#![allow(clippy::expect_used)]

use std::alloc::System;
use std::time::{Duration, Instant};

mod support;

use cap::Cap;
use rbac_sidecar::data_plane::{CheckRequest, Subject, TargetRef};
use rbac_sidecar::dataset::DatasetSpec;
use rbac_sidecar::model::catalogue;
use rbac_sidecar::store::Store;

#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

fn ms(d: Duration) -> String {
    format!("{:.3} ms", d.as_secs_f64() * 1000.0)
}

async fn measure(name: &str, url: &str) {
    println!("\n## {name}");
    let dataset = support::target_scale_dataset(url).await;

    let started = Instant::now();
    let server = support::server(url).await;
    println!(
        "start-up to serving (migrations checked, indexes loaded): {}",
        ms(started.elapsed())
    );

    let permission = catalogue().id("computers.view").expect("key");
    let request = |user, tenant| CheckRequest {
        subject: Subject::User(user),
        permission,
        target: TargetRef::Tenant(tenant),
        explain: false,
        min_revision: 0,
    };

    // Cold: every check is the first for its user.
    let mut cold = Vec::new();
    for (i, user) in dataset.users.iter().take(2_000).enumerate() {
        let tenant = dataset.tenants[(i * 7919) % dataset.tenants.len()];
        let started = Instant::now();
        server
            .checker
            .check(&request(*user, tenant))
            .await
            .expect("cold check");
        cold.push(started.elapsed());
    }
    cold.sort();
    println!(
        "cold check (cache miss), 2,000 users: p50 {}, p99 {}, max {}",
        ms(support::percentile(&cold, 0.5)),
        ms(support::percentile(&cold, 0.99)),
        ms(*cold.last().expect("samples"))
    );

    // Warm: the same user again and again, through the cache and the engine.
    let (user, tenant) = (dataset.users[0], dataset.tenants[1]);
    let warm_request = request(user, tenant);
    server.checker.check(&warm_request).await.expect("warm up");
    let rounds = 200_000;
    let started = Instant::now();
    for _ in 0..rounds {
        std::hint::black_box(
            server
                .checker
                .check(&warm_request)
                .await
                .expect("warm check"),
        );
    }
    println!(
        "warm check through the cache: {:.0} ns",
        started.elapsed().as_nanos() as f64 / f64::from(rounds)
    );
}

/// What cached users hold, measured as what dropping them frees (so buffers the
/// database client keeps after loading are not counted): 10,000 users with about 20
/// assignments each (19 direct, one group's).
async fn memory_per_cached_user(dir: &std::path::Path) {
    let url = format!("sqlite://{}?mode=rwc", dir.join("memory.db").display());
    let spec = DatasetSpec {
        users: 10_000,
        groups: 100,
        members_per_group: 50,
        assignments: 190_200,
        ..DatasetSpec::target_scale()
    };
    let dataset = Store::open(&url)
        .await
        .expect("open")
        .generate_dataset(&spec)
        .await
        .expect("dataset");
    let server = support::server(&url).await;
    let mut grants = 0;
    for user in &dataset.users {
        grants += server
            .cache
            .access(*user)
            .await
            .expect("load")
            .map_or(0, |a| a.grants.len());
    }
    let cached = server.cache.cached_users();
    let with_entries = ALLOCATOR.allocated();
    server.cache.invalidate_all();
    server.cache.cached_users();
    let without = ALLOCATOR.allocated();
    println!(
        "\nmemory per cached user: {} bytes (average {:.1} assignments each, over {cached} cached users)",
        with_entries.saturating_sub(without) / usize::try_from(cached.max(1)).expect("count"),
        grants as f64 / dataset.users.len() as f64
    );
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let dir = tempfile::tempdir().expect("temporary directory");
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("bench.db").display()
        );
        measure("SQLite (embedded)", &url).await;
        memory_per_cached_user(dir.path()).await;

        support::on_postgres(async |url| measure("PostgreSQL", &url).await).await;
    });
}
