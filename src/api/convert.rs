//! Mapping between the proto messages and the model, with field-named INVALID_ARGUMENT
//! errors for anything malformed.

use tonic::Status;

use super::pb::rbac::v1 as pb;
use crate::data_plane::{CheckOutcome, Subject, TargetRef};
use crate::engine::{AccessPreview, Decision, EffectiveAccess, Target};
use crate::model::{
    Effect, Group, GroupId, PermissionId, Principal, ResourceRef, Scope, TagId, TenantId, UserId,
    catalogue, parse_uuid,
};

pub fn invalid(message: impl Into<String>) -> Status {
    Status::invalid_argument(message)
}

pub fn tenant_id(field: &'static str, value: &str) -> Result<TenantId, Status> {
    TenantId::parse(field, value).map_err(|e| invalid(e.to_string()))
}

pub fn optional_tenant_id(
    field: &'static str,
    value: Option<&str>,
) -> Result<Option<TenantId>, Status> {
    value
        .filter(|v| !v.is_empty())
        .map(|v| tenant_id(field, v))
        .transpose()
}

pub fn user_id(field: &'static str, value: &str) -> Result<UserId, Status> {
    UserId::parse(field, value).map_err(|e| invalid(e.to_string()))
}

pub fn group_id(field: &'static str, value: &str) -> Result<GroupId, Status> {
    GroupId::parse(field, value).map_err(|e| invalid(e.to_string()))
}

pub fn tag_id(field: &'static str, value: &str) -> Result<TagId, Status> {
    TagId::parse(field, value).map_err(|e| invalid(e.to_string()))
}

pub fn permission(key: &str) -> Result<PermissionId, Status> {
    catalogue().id(key).ok_or_else(|| {
        invalid(format!(
            "unknown permission `{}`; AdminService/ListPermissions shows the catalogue",
            crate::model::shown(key)
        ))
    })
}

pub fn resource(r: &pb::ResourceRef) -> Result<ResourceRef, Status> {
    let kind = r
        .r#type
        .parse()
        .map_err(|e: crate::model::UnknownResourceType| invalid(e.to_string()))?;
    ResourceRef::named(kind, &r.id).map_err(|e| invalid(e.to_string()))
}

pub fn resource_to_pb(r: &ResourceRef) -> pb::ResourceRef {
    pb::ResourceRef {
        r#type: r.kind.as_str().to_owned(),
        id: r.id.to_string(),
    }
}

macro_rules! subject {
    ($name:ident, $oneof:path) => {
        pub fn $name(subject: Option<$oneof>) -> Result<Subject, Status> {
            use $oneof as S;
            match subject {
                Some(S::UserId(id)) => Ok(Subject::User(user_id("user_id", &id)?)),
                Some(S::AzureObjectId(id)) => parse_uuid("azure_object_id", &id)
                    .map(Subject::AzureObject)
                    .map_err(|e| invalid(e.to_string())),
                None => Err(invalid(
                    "set `user_id` or `azure_object_id` to say whose access to check",
                )),
            }
        }
    };
}

subject!(check_subject, pb::check_access_request::Subject);
subject!(tenants_subject, pb::list_permitted_tenants_request::Subject);
subject!(access_subject, pb::get_effective_access_request::Subject);
subject!(load_subject, pb::load_access_request::Subject);

pub fn target(target: Option<&pb::Target>) -> Result<TargetRef, Status> {
    match target.and_then(|t| t.kind.as_ref()) {
        None => Ok(TargetRef::None),
        Some(pb::target::Kind::TenantId(id)) => {
            Ok(TargetRef::Tenant(tenant_id("target.tenant_id", id)?))
        }
        Some(pb::target::Kind::Resource(r)) => Ok(TargetRef::Resource(resource(r)?)),
    }
}

pub fn scope(scope: Option<&pb::Scope>) -> Result<Scope, Status> {
    use pb::scope::Kind;
    match scope.and_then(|s| s.kind.as_ref()) {
        None => Err(invalid(
            "`scope` must be set: owner, msp_tenant_id, tenant_id, tenant_tag_id, users_tenant or resource",
        )),
        Some(Kind::Owner(())) => Ok(Scope::Owner),
        Some(Kind::MspTenantId(id)) => Ok(Scope::Msp(tenant_id("scope.msp_tenant_id", id)?)),
        Some(Kind::TenantId(id)) => Ok(Scope::Tenant(tenant_id("scope.tenant_id", id)?)),
        Some(Kind::TenantTagId(id)) => Ok(Scope::TenantTag(tag_id("scope.tenant_tag_id", id)?)),
        Some(Kind::UsersTenant(())) => Ok(Scope::UsersTenant),
        Some(Kind::Resource(r)) => Ok(Scope::Resource(resource(r)?)),
    }
}

pub fn scope_to_pb(scope: &Scope) -> pb::Scope {
    use pb::scope::Kind;
    let kind = match scope {
        Scope::Owner => Kind::Owner(()),
        Scope::Msp(t) => Kind::MspTenantId(t.to_string()),
        Scope::Tenant(t) => Kind::TenantId(t.to_string()),
        Scope::TenantTag(g) => Kind::TenantTagId(g.to_string()),
        Scope::UsersTenant => Kind::UsersTenant(()),
        Scope::Resource(r) => Kind::Resource(resource_to_pb(r)),
    };
    pb::Scope { kind: Some(kind) }
}

pub fn effect(value: i32) -> Result<Effect, Status> {
    match pb::Effect::try_from(value) {
        Ok(pb::Effect::Allow) => Ok(Effect::Allow),
        Ok(pb::Effect::Deny) => Ok(Effect::Deny),
        _ => Err(invalid("`effect` must be EFFECT_ALLOW or EFFECT_DENY")),
    }
}

pub fn effect_to_pb(effect: Effect) -> i32 {
    match effect {
        Effect::Allow => pb::Effect::Allow as i32,
        Effect::Deny => pb::Effect::Deny as i32,
    }
}

pub fn principal(principal: Option<&pb::Principal>) -> Result<Principal, Status> {
    match principal.and_then(|p| p.kind.as_ref()) {
        Some(pb::principal::Kind::UserId(id)) => {
            Ok(Principal::User(user_id("principal.user_id", id)?))
        }
        Some(pb::principal::Kind::GroupId(id)) => {
            Ok(Principal::Group(group_id("principal.group_id", id)?))
        }
        None => Err(invalid("`principal` must name a `user_id` or a `group_id`")),
    }
}

pub fn principal_to_pb(principal: Principal) -> pb::Principal {
    let kind = match principal {
        Principal::User(id) => pb::principal::Kind::UserId(id.to_string()),
        Principal::Group(id) => pb::principal::Kind::GroupId(id.to_string()),
    };
    pb::Principal { kind: Some(kind) }
}

pub fn decision_to_pb(decision: Decision) -> pb::Decision {
    match decision {
        Decision::Allowed => pb::Decision::Allowed,
        Decision::NotGranted => pb::Decision::NotGranted,
        Decision::Denied => pb::Decision::Denied,
        Decision::UserInactive => pb::Decision::UserInactive,
    }
}

pub fn preview_to_pb(preview: AccessPreview) -> pb::AccessPreview {
    let target = |target: Target| {
        let kind = match target {
            Target::None => return None,
            Target::Tenant(id) => pb::target::Kind::TenantId(id.to_string()),
            Target::Resource { resource, .. } => {
                pb::target::Kind::Resource(resource_to_pb(&resource))
            }
        };
        Some(pb::Target { kind: Some(kind) })
    };
    pb::AccessPreview {
        changes: preview
            .changes
            .into_iter()
            .map(|change| pb::AccessChange {
                user_id: change.user.to_string(),
                permission: catalogue().get(change.permission).key.clone(),
                target: target(change.target),
                before: decision_to_pb(change.before) as i32,
                after: decision_to_pb(change.after) as i32,
            })
            .collect(),
        truncated: preview.truncated,
        users_affected: preview.users_affected,
    }
}

pub fn check_response_to_pb(outcome: CheckOutcome) -> pb::CheckAccessResponse {
    pb::CheckAccessResponse {
        allowed: outcome.decision == Decision::Allowed,
        decision: decision_to_pb(outcome.decision) as i32,
        revision: outcome.revision,
        explanation: outcome
            .explanation
            .into_iter()
            .map(|e| pb::AppliedAssignment {
                assignment_id: e.grant.assignment_id.to_string(),
                role_id: e.role_id.to_string(),
                role_name: e.role_name.to_string(),
                effect: effect_to_pb(e.grant.effect),
                scope: Some(scope_to_pb(&e.grant.scope)),
                via_group_id: e.via_group.map(|g| g.to_string()).unwrap_or_default(),
                decisive: e.decisive,
            })
            .collect(),
        reason: outcome.reason,
    }
}

pub fn effective_access_to_pb(
    access: &EffectiveAccess,
    groups: Vec<Group>,
    revision: u64,
) -> pb::GetEffectiveAccessResponse {
    pb::GetEffectiveAccessResponse {
        user_id: access.user_id().to_string(),
        tenant_id: access.tenant_id().to_string(),
        active: access.user.is_active(crate::model::unix_now()),
        groups: groups
            .into_iter()
            .map(|g| pb::GroupRef {
                id: g.id.to_string(),
                name: g.name,
            })
            .collect(),
        assignments: access
            .grants
            .iter()
            .map(|g| {
                let role = access.role_of(g);
                pb::EffectiveAssignment {
                    assignment_id: g.assignment_id.to_string(),
                    role_id: role.id.to_string(),
                    role_name: role.name.to_string(),
                    effect: effect_to_pb(g.effect),
                    scope: Some(scope_to_pb(&g.scope)),
                    via_group_id: access
                        .via_group(g)
                        .map(|id| id.to_string())
                        .unwrap_or_default(),
                    permissions: catalogue().keys(&role.permissions),
                }
            })
            .collect(),
        allowed_permissions: catalogue().keys(&access.allowed_permissions()),
        revision,
    }
}
