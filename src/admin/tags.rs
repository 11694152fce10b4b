//! Tenant tags, and tagging tenants.

use crate::model::permissions::{ASSIGN_TAG_SCOPE, TAGS_MANAGE, TENANTS_MANAGE};
use crate::model::{Action, NAME_MAX, Scope, Tag, TagId, TenantId, required_text, shown};
use crate::store;

use super::reach::reaches_at;
use super::{Actor, Admin, AdminError, Changed, Result, absent, existing};

impl Admin {
    /// Every tag, by name: tag names are shown to any active actor.
    pub async fn list_tags(&self) -> Result<Vec<Tag>> {
        Ok(store::tags(self.store.db()).await?)
    }

    /// Renames a tag: `tags.manage` at Owner scope; names stay unique.
    pub async fn rename_tag(&self, actor: &Actor, id: TagId, name: &str) -> Result<(Tag, u64)> {
        let name = required_text("name", name, NAME_MAX)?;
        self.write(actor, Action::UpdateTag, id, async |write, actor| {
            let old = existing(write.txn(), id).await?;
            self.require_at(actor, TAGS_MANAGE, &Scope::Owner)?;
            if store::find_tag_by_name(write.txn(), &name)
                .await?
                .is_some_and(|other| other.id != id)
            {
                return Err(AdminError::AlreadyExists(format!(
                    "a tag named `{}` already exists",
                    shown(&name)
                )));
            }
            let tag = Tag { id, name };
            write.rename_tag(&tag).await?;
            let changed = Changed::new(id, Some(old.name), tag.name.clone());
            Ok((tag, changed))
        })
        .await
    }

    /// Deletes a tag no tenant carries and no assignment is scoped to: `tags.manage` at
    /// Owner scope.
    pub async fn delete_tag(&self, actor: &Actor, id: TagId) -> Result<u64> {
        self.change(actor, Action::DeleteTag, id, async |write, actor| {
            let tag = existing(write.txn(), id).await?;
            self.require_at(actor, TAGS_MANAGE, &Scope::Owner)?;
            let (tenants, assignments) = store::tag_usage(write.txn(), id).await?;
            if tenants + assignments > 0 {
                return Err(AdminError::FailedPrecondition(format!(
                    "tag `{}` is still in use ({tenants} tenants carry it, {assignments} role assignments are scoped to it); untag them and delete the assignments first",
                    tag.name
                )));
            }
            write.delete_tag(id).await?;
            Ok(Changed::new(id, Some(tag.name), String::new()))
        })
        .await
    }

    /// Creates a tag: `tags.manage` at Owner scope (tags are instance-wide).
    pub async fn create_tag(&self, actor: &Actor, name: &str) -> Result<(Tag, u64)> {
        let target = name.to_owned();
        let name = required_text("name", name, NAME_MAX)?;
        self.write(actor, Action::CreateTag, target, async |write, actor| {
            self.require_at(actor, TAGS_MANAGE, &Scope::Owner)?;
            let tag = Tag {
                id: TagId::random(),
                name,
            };
            let named = store::find_tag_by_name(write.txn(), &tag.name).await?;
            absent(
                named,
                format!("a tag named `{}` already exists", shown(&tag.name)),
            )?;
            write.insert_tag(&tag).await?;
            let changed = Changed::new(tag.id, None, tag.name.clone());
            Ok((tag, changed))
        })
        .await
    }

    /// Tags or untags a tenant: `tenants.manage` on the tenant, and `rbac.assign-tag-scope`
    /// over the tag, since every Tenant Tag assignment of the tag (denies included) then
    /// reaches, or stops reaching, the tenant at once.
    pub async fn set_tenant_tag(
        &self,
        actor: &Actor,
        tenant: TenantId,
        tag: TagId,
        tagged: bool,
    ) -> Result<u64> {
        let action = if tagged {
            Action::AddTenantTag
        } else {
            Action::RemoveTenantTag
        };
        self.change(
            actor,
            action,
            format!("{tenant} {tag}"),
            async |write, actor| {
                let carrier = existing(write.txn(), tenant).await?;
                existing(write.txn(), tag).await?;
                self.require_on_tenant(actor, TENANTS_MANAGE, tenant)?;
                self.require_at(actor, ASSIGN_TAG_SCOPE, &Scope::TenantTag(tag))?;
                if carrier.tags.contains(&tag) != tagged {
                    // The tag's allows start to reach the tenant, or its denies stop to.
                    let scopes = [Scope::TenantTag(tag)];
                    let widened =
                        reaches_at(write.txn(), &scopes, tagged, &Scope::Tenant(tenant)).await?;
                    self.judge(actor, &widened)?;
                }
                if tagged {
                    write.add_tenant_tag(tenant, tag).await?;
                } else {
                    write.remove_tenant_tag(tenant, tag).await?;
                }
                Ok(Changed::new(tenant, None, tag.to_string()))
            },
        )
        .await
    }
}
