//! GraphQL over HTTP (the GraphQL-over-HTTP spec): `POST` with an `application/json`
//! body (a request or a batch array; any other or no `Content-Type` is 415, a request
//! without a query is 400), `GET` for queries only (a mutation over `GET` is 405),
//! `application/graphql-response+json` when the client accepts it (then request
//! errors are 4xx), `application/json` otherwise (200 once the request is read). A
//! request that fails before execution (parse or validation) has no `data` entry.
//! `apollo-federation-include-trace: ftv1` adds a federated trace
//! (`extensions.ftv1`), `x-convograph-debug: 1` a cost report
//! (`extensions.convograph`). Browsers asking for HTML get GraphiQL.
//!
//! A repeated query is answered from the response cache (see
//! [`super::response_cache`]), which is partitioned by what the caller may read.
//!
//! Before the engine runs: the caller is authenticated (`401 UNAUTHENTICATED`
//! otherwise), the body is bounded (`413 PAYLOAD_TOO_LARGE`) and so is the batch
//! (`400 BATCH_LIMIT_EXCEEDED`); the whole execution has a deadline
//! (`504 REQUEST_TIMEOUT`). Each operation is counted in the metrics and logged
//! once, with the caller's name and never a credential.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use async_graphql::{
    BatchRequest, BatchResponse,
    http::MultipartOptions,
    parser::types::{DocumentOperations, OperationType},
};
use axum::{
    body::Body,
    extract::{RawQuery, State},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};

use super::{
    API_KEY_HEADER, HttpState, graphiql, incremental,
    response_cache::{self, Stored},
};
use crate::{
    accounting::{self, RequestAccount},
    auth::{AuthError, Principal},
    error::ErrorCode,
    federation::ftv1,
    loaders::Loaders,
    metrics::ANONYMOUS_OPERATION,
    schema::notes,
};

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

/// The response media type the client asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MediaType {
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

/// The caller, or the `401` to answer.
pub(super) fn authenticate(
    state: &HttpState,
    headers: &HeaderMap,
    media: MediaType,
) -> Result<Arc<Principal>, Box<Response>> {
    let value = |name| headers.get(name).and_then(|v: &HeaderValue| v.to_str().ok());
    state.auth.authenticate(value(header::AUTHORIZATION.as_str()), value(API_KEY_HEADER)).map_err(|e| {
        state.metrics.auth_failure(e.reason());
        tracing::info!(reason = e.reason(), "Request refused: not authenticated.");
        let challenge = match e {
            AuthError::Missing => "Bearer",
            _ => "Bearer error=\"invalid_token\"",
        };
        let mut resp = request_error(media, StatusCode::UNAUTHORIZED, ErrorCode::Unauthenticated, &e.to_string());
        resp.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
        Box::new(resp)
    })
}

/// `POST /graphql`.
pub(super) async fn post_handler(State(state): State<Arc<HttpState>>, headers: HeaderMap, body: Body) -> Response {
    let media = negotiate(&headers);
    let principal = match authenticate(&state, &headers, media) {
        Ok(p) => p,
        Err(resp) => return *resp,
    };
    let limit = state.options.limits.max_body_bytes;
    let too_large = || {
        let message = format!("the request body is larger than {limit} bytes");
        let mut resp = request_error(media, StatusCode::PAYLOAD_TOO_LARGE, ErrorCode::PayloadTooLarge, &message);
        // The body is left unread, so the connection cannot carry another request:
        // say so, or a client reusing it fails its next request on a closed socket.
        resp.headers_mut().insert(header::CONNECTION, HeaderValue::from_static("close"));
        resp
    };
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return too_large();
    }
    let bytes = match axum::body::to_bytes(body, limit).await {
        Ok(b) => b,
        Err(e) => {
            if e.into_inner().downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                return too_large();
            }
            return request_error(media, StatusCode::BAD_REQUEST, ErrorCode::BadRequest, "could not read the body");
        }
    };
    if !is_json_body(&headers) {
        return request_error(
            media,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::BadRequest,
            "a POST body must be `application/json` (a GraphQL request or an array of them)",
        );
    }
    // A repeat of the same body by the same caller: answered from the response cache
    // before the body is parsed.
    let started = Instant::now();
    let raw_key = if wants_ftv1(&headers) || wants_debug(&headers) {
        None
    } else {
        state.responses.raw_key(&principal.cache_partition(), cache_media(&headers, media), &bytes)
    };
    if let Some(key) = &raw_key
        && let Some(stored) = state.responses.get_local(key).await
    {
        return answer(&state, &stored, true, started);
    }
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let batch = match async_graphql::http::receive_batch_body(content_type, bytes.as_ref(), MultipartOptions::default())
        .await
    {
        Ok(b) => b,
        Err(e) => {
            let message = format!("invalid GraphQL request: {e}");
            return request_error(media, StatusCode::BAD_REQUEST, ErrorCode::BadRequest, &message);
        }
    };
    if let BatchRequest::Single(r) = &batch
        && lacks_query(r)
    {
        return request_error(media, StatusCode::BAD_REQUEST, ErrorCode::BadRequest, "the request has no `query`");
    }
    execute(&state, &headers, media, principal, batch, raw_key).await
}

/// The media part of a response-cache key: a client that accepts `multipart/mixed`
/// gets its own entries (a deferred operation answers it in parts, never cached).
fn cache_media(headers: &HeaderMap, media: MediaType) -> &'static str {
    match (incremental::accepts_multipart(headers), media) {
        (false, m) => m.as_str(),
        (true, MediaType::GraphqlResponseJson) => "multipart/mixed+application/graphql-response+json",
        (true, MediaType::Json) => "multipart/mixed+application/json",
    }
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
    State(state): State<Arc<HttpState>>,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    let has_query = raw.split('&').any(|kv| kv.starts_with("query=") || kv.starts_with("extensions="));
    if !has_query && wants_html(&headers) {
        if !state.graphiql.enabled {
            return (StatusCode::NOT_FOUND, "GraphiQL is disabled").into_response();
        }
        return Html(graphiql::page(&state.graphiql)).into_response();
    }
    let media = negotiate(&headers);
    let principal = match authenticate(&state, &headers, media) {
        Ok(p) => p,
        Err(resp) => return *resp,
    };
    let request = match async_graphql::http::parse_query_string(&raw) {
        Ok(r) => r,
        Err(e) => {
            let message = format!("invalid GraphQL request: {e}");
            return request_error(media, StatusCode::BAD_REQUEST, ErrorCode::BadRequest, &message);
        }
    };
    if lacks_query(&request) {
        return request_error(media, StatusCode::BAD_REQUEST, ErrorCode::BadRequest, "the request has no `query`");
    }
    if is_mutation(&request) {
        let mut resp = request_error(
            media,
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::BadRequest,
            "mutations are only accepted over POST",
        );
        resp.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
        return resp;
    }
    execute(&state, &headers, media, principal, BatchRequest::Single(request), None).await
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

/// Whether the client asked for the cost report (`x-convograph-debug: 1`).
fn wants_debug(headers: &HeaderMap) -> bool {
    headers
        .get(accounting::DEBUG_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| matches!(v.trim(), "1" | "true"))
}

/// Response header saying whether the whole answer came from the response cache.
const RESPONSE_CACHE_HEADER: &str = "x-convograph-response-cache";

async fn execute(
    state: &Arc<HttpState>,
    headers: &HeaderMap,
    media: MediaType,
    principal: Arc<Principal>,
    req: BatchRequest,
    raw_key: Option<response_cache::Key>,
) -> Response {
    let (trace, debug) = (wants_ftv1(headers), wants_debug(headers));
    let (batched, mut requests) = match req {
        BatchRequest::Single(r) => (false, vec![r]),
        BatchRequest::Batch(rs) => (true, rs),
    };
    let limits = &state.options.limits;
    if requests.len() > limits.max_batch {
        let message =
            format!("a batch may hold at most {} operations; this one holds {}", limits.max_batch, requests.len());
        return request_error(media, StatusCode::BAD_REQUEST, ErrorCode::BatchLimitExceeded, &message);
    }
    // Requests for a trace or a cost report describe an execution: never cached.
    let key = match requests.as_slice() {
        [one] if !batched && !trace && !debug => {
            raw_key.or_else(|| state.responses.key(&principal.cache_partition(), cache_media(headers, media), one))
        }
        _ => None,
    };
    // A client that takes `multipart/mixed`: its operation is admitted first, to
    // learn whether it defers anything (then it is answered in parts, uncached).
    if !batched
        && !trace
        && incremental::accepts_multipart(headers)
        && let Some(r) = requests.pop()
    {
        let started = Instant::now();
        let (operation, slot) = admit(state, &principal, r, false, false).await;
        let slot = match slot {
            Ok(mut admitted) => match admitted.split.take() {
                Some(split) => {
                    let error = |r: &async_graphql::Response| {
                        let status = if media == MediaType::GraphqlResponseJson && is_request_error(r) {
                            StatusCode::BAD_REQUEST
                        } else {
                            StatusCode::OK
                        };
                        let mut out = (status, response_json(r).to_string()).into_response();
                        out.headers_mut().insert(header::CONTENT_TYPE, content_type(media));
                        out
                    };
                    return incremental::respond(state, error, principal, operation, admitted, split, debug).await;
                }
                None => Ok(admitted),
            },
            Err(refused) => Err(refused),
        };
        let run = finish(state, media, &principal, false, vec![operation], vec![slot], debug, started);
        let Some(key) = key else {
            return respond(&run.await);
        };
        let (stored, hit) = state.responses.get_or_run(key, run).await;
        return answer(state, &stored, hit, started);
    }
    let Some(key) = key else {
        return respond(&run(state, media, &principal, batched, requests, trace, debug).await);
    };
    let started = Instant::now();
    let (stored, hit) = state
        .responses
        .get_or_run(key, run(state, media, &principal, false, std::mem::take(&mut requests), false, false))
        .await;
    answer(state, &stored, hit, started)
}

/// The response for an answer that went through the response cache (`hit`: it came
/// from the cache, and is counted in the metrics here, as it did not run).
fn answer(state: &HttpState, stored: &Stored, hit: bool, started: Instant) -> Response {
    if hit {
        for op in stored.operations.iter() {
            state.metrics.graphql_request(op, stored.status.as_u16(), started.elapsed(), std::iter::empty());
        }
    }
    let mut out = respond(stored);
    out.headers_mut().insert(RESPONSE_CACHE_HEADER, HeaderValue::from_static(if hit { "hit" } else { "miss" }));
    out
}

/// An operation that passed the request guard, ready to run.
pub(super) struct Admitted {
    pub(super) request: async_graphql::Request,
    pub(super) account: Arc<RequestAccount>,
    /// What `@defer` asks of the document (the request now runs without it).
    pub(super) split: Option<incremental::Split>,
}

/// Passes one operation through the request guard (persisted queries, parse,
/// limits, `@defer`) and gives it its request data; returns its metrics label and
/// the admitted operation, or the response refusing it.
async fn admit(
    state: &HttpState,
    principal: &Arc<Principal>,
    mut r: async_graphql::Request,
    trace: bool,
    batched: bool,
) -> (String, Result<Admitted, async_graphql::Response>) {
    let mut name = None;
    state.guard.recall(&r).await;
    let checked = state.guard.check(&mut r, &mut name).and_then(|()| split_deferred(&mut r, batched));
    let operation = state.metrics.operation_label(name.as_deref());
    let slot = match checked {
        Ok(split) => {
            let account = prepare(state, principal, &mut r, trace);
            Ok(Admitted { request: r, account, split })
        }
        Err(e) => Err(async_graphql::Response::from_errors(vec![e])),
    };
    (operation, slot)
}

/// Takes `@defer` out of the request's document; returns what it asked for.
fn split_deferred(
    r: &mut async_graphql::Request,
    batched: bool,
) -> async_graphql::ServerResult<Option<incremental::Split>> {
    if !incremental::may_defer(&r.query) {
        return Ok(None);
    }
    let (operation_name, variables) = (r.operation_name.clone(), r.variables.clone());
    let split = incremental::split(r.parsed_query()?, operation_name.as_deref(), &variables, batched)?;
    Ok(split.map(|(full, split)| {
        r.set_parsed_query(full);
        split
    }))
}

/// Puts the caller, fresh loaders and (when asked) the trace switch in the request;
/// returns its cost account.
pub(super) fn prepare(
    state: &HttpState,
    principal: &Arc<Principal>,
    r: &mut async_graphql::Request,
    trace: bool,
) -> Arc<RequestAccount> {
    let account = RequestAccount::with_limits(state.options.limits.upstream());
    r.data.insert(principal.clone());
    r.data.insert(Arc::new(Loaders::new(&state.registry, Some(account.clone()))));
    if trace {
        r.data.insert(ftv1::TraceRequested);
    }
    account
}

/// Runs one admitted operation in its cost account; adds the notes as errors and,
/// when asked, the cost report. Returns the response and how long it may be reused.
pub(super) async fn run_admitted(
    state: &HttpState,
    principal: &Principal,
    r: async_graphql::Request,
    account: Arc<RequestAccount>,
    debug: bool,
) -> (async_graphql::Response, Option<Duration>) {
    let mut resp = accounting::scope(account.clone(), state.schema.execute(r)).await;
    // Errors that came with data (a walk ended early, a record read without a
    // field), at the fields they concern.
    if !is_request_error(&resp) {
        resp.errors.extend(notes::into_errors(&account));
    }
    if debug {
        // The daily quota left on every connection the caller reads.
        for p in state.registry.iter().filter(|p| principal.may_read(p.connection_id())) {
            if let Some(left) = p.daily_quota_left() {
                account.set_daily_quota_left(p.kind(), p.connection_id(), left);
            }
        }
    }
    if debug && let Ok(summary) = async_graphql::Value::from_json(serde_json::json!(account.summary())) {
        resp.extensions.insert("convograph".to_owned(), summary);
    }
    let max_age = if resp.errors.is_empty() { account.max_age() } else { None };
    (resp, max_age)
}

/// Counts and logs an operation that missed its deadline; the error to answer.
pub(super) fn timeout_error(
    state: &HttpState,
    operations: &[String],
    principal: &Principal,
    started: Instant,
) -> async_graphql::ServerError {
    let limits = &state.options.limits;
    let status = StatusCode::GATEWAY_TIMEOUT;
    for op in operations {
        state.metrics.graphql_request(op, status.as_u16(), started.elapsed(), [ErrorCode::RequestTimeout.as_str()]);
    }
    tracing::warn!(
        operation = %operations.join(","),
        principal = principal.name(),
        timeout_ms = limits.request_timeout.as_millis() as u64,
        "GraphQL request exceeded its deadline."
    );
    let message = format!("the request did not complete within {:?}", limits.request_timeout);
    crate::error::request_error(ErrorCode::RequestTimeout, message)
}

/// Runs the operations (each through the request guard, with its own loaders and
/// cost account, all within the request deadline) and renders the answer.
async fn run(
    state: &HttpState,
    media: MediaType,
    principal: &Arc<Principal>,
    batched: bool,
    requests: Vec<async_graphql::Request>,
    trace: bool,
    debug: bool,
) -> Stored {
    let started = Instant::now();
    // Each operation passes the guard (persisted queries, parse, limits) first; only
    // those that do reach the engine.
    let mut operations = Vec::with_capacity(requests.len());
    let mut slots = Vec::with_capacity(requests.len());
    for r in requests {
        let (operation, slot) = admit(state, principal, r, trace, batched).await;
        operations.push(operation);
        slots.push(slot);
    }
    finish(state, media, principal, batched, operations, slots, debug, started).await
}

/// Runs admitted operations (all within the request deadline) and renders the
/// answer, refusals included.
#[allow(clippy::too_many_arguments)]
async fn finish(
    state: &HttpState,
    media: MediaType,
    principal: &Arc<Principal>,
    batched: bool,
    operations: Vec<String>,
    slots: Vec<Result<Admitted, async_graphql::Response>>,
    debug: bool,
    started: Instant,
) -> Stored {
    let limits = &state.options.limits;
    let executions = futures::future::join_all(slots.into_iter().map(|slot| async move {
        match slot {
            Ok(a) => run_admitted(state, principal, a.request, a.account, debug).await,
            Err(refused) => (refused, None),
        }
    }));
    let results = match tokio::time::timeout(limits.request_timeout, executions).await {
        Ok(results) => results,
        Err(_) => {
            let e = timeout_error(state, &operations, principal, started);
            return error_answer(media, StatusCode::GATEWAY_TIMEOUT, ErrorCode::RequestTimeout, &e.message);
        }
    };
    let (mut responses, max_ages): (Vec<_>, Vec<_>) = results.into_iter().unzip();
    responses.iter_mut().for_each(tag_request_errors);
    let resp = if batched {
        BatchResponse::Batch(responses)
    } else {
        BatchResponse::Single(responses.pop().expect("one response per request"))
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
    record(state, principal, &operations, &resp, status, started);
    let body = match &resp {
        BatchResponse::Single(r) => response_json(r),
        BatchResponse::Batch(rs) => serde_json::Value::Array(rs.iter().map(response_json).collect()),
    };
    let body = serde_json::to_vec(&body).unwrap_or_else(|_| b"{\"errors\":[{\"message\":\"internal\"}]}".to_vec());
    let ttl = shortest(&max_ages).unwrap_or(Duration::ZERO);
    Stored {
        status,
        content_type: content_type(media),
        body: body.into(),
        ttl,
        stored_at: Instant::now(),
        operations: operations.into(),
    }
}

/// An answer that is only an error (never kept).
fn error_answer(media: MediaType, status: StatusCode, code: ErrorCode, message: &str) -> Stored {
    let body = serde_json::json!({ "errors": [ { "message": message, "extensions": { "code": code.as_str() } } ] });
    Stored {
        status,
        content_type: content_type(media),
        body: body.to_string().into(),
        ttl: Duration::ZERO,
        stored_at: Instant::now(),
        operations: Arc::from([]),
    }
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

/// One response as JSON. A request that never started executing has no `data` entry
/// at all (GraphQL spec, "Response"), rather than `data: null`.
pub(super) fn response_json(r: &async_graphql::Response) -> serde_json::Value {
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

/// Counts and logs each operation of a response.
pub(super) fn record(
    state: &HttpState,
    principal: &Principal,
    operations: &[String],
    resp: &BatchResponse,
    status: StatusCode,
    started: Instant,
) {
    let responses: Vec<&async_graphql::Response> = match resp {
        BatchResponse::Single(r) => vec![r],
        BatchResponse::Batch(rs) => rs.iter().collect(),
    };
    let elapsed = started.elapsed();
    for (i, r) in responses.iter().enumerate() {
        let operation = operations.get(i).map_or(ANONYMOUS_OPERATION, String::as_str);
        let codes: Vec<&str> = r
            .errors
            .iter()
            .filter_map(|e| e.extensions.as_ref()?.get("code"))
            .filter_map(|v| match v {
                async_graphql::Value::String(s) => Some(s.as_str()),
                _ => None,
            })
            .collect();
        state.metrics.graphql_request(operation, status.as_u16(), elapsed, codes.iter().copied());
        tracing::info!(
            operation,
            principal = principal.name(),
            auth = principal.method().as_str(),
            status = status.as_u16(),
            elapsed_ms = elapsed.as_millis() as u64,
            errors = r.errors.len(),
            codes = %codes.join(","),
            "GraphQL request."
        );
    }
}

/// Gives validation errors raised by the engine (without a code) the code gateways
/// and clients know, `GRAPHQL_VALIDATION_FAILED` (parse failures are tagged
/// `GRAPHQL_PARSE_FAILED` by the request guard).
pub(super) fn tag_request_errors(r: &mut async_graphql::Response) {
    if !is_request_error(r) {
        return;
    }
    for e in &mut r.errors {
        let ext = e.extensions.get_or_insert_with(Default::default);
        if ext.get("code").is_none() {
            ext.set("code", ErrorCode::GraphqlValidationFailed.as_str());
        }
    }
}

pub(super) fn is_request_error(r: &async_graphql::Response) -> bool {
    r.data == async_graphql::Value::Null && !r.errors.is_empty() && r.errors.iter().all(|e| e.path.is_empty())
}

fn content_type(media: MediaType) -> HeaderValue {
    HeaderValue::from_static(match media {
        MediaType::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
        MediaType::Json => "application/json; charset=utf-8",
    })
}

pub(super) fn request_error(media: MediaType, status: StatusCode, code: ErrorCode, message: &str) -> Response {
    let body = serde_json::json!({ "errors": [ { "message": message, "extensions": { "code": code.as_str() } } ] });
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
