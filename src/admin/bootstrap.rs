//! The first administrator of an empty database.

use uuid::Uuid;

use crate::model::{Action, Outcome, Scope, Tenant, TenantId, User, UserId, UserOrigin, catalogue};
use crate::store;

use super::{Admin, AdminError, Result};

impl Admin {
    /// Creates, if none has the object id yet, an MSP tenant and in it an active user
    /// holding System Administrator (Legacy) at Owner scope. Idempotent.
    pub async fn bootstrap(&self, azure_object_id: Uuid) -> Result<Option<User>> {
        let role = catalogue()
            .built_in_role_by_name("System Administrator (Legacy)")
            .ok_or_else(|| {
                AdminError::FailedPrecondition(
                    "the catalogue has no System Administrator (Legacy)".into(),
                )
            })?;
        let tenant = Tenant {
            id: TenantId::random(),
            name: "Bootstrap MSP".to_owned(),
            parent: None,
            is_msp: true,
            tags: Vec::new(),
        };
        let user = User {
            id: UserId::random(),
            tenant_id: tenant.id,
            azure_object_id,
            email: "bootstrap-admin@localhost".to_owned(),
            first_name: "Bootstrap".to_owned(),
            last_name: "Administrator".to_owned(),
            disabled: false,
            expires_at: None,
            origin: UserOrigin::Manual,
        };
        let assignment = crate::model::RoleAssignment {
            id: crate::model::AssignmentId::random(),
            role_id: role.id,
            principal: crate::model::Principal::User(user.id),
            scope: Scope::Owner,
            effect: crate::model::Effect::Allow,
        };
        // Checked inside the write, so replicas starting together bootstrap once.
        let mut write = self.store.begin_write().await?;
        if store::find_by_object_id::<User>(write.txn(), azure_object_id)
            .await?
            .is_some()
        {
            return Ok(None);
        }
        write.insert_tenant(&tenant).await?;
        self.insert_user(&mut write, &user).await?;
        write
            .insert_assignment(&store::StoredAssignment::now(assignment, None))
            .await?;
        write
            .commit(store::AuditRecord {
                impersonator: None,
                actor: None,
                action: Action::Bootstrap,
                target: user.id.to_string(),
                before: None,
                after: Some(format!(
                    "System Administrator (Legacy) at Owner scope for `{azure_object_id}`"
                )),
                outcome: Outcome::Succeeded,
                detail: String::new(),
            })
            .await?;
        self.cache.catch_up().await?;
        self.cache.notify_written();
        Ok(Some(user))
    }
}
