//! `rbac.v1.AdminService`: the control plane. Each call's actor comes from metadata (a
//! verified token, or claimed headers when the server does not verify actors);
//! with `x-impersonate-user-id` the call runs as that user, when the actor may. Each
//! call's parsing, use-case and answer live in the file of its theme.

mod actor;
mod answers;
mod assignments;
mod groups;
mod instance;
mod roles;
mod tenants;
mod users;

pub use actor::{ACTOR_OBJECT_ID, ACTOR_TOKEN, ACTOR_USER_ID};

use std::str::FromStr;
use std::sync::Arc;

use tonic::{Request, Response, Status};

use super::pb::rbac::v1 as pb;
use crate::admin::{Actor, Admin};
use crate::api::convert::invalid;
use crate::identity::ActorVerifier;
use crate::model::{Action, shown};

/// The control-plane service over [`Admin`].
pub struct AdminApi {
    admin: Arc<Admin>,
    /// Some: actors are proven by a verified JWT, never by claimed headers alone.
    verifier: Option<Arc<ActorVerifier>>,
}

/// One admin call, its actor resolved: the themed files' handlers are its methods.
struct Call<'a> {
    admin: &'a Admin,
    actor: Actor,
}

type Reply<T> = Result<T, Status>;

/// An optional id field: empty means absent.
fn optional<T>(value: &str, parse: impl FnOnce(&str) -> Reply<T>) -> Reply<Option<T>> {
    (!value.is_empty()).then(|| parse(value)).transpose()
}

/// An optional field naming one of a set of values (`expected` says which): blank means
/// absent, and surrounding whitespace is ignored.
fn named<T: FromStr>(field: &str, value: &str, expected: &str) -> Reply<Option<T>> {
    optional(value.trim(), |v| {
        v.parse()
            .map_err(|_| invalid(format!("`{field}` `{}` is not {expected}", shown(v))))
    })
}

impl AdminApi {
    pub fn new(admin: Arc<Admin>, verifier: Option<Arc<ActorVerifier>>) -> Self {
        AdminApi { admin, verifier }
    }

    /// The call the request makes: its actor, resolved for `action`.
    async fn call<T>(&self, request: &Request<T>, action: Action) -> Reply<Call<'_>> {
        let actor = self.actor(request, action).await?;
        Ok(Call {
            admin: &self.admin,
            actor,
        })
    }
}

/// The service's methods, one a line: `theme::handler(Request) -> Answer: Action`. The
/// handler is the `Call` method of that name, and answers `Answer` or what converts into it;
/// `theme` says which file holds it (`theme.rs`, for the reader: the compiler does not
/// check it). `Action` names the call to the actor's
/// checks and in the audit log.
macro_rules! routes {
    ($($theme:ident::$method:ident($request:ident) -> $reply:ident: $action:ident;)*) => {
        #[tonic::async_trait]
        impl pb::admin_service_server::AdminService for AdminApi {
            $(
                async fn $method(&self, request: Request<pb::$request>) -> Reply<Response<pb::$reply>> {
                    let call = self.call(&request, Action::$action).await?;
                    let answer = call.$method(request.into_inner()).await?;
                    Ok(Response::new(answer.into()))
                }
            )*

            async fn submit_access_request(
                &self,
                request: Request<pb::SubmitAccessRequestRequest>,
            ) -> Reply<Response<pb::AccessRequest>> {
                let proven = self.proven(&request).await?;
                users::submit_access_request(&self.admin, proven, request.into_inner())
                    .await
                    .map(Response::new)
            }
        }
    };
}

routes! {
    tenants::create_tenant(CreateTenantRequest) -> Tenant: CreateTenant;
    tenants::get_tenant(GetTenantRequest) -> Tenant: GetTenant;
    tenants::list_tenants(ListTenantsRequest) -> ListTenantsResponse: ListTenants;
    tenants::update_tenant(UpdateTenantRequest) -> Tenant: UpdateTenant;
    tenants::delete_tenant(DeleteTenantRequest) -> DeleteTenantResponse: DeleteTenant;
    tenants::create_tag(CreateTagRequest) -> Tag: CreateTag;
    tenants::list_tags(ListTagsRequest) -> ListTagsResponse: ListTags;
    tenants::update_tag(UpdateTagRequest) -> Tag: UpdateTag;
    tenants::delete_tag(DeleteTagRequest) -> DeleteTagResponse: DeleteTag;
    tenants::add_tenant_tag(AddTenantTagRequest) -> AddTenantTagResponse: AddTenantTag;
    tenants::remove_tenant_tag(RemoveTenantTagRequest) -> RemoveTenantTagResponse: RemoveTenantTag;
    users::create_user(CreateUserRequest) -> User: CreateUser;
    users::get_user(GetUserRequest) -> User: GetUser;
    users::list_users(ListUsersRequest) -> ListUsersResponse: ListUsers;
    users::update_user(UpdateUserRequest) -> User: UpdateUser;
    users::delete_user(DeleteUserRequest) -> DeleteUserResponse: DeleteUser;
    users::set_user_disabled(SetUserDisabledRequest) -> User: SetUserDisabled;
    users::upsert_person(UpsertPersonRequest) -> Person: UpsertPerson;
    users::list_persons(ListPersonsRequest) -> ListPersonsResponse: ListPersons;
    users::promote_person(PromotePersonRequest) -> User: PromotePerson;
    users::list_access_requests(ListAccessRequestsRequest) -> ListAccessRequestsResponse: ListAccessRequests;
    users::approve_access_request(ApproveAccessRequestRequest) -> ApproveAccessRequestResponse: ApproveAccessRequest;
    users::reject_access_request(RejectAccessRequestRequest) -> AccessRequest: RejectAccessRequest;
    roles::create_role(CreateRoleRequest) -> Role: CreateRole;
    roles::get_role(GetRoleRequest) -> Role: GetRole;
    roles::update_role(UpdateRoleRequest) -> Role: UpdateRole;
    roles::delete_role(DeleteRoleRequest) -> DeleteRoleResponse: DeleteRole;
    roles::list_roles(ListRolesRequest) -> ListRolesResponse: ListRoles;
    roles::list_permissions(ListPermissionsRequest) -> ListPermissionsResponse: ListPermissions;
    groups::create_group(CreateGroupRequest) -> Group: CreateGroup;
    groups::get_group(GetGroupRequest) -> Group: GetGroup;
    groups::list_groups(ListGroupsRequest) -> ListGroupsResponse: ListGroups;
    groups::update_group(UpdateGroupRequest) -> Group: UpdateGroup;
    groups::delete_group(DeleteGroupRequest) -> DeleteGroupResponse: DeleteGroup;
    groups::add_group_member(AddGroupMemberRequest) -> AddGroupMemberResponse: AddGroupMember;
    groups::remove_group_member(RemoveGroupMemberRequest) -> RemoveGroupMemberResponse: RemoveGroupMember;
    groups::list_group_members(ListGroupMembersRequest) -> ListGroupMembersResponse: ListGroupMembers;
    groups::list_user_groups(ListUserGroupsRequest) -> ListUserGroupsResponse: ListUserGroups;
    assignments::create_role_assignment(CreateRoleAssignmentRequest) -> RoleAssignment: CreateRoleAssignment;
    assignments::delete_role_assignment(DeleteRoleAssignmentRequest) -> DeleteRoleAssignmentResponse: DeleteRoleAssignment;
    assignments::list_role_assignments(ListRoleAssignmentsRequest) -> ListRoleAssignmentsResponse: ListRoleAssignments;
    assignments::check_user_access(CheckUserAccessRequest) -> CheckUserAccessResponse: CheckUserAccess;
    assignments::get_my_access(GetMyAccessRequest) -> GetEffectiveAccessResponse: GetMyAccess;
    instance::get_preferences(GetPreferencesRequest) -> Preferences: GetPreferences;
    instance::update_preferences(UpdatePreferencesRequest) -> Preferences: UpdatePreferences;
    instance::start_impersonation(StartImpersonationRequest) -> StartImpersonationResponse: StartImpersonation;
    tenants::upsert_resource(UpsertResourceRequest) -> UpsertResourceResponse: UpsertResource;
    instance::list_audit_events(ListAuditEventsRequest) -> ListAuditEventsResponse: ListAuditEvents;
}
