//! The permissions the service's own rules name (who may manage tenants, users, roles,
//! assignments). Each is a key of catalogue.toml; `check` (run at start-up and by a test)
//! makes sure the catalogue has them all, so no rule meets an unknown key on a request.

use super::{PermissionId, catalogue};

/// A permission named by a rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Named(&'static str);

impl Named {
    pub fn key(self) -> &'static str {
        self.0
    }

    #[expect(
        clippy::expect_used,
        reason = "`check` runs at start-up and in a test: every named key is in the catalogue"
    )]
    pub fn id(self) -> PermissionId {
        catalogue()
            .id(self.0)
            .expect("named permissions are checked against the catalogue at start-up")
    }
}

impl From<Named> for PermissionId {
    fn from(named: Named) -> PermissionId {
        named.id()
    }
}

impl std::fmt::Display for Named {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

/// Declares each permission once: its constant, and its place in `ALL`, which `check`
/// holds against the catalogue (so a constant cannot escape the start-up check).
macro_rules! named {
    ($($name:ident = $key:literal;)*) => {
        $(pub const $name: Named = Named($key);)*
        const ALL: &[Named] = &[$($name),*];
    };
}

named! {
    AUDIT_VIEW = "audit.view";
    COMPUTERS_MANAGE = "computers.manage";
    MEDIA_MANAGE = "media.manage";
    SCRIPTS_MANAGE = "scripts.manage";
    SOFTWARE_MANAGE = "software.manage";
    TASKS_MANAGE = "tasks.manage";
    PERSONS_MANAGE = "persons.manage";
    PERSONS_VIEW = "persons.view";
    PREFERENCES_MANAGE = "preferences.manage";
    ASSIGN_CROSS_TENANT_ROLES = "rbac.assign-cross-tenant-roles";
    ASSIGN_MSP_SCOPE = "rbac.assign-msp-scope";
    ASSIGN_OWNER_SCOPE = "rbac.assign-owner-scope";
    ASSIGN_TAG_SCOPE = "rbac.assign-tag-scope";
    ASSIGN_TENANT_SCOPE = "rbac.assign-tenant-scope";
    ASSIGNMENTS_VIEW = "rbac.assignments.view";
    GROUPS_MANAGE = "rbac.groups.manage";
    GROUPS_VIEW = "rbac.groups.view";
    ROLES_MANAGE = "rbac.roles.manage";
    ROLES_MANAGE_PUBLIC = "rbac.roles.manage-public";
    TAGS_MANAGE = "tags.manage";
    TENANTS_MANAGE = "tenants.manage";
    TENANTS_VIEW = "tenants.view";
    USERS_IMPERSONATE = "users.impersonate";
    USERS_MANAGE = "users.manage";
    USERS_MANAGE_ACCESS_REQUESTS = "users.manage-access-requests";
    USERS_VIEW = "users.view";
}

/// The named keys the catalogue lacks, as an error to stop on.
pub fn check() -> Result<(), String> {
    let missing: Vec<&str> = ALL
        .iter()
        .map(|p| p.0)
        .filter(|key| catalogue().id(key).is_none())
        .collect();
    if missing.is_empty() {
        Ok(())
    } else {
        Err(format!(
            "the permission catalogue lacks keys the admin rules name: {}",
            missing.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_catalogue_has_every_named_permission() {
        assert_eq!(super::check(), Ok(()));
    }
}
