//! Who may call: admin passwords and sessions (JWT), login throttling, and virtual keys.

pub(crate) mod jwt;
pub(crate) mod limiter;
pub(crate) mod password;
pub(crate) mod vkey;

use http::StatusCode;

/// Authentication and authorization failures, for admins and for API callers alike.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("missing API key: send `Authorization: Bearer <key>` or `x-api-key: <key>`")]
    MissingKey,
    #[error("invalid API key")]
    InvalidKey,
    #[error("this API key is disabled")]
    KeyDisabled,
    #[error("this API key has expired")]
    KeyExpired,
    #[error("this API key may not use the model `{0}`")]
    ModelNotAllowed(String),
    #[error("this API key may not be used from this address")]
    IpNotAllowed,
    #[error("missing bearer token: log in at POST /api/auth/login")]
    MissingToken,
    #[error("invalid or expired session token")]
    InvalidToken,
    #[error("wrong username or password")]
    BadCredentials,
    #[error("too many failed logins from this address; try again in {retry_after_secs} s")]
    TooManyAttempts { retry_after_secs: u64 },
    /// Refused for a reason the message gives.
    #[error("{0}")]
    Forbidden(String),
}

impl AuthError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingKey
            | Self::InvalidKey
            | Self::MissingToken
            | Self::InvalidToken
            | Self::BadCredentials => StatusCode::UNAUTHORIZED,
            Self::KeyDisabled
            | Self::KeyExpired
            | Self::ModelNotAllowed(_)
            | Self::IpNotAllowed
            | Self::Forbidden(_) => StatusCode::FORBIDDEN,
            Self::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::MissingKey => "missing_api_key",
            Self::InvalidKey => "invalid_api_key",
            Self::KeyDisabled => "key_disabled",
            Self::KeyExpired => "key_expired",
            Self::ModelNotAllowed(_) => "model_not_allowed",
            Self::IpNotAllowed => "ip_not_allowed",
            Self::MissingToken => "missing_token",
            Self::InvalidToken => "invalid_token",
            Self::BadCredentials => "invalid_credentials",
            Self::TooManyAttempts { .. } => "too_many_login_attempts",
            Self::Forbidden(_) => "forbidden",
        }
    }

    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::TooManyAttempts { retry_after_secs } => Some(*retry_after_secs),
            _ => None,
        }
    }
}

/// Compares two byte strings in time that depends only on their lengths.
pub(crate) fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
