//! `rbac.v1.AdminService`: the control plane. Each call's actor comes from metadata;
//! with `x-impersonate-user-id` the call runs as that user, when the actor may. Each
//! call's parsing, use-case and answer live in the file of its theme.

mod actor;
mod assignments;
mod groups;
mod instance;
mod roles;
mod tenants;
mod users;

use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::pb::rbac::v1 as pb;
use crate::admin::{Actor, Admin};
use crate::model::Action;

/// The control-plane service over [`Admin`].
pub struct AdminApi {
    admin: Arc<Admin>,
}

/// An optional id field: empty means absent.
fn optional<T>(
    value: &str,
    parse: impl FnOnce(&str) -> Result<T, Status>,
) -> Result<Option<T>, Status> {
    (!value.is_empty()).then(|| parse(value)).transpose()
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
}

#[tonic::async_trait]
impl pb::admin_service_server::AdminService for AdminApi {
    async fn create_tenant(
        &self,
        request: Request<pb::CreateTenantRequest>,
    ) -> Result<Response<pb::Tenant>, Status> {
        self.call(request, Action::CreateTenant, tenants::create_tenant)
            .await
    }

    async fn get_tenant(
        &self,
        request: Request<pb::GetTenantRequest>,
    ) -> Result<Response<pb::Tenant>, Status> {
        self.call(request, Action::GetTenant, tenants::get_tenant)
            .await
    }

    async fn list_tenants(
        &self,
        request: Request<pb::ListTenantsRequest>,
    ) -> Result<Response<pb::ListTenantsResponse>, Status> {
        self.call(request, Action::ListTenants, tenants::list_tenants)
            .await
    }

    async fn update_tenant(
        &self,
        request: Request<pb::UpdateTenantRequest>,
    ) -> Result<Response<pb::Tenant>, Status> {
        self.call(request, Action::UpdateTenant, tenants::update_tenant)
            .await
    }

    async fn delete_tenant(
        &self,
        request: Request<pb::DeleteTenantRequest>,
    ) -> Result<Response<pb::DeleteTenantResponse>, Status> {
        self.call(request, Action::DeleteTenant, tenants::delete_tenant)
            .await
    }

    async fn create_tag(
        &self,
        request: Request<pb::CreateTagRequest>,
    ) -> Result<Response<pb::Tag>, Status> {
        self.call(request, Action::CreateTag, tenants::create_tag)
            .await
    }

    async fn list_tags(
        &self,
        request: Request<pb::ListTagsRequest>,
    ) -> Result<Response<pb::ListTagsResponse>, Status> {
        self.call(request, Action::ListTags, tenants::list_tags)
            .await
    }

    async fn update_tag(
        &self,
        request: Request<pb::UpdateTagRequest>,
    ) -> Result<Response<pb::Tag>, Status> {
        self.call(request, Action::UpdateTag, tenants::update_tag)
            .await
    }

    async fn delete_tag(
        &self,
        request: Request<pb::DeleteTagRequest>,
    ) -> Result<Response<pb::DeleteTagResponse>, Status> {
        self.call(request, Action::DeleteTag, tenants::delete_tag)
            .await
    }

    async fn add_tenant_tag(
        &self,
        request: Request<pb::AddTenantTagRequest>,
    ) -> Result<Response<pb::AddTenantTagResponse>, Status> {
        self.call(request, Action::AddTenantTag, tenants::add_tenant_tag)
            .await
    }

    async fn remove_tenant_tag(
        &self,
        request: Request<pb::RemoveTenantTagRequest>,
    ) -> Result<Response<pb::RemoveTenantTagResponse>, Status> {
        self.call(request, Action::RemoveTenantTag, tenants::remove_tenant_tag)
            .await
    }

    async fn create_user(
        &self,
        request: Request<pb::CreateUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        self.call(request, Action::CreateUser, users::create_user)
            .await
    }

    async fn get_user(
        &self,
        request: Request<pb::GetUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        self.call(request, Action::GetUser, users::get_user).await
    }

    async fn list_users(
        &self,
        request: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        self.call(request, Action::ListUsers, users::list_users)
            .await
    }

    async fn update_user(
        &self,
        request: Request<pb::UpdateUserRequest>,
    ) -> Result<Response<pb::User>, Status> {
        self.call(request, Action::UpdateUser, users::update_user)
            .await
    }

    async fn delete_user(
        &self,
        request: Request<pb::DeleteUserRequest>,
    ) -> Result<Response<pb::DeleteUserResponse>, Status> {
        self.call(request, Action::DeleteUser, users::delete_user)
            .await
    }

    async fn set_user_disabled(
        &self,
        request: Request<pb::SetUserDisabledRequest>,
    ) -> Result<Response<pb::User>, Status> {
        self.call(request, Action::SetUserDisabled, users::set_user_disabled)
            .await
    }

    async fn upsert_person(
        &self,
        request: Request<pb::UpsertPersonRequest>,
    ) -> Result<Response<pb::Person>, Status> {
        self.call(request, Action::UpsertPerson, users::upsert_person)
            .await
    }

    async fn list_persons(
        &self,
        request: Request<pb::ListPersonsRequest>,
    ) -> Result<Response<pb::ListPersonsResponse>, Status> {
        self.call(request, Action::ListPersons, users::list_persons)
            .await
    }

    async fn promote_person(
        &self,
        request: Request<pb::PromotePersonRequest>,
    ) -> Result<Response<pb::User>, Status> {
        self.call(request, Action::PromotePerson, users::promote_person)
            .await
    }

    async fn submit_access_request(
        &self,
        request: Request<pb::SubmitAccessRequestRequest>,
    ) -> Result<Response<pb::AccessRequest>, Status> {
        // No actor: whoever asks cannot sign in yet.
        users::submit_access_request(&self.admin, request.into_inner())
            .await
            .map(Response::new)
    }

    async fn list_access_requests(
        &self,
        request: Request<pb::ListAccessRequestsRequest>,
    ) -> Result<Response<pb::ListAccessRequestsResponse>, Status> {
        self.call(
            request,
            Action::ListAccessRequests,
            users::list_access_requests,
        )
        .await
    }

    async fn approve_access_request(
        &self,
        request: Request<pb::ApproveAccessRequestRequest>,
    ) -> Result<Response<pb::ApproveAccessRequestResponse>, Status> {
        self.call(
            request,
            Action::ApproveAccessRequest,
            users::approve_access_request,
        )
        .await
    }

    async fn reject_access_request(
        &self,
        request: Request<pb::RejectAccessRequestRequest>,
    ) -> Result<Response<pb::AccessRequest>, Status> {
        self.call(
            request,
            Action::RejectAccessRequest,
            users::reject_access_request,
        )
        .await
    }

    async fn create_role(
        &self,
        request: Request<pb::CreateRoleRequest>,
    ) -> Result<Response<pb::Role>, Status> {
        self.call(request, Action::CreateRole, roles::create_role)
            .await
    }

    async fn get_role(
        &self,
        request: Request<pb::GetRoleRequest>,
    ) -> Result<Response<pb::Role>, Status> {
        self.call(request, Action::GetRole, roles::get_role).await
    }

    async fn update_role(
        &self,
        request: Request<pb::UpdateRoleRequest>,
    ) -> Result<Response<pb::Role>, Status> {
        self.call(request, Action::UpdateRole, roles::update_role)
            .await
    }

    async fn delete_role(
        &self,
        request: Request<pb::DeleteRoleRequest>,
    ) -> Result<Response<pb::DeleteRoleResponse>, Status> {
        self.call(request, Action::DeleteRole, roles::delete_role)
            .await
    }

    async fn list_roles(
        &self,
        request: Request<pb::ListRolesRequest>,
    ) -> Result<Response<pb::ListRolesResponse>, Status> {
        self.call(request, Action::ListRoles, roles::list_roles)
            .await
    }

    async fn list_permissions(
        &self,
        request: Request<pb::ListPermissionsRequest>,
    ) -> Result<Response<pb::ListPermissionsResponse>, Status> {
        self.call(request, Action::ListPermissions, roles::list_permissions)
            .await
    }

    async fn create_group(
        &self,
        request: Request<pb::CreateGroupRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        self.call(request, Action::CreateGroup, groups::create_group)
            .await
    }

    async fn get_group(
        &self,
        request: Request<pb::GetGroupRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        self.call(request, Action::GetGroup, groups::get_group)
            .await
    }

    async fn list_groups(
        &self,
        request: Request<pb::ListGroupsRequest>,
    ) -> Result<Response<pb::ListGroupsResponse>, Status> {
        self.call(request, Action::ListGroups, groups::list_groups)
            .await
    }

    async fn update_group(
        &self,
        request: Request<pb::UpdateGroupRequest>,
    ) -> Result<Response<pb::Group>, Status> {
        self.call(request, Action::UpdateGroup, groups::update_group)
            .await
    }

    async fn delete_group(
        &self,
        request: Request<pb::DeleteGroupRequest>,
    ) -> Result<Response<pb::DeleteGroupResponse>, Status> {
        self.call(request, Action::DeleteGroup, groups::delete_group)
            .await
    }

    async fn add_group_member(
        &self,
        request: Request<pb::AddGroupMemberRequest>,
    ) -> Result<Response<pb::AddGroupMemberResponse>, Status> {
        self.call(request, Action::AddGroupMember, groups::add_group_member)
            .await
    }

    async fn remove_group_member(
        &self,
        request: Request<pb::RemoveGroupMemberRequest>,
    ) -> Result<Response<pb::RemoveGroupMemberResponse>, Status> {
        self.call(
            request,
            Action::RemoveGroupMember,
            groups::remove_group_member,
        )
        .await
    }

    async fn list_group_members(
        &self,
        request: Request<pb::ListGroupMembersRequest>,
    ) -> Result<Response<pb::ListGroupMembersResponse>, Status> {
        self.call(
            request,
            Action::ListGroupMembers,
            groups::list_group_members,
        )
        .await
    }

    async fn list_user_groups(
        &self,
        request: Request<pb::ListUserGroupsRequest>,
    ) -> Result<Response<pb::ListUserGroupsResponse>, Status> {
        self.call(request, Action::ListUserGroups, groups::list_user_groups)
            .await
    }

    async fn create_role_assignment(
        &self,
        request: Request<pb::CreateRoleAssignmentRequest>,
    ) -> Result<Response<pb::RoleAssignment>, Status> {
        self.call(
            request,
            Action::CreateRoleAssignment,
            assignments::create_role_assignment,
        )
        .await
    }

    async fn delete_role_assignment(
        &self,
        request: Request<pb::DeleteRoleAssignmentRequest>,
    ) -> Result<Response<pb::DeleteRoleAssignmentResponse>, Status> {
        self.call(
            request,
            Action::DeleteRoleAssignment,
            assignments::delete_role_assignment,
        )
        .await
    }

    async fn list_role_assignments(
        &self,
        request: Request<pb::ListRoleAssignmentsRequest>,
    ) -> Result<Response<pb::ListRoleAssignmentsResponse>, Status> {
        self.call(
            request,
            Action::ListRoleAssignments,
            assignments::list_role_assignments,
        )
        .await
    }

    async fn check_user_access(
        &self,
        request: Request<pb::CheckUserAccessRequest>,
    ) -> Result<Response<pb::CheckUserAccessResponse>, Status> {
        self.call(
            request,
            Action::CheckUserAccess,
            assignments::check_user_access,
        )
        .await
    }

    async fn get_my_access(
        &self,
        request: Request<pb::GetMyAccessRequest>,
    ) -> Result<Response<pb::GetEffectiveAccessResponse>, Status> {
        self.call(request, Action::GetMyAccess, assignments::get_my_access)
            .await
    }

    async fn get_preferences(
        &self,
        request: Request<pb::GetPreferencesRequest>,
    ) -> Result<Response<pb::Preferences>, Status> {
        self.call(request, Action::GetPreferences, instance::get_preferences)
            .await
    }

    async fn update_preferences(
        &self,
        request: Request<pb::UpdatePreferencesRequest>,
    ) -> Result<Response<pb::Preferences>, Status> {
        self.call(
            request,
            Action::UpdatePreferences,
            instance::update_preferences,
        )
        .await
    }

    async fn start_impersonation(
        &self,
        request: Request<pb::StartImpersonationRequest>,
    ) -> Result<Response<pb::StartImpersonationResponse>, Status> {
        self.call(
            request,
            Action::StartImpersonation,
            instance::start_impersonation,
        )
        .await
    }

    async fn upsert_resource(
        &self,
        request: Request<pb::UpsertResourceRequest>,
    ) -> Result<Response<pb::UpsertResourceResponse>, Status> {
        self.call(request, Action::UpsertResource, tenants::upsert_resource)
            .await
    }

    async fn list_audit_events(
        &self,
        request: Request<pb::ListAuditEventsRequest>,
    ) -> Result<Response<pb::ListAuditEventsResponse>, Status> {
        self.call(
            request,
            Action::ListAuditEvents,
            instance::list_audit_events,
        )
        .await
    }
}
