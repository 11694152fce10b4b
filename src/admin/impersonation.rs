//! Instance preferences, and impersonation under DESIGN.md's rules.

use crate::engine::{Refusal, RefusalReason};
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

    /// The actor acting as `target`, if they may: impersonation is on, they hold
    /// `users.impersonate` on the target's tenant, and the target is active and holds no
    /// system permission the actor lacks. Checked on every impersonated call, so turning
    /// the preference off or revoking the permission ends it at once.
    pub async fn impersonate(&self, actor: Actor, target: UserId, action: Action) -> Result<Actor> {
        let (_, as_target) = self
            .audited(&actor, action, format!("impersonating {target}"), async {
                self.impersonation_target(&actor, target).await
            })
            .await?;
        Ok(Actor {
            access: as_target,
            impersonator: Some(actor.id()),
        })
    }

    async fn impersonation_target(
        &self,
        actor: &Actor,
        target: UserId,
    ) -> Result<(User, std::sync::Arc<crate::engine::EffectiveAccess>)> {
        if actor.impersonator.is_some() {
            return Err(AdminError::PermissionDenied(Refusal::new(
                RefusalReason::ImpersonationDisabled,
                "an impersonated user cannot impersonate in turn",
            )));
        }
        if !self.preferences().await?.impersonation_enabled {
            return Err(AdminError::PermissionDenied(Refusal::new(
                RefusalReason::ImpersonationDisabled,
                "impersonation is turned off for this instance (preference `impersonation_enabled`)",
            )));
        }
        let user = existing(self.store.db(), target).await?;
        self.require_on_tenant(actor, USERS_IMPERSONATE, user.tenant_id)?;
        let access = self
            .cache
            .access(target)
            .await?
            .filter(|a| a.user.is_active(unix_now()))
            .ok_or_else(|| {
                AdminError::FailedPrecondition(format!(
                    "user `{target}` is disabled or expired, so there is nothing to see as them"
                ))
            })?;
        self.require_not_more_powerful(actor, Some(&access))?;
        Ok((user, access))
    }

    /// Checks that the actor may impersonate the user and audits the start.
    pub async fn start_impersonation(&self, actor: &Actor, target: UserId) -> Result<User> {
        self.audited(actor, Action::StartImpersonation, target, async {
            let (user, _) = self.impersonation_target(actor, target).await?;
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
