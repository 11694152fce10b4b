//! A naive reference evaluator: the world as plain values, decided by reading docs/model.md
//! literally, independent of the engine. Property and soak tests compare against it.

use std::collections::BTreeSet;

use rbac_sidecar::engine::Decision;
use rbac_sidecar::model::{
    AssignmentId, GroupId, Principal, ResourceRef, RoleId, TagId, TenantId, UserId, catalogue,
};

/// The permissions the worlds use: plain ones, an msp_only one and a system one.
pub const POOL: [&str; 5] = [
    "computers.view",
    "computers.manage",
    "scripts.view",
    "tenants.manage",
    "billing.view",
];
pub const SYSTEM: &str = "billing.view";
pub const MSP_ONLY: &str = "tenants.manage";

/// The catalogue's flags of a key (data, not logic): system permissions ignore scope,
/// msp_only ones reach only users of MSP tenants.
fn flags(permission: &str) -> (bool, bool) {
    let c = catalogue();
    let p = c.get(c.id(permission).expect("a catalogue key"));
    (p.system, p.msp_only)
}

/// The reference: the world as plain values, decided by reading docs/model.md literally.
#[derive(Default)]
pub struct Reference {
    pub tenants: Vec<(TenantId, Option<usize>, bool, BTreeSet<usize>)>,
    pub tags: Vec<TagId>,
    pub users: Vec<(UserId, usize, bool)>,
    pub groups: Vec<(GroupId, BTreeSet<usize>)>,
    pub roles: Vec<(RoleId, BTreeSet<&'static str>)>,
    pub resources: Vec<(ResourceRef, Option<usize>)>,
    pub assignments: Vec<(AssignmentId, usize, Principal, RefScope, bool)>,
}

#[derive(Clone, Debug)]
pub enum RefScope {
    Owner,
    Msp(usize),
    Tenant(usize),
    Tag(usize),
    UsersTenant,
    Resource(usize),
}

#[derive(Clone, Copy, Debug)]
pub enum RefTarget {
    None,
    Tenant(usize),
    Resource(usize),
}

impl Reference {
    /// `tenant` is `ancestor` or below it.
    pub fn is_within(&self, tenant: usize, ancestor: usize) -> bool {
        let mut at = Some(tenant);
        while let Some(t) = at {
            if t == ancestor {
                return true;
            }
            at = self.tenants[t].1;
        }
        false
    }

    fn covers_tenant(&self, scope: &RefScope, tenant: usize, user: usize) -> bool {
        match scope {
            RefScope::Owner => true,
            RefScope::Msp(m) => {
                let mut at = Some(tenant);
                while let Some(t) = at {
                    if t == *m {
                        return true;
                    }
                    at = self.tenants[t].1;
                }
                false
            }
            RefScope::Tenant(t) => *t == tenant,
            RefScope::Tag(g) => self.tenants[tenant].3.contains(g),
            RefScope::UsersTenant => self.users[user].1 == tenant,
            RefScope::Resource(_) => false,
        }
    }

    fn covers(&self, scope: &RefScope, target: RefTarget, user: usize) -> bool {
        match target {
            RefTarget::None => false,
            RefTarget::Tenant(t) => self.covers_tenant(scope, t, user),
            RefTarget::Resource(r) => match scope {
                RefScope::Owner => true,
                RefScope::Resource(named) => *named == r,
                _ => self.resources[r]
                    .1
                    .is_some_and(|t| self.covers_tenant(scope, t, user)),
            },
        }
    }

    pub fn decide(&self, user: usize, permission: &str, target: RefTarget) -> Decision {
        let (_, tenant, disabled) = self.users[user];
        if disabled {
            return Decision::UserInactive;
        }
        let (system, msp_only) = flags(permission);
        if msp_only && !self.tenants[tenant].2 {
            return Decision::NotGranted;
        }
        let mut allowed = false;
        for (_, role, principal, scope, deny) in &self.assignments {
            let reaches = match principal {
                Principal::User(id) => *id == self.users[user].0,
                Principal::Group(id) => self
                    .groups
                    .iter()
                    .any(|(g, members)| g == id && members.contains(&user)),
            };
            if !reaches || !self.roles[*role].1.contains(permission) {
                continue;
            }
            if system || self.covers(scope, target, user) {
                if *deny {
                    return Decision::Denied;
                }
                allowed = true;
            }
        }
        if allowed {
            Decision::Allowed
        } else {
            Decision::NotGranted
        }
    }
}
