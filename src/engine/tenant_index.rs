//! Immutable snapshots of the tenant tree with its tags, and of resource owners, shared
//! by every user's effective access so that a tenant or tag change rebuilds no user entry.

use std::collections::HashMap;

use crate::model::{ResourceRef, TagId, Tenant, TenantId};

/// One tenant, with every ancestor precomputed.
#[derive(Clone, Debug)]
pub struct TenantNode {
    pub id: TenantId,
    pub parent: Option<TenantId>,
    pub is_msp: bool,
    pub tags: Vec<TagId>,
    /// Parent first, root last.
    pub ancestors: Vec<TenantId>,
}

/// The tenant tree and tags at one revision.
#[derive(Clone, Debug, Default)]
pub struct TenantIndex {
    nodes: HashMap<TenantId, TenantNode>,
}

impl TenantIndex {
    /// Builds the index; a parent chain that loops or leaves the set is cut where it does.
    pub fn build(tenants: impl IntoIterator<Item = Tenant>) -> TenantIndex {
        let tenants: HashMap<TenantId, Tenant> = tenants.into_iter().map(|t| (t.id, t)).collect();
        let nodes = tenants
            .values()
            .map(|t| {
                let mut ancestors = Vec::new();
                let mut next = t.parent;
                while let Some(parent) = next {
                    if parent == t.id || ancestors.contains(&parent) {
                        break;
                    }
                    ancestors.push(parent);
                    next = tenants.get(&parent).and_then(|p| p.parent);
                }
                let node = TenantNode {
                    id: t.id,
                    parent: t.parent,
                    is_msp: t.is_msp,
                    tags: t.tags.clone(),
                    ancestors,
                };
                (t.id, node)
            })
            .collect();
        TenantIndex { nodes }
    }

    pub fn get(&self, id: TenantId) -> Option<&TenantNode> {
        self.nodes.get(&id)
    }

    pub fn contains(&self, id: TenantId) -> bool {
        self.nodes.contains_key(&id)
    }

    pub fn nodes(&self) -> impl Iterator<Item = &TenantNode> {
        self.nodes.values()
    }

    /// True when `tenant` is `ancestor` or lies below it.
    pub fn is_within(&self, tenant: TenantId, ancestor: TenantId) -> bool {
        tenant == ancestor
            || self
                .nodes
                .get(&tenant)
                .is_some_and(|n| n.ancestors.contains(&ancestor))
    }
}

/// Which tenant owns each registered resource (None: a global resource).
#[derive(Clone, Debug, Default)]
pub struct ResourceIndex {
    owners: HashMap<ResourceRef, Option<TenantId>>,
}

impl ResourceIndex {
    /// The owner of a registered resource; None when the resource is not registered.
    pub fn owner(&self, resource: &ResourceRef) -> Option<Option<TenantId>> {
        self.owners.get(resource).copied()
    }

    /// Records a resource's owner, or forgets the resource when `owner` is None.
    pub fn set(&mut self, resource: ResourceRef, owner: Option<Option<TenantId>>) {
        match owner {
            Some(owner) => self.owners.insert(resource, owner),
            None => self.owners.remove(&resource),
        };
    }
}

impl FromIterator<(ResourceRef, Option<TenantId>)> for ResourceIndex {
    fn from_iter<I: IntoIterator<Item = (ResourceRef, Option<TenantId>)>>(iter: I) -> Self {
        ResourceIndex {
            owners: iter.into_iter().collect(),
        }
    }
}
