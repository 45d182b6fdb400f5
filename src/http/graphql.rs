//! GraphQL over HTTP (the GraphQL-over-HTTP spec): `POST` with an `application/json`
//! body (a request or a batch array; any other or no `Content-Type` is 415, a request
//! without a query is 400), `GET` for
//! queries only (a mutation over `GET` is 405), `application/graphql-response+json`
//! when the client accepts it (then request errors are 4xx), `application/json`
//! otherwise (200 once the request is read). A request that fails before execution
//! (parse or validation) has no `data` entry. `apollo-federation-include-trace: ftv1`
//! adds a federated trace (`extensions.ftv1`). Browsers asking for HTML get GraphiQL.
use std::{sync::Arc, time::Duration};

use async_graphql::{
    BatchRequest, BatchResponse,
    parser::types::{DocumentOperations, OperationType},
};
use async_graphql_axum::GraphQLBatchRequest;
use axum::{
    extract::{RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};

use super::{HttpState, graphiql, response_cache::Stored};
use crate::{
    accounting::{self, RequestAccount},
    federation::ftv1,
    loaders::Loaders,
};

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// The response media type the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MediaType {
    GraphqlResponseJson,
    Json,
}

impl MediaType {
    fn as_str(self) -> &'static str {
        match self {
            Self::GraphqlResponseJson => GRAPHQL_RESPONSE_JSON,
            Self::Json => "application/json",
        }
    }
}

fn negotiate(headers: &HeaderMap) -> MediaType {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("");
    // Prefer the GraphQL media type whenever it is listed with a non-zero quality.
    let wants = |media: &str| {
        accept.split(',').any(|part| {
            let mut it = part.split(';');
            let ty = it.next().unwrap_or("").trim();
            let q_zero = it.any(|p| {
                let p = p.trim();
                p.strip_prefix("q=").and_then(|q| q.trim().parse::<f32>().ok()).is_some_and(|q| q == 0.0)
            });
            ty.eq_ignore_ascii_case(media) && !q_zero
        })
    };
    if wants(GRAPHQL_RESPONSE_JSON) { MediaType::GraphqlResponseJson } else { MediaType::Json }
}

fn wants_html(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.split(',').any(|p| p.trim().starts_with("text/html")))
}

/// `POST /graphql`.
pub(super) async fn post_handler(
    State(state): State<HttpState>,
    headers: HeaderMap,
    req: GraphQLBatchRequest,
) -> Response {
    let media = negotiate(&headers);
    if !is_json_body(&headers) {
        return request_error(
            media,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "a POST body must be `application/json` (a GraphQL request or an array of them)",
        );
    }
    let req = req.into_inner();
    if let BatchRequest::Single(r) = &req
        && lacks_query(r)
    {
        return request_error(media, StatusCode::BAD_REQUEST, "the request has no `query`");
    }
    execute(&state, &headers, media, req).await
}

/// A request with neither a query nor a persisted-query hash (say a misspelt `query`
/// key) is malformed: 400 whatever the media type, rather than a parse error.
fn lacks_query(r: &async_graphql::Request) -> bool {
    r.query.trim().is_empty() && !r.extensions.contains_key("persistedQuery")
}

/// Whether the request body is declared as JSON (the only POST format of the
/// GraphQL-over-HTTP spec; without a `Content-Type` the body is not guessed at).
fn is_json_body(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

/// `GET /graphql`: GraphiQL for browsers, otherwise a query from the query string.
pub(super) async fn get_handler(
    State(state): State<HttpState>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    let has_query = raw.split('&').any(|kv| kv.starts_with("query="));
    if !has_query && wants_html(&headers) {
        if !state.graphiql.enabled {
            return (StatusCode::NOT_FOUND, "GraphiQL is disabled").into_response();
        }
        return Html(graphiql::page(&state.graphiql)).into_response();
    }
    let media = negotiate(&headers);
    let request = match async_graphql::http::parse_query_string(&raw) {
        Ok(r) => r,
        Err(e) => {
            return request_error(media, StatusCode::BAD_REQUEST, &format!("invalid GraphQL request: {e}"));
        }
    };
    if lacks_query(&request) {
        return request_error(media, StatusCode::BAD_REQUEST, "the request has no `query`");
    }
    if is_mutation(&request) {
        let mut resp = request_error(media, StatusCode::METHOD_NOT_ALLOWED, "mutations are only accepted over POST");
        resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        return resp;
    }
    execute(&state, &headers, media, BatchRequest::Single(request)).await
}

/// Whether the operation the request would run is a mutation.
fn is_mutation(req: &async_graphql::Request) -> bool {
    let Ok(doc) = async_graphql::parser::parse_query(&req.query) else {
        return false;
    };
    let ty = match &doc.operations {
        DocumentOperations::Single(op) => Some(op.node.ty),
        DocumentOperations::Multiple(ops) => match &req.operation_name {
            Some(name) => ops.get(name.as_str()).map(|op| op.node.ty),
            None if ops.len() == 1 => ops.values().next().map(|op| op.node.ty),
            None => None,
        },
    };
    ty == Some(OperationType::Mutation)
}

/// Whether a gateway asked for a federated trace (`apollo-federation-include-trace: ftv1`).
fn wants_ftv1(headers: &HeaderMap) -> bool {
    headers.get(ftv1::INCLUDE_TRACE_HEADER).and_then(|v| v.to_str().ok()).is_some_and(|v| v.trim() == ftv1::FTV1)
}

fn wants_debug(headers: &HeaderMap) -> bool {
    headers
        .get(accounting::DEBUG_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| matches!(v.trim(), "1" | "true"))
}

/// Runs one operation with its own loaders and cost account; returns the response
/// and how long it may be reused (`None`: not at all).
async fn execute_one(
    state: &HttpState,
    req: async_graphql::Request,
    trace: bool,
    debug: bool,
) -> (async_graphql::Response, Option<Duration>) {
    let account = RequestAccount::new();
    let loaders = Arc::new(Loaders::new(&state.registry, Some(account.clone())));
    let parsed = async_graphql::parser::parse_query(&req.query).is_ok();
    let mut req = req.data(loaders);
    if trace {
        req = req.data(ftv1::TraceRequested);
    }
    let mut resp = accounting::scope(account.clone(), state.schema.execute(req)).await;
    tag_request_errors(&mut resp, parsed);
    if debug && let Ok(summary) = async_graphql::Value::from_json(serde_json::json!(account.summary())) {
        resp.extensions.insert("convograph".to_owned(), summary);
    }
    let max_age = if resp.errors.is_empty() { account.max_age() } else { None };
    (resp, max_age)
}

async fn execute(state: &HttpState, headers: &HeaderMap, media: MediaType, req: BatchRequest) -> Response {
    let (trace, debug) = (wants_ftv1(headers), wants_debug(headers));
    match req {
        BatchRequest::Single(r) => {
            // Requests for a trace or a cost report describe an execution: never cached.
            let key = if trace || debug { None } else { state.responses.key("", media.as_str(), &r) };
            let run = async {
                let (resp, max_age) = execute_one(state, r, trace, debug).await;
                render(media, BatchResponse::Single(resp), &[max_age])
            };
            match key {
                Some(key) => {
                    let (stored, hit) = state.responses.get_or_run(key, run).await;
                    let mut out = respond(&stored);
                    out.headers_mut()
                        .insert(RESPONSE_CACHE_HEADER, HeaderValue::from_static(if hit { "hit" } else { "miss" }));
                    out
                }
                None => respond(&run.await),
            }
        }
        BatchRequest::Batch(rs) => {
            let results = futures::future::join_all(rs.into_iter().map(|r| execute_one(state, r, trace, debug))).await;
            let (resps, ages): (Vec<_>, Vec<_>) = results.into_iter().unzip();
            respond(&render(media, BatchResponse::Batch(resps), &ages))
        }
    }
}

/// Response header saying whether the whole answer came from the response cache.
const RESPONSE_CACHE_HEADER: &str = "x-convograph-response-cache";

/// The HTTP form of an answer, and how long it may be reused.
fn render(media: MediaType, resp: BatchResponse, max_ages: &[Option<Duration>]) -> Stored {
    // With the GraphQL media type, a request that never started executing (parse or
    // validation failure: no data, no error path) is a 400.
    let request_failed = match &resp {
        BatchResponse::Single(r) => is_request_error(r),
        BatchResponse::Batch(rs) => !rs.is_empty() && rs.iter().all(is_request_error),
    };
    let status = if media == MediaType::GraphqlResponseJson && request_failed {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let body = match &resp {
        BatchResponse::Single(r) => response_json(r),
        BatchResponse::Batch(rs) => serde_json::Value::Array(rs.iter().map(response_json).collect()),
    };
    let body = serde_json::to_vec(&body).unwrap_or_else(|_| b"{\"errors\":[{\"message\":\"internal\"}]}".to_vec());
    let ttl = shortest(max_ages).unwrap_or(Duration::ZERO);
    Stored { status, content_type: content_type(media), body: body.into(), ttl, stored_at: std::time::Instant::now() }
}

fn respond(stored: &Stored) -> Response {
    let mut out = (stored.status, stored.body.clone()).into_response();
    out.headers_mut().insert(header::CONTENT_TYPE, stored.content_type.clone());
    out.headers_mut().insert(header::CACHE_CONTROL, cache_control(stored));
    out
}

/// The shortest of the answers' times to live; `None` if any may not be reused.
fn shortest(max_ages: &[Option<Duration>]) -> Option<Duration> {
    max_ages.iter().try_fold(None::<Duration>, |acc, a| {
        let a = (*a)?;
        Some(Some(acc.map_or(a, |m| m.min(a))))
    })?
}

/// `private, max-age=N`: the time the provider data the answer was built from has
/// left to live in convograph's cache (private: answers depend on the caller).
/// Answers with errors, or built from data convograph does not cache, are `no-store`.
fn cache_control(stored: &Stored) -> HeaderValue {
    let left = stored.remaining();
    if stored.ttl.is_zero() || left.is_zero() {
        return HeaderValue::from_static("no-store");
    }
    // Whole seconds, rounded up: a fresh answer says its full time to live.
    let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
    HeaderValue::try_from(format!("private, max-age={secs}")).unwrap_or(HeaderValue::from_static("no-store"))
}

/// Gives parse and validation errors (raised by the engine, without a code) the
/// codes gateways and clients know: `GRAPHQL_PARSE_FAILED`, `GRAPHQL_VALIDATION_FAILED`.
fn tag_request_errors(r: &mut async_graphql::Response, parsed: bool) {
    if !is_request_error(r) {
        return;
    }
    let code = if parsed { "GRAPHQL_VALIDATION_FAILED" } else { "GRAPHQL_PARSE_FAILED" };
    for e in &mut r.errors {
        let ext = e.extensions.get_or_insert_with(Default::default);
        if ext.get("code").is_none() {
            ext.set("code", code);
        }
    }
}

/// One response as JSON. A request that never started executing has no `data` entry
/// at all (GraphQL spec, "Response"), rather than `data: null`.
fn response_json(r: &async_graphql::Response) -> serde_json::Value {
    let mut v = serde_json::to_value(r).unwrap_or_else(
        |_| serde_json::json!({ "errors": [ { "message": "internal", "extensions": { "code": "INTERNAL" } } ] }),
    );
    if is_request_error(r)
        && let Some(o) = v.as_object_mut()
    {
        o.remove("data");
    }
    v
}

fn is_request_error(r: &async_graphql::Response) -> bool {
    r.data == async_graphql::Value::Null && !r.errors.is_empty() && r.errors.iter().all(|e| e.path.is_empty())
}

fn content_type(media: MediaType) -> HeaderValue {
    HeaderValue::from_static(match media {
        MediaType::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
        MediaType::Json => "application/json; charset=utf-8",
    })
}

fn request_error(media: MediaType, status: StatusCode, message: &str) -> Response {
    let body = serde_json::json!({ "errors": [ { "message": message, "extensions": { "code": "BAD_REQUEST" } } ] });
    let mut out = (status, body.to_string()).into_response();
    out.headers_mut().insert(header::CONTENT_TYPE, content_type(media));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT, HeaderValue::from_str(v).unwrap());
        h
    }

    #[test]
    fn json_unless_the_graphql_media_type_is_accepted() {
        assert_eq!(negotiate(&HeaderMap::new()), MediaType::Json);
        assert_eq!(negotiate(&accept("application/json")), MediaType::Json);
        assert_eq!(negotiate(&accept("*/*")), MediaType::Json);
        assert_eq!(negotiate(&accept("application/graphql-response+json")), MediaType::GraphqlResponseJson);
        assert_eq!(
            negotiate(&accept("application/json;q=0.9, application/graphql-response+json")),
            MediaType::GraphqlResponseJson
        );
        assert_eq!(negotiate(&accept("application/graphql-response+json;q=0, application/json")), MediaType::Json);
    }

    #[test]
    fn post_bodies_must_be_declared_json() {
        let ct = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::CONTENT_TYPE, HeaderValue::from_str(v).unwrap());
            h
        };
        assert!(is_json_body(&ct("application/json")));
        assert!(is_json_body(&ct("Application/JSON; charset=utf-8")));
        assert!(!is_json_body(&HeaderMap::new()));
        assert!(!is_json_body(&ct("text/plain")));
        assert!(!is_json_body(&ct("application/x-www-form-urlencoded")));
    }

    #[test]
    fn mutation_detection_follows_the_operation_name() {
        let req = |q: &str, op: Option<&str>| {
            let mut r = async_graphql::Request::new(q);
            if let Some(op) = op {
                r = r.operation_name(op);
            }
            r
        };
        assert!(is_mutation(&req("mutation { x }", None)));
        assert!(!is_mutation(&req("{ x }", None)));
        assert!(is_mutation(&req("query A { x } mutation B { y }", Some("B"))));
        assert!(!is_mutation(&req("query A { x } mutation B { y }", Some("A"))));
        assert!(!is_mutation(&req("not graphql", None)));
    }
}
