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

pub const AUDIT_VIEW: Named = Named("audit.view");
pub const COMPUTERS_MANAGE: Named = Named("computers.manage");
pub const MEDIA_MANAGE: Named = Named("media.manage");
pub const SCRIPTS_MANAGE: Named = Named("scripts.manage");
pub const SOFTWARE_MANAGE: Named = Named("software.manage");
pub const TASKS_MANAGE: Named = Named("tasks.manage");
pub const PERSONS_MANAGE: Named = Named("persons.manage");
pub const PERSONS_VIEW: Named = Named("persons.view");
pub const PREFERENCES_MANAGE: Named = Named("preferences.manage");
pub const ASSIGN_CROSS_TENANT_ROLES: Named = Named("rbac.assign-cross-tenant-roles");
pub const ASSIGN_MSP_SCOPE: Named = Named("rbac.assign-msp-scope");
pub const ASSIGN_OWNER_SCOPE: Named = Named("rbac.assign-owner-scope");
pub const ASSIGN_TAG_SCOPE: Named = Named("rbac.assign-tag-scope");
pub const ASSIGN_TENANT_SCOPE: Named = Named("rbac.assign-tenant-scope");
pub const ASSIGNMENTS_VIEW: Named = Named("rbac.assignments.view");
pub const GROUPS_MANAGE: Named = Named("rbac.groups.manage");
pub const GROUPS_VIEW: Named = Named("rbac.groups.view");
pub const ROLES_MANAGE: Named = Named("rbac.roles.manage");
pub const ROLES_MANAGE_PUBLIC: Named = Named("rbac.roles.manage-public");
pub const TAGS_MANAGE: Named = Named("tags.manage");
pub const TENANTS_MANAGE: Named = Named("tenants.manage");
pub const TENANTS_VIEW: Named = Named("tenants.view");
pub const USERS_IMPERSONATE: Named = Named("users.impersonate");
pub const USERS_MANAGE: Named = Named("users.manage");
pub const USERS_MANAGE_ACCESS_REQUESTS: Named = Named("users.manage-access-requests");
pub const USERS_VIEW: Named = Named("users.view");

const ALL: [Named; 26] = [
    AUDIT_VIEW,
    COMPUTERS_MANAGE,
    MEDIA_MANAGE,
    SCRIPTS_MANAGE,
    SOFTWARE_MANAGE,
    TASKS_MANAGE,
    PERSONS_MANAGE,
    PERSONS_VIEW,
    PREFERENCES_MANAGE,
    ASSIGN_CROSS_TENANT_ROLES,
    ASSIGN_MSP_SCOPE,
    ASSIGN_OWNER_SCOPE,
    ASSIGN_TAG_SCOPE,
    ASSIGN_TENANT_SCOPE,
    ASSIGNMENTS_VIEW,
    GROUPS_MANAGE,
    GROUPS_VIEW,
    ROLES_MANAGE,
    ROLES_MANAGE_PUBLIC,
    TAGS_MANAGE,
    TENANTS_MANAGE,
    TENANTS_VIEW,
    USERS_IMPERSONATE,
    USERS_MANAGE,
    USERS_MANAGE_ACCESS_REQUESTS,
    USERS_VIEW,
];

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
