//! Tenants, tags, users and resources.

use uuid::Uuid;

use crate::engine::Target;
use crate::model::{
    ResourceRef, Scope, Tag, TagId, Tenant, TenantId, User, UserId, catalogue, parse_uuid,
};
use crate::store;

use super::{Actor, Admin, AdminError, required_text};

/// A tenant to create.
#[derive(Clone, Debug)]
pub struct NewTenant {
    pub name: String,
    pub parent: Option<TenantId>,
    pub is_msp: bool,
}

/// A user to create by hand.
#[derive(Clone, Debug)]
pub struct NewUser {
    pub tenant_id: TenantId,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub azure_object_id: String,
}

impl Admin {
    pub(super) async fn existing_tenant(&self, id: TenantId) -> Result<Tenant, AdminError> {
        store::find_tenant(self.store.db(), id)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("tenant `{id}` does not exist")))
    }

    pub(super) async fn existing_user(&self, id: UserId) -> Result<User, AdminError> {
        store::find_user(self.store.db(), id)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("user `{id}` does not exist")))
    }

    pub(super) async fn existing_tag(&self, id: TagId) -> Result<Tag, AdminError> {
        store::find_tag(self.store.db(), id)
            .await?
            .ok_or_else(|| AdminError::NotFound(format!("tag `{id}` does not exist")))
    }

    /// Creates a tenant: `tenants.manage` on the parent, or at Owner scope for a root.
    pub async fn create_tenant(
        &self,
        actor: &Actor,
        new: NewTenant,
    ) -> Result<(Tenant, u64), AdminError> {
        self.audited(actor, "CreateTenant", new.name.clone(), async {
            let name = required_text("name", &new.name, 200)?;
            if let Some(parent) = new.parent {
                self.existing_tenant(parent).await?;
            }
            self.require_on_owner(actor, "tenants.manage", new.parent)?;
            let tenant = Tenant {
                id: TenantId::random(),
                name,
                parent: new.parent,
                is_msp: new.is_msp,
                tags: Vec::new(),
            };
            let mut write = self.store.begin_write().await?;
            write.insert_tenant(&tenant).await?;
            let revision = self
                .commit(
                    write,
                    actor,
                    "CreateTenant",
                    tenant.id.to_string(),
                    tenant.name.clone(),
                )
                .await?;
            Ok((tenant, revision))
        })
        .await
    }

    /// Creates a tag: `tags.manage` at Owner scope (tags are instance-wide).
    pub async fn create_tag(&self, actor: &Actor, name: &str) -> Result<(Tag, u64), AdminError> {
        self.audited(actor, "CreateTag", name.to_owned(), async {
            let name = required_text("name", name, 200)?;
            self.require_at(actor, "tags.manage", &Scope::Owner)?;
            let tag = Tag {
                id: TagId::random(),
                name,
            };
            let mut write = self.store.begin_write().await?;
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
                    "CreateTag",
                    tag.id.to_string(),
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
            "AddTenantTag"
        } else {
            "RemoveTenantTag"
        };
        self.audited(actor, action, format!("{tenant} {tag}"), async {
            self.existing_tenant(tenant).await?;
            self.existing_tag(tag).await?;
            self.require_on_tenant(actor, "tenants.manage", tenant)?;
            self.require_at(actor, "rbac.assign-tag-scope", &Scope::TenantTag(tag))?;
            let mut write = self.store.begin_write().await?;
            if tagged {
                write.add_tenant_tag(tenant, tag).await?;
            } else {
                write.remove_tenant_tag(tenant, tag).await?;
            }
            self.commit(write, actor, action, tenant.to_string(), tag.to_string())
                .await
        })
        .await
    }

    /// Creates a user by hand: `users.manage` on their tenant; the Azure object id must
    /// pass the GUID check and be unique.
    pub async fn create_user(
        &self,
        actor: &Actor,
        new: NewUser,
    ) -> Result<(User, u64), AdminError> {
        self.audited(actor, "CreateUser", new.email.clone(), async {
            let azure_object_id = parse_uuid("azure_object_id", &new.azure_object_id)?;
            let email = required_text("email", &new.email, 320)?;
            if !email.contains('@') {
                return Err(AdminError::InvalidArgument(format!(
                    "`email` must be an address such as `name@example.com`, got `{email}`"
                )));
            }
            self.existing_tenant(new.tenant_id).await?;
            self.require_on_tenant(actor, "users.manage", new.tenant_id)?;
            let user = User {
                id: UserId::random(),
                tenant_id: new.tenant_id,
                azure_object_id,
                email,
                first_name: new.first_name.trim().to_owned(),
                last_name: new.last_name.trim().to_owned(),
                disabled: false,
                expires_at: None,
            };
            let mut write = self.store.begin_write().await?;
            self.insert_user(&mut write, &user).await?;
            let revision = self
                .commit(
                    write,
                    actor,
                    "CreateUser",
                    user.id.to_string(),
                    user.email.clone(),
                )
                .await?;
            Ok((user, revision))
        })
        .await
    }

    /// Inserts a user after the uniqueness check, inside the caller's write.
    pub(crate) async fn insert_user(
        &self,
        write: &mut store::Write<'_>,
        user: &User,
    ) -> Result<(), AdminError> {
        if store::find_user_by_object_id(write.txn(), user.azure_object_id)
            .await?
            .is_some()
        {
            return Err(AdminError::AlreadyExists(format!(
                "a user with azure object id `{}` already exists",
                user.azure_object_id
            )));
        }
        write.insert_user(user, "manual").await?;
        Ok(())
    }

    /// Disables or enables a user: `users.manage` on their tenant, and never a user who
    /// holds a system permission the actor lacks.
    pub async fn set_user_disabled(
        &self,
        actor: &Actor,
        user_id: UserId,
        disabled: bool,
    ) -> Result<(User, u64), AdminError> {
        self.audited(actor, "SetUserDisabled", user_id.to_string(), async {
            let mut user = self.existing_user(user_id).await?;
            self.require_on_tenant(actor, "users.manage", user.tenant_id)?;
            let target = self.cache.access(user_id).await?;
            self.require_not_more_powerful(actor, target.as_deref())?;
            let mut write = self.store.begin_write().await?;
            write.set_user_disabled(user_id, disabled).await?;
            user.disabled = disabled;
            let revision = self
                .commit(
                    write,
                    actor,
                    "SetUserDisabled",
                    user_id.to_string(),
                    format!("disabled={disabled}"),
                )
                .await?;
            Ok((user, revision))
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
        self.audited(actor, "UpsertResource", resource.to_string(), async {
            required_text("id", &resource.id, 512)?;
            if let Some(tenant) = owner {
                self.existing_tenant(tenant).await?;
            }
            let key = resource.kind.manage_permission();
            self.require_on_owner(actor, key, owner)?;
            if let Some(previous) = self.cache.resources().owner(&resource) {
                let target = Target::Resource {
                    resource: resource.clone(),
                    owner: previous,
                };
                self.require_on(actor, key, &target, &format!("resource `{resource}`"))?;
            }
            let mut write = self.store.begin_write().await?;
            write.upsert_resource(&resource, owner).await?;
            let owner_text = owner.map_or("global".to_owned(), |t| t.to_string());
            self.commit(
                write,
                actor,
                "UpsertResource",
                resource.to_string(),
                owner_text,
            )
            .await
        })
        .await
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
        write.insert_assignment(&assignment, None).await?;
        let (_, changes) = write
            .commit(store::AuditRecord {
                actor: None,
                action: "Bootstrap",
                target: user.id.to_string(),
                before: None,
                after: Some(format!(
                    "System Administrator (Legacy) at Owner scope for `{azure_object_id}`"
                )),
                outcome: "succeeded",
                detail: String::new(),
            })
            .await?;
        self.cache.apply(&changes).await?;
        self.cache.notify_written();
        Ok(Some(user))
    }
}
