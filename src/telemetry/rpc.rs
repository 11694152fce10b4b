//! One span and one latency sample per gRPC call, as a tower layer around the gRPC
//! router. The span continues the caller's trace (W3C `traceparent` metadata) and is
//! exported over OTLP when configured. The call's status is read where gRPC puts it: the
//! response headers for an error, the trailers of a stream otherwise; a unary call that
//! did not fail in its headers succeeded.

use std::collections::HashMap;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use http_body::{Frame, SizeHint};
use opentelemetry::propagation::{Extractor, TextMapPropagator};
use opentelemetry::trace::TraceContextExt;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use prost::Message;
use tonic::Code;
use tonic::body::Body;
use tower::{Layer, Service};
use tracing::Instrument;
use tracing_opentelemetry::OpenTelemetrySpanExt;

use super::metrics::{Metrics, RpcInstruments, RpcMethod};

/// What every call shares: the metrics, the known methods, the trace-context reader.
struct Shared {
    metrics: Arc<Metrics>,
    /// By path (`/rbac.v1.AuthorizationService/CheckAccess`): only the contract's
    /// methods get a label of their own, so a caller cannot grow the label set.
    methods: HashMap<String, Arc<RpcInstruments>>,
    unknown: Arc<RpcInstruments>,
    propagator: TraceContextPropagator,
}

/// Instruments every call of the services it wraps.
#[derive(Clone)]
pub struct RpcTelemetryLayer {
    shared: Arc<Shared>,
}

impl RpcTelemetryLayer {
    /// Records into `metrics`; the methods are those of the encoded descriptor sets.
    pub fn new(metrics: Arc<Metrics>, descriptor_sets: &[&[u8]]) -> RpcTelemetryLayer {
        let mut methods = HashMap::new();
        for encoded in descriptor_sets {
            let Ok(set) = prost_types::FileDescriptorSet::decode(*encoded) else {
                tracing::warn!(
                    "a descriptor set does not decode; its methods are labelled `unknown`"
                );
                continue;
            };
            for file in set.file {
                let package = file.package.unwrap_or_default();
                for service in file.service {
                    let name = service.name.unwrap_or_default();
                    let full: Arc<str> = if package.is_empty() {
                        name.into()
                    } else {
                        format!("{package}.{name}").into()
                    };
                    for method in service.method {
                        let streaming = method.client_streaming() || method.server_streaming();
                        let method = method.name.unwrap_or_default();
                        let admin_write = &*full == "rbac.v1.AdminService"
                            && !["Get", "List", "Check"]
                                .iter()
                                .any(|read| method.starts_with(read));
                        methods.insert(
                            format!("/{full}/{method}"),
                            Arc::new(RpcInstruments::new(RpcMethod {
                                service: Arc::clone(&full),
                                method: method.into(),
                                admin_write,
                                streaming,
                            })),
                        );
                    }
                }
            }
        }
        RpcTelemetryLayer {
            shared: Arc::new(Shared {
                metrics,
                methods,
                unknown: Arc::new(RpcInstruments::new(RpcMethod {
                    service: "unknown".into(),
                    method: "unknown".into(),
                    admin_write: false,
                    streaming: true,
                })),
                propagator: TraceContextPropagator::new(),
            }),
        }
    }
}

impl<S> Layer<S> for RpcTelemetryLayer {
    type Service = RpcTelemetry<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RpcTelemetry {
            inner,
            shared: Arc::clone(&self.shared),
        }
    }
}

/// The service [`RpcTelemetryLayer`] wraps around another.
#[derive(Clone)]
pub struct RpcTelemetry<S> {
    inner: S,
    shared: Arc<Shared>,
}

/// Reads trace context from request headers (gRPC metadata).
struct HeaderExtractor<'a>(&'a http::HeaderMap);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}

impl<S> Service<http::Request<Body>> for RpcTelemetry<S>
where
    S: Service<http::Request<Body>, Response = http::Response<Body>>,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = RpcFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<Body>) -> Self::Future {
        let started = Instant::now();
        let rpc = Arc::clone(
            self.shared
                .methods
                .get(request.uri().path())
                .unwrap_or(&self.shared.unknown),
        );
        let method = &rpc.method;
        let span = tracing::info_span!(
            "grpc",
            otel.name = format_args!("{}/{}", method.service, method.method),
            otel.kind = "server",
            otel.status_code = tracing::field::Empty,
            rpc.system = "grpc",
            rpc.service = %method.service,
            rpc.method = %method.method,
            rpc.grpc.status_code = tracing::field::Empty,
            trace_id = tracing::field::Empty,
        );
        if request.headers().contains_key(TRACEPARENT) {
            let parent = self
                .shared
                .propagator
                .extract(&HeaderExtractor(request.headers()));
            let remote = parent.span().span_context().clone();
            if remote.is_valid() {
                span.record("trace_id", tracing::field::display(remote.trace_id()));
                // Fails only when the span is disabled by the log filter: nothing to export then.
                let _ = span.set_parent(parent);
            }
        }
        let call = {
            let _entered = span.enter();
            self.inner.call(request)
        };
        RpcFuture {
            call: call.instrument(span.clone()),
            watch: Some(Call {
                shared: Arc::clone(&self.shared),
                rpc,
                started,
                span,
            }),
        }
    }
}

/// The W3C trace-context header.
const TRACEPARENT: &str = "traceparent";

pin_project_lite::pin_project! {
    /// A call in progress; its response is watched for the status.
    pub struct RpcFuture<F> {
        #[pin]
        call: tracing::instrument::Instrumented<F>,
        watch: Option<Call>,
    }
}

impl<F, E> Future for RpcFuture<F>
where
    F: Future<Output = Result<http::Response<Body>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let response = std::task::ready!(this.call.poll(cx))?;
        Poll::Ready(Ok(match this.watch.take() {
            Some(call) => call.watch(response),
            None => response,
        }))
    }
}

/// One call in progress, recorded once when its status is known.
struct Call {
    shared: Arc<Shared>,
    rpc: Arc<RpcInstruments>,
    started: Instant,
    span: tracing::Span,
}

impl Call {
    /// Records now if the status is in the headers (an error), or if the call is unary
    /// (tonic answers a unary call with headers only when it fails: these headers start
    /// a successful answer); otherwise when the trailers of the stream pass.
    fn watch(self, response: http::Response<Body>) -> http::Response<Body> {
        if let Some(code) = status_code(response.headers()) {
            self.finish(code);
            return response;
        }
        if !self.rpc.method.streaming {
            self.finish(Code::Ok);
            return response;
        }
        response.map(|inner| {
            Body::new(WatchedBody {
                inner,
                call: Some(self),
            })
        })
    }

    fn finish(self, code: Code) {
        self.shared
            .metrics
            .rpc_finished(&self.rpc, code, self.started.elapsed());
        self.span.record("rpc.grpc.status_code", code as i32);
        if matches!(
            code,
            Code::Unknown
                | Code::DeadlineExceeded
                | Code::Unimplemented
                | Code::Internal
                | Code::Unavailable
                | Code::DataLoss
        ) {
            self.span.record("otel.status_code", "ERROR");
        }
    }
}

fn status_code(headers: &http::HeaderMap) -> Option<Code> {
    headers
        .get("grpc-status")
        .map(|value| Code::from_bytes(value.as_bytes()))
}

/// A response body that records its call when the trailers pass, or as CANCELLED when
/// it is dropped before (the caller went away).
struct WatchedBody {
    inner: Body,
    call: Option<Call>,
}

impl WatchedBody {
    fn finish(&mut self, code: Code) {
        if let Some(call) = self.call.take() {
            call.finish(code);
        }
    }
}

impl http_body::Body for WatchedBody {
    type Data = bytes::Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    let code = status_code(trailers).unwrap_or(Code::Unknown);
                    self.finish(code);
                }
            }
            Poll::Ready(Some(Err(status))) => self.finish(status.code()),
            Poll::Ready(None) => self.finish(Code::Unknown),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for WatchedBody {
    fn drop(&mut self) {
        self.finish(Code::Cancelled);
    }
}
