//! The legacy migration (docs/model.md, "Built-in roles"): each legacy user, by user type,
//! flags and instance preferences, gets direct assignments of the built-in roles, MSP
//! users at Owner scope and tenant users at User's Tenant scope. Idempotent, all or
//! nothing, and every user it cannot map is reported.

use std::collections::HashSet;
use std::fmt;

use serde::Deserialize;
use uuid::Uuid;

use crate::model::{
    Action, AssignmentId, Effect, PERSON_NAME_MAX, Preferences, Principal, RoleAssignment, Scope,
    User, UserId, UserOrigin, catalogue, optional_text, parse_uuid, shown,
};
use crate::store::{self, AssignmentFilter, StoredAssignment};

use super::{Admin, AdminError, Result};

/// The export of a legacy instance.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegacyFile {
    #[serde(default)]
    pub preferences: LegacyPreferences,
    pub users: Vec<LegacyUser>,
}

/// The instance preferences that granted extra rights to some users.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LegacyPreferences {
    pub allow_non_admins_and_non_msp_users_to_use_terminal_and_edit_scripts: bool,
    pub allow_non_admin_users_to_manage_deployments: bool,
    pub require_change_requests_for_non_admin_cross_tenant_deployments: bool,
    /// Carried over to the instance preferences when present.
    pub impersonation_enabled: Option<bool>,
}

/// One legacy user: who, where, and what kind.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LegacyUser {
    pub azure_object_id: String,
    pub tenant_id: String,
    pub email: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    /// `msp_admin`, `msp_user`, `tenant_admin` or `tenant_user`.
    pub user_type: String,
    #[serde(default)]
    pub can_manage_cross_tenant_deployments: bool,
}

/// What the import does (or would do) for one user.
#[derive(Clone, Debug)]
pub struct PlannedUser {
    pub user: User,
    /// False when the user already existed.
    pub created: bool,
    /// Built-in role names with their scope, that the user does not hold yet.
    pub added: Vec<(String, Scope)>,
}

/// A legacy user the import cannot map, and why.
#[derive(Clone, Debug)]
pub struct Unmapped {
    /// Position in the file's `users`, from 0.
    pub index: usize,
    pub email: String,
    pub reason: String,
}

/// An instance preference the import changes (or would).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreferenceChange {
    pub name: &'static str,
    pub from: bool,
    pub to: bool,
}

impl fmt::Display for PreferenceChange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {} -> {}", self.name, self.from, self.to)
    }
}

/// The outcome of an import or a dry run.
#[derive(Clone, Debug)]
pub struct ImportReport {
    pub planned: Vec<PlannedUser>,
    pub unmapped: Vec<Unmapped>,
    /// Preferences changed (or, in a dry run, that would be).
    pub preferences: Vec<PreferenceChange>,
    /// The revision written; None for a dry run, a refused import, or nothing to do.
    pub revision: Option<u64>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum UserType {
    MspAdmin,
    MspUser,
    TenantAdmin,
    TenantUser,
}

impl UserType {
    fn parse(value: &str) -> Option<UserType> {
        match value {
            "msp_admin" => Some(UserType::MspAdmin),
            "msp_user" => Some(UserType::MspUser),
            "tenant_admin" => Some(UserType::TenantAdmin),
            "tenant_user" => Some(UserType::TenantUser),
            _ => None,
        }
    }

    fn is_msp(self) -> bool {
        matches!(self, UserType::MspAdmin | UserType::MspUser)
    }

    fn is_admin(self) -> bool {
        matches!(self, UserType::MspAdmin | UserType::TenantAdmin)
    }
}

/// The built-in roles one legacy user gets, by the migration table of docs/model.md.
fn roles_for(kind: UserType, cross_tenant: bool, prefs: &LegacyPreferences) -> Vec<&'static str> {
    let mut roles = vec![match kind {
        UserType::MspAdmin => "System Administrator (Legacy)",
        UserType::MspUser => "System User (Legacy)",
        UserType::TenantAdmin => "Administrator (Legacy)",
        UserType::TenantUser => "User (Legacy)",
    }];
    if kind == UserType::MspAdmin {
        return roles; // it already holds every permission
    }
    if prefs.allow_non_admins_and_non_msp_users_to_use_terminal_and_edit_scripts {
        roles.extend(["Script Manager", "Computer Terminal User"]);
    }
    if !kind.is_admin() && prefs.allow_non_admin_users_to_manage_deployments {
        roles.push("Deployment Manager");
    }
    if cross_tenant {
        roles.push("Cross-Tenant Deployment Manager");
    } else if kind == UserType::MspUser
        && prefs.require_change_requests_for_non_admin_cross_tenant_deployments
    {
        roles.push("Cross-Tenant Deployment Change Requester");
    }
    roles
}

impl Admin {
    /// Plans the import, and unless `dry_run`, writes it in one transaction. With users it
    /// cannot map it writes nothing, unless `skip_unmapped`.
    pub async fn import_legacy(
        &self,
        file: &LegacyFile,
        dry_run: bool,
        skip_unmapped: bool,
    ) -> Result<ImportReport> {
        let mut write = self.store.begin_write().await?;
        let mut report = ImportReport {
            planned: Vec::new(),
            unmapped: Vec::new(),
            preferences: Vec::new(),
            revision: None,
        };
        let mut seen = HashSet::new();
        for (index, legacy) in file.users.iter().enumerate() {
            match self
                .plan_user(&mut write, legacy, &file.preferences, &mut seen)
                .await?
            {
                Ok(planned) => report.planned.push(planned),
                Err(reason) => report.unmapped.push(Unmapped {
                    index,
                    email: shown(&legacy.email),
                    reason,
                }),
            }
        }
        let current = store::preferences(write.txn()).await?;
        if let Some(enabled) = file.preferences.impersonation_enabled {
            if current.impersonation_enabled != enabled {
                report.preferences.push(PreferenceChange {
                    name: "impersonation_enabled",
                    from: current.impersonation_enabled,
                    to: enabled,
                });
            }
        }
        let preferences = (!report.preferences.is_empty()).then_some(Preferences {
            impersonation_enabled: file
                .preferences
                .impersonation_enabled
                .unwrap_or(current.impersonation_enabled),
        });
        let nothing_to_do = preferences.is_none()
            && report
                .planned
                .iter()
                .all(|p| !p.created && p.added.is_empty());
        if dry_run || nothing_to_do || (!report.unmapped.is_empty() && !skip_unmapped) {
            return Ok(report);
        }
        let mut assignments = 0;
        for planned in &report.planned {
            if planned.created {
                self.insert_user(&mut write, &planned.user).await?;
            }
            for (role, scope) in &planned.added {
                let role = catalogue().built_in_role_by_name(role).ok_or_else(|| {
                    AdminError::FailedPrecondition(format!("no built-in role `{role}`"))
                })?;
                let assignment = RoleAssignment {
                    id: AssignmentId::random(),
                    role_id: role.id,
                    principal: Principal::User(planned.user.id),
                    scope: scope.clone(),
                    effect: Effect::Allow,
                };
                write
                    .insert_assignment(&StoredAssignment::now(assignment, None))
                    .await?;
                assignments += 1;
            }
        }
        if let Some(preferences) = &preferences {
            write.save_preferences(preferences).await?;
        }
        let created = report.planned.iter().filter(|p| p.created).count();
        // Every preference changed is audited, before and after: a file of preferences
        // alone still changes who may do what.
        let listed = |side: fn(&PreferenceChange) -> bool| {
            report
                .preferences
                .iter()
                .map(|p| format!("{}: {}", p.name, side(p)))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let before = (!report.preferences.is_empty()).then(|| listed(|p| p.from));
        let mut after = format!(
            "{created} users created, {assignments} assignments added, {} users not mapped",
            report.unmapped.len()
        );
        if !report.preferences.is_empty() {
            after.push_str(&format!(", preferences set: {}", listed(|p| p.to)));
        }
        let revision = self
            .commit_as(
                write,
                None,
                Action::ImportLegacy,
                format!("{} legacy users", file.users.len()),
                before,
                after,
            )
            .await?;
        report.revision = Some(revision);
        Ok(report)
    }

    /// Maps one legacy user: Ok with the plan, Err with why it cannot be mapped.
    async fn plan_user(
        &self,
        write: &mut store::Write<'_>,
        legacy: &LegacyUser,
        prefs: &LegacyPreferences,
        seen: &mut HashSet<Uuid>,
    ) -> Result<Result<PlannedUser, String>> {
        let Some(kind) = UserType::parse(&legacy.user_type) else {
            return Ok(Err(format!(
                "user_type `{}` is not one of msp_admin, msp_user, tenant_admin, tenant_user",
                shown(&legacy.user_type)
            )));
        };
        let (object_id, tenant_id) = match (
            parse_uuid("azure_object_id", &legacy.azure_object_id),
            parse_uuid("tenant_id", &legacy.tenant_id),
        ) {
            (Ok(object_id), Ok(tenant_id)) => (object_id, crate::model::TenantId(tenant_id)),
            (Err(err), _) | (_, Err(err)) => return Ok(Err(err.to_string())),
        };
        if !seen.insert(object_id) {
            return Ok(Err(format!(
                "azure object id `{object_id}` appears more than once in the file"
            )));
        }
        let Some(tenant) = store::find(write.txn(), tenant_id).await? else {
            return Ok(Err(format!("tenant `{tenant_id}` does not exist")));
        };
        if tenant.is_msp != kind.is_msp() {
            return Ok(Err(format!(
                "user_type `{}` does not fit tenant `{}`, which is {}an MSP",
                legacy.user_type,
                tenant.name,
                if tenant.is_msp { "" } else { "not " }
            )));
        }
        let existing = store::find_by_object_id::<User>(write.txn(), object_id).await?;
        let (user, created) = match existing {
            Some(user) if user.tenant_id != tenant_id => {
                return Ok(Err(format!(
                    "azure object id `{object_id}` is already a user of another tenant, `{}`",
                    user.tenant_id
                )));
            }
            Some(user) => (user, false),
            None => match new_user(legacy, tenant_id, object_id) {
                Ok(user) => (user, true),
                Err(why) => return Ok(Err(why)),
            },
        };
        let held: Vec<RoleAssignment> = if created {
            Vec::new()
        } else {
            let filter = AssignmentFilter {
                principals: Some(vec![Principal::User(user.id)]),
                limit: None,
                ..AssignmentFilter::default()
            };
            store::assignments(write.txn(), &filter)
                .await?
                .into_iter()
                .map(|a| a.assignment)
                .collect()
        };
        let scope = if kind.is_msp() {
            Scope::Owner
        } else {
            Scope::UsersTenant
        };
        let added = roles_for(kind, legacy.can_manage_cross_tenant_deployments, prefs)
            .into_iter()
            .filter(|name| {
                let id = catalogue().built_in_role_by_name(name).map(|r| r.id);
                !held
                    .iter()
                    .any(|a| Some(a.role_id) == id && a.scope == scope && a.effect == Effect::Allow)
            })
            .map(|name| (name.to_owned(), scope.clone()))
            .collect();
        Ok(Ok(PlannedUser {
            user,
            created,
            added,
        }))
    }
}

/// A user the import creates, its text held to the API's rules (CreateUser's): no NUL or
/// other control characters, the same limits, an e-mail with an `@`.
fn new_user(
    legacy: &LegacyUser,
    tenant_id: crate::model::TenantId,
    azure_object_id: Uuid,
) -> std::result::Result<User, String> {
    let text = |e: crate::model::TextError| e.to_string();
    let email = super::users::email(&legacy.email).map_err(|e| e.to_string())?;
    Ok(User {
        id: UserId::random(),
        tenant_id,
        azure_object_id,
        email,
        first_name: optional_text("first_name", &legacy.first_name, PERSON_NAME_MAX)
            .map_err(text)?,
        last_name: optional_text("last_name", &legacy.last_name, PERSON_NAME_MAX).map_err(text)?,
        disabled: false,
        expires_at: None,
        origin: UserOrigin::LegacyImport,
    })
}

impl fmt::Display for ImportReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for planned in &self.planned {
            let verb = if planned.created { "create" } else { "keep" };
            writeln!(
                f,
                "{verb} user {} ({}, tenant {})",
                planned.user.email, planned.user.azure_object_id, planned.user.tenant_id
            )?;
            if planned.added.is_empty() {
                writeln!(f, "    already holds every role it maps to")?;
            }
            for (role, scope) in &planned.added {
                writeln!(f, "    assign {role} at {scope}")?;
            }
        }
        for change in &self.preferences {
            writeln!(f, "set {change}")?;
        }
        for unmapped in &self.unmapped {
            writeln!(
                f,
                "NOT MAPPED: user #{} {}: {}",
                unmapped.index, unmapped.email, unmapped.reason
            )?;
        }
        let created = self.planned.iter().filter(|p| p.created).count();
        let added: usize = self.planned.iter().map(|p| p.added.len()).sum();
        let preferences = self.preferences.len();
        let plural = if preferences == 1 { "" } else { "s" };
        match self.revision {
            Some(revision) => write!(
                f,
                "imported at revision {revision}: {created} users created, {added} assignments added, {preferences} preference{plural} changed"
            )?,
            None => write!(
                f,
                "nothing written: {created} users, {added} assignments and {preferences} preference change{plural} planned"
            )?,
        }
        if !self.unmapped.is_empty() {
            write!(f, ", {} users not mapped", self.unmapped.len())?;
        }
        writeln!(f)
    }
}
