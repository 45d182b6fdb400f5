//! Operations: Prometheus metrics, and what the transport saw of each connection.
//!
//! One [`Metrics`] per application (no global registry, so several servers in one
//! process, as in tests, never mix their counts). The rest of the crate reports
//! through a few hooks: the HTTP handler per GraphQL request, the transport per
//! upstream request and limiter wait ([`ConnectionMetrics`]), the cache per lookup
//! and eviction. `GET /metrics` renders the registry in the Prometheus text format
//! (or OpenMetrics when asked).
//!
//! Labels are bounded: providers, connection ids and cache kinds come from the
//! configuration; operation names are those of parsed operations, and past
//! [`MAX_OPERATION_NAMES`] distinct names the rest count as `other`, so clients
//! cannot grow the registry without bound. Nothing here ever holds a secret.

use std::{
    collections::{HashMap, HashSet},
    fmt,
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use prometheus_client::{
    collector::Collector,
    encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric},
    metrics::{
        counter::Counter,
        family::Family,
        gauge::{ConstGauge, Gauge},
        histogram::{Histogram, exponential_buckets},
    },
    registry::Registry,
};

use crate::providers::{ProviderKind, breaker::CircuitState};

/// Distinct operation names tracked before the rest count as `other`.
pub const MAX_OPERATION_NAMES: usize = 200;

/// The operation label of a request without a named operation.
pub const ANONYMOUS_OPERATION: &str = "anonymous";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    operation: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ErrorLabels {
    operation: String,
    code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ReasonLabels {
    reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ConnectionLabels {
    provider: String,
    connection: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LiveLabels {
    connection: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LiveEventLabels {
    connection: String,
    kind: String,
    source: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct WebhookLabels {
    connection: String,
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct UpstreamLabels {
    provider: String,
    connection: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CacheLabels {
    connection: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EvictionLabels {
    connection: String,
    kind: String,
    cause: String,
}

fn latency_histogram() -> Histogram {
    // 5 ms .. ~82 s.
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

/// What the last upstream exchange (or check) said about a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Health {
    /// The provider answered and accepted the credentials (a 404 or 429 included).
    Ok,
    /// The provider refused the credentials (401/403).
    Unauthorized,
    /// No answer, a timeout or a 5xx.
    Unavailable,
}

impl Health {
    fn of_status(status: Option<u16>) -> Self {
        match status {
            Some(401 | 403) => Self::Unauthorized,
            Some(s) if s < 500 => Self::Ok,
            _ => Self::Unavailable,
        }
    }
}

/// What is left of each connection's daily quota, as the transport's quota limiter
/// reports it.
#[derive(Debug, Default)]
struct Quotas {
    by_connection: Mutex<HashMap<Arc<str>, Quota>>,
}

#[derive(Debug)]
struct Quota {
    provider: ProviderKind,
    left: u64,
}

impl Collector for Quotas {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let quotas = self.by_connection.lock().expect("quota lock");
        if quotas.is_empty() {
            return Ok(());
        }
        let mut family = encoder.encode_descriptor(
            "upstream_daily_quota_remaining",
            "Requests left in the connection's daily quota (a bucket refilled evenly over the day), as this process counts them.",
            None,
            prometheus_client::metrics::MetricType::Gauge,
        )?;
        let mut rows: Vec<_> = quotas.iter().collect();
        rows.sort_by(|a, b| a.0.cmp(b.0));
        for (connection, q) in rows {
            let labels = ConnectionLabels { provider: q.provider.as_str().into(), connection: connection.to_string() };
            let gauge = ConstGauge::new(i64::try_from(q.left).unwrap_or(i64::MAX));
            gauge.encode(family.encode_family(&labels)?)?;
        }
        Ok(())
    }
}

/// The application's metrics.
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Registry,
    http_requests: Family<HttpLabels, Counter>,
    http_duration: Family<OperationLabels, Histogram>,
    graphql_errors: Family<ErrorLabels, Counter>,
    auth_failures: Family<ReasonLabels, Counter>,
    upstream_requests: Family<UpstreamLabels, Counter>,
    upstream_duration: Family<ConnectionLabels, Histogram>,
    limiter_wait: Family<ConnectionLabels, Histogram>,
    limiter_rejections: Family<ConnectionLabels, Counter>,
    cache_hits: Family<CacheLabels, Counter>,
    cache_misses: Family<CacheLabels, Counter>,
    cache_evictions: Family<EvictionLabels, Counter>,
    quotas: Arc<Quotas>,
    redis_up: Gauge,
    redis_failures: Counter,
    circuit_state: Family<ConnectionLabels, Gauge>,
    circuits: Mutex<HashMap<Arc<str>, CircuitState>>,
    live_pollers: Family<LiveLabels, Gauge>,
    live_subscribers: Family<LiveLabels, Gauge>,
    live_polls: Family<LiveLabels, Counter>,
    live_events: Family<LiveEventLabels, Counter>,
    webhooks: Family<WebhookLabels, Counter>,
    operations: Mutex<HashSet<String>>,
    health: Mutex<HashMap<Arc<str>, (Instant, Health)>>,
}

impl fmt::Debug for Metrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Metrics")
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Self::new()
    }
}

impl Metrics {
    /// A fresh registry with every metric family.
    pub fn new() -> Self {
        let mut registry = Registry::with_prefix("convograph");
        let http_requests = Family::<HttpLabels, Counter>::default();
        registry.register(
            "http_requests",
            "GraphQL HTTP requests by operation name and HTTP status",
            http_requests.clone(),
        );
        let http_duration = Family::<OperationLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> _);
        registry.register_with_unit(
            "http_request_duration",
            "GraphQL HTTP request latency by operation name",
            prometheus_client::registry::Unit::Seconds,
            http_duration.clone(),
        );
        let graphql_errors = Family::<ErrorLabels, Counter>::default();
        registry.register(
            "graphql_errors",
            "Errors in GraphQL responses by operation name and extensions.code",
            graphql_errors.clone(),
        );
        let auth_failures = Family::<ReasonLabels, Counter>::default();
        registry.register("auth_failures", "Requests refused as UNAUTHENTICATED, by reason", auth_failures.clone());
        let upstream_requests = Family::<UpstreamLabels, Counter>::default();
        registry.register(
            "upstream_requests",
            "Requests sent to providers by provider, connection and HTTP status (`error`: no response)",
            upstream_requests.clone(),
        );
        let upstream_duration =
            Family::<ConnectionLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> _);
        registry.register_with_unit(
            "upstream_request_duration",
            "Provider request latency by provider and connection",
            prometheus_client::registry::Unit::Seconds,
            upstream_duration.clone(),
        );
        let limiter_wait = Family::<ConnectionLabels, Histogram>::new_with_constructor(latency_histogram as fn() -> _);
        registry.register_with_unit(
            "limiter_wait",
            "Time upstream requests waited for the connection's rate limiter or a Retry-After pause",
            prometheus_client::registry::Unit::Seconds,
            limiter_wait.clone(),
        );
        let limiter_rejections = Family::<ConnectionLabels, Counter>::default();
        registry.register(
            "limiter_rejections",
            "Upstream requests refused as RATE_LIMITED (the wait would exceed max_queue_wait)",
            limiter_rejections.clone(),
        );
        let cache_hits = Family::<CacheLabels, Counter>::default();
        registry.register("cache_hits", "Provider-result cache hits by connection and kind", cache_hits.clone());
        let cache_misses = Family::<CacheLabels, Counter>::default();
        registry.register(
            "cache_misses",
            "Provider-result cache misses (upstream fetches) by connection and kind",
            cache_misses.clone(),
        );
        let cache_evictions = Family::<EvictionLabels, Counter>::default();
        registry.register(
            "cache_evictions",
            "Provider-result cache evictions by connection, kind and cause (expired, size)",
            cache_evictions.clone(),
        );
        let quotas = Arc::new(Quotas::default());
        registry.register_collector(Box::new(quotas.clone()));
        let redis_up = Gauge::default();
        registry.register(
            "redis_up",
            "1 while replicas share limits and caches through Redis, 0 while this replica acts alone (only with `redis` configured)",
            redis_up.clone(),
        );
        let circuit_state = Family::<ConnectionLabels, Gauge>::default();
        registry.register(
            "circuit_state",
            "Each connection's circuit breaker: 0 closed, 1 half-open (probing), 2 open (not called)",
            circuit_state.clone(),
        );
        let redis_failures = Counter::default();
        registry.register(
            "redis_failures",
            "Redis commands that failed or timed out (the replica acted alone for them)",
            redis_failures.clone(),
        );
        let live_pollers = Family::<LiveLabels, Gauge>::default();
        registry.register(
            "live_pollers",
            "Change pollers running in this replica by connection (at most 1; with Redis, 1 in the whole cluster leads)",
            live_pollers.clone(),
        );
        let live_subscribers = Family::<LiveLabels, Gauge>::default();
        registry.register(
            "live_subscribers",
            "Open subscriptions in this replica by connection they listen to",
            live_subscribers.clone(),
        );
        let live_polls = Family::<LiveLabels, Counter>::default();
        registry.register(
            "live_polls",
            "Change polls this replica made by connection (each reads the provider's incremental form once)",
            live_polls.clone(),
        );
        let live_events = Family::<LiveEventLabels, Counter>::default();
        registry.register(
            "live_events",
            "Events found by connection, kind (call_added, call_updated, score_added) and source (poll, webhook)",
            live_events.clone(),
        );
        let webhooks = Family::<WebhookLabels, Counter>::default();
        registry.register(
            "webhooks",
            "Webhook posts received by connection and outcome (accepted, test, ignored, bad_signature, unreadable, too_large; unknown_connection with an empty connection)",
            webhooks.clone(),
        );
        Self {
            inner: Arc::new(Inner {
                registry,
                live_pollers,
                live_subscribers,
                live_polls,
                live_events,
                webhooks,
                http_requests,
                http_duration,
                graphql_errors,
                auth_failures,
                upstream_requests,
                upstream_duration,
                limiter_wait,
                limiter_rejections,
                cache_hits,
                cache_misses,
                cache_evictions,
                quotas,
                redis_up,
                redis_failures,
                circuit_state,
                circuits: Mutex::new(HashMap::new()),
                operations: Mutex::new(HashSet::new()),
                health: Mutex::new(HashMap::new()),
            }),
        }
    }

    /// The hooks of one connection.
    pub fn connection(&self, provider: ProviderKind, connection: &Arc<str>) -> ConnectionMetrics {
        ConnectionMetrics { metrics: Some(self.clone()), ..ConnectionMetrics::detached(provider, connection.clone()) }
    }

    /// The label for an operation name, bounded in cardinality.
    pub fn operation_label(&self, name: Option<&str>) -> String {
        let Some(name) = name else { return ANONYMOUS_OPERATION.into() };
        let mut seen = self.inner.operations.lock().expect("operations lock");
        if seen.contains(name) {
            return name.to_owned();
        }
        if seen.len() >= MAX_OPERATION_NAMES {
            return "other".into();
        }
        seen.insert(name.to_owned());
        name.to_owned()
    }

    /// Records one GraphQL operation answered over HTTP.
    pub fn graphql_request<'a>(
        &self,
        operation: &str,
        status: u16,
        elapsed: Duration,
        error_codes: impl IntoIterator<Item = &'a str>,
    ) {
        let i = &self.inner;
        i.http_requests.get_or_create(&HttpLabels { operation: operation.into(), status: status.to_string() }).inc();
        i.http_duration.get_or_create(&OperationLabels { operation: operation.into() }).observe(elapsed.as_secs_f64());
        for code in error_codes {
            i.graphql_errors.get_or_create(&ErrorLabels { operation: operation.into(), code: code.into() }).inc();
        }
    }

    /// Records a request refused as `UNAUTHENTICATED`.
    pub fn auth_failure(&self, reason: &str) {
        self.inner.auth_failures.get_or_create(&ReasonLabels { reason: reason.into() }).inc();
    }

    /// Records a cache lookup.
    pub fn cache_lookup(&self, connection: &str, kind: &str, hit: bool) {
        let labels = CacheLabels { connection: connection.into(), kind: kind.into() };
        if hit { &self.inner.cache_hits } else { &self.inner.cache_misses }.get_or_create(&labels).inc();
    }

    /// Records a cache eviction (`expired` or `size`).
    pub fn cache_eviction(&self, connection: &str, kind: &str, cause: &str) {
        let labels = EvictionLabels { connection: connection.into(), kind: kind.into(), cause: cause.into() };
        self.inner.cache_evictions.get_or_create(&labels).inc();
    }

    /// What was last observed of `connection`, and when.
    pub fn health(&self, connection: &str) -> Option<(Instant, Health)> {
        self.inner.health.lock().expect("health lock").get(connection).copied()
    }

    /// Records what a check found.
    pub fn set_health(&self, connection: &Arc<str>, health: Health) {
        self.inner.health.lock().expect("health lock").insert(connection.clone(), (Instant::now(), health));
    }

    /// A connection's circuit as last seen (`None`: no request yet).
    pub fn circuit(&self, connection: &str) -> Option<CircuitState> {
        self.inner.circuits.lock().expect("circuit lock").get(connection).copied()
    }

    /// A change poller of `connection` started (+1) or stopped (-1) here.
    pub fn live_poller(&self, connection: &str, delta: i64) {
        self.inner.live_pollers.get_or_create(&LiveLabels { connection: connection.to_owned() }).inc_by(delta);
    }

    /// A subscription to `connection` opened (+1) or closed (-1) here.
    pub fn live_subscriber(&self, connection: &str, delta: i64) {
        self.inner.live_subscribers.get_or_create(&LiveLabels { connection: connection.to_owned() }).inc_by(delta);
    }

    /// One change poll of `connection`.
    pub fn live_polled(&self, connection: &str) {
        self.inner.live_polls.get_or_create(&LiveLabels { connection: connection.to_owned() }).inc();
    }

    /// An event found.
    pub fn live_event(&self, connection: &str, kind: &str, source: &str) {
        let labels =
            LiveEventLabels { connection: connection.to_owned(), kind: kind.to_owned(), source: source.to_owned() };
        self.inner.live_events.get_or_create(&labels).inc();
    }

    /// A webhook post and what became of it.
    pub fn webhook(&self, connection: &str, outcome: &str) {
        let labels = WebhookLabels { connection: connection.to_owned(), outcome: outcome.to_owned() };
        self.inner.webhooks.get_or_create(&labels).inc();
    }

    /// Whether Redis answered the last command.
    pub fn redis_up(&self, up: bool) {
        self.inner.redis_up.set(i64::from(up));
    }

    /// A Redis command failed or timed out.
    pub fn redis_failed(&self) {
        self.inner.redis_failures.inc();
    }

    /// The registry in the Prometheus text format (0.0.4), or OpenMetrics.
    pub fn render(&self, openmetrics: bool) -> String {
        let mut out = String::new();
        let result = if openmetrics {
            prometheus_client::encoding::text::encode(&mut out, &self.inner.registry)
        } else {
            prometheus_client::encoding::prometheus_text::encode(&mut out, &self.inner.registry)
        };
        if result.is_err() {
            tracing::error!("Metrics could not be rendered.");
        }
        out
    }
}

/// The `Content-Type` of [`Metrics::render`].
pub fn content_type(openmetrics: bool) -> &'static str {
    if openmetrics {
        "application/openmetrics-text; version=1.0.0; charset=utf-8"
    } else {
        prometheus_client::encoding::prometheus_text::CONTENT_TYPE
    }
}

/// The transport's hooks for one connection: upstream requests (with a tracing span
/// each), limiter waits and rejections, the daily quota and the connection's health.
#[derive(Clone)]
pub struct ConnectionMetrics {
    metrics: Option<Metrics>,
    provider: ProviderKind,
    connection: Arc<str>,
    labels: ConnectionLabels,
}

impl fmt::Debug for ConnectionMetrics {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ConnectionMetrics").field("connection", &self.connection).finish()
    }
}

impl ConnectionMetrics {
    /// Hooks that only trace (for a transport built outside an application).
    pub fn detached(provider: ProviderKind, connection: Arc<str>) -> Self {
        let labels = ConnectionLabels { provider: provider.as_str().into(), connection: connection.to_string() };
        Self { metrics: None, provider, connection, labels }
    }

    /// Starts one upstream request (one attempt): its span and its clock.
    pub fn upstream_request(&self, method: &str, path: &str) -> UpstreamCall {
        let span = tracing::info_span!(
            "upstream.request",
            otel.name = %format!("{} {method}", self.provider),
            otel.kind = "client",
            provider = self.provider.as_str(),
            connection = %self.connection,
            http.request.method = method,
            url.path = path,
            http.response.status_code = tracing::field::Empty,
            otel.status_code = tracing::field::Empty,
        );
        UpstreamCall { span, started: Instant::now(), hooks: self.clone() }
    }

    /// Records a wait for the limiter (or a `Retry-After` pause).
    pub fn limiter_waited(&self, waited: Duration) {
        if let Some(m) = &self.metrics {
            m.inner.limiter_wait.get_or_create(&self.labels).observe(waited.as_secs_f64());
        }
    }

    /// Records what is left of the connection's daily quota.
    pub fn daily_quota_left(&self, left: u64) {
        if let Some(m) = &self.metrics {
            let mut quotas = m.inner.quotas.by_connection.lock().expect("quota lock");
            quotas.insert(self.connection.clone(), Quota { provider: self.provider, left });
        }
    }

    /// Records the connection's circuit state.
    pub fn circuit(&self, state: CircuitState) {
        if let Some(m) = &self.metrics {
            let value = match state {
                CircuitState::Closed => 0,
                CircuitState::HalfOpen => 1,
                CircuitState::Open => 2,
            };
            m.inner.circuit_state.get_or_create(&self.labels).set(value);
            m.inner.circuits.lock().expect("circuit lock").insert(self.connection.clone(), state);
        }
    }

    /// Records a request refused as `RATE_LIMITED`.
    pub fn limiter_rejected(&self) {
        if let Some(m) = &self.metrics {
            m.inner.limiter_rejections.get_or_create(&self.labels).inc();
        }
    }

    fn finished(&self, status: Option<u16>, elapsed: Duration) {
        let Some(m) = &self.metrics else { return };
        let i = &m.inner;
        let labels = UpstreamLabels {
            provider: self.labels.provider.clone(),
            connection: self.labels.connection.clone(),
            status: status.map_or_else(|| "error".to_owned(), |s| s.to_string()),
        };
        i.upstream_requests.get_or_create(&labels).inc();
        i.upstream_duration.get_or_create(&self.labels).observe(elapsed.as_secs_f64());
        m.set_health(&self.connection, Health::of_status(status));
    }
}

/// One upstream request in flight.
#[must_use = "finish the call to record it"]
pub struct UpstreamCall {
    span: tracing::Span,
    started: Instant,
    hooks: ConnectionMetrics,
}

impl UpstreamCall {
    /// The request's span (instrument the send with it).
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Records the outcome: the HTTP status, or `None` when no response came.
    pub fn finish(self, status: Option<u16>) {
        match status {
            Some(s) => {
                self.span.record("http.response.status_code", s);
                if s >= 500 {
                    self.span.record("otel.status_code", "ERROR");
                }
            }
            None => {
                self.span.record("otel.status_code", "ERROR");
            }
        }
        self.hooks.finished(status, self.started.elapsed());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_names_are_bounded() {
        let m = Metrics::new();
        assert_eq!(m.operation_label(None), ANONYMOUS_OPERATION);
        for i in 0..MAX_OPERATION_NAMES {
            assert_eq!(m.operation_label(Some(&format!("Op{i}"))), format!("Op{i}"));
        }
        assert_eq!(m.operation_label(Some("OneTooMany")), "other");
        assert_eq!(m.operation_label(Some("Op0")), "Op0", "known names keep their label");
    }

    #[test]
    fn upstream_requests_count_by_status_and_the_daily_quota_is_reported() {
        let m = Metrics::new();
        let conn: Arc<str> = Arc::from("g1");
        let hooks = m.connection(ProviderKind::Gong, &conn);
        hooks.upstream_request("POST", "/v2/calls").finish(Some(200));
        hooks.upstream_request("POST", "/v2/calls").finish(Some(200));
        hooks.upstream_request("POST", "/v2/calls").finish(None);
        hooks.daily_quota_left(9_998);
        let text = m.render(false);
        assert!(
            text.contains(r#"convograph_upstream_requests_total{provider="gong",connection="g1",status="200"} 2"#),
            "{text}"
        );
        assert!(
            text.contains(r#"convograph_upstream_requests_total{provider="gong",connection="g1",status="error"} 1"#)
        );
        assert!(text.contains(r#"convograph_upstream_daily_quota_remaining{provider="gong",connection="g1"} 9998"#));
        assert_eq!(m.health("g1").map(|h| h.1), Some(Health::Unavailable), "the last outcome counts");
    }

    #[test]
    fn health_follows_the_status() {
        assert_eq!(Health::of_status(Some(200)), Health::Ok);
        assert_eq!(Health::of_status(Some(404)), Health::Ok);
        assert_eq!(Health::of_status(Some(429)), Health::Ok);
        assert_eq!(Health::of_status(Some(401)), Health::Unauthorized);
        assert_eq!(Health::of_status(Some(503)), Health::Unavailable);
        assert_eq!(Health::of_status(None), Health::Unavailable);
    }
}
