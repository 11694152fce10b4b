//! Who may see what: a row an admin call reads is shown only to an actor who holds its view
//! permission where the row lives. Who may change it is in `rules.rs`.

use crate::engine::{Refusal, RefusalReason};
use crate::model::permissions::{GROUPS_VIEW, ROLES_MANAGE, TENANTS_VIEW, USERS_VIEW};
use crate::model::{Action, Group, Role, Tenant, User};
use crate::store::Keyed;

use super::{Actor, Admin, AdminError, Result, existing};

/// A row shown only to some actors.
pub(super) trait Visible {
    /// Refused unless `actor` may see this row.
    fn require_seen(&self, admin: &Admin, actor: &Actor) -> Result<()>;
}

/// A tenant: `tenants.view` on it.
impl Visible for Tenant {
    fn require_seen(&self, admin: &Admin, actor: &Actor) -> Result<()> {
        admin.require_on_tenant(actor, TENANTS_VIEW, self.id)
    }
}

/// A user: `users.view` on their tenant.
impl Visible for User {
    fn require_seen(&self, admin: &Admin, actor: &Actor) -> Result<()> {
        admin.require_on_tenant(actor, USERS_VIEW, self.tenant_id)
    }
}

/// A group: `rbac.groups.view` on its owner, or at Owner scope.
impl Visible for Group {
    fn require_seen(&self, admin: &Admin, actor: &Actor) -> Result<()> {
        admin.require_on_owner(actor, GROUPS_VIEW, self.owner)
    }
}

/// Public roles (built-in ones included) are visible to everyone; a tenant's roles to
/// those who manage roles there.
impl Visible for Role {
    fn require_seen(&self, admin: &Admin, actor: &Actor) -> Result<()> {
        let Some(tenant) = self.owner else {
            return Ok(());
        };
        admin
            .require_on_tenant(actor, ROLES_MANAGE, tenant)
            .map_err(|_| {
                AdminError::PermissionDenied(
                    Refusal::new(
                        RefusalReason::MissingPermission,
                        format!(
                            "actor `{}` cannot see role `{}`: it belongs to tenant `{tenant}`, where they do not hold `rbac.roles.manage`",
                            actor.id(),
                            self.name
                        ),
                    )
                    .at(ROLES_MANAGE.key(), format!("tenant `{tenant}`")),
                )
            })
    }
}

impl Admin {
    /// The row of `id`, when it exists and the actor may see it; a refusal is audited
    /// under `action`.
    pub(super) async fn visible<I>(&self, actor: &Actor, action: Action, id: I) -> Result<I::Row>
    where
        I: Keyed,
        I::Row: Visible,
    {
        self.audited(actor, action, id, async {
            let row = existing(self.store.db(), id).await?;
            row.require_seen(self, actor)?;
            Ok(row)
        })
        .await
    }
}
