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
use crate::engine::MAX_TENANT_DEPTH;
use crate::model::{
    AccessRequest, AccessRequestId, AccessRequestStatus, AssignmentId, DESCRIPTION_MAX, EMAIL_MAX,
    Effect, Group, GroupId, NAME_MAX, PERSON_NAME_MAX, Person, PersonId, Preferences, Principal,
    ResourceRef, Role, RoleAssignment, RoleId, Scope, Tag, TagId, Tenant, TenantId, User, UserId,
    UserOrigin, catalogue, optional_text, required_text,
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
        let mut instance = Instance {
            preferences: Preferences {
                impersonation_enabled: file.preferences.impersonation_enabled,
            },
            ..Instance::default()
        };
        let text = |path: String, field: &'static str, value: &str, max: usize, required: bool| {
            if required {
                required_text(field, value, max)
            } else {
                optional_text(field, value, max)
            }
            .map_err(|e| invalid(path, e.to_string()))
        };
        let mut tag_names = HashMap::new();
        for (i, t) in file.tags.iter().enumerate() {
            let path = format!("tags[{i}]");
            ids.unique(&path, t.id)?;
            let name = text(format!("{path}.name"), "name", &t.name, NAME_MAX, true)?;
            if let Some(other) = tag_names.insert(name.clone(), i) {
                return Err(invalid(
                    format!("{path}.name"),
                    format!("`{name}` is also the name of tags[{other}]"),
                ));
            }
            instance.tags.insert(
                TagId(t.id),
                Tag {
                    id: TagId(t.id),
                    name,
                },
            );
        }
        for (i, t) in file.tenants.iter().enumerate() {
            let path = format!("tenants[{i}]");
            ids.unique(&path, t.id)?;
            let mut tags = Vec::new();
            for (j, tag) in t.tags.iter().enumerate() {
                if !instance.tags.contains_key(&TagId(*tag)) {
                    return Err(invalid(
                        format!("{path}.tags[{j}]"),
                        format!("no tag in `tags` has the id {tag}"),
                    ));
                }
                tags.push(TagId(*tag));
            }
            tags.sort();
            tags.dedup();
            let tenant = Tenant {
                id: TenantId(t.id),
                name: text(format!("{path}.name"), "name", &t.name, NAME_MAX, true)?,
                parent: t.parent.map(TenantId),
                is_msp: t.msp,
                tags,
            };
            instance.tenants.insert(tenant.id, tenant);
        }
        // Every parent exists, and the tree has no cycle and no branch deeper than the limit.
        for (i, t) in file.tenants.iter().enumerate() {
            let mut depth = 0;
            let mut at = t.parent.map(TenantId);
            while let Some(parent) = at {
                let Some(node) = instance.tenants.get(&parent) else {
                    return Err(invalid(
                        format!("tenants[{i}].parent"),
                        format!("no tenant in `tenants` has the id {parent}"),
                    ));
                };
                depth += 1;
                if node.id == TenantId(t.id) || depth > MAX_TENANT_DEPTH {
                    let why = if node.id == TenantId(t.id) {
                        "the tenant is its own ancestor: the tenant tree has a cycle".to_owned()
                    } else {
                        format!("the tenant is more than {MAX_TENANT_DEPTH} levels deep")
                    };
                    return Err(invalid(format!("tenants[{i}].parent"), why));
                }
                at = node.parent;
            }
        }
        let tenant = |path: String, id: uuid::Uuid, instance: &Instance| {
            instance
                .tenants
                .contains_key(&TenantId(id))
                .then_some(TenantId(id))
                .ok_or_else(|| invalid(path, format!("no tenant in `tenants` has the id {id}")))
        };
        for (i, r) in file.roles.iter().enumerate() {
            let path = format!("roles[{i}]");
            ids.unique(&path, r.id)?;
            if catalogue().built_in_role(RoleId(r.id)).is_some() {
                return Err(invalid(
                    format!("{path}.id"),
                    "is a built-in role's id: built-in roles come with the catalogue and are not listed",
                ));
            }
            let mut permissions = crate::model::PermissionSet::default();
            for (j, key) in r.permissions.iter().enumerate() {
                let id = catalogue().id(key).ok_or_else(|| {
                    invalid(
                        format!("{path}.permissions[{j}]"),
                        format!(
                            "`{}` is not a permission of the catalogue",
                            crate::model::shown(key)
                        ),
                    )
                })?;
                permissions.insert(id);
            }
            let name = text(format!("{path}.name"), "name", &r.name, NAME_MAX, true)?;
            let role = Role {
                id: RoleId(r.id),
                name,
                description: text(
                    format!("{path}.description"),
                    "description",
                    &r.description,
                    DESCRIPTION_MAX,
                    false,
                )?,
                owner: r
                    .owner
                    .map(|o| tenant(format!("{path}.owner"), o, &instance))
                    .transpose()?,
                built_in: false,
                permissions,
            };
            instance.roles.insert(role.id, role);
        }
        let mut object_ids = HashMap::new();
        for (i, u) in file.users.iter().enumerate() {
            let path = format!("users[{i}]");
            ids.unique(&path, u.id)?;
            if let Some(other) = object_ids.insert(u.azure_object_id, i) {
                return Err(invalid(
                    format!("{path}.azure_object_id"),
                    format!("users[{other}] has the same Azure object id"),
                ));
            }
            let user = User {
                id: UserId(u.id),
                tenant_id: tenant(format!("{path}.tenant"), u.tenant, &instance)?,
                azure_object_id: u.azure_object_id,
                email: text(format!("{path}.email"), "email", &u.email, EMAIL_MAX, true)?,
                first_name: text(
                    format!("{path}.first_name"),
                    "first_name",
                    &u.first_name,
                    PERSON_NAME_MAX,
                    false,
                )?,
                last_name: text(
                    format!("{path}.last_name"),
                    "last_name",
                    &u.last_name,
                    PERSON_NAME_MAX,
                    false,
                )?,
                disabled: u.disabled,
                expires_at: u.expires_at,
                origin: u
                    .origin
                    .parse::<UserOrigin>()
                    .map_err(|e| invalid(format!("{path}.origin"), e.to_string()))?,
            };
            instance.users.insert(user.id, user);
        }
        for (i, g) in file.groups.iter().enumerate() {
            let path = format!("groups[{i}]");
            ids.unique(&path, g.id)?;
            let group = Group {
                id: GroupId(g.id),
                name: text(format!("{path}.name"), "name", &g.name, NAME_MAX, true)?,
                description: text(
                    format!("{path}.description"),
                    "description",
                    &g.description,
                    DESCRIPTION_MAX,
                    false,
                )?,
                owner: g
                    .owner
                    .map(|o| tenant(format!("{path}.owner"), o, &instance))
                    .transpose()?,
            };
            for (j, member) in g.members.iter().enumerate() {
                if !instance.users.contains_key(&UserId(*member)) {
                    return Err(invalid(
                        format!("{path}.members[{j}]"),
                        format!("no user in `users` has the id {member}"),
                    ));
                }
                instance.members.insert((group.id, UserId(*member)));
            }
            instance.groups.insert(group.id, group);
        }
        for (i, r) in file.resources.iter().enumerate() {
            let path = format!("resources[{i}]");
            let resource = resource(&path, &r.kind, &r.id)?;
            let owner = r
                .owner
                .map(|o| tenant(format!("{path}.owner"), o, &instance))
                .transpose()?;
            if instance.resources.insert(resource.clone(), owner).is_some() {
                return Err(invalid(
                    path,
                    format!("resource {resource} is listed twice"),
                ));
            }
        }
        for (i, a) in file.assignments.iter().enumerate() {
            let path = format!("assignments[{i}]");
            ids.unique(&path, a.id)?;
            let role_id = match a.role.parse::<uuid::Uuid>() {
                Ok(id) if instance.roles.contains_key(&RoleId(id)) || catalogue().built_in_role(RoleId(id)).is_some() => RoleId(id),
                _ => catalogue()
                    .built_in_role_by_name(&a.role)
                    .map(|r| r.id)
                    .ok_or_else(|| invalid(format!("{path}.role"), format!("`{}` is neither the id of a role in `roles` nor the name of a built-in role", crate::model::shown(&a.role))))?,
            };
            let principal = match (a.user, a.group) {
                (Some(user), None) if instance.users.contains_key(&UserId(user)) => {
                    Principal::User(UserId(user))
                }
                (None, Some(group)) if instance.groups.contains_key(&GroupId(group)) => {
                    Principal::Group(GroupId(group))
                }
                (Some(user), None) => {
                    return Err(invalid(
                        format!("{path}.user"),
                        format!("no user in `users` has the id {user}"),
                    ));
                }
                (None, Some(group)) => {
                    return Err(invalid(
                        format!("{path}.group"),
                        format!("no group in `groups` has the id {group}"),
                    ));
                }
                _ => {
                    return Err(invalid(
                        path,
                        "give the assignment to exactly one of `user` and `group`",
                    ));
                }
            };
            let scope_path = format!("{path}.scope");
            let scope = match &a.scope {
                ScopeEntry::Owner => Scope::Owner,
                ScopeEntry::UsersTenant => Scope::UsersTenant,
                ScopeEntry::Msp(t) => Scope::Msp(tenant(scope_path, *t, &instance)?),
                ScopeEntry::Tenant(t) => Scope::Tenant(tenant(scope_path, *t, &instance)?),
                ScopeEntry::Tag(g) => {
                    if !instance.tags.contains_key(&TagId(*g)) {
                        return Err(invalid(
                            scope_path,
                            format!("no tag in `tags` has the id {g}"),
                        ));
                    }
                    Scope::TenantTag(TagId(*g))
                }
                ScopeEntry::Resource(text) => {
                    let (kind, id) = text
                        .split_once('/')
                        .ok_or_else(|| invalid(&scope_path, "a resource scope is `TYPE/ID`"))?;
                    let r = resource(&scope_path, kind, id)?;
                    if !instance.resources.contains_key(&r) {
                        return Err(invalid(
                            scope_path,
                            format!("resource {r} is not in `resources`"),
                        ));
                    }
                    Scope::Resource(r)
                }
            };
            let assignment = RoleAssignment {
                id: AssignmentId(a.id),
                role_id,
                principal,
                scope,
                effect: match a.effect {
                    EffectEntry::Allow => Effect::Allow,
                    EffectEntry::Deny => Effect::Deny,
                },
            };
            instance.assignments.insert(assignment.id, assignment);
        }
        for (i, p) in file.persons.iter().enumerate() {
            let path = format!("persons[{i}]");
            ids.unique(&path, p.id)?;
            let user = p.user.map(UserId);
            if let Some(user) = user.filter(|u| !instance.users.contains_key(u)) {
                return Err(invalid(
                    format!("{path}.user"),
                    format!("no user in `users` has the id {user}"),
                ));
            }
            let person = Person {
                id: PersonId(p.id),
                tenant_id: tenant(format!("{path}.tenant"), p.tenant, &instance)?,
                azure_object_id: p.azure_object_id,
                email: text(format!("{path}.email"), "email", &p.email, EMAIL_MAX, true)?,
                first_name: text(
                    format!("{path}.first_name"),
                    "first_name",
                    &p.first_name,
                    PERSON_NAME_MAX,
                    false,
                )?,
                last_name: text(
                    format!("{path}.last_name"),
                    "last_name",
                    &p.last_name,
                    PERSON_NAME_MAX,
                    false,
                )?,
                user_id: user,
            };
            instance.persons.insert(person.id, person);
        }
        for (i, r) in file.access_requests.iter().enumerate() {
            let path = format!("access_requests[{i}]");
            ids.unique(&path, r.id)?;
            let decided_by = r.decided_by.map(UserId);
            if let Some(user) = decided_by.filter(|u| !instance.users.contains_key(u)) {
                return Err(invalid(
                    format!("{path}.decided_by"),
                    format!("no user in `users` has the id {user}"),
                ));
            }
            let request = AccessRequest {
                id: AccessRequestId(r.id),
                tenant_id: tenant(format!("{path}.tenant"), r.tenant, &instance)?,
                azure_object_id: r.azure_object_id,
                email: text(format!("{path}.email"), "email", &r.email, EMAIL_MAX, true)?,
                first_name: text(
                    format!("{path}.first_name"),
                    "first_name",
                    &r.first_name,
                    PERSON_NAME_MAX,
                    false,
                )?,
                last_name: text(
                    format!("{path}.last_name"),
                    "last_name",
                    &r.last_name,
                    PERSON_NAME_MAX,
                    false,
                )?,
                status: r
                    .status
                    .parse::<AccessRequestStatus>()
                    .map_err(|e| invalid(format!("{path}.status"), e.to_string()))?,
                requested_at: r.requested_at,
                decided_by,
            };
            instance.access_requests.insert(request.id, request);
        }
        Ok(instance)
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
    fn unique(&mut self, path: &str, id: uuid::Uuid) -> Result<(), Invalid> {
        match self.0.insert(id, path.to_owned()) {
            Some(other) => Err(invalid(
                format!("{path}.id"),
                format!("{id} is also the id of {other}"),
            )),
            None => Ok(()),
        }
    }
}
