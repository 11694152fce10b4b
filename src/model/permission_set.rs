//! Permission ids and sets: a permission set is a bitset over the catalogue's dense ids.

/// The most permissions a [`PermissionSet`] can hold.
pub const MAX_PERMISSIONS: usize = 128;

/// A permission's position in the catalogue: the bit it owns in a [`PermissionSet`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PermissionId(pub(super) u8);

impl PermissionId {
    pub fn index(self) -> usize {
        usize::from(self.0)
    }
}

/// A set of permissions as a fixed bitset: membership is one shift and one mask.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct PermissionSet([u64; MAX_PERMISSIONS / 64]);

impl PermissionSet {
    pub fn insert(&mut self, id: PermissionId) {
        self.0[id.index() / 64] |= 1 << (id.index() % 64);
    }

    pub fn contains(&self, id: PermissionId) -> bool {
        self.0[id.index() / 64] & (1 << (id.index() % 64)) != 0
    }

    pub fn union(&self, other: &PermissionSet) -> PermissionSet {
        let mut out = *self;
        for (word, theirs) in out.0.iter_mut().zip(other.0) {
            *word |= theirs;
        }
        out
    }

    pub fn intersects(&self, other: &PermissionSet) -> bool {
        self.0.iter().zip(other.0).any(|(a, b)| a & b != 0)
    }

    pub fn is_empty(&self) -> bool {
        self.0.iter().all(|w| *w == 0)
    }

    pub fn len(&self) -> usize {
        self.0.iter().map(|w| w.count_ones() as usize).sum()
    }

    /// The members, in catalogue order.
    pub fn iter(&self) -> impl Iterator<Item = PermissionId> + '_ {
        (0..MAX_PERMISSIONS)
            .filter_map(|i| u8::try_from(i).ok().map(PermissionId))
            .filter(|id| self.contains(*id))
    }
}

impl FromIterator<PermissionId> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = PermissionId>>(iter: I) -> Self {
        let mut set = PermissionSet::default();
        for id in iter {
            set.insert(id);
        }
        set
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permission_set_is_a_set() {
        let mut set = PermissionSet::default();
        let a = PermissionId(3);
        let b = PermissionId(127);
        set.insert(a);
        set.insert(b);
        set.insert(a);
        assert_eq!(set.len(), 2);
        assert!(set.contains(b) && !set.contains(PermissionId(4)));
        assert_eq!(set.iter().collect::<Vec<_>>(), vec![a, b]);
    }
}
