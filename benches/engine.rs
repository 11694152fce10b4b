//! The engine on a warm cache: one check for a user with 50 assignments through 10
//! groups among 10,000 tenants, compiling effective access, and casbin-rs (RBAC with
//! domains, deny-override) deciding the same questions on an equivalent policy.
//!
//! `cargo bench --bench engine`

// A measuring program: it stops with a message when the world cannot be built.
#![allow(clippy::expect_used)]

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;

use casbin::prelude::*;
use criterion::{Criterion, criterion_group, criterion_main};
use rbac_sidecar::dataset::Xorshift;
use rbac_sidecar::engine::{
    AssignmentFacts, Decision, EffectiveAccess, RoleFacts, Target, TenantIndex, UserFacts, decide,
};
use rbac_sidecar::model::{
    AssignmentId, Effect, GroupId, PermissionId, RoleId, Scope, TagId, Tenant, TenantId, UserId,
    catalogue, unix_now,
};

const MSPS: usize = 20;
const TENANTS: usize = 10_000;
const TAGS: usize = 50;
const ROLES: usize = 10;
const GROUPS: usize = 10;
const ASSIGNMENTS: usize = 50;

/// The world: 20 MSPs with 499 customers each, tags on a fifth of them, one user
/// holding 50 assignments through 10 groups at mixed scopes (a tenth of them denies).
struct World {
    tenants: TenantIndex,
    tenant_ids: Vec<TenantId>,
    access: EffectiveAccess,
    roles: Vec<Arc<RoleFacts>>,
    assignments: Vec<AssignmentFacts>,
    queries: Vec<(PermissionId, TenantId)>,
}

fn world() -> World {
    let mut random = Xorshift(0x5eed_1234_abcd_ef01);
    let tags: Vec<TagId> = (0..TAGS).map(|_| TagId::random()).collect();
    let mut tenants = Vec::with_capacity(TENANTS);
    for m in 0..MSPS {
        let msp = TenantId::random();
        tenants.push(Tenant {
            id: msp,
            name: format!("msp{m}"),
            parent: None,
            is_msp: true,
            tags: vec![],
        });
        for c in 1..TENANTS / MSPS {
            let tags = if random.below(5) == 0 {
                vec![tags[random.below(TAGS)]]
            } else {
                vec![]
            };
            tenants.push(Tenant {
                id: TenantId::random(),
                name: format!("c{m}-{c}"),
                parent: Some(msp),
                is_msp: false,
                tags,
            });
        }
    }
    let tenant_ids: Vec<TenantId> = tenants.iter().map(|t| t.id).collect();
    let index = TenantIndex::build(tenants);
    let keys: Vec<PermissionId> = catalogue()
        .permissions()
        .iter()
        .filter(|p| !p.system && !p.msp_only)
        .filter_map(|p| catalogue().id(&p.key))
        .collect();
    let roles: Vec<Arc<RoleFacts>> = (0..ROLES)
        .map(|r| {
            Arc::new(RoleFacts {
                id: RoleId::random(),
                name: Arc::from(format!("role {r}").as_str()),
                permissions: (0..20).map(|_| keys[random.below(keys.len())]).collect(),
            })
        })
        .collect();
    let groups: Vec<GroupId> = (0..GROUPS).map(|_| GroupId::random()).collect();
    let assignments: Vec<AssignmentFacts> = (0..ASSIGNMENTS)
        .map(|a| {
            let scope = match random.below(20) {
                0 => Scope::Owner,
                1..=4 => Scope::Msp(tenant_ids[random.below(MSPS) * (TENANTS / MSPS)]),
                5..=6 => Scope::TenantTag(tags[random.below(TAGS)]),
                _ => Scope::Tenant(tenant_ids[random.below(TENANTS)]),
            };
            AssignmentFacts {
                id: AssignmentId::random(),
                role_id: roles[random.below(ROLES)].id,
                scope,
                effect: if a % 10 == 9 {
                    Effect::Deny
                } else {
                    Effect::Allow
                },
                via_group: Some(groups[a % GROUPS]),
            }
        })
        .collect();
    let user = UserFacts {
        id: UserId::random(),
        tenant_id: tenant_ids[0],
        azure_object_id: uuid::Uuid::new_v4(),
        disabled: false,
        expires_at: None,
    };
    let access = EffectiveAccess::compile(user, groups, roles.clone(), assignments.clone());
    let queries = (0..4096)
        .map(|_| {
            (
                keys[random.below(keys.len())],
                tenant_ids[random.below(TENANTS)],
            )
        })
        .collect();
    World {
        tenants: index,
        tenant_ids,
        access,
        roles,
        assignments,
        queries,
    }
}

const MODEL: &str = r#"
[request_definition]
r = sub, dom, act

[policy_definition]
p = sub, act, eft

[role_definition]
g = _, _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = g(r.sub, p.sub, r.dom) && r.act == p.act
"#;

/// The same policy for casbin: casbin has no tenant tree or tags, so each assignment
/// becomes one grouping line per tenant its scope covers today (the equivalent policy),
/// and each role is split into an allow role and a deny role.
async fn casbin_enforcer(world: &World) -> Enforcer {
    let model = DefaultModel::from_str(MODEL).await.expect("casbin model");
    let mut enforcer = Enforcer::new(model, MemoryAdapter::default())
        .await
        .expect("enforcer");
    let mut policies = Vec::new();
    for role in &world.roles {
        for permission in role.permissions.iter() {
            let key = catalogue().get(permission).key.clone();
            policies.push(vec![
                format!("{}:allow", role.id),
                key.clone(),
                "allow".to_owned(),
            ]);
            policies.push(vec![format!("{}:deny", role.id), key, "deny".to_owned()]);
        }
    }
    enforcer.add_policies(policies).await.expect("policies");
    let user = world.access.user_id().to_string();
    let mut groupings = Vec::new();
    for a in &world.assignments {
        let role = format!(
            "{}:{}",
            a.role_id,
            if a.effect == Effect::Allow {
                "allow"
            } else {
                "deny"
            }
        );
        for tenant in &world.tenant_ids {
            let covered = match &a.scope {
                Scope::Owner => true,
                Scope::Msp(m) => world.tenants.is_within(*tenant, *m),
                Scope::Tenant(t) => t == tenant,
                Scope::TenantTag(g) => world
                    .tenants
                    .get(*tenant)
                    .is_some_and(|n| n.tags.contains(g)),
                _ => false,
            };
            if covered {
                groupings.push(vec![user.clone(), role.clone(), tenant.to_string()]);
            }
        }
    }
    groupings.sort();
    groupings.dedup();
    enforcer
        .add_grouping_policies(groupings)
        .await
        .expect("groupings");
    enforcer
}

fn benches(c: &mut Criterion) {
    let world = world();
    let now = unix_now();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let enforcer = runtime.block_on(casbin_enforcer(&world));

    // Both engines must give the same answers before either is timed.
    let user = world.access.user_id().to_string();
    let mut allowed = 0;
    let mut by_casbin: HashMap<bool, usize> = HashMap::new();
    for (permission, tenant) in &world.queries[..1024] {
        let ours = decide(
            Some(&world.access),
            *permission,
            &Target::Tenant(*tenant),
            &world.tenants,
            now,
            false,
        )
        .expect("decide")
        .decision
            == Decision::Allowed;
        let key = &catalogue().get(*permission).key;
        let theirs = enforcer
            .enforce((user.as_str(), tenant.to_string().as_str(), key.as_str()))
            .expect("enforce");
        assert_eq!(ours, theirs, "{key} on {tenant}");
        allowed += usize::from(ours);
        *by_casbin.entry(theirs).or_default() += 1;
    }
    assert!(
        allowed > 0 && allowed < 1024,
        "the sample must hold both answers: {allowed} allowed"
    );

    let mut group = c.benchmark_group("check (50 assignments via 10 groups, 10,000 tenants)");
    let mut next = 0;
    group.bench_function("rbac-sidecar engine", |b| {
        b.iter(|| {
            next = (next + 1) % world.queries.len();
            let (permission, tenant) = world.queries[next];
            black_box(
                decide(
                    Some(&world.access),
                    permission,
                    &Target::Tenant(tenant),
                    &world.tenants,
                    now,
                    false,
                )
                .ok(),
            )
        })
    });
    let casbin_queries: Vec<(String, String)> = world
        .queries
        .iter()
        .map(|(p, t)| (t.to_string(), catalogue().get(*p).key.clone()))
        .collect();
    group.bench_function("casbin-rs (RBAC with domains, deny-override)", |b| {
        b.iter(|| {
            next = (next + 1) % casbin_queries.len();
            let (tenant, key) = &casbin_queries[next];
            black_box(
                enforcer
                    .enforce((user.as_str(), tenant.as_str(), key.as_str()))
                    .ok(),
            )
        })
    });
    group.finish();

    c.bench_function("compile effective access (50 assignments, 10 roles)", |b| {
        b.iter(|| {
            black_box(EffectiveAccess::compile(
                world.access.user.clone(),
                world.access.groups.clone(),
                world.roles.clone(),
                world.assignments.clone(),
            ))
        })
    });
}

criterion_group!(engine, benches);
criterion_main!(engine);
