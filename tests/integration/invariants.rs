//! The admin invariants of DESIGN.md against an oracle. Random small worlds; random admin
//! writes by random actors (system administrators, MSP administrators, tenant
//! administrators, group owners, plain users) through the real admin use-cases on SQLite.
//! After every accepted write the naive reference, reading the whole world back from the
//! database, checks that the actor's own access did not grow, and that every newly
//! allowed (user, permission, target) was allowed to the actor there, with a scope-kind
//! permission there and, for a system permission, `rbac.assign-cross-tenant-roles`.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use rbac_sidecar::admin::{
    Actor, ActorRef, Admin, AdminError, Identity, NewAssignment, NewGroup, NewRole, NewTenant,
    RoleUpdate, TenantUpdate,
};
use rbac_sidecar::dataset::Xorshift;
use rbac_sidecar::engine::Decision;
use rbac_sidecar::model::{
    Action, AssignmentId, Effect, GroupId, Principal, ResourceRef, ResourceType, RoleId, Scope,
    TagId, TenantId, UserId, catalogue,
};
use rbac_sidecar::store::{self, AssignmentFilter};
use sea_orm::DatabaseConnection;

use crate::support::in_memory_server;
use crate::support::reference::{RefScope, RefTarget, Reference};

/// The permissions the oracle looks at: plain, msp_only and system ones, and every
/// permission the admin rules turn on.
const POOL: [&str; 13] = [
    "computers.view",
    "computers.manage",
    "tenants.manage",
    "users.manage",
    "rbac.roles.manage",
    "rbac.groups.manage",
    "rbac.assign-owner-scope",
    "rbac.assign-msp-scope",
    "rbac.assign-tag-scope",
    "rbac.assign-tenant-scope",
    "billing.view",
    "rbac.assign-cross-tenant-roles",
    "rbac.roles.manage-public",
];
const CROSS_TENANT: &str = "rbac.assign-cross-tenant-roles";
const SCOPE_KINDS: [&str; 5] = [
    "rbac.assign-owner-scope",
    "rbac.assign-msp-scope",
    "rbac.assign-tag-scope",
    "rbac.assign-tenant-scope",
    "users.manage",
];
const WRITES_PER_WORLD: usize = 40;

fn is_system(key: &str) -> bool {
    catalogue()
        .get(catalogue().id(key).expect("pool key"))
        .system
}

/// One world's objects, by the index the oracle knows them by.
struct World {
    admin: Arc<Admin>,
    root: Actor,
    db: DatabaseConnection,
    rng: Xorshift,
    tenants: Vec<TenantId>,
    tags: Vec<TagId>,
    users: Vec<UserId>,
    groups: Vec<GroupId>,
    /// Custom roles of this world, and the built-in ones it hands out.
    roles: Vec<RoleId>,
    resources: Vec<ResourceRef>,
}

/// What happened to the writes, for the liveness floor.
#[derive(Default)]
struct Tally {
    accepted: usize,
    refused: usize,
    by_kind: HashMap<&'static str, (usize, usize)>,
}

impl World {
    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.rng.below(items.len())].clone()
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.rng.below(100) < percent
    }

    fn permissions(&mut self) -> Vec<String> {
        POOL.iter()
            .filter(|_| self.chance(30))
            .map(|p| (*p).to_owned())
            .collect()
    }

    async fn build(admin: Arc<Admin>, root: Actor, db: DatabaseConnection, seed: u64) -> World {
        let mut w = World {
            admin,
            root,
            db,
            rng: Xorshift(seed),
            tenants: Vec::new(),
            tags: Vec::new(),
            users: Vec::new(),
            groups: Vec::new(),
            roles: Vec::new(),
            resources: Vec::new(),
        };
        let root = w.root.clone();
        let a = Arc::clone(&w.admin);
        for _ in 0..2 {
            let (tag, _) = a
                .create_tag(&root, &format!("tag-{}", uuid::Uuid::new_v4()))
                .await
                .expect("tag");
            w.tags.push(tag.id);
        }
        // Two MSPs; customers below them, one of them a nested MSP.
        for (parent, is_msp) in [
            (None, true),
            (None, true),
            (Some(0), false),
            (Some(0), true),
            (Some(1), false),
            (Some(3), false),
        ] {
            let new = NewTenant {
                name: "t".into(),
                parent: parent.map(|p: usize| w.tenants[p]),
                is_msp,
            };
            let (tenant, _) = a.create_tenant(&root, new).await.expect("tenant");
            w.tenants.push(tenant.id);
            for tag in w.tags.clone() {
                if w.chance(40) {
                    a.set_tenant_tag(&root, tenant.id, tag, true)
                        .await
                        .expect("tag");
                }
            }
        }
        // Users: 0 system admin, 1 MSP admin, 2 tenant admin, 3 group owner, 4 role editor
        // (holds what it edits in, but no scope-kind permission), 5 to 8 plain, 9 tagger.
        for tenant in [0, 0, 2, 4, 3, 2, 3, 5, 0, 1] {
            let new = Identity {
                tenant_id: w.tenants[tenant],
                email: format!("{}@example.com", uuid::Uuid::new_v4()),
                first_name: String::new(),
                last_name: String::new(),
                azure_object_id: uuid::Uuid::new_v4().to_string(),
            };
            let (user, _) = a.create_user(&root, new).await.expect("user");
            w.users.push(user.id);
        }
        for owner in [None, Some(0), Some(2), Some(4)] {
            let permissions = w.permissions();
            let new = NewRole {
                name: "r".into(),
                description: String::new(),
                owner: owner.map(|o| w.tenants[o]),
                permissions,
            };
            let (role, _, _) = a.create_role(&root, new).await.expect("role");
            w.roles.push(role.id);
        }
        let admin_role = |name| catalogue().built_in_role_by_name(name).expect(name).id;
        let system_admin = admin_role("System Administrator (Legacy)");
        let tenant_admin = admin_role("Administrator (Legacy)");
        w.roles.push(tenant_admin);
        w.roles.push(admin_role("System User (Legacy)"));
        w.roles.push(admin_role("User (Legacy)"));
        let every_plain = NewRole {
            name: "msp admin".into(),
            description: String::new(),
            owner: None,
            // Every plain permission, and a system one without the right to hand it out.
            permissions: POOL
                .iter()
                .filter(|p| !is_system(p) || **p == "billing.view")
                .map(|p| (*p).to_owned())
                .collect(),
        };
        let (msp_admin, _, _) = a.create_role(&root, every_plain).await.expect("role");
        w.roles.push(msp_admin.id);
        let groups_role = NewRole {
            name: "group owner".into(),
            description: String::new(),
            owner: Some(w.tenants[4]),
            permissions: vec!["rbac.groups.manage".into(), "users.manage".into()],
        };
        let (group_owner, _, _) = a.create_role(&root, groups_role).await.expect("role");
        for (owner, _) in [(None, 0), (Some(2), 1), (Some(4), 2)] {
            let new = NewGroup {
                name: "g".into(),
                description: String::new(),
                owner: owner.map(|o: usize| w.tenants[o]),
            };
            let (group, _) = a.create_group(&root, new).await.expect("group");
            w.groups.push(group.id);
        }
        let editor_role = NewRole {
            name: "role editor".into(),
            description: String::new(),
            owner: None,
            permissions: vec![
                "computers.view".into(),
                "computers.manage".into(),
                "rbac.roles.manage".into(),
            ],
        };
        let (role_editor, _, _) = a.create_role(&root, editor_role).await.expect("role");
        let public_role = |name: &str, permissions: &[&str]| NewRole {
            name: name.into(),
            description: String::new(),
            owner: None,
            permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
        };
        let (tenant_manager, _, _) = a
            .create_role(&root, public_role("tenant manager", &["tenants.manage"]))
            .await
            .expect("role");
        let tagging = public_role(
            "tagger",
            &["tenants.manage", "rbac.assign-tag-scope", "computers.view"],
        );
        let (tagger, _, _) = a.create_role(&root, tagging).await.expect("role");
        // Each line gives some write only the invariants' judgement can refuse: the role
        // editor edits a role held where it holds no scope-kind permission (and an
        // msp_only one it holds only on its MSP's own tenant); the tenant admin may enable
        // user 5, who holds what the tenant admin does not; the tagger may tag a tenant
        // with a tag whose allows it does not hold.
        for (role, user, scope) in [
            (role_editor.id, 4, Scope::Msp(w.tenants[0])),
            (tenant_manager.id, 4, Scope::Tenant(w.tenants[0])),
            (w.roles[1], 8, Scope::Tenant(w.tenants[3])),
            (w.roles[1], 6, Scope::Tenant(w.tenants[3])),
            (role_editor.id, 5, Scope::Tenant(w.tenants[0])),
            (tagger.id, 9, Scope::Msp(w.tenants[1])),
            (tagger.id, 9, Scope::TenantTag(w.tags[1])),
            (role_editor.id, 7, Scope::TenantTag(w.tags[1])),
            (system_admin, 0, Scope::Owner),
            (msp_admin.id, 1, Scope::Msp(w.tenants[0])),
            (tenant_admin, 2, Scope::Tenant(w.tenants[2])),
            (group_owner.id, 3, Scope::UsersTenant),
        ] {
            let new = NewAssignment {
                role_id: role,
                principal: Principal::User(w.users[user]),
                scope,
                effect: Effect::Allow,
            };
            a.create_assignment(&root, new).await.expect("assign");
        }
        for (kind, owner) in [(ResourceType::Computer, 2), (ResourceType::Computer, 4)] {
            let resource = ResourceRef::new(kind, &uuid::Uuid::new_v4().to_string());
            a.upsert_resource(&root, resource.clone(), Some(w.tenants[owner]))
                .await
                .expect("resource");
            w.resources.push(resource);
        }
        a.set_user_disabled(&root, w.users[5], true)
            .await
            .expect("disable");
        // Random memberships and assignments, denies included, some on the admins.
        for _ in 0..4 {
            let (group, user) = (w.pick(&w.groups.clone()), w.pick(&w.users.clone()));
            a.set_group_member(&root, group, user, true).await.ok();
        }
        for _ in 0..6 {
            let new = w.random_assignment();
            a.create_assignment(&root, new).await.ok();
        }
        w
    }

    fn random_scope(&mut self) -> Scope {
        match self.rng.below(6) {
            0 => Scope::Owner,
            1 => {
                let msp = self.pick(&[0, 1, 3]);
                Scope::Msp(self.tenants[msp])
            }
            2 => Scope::Tenant(self.pick(&self.tenants.clone())),
            3 => Scope::TenantTag(self.pick(&self.tags.clone())),
            4 => Scope::UsersTenant,
            _ => Scope::Resource(self.pick(&self.resources.clone())),
        }
    }

    fn random_principal(&mut self) -> Principal {
        if self.chance(30) {
            Principal::Group(self.pick(&self.groups.clone()))
        } else {
            Principal::User(self.pick(&self.users.clone()))
        }
    }

    fn random_assignment(&mut self) -> NewAssignment {
        NewAssignment {
            role_id: self.pick(&self.roles.clone()),
            principal: self.random_principal(),
            scope: self.random_scope(),
            effect: if self.chance(30) {
                Effect::Deny
            } else {
                Effect::Allow
            },
        }
    }

    async fn assignment_ids(&self) -> Vec<AssignmentId> {
        self.assignments_now()
            .await
            .into_iter()
            .map(|a| a.id)
            .collect()
    }

    async fn assignments_now(&self) -> Vec<rbac_sidecar::model::RoleAssignment> {
        let mut principals: Vec<Principal> =
            self.users.iter().map(|u| Principal::User(*u)).collect();
        principals.extend(self.groups.iter().map(|g| Principal::Group(*g)));
        let filter = AssignmentFilter {
            principals: Some(principals),
            ..AssignmentFilter::default()
        };
        store::assignments(&self.db, &filter)
            .await
            .expect("assignments")
            .into_iter()
            .map(|s| s.assignment)
            .collect()
    }

    /// The attacks that only the invariants' judgement refuses, tried once in every world
    /// before the random writes: the actor, and the write's kind and outcome.
    async fn probe(
        &mut self,
        step: usize,
    ) -> Option<(usize, &'static str, Result<(), AdminError>)> {
        let a = Arc::clone(&self.admin);
        let (actor, kind) = match step {
            0 => (4, "edit role"),
            1 => (2, "disable"),
            2 => (9, "tag"),
            _ => return None,
        };
        let Ok(as_actor) = a
            .actor(ActorRef::User(self.users[actor]), Action::GetMyAccess)
            .await
        else {
            return Some((actor, kind, Ok(())));
        };
        let result = match step {
            // The role editor holds `tenants.manage` on its MSP's own tenant only, and
            // puts it into a role held at a tenant below.
            0 => {
                let role = store::find(&self.db, self.roles[1])
                    .await
                    .expect("role")
                    .expect("role");
                let mut permissions = catalogue().keys(&role.permissions);
                permissions.push("tenants.manage".into());
                let update = RoleUpdate {
                    role_id: role.id,
                    name: role.name,
                    description: String::new(),
                    permissions,
                };
                a.update_role(&as_actor, update).await.map(drop)
            }
            // The tenant administrator enables user 5, who holds what it does not.
            1 => a
                .set_user_disabled(&as_actor, self.users[5], false)
                .await
                .map(drop),
            // The tagger tags a tenant with a tag whose allows it does not hold.
            _ => a
                .set_tenant_tag(&as_actor, self.tenants[4], self.tags[1], true)
                .await
                .map(drop),
        };
        Some((actor, kind, result))
    }

    /// One random admin write by `actor`; returns its kind and outcome.
    async fn random_write(&mut self, actor: &Actor) -> (&'static str, Result<(), AdminError>) {
        let a = Arc::clone(&self.admin);
        let custom = self.roles[..4].to_vec();
        match self.rng.below(12) {
            0..=2 => {
                let new = self.random_assignment();
                ("assign", a.create_assignment(actor, new).await.map(drop))
            }
            3 => {
                let ids = self.assignment_ids().await;
                if ids.is_empty() {
                    return ("unassign", Ok(()));
                }
                let id = self.pick(&ids);
                ("unassign", a.delete_assignment(actor, id).await.map(drop))
            }
            4 => {
                let update = RoleUpdate {
                    role_id: self.pick(&custom),
                    name: "r".into(),
                    description: String::new(),
                    permissions: self.permissions(),
                };
                ("edit role", a.update_role(actor, update).await.map(drop))
            }
            5 => {
                let (group, user) = (
                    self.pick(&self.groups.clone()),
                    self.pick(&self.users.clone()),
                );
                let join = self.chance(60);
                let result = a.set_group_member(actor, group, user, join).await;
                ("membership", result.map(drop))
            }
            6 => {
                let tenant = self.tenants[2 + self.rng.below(4)];
                let parent = self.pick(&self.tenants.clone());
                let update = TenantUpdate {
                    tenant_id: tenant,
                    name: None,
                    parent: Some(Some(parent)),
                };
                ("move", a.update_tenant(actor, update).await.map(drop))
            }
            7 => {
                let (tenant, tag) = (
                    self.pick(&self.tenants.clone()),
                    self.pick(&self.tags.clone()),
                );
                let tagged = self.chance(50);
                let result = a.set_tenant_tag(actor, tenant, tag, tagged).await;
                ("tag", result.map(drop))
            }
            8 => {
                let user = self.pick(&self.users.clone());
                let disabled = self.chance(40);
                let result = a.set_user_disabled(actor, user, disabled).await;
                ("disable", result.map(drop))
            }
            9 => {
                // Deleting a group or a role lifts its denies; both are recreated empty so
                // that the world keeps its shape.
                if self.chance(50) {
                    let index = self.rng.below(self.groups.len());
                    let result = a.delete_group(actor, self.groups[index]).await;
                    if result.is_ok() {
                        let new = NewGroup {
                            name: "g".into(),
                            description: String::new(),
                            owner: None,
                        };
                        let (group, _) = a.create_group(&self.root, new).await.expect("group");
                        self.groups[index] = group.id;
                    }
                    ("delete group", result.map(drop))
                } else {
                    let index = self.rng.below(4);
                    let result = a.delete_role(actor, self.roles[index], true).await;
                    if result.is_ok() {
                        let new = NewRole {
                            name: "r".into(),
                            description: String::new(),
                            owner: None,
                            permissions: Vec::new(),
                        };
                        let (role, _, _) = a.create_role(&self.root, new).await.expect("role");
                        self.roles[index] = role.id;
                    }
                    ("delete role", result.map(drop))
                }
            }
            10 => {
                // A resource moves to another tenant, or becomes global.
                let resource = self.pick(&self.resources.clone());
                let owner = self.chance(85).then(|| self.pick(&self.tenants.clone()));
                let result = a.upsert_resource(actor, resource, owner).await;
                ("move resource", result.map(drop))
            }
            _ => {
                let new = NewRole {
                    name: "r".into(),
                    description: String::new(),
                    owner: self.chance(50).then(|| self.pick(&self.tenants.clone())),
                    permissions: self.permissions(),
                };
                ("create role", a.create_role(actor, new).await.map(drop))
            }
        }
    }

    /// The world as the reference sees it, read back from the database.
    async fn reference(&self) -> Reference {
        let db = &self.db;
        let all_tenants = store::tenants(db).await.expect("tenants");
        let tenant_index: HashMap<TenantId, usize> = self
            .tenants
            .iter()
            .enumerate()
            .map(|(i, t)| (*t, i))
            .collect();
        let tag_index: HashMap<TagId, usize> =
            self.tags.iter().enumerate().map(|(i, t)| (*t, i)).collect();
        let mut model = Reference {
            tags: self.tags.clone(),
            ..Reference::default()
        };
        for id in &self.tenants {
            let t = all_tenants.iter().find(|t| t.id == *id).expect("tenant");
            let parent = t.parent.map(|p| tenant_index[&p]);
            let tags = t
                .tags
                .iter()
                .filter_map(|g| tag_index.get(g).copied())
                .collect();
            model.tenants.push((t.id, parent, t.is_msp, tags));
        }
        for id in &self.users {
            let u = store::find(db, *id).await.expect("user").expect("user");
            model
                .users
                .push((u.id, tenant_index[&u.tenant_id], u.disabled));
        }
        for id in &self.groups {
            let members: BTreeSet<usize> = store::group_members(db, *id)
                .await
                .expect("members")
                .iter()
                .filter_map(|m| self.users.iter().position(|u| *u == m.id))
                .collect();
            model.groups.push((*id, members));
        }
        let mut role_index = HashMap::new();
        for assignment in self.assignments_now().await {
            let role = match role_index.get(&assignment.role_id) {
                Some(index) => *index,
                None => {
                    let role = store::find(db, assignment.role_id)
                        .await
                        .expect("role")
                        .expect("role");
                    let keys: BTreeSet<&'static str> = POOL
                        .iter()
                        .filter(|k| {
                            role.permissions
                                .contains(catalogue().id(k).expect("pool key"))
                        })
                        .copied()
                        .collect();
                    model.roles.push((role.id, keys));
                    role_index.insert(role.id, model.roles.len() - 1);
                    model.roles.len() - 1
                }
            };
            let scope = match &assignment.scope {
                Scope::Owner => RefScope::Owner,
                Scope::Msp(t) => RefScope::Msp(tenant_index[t]),
                Scope::Tenant(t) => RefScope::Tenant(tenant_index[t]),
                Scope::TenantTag(g) => RefScope::Tag(tag_index[g]),
                Scope::UsersTenant => RefScope::UsersTenant,
                Scope::Resource(r) => RefScope::Resource(
                    self.resources
                        .iter()
                        .position(|x| x == r)
                        .expect("resource"),
                ),
            };
            let deny = assignment.effect == Effect::Deny;
            model
                .assignments
                .push((assignment.id, role, assignment.principal, scope, deny));
        }
        for resource in &self.resources {
            let owner = store::find_resource(db, resource)
                .await
                .expect("resource")
                .flatten()
                .map(|t| tenant_index[&t]);
            model.resources.push((resource.clone(), owner));
        }
        model
    }
}

type Triple = (usize, &'static str, Target);

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Target {
    None,
    Tenant(usize),
    Resource(usize),
}

/// Every (user, permission, target) the reference allows.
fn allowed(model: &Reference) -> HashSet<Triple> {
    let mut allowed = HashSet::new();
    let mut targets: Vec<Target> = (0..model.tenants.len()).map(Target::Tenant).collect();
    targets.extend((0..model.resources.len()).map(Target::Resource));
    for user in 0..model.users.len() {
        for permission in POOL {
            let targets: &[Target] = if is_system(permission) {
                &[Target::None]
            } else {
                &targets
            };
            for target in targets {
                let on = match target {
                    Target::None => RefTarget::None,
                    Target::Tenant(t) => RefTarget::Tenant(*t),
                    Target::Resource(r) => RefTarget::Resource(*r),
                };
                if model.decide(user, permission, on) == Decision::Allowed {
                    allowed.insert((user, permission, *target));
                }
            }
        }
    }
    allowed
}

/// The invariants for one accepted write by `actor` (an index into the world's users).
fn check_invariants(
    actor: usize,
    before: &HashSet<Triple>,
    after: &HashSet<Triple>,
    what: &str,
) -> Result<(), String> {
    for &(user, permission, target) in after.difference(before) {
        if user == actor {
            return Err(format!(
                "{what}: the actor raised their own access: {permission} on {target:?}"
            ));
        }
        if !before.contains(&(actor, permission, target)) {
            return Err(format!(
                "{what}: user {user} newly holds {permission} on {target:?}, which the actor does not"
            ));
        }
        if is_system(permission) {
            if !before.contains(&(actor, CROSS_TENANT, Target::None)) {
                return Err(format!(
                    "{what}: system permission {permission} newly reaches user {user} without {CROSS_TENANT}"
                ));
            }
        } else if !SCOPE_KINDS
            .iter()
            .any(|kind| before.contains(&(actor, kind, target)))
        {
            return Err(format!(
                "{what}: user {user} newly holds {permission} on {target:?}, where the actor holds no scope-kind permission"
            ));
        }
    }
    Ok(())
}

/// Writes: `RBAC_INVARIANT_WRITES`, default 20,000 (what CI runs).
fn writes() -> usize {
    std::env::var("RBAC_INVARIANT_WRITES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000)
}

async fn run(seed: u64, worlds: usize) -> Tally {
    let mut tally = Tally::default();
    let (mut server, mut root) = in_memory_server().await;
    for index in 0..worlds {
        if index % 25 == 24 {
            // A fresh database now and then keeps each one small.
            (server, root) = in_memory_server().await;
        }
        let db = server.store.db().clone();
        let world_seed = seed
            .wrapping_add(index as u64)
            .wrapping_mul(0x9E37_79B9_7F4A_7C15)
            | 1;
        let mut world = World::build(Arc::clone(&server.admin), root.clone(), db, world_seed).await;
        let mut before = allowed(&world.reference().await);
        for step in 0..WRITES_PER_WORLD {
            let (actor_index, kind, result) = match world.probe(step).await {
                Some(probe) => probe,
                None => {
                    // Administrators more often than plain users, who are mostly refused.
                    let actor_index = match world.rng.below(12) {
                        0 | 1 => 0,
                        2 | 3 => 1,
                        4 | 5 => 2,
                        6 => 3,
                        7 => 4,
                        8 => 9,
                        _ => world.rng.below(world.users.len()),
                    };
                    let user = world.users[actor_index];
                    let Ok(actor) = world
                        .admin
                        .actor(ActorRef::User(user), Action::GetMyAccess)
                        .await
                    else {
                        // A disabled actor is refused before any rule: not a write.
                        continue;
                    };
                    let (kind, result) = world.random_write(&actor).await;
                    (actor_index, kind, result)
                }
            };
            let counts = tally.by_kind.entry(kind).or_default();
            match result {
                Ok(()) => {
                    tally.accepted += 1;
                    counts.0 += 1;
                    let after = allowed(&world.reference().await);
                    let what = format!(
                        "seed {world_seed}, world {index}, write {step} ({kind}) by user {actor_index}"
                    );
                    if let Err(broken) = check_invariants(actor_index, &before, &after, &what) {
                        panic!("{broken}");
                    }
                    before = after;
                }
                Err(AdminError::Store(err)) => panic!("store error: {err}"),
                Err(_) => {
                    tally.refused += 1;
                    counts.1 += 1;
                }
            }
        }
    }
    tally
}

#[test]
fn no_accepted_admin_write_lets_anyone_escalate() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let seed = std::env::var("RBAC_INVARIANT_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0x5eed);
    let worlds = writes().div_ceil(WRITES_PER_WORLD);
    let tally = runtime.block_on(run(seed, worlds));
    let total = tally.accepted + tally.refused;
    eprintln!(
        "admin writes: {total}, accepted {}, refused {}; by kind (accepted, refused): {:?}",
        tally.accepted, tally.refused, tally.by_kind
    );
    // Liveness: a rule that refused everything would pass the invariants vacuously.
    assert!(
        tally.accepted * 5 >= total,
        "only {} of {total} writes were accepted",
        tally.accepted
    );
    for (kind, (accepted, _)) in &tally.by_kind {
        assert!(*accepted > 0, "no `{kind}` write was ever accepted");
    }
}
