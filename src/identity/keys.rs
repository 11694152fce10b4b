//! The identity provider's public keys (a JSON Web Key Set), from a file or an https URL,
//! kept current: re-read every minute, and at once (at most every 30 s) when a token names
//! a key id the set does not have, so a newly published key is accepted within a minute
//! without a restart. A failed re-read keeps the keys it had.

use std::path::Path;
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwap;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};
use tokio::sync::Mutex;

/// How often the key set is re-read.
const REFRESH: Duration = Duration::from_secs(60);
/// The least time between two re-reads caused by unknown key ids.
const UNKNOWN_KEY_PAUSE: Duration = Duration::from_secs(30);
/// The most a key set may weigh: Entra ID's is a few kilobytes.
const MAX_BYTES: usize = 1024 * 1024;
/// How long one fetch of a JWKS URL may take.
const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the key set could not be read.
#[derive(Debug, thiserror::Error)]
pub enum KeySetError {
    #[error("cannot read the actor JWKS file `{path}`: {reason}")]
    File { path: String, reason: String },
    #[error("cannot fetch the actor JWKS from `{url}`: {reason}")]
    Fetch { url: String, reason: String },
    #[error(
        "the actor JWKS from {source_name} is not a JSON Web Key Set (`{{\"keys\": [...]}}`): {reason}"
    )]
    Parse { source_name: String, reason: String },
    #[error("the actor JWKS from {0} holds no key this server can verify signatures with")]
    Empty(String),
    #[error("cannot read the actor JWKS CA `{path}`: {reason}")]
    Ca { path: String, reason: String },
    #[error(
        "`actor_jwks` must be a file path or an https:// URL, got `{0}` (plain http would let anyone on the path swap the keys)"
    )]
    NotHttps(String),
}

/// Where the keys come from.
enum Source {
    File(String),
    Url {
        url: String,
        client: reqwest::Client,
    },
}

/// A key set that stays current.
pub struct KeySet {
    source: Source,
    keys: ArcSwap<JwkSet>,
    /// When the set was last read for an unknown key id; held while reading, so that many
    /// tokens with a new key cause one read.
    last_unknown: Mutex<Option<Instant>>,
}

/// What a look-up of a token's key found.
pub enum Lookup {
    Found(Box<Jwk>),
    Unknown,
}

impl KeySet {
    /// Reads the key set for the first time: a source that cannot be read is an error.
    pub async fn load(location: &str, ca: Option<&Path>) -> Result<Arc<KeySet>, KeySetError> {
        let source = if location.starts_with("https://") {
            Source::Url {
                url: location.to_owned(),
                client: client(ca)?,
            }
        } else if location.contains("://") {
            return Err(KeySetError::NotHttps(crate::model::shown(location)));
        } else {
            Source::File(location.to_owned())
        };
        let keys = source.read().await?;
        Ok(Arc::new(KeySet {
            source,
            keys: ArcSwap::from_pointee(keys),
            last_unknown: Mutex::new(None),
        }))
    }

    /// Where the keys come from, for messages.
    pub fn source(&self) -> String {
        self.source.name()
    }

    /// The key a token names by `kid` (with no `kid`, the only key of a one-key set). An
    /// unknown id re-reads the set, unless that was done less than 30 s ago.
    pub async fn find(&self, kid: Option<&str>) -> Lookup {
        if let Some(jwk) = pick(&self.keys.load(), kid) {
            return Lookup::Found(Box::new(jwk));
        }
        let mut last = self.last_unknown.lock().await;
        // Another token may have brought the key while this one waited.
        if let Some(jwk) = pick(&self.keys.load(), kid) {
            return Lookup::Found(Box::new(jwk));
        }
        if last.is_some_and(|at| at.elapsed() < UNKNOWN_KEY_PAUSE) {
            return Lookup::Unknown;
        }
        *last = Some(Instant::now());
        self.refresh().await;
        match pick(&self.keys.load(), kid) {
            Some(jwk) => Lookup::Found(Box::new(jwk)),
            None => Lookup::Unknown,
        }
    }

    /// Re-reads the set; on failure the keys stay as they were.
    async fn refresh(&self) {
        match self.source.read().await {
            Ok(keys) => self.keys.store(Arc::new(keys)),
            Err(err) => tracing::warn!(error = %err, "kept the actor keys it had"),
        }
    }
}

/// Re-reads the key set every minute for as long as it is in use.
pub fn keep_current(keys: &Arc<KeySet>) {
    let keys: Weak<KeySet> = Arc::downgrade(keys);
    tokio::spawn(async move {
        let mut every = tokio::time::interval(REFRESH);
        every.tick().await;
        loop {
            every.tick().await;
            let Some(keys) = keys.upgrade() else {
                return;
            };
            keys.refresh().await;
        }
    });
}

fn pick(set: &JwkSet, kid: Option<&str>) -> Option<Jwk> {
    match kid {
        Some(kid) => set.find(kid).cloned(),
        None if set.keys.len() == 1 => set.keys.first().cloned(),
        None => None,
    }
}

/// An https client trusting `ca` alone, or the system's roots.
fn client(ca: Option<&Path>) -> Result<reqwest::Client, KeySetError> {
    https_client(ca, reqwest::redirect::Policy::default())
}

/// An https-only client trusting `ca` (None: the system's roots), following redirects as
/// `redirects` says.
pub(super) fn https_client(
    ca: Option<&Path>,
    redirects: reqwest::redirect::Policy,
) -> Result<reqwest::Client, KeySetError> {
    let mut builder = reqwest::Client::builder()
        .timeout(FETCH_TIMEOUT)
        .redirect(redirects)
        .https_only(true);
    if let Some(path) = ca {
        let ca_error = |reason: String| KeySetError::Ca {
            path: path.display().to_string(),
            reason,
        };
        let pem = std::fs::read(path).map_err(|e| ca_error(e.to_string()))?;
        let certificate =
            reqwest::Certificate::from_pem(&pem).map_err(|e| ca_error(e.to_string()))?;
        builder = builder
            .tls_built_in_root_certs(false)
            .add_root_certificate(certificate);
    }
    builder.build().map_err(|e| KeySetError::Ca {
        path: ca.map(|p| p.display().to_string()).unwrap_or_default(),
        reason: e.to_string(),
    })
}

impl Source {
    fn name(&self) -> String {
        match self {
            Source::File(path) => format!("`{path}`"),
            Source::Url { url, .. } => format!("`{url}`"),
        }
    }

    async fn read(&self) -> Result<JwkSet, KeySetError> {
        let bytes = match self {
            Source::File(path) => tokio::fs::read(path).await.map_err(|e| KeySetError::File {
                path: path.clone(),
                reason: e.to_string(),
            })?,
            Source::Url { url, client } => fetch(client, url).await?,
        };
        if bytes.len() > MAX_BYTES {
            return Err(self.parse_error(format!("larger than {MAX_BYTES} bytes")));
        }
        // Each key on its own: one this server cannot use (an algorithm it does not know,
        // an encryption key) is left out rather than failing the whole set.
        #[derive(serde::Deserialize)]
        struct Published {
            keys: Vec<serde_json::Value>,
        }
        let published: Published =
            serde_json::from_slice(&bytes).map_err(|e| self.parse_error(e.to_string()))?;
        let keys: Vec<Jwk> = published
            .keys
            .into_iter()
            .filter_map(|key| serde_json::from_value::<Jwk>(key).ok())
            .filter(|key| key.common.public_key_use != Some(PublicKeyUse::Encryption))
            .collect();
        if keys.is_empty() {
            return Err(KeySetError::Empty(self.name()));
        }
        Ok(JwkSet { keys })
    }

    fn parse_error(&self, reason: String) -> KeySetError {
        KeySetError::Parse {
            source_name: self.name(),
            reason,
        }
    }
}

async fn fetch(client: &reqwest::Client, url: &str) -> Result<Vec<u8>, KeySetError> {
    let failed = |reason: String| KeySetError::Fetch {
        url: url.to_owned(),
        reason,
    };
    let mut response = client
        .get(url)
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    if !response.status().is_success() {
        return Err(failed(format!("it answered {}", response.status())));
    }
    // Read at most one byte past the bound, whatever the server says it sends.
    let mut bytes = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| failed(e.to_string()))? {
        bytes.extend_from_slice(&chunk);
        if bytes.len() > MAX_BYTES {
            break;
        }
    }
    Ok(bytes)
}
