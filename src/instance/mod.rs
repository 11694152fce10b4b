//! The instance as code (`docs/instance.md`): the whole instance as one YAML file
//! (`file.rs`), read from the database and checked as records (`state.rs`), and applied
//! in one revision with its plan (`apply.rs`): here straight to a database (a restore);
//! through AdminService, judged for its actor, by `admin::Admin::apply_instance`.

mod apply;
mod file;
mod state;

pub use apply::{Applied, ApplyError, Plan, apply, carry_out, keeps_an_administrator};
pub use file::{
    AccessRequestEntry, AssignmentEntry, EffectEntry, FORMAT, GroupEntry, InstanceFile,
    PersonEntry, PreferencesEntry, ResourceEntry, RoleEntry, ScopeEntry, TagEntry, TenantEntry,
    UserEntry,
};
pub use state::{Instance, Invalid};

use crate::store::{Store, StoreError};

/// The instance in `store`, as a file.
pub async fn export(store: &Store) -> Result<InstanceFile, StoreError> {
    // One transaction: the file is one revision's state.
    let write = store.begin_read().await?;
    let instance = Instance::read(&write).await?;
    Ok(instance.to_file())
}
