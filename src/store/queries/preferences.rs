//! Reads of the instance's preferences.

use sea_orm::{ConnectionTrait, EntityTrait};

use crate::model::Preferences;
use crate::store::StoreError;
use crate::store::entity::preference;

/// The name of the impersonation preference in the `preferences` table.
pub(in crate::store) const IMPERSONATION_ENABLED: &str = "impersonation_enabled";

pub async fn preferences<C: ConnectionTrait>(db: &C) -> Result<Preferences, StoreError> {
    let row = preference::Entity::find_by_id(IMPERSONATION_ENABLED.to_owned())
        .one(db)
        .await?;
    Ok(Preferences {
        impersonation_enabled: row.is_some_and(|r| r.value == "true"),
    })
}
