//! `validate_only` (AIP-163): a write judged and carried out like the real one inside its
//! transaction, then taken back, answering the exact access diff it would have made.
//! The diff is the engine's (`engine::Diff`), over the users the write's changes reach.

use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::{Arc, Mutex};

use sea_orm::ConnectionTrait;

use crate::cache::AppliedState;
use crate::engine::{
    AccessPreview, Diff, EffectiveAccess, ResourceIndex, Target, TenantIndex, World,
};
use crate::model::permissions::{ASSIGNMENTS_VIEW, TENANTS_VIEW};
use crate::model::{GroupId, PermissionId, RoleId, Scope, TenantId, UserId, unix_now};
use crate::store::{self, Change, Write};

use super::reach::reached_users;
use super::{Actor, Admin, Result};

/// Where the preview of a `validate_only` call is left for its answer.
#[derive(Debug, Default)]
pub struct Previewing(Mutex<Option<AccessPreview>>);

impl Actor {
    /// The same actor making a preview: each write it makes is judged and carried out,
    /// then rolled back (no revision, change-log row, audit row of a change, notification
    /// or cache change), and `preview` answers what it would have changed.
    pub fn previewing(mut self) -> Actor {
        self.previewing = Some(Arc::default());
        self
    }

    /// What the previewed write would have changed; None when this is no preview.
    pub fn preview(&self) -> Option<AccessPreview> {
        let previewing = self.previewing.as_ref()?;
        let preview = previewing
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        Some(preview.unwrap_or_default())
    }

    fn leave_preview(&self, preview: AccessPreview) {
        if let Some(previewing) = &self.previewing {
            *previewing.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(preview);
        }
    }
}

/// These users' access as `db` has them; an unknown user has none.
async fn compiled(
    db: &impl ConnectionTrait,
    users: &[UserId],
) -> Result<HashMap<UserId, EffectiveAccess>> {
    let facts = store::access_facts_of(db, users).await?;
    Ok(facts.into_iter().map(|(id, f)| (id, f.compile())).collect())
}

/// Every scope that covers `tenant` in `tree` through its place there: its MSPs, itself
/// and its tags.
fn scopes_over(tree: &TenantIndex, tenant: TenantId, scopes: &mut HashSet<Scope>) {
    let Some(node) = tree.get(tenant) else {
        return;
    };
    scopes.insert(Scope::Tenant(tenant));
    scopes.insert(Scope::Msp(tenant));
    scopes.extend(node.ancestors.iter().map(|a| Scope::Msp(*a)));
    scopes.extend(node.tags.iter().map(|g| Scope::TenantTag(*g)));
}

/// The users whose decisions `changes` can change, read through `db` as the write leaves
/// it: the users it names, the members of the groups and the holders of the roles it
/// touches, and, where it moves tenants, tags or resource owners, whoever holds an
/// assignment whose scope covers them before or after. Every assignment or membership a
/// write removes names its user or group, so reading after the write misses no one.
async fn reached(
    db: &impl ConnectionTrait,
    changes: &[Change],
    before: &AppliedState,
    after: (&TenantIndex, &ResourceIndex),
) -> Result<BTreeSet<UserId>> {
    let mut users = BTreeSet::new();
    let mut scopes = HashSet::new();
    let mut owners = Vec::new();
    let trees = [&*before.tenants, after.0];
    for change in changes {
        match change {
            Change::User { id } => {
                users.insert(UserId(*id));
            }
            Change::Group { id } => {
                let members = store::group_members(db, GroupId(*id)).await?;
                users.extend(members.iter().map(|u| u.id));
            }
            Change::Role { id } => {
                for assignment in store::role_assignments(db, RoleId(*id)).await? {
                    let holders = reached_users(db, assignment.principal).await?;
                    users.extend(holders.iter().map(|u| u.id));
                }
            }
            Change::Tenants { ids } => {
                for tree in trees {
                    // None named: the whole tree.
                    let tenants: Vec<TenantId> = if ids.is_empty() {
                        tree.nodes().map(|t| t.id).collect()
                    } else {
                        ids.iter().map(|id| TenantId(*id)).collect()
                    };
                    for tenant in tenants {
                        scopes_over(tree, tenant, &mut scopes);
                    }
                }
            }
            Change::Resource { .. } => {
                let Some(resource) = change.resource()? else {
                    continue;
                };
                for (tree, index) in [(trees[0], &before.resources), (trees[1], after.1)] {
                    if let Some(Some(owner)) = index.owner(&resource) {
                        scopes_over(tree, owner, &mut scopes);
                        owners.push(owner);
                    }
                }
            }
        }
    }
    if !owners.is_empty() {
        scopes.insert(Scope::UsersTenant);
    }
    let scopes: Vec<Scope> = scopes.into_iter().collect();
    for assignment in store::assignments_at(db, &scopes).await? {
        let users_tenant = assignment.scope == Scope::UsersTenant;
        for user in reached_users(db, assignment.principal).await? {
            // "The user's own tenant" covers a moved resource only for its owner's users.
            if !users_tenant || owners.contains(&user.tenant_id) {
                users.insert(user.id);
            }
        }
    }
    Ok(users)
}

impl Admin {
    /// Takes back a previewed write (`write` holds the savepoint taken before it) and
    /// leaves with the actor what it would have changed: each user it reaches is decided
    /// as the write leaves them, then, after the undo, as they were (`before` is the
    /// state the write began on).
    pub(super) async fn preview(&self, actor: &Actor, write: &mut Write<'_>) -> Result<()> {
        let before = &actor.state;
        let changes = write.changes().to_vec();
        let (tenants, resources) = self.cache.state_after(write.txn(), &changes).await?;
        let users: Vec<UserId> = reached(write.txn(), &changes, before, (&tenants, &resources))
            .await?
            .into_iter()
            .collect();
        let after = compiled(write.txn(), &users).await?;
        write.undo().await?;
        let was = compiled(write.txn(), &users).await?;
        let mut diff = Diff::new(
            World {
                tenants: &before.tenants,
                resources: &before.resources,
            },
            World {
                tenants: &tenants,
                resources: &resources,
            },
            self.preview_limit,
            unix_now(),
        );
        // Listed only where the actor could look with CheckUserAccess: the user's
        // assignments, and the target; everyone else is only counted.
        let sees = |permission: PermissionId, target: &Target| {
            self.require_on(actor, permission, target, "").is_ok()
        };
        diff.show_only(|target| *target == Target::None || sees(TENANTS_VIEW.into(), target));
        for user in users {
            let (was, is) = (was.get(&user), after.get(&user));
            let tenant = is.or(was).map(|a| a.tenant_id());
            let listed = tenant.is_some_and(|t| sees(ASSIGNMENTS_VIEW.into(), &Target::Tenant(t)));
            diff.user(user, was, is, listed);
        }
        actor.leave_preview(diff.finish());
        Ok(())
    }

    /// A preview of a call that changes no access (it writes no row a decision reads,
    /// or only an audit row): judged, nothing written.
    pub(super) fn preview_nothing(&self, actor: &Actor) -> bool {
        if actor.previewing.is_none() {
            return false;
        }
        actor.leave_preview(AccessPreview::default());
        true
    }
}
