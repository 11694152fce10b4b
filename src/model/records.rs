//! The stored records of the model, as plain values.

use uuid::Uuid;

use super::{
    AssignmentId, Effect, GroupId, PermissionSet, Principal, RoleId, Scope, TagId, TenantId, UserId,
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
