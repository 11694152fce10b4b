//! Proven actors: `--actor-jwks` with the issuer and audience every token must carry, and
//! the claim naming the actor; and the console's own sign-in with an OpenID provider
//! (`--console-oidc-*`). Checked with the rest of `serve`'s settings.

use super::{ConfigError, ServeSettings};
use crate::identity::{ActorJwtConfig, DEFAULT_CLAIM, OidcConfig};

/// None without `console_oidc_issuer`; refused when its companions are missing or set
/// alone, or the issuer is not https.
pub(super) fn console_oidc(s: &ServeSettings) -> Result<Option<OidcConfig>, ConfigError> {
    let Some(issuer) = s.console_oidc_issuer.clone() else {
        let alone = [
            s.console_oidc_client_id
                .as_ref()
                .map(|_| "console_oidc_client_id"),
            s.console_oidc_client_secret_file
                .as_ref()
                .map(|_| "console_oidc_client_secret_file"),
            s.console_oidc_ca.as_ref().map(|_| "console_oidc_ca"),
        ];
        if let Some(key) = alone.into_iter().flatten().next() {
            return Err(ConfigError::invalid(
                key,
                "is set without `console_oidc_issuer` (--console-oidc-issuer URL); set the provider too",
            ));
        }
        return Ok(None);
    };
    if !issuer.starts_with("https://") {
        return Err(ConfigError::invalid(
            "console_oidc_issuer",
            format!(
                "must be an https:// URL, got `{issuer}`: sign-ins must not cross the network in the clear"
            ),
        ));
    }
    let client_id = s
        .console_oidc_client_id
        .clone()
        .filter(|id| !id.trim().is_empty())
        .ok_or_else(|| {
            ConfigError::invalid(
                "console_oidc_client_id",
                "is required with `console_oidc_issuer`: the console's client id at the provider",
            )
        })?;
    let client_secret = match &s.console_oidc_client_secret_file {
        None => None,
        Some(path) => {
            let text = std::fs::read_to_string(path).map_err(|e| {
                ConfigError::invalid(
                    "console_oidc_client_secret_file",
                    format!("cannot be read from `{}`: {e}", path.display()),
                )
            })?;
            Some(text.trim().to_owned()).filter(|t| !t.is_empty())
        }
    };
    Ok(Some(OidcConfig {
        issuer,
        client_id,
        client_secret,
        ca: s.console_oidc_ca.clone(),
    }))
}

/// None without `actor_jwks`; refused when its companions are missing or set alone.
pub(super) fn actor_jwt(s: &ServeSettings) -> Result<Option<ActorJwtConfig>, ConfigError> {
    let Some(jwks) = s.actor_jwks.clone() else {
        let alone = [
            s.actor_jwks_ca.as_ref().map(|_| "actor_jwks_ca"),
            s.actor_jwt_issuer.as_ref().map(|_| "actor_jwt_issuer"),
            s.actor_jwt_audience.as_ref().map(|_| "actor_jwt_audience"),
            s.actor_jwt_claim.as_ref().map(|_| "actor_jwt_claim"),
        ];
        if let Some(key) = alone.into_iter().flatten().next() {
            return Err(ConfigError::invalid(
                key,
                "is set without `actor_jwks` (--actor-jwks FILE_OR_URL); set the key set too",
            ));
        }
        return Ok(None);
    };
    let required = |key: &'static str, value: &Option<String>| {
        value
            .clone()
            .filter(|v| !v.trim().is_empty())
            .ok_or_else(|| {
                ConfigError::invalid(
                    key,
                    "is required with `actor_jwks`: a token is accepted only from the issuer, and for the audience, you name",
                )
            })
    };
    Ok(Some(ActorJwtConfig {
        issuer: required("actor_jwt_issuer", &s.actor_jwt_issuer)?,
        audience: required("actor_jwt_audience", &s.actor_jwt_audience)?,
        claim: s
            .actor_jwt_claim
            .clone()
            .filter(|c| !c.trim().is_empty())
            .unwrap_or_else(|| DEFAULT_CLAIM.to_owned()),
        jwks,
        jwks_ca: s.actor_jwks_ca.clone(),
    }))
}

#[cfg(test)]
mod tests {
    use crate::config::ServeConfig;
    use crate::config::serve::tests::serve_args;

    fn refusal(args: &[&str]) -> String {
        ServeConfig::from_settings(serve_args(args).settings)
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn the_key_set_needs_an_issuer_and_an_audience() {
        let jwks = ["--actor-jwks", "/keys.json"];
        assert!(refusal(&jwks).contains("actor_jwt_issuer"));
        let with_issuer = [&jwks[..], &["--actor-jwt-issuer", "https://iss"]].concat();
        assert!(refusal(&with_issuer).contains("actor_jwt_audience"));
        let full = [&with_issuer[..], &["--actor-jwt-audience", "api://app"]].concat();
        let config = ServeConfig::from_settings(serve_args(&full).settings).unwrap();
        let actor = config.actor_jwt.unwrap();
        assert_eq!(
            (actor.claim.as_str(), actor.audience.as_str()),
            ("oid", "api://app")
        );
    }

    #[test]
    fn the_console_provider_needs_https_and_a_client_id() {
        let issuer = ["--console-oidc-issuer", "https://login.example/v2.0"];
        assert!(refusal(&issuer).contains("console_oidc_client_id"));
        assert!(refusal(&["--console-oidc-issuer", "http://login.example"]).contains("https://"));
        assert!(
            refusal(&["--console-oidc-client-id", "app"]).contains("without `console_oidc_issuer`")
        );
        let full = [&issuer[..], &["--console-oidc-client-id", "app"]].concat();
        let config = ServeConfig::from_settings(serve_args(&full).settings).unwrap();
        let oidc = config.console_oidc.unwrap();
        assert_eq!((oidc.client_id.as_str(), oidc.client_secret), ("app", None));
    }

    #[test]
    fn companions_without_a_key_set_are_refused() {
        assert!(refusal(&["--actor-jwt-issuer", "https://iss"]).contains("without `actor_jwks`"));
        assert!(refusal(&["--actor-jwt-claim", "sub"]).contains("without `actor_jwks`"));
    }

    #[test]
    fn proven_actors_guard_an_admin_port_off_the_loopback() {
        let args = [
            "--listen",
            "0.0.0.0:50051",
            "--actor-jwks",
            "/keys.json",
            "--actor-jwt-issuer",
            "https://iss",
            "--actor-jwt-audience",
            "api://app",
        ];
        assert!(ServeConfig::from_settings(serve_args(&args).settings).is_ok());
        assert!(refusal(&args[..2]).contains("not a loopback address"));
    }
}
