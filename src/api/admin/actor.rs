//! The actor of an admin call: the metadata that names them, and their resolution.

use tonic::{Request, Status};

use super::AdminApi;
use crate::admin::{Actor, ActorRef};
use crate::api::convert;
use crate::model::{Action, parse_uuid};

/// Metadata key naming the actor by Azure object id.
pub const ACTOR_OBJECT_ID: &str = "x-actor-object-id";
/// Metadata key naming the actor by user id.
pub const ACTOR_USER_ID: &str = "x-actor-user-id";
/// Metadata key naming the user the actor impersonates.
pub const IMPERSONATE_USER_ID: &str = "x-impersonate-user-id";

/// A metadata value as text.
fn metadata<T>(request: &Request<T>, key: &str) -> Result<Option<String>, Status> {
    request
        .metadata()
        .get(key)
        .map(|v| {
            v.to_str()
                .map(str::to_owned)
                .map_err(|_| Status::unauthenticated(format!("metadata `{key}` must be text")))
        })
        .transpose()
}

impl AdminApi {
    /// The actor named in the request's metadata, checked active, and the user they act
    /// as when they impersonate.
    pub(super) async fn actor<T>(
        &self,
        request: &Request<T>,
        action: Action,
    ) -> Result<Actor, Status> {
        let object_id = metadata(request, ACTOR_OBJECT_ID)?
            .map(|id| {
                parse_uuid(ACTOR_OBJECT_ID, &id).map_err(|e| Status::unauthenticated(e.to_string()))
            })
            .transpose()?;
        let user_id = metadata(request, ACTOR_USER_ID)?
            .map(|id| {
                crate::model::UserId::parse(ACTOR_USER_ID, &id)
                    .map_err(|e| Status::unauthenticated(e.to_string()))
            })
            .transpose()?;
        let actor = match (object_id, user_id) {
            (Some(object_id), None) => {
                self.admin
                    .actor(ActorRef::AzureObject(object_id), action)
                    .await?
            }
            (None, Some(user_id)) => self.admin.actor(ActorRef::User(user_id), action).await?,
            (Some(object_id), Some(user_id)) => {
                // Both may be sent, but they must name one user: a call has one actor.
                let actor = self
                    .admin
                    .actor(ActorRef::AzureObject(object_id), action)
                    .await?;
                if actor.id() != user_id {
                    return Err(Status::invalid_argument(format!(
                        "metadata `{ACTOR_OBJECT_ID}` and `{ACTOR_USER_ID}` name two different users; a call has one actor, so send one of them"
                    )));
                }
                actor
            }
            (None, None) => {
                return Err(Status::unauthenticated(format!(
                    "admin calls must name their actor in metadata `{ACTOR_OBJECT_ID}` or `{ACTOR_USER_ID}`"
                )));
            }
        };
        match metadata(request, IMPERSONATE_USER_ID)? {
            None => Ok(actor),
            Some(target) => {
                let target = convert::user_id(IMPERSONATE_USER_ID, &target)?;
                Ok(self.admin.impersonate(actor, target, action).await?)
            }
        }
    }
}
