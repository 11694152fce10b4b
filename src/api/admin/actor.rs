//! The actor of an admin call: proven by a verified JWT in `x-actor-token` when the server
//! verifies actors (`--actor-jwks`), otherwise claimed by metadata; then resolved and
//! checked active, and the user they impersonate, if any.

use tonic::{Request, Status};

use super::AdminApi;
use crate::admin::{Actor, ActorRef};
use crate::api::convert;
use crate::identity::VerifiedActor;
use crate::model::{Action, UserId, parse_uuid};

/// Metadata key carrying the actor's JWT.
pub const ACTOR_TOKEN: &str = "x-actor-token";
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

/// The actors a request's headers claim, in the order they are resolved.
fn claimed<T>(request: &Request<T>) -> Result<Vec<ActorRef>, Status> {
    let object_id = metadata(request, ACTOR_OBJECT_ID)?
        .map(|id| {
            parse_uuid(ACTOR_OBJECT_ID, &id).map_err(|e| Status::unauthenticated(e.to_string()))
        })
        .transpose()?;
    let user_id = metadata(request, ACTOR_USER_ID)?
        .map(|id| {
            UserId::parse(ACTOR_USER_ID, &id).map_err(|e| Status::unauthenticated(e.to_string()))
        })
        .transpose()?;
    Ok(object_id
        .map(ActorRef::AzureObject)
        .into_iter()
        .chain(user_id.map(ActorRef::User))
        .collect())
}

/// Whether `actor` is the user `claim` names.
fn names(claim: ActorRef, actor: &Actor) -> bool {
    match claim {
        ActorRef::AzureObject(id) => actor.access.user.azure_object_id == id,
        ActorRef::User(id) => actor.id() == id,
    }
}

impl AdminApi {
    /// The person the request's `x-actor-token` proves, when this server verifies actors;
    /// None when it does not. A missing or refused token is UNAUTHENTICATED.
    pub(super) async fn proven<T>(
        &self,
        request: &Request<T>,
    ) -> Result<Option<VerifiedActor>, Status> {
        let Some(verifier) = &self.verifier else {
            return Ok(None);
        };
        let Some(token) = metadata(request, ACTOR_TOKEN)? else {
            return Err(Status::unauthenticated(format!(
                "this server accepts only proven actors: send the signed-in user's JWT in metadata `{ACTOR_TOKEN}` (claimed `{ACTOR_OBJECT_ID}` or `{ACTOR_USER_ID}` headers alone are not enough)"
            )));
        };
        let verified = verifier
            .verify(token.trim())
            .await
            .map_err(|err| Status::unauthenticated(err.to_string()))?;
        Ok(Some(verified))
    }

    /// The actor of the request, checked active, and the user they act as when they
    /// impersonate. With verified actors the token names the actor and any claimed header
    /// must name the same one; without, the headers do.
    pub(super) async fn actor<T>(
        &self,
        request: &Request<T>,
        action: Action,
    ) -> Result<Actor, Status> {
        let mut claims = claimed(request)?;
        if let Some(proven) = self.proven(request).await? {
            claims.insert(0, ActorRef::AzureObject(proven.object_id));
        }
        let Some(first) = claims.first().copied() else {
            return Err(Status::unauthenticated(format!(
                "admin calls must name their actor in metadata `{ACTOR_OBJECT_ID}` or `{ACTOR_USER_ID}`"
            )));
        };
        let actor = self.admin.actor(first, action).await?;
        // More than one may be sent, but they must name one user: a call has one actor.
        if !claims.iter().all(|claim| names(*claim, &actor)) {
            return Err(Status::invalid_argument(format!(
                "the actor token and metadata `{ACTOR_OBJECT_ID}` / `{ACTOR_USER_ID}` name different users; a call has one actor, so send one of them"
            )));
        }
        match metadata(request, IMPERSONATE_USER_ID)? {
            None => Ok(actor),
            Some(target) => {
                let target = convert::user_id(IMPERSONATE_USER_ID, &target)?;
                Ok(self.admin.impersonate(actor, target, action).await?)
            }
        }
    }
}
