//! Logs and traces.
//!
//! Logs: `tracing` with an env filter (`RUST_LOG`, default `info`), plain text on a
//! terminal, JSON lines when `CONVOGRAPH_LOG_FORMAT=json`. Every line logged while
//! serving a request carries the request's span, whose `request_id` is the
//! `X-Request-Id` the response returns.
//!
//! Traces (`telemetry.otlp.enabled`): spans are exported over OTLP/HTTP with
//! protobuf bodies (no gRPC stack): one per HTTP request, one per resolver that may
//! call a provider, one per DataLoader batch and one per upstream request. A W3C
//! `traceparent` header from a gateway makes the request span its child. The
//! exporter sends through a reqwest client on the server's own Tokio runtime.

use std::{io::IsTerminal, time::Duration};

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{Protocol, WithExportConfig, WithHttpConfig};
use opentelemetry_sdk::{
    Resource,
    propagation::TraceContextPropagator,
    trace::{Sampler, SdkTracerProvider},
};
use tracing_subscriber::{EnvFilter, Layer, fmt, layer::SubscriberExt, util::SubscriberInitExt};

use crate::config::OtlpSettings;

/// Env var that selects JSON logs (`json`).
pub const LOG_FORMAT_ENV: &str = "CONVOGRAPH_LOG_FORMAT";

/// Flushes exported spans when the server stops.
#[derive(Debug, Default)]
#[must_use = "keep the guard and shut it down when the server stops, or the last spans are lost"]
pub struct TelemetryGuard {
    provider: Option<SdkTracerProvider>,
}

impl TelemetryGuard {
    /// Exports what is buffered and stops the exporter.
    pub async fn shutdown(self) {
        if let Some(provider) = self.provider {
            // The batch processor blocks on its own thread while the export runs on
            // this runtime, so wait for it off the runtime's threads.
            let result = tokio::task::spawn_blocking(move || provider.shutdown()).await;
            if !matches!(result, Ok(Ok(()))) {
                tracing::warn!("Trace export did not shut down cleanly; the last spans may be lost.");
            }
        }
    }
}

/// Logs only (before the configuration is read, or for `convograph sandbox`).
pub fn init() {
    let _ = install(None);
}

/// Logs, and traces when `otlp.enabled`. Installs the global subscriber once (later
/// calls change nothing and return an inert guard).
pub fn init_with(otlp: &OtlpSettings) -> Result<TelemetryGuard, String> {
    if !otlp.enabled {
        init();
        return Ok(TelemetryGuard::default());
    }
    let provider = tracer_provider(otlp)?;
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    if install(Some(&provider)) {
        Ok(TelemetryGuard { provider: Some(provider) })
    } else {
        let _ = provider.shutdown();
        Ok(TelemetryGuard::default())
    }
}

fn install(provider: Option<&SdkTracerProvider>) -> bool {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var(LOG_FORMAT_ENV).is_ok_and(|v| v.eq_ignore_ascii_case("json"));
    let logs = if json {
        fmt::layer().json().with_writer(std::io::stderr).boxed()
    } else {
        // Colours only for a terminal: escape codes in a log file or collector are noise.
        fmt::layer().with_ansi(std::io::stderr().is_terminal()).with_writer(std::io::stderr).boxed()
    };
    let traces = provider.map(|p| tracing_opentelemetry::layer().with_tracer(p.tracer("convograph")));
    tracing_subscriber::registry().with(filter).with(logs).with(traces).try_init().is_ok()
}

fn tracer_provider(otlp: &OtlpSettings) -> Result<SdkTracerProvider, String> {
    let client = ExportClient::new(otlp.timeout)?;
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_http()
        .with_http_client(client)
        .with_protocol(Protocol::HttpBinary)
        .with_endpoint(otlp.endpoint.as_str())
        .with_timeout(otlp.timeout)
        .build()
        .map_err(|e| format!("telemetry.otlp: {e}"))?;
    Ok(SdkTracerProvider::builder()
        .with_batch_exporter(exporter)
        .with_sampler(Sampler::ParentBased(Box::new(Sampler::TraceIdRatioBased(otlp.sample_ratio))))
        .with_resource(Resource::builder().with_service_name(otlp.service_name.clone()).build())
        .build())
}

/// The OTLP exporter's HTTP client: our reqwest client, driven on the runtime the
/// exporter was built on (its batch thread has no reactor of its own).
#[derive(Debug)]
struct ExportClient {
    client: reqwest::Client,
    runtime: tokio::runtime::Handle,
}

/// Largest collector response read (they are tiny: an empty or partial-success body).
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

impl ExportClient {
    fn new(timeout: Duration) -> Result<Self, String> {
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| "telemetry.otlp: trace export needs the Tokio runtime".to_owned())?;
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .build()
            .map_err(|e| format!("telemetry.otlp: http client: {e}"))?;
        Ok(Self { client, runtime })
    }
}

#[async_trait::async_trait]
impl opentelemetry_http::HttpClient for ExportClient {
    async fn send_bytes(
        &self,
        request: opentelemetry_http::Request<opentelemetry_http::Bytes>,
    ) -> Result<opentelemetry_http::Response<opentelemetry_http::Bytes>, opentelemetry_http::HttpError> {
        let request = reqwest::Request::try_from(request)?;
        let client = self.client.clone();
        let task = self.runtime.spawn(async move {
            let resp = client.execute(request).await?;
            let mut builder = opentelemetry_http::Response::builder().status(resp.status());
            for (name, value) in resp.headers() {
                builder = builder.header(name, value);
            }
            let mut body = Vec::new();
            let mut resp = resp;
            while let Some(chunk) = resp.chunk().await? {
                if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
                    break;
                }
                body.extend_from_slice(&chunk);
            }
            Ok::<_, opentelemetry_http::HttpError>(builder.body(opentelemetry_http::Bytes::from(body))?)
        });
        task.await?
    }
}
