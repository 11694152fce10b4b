//! Errors become gRPC statuses here, and only here. Anything unexpected is logged and
//! becomes a generic status, never the debug text of its cause. Never an allow.

use tonic::Status;

use crate::admin::AdminError;
use crate::check::CheckError;
use crate::store::StoreError;

pub fn from_store(err: &StoreError) -> Status {
    match err {
        StoreError::Unavailable(_) => {
            tracing::warn!(error = %err, "database unavailable");
            Status::unavailable(
                "the database is unavailable and this replica has no cached answer for this user; retry",
            )
        }
        StoreError::Database(_) | StoreError::Corrupt(_) => {
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
        CheckError::RevisionNotReached(_) => Status::unavailable(err.to_string()),
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
        AdminError::PermissionDenied(_) => Status::permission_denied(message),
        AdminError::Store(err) => from_store(err),
    }
}

impl From<AdminError> for Status {
    fn from(err: AdminError) -> Self {
        from_admin(&err)
    }
}
