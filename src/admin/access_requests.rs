//! Access requests: submitted by someone who cannot sign in yet, decided by an administrator.

use crate::model::permissions::{USERS_MANAGE, USERS_MANAGE_ACCESS_REQUESTS};
use crate::model::{
    AccessRequest, AccessRequestId, AccessRequestStatus, Action, TenantId, User, UserId,
    UserOrigin, unix_now,
};
use crate::store;

use super::users::{Identity, describe_user, new_user, no_user_with};
use super::{Actor, Admin, AdminError, Changed, Result, absent, existing};

/// Access requests that may wait for a decision at once: anyone may submit one.
pub const MAX_PENDING_ACCESS_REQUESTS: u64 = 10_000;

/// How long an approved access request lets its user sign in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expiry {
    OneHour,
    OneDay,
    ThreeDays,
    Never,
}

impl Expiry {
    fn expires_at(self, now: i64) -> Option<i64> {
        match self {
            Expiry::OneHour => Some(now + 3_600),
            Expiry::OneDay => Some(now + 86_400),
            Expiry::ThreeDays => Some(now + 3 * 86_400),
            Expiry::Never => None,
        }
    }
}

impl Admin {
    /// One pending request per Azure object id, and none for an existing user. With
    /// `validate_only`, checked as it would be, and nothing written.
    pub async fn submit_access_request(
        &self,
        identity: Identity,
        validate_only: bool,
    ) -> Result<(AccessRequest, u64)> {
        let candidate = new_user(&identity, UserOrigin::AccessRequest)?;
        existing(self.store.db(), identity.tenant_id).await?;
        let request = AccessRequest {
            id: AccessRequestId::random(),
            tenant_id: candidate.tenant_id,
            azure_object_id: candidate.azure_object_id,
            email: candidate.email,
            first_name: candidate.first_name,
            last_name: candidate.last_name,
            status: AccessRequestStatus::Pending,
            requested_at: unix_now(),
            decided_by: None,
        };
        let mut write = self.store.begin_write().await?;
        let object_id = request.azure_object_id;
        no_user_with(&write, object_id, "; sign in instead").await?;
        // Anyone may ask, with no actor: a bound keeps that from filling the disk.
        if store::pending_access_requests(write.txn()).await? >= MAX_PENDING_ACCESS_REQUESTS {
            return Err(AdminError::ResourceExhausted(format!(
                "{MAX_PENDING_ACCESS_REQUESTS} access requests already wait for a decision; try again once administrators have decided some"
            )));
        }
        let pending = store::pending_access_request(write.txn(), object_id).await?;
        let taken = format!("azure object id `{object_id}` already has a pending access request");
        absent(pending, taken)?;
        if validate_only {
            write.rollback().await?;
            return Ok((request, self.cache.applied_revision()));
        }
        write.save_access_request(&request).await?;
        let revision = self
            .commit_as(
                write,
                None,
                Action::SubmitAccessRequest,
                request.id.to_string(),
                None,
                format!("{} for tenant {}", request.email, request.tenant_id),
            )
            .await?;
        Ok((request, revision))
    }

    /// Access requests with a status (pending by default) of tenants where the actor holds
    /// `users.manage-access-requests`, oldest first.
    pub async fn list_access_requests(
        &self,
        actor: &Actor,
        status: AccessRequestStatus,
        tenant: Option<TenantId>,
    ) -> Result<Vec<AccessRequest>> {
        let tenants = self.tenants_where(actor, USERS_MANAGE_ACCESS_REQUESTS, tenant);
        Ok(store::access_requests(self.store.db(), tenants.as_deref(), status).await?)
    }

    /// Approves a pending request into a user with an expiry (Some), or rejects it (None):
    /// `users.manage-access-requests` and `users.manage` on its tenant.
    pub async fn decide_access_request(
        &self,
        actor: &Actor,
        id: AccessRequestId,
        approve: Option<Expiry>,
    ) -> Result<(AccessRequest, Option<User>, u64)> {
        let action = match approve {
            Some(_) => Action::ApproveAccessRequest,
            None => Action::RejectAccessRequest,
        };
        self.write(actor, action, id, async |write, actor| {
            // Read inside the write, so that two decisions cannot both see it pending.
            let mut request = existing(write.txn(), id).await?;
            self.require_on_tenant(actor, USERS_MANAGE_ACCESS_REQUESTS, request.tenant_id)?;
            self.require_on_tenant(actor, USERS_MANAGE, request.tenant_id)?;
            if request.status != AccessRequestStatus::Pending {
                return Err(AdminError::FailedPrecondition(format!(
                    "access request `{id}` is already {}",
                    request.status.as_str()
                )));
            }
            let user = approve.map(|expiry| User {
                id: UserId::random(),
                tenant_id: request.tenant_id,
                azure_object_id: request.azure_object_id,
                email: request.email.clone(),
                first_name: request.first_name.clone(),
                last_name: request.last_name.clone(),
                disabled: false,
                expires_at: expiry.expires_at(unix_now()),
                origin: UserOrigin::AccessRequest,
            });
            request.status = match approve {
                Some(_) => AccessRequestStatus::Approved,
                None => AccessRequestStatus::Rejected,
            };
            request.decided_by = Some(actor.id());
            if let Some(user) = &user {
                self.insert_user(write, user).await?;
            }
            write.save_access_request(&request).await?;
            let changed = Changed {
                target: id.to_string(),
                before: Some("pending".into()),
                after: match &user {
                    Some(user) => describe_user(user),
                    None => "rejected".to_owned(),
                },
            };
            Ok(((request, user), changed))
        })
        .await
        .map(|((request, user), revision)| (request, user, revision))
    }
}
