//! Every scenario of `tests/conformance/` (and of `RBAC_CONFORMANCE_DIRS`) run twice:
//! against the engine in memory, and end to end over gRPC against a running server
//! (SQLite, and PostgreSQL), where every check is also asked through Envoy's ext_authz
//! and AuthZEN over HTTP, and must get the same answer from each.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;

use rbac_sidecar::api::pb::rbac::v1 as pb;
use rbac_sidecar::engine::{
    self, AssignmentFacts, Decision, EffectiveAccess, ResourceIndex, RoleFacts, Target,
    TenantIndex, UserFacts,
};
use rbac_sidecar::model::{
    AssignmentId, Effect, GroupId, ResourceRef, RoleId, Scope, TagId, Tenant, TenantId, User,
    UserId, catalogue,
};

use crate::scenario::{
    self, Action, AssignmentSpec, Check, Driver, EffectSpec, Expect, GroupSpec, KeyedScope,
    NamedScope, ResourceSpec, RoleSpec, ScopeSpec, TenantSpec, UserSpec,
};
use crate::support::authzen;
use crate::support::envoy::{self, Envoy};
use crate::support::{Backend, TestServer, as_admin};

fn expect_of(decision: Decision) -> Expect {
    match decision {
        Decision::Allowed => Expect::Allowed,
        Decision::NotGranted => Expect::NotGranted,
        Decision::Denied => Expect::Denied,
        Decision::UserInactive => Expect::Inactive,
    }
}

fn builtin_name(role: &str) -> Option<&str> {
    role.strip_prefix("builtin:")
}

/// The world held as plain values; each check compiles and decides from scratch.
#[derive(Default)]
struct EngineWorld {
    tags: HashMap<String, TagId>,
    tenants: HashMap<String, Tenant>,
    users: HashMap<String, User>,
    groups: HashMap<String, (GroupId, BTreeSet<String>)>,
    roles: HashMap<String, RoleFacts>,
    resources: HashMap<String, (ResourceRef, Option<TenantId>)>,
    assignments: Vec<(Option<String>, AssignmentSpec, AssignmentId)>,
}

impl EngineWorld {
    fn tenant_id(&self, key: &str) -> TenantId {
        self.tenants[key].id
    }

    fn role(&self, key: &str) -> RoleFacts {
        match builtin_name(key) {
            Some(name) => {
                let role = catalogue()
                    .built_in_role_by_name(name)
                    .expect("built-in role");
                RoleFacts {
                    id: role.id,
                    name: Arc::from(role.name.as_str()),
                    permissions: role.permissions,
                }
            }
            None => self.roles[key].clone(),
        }
    }

    fn scope(&self, spec: &ScopeSpec) -> Scope {
        match spec {
            ScopeSpec::Named(NamedScope::Owner) => Scope::Owner,
            ScopeSpec::Named(NamedScope::UsersTenant) => Scope::UsersTenant,
            ScopeSpec::Keyed(KeyedScope::Msp(t)) => Scope::Msp(self.tenant_id(t)),
            ScopeSpec::Keyed(KeyedScope::Tenant(t)) => Scope::Tenant(self.tenant_id(t)),
            ScopeSpec::Keyed(KeyedScope::Tag(g)) => Scope::TenantTag(self.tags[g]),
            ScopeSpec::Keyed(KeyedScope::Resource(r)) => {
                Scope::Resource(self.resources[r].0.clone())
            }
        }
    }

    fn access(&self, user_key: &str) -> EffectiveAccess {
        let user = self.users[user_key].clone();
        let member_of: Vec<(&String, GroupId)> = self
            .groups
            .iter()
            .filter(|(_, (_, members))| members.contains(user_key))
            .map(|(key, (id, _))| (key, *id))
            .collect();
        let mut roles: Vec<Arc<RoleFacts>> = Vec::new();
        let mut assignments = Vec::new();
        for (_, spec, id) in &self.assignments {
            let via_group = match (&spec.user, &spec.group) {
                (Some(u), _) if u == user_key => None,
                (_, Some(g)) => match member_of.iter().find(|(key, _)| *key == g) {
                    Some((_, id)) => Some(*id),
                    None => continue,
                },
                _ => continue,
            };
            let role = self.role(&spec.role);
            if !roles.iter().any(|r| r.id == role.id) {
                roles.push(Arc::new(role.clone()));
            }
            assignments.push(AssignmentFacts {
                id: *id,
                role_id: role.id,
                scope: self.scope(&spec.scope),
                effect: match spec.effect {
                    EffectSpec::Allow => Effect::Allow,
                    EffectSpec::Deny => Effect::Deny,
                },
                via_group,
            });
        }
        let groups = member_of.iter().map(|(_, id)| *id).collect();
        EffectiveAccess::compile(UserFacts::from(&user), groups, roles, assignments)
    }
}

impl Driver for EngineWorld {
    async fn tag(&mut self, key: &str) {
        self.tags.insert(key.to_owned(), TagId::random());
    }

    async fn tenant(&mut self, spec: &TenantSpec) {
        let tenant = Tenant {
            id: TenantId::random(),
            name: spec.key.clone(),
            parent: spec.parent.as_ref().map(|p| self.tenant_id(p)),
            is_msp: spec.msp,
            tags: spec.tags.iter().map(|g| self.tags[g]).collect(),
        };
        self.tenants.insert(spec.key.clone(), tenant);
    }

    async fn user(&mut self, spec: &UserSpec) {
        let user = User {
            id: UserId::random(),
            tenant_id: self.tenant_id(&spec.tenant),
            azure_object_id: uuid::Uuid::new_v4(),
            email: format!("{}@example.com", spec.key),
            first_name: spec.key.clone(),
            last_name: String::new(),
            disabled: spec.disabled,
            expires_at: None,
            origin: Default::default(),
        };
        self.users.insert(spec.key.clone(), user);
    }

    async fn group(&mut self, spec: &GroupSpec) {
        let members = spec.members.iter().cloned().collect();
        self.groups
            .insert(spec.key.clone(), (GroupId::random(), members));
    }

    async fn role(&mut self, spec: &RoleSpec) {
        let permissions = spec
            .permissions
            .iter()
            .map(|k| {
                catalogue()
                    .id(k)
                    .unwrap_or_else(|| panic!("unknown permission `{k}`"))
            })
            .collect();
        let role = RoleFacts {
            id: RoleId::random(),
            name: Arc::from(spec.key.as_str()),
            permissions,
        };
        self.roles.insert(spec.key.clone(), role);
    }

    async fn resource(&mut self, spec: &ResourceSpec) {
        let resource = ResourceRef::new(spec.kind.parse().expect("resource type"), &spec.key);
        let owner = spec.tenant.as_ref().map(|t| self.tenant_id(t));
        self.resources.insert(spec.key.clone(), (resource, owner));
    }

    async fn assign(&mut self, spec: &AssignmentSpec) {
        self.assignments
            .push((spec.key.clone(), spec.clone(), AssignmentId::random()));
    }

    async fn act(&mut self, action: &Action<'_>) {
        match action {
            Action::AddMember(m) => {
                self.groups
                    .get_mut(&m.group)
                    .unwrap()
                    .1
                    .insert(m.user.clone());
            }
            Action::RemoveMember(m) => {
                self.groups.get_mut(&m.group).unwrap().1.remove(&m.user);
            }
            Action::AddTag(t) => {
                let tag = self.tags[&t.tag];
                let tenant = self.tenants.get_mut(&t.tenant).unwrap();
                if !tenant.tags.contains(&tag) {
                    tenant.tags.push(tag);
                }
            }
            Action::RemoveTag(t) => {
                let tag = self.tags[&t.tag];
                self.tenants
                    .get_mut(&t.tenant)
                    .unwrap()
                    .tags
                    .retain(|g| *g != tag);
            }
            Action::SetRolePermissions(r) => {
                self.roles.get_mut(&r.role).unwrap().permissions = r
                    .permissions
                    .iter()
                    .map(|k| catalogue().id(k).unwrap())
                    .collect();
            }
            Action::DeleteAssignment(key) => {
                self.assignments
                    .retain(|(k, _, _)| k.as_deref() != Some(*key));
            }
            Action::Assign(spec) => self.assign(spec).await,
            Action::SetDisabled(d) => self.users.get_mut(&d.user).unwrap().disabled = d.disabled,
        }
    }

    async fn check(&mut self, check: &Check) -> Expect {
        let tenants = TenantIndex::build(self.tenants.values().cloned());
        let resources: ResourceIndex = self.resources.values().cloned().collect();
        let target = match (&check.tenant, &check.resource) {
            (Some(t), _) => Target::Tenant(self.tenant_id(t)),
            (None, Some(r)) => {
                let resource = self.resources[r].0.clone();
                let owner = resources.owner(&resource).unwrap();
                Target::Resource { resource, owner }
            }
            (None, None) => Target::None,
        };
        let access = self.access(&check.user);
        let permission = catalogue().id(&check.permission).expect("permission");
        let now = rbac_sidecar::model::unix_now();
        let fast =
            engine::decide(Some(&access), permission, &target, &tenants, now, false).unwrap();
        let explained =
            engine::decide(Some(&access), permission, &target, &tenants, now, true).unwrap();
        assert_eq!(
            fast.decision, explained.decision,
            "explain changed the answer of {check:?}"
        );
        let decisive = explained.applied.iter().filter(|a| a.decisive).count();
        let expected_decisive = usize::from(matches!(
            fast.decision,
            Decision::Allowed | Decision::Denied
        ));
        assert_eq!(
            decisive, expected_decisive,
            "decisive assignments of {check:?}"
        );
        expect_of(fast.decision)
    }
}

#[tokio::test]
async fn every_scenario_against_the_engine() {
    let mut failures = Vec::new();
    for (file, scenario) in scenario::load_all() {
        let mut world = EngineWorld::default();
        for failure in scenario::run(&scenario, &mut world).await {
            failures.push(format!("{file}: {failure}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// The world built through AdminService; checks through CheckAccess with no
/// min_revision, so each must already see the write acknowledged before it.
struct GrpcWorld<'s> {
    server: &'s mut TestServer,
    ids: HashMap<String, String>,
}

impl GrpcWorld<'_> {
    /// The same check as an AuthZEN Access Evaluation over HTTP.
    async fn through_authzen(&mut self, check: &Check) -> Expect {
        let resource = match (&check.tenant, &check.resource) {
            (Some(t), _) => {
                serde_json::json!({ "type": "tenant", "id": self.id(&format!("tenant:{t}")) })
            }
            (None, Some(r)) => {
                let r = self.resource_ref(r);
                serde_json::json!({ "type": r.r#type, "id": r.id })
            }
            (None, None) => serde_json::json!({ "type": "system", "id": "-" }),
        };
        let body = serde_json::json!({
            "subject": { "type": "user", "id": self.id(&format!("user:{}", check.user)) },
            "action": { "name": check.permission },
            "resource": resource,
        });
        let address = &self.server.http_address;
        let (status, answer) = authzen::post(address, "/access/v1/evaluation", &body, None).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(
            answer["decision"],
            answer["context"]["decision"] == "allowed"
        );
        match answer["context"]["decision"].as_str() {
            Some("allowed") => Expect::Allowed,
            Some("not_granted") => Expect::NotGranted,
            Some("denied") => Expect::Denied,
            Some("user_inactive") => Expect::Inactive,
            _ => panic!("AuthZEN answered {answer} to {check:?}"),
        }
    }

    /// The same check as Envoy's ext_authz asks it, through `envoy::every_permission`.
    async fn through_envoy(&mut self, check: &Check) -> Expect {
        let permission = &check.permission;
        let path = match (&check.tenant, &check.resource) {
            (Some(t), _) => format!("/tenants/{}/{permission}", self.id(&format!("tenant:{t}"))),
            (None, Some(r)) => {
                let r = self.resource_ref(r);
                format!("/resources/{}/{}/{permission}", r.r#type, r.id)
            }
            (None, None) => format!("/system/{permission}"),
        };
        let user = self.id(&format!("user:{}", check.user));
        let request = envoy::request("GET", &path, &[], Some(&user));
        let answer = envoy::ask(&mut Envoy::new(self.server.channel.clone()), request).await;
        if answer.code == 0 {
            assert_eq!(answer.headers["x-rbac-decision"], "allowed");
            return Expect::Allowed;
        }
        assert_eq!(answer.http_status, 403, "{answer:?}");
        match answer.body["decision"].as_str() {
            Some("not_granted") => Expect::NotGranted,
            Some("denied") => Expect::Denied,
            Some("user_inactive") => Expect::Inactive,
            _ => panic!("ext_authz refused {check:?}: {answer:?}"),
        }
    }

    fn id(&self, key: &str) -> String {
        self.ids
            .get(key)
            .unwrap_or_else(|| panic!("no id for key `{key}`"))
            .clone()
    }

    fn role_id(&self, key: &str) -> String {
        match builtin_name(key) {
            Some(name) => catalogue()
                .built_in_role_by_name(name)
                .expect("built-in")
                .id
                .to_string(),
            None => self.id(&format!("role:{key}")),
        }
    }

    fn resource_ref(&self, key: &str) -> pb::ResourceRef {
        let kind = self.id(&format!("resource-type:{key}"));
        pb::ResourceRef {
            r#type: kind,
            id: key.to_owned(),
        }
    }

    fn scope(&self, spec: &ScopeSpec) -> pb::Scope {
        use pb::scope::Kind;
        let kind = match spec {
            ScopeSpec::Named(NamedScope::Owner) => Kind::Owner(()),
            ScopeSpec::Named(NamedScope::UsersTenant) => Kind::UsersTenant(()),
            ScopeSpec::Keyed(KeyedScope::Msp(t)) => {
                Kind::MspTenantId(self.id(&format!("tenant:{t}")))
            }
            ScopeSpec::Keyed(KeyedScope::Tenant(t)) => {
                Kind::TenantId(self.id(&format!("tenant:{t}")))
            }
            ScopeSpec::Keyed(KeyedScope::Tag(g)) => Kind::TenantTagId(self.id(&format!("tag:{g}"))),
            ScopeSpec::Keyed(KeyedScope::Resource(r)) => Kind::Resource(self.resource_ref(r)),
        };
        pb::Scope { kind: Some(kind) }
    }

    async fn set_member(&mut self, group: &str, user: &str, member: bool) {
        let group_id = self.id(&format!("group:{group}"));
        let user_id = self.id(&format!("user:{user}"));
        let admin = &mut self.server.admin;
        if member {
            admin
                .add_group_member(as_admin(pb::AddGroupMemberRequest {
                    group_id,
                    user_id,
                    validate_only: false,
                }))
                .await
                .unwrap();
        } else {
            admin
                .remove_group_member(as_admin(pb::RemoveGroupMemberRequest {
                    group_id,
                    user_id,
                    validate_only: false,
                }))
                .await
                .unwrap();
        }
    }

    async fn set_tag(&mut self, tenant: &str, tag: &str, tagged: bool) {
        let tenant_id = self.id(&format!("tenant:{tenant}"));
        let tag_id = self.id(&format!("tag:{tag}"));
        let admin = &mut self.server.admin;
        if tagged {
            admin
                .add_tenant_tag(as_admin(pb::AddTenantTagRequest {
                    tenant_id,
                    tag_id,
                    validate_only: false,
                }))
                .await
                .unwrap();
        } else {
            admin
                .remove_tenant_tag(as_admin(pb::RemoveTenantTagRequest {
                    tenant_id,
                    tag_id,
                    validate_only: false,
                }))
                .await
                .unwrap();
        }
    }
}

impl Driver for GrpcWorld<'_> {
    async fn tag(&mut self, key: &str) {
        let tag = self
            .server
            .admin
            .create_tag(as_admin(pb::CreateTagRequest {
                name: format!("{key}-{}", uuid::Uuid::new_v4()),
                validate_only: false,
            }))
            .await
            .unwrap()
            .into_inner();
        self.ids.insert(format!("tag:{key}"), tag.id);
    }

    async fn tenant(&mut self, spec: &TenantSpec) {
        let parent_tenant_id = spec
            .parent
            .as_ref()
            .map(|p| self.id(&format!("tenant:{p}")));
        let request = pb::CreateTenantRequest {
            name: spec.key.clone(),
            parent_tenant_id,
            is_msp: spec.msp,
            validate_only: false,
        };
        let tenant = self
            .server
            .admin
            .create_tenant(as_admin(request))
            .await
            .unwrap()
            .into_inner();
        self.ids.insert(format!("tenant:{}", spec.key), tenant.id);
        for tag in &spec.tags {
            self.set_tag(&spec.key, tag, true).await;
        }
    }

    async fn user(&mut self, spec: &UserSpec) {
        let request = pb::CreateUserRequest {
            tenant_id: self.id(&format!("tenant:{}", spec.tenant)),
            email: format!("{}@example.com", spec.key),
            first_name: spec.key.clone(),
            last_name: String::new(),
            azure_object_id: uuid::Uuid::new_v4().to_string(),
            validate_only: false,
        };
        let user = self
            .server
            .admin
            .create_user(as_admin(request))
            .await
            .unwrap()
            .into_inner();
        if spec.disabled {
            let request = pb::SetUserDisabledRequest {
                user_id: user.id.clone(),
                disabled: true,
                validate_only: false,
            };
            self.server
                .admin
                .set_user_disabled(as_admin(request))
                .await
                .unwrap();
        }
        self.ids.insert(format!("user:{}", spec.key), user.id);
    }

    async fn group(&mut self, spec: &GroupSpec) {
        let owner_tenant_id = spec.owner.as_ref().map(|t| self.id(&format!("tenant:{t}")));
        let request = pb::CreateGroupRequest {
            name: spec.key.clone(),
            description: String::new(),
            owner_tenant_id,
            validate_only: false,
        };
        let group = self
            .server
            .admin
            .create_group(as_admin(request))
            .await
            .unwrap()
            .into_inner();
        self.ids.insert(format!("group:{}", spec.key), group.id);
        for member in &spec.members {
            self.set_member(&spec.key, member, true).await;
        }
    }

    async fn role(&mut self, spec: &RoleSpec) {
        let owner_tenant_id = spec.owner.as_ref().map(|t| self.id(&format!("tenant:{t}")));
        let request = pb::CreateRoleRequest {
            name: spec.key.clone(),
            description: String::new(),
            owner_tenant_id,
            permissions: spec.permissions.clone(),
            validate_only: false,
        };
        let role = self
            .server
            .admin
            .create_role(as_admin(request))
            .await
            .unwrap()
            .into_inner();
        self.ids.insert(format!("role:{}", spec.key), role.id);
    }

    async fn resource(&mut self, spec: &ResourceSpec) {
        let owner_tenant_id = spec
            .tenant
            .as_ref()
            .map(|t| self.id(&format!("tenant:{t}")));
        let request = pb::UpsertResourceRequest {
            r#type: spec.kind.clone(),
            id: spec.key.clone(),
            owner_tenant_id,
            validate_only: false,
        };
        self.server
            .admin
            .upsert_resource(as_admin(request))
            .await
            .unwrap();
        self.ids
            .insert(format!("resource-type:{}", spec.key), spec.kind.clone());
    }

    async fn assign(&mut self, spec: &AssignmentSpec) {
        let principal = match (&spec.user, &spec.group) {
            (Some(u), None) => pb::principal::Kind::UserId(self.id(&format!("user:{u}"))),
            (None, Some(g)) => pb::principal::Kind::GroupId(self.id(&format!("group:{g}"))),
            _ => panic!("assignment needs exactly one of user or group: {spec:?}"),
        };
        let request = pb::CreateRoleAssignmentRequest {
            role_id: self.role_id(&spec.role),
            principal: Some(pb::Principal {
                kind: Some(principal),
            }),
            scope: Some(self.scope(&spec.scope)),
            effect: match spec.effect {
                EffectSpec::Allow => pb::Effect::Allow as i32,
                EffectSpec::Deny => pb::Effect::Deny as i32,
            },
            validate_only: false,
        };
        let assignment = self
            .server
            .admin
            .create_role_assignment(as_admin(request))
            .await
            .unwrap()
            .into_inner();
        if let Some(key) = &spec.key {
            self.ids.insert(format!("assignment:{key}"), assignment.id);
        }
    }

    async fn act(&mut self, action: &Action<'_>) {
        match action {
            Action::AddMember(m) => self.set_member(&m.group, &m.user, true).await,
            Action::RemoveMember(m) => self.set_member(&m.group, &m.user, false).await,
            Action::AddTag(t) => self.set_tag(&t.tenant, &t.tag, true).await,
            Action::RemoveTag(t) => self.set_tag(&t.tenant, &t.tag, false).await,
            Action::SetRolePermissions(r) => {
                let request = pb::UpdateRoleRequest {
                    role_id: self.role_id(&r.role),
                    name: r.role.clone(),
                    description: String::new(),
                    permissions: r.permissions.clone(),
                    validate_only: false,
                };
                self.server
                    .admin
                    .update_role(as_admin(request))
                    .await
                    .unwrap();
            }
            Action::DeleteAssignment(key) => {
                let assignment_id = self.id(&format!("assignment:{key}"));
                self.server
                    .admin
                    .delete_role_assignment(as_admin(pb::DeleteRoleAssignmentRequest {
                        assignment_id,
                        validate_only: false,
                    }))
                    .await
                    .unwrap();
            }
            Action::Assign(spec) => self.assign(spec).await,
            Action::SetDisabled(d) => {
                let request = pb::SetUserDisabledRequest {
                    user_id: self.id(&format!("user:{}", d.user)),
                    disabled: d.disabled,
                    validate_only: false,
                };
                self.server
                    .admin
                    .set_user_disabled(as_admin(request))
                    .await
                    .unwrap();
            }
        }
    }

    async fn check(&mut self, check: &Check) -> Expect {
        let kind = match (&check.tenant, &check.resource) {
            (Some(t), _) => Some(pb::target::Kind::TenantId(self.id(&format!("tenant:{t}")))),
            (None, Some(r)) => Some(pb::target::Kind::Resource(self.resource_ref(r))),
            (None, None) => None,
        };
        let request = pb::CheckAccessRequest {
            subject: Some(pb::check_access_request::Subject::UserId(
                self.id(&format!("user:{}", check.user)),
            )),
            permission: check.permission.clone(),
            target: kind.map(|kind| pb::Target { kind: Some(kind) }),
            explain: true,
            min_revision: 0,
        };
        let response = self
            .server
            .authz
            .check_access(request)
            .await
            .unwrap()
            .into_inner();
        assert_eq!(
            response.allowed,
            response.decision == pb::Decision::Allowed as i32
        );
        let decided = match pb::Decision::try_from(response.decision).unwrap() {
            pb::Decision::Allowed => Expect::Allowed,
            pb::Decision::NotGranted => Expect::NotGranted,
            pb::Decision::Denied => Expect::Denied,
            pb::Decision::UserInactive => Expect::Inactive,
            pb::Decision::Unspecified => panic!("unspecified decision for {check:?}"),
        };
        assert_eq!(
            self.through_envoy(check).await,
            decided,
            "ext_authz disagrees on {check:?}"
        );
        assert_eq!(
            self.through_authzen(check).await,
            decided,
            "AuthZEN disagrees on {check:?}"
        );
        decided
    }
}

async fn every_scenario_over_grpc(backend: Backend) {
    let mut failures = Vec::new();
    for (file, scenario) in scenario::load_all() {
        let routes = |config: &mut rbac_sidecar::config::ServeConfig| {
            config.ext_authz = Some(envoy::every_permission());
        };
        let Some(mut server) = TestServer::start_configured(backend, routes).await else {
            return;
        };
        let mut world = GrpcWorld {
            server: &mut server,
            ids: HashMap::new(),
        };
        for failure in scenario::run(&scenario, &mut world).await {
            failures.push(format!("{file} over gRPC on {backend:?}: {failure}"));
        }
        server.stop().await;
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[tokio::test]
async fn every_scenario_over_grpc_on_sqlite() {
    every_scenario_over_grpc(Backend::Sqlite).await;
}

#[tokio::test]
async fn every_scenario_over_grpc_on_postgres() {
    every_scenario_over_grpc(Backend::Postgres).await;
}
