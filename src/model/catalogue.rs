//! The permission catalogue and the built-in roles, shipped with the binary as data
//! (`catalogue.toml`) and indexed once into dense ids so a permission set is a bitset.

use std::collections::HashMap;
use std::sync::LazyLock;

use serde::Deserialize;
use uuid::Uuid;

use super::RoleId;
use super::permission_set::{MAX_PERMISSIONS, PermissionId, PermissionSet};

/// How a permission is grouped in the catalogue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Category {
    View,
    Core,
    Advanced,
}

impl Category {
    pub fn as_str(self) -> &'static str {
        match self {
            Category::View => "view",
            Category::Core => "core",
            Category::Advanced => "advanced",
        }
    }
}

/// One entry of the catalogue. Keys are stable API.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Permission {
    pub key: String,
    pub name: String,
    pub description: String,
    pub subject: String,
    pub category: Category,
    /// Application-wide: not limited by the scope of an assignment.
    pub system: bool,
    /// Never granted to users of a non-MSP tenant.
    pub msp_only: bool,
    pub great_power: bool,
    /// The permissions it needs in practice.
    pub dependencies: Vec<String>,
}

/// A role shipped with the binary; read-only for everyone.
#[derive(Clone, Debug)]
pub struct BuiltInRole {
    /// Derived from the name, so every replica and database agrees on it.
    pub id: RoleId,
    pub name: String,
    pub description: String,
    /// The legacy user type or flag it replaces.
    pub legacy_source: String,
    pub permissions: PermissionSet,
}

/// Everything `catalogue.toml` defines, indexed.
#[derive(Debug)]
pub struct Catalogue {
    permissions: Vec<Permission>,
    by_key: HashMap<String, PermissionId>,
    system: PermissionSet,
    built_in_roles: Vec<BuiltInRole>,
}

/// Why the catalogue data could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("catalogue is not valid TOML: {0}")]
    Parse(#[from] toml::de::Error),
    #[error(
        "catalogue has {0} permissions, more than the {MAX_PERMISSIONS} a permission set holds"
    )]
    TooMany(usize),
    #[error("permission key `{0}` appears twice")]
    DuplicateKey(String),
    #[error("`{owner}` names `{key}`, which is not in the catalogue")]
    UnknownKey { owner: String, key: String },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    permission: Vec<Permission>,
    role: Vec<RoleFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RoleFile {
    name: String,
    description: String,
    legacy_source: String,
    permissions: Vec<String>,
    #[serde(default)]
    exclude: Vec<String>,
}

/// Namespace of the ids of built-in roles (UUID v5 of the role name).
const BUILT_IN_ROLE_NAMESPACE: Uuid = Uuid::from_u128(0x6b0c_2f6e_93a1_4a57_9d2e_5c1f_0b7a_3e42);

static SHIPPED: LazyLock<Catalogue> = LazyLock::new(|| {
    #[expect(
        clippy::expect_used,
        reason = "the shipped data is part of the binary and validated by unit tests"
    )]
    Catalogue::parse(include_str!("catalogue.toml")).expect("shipped catalogue.toml is valid")
});

/// The catalogue shipped with this binary.
pub fn catalogue() -> &'static Catalogue {
    &SHIPPED
}

impl Catalogue {
    /// Parses and validates catalogue data.
    pub fn parse(text: &str) -> Result<Catalogue, CatalogueError> {
        let file: CatalogueFile = toml::from_str(text)?;
        if file.permission.len() > MAX_PERMISSIONS {
            return Err(CatalogueError::TooMany(file.permission.len()));
        }
        let mut by_key = HashMap::new();
        let mut system = PermissionSet::default();
        for (index, permission) in file.permission.iter().enumerate() {
            let id = PermissionId(
                u8::try_from(index).map_err(|_| CatalogueError::TooMany(file.permission.len()))?,
            );
            if by_key.insert(permission.key.clone(), id).is_some() {
                return Err(CatalogueError::DuplicateKey(permission.key.clone()));
            }
            if permission.system {
                system.insert(id);
            }
        }
        for permission in &file.permission {
            if let Some(key) = permission
                .dependencies
                .iter()
                .find(|k| !by_key.contains_key(*k))
            {
                return Err(CatalogueError::UnknownKey {
                    owner: permission.key.clone(),
                    key: key.clone(),
                });
            }
        }
        let mut catalogue = Catalogue {
            permissions: file.permission,
            by_key,
            system,
            built_in_roles: Vec::new(),
        };
        for role in file.role {
            let selected = catalogue.expand(&role.name, &role.permissions)?;
            let excluded = catalogue.expand(&role.name, &role.exclude)?;
            let permissions = selected.iter().filter(|p| !excluded.contains(*p)).collect();
            catalogue.built_in_roles.push(BuiltInRole {
                id: RoleId(Uuid::new_v5(&BUILT_IN_ROLE_NAMESPACE, role.name.as_bytes())),
                name: role.name,
                description: role.description,
                legacy_source: role.legacy_source,
                permissions,
            });
        }
        Ok(catalogue)
    }

    /// Expands entries of a role: exact keys, `prefix.*` patterns, or `*`.
    fn expand(&self, owner: &str, entries: &[String]) -> Result<PermissionSet, CatalogueError> {
        let mut set = PermissionSet::default();
        for entry in entries {
            let matched: Vec<PermissionId> = match entry.strip_suffix('*') {
                Some(prefix) => self
                    .permissions
                    .iter()
                    .filter(|p| p.key.starts_with(prefix))
                    .filter_map(|p| self.id(&p.key))
                    .collect(),
                None => self.id(entry).into_iter().collect(),
            };
            if matched.is_empty() {
                return Err(CatalogueError::UnknownKey {
                    owner: owner.to_owned(),
                    key: entry.clone(),
                });
            }
            set = set.union(&matched.into_iter().collect());
        }
        Ok(set)
    }

    /// The id of a permission key, if it is in the catalogue.
    pub fn id(&self, key: &str) -> Option<PermissionId> {
        self.by_key.get(key).copied()
    }

    pub fn get(&self, id: PermissionId) -> &Permission {
        &self.permissions[id.index()]
    }

    pub fn permissions(&self) -> &[Permission] {
        &self.permissions
    }

    pub fn is_system(&self, id: PermissionId) -> bool {
        self.system.contains(id)
    }

    /// Every permission.
    pub fn all(&self) -> PermissionSet {
        self.by_key.values().copied().collect()
    }

    /// Every system permission.
    pub fn system(&self) -> PermissionSet {
        self.system
    }

    /// The keys of a set, in catalogue order.
    pub fn keys(&self, set: &PermissionSet) -> Vec<String> {
        set.iter().map(|id| self.get(id).key.clone()).collect()
    }

    /// For each permission of the set, the permissions it needs in practice that the set
    /// lacks (e.g. managing sessions without viewing computers). Catalogue order.
    pub fn missing_dependencies(
        &self,
        set: &PermissionSet,
    ) -> Vec<(PermissionId, Vec<PermissionId>)> {
        set.iter()
            .filter_map(|id| {
                let missing: Vec<PermissionId> = self
                    .get(id)
                    .dependencies
                    .iter()
                    .filter_map(|key| self.id(key))
                    .filter(|dependency| !set.contains(*dependency))
                    .collect();
                (!missing.is_empty()).then_some((id, missing))
            })
            .collect()
    }

    pub fn built_in_roles(&self) -> &[BuiltInRole] {
        &self.built_in_roles
    }

    pub fn built_in_role(&self, id: crate::model::RoleId) -> Option<&BuiltInRole> {
        self.built_in_roles.iter().find(|r| r.id == id)
    }

    pub fn built_in_role_by_name(&self, name: &str) -> Option<&BuiltInRole> {
        self.built_in_roles.iter().find(|r| r.name == name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const REQUIRED: &[(&str, bool)] = &[
        ("computers.view", false),
        ("computers.manage", false),
        ("computers.terminal", false),
        ("deployments.view", false),
        ("deployments.manage", false),
        ("cross-tenant-deployments.manage", false),
        ("cross-tenant-deployments.request-change", false),
        ("sessions.view", false),
        ("sessions.manage", false),
        ("tenants.view", false),
        ("tenants.manage", false),
        ("scripts.view", false),
        ("scripts.manage", false),
        ("software.view", false),
        ("software.manage", false),
        ("tasks.view", false),
        ("tasks.manage", false),
        ("tags.view", false),
        ("tags.manage", false),
        ("media.view", false),
        ("media.manage", false),
        ("users.view", false),
        ("users.manage", false),
        ("users.impersonate", false),
        ("users.manage-access-requests", false),
        ("rbac.roles.manage", false),
        ("rbac.groups.manage", false),
        ("rbac.assign-owner-scope", false),
        ("rbac.assign-msp-scope", false),
        ("rbac.assign-tag-scope", false),
        ("rbac.assign-tenant-scope", false),
        ("rbac.roles.manage-public", true),
        ("rbac.assign-cross-tenant-roles", true),
        ("billing.view", true),
        ("billing.manage", true),
        ("preferences.manage", true),
    ];

    #[test]
    fn shipped_catalogue_has_the_contract_keys_with_their_system_flag() {
        let c = catalogue();
        assert!(
            c.permissions().len() >= 100,
            "{} permissions",
            c.permissions().len()
        );
        for (key, system) in REQUIRED {
            let id = c.id(key).unwrap_or_else(|| panic!("missing `{key}`"));
            assert_eq!(c.is_system(id), *system, "system flag of `{key}`");
        }
        assert!(c.get(c.id("tenants.manage").unwrap()).msp_only);
    }

    #[test]
    fn keys_follow_the_naming_rule() {
        for p in catalogue().permissions() {
            let ok = p.key.split('.').count() >= 2
                && p.key.split('.').all(|part| {
                    part.starts_with(|c: char| c.is_ascii_lowercase())
                        && part
                            .chars()
                            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
                });
            assert!(ok, "`{}` is not `category.action`", p.key);
        }
    }

    #[test]
    fn nine_built_in_roles_with_the_designed_shape() {
        let c = catalogue();
        let names: Vec<&str> = c.built_in_roles().iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "System Administrator (Legacy)",
                "System User (Legacy)",
                "Administrator (Legacy)",
                "User (Legacy)",
                "Script Manager",
                "Computer Terminal User",
                "Deployment Manager",
                "Cross-Tenant Deployment Manager",
                "Cross-Tenant Deployment Change Requester",
            ]
        );
        let size = |name: &str| c.built_in_role_by_name(name).unwrap().permissions.len();
        assert_eq!(size("System Administrator (Legacy)"), c.permissions().len());
        assert!(size("System User (Legacy)") > size("User (Legacy)"));
        // A tenant administrator holds all a tenant user does, so that it can hand it out
        // (nobody grants what they do not hold).
        let permissions = |name: &str| c.built_in_role_by_name(name).unwrap().permissions;
        let administrator = permissions("Administrator (Legacy)");
        assert!(
            permissions("User (Legacy)")
                .iter()
                .all(|p| administrator.contains(p))
        );
        assert!(size("Administrator (Legacy)") > size("User (Legacy)"));
        for name in &names[4..] {
            assert!((2..=11).contains(&size(name)), "{name} has {}", size(name));
        }
        for name in [
            "System User (Legacy)",
            "Administrator (Legacy)",
            "User (Legacy)",
        ] {
            let role = c.built_in_role_by_name(name).unwrap();
            assert!(
                !role.permissions.intersects(&c.system()),
                "{name} holds a system permission"
            );
        }
    }

    #[test]
    fn missing_dependencies_name_what_a_permission_needs_in_practice() {
        let c = catalogue();
        let id = |key| c.id(key).unwrap();
        let set: PermissionSet = [id("sessions.manage"), id("sessions.view")]
            .into_iter()
            .collect();
        let missing = c.missing_dependencies(&set);
        assert_eq!(
            missing,
            vec![(
                id("sessions.manage"),
                vec![id("computers.view"), id("tenants.view")]
            )]
        );
        for role in c.built_in_roles() {
            assert!(
                c.missing_dependencies(&role.permissions).is_empty(),
                "{} lacks dependencies",
                role.name
            );
        }
    }

    #[test]
    fn bad_catalogue_data_is_refused_with_the_offending_key() {
        let text = r#"
            [[permission]]
            key = "a.view"
            name = "A"
            description = "d"
            subject = "A"
            category = "view"
            system = false
            msp_only = false
            great_power = false
            dependencies = ["a.missing"]
            [[role]]
            name = "R"
            description = "d"
            legacy_source = "x"
            permissions = ["a.view"]
        "#;
        let err = Catalogue::parse(text).unwrap_err();
        assert_eq!(
            err.to_string(),
            "`a.view` names `a.missing`, which is not in the catalogue"
        );
    }
}
