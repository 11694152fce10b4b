//! Errors become gRPC statuses here, and only here. Anything unexpected is logged and
//! becomes a generic status, never the debug text of its cause. Never an allow.

use std::collections::HashMap;

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::admin::AdminError;
use crate::cache::RevisionNotReached;
use crate::data_plane::CheckError;
use crate::engine::Refusal;
use crate::store::StoreError;

pub fn from_store(err: &StoreError) -> Status {
    match err {
        StoreError::Unavailable(_) => {
            tracing::warn!(error = %err, "database unavailable");
            Status::unavailable(
                "the database is unavailable and this replica has no cached answer for this user; retry",
            )
        }
        StoreError::Upstream(why) => {
            tracing::warn!(error = %err, "database tier unavailable");
            Status::unavailable(format!(
                "{why}; this sidecar has no cached answer for this user without the database tier"
            ))
        }
        StoreError::Database(_) | StoreError::Corrupt(_) | StoreError::Connect(_) => {
            tracing::error!(error = %err, "database error");
            Status::internal("internal error; the service log has the details")
        }
    }
}

pub fn from_check(err: &CheckError) -> Status {
    match err {
        CheckError::MissingTarget(_) => Status::invalid_argument(err.to_string()),
        CheckError::TenantNotFound(_) | CheckError::ResourceNotFound(_) => {
            Status::not_found(err.to_string())
        }
        CheckError::RevisionNotReached(RevisionNotReached::Timeout { .. }) => {
            Status::unavailable(err.to_string())
        }
        CheckError::RevisionNotReached(RevisionNotReached::Unwritten { .. }) => {
            Status::failed_precondition(err.to_string())
        }
        CheckError::Store(err) => from_store(err),
    }
}

pub fn from_admin(err: &AdminError) -> Status {
    let message = err.to_string();
    match err {
        AdminError::InvalidArgument(_) => Status::invalid_argument(message),
        AdminError::NotFound(_) => Status::not_found(message),
        AdminError::AlreadyExists(_) => Status::already_exists(message),
        AdminError::FailedPrecondition(_) => Status::failed_precondition(message),
        AdminError::PermissionDenied(refusal) => refused(refusal),
        AdminError::ResourceExhausted(_) => Status::resource_exhausted(message),
        AdminError::Store(err) => from_store(err),
    }
}

/// The error domain of every `google.rpc.ErrorInfo` this service sends.
pub const ERROR_DOMAIN: &str = "rbac.v1";

/// PERMISSION_DENIED with the person's message and a `google.rpc.ErrorInfo` a program
/// can read: the reason, and the permission and scope that were missing.
fn refused(refusal: &Refusal) -> Status {
    let mut metadata = HashMap::new();
    if let Some(permission) = &refusal.permission {
        metadata.insert("permission".to_owned(), permission.clone());
    }
    if let Some(scope) = &refusal.scope {
        metadata.insert("scope".to_owned(), scope.clone());
    }
    Status::with_error_details(
        Code::PermissionDenied,
        refusal.message.clone(),
        ErrorDetails::with_error_info(refusal.reason.as_str(), ERROR_DOMAIN, metadata),
    )
}

impl From<AdminError> for Status {
    fn from(err: AdminError) -> Self {
        from_admin(&err)
    }
}
