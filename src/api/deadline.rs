//! The per-call deadline: a call still running after `--request-timeout-ms` is dropped
//! (its work cancelled) and answered DEADLINE_EXCEEDED. A caller's shorter `grpc-timeout`
//! is enforced by tonic itself. tower's timeout does the timing; the answer is a gRPC
//! status, not a transport error, so the client sees why.

use std::time::Duration;

use tonic::Status;
use tonic::body::Body;
use tower::BoxError;
use tower::layer::util::Stack;
use tower::timeout::TimeoutLayer;
use tower::timeout::error::Elapsed;
use tower::util::MapResultLayer;

/// A call's result as the timeout hands it on.
type Answer = Result<http::Response<Body>, BoxError>;

/// Bounds every call of the services it wraps by `limit`.
pub fn deadline(
    limit: Duration,
) -> Stack<TimeoutLayer, MapResultLayer<impl Fn(Answer) -> Answer + Clone>> {
    let on_elapsed = move |answer: Answer| match answer {
        Err(err) if err.is::<Elapsed>() => Ok(Status::deadline_exceeded(format!(
            "the call did not finish within {} ms (the server's --request-timeout-ms)",
            limit.as_millis()
        ))
        .into_http()),
        answer => answer,
    };
    // The outer layer sees what the inner one answers: the timeout's Elapsed included.
    Stack::new(TimeoutLayer::new(limit), MapResultLayer::new(on_elapsed))
}
