//! The conformance scenario format of `tests/conformance/README.md`, read as data.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub name: String,
    #[allow(dead_code, reason = "documentation for people reading the file")]
    pub description: String,
    pub given: Given,
    #[serde(default)]
    pub checks: Vec<Check>,
    #[serde(default)]
    pub steps: Vec<Step>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Given {
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub tenants: Vec<TenantSpec>,
    #[serde(default)]
    pub users: Vec<UserSpec>,
    #[serde(default)]
    pub groups: Vec<GroupSpec>,
    #[serde(default)]
    pub roles: Vec<RoleSpec>,
    #[serde(default)]
    pub resources: Vec<ResourceSpec>,
    #[serde(default)]
    pub assignments: Vec<AssignmentSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TenantSpec {
    pub key: String,
    #[serde(default)]
    pub msp: bool,
    pub parent: Option<String>,
    #[serde(default)]
    pub tags: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UserSpec {
    pub key: String,
    pub tenant: String,
    #[serde(default)]
    pub disabled: bool,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupSpec {
    pub key: String,
    pub owner: Option<String>,
    #[serde(default)]
    pub members: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RoleSpec {
    pub key: String,
    pub owner: Option<String>,
    pub permissions: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceSpec {
    pub key: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub tenant: Option<String>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssignmentSpec {
    pub key: Option<String>,
    /// A role key, or `builtin:<exact built-in name>`.
    pub role: String,
    pub user: Option<String>,
    pub group: Option<String>,
    pub scope: ScopeSpec,
    pub effect: EffectSpec,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EffectSpec {
    Allow,
    Deny,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum ScopeSpec {
    Named(NamedScope),
    Keyed(KeyedScope),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NamedScope {
    Owner,
    UsersTenant,
}

#[derive(Clone, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KeyedScope {
    Msp(String),
    Tenant(String),
    Tag(String),
    Resource(String),
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Check {
    pub user: String,
    pub permission: String,
    pub tenant: Option<String>,
    pub resource: Option<String>,
    pub expect: Expect,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Expect {
    Allowed,
    NotGranted,
    Denied,
    Inactive,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    #[serde(rename = "do")]
    pub actions: Vec<ActionSpec>,
    #[serde(default)]
    pub checks: Vec<Check>,
}

/// One action as written: a map with exactly one of these keys.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ActionSpec {
    add_member: Option<Membership>,
    remove_member: Option<Membership>,
    add_tag: Option<Tagging>,
    remove_tag: Option<Tagging>,
    set_role_permissions: Option<RolePermissions>,
    delete_assignment: Option<String>,
    assign: Option<AssignmentSpec>,
    set_disabled: Option<Disabling>,
}

impl ActionSpec {
    pub fn action(&self) -> Action<'_> {
        let mut actions = [
            self.add_member.as_ref().map(Action::AddMember),
            self.remove_member.as_ref().map(Action::RemoveMember),
            self.add_tag.as_ref().map(Action::AddTag),
            self.remove_tag.as_ref().map(Action::RemoveTag),
            self.set_role_permissions
                .as_ref()
                .map(Action::SetRolePermissions),
            self.delete_assignment
                .as_deref()
                .map(Action::DeleteAssignment),
            self.assign.as_ref().map(Action::Assign),
            self.set_disabled.as_ref().map(Action::SetDisabled),
        ]
        .into_iter()
        .flatten();
        let action = actions
            .next()
            .unwrap_or_else(|| panic!("empty action {self:?}"));
        assert!(
            actions.next().is_none(),
            "an action has exactly one key: {self:?}"
        );
        action
    }
}

#[derive(Debug)]
pub enum Action<'a> {
    AddMember(&'a Membership),
    RemoveMember(&'a Membership),
    AddTag(&'a Tagging),
    RemoveTag(&'a Tagging),
    SetRolePermissions(&'a RolePermissions),
    DeleteAssignment(&'a str),
    Assign(&'a AssignmentSpec),
    SetDisabled(&'a Disabling),
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Membership {
    pub group: String,
    pub user: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tagging {
    pub tenant: String,
    pub tag: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RolePermissions {
    pub role: String,
    pub permissions: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disabling {
    pub user: String,
    pub disabled: bool,
}

/// Where scenarios are read from: the repository's `tests/conformance/`, then every
/// directory listed (colon-separated) in `RBAC_CONFORMANCE_DIRS`.
pub fn directories() -> Vec<PathBuf> {
    let mut dirs = vec![PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/conformance")];
    if let Some(extra) = std::env::var_os("RBAC_CONFORMANCE_DIRS") {
        dirs.extend(std::env::split_paths(&extra).filter(|p| !p.as_os_str().is_empty()));
    }
    dirs
}

/// Every scenario file, by file name; a later directory's file of the same name replaces
/// an earlier one. Fails when there are none: a suite that reads no scenario proves
/// nothing.
pub fn load_all() -> BTreeMap<String, Scenario> {
    let mut scenarios = BTreeMap::new();
    for dir in directories() {
        let entries =
            std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("read {}: {e}", dir.display()));
        for entry in entries {
            let path = entry.expect("directory entry").path();
            if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                let text = std::fs::read_to_string(&path).expect("read scenario");
                let scenario: Scenario = serde_yaml::from_str(&text)
                    .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
                scenarios.insert(
                    path.file_name().unwrap().to_string_lossy().into_owned(),
                    scenario,
                );
            }
        }
    }
    assert!(!scenarios.is_empty(), "no scenario in {:?}", directories());
    scenarios
}

/// Something a scenario can be run against.
pub trait Driver {
    async fn tag(&mut self, key: &str);
    async fn tenant(&mut self, spec: &TenantSpec);
    async fn user(&mut self, spec: &UserSpec);
    async fn group(&mut self, spec: &GroupSpec);
    async fn role(&mut self, spec: &RoleSpec);
    async fn resource(&mut self, spec: &ResourceSpec);
    async fn assign(&mut self, spec: &AssignmentSpec);
    async fn act(&mut self, action: &Action<'_>);
    async fn check(&mut self, check: &Check) -> Expect;
}

/// Runs a scenario: builds the world, then checks, then each step and its checks.
/// Returns every failed check, described.
pub async fn run<D: Driver>(scenario: &Scenario, driver: &mut D) -> Vec<String> {
    let given = &scenario.given;
    for tag in &given.tags {
        driver.tag(tag).await;
    }
    for tenant in &given.tenants {
        driver.tenant(tenant).await;
    }
    for user in &given.users {
        driver.user(user).await;
    }
    for group in &given.groups {
        driver.group(group).await;
    }
    for role in &given.roles {
        driver.role(role).await;
    }
    for resource in &given.resources {
        driver.resource(resource).await;
    }
    for assignment in &given.assignments {
        driver.assign(assignment).await;
    }
    let mut failures = Vec::new();
    let mut verify = async |driver: &mut D, checks: &[Check], stage: &str| {
        for check in checks {
            let got = driver.check(check).await;
            if got != check.expect {
                failures.push(format!(
                    "{} ({stage}): {check:?} got {got:?}",
                    scenario.name
                ));
            }
        }
    };
    verify(driver, &scenario.checks, "given").await;
    for (index, step) in scenario.steps.iter().enumerate() {
        for action in &step.actions {
            driver.act(&action.action()).await;
        }
        verify(driver, &step.checks, &format!("step {}", index + 1)).await;
    }
    failures
}
