//! The shared bearer token: when one is configured, every call but the gRPC health
//! check must carry `authorization: Bearer <token>`, or it is UNAUTHENTICATED before it
//! reaches a service. Health stays open so that the kubelet's probes work; reflection is
//! behind the token like everything else. The comparison takes the same time whatever
//! the presented token shares with the real one.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use subtle::ConstantTimeEq;
use tonic::Status;
use tonic::body::Body;
use tower::{Layer, Service};

use crate::config::BearerToken;

/// Calls on paths under this prefix need no token.
const OPEN_PREFIX: &str = "/grpc.health.v1.Health/";

/// Requires the bearer token, when there is one, on the services it wraps.
#[derive(Clone, Debug)]
pub struct BearerAuthLayer {
    token: Option<Arc<BearerToken>>,
}

impl BearerAuthLayer {
    /// None: every call passes.
    pub fn new(token: Option<BearerToken>) -> BearerAuthLayer {
        BearerAuthLayer {
            token: token.map(Arc::new),
        }
    }
}

impl<S> Layer<S> for BearerAuthLayer {
    type Service = BearerAuth<S>;

    fn layer(&self, inner: S) -> Self::Service {
        BearerAuth {
            inner,
            token: self.token.clone(),
        }
    }
}

/// The service [`BearerAuthLayer`] wraps around another.
#[derive(Clone, Debug)]
pub struct BearerAuth<S> {
    inner: S,
    token: Option<Arc<BearerToken>>,
}

impl<S> BearerAuth<S> {
    /// Why the call is refused, if it is.
    fn refusal(&self, request: &http::Request<Body>) -> Option<Status> {
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

impl<S> Service<http::Request<Body>> for BearerAuth<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>>,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = AuthFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        match self.refusal(&request) {
            Some(status) => AuthFuture::Refused {
                answer: Some(status.into_http()),
            },
            None => AuthFuture::Passed {
                call: self.inner.call(request),
            },
        }
    }
}

pin_project_lite::pin_project! {
    /// The wrapped call, or the refusal.
    #[project = AuthFutureProjection]
    pub enum AuthFuture<F> {
        Passed { #[pin] call: F },
        Refused { answer: Option<http::Response<Body>> },
    }
}

impl<F, E> Future for AuthFuture<F>
where
    F: Future<Output = Result<http::Response<Body>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            AuthFutureProjection::Passed { call } => call.poll(cx),
            // Polled again after it answered: refuse again rather than panic.
            AuthFutureProjection::Refused { answer } => Poll::Ready(Ok(answer
                .take()
                .unwrap_or_else(|| Status::unauthenticated("refused").into_http()))),
        }
    }
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
            inner: (),
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
