//! What the admin calls answer: each model value as its message, at the revision the write
//! that made it reached, or at revision 0 when it was only read. Handlers return the model
//! values; the routes table converts them with these.

use crate::api::pb::rbac::v1 as pb;
use crate::model::{
    AccessRequest, AccessRequestStatus, Group, Person, Preferences, Role, Tag, Tenant, User,
    catalogue,
};

/// A value as a write left it, and the revision the write reached.
pub(super) type Written<T> = (T, u64);

impl From<Written<Tenant>> for pb::Tenant {
    fn from((tenant, revision): Written<Tenant>) -> Self {
        pb::Tenant {
            id: tenant.id.to_string(),
            name: tenant.name,
            parent_tenant_id: tenant.parent.map(|p| p.to_string()).unwrap_or_default(),
            is_msp: tenant.is_msp,
            tag_ids: tenant.tags.iter().map(ToString::to_string).collect(),
            revision,
            preview: None,
        }
    }
}

impl From<Written<Tag>> for pb::Tag {
    fn from((tag, revision): Written<Tag>) -> Self {
        pb::Tag {
            id: tag.id.to_string(),
            name: tag.name,
            revision,
            preview: None,
        }
    }
}

impl From<Written<User>> for pb::User {
    fn from((user, revision): Written<User>) -> Self {
        pb::User {
            expires_at_unix: user.expires_at.unwrap_or_default(),
            origin: user.origin.as_str().to_owned(),
            id: user.id.to_string(),
            tenant_id: user.tenant_id.to_string(),
            email: user.email,
            first_name: user.first_name,
            last_name: user.last_name,
            azure_object_id: user.azure_object_id.to_string(),
            disabled: user.disabled,
            revision,
            preview: None,
        }
    }
}

impl From<Written<Group>> for pb::Group {
    fn from((group, revision): Written<Group>) -> Self {
        pb::Group {
            id: group.id.to_string(),
            name: group.name,
            description: group.description,
            owner_tenant_id: group.owner.map(|t| t.to_string()).unwrap_or_default(),
            revision,
            preview: None,
        }
    }
}

impl From<Written<Role>> for pb::Role {
    fn from((role, revision): Written<Role>) -> Self {
        pb::Role {
            id: role.id.to_string(),
            name: role.name,
            description: role.description,
            owner_tenant_id: role.owner.map(|t| t.to_string()).unwrap_or_default(),
            built_in: role.built_in,
            permissions: catalogue().keys(&role.permissions),
            revision,
            warnings: Vec::new(),
            preview: None,
        }
    }
}

/// A created or edited role, with the warnings about what its permissions reach.
impl From<(Role, u64, Vec<String>)> for pb::Role {
    fn from((role, revision, warnings): (Role, u64, Vec<String>)) -> Self {
        pb::Role {
            warnings,
            ..(role, revision).into()
        }
    }
}

impl From<Written<Person>> for pb::Person {
    fn from((person, revision): Written<Person>) -> Self {
        pb::Person {
            id: person.id.to_string(),
            tenant_id: person.tenant_id.to_string(),
            azure_object_id: person.azure_object_id.to_string(),
            email: person.email,
            first_name: person.first_name,
            last_name: person.last_name,
            user_id: person.user_id.map(|u| u.to_string()).unwrap_or_default(),
            revision,
            preview: None,
        }
    }
}

impl From<Written<AccessRequest>> for pb::AccessRequest {
    fn from((request, revision): Written<AccessRequest>) -> Self {
        let status = match request.status {
            AccessRequestStatus::Pending => pb::AccessRequestStatus::Pending,
            AccessRequestStatus::Approved => pb::AccessRequestStatus::Approved,
            AccessRequestStatus::Rejected => pb::AccessRequestStatus::Rejected,
        };
        pb::AccessRequest {
            id: request.id.to_string(),
            tenant_id: request.tenant_id.to_string(),
            azure_object_id: request.azure_object_id.to_string(),
            email: request.email,
            first_name: request.first_name,
            last_name: request.last_name,
            status: status as i32,
            requested_at_unix: request.requested_at,
            decided_by_user_id: request
                .decided_by
                .map(|u| u.to_string())
                .unwrap_or_default(),
            revision,
            preview: None,
        }
    }
}

impl From<Written<Preferences>> for pb::Preferences {
    fn from((preferences, revision): Written<Preferences>) -> Self {
        pb::Preferences {
            impersonation_enabled: preferences.impersonation_enabled,
            revision,
            preview: None,
        }
    }
}

/// The values a read answers with, each at revision 0.
macro_rules! read {
    ($($model:ident),*) => {
        $(
            impl From<$model> for pb::$model {
                fn from(value: $model) -> Self {
                    (value, 0).into()
                }
            }
        )*
    };
}

read!(
    Tenant,
    Tag,
    User,
    Group,
    Role,
    Person,
    AccessRequest,
    Preferences
);

/// The list answers that are one repeated field of read values.
macro_rules! lists {
    ($($list:ident { $field:ident: $model:ident }),*) => {
        $(
            impl From<Vec<$model>> for pb::$list {
                fn from(values: Vec<$model>) -> Self {
                    pb::$list {
                        $field: values.into_iter().map(Into::into).collect(),
                    }
                }
            }
        )*
    };
}

lists!(
    ListTenantsResponse { tenants: Tenant },
    ListTagsResponse { tags: Tag },
    ListGroupsResponse { groups: Group },
    ListGroupMembersResponse { members: User },
    ListUserGroupsResponse { groups: Group },
    ListRolesResponse { roles: Role },
    ListPersonsResponse { persons: Person },
    ListAccessRequestsResponse {
        access_requests: AccessRequest
    }
);

/// The answers that carry only the revision the write reached.
macro_rules! revisions {
    ($($answer:ident),*) => {
        $(
            impl From<u64> for pb::$answer {
                fn from(revision: u64) -> Self {
                    pb::$answer {
                        revision,
                        preview: None,
                    }
                }
            }
        )*
    };
}

revisions!(
    DeleteTenantResponse,
    DeleteTagResponse,
    AddTenantTagResponse,
    RemoveTenantTagResponse,
    UpsertResourceResponse,
    DeleteUserResponse,
    DeleteGroupResponse,
    AddGroupMemberResponse,
    RemoveGroupMemberResponse,
    DeleteRoleAssignmentResponse
);
