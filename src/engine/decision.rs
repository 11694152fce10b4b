//! The decision of docs/model.md section 2: deny always wins, system permissions ignore scope,
//! and an explanation that is the same value as the answer, not a second code path.

use crate::model::{Effect, PermissionId, ResourceRef, Scope, TenantId, catalogue};

use super::{EffectiveAccess, Grant, TenantIndex};

/// What a check is about, with resources already resolved to their owner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Target {
    /// No target: only valid for a system permission.
    None,
    Tenant(TenantId),
    Resource {
        resource: ResourceRef,
        /// None: a global resource.
        owner: Option<TenantId>,
    },
}

/// The answer to a check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Allowed,
    /// No allow applies, or an msp_only permission for a user of a non-MSP tenant.
    NotGranted,
    /// A deny applies.
    Denied,
    /// Unknown, disabled or expired user.
    UserInactive,
}

/// One grant that applied to a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AppliedGrant<'a> {
    pub grant: &'a Grant,
    pub decisive: bool,
}

/// A decision with, when asked for, every grant that applied.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict<'a> {
    pub decision: Decision,
    pub applied: Vec<AppliedGrant<'a>>,
}

impl Verdict<'_> {
    fn bare(decision: Decision) -> Self {
        Verdict {
            decision,
            applied: Vec::new(),
        }
    }
}

/// A check that cannot be decided as asked.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecideError {
    #[error(
        "permission `{0}` is not a system permission, so the check needs a target tenant or resource"
    )]
    MissingTarget(String),
}

/// Decides whether the user whose effective access is given holds `permission` on `target`.
/// `access` is None for an unknown user; `now` is Unix seconds, for expiry.
pub fn decide<'a>(
    access: Option<&'a EffectiveAccess>,
    permission: PermissionId,
    target: &Target,
    tenants: &TenantIndex,
    now: i64,
    explain: bool,
) -> Result<Verdict<'a>, DecideError> {
    let catalogue = catalogue();
    let system = catalogue.is_system(permission);
    if !system && *target == Target::None {
        return Err(DecideError::MissingTarget(
            catalogue.get(permission).key.clone(),
        ));
    }
    let Some(access) = access.filter(|a| a.user.is_active(now)) else {
        return Ok(Verdict::bare(Decision::UserInactive));
    };
    if catalogue.get(permission).msp_only
        && !tenants.get(access.tenant_id()).is_some_and(|t| t.is_msp)
    {
        return Ok(Verdict::bare(Decision::NotGranted));
    }
    if !access.mentions(permission) {
        return Ok(Verdict::bare(Decision::NotGranted));
    }

    let applying = access
        .grants_of(permission)
        .filter(|g| system || covers(&g.scope, target, access.tenant_id(), tenants));
    if !explain {
        // Fast path: stop at the first deny, or at the first allow when no deny can follow.
        let may_deny = access.may_deny(permission);
        let mut allowed = false;
        for grant in applying {
            match grant.effect {
                Effect::Deny => return Ok(Verdict::bare(Decision::Denied)),
                Effect::Allow if !may_deny => return Ok(Verdict::bare(Decision::Allowed)),
                Effect::Allow => allowed = true,
            }
        }
        let decision = if allowed {
            Decision::Allowed
        } else {
            Decision::NotGranted
        };
        return Ok(Verdict::bare(decision));
    }

    let mut applied: Vec<AppliedGrant> = applying
        .map(|grant| AppliedGrant {
            grant,
            decisive: false,
        })
        .collect();
    let first = |effect| applied.iter().position(|a| a.grant.effect == effect);
    let (decision, decisive) = match (first(Effect::Deny), first(Effect::Allow)) {
        (Some(deny), _) => (Decision::Denied, Some(deny)),
        (None, Some(allow)) => (Decision::Allowed, Some(allow)),
        (None, None) => (Decision::NotGranted, None),
    };
    if let Some(index) = decisive {
        applied[index].decisive = true;
    }
    Ok(Verdict { decision, applied })
}

/// Whether `scope`, in an assignment reaching a user of `users_tenant`, covers the target.
pub(super) fn covers(
    scope: &Scope,
    target: &Target,
    users_tenant: TenantId,
    tenants: &TenantIndex,
) -> bool {
    match (target, scope) {
        (Target::None, _) => false,
        (_, Scope::Owner) => true,
        (Target::Tenant(tenant), _) => covers_tenant(scope, *tenant, users_tenant, tenants),
        (Target::Resource { resource, .. }, Scope::Resource(named)) => resource == named,
        (Target::Resource { owner, .. }, _) => {
            owner.is_some_and(|tenant| covers_tenant(scope, tenant, users_tenant, tenants))
        }
    }
}

/// Whether `scope` covers the tenant (never true for a Resource scope).
pub(super) fn covers_tenant(
    scope: &Scope,
    tenant: TenantId,
    users_tenant: TenantId,
    tenants: &TenantIndex,
) -> bool {
    match scope {
        Scope::Owner => true,
        Scope::Msp(msp) => tenants.is_within(tenant, *msp),
        Scope::Tenant(only) => *only == tenant,
        Scope::TenantTag(tag) => tenants.get(tenant).is_some_and(|t| t.tags.contains(tag)),
        Scope::UsersTenant => users_tenant == tenant,
        Scope::Resource(_) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::fixtures::{user, world};

    fn permission(key: &str) -> PermissionId {
        catalogue().id(key).expect("a catalogue key")
    }

    #[test]
    fn a_non_system_permission_needs_a_target_and_a_system_one_does_not() {
        let w = world();
        let admin = user(w.msp, &[("billing.view", Scope::Owner, Effect::Allow)]);
        let ask = |key, target: &Target| {
            decide(Some(&admin), permission(key), target, &w.tenants, 0, false)
        };
        assert!(matches!(
            ask("computers.view", &Target::None),
            Err(DecideError::MissingTarget(_))
        ));
        assert_eq!(
            ask("billing.view", &Target::None).unwrap().decision,
            Decision::Allowed
        );
        assert_eq!(
            ask("computers.view", &Target::Tenant(w.customer))
                .unwrap()
                .decision,
            Decision::NotGranted
        );
    }

    #[test]
    fn inactive_users_and_msp_only_permissions() {
        let w = world();
        let manage = permission("tenants.manage");
        let at = Target::Tenant(w.customer);
        let in_msp = user(w.msp, &[("tenants.manage", Scope::Owner, Effect::Allow)]);
        let in_customer = user(
            w.customer,
            &[("tenants.manage", Scope::Owner, Effect::Allow)],
        );
        let decision = |access: Option<&EffectiveAccess>| {
            decide(access, manage, &at, &w.tenants, 0, false)
                .unwrap()
                .decision
        };
        assert_eq!(decision(Some(&in_msp)), Decision::Allowed);
        assert_eq!(decision(Some(&in_customer)), Decision::NotGranted);
        assert_eq!(decision(None), Decision::UserInactive);
        let mut expired = in_msp.clone();
        expired.user.expires_at = Some(0);
        assert_eq!(decision(Some(&expired)), Decision::UserInactive);
    }

    #[test]
    fn a_deny_wins_wherever_it_stands_and_the_explanation_says_so() {
        let w = world();
        let view = permission("computers.view");
        // The allow comes first: the fast path must still look for the deny.
        let restricted = user(
            w.msp,
            &[
                ("computers.view", Scope::Owner, Effect::Allow),
                ("computers.view", Scope::Tenant(w.customer), Effect::Deny),
            ],
        );
        let at = |tenant, explain| {
            decide(
                Some(&restricted),
                view,
                &Target::Tenant(tenant),
                &w.tenants,
                0,
                explain,
            )
            .unwrap()
        };
        for explain in [false, true] {
            assert_eq!(at(w.customer, explain).decision, Decision::Denied);
            assert_eq!(at(w.msp, explain).decision, Decision::Allowed);
        }
        let explained = at(w.customer, true);
        let decisive: Vec<Effect> = explained
            .applied
            .iter()
            .filter(|a| a.decisive)
            .map(|a| a.grant.effect)
            .collect();
        assert_eq!(decisive, [Effect::Deny]);
        assert_eq!(explained.applied.len(), 2, "both applied");
        let allowed = at(w.msp, true);
        assert_eq!(allowed.applied.len(), 1);
        assert!(allowed.applied[0].decisive && allowed.applied[0].grant.effect == Effect::Allow);
    }

    #[test]
    fn each_scope_covers_what_it_should() {
        let w = world();
        let pc = Target::Resource {
            resource: w.pc.clone(),
            owner: Some(w.customer),
        };
        let global = Target::Resource {
            resource: crate::model::ResourceRef::new(crate::model::ResourceType::Script, "g"),
            owner: None,
        };
        let c = |scope: &Scope, target: &Target| covers(scope, target, w.customer, &w.tenants);
        assert!(c(&Scope::Owner, &global) && c(&Scope::Owner, &Target::Tenant(w.other_msp)));
        assert!(!c(&Scope::Owner, &Target::None));
        assert!(c(&Scope::Resource(w.pc.clone()), &pc));
        assert!(!c(&Scope::Resource(w.pc.clone()), &global));
        assert!(c(&Scope::Tenant(w.customer), &pc) && !c(&Scope::Tenant(w.customer), &global));
        assert!(c(&Scope::Msp(w.msp), &Target::Tenant(w.customer)));
        assert!(!c(&Scope::Msp(w.other_msp), &Target::Tenant(w.customer)));
        assert!(c(&Scope::TenantTag(w.tag), &Target::Tenant(w.customer)));
        assert!(!c(&Scope::TenantTag(w.tag), &Target::Tenant(w.msp)));
        assert!(c(&Scope::UsersTenant, &Target::Tenant(w.customer)));
        assert!(!c(&Scope::UsersTenant, &Target::Tenant(w.msp)));
        assert!(!c(
            &Scope::Resource(w.pc.clone()),
            &Target::Tenant(w.customer)
        ));
    }
}
