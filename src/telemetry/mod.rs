//! What the service tells its operators: structured logs (human-readable or JSON),
//! traces exported over OTLP when a collector is configured, and Prometheus metrics
//! served over HTTP next to liveness and readiness.

mod endpoint;
mod metrics;
mod rpc;

pub use endpoint::{EndpointState, serve_endpoint};
pub use metrics::{CheckCounters, ExtAuthzCounters, Metrics, RpcInstruments, RpcMethod, code_name};
pub use rpc::{RpcTelemetry, RpcTelemetryLayer};

use std::io::IsTerminal;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig;
use opentelemetry_otlp::WithTonicConfig;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer, Registry};

use crate::config::LogFormat;

/// The service name traces carry unless `OTEL_SERVICE_NAME` says otherwise.
const SERVICE_NAME: &str = "rbac-sidecar";

/// Why logging or tracing could not start.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    #[error("`log_filter` (--log-filter, RUST_LOG) is not a valid filter: {0}")]
    Filter(#[from] tracing_subscriber::filter::ParseError),
    #[error("`otlp_endpoint` (--otlp-endpoint) `{endpoint}` cannot be used: {message}")]
    Otlp { endpoint: String, message: String },
    #[error("logging was already set up in this process")]
    AlreadySet,
}

/// Trace export, while it runs: [`Tracing::shutdown`] sends what is buffered.
#[must_use = "shut tracing down to export the last spans"]
pub struct Tracing {
    provider: Option<SdkTracerProvider>,
}

/// Logs to standard output in `format`, keeping what `filter` allows, and exports spans
/// to `otlp_endpoint` (OTLP over gRPC) when given. Call within the Tokio runtime.
pub fn init(
    format: LogFormat,
    filter: &str,
    otlp_endpoint: Option<&str>,
) -> Result<Tracing, TelemetryError> {
    let filter = EnvFilter::try_new(filter)?;
    type Boxed =
        Box<dyn Layer<tracing_subscriber::layer::Layered<EnvFilter, Registry>> + Send + Sync>;
    let mut layers: Vec<Boxed> = Vec::new();
    layers.push(match format {
        LogFormat::Pretty => tracing_subscriber::fmt::layer()
            .with_ansi(std::io::stdout().is_terminal())
            .boxed(),
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .boxed(),
    });
    let provider = match otlp_endpoint {
        Some(endpoint) => Some(tracer_provider(endpoint)?),
        None => None,
    };
    if let Some(provider) = &provider {
        layers.push(
            tracing_opentelemetry::layer()
                .with_tracer(provider.tracer(SERVICE_NAME))
                .boxed(),
        );
    }
    Registry::default()
        .with(filter)
        .with(layers)
        .try_init()
        .map_err(|_| TelemetryError::AlreadySet)?;
    Ok(Tracing { provider })
}

/// Spans batched and sent to the collector in the background.
fn tracer_provider(endpoint: &str) -> Result<SdkTracerProvider, TelemetryError> {
    let failed = |message: String| TelemetryError::Otlp {
        endpoint: endpoint.to_owned(),
        message,
    };
    let mut exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint);
    if endpoint.starts_with("https://") {
        exporter =
            exporter.with_tls_config(tonic::transport::ClientTlsConfig::new().with_enabled_roots());
    }
    let exporter = exporter.build().map_err(|e| failed(e.to_string()))?;
    let mut resource = opentelemetry_sdk::Resource::builder();
    if std::env::var_os("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name(SERVICE_NAME);
    }
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_resource(resource.build())
        .build())
}

/// An error and its causes, `: `-separated: what an operator needs, in one line.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        // Some errors repeat their cause in their own text: say each cause once.
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

impl Tracing {
    /// Exports the spans still buffered, then stops exporting.
    pub async fn shutdown(self) {
        let Some(provider) = self.provider else {
            return;
        };
        // The SDK's shutdown blocks until its exporting thread is done.
        match tokio::task::spawn_blocking(move || provider.shutdown()).await {
            Ok(Ok(())) => {}
            Ok(Err(err)) => {
                tracing::warn!(error = %err, "the last spans may not have been exported")
            }
            Err(err) => tracing::warn!(error = %err, "the last spans may not have been exported"),
        }
    }
}
