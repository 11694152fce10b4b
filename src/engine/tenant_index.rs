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

/// How deep the tenant tree may grow: a tenant has at most this many ancestors. Checks
/// walk a tenant's ancestors, so the bound keeps every check and every index build short.
pub const MAX_TENANT_DEPTH: usize = 32;

impl TenantIndex {
    /// Builds the index in time linear in the tenants (times their depth): each chain of
    /// ancestors is walked once, up to the first tenant already done. A parent chain that
    /// loops or leaves the set is cut where it does.
    pub fn build(tenants: impl IntoIterator<Item = Tenant>) -> TenantIndex {
        let tenants: HashMap<TenantId, Tenant> = tenants.into_iter().map(|t| (t.id, t)).collect();
        // Root first, so that a child's chain is its parent's plus the parent.
        let mut chains: HashMap<TenantId, Vec<TenantId>> = HashMap::with_capacity(tenants.len());
        for id in tenants.keys() {
            let mut path = Vec::new();
            let mut next = Some(*id);
            while let Some(at) = next {
                if !tenants.contains_key(&at) {
                    next = None;
                    break;
                }
                if chains.contains_key(&at) || path.contains(&at) {
                    break;
                }
                path.push(at);
                next = tenants.get(&at).and_then(|t| t.parent);
            }
            let mut chain = match next {
                Some(done) if chains.contains_key(&done) => {
                    let mut chain = chains[&done].clone();
                    chain.push(done);
                    chain
                }
                _ => Vec::new(),
            };
            for at in path.into_iter().rev() {
                chains.insert(at, chain.clone());
                chain.push(at);
            }
        }
        let nodes = tenants
            .into_values()
            .map(|t| {
                let mut ancestors = chains.remove(&t.id).unwrap_or_default();
                ancestors.reverse();
                let node = TenantNode {
                    id: t.id,
                    parent: t.parent,
                    is_msp: t.is_msp,
                    tags: t.tags,
                    ancestors,
                };
                (node.id, node)
            })
            .collect();
        TenantIndex { nodes }
    }

    /// The depth of the deepest tenant at or below `root`, counted from `root` (0: no
    /// children).
    pub fn height(&self, root: TenantId) -> usize {
        let Some(top) = self.nodes.get(&root) else {
            return 0;
        };
        self.nodes
            .values()
            .filter(|n| n.ancestors.contains(&root))
            .map(|n| n.ancestors.len() - top.ancestors.len())
            .max()
            .unwrap_or(0)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn tenant(id: TenantId, parent: Option<TenantId>) -> Tenant {
        Tenant {
            id,
            name: String::new(),
            parent,
            is_msp: false,
            tags: Vec::new(),
        }
    }

    #[test]
    fn ancestors_are_parent_first_and_chains_are_shared() {
        let ids: Vec<TenantId> = (0..5).map(|_| TenantId::random()).collect();
        let mut tenants = vec![tenant(ids[0], None)];
        tenants.extend((1..5).map(|i| tenant(ids[i], Some(ids[i - 1]))));
        // A parent that is not in the set ends the chain.
        let orphan = TenantId::random();
        tenants.push(tenant(orphan, Some(TenantId::random())));
        let index = TenantIndex::build(tenants);
        assert_eq!(
            index.get(ids[4]).unwrap().ancestors,
            vec![ids[3], ids[2], ids[1], ids[0]]
        );
        assert!(index.get(ids[0]).unwrap().ancestors.is_empty());
        assert!(index.is_within(ids[4], ids[1]));
        assert!(!index.is_within(ids[1], ids[4]));
        assert_eq!(index.height(ids[1]), 3);
        assert_eq!(index.height(ids[4]), 0);
        assert!(index.get(orphan).unwrap().ancestors.is_empty());
    }

    #[test]
    fn a_loop_is_cut_instead_of_followed_forever() {
        let (a, b) = (TenantId::random(), TenantId::random());
        let index = TenantIndex::build([tenant(a, Some(b)), tenant(b, Some(a))]);
        assert!(index.get(a).unwrap().ancestors.len() <= 1);
        assert!(index.get(b).unwrap().ancestors.len() <= 1);
    }
}
