//! convograph: one GraphQL graph (standalone, or an Apollo Federation v2 subgraph)
//! over the conversation-intelligence platforms a revenue team uses.
//!
//! # Layout
//! - [`startup`]: builds the application from [`config::Settings`] and serves it.
//! - [`http`]: the axum router (GraphQL over HTTP, GraphiQL, health).
//! - [`schema`]: the GraphQL types and the query root; Relay paging and global ids.
//! - [`federation`]: `_entities` slots and federated tracing (`ftv1`) for gateways.
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

pub mod accounting;
pub mod cache;
pub mod config;
pub mod domain;
pub mod error;
pub mod federation;
pub mod http;
pub mod loaders;
pub mod people;
pub mod providers;
pub mod sandbox;
pub mod schema;
pub mod startup;
pub mod telemetry;
pub mod timeline;
