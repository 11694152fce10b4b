//! How the pages name things: people by full name or email, tenants, tags, roles and
//! groups by name, scopes and decisions in the product's words. Only what the viewer may
//! see is named; anything else shows its id.

use std::collections::HashMap;

use crate::admin::{Actor, Admin, Result};
use crate::engine::Decision;
use crate::model::{GroupId, Principal, RoleId, Scope, TagId, Tenant, TenantId, User, UserId};

/// A person as the pages name them: "First Last", or their email.
pub fn label(user: &User) -> String {
    let name = format!("{} {}", user.first_name.trim(), user.last_name.trim());
    match name.trim() {
        "" => user.email.clone(),
        name => name.to_owned(),
    }
}

/// A decision in the product's words.
pub fn decision(decision: Decision) -> &'static str {
    match decision {
        Decision::Allowed => "Allowed",
        Decision::Denied => "Denied",
        Decision::NotGranted => "Not granted",
        Decision::UserInactive => "User inactive",
    }
}

/// The names of what the viewer may see.
#[derive(Default)]
pub struct Names {
    pub tenants: Vec<Tenant>,
    tags: HashMap<TagId, String>,
    roles: HashMap<RoleId, String>,
    groups: HashMap<GroupId, String>,
    users: HashMap<UserId, String>,
}

impl Names {
    /// Tenants, tags, roles and groups the actor may see.
    pub async fn load(admin: &Admin, actor: &Actor) -> Result<Names> {
        let tenants = admin.list_tenants(actor, None).await?;
        let tags = admin.list_tags().await?;
        let roles = admin.list_roles(actor).await?;
        let groups = admin.list_groups(actor, None).await?;
        Ok(Names {
            tenants,
            tags: tags.into_iter().map(|t| (t.id, t.name)).collect(),
            roles: roles.into_iter().map(|r| (r.id, r.name)).collect(),
            groups: groups.into_iter().map(|g| (g.id, g.name)).collect(),
            users: HashMap::new(),
        })
    }

    /// Names these users too.
    pub fn with_users<'a>(mut self, users: impl IntoIterator<Item = &'a User>) -> Names {
        self.users
            .extend(users.into_iter().map(|u| (u.id, label(u))));
        self
    }

    pub fn tenant(&self, id: TenantId) -> String {
        self.tenants
            .iter()
            .find(|t| t.id == id)
            .map_or_else(|| id.to_string(), |t| t.name.clone())
    }

    pub fn tag(&self, id: TagId) -> String {
        self.tags
            .get(&id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }

    pub fn role(&self, id: RoleId) -> String {
        self.roles
            .get(&id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }

    pub fn user(&self, id: UserId) -> String {
        self.users
            .get(&id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }

    pub fn principal(&self, principal: Principal) -> String {
        match principal {
            Principal::User(id) => self.user(id),
            Principal::Group(id) => format!(
                "group {}",
                self.groups
                    .get(&id)
                    .cloned()
                    .unwrap_or_else(|| id.to_string())
            ),
        }
    }

    /// A scope in the words of the Scope Category control.
    pub fn scope(&self, scope: &Scope) -> String {
        match scope {
            Scope::Owner => "Owner".to_owned(),
            Scope::Msp(t) => format!("MSP: {}", self.tenant(*t)),
            Scope::Tenant(t) => format!("Tenant: {}", self.tenant(*t)),
            Scope::TenantTag(g) => format!("Tenant Tag: {}", self.tag(*g)),
            Scope::UsersTenant => "User's Tenant".to_owned(),
            Scope::Resource(r) => format!("Resource: {r}"),
        }
    }

    /// The tags, by name.
    pub fn tags(&self) -> Vec<(TagId, String)> {
        let mut tags: Vec<_> = self.tags.iter().map(|(id, n)| (*id, n.clone())).collect();
        tags.sort_by(|a, b| a.1.cmp(&b.1));
        tags
    }

    /// The roles, by name.
    pub fn roles(&self) -> Vec<(RoleId, String)> {
        let mut roles: Vec<_> = self.roles.iter().map(|(id, n)| (*id, n.clone())).collect();
        roles.sort_by(|a, b| a.1.cmp(&b.1));
        roles
    }
}
