//! The instance as code over AdminService: an actor exports the whole instance, or makes
//! it equal to a file in one write. Applying may change anything, so the actor (and an
//! impersonator behind them) must hold every permission of the catalogue at Owner scope;
//! the refusal names the first one missing. The actor's own user is kept even where the
//! file lacks it, and a file that leaves no administrator is refused.

use crate::engine::{Refusal, RefusalReason};
use crate::instance::{self, Instance, InstanceFile, Plan};
use crate::model::{Action, Scope, catalogue};

use super::{Actor, Admin, AdminError, Changed, Result};

impl Admin {
    /// The actor holds everything, everywhere: what applying a whole file may need.
    fn require_everything(&self, actor: &Actor, doing: &str) -> Result<()> {
        for permission in catalogue().permissions() {
            let Some(id) = catalogue().id(&permission.key) else {
                continue;
            };
            self.require_at(actor, id, &Scope::Owner).map_err(|err| match err {
                AdminError::PermissionDenied(_) => AdminError::PermissionDenied(
                    Refusal::new(
                        RefusalReason::MissingPermission,
                        format!(
                            "{doing} may change anything, so it needs every permission at Owner scope; actor `{}` lacks `{}` there",
                            actor.id(),
                            permission.key
                        ),
                    )
                    .at(&permission.key, Scope::Owner),
                ),
                other => other,
            })?;
        }
        Ok(())
    }

    /// The whole instance as a file, and the revision it is exact at.
    pub async fn export_instance(&self, actor: &Actor) -> Result<(InstanceFile, u64)> {
        self.audited(actor, Action::ExportInstance, "instance", async {
            self.require_everything(actor, "exporting the instance")?;
            let read = self.store.begin_read().await?;
            let revision = crate::store::max_revision(&read).await?;
            Ok((Instance::read(&read).await?.to_file(), revision))
        })
        .await
    }

    /// Makes the instance equal to `file` in one write, and says what it did; with an empty
    /// plan, writes nothing (the revision is the current one).
    pub async fn apply_instance(&self, actor: &Actor, file: &InstanceFile) -> Result<(Plan, u64)> {
        let wanted = Instance::from_file(file).map_err(|e| {
            AdminError::InvalidArgument(format!("the file is not a whole instance: {e}"))
        })?;
        // Nothing to do writes no revision (checked again under the write lock).
        let unchanged = self
            .audited(actor, Action::ApplyInstance, "instance", async {
                self.require_everything(actor, "applying an instance file")?;
                let read = self.store.begin_read().await?;
                let current = Instance::read(&read).await?;
                let plan = Plan::between(&current, &kept(actor, &current, wanted.clone()));
                Ok(plan
                    .is_empty()
                    .then_some((plan, crate::store::max_revision(&read).await?)))
            })
            .await?;
        if let Some(unchanged) = unchanged {
            return Ok(unchanged);
        }
        let (plan, revision) = self
            .write(
                actor,
                Action::ApplyInstance,
                "instance",
                async |write, actor| {
                    self.require_everything(actor, "applying an instance file")?;
                    let current = Instance::read(write.txn()).await?;
                    let wanted = kept(actor, &current, wanted.clone());
                    for user in [Some(actor.id()), actor.impersonator_id()].into_iter().flatten() {
                        let stays = (wanted.users.get(&user))
                            .is_some_and(|u| wanted.tenants.contains_key(&u.tenant_id));
                        if !stays {
                            return Err(AdminError::FailedPrecondition(format!(
                                "the file removes the tenant of user `{user}`, who applies it: keep that tenant, or apply it as someone else"
                            )));
                        }
                    }
                    if let Err(refusal) = instance::keeps_an_administrator(&current, &wanted) {
                        return Err(AdminError::FailedPrecondition(refusal));
                    }
                    let plan = Plan::between(&current, &wanted);
                    instance::carry_out(write, &current, &wanted).await?;
                    let summary = format!(
                        "{} created, {} changed, {} removed",
                        plan.created.len(),
                        plan.changed.len(),
                        plan.removed.len()
                    );
                    Ok((plan, Changed::new("instance", None, summary)))
                },
            )
            .await?;
        Ok((plan, revision))
    }
}

/// `wanted`, with the actor's own user (and an impersonator's) kept where the file lacks
/// it: nobody removes themselves by applying a file.
fn kept(actor: &Actor, current: &Instance, mut wanted: Instance) -> Instance {
    for user in [Some(actor.id()), actor.impersonator_id()]
        .into_iter()
        .flatten()
    {
        if let (false, Some(mine)) = (wanted.users.contains_key(&user), current.users.get(&user)) {
            wanted.users.insert(user, mine.clone());
        }
    }
    wanted
}
