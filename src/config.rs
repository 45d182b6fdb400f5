//! Typed, layered configuration: built-in defaults, then an optional YAML or TOML
//! file (`--config` / `CONVOGRAPH_CONFIG`), then `CONVOGRAPH__SECTION__KEY` env vars.
//! Unknown keys are errors; secrets are read from env vars or files named in the
//! config and never printed (see [`Secret`]).

use std::{
    collections::HashSet,
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use figment::{
    Figment,
    providers::{Env, Format, Serialized, Toml, Yaml},
};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::providers::ProviderKind;

/// Prefix of the nested env overrides, e.g. `CONVOGRAPH__SERVER__LISTEN`.
pub const ENV_PREFIX: &str = "CONVOGRAPH__";
/// The default listen address.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:4000";

/// The whole configuration, as written.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
#[derive(Default)]
pub struct Settings {
    /// HTTP server.
    pub server: ServerSettings,
    /// Run the built-in provider simulators and one demo connection per provider.
    pub sandbox: Option<SandboxConfig>,
    /// Cross-request cache.
    pub cache: CacheSettings,
    /// Traffic policy: `all` defaults plus per-provider overrides.
    pub traffic: TrafficConfig,
    /// The provider accounts to read.
    pub connections: Vec<ConnectionSettings>,
    /// Who may call the API, and which connections each caller may read.
    pub auth: AuthSettings,
    /// Bounds on what one request may ask for.
    pub limits: LimitSettings,
    /// Automatic persisted queries and the optional safelist.
    pub persisted_queries: PersistedQuerySettings,
    /// Trace export.
    pub telemetry: TelemetrySettings,
    /// State shared by replicas (rate limits, quotas, caches) through Redis; absent:
    /// each process keeps its own.
    pub redis: Option<RedisSettings>,
    /// Subscriptions: how each connection is watched for new and changed records.
    pub live: LiveSettings,
}

/// How subscriptions find events: one poller per connection (per cluster with
/// Redis) reads the provider's incremental form every `poll_interval` while anyone
/// listens to that connection.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LiveSettings {
    /// Serve subscriptions at all.
    pub enabled: bool,
    /// Time between two polls of one connection. Each poll spends requests from the
    /// connection's rate budget (Gong: 2 requests when nothing changed).
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// How far before the previous poll each poll reads again, so records the
    /// provider files late (a call processed an hour after it started) are still
    /// found; what was already sent is not sent again.
    #[serde(with = "humantime_serde")]
    pub lookback: Duration,
    /// Subscriptions one replica holds at most; more are refused with `RATE_LIMITED`.
    pub max_subscriptions: usize,
}

impl Default for LiveSettings {
    fn default() -> Self {
        Self {
            enabled: true,
            poll_interval: Duration::from_secs(15),
            lookback: Duration::from_secs(2 * 3600),
            max_subscriptions: 10_000,
        }
    }
}

/// Where replicas share their state, and how to act when it cannot be reached.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RedisSettings {
    /// `redis://host:port[/db]` (or `rediss://` for TLS; a password goes in the URL).
    pub url: String,
    /// Prefix of every key, so several deployments can share one Redis.
    pub key_prefix: String,
    /// The longest one Redis command may take before the replica acts alone for
    /// that request (a slow Redis must not slow the graph).
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
    /// How many replicas share the providers' limits. While Redis cannot be reached,
    /// each replica paces at the provider's rate divided by this, so together they
    /// still stay within it.
    pub replicas: u32,
}

impl Default for RedisSettings {
    fn default() -> Self {
        Self {
            url: "redis://127.0.0.1:6379".into(),
            key_prefix: "convograph".into(),
            timeout: Duration::from_millis(250),
            replicas: 1,
        }
    }
}

/// HTTP server settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ServerSettings {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Key that authenticates cursors. When absent a random key is made at start-up,
    /// so cursors do not survive a restart nor work across replicas.
    pub cursor_secret: Option<SecretSource>,
    /// The largest `first`/`last` a list accepts.
    pub max_page_size: usize,
    /// GraphiQL on `GET /graphql` for browsers.
    pub graphiql: GraphiqlSettings,
    /// Answer introspection queries (`__schema`, `__type`). GraphiQL needs them.
    pub introspection: bool,
    /// Cross-origin requests from browsers.
    pub cors: CorsSettings,
    /// `GET /metrics`.
    pub metrics: MetricsSettings,
    /// How long an observed connection state (from real traffic or a check) stands
    /// before `/readyz` checks the connection again. Checks cost upstream requests
    /// (Gong allows 10,000 a day), so probes never check more often than this.
    #[serde(with = "humantime_serde")]
    pub readiness_check_interval: Duration,
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.parse().expect("valid default address"),
            cursor_secret: None,
            max_page_size: 100,
            graphiql: GraphiqlSettings::default(),
            introspection: true,
            cors: CorsSettings::default(),
            metrics: MetricsSettings::default(),
            readiness_check_interval: Duration::from_secs(300),
        }
    }
}

/// CORS: which browser origins may call the API.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CorsSettings {
    /// Allowed origins (`https://app.example.com`), or `["*"]` for any. Unset: any
    /// origin in the sandbox, none otherwise; `[]` turns CORS off.
    pub allow_origins: Option<Vec<String>>,
    /// How long browsers may cache a preflight answer.
    #[serde(with = "humantime_serde::option")]
    pub max_age: Option<Duration>,
}

/// `GET /metrics` settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct MetricsSettings {
    /// Serve `/metrics`.
    pub enabled: bool,
    /// When set, scrapers must send `Authorization: Bearer <token>`.
    pub bearer_token: Option<SecretSource>,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self { enabled: true, bearer_token: None }
    }
}

/// Client authentication. Without clients (API keys or JWT) the server only starts
/// in the sandbox or with `open: true`, and then every caller reads everything.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct AuthSettings {
    /// Serve without client authentication (every caller reads every connection).
    pub open: bool,
    /// API keys, stored as their SHA-256.
    pub api_keys: Vec<ApiKeySettings>,
    /// JWT bearer tokens.
    pub jwt: Option<JwtSettings>,
}

/// One API key client.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ApiKeySettings {
    /// Client name (logs and metrics; not secret).
    pub name: String,
    /// Hex SHA-256 of the key (`convograph api-key` makes a key and its hash).
    pub sha256: String,
    /// Connection ids the client may read; `["*"]` for all.
    pub connections: Vec<String>,
}

/// JWT bearer token validation.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JwtSettings {
    /// Shared secret for HS256 tokens (at least 32 bytes).
    #[serde(default)]
    pub hs256_secret: Option<SecretSource>,
    /// A JWKS file with the public keys of RS256 / ES256 tokens.
    #[serde(default)]
    pub jwks_file: Option<PathBuf>,
    /// Required `iss`.
    #[serde(default)]
    pub issuer: Option<String>,
    /// Required `aud`.
    #[serde(default)]
    pub audience: Option<String>,
    /// The claim listing the connection ids the bearer may read (an array, or a
    /// space-separated string; `*` for all).
    #[serde(default = "default_connections_claim")]
    pub connections_claim: String,
    /// Clock skew tolerated on `exp` and `nbf`.
    #[serde(default = "default_leeway", with = "humantime_serde")]
    pub leeway: Duration,
}

fn default_connections_claim() -> String {
    "connections".into()
}

fn default_leeway() -> Duration {
    Duration::from_secs(30)
}

/// Bounds on one request.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LimitSettings {
    /// Deepest field nesting.
    pub max_depth: usize,
    /// Largest complexity: every field costs 1, and a list costs its page size
    /// (`first`/`last`, 25 when absent) times what each item selects. The default
    /// admits a full page of 100 records each with a nested full page of 100 (about
    /// 25 fields each), and refuses a third nested level of full pages.
    pub max_complexity: u64,
    /// Most aliased fields in one operation.
    pub max_aliases: usize,
    /// Most operations in one batched request.
    pub max_batch: usize,
    /// Largest request body, in bytes.
    pub max_body_bytes: usize,
    /// Deadline of one HTTP request.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    /// Upstream requests one GraphQL operation may send, over every connection (`0`:
    /// no bound). Past it the operation answers with what it read and
    /// `UPSTREAM_BUDGET_EXCEEDED`: a runaway query cannot spend a day's quota.
    pub max_upstream_requests: u32,
    /// Pages one walk over a provider list may read, within a request or paging on
    /// with cursors (the fuse behind loop detection: `UPSTREAM_PAGE_LIMIT`).
    pub max_pages_per_walk: u32,
}

impl Default for LimitSettings {
    fn default() -> Self {
        Self {
            max_depth: 15,
            max_complexity: 250_000,
            max_aliases: 30,
            max_batch: 10,
            max_body_bytes: 256 * 1024,
            request_timeout: Duration::from_secs(60),
            max_upstream_requests: crate::accounting::DEFAULT_MAX_UPSTREAM_REQUESTS,
            max_pages_per_walk: crate::accounting::DEFAULT_MAX_PAGES_PER_WALK,
        }
    }
}

impl LimitSettings {
    /// The upstream bounds of one operation.
    pub fn upstream(&self) -> crate::accounting::UpstreamLimits {
        crate::accounting::UpstreamLimits {
            max_requests: (self.max_upstream_requests > 0).then_some(self.max_upstream_requests),
            max_pages_per_walk: self.max_pages_per_walk.max(1),
        }
    }
}

/// Persisted queries.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PersistedQuerySettings {
    /// Automatic persisted queries (Apollo's protocol: a client sends the SHA-256 of
    /// a query it sent before instead of the query).
    pub apq: bool,
    /// Bound of the APQ store, in MiB of query text.
    pub apq_cache_mib: u64,
    /// Safelist mode: only the operations in this file run (an Apollo persisted
    /// query manifest, or a JSON object of id → query).
    pub safelist: Option<PathBuf>,
}

impl Default for PersistedQuerySettings {
    fn default() -> Self {
        Self { apq: true, apq_cache_mib: 16, safelist: None }
    }
}

/// Trace export.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TelemetrySettings {
    /// OpenTelemetry traces over OTLP/HTTP (protobuf).
    pub otlp: OtlpSettings,
}

/// OTLP trace export.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtlpSettings {
    /// Export traces.
    pub enabled: bool,
    /// The collector's traces endpoint.
    pub endpoint: Url,
    /// `service.name` of the exported spans.
    pub service_name: String,
    /// Fraction of new traces sampled (a parent's decision is always followed).
    pub sample_ratio: f64,
    /// Timeout of one export.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for OtlpSettings {
    fn default() -> Self {
        Self {
            enabled: false,
            endpoint: "http://127.0.0.1:4318/v1/traces".parse().expect("valid default endpoint"),
            service_name: "convograph".into(),
            sample_ratio: 1.0,
            timeout: Duration::from_secs(10),
        }
    }
}

/// GraphiQL settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GraphiqlSettings {
    /// Serve GraphiQL at all.
    pub enabled: bool,
    /// Serve GraphiQL's files from this folder (e.g. `node_modules/graphiql` and its
    /// peers, see the README) instead of a CDN, for networks without internet.
    pub assets_dir: Option<PathBuf>,
}

impl Default for GraphiqlSettings {
    fn default() -> Self {
        Self { enabled: true, assets_dir: None }
    }
}

/// Size of the sandbox's synthetic world.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SandboxConfig {
    /// Seed of the data generator.
    pub seed: u64,
    /// Number of people.
    pub people: usize,
    /// Number of calls.
    pub calls: usize,
    /// Which providers get a demo connection (default: every simulated provider).
    pub providers: Vec<ProviderKind>,
    /// Live calls: a new call ends (and appears at the simulators) this often, counting
    /// from the start of the process (humantime, e.g. `30s`; `0s`, the default, turns
    /// them off; the embedded configuration uses [`SandboxConfig::EMBEDDED_LIVE_EVERY`]).
    #[serde(with = "humantime_serde")]
    pub live_every: Duration,
    /// How many live calls there are (default 2,880: a day at one every 30 s).
    pub live_calls: usize,
}

impl SandboxConfig {
    /// `live_every` of the embedded configuration (no config file).
    pub const EMBEDDED_LIVE_EVERY: Duration = Duration::from_secs(30);

    /// The sandbox of the embedded configuration: the defaults, with live calls on.
    pub fn embedded() -> Self {
        Self { live_every: Self::EMBEDDED_LIVE_EVERY, ..Self::default() }
    }
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            seed: 7,
            people: 40,
            calls: 2000,
            providers: vec![
                ProviderKind::Gong,
                ProviderKind::ExecVision,
                ProviderKind::Salesloft,
                ProviderKind::Hubster,
            ],
            live_every: Duration::ZERO,
            live_calls: 2880,
        }
    }
}

/// Cache settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheSettings {
    /// Upper bound of the provider-result cache, in MiB of the bytes its entries hold
    /// (records are kept compressed: about 1.5 MiB per 1,000 Gong calls by id).
    pub max_mib: u64,
    /// Time to live of call lists and calls.
    #[serde(with = "humantime_serde")]
    pub calls_ttl: Duration,
    /// Time to live of users.
    #[serde(with = "humantime_serde")]
    pub users_ttl: Duration,
    /// Time to live of transcripts.
    #[serde(with = "humantime_serde")]
    pub transcripts_ttl: Duration,
    /// Time to live of stats, scores and scorecards.
    #[serde(with = "humantime_serde")]
    pub stats_ttl: Duration,
    /// Upper bound of the whole-response cache, in MiB of response bodies (`0` turns
    /// it off). A repeated query within the TTL of its data is answered from it.
    pub responses_max_mib: u64,
}

impl Default for CacheSettings {
    fn default() -> Self {
        Self {
            max_mib: 256,
            calls_ttl: Duration::from_secs(60),
            users_ttl: Duration::from_secs(600),
            transcripts_ttl: Duration::from_secs(3600),
            stats_ttl: Duration::from_secs(300),
            responses_max_mib: 64,
        }
    }
}

/// Traffic policy for provider requests. Each field left out falls back to the
/// next level: connection → provider → `all` → the provider's documented default.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrafficSettings {
    /// Requests per second this server sends to one connection.
    pub rate_per_sec: Option<f64>,
    /// Timeout of one upstream request.
    #[serde(with = "humantime_serde::option")]
    pub timeout: Option<Duration>,
    /// Retries of an idempotent request after 429, 5xx or a timeout.
    pub max_retries: Option<u32>,
    /// The longest a request may wait for the limiter (or a `Retry-After`) before
    /// failing with `RATE_LIMITED`.
    #[serde(with = "humantime_serde::option")]
    pub max_queue_wait: Option<Duration>,
    /// Requests per day (Gong's documented default is 10,000; `0` turns the cap off).
    /// Past it, requests fail fast with `RATE_LIMITED` and the time to retry.
    pub daily_quota: Option<u32>,
    /// Failed requests in a row (unreachable, timed out, 5xx after the retries) that
    /// open the connection's circuit: it is then not called for `breaker_open_for`,
    /// and answers at once with `PROVIDER_UNAVAILABLE` (default 5; `0`: never).
    pub breaker_failures: Option<u32>,
    /// How long an open circuit answers at once before one probe request may try
    /// the provider again (default 30s).
    #[serde(with = "humantime_serde::option")]
    pub breaker_open_for: Option<Duration>,
}

impl TrafficSettings {
    /// `self` where set, otherwise `fallback`.
    pub fn or(&self, fallback: &Self) -> Self {
        Self {
            rate_per_sec: self.rate_per_sec.or(fallback.rate_per_sec),
            timeout: self.timeout.or(fallback.timeout),
            max_retries: self.max_retries.or(fallback.max_retries),
            max_queue_wait: self.max_queue_wait.or(fallback.max_queue_wait),
            daily_quota: self.daily_quota.or(fallback.daily_quota),
            breaker_failures: self.breaker_failures.or(fallback.breaker_failures),
            breaker_open_for: self.breaker_open_for.or(fallback.breaker_open_for),
        }
    }
}

/// `all` plus one section per provider.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrafficConfig {
    pub all: TrafficSettings,
    pub gong: TrafficSettings,
    pub execvision: TrafficSettings,
    pub salesloft: TrafficSettings,
    pub hubster: TrafficSettings,
}

impl TrafficConfig {
    /// The provider section.
    pub fn for_provider(&self, kind: ProviderKind) -> &TrafficSettings {
        match kind {
            ProviderKind::Gong => &self.gong,
            ProviderKind::ExecVision => &self.execvision,
            ProviderKind::Salesloft => &self.salesloft,
            ProviderKind::Hubster => &self.hubster,
        }
    }
}

/// Where a secret comes from: `{ env: NAME }` or `{ file: PATH }`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum SecretSource {
    /// An environment variable.
    Env(String),
    /// A file (trailing newline stripped), e.g. a mounted Kubernetes Secret.
    File(PathBuf),
}

/// A resolved secret. Its `Debug` never shows the value.
#[derive(Clone)]
pub struct Secret(SecretString);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(SecretString::from(value.into()))
    }
    /// The value, for building a request header.
    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret([REDACTED])")
    }
}

/// Provider credentials, by scheme.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum CredentialsConfig {
    /// HTTP Basic (Gong access key + secret, ExecVision user + password).
    Basic { username: SecretSource, password: SecretSource },
    /// A bearer token (Gong OAuth, a Salesloft API key or OAuth access token).
    Bearer { token: SecretSource },
    /// OAuth 2.0 client credentials (Hubster): convograph obtains a token from
    /// `token_url` (e.g. `https://identity.hubster.io/connect/token`), caches it,
    /// renews it before it expires and when the provider refuses it.
    ClientCredentials {
        client_id: SecretSource,
        client_secret: SecretSource,
        token_url: Url,
        /// Optional `scope` sent with the token request.
        #[serde(default)]
        scope: Option<String>,
    },
}

/// Resolved credentials.
#[derive(Debug, Clone)]
pub enum Credentials {
    /// HTTP Basic.
    Basic { username: Secret, password: Secret },
    /// Bearer token.
    Bearer { token: Secret },
    /// OAuth 2.0 client credentials.
    ClientCredentials { client_id: Secret, client_secret: Secret, token_url: Url, scope: Option<String> },
}

/// One tenant's account at one provider.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConnectionSettings {
    /// Unique id, used in global ids and cursors (letters, digits, `-`, `_`).
    pub id: String,
    /// Which provider.
    pub provider: ProviderKind,
    /// The provider's API base URL (the sandbox, a mock, or the vendor).
    pub base_url: Url,
    /// How to authenticate.
    pub credentials: CredentialsConfig,
    /// The company time zone (IANA name) the provider uses for date-based stats.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// Gong workspace id (coaching needs one).
    #[serde(default)]
    pub workspace_id: Option<String>,
    /// Hubster: the conversations a `calls` list of this connection reads (Hubster's
    /// engine API cannot list conversations; `call(id:)` reads any conversation).
    #[serde(default)]
    pub conversation_ids: Vec<String>,
    /// Traffic overrides for this connection.
    #[serde(default)]
    pub traffic: TrafficSettings,
    /// Webhooks the provider posts to `POST /webhooks/{id}` (Gong, Salesloft); absent:
    /// that path answers 404.
    #[serde(default)]
    pub webhook: Option<WebhookSettings>,
}

/// How a connection's webhooks are verified. Gong (an automation rule with a
/// "Signed JWT header") needs `public_key` and `url`; Salesloft (a webhook
/// subscription) needs `secret`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookSettings {
    /// Salesloft: the subscription's callback token (the HMAC-SHA1 key of
    /// `x-salesloft-signature`).
    #[serde(default)]
    pub secret: Option<SecretSource>,
    /// Gong: the rule's public key (PEM) that verifies the RS256 JWT in `Authorization`.
    #[serde(default)]
    pub public_key: Option<SecretSource>,
    /// Gong: the webhook URL as entered in the rule, which the JWT's `webhook_url`
    /// claim must equal (e.g. `https://graph.example.com/webhooks/gong-prod`).
    #[serde(default)]
    pub url: Option<String>,
}

/// A configuration error, naming the key at fault.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be parsed or has a bad or unknown key.
    #[error("invalid configuration: {0}")]
    Invalid(String),
    /// The config file does not exist.
    #[error("config file {0} does not exist")]
    MissingFile(PathBuf),
    /// A value is not acceptable.
    #[error("invalid configuration: `{key}`: {reason}")]
    Value { key: String, reason: String },
}

impl Settings {
    /// Loads defaults, the optional file, then `CONVOGRAPH__` env overrides.
    /// Without a file the sandbox is on.
    pub fn load(file: Option<&Path>) -> Result<Self, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        match file {
            Some(path) => {
                if !path.exists() {
                    return Err(ConfigError::MissingFile(path.to_owned()));
                }
                figment = match path.extension().and_then(|e| e.to_str()) {
                    Some("toml") => figment.merge(Toml::file_exact(path)),
                    _ => figment.merge(Yaml::file_exact(path)),
                };
            }
            None => {
                figment = figment.merge(Serialized::default("sandbox", SandboxConfig::embedded()));
            }
        }
        figment = figment.merge(Env::prefixed(ENV_PREFIX).split("__"));
        let settings: Settings = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(e.into_iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; ")))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks every value (`load` does; `Application::build` does again for settings
    /// built in code, so no path starts a server without clients by accident).
    pub fn validate(&self) -> Result<(), ConfigError> {
        let mut seen = HashSet::new();
        if self.server.max_page_size == 0 {
            return Err(value_err("server.max_page_size", "must be at least 1"));
        }
        if self.live.poll_interval < Duration::from_millis(50) {
            return Err(value_err("live.poll_interval", "must be at least 50ms"));
        }
        for (i, c) in self.connections.iter().enumerate() {
            let key = |k: &str| format!("connections[{i}].{k}");
            if c.id.is_empty() || !c.id.chars().all(|ch| ch.is_ascii_alphanumeric() || ch == '-' || ch == '_') {
                return Err(value_err(&key("id"), "must be non-empty letters, digits, '-' or '_'"));
            }
            if !seen.insert(c.id.as_str()) {
                return Err(value_err(&key("id"), &format!("duplicate connection id '{}'", c.id)));
            }
            if !matches!(c.base_url.scheme(), "http" | "https") || c.base_url.cannot_be_a_base() {
                return Err(value_err(&key("base_url"), "must be an http(s) URL"));
            }
            if let Some(tz) = &c.time_zone {
                tz.parse::<chrono_tz::Tz>()
                    .map_err(|_| value_err(&key("time_zone"), &format!("unknown time zone '{tz}'")))?;
            }
            if let CredentialsConfig::ClientCredentials { token_url, .. } = &c.credentials
                && (!matches!(token_url.scheme(), "http" | "https") || token_url.cannot_be_a_base())
            {
                return Err(value_err(&key("credentials.client_credentials.token_url"), "must be an http(s) URL"));
            }
            if c.conversation_ids.iter().any(|id| id.trim().is_empty() || id.contains('/')) {
                return Err(value_err(&key("conversation_ids"), "ids must be non-empty and contain no '/'"));
            }
            if let Some(rate) = c.traffic.rate_per_sec
                && !(rate > 0.0 && rate.is_finite())
            {
                return Err(value_err(&key("traffic.rate_per_sec"), "must be a positive number"));
            }
            if let Some(w) = &c.webhook {
                w.validate(c.provider).map_err(|reason| value_err(&key("webhook"), &reason))?;
            }
        }
        if let Some(r) = &self.redis {
            if !(r.url.starts_with("redis://") || r.url.starts_with("rediss://") || r.url.starts_with("unix://")) {
                return Err(value_err("redis.url", "must be a redis://, rediss:// or unix:// URL"));
            }
            if r.replicas == 0 {
                return Err(value_err("redis.replicas", "must be at least 1"));
            }
            if r.key_prefix.is_empty() {
                return Err(value_err("redis.key_prefix", "must not be empty"));
            }
            if r.timeout.is_zero() {
                return Err(value_err("redis.timeout", "must be more than 0"));
            }
        }
        self.validate_limits()?;
        self.validate_auth()
    }

    fn validate_limits(&self) -> Result<(), ConfigError> {
        let l = &self.limits;
        for (key, value) in [
            ("limits.max_depth", l.max_depth as u64),
            ("limits.max_complexity", l.max_complexity),
            ("limits.max_batch", l.max_batch as u64),
            ("limits.max_body_bytes", l.max_body_bytes as u64),
        ] {
            if value == 0 {
                return Err(value_err(key, "must be at least 1"));
            }
        }
        if l.request_timeout.is_zero() {
            return Err(value_err("limits.request_timeout", "must be longer than 0s"));
        }
        for (i, origin) in self.server.cors.allow_origins.iter().flatten().enumerate() {
            let ok = origin == "*"
                || (origin.starts_with("http://") || origin.starts_with("https://"))
                    && origin.parse::<Url>().is_ok()
                    && origin.trim_end_matches('/').matches('/').count() == 2;
            if !ok {
                return Err(value_err(
                    &format!("server.cors.allow_origins[{i}]"),
                    "must be \"*\" or an origin such as https://app.example.com (scheme, host, optional port)",
                ));
            }
        }
        let ratio = self.telemetry.otlp.sample_ratio;
        if !(0.0..=1.0).contains(&ratio) {
            return Err(value_err("telemetry.otlp.sample_ratio", "must be between 0 and 1"));
        }
        Ok(())
    }

    fn validate_auth(&self) -> Result<(), ConfigError> {
        let auth = &self.auth;
        let mut names = HashSet::new();
        for (i, k) in auth.api_keys.iter().enumerate() {
            let key = |k: &str| format!("auth.api_keys[{i}].{k}");
            if k.name.trim().is_empty() {
                return Err(value_err(&key("name"), "must not be empty"));
            }
            if !names.insert(k.name.as_str()) {
                return Err(value_err(&key("name"), &format!("duplicate client name '{}'", k.name)));
            }
            if k.sha256.len() != 64 || !k.sha256.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(value_err(&key("sha256"), "must be the 64 hex digits of the key's SHA-256"));
            }
            if k.connections.is_empty() {
                return Err(value_err(&key("connections"), "lists no connection (use [\"*\"] for all)"));
            }
        }
        if let Some(jwt) = &auth.jwt
            && jwt.hs256_secret.is_none()
            && jwt.jwks_file.is_none()
        {
            return Err(value_err("auth.jwt", "needs `hs256_secret` or `jwks_file`"));
        }
        let has_clients = !auth.api_keys.is_empty() || auth.jwt.is_some();
        if auth.open && has_clients {
            return Err(value_err("auth.open", "cannot be combined with `api_keys` or `jwt`"));
        }
        if !auth.open && !has_clients && self.sandbox.is_none() {
            return Err(value_err(
                "auth",
                "no clients configured: add `auth.api_keys` or `auth.jwt`, or set `auth.open: true` to serve \
                 every connection to anyone who can reach the server",
            ));
        }
        Ok(())
    }
}

impl WebhookSettings {
    /// What `provider` needs is there, and nothing it would not use.
    fn validate(&self, provider: ProviderKind) -> Result<(), String> {
        match provider {
            ProviderKind::Gong => {
                if self.public_key.is_none() || self.url.is_none() {
                    return Err("Gong webhooks need `public_key` (the rule's PEM key) and `url` (the webhook URL \
                                the rule posts to)"
                        .into());
                }
                if self.secret.is_some() {
                    return Err("Gong webhooks are verified by `public_key`; `secret` is Salesloft's".into());
                }
                let url = self.url.as_deref().unwrap_or_default();
                if !matches!(url.parse::<Url>().map(|u| u.scheme().to_owned()).as_deref(), Ok("http" | "https")) {
                    return Err("`url` must be an http(s) URL".into());
                }
                Ok(())
            }
            ProviderKind::Salesloft => {
                if self.secret.is_none() {
                    return Err("Salesloft webhooks need `secret` (the subscription's callback token)".into());
                }
                if self.public_key.is_some() || self.url.is_some() {
                    return Err("Salesloft webhooks are verified by `secret`; `public_key` and `url` are Gong's".into());
                }
                Ok(())
            }
            other => Err(format!("{other} does not post webhooks convograph can verify; remove this block")),
        }
    }
}

fn value_err(key: &str, reason: &str) -> ConfigError {
    ConfigError::Value { key: key.to_owned(), reason: reason.to_owned() }
}

impl SecretSource {
    /// Reads the secret; the error names `key` and the env var or file, never a value.
    pub fn resolve(&self, key: &str) -> Result<Secret, ConfigError> {
        match self {
            Self::Env(name) => match std::env::var(name) {
                Ok(v) if !v.is_empty() => Ok(Secret::new(v)),
                _ => Err(value_err(key, &format!("environment variable {name} is not set"))),
            },
            Self::File(path) => std::fs::read_to_string(path)
                .map(|v| Secret::new(v.trim_end_matches(['\r', '\n'])))
                .map_err(|e| value_err(key, &format!("cannot read secret file {}: {e}", path.display()))),
        }
    }
}

impl CredentialsConfig {
    /// Reads every secret the credentials name.
    pub fn resolve(&self, key: &str) -> Result<Credentials, ConfigError> {
        Ok(match self {
            Self::Basic { username, password } => Credentials::Basic {
                username: username.resolve(&format!("{key}.basic.username"))?,
                password: password.resolve(&format!("{key}.basic.password"))?,
            },
            Self::Bearer { token } => Credentials::Bearer { token: token.resolve(&format!("{key}.bearer.token"))? },
            Self::ClientCredentials { client_id, client_secret, token_url, scope } => {
                let key = format!("{key}.client_credentials");
                Credentials::ClientCredentials {
                    client_id: client_id.resolve(&format!("{key}.client_id"))?,
                    client_secret: client_secret.resolve(&format!("{key}.client_secret"))?,
                    token_url: token_url.clone(),
                    scope: scope.clone(),
                }
            }
        })
    }
}
