//! What a write changes, exactly: each (user, permission, target) whose decision differs
//! between the state before it and the state after, both decided by `decide`. Only the
//! permissions and targets a change can reach are decided again: a permission neither
//! side mentions is NOT_GRANTED on both, and, in an unchanged tenant tree, a target that
//! no added or removed grant covers has the same grants applying on both sides.

use crate::model::{Effect, PermissionId, Scope, UserId, catalogue};

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

/// Compares users' decisions before and after a write, over every tenant and registered
/// resource that exists on both sides (a target on one side only has no decision on the
/// other).
pub struct Diff<'a> {
    before: World<'a>,
    after: World<'a>,
    /// Each target as it resolves before and after (a resource's owner may move).
    targets: Vec<(Target, Target)>,
    /// Whether the tenant tree or a resource owner differs between the sides.
    world_changed: bool,
    limit: usize,
    now: i64,
    preview: AccessPreview,
}

impl<'a> Diff<'a> {
    pub fn new(
        before: World<'a>,
        after: World<'a>,
        world_changed: bool,
        limit: usize,
        now: i64,
    ) -> Self {
        let mut tenants: Vec<_> = before
            .tenants
            .nodes()
            .map(|t| t.id)
            .filter(|id| after.tenants.contains(*id))
            .collect();
        tenants.sort_unstable();
        let mut resources: Vec<_> = before
            .resources
            .iter()
            .filter_map(|(resource, owner)| {
                let now_owned = after.resources.owner(resource)?;
                Some((resource.clone(), *owner, now_owned))
            })
            .collect();
        resources.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let mut targets: Vec<(Target, Target)> = tenants
            .into_iter()
            .map(|id| (Target::Tenant(id), Target::Tenant(id)))
            .collect();
        targets.extend(resources.into_iter().map(|(resource, was, is)| {
            (
                Target::Resource {
                    resource: resource.clone(),
                    owner: was,
                },
                Target::Resource {
                    resource,
                    owner: is,
                },
            )
        }));
        Diff {
            before,
            after,
            targets,
            world_changed,
            limit,
            now,
            preview: AccessPreview::default(),
        }
    }

    /// Adds what changes for one user (None: no such user on that side). Call it once
    /// per user, in the order the changes should be listed.
    pub fn user(
        &mut self,
        user: UserId,
        before: Option<&EffectiveAccess>,
        after: Option<&EffectiveAccess>,
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
        for permission in permissions {
            let reached = match (was, is) {
                (Some(was), Some(is)) if self.same_grounds(was, is) => {
                    let scopes = added_or_removed(was, is, permission);
                    if scopes.is_empty() {
                        continue;
                    }
                    Some((scopes, is.tenant_id()))
                }
                _ => None,
            };
            let system = catalogue().is_system(permission);
            let none = (Target::None, Target::None);
            let targets = if system {
                std::slice::from_ref(&none)
            } else {
                &self.targets[..]
            };
            for (target_before, target_after) in targets {
                // In an unchanged world, only where an added or removed grant reaches.
                if let Some((scopes, users_tenant)) = &reached
                    && !system
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
        }
        if changed {
            self.preview.users_affected += 1;
        }
    }

    /// Whether the same target is covered the same way on both sides by the same grant:
    /// the tree and owners are unchanged and the user is still in the same tenant.
    fn same_grounds(&self, was: &EffectiveAccess, is: &EffectiveAccess) -> bool {
        !self.world_changed && was.tenant_id() == is.tenant_id()
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
