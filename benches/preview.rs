//! Previews (`validate_only`) at the target scale (10,000 tenants, 100,000 users,
//! 1,000,000 assignments): a role edit reaching 1,000 users through 20 groups, at the
//! Owner scope (every tenant); and a single assignment to one user at one tenant.
//! Prints one table per database; timing is measured, never asserted.
//!
//! `cargo bench --bench preview` (SQLite; with `RBAC_BENCH_POSTGRES_URL=postgres://...`
//! also PostgreSQL, in a database created and dropped for the run).

// A measuring program: it stops with a message when the world cannot be built.
#![allow(clippy::expect_used)]

use std::time::{Duration, Instant};

mod support;

use rbac_sidecar::admin::{NewAssignment, NewGroup, NewRole, RoleUpdate};
use rbac_sidecar::dataset::Xorshift;
use rbac_sidecar::model::{Effect, Principal, Scope};

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1000.0)
}

async fn measure(name: &str, url: &str) {
    println!("\n## {name}");
    let dataset = support::target_scale_dataset(url).await;
    let server = support::server(url).await;
    let admin = &server.admin;
    let root = support::administrator(&server).await;
    let mut random = Xorshift(0x9e37);

    // A role held by 1,000 users through 20 groups of 50, over every tenant.
    let new = NewRole {
        name: "edited".into(),
        description: String::new(),
        owner: None,
        permissions: vec!["computers.view".into()],
    };
    let (role, _, _) = admin.create_role(&root, new).await.expect("role");
    for g in 0..20 {
        let new = NewGroup {
            name: format!("reached {g}"),
            description: String::new(),
            owner: None,
        };
        let (group, _) = admin.create_group(&root, new).await.expect("group");
        for u in 0..50 {
            let user = dataset.users[g * 50 + u];
            admin
                .set_group_member(&root, group.id, user, true)
                .await
                .expect("member");
        }
        let assignment = NewAssignment {
            role_id: role.id,
            principal: Principal::Group(group.id),
            scope: Scope::Owner,
            effect: Effect::Allow,
        };
        admin
            .create_assignment(&root, assignment)
            .await
            .expect("assignment");
    }
    // Adding a permission most of them lack (changes found at once), and one no user of a
    // non-MSP tenant can be granted (msp_only: almost nothing changes, every target of
    // every user is decided again).
    for (what, added) in [
        ("a permission they lack", "scripts.manage"),
        ("an msp_only permission (few changes)", "tenants.manage"),
    ] {
        let mut times = Vec::new();
        let mut last = None;
        for _ in 0..5 {
            let edit = RoleUpdate {
                role_id: role.id,
                name: "edited".into(),
                description: String::new(),
                permissions: vec!["computers.view".into(), added.into()],
            };
            let previewing = root.clone().previewing();
            let started = Instant::now();
            admin.update_role(&previewing, edit).await.expect("preview");
            times.push(started.elapsed());
            last = previewing.preview();
        }
        times.sort();
        let preview = last.expect("a preview");
        println!(
            "role edit reaching 1,000 users over every tenant, adding {what}: median {}, max {} ({} users affected, {} changes listed, truncated: {})",
            ms(times[times.len() / 2]),
            ms(times[times.len() - 1]),
            preview.users_affected,
            preview.changes.len(),
            preview.truncated
        );
    }

    // One assignment to one user at one tenant, previewed 200 times.
    let mut times = Vec::new();
    for _ in 0..200 {
        let user = dataset.users[random.below(dataset.users.len())];
        let tenant = dataset.tenants[random.below(dataset.tenants.len())];
        let assignment = NewAssignment {
            role_id: role.id,
            principal: Principal::User(user),
            scope: Scope::Tenant(tenant),
            effect: Effect::Allow,
        };
        let previewing = root.clone().previewing();
        let started = Instant::now();
        admin
            .create_assignment(&previewing, assignment)
            .await
            .expect("preview");
        times.push(started.elapsed());
    }
    times.sort();
    println!(
        "single assignment (one user, one tenant), 200 previews: p50 {}, p99 {}, max {}",
        ms(support::percentile(&times, 0.5)),
        ms(support::percentile(&times, 0.99)),
        ms(times[times.len() - 1])
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
        support::on_postgres(async |url| measure("PostgreSQL", &url).await).await;
    });
}
