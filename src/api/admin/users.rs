//! Users, persons, and access requests.

use tonic::Status;

use super::{Call, Reply, optional};
use crate::admin::{Admin, Expiry, Identity, UserQuery, UserUpdate};
use crate::api::convert::{self, invalid};
use crate::api::pb::rbac::v1 as pb;
use crate::model::{AccessRequestId, AccessRequestStatus, PersonId};

/// The identity the create, upsert and submit requests share: three messages with the same
/// fields, hence a macro.
macro_rules! identity {
    ($r:ident) => {
        Identity {
            tenant_id: convert::tenant_id("tenant_id", &$r.tenant_id)?,
            azure_object_id: $r.azure_object_id,
            email: $r.email,
            first_name: $r.first_name,
            last_name: $r.last_name,
        }
    };
}

impl Call<'_> {
    pub async fn create_user(self, r: pb::CreateUserRequest) -> Reply<pb::User> {
        let new = identity!(r);
        let (user, revision) = self.admin.create_user(&self.actor, new).await?;
        Ok(convert::user_to_pb(&user, revision))
    }

    pub async fn get_user(self, r: pb::GetUserRequest) -> Reply<pb::User> {
        let id = convert::user_id("user_id", &r.user_id)?;
        let user = self.admin.get_user(&self.actor, id).await?;
        Ok(convert::user_to_pb(&user, 0))
    }

    pub async fn list_users(self, r: pb::ListUsersRequest) -> Reply<pb::ListUsersResponse> {
        let query = UserQuery {
            tenant: optional(&r.tenant_id, |v| convert::tenant_id("tenant_id", v))?,
            text: (!r.query.is_empty()).then_some(r.query),
            disabled: r.disabled,
            origin: optional(&r.origin, |v| {
                v.parse().map_err(|e: crate::model::UnknownName| {
                    invalid(format!(
                        "{e}: expected manual, person, access_request or legacy_import"
                    ))
                })
            })?,
            after: optional(&r.page_token, |v| convert::user_id("page_token", v))?,
            page_size: u64::from(r.page_size),
        };
        let (users, next) = self.admin.list_users(&self.actor, query).await?;
        Ok(pb::ListUsersResponse {
            users: users.iter().map(|u| convert::user_to_pb(u, 0)).collect(),
            next_page_token: next.map(|u| u.to_string()).unwrap_or_default(),
        })
    }

    pub async fn update_user(self, r: pb::UpdateUserRequest) -> Reply<pb::User> {
        let update = UserUpdate {
            user_id: convert::user_id("user_id", &r.user_id)?,
            email: r.email,
            first_name: r.first_name,
            last_name: r.last_name,
            expires_at: (r.expires_at_unix != 0).then_some(r.expires_at_unix),
        };
        let (user, revision) = self.admin.update_user(&self.actor, update).await?;
        Ok(convert::user_to_pb(&user, revision))
    }

    pub async fn delete_user(self, r: pb::DeleteUserRequest) -> Reply<u64> {
        let id = convert::user_id("user_id", &r.user_id)?;
        Ok(self.admin.delete_user(&self.actor, id).await?)
    }

    pub async fn set_user_disabled(self, r: pb::SetUserDisabledRequest) -> Reply<pb::User> {
        let (user, revision) = self
            .admin
            .set_user_disabled(
                &self.actor,
                convert::user_id("user_id", &r.user_id)?,
                r.disabled,
            )
            .await?;
        Ok(convert::user_to_pb(&user, revision))
    }

    pub async fn upsert_person(self, r: pb::UpsertPersonRequest) -> Reply<pb::Person> {
        let identity = identity!(r);
        let (person, revision) = self.admin.upsert_person(&self.actor, identity).await?;
        Ok(person_to_pb(&person, revision))
    }

    pub async fn list_persons(self, r: pb::ListPersonsRequest) -> Reply<pb::ListPersonsResponse> {
        let tenant = optional(&r.tenant_id, |v| convert::tenant_id("tenant_id", v))?;
        let persons = self.admin.list_persons(&self.actor, tenant).await?;
        Ok(pb::ListPersonsResponse {
            persons: persons.iter().map(|p| person_to_pb(p, 0)).collect(),
        })
    }

    pub async fn promote_person(self, r: pb::PromotePersonRequest) -> Reply<pb::User> {
        let id = PersonId::parse("person_id", &r.person_id).map_err(|e| invalid(e.to_string()))?;
        let (user, revision) = self.admin.promote_person(&self.actor, id).await?;
        Ok(convert::user_to_pb(&user, revision))
    }

    pub async fn list_access_requests(
        self,
        r: pb::ListAccessRequestsRequest,
    ) -> Reply<pb::ListAccessRequestsResponse> {
        let status = match pb::AccessRequestStatus::try_from(r.status) {
            Ok(pb::AccessRequestStatus::Unspecified | pb::AccessRequestStatus::Pending) => {
                AccessRequestStatus::Pending
            }
            Ok(pb::AccessRequestStatus::Approved) => AccessRequestStatus::Approved,
            Ok(pb::AccessRequestStatus::Rejected) => AccessRequestStatus::Rejected,
            Err(_) => return Err(invalid("`status` is not an AccessRequestStatus")),
        };
        let tenant = optional(&r.tenant_id, |v| convert::tenant_id("tenant_id", v))?;
        let requests = self
            .admin
            .list_access_requests(&self.actor, status, tenant)
            .await?;
        Ok(pb::ListAccessRequestsResponse {
            access_requests: requests
                .iter()
                .map(|r| access_request_to_pb(r, 0))
                .collect(),
        })
    }

    pub async fn approve_access_request(
        self,
        r: pb::ApproveAccessRequestRequest,
    ) -> Reply<pb::ApproveAccessRequestResponse> {
        let id = AccessRequestId::parse("access_request_id", &r.access_request_id)
            .map_err(|e| invalid(e.to_string()))?;
        let expiry = match pb::AccessExpiry::try_from(r.expiry) {
            Ok(pb::AccessExpiry::OneHour) => Expiry::OneHour,
            Ok(pb::AccessExpiry::OneDay) => Expiry::OneDay,
            Ok(pb::AccessExpiry::ThreeDays) => Expiry::ThreeDays,
            Ok(pb::AccessExpiry::Never) => Expiry::Never,
            _ => {
                return Err(invalid(
                    "`expiry` must be ACCESS_EXPIRY_ONE_HOUR, ACCESS_EXPIRY_ONE_DAY, ACCESS_EXPIRY_THREE_DAYS or ACCESS_EXPIRY_NEVER",
                ));
            }
        };
        let (access_request, user, revision) = self
            .admin
            .decide_access_request(&self.actor, id, Some(expiry))
            .await?;
        Ok(pb::ApproveAccessRequestResponse {
            access_request: Some(access_request_to_pb(&access_request, revision)),
            user: user.map(|u| convert::user_to_pb(&u, revision)),
            revision,
        })
    }

    pub async fn reject_access_request(
        self,
        r: pb::RejectAccessRequestRequest,
    ) -> Reply<pb::AccessRequest> {
        let id = AccessRequestId::parse("access_request_id", &r.access_request_id)
            .map_err(|e| invalid(e.to_string()))?;
        let (access_request, _, revision) = self
            .admin
            .decide_access_request(&self.actor, id, None)
            .await?;
        Ok(access_request_to_pb(&access_request, revision))
    }
}

/// SubmitAccessRequest has no actor: whoever asks cannot sign in yet.
pub(super) async fn submit_access_request(
    admin: &Admin,
    r: pb::SubmitAccessRequestRequest,
) -> Result<pb::AccessRequest, Status> {
    let identity = identity!(r);
    let (access_request, revision) = admin.submit_access_request(identity).await?;
    Ok(access_request_to_pb(&access_request, revision))
}

fn person_to_pb(person: &crate::model::Person, revision: u64) -> pb::Person {
    pb::Person {
        id: person.id.to_string(),
        tenant_id: person.tenant_id.to_string(),
        azure_object_id: person.azure_object_id.to_string(),
        email: person.email.clone(),
        first_name: person.first_name.clone(),
        last_name: person.last_name.clone(),
        user_id: person.user_id.map(|u| u.to_string()).unwrap_or_default(),
        revision,
    }
}

fn access_request_to_pb(request: &crate::model::AccessRequest, revision: u64) -> pb::AccessRequest {
    let status = match request.status {
        AccessRequestStatus::Pending => pb::AccessRequestStatus::Pending,
        AccessRequestStatus::Approved => pb::AccessRequestStatus::Approved,
        AccessRequestStatus::Rejected => pb::AccessRequestStatus::Rejected,
    };
    pb::AccessRequest {
        id: request.id.to_string(),
        tenant_id: request.tenant_id.to_string(),
        azure_object_id: request.azure_object_id.to_string(),
        email: request.email.clone(),
        first_name: request.first_name.clone(),
        last_name: request.last_name.clone(),
        status: status as i32,
        requested_at_unix: request.requested_at,
        decided_by_user_id: request
            .decided_by
            .map(|u| u.to_string())
            .unwrap_or_default(),
        revision,
    }
}
