//! The admin invariants of DESIGN.md as pure rules: a write that lets permissions newly
//! reach a user (a new allow, or a lifted deny) is judged, permission by permission,
//! against the actor's own access. An actor grants only what it holds, where it holds it
//! and with the scope-kind permission for that scope, and so never raises itself.

use std::fmt;

use crate::model::{PermissionSet, Scope, TenantId, catalogue};

use super::containment::{contains, holds_at, resolve_users_tenant};
use super::{EffectiveAccess, ResourceIndex, TenantIndex, UserFacts};

/// Why an admin call was refused: the `reason` of the `google.rpc.ErrorInfo` detail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RefusalReason {
    /// The actor lacks a permission at the scope the call needs it.
    MissingPermission,
    /// The write would raise the actor's own access.
    SelfElevation,
    /// A system permission would newly reach someone, or the target holds one the actor
    /// lacks: that needs `rbac.assign-cross-tenant-roles` and the permission itself.
    SystemPermission,
    /// Built-in roles are read-only for everyone.
    BuiltInRole,
    /// A tenant-owned role is assignable only inside its owner's subtree.
    OutsideAssignableScope,
    /// The actor is unknown, disabled or expired.
    InactiveActor,
    /// Impersonation is off for the instance, or the actor already impersonates.
    ImpersonationDisabled,
}

impl RefusalReason {
    /// The wire name, as in `ErrorInfo.reason`.
    pub fn as_str(self) -> &'static str {
        match self {
            RefusalReason::MissingPermission => "MISSING_PERMISSION",
            RefusalReason::SelfElevation => "SELF_ELEVATION",
            RefusalReason::SystemPermission => "SYSTEM_PERMISSION",
            RefusalReason::BuiltInRole => "BUILT_IN_ROLE",
            RefusalReason::OutsideAssignableScope => "OUTSIDE_ASSIGNABLE_SCOPE",
            RefusalReason::InactiveActor => "INACTIVE_ACTOR",
            RefusalReason::ImpersonationDisabled => "IMPERSONATION_DISABLED",
        }
    }
}

/// A refused admin call: why, which permission at which scope, and what to tell a person.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    pub reason: RefusalReason,
    pub permission: Option<String>,
    pub scope: Option<String>,
    pub message: String,
}

impl Refusal {
    pub fn new(reason: RefusalReason, message: impl Into<String>) -> Refusal {
        Refusal {
            reason,
            permission: None,
            scope: None,
            message: message.into(),
        }
    }

    /// Names the permission and the scope that were missing.
    pub fn at(mut self, permission: &str, scope: impl fmt::Display) -> Refusal {
        self.permission = Some(permission.to_owned());
        self.scope = Some(scope.to_string());
        self
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// How permissions start reaching a user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Widening {
    /// An allow assignment (new, or with new permissions, or newly covering a tenant).
    NewAllow,
    /// A deny assignment removed, or no longer holding a permission or covering a tenant:
    /// it grants what it blocked.
    LiftedDeny,
}

/// Permissions that a write lets newly reach one user through one assignment.
#[derive(Clone, Debug)]
pub struct Reach {
    pub user: UserFacts,
    pub permissions: PermissionSet,
    /// The assignment's scope, whose kind says which scope-kind permission is needed.
    pub scope: Scope,
    /// Where they newly reach, when narrower than the scope: the tenant a tag now
    /// covers, the subtree that a move brings under an MSP scope. None: the whole scope
    /// (User's Tenant judged as the user's own tenant).
    pub over: Option<Scope>,
    pub widening: Widening,
}

/// The permission an actor needs to create or delete an assignment at this scope kind.
pub fn scope_kind_permission(scope: &Scope) -> &'static str {
    match scope {
        Scope::Owner => "rbac.assign-owner-scope",
        Scope::Msp(_) => "rbac.assign-msp-scope",
        Scope::TenantTag(_) => "rbac.assign-tag-scope",
        Scope::Tenant(_) | Scope::Resource(_) => "rbac.assign-tenant-scope",
        Scope::UsersTenant => "users.manage",
    }
}

/// Where a role owned by `owner` may be assigned (as Azure's assignable scopes): only at
/// scopes inside the owner's subtree, so that a tenant's administrators cannot edit what
/// others hold outside it. User's Tenant counts as the principal's tenant, which must be
/// known.
pub fn assignable(
    owner: TenantId,
    scope: &Scope,
    principal_tenant: Option<TenantId>,
    tenants: &TenantIndex,
    resources: &ResourceIndex,
) -> bool {
    let subtree = Scope::Msp(owner);
    match scope {
        Scope::UsersTenant => principal_tenant
            .is_some_and(|tenant| contains(&subtree, &Scope::Tenant(tenant), tenants, resources)),
        other => contains(&subtree, other, tenants, resources),
    }
}

/// Judges one reach against the actor's access: every permission that can now reach the
/// user must be held by the actor over the whole (resolved) scope; a system permission
/// also needs `rbac.assign-cross-tenant-roles`; and the actor needs the scope-kind
/// permission over it. Permissions that cannot reach the user (an inactive user, an
/// msp_only permission for a user outside an MSP) are not grants and pass.
pub fn judge_reach(
    actor: &EffectiveAccess,
    reach: &Reach,
    tenants: &TenantIndex,
    resources: &ResourceIndex,
    now: i64,
) -> Result<(), Refusal> {
    if !reach.user.is_active(now) {
        return Ok(());
    }
    let catalogue = catalogue();
    let user_in_msp = tenants.get(reach.user.tenant_id).is_some_and(|t| t.is_msp);
    let scope = reach
        .over
        .clone()
        .unwrap_or_else(|| resolve_users_tenant(&reach.scope, reach.user.tenant_id));
    let to_self = reach.user.id == actor.user_id();
    let how = match reach.widening {
        Widening::NewAllow => "grant",
        Widening::LiftedDeny => "lift a deny of",
    };
    let mut reaches = false;
    for permission in reach.permissions.iter() {
        let entry = catalogue.get(permission);
        if entry.msp_only && !user_in_msp {
            continue;
        }
        reaches = true;
        let system = catalogue.is_system(permission);
        let place: &dyn fmt::Display = if system { &Scope::Owner } else { &scope };
        if !holds_at(actor, permission, &scope, tenants, resources, now) {
            let (reason, why) = if to_self {
                (
                    RefusalReason::SelfElevation,
                    "nobody raises their own access".to_owned(),
                )
            } else if system {
                (
                    RefusalReason::SystemPermission,
                    "a system permission reaches every tenant, and nobody grants one they do not hold".to_owned(),
                )
            } else {
                (
                    RefusalReason::MissingPermission,
                    format!(
                        "nobody grants what they do not hold there; the actor needs `{}` on {place}",
                        entry.key
                    ),
                )
            };
            return Err(Refusal::new(
                reason,
                format!(
                    "actor `{}` cannot {how} `{}` for user `{}` at {scope}: {why}",
                    actor.user_id(),
                    entry.key,
                    reach.user.id
                ),
            )
            .at(&entry.key, place));
        }
        if system {
            let cross = "rbac.assign-cross-tenant-roles";
            let held = catalogue
                .id(cross)
                .is_some_and(|id| holds_at(actor, id, &Scope::Owner, tenants, resources, now));
            if !held {
                return Err(Refusal::new(
                    RefusalReason::SystemPermission,
                    format!(
                        "actor `{}` cannot {how} the system permission `{}` for user `{}`: that needs `{cross}`",
                        actor.user_id(),
                        entry.key,
                        reach.user.id
                    ),
                )
                .at(cross, Scope::Owner));
            }
        }
    }
    if !reaches {
        return Ok(());
    }
    let kind = scope_kind_permission(&reach.scope);
    let held = catalogue
        .id(kind)
        .is_some_and(|id| holds_at(actor, id, &scope, tenants, resources, now));
    if held {
        Ok(())
    } else {
        Err(Refusal::new(
            RefusalReason::MissingPermission,
            format!(
                "actor `{}` cannot {how} role permissions for user `{}` at {scope}: that needs `{kind}` there",
                actor.user_id(),
                reach.user.id
            ),
        )
        .at(kind, scope))
    }
}
