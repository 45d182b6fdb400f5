//! Start-up: resolves settings into running parts (sandbox, providers, cache,
//! schema, HTTP), binds the listener (port 0 in tests) and serves until shutdown.

use std::{net::SocketAddr, sync::Arc, time::Duration};

use tokio::net::TcpListener;
use url::Url;

use crate::{
    auth::Authenticator,
    cache::Cache,
    config::{ConfigError, ConnectionSettings, Credentials, Secret, Settings, TrafficSettings},
    http::{HttpOptions, HttpState, ResponseCache, router},
    metrics::Metrics,
    people::Directory,
    providers::{
        Provider, ProviderKind, Registry,
        gong::GongProvider,
        hubster::{self, HubsterProvider},
        salesloft::{self, SalesloftProvider},
        transport::{RateSchedule, TrafficPolicy, Transport},
    },
    sandbox::{LiveCalls, Sandbox, SandboxSettings},
    schema::{
        AppSchema, AppState, ConnectionNode, RateLimitInfo, SchemaOptions, build_schema, connection::CursorCodec,
        request_guard,
    },
    shared::Shared,
    webhooks::{ResolvedWebhook, Webhooks},
};

/// Connection id of the sandbox's Gong demo connection.
pub const SANDBOX_GONG_CONNECTION: &str = "gong-demo";
/// Connection id of the sandbox's ExecVision demo connection.
pub const SANDBOX_EXECVISION_CONNECTION: &str = "execvision-demo";
/// Connection id of the sandbox's Salesloft demo connection.
pub const SANDBOX_SALESLOFT_CONNECTION: &str = "salesloft-demo";
/// Connection id of the sandbox's Hubster demo connection.
pub const SANDBOX_HUBSTER_CONNECTION: &str = "hubster-demo";

/// A connection with its secrets read.
#[derive(Debug, Clone)]
pub struct ResolvedConnection {
    pub id: String,
    pub provider: ProviderKind,
    pub base_url: Url,
    pub credentials: Credentials,
    pub time_zone: Option<String>,
    pub workspace_id: Option<String>,
    /// Hubster: the conversations the calls list reads.
    pub conversation_ids: Vec<String>,
    /// Salesloft: the budget window (the sandbox's may be shorter than a minute).
    pub budget_window: Option<Duration>,
    pub traffic: TrafficSettings,
    /// How its webhooks are verified, when it takes them.
    pub webhook: Option<ResolvedWebhook>,
}

/// A start-up failure.
#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error("cannot listen on {addr}: {source}")]
    Bind { addr: SocketAddr, source: std::io::Error },
    #[error("sandbox: {0}")]
    Sandbox(String),
    #[error("connection '{id}': {reason}")]
    Connection { id: String, reason: String },
}

/// A built, bound, not yet serving convograph.
pub struct Application {
    listener: TcpListener,
    router: axum::Router,
    schema: AppSchema,
    sandbox: Option<Sandbox>,
    open: bool,
    metrics: Metrics,
}

impl Application {
    /// Builds everything from settings and binds the listen address.
    pub async fn build(settings: Settings) -> Result<Self, StartupError> {
        Self::build_with_simulators(settings, SandboxSettings::default()).await
    }

    /// As [`Application::build`], with these simulator behaviours when the sandbox is
    /// on (its seed and sizes still come from `settings.sandbox`); for tests.
    pub async fn build_with_simulators(settings: Settings, simulators: SandboxSettings) -> Result<Self, StartupError> {
        settings.validate()?;
        // Bound first: the sandbox's Gong webhook is signed for the URL it is served at.
        let addr = settings.server.listen;
        let listener = TcpListener::bind(addr).await.map_err(|source| StartupError::Bind { addr, source })?;
        let local = listener.local_addr().map_err(|source| StartupError::Bind { addr, source })?;
        let mut connections =
            settings.connections.iter().enumerate().map(|(i, c)| resolve(i, c)).collect::<Result<Vec<_>, _>>()?;
        let sandbox = match &settings.sandbox {
            Some(cfg) => {
                let live = if cfg.live_every.is_zero() {
                    simulators.live.clone()
                } else {
                    Some(LiveCalls::from_now(cfg.live_every, cfg.live_calls))
                };
                let sim = SandboxSettings { seed: cfg.seed, people: cfg.people, calls: cfg.calls, live, ..simulators };
                let sandbox = Sandbox::start(sim).await.map_err(|e| StartupError::Sandbox(e.to_string()))?;
                connections.extend(
                    sandbox_connections(&sandbox, local).into_iter().filter(|c| cfg.providers.contains(&c.provider)),
                );
                Some(sandbox)
            }
            None => None,
        };
        let webhooks = Webhooks::build(connections.iter().map(|c| (c.id.as_str(), c.provider, c.webhook.as_ref())))?;
        let metrics = Metrics::new();
        let shared = settings.redis.as_ref().map(|r| Shared::connect(r, metrics.clone()));
        let cache = Cache::with_metrics(&settings.cache, &metrics).with_shared(shared.clone());
        let mut registry = Registry::default();
        let mut nodes = Vec::new();
        for c in &connections {
            let (provider, policy) = build_provider(c, &settings, &cache, &metrics, shared.as_ref())?;
            nodes.push(ConnectionNode {
                id: c.id.clone().into(),
                provider: c.provider,
                rate_limit: RateLimitInfo { schedule: policy.schedule, daily_quota: policy.daily_quota },
            });
            registry.insert(provider);
        }
        let cursor_key = match &settings.server.cursor_secret {
            Some(src) => src.resolve("server.cursor_secret")?.expose().as_bytes().to_vec(),
            None => {
                if settings.sandbox.is_none() {
                    tracing::warn!(
                        "No server.cursor_secret configured: cursors will not survive a restart nor work across replicas."
                    );
                }
                rand::random::<[u8; 32]>().to_vec()
            }
        };
        let ids: Vec<&str> = connections.iter().map(|c| c.id.as_str()).collect();
        let auth = Authenticator::build(&settings.auth, &ids)?;
        let guard = request_guard(
            &settings.limits,
            settings.server.max_page_size,
            settings.server.introspection,
            &settings.persisted_queries,
        )
        .map_err(|reason| ConfigError::Value { key: "persisted_queries.safelist".into(), reason })?
        .with_shared(shared.clone());
        let metrics_token = match &settings.server.metrics.bearer_token {
            Some(src) => Some(src.resolve("server.metrics.bearer_token")?),
            None => None,
        };
        let registry = Arc::new(registry);
        let state = AppState {
            registry: registry.clone(),
            cursors: CursorCodec::new(&cursor_key),
            max_page_size: settings.server.max_page_size,
            connections: Arc::new(nodes),
            directory: Arc::new(Directory::new(settings.cache.users_ttl)),
        };
        let options = SchemaOptions {
            introspection: settings.server.introspection,
            resolver_spans: settings.telemetry.otlp.enabled,
        };
        let hub = crate::live::Hub::new(
            registry.clone(),
            settings.live.clone(),
            shared.clone(),
            cache.clone(),
            metrics.clone(),
        );
        let schema = build_schema(state, options, Some(hub.clone()));
        let open = auth.is_open();
        let router = router(HttpState {
            schema: schema.clone(),
            registry,
            graphiql: Arc::new(settings.server.graphiql.clone()),
            auth: Arc::new(auth),
            guard: Arc::new(guard),
            metrics: metrics.clone(),
            readiness: Default::default(),
            options: Arc::new(HttpOptions {
                limits: settings.limits.clone(),
                cors: settings.server.cors.clone(),
                sandbox: sandbox.is_some(),
                metrics_enabled: settings.server.metrics.enabled,
                metrics_token,
                readiness_check_interval: settings.server.readiness_check_interval,
            }),
            responses: ResponseCache::new(settings.cache.responses_max_mib).with_shared(shared.clone()),
            shared: shared.clone(),
            live: hub,
            webhooks: Arc::new(webhooks),
        });
        Ok(Self { listener, router, schema, sandbox, open, metrics })
    }

    /// Whether the server runs without client authentication.
    pub fn is_open(&self) -> bool {
        self.open
    }

    /// The application's metrics.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// The bound address (the real port when 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener.local_addr().expect("a bound listener has an address")
    }

    /// The schema (for in-process execution in tests and benchmarks).
    pub fn schema(&self) -> &AppSchema {
        &self.schema
    }

    /// The running sandbox, when in sandbox mode.
    pub fn sandbox(&self) -> Option<&Sandbox> {
        self.sandbox.as_ref()
    }

    /// Serves until `shutdown` completes, then drains in-flight requests.
    pub async fn run_until_stopped(self, shutdown: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
        let Self { listener, router, sandbox, .. } = self;
        axum::serve(listener, router).with_graceful_shutdown(shutdown).await?;
        if let Some(s) = sandbox {
            s.shutdown().await;
        }
        Ok(())
    }
}

fn resolve(i: usize, c: &ConnectionSettings) -> Result<ResolvedConnection, ConfigError> {
    Ok(ResolvedConnection {
        id: c.id.clone(),
        provider: c.provider,
        base_url: c.base_url.clone(),
        credentials: c.credentials.resolve(&format!("connections[{i}].credentials"))?,
        time_zone: c.time_zone.clone(),
        workspace_id: c.workspace_id.clone(),
        conversation_ids: c.conversation_ids.clone(),
        budget_window: None,
        traffic: c.traffic.clone(),
        webhook: match &c.webhook {
            Some(w) => {
                let key = |k: &str| format!("connections[{i}].webhook.{k}");
                Some(ResolvedWebhook {
                    secret: w.secret.as_ref().map(|s| s.resolve(&key("secret"))).transpose()?,
                    public_key: w.public_key.as_ref().map(|s| s.resolve(&key("public_key"))).transpose()?,
                    url: w.url.clone(),
                })
            }
            None => None,
        },
    })
}

/// One demo connection per simulator the sandbox runs; Gong's and Salesloft's take
/// webhooks signed with the sandbox's demo keys (see [`crate::sandbox::webhooks`]).
fn sandbox_connections(sandbox: &Sandbox, served_at: SocketAddr) -> Vec<ResolvedConnection> {
    let gong = &sandbox.gong;
    vec![
        ResolvedConnection {
            id: SANDBOX_GONG_CONNECTION.into(),
            provider: ProviderKind::Gong,
            base_url: gong.base_url().parse().expect("the simulator's URL parses"),
            credentials: Credentials::Basic {
                username: Secret::new(gong.access_key()),
                password: Secret::new(gong.access_key_secret()),
            },
            time_zone: Some(sandbox.world().time_zone.name().to_owned()),
            workspace_id: Some(crate::sandbox::gong::ids::WORKSPACE_ID.to_owned()),
            conversation_ids: Vec::new(),
            budget_window: None,
            traffic: TrafficSettings::default(),
            webhook: Some(ResolvedWebhook {
                secret: None,
                public_key: Some(Secret::new(crate::sandbox::webhooks::GONG_DEMO_PUBLIC_KEY)),
                url: Some(crate::sandbox::webhooks::gong_webhook_url(served_at, SANDBOX_GONG_CONNECTION)),
            }),
        },
        ResolvedConnection {
            id: SANDBOX_EXECVISION_CONNECTION.into(),
            provider: ProviderKind::ExecVision,
            base_url: sandbox.execvision.base_url().parse().expect("the simulator's URL parses"),
            credentials: Credentials::Basic {
                username: Secret::new(sandbox.execvision.user_id()),
                password: Secret::new(sandbox.execvision.password()),
            },
            time_zone: None,
            workspace_id: None,
            conversation_ids: Vec::new(),
            budget_window: None,
            traffic: TrafficSettings::default(),
            webhook: None,
        },
        ResolvedConnection {
            id: SANDBOX_SALESLOFT_CONNECTION.into(),
            provider: ProviderKind::Salesloft,
            base_url: sandbox.salesloft.base_url().parse().expect("the simulator's URL parses"),
            credentials: Credentials::Bearer { token: Secret::new(sandbox.salesloft.token()) },
            time_zone: None,
            workspace_id: None,
            conversation_ids: Vec::new(),
            budget_window: Some(sandbox.salesloft.budget_window()),
            traffic: TrafficSettings::default(),
            webhook: Some(ResolvedWebhook {
                secret: Some(Secret::new(crate::sandbox::webhooks::SALESLOFT_DEMO_TOKEN)),
                public_key: None,
                url: None,
            }),
        },
        ResolvedConnection {
            id: SANDBOX_HUBSTER_CONNECTION.into(),
            provider: ProviderKind::Hubster,
            base_url: sandbox.hubster.engine_url().parse().expect("the simulator's URL parses"),
            credentials: Credentials::ClientCredentials {
                client_id: Secret::new(sandbox.hubster.client_id()),
                client_secret: Secret::new(sandbox.hubster.client_secret()),
                token_url: sandbox.hubster.token_url().parse().expect("the simulator's URL parses"),
                scope: None,
            },
            time_zone: None,
            workspace_id: None,
            // Hubster cannot list conversations: the demo connection names them all.
            conversation_ids: sandbox.hubster.conversation_ids(),
            budget_window: None,
            traffic: TrafficSettings::default(),
            webhook: None,
        },
    ]
}

fn build_provider(
    c: &ResolvedConnection,
    settings: &Settings,
    cache: &Cache,
    metrics: &Metrics,
    shared: Option<&Shared>,
) -> Result<(Arc<dyn Provider>, TrafficPolicy), StartupError> {
    let fail = |reason: String| StartupError::Connection { id: c.id.clone(), reason };
    // With Redis, the schedule, quota and pauses are the replicas' together.
    let share = |t: Transport| match shared {
        Some(s) => t.with_shared(s.clone()),
        None => t,
    };
    let traffic = c.traffic.or(settings.traffic.for_provider(c.provider)).or(&settings.traffic.all);
    let id: Arc<str> = Arc::from(c.id.as_str());
    let hooks = metrics.connection(c.provider, &id);
    match c.provider {
        ProviderKind::Gong => {
            let policy =
                TrafficPolicy::resolve(&traffic, RateSchedule::Fixed(crate::providers::gong::DEFAULT_RATE_PER_SEC))
                    .with_default_daily_quota(&traffic, crate::providers::gong::DEFAULT_DAILY_QUOTA);
            let transport = Transport::new(c.provider, id.clone(), c.base_url.clone(), &c.credentials, policy)
                .map_err(|e| fail(e.to_string()))?
                .with_metrics(hooks);
            let transport = share(transport);
            let tz = match &c.time_zone {
                Some(tz) => tz.parse().map_err(|_| fail(format!("unknown time zone '{tz}'")))?,
                None => chrono_tz::UTC,
            };
            let provider = GongProvider::new(transport, cache.clone(), id, tz, c.workspace_id.clone());
            Ok((Arc::new(provider), policy))
        }
        ProviderKind::ExecVision => {
            let policy = TrafficPolicy::resolve(&traffic, crate::providers::execvision::DEFAULT_SCHEDULE);
            let transport = Transport::new(c.provider, id.clone(), c.base_url.clone(), &c.credentials, policy)
                .map_err(|e| fail(e.to_string()))?
                .with_metrics(hooks);
            let transport = share(transport);
            let provider = crate::providers::execvision::ExecVisionProvider::new(transport, cache.clone(), id);
            Ok((Arc::new(provider), policy))
        }
        ProviderKind::Salesloft => {
            if matches!(c.credentials, Credentials::Basic { .. }) {
                return Err(fail(
                    "Salesloft takes a bearer token (an API key or OAuth access token), not basic".into(),
                ));
            }
            let policy = TrafficPolicy::resolve(&traffic, RateSchedule::Fixed(salesloft::DEFAULT_RATE_PER_SEC));
            let transport = Transport::new(c.provider, id.clone(), c.base_url.clone(), &c.credentials, policy)
                .map_err(|e| fail(e.to_string()))?
                .with_cost_budget(c.budget_window.unwrap_or(salesloft::BUDGET_WINDOW))
                .with_metrics(hooks);
            let transport = share(transport);
            let provider = SalesloftProvider::new(transport, cache.clone(), id);
            Ok((Arc::new(provider), policy))
        }
        ProviderKind::Hubster => {
            if matches!(c.credentials, Credentials::Basic { .. }) {
                return Err(fail("Hubster takes client_credentials (or a bearer engine token), not basic".into()));
            }
            let policy = TrafficPolicy::resolve(&traffic, RateSchedule::Fixed(hubster::DEFAULT_RATE_PER_SEC));
            let transport = Transport::new(c.provider, id.clone(), c.base_url.clone(), &c.credentials, policy)
                .map_err(|e| fail(e.to_string()))?
                .with_metrics(hooks);
            let transport = share(transport);
            let provider = HubsterProvider::new(
                transport,
                cache.clone(),
                id,
                c.conversation_ids.clone(),
                settings.cache.calls_ttl,
            );
            Ok((Arc::new(provider), policy))
        }
    }
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("Shutdown signal received; draining requests.");
}
