//! Applying a batch of the change log: exact invalidation of the users it touched, and
//! the tenant tree and resource owners as it leaves them, published as one revision.

use std::collections::HashMap;
use std::sync::Arc;

use sea_orm::ConnectionTrait;

use super::{AccessCache, AppliedState};
use crate::engine::{ResourceIndex, TenantIndex};
use crate::model::{GroupId, ResourceRef, RoleId, Tenant, TenantId, UserId};
use crate::store::{self, Change, StoreError};

/// The indexes as a batch of changes leaves them (None: unchanged), for `publish`.
#[derive(Default)]
pub(super) struct Indexes {
    pub(super) tenants: Option<TenantIndex>,
    pub(super) resources: Option<ResourceIndex>,
}

/// What a batch of changes asks the indexes to read again.
#[derive(Default)]
pub(super) struct Touched {
    pub(super) tenants: Vec<TenantId>,
    /// Every tenant (a bulk load).
    pub(super) whole_tree: bool,
    pub(super) resources: Vec<ResourceRef>,
}

/// What `changes` ask the indexes to read again.
fn touched(changes: &[Change]) -> Result<Touched, StoreError> {
    let mut touched = Touched::default();
    for change in changes {
        match change {
            Change::Tenants { ids } if ids.is_empty() => touched.whole_tree = true,
            Change::Tenants { ids } => {
                touched.tenants.extend(ids.iter().map(|id| TenantId(*id)));
            }
            Change::Resource { .. } => touched.resources.extend(change.resource()?),
            Change::User { .. } | Change::Role { .. } | Change::Group { .. } => {}
        }
    }
    touched.tenants.sort_unstable();
    touched.tenants.dedup();
    Ok(touched)
}

impl AccessCache {
    /// Invalidates exactly what the changes touched, and says what the indexes must read
    /// again.
    pub(super) fn invalidate_for(&self, changes: &[Change]) -> Result<Touched, StoreError> {
        for change in changes {
            match change {
                Change::User { id } => self.invalidate_user(UserId(*id)),
                Change::Role { id } => {
                    let role = RoleId(*id);
                    self.invalidate_where(move |_, a| a.uses_role(role));
                }
                Change::Group { id } => {
                    let group = GroupId(*id);
                    self.invalidate_where(move |_, a| a.in_group(group));
                }
                Change::Tenants { .. } | Change::Resource { .. } => {}
            }
        }
        touched(changes)
    }

    /// The tenant tree and resource owners as `changes` leave them, read through `db` (a
    /// write's own transaction, before it commits), without touching the cache: what a
    /// preview compares with the applied state.
    pub async fn state_after<C: ConnectionTrait>(
        &self,
        db: &C,
        changes: &[Change],
    ) -> Result<(Arc<TenantIndex>, ResourceIndex), StoreError> {
        let indexes = self.indexes_after(db, touched(changes)?).await?;
        let current = self.state.load();
        Ok((
            indexes
                .tenants
                .map_or_else(|| Arc::clone(&current.tenants), Arc::new),
            indexes
                .resources
                .unwrap_or_else(|| current.resources.clone()),
        ))
    }

    /// Applies changes, reading through `db`: exact invalidation, resource owners, and
    /// the tenant tree as it is after them, for `publish` to make current.
    pub(super) async fn apply_with<C: ConnectionTrait>(
        &self,
        db: &C,
        changes: &[Change],
    ) -> Result<Indexes, StoreError> {
        // Tenant changes are gathered, so a burst updates the tree once.
        let touched = self.invalidate_for(changes)?;
        self.indexes_after(db, touched).await
    }

    /// The indexes with what `touched` names read again through `db`.
    async fn indexes_after<C: ConnectionTrait>(
        &self,
        db: &C,
        touched: Touched,
    ) -> Result<Indexes, StoreError> {
        let tenants = if touched.whole_tree {
            Some(TenantIndex::build(store::tenants(db).await?))
        } else if touched.tenants.is_empty() {
            None
        } else {
            let rows = store::tenants_with_ids(db, &touched.tenants).await?;
            Some(self.tenants_with(touched.tenants, rows))
        };
        let mut owners = Vec::with_capacity(touched.resources.len());
        for resource in touched.resources {
            let owner = store::find_resource(db, &resource).await?;
            owners.push((resource, owner));
        }
        Ok(Indexes {
            tenants,
            resources: self.resources_with(owners),
        })
    }

    /// The applied tenant tree with these tenants' rows replaced (a tenant with no row
    /// left is taken out).
    pub(super) fn tenants_with(&self, ids: Vec<TenantId>, rows: Vec<Tenant>) -> TenantIndex {
        let mut rows: HashMap<TenantId, Tenant> = rows.into_iter().map(|t| (t.id, t)).collect();
        let changed = ids.into_iter().map(|id| (id, rows.remove(&id)));
        self.state.load().tenants.with(changed)
    }

    /// The applied resource owners with these replaced (None: no longer registered);
    /// None when there are none.
    pub(super) fn resources_with(
        &self,
        owners: Vec<(ResourceRef, Option<Option<TenantId>>)>,
    ) -> Option<ResourceIndex> {
        if owners.is_empty() {
            return None;
        }
        let mut resources = self.state.load().resources.clone();
        for (resource, owner) in owners {
            resources.set(resource, owner);
        }
        Some(resources)
    }

    /// Makes `revision` the applied one, with the indexes as of it, and records what
    /// changed for the feed (None: unknown, after a resync). The caller holds the apply
    /// lock.
    pub(super) fn publish(&self, revision: u64, indexes: Indexes, changes: Option<&[Change]>) {
        self.record(revision, changes);
        let current = self.state.load();
        let tenants = indexes
            .tenants
            .map_or_else(|| Arc::clone(&current.tenants), Arc::new);
        let resources = indexes
            .resources
            .unwrap_or_else(|| current.resources.clone());
        self.state.store(Arc::new(AppliedState {
            revision,
            tenants,
            resources,
        }));
        self.applied.send_replace(revision);
    }
}
