//! Mapping between ReplicationService's messages and the cache's: what the tier sends
//! (`*_to_pb`) and what a sidecar reads back. A message that does not parse is refused
//! whole, so a sidecar never applies half a batch.

use std::sync::Arc;

use tonic::Status;

use super::convert::{effect, effect_to_pb, invalid, resource, resource_to_pb, scope, scope_to_pb};
use super::pb::rbac::v1 as pb;
use crate::cache::{FedBatch, Subject};
use crate::engine::{AssignmentFacts, EffectiveAccess, RoleFacts, UserFacts};
use crate::model::{
    AssignmentId, GroupId, PermissionSet, ResourceRef, ResourceType, RoleId, TagId, Tenant,
    TenantId, UserId, catalogue, parse_uuid,
};
use crate::store::Change;

fn parsed<T>(parsed: Result<T, crate::model::InvalidId>) -> Result<T, Status> {
    parsed.map_err(|e| invalid(e.to_string()))
}

fn optional(value: &str) -> Option<&str> {
    Some(value).filter(|v| !v.is_empty())
}

pub fn changes_to_pb(changes: &[Change]) -> Vec<pb::Change> {
    use pb::change::Kind;
    let mut out = Vec::with_capacity(changes.len());
    for change in changes {
        match change {
            Change::User { id } => out.push(Kind::UserId(id.to_string())),
            Change::Role { id } => out.push(Kind::RoleId(id.to_string())),
            Change::Group { id } => out.push(Kind::GroupId(id.to_string())),
            Change::Tenants { ids } => {
                out.extend(ids.iter().map(|id| Kind::TenantId(id.to_string())))
            }
            Change::Resource {
                resource_type,
                resource_id,
            } => out.push(Kind::Resource(pb::ResourceRef {
                r#type: resource_type.clone(),
                id: resource_id.clone(),
            })),
        }
    }
    out.into_iter()
        .map(|kind| pb::Change { kind: Some(kind) })
        .collect()
}

fn change(change: &pb::Change) -> Result<Change, Status> {
    use pb::change::Kind;
    let id = |field, value: &str| parsed(parse_uuid(field, value));
    Ok(match &change.kind {
        Some(Kind::UserId(v)) => Change::User {
            id: id("user_id", v)?,
        },
        Some(Kind::RoleId(v)) => Change::Role {
            id: id("role_id", v)?,
        },
        Some(Kind::GroupId(v)) => Change::Group {
            id: id("group_id", v)?,
        },
        Some(Kind::TenantId(v)) => Change::Tenants {
            ids: vec![id("tenant_id", v)?],
        },
        Some(Kind::Resource(r)) => {
            let r = resource(r)?;
            Change::Resource {
                resource_type: r.kind.as_str().to_owned(),
                resource_id: r.id.to_string(),
            }
        }
        None => return Err(invalid("a change names nothing")),
    })
}

pub fn tenant_to_pb(tenant: &Tenant) -> pb::TenantNode {
    pb::TenantNode {
        id: tenant.id.to_string(),
        parent_tenant_id: tenant.parent.map(|p| p.to_string()).unwrap_or_default(),
        is_msp: tenant.is_msp,
        tag_ids: tenant.tags.iter().map(ToString::to_string).collect(),
    }
}

pub fn tenant(node: &pb::TenantNode) -> Result<Tenant, Status> {
    Ok(Tenant {
        id: parsed(TenantId::parse("tenant.id", &node.id))?,
        name: String::new(),
        parent: optional(&node.parent_tenant_id)
            .map(|p| parsed(TenantId::parse("tenant.parent_tenant_id", p)))
            .transpose()?,
        is_msp: node.is_msp,
        tags: node
            .tag_ids
            .iter()
            .map(|t| parsed(TagId::parse("tenant.tag_ids", t)))
            .collect::<Result<_, _>>()?,
    })
}

pub fn owner_to_pb(resource: &ResourceRef, owner: Option<TenantId>) -> pb::ResourceOwner {
    pb::ResourceOwner {
        resource: Some(resource_to_pb(resource)),
        owner_tenant_id: owner.map(|o| o.to_string()).unwrap_or_default(),
    }
}

fn owner(row: &pb::ResourceOwner) -> Result<(ResourceRef, Option<TenantId>), Status> {
    let r = row
        .resource
        .as_ref()
        .ok_or_else(|| invalid("a resource owner names no resource"))?;
    let owner = optional(&row.owner_tenant_id)
        .map(|o| parsed(TenantId::parse("owner_tenant_id", o)))
        .transpose()?;
    Ok((resource(r)?, owner))
}

pub fn batch_to_pb(batch: &FedBatch) -> pb::WatchChangesResponse {
    pb::WatchChangesResponse {
        revision: batch.revision,
        changes: changes_to_pb(&batch.changes),
        tenants: batch.tenants.iter().map(tenant_to_pb).collect(),
        resources: batch
            .resources
            .iter()
            .map(|(r, owner)| owner_to_pb(r, *owner))
            .collect(),
        resync: false,
    }
}

/// A resource of a type this binary does not know (a newer tier): no check can name it,
/// so a sidecar leaves it out rather than refuse the whole feed.
fn known_type(resource: &pb::ResourceRef) -> bool {
    resource.r#type.parse::<ResourceType>().is_ok()
}

/// The resource owners of a message, but those of unknown types.
pub fn owners(rows: &[pb::ResourceOwner]) -> Result<Vec<(ResourceRef, Option<TenantId>)>, Status> {
    rows.iter()
        .filter(|row| row.resource.as_ref().is_none_or(known_type))
        .map(owner)
        .collect()
}

pub fn batch(message: &pb::WatchChangesResponse) -> Result<FedBatch, Status> {
    let known = |c: &&pb::Change| match &c.kind {
        Some(pb::change::Kind::Resource(r)) => known_type(r),
        _ => true,
    };
    Ok(FedBatch {
        revision: message.revision,
        changes: message
            .changes
            .iter()
            .filter(known)
            .map(change)
            .collect::<Result<_, _>>()?,
        tenants: message
            .tenants
            .iter()
            .map(tenant)
            .collect::<Result<_, _>>()?,
        resources: owners(&message.resources)?,
    })
}

pub fn subject_to_pb(subject: Subject) -> pb::load_access_request::Subject {
    use pb::load_access_request::Subject as S;
    match subject {
        Subject::User(id) => S::UserId(id.to_string()),
        Subject::AzureObject(id) => S::AzureObjectId(id.to_string()),
    }
}

pub fn access_to_pb(access: &EffectiveAccess) -> pb::AccessFacts {
    let user = &access.user;
    pb::AccessFacts {
        user_id: user.id.to_string(),
        tenant_id: user.tenant_id.to_string(),
        azure_object_id: user.azure_object_id.to_string(),
        disabled: user.disabled,
        expires_at_unix: user.expires_at.unwrap_or_default(),
        group_ids: access.groups.iter().map(ToString::to_string).collect(),
        roles: access
            .roles
            .iter()
            .map(|role| pb::RoleFacts {
                id: role.id.to_string(),
                name: role.name.to_string(),
                permissions: catalogue().keys(&role.permissions),
            })
            .collect(),
        assignments: access
            .grants
            .iter()
            .map(|grant| pb::AssignmentFacts {
                id: grant.assignment_id.to_string(),
                role_id: access.role_of(grant).id.to_string(),
                scope: Some(scope_to_pb(&grant.scope)),
                effect: effect_to_pb(grant.effect),
                via_group_id: access
                    .via_group(grant)
                    .map(|g| g.to_string())
                    .unwrap_or_default(),
            })
            .collect(),
    }
}

/// A user's facts as the tier sent them, compiled. A permission this binary does not know
/// (a newer tier) fails the load: a role must never silently lose a deny.
pub fn access(facts: &pb::AccessFacts) -> Result<EffectiveAccess, Status> {
    let user = UserFacts {
        id: parsed(UserId::parse("user_id", &facts.user_id))?,
        tenant_id: parsed(TenantId::parse("tenant_id", &facts.tenant_id))?,
        azure_object_id: parsed(parse_uuid("azure_object_id", &facts.azure_object_id))?,
        disabled: facts.disabled,
        expires_at: Some(facts.expires_at_unix).filter(|at| *at != 0),
    };
    let groups = facts
        .group_ids
        .iter()
        .map(|g| parsed(GroupId::parse("group_ids", g)))
        .collect::<Result<_, _>>()?;
    let mut roles = Vec::with_capacity(facts.roles.len());
    for role in &facts.roles {
        let mut permissions = PermissionSet::default();
        for key in &role.permissions {
            let id = catalogue().id(key).ok_or_else(|| {
                invalid(format!(
                    "the tier sent permission `{key}`, which this binary does not know; run the same version as the tier"
                ))
            })?;
            permissions.insert(id);
        }
        roles.push(Arc::new(RoleFacts {
            id: parsed(RoleId::parse("role.id", &role.id))?,
            name: role.name.as_str().into(),
            permissions,
        }));
    }
    let assignments = facts
        .assignments
        .iter()
        .map(|a| {
            Ok(AssignmentFacts {
                id: parsed(AssignmentId::parse("assignment.id", &a.id))?,
                role_id: parsed(RoleId::parse("assignment.role_id", &a.role_id))?,
                scope: scope(a.scope.as_ref())?,
                effect: effect(a.effect)?,
                via_group: optional(&a.via_group_id)
                    .map(|g| parsed(GroupId::parse("assignment.via_group_id", g)))
                    .transpose()?,
            })
        })
        .collect::<Result<_, Status>>()?;
    Ok(EffectiveAccess::compile(user, groups, roles, assignments))
}
