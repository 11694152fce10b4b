//! At start-up, the built-in roles in the database are brought to this binary's catalogue.

use super::{AuditRecord, Store, StoreError};
use crate::model::{Action, Outcome, Role, catalogue};

impl Store {
    /// Brings the built-in roles in the database to this binary's catalogue.
    pub(super) async fn sync_built_in_roles(&self) -> Result<(), StoreError> {
        let stored = super::roles(self.db()).await?;
        let mut write = self.begin_write().await?;
        let mut changed = Vec::new();
        for built_in in catalogue().built_in_roles() {
            let wanted = Role {
                id: built_in.id,
                name: built_in.name.clone(),
                description: built_in.description.clone(),
                owner: None,
                built_in: true,
                permissions: built_in.permissions,
            };
            if !stored.contains(&wanted) {
                write.save_role(&wanted).await?;
                changed.push(wanted.name);
            }
        }
        if changed.is_empty() {
            return Ok(());
        }
        write
            .commit(AuditRecord {
                actor: None,
                impersonator: None,
                action: Action::SyncBuiltInRoles,
                target: "built-in roles".to_owned(),
                before: None,
                after: Some(changed.join(", ")),
                outcome: Outcome::Succeeded,
                detail: String::new(),
            })
            .await?;
        Ok(())
    }
}
