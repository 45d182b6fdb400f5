//! Subscriptions over HTTP: GraphQL over WebSocket (`graphql-transport-ws`, and the
//! older `graphql-ws` protocol) on `GET /graphql` with an upgrade, and GraphQL over
//! Server-Sent Events (distinct-connections mode) on `POST /graphql` (or `GET` with
//! the query in the URL) with `Accept: text/event-stream`.
//!
//! Both authenticate like queries: the WebSocket by the `connection_init` payload
//! (`Authorization` / `authorization` / `x-api-key` / `apiKey`) or else the upgrade
//! request's headers; SSE by the request headers. Every operation passes the same
//! guard as a query (persisted queries, depth, aliases, complexity), and the
//! credential is checked again for each event ([`Reauthenticate`]).

use std::{convert::Infallible, sync::Arc, time::Duration};

use async_graphql::{Data, Executor, futures_util::stream::BoxStream, http::ALL_WEBSOCKET_PROTOCOLS};
use async_graphql_axum::{GraphQLProtocol, GraphQLWebSocket};
use axum::{
    body::Body,
    extract::{FromRequestParts, WebSocketUpgrade},
    http::{HeaderMap, Request, StatusCode, header},
    response::{
        IntoResponse, Response,
        sse::{Event as SseEvent, KeepAlive, Sse},
    },
};
use futures::{StreamExt, stream};

use super::{
    API_KEY_HEADER, HttpState,
    graphql::{self, MediaType},
};
use crate::{
    auth::{Authenticator, Principal},
    error::ErrorCode,
    loaders::Loaders,
    schema::{AppSchema, limits::RequestGuard, subscription::Reauthenticate},
};

/// Whether a request asks for a WebSocket upgrade.
pub(super) fn is_websocket(headers: &HeaderMap) -> bool {
    headers.get(header::UPGRADE).and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

/// Whether a request asks for an event stream.
pub(super) fn wants_event_stream(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.split(',').any(|p| p.trim().to_ascii_lowercase().starts_with("text/event-stream")))
}

/// The schema behind the guard every HTTP operation passes.
#[derive(Clone)]
struct Guarded {
    schema: AppSchema,
    guard: Arc<RequestGuard>,
}

impl Guarded {
    /// The request as the guard lets it run, or the answer refusing it.
    async fn check(
        &self,
        mut request: async_graphql::Request,
    ) -> Result<async_graphql::Request, async_graphql::Response> {
        self.guard.recall(&request).await;
        let mut name = None;
        match self.guard.check(&mut request, &mut name) {
            Ok(()) => Ok(request),
            Err(e) => Err(async_graphql::Response::from_errors(vec![e])),
        }
    }
}

impl Executor for Guarded {
    async fn execute(&self, request: async_graphql::Request) -> async_graphql::Response {
        match self.check(request).await {
            Ok(r) => self.schema.execute(r).await,
            Err(resp) => resp,
        }
    }

    fn execute_stream(
        &self,
        request: async_graphql::Request,
        session_data: Option<Arc<Data>>,
    ) -> BoxStream<'static, async_graphql::Response> {
        let this = self.clone();
        stream::once(async move {
            match this.check(request).await {
                Ok(r) => Executor::execute_stream(&this.schema, r, session_data),
                Err(resp) => stream::once(async move { resp }).boxed(),
            }
        })
        .flatten()
        .map(|mut resp| {
            crate::error::code_engine_errors(&mut resp);
            resp
        })
        .boxed()
    }
}

/// What one subscriber's operations need in their data: who it is, how to check
/// that again, and loaders.
fn caller_data(
    state: &HttpState,
    principal: Arc<Principal>,
    authorization: Option<String>,
    api_key: Option<String>,
) -> Data {
    let mut data = Data::default();
    data.insert(principal);
    let auth: Arc<Authenticator> = state.auth.clone();
    data.insert(Reauthenticate(Arc::new(move || auth.authenticate(authorization.as_deref(), api_key.as_deref()))));
    data.insert(Arc::new(Loaders::new(&state.registry, None)));
    data
}

fn header_text(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// `GET /graphql` with `Upgrade: websocket`.
pub(super) async fn websocket(state: Arc<HttpState>, req: Request<Body>) -> Response {
    let (mut parts, _body) = req.into_parts();
    let protocol = match GraphQLProtocol::from_request_parts(&mut parts, &()).await {
        Ok(p) => p,
        Err(status) => {
            return (status, "the WebSocket must offer the `graphql-transport-ws` (or `graphql-ws`) subprotocol")
                .into_response();
        }
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(u) => u,
        Err(rejection) => return rejection.into_response(),
    };
    let header_authorization = header_text(&parts.headers, header::AUTHORIZATION.as_str());
    let header_key = header_text(&parts.headers, API_KEY_HEADER);
    let executor = Guarded { schema: state.schema.clone(), guard: state.guard.clone() };
    upgrade.protocols(ALL_WEBSOCKET_PROTOCOLS).on_upgrade(move |socket| async move {
        let state_init = state.clone();
        GraphQLWebSocket::new(socket, executor, protocol)
            .on_connection_init(move |payload: serde_json::Value| async move {
                let from_payload = |names: &[&str]| {
                    names.iter().find_map(|n| payload.get(*n).and_then(|v| v.as_str()).map(str::to_owned))
                };
                let authorization = from_payload(&["Authorization", "authorization"]).or(header_authorization);
                let api_key = from_payload(&["x-api-key", "X-Api-Key", "apiKey"]).or(header_key);
                match state_init.auth.authenticate(authorization.as_deref(), api_key.as_deref()) {
                    Ok(principal) => Ok(caller_data(&state_init, principal, authorization, api_key)),
                    Err(e) => {
                        state_init.metrics.auth_failure(e.reason());
                        // graphql-ws closes the socket with 4403 and this message.
                        Err(async_graphql::Error::new(format!("UNAUTHENTICATED: {e}")))
                    }
                }
            })
            .keepalive_timeout(Duration::from_secs(60))
            .serve()
            .await
    })
}

/// GraphQL over SSE (distinct connections): one operation, its results as `next`
/// events, then `complete`. A request the guard refuses gets its errors as one
/// `next` event.
pub(super) async fn event_stream(
    state: Arc<HttpState>,
    headers: &HeaderMap,
    request: Result<async_graphql::Request, String>,
) -> Response {
    // Authenticated (and refused) as a query is.
    let principal = match graphql::authenticate(&state, headers, MediaType::Json) {
        Ok(p) => p,
        Err(resp) => return *resp,
    };
    let request = match request {
        Ok(r) => r,
        Err(message) => {
            return graphql::request_error(MediaType::Json, StatusCode::BAD_REQUEST, ErrorCode::BadRequest, &message);
        }
    };
    let authorization = header_text(headers, header::AUTHORIZATION.as_str());
    let api_key = header_text(headers, API_KEY_HEADER);
    let data = Arc::new(caller_data(&state, principal, authorization, api_key));
    let executor = Guarded { schema: state.schema.clone(), guard: state.guard.clone() };
    let results = Executor::execute_stream(&executor, request, Some(data)).map(|resp| {
        let json = serde_json::to_string(&resp).unwrap_or_else(|_| "{}".into());
        Ok::<_, Infallible>(SseEvent::default().event("next").data(json))
    });
    let complete = stream::once(async { Ok(SseEvent::default().event("complete").data("")) });
    Sse::new(results.chain(complete)).keep_alive(KeepAlive::new().interval(Duration::from_secs(12))).into_response()
}
