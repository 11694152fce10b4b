//! What callers authenticate with: the bearer token and the gRPC ports' TLS files.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;

use super::{ConfigError, ServeSettings};

/// The certificate and key of the gRPC ports, and the CA of callers for mutual TLS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
    /// Some: mutual TLS, every caller presents a certificate this CA signed.
    pub client_ca: Option<PathBuf>,
}

impl TlsFiles {
    /// None when no `tls_*` key is set; refused when the set ones do not make a whole.
    pub(super) fn from_settings(s: &ServeSettings) -> Result<Option<TlsFiles>, ConfigError> {
        let tls = match (
            s.tls_cert.clone(),
            s.tls_key.clone(),
            s.tls_client_ca.clone(),
        ) {
            (Some(cert), Some(key), client_ca) => Some(TlsFiles {
                cert,
                key,
                client_ca,
            }),
            (None, None, None) => None,
            (Some(_), None, _) => {
                return Err(ConfigError::invalid(
                    "tls_cert",
                    "is set without `tls_key` (--tls-key); set both",
                ));
            }
            (None, Some(_), _) => {
                return Err(ConfigError::invalid(
                    "tls_key",
                    "is set without `tls_cert` (--tls-cert); set both",
                ));
            }
            (None, None, Some(_)) => {
                return Err(ConfigError::invalid(
                    "tls_client_ca",
                    "needs `tls_cert` and `tls_key`: mutual TLS is TLS that also checks the caller's certificate",
                ));
            }
        };
        Ok(tls)
    }
}

/// The shared secret callers present as `authorization: Bearer <token>`. Never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct BearerToken(String);

impl BearerToken {
    /// A token: one or more visible ASCII characters without spaces (RFC 6750).
    pub fn new(token: &str) -> Result<BearerToken, ConfigError> {
        let token = BearerToken(token.to_owned());
        token.check("auth_token")?;
        Ok(token)
    }

    /// The token of `--auth-token` (checked) or the one in the file of `--auth-token-file`,
    /// as `serve` and the `check` client both take it; refused when both are given.
    pub fn resolve(
        token: Option<BearerToken>,
        file: Option<&Path>,
    ) -> Result<Option<BearerToken>, ConfigError> {
        match (token, file) {
            (Some(_), Some(_)) => Err(ConfigError::invalid(
                "auth_token",
                "and `auth_token_file` (--auth-token-file) are both set; set one",
            )),
            (Some(token), None) => {
                token.check("auth_token")?;
                Ok(Some(token))
            }
            (None, Some(path)) => Ok(Some(BearerToken::from_file(path, "auth_token_file")?)),
            (None, None) => Ok(None),
        }
    }

    fn check(&self, key: &'static str) -> Result<(), ConfigError> {
        if !self.0.is_empty() && self.0.bytes().all(|b| b.is_ascii_graphic()) {
            Ok(())
        } else {
            Err(ConfigError::invalid(
                key,
                "must be one or more visible ASCII characters without spaces (RFC 6750)",
            ))
        }
    }

    pub(super) fn from_file(path: &Path, key: &'static str) -> Result<BearerToken, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::ReadFile {
            path: path.to_owned(),
            source,
        })?;
        let token = BearerToken(text.trim().to_owned());
        token.check(key)?;
        Ok(token)
    }

    /// The secret itself, to compare or to send.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BearerToken(<redacted>)")
    }
}

/// Parsing never fails nor echoes the value: it is checked, without being shown, once
/// every layer is merged.
impl FromStr for BearerToken {
    type Err = std::convert::Infallible;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(BearerToken(s.to_owned()))
    }
}

impl<'de> Deserialize<'de> for BearerToken {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(BearerToken)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::serve::tests::refusal;

    #[test]
    fn half_a_tls_configuration_is_refused() {
        assert_eq!(
            refusal(&["--tls-key", "k.pem"]),
            "`tls_key` (--tls-key) is set without `tls_cert` (--tls-cert); set both"
        );
        let err = refusal(&["--tls-client-ca", "ca.pem"]);
        assert!(
            err.starts_with("`tls_client_ca` (--tls-client-ca) needs"),
            "{err}"
        );
    }

    #[test]
    fn a_bad_token_is_refused_without_being_shown() {
        let err = refusal(&["--auth-token", "two words"]);
        assert!(
            err.starts_with("`auth_token` (--auth-token) must be"),
            "{err}"
        );
        assert!(!err.contains("two words"), "{err}");
        let err = refusal(&["--auth-token", "a", "--auth-token-file", "f"]);
        assert!(err.contains("auth_token"), "{err}");
    }
}
