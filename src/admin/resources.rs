//! Resources: registered under an owner tenant, or global.

use sea_orm::ConnectionTrait;

use crate::engine::{Reach, Target, TenantIndex};
use crate::model::{Action, RESOURCE_ID_MAX, ResourceRef, Scope, TenantId, required_text};
use crate::store;

use super::reach::{reaches, reaches_at};
use super::{Actor, Admin, Changed, Result, existing};

impl Admin {
    /// Registers a resource or moves it: the type's manage permission on the new owner
    /// (Owner scope for a global one) and on the resource where it was.
    pub async fn upsert_resource(
        &self,
        actor: &Actor,
        resource: ResourceRef,
        owner: Option<TenantId>,
    ) -> Result<u64> {
        required_text("id", &resource.id, RESOURCE_ID_MAX)?;
        self.change(
            actor,
            Action::UpsertResource,
            resource.to_string(),
            async |write, actor| {
                if let Some(tenant) = owner {
                    existing(write.txn(), tenant).await?;
                }
                let key = resource.kind.manage_permission();
                self.require_on_owner(actor, key, owner)?;
                let registered = actor.state.resources.owner(&resource);
                if let Some(previous) = registered {
                    let target = Target::Resource {
                        resource: resource.clone(),
                        owner: previous,
                    };
                    self.require_on(actor, key.id(), &target, &format!("resource `{resource}`"))?;
                    if previous != owner {
                        let widened = self
                            .owner_move_reaches(
                                write.txn(),
                                &actor.state.tenants,
                                &resource,
                                previous,
                                owner,
                            )
                            .await?;
                        self.judge(actor, &widened)?;
                    }
                }
                write.upsert_resource(&resource, owner).await?;
                Ok(Changed::new(
                    resource,
                    None,
                    owner.map_or("global".to_owned(), |t| t.to_string()),
                ))
            },
        )
        .await
    }

    /// What moving a resource from one owner to another lets newly reach anyone: the
    /// allows that cover the new owner and not the old, and the lifted denies that covered
    /// the old owner and not the new, each over the resource alone.
    async fn owner_move_reaches<C: ConnectionTrait>(
        &self,
        db: &C,
        tree: &TenantIndex,
        resource: &ResourceRef,
        from: Option<TenantId>,
        to: Option<TenantId>,
    ) -> Result<Vec<Reach>> {
        // The scopes that cover a tenant (Owner covers every resource, global ones too).
        let covering = |owner: Option<TenantId>| -> Vec<Scope> {
            let Some(node) = owner.and_then(|t| tree.get(t)) else {
                return Vec::new();
            };
            let mut scopes = vec![Scope::Tenant(node.id), Scope::Msp(node.id)];
            scopes.extend(node.ancestors.iter().map(|a| Scope::Msp(*a)));
            scopes.extend(node.tags.iter().map(|g| Scope::TenantTag(*g)));
            scopes
        };
        let (old, new) = (covering(from), covering(to));
        let only = |these: &[Scope], not: &[Scope]| -> Vec<Scope> {
            these.iter().filter(|s| !not.contains(s)).cloned().collect()
        };
        let over = Scope::Resource(resource.clone());
        let mut widened = Vec::new();
        for (scopes, starts) in [(only(&new, &old), true), (only(&old, &new), false)] {
            widened.extend(reaches_at(db, &scopes, starts, &over).await?);
        }
        // User's Tenant covers the resource for the users of its owner.
        for assignment in store::assignments_at(db, &[Scope::UsersTenant]).await? {
            let Some(role) = store::find(db, assignment.role_id).await? else {
                continue;
            };
            for (starts, tenant) in [(true, to), (false, from)] {
                let reached =
                    reaches(db, &assignment, role.permissions, starts, Some(&over)).await?;
                widened.extend(
                    reached
                        .into_iter()
                        .filter(|r| Some(r.user.tenant_id) == tenant),
                );
            }
        }
        Ok(widened)
    }
}
