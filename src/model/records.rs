//! The stored records of the model, as plain values.

use uuid::Uuid;

use super::{
    AccessRequestId, AssignmentId, Effect, GroupId, PermissionSet, PersonId, Principal, RoleId,
    Scope, TagId, TenantId, UserId,
};

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    /// The MSP (or parent tenant) it belongs to.
    pub parent: Option<TenantId>,
    pub is_msp: bool,
    pub tags: Vec<TagId>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tag {
    pub id: TagId,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub tenant_id: TenantId,
    pub azure_object_id: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub disabled: bool,
    /// Unix seconds after which the user is inactive.
    pub expires_at: Option<i64>,
    pub origin: UserOrigin,
}

/// How a user came to be.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum UserOrigin {
    #[default]
    Manual,
    /// Promoted from a person synced from the identity provider.
    Person,
    AccessRequest,
    LegacyImport,
}

/// A name that is not one of the known values of a stored enum.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {what} `{value}`")]
pub struct UnknownName {
    pub what: &'static str,
    pub value: String,
}

/// Enums stored and shown by name.
macro_rules! named_enum {
    ($type:ident, $what:literal, { $($variant:ident => $name:literal),* $(,)? }) => {
        impl $type {
            pub fn as_str(self) -> &'static str {
                match self {
                    $($type::$variant => $name,)*
                }
            }
        }

        impl std::str::FromStr for $type {
            type Err = UnknownName;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s {
                    $($name => Ok($type::$variant),)*
                    _ => Err(UnknownName { what: $what, value: s.to_owned() }),
                }
            }
        }
    };
}

named_enum!(UserOrigin, "user origin", {
    Manual => "manual",
    Person => "person",
    AccessRequest => "access_request",
    LegacyImport => "legacy_import",
});

/// Someone the identity provider knows, who may be promoted to a user.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Person {
    pub id: PersonId,
    pub tenant_id: TenantId,
    pub azure_object_id: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    /// Set once promoted.
    pub user_id: Option<UserId>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessRequestStatus {
    Pending,
    Approved,
    Rejected,
}

named_enum!(AccessRequestStatus, "access request status", {
    Pending => "pending",
    Approved => "approved",
    Rejected => "rejected",
});

/// Someone who cannot sign in yet, asking to become a user of a tenant.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessRequest {
    pub id: AccessRequestId,
    pub tenant_id: TenantId,
    pub azure_object_id: Uuid,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub status: AccessRequestStatus,
    pub requested_at: i64,
    pub decided_by: Option<UserId>,
}

/// Instance-wide settings.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Preferences {
    pub impersonation_enabled: bool,
}

/// As the audit log shows them.
impl std::fmt::Display for Preferences {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "impersonation_enabled={}", self.impersonation_enabled)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Role {
    pub id: RoleId,
    pub name: String,
    pub description: String,
    /// None: a public role.
    pub owner: Option<TenantId>,
    pub built_in: bool,
    pub permissions: PermissionSet,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Group {
    pub id: GroupId,
    pub name: String,
    pub description: String,
    /// If set, only users of this tenant may be members.
    pub owner: Option<TenantId>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleAssignment {
    pub id: AssignmentId,
    pub role_id: RoleId,
    pub principal: Principal,
    pub scope: Scope,
    pub effect: Effect,
}

/// The current time in Unix seconds (for expiry and audit timestamps).
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}
