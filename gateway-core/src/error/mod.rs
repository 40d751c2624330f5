//! One error type for the whole request path, gathered from the per-layer enums, each with one HTTP
//! status and one stable snake_case `kind`, rendered in the caller's protocol.

use http::StatusCode;

use crate::auth::AuthError;
use crate::crypto::CryptoError;
use crate::io::TransportError;
use crate::policy::LimitError;
use crate::routing::NoTarget;
use crate::store::StoreError;
use crate::upstream::UpstreamError;

pub(crate) mod request;
pub(crate) use self::request::RequestError;

/// Everything that can go wrong while handling a request.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    Request(#[from] RequestError),
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    #[error(transparent)]
    NoTarget(#[from] NoTarget),
    #[error(transparent)]
    Limit(#[from] LimitError),
    #[error(transparent)]
    Public(#[from] PublicError),
    /// A shared limit store (Redis, a Durable Object) cannot be reached: limited keys are refused.
    #[error("{0}")]
    LimitsUnavailable(String),
    /// The instance holds as much as it may (request bodies being read): try again shortly.
    #[error("{0}")]
    Busy(String),
}

impl From<crate::quota::LimitStoreError> for GatewayError {
    fn from(e: crate::quota::LimitStoreError) -> Self {
        match e {
            crate::quota::LimitStoreError::Store(e) => e.into(),
            e @ (crate::quota::LimitStoreError::Unavailable(_)
            | crate::quota::LimitStoreError::Unseeded(_)) => Self::LimitsUnavailable(e.to_string()),
        }
    }
}

/// What the public status API refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PublicError {
    #[error("health monitoring is not enabled")]
    Disabled,
    #[error("missing parameter `{0}`")]
    MissingParameter(&'static str),
    #[error("{0}")]
    BadParameter(String),
    #[error("no health target with id `{0}`")]
    TargetNotFound(String),
    #[error("too many requests: at most 60 a minute")]
    RateLimited { retry_after_secs: u64 },
}

impl PublicError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Disabled | Self::TargetNotFound(_) => StatusCode::NOT_FOUND,
            Self::MissingParameter(_) | Self::BadParameter(_) => StatusCode::BAD_REQUEST,
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Disabled => "health_monitoring_disabled",
            Self::MissingParameter(_) => "missing_parameter",
            Self::BadParameter(_) => "invalid_parameter",
            Self::TargetNotFound(_) => "target_not_found",
            Self::RateLimited { .. } => "rate_limit_exceeded",
        }
    }

    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        }
    }
}

impl From<crate::upstream::ExchangeError> for GatewayError {
    fn from(e: crate::upstream::ExchangeError) -> Self {
        match e {
            crate::upstream::ExchangeError::Transport(e) => e.into(),
            crate::upstream::ExchangeError::Upstream(e) => e.into(),
        }
    }
}

impl GatewayError {
    /// The HTTP status the caller receives.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Request(e) => e.status(),
            Self::Auth(e) => e.status(),
            Self::Store(_) | Self::Crypto(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Transport(e) => e.status(),
            Self::Upstream(e) => e.status(),
            Self::NoTarget(e) if e.rate_limited => StatusCode::TOO_MANY_REQUESTS,
            Self::NoTarget(_) | Self::LimitsUnavailable(_) | Self::Busy(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Self::Limit(e) => e.status(),
            Self::Public(e) => e.status(),
        }
    }

    /// Stable snake_case identifier, the same on every host and in every protocol.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Request(e) => e.kind(),
            Self::Auth(e) => e.kind(),
            Self::Store(_) => "internal_error",
            Self::Crypto(_) => "internal_error",
            Self::Transport(e) => e.kind(),
            Self::Upstream(e) => e.kind(),
            Self::NoTarget(e) if e.rate_limited => "upstream_rate_limited",
            Self::NoTarget(_) => "no_available_target",
            Self::LimitsUnavailable(_) => "limits_unavailable",
            Self::Busy(_) => "server_busy",
            Self::Limit(e) => e.kind(),
            Self::Public(e) => e.kind(),
        }
    }

    /// Whether another attempt (another target, later) could succeed.
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            Self::Transport(
                TransportError::Connect(_) | TransportError::Timeout(_) | TransportError::Body(_)
            ) | Self::Upstream(
                UpstreamError::Server { .. }
                    | UpstreamError::RateLimited { .. }
                    | UpstreamError::InvalidResponse(_)
                    | UpstreamError::Stream(_)
            )
        )
    }

    /// The message shown to the caller. Internal failures hide their details (they go to the log).
    pub fn public_message(&self) -> String {
        match self {
            Self::Store(_) | Self::Crypto(_) => "internal error; see the gateway log".into(),
            // The store's own words (an address, a driver message) go to the log only.
            Self::LimitsUnavailable(_) => {
                "key limits cannot be checked right now; try again shortly".into()
            }
            other => other.to_string(),
        }
    }

    /// The `error.details.error_code` an Anthropic caller reads (message threads).
    pub fn thread_code(&self) -> Option<&'static str> {
        match self {
            Self::Request(RequestError::ThreadNotFound) => Some("thread_not_found"),
            Self::Upstream(UpstreamError::Thread { code, .. }) => Some(code),
            _ => None,
        }
    }

    /// The field a validation error is about, if any.
    pub fn field(&self) -> Option<&str> {
        match self {
            Self::Request(RequestError::Validation { field, .. }) => Some(field),
            _ => None,
        }
    }

    /// Seconds the caller should wait before retrying, when known.
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::Auth(e) => e.retry_after_secs(),
            Self::Upstream(UpstreamError::RateLimited { retry_after_secs, .. }) => {
                *retry_after_secs
            }
            Self::NoTarget(e) => Some(e.retry_after_secs),
            Self::LimitsUnavailable(_) | Self::Busy(_) => Some(1),
            Self::Limit(e) => e.reset_secs(),
            Self::Public(e) => e.retry_after_secs(),
            _ => None,
        }
    }
}
