//! Scope containment, for the admin rules of docs/model.md ("Who may change what"): an actor
//! may act at a scope only through an allow whose scope contains it, with no deny that
//! reaches any tenant it covers.

use crate::model::{Effect, PermissionId, Scope, catalogue};

use super::decision::covers_tenant;
use super::{Decision, EffectiveAccess, ResourceIndex, Target, TenantIndex, decide};

/// True when every tenant and resource `inner` covers, now or later, `outer` covers too.
/// Both scopes must have User's Tenant resolved to a tenant scope first.
pub fn contains(
    outer: &Scope,
    inner: &Scope,
    tenants: &TenantIndex,
    resources: &ResourceIndex,
) -> bool {
    match (outer, inner) {
        (Scope::Owner, _) => true,
        (Scope::Msp(msp), Scope::Msp(tenant) | Scope::Tenant(tenant)) => {
            tenants.is_within(*tenant, *msp)
        }
        (Scope::Tenant(outer), Scope::Tenant(inner)) => outer == inner,
        (Scope::Msp(_) | Scope::Tenant(_), Scope::Resource(resource)) => {
            match resources.owner(resource) {
                Some(Some(owner)) => contains(outer, &Scope::Tenant(owner), tenants, resources),
                _ => false,
            }
        }
        (Scope::TenantTag(outer), Scope::TenantTag(inner)) => outer == inner,
        (Scope::Resource(outer), Scope::Resource(inner)) => outer == inner,
        _ => false,
    }
}

/// True when a deny at `deny` may reach something `scope` covers. Conservative: where it
/// cannot be told, it says yes, so an unclear case refuses rather than grants.
pub fn overlaps(
    deny: &Scope,
    scope: &Scope,
    tenants: &TenantIndex,
    resources: &ResourceIndex,
) -> bool {
    let owner_of = |scope: &Scope| match scope {
        Scope::Resource(resource) => resources.owner(resource).flatten(),
        _ => None,
    };
    match (deny, scope) {
        (Scope::Owner, _) | (_, Scope::Owner) => true,
        (Scope::UsersTenant, _) | (_, Scope::UsersTenant) => true,
        // A resource scope covers that resource alone.
        (Scope::Resource(a), Scope::Resource(b)) => a == b,
        // The same tag, even where no tenant carries it yet.
        (Scope::TenantTag(a), Scope::TenantTag(b)) if a == b => true,
        (Scope::Resource(_), other) | (other, Scope::Resource(_)) => {
            let resource_scope = if matches!(deny, Scope::Resource(_)) {
                deny
            } else {
                scope
            };
            owner_of(resource_scope)
                .is_some_and(|tenant| covers_tenant(other, tenant, tenant, tenants))
        }
        _ => tenants.nodes().any(|t| {
            covers_tenant(deny, t.id, t.id, tenants) && covers_tenant(scope, t.id, t.id, tenants)
        }),
    }
}

/// Replaces User's Tenant by the tenant it stands for.
pub fn resolve_users_tenant(scope: &Scope, users_tenant: crate::model::TenantId) -> Scope {
    match scope {
        Scope::UsersTenant => Scope::Tenant(users_tenant),
        other => other.clone(),
    }
}

/// Whether the user holds `permission` at the whole of `scope` (User's Tenant resolved):
/// a system permission anywhere, otherwise an allow containing the scope and no deny
/// reaching into it.
pub fn holds_at(
    access: &EffectiveAccess,
    permission: PermissionId,
    scope: &Scope,
    tenants: &TenantIndex,
    resources: &ResourceIndex,
    now: i64,
) -> bool {
    if catalogue().is_system(permission) {
        return decide(Some(access), permission, &Target::None, tenants, now, false)
            .is_ok_and(|v| v.decision == Decision::Allowed);
    }
    if !access.user.is_active(now)
        || (catalogue().get(permission).msp_only
            && !tenants.get(access.tenant_id()).is_some_and(|t| t.is_msp))
    {
        return false;
    }
    let mut allowed = false;
    for grant in access.grants_of(permission) {
        let held = resolve_users_tenant(&grant.scope, access.tenant_id());
        match grant.effect {
            Effect::Deny if overlaps(&held, scope, tenants, resources) => return false,
            Effect::Allow if contains(&held, scope, tenants, resources) => allowed = true,
            _ => {}
        }
    }
    allowed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::EffectiveAccess;
    use crate::engine::fixtures::{user, world};
    use crate::model::{ResourceRef, ResourceType, TagId};

    #[test]
    fn containment_follows_the_tree_and_nothing_else() {
        let w = world();
        let c = |outer: &Scope, inner: &Scope| contains(outer, inner, &w.tenants, &w.resources);
        let resource = Scope::Resource(w.pc.clone());
        assert!(c(&Scope::Owner, &Scope::Msp(w.other_msp)));
        assert!(c(&Scope::Msp(w.msp), &Scope::Tenant(w.customer)));
        assert!(c(&Scope::Msp(w.msp), &resource));
        assert!(c(&Scope::Tenant(w.customer), &resource));
        assert!(c(&Scope::TenantTag(w.tag), &Scope::TenantTag(w.tag)));
        assert!(!c(&Scope::Msp(w.msp), &Scope::Tenant(w.other_msp)));
        assert!(
            !c(&Scope::Tenant(w.msp), &Scope::Msp(w.msp)),
            "a tenant does not contain its future children"
        );
        assert!(!c(&Scope::Tenant(w.customer), &Scope::Owner));
        assert!(
            !c(&Scope::TenantTag(w.tag), &Scope::Tenant(w.customer)),
            "tags change; only the same tag is contained"
        );
        assert!(!c(&Scope::Tenant(w.msp), &resource));
    }

    #[test]
    fn each_arm_of_containment() {
        let w = world();
        let c = |outer: &Scope, inner: &Scope| contains(outer, inner, &w.tenants, &w.resources);
        let pc = Scope::Resource(w.pc.clone());
        let other_pc = Scope::Resource(ResourceRef::new(ResourceType::Computer, "other"));
        assert!(c(&pc, &pc), "a resource scope contains itself");
        assert!(!c(&pc, &other_pc), "and no other resource");
        assert!(!c(&pc, &Scope::Tenant(w.customer)), "nor its owner");
        assert!(c(&Scope::Msp(w.msp), &Scope::Msp(w.msp)));
        assert!(
            !c(&Scope::Msp(w.customer), &Scope::Msp(w.msp)),
            "a child holds no parent"
        );
        assert!(c(&Scope::Tenant(w.customer), &Scope::Tenant(w.customer)));
        assert!(!c(&Scope::Tenant(w.customer), &Scope::Tenant(w.msp)));
        let other_tag = TagId::random();
        assert!(!c(&Scope::TenantTag(w.tag), &Scope::TenantTag(other_tag)));
        assert!(c(&Scope::Owner, &Scope::UsersTenant));
        assert!(
            !c(&Scope::Msp(w.msp), &Scope::UsersTenant),
            "resolve it first"
        );
    }

    #[test]
    fn each_arm_of_overlap() {
        let w = world();
        let o = |deny: &Scope, scope: &Scope| overlaps(deny, scope, &w.tenants, &w.resources);
        let global = ResourceRef::new(ResourceType::Script, "global");
        let mut resources = w.resources.clone();
        resources.set(global.clone(), Some(None));
        let og = |deny: &Scope, scope: &Scope| overlaps(deny, scope, &w.tenants, &resources);
        let global = Scope::Resource(global);
        let pc = Scope::Resource(w.pc.clone());
        let other_pc = Scope::Resource(ResourceRef::new(ResourceType::Computer, "other"));
        // Owner and User's Tenant reach everything, even a global resource.
        assert!(og(&Scope::Owner, &global) && og(&global, &Scope::Owner));
        assert!(og(&Scope::UsersTenant, &global) && og(&global, &Scope::UsersTenant));
        // Resources: only the same one, or one owned where the other scope reaches.
        assert!(og(&global, &global));
        assert!(!o(&pc, &other_pc) && !o(&other_pc, &pc));
        assert!(o(&pc, &Scope::Msp(w.msp)) && o(&Scope::Tenant(w.customer), &pc));
        assert!(
            !og(&global, &Scope::Msp(w.msp)),
            "a global resource is in no tenant"
        );
        // Tags: the same tag even where no tenant carries it; others by their tenants.
        let unused = TagId::random();
        assert!(o(&Scope::TenantTag(unused), &Scope::TenantTag(unused)));
        assert!(!o(&Scope::TenantTag(unused), &Scope::TenantTag(w.tag)));
        assert!(o(&Scope::TenantTag(w.tag), &Scope::Tenant(w.customer)));
        assert!(!o(&Scope::TenantTag(w.tag), &Scope::Tenant(w.msp)));
        // The tree, both ways.
        assert!(o(&Scope::Msp(w.msp), &Scope::Tenant(w.customer)));
        assert!(!o(&Scope::Msp(w.other_msp), &Scope::Msp(w.msp)));
    }

    #[test]
    fn holding_at_a_scope_needs_a_containing_allow_and_no_reaching_deny() {
        let w = world();
        let held = |access: &EffectiveAccess, key: &str, scope: &Scope| {
            let permission = catalogue().id(key).unwrap();
            holds_at(access, permission, scope, &w.tenants, &w.resources, 0)
        };
        let view = "computers.view";
        let msp_admin = user(
            w.msp,
            &[
                (view, Scope::Msp(w.msp), Effect::Allow),
                (view, Scope::Tenant(w.other_msp), Effect::Deny),
            ],
        );
        assert!(
            held(&msp_admin, view, &Scope::Tenant(w.customer)),
            "a deny elsewhere does not matter"
        );
        assert!(
            !held(&msp_admin, view, &Scope::Owner),
            "Owner is not contained"
        );
        let only_msp = user(w.msp, &[(view, Scope::Msp(w.msp), Effect::Allow)]);
        assert!(
            !held(&only_msp, view, &Scope::Tenant(w.other_msp)),
            "an allow elsewhere does not count"
        );
        let restricted = user(
            w.msp,
            &[
                (view, Scope::Owner, Effect::Allow),
                (view, Scope::Tenant(w.customer), Effect::Deny),
            ],
        );
        assert!(
            !held(&restricted, view, &Scope::Msp(w.msp)),
            "a deny inside it"
        );
        assert!(held(&restricted, view, &Scope::Tenant(w.other_msp)));
        let mut disabled = msp_admin.as_active();
        disabled.user.disabled = true;
        assert!(!held(&disabled, view, &Scope::Tenant(w.customer)));
        let in_customer = user(
            w.customer,
            &[("tenants.manage", Scope::Owner, Effect::Allow)],
        );
        assert!(
            !held(&in_customer, "tenants.manage", &Scope::Tenant(w.customer)),
            "msp_only outside an MSP"
        );
        let in_msp = user(w.msp, &[("tenants.manage", Scope::Owner, Effect::Allow)]);
        assert!(held(&in_msp, "tenants.manage", &Scope::Tenant(w.customer)));
        // A system permission: anywhere, whatever the scope asked about.
        let billing = user(
            w.customer,
            &[("billing.view", Scope::Tenant(w.customer), Effect::Allow)],
        );
        assert!(held(&billing, "billing.view", &Scope::Owner));
    }

    #[test]
    fn overlap_is_conservative() {
        let w = world();
        let o = |deny: &Scope, scope: &Scope| overlaps(deny, scope, &w.tenants, &w.resources);
        assert!(o(&Scope::Tenant(w.customer), &Scope::Msp(w.msp)));
        assert!(o(&Scope::TenantTag(w.tag), &Scope::Msp(w.msp)));
        assert!(o(
            &Scope::Resource(w.pc.clone()),
            &Scope::Tenant(w.customer)
        ));
        assert!(o(&Scope::Owner, &Scope::Tenant(w.other_msp)));
        assert!(!o(&Scope::Tenant(w.customer), &Scope::Msp(w.other_msp)));
        assert!(!o(
            &Scope::Resource(w.pc.clone()),
            &Scope::Tenant(w.other_msp)
        ));
    }
}
