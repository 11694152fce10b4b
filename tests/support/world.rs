//! Small helpers to build a world through AdminService and ask CheckAccess.

use rbac_sidecar::api::pb::rbac::v1 as pb;

use crate::support::as_admin;

pub type Admin = pb::admin_service_client::AdminServiceClient<super::Client>;
pub type Authz = pb::authorization_service_client::AuthorizationServiceClient<super::Client>;

pub async fn tenant(
    admin: &mut Admin,
    name: &str,
    parent: Option<&str>,
    is_msp: bool,
) -> pb::Tenant {
    let request = pb::CreateTenantRequest {
        name: name.into(),
        parent_tenant_id: parent.map(Into::into),
        is_msp,
        validate_only: false,
    };
    admin
        .create_tenant(as_admin(request))
        .await
        .unwrap()
        .into_inner()
}

/// A user with a fresh Azure object id.
pub async fn user(admin: &mut Admin, tenant: &str) -> pb::User {
    user_with_object_id(admin, tenant, &uuid::Uuid::new_v4().to_string()).await
}

pub async fn user_with_object_id(admin: &mut Admin, tenant: &str, object_id: &str) -> pb::User {
    let request = pb::CreateUserRequest {
        tenant_id: tenant.into(),
        email: format!("{object_id}@example.com"),
        first_name: String::new(),
        last_name: String::new(),
        azure_object_id: object_id.to_owned(),
        validate_only: false,
    };
    admin
        .create_user(as_admin(request))
        .await
        .unwrap()
        .into_inner()
}

pub async fn role(admin: &mut Admin, permissions: &[&str]) -> pb::Role {
    let request = pb::CreateRoleRequest {
        name: "role".into(),
        description: String::new(),
        owner_tenant_id: None,
        permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
        validate_only: false,
    };
    admin
        .create_role(as_admin(request))
        .await
        .unwrap()
        .into_inner()
}

pub fn scope(kind: pb::scope::Kind) -> Option<pb::Scope> {
    Some(pb::Scope { kind: Some(kind) })
}

pub async fn assign(
    admin: &mut Admin,
    role: &str,
    user: &str,
    scope: Option<pb::Scope>,
    effect: pb::Effect,
) -> pb::RoleAssignment {
    let request = pb::CreateRoleAssignmentRequest {
        role_id: role.into(),
        principal: Some(pb::Principal {
            kind: Some(pb::principal::Kind::UserId(user.into())),
        }),
        scope,
        effect: effect as i32,
        validate_only: false,
    };
    admin
        .create_role_assignment(as_admin(request))
        .await
        .unwrap()
        .into_inner()
}

pub fn check_request(
    user: &str,
    permission: &str,
    tenant: &str,
    min_revision: u64,
) -> pb::CheckAccessRequest {
    pb::CheckAccessRequest {
        subject: Some(pb::check_access_request::Subject::UserId(user.into())),
        permission: permission.into(),
        target: Some(pb::Target {
            kind: Some(pb::target::Kind::TenantId(tenant.into())),
        }),
        explain: false,
        min_revision,
    }
}

/// The decision, or the status of a refused check.
pub async fn check(
    authz: &mut Authz,
    user: &str,
    permission: &str,
    tenant: &str,
    min_revision: u64,
) -> Result<pb::Decision, tonic::Status> {
    let response = authz
        .check_access(check_request(user, permission, tenant, min_revision))
        .await?
        .into_inner();
    Ok(pb::Decision::try_from(response.decision).unwrap())
}

/// How far a replica has followed the change log.
pub async fn status(authz: &mut Authz) -> pb::GetReplicaStatusResponse {
    authz
        .get_replica_status(pb::GetReplicaStatusRequest {})
        .await
        .unwrap()
        .into_inner()
}

/// The call failed with this code and a message that mentions `needle`.
pub fn assert_status<T: std::fmt::Debug>(
    result: Result<T, tonic::Status>,
    code: tonic::Code,
    needle: &str,
) {
    let status = result.expect_err("the call must fail");
    assert_eq!(status.code(), code, "{}", status.message());
    assert!(
        status.message().contains(needle),
        "`{}` does not mention `{needle}`",
        status.message()
    );
}

/// A request to give a role to a user or a group at a scope.
pub fn assignment_request(
    role: &str,
    principal: pb::principal::Kind,
    scope: pb::scope::Kind,
    effect: pb::Effect,
) -> pb::CreateRoleAssignmentRequest {
    pb::CreateRoleAssignmentRequest {
        role_id: role.into(),
        principal: Some(pb::Principal {
            kind: Some(principal),
        }),
        scope: Some(pb::Scope { kind: Some(scope) }),
        effect: effect as i32,
        validate_only: false,
    }
}

/// Gives a role to a user or a group at a scope.
pub async fn grant(
    admin: &mut Admin,
    role: &str,
    principal: pb::principal::Kind,
    scope: pb::scope::Kind,
    effect: pb::Effect,
) -> pb::RoleAssignment {
    let request = assignment_request(role, principal, scope, effect);
    admin
        .create_role_assignment(as_admin(request))
        .await
        .unwrap()
        .into_inner()
}

/// A custom role owned by a tenant, or public.
pub async fn owned_role(admin: &mut Admin, owner: Option<&str>, permissions: &[&str]) -> pb::Role {
    let request = pb::CreateRoleRequest {
        name: format!("role of {}", owner.unwrap_or("nobody")),
        description: String::new(),
        owner_tenant_id: owner.map(Into::into),
        permissions: permissions.iter().map(|p| (*p).to_owned()).collect(),
        validate_only: false,
    };
    admin
        .create_role(as_admin(request))
        .await
        .unwrap()
        .into_inner()
}

pub async fn group(admin: &mut Admin, name: &str, owner: Option<&str>) -> pb::Group {
    let request = pb::CreateGroupRequest {
        name: name.into(),
        description: String::new(),
        owner_tenant_id: owner.map(Into::into),
        validate_only: false,
    };
    admin
        .create_group(as_admin(request))
        .await
        .unwrap()
        .into_inner()
}

/// The id of a built-in role.
pub fn built_in(name: &str) -> String {
    rbac_sidecar::model::catalogue()
        .built_in_role_by_name(name)
        .unwrap()
        .id
        .to_string()
}

/// A request from `actor`, made while they impersonate `user_id`.
pub fn impersonating<T>(actor: &str, user_id: &str, message: T) -> tonic::Request<T> {
    let mut request = crate::support::as_actor(actor, message);
    request
        .metadata_mut()
        .insert("x-impersonate-user-id", user_id.parse().unwrap());
    request
}

/// The newest audit event of an admin call (`action`), with `outcome` when not empty.
pub async fn newest_event(admin: &mut Admin, action: &str, outcome: &str) -> pb::AuditEvent {
    let request = pb::ListAuditEventsRequest {
        action: action.into(),
        outcome: outcome.into(),
        page_size: 1,
        ..Default::default()
    };
    let events = admin.list_audit_events(as_admin(request)).await.unwrap();
    events.into_inner().events.remove(0)
}

/// How many refused admin calls the server's database has audited.
pub async fn refused_audit_rows(url: &str) -> i64 {
    use sea_orm::{ConnectionTrait, Database, Statement};
    let db = Database::connect(url).await.unwrap();
    let row = db
        .query_one_raw(Statement::from_string(
            db.get_database_backend(),
            "SELECT COUNT(*) AS n FROM audit_events WHERE outcome = 'refused'",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}
