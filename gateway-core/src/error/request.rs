//! Problems with what the caller sent: the one error type the protocol layer (codecs, JSON
//! limits) may raise, below everything else in the crate.

use http::StatusCode;

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
    #[error(
        "the model's prompt rules would add more than the {0} bytes the request size limit leaves"
    )]
    RulesTooLarge(usize),
    #[error("the request body did not arrive in time")]
    BodyTimeout,
    #[error("the request body could not be read: {0}")]
    BodyUnreadable(String),
    /// Anthropic's message threads: a `continue` the gateway cannot serve (its model's upstream
    /// speaks another protocol and holds no thread): the SDKs then send the whole conversation.
    #[error("this model's upstream keeps no message threads: send the whole conversation")]
    ThreadNotFound,
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

    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::InvalidJson(_) | Self::Validation { .. } => StatusCode::BAD_REQUEST,
            Self::NotFound(_) | Self::ModelNotFound(_) => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Unsupported(_) => StatusCode::NOT_IMPLEMENTED,
            Self::BodyTooLarge(_) | Self::RulesTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Self::BodyUnreadable(_) => StatusCode::BAD_REQUEST,
            Self::ThreadNotFound => StatusCode::NOT_FOUND,
            Self::TooDeep(_) => StatusCode::BAD_REQUEST,
            Self::HeadersTooLarge(_) => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
        }
    }

    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::InvalidJson(_) => "invalid_json",
            Self::Validation { .. } => "validation_error",
            Self::NotFound(_) => "not_found",
            Self::ModelNotFound(_) => "model_not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::Conflict(_) => "conflict",
            Self::Unsupported(_) => "unsupported",
            Self::BodyTooLarge(_) | Self::RulesTooLarge(_) => "request_too_large",
            Self::BodyTimeout => "request_timeout",
            Self::BodyUnreadable(_) => "invalid_body",
            Self::ThreadNotFound => "thread_not_found",
            Self::TooDeep(_) => "json_too_deep",
            Self::HeadersTooLarge(_) => "headers_too_large",
        }
    }
}
