//! convograph: one GraphQL graph (standalone, or an Apollo Federation v2 subgraph)
//! over the conversation-intelligence platforms a revenue team uses.
//!
//! # Layout
//! - [`startup`]: builds the application from [`config::Settings`] and serves it.
//! - [`http`]: the axum router (GraphQL over HTTP, GraphiQL, health, metrics, CORS).
//! - [`auth`]: client authentication (API keys, JWT) and the per-request principal.
//! - [`schema`]: the GraphQL types and the query root; Relay paging and global ids;
//!   request limits and persisted queries.
//! - [`federation`]: `_entities` resolved per representation (slots) and federated
//!   tracing (`ftv1`) for gateways.
//! - [`loaders`]: per-request DataLoaders that batch nested provider lookups.
//! - [`providers`]: one folder per provider (`client`, `model`, `mapping`) behind the
//!   [`providers::Provider`] trait, and the rate-aware [`providers::transport`].
//! - [`people`]: provider accounts joined into persons by email.
//! - [`cache`]: the cross-request cache of provider results.
//! - [`accounting`]: what one request cost (upstream requests, cache hits, limiter wait).
//! - [`domain`]: provider-neutral records.
//! - [`timeline`]: calls of several connections in one start-time order, paged both ways.
//! - [`sandbox`]: simulators of the providers' APIs over one synthetic world.
//! - [`error`]: the error codes clients see.
//! - [`webhooks`]: Gong and Salesloft webhooks, verified and read into live events.
//! - [`metrics`]: Prometheus metrics and observed connection health.
//! - [`telemetry`]: logs (text or JSON) and OpenTelemetry trace export.

pub mod accounting;
pub mod auth;
pub mod cache;
pub mod config;
pub mod domain;
pub mod error;
pub mod federation;
pub mod http;
pub mod live;
pub mod loaders;
pub mod metrics;
pub mod people;
pub mod providers;
pub mod sandbox;
pub mod schema;
pub mod shared;
pub mod startup;
pub mod telemetry;
pub mod timeline;
pub mod webhooks;
