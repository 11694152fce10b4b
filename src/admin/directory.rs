//! Tenants, tags and resources, and the bootstrap administrator.

use uuid::Uuid;

use sea_orm::ConnectionTrait;

use crate::engine::{MAX_TENANT_DEPTH, Reach, Target};
use crate::model::permissions::{ASSIGN_TAG_SCOPE, TAGS_MANAGE, TENANTS_MANAGE, TENANTS_VIEW};
use crate::model::{
    Action, NAME_MAX, Outcome, RESOURCE_ID_MAX, ResourceRef, Scope, Tag, TagId, Tenant, TenantId,
    User, UserId, UserOrigin, catalogue, required_text,
};
use crate::store;

use super::rules::{reaches, reaches_at};
use super::{Actor, Admin, AdminError};

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
    pub(super) async fn existing_tenant<C: ConnectionTrait>(
        &self,
        db: &C,
        id: TenantId,
    ) -> Result<Tenant, AdminError> {
        store::find_tenant(db, id)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("tenant `{id}` does not exist")))
    }

    pub(super) async fn existing_tag<C: ConnectionTrait>(
        &self,
        db: &C,
        id: TagId,
    ) -> Result<Tag, AdminError> {
        store::find_tag(db, id)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("tag `{id}` does not exist")))
    }

    /// Creates a tenant: `tenants.manage` on the parent, or at Owner scope for a root.
    pub async fn create_tenant(
        &self,
        actor: &Actor,
        new: NewTenant,
    ) -> Result<(Tenant, u64), AdminError> {
        self.audited(actor, Action::CreateTenant, new.name.clone(), async {
            let name = required_text("name", &new.name, NAME_MAX)?;
            let (mut write, actor) = self.begin(actor).await?;
            let actor = &actor;
            if let Some(parent) = new.parent {
                self.existing_tenant(write.txn(), parent).await?;
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
            let revision = self
                .commit(
                    write,
                    actor,
                    Action::CreateTenant,
                    tenant.id.to_string(),
                    None,
                    tenant.name.clone(),
                )
                .await?;
            Ok((tenant, revision))
        })
        .await
    }

    /// A tenant: `tenants.view` on it.
    pub async fn get_tenant(&self, actor: &Actor, id: TenantId) -> Result<Tenant, AdminError> {
        self.audited(actor, Action::GetTenant, id.to_string(), async {
            let tenant = self.existing_tenant(self.store.db(), id).await?;
            self.require_on_tenant(actor, TENANTS_VIEW, id)?;
            Ok(tenant)
        })
        .await
    }

    /// The tenants where the actor holds `tenants.view`, by name; optionally only the
    /// children of one tenant.
    pub async fn list_tenants(
        &self,
        actor: &Actor,
        parent: Option<TenantId>,
    ) -> Result<Vec<Tenant>, AdminError> {
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
    ) -> Result<(Tenant, u64), AdminError> {
        let id = update.tenant_id;
        self.audited(actor, Action::UpdateTenant, id.to_string(), async {
            let name = update
                .name
                .as_deref()
                .map(|n| required_text("name", n, NAME_MAX))
                .transpose()?;
            let (mut write, actor) = self.begin(actor).await?;
            let actor = &actor;
            let old = self.existing_tenant(write.txn(), id).await?;
            self.require_on_tenant(actor, TENANTS_MANAGE, id)?;
            if let Some(parent) = update.parent {
                if let Some(parent) = parent {
                    self.existing_tenant(write.txn(), parent).await?;
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
                let tree = self.cache.tenants();
                if parent == id || tree.is_within(parent, id) {
                    return Err(AdminError::FailedPrecondition(format!(
                        "tenant `{id}` cannot move under `{parent}`, which is itself or below it: the tree would loop"
                    )));
                }
                self.require_depth(parent, tree.height(id))?;
            }
            if tenant.parent != old.parent {
                let widened = self.move_reaches(write.txn(), &old, tenant.parent).await?;
                self.judge(actor, &widened)?;
            }
            write.update_tenant(&tenant).await?;
            let revision = self
                .commit(
                    write,
                    actor,
                    Action::UpdateTenant,
                    id.to_string(),
                    Some(describe_tenant(&old)),
                    describe_tenant(&tenant),
                )
                .await?;
            Ok((tenant, revision))
        })
        .await
    }

    /// A subtree `height` levels deep fits under `parent` without passing the depth limit.
    fn require_depth(&self, parent: TenantId, height: usize) -> Result<(), AdminError> {
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
        tenant: &Tenant,
        new_parent: Option<TenantId>,
    ) -> Result<Vec<Reach>, AdminError> {
        let tree = self.cache.tenants();
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
    pub async fn delete_tenant(&self, actor: &Actor, id: TenantId) -> Result<u64, AdminError> {
        self.audited(actor, Action::DeleteTenant, id.to_string(), async {
            let (mut write, actor) = self.begin(actor).await?;
            let actor = &actor;
            let tenant = self.existing_tenant(write.txn(), id).await?;
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
            write.delete_tenant(id).await?;
            self.commit(
                write,
                actor,
                Action::DeleteTenant,
                id.to_string(),
                Some(describe_tenant(&tenant)),
                String::new(),
            )
            .await
        })
        .await
    }

    /// Every tag, by name: tag names are shown to any active actor.
    pub async fn list_tags(&self) -> Result<Vec<Tag>, AdminError> {
        Ok(store::tags(self.store.db()).await?)
    }

    /// Renames a tag: `tags.manage` at Owner scope; names stay unique.
    pub async fn rename_tag(
        &self,
        actor: &Actor,
        id: TagId,
        name: &str,
    ) -> Result<(Tag, u64), AdminError> {
        self.audited(actor, Action::UpdateTag, id.to_string(), async {
            let name = required_text("name", name, NAME_MAX)?;
            let (mut write, actor) = self.begin(actor).await?;
            let actor = &actor;
            let old = self.existing_tag(write.txn(), id).await?;
            self.require_at(actor, TAGS_MANAGE, &Scope::Owner)?;
            if store::find_tag_by_name(write.txn(), &name)
                .await?
                .is_some_and(|other| other.id != id)
            {
                return Err(AdminError::AlreadyExists(format!(
                    "a tag named `{name}` already exists"
                )));
            }
            let tag = Tag { id, name };
            write.rename_tag(&tag).await?;
            let revision = self
                .commit(
                    write,
                    actor,
                    Action::UpdateTag,
                    id.to_string(),
                    Some(old.name),
                    tag.name.clone(),
                )
                .await?;
            Ok((tag, revision))
        })
        .await
    }

    /// Deletes a tag no tenant carries and no assignment is scoped to: `tags.manage` at
    /// Owner scope.
    pub async fn delete_tag(&self, actor: &Actor, id: TagId) -> Result<u64, AdminError> {
        self.audited(actor, Action::DeleteTag, id.to_string(), async {
            let (mut write, actor) = self.begin(actor).await?;
            let actor = &actor;
            let tag = self.existing_tag(write.txn(), id).await?;
            self.require_at(actor, TAGS_MANAGE, &Scope::Owner)?;
            let (tenants, assignments) = store::tag_usage(write.txn(), id).await?;
            if tenants + assignments > 0 {
                return Err(AdminError::FailedPrecondition(format!(
                    "tag `{}` is still in use ({tenants} tenants carry it, {assignments} role assignments are scoped to it); untag them and delete the assignments first",
                    tag.name
                )));
            }
            write.delete_tag(id).await?;
            self.commit(write, actor, Action::DeleteTag, id.to_string(), Some(tag.name), String::new())
                .await
        })
        .await
    }

    /// Creates a tag: `tags.manage` at Owner scope (tags are instance-wide).
    pub async fn create_tag(&self, actor: &Actor, name: &str) -> Result<(Tag, u64), AdminError> {
        self.audited(actor, Action::CreateTag, name.to_owned(), async {
            let name = required_text("name", name, NAME_MAX)?;
            let (mut write, actor) = self.begin(actor).await?;
            let actor = &actor;
            self.require_at(actor, TAGS_MANAGE, &Scope::Owner)?;
            let tag = Tag {
                id: TagId::random(),
                name,
            };
            if store::find_tag_by_name(write.txn(), &tag.name)
                .await?
                .is_some()
            {
                return Err(AdminError::AlreadyExists(format!(
                    "a tag named `{}` already exists",
                    tag.name
                )));
            }
            write.insert_tag(&tag).await?;
            let revision = self
                .commit(
                    write,
                    actor,
                    Action::CreateTag,
                    tag.id.to_string(),
                    None,
                    tag.name.clone(),
                )
                .await?;
            Ok((tag, revision))
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
    ) -> Result<u64, AdminError> {
        let action = if tagged {
            Action::AddTenantTag
        } else {
            Action::RemoveTenantTag
        };
        self.audited(actor, action, format!("{tenant} {tag}"), async {
            let (mut write, actor) = self.begin(actor).await?;
            let actor = &actor;
            let carrier = self.existing_tenant(write.txn(), tenant).await?;
            self.existing_tag(write.txn(), tag).await?;
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
            self.commit(
                write,
                actor,
                action,
                tenant.to_string(),
                None,
                tag.to_string(),
            )
            .await
        })
        .await
    }

    /// Registers a resource or moves it: the type's manage permission on the new owner
    /// (Owner scope for a global one) and on the resource where it was.
    pub async fn upsert_resource(
        &self,
        actor: &Actor,
        resource: ResourceRef,
        owner: Option<TenantId>,
    ) -> Result<u64, AdminError> {
        self.audited(actor, Action::UpsertResource, resource.to_string(), async {
            required_text("id", &resource.id, RESOURCE_ID_MAX)?;
            let (mut write, actor) = self.begin(actor).await?;
            let actor = &actor;
            if let Some(tenant) = owner {
                self.existing_tenant(write.txn(), tenant).await?;
            }
            let key = resource.kind.manage_permission();
            self.require_on_owner(actor, key, owner)?;
            let registered = self.cache.resources().owner(&resource);
            if let Some(previous) = registered {
                let target = Target::Resource {
                    resource: resource.clone(),
                    owner: previous,
                };
                self.require_on(actor, key.id(), &target, &format!("resource `{resource}`"))?;
                if previous != owner {
                    let widened = self
                        .owner_move_reaches(write.txn(), &resource, previous, owner)
                        .await?;
                    self.judge(actor, &widened)?;
                }
            }
            write.upsert_resource(&resource, owner).await?;
            let owner_text = owner.map_or("global".to_owned(), |t| t.to_string());
            self.commit(
                write,
                actor,
                Action::UpsertResource,
                resource.to_string(),
                None,
                owner_text,
            )
            .await
        })
        .await
    }

    /// What moving a resource from one owner to another lets newly reach anyone: the
    /// allows that cover the new owner and not the old, and the lifted denies that covered
    /// the old owner and not the new, each over the resource alone.
    async fn owner_move_reaches<C: ConnectionTrait>(
        &self,
        db: &C,
        resource: &ResourceRef,
        from: Option<TenantId>,
        to: Option<TenantId>,
    ) -> Result<Vec<Reach>, AdminError> {
        // The scopes that cover a tenant (Owner covers every resource, global ones too).
        let covering = |owner: Option<TenantId>| -> Vec<Scope> {
            let tree = self.cache.tenants();
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
            let Some(role) = store::find_role(db, assignment.role_id).await? else {
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

    /// Creates, if none has the object id yet, an MSP tenant and in it an active user
    /// holding System Administrator (Legacy) at Owner scope. Idempotent.
    pub async fn bootstrap(&self, azure_object_id: Uuid) -> Result<Option<User>, AdminError> {
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
        if store::find_user_by_object_id(write.txn(), azure_object_id)
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
