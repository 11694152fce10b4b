//! `rbac.v1.AdminService`: the control plane. Each call's actor comes from metadata;
//! with `x-impersonate-user-id` the call runs as that user, when the actor may.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::convert::{self, invalid};
use super::pb::rbac::v1 as pb;
use crate::admin::{
    Actor, ActorRef, Admin, AssignmentQuery, Expiry, Identity, NewAssignment, NewGroup, NewRole,
    NewTenant, RoleUpdate, TenantUpdate, UserQuery, UserUpdate,
};
use crate::model::{
    AccessRequestId, AccessRequestStatus, Action, AssignmentId, PersonId, Preferences, RoleId,
    catalogue, parse_uuid,
};
use crate::store::{AuditFilter, StoredAssignment};

/// Metadata key naming the actor by Azure object id.
pub const ACTOR_OBJECT_ID: &str = "x-actor-object-id";
/// Metadata key naming the actor by user id.
pub const ACTOR_USER_ID: &str = "x-actor-user-id";
/// Metadata key naming the user the actor impersonates.
pub const IMPERSONATE_USER_ID: &str = "x-impersonate-user-id";

/// The control-plane service over [`Admin`].
pub struct AdminApi {
    admin: Arc<Admin>,
}

/// A metadata value as text.
fn metadata<T>(request: &Request<T>, key: &str) -> Result<Option<String>, Status> {
    request
        .metadata()
        .get(key)
        .map(|v| {
            v.to_str()
                .map(str::to_owned)
                .map_err(|_| Status::unauthenticated(format!("metadata `{key}` must be text")))
        })
        .transpose()
}

/// An optional id field: empty means absent.
fn optional<T>(
    value: &str,
    parse: impl FnOnce(&str) -> Result<T, Status>,
) -> Result<Option<T>, Status> {
    (!value.is_empty()).then(|| parse(value)).transpose()
}

fn role_id(field: &'static str, value: &str) -> Result<RoleId, Status> {
    RoleId::parse(field, value).map_err(|e| invalid(e.to_string()))
}

impl AdminApi {
    pub fn new(admin: Arc<Admin>) -> Self {
        AdminApi { admin }
    }

    /// Resolves the call's actor, then runs `call` on the request's message.
    async fn call<Req, Res>(
        &self,
        request: Request<Req>,
        action: Action,
        call: impl AsyncFnOnce(&Admin, Actor, Req) -> Result<Res, Status>,
    ) -> Result<Response<Res>, Status> {
        let actor = self.actor(&request, action).await?;
        call(&self.admin, actor, request.into_inner())
            .await
            .map(Response::new)
    }

    /// The actor named in the request's metadata, checked active, and the user they act
    /// as when they impersonate.
    async fn actor<T>(&self, request: &Request<T>, action: Action) -> Result<Actor, Status> {
        let object_id = metadata(request, ACTOR_OBJECT_ID)?
            .map(|id| {
                parse_uuid(ACTOR_OBJECT_ID, &id).map_err(|e| Status::unauthenticated(e.to_string()))
            })
            .transpose()?;
        let user_id = metadata(request, ACTOR_USER_ID)?
            .map(|id| {
                crate::model::UserId::parse(ACTOR_USER_ID, &id)
                    .map_err(|e| Status::unauthenticated(e.to_string()))
            })
            .transpose()?;
        let actor = match (object_id, user_id) {
            (Some(object_id), None) => {
                self.admin
                    .actor(ActorRef::AzureObject(object_id), action)
                    .await?
            }
            (None, Some(user_id)) => self.admin.actor(ActorRef::User(user_id), action).await?,
            (Some(object_id), Some(user_id)) => {
                // Both may be sent, but they must name one user: a call has one actor.
                let actor = self
                    .admin
                    .actor(ActorRef::AzureObject(object_id), action)
                    .await?;
                if actor.id() != user_id {
                    return Err(Status::invalid_argument(format!(
                        "metadata `{ACTOR_OBJECT_ID}` and `{ACTOR_USER_ID}` name two different users; a call has one actor, so send one of them"
                    )));
                }
                actor
            }
            (None, None) => {
                return Err(Status::unauthenticated(format!(
                    "admin calls must name their actor in metadata `{ACTOR_OBJECT_ID}` or `{ACTOR_USER_ID}`"
                )));
            }
        };
        match metadata(request, IMPERSONATE_USER_ID)? {
            None => Ok(actor),
            Some(target) => {
                let target = convert::user_id(IMPERSONATE_USER_ID, &target)?;
                Ok(self.admin.impersonate(actor, target, action).await?)
            }
        }
    }
}

fn tenant_to_pb(tenant: &crate::model::Tenant, revision: u64) -> pb::Tenant {
    pb::Tenant {
        id: tenant.id.to_string(),
        name: tenant.name.clone(),
        parent_tenant_id: tenant.parent.map(|p| p.to_string()).unwrap_or_default(),
        is_msp: tenant.is_msp,
        tag_ids: tenant.tags.iter().map(ToString::to_string).collect(),
        revision,
    }
}

fn tag_to_pb(tag: crate::model::Tag, revision: u64) -> pb::Tag {
    pb::Tag {
        id: tag.id.to_string(),
        name: tag.name,
        revision,
    }
}

fn group_to_pb(group: &crate::model::Group, revision: u64) -> pb::Group {
    pb::Group {
        id: group.id.to_string(),
        name: group.name.clone(),
        description: group.description.clone(),
        owner_tenant_id: group.owner.map(|t| t.to_string()).unwrap_or_default(),
        revision,
    }
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

fn assignment_to_pb(
    stored: &StoredAssignment,
    role_name: String,
    revision: u64,
) -> pb::RoleAssignment {
    let assignment = &stored.assignment;
    pb::RoleAssignment {
        id: assignment.id.to_string(),
        role_id: assignment.role_id.to_string(),
        principal: Some(convert::principal_to_pb(assignment.principal)),
        scope: Some(convert::scope_to_pb(&assignment.scope)),
        effect: convert::effect_to_pb(assignment.effect),
        revision,
        warnings: Vec::new(),
        created_by_user_id: stored.created_by.map(|u| u.to_string()).unwrap_or_default(),
        created_at_unix: stored.created_at,
        role_name,
    }
}

fn identity(
    tenant_id: &str,
    azure_object_id: String,
    email: String,
    first_name: String,
    last_name: String,
) -> Result<Identity, Status> {
    Ok(Identity {
        tenant_id: convert::tenant_id("tenant_id", tenant_id)?,
        azure_object_id,
        email,
        first_name,
        last_name,
    })
}

#[tonic::async_trait]
impl pb::admin_service_server::AdminService for AdminApi {
    async fn create_tenant(
        &self,
        request: Request<pb::CreateTenantRequest>,
    ) -> Result<Response<pb::Tenant>, Status> {
        let actor = self.actor(&request, Action::CreateTenant).await?;
        let r = request.into_inner();
        let new = NewTenant {
            name: r.name,
            parent: convert::optional_tenant_id("parent_tenant_id", r.parent_tenant_id.as_deref())?,
            is_msp: r.is_msp,
        };
        let (tenant, revision) = self.admin.create_tenant(&actor, new).await?;
        Ok(Response::new(tenant_to_pb(&tenant, revision)))
    }

    async fn get_tenant(
        &self,
        request: Request<pb::GetTenantRequest>,
    ) -> Result<Response<pb::Tenant>, Status> {
        let actor = self.actor(&request, Action::GetTenant).await?;
        let id = convert::tenant_id("tenant_id", &request.get_ref().tenant_id)?;
        let tenant = self.admin.get_tenant(&actor, id).await?;
        Ok(Response::new(tenant_to_pb(&tenant, 0)))
    }

    async fn list_tenants(
        &self,
        request: Request<pb::ListTenantsRequest>,
    ) -> Result<Response<pb::ListTenantsResponse>, Status> {
        let actor = self.actor(&request, Action::ListTenants).await?;
        let parent = optional(&request.get_ref().parent_tenant_id, |v| {
            convert::tenant_id("parent_tenant_id", v)
        })?;
        let tenants = self.admin.list_tenants(&actor, parent).await?;
        Ok(Response::new(pb::ListTenantsResponse {
            tenants: tenants.iter().map(|t| tenant_to_pb(t, 0)).collect(),
        }))
    }

    async fn update_tenant(
        &self,
        request: Request<pb::UpdateTenantRequest>,
    ) -> Result<Response<pb::Tenant>, Status> {
        let actor = self.actor(&request, Action::UpdateTenant).await?;
        let r = request.into_inner();
        let update = TenantUpdate {
            tenant_id: convert::tenant_id("tenant_id", &r.tenant_id)?,
            name: (!r.name.is_empty()).then_some(r.name),
            parent: r
                .parent_tenant_id
                .map(|p| optional(&p, |v| convert::tenant_id("parent_tenant_id", v)))
                .transpose()?,
        };
        let (tenant, revision) = self.admin.update_tenant(&actor, update).await?;
        Ok(Response::new(tenant_to_pb(&tenant, revision)))
    }

    async fn delete_tenant(
        &self,
        request: Request<pb::DeleteTenantRequest>,
    ) -> Result<Response<pb::DeleteTenantResponse>, Status> {
        let actor = self.actor(&request, Action::DeleteTenant).await?;
        let id = convert::tenant_id("tenant_id", &request.get_ref().tenant_id)?;
        let revision = self.admin.delete_tenant(&actor, id).await?;
        Ok(Response::new(pb::DeleteTenantResponse { revision }))
    }

    async fn create_tag(
        &self,
        request: Request<pb::CreateTagRequest>,
    ) -> Result<Response<pb::Tag>, Status> {
        let actor = self.actor(&request, Action::CreateTag).await?;
        let (tag, revision) = self
            .admin
            .create_tag(&actor, &request.into_inner().name)
            .await?;
        Ok(Response::new(tag_to_pb(tag, revision)))
    }

    async fn list_tags(
        &self,
        request: Request<pb::ListTagsRequest>,
    ) -> Result<Response<pb::ListTagsResponse>, Status> {
        self.actor(&request, Action::ListTags).await?;
        let tags = self.admin.list_tags().await?;
        Ok(Response::new(pb::ListTagsResponse {
            tags: tags.into_iter().map(|t| tag_to_pb(t, 0)).collect(),
        }))
    }

    async fn update_tag(
        &self,
        request: Request<pb::UpdateTagRequest>,
    ) -> Result<Response<pb::Tag>, Status> {
        let actor = self.actor(&request, Action::UpdateTag).await?;
        let r = request.into_inner();
        let id = convert::tag_id("tag_id", &r.tag_id)?;
        let (tag, revision) = self.admin.rename_tag(&actor, id, &r.name).await?;
        Ok(Response::new(tag_to_pb(tag, revision)))
    }

    async fn delete_tag(
        &self,
        request: Request<pb::DeleteTagRequest>,
    ) -> Result<Response<pb::DeleteTagResponse>, Status> {
        self.call(request, Action::DeleteTag, delete_tag).await
    }

    async fn add_tenant_tag(
        &self,
        request: Request<pb::AddTenantTagRequest>,
    ) -> Result<Response<pb::AddTenantTagResponse>, Status> {
        let actor = self.actor(&request, Action::AddTenantTag).await?;
        let r = request.into_inner();
        let revision = self
            .admin
            .set_tenant_tag(
                &actor,
                convert::tenant_id("tenant_id", &r.tenant_id)?,
                convert::tag_id("tag_id", &r.tag_id)?,
                true,
            )
            .await?;
        Ok(Response::new(pb::AddTenantTagResponse { revision }))
    }

    async fn remove_tenant_tag(
        &self,
        request: Request<pb::RemoveTenantTagRequest>,
    ) -> Result<Response<pb::RemoveTenantTagResponse>, Status> {
        let actor = self.actor(&request, Action::RemoveTenantTag).await?;
        let r = request.into_inner();
        let revision = self
            .admin
            .set_tenant_tag(
                &actor,
                convert::tenant_id("tenant_id", &r.tenant_id)?,
                convert::tag_id("tag_id", &r.tag_id)?,
                false,
            )
            .await?;
        Ok(Response::new(pb::RemoveTenantTagResponse { revision }))
    }

    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let actor = self.actor(&request, Action::CreateUser).await?;
        let r = request.into_inner();
        let new = identity(
            &r.tenant_id,
            r.azure_object_id,
            r.email,
            r.first_name,
            r.last_name,
        )?;
        let (user, revision) = self.admin.create_user(&actor, new).await?;
        Ok(Response::new(convert::user_to_pb(&user, revision)))
    }

    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let actor = self.actor(&request, Action::GetUser).await?;
        let id = convert::user_id("user_id", &request.get_ref().user_id)?;
        let user = self.admin.get_user(&actor, id).await?;
        Ok(Response::new(convert::user_to_pb(&user, 0)))
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        let actor = self.actor(&request, Action::ListUsers).await?;
        let r = request.into_inner();
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
        let (users, next) = self.admin.list_users(&actor, query).await?;
        Ok(Response::new(pb::ListUsersResponse {
            users: users.iter().map(|u| convert::user_to_pb(u, 0)).collect(),
            next_page_token: next.map(|u| u.to_string()).unwrap_or_default(),
        }))
    }

    async fn update_user(
        &self,
        request: Request<pb::UpdateUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let actor = self.actor(&request, Action::UpdateUser).await?;
        let r = request.into_inner();
        let update = UserUpdate {
            user_id: convert::user_id("user_id", &r.user_id)?,
            email: r.email,
            first_name: r.first_name,
            last_name: r.last_name,
            expires_at: (r.expires_at_unix != 0).then_some(r.expires_at_unix),
        };
        let (user, revision) = self.admin.update_user(&actor, update).await?;
        Ok(Response::new(convert::user_to_pb(&user, revision)))
    }

    async fn delete_user(
        &self,
        request: Request<pb::DeleteUserRequest>,
    ) -> Result<Response<pb::DeleteUserResponse>, Status> {
        let actor = self.actor(&request, Action::DeleteUser).await?;
        let id = convert::user_id("user_id", &request.get_ref().user_id)?;
        let revision = self.admin.delete_user(&actor, id).await?;
        Ok(Response::new(pb::DeleteUserResponse { revision }))
    }

    async fn set_user_disabled(
        &self,
        request: Request<pb::SetUserDisabledRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let actor = self.actor(&request, Action::SetUserDisabled).await?;
        let r = request.into_inner();
        let (user, revision) = self
            .admin
            .set_user_disabled(&actor, convert::user_id("user_id", &r.user_id)?, r.disabled)
            .await?;
        Ok(Response::new(convert::user_to_pb(&user, revision)))
    }

    async fn upsert_person(
        &self,
        request: Request<pb::UpsertPersonRequest>,
    ) -> Result<Response<pb::Person>, Status> {
        let actor = self.actor(&request, Action::UpsertPerson).await?;
        let r = request.into_inner();
        let identity = identity(
            &r.tenant_id,
            r.azure_object_id,
            r.email,
            r.first_name,
            r.last_name,
        )?;
        let (person, revision) = self.admin.upsert_person(&actor, identity).await?;
        Ok(Response::new(person_to_pb(&person, revision)))
    }

    async fn list_persons(
        &self,
        request: Request<pb::ListPersonsRequest>,
    ) -> Result<Response<pb::ListPersonsResponse>, Status> {
        let actor = self.actor(&request, Action::ListPersons).await?;
        let tenant = optional(&request.get_ref().tenant_id, |v| {
            convert::tenant_id("tenant_id", v)
        })?;
        let persons = self.admin.list_persons(&actor, tenant).await?;
        Ok(Response::new(pb::ListPersonsResponse {
            persons: persons.iter().map(|p| person_to_pb(p, 0)).collect(),
        }))
    }

    async fn promote_person(
        &self,
        request: Request<pb::PromotePersonRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let actor = self.actor(&request, Action::PromotePerson).await?;
        let id = PersonId::parse("person_id", &request.get_ref().person_id)
            .map_err(|e| invalid(e.to_string()))?;
        let (user, revision) = self.admin.promote_person(&actor, id).await?;
        Ok(Response::new(convert::user_to_pb(&user, revision)))
    }

    async fn submit_access_request(
        &self,
        request: Request<pb::SubmitAccessRequestRequest>,
    ) -> Result<Response<pb::AccessRequest>, Status> {
        // No actor: whoever asks cannot sign in yet.
        let r = request.into_inner();
        let identity = identity(
            &r.tenant_id,
            r.azure_object_id,
            r.email,
            r.first_name,
            r.last_name,
        )?;
        let (access_request, revision) = self.admin.submit_access_request(identity).await?;
        Ok(Response::new(access_request_to_pb(
            &access_request,
            revision,
        )))
    }

    async fn list_access_requests(
        &self,
        request: Request<pb::ListAccessRequestsRequest>,
    ) -> Result<Response<pb::ListAccessRequestsResponse>, Status> {
        let actor = self.actor(&request, Action::ListAccessRequests).await?;
        let r = request.into_inner();
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
            .list_access_requests(&actor, status, tenant)
            .await?;
        Ok(Response::new(pb::ListAccessRequestsResponse {
            access_requests: requests
                .iter()
                .map(|r| access_request_to_pb(r, 0))
                .collect(),
        }))
    }

    async fn approve_access_request(
        &self,
        request: Request<pb::ApproveAccessRequestRequest>,
    ) -> Result<Response<pb::ApproveAccessRequestResponse>, Status> {
        let actor = self.actor(&request, Action::ApproveAccessRequest).await?;
        let r = request.into_inner();
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
            .decide_access_request(&actor, id, Some(expiry))
            .await?;
        Ok(Response::new(pb::ApproveAccessRequestResponse {
            access_request: Some(access_request_to_pb(&access_request, revision)),
            user: user.map(|u| convert::user_to_pb(&u, revision)),
            revision,
        }))
    }

    async fn reject_access_request(
        &self,
        request: Request<pb::RejectAccessRequestRequest>,
    ) -> Result<Response<pb::AccessRequest>, Status> {
        let actor = self.actor(&request, Action::RejectAccessRequest).await?;
        let id = AccessRequestId::parse("access_request_id", &request.get_ref().access_request_id)
            .map_err(|e| invalid(e.to_string()))?;
        let (access_request, _, revision) =
            self.admin.decide_access_request(&actor, id, None).await?;
        Ok(Response::new(access_request_to_pb(
            &access_request,
            revision,
        )))
    }

    async fn create_role(
        &self,
        request: Request<pb::CreateRoleRequest>,
    ) -> Result<Response<pb::Role>, Status> {
        let actor = self.actor(&request, Action::CreateRole).await?;
        let r = request.into_inner();
        let new = NewRole {
            name: r.name,
            description: r.description,
            owner: convert::optional_tenant_id("owner_tenant_id", r.owner_tenant_id.as_deref())?,
            permissions: r.permissions,
        };
        let (role, revision, warnings) = self.admin.create_role(&actor, new).await?;
        Ok(Response::new(pb::Role {
            warnings,
            ..convert::role_to_pb(&role, revision)
        }))
    }

    async fn get_role(
        &self,
        request: Request<pb::GetRoleRequest>,
    ) -> Result<Response<pb::Role>, Status> {
        let actor = self.actor(&request, Action::GetRole).await?;
        let id = role_id("role_id", &request.get_ref().role_id)?;
        let role = self.admin.get_role(&actor, id).await?;
        Ok(Response::new(convert::role_to_pb(&role, 0)))
    }

    async fn update_role(
        &self,
        request: Request<pb::UpdateRoleRequest>,
    ) -> Result<Response<pb::Role>, Status> {
        let actor = self.actor(&request, Action::UpdateRole).await?;
        let r = request.into_inner();
        let update = RoleUpdate {
            role_id: role_id("role_id", &r.role_id)?,
            name: r.name,
            description: r.description,
            permissions: r.permissions,
        };
        let (role, revision, warnings) = self.admin.update_role(&actor, update).await?;
        Ok(Response::new(pb::Role {
            warnings,
            ..convert::role_to_pb(&role, revision)
        }))
    }

    async fn delete_role(
        &self,
        request: Request<pb::DeleteRoleRequest>,
    ) -> Result<Response<pb::DeleteRoleResponse>, Status> {
        let actor = self.actor(&request, Action::DeleteRole).await?;
        let r = request.into_inner();
        let id = role_id("role_id", &r.role_id)?;
        let (revision, removed) = self
            .admin
            .delete_role(&actor, id, r.remove_assignments)
            .await?;
        Ok(Response::new(pb::DeleteRoleResponse {
            revision,
            removed_assignments: u32::try_from(removed).unwrap_or(u32::MAX),
        }))
    }

    async fn list_roles(
        &self,
        request: Request<pb::ListRolesRequest>,
    ) -> Result<Response<pb::ListRolesResponse>, Status> {
        let actor = self.actor(&request, Action::ListRoles).await?;
        let roles = self.admin.list_roles(&actor).await?;
        Ok(Response::new(pb::ListRolesResponse {
            roles: roles.iter().map(|r| convert::role_to_pb(r, 0)).collect(),
        }))
    }

    async fn list_permissions(
        &self,
        request: Request<pb::ListPermissionsRequest>,
    ) -> Result<Response<pb::ListPermissionsResponse>, Status> {
        self.actor(&request, Action::ListPermissions).await?;
        let permissions = catalogue()
            .permissions()
            .iter()
            .map(|p| pb::Permission {
                key: p.key.clone(),
                name: p.name.clone(),
                description: p.description.clone(),
                subject: p.subject.clone(),
                category: p.category.as_str().to_owned(),
                system: p.system,
                msp_only: p.msp_only,
                great_power: p.great_power,
                dependencies: p.dependencies.clone(),
            })
            .collect();
        Ok(Response::new(pb::ListPermissionsResponse { permissions }))
    }

    async fn create_group(
        &self,
        request: Request<pb::CreateGroupRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        let actor = self.actor(&request, Action::CreateGroup).await?;
        let r = request.into_inner();
        let new = NewGroup {
            name: r.name,
            description: r.description,
            owner: convert::optional_tenant_id("owner_tenant_id", r.owner_tenant_id.as_deref())?,
        };
        let (group, revision) = self.admin.create_group(&actor, new).await?;
        Ok(Response::new(group_to_pb(&group, revision)))
    }

    async fn get_group(
        &self,
        request: Request<pb::GetGroupRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        let actor = self.actor(&request, Action::GetGroup).await?;
        let id = convert::group_id("group_id", &request.get_ref().group_id)?;
        let group = self.admin.get_group(&actor, id).await?;
        Ok(Response::new(group_to_pb(&group, 0)))
    }

    async fn list_groups(
        &self,
        request: Request<pb::ListGroupsRequest>,
    ) -> Result<Response<pb::ListGroupsResponse>, Status> {
        let actor = self.actor(&request, Action::ListGroups).await?;
        let owner = optional(&request.get_ref().owner_tenant_id, |v| {
            convert::tenant_id("owner_tenant_id", v)
        })?;
        let groups = self.admin.list_groups(&actor, owner).await?;
        Ok(Response::new(pb::ListGroupsResponse {
            groups: groups.iter().map(|g| group_to_pb(g, 0)).collect(),
        }))
    }

    async fn update_group(
        &self,
        request: Request<pb::UpdateGroupRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        let actor = self.actor(&request, Action::UpdateGroup).await?;
        let r = request.into_inner();
        let id = convert::group_id("group_id", &r.group_id)?;
        let (group, revision) = self
            .admin
            .update_group(&actor, id, &r.name, &r.description)
            .await?;
        Ok(Response::new(group_to_pb(&group, revision)))
    }

    async fn delete_group(
        &self,
        request: Request<pb::DeleteGroupRequest>,
    ) -> Result<Response<pb::DeleteGroupResponse>, Status> {
        let actor = self.actor(&request, Action::DeleteGroup).await?;
        let id = convert::group_id("group_id", &request.get_ref().group_id)?;
        let revision = self.admin.delete_group(&actor, id).await?;
        Ok(Response::new(pb::DeleteGroupResponse { revision }))
    }

    async fn add_group_member(
        &self,
        request: Request<pb::AddGroupMemberRequest>,
    ) -> Result<Response<pb::AddGroupMemberResponse>, Status> {
        let actor = self.actor(&request, Action::AddGroupMember).await?;
        let r = request.into_inner();
        let revision = self
            .admin
            .set_group_member(
                &actor,
                convert::group_id("group_id", &r.group_id)?,
                convert::user_id("user_id", &r.user_id)?,
                true,
            )
            .await?;
        Ok(Response::new(pb::AddGroupMemberResponse { revision }))
    }

    async fn remove_group_member(
        &self,
        request: Request<pb::RemoveGroupMemberRequest>,
    ) -> Result<Response<pb::RemoveGroupMemberResponse>, Status> {
        let actor = self.actor(&request, Action::RemoveGroupMember).await?;
        let r = request.into_inner();
        let revision = self
            .admin
            .set_group_member(
                &actor,
                convert::group_id("group_id", &r.group_id)?,
                convert::user_id("user_id", &r.user_id)?,
                false,
            )
            .await?;
        Ok(Response::new(pb::RemoveGroupMemberResponse { revision }))
    }

    async fn list_group_members(
        &self,
        request: Request<pb::ListGroupMembersRequest>,
    ) -> Result<Response<pb::ListGroupMembersResponse>, Status> {
        let actor = self.actor(&request, Action::ListGroupMembers).await?;
        let id = convert::group_id("group_id", &request.get_ref().group_id)?;
        let members = self.admin.list_group_members(&actor, id).await?;
        Ok(Response::new(pb::ListGroupMembersResponse {
            members: members.iter().map(|u| convert::user_to_pb(u, 0)).collect(),
        }))
    }

    async fn list_user_groups(
        &self,
        request: Request<pb::ListUserGroupsRequest>,
    ) -> Result<Response<pb::ListUserGroupsResponse>, Status> {
        let actor = self.actor(&request, Action::ListUserGroups).await?;
        let id = convert::user_id("user_id", &request.get_ref().user_id)?;
        let groups = self.admin.list_user_groups(&actor, id).await?;
        Ok(Response::new(pb::ListUserGroupsResponse {
            groups: groups.iter().map(|g| group_to_pb(g, 0)).collect(),
        }))
    }

    async fn create_role_assignment(
        &self,
        request: Request<pb::CreateRoleAssignmentRequest>,
    ) -> Result<Response<pb::RoleAssignment>, Status> {
        let actor = self.actor(&request, Action::CreateRoleAssignment).await?;
        let r = request.into_inner();
        let new = NewAssignment {
            role_id: role_id("role_id", &r.role_id)?,
            principal: convert::principal(r.principal.as_ref())?,
            scope: convert::scope(r.scope.as_ref())?,
            effect: convert::effect(r.effect)?,
        };
        let (stored, revision, warnings) = self.admin.create_assignment(&actor, new).await?;
        let role_id = stored.assignment.role_id;
        let role_name = self.admin.role_names(&[role_id]).await?.remove(&role_id);
        Ok(Response::new(pb::RoleAssignment {
            warnings,
            ..assignment_to_pb(&stored, role_name.unwrap_or_default(), revision)
        }))
    }

    async fn delete_role_assignment(
        &self,
        request: Request<pb::DeleteRoleAssignmentRequest>,
    ) -> Result<Response<pb::DeleteRoleAssignmentResponse>, Status> {
        let actor = self.actor(&request, Action::DeleteRoleAssignment).await?;
        let id = AssignmentId::parse("assignment_id", &request.get_ref().assignment_id)
            .map_err(|e| invalid(e.to_string()))?;
        let revision = self.admin.delete_assignment(&actor, id).await?;
        Ok(Response::new(pb::DeleteRoleAssignmentResponse { revision }))
    }

    async fn list_role_assignments(
        &self,
        request: Request<pb::ListRoleAssignmentsRequest>,
    ) -> Result<Response<pb::ListRoleAssignmentsResponse>, Status> {
        let actor = self.actor(&request, Action::ListRoleAssignments).await?;
        let r = request.into_inner();
        let query = AssignmentQuery {
            principal: r
                .principal
                .as_ref()
                .filter(|p| p.kind.is_some())
                .map(|p| convert::principal(Some(p)))
                .transpose()?,
            role: optional(&r.role_id, |v| role_id("role_id", v))?,
            direct_only: r.direct_only,
            after: optional(&r.page_token, |v| {
                AssignmentId::parse("page_token", v).map_err(|e| invalid(e.to_string()))
            })?,
            page_size: u64::from(r.page_size),
        };
        let (assignments, next) = self.admin.list_assignments(&actor, query).await?;
        let role_ids: Vec<RoleId> = assignments.iter().map(|a| a.assignment.role_id).collect();
        let names = self.admin.role_names(&role_ids).await?;
        Ok(Response::new(pb::ListRoleAssignmentsResponse {
            role_assignments: assignments
                .iter()
                .map(|stored| {
                    let name = names.get(&stored.assignment.role_id).cloned();
                    assignment_to_pb(stored, name.unwrap_or_default(), 0)
                })
                .collect(),
            next_page_token: next.map(|a| a.to_string()).unwrap_or_default(),
        }))
    }

    async fn check_user_access(
        &self,
        request: Request<pb::CheckUserAccessRequest>,
    ) -> Result<Response<pb::CheckUserAccessResponse>, Status> {
        let actor = self.actor(&request, Action::CheckUserAccess).await?;
        let r = request.into_inner();
        let user = convert::user_id("user_id", &r.user_id)?;
        let target = convert::target(r.target.as_ref())?;
        let report = self.admin.check_user_access(&actor, user, target).await?;
        let revision = report.first().map_or(0, |(_, o)| o.revision);
        Ok(Response::new(pb::CheckUserAccessResponse {
            user_id: user.to_string(),
            permissions: report
                .into_iter()
                .map(|(permission, outcome)| {
                    let response = convert::check_response_to_pb(outcome);
                    pb::PermissionAccess {
                        permission: catalogue().get(permission).key.clone(),
                        allowed: response.allowed,
                        decision: response.decision,
                        reasons: response.explanation,
                    }
                })
                .collect(),
            revision,
        }))
    }

    async fn get_my_access(
        &self,
        request: Request<pb::GetMyAccessRequest>,
    ) -> Result<Response<pb::GetEffectiveAccessResponse>, Status> {
        let actor = self.actor(&request, Action::GetMyAccess).await?;
        let (access, groups, revision) = self.admin.my_access(&actor).await?;
        Ok(Response::new(convert::effective_access_to_pb(
            &access, groups, revision,
        )))
    }

    async fn get_preferences(
        &self,
        request: Request<pb::GetPreferencesRequest>,
    ) -> Result<Response<pb::Preferences>, Status> {
        self.actor(&request, Action::GetPreferences).await?;
        let preferences = self.admin.preferences().await?;
        Ok(Response::new(pb::Preferences {
            impersonation_enabled: preferences.impersonation_enabled,
            revision: 0,
        }))
    }

    async fn update_preferences(
        &self,
        request: Request<pb::UpdatePreferencesRequest>,
    ) -> Result<Response<pb::Preferences>, Status> {
        let actor = self.actor(&request, Action::UpdatePreferences).await?;
        let wanted = Preferences {
            impersonation_enabled: request.get_ref().impersonation_enabled,
        };
        let (preferences, revision) = self.admin.update_preferences(&actor, wanted).await?;
        Ok(Response::new(pb::Preferences {
            impersonation_enabled: preferences.impersonation_enabled,
            revision,
        }))
    }

    async fn start_impersonation(
        &self,
        request: Request<pb::StartImpersonationRequest>,
    ) -> Result<Response<pb::StartImpersonationResponse>, Status> {
        let actor = self.actor(&request, Action::StartImpersonation).await?;
        let target = convert::user_id("user_id", &request.get_ref().user_id)?;
        let user = self.admin.start_impersonation(&actor, target).await?;
        Ok(Response::new(pb::StartImpersonationResponse {
            user: Some(convert::user_to_pb(&user, 0)),
        }))
    }

    async fn upsert_resource(
        &self,
        request: Request<pb::UpsertResourceRequest>,
    ) -> Result<Response<pb::UpsertResourceResponse>, Status> {
        let actor = self.actor(&request, Action::UpsertResource).await?;
        let r = request.into_inner();
        let resource = convert::resource(&pb::ResourceRef {
            r#type: r.r#type,
            id: r.id,
        })?;
        let owner = convert::optional_tenant_id("owner_tenant_id", r.owner_tenant_id.as_deref())?;
        let revision = self.admin.upsert_resource(&actor, resource, owner).await?;
        Ok(Response::new(pb::UpsertResourceResponse { revision }))
    }

    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Result<Response<pb::ListAuditEventsResponse>, Status> {
        let actor = self.actor(&request, Action::ListAuditEvents).await?;
        let r = request.into_inner();
        let text = |field, value: String| {
            crate::model::optional_text(field, &value, crate::model::QUERY_MAX)
                .map(|v| (!v.is_empty()).then_some(v))
                .map_err(|e| invalid(e.to_string()))
        };
        let filter = AuditFilter {
            actor: optional(&r.actor_user_id, |v| convert::user_id("actor_user_id", v))?,
            action: text("action", r.action)?,
            outcome: text("outcome", r.outcome)?,
            since: (r.since_unix != 0).then_some(r.since_unix),
            until: (r.until_unix != 0).then_some(r.until_unix),
            after: optional(&r.page_token, page_token)?,
            limit: u64::from(r.page_size),
        };
        let page = self.admin.list_audit_events(&actor, filter).await?;
        let next_page_token = page
            .next
            .map(|(at, id)| format!("{at}.{id}"))
            .unwrap_or_default();
        let id = |u: Option<crate::model::UserId>| u.map(|u| u.to_string()).unwrap_or_default();
        Ok(Response::new(pb::ListAuditEventsResponse {
            events: page
                .events
                .into_iter()
                .map(|e| pb::AuditEvent {
                    id: e.id.to_string(),
                    at_unix: e.at,
                    actor_user_id: id(e.actor),
                    impersonator_user_id: id(e.impersonator),
                    action: e.action,
                    target: e.target,
                    before: e.before.unwrap_or_default(),
                    after: e.after.unwrap_or_default(),
                    outcome: e.outcome,
                    detail: e.detail,
                })
                .collect(),
            next_page_token,
        }))
    }
}

/// A page token is the last event's `at` and `id`, as handed out by ListAuditEvents.
fn page_token(token: &str) -> Result<(i64, uuid::Uuid), Status> {
    let invalid = || {
        invalid(format!(
            "`page_token` `{token}` is not one this service handed out"
        ))
    };
    let (at, id) = token.split_once('.').ok_or_else(invalid)?;
    Ok((
        at.parse().map_err(|_| invalid())?,
        id.parse().map_err(|_| invalid())?,
    ))
}

async fn delete_tag(
    admin: &Admin,
    actor: Actor,
    r: pb::DeleteTagRequest,
) -> Result<pb::DeleteTagResponse, Status> {
    let id = convert::tag_id("tag_id", &r.tag_id)?;
    let revision = admin.delete_tag(&actor, id).await?;
    Ok(pb::DeleteTagResponse { revision })
}
