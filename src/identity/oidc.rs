//! The console's own OpenID Connect sign-in against Entra ID or any OpenID provider:
//! the authorization code flow with PKCE (S256), a `state` bound to the browser and a
//! `nonce` bound to the ID token. oauth2 builds the authorization request, its state and
//! challenge, and exchanges the code; the ID token is verified like an actor's token
//! (the provider's published keys, its issuer, the client id as audience, the lifetime)
//! and must carry the nonce. The provider's endpoints come from its discovery document.

use std::borrow::Cow;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use oauth2::basic::{
    BasicErrorResponse, BasicRevocationErrorResponse, BasicTokenIntrospectionResponse,
    BasicTokenType,
};
use oauth2::{
    AuthType, AuthUrl, AuthorizationCode, ClientId, ClientSecret, CsrfToken, EndpointNotSet,
    EndpointSet, ExtraTokenFields, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    StandardRevocableToken, StandardTokenResponse, TokenUrl,
};
use serde::{Deserialize, Serialize};

use super::keys::{KeySetError, https_client};
use super::{ActorJwtConfig, ActorVerifier, DEFAULT_CLAIM, VerifiedActor};

/// A sign-in not finished within this long must start again.
const SIGN_IN_LIFETIME: Duration = Duration::from_secs(600);
/// Sign-ins waiting for the provider, at most: the oldest go first.
const MAX_PENDING: usize = 10_000;

/// The console's OpenID Connect client (`--console-oidc-*`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OidcConfig {
    /// The provider's issuer (Entra ID v2.0:
    /// `https://login.microsoftonline.com/TENANT/v2.0`); its discovery document is at
    /// `/.well-known/openid-configuration` below it.
    pub issuer: String,
    pub client_id: String,
    /// None: a public client, proven by PKCE alone.
    pub client_secret: Option<String>,
    /// The CA that signs the provider's certificate; None: the system's roots.
    pub ca: Option<PathBuf>,
}

/// Why the provider could not be used.
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("cannot read the OpenID provider's discovery document at {url}: {reason}")]
    Discovery { url: String, reason: String },
    #[error(
        "the OpenID provider at {url} names itself `{found}`, not the configured issuer `{expected}`"
    )]
    Issuer {
        url: String,
        found: String,
        expected: String,
    },
    #[error("the OpenID provider's {what} `{url}` is not a valid https URL")]
    Endpoint { what: &'static str, url: String },
    #[error(transparent)]
    Keys(#[from] KeySetError),
}

/// The part of the discovery document the sign-in uses.
#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    authorization_endpoint: String,
    token_endpoint: String,
    jwks_uri: String,
}

/// The token endpoint's answer carries the ID token beside the access token.
#[derive(Clone, Debug, Deserialize, Serialize)]
struct IdToken {
    id_token: String,
}

impl ExtraTokenFields for IdToken {}

type CodeClient = oauth2::Client<
    BasicErrorResponse,
    StandardTokenResponse<IdToken, BasicTokenType>,
    BasicTokenIntrospectionResponse,
    StandardRevocableToken,
    BasicRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointSet,
>;

/// A sign-in sent to the provider, waiting for its code.
struct Pending {
    verifier: PkceCodeVerifier,
    nonce: String,
    redirect: RedirectUrl,
    started: Instant,
}

/// The console's sign-in with one provider.
pub struct OidcSignIn {
    client: CodeClient,
    http: reqwest::Client,
    id_tokens: ActorVerifier,
    pending: Mutex<HashMap<String, Pending>>,
}

impl OidcSignIn {
    /// Reads the provider's discovery document and keys: a provider that cannot be read
    /// refuses the start.
    pub async fn discover(config: &OidcConfig) -> Result<OidcSignIn, OidcError> {
        // The provider's answers are read as they come: no redirect is followed.
        let http = https_client(config.ca.as_deref(), reqwest::redirect::Policy::none())?;
        let url = format!(
            "{}/.well-known/openid-configuration",
            config.issuer.trim_end_matches('/')
        );
        let failed = |reason: String| OidcError::Discovery {
            url: url.clone(),
            reason,
        };
        let body = http
            .get(&url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| failed(e.to_string()))?
            .bytes()
            .await
            .map_err(|e| failed(e.to_string()))?;
        let discovery: Discovery =
            serde_json::from_slice(&body).map_err(|e| failed(e.to_string()))?;
        if discovery.issuer != config.issuer {
            return Err(OidcError::Issuer {
                url,
                found: discovery.issuer,
                expected: config.issuer.clone(),
            });
        }
        let https = |what, url: &str| {
            url.starts_with("https://")
                .then(|| url.to_owned())
                .ok_or_else(|| OidcError::Endpoint {
                    what,
                    url: url.to_owned(),
                })
        };
        let auth = AuthUrl::new(https(
            "authorization endpoint",
            &discovery.authorization_endpoint,
        )?)
        .map_err(|_| OidcError::Endpoint {
            what: "authorization endpoint",
            url: discovery.authorization_endpoint.clone(),
        })?;
        let token =
            TokenUrl::new(https("token endpoint", &discovery.token_endpoint)?).map_err(|_| {
                OidcError::Endpoint {
                    what: "token endpoint",
                    url: discovery.token_endpoint.clone(),
                }
            })?;
        let id_tokens = ActorVerifier::start(&ActorJwtConfig {
            jwks: https("key set", &discovery.jwks_uri)?,
            jwks_ca: config.ca.clone(),
            issuer: config.issuer.clone(),
            audience: config.client_id.clone(),
            claim: DEFAULT_CLAIM.to_owned(),
        })
        .await?
        .for_id_tokens();
        let mut client = oauth2::Client::new(ClientId::new(config.client_id.clone()))
            .set_auth_uri(auth)
            .set_token_uri(token)
            .set_auth_type(AuthType::RequestBody);
        if let Some(secret) = &config.client_secret {
            client = client.set_client_secret(ClientSecret::new(secret.clone()));
        }
        Ok(OidcSignIn {
            client,
            http,
            id_tokens,
            pending: Mutex::new(HashMap::new()),
        })
    }

    /// Starts a sign-in that comes back to `redirect`: where to send the browser, and the
    /// state the browser must bring back (keep it in a cookie).
    pub fn begin(&self, redirect: &str) -> Result<(String, String), String> {
        let redirect = RedirectUrl::new(redirect.to_owned())
            .map_err(|e| format!("the console's sign-in address `{redirect}` is not a URL: {e}"))?;
        let (challenge, verifier) = PkceCodeChallenge::new_random_sha256();
        let nonce = CsrfToken::new_random();
        let (url, state) = self
            .client
            .authorize_url(CsrfToken::new_random)
            .add_scope(Scope::new("openid".into()))
            .add_scope(Scope::new("profile".into()))
            .add_scope(Scope::new("email".into()))
            .add_extra_param("nonce", nonce.secret())
            .set_pkce_challenge(challenge)
            .set_redirect_uri(Cow::Owned(redirect.clone()))
            .url();
        let mut pending = self.pending.lock().unwrap_or_else(PoisonError::into_inner);
        pending.retain(|_, p| p.started.elapsed() < SIGN_IN_LIFETIME);
        if pending.len() >= MAX_PENDING {
            pending.clear();
        }
        pending.insert(
            state.secret().clone(),
            Pending {
                verifier,
                nonce: nonce.secret().clone(),
                redirect,
                started: Instant::now(),
            },
        );
        Ok((url.to_string(), state.secret().clone()))
    }

    /// Finishes the sign-in `state` started: the code exchanged with its PKCE verifier,
    /// the ID token verified and its nonce checked. A state works once.
    pub async fn finish(&self, state: &str, code: &str) -> Result<VerifiedActor, String> {
        let pending = self
            .pending
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(state)
            .filter(|p| p.started.elapsed() < SIGN_IN_LIFETIME)
            .ok_or("this sign-in has expired or was already finished; sign in again")?;
        let answer = self
            .client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .set_pkce_verifier(pending.verifier)
            .set_redirect_uri(Cow::Owned(pending.redirect))
            .request_async(&self.http)
            .await
            .map_err(|e| format!("the identity provider did not accept the sign-in: {e}"))?;
        self.id_tokens
            .verify_id_token(&answer.extra_fields().id_token, &pending.nonce)
            .await
            .map_err(|e| e.to_string())
    }
}
