//! Who is asking: an admin call's actor proven by a signed JWT (`--actor-jwks`), as an
//! identity provider such as Entra ID issues it for the signed-in user. The token is
//! verified against the provider's published keys, its issuer and audience, and its
//! lifetime; the actor is the Azure object id in one of its claims. Verification is
//! jsonwebtoken's; this module chooses what is accepted and says why a token is not.

mod keys;
mod oidc;

use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, errors::ErrorKind};
use serde_json::{Map, Value};
use subtle::ConstantTimeEq;
use uuid::Uuid;

pub use keys::KeySetError;
use keys::{KeySet, Lookup};
pub use oidc::{OidcConfig, OidcError, OidcSignIn};

/// The claim holding the actor's Azure object id, unless configured otherwise.
pub const DEFAULT_CLAIM: &str = "oid";
/// How far the clocks of the provider and this server may disagree on `exp` and `nbf`.
pub const LEEWAY_SECONDS: u64 = 30;

/// Only asymmetric signatures: a key set publishes public keys, and an HMAC "signed" with
/// one of them proves nothing.
const ACCEPTED: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// How actors' tokens are verified (`--actor-jwks` and its companions).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ActorJwtConfig {
    /// A file path, or an https:// URL, of the JSON Web Key Set.
    pub jwks: String,
    /// The CA that signs the JWKS URL's certificate; None: the system's roots.
    pub jwks_ca: Option<PathBuf>,
    /// The `iss` every token must carry.
    pub issuer: String,
    /// The `aud` every token must carry.
    pub audience: String,
    /// The claim that holds the actor's Azure object id.
    pub claim: String,
}

/// The person a verified token speaks for.
#[derive(Clone, Debug)]
pub struct VerifiedActor {
    pub object_id: Uuid,
    /// From `email`, `preferred_username` or `upn`, when the token has one.
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
}

/// Why a token was refused: which check failed, never the token itself.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error(
        "the actor token is not a JWT (three base64url parts separated by dots); send the signed-in user's token as the identity provider issued it"
    )]
    Malformed,
    #[error(
        "the actor token is signed with `{0}`, which this server does not accept: only asymmetric signatures (RS256, PS256, ES256 and their families, EdDSA)"
    )]
    Algorithm(String),
    #[error("the actor token is signed with `{0}`, but its key is published for another algorithm")]
    KeyAlgorithm(String),
    #[error(
        "the actor token's key id is not in the key set from {0}; if the provider has just published a new key, retry in 30 seconds"
    )]
    UnknownKey(String),
    #[error("the actor token's signature does not verify against the provider's key")]
    Signature,
    #[error("the actor token has expired; sign in again to get a fresh one")]
    Expired,
    #[error(
        "the actor token is not valid yet (its `nbf` is in the future); check this server's clock"
    )]
    NotYetValid,
    #[error("the actor token was not issued by `{0}` (its `iss` claim differs)")]
    Issuer(String),
    #[error("the actor token is not meant for `{0}` (its `aud` claim differs)")]
    Audience(String),
    #[error("the actor token lacks the claim `{0}`, which this server requires")]
    MissingClaim(String),
    #[error("the actor token's claim `{0}` must be an Azure object id (a UUID)")]
    NotAnObjectId(String),
    #[error("the ID token does not carry the nonce this sign-in sent; sign in again")]
    Nonce,
}

/// Verifies actors' tokens against a key set that stays current by itself.
pub struct ActorVerifier {
    keys: Arc<KeySet>,
    issuer: String,
    audience: String,
    claim: String,
    /// The claims every token must carry.
    required: &'static [&'static str],
}

/// Actors' tokens: Entra ID's access and ID tokens carry all four.
const ACTOR_CLAIMS: &[&str] = &["exp", "nbf", "iss", "aud"];
/// ID tokens of the console's sign-in: OpenID Connect does not require `nbf` (checked when
/// present).
const ID_TOKEN_CLAIMS: &[&str] = &["exp", "iss", "aud"];

impl ActorVerifier {
    /// Loads the key set (a start with keys that cannot be read is refused) and keeps it
    /// current in the background.
    pub async fn start(config: &ActorJwtConfig) -> Result<ActorVerifier, KeySetError> {
        let keys = KeySet::load(&config.jwks, config.jwks_ca.as_deref()).await?;
        keys::keep_current(&keys);
        Ok(ActorVerifier {
            keys,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            claim: config.claim.clone(),
            required: ACTOR_CLAIMS,
        })
    }

    /// The same verifier for OpenID Connect ID tokens (`verify_id_token`).
    fn for_id_tokens(self) -> ActorVerifier {
        ActorVerifier {
            required: ID_TOKEN_CLAIMS,
            ..self
        }
    }

    /// The actor a token proves.
    pub async fn verify(&self, token: &str) -> Result<VerifiedActor, TokenError> {
        let claims = self.claims(token).await?;
        self.actor(&claims)
    }

    /// The person an OpenID Connect ID token proves: as `verify`, and the token must carry
    /// the `nonce` its sign-in sent (a replayed token carries another).
    pub async fn verify_id_token(
        &self,
        token: &str,
        nonce: &str,
    ) -> Result<VerifiedActor, TokenError> {
        let claims = self.claims(token).await?;
        let carried = claims
            .get("nonce")
            .and_then(Value::as_str)
            .unwrap_or_default();
        if !bool::from(carried.as_bytes().ct_eq(nonce.as_bytes())) {
            return Err(TokenError::Nonce);
        }
        self.actor(&claims)
    }

    /// A token's claims, once its signature, issuer, audience and lifetime hold.
    async fn claims(&self, token: &str) -> Result<Map<String, Value>, TokenError> {
        let (algorithm, kid) = signing(token)?;
        let jwk = match self.keys.find(kid.as_deref()).await {
            Lookup::Found(jwk) => jwk,
            Lookup::Unknown => return Err(TokenError::UnknownKey(self.keys.source())),
        };
        // A key that names its algorithm is used with that one alone.
        let declared = jwk.common.key_algorithm.map(|a| format!("{a:?}"));
        if declared.is_some_and(|declared| declared != format!("{algorithm:?}")) {
            return Err(TokenError::KeyAlgorithm(format!("{algorithm:?}")));
        }
        let key = DecodingKey::from_jwk(&jwk).map_err(|_| TokenError::Signature)?;
        let mut validation = Validation::new(algorithm);
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(self.required);
        validation.set_issuer(&[&self.issuer]);
        validation.set_audience(&[&self.audience]);
        Ok(
            jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
                .map_err(|err| self.refusal(err.kind(), algorithm))?
                .claims,
        )
    }

    /// The person verified claims name.
    fn actor(&self, claims: &Map<String, Value>) -> Result<VerifiedActor, TokenError> {
        let text = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
        let object_id = text(&self.claim)
            .ok_or_else(|| TokenError::MissingClaim(self.claim.clone()))?
            .parse()
            .map_err(|_| TokenError::NotAnObjectId(self.claim.clone()))?;
        Ok(VerifiedActor {
            object_id,
            email: text("email")
                .or_else(|| text("preferred_username"))
                .or_else(|| text("upn")),
            first_name: text("given_name"),
            last_name: text("family_name"),
        })
    }

    fn refusal(&self, kind: &ErrorKind, algorithm: Algorithm) -> TokenError {
        match kind {
            ErrorKind::ExpiredSignature => TokenError::Expired,
            ErrorKind::ImmatureSignature => TokenError::NotYetValid,
            ErrorKind::InvalidIssuer => TokenError::Issuer(self.issuer.clone()),
            ErrorKind::InvalidAudience => TokenError::Audience(self.audience.clone()),
            ErrorKind::MissingRequiredClaim(claim) => TokenError::MissingClaim(claim.clone()),
            ErrorKind::InvalidAlgorithm => TokenError::KeyAlgorithm(format!("{algorithm:?}")),
            ErrorKind::Base64(_) | ErrorKind::Json(_) | ErrorKind::Utf8(_) => TokenError::Malformed,
            _ => TokenError::Signature,
        }
    }
}

/// The token's `alg` and `kid`, read before anything else is trusted; the algorithm is
/// refused unless it is an asymmetric one (`none` and HMAC never are). jsonwebtoken reads
/// the whole header again when it verifies.
fn signing(token: &str) -> Result<(Algorithm, Option<String>), TokenError> {
    let header = token.split('.').next().ok_or(TokenError::Malformed)?;
    let header: Map<String, Value> = URL_SAFE_NO_PAD
        .decode(header)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .ok_or(TokenError::Malformed)?;
    let name = header
        .get("alg")
        .and_then(Value::as_str)
        .ok_or(TokenError::Malformed)?;
    let algorithm = name
        .parse::<Algorithm>()
        .ok()
        .filter(|a| ACCEPTED.contains(a))
        .ok_or_else(|| TokenError::Algorithm(crate::model::shown(name)))?;
    let kid = header.get("kid").and_then(Value::as_str).map(str::to_owned);
    Ok((algorithm, kid))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(json: &str) -> String {
        format!("{}.e30.sig", URL_SAFE_NO_PAD.encode(json))
    }

    fn algorithm(token: &str) -> Result<Algorithm, TokenError> {
        signing(token).map(|(algorithm, _)| algorithm)
    }

    #[test]
    fn only_asymmetric_algorithms_pass_the_header() {
        assert_eq!(
            algorithm(&header(r#"{"alg":"RS256"}"#)),
            Ok(Algorithm::RS256)
        );
        assert_eq!(
            algorithm(&header(r#"{"alg":"ES256"}"#)),
            Ok(Algorithm::ES256)
        );
        for refused in ["none", "HS256", "HS512", "RS1"] {
            let err = algorithm(&header(&format!(r#"{{"alg":"{refused}"}}"#))).unwrap_err();
            assert_eq!(err, TokenError::Algorithm(refused.into()));
        }
        assert_eq!(algorithm("not a token"), Err(TokenError::Malformed));
        assert_eq!(algorithm(&header("{}")), Err(TokenError::Malformed));
        let named = signing(&header(r#"{"alg":"ES256","kid":"k1"}"#));
        assert_eq!(named, Ok((Algorithm::ES256, Some("k1".to_owned()))));
    }
}
