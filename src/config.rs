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
}

impl Default for ServerSettings {
    fn default() -> Self {
        Self {
            listen: DEFAULT_LISTEN.parse().expect("valid default address"),
            cursor_secret: None,
            max_page_size: 100,
            graphiql: GraphiqlSettings::default(),
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
        }
    }
}

/// Cache settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CacheSettings {
    /// Upper bound of the cache, in MiB of estimated record size.
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
                figment = figment.merge(Serialized::default("sandbox", SandboxConfig::default()));
            }
        }
        figment = figment.merge(Env::prefixed(ENV_PREFIX).split("__"));
        let settings: Settings = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(e.into_iter().map(|e| e.to_string()).collect::<Vec<_>>().join("; ")))?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let mut seen = HashSet::new();
        if self.server.max_page_size == 0 {
            return Err(value_err("server.max_page_size", "must be at least 1"));
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
        }
        Ok(())
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
