//! A small world for the engine's unit tests: two MSPs, a tagged customer with a
//! computer, and users built from (permission, scope, effect) grants.

use std::sync::Arc;

use crate::model::{
    AssignmentId, Effect, ResourceRef, ResourceType, RoleId, Scope, TagId, Tenant, TenantId,
    UserId, catalogue,
};

use super::{AssignmentFacts, EffectiveAccess, ResourceIndex, RoleFacts, TenantIndex, UserFacts};

pub struct World {
    pub tenants: TenantIndex,
    pub resources: ResourceIndex,
    pub msp: TenantId,
    pub customer: TenantId,
    pub other_msp: TenantId,
    pub tag: TagId,
    pub pc: ResourceRef,
}

/// MSP `msp` with customer `customer` (tagged `tag`, owning computer `pc`), and MSP
/// `other_msp`.
pub fn world() -> World {
    let msp = TenantId::random();
    let customer = TenantId::random();
    let other_msp = TenantId::random();
    let tag = TagId::random();
    let tenants = TenantIndex::build([
        tenant(msp, None, true, vec![]),
        tenant(customer, Some(msp), false, vec![tag]),
        tenant(other_msp, None, true, vec![]),
    ]);
    let pc = ResourceRef::new(ResourceType::Computer, "pc");
    let resources = [(pc.clone(), Some(customer))].into_iter().collect();
    World {
        tenants,
        resources,
        msp,
        customer,
        other_msp,
        tag,
        pc,
    }
}

/// A tenant row with no name.
pub fn tenant(id: TenantId, parent: Option<TenantId>, is_msp: bool, tags: Vec<TagId>) -> Tenant {
    Tenant {
        id,
        name: String::new(),
        parent,
        is_msp,
        tags,
    }
}

/// An active user of `tenant` holding one role per grant, each with one permission, in
/// the order given.
pub fn user(tenant: TenantId, grants: &[(&str, Scope, Effect)]) -> EffectiveAccess {
    let mut roles = Vec::new();
    let mut assignments = Vec::new();
    for (key, scope, effect) in grants {
        let role = Arc::new(RoleFacts {
            id: RoleId::random(),
            name: Arc::from(*key),
            permissions: [catalogue().id(key).expect("a catalogue key")]
                .into_iter()
                .collect(),
        });
        assignments.push(AssignmentFacts {
            id: AssignmentId::random(),
            role_id: role.id,
            scope: scope.clone(),
            effect: *effect,
            via_group: None,
        });
        roles.push(role);
    }
    let facts = UserFacts {
        id: UserId::random(),
        tenant_id: tenant,
        azure_object_id: uuid::Uuid::new_v4(),
        disabled: false,
        expires_at: None,
    };
    EffectiveAccess::compile(facts, Vec::new(), roles, assignments)
}
