//! A sidecar without a database: `--upstream URL`, the CA that signed the tier's
//! certificate, and the token the tier wants. Checked with the rest of `serve`'s settings.

use std::path::PathBuf;

use super::{BearerToken, ConfigError, ServeSettings};
use crate::model::shown;

/// The database tier a sidecar without a database is fed by.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UpstreamConfig {
    pub url: String,
    pub ca: Option<PathBuf>,
    pub token: Option<BearerToken>,
    /// Where the token was read from, to show the configuration.
    pub token_file: Option<PathBuf>,
}

impl UpstreamConfig {
    /// None without `upstream`; refused when it is not a URL, or comes with a database.
    pub(super) fn from_settings(s: &ServeSettings) -> Result<Option<UpstreamConfig>, ConfigError> {
        let Some(url) = s.upstream.clone() else {
            if let Some(key) = [
                s.upstream_ca.as_ref().map(|_| "upstream_ca"),
                s.upstream_token_file
                    .as_ref()
                    .map(|_| "upstream_token_file"),
            ]
            .into_iter()
            .flatten()
            .next()
            {
                return Err(ConfigError::invalid(
                    key,
                    "is set without `upstream` (--upstream URL); set the tier's URL too",
                ));
            }
            return Ok(None);
        };
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(ConfigError::invalid(
                "upstream",
                format!(
                    "must be an http:// or https:// URL such as http://rbac-tier:50051, got `{}`",
                    shown(&url)
                ),
            ));
        }
        if s.database_url.is_some() || s.bootstrap_admin_object_id.is_some() {
            return Err(ConfigError::invalid(
                "upstream",
                "is set with `database_url` or `bootstrap_admin_object_id`: a sidecar fed by the tier has no database; give those to the tier",
            ));
        }
        let token = s
            .upstream_token_file
            .as_deref()
            .map(|path| BearerToken::from_file(path, "upstream_token_file"))
            .transpose()?;
        Ok(Some(UpstreamConfig {
            url,
            ca: s.upstream_ca.clone(),
            token,
            token_file: s.upstream_token_file.clone(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use crate::config::ServeConfig;
    use crate::config::serve::tests::{refusal, serve_args};

    #[test]
    fn a_sidecar_fed_by_the_tier_has_no_database() {
        let config =
            ServeConfig::from_settings(serve_args(&["--upstream", "http://tier:50051"]).settings)
                .unwrap();
        assert_eq!(config.upstream.as_ref().unwrap().url, "http://tier:50051");
        let printed = config.to_toml();
        assert!(
            printed.contains("upstream = \"http://tier:50051\""),
            "{printed}"
        );
        assert!(!printed.contains("database_url"), "{printed}");
        let both = refusal(&[
            "--upstream",
            "http://t:1",
            "--database-url",
            "sqlite::memory:",
        ]);
        assert!(both.contains("has no database"), "{both}");
        let bootstrap = [
            "--upstream",
            "http://t:1",
            "--bootstrap-admin-object-id",
            "0b5ad0a1-0000-4000-8000-00000000a0a1",
        ];
        assert!(refusal(&bootstrap).contains("give those to the tier"));
        assert!(refusal(&["--upstream", "tier:50051"]).contains("http:// or https://"));
        assert!(refusal(&["--upstream-ca", "/ca.pem"]).contains("without `upstream`"));
        assert!(refusal(&["--database-max-connections", "0"]).contains("at least 1"));
    }
}
