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
use crate::api::convert::{self, invalid};
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
/// check it). `Action` names the call to the actor's checks and in the audit log. A
/// `write` takes `validate_only` and answers with its `preview` (AIP-163); a `read`
/// changes nothing.
macro_rules! routes {
    ($($kind:ident $theme:ident::$method:ident($request:ident) -> $reply:ident: $action:ident;)*) => {
        #[tonic::async_trait]
        impl pb::admin_service_server::AdminService for AdminApi {
            $(
                async fn $method(&self, request: Request<pb::$request>) -> Reply<Response<pb::$reply>> {
                    routes!(@$kind self, request, $method, $reply, $action)
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
    (@read $api:ident, $request:ident, $method:ident, $reply:ident, $action:ident) => {{
        let call = $api.call(&$request, Action::$action).await?;
        let answer = call.$method($request.into_inner()).await?;
        Ok(Response::new(answer.into()))
    }};
    (@write $api:ident, $request:ident, $method:ident, $reply:ident, $action:ident) => {{
        let mut call = $api.call(&$request, Action::$action).await?;
        if $request.get_ref().validate_only {
            call.actor = call.actor.previewing();
        }
        // Shares where the preview is left with the actor the call consumes.
        let actor = call.actor.clone();
        let answer = call.$method($request.into_inner()).await?;
        let mut reply: pb::$reply = answer.into();
        reply.preview = actor.preview().map(convert::preview_to_pb);
        Ok(Response::new(reply))
    }};
}

routes! {
    write tenants::create_tenant(CreateTenantRequest) -> Tenant: CreateTenant;
    read tenants::get_tenant(GetTenantRequest) -> Tenant: GetTenant;
    read tenants::list_tenants(ListTenantsRequest) -> ListTenantsResponse: ListTenants;
    write tenants::update_tenant(UpdateTenantRequest) -> Tenant: UpdateTenant;
    write tenants::delete_tenant(DeleteTenantRequest) -> DeleteTenantResponse: DeleteTenant;
    write tenants::create_tag(CreateTagRequest) -> Tag: CreateTag;
    read tenants::list_tags(ListTagsRequest) -> ListTagsResponse: ListTags;
    write tenants::update_tag(UpdateTagRequest) -> Tag: UpdateTag;
    write tenants::delete_tag(DeleteTagRequest) -> DeleteTagResponse: DeleteTag;
    write tenants::add_tenant_tag(AddTenantTagRequest) -> AddTenantTagResponse: AddTenantTag;
    write tenants::remove_tenant_tag(RemoveTenantTagRequest) -> RemoveTenantTagResponse: RemoveTenantTag;
    write users::create_user(CreateUserRequest) -> User: CreateUser;
    read users::get_user(GetUserRequest) -> User: GetUser;
    read users::list_users(ListUsersRequest) -> ListUsersResponse: ListUsers;
    write users::update_user(UpdateUserRequest) -> User: UpdateUser;
    write users::delete_user(DeleteUserRequest) -> DeleteUserResponse: DeleteUser;
    write users::set_user_disabled(SetUserDisabledRequest) -> User: SetUserDisabled;
    write users::upsert_person(UpsertPersonRequest) -> Person: UpsertPerson;
    read users::list_persons(ListPersonsRequest) -> ListPersonsResponse: ListPersons;
    write users::promote_person(PromotePersonRequest) -> User: PromotePerson;
    read users::list_access_requests(ListAccessRequestsRequest) -> ListAccessRequestsResponse: ListAccessRequests;
    write users::approve_access_request(ApproveAccessRequestRequest) -> ApproveAccessRequestResponse: ApproveAccessRequest;
    write users::reject_access_request(RejectAccessRequestRequest) -> AccessRequest: RejectAccessRequest;
    write roles::create_role(CreateRoleRequest) -> Role: CreateRole;
    read roles::get_role(GetRoleRequest) -> Role: GetRole;
    write roles::update_role(UpdateRoleRequest) -> Role: UpdateRole;
    write roles::delete_role(DeleteRoleRequest) -> DeleteRoleResponse: DeleteRole;
    read roles::list_roles(ListRolesRequest) -> ListRolesResponse: ListRoles;
    read roles::list_permissions(ListPermissionsRequest) -> ListPermissionsResponse: ListPermissions;
    write groups::create_group(CreateGroupRequest) -> Group: CreateGroup;
    read groups::get_group(GetGroupRequest) -> Group: GetGroup;
    read groups::list_groups(ListGroupsRequest) -> ListGroupsResponse: ListGroups;
    write groups::update_group(UpdateGroupRequest) -> Group: UpdateGroup;
    write groups::delete_group(DeleteGroupRequest) -> DeleteGroupResponse: DeleteGroup;
    write groups::add_group_member(AddGroupMemberRequest) -> AddGroupMemberResponse: AddGroupMember;
    write groups::remove_group_member(RemoveGroupMemberRequest) -> RemoveGroupMemberResponse: RemoveGroupMember;
    read groups::list_group_members(ListGroupMembersRequest) -> ListGroupMembersResponse: ListGroupMembers;
    read groups::list_user_groups(ListUserGroupsRequest) -> ListUserGroupsResponse: ListUserGroups;
    write assignments::create_role_assignment(CreateRoleAssignmentRequest) -> RoleAssignment: CreateRoleAssignment;
    write assignments::delete_role_assignment(DeleteRoleAssignmentRequest) -> DeleteRoleAssignmentResponse: DeleteRoleAssignment;
    read assignments::list_role_assignments(ListRoleAssignmentsRequest) -> ListRoleAssignmentsResponse: ListRoleAssignments;
    read assignments::check_user_access(CheckUserAccessRequest) -> CheckUserAccessResponse: CheckUserAccess;
    read assignments::get_my_access(GetMyAccessRequest) -> GetEffectiveAccessResponse: GetMyAccess;
    read instance::get_preferences(GetPreferencesRequest) -> Preferences: GetPreferences;
    write instance::update_preferences(UpdatePreferencesRequest) -> Preferences: UpdatePreferences;
    write instance::start_impersonation(StartImpersonationRequest) -> StartImpersonationResponse: StartImpersonation;
    write tenants::upsert_resource(UpsertResourceRequest) -> UpsertResourceResponse: UpsertResource;
    read instance::list_audit_events(ListAuditEventsRequest) -> ListAuditEventsResponse: ListAuditEvents;
    read instance::export_instance(ExportInstanceRequest) -> ExportInstanceResponse: ExportInstance;
    write instance::apply_instance(ApplyInstanceRequest) -> ApplyInstanceResponse: ApplyInstance;
}
