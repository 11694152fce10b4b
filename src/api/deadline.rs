//! The per-call deadline: a call still running after `--request-timeout-ms` is dropped
//! (its work cancelled) and answered DEADLINE_EXCEEDED. A caller's shorter `grpc-timeout`
//! is enforced by tonic itself. tower's timeout does the timing; the answer is a gRPC
//! status, not a transport error, so the client sees why.

use std::time::Duration;

use tonic::Status;
use tonic::body::Body;
use tower::layer::util::{Identity, Stack};
use tower::timeout::TimeoutLayer;
use tower::timeout::error::Elapsed;
use tower::util::MapResultLayer;
use tower::{BoxError, ServiceBuilder};

type Answer = Result<http::Response<Body>, BoxError>;

/// Bounds every call of the services it wraps by `limit`.
pub fn deadline(
    limit: Duration,
) -> ServiceBuilder<
    Stack<TimeoutLayer, Stack<MapResultLayer<impl Fn(Answer) -> Answer + Clone>, Identity>>,
> {
    ServiceBuilder::new()
        .map_result(move |answer: Answer| match answer {
            Err(err) if err.is::<Elapsed>() => Ok(Status::deadline_exceeded(format!(
                "the call did not finish within {} ms (the server's --request-timeout-ms)",
                limit.as_millis()
            ))
            .into_http()),
            answer => answer,
        })
        .timeout(limit)
}
