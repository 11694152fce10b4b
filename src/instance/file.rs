//! The instance file (`docs/instance.md`): what `export` writes and `apply` reads, as
//! YAML. Every object keeps its id; lists are sorted by id, so two exports of one state
//! are byte-identical and a review's diff shows only what changed. Built-in roles come
//! with the catalogue: assignments name them by name, custom roles by id.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The file's format version.
pub const FORMAT: u32 = 1;

/// A whole instance.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InstanceFile {
    /// The format of this file: 1.
    pub format: u32,
    #[serde(default)]
    pub preferences: PreferencesEntry,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<TagEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tenants: Vec<TenantEntry>,
    /// Custom roles only: built-in roles come with the catalogue.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<RoleEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub users: Vec<UserEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<GroupEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resources: Vec<ResourceEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assignments: Vec<AssignmentEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub persons: Vec<PersonEntry>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_requests: Vec<AccessRequestEntry>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PreferencesEntry {
    #[serde(default)]
    pub impersonation_enabled: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TagEntry {
    pub id: Uuid,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TenantEntry {
    pub id: Uuid,
    pub name: String,
    /// The parent tenant's id; absent for a root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Uuid>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub msp: bool,
    /// The ids of the tags it carries.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<Uuid>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoleEntry {
    pub id: Uuid,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The tenant that owns the role; absent for a public role.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Uuid>,
    /// Permission keys from the catalogue (`rbac-sidecar schema` lists none; see
    /// docs/model.md).
    #[serde(default)]
    pub permissions: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UserEntry {
    pub id: Uuid,
    pub tenant: Uuid,
    pub azure_object_id: Uuid,
    pub email: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub first_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_name: String,
    #[serde(default, skip_serializing_if = "is_false")]
    pub disabled: bool,
    /// Unix seconds after which the user is inactive.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
    /// How the user came: manual, person, access_request or legacy_import.
    #[serde(default = "manual", skip_serializing_if = "is_manual")]
    pub origin: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GroupEntry {
    pub id: Uuid,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Uuid>,
    /// The ids of its member users.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub members: Vec<Uuid>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceEntry {
    /// computer, script, ... (docs/model.md).
    #[serde(rename = "type")]
    pub kind: String,
    pub id: String,
    /// The owning tenant; absent for a global resource.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Uuid>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignmentEntry {
    pub id: Uuid,
    /// A custom role's id, or a built-in role's name.
    pub role: String,
    /// The user it is given to (or `group`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Uuid>,
    /// The group it is given to (or `user`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<Uuid>,
    pub scope: ScopeEntry,
    pub effect: EffectEntry,
}

/// `owner`, `users_tenant`, or one of `{msp: ID}`, `{tenant: ID}`, `{tag: ID}`,
/// `{resource: TYPE/ID}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ScopeEntry {
    Owner,
    Msp(Uuid),
    Tenant(Uuid),
    Tag(Uuid),
    UsersTenant,
    Resource(String),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EffectEntry {
    Allow,
    Deny,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PersonEntry {
    pub id: Uuid,
    pub tenant: Uuid,
    pub azure_object_id: Uuid,
    pub email: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub first_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_name: String,
    /// The user the person was made, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<Uuid>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessRequestEntry {
    pub id: Uuid,
    pub tenant: Uuid,
    pub azure_object_id: Uuid,
    pub email: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub first_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub last_name: String,
    /// pending, approved or rejected.
    pub status: String,
    /// Unix seconds.
    pub requested_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<Uuid>,
}

fn is_false(value: &bool) -> bool {
    !value
}

fn manual() -> String {
    "manual".to_owned()
}

fn is_manual(origin: &str) -> bool {
    origin == "manual"
}

impl InstanceFile {
    /// The file as YAML, its objects sorted by id (tenants, too: `apply` orders the tree
    /// itself).
    pub fn to_yaml(&self) -> Result<String, String> {
        let mut sorted = self.clone();
        sorted.tags.sort_by_key(|t| t.id);
        sorted.tenants.sort_by_key(|t| t.id);
        sorted.roles.sort_by_key(|r| r.id);
        sorted.users.sort_by_key(|u| u.id);
        sorted.groups.sort_by_key(|g| g.id);
        sorted
            .resources
            .sort_by(|a, b| (&a.kind, &a.id).cmp(&(&b.kind, &b.id)));
        sorted.assignments.sort_by_key(|a| a.id);
        sorted.persons.sort_by_key(|p| p.id);
        sorted.access_requests.sort_by_key(|r| r.id);
        for tenant in &mut sorted.tenants {
            tenant.tags.sort();
        }
        for role in &mut sorted.roles {
            role.permissions.sort();
        }
        for group in &mut sorted.groups {
            group.members.sort();
        }
        let body = serde_yaml_ng::to_string(&sorted).map_err(|e| e.to_string())?;
        Ok(format!(
            "# An rbac-sidecar instance: `rbac-sidecar apply` makes an instance equal to it.\n{body}"
        ))
    }

    /// Reads a file; a malformed one is refused with the line and column. A value the
    /// parser quotes back is cut short, as every refusal here repeats a caller's value.
    pub fn from_yaml(text: &str) -> Result<InstanceFile, String> {
        serde_yaml_ng::from_str(text).map_err(|e| {
            let message = e.to_string();
            let mut parts = message.split('"');
            let mut shown = parts.next().unwrap_or_default().to_owned();
            for (n, part) in parts.enumerate() {
                shown.push('"');
                match n % 2 {
                    0 => shown.push_str(&crate::model::shown(part)),
                    _ => shown.push_str(part),
                }
            }
            shown
        })
    }

    /// The JSON Schema of the file, for editors.
    pub fn schema() -> String {
        let schema = schemars::schema_for!(InstanceFile);
        serde_json::to_string_pretty(&schema).unwrap_or_default()
    }
}
