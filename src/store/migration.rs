//! Schema migrations, run at start on SQLite and PostgreSQL alike.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

/// Every migration, in order.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![Box::new(Initial), Box::new(PeopleAndPreferences)]
    }
}

struct Initial;

impl MigrationName for Initial {
    fn name(&self) -> &str {
        "m20261127_000001_initial"
    }
}

fn fk(table: &str, column: &str, to: &str, to_column: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_{column}"))
        .from(Alias::new(table), Alias::new(column))
        .to(Alias::new(to), Alias::new(to_column))
        .to_owned()
}

fn index(table: &str, columns: &[&str], unique: bool) -> IndexCreateStatement {
    let mut index = Index::create();
    index
        .name(format!("ix_{table}_{}", columns.join("_")))
        .table(Alias::new(table));
    for column in columns {
        index.col(Alias::new(*column));
    }
    if unique {
        index.unique();
    }
    index.to_owned()
}

fn table(name: &str) -> TableCreateStatement {
    Table::create().table(Alias::new(name)).to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Initial {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let tables = [
            table("tenants")
                .col(uuid("id").primary_key())
                .col(string("name"))
                .col(uuid_null("parent_id"))
                .col(boolean("is_msp"))
                .foreign_key(&mut fk("tenants", "parent_id", "tenants", "id"))
                .to_owned(),
            table("tags")
                .col(uuid("id").primary_key())
                .col(string("name"))
                .to_owned(),
            table("tenant_tags")
                .col(uuid("tenant_id"))
                .col(uuid("tag_id"))
                .primary_key(Index::create().col("tenant_id").col("tag_id"))
                .foreign_key(&mut fk("tenant_tags", "tenant_id", "tenants", "id"))
                .foreign_key(&mut fk("tenant_tags", "tag_id", "tags", "id"))
                .to_owned(),
            table("users")
                .col(uuid("id").primary_key())
                .col(uuid("tenant_id"))
                .col(uuid("azure_object_id"))
                .col(string("email"))
                .col(string("first_name"))
                .col(string("last_name"))
                .col(boolean("disabled"))
                .col(big_integer_null("expires_at"))
                .col(string("origin"))
                .col(big_integer("created_at"))
                .foreign_key(&mut fk("users", "tenant_id", "tenants", "id"))
                .to_owned(),
            table("groups")
                .col(uuid("id").primary_key())
                .col(string("name"))
                .col(text("description"))
                .col(uuid_null("owner_tenant_id"))
                .foreign_key(&mut fk("groups", "owner_tenant_id", "tenants", "id"))
                .to_owned(),
            table("group_members")
                .col(uuid("group_id"))
                .col(uuid("user_id"))
                .primary_key(Index::create().col("group_id").col("user_id"))
                .foreign_key(&mut fk("group_members", "group_id", "groups", "id"))
                .foreign_key(&mut fk("group_members", "user_id", "users", "id"))
                .to_owned(),
            table("roles")
                .col(uuid("id").primary_key())
                .col(string("name"))
                .col(text("description"))
                .col(uuid_null("owner_tenant_id"))
                .col(boolean("built_in"))
                .foreign_key(&mut fk("roles", "owner_tenant_id", "tenants", "id"))
                .to_owned(),
            table("role_permissions")
                .col(uuid("role_id"))
                .col(string("permission_key"))
                .primary_key(Index::create().col("role_id").col("permission_key"))
                .foreign_key(&mut fk("role_permissions", "role_id", "roles", "id"))
                .to_owned(),
            table("role_assignments")
                .col(uuid("id").primary_key())
                .col(uuid("role_id"))
                .col(uuid_null("user_id"))
                .col(uuid_null("group_id"))
                .col(string("scope_kind"))
                .col(uuid_null("scope_tenant_id"))
                .col(uuid_null("scope_tag_id"))
                .col(string_null("scope_resource_type"))
                .col(string_null("scope_resource_id"))
                .col(string("effect"))
                .col(uuid_null("created_by"))
                .col(big_integer("created_at"))
                .foreign_key(&mut fk("role_assignments", "role_id", "roles", "id"))
                .foreign_key(&mut fk("role_assignments", "user_id", "users", "id"))
                .foreign_key(&mut fk("role_assignments", "group_id", "groups", "id"))
                .foreign_key(&mut fk(
                    "role_assignments",
                    "scope_tenant_id",
                    "tenants",
                    "id",
                ))
                .foreign_key(&mut fk("role_assignments", "scope_tag_id", "tags", "id"))
                .to_owned(),
            table("resources")
                .col(string("resource_type"))
                .col(string("resource_id"))
                .col(uuid_null("owner_tenant_id"))
                .primary_key(Index::create().col("resource_type").col("resource_id"))
                .foreign_key(&mut fk("resources", "owner_tenant_id", "tenants", "id"))
                .to_owned(),
            table("change_log")
                .col(big_pk_auto("revision"))
                .col(big_integer("at"))
                .col(text("changes"))
                .to_owned(),
            table("audit_events")
                .col(uuid("id").primary_key())
                .col(big_integer("at"))
                .col(uuid_null("actor_user_id"))
                .col(string("action"))
                .col(string("target"))
                .col(text_null("before"))
                .col(text_null("after"))
                .col(string("outcome"))
                .col(text("detail"))
                .to_owned(),
        ];
        for statement in tables {
            manager.create_table(statement).await?;
        }
        let indexes = [
            index("users", &["azure_object_id"], true),
            index("users", &["tenant_id"], false),
            index("tags", &["name"], true),
            index("group_members", &["user_id"], false),
            index("role_assignments", &["user_id"], false),
            index("role_assignments", &["group_id"], false),
            index("role_assignments", &["role_id"], false),
            index("audit_events", &["at"], false),
        ];
        for statement in indexes {
            manager.create_index(statement).await?;
        }
        Ok(())
    }
}

/// Persons, access requests, instance preferences, and the impersonator of audited calls.
struct PeopleAndPreferences;

impl MigrationName for PeopleAndPreferences {
    fn name(&self) -> &str {
        "m20261127_000002_people_and_preferences"
    }
}

#[async_trait::async_trait]
impl MigrationTrait for PeopleAndPreferences {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let tables = [
            table("persons")
                .col(uuid("id").primary_key())
                .col(uuid("tenant_id"))
                .col(uuid("azure_object_id"))
                .col(string("email"))
                .col(string("first_name"))
                .col(string("last_name"))
                .col(uuid_null("user_id"))
                .foreign_key(&mut fk("persons", "tenant_id", "tenants", "id"))
                .to_owned(),
            table("access_requests")
                .col(uuid("id").primary_key())
                .col(uuid("tenant_id"))
                .col(uuid("azure_object_id"))
                .col(string("email"))
                .col(string("first_name"))
                .col(string("last_name"))
                .col(string("status"))
                .col(big_integer("requested_at"))
                .col(uuid_null("decided_by"))
                .foreign_key(&mut fk("access_requests", "tenant_id", "tenants", "id"))
                .to_owned(),
            table("preferences")
                .col(string("name").primary_key())
                .col(text("value"))
                .to_owned(),
        ];
        for statement in tables {
            manager.create_table(statement).await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Alias::new("audit_events"))
                    .add_column(uuid_null("impersonator_user_id"))
                    .to_owned(),
            )
            .await?;
        let indexes = [
            index("persons", &["azure_object_id"], true),
            index("persons", &["tenant_id"], false),
            index("access_requests", &["azure_object_id"], false),
            index("access_requests", &["status"], false),
            index("role_assignments", &["scope_tenant_id"], false),
            index("role_assignments", &["scope_tag_id"], false),
        ];
        for statement in indexes {
            manager.create_index(statement).await?;
        }
        Ok(())
    }
}
