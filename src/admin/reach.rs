//! What a write lets newly reach anyone (an allow that starts to apply, a deny that stops),
//! and the judgement of it against the actor's own access by `engine::judge_reach`:
//! grant only what you hold, never raise yourself.

use sea_orm::ConnectionTrait;

use crate::engine::{EffectiveAccess, Reach, UserFacts, Widening, judge_reach};
use crate::model::{Effect, PermissionSet, Principal, RoleAssignment, Scope, User, unix_now};
use crate::store;

use super::{Actor, Admin, AdminError, Result};

/// The users an assignment reaches now: its user, or its group's members.
pub(super) async fn reached_users<C: ConnectionTrait>(
    db: &C,
    principal: Principal,
) -> Result<Vec<User>> {
    Ok(match principal {
        Principal::User(id) => store::find(db, id).await?.into_iter().collect(),
        Principal::Group(id) => store::group_members(db, id).await?,
    })
}

/// How an assignment's permissions starting (or stopping) to apply widen access: an allow
/// that starts, a deny that stops; None for the other two, which only restrict.
pub(super) fn widening(effect: Effect, starts: bool) -> Option<Widening> {
    match (effect, starts) {
        (Effect::Allow, true) => Some(Widening::NewAllow),
        (Effect::Deny, false) => Some(Widening::LiftedDeny),
        _ => None,
    }
}

/// What an assignment lets newly reach its users when `permissions` of it start to apply
/// (an allow) or stop to (a deny), over its whole scope or only `over`; nothing for the
/// other two cases, which only restrict.
pub(super) async fn reaches<C: ConnectionTrait>(
    db: &C,
    assignment: &RoleAssignment,
    permissions: PermissionSet,
    starts: bool,
    over: Option<&Scope>,
) -> Result<Vec<Reach>> {
    let Some(widening) = widening(assignment.effect, starts) else {
        return Ok(Vec::new());
    };
    if permissions.is_empty() {
        return Ok(Vec::new());
    }
    Ok(reached_users(db, assignment.principal)
        .await?
        .iter()
        .map(|user| Reach {
            user: user.into(),
            permissions,
            scope: assignment.scope.clone(),
            over: over.cloned(),
            widening,
        })
        .collect())
}

/// What the assignments at these scopes let newly reach their users, over `over`, when
/// they start (or stop) covering it: what a tenant move, a tag change or a resource move
/// brings under, or takes out of, their scope.
pub(super) async fn reaches_at<C: ConnectionTrait>(
    db: &C,
    scopes: &[Scope],
    starts: bool,
    over: &Scope,
) -> Result<Vec<Reach>> {
    let mut widened = Vec::new();
    for assignment in store::assignments_at(db, scopes).await? {
        let Some(role) = store::find(db, assignment.role_id).await? else {
            continue;
        };
        widened.extend(reaches(db, &assignment, role.permissions, starts, Some(over)).await?);
    }
    Ok(widened)
}

impl Admin {
    /// Judges everything a write lets newly reach anyone against the actor's access, and
    /// the impersonator's: what reaches the impersonator is judged as reaching themselves.
    pub(super) fn judge(&self, actor: &Actor, reaches: &[Reach]) -> Result<()> {
        let (tenants, resources) = (&actor.state.tenants, &actor.state.resources);
        let now = unix_now();
        for access in actor.accesses() {
            for reach in reaches {
                judge_reach(access, reach, tenants, resources, now)
                    .map_err(AdminError::PermissionDenied)?;
            }
        }
        Ok(())
    }

    /// Every allow the user holds, as reaches: what making an inactive user active (or
    /// keeping them active longer) hands back to them.
    pub(super) fn reaches_of_user(&self, access: &EffectiveAccess) -> Vec<Reach> {
        let user = UserFacts {
            disabled: false,
            expires_at: None,
            ..access.user.clone()
        };
        access
            .grants
            .iter()
            .filter(|g| g.effect == Effect::Allow)
            .map(|grant| Reach {
                user: user.clone(),
                permissions: access.role_of(grant).permissions,
                scope: grant.scope.clone(),
                over: None,
                widening: Widening::NewAllow,
            })
            .collect()
    }
}
