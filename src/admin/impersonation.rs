//! Instance preferences, and impersonation under docs/model.md's rules: never wider than the
//! impersonator's own access, judged when it starts and inside every impersonated write.

use std::sync::Arc;

use sea_orm::ConnectionTrait;

use crate::engine::{AccessFacts, EffectiveAccess, Refusal, RefusalReason, judge_impersonation};
use crate::model::permissions::{PREFERENCES_MANAGE, USERS_IMPERSONATE};
use crate::model::{Action, Outcome, Preferences, Scope, User, UserId, unix_now};
use crate::store;

use super::{Actor, Admin, AdminError, Changed, Result, existing};

impl Admin {
    /// The instance preferences: readable by any active actor.
    pub async fn preferences(&self) -> Result<Preferences> {
        Ok(store::preferences(self.store.db()).await?)
    }

    /// Changes the instance preferences: the system permission `preferences.manage`.
    pub async fn update_preferences(
        &self,
        actor: &Actor,
        preferences: Preferences,
    ) -> Result<(Preferences, u64)> {
        self.write(
            actor,
            Action::UpdatePreferences,
            "preferences",
            async |write, actor| {
                self.require_at(actor, PREFERENCES_MANAGE, &Scope::Owner)?;
                let old = store::preferences(write.txn()).await?;
                write.save_preferences(&preferences).await?;
                let changed = Changed::new(
                    "preferences",
                    Some(old.to_string()),
                    preferences.to_string(),
                );
                Ok((preferences, changed))
            },
        )
        .await
    }

    /// The actor acting as `target`, if they may (`impersonation_target`). Checked on
    /// every impersonated call, and again inside every impersonated write, so turning the
    /// preference off or revoking the permission ends it at once.
    pub async fn impersonate(&self, actor: Actor, target: UserId, action: Action) -> Result<Actor> {
        let (_, as_target) = self
            .audited(&actor, action, format!("impersonating {target}"), async {
                self.impersonation_target(self.store.db(), &actor, target)
                    .await
            })
            .await?;
        Ok(Actor {
            access: as_target,
            impersonator: Some(actor.access),
            state: actor.state,
            previewing: actor.previewing,
        })
    }

    /// The target of an impersonation and their access, as `db` has them, if the actor
    /// may act as them: impersonation is on, the actor holds `users.impersonate` on the
    /// target's tenant, the target is active, and everything the target holds the actor
    /// holds over a containing scope.
    pub(super) async fn impersonation_target<C: ConnectionTrait>(
        &self,
        db: &C,
        actor: &Actor,
        target: UserId,
    ) -> Result<(User, Arc<EffectiveAccess>)> {
        if actor.impersonator.is_some() {
            return Err(AdminError::PermissionDenied(Refusal::new(
                RefusalReason::ImpersonationDisabled,
                "an impersonated user cannot impersonate in turn",
            )));
        }
        if !store::preferences(db).await?.impersonation_enabled {
            return Err(AdminError::PermissionDenied(Refusal::new(
                RefusalReason::ImpersonationDisabled,
                "impersonation is turned off for this instance (preference `impersonation_enabled`)",
            )));
        }
        let user = existing(db, target).await?;
        self.require_on_tenant(actor, USERS_IMPERSONATE, user.tenant_id)?;
        let access = store::access_facts(db, target)
            .await?
            .map(AccessFacts::compile)
            .filter(|a| a.user.is_active(unix_now()))
            .ok_or_else(|| {
                AdminError::FailedPrecondition(format!(
                    "user `{target}` is disabled or expired, so there is nothing to see as them"
                ))
            })?;
        judge_impersonation(
            &actor.access,
            &access,
            &actor.state.tenants,
            &actor.state.resources,
            unix_now(),
        )
        .map_err(AdminError::PermissionDenied)?;
        Ok((user, Arc::new(access)))
    }

    /// Checks that the actor may impersonate the user and audits the start (a preview
    /// only checks).
    pub async fn start_impersonation(&self, actor: &Actor, target: UserId) -> Result<User> {
        self.audited(actor, Action::StartImpersonation, target, async {
            let (user, _) = self
                .impersonation_target(self.store.db(), actor, target)
                .await?;
            if self.preview_nothing(actor) {
                return Ok(user);
            }
            let record = store::AuditRecord {
                actor: Some(target),
                impersonator: Some(actor.id()),
                action: Action::StartImpersonation,
                target: target.to_string(),
                before: None,
                after: Some(user.email.clone()),
                outcome: Outcome::Succeeded,
                detail: String::new(),
            };
            self.store.audit(record).await?;
            Ok(user)
        })
        .await
    }
}
