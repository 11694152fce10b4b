//! The engine alone against the naive reference: random worlds (the plans of
//! `differential.rs`) are built straight into the engine's inputs, with no database and
//! no cache, and every user's decision on every permission and target must equal the
//! reference's. Thousands of worlds take seconds: the quick check of compile and decide.

use std::sync::Arc;

use proptest::prelude::*;
use rbac_sidecar::engine::{
    AccessFacts, AssignmentFacts, Decision, EffectiveAccess, RoleFacts, Target, TenantIndex,
    UserFacts, decide,
};
use rbac_sidecar::model::{
    AssignmentId, Effect, GroupId, Principal, ResourceRef, ResourceType, RoleId, TagId, Tenant,
    TenantId, UserId, catalogue,
};

use super::differential::{WorldPlan, permissions_of, pick, scope_in, world_plan};
use crate::support::reference::{POOL, RefTarget, Reference, SYSTEM};

/// The plan's world as the reference holds it (its changes are not applied).
fn reference_of(plan: &WorldPlan) -> Reference {
    let mut m = Reference {
        tags: (0..plan.tags).map(|_| TagId::random()).collect(),
        ..Reference::default()
    };
    for (index, (parent, msp, tag_mask)) in plan.tenants.iter().enumerate() {
        let parent = (index > 0).then(|| pick(*parent, index));
        let tags = (0..m.tags.len()).filter(|g| tag_mask & (1 << g) != 0);
        m.tenants.push((
            TenantId::random(),
            parent,
            index == 0 || *msp,
            tags.collect(),
        ));
    }
    for (tenant, disabled) in &plan.users {
        let tenant = pick(*tenant, m.tenants.len());
        m.users.push((UserId::random(), tenant, *disabled));
    }
    for mask in &plan.groups {
        let members = (0..m.users.len()).filter(|u| mask & (1 << u) != 0);
        m.groups.push((GroupId::random(), members.collect()));
    }
    for mask in &plan.roles {
        m.roles.push((RoleId::random(), permissions_of(*mask)));
    }
    for (index, (script, owner)) in plan.resources.iter().enumerate() {
        let kind = if *script {
            ResourceType::Script
        } else {
            ResourceType::Computer
        };
        let owner = (usize::from(*owner) % (m.tenants.len() + 1)).checked_sub(1);
        m.resources
            .push((ResourceRef::new(kind, &format!("res-{index}")), owner));
    }
    for a in &plan.assignments {
        let role = pick(a.role, m.roles.len());
        let principal = if a.principal % 2 == 1 && !m.groups.is_empty() {
            Principal::Group(m.groups[pick(a.principal / 2, m.groups.len())].0)
        } else {
            Principal::User(m.users[pick(a.principal / 2, m.users.len())].0)
        };
        let (_, scope) = scope_in(&m, &a.scope);
        m.assignments
            .push((AssignmentId::random(), role, principal, scope, a.deny));
    }
    m
}

/// The engine's inputs for the reference's world: its tenant tree, and each user's access
/// compiled from the facts storage would hold.
fn engine_of(m: &Reference, plan: &WorldPlan) -> (TenantIndex, Vec<EffectiveAccess>) {
    let tenants = TenantIndex::build(m.tenants.iter().map(|(id, parent, is_msp, tags)| Tenant {
        id: *id,
        name: String::new(),
        parent: parent.map(|p| m.tenants[p].0),
        is_msp: *is_msp,
        tags: tags.iter().map(|g| m.tags[*g]).collect(),
    }));
    let roles: Vec<Arc<RoleFacts>> = m
        .roles
        .iter()
        .map(|(id, keys)| {
            Arc::new(RoleFacts {
                id: *id,
                name: Arc::from("role"),
                permissions: keys.iter().map(|k| catalogue().id(k).unwrap()).collect(),
            })
        })
        .collect();
    let access = m
        .users
        .iter()
        .enumerate()
        .map(|(index, (id, tenant, disabled))| {
            let groups: Vec<GroupId> = m
                .groups
                .iter()
                .filter(|(_, members)| members.contains(&index))
                .map(|(g, _)| *g)
                .collect();
            let assignments = plan
                .assignments
                .iter()
                .zip(&m.assignments)
                .filter_map(|(a, (assignment, role, principal, _, deny))| {
                    let via_group = match principal {
                        Principal::User(user) if user == id => None,
                        Principal::Group(group) if groups.contains(group) => Some(*group),
                        _ => return None,
                    };
                    Some(AssignmentFacts {
                        id: *assignment,
                        role_id: m.roles[*role].0,
                        scope: scope_in(m, &a.scope).0,
                        effect: if *deny { Effect::Deny } else { Effect::Allow },
                        via_group,
                    })
                })
                .collect();
            AccessFacts {
                user: UserFacts {
                    id: *id,
                    tenant_id: m.tenants[*tenant].0,
                    azure_object_id: uuid::Uuid::new_v4(),
                    disabled: *disabled,
                    expires_at: None,
                },
                groups,
                roles: roles.clone(),
                assignments,
            }
            .compile()
        })
        .collect();
    (tenants, access)
}

/// Every target a check can name in the world, with the reference's name for it.
fn targets(m: &Reference) -> Vec<(Target, RefTarget)> {
    let tenants = m
        .tenants
        .iter()
        .enumerate()
        .map(|(t, (id, ..))| (Target::Tenant(*id), RefTarget::Tenant(t)));
    let resources = m
        .resources
        .iter()
        .enumerate()
        .map(|(r, (resource, owner))| {
            let target = Target::Resource {
                resource: resource.clone(),
                owner: owner.map(|t| m.tenants[t].0),
            };
            (target, RefTarget::Resource(r))
        });
    tenants.chain(resources).collect()
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: std::env::var("RBAC_ENGINE_CASES").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000),
        ..ProptestConfig::default()
    })]

    #[test]
    fn engine_decides_as_the_reference(plan in world_plan()) {
        let m = reference_of(&plan);
        let (tenants, access) = engine_of(&m, &plan);
        let targets = targets(&m);
        for (user, access) in access.iter().enumerate() {
            for key in POOL {
                let permission = catalogue().id(key).unwrap();
                let none = (key == SYSTEM).then_some((Target::None, RefTarget::None));
                for (target, ref_target) in targets.iter().cloned().chain(none) {
                    let expected = m.decide(user, key, ref_target);
                    for explain in [false, true] {
                        let verdict = decide(Some(access), permission, &target, &tenants, 0, explain)
                            .map(|v| v.decision);
                        prop_assert_eq!(
                            verdict.as_ref().ok(),
                            Some(&expected),
                            "user {} `{}` on {:?} (explain {}): {:?}",
                            user, key, target, explain, verdict
                        );
                    }
                }
            }
        }
        let unknown = decide(None, catalogue().id(SYSTEM).unwrap(), &Target::None, &tenants, 0, false);
        prop_assert_eq!(unknown.map(|v| v.decision).ok(), Some(Decision::UserInactive), "an unknown user holds nothing");
    }
}
