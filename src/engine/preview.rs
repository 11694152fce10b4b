//! What a write changes, exactly: each (user, permission, target) whose decision differs
//! between the state before it and the state after, both decided by `decide`. Only the
//! permissions and targets a change can reach are decided again: a permission neither
//! side mentions is NOT_GRANTED on both, and, for a user in the same tenant on both sides,
//! a target whose place did not move (its MSPs, its tags, a resource's owner) and that no
//! added or removed grant covers has the same grants applying on both sides.

use crate::model::{Effect, PermissionId, Scope, TenantId, UserId, catalogue};

use super::decision::covers;
use super::{Decision, EffectiveAccess, ResourceIndex, Target, TenantIndex, decide};

/// The tenant tree and resource owners on one side of a write.
#[derive(Clone, Copy)]
pub struct World<'a> {
    pub tenants: &'a TenantIndex,
    pub resources: &'a ResourceIndex,
}

/// One decision a write changes. `target` is `Target::None` for a system permission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessChange {
    pub user: UserId,
    pub permission: PermissionId,
    pub target: Target,
    pub before: Decision,
    pub after: Decision,
}

/// Every decision a write changes, the first `limit` of them listed (by user, then
/// permission, then target), and how many users it changes anything for.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AccessPreview {
    pub changes: Vec<AccessChange>,
    pub truncated: bool,
    pub users_affected: u32,
}

/// One target as it resolves on each side (a resource's owner may move), and whether
/// its place moved: a tenant's MSPs or tags, a resource's owner or its owner's place.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Compared {
    before: Target,
    after: Target,
    moved: bool,
    /// Whether its changes are listed (`Diff::show_only`).
    shown: bool,
}

/// Whether scopes cover the tenant differently on the two sides: it is on one side only,
/// or its MSPs or tags differ.
fn moved(before: &TenantIndex, after: &TenantIndex, id: TenantId) -> bool {
    match (before.get(id), after.get(id)) {
        (Some(was), Some(is)) => {
            was.ancestors != is.ancestors
                || was.tags.len() != is.tags.len()
                || was.tags.iter().any(|tag| !is.tags.contains(tag))
        }
        _ => true,
    }
}

/// Compares users' decisions before and after a write, over every tenant and registered
/// resource that exists on both sides (a target on one side only has no decision on the
/// other).
pub struct Diff<'a> {
    before: World<'a>,
    after: World<'a>,
    targets: Vec<Compared>,
    /// Whether any target moved.
    any_moved: bool,
    limit: usize,
    now: i64,
    preview: AccessPreview,
}

impl<'a> Diff<'a> {
    pub fn new(before: World<'a>, after: World<'a>, limit: usize, now: i64) -> Self {
        let mut tenants: Vec<_> = before
            .tenants
            .nodes()
            .map(|t| t.id)
            .filter(|id| after.tenants.contains(*id))
            .collect();
        tenants.sort_unstable();
        let mut targets: Vec<Compared> = tenants
            .into_iter()
            .map(|id| Compared {
                before: Target::Tenant(id),
                after: Target::Tenant(id),
                moved: moved(before.tenants, after.tenants, id),
                shown: true,
            })
            .collect();
        let mut resources: Vec<_> = before.resources.iter().collect();
        resources.sort_unstable_by(|a, b| a.0.cmp(b.0));
        targets.extend(resources.into_iter().filter_map(|(resource, was)| {
            let is = after.resources.owner(resource)?;
            let owner_moved = was.is_some_and(|t| moved(before.tenants, after.tenants, t));
            Some(Compared {
                before: Target::Resource {
                    resource: resource.clone(),
                    owner: *was,
                },
                after: Target::Resource {
                    resource: resource.clone(),
                    owner: is,
                },
                moved: *was != is || owner_moved,
                shown: true,
            })
        }));
        Diff {
            before,
            after,
            any_moved: targets.iter().any(|t| t.moved),
            targets,
            limit,
            now,
            preview: AccessPreview::default(),
        }
    }

    /// Lists only changes at targets `shown` accepts (as the target is after the write);
    /// the others still count their user as affected.
    pub fn show_only(&mut self, shown: impl Fn(&Target) -> bool) {
        for target in &mut self.targets {
            target.shown = shown(&target.after);
        }
    }

    /// Adds what changes for one user (None: no such user on that side), listing the
    /// changes when `listed`, else only counting the user. Call it once per user, in the
    /// order the changes should be listed.
    pub fn user(
        &mut self,
        user: UserId,
        before: Option<&EffectiveAccess>,
        after: Option<&EffectiveAccess>,
        listed: bool,
    ) {
        let now = self.now;
        let (was, is) = (
            before.filter(|a| a.user.is_active(now)),
            after.filter(|a| a.user.is_active(now)),
        );
        let permissions = match (was, is) {
            (None, None) => return,
            (Some(was), Some(is)) => catalogue()
                .all()
                .iter()
                .filter(|p| was.mentions(*p) || is.mentions(*p))
                .collect(),
            // Active on one side only: every decision differs (USER_INACTIVE on the other).
            _ => catalogue().all().iter().collect::<Vec<_>>(),
        };
        let mut changed = false;
        let none = Compared {
            before: Target::None,
            after: Target::None,
            moved: false,
            shown: true,
        };
        for permission in permissions {
            let system = catalogue().is_system(permission);
            // Narrowed to what an added or removed grant covers, and what moved.
            let narrowed = match (was, is) {
                (Some(was), Some(is)) if self.same_grounds(was, is) => {
                    let scopes = added_or_removed(was, is, permission);
                    if scopes.is_empty() && (system || !self.any_moved) {
                        continue;
                    }
                    Some((scopes, is.tenant_id()))
                }
                _ => None,
            };
            let targets = if system {
                std::slice::from_ref(&none)
            } else {
                &self.targets[..]
            };
            for target in targets {
                let (target_before, target_after) = (&target.before, &target.after);
                if let Some((scopes, users_tenant)) = &narrowed
                    && !system
                    && !target.moved
                    && !scopes
                        .iter()
                        .any(|scope| covers(scope, target_after, *users_tenant, self.after.tenants))
                {
                    continue;
                }
                let decision = |access, target, world: World| {
                    decide(access, permission, target, world.tenants, self.now, false)
                        .map_or(Decision::NotGranted, |v| v.decision)
                };
                let from = decision(before, target_before, self.before);
                let to = decision(after, target_after, self.after);
                if from == to {
                    continue;
                }
                changed = true;
                if !listed {
                    break;
                }
                if !target.shown {
                    continue;
                }
                if self.preview.changes.len() == self.limit {
                    self.preview.truncated = true;
                    self.preview.users_affected += 1;
                    return;
                }
                self.preview.changes.push(AccessChange {
                    user,
                    permission,
                    target: target_after.clone(),
                    before: from,
                    after: to,
                });
            }
            if changed && !listed {
                break;
            }
        }
        if changed {
            self.preview.users_affected += 1;
        }
    }

    /// Whether a grant on both sides decides the same on both, wherever the target did not
    /// move: the user is in the same tenant, and it is an MSP on both sides or on neither
    /// (msp_only permissions).
    fn same_grounds(&self, was: &EffectiveAccess, is: &EffectiveAccess) -> bool {
        let is_msp = |world: World, tenant| world.tenants.get(tenant).map(|t| t.is_msp);
        was.tenant_id() == is.tenant_id()
            && is_msp(self.before, was.tenant_id()) == is_msp(self.after, is.tenant_id())
    }

    pub fn finish(self) -> AccessPreview {
        self.preview
    }
}

/// The scopes of the grants of `permission` that one side has and the other lacks.
fn added_or_removed(
    was: &EffectiveAccess,
    is: &EffectiveAccess,
    permission: PermissionId,
) -> Vec<Scope> {
    let grants = |access: &EffectiveAccess| -> Vec<(Scope, Effect)> {
        access
            .grants_of(permission)
            .map(|g| (g.scope.clone(), g.effect))
            .collect()
    };
    let (was, is) = (grants(was), grants(is));
    let only = |these: &[(Scope, Effect)], those: &[(Scope, Effect)]| -> Vec<Scope> {
        these
            .iter()
            .filter(|grant| !those.contains(grant))
            .map(|(scope, _)| scope.clone())
            .collect()
    };
    let mut scopes = only(&was, &is);
    scopes.extend(only(&is, &was));
    scopes
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::engine::fixtures::{self, tenant, user};
    use crate::model::TagId;

    /// Permissions the cases hand out: plain ones, an msp_only one and a system one.
    const KEYS: [&str; 4] = [
        "computers.view",
        "computers.manage",
        "tenants.manage",
        "billing.view",
    ];

    /// One side of a user in a case: none, or active or not with these grants, in the
    /// MSP, the customer or the other MSP (0, 1, 2).
    type Side = Option<(bool, usize, Vec<(usize, usize, bool)>)>;

    fn side() -> impl Strategy<Value = Side> {
        let grant = (0..KEYS.len(), 0usize..8, any::<bool>());
        proptest::option::weighted(
            0.9,
            (
                proptest::bool::weighted(0.85),
                0usize..3,
                proptest::collection::vec(grant, 0..5),
            ),
        )
    }

    fn scope(w: &fixtures::World, index: usize) -> Scope {
        match index {
            0 => Scope::Owner,
            1 => Scope::Msp(w.msp),
            2 => Scope::Msp(w.other_msp),
            3 => Scope::Tenant(w.customer),
            4 => Scope::Tenant(w.msp),
            5 => Scope::TenantTag(w.tag),
            6 => Scope::UsersTenant,
            _ => Scope::Resource(w.pc.clone()),
        }
    }

    fn access(w: &fixtures::World, side: &Side) -> Option<EffectiveAccess> {
        let (active, home, grants) = side.as_ref()?;
        let grants: Vec<(&str, Scope, Effect)> = grants
            .iter()
            .map(|(key, s, deny)| {
                let effect = if *deny { Effect::Deny } else { Effect::Allow };
                (KEYS[*key], scope(w, *s), effect)
            })
            .collect();
        let tenant = [w.msp, w.customer, w.other_msp][*home];
        let mut access = user(tenant, &grants);
        access.user.disabled = !active;
        Some(access)
    }

    /// The world after a write: the same (0), or the customer moved under the other MSP and
    /// untagged (1), only untagged (2), tagged with another tag instead (3), made an MSP
    /// (4), or moved keeping its tag (5); and the computer owned by the customer, the MSP,
    /// or nobody.
    fn after(w: &fixtures::World, change: usize, owner: usize) -> (TenantIndex, ResourceIndex) {
        let customer = match change {
            1 => tenant(w.customer, Some(w.other_msp), false, vec![]),
            2 => tenant(w.customer, Some(w.msp), false, vec![]),
            3 => tenant(w.customer, Some(w.msp), false, vec![TagId::random()]),
            4 => tenant(w.customer, Some(w.msp), true, vec![w.tag]),
            5 => tenant(w.customer, Some(w.other_msp), false, vec![w.tag]),
            _ => tenant(w.customer, Some(w.msp), false, vec![w.tag]),
        };
        let tenants = TenantIndex::build([
            tenant(w.msp, None, true, vec![]),
            customer,
            tenant(w.other_msp, None, true, vec![]),
        ]);
        let owner = [Some(w.customer), Some(w.msp), None][owner];
        let resources = [(w.pc.clone(), owner)].into_iter().collect();
        (tenants, resources)
    }

    /// Every decision that differs, by deciding every permission on every target.
    fn every_change(
        before: (World, Option<&EffectiveAccess>),
        after: (World, Option<&EffectiveAccess>),
        targets: &[(Target, Target)],
    ) -> Vec<(PermissionId, Target, Decision, Decision)> {
        let mut changes = Vec::new();
        for permission in catalogue().all().iter() {
            let system = catalogue().is_system(permission);
            for (was, is) in targets {
                let (was, is) = if system {
                    (&Target::None, &Target::None)
                } else {
                    (was, is)
                };
                let decide = |(world, access): (World, Option<&EffectiveAccess>), on| {
                    decide(access, permission, on, world.tenants, 0, false)
                        .unwrap()
                        .decision
                };
                let (from, to) = (decide(before, was), decide(after, is));
                if from != to && !changes.contains(&(permission, is.clone(), from, to)) {
                    changes.push((permission, is.clone(), from, to));
                }
            }
        }
        changes
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2_000))]
        /// The diff equals deciding everything on both sides, whatever the write changed:
        /// grants, the user's tenant (to one of the same kind or not) or status, a tenant's
        /// place, tags or kind, a resource's owner; and the
        /// limit lists the first changes while the count covers every user.
        #[test]
        fn a_diff_is_every_decision_that_changes(
            users in proptest::collection::vec((side(), side(), any::<bool>()), 1..3),
            listed in proptest::collection::vec(proptest::bool::weighted(0.8), 2),
            hide_customer in proptest::bool::weighted(0.3),
            change in 0usize..6,
            owner in 0usize..3,
            limit in 0usize..12,
        ) {
            let w = fixtures::world();
            let (tenants, resources) = after(&w, change, owner);
            let before = World { tenants: &w.tenants, resources: &w.resources };
            let after = World { tenants: &tenants, resources: &resources };
            let mut diff = Diff::new(before, after, limit, 0);
            // Some users, and the customer with what it owns, may be kept from the list.
            let customer = w.customer;
            let hidden = move |target: &Target| {
                hide_customer
                    && match target {
                        Target::Tenant(id) => *id == customer,
                        Target::Resource { owner, .. } => *owner == Some(customer),
                        Target::None => false,
                    }
            };
            diff.show_only(|target| !hidden(target));
            let targets: Vec<(Target, Target)> =
                diff.targets.iter().map(|t| (t.before.clone(), t.after.clone())).collect();
            let mut expected = Vec::new();
            let mut affected = 0;
            for (index, (was, is, same_grants)) in users.iter().enumerate() {
                let id = UserId(uuid::Uuid::from_u128(index as u128));
                // Most writes leave a user's grants as they were.
                let mut is = is.clone();
                if let (true, Some(was), Some(is)) = (same_grants, was, is.as_mut()) {
                    is.2.clone_from(&was.2);
                }
                let (was, is) = (access(&w, was), access(&w, &is));
                diff.user(id, was.as_ref(), is.as_ref(), listed[index]);
                let changes = every_change((before, was.as_ref()), (after, is.as_ref()), &targets);
                affected += u32::from(!changes.is_empty());
                let changes = changes
                    .into_iter()
                    .filter(|(_, target, _, _)| listed[index] && !hidden(target));
                expected.extend(changes.map(|(permission, target, from, to)| AccessChange {
                    user: id,
                    permission,
                    target,
                    before: from,
                    after: to,
                }));
            }
            let preview = diff.finish();
            prop_assert_eq!(preview.users_affected, affected);
            prop_assert_eq!(preview.truncated, expected.len() > limit);
            prop_assert_eq!(preview.changes.len(), expected.len().min(limit));
            for change in &preview.changes {
                prop_assert!(expected.contains(change), "{:?} is not a change", change);
            }
            // Listed in order: by user, then permission.
            let order: Vec<_> = preview.changes.iter().map(|c| (c.user, c.permission)).collect();
            let mut sorted = order.clone();
            sorted.sort();
            prop_assert_eq!(order, sorted);
        }
    }

    #[test]
    fn targets_are_those_on_both_sides_with_each_sides_owner() {
        let w = fixtures::world();
        let gone = TenantIndex::build(
            w.tenants
                .nodes()
                .filter(|t| t.id != w.other_msp)
                .map(|t| t.to_row()),
        );
        let resources: ResourceIndex = [(w.pc.clone(), Some(w.msp))].into_iter().collect();
        let before = World {
            tenants: &w.tenants,
            resources: &w.resources,
        };
        let after = World {
            tenants: &gone,
            resources: &resources,
        };
        let diff = Diff::new(before, after, 10, 0);
        let mut tenants = vec![w.msp, w.customer];
        tenants.sort();
        let mut expected: Vec<Compared> = tenants
            .into_iter()
            .map(|t| Compared {
                before: Target::Tenant(t),
                after: Target::Tenant(t),
                moved: false,
                shown: true,
            })
            .collect();
        expected.push(Compared {
            before: Target::Resource {
                resource: w.pc.clone(),
                owner: Some(w.customer),
            },
            after: Target::Resource {
                resource: w.pc.clone(),
                owner: Some(w.msp),
            },
            moved: true,
            shown: true,
        });
        assert_eq!(diff.targets, expected);
    }
}
