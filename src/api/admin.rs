//! `rbac.v1.AdminService`: the control plane. Each call's actor comes from metadata.

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::convert;
use super::pb::rbac::v1 as pb;
use super::status::from_admin;
use crate::admin::{
    Actor, ActorRef, Admin, NewAssignment, NewGroup, NewRole, NewTenant, NewUser, RoleUpdate,
};
use crate::model::{AssignmentId, Tenant, UserId, catalogue, parse_uuid};
use crate::store::AuditFilter;

/// Metadata key naming the actor by Azure object id.
pub const ACTOR_OBJECT_ID: &str = "x-actor-object-id";
/// Metadata key naming the actor by user id.
pub const ACTOR_USER_ID: &str = "x-actor-user-id";

/// The control-plane service over [`Admin`].
pub struct AdminApi {
    admin: Arc<Admin>,
}

impl AdminApi {
    pub fn new(admin: Arc<Admin>) -> Self {
        AdminApi { admin }
    }

    /// The actor named in the request's metadata, checked active.
    async fn actor<T>(&self, request: &Request<T>, action: &'static str) -> Result<Actor, Status> {
        let metadata = request.metadata();
        let value = |key: &str| -> Result<Option<String>, Status> {
            metadata
                .get(key)
                .map(|v| {
                    v.to_str().map(str::to_owned).map_err(|_| {
                        Status::unauthenticated(format!("metadata `{key}` must be text"))
                    })
                })
                .transpose()
        };
        let actor = match (value(ACTOR_OBJECT_ID)?, value(ACTOR_USER_ID)?) {
            (Some(object_id), _) => ActorRef::AzureObject(
                parse_uuid(ACTOR_OBJECT_ID, &object_id)
                    .map_err(|e| Status::unauthenticated(e.to_string()))?,
            ),
            (None, Some(user_id)) => ActorRef::User(
                UserId::parse(ACTOR_USER_ID, &user_id)
                    .map_err(|e| Status::unauthenticated(e.to_string()))?,
            ),
            (None, None) => {
                return Err(Status::unauthenticated(format!(
                    "admin calls must name their actor in metadata `{ACTOR_OBJECT_ID}` or `{ACTOR_USER_ID}`"
                )));
            }
        };
        self.admin
            .actor(actor, action)
            .await
            .map_err(|e| from_admin(&e))
    }
}

fn tenant_to_pb(tenant: &Tenant, revision: u64) -> pb::Tenant {
    pb::Tenant {
        id: tenant.id.to_string(),
        name: tenant.name.clone(),
        parent_tenant_id: tenant.parent.map(|p| p.to_string()).unwrap_or_default(),
        is_msp: tenant.is_msp,
        tag_ids: tenant.tags.iter().map(ToString::to_string).collect(),
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

#[tonic::async_trait]
impl pb::admin_service_server::AdminService for AdminApi {
    async fn create_tenant(
        &self,
        request: Request<pb::CreateTenantRequest>,
    ) -> Result<Response<pb::Tenant>, Status> {
        let actor = self.actor(&request, "CreateTenant").await?;
        let r = request.into_inner();
        let new = NewTenant {
            name: r.name,
            parent: convert::optional_tenant_id("parent_tenant_id", r.parent_tenant_id.as_deref())?,
            is_msp: r.is_msp,
        };
        let (tenant, revision) = self
            .admin
            .create_tenant(&actor, new)
            .await
            .map_err(|e| from_admin(&e))?;
        Ok(Response::new(tenant_to_pb(&tenant, revision)))
    }

    async fn create_tag(
        &self,
        request: Request<pb::CreateTagRequest>,
    ) -> Result<Response<pb::Tag>, Status> {
        let actor = self.actor(&request, "CreateTag").await?;
        let (tag, revision) = self
            .admin
            .create_tag(&actor, &request.into_inner().name)
            .await
            .map_err(|e| from_admin(&e))?;
        Ok(Response::new(pb::Tag {
            id: tag.id.to_string(),
            name: tag.name,
            revision,
        }))
    }

    async fn add_tenant_tag(
        &self,
        request: Request<pb::AddTenantTagRequest>,
    ) -> Result<Response<pb::AddTenantTagResponse>, Status> {
        let actor = self.actor(&request, "AddTenantTag").await?;
        let r = request.into_inner();
        let revision = self
            .admin
            .set_tenant_tag(
                &actor,
                convert::tenant_id("tenant_id", &r.tenant_id)?,
                convert::tag_id("tag_id", &r.tag_id)?,
                true,
            )
            .await
            .map_err(|e| from_admin(&e))?;
        Ok(Response::new(pb::AddTenantTagResponse { revision }))
    }

    async fn remove_tenant_tag(
        &self,
        request: Request<pb::RemoveTenantTagRequest>,
    ) -> Result<Response<pb::RemoveTenantTagResponse>, Status> {
        let actor = self.actor(&request, "RemoveTenantTag").await?;
        let r = request.into_inner();
        let revision = self
            .admin
            .set_tenant_tag(
                &actor,
                convert::tenant_id("tenant_id", &r.tenant_id)?,
                convert::tag_id("tag_id", &r.tag_id)?,
                false,
            )
            .await
            .map_err(|e| from_admin(&e))?;
        Ok(Response::new(pb::RemoveTenantTagResponse { revision }))
    }

    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let actor = self.actor(&request, "CreateUser").await?;
        let r = request.into_inner();
        let new = NewUser {
            tenant_id: convert::tenant_id("tenant_id", &r.tenant_id)?,
            email: r.email,
            first_name: r.first_name,
            last_name: r.last_name,
            azure_object_id: r.azure_object_id,
        };
        let (user, revision) = self
            .admin
            .create_user(&actor, new)
            .await
            .map_err(|e| from_admin(&e))?;
        Ok(Response::new(convert::user_to_pb(&user, revision)))
    }

    async fn set_user_disabled(
        &self,
        request: Request<pb::SetUserDisabledRequest>,
    ) -> Result<Response<pb::User>, Status> {
        let actor = self.actor(&request, "SetUserDisabled").await?;
        let r = request.into_inner();
        let (user, revision) = self
            .admin
            .set_user_disabled(&actor, convert::user_id("user_id", &r.user_id)?, r.disabled)
            .await
            .map_err(|e| from_admin(&e))?;
        Ok(Response::new(convert::user_to_pb(&user, revision)))
    }

    async fn create_role(
        &self,
        request: Request<pb::CreateRoleRequest>,
    ) -> Result<Response<pb::Role>, Status> {
        let actor = self.actor(&request, "CreateRole").await?;
        let r = request.into_inner();
        let new = NewRole {
            name: r.name,
            description: r.description,
            owner: convert::optional_tenant_id("owner_tenant_id", r.owner_tenant_id.as_deref())?,
            permissions: r.permissions,
        };
        let (role, revision, warnings) = self
            .admin
            .create_role(&actor, new)
            .await
            .map_err(|e| from_admin(&e))?;
        Ok(Response::new(pb::Role {
            warnings,
            ..convert::role_to_pb(&role, revision)
        }))
    }

    async fn update_role(
        &self,
        request: Request<pb::UpdateRoleRequest>,
    ) -> Result<Response<pb::Role>, Status> {
        let actor = self.actor(&request, "UpdateRole").await?;
        let r = request.into_inner();
        let update = RoleUpdate {
            role_id: crate::model::RoleId::parse("role_id", &r.role_id)
                .map_err(|e| convert::invalid(e.to_string()))?,
            name: r.name,
            description: r.description,
            permissions: r.permissions,
        };
        let (role, revision, warnings) = self
            .admin
            .update_role(&actor, update)
            .await
            .map_err(|e| from_admin(&e))?;
        Ok(Response::new(pb::Role {
            warnings,
            ..convert::role_to_pb(&role, revision)
        }))
    }

    async fn list_roles(
        &self,
        request: Request<pb::ListRolesRequest>,
    ) -> Result<Response<pb::ListRolesResponse>, Status> {
        let actor = self.actor(&request, "ListRoles").await?;
        let roles = self
            .admin
            .list_roles(&actor)
            .await
            .map_err(|e| from_admin(&e))?;
        Ok(Response::new(pb::ListRolesResponse {
            roles: roles.iter().map(|r| convert::role_to_pb(r, 0)).collect(),
        }))
    }

    async fn list_permissions(
        &self,
        request: Request<pb::ListPermissionsRequest>,
    ) -> Result<Response<pb::ListPermissionsResponse>, Status> {
        self.actor(&request, "ListPermissions").await?;
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
        let actor = self.actor(&request, "CreateGroup").await?;
        let r = request.into_inner();
        let new = NewGroup {
            name: r.name,
            description: r.description,
            owner: convert::optional_tenant_id("owner_tenant_id", r.owner_tenant_id.as_deref())?,
        };
        let (group, revision) = self
            .admin
            .create_group(&actor, new)
            .await
            .map_err(|e| from_admin(&e))?;
        Ok(Response::new(group_to_pb(&group, revision)))
    }

    async fn add_group_member(
        &self,
        request: Request<pb::AddGroupMemberRequest>,
    ) -> Result<Response<pb::AddGroupMemberResponse>, Status> {
        let actor = self.actor(&request, "AddGroupMember").await?;
        let r = request.into_inner();
        let revision = self
            .admin
            .set_group_member(
                &actor,
                convert::group_id("group_id", &r.group_id)?,
                convert::user_id("user_id", &r.user_id)?,
                true,
            )
            .await
            .map_err(|e| from_admin(&e))?;
        Ok(Response::new(pb::AddGroupMemberResponse { revision }))
    }

    async fn remove_group_member(
        &self,
        request: Request<pb::RemoveGroupMemberRequest>,
    ) -> Result<Response<pb::RemoveGroupMemberResponse>, Status> {
        let actor = self.actor(&request, "RemoveGroupMember").await?;
        let r = request.into_inner();
        let revision = self
            .admin
            .set_group_member(
                &actor,
                convert::group_id("group_id", &r.group_id)?,
                convert::user_id("user_id", &r.user_id)?,
                false,
            )
            .await
            .map_err(|e| from_admin(&e))?;
        Ok(Response::new(pb::RemoveGroupMemberResponse { revision }))
    }

    async fn create_role_assignment(
        &self,
        request: Request<pb::CreateRoleAssignmentRequest>,
    ) -> Result<Response<pb::RoleAssignment>, Status> {
        let actor = self.actor(&request, "CreateRoleAssignment").await?;
        let r = request.into_inner();
        let new = NewAssignment {
            role_id: crate::model::RoleId::parse("role_id", &r.role_id)
                .map_err(|e| convert::invalid(e.to_string()))?,
            principal: convert::principal(r.principal.as_ref())?,
            scope: convert::scope(r.scope.as_ref())?,
            effect: convert::effect(r.effect)?,
        };
        let (assignment, revision, warnings) = self
            .admin
            .create_assignment(&actor, new)
            .await
            .map_err(|e| from_admin(&e))?;
        Ok(Response::new(pb::RoleAssignment {
            id: assignment.id.to_string(),
            role_id: assignment.role_id.to_string(),
            principal: Some(convert::principal_to_pb(assignment.principal)),
            scope: Some(convert::scope_to_pb(&assignment.scope)),
            effect: convert::effect_to_pb(assignment.effect),
            revision,
            warnings,
        }))
    }

    async fn delete_role_assignment(
        &self,
        request: Request<pb::DeleteRoleAssignmentRequest>,
    ) -> Result<Response<pb::DeleteRoleAssignmentResponse>, Status> {
        let actor = self.actor(&request, "DeleteRoleAssignment").await?;
        let id = AssignmentId::parse("assignment_id", &request.get_ref().assignment_id)
            .map_err(|e| convert::invalid(e.to_string()))?;
        let revision = self
            .admin
            .delete_assignment(&actor, id)
            .await
            .map_err(|e| from_admin(&e))?;
        Ok(Response::new(pb::DeleteRoleAssignmentResponse { revision }))
    }

    async fn upsert_resource(
        &self,
        request: Request<pb::UpsertResourceRequest>,
    ) -> Result<Response<pb::UpsertResourceResponse>, Status> {
        let actor = self.actor(&request, "UpsertResource").await?;
        let r = request.into_inner();
        let resource = convert::resource(&pb::ResourceRef {
            r#type: r.r#type,
            id: r.id,
        })?;
        let owner = convert::optional_tenant_id("owner_tenant_id", r.owner_tenant_id.as_deref())?;
        let revision = self
            .admin
            .upsert_resource(&actor, resource, owner)
            .await
            .map_err(|e| from_admin(&e))?;
        Ok(Response::new(pb::UpsertResourceResponse { revision }))
    }

    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Result<Response<pb::ListAuditEventsResponse>, Status> {
        let actor = self.actor(&request, "ListAuditEvents").await?;
        let r = request.into_inner();
        let text = |value: String| (!value.is_empty()).then_some(value);
        let filter = AuditFilter {
            actor: text(r.actor_user_id)
                .map(|id| convert::user_id("actor_user_id", &id))
                .transpose()?,
            action: text(r.action),
            outcome: text(r.outcome),
            since: (r.since_unix != 0).then_some(r.since_unix),
            until: (r.until_unix != 0).then_some(r.until_unix),
            after: text(r.page_token).map(|t| page_token(&t)).transpose()?,
            limit: u64::from(r.page_size),
        };
        let page = self
            .admin
            .list_audit_events(&actor, filter)
            .await
            .map_err(|e| from_admin(&e))?;
        let next_page_token = page
            .next
            .map(|(at, id)| format!("{at}.{id}"))
            .unwrap_or_default();
        Ok(Response::new(pb::ListAuditEventsResponse {
            events: page
                .events
                .into_iter()
                .map(|e| pb::AuditEvent {
                    id: e.id.to_string(),
                    at_unix: e.at,
                    actor_user_id: e.actor.map(|u| u.to_string()).unwrap_or_default(),
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
        convert::invalid(format!(
            "`page_token` `{token}` is not one this service handed out"
        ))
    };
    let (at, id) = token.split_once('.').ok_or_else(invalid)?;
    Ok((
        at.parse().map_err(|_| invalid())?,
        id.parse().map_err(|_| invalid())?,
    ))
}
