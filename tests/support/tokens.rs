//! A small identity provider for tests: P-256 keys made at run time, published as a JWKS
//! file that can be rewritten (key rotation), and tokens signed with any claims, as Entra
//! ID would issue them for a signed-in user.

use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rbac_sidecar::identity::ActorJwtConfig;
use serde_json::{Value, json};

pub const ISSUER: &str =
    "https://login.microsoftonline.com/00000000-0000-4000-8000-00000000face/v2.0";
pub const AUDIENCE: &str = "api://rbac-sidecar-tests";

/// Signing keys by key id, and the JWKS file that publishes them.
pub struct Issuer {
    dir: tempfile::TempDir,
    keys: Vec<(String, rcgen::KeyPair)>,
}

/// Seconds since the epoch.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after the epoch")
        .as_secs() as i64
}

impl Default for Issuer {
    fn default() -> Self {
        Self::new()
    }
}

impl Issuer {
    /// An issuer with one published key, `k1`.
    pub fn new() -> Issuer {
        let mut issuer = Issuer {
            dir: tempfile::tempdir().expect("temporary directory"),
            keys: Vec::new(),
        };
        issuer.publish("k1");
        issuer
    }

    /// The JWKS file's path.
    pub fn jwks(&self) -> PathBuf {
        self.dir.path().join("jwks.json")
    }

    /// `serve`'s configuration to trust this issuer.
    pub fn config(&self) -> ActorJwtConfig {
        ActorJwtConfig {
            jwks: self.jwks().display().to_string(),
            jwks_ca: None,
            issuer: ISSUER.to_owned(),
            audience: AUDIENCE.to_owned(),
            claim: "oid".to_owned(),
        }
    }

    /// The same as flags of the binary.
    pub fn flags(&self) -> Vec<String> {
        [
            "--actor-jwks",
            &self.jwks().display().to_string(),
            "--actor-jwt-issuer",
            ISSUER,
            "--actor-jwt-audience",
            AUDIENCE,
        ]
        .map(str::to_owned)
        .to_vec()
    }

    /// Makes a new key and publishes it beside the others (a rotation).
    pub fn publish(&mut self, kid: &str) {
        let key = rcgen::KeyPair::generate().expect("a P-256 key");
        self.keys.push((kid.to_owned(), key));
        self.write_jwks();
    }

    /// The JWKS of the published keys, or of none when `keys` is empty.
    pub fn jwks_json(&self) -> Value {
        let keys: Vec<Value> = self
            .keys
            .iter()
            .map(|(kid, key)| {
                let point = key.public_key_raw();
                json!({
                    "kty": "EC", "crv": "P-256", "use": "sig", "alg": "ES256", "kid": kid,
                    "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                    "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
                })
            })
            .collect();
        json!({ "keys": keys })
    }

    fn write_jwks(&self) {
        std::fs::write(self.jwks(), self.jwks_json().to_string()).expect("write the JWKS");
    }

    /// The claims of a valid token for `oid`, good for ten minutes.
    pub fn claims(&self, oid: &str) -> Value {
        let now = now();
        json!({
            "iss": ISSUER, "aud": AUDIENCE, "oid": oid,
            "iat": now, "nbf": now - 5, "exp": now + 600,
            "email": format!("{oid}@example.com"), "given_name": "Test", "family_name": "Person",
        })
    }

    /// A valid token for `oid`, signed with the first key.
    pub fn token(&self, oid: &str) -> String {
        self.sign("k1", &self.claims(oid))
    }

    /// `claims` signed with the key `kid` (ES256).
    pub fn sign(&self, kid: &str, claims: &Value) -> String {
        let (_, key) = self
            .keys
            .iter()
            .find(|(k, _)| k == kid)
            .expect("a published key");
        let encoding = EncodingKey::from_ec_der(&key.serialize_der());
        let mut header = Header::new(Algorithm::ES256);
        header.kid = Some(kid.to_owned());
        jsonwebtoken::encode(&header, claims, &encoding).expect("signed")
    }

    /// The public key of `kid` as PEM: what an attacker would use as an HMAC secret.
    pub fn public_pem(&self, kid: &str) -> String {
        let (_, key) = self.keys.iter().find(|(k, _)| k == kid).expect("a key");
        key.public_key_pem()
    }
}

/// A token from parts given as JSON: any header, any payload, any signature.
pub fn assemble(header: &Value, claims: &Value, signature: &str) -> String {
    format!(
        "{}.{}.{signature}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// A request carrying an actor token.
pub fn with_token<T>(token: &str, message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request
        .metadata_mut()
        .insert("x-actor-token", token.parse().expect("ascii metadata"));
    request
}
