//! Writes: each method changes rows inside the open transaction and records what it
//! touched; `commit` appends the change-log row and the audit row in the same transaction.

use sea_orm::sea_query::OnConflict;
use sea_orm::{ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, NotSet, QueryFilter};
use uuid::Uuid;

use super::StoredAssignment;
use super::audit::{AuditRecord, insert_audit};
use super::change_log::Change;
use super::entity::{
    access_request, change_log, group, group_member, person, preference, resource, role,
    role_assignment, role_permission, tag, tenant, tenant_tag, user,
};
use super::queries::{effect_column, scope_columns};
use super::{StoreError, Write};
use crate::model::{
    AccessRequest, GroupId, Person, Preferences, Principal, ResourceRef, Role, RoleAssignment, Tag,
    TagId, Tenant, TenantId, User, UserId, catalogue, unix_now,
};

fn change_of(principal: Principal) -> Change {
    match principal {
        Principal::User(UserId(id)) => Change::User { id },
        Principal::Group(GroupId(id)) => Change::Group { id },
    }
}

impl Write<'_> {
    pub async fn insert_tenant(&mut self, t: &Tenant) -> Result<(), StoreError> {
        tenant::Entity::insert(tenant::ActiveModel {
            id: Set(t.id.0),
            name: Set(t.name.clone()),
            parent_id: Set(t.parent.map(|p| p.0)),
            is_msp: Set(t.is_msp),
        })
        .exec_without_returning(&self.txn)
        .await?;
        self.record(Change::Tenants { ids: vec![t.id.0] });
        Ok(())
    }

    pub async fn insert_tag(&mut self, t: &Tag) -> Result<(), StoreError> {
        tag::Entity::insert(tag::ActiveModel {
            id: Set(t.id.0),
            name: Set(t.name.clone()),
        })
        .exec_without_returning(&self.txn)
        .await?;
        Ok(())
    }

    pub async fn add_tenant_tag(&mut self, t: TenantId, g: TagId) -> Result<(), StoreError> {
        tenant_tag::Entity::insert(tenant_tag::ActiveModel {
            tenant_id: Set(t.0),
            tag_id: Set(g.0),
        })
        .on_conflict_do_nothing_on([tenant_tag::Column::TenantId, tenant_tag::Column::TagId])
        .exec_without_returning(&self.txn)
        .await?;
        self.record(Change::Tenants { ids: vec![t.0] });
        Ok(())
    }

    pub async fn remove_tenant_tag(&mut self, t: TenantId, g: TagId) -> Result<(), StoreError> {
        tenant_tag::Entity::delete_by_id((t.0, g.0))
            .exec(&self.txn)
            .await?;
        self.record(Change::Tenants { ids: vec![t.0] });
        Ok(())
    }

    pub async fn insert_user(&mut self, u: &User) -> Result<(), StoreError> {
        self.insert_users(std::slice::from_ref(u)).await
    }

    /// Inserts users, many to a statement.
    pub async fn insert_users(&mut self, users: &[User]) -> Result<(), StoreError> {
        let now = unix_now();
        for chunk in users.chunks(1000) {
            let rows = chunk.iter().map(|u| user::ActiveModel {
                id: Set(u.id.0),
                tenant_id: Set(u.tenant_id.0),
                azure_object_id: Set(u.azure_object_id),
                email: Set(u.email.clone()),
                first_name: Set(u.first_name.clone()),
                last_name: Set(u.last_name.clone()),
                disabled: Set(u.disabled),
                expires_at: Set(u.expires_at),
                origin: Set(u.origin.as_str().to_owned()),
                created_at: Set(now),
            });
            user::Entity::insert_many(rows)
                .exec_without_returning(&self.txn)
                .await?;
            for u in chunk {
                self.record(Change::User { id: u.id.0 });
            }
        }
        Ok(())
    }

    pub async fn set_user_disabled(
        &mut self,
        id: UserId,
        disabled: bool,
    ) -> Result<(), StoreError> {
        user::Entity::update_many()
            .col_expr(user::Column::Disabled, disabled.into())
            .filter(user::Column::Id.eq(id.0))
            .exec(&self.txn)
            .await?;
        self.record(Change::User { id: id.0 });
        Ok(())
    }

    /// Inserts a role, or replaces its name, description and whole permission set.
    pub async fn save_role(&mut self, r: &Role) -> Result<(), StoreError> {
        let row = role::ActiveModel {
            id: Set(r.id.0),
            name: Set(r.name.clone()),
            description: Set(r.description.clone()),
            owner_tenant_id: Set(r.owner.map(|t| t.0)),
            built_in: Set(r.built_in),
        };
        role::Entity::insert(row)
            .on_conflict(
                OnConflict::column(role::Column::Id)
                    .update_columns([
                        role::Column::Name,
                        role::Column::Description,
                        role::Column::OwnerTenantId,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&self.txn)
            .await?;
        role_permission::Entity::delete_many()
            .filter(role_permission::Column::RoleId.eq(r.id.0))
            .exec(&self.txn)
            .await?;
        let rows: Vec<_> = catalogue()
            .keys(&r.permissions)
            .into_iter()
            .map(|key| role_permission::ActiveModel {
                role_id: Set(r.id.0),
                permission_key: Set(key),
            })
            .collect();
        if !rows.is_empty() {
            role_permission::Entity::insert_many(rows)
                .exec_without_returning(&self.txn)
                .await?;
        }
        self.record(Change::Role { id: r.id.0 });
        Ok(())
    }

    pub async fn insert_group(&mut self, g: &crate::model::Group) -> Result<(), StoreError> {
        group::Entity::insert(group::ActiveModel {
            id: Set(g.id.0),
            name: Set(g.name.clone()),
            description: Set(g.description.clone()),
            owner_tenant_id: Set(g.owner.map(|t| t.0)),
        })
        .exec_without_returning(&self.txn)
        .await?;
        Ok(())
    }

    pub async fn add_group_member(&mut self, g: GroupId, u: UserId) -> Result<(), StoreError> {
        group_member::Entity::insert(group_member::ActiveModel {
            group_id: Set(g.0),
            user_id: Set(u.0),
        })
        .on_conflict_do_nothing_on([group_member::Column::GroupId, group_member::Column::UserId])
        .exec_without_returning(&self.txn)
        .await?;
        self.record(Change::User { id: u.0 });
        Ok(())
    }

    pub async fn remove_group_member(&mut self, g: GroupId, u: UserId) -> Result<(), StoreError> {
        group_member::Entity::delete_by_id((g.0, u.0))
            .exec(&self.txn)
            .await?;
        self.record(Change::User { id: u.0 });
        Ok(())
    }

    pub async fn insert_assignment(&mut self, stored: &StoredAssignment) -> Result<(), StoreError> {
        self.insert_assignments(std::slice::from_ref(stored)).await
    }

    /// Inserts assignments, many to a statement (a restore inserts a million).
    pub async fn insert_assignments(
        &mut self,
        stored: &[StoredAssignment],
    ) -> Result<(), StoreError> {
        // 12 columns a row: well under SQLite's 32,766 bound parameters a statement.
        for chunk in stored.chunks(1000) {
            let rows = chunk.iter().map(|stored| {
                let a = &stored.assignment;
                let (kind, scope_tenant, scope_tag, resource_type, resource_id) =
                    scope_columns(&a.scope);
                let (user_id, group_id) = match a.principal {
                    Principal::User(u) => (Some(u.0), None),
                    Principal::Group(g) => (None, Some(g.0)),
                };
                role_assignment::ActiveModel {
                    id: Set(a.id.0),
                    role_id: Set(a.role_id.0),
                    user_id: Set(user_id),
                    group_id: Set(group_id),
                    scope_kind: Set(kind.to_owned()),
                    scope_tenant_id: Set(scope_tenant),
                    scope_tag_id: Set(scope_tag),
                    scope_resource_type: Set(resource_type),
                    scope_resource_id: Set(resource_id),
                    effect: Set(effect_column(a.effect).to_owned()),
                    created_by: Set(stored.created_by.map(|u| u.0)),
                    created_at: Set(stored.created_at),
                }
            });
            role_assignment::Entity::insert_many(rows)
                .exec_without_returning(&self.txn)
                .await?;
            for stored in chunk {
                self.record(change_of(stored.assignment.principal));
            }
        }
        Ok(())
    }

    pub async fn delete_assignment(&mut self, a: &RoleAssignment) -> Result<(), StoreError> {
        role_assignment::Entity::delete_by_id(a.id.0)
            .exec(&self.txn)
            .await?;
        self.record(change_of(a.principal));
        Ok(())
    }

    pub async fn upsert_resource(
        &mut self,
        r: &ResourceRef,
        owner: Option<TenantId>,
    ) -> Result<(), StoreError> {
        resource::Entity::insert(resource::ActiveModel {
            resource_type: Set(r.kind.as_str().to_owned()),
            resource_id: Set(r.id.to_string()),
            owner_tenant_id: Set(owner.map(|t| t.0)),
        })
        .on_conflict(
            OnConflict::columns([resource::Column::ResourceType, resource::Column::ResourceId])
                .update_column(resource::Column::OwnerTenantId)
                .to_owned(),
        )
        .exec_without_returning(&self.txn)
        .await?;
        self.record(Change::Resource {
            resource_type: r.kind.as_str().to_owned(),
            resource_id: r.id.to_string(),
        });
        Ok(())
    }

    /// Renames a tenant and sets its parent.
    pub async fn update_tenant(&mut self, t: &Tenant) -> Result<(), StoreError> {
        tenant::Entity::update_many()
            .col_expr(tenant::Column::Name, t.name.clone().into())
            .col_expr(tenant::Column::ParentId, t.parent.map(|p| p.0).into())
            .col_expr(tenant::Column::IsMsp, t.is_msp.into())
            .filter(tenant::Column::Id.eq(t.id.0))
            .exec(&self.txn)
            .await?;
        self.record(Change::Tenants { ids: vec![t.id.0] });
        Ok(())
    }

    /// Deletes a tenant and its tags; the caller has checked nothing else refers to it.
    /// Deletes a tenant with its tags and its access requests (which only ask to join
    /// it); returns how many access requests went with it.
    pub async fn delete_tenant(&mut self, id: TenantId) -> Result<u64, StoreError> {
        let requests = access_request::Entity::delete_many()
            .filter(access_request::Column::TenantId.eq(id.0))
            .exec(&self.txn)
            .await?
            .rows_affected;
        tenant_tag::Entity::delete_many()
            .filter(tenant_tag::Column::TenantId.eq(id.0))
            .exec(&self.txn)
            .await?;
        tenant::Entity::delete_by_id(id.0).exec(&self.txn).await?;
        self.record(Change::Tenants { ids: vec![id.0] });
        Ok(requests)
    }

    pub async fn rename_tag(&mut self, t: &Tag) -> Result<(), StoreError> {
        tag::Entity::update_many()
            .col_expr(tag::Column::Name, t.name.clone().into())
            .filter(tag::Column::Id.eq(t.id.0))
            .exec(&self.txn)
            .await?;
        Ok(())
    }

    /// Deletes a tag no tenant carries and no assignment is scoped to.
    pub async fn delete_tag(&mut self, id: TagId) -> Result<(), StoreError> {
        tag::Entity::delete_by_id(id.0).exec(&self.txn).await?;
        Ok(())
    }

    /// Changes a user's tenant, object id, origin, names, email, status and expiry (all
    /// but the id and creation time).
    pub async fn update_user(&mut self, u: &User) -> Result<(), StoreError> {
        user::Entity::update_many()
            .col_expr(user::Column::TenantId, u.tenant_id.0.into())
            .col_expr(user::Column::AzureObjectId, u.azure_object_id.into())
            .col_expr(user::Column::Disabled, u.disabled.into())
            .col_expr(user::Column::Origin, u.origin.as_str().into())
            .col_expr(user::Column::Email, u.email.clone().into())
            .col_expr(user::Column::FirstName, u.first_name.clone().into())
            .col_expr(user::Column::LastName, u.last_name.clone().into())
            .col_expr(user::Column::ExpiresAt, u.expires_at.into())
            .filter(user::Column::Id.eq(u.id.0))
            .exec(&self.txn)
            .await?;
        self.record(Change::User { id: u.id.0 });
        Ok(())
    }

    /// Deletes a user with their direct assignments and memberships; a person they were
    /// promoted from becomes a person again.
    pub async fn delete_user(&mut self, id: UserId) -> Result<(), StoreError> {
        role_assignment::Entity::delete_many()
            .filter(role_assignment::Column::UserId.eq(id.0))
            .exec(&self.txn)
            .await?;
        group_member::Entity::delete_many()
            .filter(group_member::Column::UserId.eq(id.0))
            .exec(&self.txn)
            .await?;
        person::Entity::update_many()
            .col_expr(person::Column::UserId, Option::<Uuid>::None.into())
            .filter(person::Column::UserId.eq(id.0))
            .exec(&self.txn)
            .await?;
        user::Entity::delete_by_id(id.0).exec(&self.txn).await?;
        self.record(Change::User { id: id.0 });
        Ok(())
    }

    /// Deletes a custom role; its assignments must already be gone.
    pub async fn delete_role(&mut self, id: crate::model::RoleId) -> Result<(), StoreError> {
        role_permission::Entity::delete_many()
            .filter(role_permission::Column::RoleId.eq(id.0))
            .exec(&self.txn)
            .await?;
        role::Entity::delete_by_id(id.0).exec(&self.txn).await?;
        self.record(Change::Role { id: id.0 });
        Ok(())
    }

    pub async fn update_group(&mut self, g: &crate::model::Group) -> Result<(), StoreError> {
        group::Entity::update_many()
            .col_expr(group::Column::Name, g.name.clone().into())
            .col_expr(group::Column::Description, g.description.clone().into())
            .col_expr(group::Column::OwnerTenantId, g.owner.map(|t| t.0).into())
            .filter(group::Column::Id.eq(g.id.0))
            .exec(&self.txn)
            .await?;
        Ok(())
    }

    /// Deletes a group with its memberships; its assignments must already be gone. Each
    /// member is a `User` change too, so that what the write changes names everyone whose
    /// access it touches (a preview reads them after the group is gone).
    pub async fn delete_group(&mut self, id: GroupId) -> Result<(), StoreError> {
        for member in super::group_members(&self.txn, id).await? {
            self.record(Change::User { id: member.id.0 });
        }
        group_member::Entity::delete_many()
            .filter(group_member::Column::GroupId.eq(id.0))
            .exec(&self.txn)
            .await?;
        group::Entity::delete_by_id(id.0).exec(&self.txn).await?;
        self.record(Change::Group { id: id.0 });
        Ok(())
    }

    /// Inserts or updates a person, keyed by id.
    pub async fn save_person(&mut self, p: &Person) -> Result<(), StoreError> {
        person::Entity::insert(person::ActiveModel {
            id: Set(p.id.0),
            tenant_id: Set(p.tenant_id.0),
            azure_object_id: Set(p.azure_object_id),
            email: Set(p.email.clone()),
            first_name: Set(p.first_name.clone()),
            last_name: Set(p.last_name.clone()),
            user_id: Set(p.user_id.map(|u| u.0)),
        })
        .on_conflict(
            OnConflict::column(person::Column::Id)
                .update_columns([
                    person::Column::TenantId,
                    person::Column::Email,
                    person::Column::FirstName,
                    person::Column::LastName,
                    person::Column::UserId,
                ])
                .to_owned(),
        )
        .exec_without_returning(&self.txn)
        .await?;
        Ok(())
    }

    /// Inserts or updates an access request, keyed by id.
    pub async fn save_access_request(&mut self, r: &AccessRequest) -> Result<(), StoreError> {
        access_request::Entity::insert(access_request::ActiveModel {
            id: Set(r.id.0),
            tenant_id: Set(r.tenant_id.0),
            azure_object_id: Set(r.azure_object_id),
            email: Set(r.email.clone()),
            first_name: Set(r.first_name.clone()),
            last_name: Set(r.last_name.clone()),
            status: Set(r.status.as_str().to_owned()),
            requested_at: Set(r.requested_at),
            decided_by: Set(r.decided_by.map(|u| u.0)),
        })
        .on_conflict(
            OnConflict::column(access_request::Column::Id)
                .update_columns([
                    access_request::Column::Status,
                    access_request::Column::DecidedBy,
                ])
                .to_owned(),
        )
        .exec_without_returning(&self.txn)
        .await?;
        Ok(())
    }

    /// Forgets a registered resource; nothing may be scoped to it any more.
    pub async fn delete_resource(&mut self, r: &ResourceRef) -> Result<(), StoreError> {
        resource::Entity::delete_many()
            .filter(resource::Column::ResourceType.eq(r.kind.as_str()))
            .filter(resource::Column::ResourceId.eq(r.id.to_string()))
            .exec(&self.txn)
            .await?;
        self.record(Change::Resource {
            resource_type: r.kind.as_str().to_owned(),
            resource_id: r.id.to_string(),
        });
        Ok(())
    }

    pub async fn delete_person(&mut self, id: crate::model::PersonId) -> Result<(), StoreError> {
        person::Entity::delete_by_id(id.0).exec(&self.txn).await?;
        Ok(())
    }

    pub async fn delete_access_request(
        &mut self,
        id: crate::model::AccessRequestId,
    ) -> Result<(), StoreError> {
        access_request::Entity::delete_by_id(id.0)
            .exec(&self.txn)
            .await?;
        Ok(())
    }

    pub async fn save_preferences(&mut self, p: &Preferences) -> Result<(), StoreError> {
        preference::Entity::insert(preference::ActiveModel {
            name: Set(super::queries::preferences::IMPERSONATION_ENABLED.to_owned()),
            value: Set(p.impersonation_enabled.to_string()),
        })
        .on_conflict(
            OnConflict::column(preference::Column::Name)
                .update_column(preference::Column::Value)
                .to_owned(),
        )
        .exec_without_returning(&self.txn)
        .await?;
        Ok(())
    }

    /// Appends the change-log row and the audit row, commits, and returns the revision.
    pub async fn commit(self, audit: AuditRecord) -> Result<u64, StoreError> {
        if self.outer.is_some() {
            // Committing a savepoint only releases it: the write would be lost.
            return Err(StoreError::Corrupt(
                "a write with an open savepoint cannot be committed".into(),
            ));
        }
        let changes = serde_json::to_string(&self.changes)
            .map_err(|e| StoreError::Corrupt(format!("change log entry: {e}")))?;
        let revision = change_log::Entity::insert(change_log::ActiveModel {
            revision: NotSet,
            at: Set(unix_now()),
            changes: Set(changes),
        })
        .exec(&self.txn)
        .await?
        .last_insert_id;
        insert_audit(&self.txn, audit).await?;
        if self.postgres {
            // Delivered at commit: wakes every replica's follower at once.
            self.txn
                .execute_raw(sea_orm::Statement::from_sql_and_values(
                    sea_orm::DbBackend::Postgres,
                    "SELECT pg_notify($1, $2)",
                    [super::CHANGE_CHANNEL.into(), revision.to_string().into()],
                ))
                .await?;
        }
        self.txn.commit().await?;
        Ok(u64::try_from(revision).unwrap_or_default())
    }
}
