//! The pure domain: identifiers, scopes, the permission catalogue and the records of the
//! RBAC model. No I/O.

mod audit;
mod catalogue;
mod ids;
mod permission_set;
pub mod permissions;
mod records;
mod scope;
mod text;

pub use audit::{Action, Outcome};
pub use catalogue::{BuiltInRole, Catalogue, Category, Permission, catalogue};
pub use ids::{
    AccessRequestId, AssignmentId, GroupId, InvalidId, PersonId, RoleId, TagId, TenantId, UserId,
    parse_uuid,
};
pub use permission_set::{PermissionId, PermissionSet};
pub use records::{
    AccessRequest, AccessRequestStatus, Group, Person, Preferences, Role, RoleAssignment, Tag,
    Tenant, UnknownName, User, UserOrigin, unix_now,
};
pub use scope::{Effect, Principal, ResourceRef, ResourceType, Scope, UnknownResourceType};
pub use text::{
    DESCRIPTION_MAX, EMAIL_MAX, NAME_MAX, PERSON_NAME_MAX, QUERY_MAX, RESOURCE_ID_MAX, TextError,
    optional_text, required_text, shown,
};
