//! GraphQL over HTTP (the GraphQL-over-HTTP spec): `POST` for everything, `GET` for
//! queries only (a mutation over `GET` is 405), `application/graphql-response+json`
//! when the client accepts it (then request errors are 4xx), `application/json`
//! otherwise (always 200). Browsers asking for HTML get GraphiQL.

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

use super::{HttpState, graphiql};
use crate::{
    accounting::{self, RequestAccount},
    loaders::Loaders,
};

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// The response media type the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MediaType {
    GraphqlResponseJson,
    Json,
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
    execute(&state, negotiate(&headers), &headers, req.into_inner()).await
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
    if is_mutation(&request) {
        let mut resp = request_error(media, StatusCode::METHOD_NOT_ALLOWED, "mutations are only accepted over POST");
        resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        return resp;
    }
    execute(&state, media, &headers, BatchRequest::Single(request)).await
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

fn wants_debug(headers: &HeaderMap) -> bool {
    headers
        .get(accounting::DEBUG_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| matches!(v.trim(), "1" | "true"))
}

/// Runs one operation with its own loaders and cost account.
async fn execute_one(
    state: &HttpState,
    req: async_graphql::Request,
    debug: bool,
) -> (async_graphql::Response, Option<Duration>) {
    let account = RequestAccount::new();
    let loaders = Arc::new(Loaders::new(&state.registry, Some(account.clone())));
    let parsed = async_graphql::parser::parse_query(&req.query).is_ok();
    let mut resp = accounting::scope(account.clone(), state.schema.execute(req.data(loaders))).await;
    tag_request_errors(&mut resp, parsed);
    if debug && let Ok(summary) = async_graphql::Value::from_json(serde_json::json!(account.summary())) {
        resp.extensions.insert("convograph".to_owned(), summary);
    }
    let max_age = if resp.errors.is_empty() { account.max_age() } else { None };
    (resp, max_age)
}

async fn execute(state: &HttpState, media: MediaType, headers: &HeaderMap, req: BatchRequest) -> Response {
    let debug = wants_debug(headers);
    let (resp, max_ages) = match req {
        BatchRequest::Single(r) => {
            let (resp, max_age) = execute_one(state, r, debug).await;
            (BatchResponse::Single(resp), vec![max_age])
        }
        BatchRequest::Batch(rs) => {
            let results = futures::future::join_all(rs.into_iter().map(|r| execute_one(state, r, debug))).await;
            let (resps, ages): (Vec<_>, Vec<_>) = results.into_iter().unzip();
            (BatchResponse::Batch(resps), ages)
        }
    };
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
    let body = serde_json::to_vec(&resp).unwrap_or_else(|_| b"{\"errors\":[{\"message\":\"internal\"}]}".to_vec());
    let mut out = (status, body).into_response();
    out.headers_mut().insert(header::CONTENT_TYPE, content_type(media));
    out.headers_mut().insert(header::CACHE_CONTROL, cache_control(&max_ages));
    out
}

/// `private, max-age=N`: the shortest time to live among the cached provider data
/// the response was built from (private: responses depend on the caller). Responses
/// with errors, or built from data convograph does not cache, are `no-store`.
fn cache_control(max_ages: &[Option<Duration>]) -> HeaderValue {
    let shortest = max_ages.iter().try_fold(None::<Duration>, |acc, a| {
        let a = (*a)?;
        Some(Some(acc.map_or(a, |m| m.min(a))))
    });
    match shortest.flatten() {
        Some(age) => HeaderValue::try_from(format!("private, max-age={}", age.as_secs()))
            .unwrap_or(HeaderValue::from_static("no-store")),
        None => HeaderValue::from_static("no-store"),
    }
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
