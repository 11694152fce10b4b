//! Tenants: the tree, its depth, and what a move brings under an assignment.

use sea_orm::ConnectionTrait;

use crate::engine::{MAX_TENANT_DEPTH, Reach, TenantIndex};
use crate::model::permissions::{TENANTS_MANAGE, TENANTS_VIEW};
use crate::model::{Action, NAME_MAX, Scope, Tenant, TenantId, required_text};
use crate::store;

use super::reach::reaches_at;
use super::{Actor, Admin, AdminError, Changed, Result, existing};

/// A tenant to create.
#[derive(Clone, Debug)]
pub struct NewTenant {
    pub name: String,
    pub parent: Option<TenantId>,
    pub is_msp: bool,
}

/// A tenant's new name, and where it moves.
#[derive(Clone, Debug)]
pub struct TenantUpdate {
    pub tenant_id: TenantId,
    /// None: keep the name.
    pub name: Option<String>,
    /// None: stay; Some(None): become a root; Some(Some(p)): move under p.
    pub parent: Option<Option<TenantId>>,
}

fn describe_tenant(tenant: &Tenant) -> String {
    format!(
        "{} parent={}",
        tenant.name,
        tenant.parent.map_or("none".into(), |p| p.to_string())
    )
}

impl Admin {
    /// Creates a tenant: `tenants.manage` on the parent, or at Owner scope for a root.
    pub async fn create_tenant(&self, actor: &Actor, new: NewTenant) -> Result<(Tenant, u64)> {
        let name = required_text("name", &new.name, NAME_MAX)?;
        self.write(
            actor,
            Action::CreateTenant,
            new.name,
            async |write, actor| {
                if let Some(parent) = new.parent {
                    existing(write.txn(), parent).await?;
                    self.require_depth(parent, 0)?;
                }
                self.require_on_owner(actor, TENANTS_MANAGE, new.parent)?;
                let tenant = Tenant {
                    id: TenantId::random(),
                    name,
                    parent: new.parent,
                    is_msp: new.is_msp,
                    tags: Vec::new(),
                };
                write.insert_tenant(&tenant).await?;
                let changed = Changed::new(tenant.id, None, tenant.name.clone());
                Ok((tenant, changed))
            },
        )
        .await
    }

    /// A tenant: `tenants.view` on it.
    pub async fn get_tenant(&self, actor: &Actor, id: TenantId) -> Result<Tenant> {
        self.visible(actor, Action::GetTenant, id).await
    }

    /// The tenants where the actor holds `tenants.view`, by name; optionally only the
    /// children of one tenant.
    pub async fn list_tenants(
        &self,
        actor: &Actor,
        parent: Option<TenantId>,
    ) -> Result<Vec<Tenant>> {
        let visible = self.tenants_where(actor, TENANTS_VIEW, None);
        let mut tenants: Vec<Tenant> = store::tenants(self.store.db())
            .await?
            .into_iter()
            .filter(|t| {
                visible
                    .as_ref()
                    .is_none_or(|v| v.binary_search(&t.id).is_ok())
            })
            .filter(|t| parent.is_none() || t.parent == parent)
            .collect();
        tenants.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        Ok(tenants)
    }

    /// Renames a tenant or moves it: `tenants.manage` on it, and on the new parent (Owner
    /// scope for a root). A tenant never moves under itself or its own subtree.
    pub async fn update_tenant(
        &self,
        actor: &Actor,
        update: TenantUpdate,
    ) -> Result<(Tenant, u64)> {
        let id = update.tenant_id;
        let name = update
            .name
            .as_deref()
            .map(|n| required_text("name", n, NAME_MAX))
            .transpose()?;
        self.write(actor, Action::UpdateTenant, id, async |write, actor| {
            let old = existing(write.txn(), id).await?;
            self.require_on_tenant(actor, TENANTS_MANAGE, id)?;
            if let Some(parent) = update.parent {
                if let Some(parent) = parent {
                    existing(write.txn(), parent).await?;
                }
                self.require_on_owner(actor, TENANTS_MANAGE, parent)?;
            }
            let tenant = Tenant {
                name: name.unwrap_or_else(|| old.name.clone()),
                parent: update.parent.unwrap_or(old.parent),
                ..old.clone()
            };
            if let Some(parent) = tenant.parent.filter(|_| tenant.parent != old.parent) {
                // The tree is this write's (the replica caught up under the lock), so
                // concurrent moves cannot loop.
                let tree = &actor.state.tenants;
                if parent == id || tree.is_within(parent, id) {
                    return Err(AdminError::FailedPrecondition(format!(
                        "tenant `{id}` cannot move under `{parent}`, which is itself or below it: the tree would loop"
                    )));
                }
                self.require_depth(parent, tree.height(id))?;
            }
            if tenant.parent != old.parent {
                let widened = self
                    .move_reaches(write.txn(), &actor.state.tenants, &old, tenant.parent)
                    .await?;
                self.judge(actor, &widened)?;
            }
            write.update_tenant(&tenant).await?;
            let changed = Changed::new(id, Some(describe_tenant(&old)), describe_tenant(&tenant));
            Ok((tenant, changed))
        })
        .await
    }

    /// A subtree `height` levels deep fits under `parent` without passing the depth limit.
    fn require_depth(&self, parent: TenantId, height: usize) -> Result<()> {
        let depth = self
            .cache
            .tenants()
            .get(parent)
            .map_or(0, |node| node.ancestors.len() + 1);
        if depth + height > MAX_TENANT_DEPTH {
            return Err(AdminError::FailedPrecondition(format!(
                "the tenant tree may be at most {MAX_TENANT_DEPTH} levels below a root; under `{parent}` (at depth {}) this would reach depth {}",
                depth - 1,
                depth + height
            )));
        }
        Ok(())
    }

    /// What moving a tenant lets newly reach anyone: the allows at MSP scopes of its new
    /// ancestors, and the lifted denies at MSP scopes of ancestors it leaves, each over the
    /// tenant's whole subtree.
    async fn move_reaches<C: ConnectionTrait>(
        &self,
        db: &C,
        tree: &TenantIndex,
        tenant: &Tenant,
        new_parent: Option<TenantId>,
    ) -> Result<Vec<Reach>> {
        let chain = |parent: Option<TenantId>| -> Vec<TenantId> {
            parent
                .into_iter()
                .chain(
                    parent
                        .and_then(|p| tree.get(p))
                        .into_iter()
                        .flat_map(|n| n.ancestors.iter().copied()),
                )
                .collect()
        };
        let before = chain(tenant.parent);
        let after = chain(new_parent);
        let msp_scopes = |from: &[TenantId], without: &[TenantId]| -> Vec<Scope> {
            from.iter()
                .filter(|t| !without.contains(t))
                .map(|t| Scope::Msp(*t))
                .collect()
        };
        let subtree = Scope::Msp(tenant.id);
        let mut widened = Vec::new();
        for (scopes, starts) in [
            (msp_scopes(&after, &before), true),
            (msp_scopes(&before, &after), false),
        ] {
            widened.extend(reaches_at(db, &scopes, starts, &subtree).await?);
        }
        Ok(widened)
    }

    /// Deletes a tenant nothing refers to any more: `tenants.manage` on it.
    pub async fn delete_tenant(&self, actor: &Actor, id: TenantId) -> Result<u64> {
        self.change(actor, Action::DeleteTenant, id, async |write, actor| {
            let tenant = existing(write.txn(), id).await?;
            self.require_on_tenant(actor, TENANTS_MANAGE, id)?;
            let usage = store::tenant_usage(write.txn(), id).await?;
            if !usage.is_empty() {
                let uses: Vec<String> = usage
                    .iter()
                    .map(|(n, what)| format!("{n} {what}"))
                    .collect();
                return Err(AdminError::FailedPrecondition(format!(
                    "tenant `{}` is still in use ({}); remove or move those first",
                    tenant.name,
                    uses.join(", ")
                )));
            }
            let requests = write.delete_tenant(id).await?;
            let after = match requests {
                0 => String::new(),
                n => format!("{n} access requests to join it removed"),
            };
            Ok(Changed::new(id, Some(describe_tenant(&tenant)), after))
        })
        .await
    }
}
