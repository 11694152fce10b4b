//! Immutable snapshots of the tenant tree with its tags, and of resource owners, shared
//! by every user's effective access so that a tenant or tag change rebuilds no user entry.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use crate::model::{ResourceRef, TagId, Tenant, TenantId};

/// One tenant, with every ancestor precomputed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TenantNode {
    pub id: TenantId,
    pub parent: Option<TenantId>,
    pub is_msp: bool,
    pub tags: Vec<TagId>,
    /// Parent first, root last.
    pub ancestors: Vec<TenantId>,
}

impl TenantNode {
    /// The tenant's row as far as the tree holds it (no name).
    pub fn to_row(&self) -> Tenant {
        Tenant {
            id: self.id,
            name: String::new(),
            parent: self.parent,
            is_msp: self.is_msp,
            tags: self.tags.clone(),
        }
    }
}

/// The tenant tree and tags at one revision. Nodes are shared between snapshots, so a
/// change to a few tenants copies pointers, not the tree.
#[derive(Clone, Debug, Default)]
pub struct TenantIndex {
    nodes: HashMap<TenantId, Arc<TenantNode>>,
}

/// How deep the tenant tree may grow: a tenant has at most this many ancestors. Checks
/// walk a tenant's ancestors, so the bound keeps every check and every index build short.
pub const MAX_TENANT_DEPTH: usize = 32;

impl TenantIndex {
    /// Builds the index in time linear in the tenants (times their depth). A parent
    /// chain that loops or leaves the set is cut where it does.
    pub fn build(tenants: impl IntoIterator<Item = Tenant>) -> TenantIndex {
        TenantIndex::default().with(tenants.into_iter().map(|t| (t.id, Some(t))))
    }

    /// This index with some tenants replaced by their rows at a newer revision (None: the
    /// tenant is gone). Costs a copy of the map's pointers plus the changed tenants'
    /// chains; a tenant that moved or went away also costs one pass over the tree, to
    /// give everything below it its new ancestors.
    pub fn with(&self, changed: impl IntoIterator<Item = (TenantId, Option<Tenant>)>) -> Self {
        let mut nodes = self.nodes.clone();
        let mut stale = HashSet::new();
        let mut moved = HashSet::new();
        for (id, tenant) in changed {
            let before = match tenant {
                Some(t) => {
                    stale.insert(id);
                    let node = TenantNode {
                        id,
                        parent: t.parent,
                        is_msp: t.is_msp,
                        tags: t.tags,
                        ancestors: Vec::new(),
                    };
                    nodes.insert(id, Arc::new(node))
                }
                None => {
                    stale.remove(&id);
                    nodes.remove(&id)
                }
            };
            let parent = nodes.get(&id).map(|n| n.parent);
            if before.is_some_and(|b| parent != Some(b.parent)) {
                moved.insert(id);
            }
        }
        if !moved.is_empty() {
            let below = nodes
                .values()
                .filter(|n| n.ancestors.iter().any(|a| moved.contains(a)));
            stale.extend(below.map(|n| n.id).collect::<Vec<_>>());
        }
        settle(&mut nodes, stale);
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
        self.nodes.get(&id).map(|n| &**n)
    }

    pub fn contains(&self, id: TenantId) -> bool {
        self.nodes.contains_key(&id)
    }

    pub fn nodes(&self) -> impl Iterator<Item = &TenantNode> {
        self.nodes.values().map(|n| &**n)
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

/// Gives each `stale` tenant its ancestors from its parent's; every other tenant's are
/// trusted. Each chain is walked once, up to the first tenant already settled, so the
/// cost is linear in the stale tenants (times their depth).
fn settle(nodes: &mut HashMap<TenantId, Arc<TenantNode>>, mut stale: HashSet<TenantId>) {
    let ids: Vec<TenantId> = stale.iter().copied().collect();
    for id in ids {
        // The stale tenants from `id` up, and the chain (root first) above the topmost.
        let mut path = Vec::new();
        let mut next = Some(id);
        let mut above = loop {
            let Some(node) = next.and_then(|at| nodes.get(&at)) else {
                break Vec::new();
            };
            if !stale.contains(&node.id) {
                let mut above: Vec<TenantId> = node.ancestors.iter().rev().copied().collect();
                above.push(node.id);
                break above;
            }
            if path.contains(&node.id) {
                break Vec::new();
            }
            path.push(node.id);
            next = node.parent;
        };
        for at in path.into_iter().rev() {
            if let Some(node) = nodes.get_mut(&at) {
                Arc::make_mut(node).ancestors = above.iter().rev().copied().collect();
            }
            stale.remove(&at);
            above.push(at);
        }
    }
}

/// Which tenant owns each registered resource (None: a global resource). A persistent
/// map: a copy shares all but what it changes, so each revision's state has its own.
#[derive(Clone, Debug, Default)]
pub struct ResourceIndex {
    owners: imbl::HashMap<ResourceRef, Option<TenantId>>,
}

impl ResourceIndex {
    /// The owner of a registered resource; None when the resource is not registered.
    pub fn owner(&self, resource: &ResourceRef) -> Option<Option<TenantId>> {
        self.owners.get(resource).copied()
    }

    /// Every registered resource and its owner.
    pub fn iter(&self) -> impl Iterator<Item = (&ResourceRef, &Option<TenantId>)> {
        self.owners.iter()
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
    use crate::model::ResourceType;

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
        assert!(index.contains(orphan) && !index.contains(TenantId::random()));
    }

    #[test]
    fn a_resource_index_records_owners_and_forgets() {
        let owner = TenantId::random();
        let (pc, script) = (
            ResourceRef::new(ResourceType::Computer, "pc"),
            ResourceRef::new(ResourceType::Script, "global"),
        );
        let mut index: ResourceIndex = [(pc.clone(), Some(owner))].into_iter().collect();
        index.set(script.clone(), Some(None));
        assert_eq!(index.owner(&pc), Some(Some(owner)));
        assert_eq!(
            index.owner(&script),
            Some(None),
            "registered, owned by no tenant"
        );
        let mut listed: Vec<_> = index.iter().map(|(r, o)| (r.clone(), *o)).collect();
        listed.sort_by(|a, b| a.0.id.cmp(&b.0.id));
        assert_eq!(listed, [(script.clone(), None), (pc.clone(), Some(owner))]);
        index.set(pc.clone(), None);
        assert_eq!(index.owner(&pc), None, "forgotten");
    }

    #[test]
    fn a_loop_is_cut_instead_of_followed_forever() {
        let (a, b) = (TenantId::random(), TenantId::random());
        let index = TenantIndex::build([tenant(a, Some(b)), tenant(b, Some(a))]);
        assert!(index.get(a).unwrap().ancestors.len() <= 1);
        assert!(index.get(b).unwrap().ancestors.len() <= 1);
    }

    /// Every node, in id order, for comparing two indexes.
    fn shape(index: &TenantIndex) -> Vec<TenantNode> {
        let mut nodes: Vec<TenantNode> = index.nodes().cloned().collect();
        nodes.sort_by_key(|n| n.id);
        nodes
    }

    proptest::proptest! {
        /// Changing some tenants of an index gives the index built from scratch of the
        /// resulting tenants: creates, moves (subtrees included), tags and deletions.
        #[test]
        fn an_updated_index_equals_one_built_anew(
            parents in proptest::collection::vec(proptest::option::of(0usize..40), 1..40),
            edits in proptest::collection::vec((0usize..60, proptest::option::of(0usize..60), 0u8..4), 0..12),
        ) {
            let ids: Vec<TenantId> = (0..60).map(|_| TenantId::random()).collect();
            let tag = TagId::random();
            // A forest: each tenant's parent comes before it, so there is no loop.
            let mut tenants: HashMap<TenantId, Tenant> = parents
                .iter()
                .enumerate()
                .map(|(i, p)| tenant(ids[i], p.filter(|p| *p < i).map(|p| ids[p])))
                .map(|t| (t.id, t))
                .collect();
            let before = TenantIndex::build(tenants.values().cloned());
            let mut changed = Vec::new();
            for (at, parent, kind) in edits {
                let id = ids[at];
                match kind {
                    // Delete a tenant without children.
                    0 if !tenants.values().any(|t| t.parent == Some(id)) => {
                        tenants.remove(&id);
                    }
                    // Create or move under a tenant that is not below it (no loop).
                    1 | 2 => {
                        let parent = parent
                            .map(|p| ids[p])
                            .filter(|p| tenants.contains_key(p) && !TenantIndex::build(tenants.values().cloned()).is_within(*p, id));
                        let t = tenants.entry(id).or_insert_with(|| tenant(id, None));
                        t.parent = parent;
                    }
                    3 => {
                        if let Some(t) = tenants.get_mut(&id) {
                            t.tags = vec![tag];
                            t.is_msp = !t.is_msp;
                        }
                    }
                    _ => continue,
                }
                changed.push(id);
            }
            let updated = before.with(changed.into_iter().map(|id| (id, tenants.get(&id).cloned())));
            proptest::prop_assert_eq!(shape(&updated), shape(&TenantIndex::build(tenants.into_values())));
        }
    }
}
