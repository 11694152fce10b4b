//! Where a role assignment applies, to whom, and with which effect.

use super::permissions::{self, Named};
use std::fmt;
use std::sync::Arc;

use super::{GroupId, TagId, TenantId, UserId};

/// The kinds of objects the calling application registers as resources.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceType {
    Computer,
    Script,
    Software,
    Task,
    Tag,
    Media,
}

/// A resource type name that is not one of the known ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown resource type `{0}`: expected one of computer, script, software, task, tag, media"
)]
pub struct UnknownResourceType(pub String);

impl ResourceType {
    pub const ALL: [ResourceType; 6] = [
        ResourceType::Computer,
        ResourceType::Script,
        ResourceType::Software,
        ResourceType::Task,
        ResourceType::Tag,
        ResourceType::Media,
    ];

    /// The wire name, as in `ResourceRef.type`.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceType::Computer => "computer",
            ResourceType::Script => "script",
            ResourceType::Software => "software",
            ResourceType::Task => "task",
            ResourceType::Tag => "tag",
            ResourceType::Media => "media",
        }
    }

    /// The permission needed to register or move a resource of this type.
    pub fn manage_permission(self) -> Named {
        match self {
            ResourceType::Computer => permissions::COMPUTERS_MANAGE,
            ResourceType::Script => permissions::SCRIPTS_MANAGE,
            ResourceType::Software => permissions::SOFTWARE_MANAGE,
            ResourceType::Task => permissions::TASKS_MANAGE,
            ResourceType::Tag => permissions::TAGS_MANAGE,
            ResourceType::Media => permissions::MEDIA_MANAGE,
        }
    }
}

impl std::str::FromStr for ResourceType {
    type Err = UnknownResourceType;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ResourceType::ALL
            .into_iter()
            .find(|t| t.as_str() == s)
            .ok_or_else(|| UnknownResourceType(super::shown(s)))
    }
}

/// One registered resource of the calling application.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceRef {
    pub kind: ResourceType,
    pub id: Arc<str>,
}

impl ResourceRef {
    pub fn new(kind: ResourceType, id: &str) -> Self {
        Self {
            kind,
            id: Arc::from(id),
        }
    }

    /// A resource a caller names: its id within the limit a registered id has, so that
    /// an id no registration could hold is bad input rather than an unknown resource.
    pub fn named(kind: ResourceType, id: &str) -> Result<Self, super::TextError> {
        super::required_text("resource.id", id, super::RESOURCE_ID_MAX)?;
        Ok(Self::new(kind, id))
    }
}

/// For people: the id cut short as every echoed value is (`shown`).
impl fmt::Display for ResourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.kind.as_str(), super::shown(&self.id))
    }
}

/// Where a role assignment applies (docs/model.md, "Scopes of a role assignment").
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Scope {
    /// Every tenant and every object, global ones included.
    Owner,
    /// The MSP tenant and every tenant below it.
    Msp(TenantId),
    /// One tenant.
    Tenant(TenantId),
    /// Every tenant carrying the tag at the time of the check.
    TenantTag(TagId),
    /// The tenant of the user being checked.
    UsersTenant,
    /// One registered resource.
    Resource(ResourceRef),
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Scope::Owner => f.write_str("Owner scope"),
            Scope::Msp(t) => write!(f, "MSP scope `{t}`"),
            Scope::Tenant(t) => write!(f, "tenant `{t}`"),
            Scope::TenantTag(g) => write!(f, "tenant tag `{g}`"),
            Scope::UsersTenant => f.write_str("User's Tenant scope"),
            Scope::Resource(r) => write!(f, "resource `{r}`"),
        }
    }
}

/// Whether an assignment grants or takes away. Deny always wins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Effect {
    Allow,
    Deny,
}

impl fmt::Display for Effect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Effect::Allow => "allow",
            Effect::Deny => "deny",
        })
    }
}

/// Who a role assignment is given to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Principal {
    User(UserId),
    Group(GroupId),
}
