//! Users, persons, and access requests.

use tonic::Status;

use super::answers::Written;
use super::{Call, Reply, named, optional};
use crate::admin::{Admin, Expiry, Identity, UserUpdate};
use crate::api::convert::{self, invalid};
use crate::api::pb::rbac::v1 as pb;
use crate::identity::VerifiedActor;
use crate::model::{AccessRequest, AccessRequestId, AccessRequestStatus, Person, PersonId, User};
use crate::store::UserFilter;

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
    pub async fn create_user(self, r: pb::CreateUserRequest) -> Reply<Written<User>> {
        Ok(self.admin.create_user(&self.actor, identity!(r)).await?)
    }

    pub async fn get_user(self, r: pb::GetUserRequest) -> Reply<User> {
        let id = convert::user_id("user_id", &r.user_id)?;
        Ok(self.admin.get_user(&self.actor, id).await?)
    }

    pub async fn list_users(self, r: pb::ListUsersRequest) -> Reply<pb::ListUsersResponse> {
        let tenant = optional(&r.tenant_id, |v| convert::tenant_id("tenant_id", v))?;
        let filter = UserFilter {
            query: (!r.query.is_empty()).then_some(r.query),
            disabled: r.disabled,
            origin: named(
                "origin",
                &r.origin,
                "`manual`, `person`, `access_request` or `legacy_import`",
            )?,
            after: optional(&r.page_token, |v| convert::user_id("page_token", v))?,
            limit: u64::from(r.page_size),
            ..UserFilter::default()
        };
        let (users, next) = self.admin.list_users(&self.actor, tenant, filter).await?;
        Ok(pb::ListUsersResponse {
            users: users.into_iter().map(Into::into).collect(),
            next_page_token: next.map(|u| u.to_string()).unwrap_or_default(),
        })
    }

    pub async fn update_user(self, r: pb::UpdateUserRequest) -> Reply<Written<User>> {
        let update = UserUpdate {
            user_id: convert::user_id("user_id", &r.user_id)?,
            email: r.email,
            first_name: r.first_name,
            last_name: r.last_name,
            expires_at: (r.expires_at_unix != 0).then_some(r.expires_at_unix),
        };
        Ok(self.admin.update_user(&self.actor, update).await?)
    }

    pub async fn delete_user(self, r: pb::DeleteUserRequest) -> Reply<u64> {
        let id = convert::user_id("user_id", &r.user_id)?;
        Ok(self.admin.delete_user(&self.actor, id).await?)
    }

    pub async fn set_user_disabled(self, r: pb::SetUserDisabledRequest) -> Reply<Written<User>> {
        let id = convert::user_id("user_id", &r.user_id)?;
        Ok(self
            .admin
            .set_user_disabled(&self.actor, id, r.disabled)
            .await?)
    }

    pub async fn upsert_person(self, r: pb::UpsertPersonRequest) -> Reply<Written<Person>> {
        Ok(self.admin.upsert_person(&self.actor, identity!(r)).await?)
    }

    pub async fn list_persons(self, r: pb::ListPersonsRequest) -> Reply<Vec<Person>> {
        let tenant = optional(&r.tenant_id, |v| convert::tenant_id("tenant_id", v))?;
        Ok(self.admin.list_persons(&self.actor, tenant).await?)
    }

    pub async fn promote_person(self, r: pb::PromotePersonRequest) -> Reply<Written<User>> {
        let id = PersonId::parse("person_id", &r.person_id).map_err(|e| invalid(e.to_string()))?;
        Ok(self.admin.promote_person(&self.actor, id).await?)
    }

    pub async fn list_access_requests(
        self,
        r: pb::ListAccessRequestsRequest,
    ) -> Reply<Vec<AccessRequest>> {
        let status = match pb::AccessRequestStatus::try_from(r.status) {
            Ok(pb::AccessRequestStatus::Unspecified | pb::AccessRequestStatus::Pending) => {
                AccessRequestStatus::Pending
            }
            Ok(pb::AccessRequestStatus::Approved) => AccessRequestStatus::Approved,
            Ok(pb::AccessRequestStatus::Rejected) => AccessRequestStatus::Rejected,
            Err(_) => return Err(invalid("`status` is not an AccessRequestStatus")),
        };
        let tenant = optional(&r.tenant_id, |v| convert::tenant_id("tenant_id", v))?;
        Ok(self
            .admin
            .list_access_requests(&self.actor, status, tenant)
            .await?)
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
            access_request: Some((access_request, revision).into()),
            user: user.map(|u| (u, revision).into()),
            revision,
            preview: None,
        })
    }

    pub async fn reject_access_request(
        self,
        r: pb::RejectAccessRequestRequest,
    ) -> Reply<Written<AccessRequest>> {
        let id = AccessRequestId::parse("access_request_id", &r.access_request_id)
            .map_err(|e| invalid(e.to_string()))?;
        let (access_request, _, revision) = self
            .admin
            .decide_access_request(&self.actor, id, None)
            .await?;
        Ok((access_request, revision))
    }
}

/// SubmitAccessRequest has no actor: whoever asks is not a user yet. When the server
/// verifies actors the requester is the token's subject (names and email from its claims
/// when it has them), and a request naming another Azure object id is refused; otherwise
/// the request says who asks.
pub(super) async fn submit_access_request(
    admin: &Admin,
    proven: Option<VerifiedActor>,
    mut r: pb::SubmitAccessRequestRequest,
) -> Result<pb::AccessRequest, Status> {
    if let Some(proven) = proven {
        let asked = r.azure_object_id.trim();
        if !asked.is_empty() && asked.parse() != Ok(proven.object_id) {
            return Err(Status::invalid_argument(
                "`azure_object_id` names someone other than the actor token's subject; leave it empty, the token says who asks",
            ));
        }
        r.azure_object_id = proven.object_id.to_string();
        r.email = proven.email.unwrap_or(r.email);
        r.first_name = proven.first_name.unwrap_or(r.first_name);
        r.last_name = proven.last_name.unwrap_or(r.last_name);
    }
    let validate_only = r.validate_only;
    let mut reply: pb::AccessRequest = admin
        .submit_access_request(identity!(r), validate_only)
        .await?
        .into();
    // A request gives no access until it is approved: its preview changes nothing.
    reply.preview = validate_only.then(pb::AccessPreview::default);
    Ok(reply)
}
