//! The admin invariants of docs/model.md as pure rules: a write that lets permissions newly
//! reach a user (a new allow, or a lifted deny) is judged, permission by permission,
//! against the actor's own access. An actor grants only what it holds, where it holds it
//! and with the scope-kind permission for that scope, and so never raises itself.

use std::fmt;

use crate::model::permissions::{
    ASSIGN_CROSS_TENANT_ROLES, ASSIGN_MSP_SCOPE, ASSIGN_OWNER_SCOPE, ASSIGN_TAG_SCOPE,
    ASSIGN_TENANT_SCOPE, Named, USERS_MANAGE,
};
use crate::model::{Effect, PermissionSet, Scope, TenantId, catalogue};

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
pub fn scope_kind_permission(scope: &Scope) -> Named {
    match scope {
        Scope::Owner => ASSIGN_OWNER_SCOPE,
        Scope::Msp(_) => ASSIGN_MSP_SCOPE,
        Scope::TenantTag(_) => ASSIGN_TAG_SCOPE,
        Scope::Tenant(_) | Scope::Resource(_) => ASSIGN_TENANT_SCOPE,
        Scope::UsersTenant => USERS_MANAGE,
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
            let cross = ASSIGN_CROSS_TENANT_ROLES.key();
            let held = holds_at(
                actor,
                ASSIGN_CROSS_TENANT_ROLES.id(),
                &Scope::Owner,
                tenants,
                resources,
                now,
            );
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
    let held = holds_at(actor, kind.id(), &scope, tenants, resources, now);
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
        .at(kind.key(), scope))
    }
}

/// Judges an impersonation (docs/model.md): the target's effective access must be contained
/// in the actor's own. Every permission an allow of the target's grants is held by the
/// actor over that allow's whole scope (User's Tenant as the target's tenant; a system
/// permission anywhere), so what the actor sees and does as the target, it could see and
/// do directly. Permissions that cannot reach the target (msp_only outside an MSP) pass.
pub fn judge_impersonation(
    actor: &EffectiveAccess,
    target: &EffectiveAccess,
    tenants: &TenantIndex,
    resources: &ResourceIndex,
    now: i64,
) -> Result<(), Refusal> {
    let catalogue = catalogue();
    let target_in_msp = tenants.get(target.tenant_id()).is_some_and(|t| t.is_msp);
    for grant in target.grants.iter().filter(|g| g.effect == Effect::Allow) {
        let scope = resolve_users_tenant(&grant.scope, target.tenant_id());
        for permission in target.role_of(grant).permissions.iter() {
            let entry = catalogue.get(permission);
            if entry.msp_only && !target_in_msp {
                continue;
            }
            if holds_at(actor, permission, &scope, tenants, resources, now) {
                continue;
            }
            let system = catalogue.is_system(permission);
            let (reason, place): (_, &dyn fmt::Display) = if system {
                (RefusalReason::SystemPermission, &Scope::Owner)
            } else {
                (RefusalReason::MissingPermission, &scope)
            };
            return Err(Refusal::new(
                reason,
                format!(
                    "actor `{}` cannot impersonate `{}`, who holds {}`{}` at {place} where the actor does not: impersonation never shows or does more than the actor could directly",
                    actor.user_id(),
                    target.user_id(),
                    if system { "the system permission " } else { "" },
                    entry.key
                ),
            )
            .at(&entry.key, place));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::fixtures::{user, world};
    use crate::model::UserId;
    use RefusalReason::{MissingPermission, SelfElevation, SystemPermission};

    fn reach(tenant: TenantId, keys: &[&str], scope: Scope, widening: Widening) -> Reach {
        Reach {
            user: UserFacts {
                id: UserId::random(),
                tenant_id: tenant,
                azure_object_id: uuid::Uuid::new_v4(),
                disabled: false,
                expires_at: None,
            },
            permissions: keys.iter().map(|k| catalogue().id(k).unwrap()).collect(),
            scope,
            over: None,
            widening,
        }
    }

    #[test]
    fn reasons_and_scope_kinds_have_their_wire_names() {
        let names: Vec<&str> = [
            RefusalReason::MissingPermission,
            RefusalReason::SelfElevation,
            RefusalReason::SystemPermission,
            RefusalReason::BuiltInRole,
            RefusalReason::OutsideAssignableScope,
            RefusalReason::InactiveActor,
            RefusalReason::ImpersonationDisabled,
        ]
        .iter()
        .map(|r| r.as_str())
        .collect();
        assert_eq!(
            names,
            [
                "MISSING_PERMISSION",
                "SELF_ELEVATION",
                "SYSTEM_PERMISSION",
                "BUILT_IN_ROLE",
                "OUTSIDE_ASSIGNABLE_SCOPE",
                "INACTIVE_ACTOR",
                "IMPERSONATION_DISABLED"
            ]
        );
        let refusal = Refusal::new(RefusalReason::BuiltInRole, "read-only").at("k", "s");
        assert_eq!(refusal.to_string(), "read-only");
        assert_eq!(
            (refusal.permission.as_deref(), refusal.scope.as_deref()),
            (Some("k"), Some("s"))
        );
        let w = world();
        let kinds: Vec<&str> = [
            Scope::Owner,
            Scope::Msp(w.msp),
            Scope::TenantTag(w.tag),
            Scope::Tenant(w.customer),
            Scope::Resource(w.pc.clone()),
            Scope::UsersTenant,
        ]
        .iter()
        .map(|scope| scope_kind_permission(scope).key())
        .collect();
        assert_eq!(
            kinds,
            [
                "rbac.assign-owner-scope",
                "rbac.assign-msp-scope",
                "rbac.assign-tag-scope",
                "rbac.assign-tenant-scope",
                "rbac.assign-tenant-scope",
                "users.manage"
            ]
        );
    }

    #[test]
    fn a_tenant_role_is_assignable_inside_its_subtree_only() {
        let w = world();
        let a = |owner, scope: &Scope, principal| {
            assignable(owner, scope, principal, &w.tenants, &w.resources)
        };
        assert!(a(w.msp, &Scope::Msp(w.msp), None));
        assert!(a(w.msp, &Scope::Tenant(w.customer), None));
        assert!(a(w.msp, &Scope::Resource(w.pc.clone()), None));
        assert!(a(w.msp, &Scope::UsersTenant, Some(w.customer)));
        assert!(
            !a(w.msp, &Scope::UsersTenant, None),
            "an unowned group's members are anywhere"
        );
        assert!(
            !a(w.customer, &Scope::Msp(w.msp), None),
            "not above the owner"
        );
        assert!(!a(w.msp, &Scope::Tenant(w.other_msp), None));
        assert!(!a(w.msp, &Scope::Owner, None));
        assert!(!a(w.msp, &Scope::TenantTag(w.tag), None));
    }

    #[test]
    fn a_reach_is_judged_permission_by_permission_against_the_actor() {
        let w = world();
        let judge = |actor: &EffectiveAccess, reach: &Reach| {
            judge_reach(actor, reach, &w.tenants, &w.resources, 0).map_err(|r| r.reason)
        };
        let at_customer = Scope::Tenant(w.customer);
        let tenant_admin = user(
            w.customer,
            &[
                ("computers.view", at_customer.clone(), Effect::Allow),
                (
                    "rbac.assign-tenant-scope",
                    at_customer.clone(),
                    Effect::Allow,
                ),
            ],
        );
        let allow_at_customer =
            |user, keys: &[&str]| reach(user, keys, at_customer.clone(), Widening::NewAllow);
        let grant = allow_at_customer(w.customer, &["computers.view"]);
        assert_eq!(judge(&tenant_admin, &grant), Ok(()));
        // More than the actor holds, or wider than where it holds it.
        let more = allow_at_customer(w.customer, &["computers.manage"]);
        assert_eq!(judge(&tenant_admin, &more), Err(MissingPermission));
        let wider = reach(
            w.customer,
            &["computers.view"],
            Scope::Msp(w.msp),
            Widening::LiftedDeny,
        );
        assert_eq!(judge(&tenant_admin, &wider), Err(MissingPermission));
        // Oneself: self-elevation, even of a permission held elsewhere.
        let mut to_self = more.clone();
        to_self.user = tenant_admin.user.clone();
        assert_eq!(judge(&tenant_admin, &to_self), Err(SelfElevation));
        // Holding the permission is not enough without the scope kind's permission there.
        let viewer = user(
            w.customer,
            &[("computers.view", at_customer.clone(), Effect::Allow)],
        );
        assert_eq!(judge(&viewer, &grant), Err(MissingPermission));
        // What cannot reach the user is no grant: an inactive user, msp_only outside an MSP.
        let mut inactive = more.clone();
        inactive.user.disabled = true;
        assert_eq!(judge(&tenant_admin, &inactive), Ok(()));
        let msp_only = allow_at_customer(w.customer, &["tenants.manage"]);
        assert_eq!(judge(&tenant_admin, &msp_only), Ok(()));
        let msp_user = allow_at_customer(w.msp, &["tenants.manage"]);
        assert_eq!(judge(&tenant_admin, &msp_user), Err(MissingPermission));
    }

    #[test]
    fn a_system_permission_also_needs_the_cross_tenant_permission() {
        let w = world();
        let judge = |actor: &EffectiveAccess, reach: &Reach| {
            judge_reach(actor, reach, &w.tenants, &w.resources, 0).map_err(|r| r.reason)
        };
        let billing = reach(
            w.customer,
            &["billing.view"],
            Scope::Owner,
            Widening::NewAllow,
        );
        let holder = user(
            w.msp,
            &[
                ("billing.view", Scope::Owner, Effect::Allow),
                ("rbac.assign-owner-scope", Scope::Owner, Effect::Allow),
            ],
        );
        assert_eq!(judge(&holder, &billing), Err(SystemPermission));
        let crossing = user(
            holder.tenant_id(),
            &[
                ("billing.view", Scope::Owner, Effect::Allow),
                ("rbac.assign-owner-scope", Scope::Owner, Effect::Allow),
                (
                    "rbac.assign-cross-tenant-roles",
                    Scope::Owner,
                    Effect::Allow,
                ),
            ],
        );
        assert_eq!(judge(&crossing, &billing), Ok(()));
        let lacking = user(
            w.msp,
            &[(
                "rbac.assign-cross-tenant-roles",
                Scope::Owner,
                Effect::Allow,
            )],
        );
        assert_eq!(judge(&lacking, &billing), Err(SystemPermission));
    }

    #[test]
    fn an_impersonation_is_contained_in_the_actor_or_refused() {
        let w = world();
        let allow = |key, scope: Scope| (key, scope, Effect::Allow);
        let judge = |actor: &EffectiveAccess, target: &EffectiveAccess| {
            judge_impersonation(actor, target, &w.tenants, &w.resources, 0).map_err(|r| r.reason)
        };
        let helpdesk = user(
            w.customer,
            &[allow("users.impersonate", Scope::Tenant(w.customer))],
        );
        let tenant_admin = user(w.customer, &[allow("computers.manage", Scope::UsersTenant)]);
        assert_eq!(judge(&helpdesk, &tenant_admin), Err(MissingPermission));
        // The same permission over a containing scope: the MSP holds the customer.
        let msp_tech = user(w.msp, &[allow("computers.manage", Scope::Msp(w.msp))]);
        assert_eq!(judge(&msp_tech, &tenant_admin), Ok(()));
        // User's Tenant is the target's tenant, not the actor's.
        let elsewhere = user(
            w.other_msp,
            &[allow("computers.manage", Scope::UsersTenant)],
        );
        assert_eq!(judge(&elsewhere, &tenant_admin), Err(MissingPermission));
        // A deny reaching into the scope breaks containment.
        let blocked = user(
            w.msp,
            &[
                allow("computers.manage", Scope::Msp(w.msp)),
                ("computers.manage", Scope::TenantTag(w.tag), Effect::Deny),
            ],
        );
        assert_eq!(judge(&blocked, &tenant_admin), Err(MissingPermission));
        // A system permission is held anywhere or not at all.
        let auditor = user(w.customer, &[allow("audit.view", Scope::UsersTenant)]);
        assert_eq!(judge(&msp_tech, &auditor), Err(SystemPermission));
        let owner_auditor = user(w.msp, &[allow("audit.view", Scope::Owner)]);
        assert_eq!(judge(&owner_auditor, &auditor), Ok(()));
        // An msp_only permission cannot reach a target outside an MSP; a target's deny
        // only narrows it.
        let msp_only = user(
            w.customer,
            &[
                allow("tenants.manage", Scope::UsersTenant),
                ("computers.manage", Scope::Owner, Effect::Deny),
            ],
        );
        assert_eq!(judge(&helpdesk, &msp_only), Ok(()));
        let in_msp = user(w.msp, &[allow("tenants.manage", Scope::UsersTenant)]);
        assert_eq!(judge(&helpdesk, &in_msp), Err(MissingPermission));
    }
}
