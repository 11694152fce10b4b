//! Typed identifiers, so that a tenant id can never be passed where a user id is expected.

use std::fmt;
use uuid::Uuid;

/// A value given for an id field that is not a usable UUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{field}` must be a UUID such as `3f2504e0-4f89-11d3-9a0c-0305e82c3301`, got `{value}`")]
pub struct InvalidId {
    pub field: &'static str,
    pub value: String,
}

/// Parses the value of the named field as a non-nil UUID (the GUID check).
pub fn parse_uuid(field: &'static str, value: &str) -> Result<Uuid, InvalidId> {
    match Uuid::try_parse(value.trim()) {
        Ok(uuid) if !uuid.is_nil() => Ok(uuid),
        _ => Err(InvalidId {
            field,
            value: super::shown(value),
        }),
    }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A fresh random id for a new record.
            pub fn random() -> Self {
                Self(Uuid::new_v4())
            }

            /// Parses the value of the named request field.
            pub fn parse(field: &'static str, value: &str) -> Result<Self, InvalidId> {
                parse_uuid(field, value).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }
    };
}

id_type!(
    /// A tenant: an MSP or one of its customers.
    TenantId
);
id_type!(
    /// A tag that tenants may carry.
    TagId
);
id_type!(
    /// A user, as assigned by this service (not the Azure object id).
    UserId
);
id_type!(
    /// A group of users.
    GroupId
);
id_type!(
    /// A role: a named set of permissions.
    RoleId
);
id_type!(
    /// One role assignment.
    AssignmentId
);
id_type!(
    /// A person synced from the identity provider.
    PersonId
);
id_type!(
    /// One access request.
    AccessRequestId
);
