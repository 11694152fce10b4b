//! An instance's whole state as records: read from the database, written as a file, or
//! read from one and checked. A file that does not make a whole instance (an unknown
//! permission, an id that names nothing, a duplicate, a cycle in the tenant tree) is
//! refused with the place in the file.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use sea_orm::ConnectionTrait;

use super::file::{
    AccessRequestEntry, AssignmentEntry, EffectEntry, FORMAT, GroupEntry, InstanceFile,
    PersonEntry, PreferencesEntry, ResourceEntry, RoleEntry, ScopeEntry, TagEntry, TenantEntry,
    UserEntry,
};
use crate::engine::{MAX_TENANT_DEPTH, ResourceIndex, TenantIndex, assignable};
use crate::model::{
    AccessRequest, AccessRequestId, AccessRequestStatus, AssignmentId, DESCRIPTION_MAX, EMAIL_MAX,
    Effect, Group, GroupId, NAME_MAX, PERSON_NAME_MAX, PermissionSet, Person, PersonId,
    Preferences, Principal, ResourceRef, Role, RoleAssignment, RoleId, Scope, Tag, TagId, Tenant,
    TenantId, User, UserId, UserOrigin, catalogue, optional_text, required_text, shown,
};
use crate::store::{self, AssignmentFilter, StoreError, UserFilter};

/// Everything `export` writes and `apply` sets, keyed by id.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Instance {
    pub preferences: Preferences,
    pub tags: BTreeMap<TagId, Tag>,
    pub tenants: BTreeMap<TenantId, Tenant>,
    /// Custom roles.
    pub roles: BTreeMap<RoleId, Role>,
    pub users: BTreeMap<UserId, User>,
    pub groups: BTreeMap<GroupId, Group>,
    pub members: BTreeSet<(GroupId, UserId)>,
    pub resources: BTreeMap<ResourceRef, Option<TenantId>>,
    pub assignments: BTreeMap<AssignmentId, RoleAssignment>,
    pub persons: BTreeMap<PersonId, Person>,
    pub access_requests: BTreeMap<AccessRequestId, AccessRequest>,
}

/// Why a file is not a whole instance: where, and what is wrong there.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{path}: {message}")]
pub struct Invalid {
    pub path: String,
    pub message: String,
}

fn invalid(path: impl Into<String>, message: impl Into<String>) -> Invalid {
    Invalid {
        path: path.into(),
        message: message.into(),
    }
}

impl Instance {
    /// The instance in the database (read in one transaction, for one revision).
    pub async fn read<C: ConnectionTrait>(db: &C) -> Result<Instance, StoreError> {
        let mut tenants = BTreeMap::new();
        for mut tenant in store::tenants(db).await? {
            tenant.tags.sort();
            tenants.insert(tenant.id, tenant);
        }
        let every = UserFilter {
            limit: i64::MAX as u64,
            ..UserFilter::default()
        };
        let mut access_requests = BTreeMap::new();
        for status in [
            crate::model::AccessRequestStatus::Pending,
            crate::model::AccessRequestStatus::Approved,
            crate::model::AccessRequestStatus::Rejected,
        ] {
            for request in store::access_requests(db, None, status).await? {
                access_requests.insert(request.id, request);
            }
        }
        Ok(Instance {
            preferences: store::preferences(db).await?,
            tags: store::tags(db)
                .await?
                .into_iter()
                .map(|t| (t.id, t))
                .collect(),
            tenants,
            roles: (store::roles(db).await?.into_iter())
                .filter(|r| !r.built_in)
                .map(|r| (r.id, r))
                .collect(),
            users: (store::users(db, &every).await?.into_iter())
                .map(|u| (u.id, u))
                .collect(),
            groups: store::groups(db)
                .await?
                .into_iter()
                .map(|g| (g.id, g))
                .collect(),
            members: store::memberships(db).await?.into_iter().collect(),
            resources: store::resources(db).await?.into_iter().collect(),
            assignments: (store::assignments(db, &AssignmentFilter::default()).await?)
                .into_iter()
                .map(|s| (s.assignment.id, s.assignment))
                .collect(),
            persons: (store::persons(db, None).await?.into_iter())
                .map(|p| (p.id, p))
                .collect(),
            access_requests,
        })
    }

    /// The instance as a file.
    pub fn to_file(&self) -> InstanceFile {
        let role_name = |id: RoleId| match catalogue().built_in_role(id) {
            Some(role) => role.name.clone(),
            None => id.to_string(),
        };
        InstanceFile {
            format: FORMAT,
            preferences: PreferencesEntry {
                impersonation_enabled: self.preferences.impersonation_enabled,
            },
            tags: (self.tags.values())
                .map(|t| TagEntry {
                    id: t.id.0,
                    name: t.name.clone(),
                })
                .collect(),
            tenants: (self.tenants.values())
                .map(|t| TenantEntry {
                    id: t.id.0,
                    name: t.name.clone(),
                    parent: t.parent.map(|p| p.0),
                    msp: t.is_msp,
                    tags: t.tags.iter().map(|g| g.0).collect(),
                })
                .collect(),
            roles: (self.roles.values())
                .map(|r| RoleEntry {
                    id: r.id.0,
                    name: r.name.clone(),
                    description: r.description.clone(),
                    owner: r.owner.map(|t| t.0),
                    permissions: catalogue().keys(&r.permissions),
                })
                .collect(),
            users: (self.users.values())
                .map(|u| UserEntry {
                    id: u.id.0,
                    tenant: u.tenant_id.0,
                    azure_object_id: u.azure_object_id,
                    email: u.email.clone(),
                    first_name: u.first_name.clone(),
                    last_name: u.last_name.clone(),
                    disabled: u.disabled,
                    expires_at: u.expires_at,
                    origin: u.origin.as_str().to_owned(),
                })
                .collect(),
            groups: (self.groups.values())
                .map(|g| GroupEntry {
                    id: g.id.0,
                    name: g.name.clone(),
                    description: g.description.clone(),
                    owner: g.owner.map(|t| t.0),
                    members: (self.members.range((g.id, UserId(uuid::Uuid::nil()))..))
                        .take_while(|(group, _)| *group == g.id)
                        .map(|(_, user)| user.0)
                        .collect(),
                })
                .collect(),
            resources: (self.resources.iter())
                .map(|(r, owner)| ResourceEntry {
                    kind: r.kind.as_str().to_owned(),
                    id: r.id.to_string(),
                    owner: owner.map(|t| t.0),
                })
                .collect(),
            assignments: (self.assignments.values())
                .map(|a| AssignmentEntry {
                    id: a.id.0,
                    role: role_name(a.role_id),
                    user: match a.principal {
                        Principal::User(u) => Some(u.0),
                        Principal::Group(_) => None,
                    },
                    group: match a.principal {
                        Principal::Group(g) => Some(g.0),
                        Principal::User(_) => None,
                    },
                    scope: match &a.scope {
                        Scope::Owner => ScopeEntry::Owner,
                        Scope::Msp(t) => ScopeEntry::Msp(t.0),
                        Scope::Tenant(t) => ScopeEntry::Tenant(t.0),
                        Scope::TenantTag(g) => ScopeEntry::Tag(g.0),
                        Scope::UsersTenant => ScopeEntry::UsersTenant,
                        Scope::Resource(r) => {
                            ScopeEntry::Resource(format!("{}/{}", r.kind.as_str(), r.id))
                        }
                    },
                    effect: match a.effect {
                        Effect::Allow => EffectEntry::Allow,
                        Effect::Deny => EffectEntry::Deny,
                    },
                })
                .collect(),
            persons: (self.persons.values())
                .map(|p| PersonEntry {
                    id: p.id.0,
                    tenant: p.tenant_id.0,
                    azure_object_id: p.azure_object_id,
                    email: p.email.clone(),
                    first_name: p.first_name.clone(),
                    last_name: p.last_name.clone(),
                    user: p.user_id.map(|u| u.0),
                })
                .collect(),
            access_requests: (self.access_requests.values())
                .map(|r| AccessRequestEntry {
                    id: r.id.0,
                    tenant: r.tenant_id.0,
                    azure_object_id: r.azure_object_id,
                    email: r.email.clone(),
                    first_name: r.first_name.clone(),
                    last_name: r.last_name.clone(),
                    status: r.status.as_str().to_owned(),
                    requested_at: r.requested_at,
                    decided_by: r.decided_by.map(|u| u.0),
                })
                .collect(),
        }
    }

    /// The instance a file describes, or the first place where it is not a whole one.
    pub fn from_file(file: &InstanceFile) -> Result<Instance, Invalid> {
        if file.format != FORMAT {
            return Err(invalid(
                "format",
                format!("this server reads format {FORMAT}, not {}", file.format),
            ));
        }
        let mut ids = Ids::default();
        let mut i = Instance {
            preferences: Preferences {
                impersonation_enabled: file.preferences.impersonation_enabled,
            },
            ..Instance::default()
        };
        let mut tag_names = HashMap::new();
        for (n, t) in file.tags.iter().enumerate() {
            let path = ids.unique(format!("tags[{n}]"), t.id)?;
            let name = text(&path, "name", &t.name, NAME_MAX, true)?;
            if let Some(other) = tag_names.insert(name.clone(), n) {
                let why = format!("`{}` is also the name of tags[{other}]", shown(&name));
                return Err(invalid(format!("{path}.name"), why));
            }
            i.tags.insert(
                TagId(t.id),
                Tag {
                    id: TagId(t.id),
                    name,
                },
            );
        }
        for (n, t) in file.tenants.iter().enumerate() {
            let path = ids.unique(format!("tenants[{n}]"), t.id)?;
            let mut tags = Vec::new();
            for (m, tag) in t.tags.iter().enumerate() {
                tags.push(i.tag(&format!("{path}.tags[{m}]"), *tag)?);
            }
            tags.sort();
            tags.dedup();
            let tenant = Tenant {
                id: TenantId(t.id),
                name: text(&path, "name", &t.name, NAME_MAX, true)?,
                parent: t.parent.map(TenantId),
                is_msp: t.msp,
                tags,
            };
            i.tenants.insert(tenant.id, tenant);
        }
        for (n, t) in file.tenants.iter().enumerate() {
            i.check_ancestry(&format!("tenants[{n}].parent"), TenantId(t.id))?;
        }
        for (n, r) in file.roles.iter().enumerate() {
            let path = ids.unique(format!("roles[{n}]"), r.id)?;
            if catalogue().built_in_role(RoleId(r.id)).is_some() {
                let why = "is a built-in role's id: built-in roles come with the catalogue and are not listed";
                return Err(invalid(format!("{path}.id"), why));
            }
            let mut permissions = PermissionSet::default();
            for (m, key) in r.permissions.iter().enumerate() {
                let id = catalogue().id(key).ok_or_else(|| {
                    let why = format!("`{}` is not a permission of the catalogue", shown(key));
                    invalid(format!("{path}.permissions[{m}]"), why)
                })?;
                permissions.insert(id);
            }
            let role = Role {
                id: RoleId(r.id),
                name: text(&path, "name", &r.name, NAME_MAX, true)?,
                description: text(&path, "description", &r.description, DESCRIPTION_MAX, false)?,
                owner: i.owner(&format!("{path}.owner"), r.owner)?,
                built_in: false,
                permissions,
            };
            i.roles.insert(role.id, role);
        }
        let mut object_ids = HashMap::new();
        for (n, u) in file.users.iter().enumerate() {
            let path = ids.unique(format!("users[{n}]"), u.id)?;
            if let Some(other) = object_ids.insert(u.azure_object_id, n) {
                let why = format!("users[{other}] has the same Azure object id");
                return Err(invalid(format!("{path}.azure_object_id"), why));
            }
            let (email, first_name, last_name) =
                person_names(&path, &u.email, &u.first_name, &u.last_name)?;
            let user = User {
                id: UserId(u.id),
                tenant_id: i.tenant(&format!("{path}.tenant"), u.tenant)?,
                azure_object_id: u.azure_object_id,
                email,
                first_name,
                last_name,
                disabled: u.disabled,
                expires_at: u.expires_at,
                origin: (u.origin.parse::<UserOrigin>()).map_err(|_| {
                    let why = format!(
                        "`{}` is not manual, person, access_request or legacy_import",
                        shown(&u.origin)
                    );
                    invalid(format!("{path}.origin"), why)
                })?,
            };
            i.users.insert(user.id, user);
        }
        for (n, g) in file.groups.iter().enumerate() {
            let path = ids.unique(format!("groups[{n}]"), g.id)?;
            let group = Group {
                id: GroupId(g.id),
                name: text(&path, "name", &g.name, NAME_MAX, true)?,
                description: text(&path, "description", &g.description, DESCRIPTION_MAX, false)?,
                owner: i.owner(&format!("{path}.owner"), g.owner)?,
            };
            for (m, member) in g.members.iter().enumerate() {
                let user = i.user(&format!("{path}.members[{m}]"), *member)?;
                i.members.insert((group.id, user));
            }
            i.groups.insert(group.id, group);
        }
        for (n, r) in file.resources.iter().enumerate() {
            let path = format!("resources[{n}]");
            let resource = resource(&path, &r.kind, &r.id)?;
            let owner = i.owner(&format!("{path}.owner"), r.owner)?;
            if i.resources.insert(resource.clone(), owner).is_some() {
                return Err(invalid(
                    path,
                    format!("resource {resource} is listed twice"),
                ));
            }
        }
        for (n, a) in file.assignments.iter().enumerate() {
            let path = ids.unique(format!("assignments[{n}]"), a.id)?;
            let assignment = RoleAssignment {
                id: AssignmentId(a.id),
                role_id: i.role(&format!("{path}.role"), &a.role)?,
                principal: match (a.user, a.group) {
                    (Some(user), None) => Principal::User(i.user(&format!("{path}.user"), user)?),
                    (None, Some(group)) => {
                        Principal::Group(i.group(&format!("{path}.group"), group)?)
                    }
                    _ => {
                        let why = "give the assignment to exactly one of `user` and `group`";
                        return Err(invalid(path, why));
                    }
                },
                scope: i.scope(&format!("{path}.scope"), &a.scope)?,
                effect: match a.effect {
                    EffectEntry::Allow => Effect::Allow,
                    EffectEntry::Deny => Effect::Deny,
                },
            };
            i.assignments.insert(assignment.id, assignment);
        }
        i.check_structure(file)?;
        for (n, p) in file.persons.iter().enumerate() {
            let path = ids.unique(format!("persons[{n}]"), p.id)?;
            let (email, first_name, last_name) =
                person_names(&path, &p.email, &p.first_name, &p.last_name)?;
            let person = Person {
                id: PersonId(p.id),
                tenant_id: i.tenant(&format!("{path}.tenant"), p.tenant)?,
                azure_object_id: p.azure_object_id,
                email,
                first_name,
                last_name,
                user_id: (p.user.map(|u| i.user(&format!("{path}.user"), u))).transpose()?,
            };
            i.persons.insert(person.id, person);
        }
        for (n, r) in file.access_requests.iter().enumerate() {
            let path = ids.unique(format!("access_requests[{n}]"), r.id)?;
            let (email, first_name, last_name) =
                person_names(&path, &r.email, &r.first_name, &r.last_name)?;
            let request = AccessRequest {
                id: AccessRequestId(r.id),
                tenant_id: i.tenant(&format!("{path}.tenant"), r.tenant)?,
                azure_object_id: r.azure_object_id,
                email,
                first_name,
                last_name,
                status: (r.status.parse::<AccessRequestStatus>()).map_err(|_| {
                    let why = format!(
                        "`{}` is not pending, approved or rejected",
                        shown(&r.status)
                    );
                    invalid(format!("{path}.status"), why)
                })?,
                requested_at: r.requested_at,
                decided_by: (r.decided_by)
                    .map(|u| i.user(&format!("{path}.decided_by"), u))
                    .transpose()?,
            };
            i.access_requests.insert(request.id, request);
        }
        Ok(i)
    }

    /// What every admin call holds for everyone, whoever applies the file: an MSP scope
    /// names an MSP tenant, a tenant's role is assigned only within its tenant's subtree,
    /// and a tenant's group has only that tenant's users as members.
    fn check_structure(&self, file: &InstanceFile) -> Result<(), Invalid> {
        let tenants = TenantIndex::build(self.tenants.values().cloned());
        let mut resources = ResourceIndex::default();
        for (resource, owner) in &self.resources {
            resources.set(resource.clone(), Some(*owner));
        }
        for (n, a) in file.assignments.iter().enumerate() {
            let path = format!("assignments[{n}]");
            let assignment = &self.assignments[&AssignmentId(a.id)];
            if let Scope::Msp(t) = assignment.scope {
                if !self.tenants[&t].is_msp {
                    let why = format!("tenant {t} is not an MSP: use a tenant scope");
                    return Err(invalid(format!("{path}.scope"), why));
                }
            }
            let principal_tenant = match assignment.principal {
                Principal::User(u) => Some(self.users[&u].tenant_id),
                Principal::Group(g) => self.groups[&g].owner,
            };
            let owner = self.roles.get(&assignment.role_id).and_then(|r| r.owner);
            if let Some(owner) = owner {
                if !assignable(
                    owner,
                    &assignment.scope,
                    principal_tenant,
                    &tenants,
                    &resources,
                ) {
                    let why = format!(
                        "role {} belongs to tenant {owner}: it is assigned only within that tenant's subtree",
                        assignment.role_id
                    );
                    return Err(invalid(format!("{path}.scope"), why));
                }
            }
        }
        for (n, g) in file.groups.iter().enumerate() {
            let Some(owner) = g.owner.map(TenantId) else {
                continue;
            };
            for (m, member) in g.members.iter().enumerate() {
                let tenant = self.users[&UserId(*member)].tenant_id;
                if tenant != owner {
                    let why = format!(
                        "the group belongs to tenant {owner}, so only its users may join; this user is of tenant {tenant}"
                    );
                    return Err(invalid(format!("groups[{n}].members[{m}]"), why));
                }
            }
        }
        Ok(())
    }

    /// The tenant's ancestors exist, and none is the tenant itself or past the depth limit.
    fn check_ancestry(&self, path: &str, tenant: TenantId) -> Result<(), Invalid> {
        let mut depth = 0;
        let mut at = self.tenants.get(&tenant).and_then(|t| t.parent);
        while let Some(parent) = at {
            let node = self.tenants.get(&parent).ok_or_else(|| {
                invalid(path, format!("no tenant in `tenants` has the id {parent}"))
            })?;
            depth += 1;
            if node.id == tenant {
                let why = "the tenant is its own ancestor: the tenant tree has a cycle";
                return Err(invalid(path, why));
            }
            if depth > MAX_TENANT_DEPTH {
                let why = format!("the tenant is more than {MAX_TENANT_DEPTH} levels deep");
                return Err(invalid(path, why));
            }
            at = node.parent;
        }
        Ok(())
    }

    /// A tenant the file has, named at `path`.
    fn tenant(&self, path: &str, id: uuid::Uuid) -> Result<TenantId, Invalid> {
        let found = self.tenants.contains_key(&TenantId(id));
        let why = || invalid(path, format!("no tenant in `tenants` has the id {id}"));
        found.then_some(TenantId(id)).ok_or_else(why)
    }

    /// An owner tenant, when one is named.
    fn owner(&self, path: &str, id: Option<uuid::Uuid>) -> Result<Option<TenantId>, Invalid> {
        id.map(|id| self.tenant(path, id)).transpose()
    }

    fn tag(&self, path: &str, id: uuid::Uuid) -> Result<TagId, Invalid> {
        let found = self.tags.contains_key(&TagId(id));
        let why = || invalid(path, format!("no tag in `tags` has the id {id}"));
        found.then_some(TagId(id)).ok_or_else(why)
    }

    fn user(&self, path: &str, id: uuid::Uuid) -> Result<UserId, Invalid> {
        let found = self.users.contains_key(&UserId(id));
        let why = || invalid(path, format!("no user in `users` has the id {id}"));
        found.then_some(UserId(id)).ok_or_else(why)
    }

    fn group(&self, path: &str, id: uuid::Uuid) -> Result<GroupId, Invalid> {
        let found = self.groups.contains_key(&GroupId(id));
        let why = || invalid(path, format!("no group in `groups` has the id {id}"));
        found.then_some(GroupId(id)).ok_or_else(why)
    }

    /// A custom role of the file by id, or a built-in role by id or name.
    fn role(&self, path: &str, named: &str) -> Result<RoleId, Invalid> {
        if let Ok(id) = named.parse::<uuid::Uuid>().map(RoleId) {
            if self.roles.contains_key(&id) || catalogue().built_in_role(id).is_some() {
                return Ok(id);
            }
        }
        let built_in = catalogue().built_in_role_by_name(named).map(|r| r.id);
        built_in.ok_or_else(|| {
            let why = format!(
                "`{}` is neither the id of a role in `roles` nor the name of a built-in role",
                shown(named)
            );
            invalid(path, why)
        })
    }

    fn scope(&self, path: &str, scope: &ScopeEntry) -> Result<Scope, Invalid> {
        Ok(match scope {
            ScopeEntry::Owner => Scope::Owner,
            ScopeEntry::UsersTenant => Scope::UsersTenant,
            ScopeEntry::Msp(t) => Scope::Msp(self.tenant(path, *t)?),
            ScopeEntry::Tenant(t) => Scope::Tenant(self.tenant(path, *t)?),
            ScopeEntry::Tag(g) => Scope::TenantTag(self.tag(path, *g)?),
            ScopeEntry::Resource(text) => {
                let (kind, id) = (text.split_once('/'))
                    .ok_or_else(|| invalid(path, "a resource scope is `TYPE/ID`"))?;
                let r = resource(path, kind, id)?;
                if !self.resources.contains_key(&r) {
                    return Err(invalid(path, format!("resource {r} is not in `resources`")));
                }
                Scope::Resource(r)
            }
        })
    }

    /// The tenants, each after its parent.
    pub fn tenants_top_down(&self) -> Vec<&Tenant> {
        let depth = |t: &Tenant| {
            let mut depth = 0;
            let mut at = t.parent;
            while let Some(parent) = at.and_then(|p| self.tenants.get(&p)) {
                depth += 1;
                at = parent.parent;
            }
            depth
        };
        let mut tenants: Vec<&Tenant> = self.tenants.values().collect();
        tenants.sort_by_key(|t| (depth(t), t.id));
        tenants
    }
}

/// `field` of the object at `path`, within `max` characters; `required`: not blank.
fn text(
    path: &str,
    field: &'static str,
    value: &str,
    max: usize,
    required: bool,
) -> Result<String, Invalid> {
    match required {
        true => required_text(field, value, max),
        false => optional_text(field, value, max),
    }
    .map_err(|e| invalid(format!("{path}.{field}"), e.to_string()))
}

/// A person's email (required) and names.
fn person_names(
    path: &str,
    email: &str,
    first: &str,
    last: &str,
) -> Result<(String, String, String), Invalid> {
    Ok((
        text(path, "email", email, EMAIL_MAX, true)?,
        text(path, "first_name", first, PERSON_NAME_MAX, false)?,
        text(path, "last_name", last, PERSON_NAME_MAX, false)?,
    ))
}

fn resource(path: &str, kind: &str, id: &str) -> Result<ResourceRef, Invalid> {
    let kind = kind
        .parse()
        .map_err(|e: crate::model::UnknownResourceType| invalid(path, e.to_string()))?;
    ResourceRef::named(kind, id).map_err(|e| invalid(path, e.to_string()))
}

/// Ids seen so far: each object's id is its own across the whole file.
#[derive(Default)]
struct Ids(HashMap<uuid::Uuid, String>);

impl Ids {
    /// The object at `path` takes `id`, unless another has it; its path, for what follows.
    fn unique(&mut self, path: String, id: uuid::Uuid) -> Result<String, Invalid> {
        match self.0.insert(id, path.clone()) {
            Some(other) => {
                let why = format!("{id} is also the id of {other}");
                Err(invalid(format!("{path}.id"), why))
            }
            None => Ok(path),
        }
    }
}
