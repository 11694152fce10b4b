//! A bounded soak on loopback: concurrent writers and checkers across three replicas
//! (60 s, or `RBAC_SOAK_SECONDS`); afterwards every replica agrees with the naive
//! reference on every user, permission and tenant.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rbac_sidecar::api::pb::rbac::v1 as pb;
use rbac_sidecar::dataset::Xorshift;
use rbac_sidecar::engine::Decision;
use rbac_sidecar::model::{AssignmentId, GroupId, Principal, RoleId, TagId, TenantId, UserId};
use tokio::task::JoinSet;

use crate::support::reference::{POOL, RefScope, RefTarget, Reference, SYSTEM};
use crate::support::{self, PostgresDatabase, as_admin, world};

/// One write that committed, with what the reference needs to replay it.
#[derive(Clone, Debug)]
enum Op {
    Member(usize, usize, bool),
    Tag(usize, usize, bool),
    RolePermissions(usize, BTreeSet<&'static str>),
    Assign(AssignmentId, usize, Principal, RefScope, bool),
    Unassign(AssignmentId),
    Disable(usize, bool),
}

fn seconds() -> u64 {
    std::env::var("RBAC_SOAK_SECONDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(60)
}

fn uuid(id: &str) -> uuid::Uuid {
    id.parse().unwrap()
}

fn ref_scope_to_pb(model: &Reference, scope: &RefScope) -> Option<pb::Scope> {
    use pb::scope::Kind;
    world::scope(match scope {
        RefScope::Owner => Kind::Owner(()),
        RefScope::Msp(t) => Kind::MspTenantId(model.tenants[*t].0.to_string()),
        RefScope::Tenant(t) => Kind::TenantId(model.tenants[*t].0.to_string()),
        RefScope::Tag(g) => Kind::TenantTagId(model.tags[*g].to_string()),
        RefScope::UsersTenant | RefScope::Resource(_) => Kind::UsersTenant(()),
    })
}

/// Performs one random write through `admin`; returns it with its revision, or None when
/// it was refused (e.g. an assignment another writer already deleted).
async fn random_write(
    admin: &mut world::Admin,
    model: &Reference,
    live: &Mutex<Vec<AssignmentId>>,
    random: &mut Xorshift,
) -> Option<(u64, Op)> {
    let user = random.below(model.users.len());
    let revision_of = |r: Result<u64, tonic::Status>| r.ok();
    match random.below(6) {
        0 => {
            let (g, on) = (random.below(model.groups.len()), random.below(2) == 0);
            let (group_id, user_id) = (
                model.groups[g].0.to_string(),
                model.users[user].0.to_string(),
            );
            let revision = if on {
                revision_of(
                    admin
                        .add_group_member(as_admin(pb::AddGroupMemberRequest {
                            group_id,
                            user_id,
                            validate_only: false,
                        }))
                        .await
                        .map(|r| r.into_inner().revision),
                )
            } else {
                revision_of(
                    admin
                        .remove_group_member(as_admin(pb::RemoveGroupMemberRequest {
                            group_id,
                            user_id,
                            validate_only: false,
                        }))
                        .await
                        .map(|r| r.into_inner().revision),
                )
            };
            revision.map(|r| (r, Op::Member(g, user, on)))
        }
        1 => {
            let (t, g, on) = (
                random.below(model.tenants.len()),
                random.below(model.tags.len()),
                random.below(2) == 0,
            );
            let (tenant_id, tag_id) = (model.tenants[t].0.to_string(), model.tags[g].to_string());
            let revision = if on {
                revision_of(
                    admin
                        .add_tenant_tag(as_admin(pb::AddTenantTagRequest {
                            tenant_id,
                            tag_id,
                            validate_only: false,
                        }))
                        .await
                        .map(|r| r.into_inner().revision),
                )
            } else {
                revision_of(
                    admin
                        .remove_tenant_tag(as_admin(pb::RemoveTenantTagRequest {
                            tenant_id,
                            tag_id,
                            validate_only: false,
                        }))
                        .await
                        .map(|r| r.into_inner().revision),
                )
            };
            revision.map(|r| (r, Op::Tag(t, g, on)))
        }
        2 => {
            let r = random.below(model.roles.len());
            let permissions: BTreeSet<&'static str> = POOL
                .iter()
                .copied()
                .filter(|_| random.below(2) == 0)
                .collect();
            let request = pb::UpdateRoleRequest {
                role_id: model.roles[r].0.to_string(),
                name: format!("role {r}"),
                description: String::new(),
                permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
                validate_only: false,
            };
            let revision = revision_of(
                admin
                    .update_role(as_admin(request))
                    .await
                    .map(|r| r.into_inner().revision),
            );
            revision.map(|rev| (rev, Op::RolePermissions(r, permissions)))
        }
        3 => {
            let role = random.below(model.roles.len());
            let principal = if random.below(2) == 0 {
                Principal::User(model.users[user].0)
            } else {
                Principal::Group(model.groups[random.below(model.groups.len())].0)
            };
            let scope = match random.below(5) {
                0 => RefScope::Owner,
                1 => RefScope::Msp(0),
                2 => RefScope::Tenant(random.below(model.tenants.len())),
                3 => RefScope::Tag(random.below(model.tags.len())),
                _ => RefScope::UsersTenant,
            };
            let deny = random.below(4) == 0;
            let request = pb::CreateRoleAssignmentRequest {
                role_id: model.roles[role].0.to_string(),
                principal: Some(pb::Principal {
                    kind: Some(match principal {
                        Principal::User(id) => pb::principal::Kind::UserId(id.to_string()),
                        Principal::Group(id) => pb::principal::Kind::GroupId(id.to_string()),
                    }),
                }),
                scope: ref_scope_to_pb(model, &scope),
                effect: if deny {
                    pb::Effect::Deny as i32
                } else {
                    pb::Effect::Allow as i32
                },
                validate_only: false,
            };
            let created = admin
                .create_role_assignment(as_admin(request))
                .await
                .ok()?
                .into_inner();
            let id = AssignmentId(uuid(&created.id));
            live.lock().unwrap().push(id);
            Some((
                created.revision,
                Op::Assign(id, role, principal, scope, deny),
            ))
        }
        4 => {
            let id = {
                let mut live = live.lock().unwrap();
                if live.is_empty() {
                    return None;
                }
                let index = random.below(live.len());
                live.swap_remove(index)
            };
            let request = pb::DeleteRoleAssignmentRequest {
                assignment_id: id.to_string(),
                validate_only: false,
            };
            let revision = revision_of(
                admin
                    .delete_role_assignment(as_admin(request))
                    .await
                    .map(|r| r.into_inner().revision),
            );
            revision.map(|r| (r, Op::Unassign(id)))
        }
        _ => {
            let disabled = random.below(4) == 0;
            let request = pb::SetUserDisabledRequest {
                user_id: model.users[user].0.to_string(),
                disabled,
                validate_only: false,
            };
            let revision = revision_of(
                admin
                    .set_user_disabled(as_admin(request))
                    .await
                    .map(|r| r.into_inner().revision),
            );
            revision.map(|r| (r, Op::Disable(user, disabled)))
        }
    }
}

fn replay(model: &mut Reference, op: Op) {
    match op {
        Op::Member(g, u, on) => {
            if on {
                model.groups[g].1.insert(u);
            } else {
                model.groups[g].1.remove(&u);
            }
        }
        Op::Tag(t, g, on) => {
            if on {
                model.tenants[t].3.insert(g);
            } else {
                model.tenants[t].3.remove(&g);
            }
        }
        Op::RolePermissions(r, permissions) => model.roles[r].1 = permissions,
        Op::Assign(id, role, principal, scope, deny) => {
            model.assignments.push((id, role, principal, scope, deny))
        }
        Op::Unassign(id) => model.assignments.retain(|a| a.0 != id),
        Op::Disable(u, disabled) => model.users[u].2 = disabled,
    }
}

#[tokio::test]
async fn replicas_agree_with_the_reference_after_concurrent_writes_and_checks() {
    let _alone = crate::support::SERIAL.lock().await;
    let Some(database) = PostgresDatabase::create().await else {
        return;
    };
    let mut replicas = support::replicas(&database.url, 3).await;

    // The fixed part of the world: tenants, tags, users, groups, roles.
    let admin = &mut replicas[0].admin.clone();
    let mut model = Reference::default();
    let msp = world::tenant(admin, "msp", None, true).await;
    model
        .tenants
        .push((TenantId(uuid(&msp.id)), None, true, BTreeSet::new()));
    for (name, parent) in [("a", 0), ("b", 0), ("a-branch", 1)] {
        let parent_id = model.tenants[parent].0.to_string();
        let tenant = world::tenant(admin, name, Some(&parent_id), false).await;
        model.tenants.push((
            TenantId(uuid(&tenant.id)),
            Some(parent),
            false,
            BTreeSet::new(),
        ));
    }
    for name in ["managed", "vip"] {
        let tag = admin
            .create_tag(as_admin(pb::CreateTagRequest {
                name: name.into(),
                validate_only: false,
            }))
            .await
            .unwrap()
            .into_inner();
        model.tags.push(TagId(uuid(&tag.id)));
    }
    for t in [0, 1, 2, 3, 0] {
        let user = world::user(admin, &model.tenants[t].0.to_string()).await;
        model.users.push((UserId(uuid(&user.id)), t, false));
    }
    for name in ["helpdesk", "restricted"] {
        let request = pb::CreateGroupRequest {
            name: name.into(),
            description: String::new(),
            owner_tenant_id: None,
            validate_only: false,
        };
        let group = admin
            .create_group(as_admin(request))
            .await
            .unwrap()
            .into_inner();
        model
            .groups
            .push((GroupId(uuid(&group.id)), BTreeSet::new()));
    }
    let mut setup = 0;
    for _ in 0..3 {
        let role = world::role(admin, &["computers.view"]).await;
        setup = role.revision;
        model.roles.push((
            RoleId(uuid(&role.id)),
            ["computers.view"].into_iter().collect(),
        ));
    }
    // Every replica knows the fixed world before anyone asks about it.
    for replica in &mut replicas {
        let (user, tenant) = (model.users[0].0.to_string(), model.tenants[0].0.to_string());
        world::check(&mut replica.authz, &user, "computers.view", &tenant, setup)
            .await
            .unwrap();
    }

    let model = Arc::new(model);
    let committed = Arc::new(Mutex::new(Vec::new()));
    let live = Arc::new(Mutex::new(Vec::new()));
    let until = Instant::now() + Duration::from_secs(seconds());
    let mut tasks = JoinSet::new();
    for (writer, replica) in replicas.iter().take(2).enumerate() {
        let (mut admin, model, committed, live) = (
            replica.admin.clone(),
            Arc::clone(&model),
            Arc::clone(&committed),
            Arc::clone(&live),
        );
        tasks.spawn(async move {
            let mut random = Xorshift(0x9e37_79b9_7f4a_7c15 + writer as u64);
            let mut writes = 0u64;
            while Instant::now() < until {
                if let Some(done) = random_write(&mut admin, &model, &live, &mut random).await {
                    committed.lock().unwrap().push(done);
                    writes += 1;
                }
            }
            writes
        });
    }
    for (checker, replica) in replicas.iter().enumerate() {
        let (mut authz, model) = (replica.authz.clone(), Arc::clone(&model));
        tasks.spawn(async move {
            let mut random = Xorshift(0x2545_f491_4f6c_dd1d + checker as u64);
            let mut checks = 0u64;
            while Instant::now() < until {
                let user = model.users[random.below(model.users.len())].0.to_string();
                let tenant = model.tenants[random.below(model.tenants.len())]
                    .0
                    .to_string();
                let permission = POOL[random.below(3)];
                world::check(&mut authz, &user, permission, &tenant, 0)
                    .await
                    .expect("checks never fail during the soak");
                checks += 1;
            }
            checks
        });
    }
    let mut operations = 0;
    while let Some(count) = tasks.join_next().await {
        operations += count.unwrap();
    }

    // Replay the committed writes in revision order onto the reference.
    let mut model = Arc::try_unwrap(model).ok().unwrap();
    let mut committed = std::mem::take(&mut *committed.lock().unwrap());
    committed.sort_by_key(|(revision, _)| *revision);
    let final_revision = committed.last().map_or(0, |(r, _)| *r);
    let writes = committed.len();
    for (_, op) in committed {
        replay(&mut model, op);
    }
    let mut compared = 0;
    for replica in &mut replicas {
        for user in 0..model.users.len() {
            for permission in POOL.iter().filter(|p| **p != SYSTEM) {
                for tenant in 0..model.tenants.len() {
                    let got = world::check(
                        &mut replica.authz,
                        &model.users[user].0.to_string(),
                        permission,
                        &model.tenants[tenant].0.to_string(),
                        final_revision,
                    )
                    .await
                    .unwrap();
                    let want = match model.decide(user, permission, RefTarget::Tenant(tenant)) {
                        Decision::Allowed => pb::Decision::Allowed,
                        Decision::NotGranted => pb::Decision::NotGranted,
                        Decision::Denied => pb::Decision::Denied,
                        Decision::UserInactive => pb::Decision::UserInactive,
                    };
                    assert_eq!(
                        got, want,
                        "user {user} {permission} on tenant {tenant} after {writes} writes"
                    );
                    compared += 1;
                }
            }
        }
    }
    eprintln!(
        "soak: {writes} writes and {operations} operations in {} s; {compared} final answers agree",
        seconds()
    );
    assert!(writes > 0 && compared > 0);
    drop(replicas);
    database.remove().await;
}
