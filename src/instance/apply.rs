//! `apply`: makes the database's instance equal to a file, in one revision or not at all.
//! What the file lacks is removed. The plan says what will be created, changed and
//! removed; an empty plan writes nothing (no revision), and a plan that would leave no
//! administrator where there was one is refused.

use std::collections::BTreeSet;
use std::fmt;

use super::file::InstanceFile;
use super::state::{Instance, Invalid};
use crate::model::{
    Action, Effect, Outcome, Principal, RoleId, Scope, TenantId, User, UserId, catalogue,
    permissions::ASSIGN_OWNER_SCOPE, unix_now,
};
use crate::store::{AuditRecord, Store, StoreError, StoredAssignment, Write};

/// What an apply does, object by object, in the words a reviewer reads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Plan {
    pub created: Vec<String>,
    pub changed: Vec<String>,
    pub removed: Vec<String>,
}

impl Plan {
    pub fn is_empty(&self) -> bool {
        self.created.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }

    /// What turns `current` into `wanted`.
    pub fn between(current: &Instance, wanted: &Instance) -> Plan {
        let mut plan = Plan::default();
        let mut compare = |what: &str, name: String, before: Option<bool>, after: bool| {
            let line = format!("{what} {name}");
            match (before, after) {
                (None, true) => plan.created.push(line),
                (Some(_), false) => plan.removed.push(line),
                (Some(false), true) => plan.changed.push(line),
                _ => {}
            }
        };
        macro_rules! each {
            ($what:literal, $field:ident, $name:expr) => {
                let name = $name;
                for (id, old) in &current.$field {
                    let new = wanted.$field.get(id);
                    compare($what, name(old), Some(new == Some(old)), new.is_some());
                }
                for (id, new) in &wanted.$field {
                    if !current.$field.contains_key(id) {
                        compare($what, name(new), None, true);
                    }
                }
            };
        }
        each!("tag", tags, |t: &crate::model::Tag| format!(
            "`{}` ({})",
            t.name, t.id
        ));
        each!("tenant", tenants, |t: &crate::model::Tenant| format!(
            "`{}` ({})",
            t.name, t.id
        ));
        each!("role", roles, |r: &crate::model::Role| format!(
            "`{}` ({})",
            r.name, r.id
        ));
        each!("user", users, |u: &User| format!(
            "`{}` ({})",
            u.email, u.id
        ));
        each!("group", groups, |g: &crate::model::Group| format!(
            "`{}` ({})",
            g.name, g.id
        ));
        each!("person", persons, |p: &crate::model::Person| format!(
            "`{}` ({})",
            p.email, p.id
        ));
        each!(
            "access request",
            access_requests,
            |r: &crate::model::AccessRequest| { format!("`{}` ({})", r.email, r.id) }
        );
        each!(
            "assignment",
            assignments,
            |a: &crate::model::RoleAssignment| {
                // Named from either side: a removed assignment's role may be gone from the file.
                let role = catalogue().built_in_role(a.role_id).map(|r| r.name.clone());
                let role = (role.or_else(|| wanted.roles.get(&a.role_id).map(|r| r.name.clone())))
                    .or_else(|| current.roles.get(&a.role_id).map(|r| r.name.clone()))
                    .unwrap_or_else(|| a.role_id.to_string());
                let whom = match a.principal {
                    Principal::User(u) => format!("user {u}"),
                    Principal::Group(g) => format!("group {g}"),
                };
                format!("{} ({}): `{role}` to {whom} at {}", a.id, a.effect, a.scope)
            }
        );
        for (resource, owner) in &current.resources {
            let new = wanted.resources.get(resource);
            compare(
                "resource",
                resource.to_string(),
                Some(new == Some(owner)),
                new.is_some(),
            );
        }
        for resource in wanted.resources.keys() {
            if !current.resources.contains_key(resource) {
                compare("resource", resource.to_string(), None, true);
            }
        }
        for member in current.members.symmetric_difference(&wanted.members) {
            let (group, user) = member;
            let line = format!("member {user} of group {group}");
            if wanted.members.contains(member) {
                plan.created.push(line);
            } else {
                plan.removed.push(line);
            }
        }
        if current.preferences != wanted.preferences {
            plan.changed.push(format!(
                "preferences (impersonation enabled: {})",
                wanted.preferences.impersonation_enabled
            ));
        }
        plan
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (sign, lines) in [
            ("+", &self.created),
            ("~", &self.changed),
            ("-", &self.removed),
        ] {
            for line in lines {
                writeln!(f, "{sign} {line}")?;
            }
        }
        writeln!(
            f,
            "Plan: {} to create, {} to change, {} to remove.",
            self.created.len(),
            self.changed.len(),
            self.removed.len()
        )
    }
}

/// Why nothing was applied.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("the file is not a whole instance, nothing was written: {0}")]
    Invalid(#[from] Invalid),
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What an apply did: its plan, and the revision it wrote (None: nothing written).
#[derive(Debug)]
pub struct Applied {
    pub plan: Plan,
    pub revision: Option<u64>,
}

/// Makes `store`'s instance equal to `file` in one revision; with `dry_run`, or when
/// nothing differs, only says what that would do.
pub async fn apply(
    store: &Store,
    file: &InstanceFile,
    dry_run: bool,
) -> Result<Applied, ApplyError> {
    let wanted = Instance::from_file(file)?;
    let mut write = store.begin_write().await?;
    let current = Instance::read(write.txn()).await?;
    let plan = Plan::between(&current, &wanted);
    // A dry run is refused where the apply would be.
    if let Err(refusal) = keeps_an_administrator(&current, &wanted) {
        write.rollback().await?;
        return Err(ApplyError::Refused(refusal));
    }
    if plan.is_empty() || dry_run {
        write.rollback().await?;
        return Ok(Applied {
            plan,
            revision: None,
        });
    }
    carry_out(&mut write, &current, &wanted).await?;
    let revision = write
        .commit(AuditRecord {
            actor: None,
            impersonator: None,
            action: Action::ApplyInstance,
            target: "instance".to_owned(),
            before: None,
            after: Some(format!(
                "{} created, {} changed, {} removed",
                plan.created.len(),
                plan.changed.len(),
                plan.removed.len()
            )),
            outcome: Outcome::Succeeded,
            detail: String::new(),
        })
        .await?;
    Ok(Applied {
        plan,
        revision: Some(revision),
    })
}

/// The writes, in an order every reference survives: removals first (assignments before
/// what they name), then creations and changes (parents before children), and removed
/// tenants last, deepest first, once nothing points at them.
pub async fn carry_out(
    w: &mut Write<'_>,
    current: &Instance,
    wanted: &Instance,
) -> Result<(), StoreError> {
    for (id, old) in &current.assignments {
        if wanted.assignments.get(id) != Some(old) {
            w.delete_assignment(old).await?;
        }
    }
    for (group, user) in current.members.difference(&wanted.members) {
        w.remove_group_member(*group, *user).await?;
    }
    for id in current
        .groups
        .keys()
        .filter(|id| !wanted.groups.contains_key(id))
    {
        w.delete_group(*id).await?;
    }
    for resource in current
        .resources
        .keys()
        .filter(|r| !wanted.resources.contains_key(*r))
    {
        w.delete_resource(resource).await?;
    }
    for (id, old) in &current.access_requests {
        if wanted.access_requests.get(id) != Some(old) {
            w.delete_access_request(*id).await?;
        }
    }
    for (id, old) in &current.persons {
        if wanted.persons.get(id) != Some(old) {
            w.delete_person(*id).await?;
        }
    }
    for id in current
        .users
        .keys()
        .filter(|id| !wanted.users.contains_key(id))
    {
        w.delete_user(*id).await?;
    }
    for id in current
        .roles
        .keys()
        .filter(|id| !wanted.roles.contains_key(id))
    {
        w.delete_role(*id).await?;
    }
    let links = |i: &Instance| -> BTreeSet<(TenantId, crate::model::TagId)> {
        i.tenants
            .values()
            .flat_map(|t| t.tags.iter().map(|g| (t.id, *g)))
            .collect()
    };
    let (old_links, new_links) = (links(current), links(wanted));
    for (tenant, tag) in old_links.difference(&new_links) {
        w.remove_tenant_tag(*tenant, *tag).await?;
    }
    for id in current
        .tags
        .keys()
        .filter(|id| !wanted.tags.contains_key(id))
    {
        w.delete_tag(*id).await?;
    }

    for (id, tag) in &wanted.tags {
        match current.tags.get(id) {
            None => w.insert_tag(tag).await?,
            Some(old) if old != tag => w.rename_tag(tag).await?,
            Some(_) => {}
        }
    }
    for tenant in wanted.tenants_top_down() {
        match current.tenants.get(&tenant.id) {
            None => w.insert_tenant(tenant).await?,
            Some(old)
                if (&old.name, old.parent, old.is_msp)
                    != (&tenant.name, tenant.parent, tenant.is_msp) =>
            {
                w.update_tenant(tenant).await?;
            }
            Some(_) => {}
        }
    }
    for (tenant, tag) in new_links.difference(&old_links) {
        w.add_tenant_tag(*tenant, *tag).await?;
    }
    for (id, role) in &wanted.roles {
        if current.roles.get(id) != Some(role) {
            w.save_role(role).await?;
        }
    }
    let mut new_users = Vec::new();
    for (id, user) in &wanted.users {
        match current.users.get(id) {
            None => new_users.push(user.clone()),
            Some(old) if old != user => w.update_user(user).await?,
            Some(_) => {}
        }
    }
    w.insert_users(&new_users).await?;
    for (id, group) in &wanted.groups {
        match current.groups.get(id) {
            None => w.insert_group(group).await?,
            Some(old) if old != group => w.update_group(group).await?,
            Some(_) => {}
        }
    }
    for (group, user) in wanted.members.difference(&current.members) {
        w.add_group_member(*group, *user).await?;
    }
    for (resource, owner) in &wanted.resources {
        if current.resources.get(resource) != Some(owner) {
            w.upsert_resource(resource, *owner).await?;
        }
    }
    for (id, person) in &wanted.persons {
        if current.persons.get(id) != Some(person) {
            w.save_person(person).await?;
        }
    }
    for (id, request) in &wanted.access_requests {
        if current.access_requests.get(id) != Some(request) {
            w.save_access_request(request).await?;
        }
    }
    let assignments: Vec<StoredAssignment> = (wanted.assignments.iter())
        .filter(|(id, a)| current.assignments.get(id) != Some(*a))
        .map(|(_, a)| StoredAssignment::now(a.clone(), None))
        .collect();
    w.insert_assignments(&assignments).await?;
    if current.preferences != wanted.preferences {
        w.save_preferences(&wanted.preferences).await?;
    }

    let mut removed: Vec<_> = current
        .tenants_top_down()
        .into_iter()
        .filter(|t| !wanted.tenants.contains_key(&t.id))
        .map(|t| t.id)
        .collect();
    removed.reverse();
    for id in removed {
        w.delete_tenant(id).await?;
    }
    Ok(())
}

/// Refused (with what to do) when `wanted` leaves no administrator where `current` has one.
pub fn keeps_an_administrator(current: &Instance, wanted: &Instance) -> Result<(), String> {
    if administrators(current) > 0 && administrators(wanted) == 0 {
        return Err(format!(
            "the file leaves no active user allowed `{ASSIGN_OWNER_SCOPE}` at Owner scope: nobody could administer the instance afterwards. Keep at least one administrator in the file"
        ));
    }
    Ok(())
}

/// How many active users hold `rbac.assign-owner-scope` at Owner scope, allowed and not
/// denied, directly or through a group: those who can administer everything.
fn administrators(instance: &Instance) -> usize {
    let key = ASSIGN_OWNER_SCOPE.id();
    let holds = |role: RoleId| match catalogue().built_in_role(role) {
        Some(built_in) => built_in.permissions.contains(key),
        None => instance
            .roles
            .get(&role)
            .is_some_and(|r| r.permissions.contains(key)),
    };
    let now = unix_now();
    let at_owner = |user: UserId, effect: Effect| {
        instance.assignments.values().any(|a| {
            let reaches = match a.principal {
                Principal::User(u) => u == user,
                Principal::Group(g) => instance.members.contains(&(g, user)),
            };
            // An allow counts at Owner scope; a deny anywhere takes it away (the
            // administrator would no longer hold it over the whole instance).
            let placed = effect == Effect::Deny || a.scope == Scope::Owner;
            reaches && a.effect == effect && placed && holds(a.role_id)
        })
    };
    instance
        .users
        .values()
        .filter(|u| !u.disabled && u.expires_at.is_none_or(|at| now < at))
        .filter(|u| at_owner(u.id, Effect::Allow) && !at_owner(u.id, Effect::Deny))
        .count()
}
