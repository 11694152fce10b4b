//! The shared bearer token: when one is configured, every call but the gRPC health
//! check must carry `authorization: Bearer <token>`, or it is UNAUTHENTICATED before it
//! reaches a service. Health stays open so that the kubelet's probes work; reflection is
//! behind the token like everything else. The comparison takes the same time whatever
//! the presented token shares with the real one. tower-http's request validation does the
//! serving; the refusal is a gRPC status, not HTTP 401, so clients see UNAUTHENTICATED.

use std::sync::Arc;

use subtle::ConstantTimeEq;
use tonic::Status;
use tonic::body::Body;
use tower_http::validate_request::{ValidateRequest, ValidateRequestHeaderLayer};

use crate::config::BearerToken;

/// Calls on paths under this prefix need no token.
const OPEN_PREFIX: &str = "/grpc.health.v1.Health/";

/// Requires the bearer token, when there is one, on the services it wraps; None: every
/// call passes.
pub fn bearer_auth(token: Option<BearerToken>) -> ValidateRequestHeaderLayer<BearerAuth> {
    ValidateRequestHeaderLayer::custom(BearerAuth {
        token: token.map(Arc::new),
    })
}

/// The check [`bearer_auth`] runs on every call.
#[derive(Clone, Debug)]
pub struct BearerAuth {
    token: Option<Arc<BearerToken>>,
}

impl<B> ValidateRequest<B> for BearerAuth {
    type ResponseBody = Body;

    fn validate(&mut self, request: &mut http::Request<B>) -> Result<(), http::Response<Body>> {
        match self.refusal(request) {
            Some(status) => Err(status.into_http()),
            None => Ok(()),
        }
    }
}

impl BearerAuth {
    /// Why the call is refused, if it is.
    fn refusal<B>(&self, request: &http::Request<B>) -> Option<Status> {
        let token = self.token.as_ref()?;
        if request.uri().path().starts_with(OPEN_PREFIX) {
            return None;
        }
        let Some(value) = request.headers().get(http::header::AUTHORIZATION) else {
            return Some(Status::unauthenticated(
                "this server requires `authorization: Bearer <token>` metadata",
            ));
        };
        let Some(presented) = bearer(value.as_bytes()) else {
            return Some(Status::unauthenticated(
                "the `authorization` metadata must be `Bearer <token>`",
            ));
        };
        if bool::from(presented.ct_eq(token.expose().as_bytes())) {
            None
        } else {
            tracing::debug!("call refused: wrong bearer token");
            Some(Status::unauthenticated("the bearer token is not valid"))
        }
    }
}

/// The token of a `Bearer <token>` value; the scheme is case-insensitive.
fn bearer(value: &[u8]) -> Option<&[u8]> {
    const SCHEME: &[u8] = b"bearer ";
    let (scheme, token) = value.split_at_checked(SCHEME.len())?;
    scheme
        .eq_ignore_ascii_case(SCHEME)
        .then(|| token.trim_ascii())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_is_case_insensitive_and_required() {
        assert_eq!(bearer(b"Bearer abc"), Some(&b"abc"[..]));
        assert_eq!(bearer(b"bearer  abc "), Some(&b"abc"[..]));
        assert_eq!(bearer(b"Basic abc"), None);
        assert_eq!(bearer(b"abc"), None);
    }

    fn refusal(token: Option<&str>, path: &str, header: Option<&str>) -> Option<tonic::Code> {
        let auth = BearerAuth {
            token: token.map(|t| Arc::new(BearerToken::new(t).unwrap())),
        };
        let mut request = http::Request::builder().uri(path);
        if let Some(header) = header {
            request = request.header("authorization", header);
        }
        auth.refusal(&request.body(Body::empty()).unwrap())
            .map(|s| s.code())
    }

    #[test]
    fn only_the_right_token_passes_except_on_health() {
        let check = "/rbac.v1.AuthorizationService/CheckAccess";
        let unauthenticated = Some(tonic::Code::Unauthenticated);
        assert_eq!(refusal(None, check, None), None);
        assert_eq!(refusal(Some("s3cret"), check, None), unauthenticated);
        assert_eq!(
            refusal(Some("s3cret"), check, Some("Bearer s3cre")),
            unauthenticated
        );
        assert_eq!(
            refusal(Some("s3cret"), check, Some("Bearer s3cret!")),
            unauthenticated
        );
        assert_eq!(refusal(Some("s3cret"), check, Some("Bearer s3cret")), None);
        assert_eq!(
            refusal(Some("s3cret"), "/grpc.health.v1.Health/Check", None),
            None
        );
        assert_eq!(
            refusal(
                Some("s3cret"),
                "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
                None
            ),
            unauthenticated
        );
    }
}
