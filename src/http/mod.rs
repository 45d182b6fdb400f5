//! HTTP: the axum router. Wires the schema to GraphQL over HTTP and adds GraphiQL,
//! `/healthz` and `/readyz`. No resolver logic here.

mod graphiql;
mod graphql;
mod response_cache;

use std::sync::Arc;

use axum::{Json, Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use serde_json::json;
use tower_http::{catch_panic::CatchPanicLayer, services::ServeDir, trace::TraceLayer};

use crate::{config::GraphiqlSettings, providers::Registry, schema::AppSchema};

/// Everything the HTTP handlers share.
#[derive(Clone)]
pub struct HttpState {
    pub schema: AppSchema,
    pub registry: Arc<Registry>,
    pub graphiql: Arc<GraphiqlSettings>,
    responses: response_cache::ResponseCache,
}

impl HttpState {
    /// The HTTP state, with a response cache of at most `response_cache_mib` MiB.
    pub fn new(
        schema: AppSchema,
        registry: Arc<Registry>,
        graphiql: Arc<GraphiqlSettings>,
        response_cache_mib: u64,
    ) -> Self {
        Self { schema, registry, graphiql, responses: response_cache::ResponseCache::new(response_cache_mib) }
    }
}

/// The whole HTTP surface.
pub fn router(state: HttpState) -> Router {
    let mut router = Router::new()
        .route("/graphql", get(graphql::get_handler).post(graphql::post_handler))
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz));
    if let Some(dir) = state.graphiql.assets_dir.clone().filter(|_| state.graphiql.enabled) {
        router = router.nest_service(graphiql::LOCAL_ASSETS_PATH, ServeDir::new(dir));
    }
    // Outermost: a panic anywhere becomes a coded 500, never a dropped connection.
    router.layer(TraceLayer::new_for_http()).layer(CatchPanicLayer::custom(panic_response)).with_state(state)
}

/// The process is up.
async fn healthz() -> impl IntoResponse {
    Json(json!({ "status": "ok" }))
}

/// Configuration loaded and every connection answering with valid credentials.
async fn readyz(State(state): State<HttpState>) -> impl IntoResponse {
    let checks = state.registry.iter().map(|p| async move { (p.connection_id().clone(), p.check().await) });
    let results = futures::future::join_all(checks).await;
    let ready = results.iter().all(|(_, r)| r.is_ok());
    let connections: serde_json::Map<String, serde_json::Value> = results
        .into_iter()
        .map(|(id, r)| {
            let v = match r {
                Ok(()) => json!({ "status": "ok" }),
                Err(e) => json!({ "status": "error", "code": e.code().as_str() }),
            };
            (id.to_string(), v)
        })
        .collect();
    let status = if ready { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(json!({ "status": if ready { "ready" } else { "not ready" }, "connections": connections })))
}

fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> axum::response::Response {
    tracing::error!("A request handler panicked; answered 500.");
    let body = json!({ "errors": [ { "message": "internal error", "extensions": { "code": "INTERNAL" } } ] });
    (StatusCode::INTERNAL_SERVER_ERROR, Json(body)).into_response()
}
