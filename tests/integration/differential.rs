//! The cached, flattened evaluator against a naive reference: random worlds are built
//! through the real admin use-cases on SQLite, random changes follow, and after every
//! change every user's answer to every query must equal the reference's.

use std::collections::BTreeSet;
use std::sync::Arc;

use proptest::prelude::*;
use rbac_sidecar::admin::{
    Actor, Admin, Identity, NewAssignment, NewGroup, NewRole, NewTenant, RoleUpdate, TenantUpdate,
};
use rbac_sidecar::data_plane::{CheckRequest, Checker, Subject, TargetRef};
use rbac_sidecar::model::{Effect, Principal, ResourceRef, ResourceType, Scope, catalogue};
use rbac_sidecar::server::Server;

use crate::support::in_memory_server;
use crate::support::reference::{MSP_ONLY, POOL, RefScope, RefTarget, Reference, SYSTEM};

#[derive(Clone, Debug)]
pub(super) enum ScopePlan {
    Owner,
    Msp(u8),
    Tenant(u8),
    Tag(u8),
    UsersTenant,
    Resource(u8),
}

#[derive(Clone, Debug)]
pub(super) struct AssignmentPlan {
    pub(super) role: u8,
    /// Even: a user; odd: a group.
    pub(super) principal: u8,
    pub(super) scope: ScopePlan,
    pub(super) deny: bool,
}

#[derive(Clone, Debug)]
pub(super) struct WorldPlan {
    /// (parent pick, is MSP, tag mask); tenant 0 is a root.
    pub(super) tenants: Vec<(u8, bool, u8)>,
    pub(super) tags: u8,
    /// (tenant pick, disabled).
    pub(super) users: Vec<(u8, bool)>,
    /// Member masks.
    pub(super) groups: Vec<u8>,
    /// Permission masks over POOL.
    pub(super) roles: Vec<u8>,
    /// (type is script, owner pick; 0 = global).
    pub(super) resources: Vec<(bool, u8)>,
    pub(super) assignments: Vec<AssignmentPlan>,
    pub(super) changes: Vec<ChangePlan>,
}

#[derive(Clone, Debug)]
pub(super) enum ChangePlan {
    Member(u8, u8, bool),
    Tag(u8, u8, bool),
    RolePermissions(u8, u8),
    Assign(AssignmentPlan),
    Unassign(u8),
    Disable(u8, bool),
    MoveResource(u8, u8),
    /// (tenant, new parent pick; past the last tenant: a root).
    MoveTenant(u8, u8),
    DeleteGroup(u8),
    /// With its assignments.
    DeleteRole(u8),
}

fn scope_plan() -> impl Strategy<Value = ScopePlan> {
    prop_oneof![
        Just(ScopePlan::Owner),
        any::<u8>().prop_map(ScopePlan::Msp),
        any::<u8>().prop_map(ScopePlan::Tenant),
        any::<u8>().prop_map(ScopePlan::Tag),
        Just(ScopePlan::UsersTenant),
        any::<u8>().prop_map(ScopePlan::Resource),
    ]
}

fn assignment_plan() -> impl Strategy<Value = AssignmentPlan> {
    (
        any::<u8>(),
        any::<u8>(),
        scope_plan(),
        prop::bool::weighted(0.3),
    )
        .prop_map(|(role, principal, scope, deny)| AssignmentPlan {
            role,
            principal,
            scope,
            deny,
        })
}

fn change_plan() -> impl Strategy<Value = ChangePlan> {
    prop_oneof![
        (any::<u8>(), any::<u8>(), any::<bool>()).prop_map(|(g, u, m)| ChangePlan::Member(g, u, m)),
        (any::<u8>(), any::<u8>(), any::<bool>()).prop_map(|(t, g, on)| ChangePlan::Tag(t, g, on)),
        (any::<u8>(), any::<u8>()).prop_map(|(r, mask)| ChangePlan::RolePermissions(r, mask)),
        assignment_plan().prop_map(ChangePlan::Assign),
        any::<u8>().prop_map(ChangePlan::Unassign),
        (any::<u8>(), prop::bool::weighted(0.3)).prop_map(|(u, d)| ChangePlan::Disable(u, d)),
        (any::<u8>(), any::<u8>()).prop_map(|(r, t)| ChangePlan::MoveResource(r, t)),
        (any::<u8>(), any::<u8>()).prop_map(|(t, p)| ChangePlan::MoveTenant(t, p)),
        any::<u8>().prop_map(ChangePlan::DeleteGroup),
        any::<u8>().prop_map(ChangePlan::DeleteRole),
    ]
}

pub(super) fn world_plan() -> impl Strategy<Value = WorldPlan> {
    (
        prop::collection::vec((any::<u8>(), any::<bool>(), any::<u8>()), 1..5),
        0u8..3,
        prop::collection::vec((any::<u8>(), prop::bool::weighted(0.1)), 1..4),
        prop::collection::vec(any::<u8>(), 0..3),
        prop::collection::vec(1u8..32, 1..4),
        prop::collection::vec((any::<bool>(), any::<u8>()), 0..3),
        prop::collection::vec(assignment_plan(), 0..7),
        prop::collection::vec(change_plan(), 1..7),
    )
        .prop_map(
            |(tenants, tags, users, groups, roles, resources, assignments, changes)| WorldPlan {
                tenants,
                tags,
                users,
                groups,
                roles,
                resources,
                assignments,
                changes,
            },
        )
}

pub(super) fn pick(seed: u8, len: usize) -> usize {
    usize::from(seed) % len.max(1)
}

pub(super) fn permissions_of(mask: u8) -> BTreeSet<&'static str> {
    POOL.iter()
        .enumerate()
        .filter(|(i, _)| mask & (1 << i) != 0)
        .map(|(_, p)| *p)
        .collect()
}

/// The real service, driven in process, with the reference mirroring each change.
pub(super) struct Harness {
    admin: Arc<Admin>,
    checker: Arc<Checker>,
    actor: Actor,
    pub(super) model: Reference,
    /// Indexes into the model of deleted groups and roles, which later changes skip.
    deleted_groups: BTreeSet<usize>,
    deleted_roles: BTreeSet<usize>,
}

/// The scope a plan picks in the model's world; Owner where it names nothing there.
pub(super) fn scope_in(m: &Reference, plan: &ScopePlan) -> (Scope, RefScope) {
    let msps: Vec<usize> = (0..m.tenants.len()).filter(|t| m.tenants[*t].2).collect();
    match plan {
        ScopePlan::Msp(seed) if !msps.is_empty() => {
            let t = msps[pick(*seed, msps.len())];
            (Scope::Msp(m.tenants[t].0), RefScope::Msp(t))
        }
        ScopePlan::Tenant(seed) => {
            let t = pick(*seed, m.tenants.len());
            (Scope::Tenant(m.tenants[t].0), RefScope::Tenant(t))
        }
        ScopePlan::Tag(seed) if !m.tags.is_empty() => {
            let g = pick(*seed, m.tags.len());
            (Scope::TenantTag(m.tags[g]), RefScope::Tag(g))
        }
        ScopePlan::UsersTenant => (Scope::UsersTenant, RefScope::UsersTenant),
        ScopePlan::Resource(seed) if !m.resources.is_empty() => {
            let r = pick(*seed, m.resources.len());
            (
                Scope::Resource(m.resources[r].0.clone()),
                RefScope::Resource(r),
            )
        }
        _ => (Scope::Owner, RefScope::Owner),
    }
}

impl Harness {
    pub(super) fn new(server: &Server, actor: &Actor) -> Harness {
        Harness {
            admin: Arc::clone(&server.admin),
            checker: Arc::clone(&server.checker),
            actor: actor.clone(),
            model: Reference::default(),
            deleted_groups: BTreeSet::new(),
            deleted_roles: BTreeSet::new(),
        }
    }

    async fn assign(&mut self, plan: &AssignmentPlan) {
        let m = &self.model;
        let role = pick(plan.role, m.roles.len());
        if self.deleted_roles.contains(&role) {
            return;
        }
        let group = pick(plan.principal / 2, m.groups.len());
        let principal = if plan.principal % 2 == 1
            && !m.groups.is_empty()
            && !self.deleted_groups.contains(&group)
        {
            Principal::Group(m.groups[group].0)
        } else {
            Principal::User(m.users[pick(plan.principal / 2, m.users.len())].0)
        };
        let (scope, ref_scope) = scope_in(&self.model, &plan.scope);
        let new = NewAssignment {
            role_id: m.roles[role].0,
            principal,
            scope,
            effect: if plan.deny {
                Effect::Deny
            } else {
                Effect::Allow
            },
        };
        let (stored, _, _) = self
            .admin
            .create_assignment(&self.actor, new)
            .await
            .expect("assign");
        self.model
            .assignments
            .push((stored.assignment.id, role, principal, ref_scope, plan.deny));
    }

    pub(super) async fn build(&mut self, plan: &WorldPlan) {
        for _ in 0..plan.tags {
            let (tag, _) = self
                .admin
                .create_tag(&self.actor, &format!("tag-{}", uuid::Uuid::new_v4()))
                .await
                .expect("tag");
            self.model.tags.push(tag.id);
        }
        for (index, (parent, msp, tag_mask)) in plan.tenants.iter().enumerate() {
            let parent = (index > 0).then(|| pick(*parent, index));
            let new = NewTenant {
                name: format!("t{index}"),
                parent: parent.map(|p| self.model.tenants[p].0),
                is_msp: index == 0 || *msp,
            };
            let (tenant, _) = self
                .admin
                .create_tenant(&self.actor, new)
                .await
                .expect("tenant");
            let mut tags = BTreeSet::new();
            for g in 0..self.model.tags.len() {
                if tag_mask & (1 << g) != 0 {
                    self.admin
                        .set_tenant_tag(&self.actor, tenant.id, self.model.tags[g], true)
                        .await
                        .expect("tag tenant");
                    tags.insert(g);
                }
            }
            self.model
                .tenants
                .push((tenant.id, parent, index == 0 || *msp, tags));
        }
        for (index, (tenant, disabled)) in plan.users.iter().enumerate() {
            let t = pick(*tenant, self.model.tenants.len());
            let new = Identity {
                tenant_id: self.model.tenants[t].0,
                email: format!("u{index}@example.com"),
                first_name: String::new(),
                last_name: String::new(),
                azure_object_id: uuid::Uuid::new_v4().to_string(),
            };
            let (user, _) = self
                .admin
                .create_user(&self.actor, new)
                .await
                .expect("user");
            if *disabled {
                self.admin
                    .set_user_disabled(&self.actor, user.id, true)
                    .await
                    .expect("disable");
            }
            self.model.users.push((user.id, t, *disabled));
        }
        for (index, mask) in plan.groups.iter().enumerate() {
            let new = NewGroup {
                name: format!("g{index}"),
                description: String::new(),
                owner: None,
            };
            let (group, _) = self
                .admin
                .create_group(&self.actor, new)
                .await
                .expect("group");
            let mut members = BTreeSet::new();
            for u in 0..self.model.users.len() {
                if mask & (1 << u) != 0 {
                    self.admin
                        .set_group_member(&self.actor, group.id, self.model.users[u].0, true)
                        .await
                        .expect("member");
                    members.insert(u);
                }
            }
            self.model.groups.push((group.id, members));
        }
        for (index, mask) in plan.roles.iter().enumerate() {
            let permissions = permissions_of(*mask);
            let new = NewRole {
                name: format!("r{index}"),
                description: String::new(),
                owner: None,
                permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
            };
            let (role, _, _) = self
                .admin
                .create_role(&self.actor, new)
                .await
                .expect("role");
            self.model.roles.push((role.id, permissions));
        }
        for (index, (script, owner)) in plan.resources.iter().enumerate() {
            let kind = if *script {
                ResourceType::Script
            } else {
                ResourceType::Computer
            };
            let resource = ResourceRef::new(kind, &format!("res-{index}"));
            let owner = (*owner as usize % (self.model.tenants.len() + 1)).checked_sub(1);
            self.admin
                .upsert_resource(
                    &self.actor,
                    resource.clone(),
                    owner.map(|t| self.model.tenants[t].0),
                )
                .await
                .expect("resource");
            self.model.resources.push((resource, owner));
        }
        for assignment in &plan.assignments {
            self.assign(assignment).await;
        }
    }

    pub(super) async fn change(&mut self, plan: &ChangePlan) {
        match plan {
            ChangePlan::Member(g, u, member)
                if !self.model.groups.is_empty()
                    && !self
                        .deleted_groups
                        .contains(&pick(*g, self.model.groups.len())) =>
            {
                let g = pick(*g, self.model.groups.len());
                let u = pick(*u, self.model.users.len());
                let (group, user) = (self.model.groups[g].0, self.model.users[u].0);
                self.admin
                    .set_group_member(&self.actor, group, user, *member)
                    .await
                    .expect("member");
                if *member {
                    self.model.groups[g].1.insert(u);
                } else {
                    self.model.groups[g].1.remove(&u);
                }
            }
            ChangePlan::Tag(t, g, on) if !self.model.tags.is_empty() => {
                let t = pick(*t, self.model.tenants.len());
                let g = pick(*g, self.model.tags.len());
                let (tenant, tag) = (self.model.tenants[t].0, self.model.tags[g]);
                self.admin
                    .set_tenant_tag(&self.actor, tenant, tag, *on)
                    .await
                    .expect("tag");
                if *on {
                    self.model.tenants[t].3.insert(g);
                } else {
                    self.model.tenants[t].3.remove(&g);
                }
            }
            ChangePlan::RolePermissions(r, mask)
                if !self
                    .deleted_roles
                    .contains(&pick(*r, self.model.roles.len())) =>
            {
                let r = pick(*r, self.model.roles.len());
                let permissions = permissions_of(*mask);
                let update = RoleUpdate {
                    role_id: self.model.roles[r].0,
                    name: format!("r{r}"),
                    description: String::new(),
                    permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
                };
                self.admin
                    .update_role(&self.actor, update)
                    .await
                    .expect("update role");
                self.model.roles[r].1 = permissions;
            }
            ChangePlan::Assign(plan) => self.assign(plan).await,
            ChangePlan::Unassign(a) if !self.model.assignments.is_empty() => {
                let a = pick(*a, self.model.assignments.len());
                let (id, ..) = self.model.assignments.remove(a);
                self.admin
                    .delete_assignment(&self.actor, id)
                    .await
                    .expect("unassign");
            }
            ChangePlan::Disable(u, disabled) => {
                let u = pick(*u, self.model.users.len());
                self.admin
                    .set_user_disabled(&self.actor, self.model.users[u].0, *disabled)
                    .await
                    .expect("disable");
                self.model.users[u].2 = *disabled;
            }
            ChangePlan::MoveResource(r, t) if !self.model.resources.is_empty() => {
                let r = pick(*r, self.model.resources.len());
                let owner = (*t as usize % (self.model.tenants.len() + 1)).checked_sub(1);
                let resource = self.model.resources[r].0.clone();
                self.admin
                    .upsert_resource(
                        &self.actor,
                        resource,
                        owner.map(|t| self.model.tenants[t].0),
                    )
                    .await
                    .expect("move resource");
                self.model.resources[r].1 = owner;
            }
            ChangePlan::MoveTenant(t, p) => {
                let t = pick(*t, self.model.tenants.len());
                let parent = (usize::from(*p) % (self.model.tenants.len() + 1))
                    .checked_sub(1)
                    .filter(|p| !self.model.is_within(*p, t));
                if parent.is_none() && usize::from(*p) % (self.model.tenants.len() + 1) != 0 {
                    return; // under itself or its subtree: refused, covered elsewhere
                }
                let update = TenantUpdate {
                    tenant_id: self.model.tenants[t].0,
                    name: None,
                    parent: Some(parent.map(|p| self.model.tenants[p].0)),
                };
                self.admin
                    .update_tenant(&self.actor, update)
                    .await
                    .expect("move tenant");
                self.model.tenants[t].1 = parent;
            }
            ChangePlan::DeleteGroup(g) if !self.model.groups.is_empty() => {
                let g = pick(*g, self.model.groups.len());
                if !self.deleted_groups.insert(g) {
                    return;
                }
                let id = self.model.groups[g].0;
                self.admin
                    .delete_group(&self.actor, id)
                    .await
                    .expect("delete group");
                self.model.groups[g].1.clear();
                self.model
                    .assignments
                    .retain(|a| a.2 != Principal::Group(id));
            }
            ChangePlan::DeleteRole(r) => {
                let r = pick(*r, self.model.roles.len());
                if !self.deleted_roles.insert(r) {
                    return;
                }
                self.admin
                    .delete_role(&self.actor, self.model.roles[r].0, true)
                    .await
                    .expect("delete role");
                self.model.assignments.retain(|a| a.1 != r);
            }
            _ => {}
        }
    }

    /// Every user, every pool permission, every target: cached answer == reference.
    async fn compare(&self, stage: &str) -> Result<(), TestCaseError> {
        let m = &self.model;
        let mut targets = vec![RefTarget::None];
        targets.extend((0..m.tenants.len()).map(RefTarget::Tenant));
        targets.extend((0..m.resources.len()).map(RefTarget::Resource));
        for user in 0..m.users.len() {
            for permission in POOL {
                for target in &targets {
                    let system = permission == SYSTEM;
                    if matches!(target, RefTarget::None) != system {
                        continue;
                    }
                    let request = CheckRequest {
                        subject: Subject::User(m.users[user].0),
                        permission: catalogue().id(permission).expect("pool key"),
                        target: match target {
                            RefTarget::None => TargetRef::None,
                            RefTarget::Tenant(t) => TargetRef::Tenant(m.tenants[*t].0),
                            RefTarget::Resource(r) => {
                                TargetRef::Resource(m.resources[*r].0.clone())
                            }
                        },
                        explain: false,
                        min_revision: 0,
                    };
                    let got = self.checker.check(&request).await.expect("check").decision;
                    let want = m.decide(user, permission, *target);
                    prop_assert_eq!(
                        got,
                        want,
                        "{}: user {} {} on {:?}",
                        stage,
                        user,
                        permission,
                        target
                    );
                }
            }
        }
        Ok(())
    }
}

async fn run_case(server: &Server, actor: &Actor, plan: WorldPlan) -> Result<(), TestCaseError> {
    let mut harness = Harness::new(server, actor);
    harness.build(&plan).await;
    harness.compare("built").await?;
    for (index, change) in plan.changes.iter().enumerate() {
        harness.change(change).await;
        harness
            .compare(&format!("after change {index}: {change:?}"))
            .await?;
    }
    Ok(())
}

#[test]
fn the_reference_knows_the_catalogue_flags_it_relies_on() {
    let c = catalogue();
    for key in POOL {
        let p = c.get(c.id(key).expect("pool key"));
        assert_eq!(p.system, key == SYSTEM, "{key}");
        assert_eq!(p.msp_only, key == MSP_ONLY, "{key}");
    }
}

/// Cases: `PROPTEST_CASES`, default 2,000 (what CI runs, about 90 s). The decision logic
/// gets its volume in `engine_properties.rs` (100,000 worlds in seconds); these cases guard
/// what only the whole service has: the store's reads, the cache's compile and exact
/// invalidation after each change, and the checker.
fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000)
}

#[test]
fn cached_decisions_equal_the_reference_after_every_change() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let config = ProptestConfig {
        cases: cases(),
        ..ProptestConfig::default()
    };
    // A new server every 50 cases keeps each database small.
    let server = std::cell::RefCell::new(None::<(Server, Actor, u32)>);
    proptest!(config, |(plan in world_plan())| {
        let mut slot = server.borrow_mut();
        if slot.as_ref().is_none_or(|(_, _, used)| *used >= 50) {
            *slot = None;
            let (fresh, actor) = runtime.block_on(in_memory_server());
            *slot = Some((fresh, actor, 0));
        }
        let (server, actor, used) = slot.as_mut().expect("server slot");
        *used += 1;
        runtime.block_on(run_case(server, actor, plan))?;
    });
}
