//! Errors at the GraphQL boundary: every error a client sees carries a stable
//! `extensions.code`, and never an upstream body, a secret or a stack trace.

use std::time::Duration;

use async_graphql::ErrorExtensions as _;

use crate::providers::ProviderError;

/// The stable codes of `extensions.code`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    BadUserInput,
    BadCursor,
    NotFound,
    Unauthenticated,
    Forbidden,
    RateLimited,
    ProviderUnavailable,
    ProviderError,
    ProviderUnsupported,
    Internal,
    /// A walk over a provider's pages went in a circle (a repeated page token, or pages
    /// without new records) and was ended with the records read so far.
    UpstreamPagingLoop,
    /// A walk over a provider's pages reached `limits.max_pages_per_walk`.
    UpstreamPageLimit,
    /// The query spent `limits.max_upstream_requests`; the rest is left out.
    UpstreamBudgetExceeded,
    /// A provider record, or a field of one, could not be read: that field is null
    /// (or that record left out), the rest of the answer is whole.
    UpstreamRecordInvalid,
    /// The request is not GraphQL over HTTP (bad JSON, bad query string).
    BadRequest,
    /// The document does not parse.
    GraphqlParseFailed,
    /// The document does not validate against the schema.
    GraphqlValidationFailed,
    /// Fields nest deeper than `limits.max_depth`.
    MaxDepthLimit,
    /// More aliases than `limits.max_aliases`.
    MaxAliasesLimit,
    /// Complexity above `limits.max_complexity`.
    MaxComplexityLimit,
    /// More operations in a batch than `limits.max_batch`.
    BatchLimitExceeded,
    /// A body larger than `limits.max_body_bytes`.
    PayloadTooLarge,
    /// The request outlived `limits.request_timeout`.
    RequestTimeout,
    /// An automatic persisted query hash the server does not know (yet).
    PersistedQueryNotFound,
    /// In safelist mode, an operation that is not registered.
    PersistedQueryNotInList,
    /// A persisted-query hash sent to a server with APQ turned off.
    PersistedQueryNotSupported,
}

impl ErrorCode {
    /// The SHOUTY_SNAKE code string.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::BadUserInput => "BAD_USER_INPUT",
            Self::BadCursor => "BAD_CURSOR",
            Self::NotFound => "NOT_FOUND",
            Self::Unauthenticated => "UNAUTHENTICATED",
            Self::Forbidden => "FORBIDDEN",
            Self::RateLimited => "RATE_LIMITED",
            Self::ProviderUnavailable => "PROVIDER_UNAVAILABLE",
            Self::ProviderError => "PROVIDER_ERROR",
            Self::ProviderUnsupported => "PROVIDER_UNSUPPORTED",
            Self::Internal => "INTERNAL",
            Self::UpstreamPagingLoop => "UPSTREAM_PAGING_LOOP",
            Self::UpstreamPageLimit => "UPSTREAM_PAGE_LIMIT",
            Self::UpstreamBudgetExceeded => "UPSTREAM_BUDGET_EXCEEDED",
            Self::UpstreamRecordInvalid => "UPSTREAM_RECORD_INVALID",
            Self::BadRequest => "BAD_REQUEST",
            Self::GraphqlParseFailed => "GRAPHQL_PARSE_FAILED",
            Self::GraphqlValidationFailed => "GRAPHQL_VALIDATION_FAILED",
            Self::MaxDepthLimit => "MAX_DEPTH_LIMIT",
            Self::MaxAliasesLimit => "MAX_ALIASES_LIMIT",
            Self::MaxComplexityLimit => "MAX_COMPLEXITY_LIMIT",
            Self::BatchLimitExceeded => "BATCH_LIMIT_EXCEEDED",
            Self::PayloadTooLarge => "PAYLOAD_TOO_LARGE",
            Self::RequestTimeout => "REQUEST_TIMEOUT",
            Self::PersistedQueryNotFound => "PERSISTED_QUERY_NOT_FOUND",
            Self::PersistedQueryNotInList => "PERSISTED_QUERY_NOT_IN_LIST",
            Self::PersistedQueryNotSupported => "PERSISTED_QUERY_NOT_SUPPORTED",
        }
    }
}

/// An error raised by a resolver.
///
/// Deliberately not `Display`: async-graphql converts any `Display` error into a
/// GraphQL error *without* extensions, so `?` would silently drop the code. This
/// type converts only through [`From<AppError> for async_graphql::Error`], which
/// always sets `extensions.code`.
#[derive(Debug, Clone)]
pub enum AppError {
    /// A client argument is invalid.
    BadUserInput(String),
    /// A cursor was edited, forged, expired or belongs to another list.
    BadCursor(&'static str),
    /// The named object does not exist.
    NotFound(String),
    /// The caller may not read this connection (or cannot learn whether it exists).
    Forbidden(String),
    /// A provider call failed.
    Provider(ProviderError),
    /// Any other refusal, with its code (`UNAUTHENTICATED` when a subscription's
    /// credential stops working, `RATE_LIMITED` when a server holds its most
    /// subscriptions, `INTERNAL`).
    Coded(ErrorCode, String),
}

impl From<ProviderError> for AppError {
    fn from(e: ProviderError) -> Self {
        Self::Provider(e)
    }
}

impl AppError {
    /// The code reported in `extensions.code`.
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::BadUserInput(_) => ErrorCode::BadUserInput,
            Self::BadCursor(_) => ErrorCode::BadCursor,
            Self::NotFound(_) => ErrorCode::NotFound,
            Self::Forbidden(_) => ErrorCode::Forbidden,
            Self::Provider(e) => e.code(),
            Self::Coded(code, _) => *code,
        }
    }

    /// The message clients see.
    pub fn message(&self) -> String {
        match self {
            Self::BadUserInput(m) => m.clone(),
            Self::BadCursor(why) => format!("invalid cursor: {why}"),
            Self::NotFound(what) => format!("{what} not found"),
            Self::Forbidden(connection) => format!("connection '{connection}' is not readable with these credentials"),
            Self::Provider(e) => e.to_string(),
            Self::Coded(_, m) => m.clone(),
        }
    }

    /// Shorthand for a [`AppError::BadUserInput`].
    pub fn bad_input(msg: impl Into<String>) -> Self {
        Self::BadUserInput(msg.into())
    }
}

impl From<AppError> for async_graphql::Error {
    fn from(e: AppError) -> Self {
        async_graphql::Error::new(e.message()).extend_with(|_, ext| {
            let e = &e;
            ext.set("code", e.code().as_str());
            if let AppError::Provider(e) = e {
                ext.set("provider", e.provider.as_str());
                ext.set("connection", e.connection.as_ref());
                if let Some(status) = e.status() {
                    ext.set(
                        "http",
                        async_graphql::Value::from_json(serde_json::json!({"status": status})).unwrap_or_default(),
                    );
                }
                if let Some(after) = e.retry_after() {
                    ext.set("retryAfterMs", u64::try_from(after.as_millis()).unwrap_or(u64::MAX));
                }
            }
        })
    }
}

/// A request-level error (no path) with `extensions.code`.
pub fn request_error(code: ErrorCode, message: impl Into<String>) -> async_graphql::ServerError {
    let mut e = async_graphql::ServerError::new(message, None);
    e.extensions.get_or_insert_with(Default::default).set("code", code.as_str());
    e
}

/// Gives every error of an executed response that lacks `extensions.code` the code
/// `BAD_USER_INPUT`. Resolvers' errors always carry one ([`AppError`]); the ones
/// without are the engine's own, raised while it reads the request during execution:
/// an argument or variable value the Rust type refuses (`Failed to parse "Int"` for a
/// `u32` argument given -1, a `JSON` object argument given a list). (An `_entities`
/// representation no entity type and key matches was one too, `Entity not found.`;
/// [`crate::federation::entities::EntitiesRoot`] now answers it with a coded error.)
/// Found by the fuzzer (tests/api/fuzz.rs); called by the
/// [`crate::schema::notes::FieldNotes`] extension on every response.
pub fn code_engine_errors(response: &mut async_graphql::Response) {
    for e in &mut response.errors {
        let ext = e.extensions.get_or_insert_with(Default::default);
        if ext.get("code").is_none() {
            ext.set("code", ErrorCode::BadUserInput.as_str());
        }
    }
}

/// Result alias for resolvers.
pub type AppResult<T> = Result<T, AppError>;

/// Seconds, rounded up, for human-readable retry hints.
pub(crate) fn secs_ceil(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000) as u64
}
