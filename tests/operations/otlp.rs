//! Traces over OTLP: a collector made by the test receives the span of a call, in the
//! trace the caller started (W3C `traceparent` metadata).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;

use crate::sidecar::{Launch, Sidecar, admin_check};

/// Keeps every export it receives.
#[derive(Clone, Default)]
struct Collector {
    received: Arc<Mutex<Vec<ExportTraceServiceRequest>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.received.lock().unwrap().push(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse {
            partial_success: None,
        }))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn text(value: Option<&opentelemetry_proto::tonic::common::v1::AnyValue>) -> Option<String> {
    match value.and_then(|v| v.value.as_ref()) {
        Some(Value::StringValue(s)) => Some(s.clone()),
        Some(Value::IntValue(i)) => Some(i.to_string()),
        _ => None,
    }
}

#[tokio::test]
async fn a_call_is_exported_as_a_server_span_in_the_callers_trace() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let collector_address = listener.local_addr().unwrap();
    let collector = Collector::default();
    let server = tonic::transport::Server::builder()
        .add_service(TraceServiceServer::new(collector.clone()))
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener));
    tokio::spawn(server);

    let mut sidecar = Sidecar::start(Launch {
        env: vec![(
            "OTEL_EXPORTER_OTLP_ENDPOINT",
            format!("http://{collector_address}"),
        )],
        ..Launch::default()
    })
    .await;
    let trace_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    let parent_id = "00f067aa0ba902b7";
    let mut request = tonic::Request::new(admin_check());
    request.metadata_mut().insert(
        "traceparent",
        format!("00-{trace_id}-{parent_id}-01").parse().unwrap(),
    );
    assert!(
        sidecar
            .authz()
            .await
            .check_access(request)
            .await
            .unwrap()
            .into_inner()
            .allowed
    );
    // Shutting down exports what is still batched.
    sidecar.terminate();
    assert!(
        sidecar.exit_status(Duration::from_secs(10)).await.success(),
        "{}",
        sidecar.output()
    );

    let received = collector.received.lock().unwrap();
    let mut found = None;
    for export in received.iter() {
        for resource_spans in &export.resource_spans {
            let service = resource_spans.resource.as_ref().and_then(|r| {
                r.attributes
                    .iter()
                    .find(|a| a.key == "service.name")
                    .and_then(|a| text(a.value.as_ref()))
            });
            for scope in &resource_spans.scope_spans {
                for span in &scope.spans {
                    if hex(&span.trace_id) == trace_id {
                        found = Some((service.clone(), span.clone()));
                    }
                }
            }
        }
    }
    let (service, span) = found.unwrap_or_else(|| panic!("no span of the trace in {received:?}"));
    assert_eq!(service.as_deref(), Some("rbac-sidecar"));
    assert_eq!(span.name, "rbac.v1.AuthorizationService/CheckAccess");
    assert_eq!(hex(&span.parent_span_id), parent_id);
    assert_eq!(span.kind, SpanKind::Server as i32);
    let attribute = |key: &str| {
        span.attributes
            .iter()
            .find(|a| a.key == key)
            .and_then(|a| text(a.value.as_ref()))
    };
    assert_eq!(attribute("rpc.system").as_deref(), Some("grpc"));
    assert_eq!(attribute("rpc.method").as_deref(), Some("CheckAccess"));
    assert_eq!(attribute("rpc.grpc.status_code").as_deref(), Some("0"));
}
