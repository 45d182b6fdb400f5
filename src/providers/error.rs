//! `ProviderError`: what can go wrong talking to a provider. `Clone` because
//! DataLoader results are shared between the fields that asked for them.

use std::{sync::Arc, time::Duration};

use super::ProviderKind;
use crate::error::{ErrorCode, secs_ceil};

/// A failed provider operation, with the connection it happened on.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{provider} connection '{connection}': {kind}")]
pub struct ProviderError {
    /// The provider.
    pub provider: ProviderKind,
    /// The connection id.
    pub connection: Arc<str>,
    /// What went wrong.
    pub kind: ProviderErrorKind,
}

/// The kinds of provider failure.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ProviderErrorKind {
    /// The provider (or our own limiter) refused for now.
    #[error("rate limited; retry in {}s", secs_ceil(*retry_after))]
    RateLimited { retry_after: Duration },
    /// Network failure, timeout or 5xx after retries.
    #[error("provider unavailable: {0}")]
    Unavailable(String),
    /// The provider rejected our credentials.
    #[error("the provider rejected the connection's credentials (HTTP {0})")]
    Unauthorized(u16),
    /// The provider answered with an unexpected status.
    #[error("the provider answered HTTP {status}")]
    Status { status: u16 },
    /// The provider's body did not match its documented shape.
    #[error("unexpected response from the provider: {0}")]
    Decode(String),
    /// The operation does not exist at this provider.
    #[error("not supported by this provider: {0}")]
    Unsupported(&'static str),
    /// Bad input detected before calling the provider.
    #[error("{0}")]
    BadInput(String),
    /// A walk over the provider's pages went in a circle (a page token came back, or
    /// pages stopped bringing new records) and was ended; what was read is kept.
    #[error("the provider's paging went in a circle ({0}); the walk was ended with the records read so far")]
    PagingLoop(String),
    /// A walk reached `limits.max_pages_per_walk` and was ended; what was read is kept.
    #[error("the walk over the provider's pages was ended after {0} pages (limits.max_pages_per_walk)")]
    PageLimit(u32),
    /// The query spent its `limits.max_upstream_requests`.
    #[error(
        "this query reached its budget of {0} upstream requests (limits.max_upstream_requests); the rest is left out"
    )]
    QueryBudget(u32),
    /// A record, or a field of one, could not be read: the field is null (or the
    /// record left out), the rest is kept.
    #[error("{0}")]
    Record(String),
    /// The connection's circuit is open: the provider kept failing, so it is not
    /// called until the time to retry has passed.
    #[error("the provider kept failing, so it is not called for now (circuit open; retry in {}s)", retry_after.as_secs().max(1))]
    CircuitOpen { retry_after: Duration },
}

impl ProviderError {
    /// Builds an error for a connection.
    pub fn new(provider: ProviderKind, connection: &Arc<str>, kind: ProviderErrorKind) -> Self {
        Self { provider, connection: connection.clone(), kind }
    }

    /// The `extensions.code` for this error.
    pub fn code(&self) -> ErrorCode {
        match &self.kind {
            ProviderErrorKind::RateLimited { .. } => ErrorCode::RateLimited,
            ProviderErrorKind::Unavailable(_) | ProviderErrorKind::CircuitOpen { .. } => ErrorCode::ProviderUnavailable,
            ProviderErrorKind::Unauthorized(_) | ProviderErrorKind::Status { .. } | ProviderErrorKind::Decode(_) => {
                ErrorCode::ProviderError
            }
            ProviderErrorKind::Unsupported(_) => ErrorCode::ProviderUnsupported,
            ProviderErrorKind::BadInput(_) => ErrorCode::BadUserInput,
            ProviderErrorKind::PagingLoop(_) => ErrorCode::UpstreamPagingLoop,
            ProviderErrorKind::PageLimit(_) => ErrorCode::UpstreamPageLimit,
            ProviderErrorKind::QueryBudget(_) => ErrorCode::UpstreamBudgetExceeded,
            ProviderErrorKind::Record(_) => ErrorCode::UpstreamRecordInvalid,
        }
    }

    /// The upstream HTTP status, when there was one.
    pub fn status(&self) -> Option<u16> {
        match self.kind {
            ProviderErrorKind::Unauthorized(s) | ProviderErrorKind::Status { status: s } => Some(s),
            _ => None,
        }
    }

    /// When the caller may retry, for rate-limit errors.
    pub fn retry_after(&self) -> Option<Duration> {
        match self.kind {
            ProviderErrorKind::RateLimited { retry_after } | ProviderErrorKind::CircuitOpen { retry_after } => {
                Some(retry_after)
            }
            _ => None,
        }
    }
}
