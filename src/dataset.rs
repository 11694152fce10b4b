//! A synthetic world at any scale, written in bulk in one transaction, for benchmarks
//! and load runs (`rbac-sidecar dataset`).

use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, EntityTrait};
use uuid::Uuid;

use crate::model::{Action, Outcome, TenantId, UserId, catalogue, unix_now};
use crate::store::entity::{
    group, group_member, role, role_assignment, role_permission, tag, tenant, tenant_tag, user,
};
use crate::store::{AuditRecord, Change, Store, StoreError, Write};

/// How big a world to generate.
#[derive(Clone, Debug)]
pub struct DatasetSpec {
    pub msps: usize,
    pub tenants: usize,
    pub tags: usize,
    pub roles: usize,
    pub users: usize,
    pub groups: usize,
    pub members_per_group: usize,
    pub assignments_per_group: usize,
    /// Total assignments, group ones included; the rest are spread over the users.
    pub assignments: usize,
    pub seed: u64,
}

impl DatasetSpec {
    /// The scale of the performance targets: 10,000 tenants, 100,000 users,
    /// 1,000,000 assignments.
    pub fn target_scale() -> DatasetSpec {
        DatasetSpec {
            msps: 20,
            tenants: 10_000,
            tags: 50,
            roles: 50,
            users: 100_000,
            groups: 1_000,
            members_per_group: 50,
            assignments_per_group: 2,
            assignments: 1_000_000,
            seed: 0x5eed,
        }
    }
}

/// What was generated: ids to ask about.
#[derive(Clone, Debug)]
pub struct Dataset {
    pub tenants: Vec<TenantId>,
    pub users: Vec<UserId>,
    pub revision: u64,
}

/// A small deterministic generator (xorshift64), so that a seed always gives the same
/// synthetic world; benches and soak tests use it too. Not for anything secret.
pub struct Xorshift(pub u64);

impl Xorshift {
    /// A number in `0..n` (0 when `n` is 0).
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        usize::try_from(self.0 % u64::try_from(n.max(1)).unwrap_or(1)).unwrap_or(0)
    }

    /// Up to `draws` distinct numbers in `0..n`, in order.
    pub fn distinct_below(&mut self, n: usize, draws: usize) -> Vec<usize> {
        let mut chosen: Vec<usize> = (0..draws).map(|_| self.below(n)).collect();
        chosen.sort_unstable();
        chosen.dedup();
        chosen
    }
}

/// `n` new random ids.
fn new_ids(n: usize) -> Vec<Uuid> {
    (0..n).map(|_| Uuid::new_v4()).collect()
}

/// Inserts rows in chunks that stay under every backend's bind-parameter limit.
async fn insert_all<A>(write: &Write<'_>, rows: Vec<A>, columns: usize) -> Result<(), StoreError>
where
    A: ActiveModelTrait + Send,
{
    let per_chunk = (30_000 / columns).max(1);
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<A> = rows.by_ref().take(per_chunk).collect();
        <A::Entity as EntityTrait>::insert_many(chunk)
            .exec_without_returning(write.txn())
            .await?;
    }
    Ok(())
}

impl Store {
    /// Writes a synthetic world of the given size in one transaction.
    pub async fn generate_dataset(&self, spec: &DatasetSpec) -> Result<Dataset, StoreError> {
        let mut random = Xorshift(spec.seed | 1);
        let now = unix_now();
        let mut write = self.begin_write().await?;

        let tenant_ids = new_ids(spec.tenants);
        let msps = spec.msps.clamp(1, spec.tenants.max(1));
        let tenants = tenant_ids
            .iter()
            .enumerate()
            .map(|(i, id)| tenant::ActiveModel {
                id: Set(*id),
                name: Set(format!("tenant {i}")),
                parent_id: Set((i >= msps).then(|| tenant_ids[i % msps])),
                is_msp: Set(i < msps),
            });
        insert_all(&write, tenants.collect(), 4).await?;
        let tag_ids = new_ids(spec.tags);
        let tags = tag_ids.iter().enumerate().map(|(i, id)| tag::ActiveModel {
            id: Set(*id),
            name: Set(format!("dataset tag {i} {id}")),
        });
        insert_all(&write, tags.collect(), 2).await?;
        if !tag_ids.is_empty() {
            let tagged = tenant_ids
                .iter()
                .step_by(5)
                .map(|t| tenant_tag::ActiveModel {
                    tenant_id: Set(*t),
                    tag_id: Set(tag_ids[random.below(tag_ids.len())]),
                });
            insert_all(&write, tagged.collect(), 2).await?;
        }

        let keys: Vec<&str> = catalogue()
            .permissions()
            .iter()
            .filter(|p| !p.system && !p.msp_only)
            .map(|p| p.key.as_str())
            .collect();
        let role_ids = new_ids(spec.roles);
        let roles = role_ids
            .iter()
            .enumerate()
            .map(|(i, id)| role::ActiveModel {
                id: Set(*id),
                name: Set(format!("dataset role {i}")),
                description: Set(String::new()),
                owner_tenant_id: Set(None),
                built_in: Set(false),
            });
        insert_all(&write, roles.collect(), 5).await?;
        let mut role_permissions = Vec::new();
        for id in &role_ids {
            let chosen = random.distinct_below(keys.len(), 20);
            role_permissions.extend(chosen.into_iter().map(|k| role_permission::ActiveModel {
                role_id: Set(*id),
                permission_key: Set(keys[k].to_owned()),
            }));
        }
        insert_all(&write, role_permissions, 2).await?;

        let user_ids = new_ids(spec.users);
        let user_tenants: Vec<usize> = (0..spec.users)
            .map(|_| random.below(spec.tenants))
            .collect();
        let users = user_ids
            .iter()
            .zip(&user_tenants)
            .enumerate()
            .map(|(i, (id, t))| user::ActiveModel {
                id: Set(*id),
                tenant_id: Set(tenant_ids[*t]),
                azure_object_id: Set(Uuid::new_v4()),
                email: Set(format!("user{i}@dataset.example")),
                first_name: Set(String::new()),
                last_name: Set(String::new()),
                disabled: Set(false),
                expires_at: Set(None),
                origin: Set(crate::model::UserOrigin::Manual.as_str().to_owned()),
                created_at: Set(now),
            });
        insert_all(&write, users.collect(), 10).await?;

        let group_ids = new_ids(spec.groups);
        let groups = group_ids
            .iter()
            .enumerate()
            .map(|(i, id)| group::ActiveModel {
                id: Set(*id),
                name: Set(format!("dataset group {i}")),
                description: Set(String::new()),
                owner_tenant_id: Set(None),
            });
        insert_all(&write, groups.collect(), 4).await?;
        let mut members = Vec::new();
        for group_id in &group_ids {
            let chosen = random.distinct_below(spec.users, spec.members_per_group);
            members.extend(chosen.into_iter().map(|u| group_member::ActiveModel {
                group_id: Set(*group_id),
                user_id: Set(user_ids[u]),
            }));
        }
        insert_all(&write, members, 2).await?;

        let scope = |random: &mut Xorshift| -> (&'static str, Option<Uuid>, Option<Uuid>) {
            match random.below(20) {
                0 => ("owner", None, None),
                1 | 2 => ("msp", Some(tenant_ids[random.below(msps)]), None),
                3 if !tag_ids.is_empty() => (
                    "tenant_tag",
                    None,
                    Some(tag_ids[random.below(tag_ids.len())]),
                ),
                4 | 5 => ("users_tenant", None, None),
                _ => ("tenant", Some(tenant_ids[random.below(spec.tenants)]), None),
            }
        };
        let group_assignments = group_ids.len() * spec.assignments_per_group;
        let direct = spec.assignments.saturating_sub(group_assignments);
        let mut assignments = Vec::with_capacity(spec.assignments);
        for index in 0..group_assignments + direct {
            let (kind, scope_tenant, scope_tag) = scope(&mut random);
            let (user_id, group_id) = if index < group_assignments {
                (
                    None,
                    Some(group_ids[index / spec.assignments_per_group.max(1)]),
                )
            } else {
                (
                    Some(user_ids[(index - group_assignments) % spec.users.max(1)]),
                    None,
                )
            };
            assignments.push(role_assignment::ActiveModel {
                id: Set(Uuid::new_v4()),
                role_id: Set(role_ids[random.below(role_ids.len())]),
                user_id: Set(user_id),
                group_id: Set(group_id),
                scope_kind: Set(kind.to_owned()),
                scope_tenant_id: Set(scope_tenant),
                scope_tag_id: Set(scope_tag),
                scope_resource_type: Set(None),
                scope_resource_id: Set(None),
                effect: Set(if random.below(10) == 0 {
                    "deny"
                } else {
                    "allow"
                }
                .to_owned()),
                created_by: Set(None),
                created_at: Set(now),
            });
        }
        insert_all(&write, assignments, 12).await?;

        write.record(Change::Tenants { ids: Vec::new() });
        // The users are new, so no cached entry names them; one user change is enough for
        // replicas to forget the subjects they remembered as unknown.
        if let Some(id) = user_ids.first() {
            write.record(Change::User { id: *id });
        }
        let revision = write
            .commit(AuditRecord {
                impersonator: None,
                actor: None,
                action: Action::GenerateDataset,
                target: format!(
                    "{} tenants, {} users, {} assignments",
                    spec.tenants, spec.users, spec.assignments
                ),
                before: None,
                after: None,
                outcome: Outcome::Succeeded,
                detail: String::new(),
            })
            .await?;
        Ok(Dataset {
            tenants: tenant_ids.into_iter().map(TenantId).collect(),
            users: user_ids.into_iter().map(UserId).collect(),
            revision,
        })
    }
}
