//! What the service benches share: a server on a database with an administrator, and a
//! PostgreSQL database created and dropped for a run.

use std::time::{Duration, Instant};

use rbac_sidecar::admin::{Actor, ActorRef};
use rbac_sidecar::config::ServeConfig;
use rbac_sidecar::dataset::{Dataset, DatasetSpec};
use rbac_sidecar::model::Action;
use rbac_sidecar::server::Server;
use rbac_sidecar::store::Store;
use sea_orm::{ConnectionTrait, Database};

/// A server on `url` (follower running, no port served).
pub async fn server(url: &str) -> Server {
    Server::start(&ServeConfig::new(
        "127.0.0.1:0".parse().expect("address"),
        url,
    ))
    .await
    .expect("start")
}

/// A new bootstrap administrator of `server`, as an actor.
#[allow(dead_code, reason = "each bench uses part of this module")]
pub async fn administrator(server: &Server) -> Actor {
    let user = server
        .admin
        .bootstrap(uuid::Uuid::new_v4())
        .await
        .expect("bootstrap")
        .expect("a new administrator");
    server
        .admin
        .actor(ActorRef::User(user.id), Action::GetMyAccess)
        .await
        .expect("actor")
}

/// Runs `measure` on a database created on the server of `RBAC_BENCH_POSTGRES_URL` (when
/// set), then drops it.
pub async fn on_postgres<F: Future<Output = ()>>(measure: impl FnOnce(String) -> F) {
    let Ok(base) = std::env::var("RBAC_BENCH_POSTGRES_URL") else {
        return;
    };
    let name = format!("rbac_bench_{}", uuid::Uuid::new_v4().simple());
    let admin = Database::connect(&base).await.expect("connect");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create");
    let (prefix, _) = base.rsplit_once('/').expect("URL names a database");
    measure(format!("{prefix}/{name}")).await;
    admin
        .execute_unprepared(&format!("DROP DATABASE {name} WITH (FORCE)"))
        .await
        .expect("drop");
}

/// The target-scale dataset written to `url`, its time printed.
#[allow(dead_code, reason = "each bench uses part of this module")]
pub async fn target_scale_dataset(url: &str) -> Dataset {
    let spec = DatasetSpec::target_scale();
    let started = Instant::now();
    let store = Store::open(url).await.expect("open");
    let dataset = store.generate_dataset(&spec).await.expect("dataset");
    println!(
        "dataset ({} tenants, {} users, {} assignments): {:.1} s",
        spec.tenants,
        spec.users,
        spec.assignments,
        started.elapsed().as_secs_f64()
    );
    dataset
}

/// The `p` quantile of sorted durations.
#[allow(dead_code, reason = "each bench uses part of this module")]
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index.min(sorted.len() - 1)]
}
