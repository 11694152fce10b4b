//! sea-orm entities: one module per table, plain columns, no relations (queries join by id).

macro_rules! entity {
    ($module:ident, $table:literal, { $($(#[$attr:meta])* $field:ident : $ty:ty),* $(,)? }) => {
        pub mod $module {
            use sea_orm::entity::prelude::*;

            #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
            #[sea_orm(table_name = $table)]
            pub struct Model {
                $($(#[$attr])* pub $field: $ty,)*
            }

            #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
            pub enum Relation {}

            impl ActiveModelBehavior for ActiveModel {}
        }
    };
}

entity!(tenant, "tenants", {
    #[sea_orm(primary_key, auto_increment = false)]
    id: Uuid,
    name: String,
    parent_id: Option<Uuid>,
    is_msp: bool,
});

entity!(tag, "tags", {
    #[sea_orm(primary_key, auto_increment = false)]
    id: Uuid,
    name: String,
});

entity!(tenant_tag, "tenant_tags", {
    #[sea_orm(primary_key, auto_increment = false)]
    tenant_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    tag_id: Uuid,
});

entity!(user, "users", {
    #[sea_orm(primary_key, auto_increment = false)]
    id: Uuid,
    tenant_id: Uuid,
    azure_object_id: Uuid,
    email: String,
    first_name: String,
    last_name: String,
    disabled: bool,
    expires_at: Option<i64>,
    origin: String,
    created_at: i64,
});

entity!(group, "groups", {
    #[sea_orm(primary_key, auto_increment = false)]
    id: Uuid,
    name: String,
    description: String,
    owner_tenant_id: Option<Uuid>,
});

entity!(group_member, "group_members", {
    #[sea_orm(primary_key, auto_increment = false)]
    group_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    user_id: Uuid,
});

entity!(role, "roles", {
    #[sea_orm(primary_key, auto_increment = false)]
    id: Uuid,
    name: String,
    description: String,
    owner_tenant_id: Option<Uuid>,
    built_in: bool,
});

entity!(role_permission, "role_permissions", {
    #[sea_orm(primary_key, auto_increment = false)]
    role_id: Uuid,
    #[sea_orm(primary_key, auto_increment = false)]
    permission_key: String,
});

entity!(role_assignment, "role_assignments", {
    #[sea_orm(primary_key, auto_increment = false)]
    id: Uuid,
    role_id: Uuid,
    user_id: Option<Uuid>,
    group_id: Option<Uuid>,
    scope_kind: String,
    scope_tenant_id: Option<Uuid>,
    scope_tag_id: Option<Uuid>,
    scope_resource_type: Option<String>,
    scope_resource_id: Option<String>,
    effect: String,
    created_by: Option<Uuid>,
    created_at: i64,
});

entity!(resource, "resources", {
    #[sea_orm(primary_key, auto_increment = false)]
    resource_type: String,
    #[sea_orm(primary_key, auto_increment = false)]
    resource_id: String,
    owner_tenant_id: Option<Uuid>,
});

entity!(change_log, "change_log", {
    #[sea_orm(primary_key)]
    revision: i64,
    at: i64,
    changes: String,
});

entity!(audit_event, "audit_events", {
    #[sea_orm(primary_key, auto_increment = false)]
    id: Uuid,
    at: i64,
    actor_user_id: Option<Uuid>,
    action: String,
    target: String,
    before: Option<String>,
    after: Option<String>,
    outcome: String,
    detail: String,
    impersonator_user_id: Option<Uuid>,
});

entity!(person, "persons", {
    #[sea_orm(primary_key, auto_increment = false)]
    id: Uuid,
    tenant_id: Uuid,
    azure_object_id: Uuid,
    email: String,
    first_name: String,
    last_name: String,
    user_id: Option<Uuid>,
});

entity!(access_request, "access_requests", {
    #[sea_orm(primary_key, auto_increment = false)]
    id: Uuid,
    tenant_id: Uuid,
    azure_object_id: Uuid,
    email: String,
    first_name: String,
    last_name: String,
    status: String,
    requested_at: i64,
    decided_by: Option<Uuid>,
});

entity!(preference, "preferences", {
    #[sea_orm(primary_key, auto_increment = false)]
    name: String,
    value: String,
});
