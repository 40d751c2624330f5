//! One error type for the whole request path, gathered from the per-layer enums, each with one HTTP
//! status and one stable snake_case `kind`, rendered in the caller's protocol.

use http::StatusCode;

use crate::auth::AuthError;
use crate::crypto::CryptoError;
use crate::dispatch::upstream::UpstreamError;
use crate::io::TransportError;
use crate::policy::LimitError;
use crate::routing::NoTarget;
use crate::store::StoreError;

/// Problems with what the caller sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("request body is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("{message}")]
    Validation { field: String, message: String },
    #[error("{0} not found")]
    NotFound(String),
    #[error("the model `{0}` does not exist")]
    ModelNotFound(String),
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Unsupported(String),
    #[error("request body is larger than {0} bytes")]
    BodyTooLarge(usize),
    #[error("the request body did not arrive in time")]
    BodyTimeout,
    #[error("request body nests arrays and objects deeper than {0} levels")]
    TooDeep(usize),
    #[error("request headers are too large: {0}")]
    HeadersTooLarge(String),
}

impl RequestError {
    /// A validation failure on one field.
    pub fn field(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Validation { field: field.into(), message: message.into() }
    }

    fn status(&self) -> StatusCode {
        match self {
            Self::InvalidJson(_) | Self::Validation { .. } => StatusCode::BAD_REQUEST,
            Self::NotFound(_) | Self::ModelNotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unsupported(_) => StatusCode::NOT_IMPLEMENTED,
            Self::BodyTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::TooDeep(_) => StatusCode::BAD_REQUEST,
            Self::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        }
    }

    fn kind(&self) -> &'static str {
        match self {
            Self::InvalidJson(_) => "invalid_json",
            Self::Validation { .. } => "validation_error",
            Self::NotFound(_) => "not_found",
            Self::ModelNotFound(_) => "model_not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict(_) => "conflict",
            Self::Unsupported(_) => "unsupported",
            Self::BodyTooLarge(_) => "request_too_large",
            Self::BodyTimeout => "request_timeout",
            Self::TooDeep(_) => "json_too_deep",
            Self::HeadersTooLarge(_) => "headers_too_large",
        }
    }
}

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
    Public(#[from] crate::health::public::PublicError),
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
            Self::NoTarget(_) => StatusCode::SERVICE_UNAVAILABLE,
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
            other => other.to_string(),
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
            Self::Limit(e) => e.reset_secs(),
            Self::Public(e) => e.retry_after_secs(),
            _ => None,
        }
    }
}
