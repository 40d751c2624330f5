//! Talking to one upstream: building the outbound request from a provider row, and turning an
//! upstream's non-success answer into an error the caller can act on.

use std::collections::BTreeMap;

use bytes::Bytes;
use futures::StreamExt;
use http::StatusCode;

use crate::io::{ByteStream, TransportError};
use crate::provider::{AuthScheme, Provider};

/// An upstream answered, but not with success.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// The upstream refused the provider's credential: the operator's problem, not the caller's.
    #[error("the upstream provider rejected the gateway's credentials (HTTP {status}): {message}")]
    Auth { status: u16, message: String },
    /// The upstream refused this model or resource to the gateway's account (a 403 that is not
    /// about the credential: a model not enabled on the account, a region without it). The
    /// credential stays in use; another target may still serve the request.
    #[error(
        "the upstream provider refused the gateway access to this model (HTTP {status}): {message}"
    )]
    Forbidden { status: u16, message: String },
    /// The upstream refused the request itself (a 4xx such as context too long); same status.
    #[error("{message}")]
    Rejected { status: u16, message: String },
    /// Anthropic's message threads: the upstream no longer has the thread, or cannot continue
    /// it (`code` is one of [`THREAD_CODES`]); passed on with its code, which the SDKs recover
    /// from by sending the whole conversation.
    #[error("{message}")]
    Thread { status: u16, code: &'static str, message: String },
    /// The upstream is rate limiting the gateway.
    #[error("the upstream provider is rate limiting: {message}")]
    RateLimited { message: String, retry_after_secs: Option<u64> },
    /// The upstream failed on its side (5xx).
    #[error("the upstream provider failed (HTTP {status}): {message}")]
    Server { status: u16, message: String },
    /// The upstream answered with something its protocol does not allow.
    #[error("the upstream provider sent an invalid response: {0}")]
    InvalidResponse(String),
    /// The upstream's stream reported an error before its first event.
    #[error("the upstream stream failed: {0}")]
    Stream(String),
}

/// The `error.details.error_code`s of Anthropic's message threads.
pub(crate) const THREAD_CODES: [&str; 5] = [
    "thread_not_found",
    "thread_already_continued",
    "thread_continue_in_flight",
    "thread_fingerprint_mismatch",
    "thread_unsupported_request",
];

impl UpstreamError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Rejected { status, .. } | Self::Thread { status, .. } => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_REQUEST)
            }
            Self::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Self::Server { status: 503, .. } => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_GATEWAY,
        }
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Auth { .. } => "upstream_auth_error",
            Self::Forbidden { .. } => "upstream_forbidden",
            Self::Rejected { .. } => "upstream_rejected",
            Self::Thread { code, .. } => code,
            Self::RateLimited { .. } => "upstream_rate_limited",
            Self::Server { .. } => "upstream_error",
            Self::InvalidResponse(_) => "upstream_invalid_response",
            Self::Stream(_) => "upstream_stream_error",
        }
    }

    /// Classifies a non-2xx upstream answer by its status, keeping the upstream's own message.
    pub fn from_status(status: u16, headers: &http::HeaderMap, body: &[u8]) -> Self {
        let message = error_message(body);
        if let Some(code) = thread_code(body) {
            return Self::Thread { status, code, message };
        }
        match status {
            401 => Self::Auth { status, message },
            403 if about_the_credential(&message) => Self::Auth { status, message },
            403 => Self::Forbidden { status, message },
            429 => Self::RateLimited { message, retry_after_secs: retry_after(headers) },
            400..=499 => Self::Rejected { status, message },
            _ => Self::Server { status, message },
        }
    }
}

impl UpstreamError {
    /// The error with `redactor`'s secrets scrubbed from the upstream's words.
    pub(crate) fn redacted(self, redactor: &crate::redact::Redactor) -> Self {
        let scrub = |m: String| match redactor.scrub(&m) {
            std::borrow::Cow::Borrowed(_) => m,
            std::borrow::Cow::Owned(clean) => clean,
        };
        match self {
            Self::Auth { status, message } => Self::Auth { status, message: scrub(message) },
            Self::Forbidden { status, message } => {
                Self::Forbidden { status, message: scrub(message) }
            }
            Self::Rejected { status, message } => {
                Self::Rejected { status, message: scrub(message) }
            }
            Self::Thread { status, code, message } => {
                Self::Thread { status, code, message: scrub(message) }
            }
            Self::RateLimited { message, retry_after_secs } => {
                Self::RateLimited { message: scrub(message), retry_after_secs }
            }
            Self::Server { status, message } => Self::Server { status, message: scrub(message) },
            Self::InvalidResponse(m) => Self::InvalidResponse(scrub(m)),
            Self::Stream(m) => Self::Stream(scrub(m)),
        }
    }
}

/// A message-thread error's code (`error.details.error_code`), when the body carries one.
fn thread_code(body: &[u8]) -> Option<&'static str> {
    if !body.windows(7).any(|w| w == b"thread_") {
        return None;
    }
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let code = value.pointer("/error/details/error_code")?.as_str()?;
    THREAD_CODES.iter().find(|c| **c == code).copied()
}

/// Whether a 403's message is about the credential itself (a key that is invalid, revoked or
/// expired, a signature that does not match) rather than what it may reach. Providers answer 403
/// for a model the account has not enabled (Bedrock, Vertex AI, Anthropic, OpenAI projects):
/// that must not disable a credential that serves every other model, so a 403 counts as the
/// credential's only when it says so and names no model or resource.
fn about_the_credential(message: &str) -> bool {
    const SUBJECTS: [&str; 7] =
        ["key", "token", "credential", "signature", "secret", "subscription", "account"];
    const FAULTS: [&str; 14] = [
        "invalid",
        "incorrect",
        "not valid",
        "revoked",
        "expired",
        "disabled",
        "suspended",
        "deactivated",
        "malformed",
        "unrecognized",
        "does not match",
        "does not exist",
        "banned",
        "blocked",
    ];
    const SCOPES: [&str; 6] = ["model", "resource", "deployment", "region", "location", "endpoint"];
    let m = message.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| m.contains(w));
    has(&SUBJECTS) && has(&FAULTS) && !has(&SCOPES)
}

/// The human-readable message inside an upstream error body, whatever its protocol, else the
/// start of the body itself.
fn error_message(body: &[u8]) -> String {
    const MAX: usize = 500;
    let parsed: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let from_json = parsed.as_ref().and_then(|v| {
        v.pointer("/error/message")
            .or_else(|| v.pointer("/message"))
            .or_else(|| v.pointer("/error"))
            .and_then(|m| m.as_str())
            .map(str::to_owned)
    });
    let text = from_json.unwrap_or_else(|| String::from_utf8_lossy(body).trim().to_owned());
    let mut text: String = text.chars().take(MAX).collect();
    if text.is_empty() {
        text.push_str("no error message");
    }
    text
}

/// `Retry-After` as seconds (the delta-seconds form; HTTP dates are rare from APIs).
fn retry_after(headers: &http::HeaderMap) -> Option<u64> {
    headers.get(http::header::RETRY_AFTER)?.to_str().ok()?.trim().parse().ok()
}

/// Why an exchange with one upstream failed: the connection, or what the upstream sent.
#[derive(Debug, thiserror::Error)]
pub enum ExchangeError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Upstream(#[from] UpstreamError),
}

/// What to send upstream.
pub(crate) struct Outbound<'a> {
    pub provider: &'a Provider,
    pub credential: Option<&'a str>,
    /// Path below the provider's base URL, e.g. `/chat/completions`.
    pub path: &'a str,
    pub body: Bytes,
    pub stream: bool,
    /// Caller headers allowed through to an upstream of the caller's protocol; one the provider
    /// also sets is joined with the provider's value (`anthropic-beta` lists).
    pub headers: &'a [(&'static str, String)],
    /// The body's type and what the answer may be: JSON both ways, or (relayed OpenAI
    /// endpoints) the caller's own type, a form included, and any answer (audio, text).
    pub content_type: &'a str,
    pub accept: &'a str,
}

/// Builds the HTTP request for `out`: URL, auth header, extra headers, JSON body.
pub(crate) fn build_request(out: Outbound<'_>) -> Result<http::Request<Bytes>, TransportError> {
    let accept = match (out.stream, out.provider.protocol) {
        (true, crate::provider::Protocol::BedrockConverse) => "application/vnd.amazon.eventstream",
        (true, _) => "text/event-stream",
        (false, _) => out.accept,
    };
    let mut request = builder(out.provider, out.credential, out.path, http::Method::POST, accept)
        .header(http::header::CONTENT_TYPE, out.content_type)
        .body(out.body)
        .map_err(|e| TransportError::InvalidRequest(e.to_string()))?;
    let headers = request.headers_mut();
    for (name, value) in out.headers {
        let joined = match headers.get(*name).and_then(|v| v.to_str().ok()) {
            Some(own) => format!("{own},{value}"),
            None => value.clone(),
        };
        let value = http::HeaderValue::from_str(&joined)
            .map_err(|e| TransportError::InvalidRequest(e.to_string()))?;
        headers.insert(*name, value);
    }
    Ok(request)
}

/// A `GET` of `path` below the provider's base URL, authenticated as requests are (model lists).
pub(crate) fn build_get(
    provider: &Provider,
    credential: Option<&str>,
    path: &str,
) -> Result<http::Request<Bytes>, TransportError> {
    builder(provider, credential, path, http::Method::GET, "application/json")
        .body(Bytes::new())
        .map_err(|e| TransportError::InvalidRequest(e.to_string()))
}

/// URL, user agent, accept, the provider's auth header and extra headers.
fn builder(
    provider: &Provider,
    credential: Option<&str>,
    path: &str,
    method: http::Method,
    accept: &str,
) -> http::request::Builder {
    let url = format!("{}{}", provider.base_url.trim_end_matches('/'), path);
    let mut builder = http::Request::builder()
        .method(method)
        .uri(url)
        .header(http::header::USER_AGENT, concat!("llm-gateway/", env!("CARGO_PKG_VERSION")))
        .header(http::header::ACCEPT, accept);
    if let (Some(credential), scheme) = (credential, provider.auth_scheme) {
        if let Some((name, value)) = scheme.header(credential) {
            builder = builder.header(name, value);
        }
    }
    if provider.auth_scheme == AuthScheme::XApiKey
        && !has_header(&provider.extra_headers, "anthropic-version")
    {
        builder = builder.header("anthropic-version", "2023-06-01");
    }
    for (name, value) in &provider.extra_headers {
        builder = builder.header(name.as_str(), value.as_str());
    }
    builder
}

fn has_header(headers: &BTreeMap<String, String>, name: &str) -> bool {
    headers.keys().any(|k| k.eq_ignore_ascii_case(name))
}

/// Largest non-streaming upstream body the gateway will hold.
pub(crate) const MAX_UPSTREAM_BODY: usize = 64 << 20;

/// Reads a whole body, refusing more than `limit` bytes or taking longer than `within`.
pub(crate) async fn read_body_within(
    body: ByteStream,
    limit: usize,
    platform: &dyn crate::io::Platform,
    within: std::time::Duration,
) -> Result<Bytes, TransportError> {
    use futures::future::{Either, select};
    let read = std::pin::pin!(read_body(body, limit));
    match select(read, platform.sleep(within)).await {
        Either::Left((result, _)) => result,
        Either::Right(_) => {
            Err(TransportError::Timeout(u64::try_from(within.as_millis()).unwrap_or(u64::MAX)))
        }
    }
}

/// Reads a whole body, refusing more than `limit` bytes.
pub(crate) async fn read_body(mut body: ByteStream, limit: usize) -> Result<Bytes, TransportError> {
    let mut out = Vec::new();
    while let Some(chunk) = body.next().await {
        let chunk = chunk?;
        if out.len() + chunk.len() > limit {
            return Err(TransportError::Body(format!("response larger than {limit} bytes")));
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_classify_with_the_upstream_message() {
        let body = br#"{"error":{"message":"context too long","type":"invalid_request_error"}}"#;
        let e = UpstreamError::from_status(400, &http::HeaderMap::new(), body);
        assert_eq!(e, UpstreamError::Rejected { status: 400, message: "context too long".into() });
        assert_eq!(e.status(), 400);
        let e = UpstreamError::from_status(401, &http::HeaderMap::new(), b"nope");
        assert_eq!(e.status(), 502, "a bad provider credential is not the caller's fault");
        assert_eq!(e.kind(), "upstream_auth_error");
        let e = UpstreamError::from_status(503, &http::HeaderMap::new(), b"");
        assert_eq!(e.status(), 503);
        let e = UpstreamError::from_status(500, &http::HeaderMap::new(), b"");
        assert_eq!(e.status(), 502);
    }

    /// What providers say in a 403: about the model (kept in use) or about the key (disabled).
    #[test]
    fn a_403_is_the_credentials_only_when_it_says_so() {
        let forbidden = |m: &str| {
            let body = serde_json::json!({"error": {"message": m}}).to_string();
            UpstreamError::from_status(403, &http::HeaderMap::new(), body.as_bytes())
        };
        for model_scoped in [
            "You don't have access to the model with the specified model ID.",
            "Your API key does not have permission to use the specified resource.",
            "Permission 'aiplatform.endpoints.predict' denied on resource '//aiplatform.googleapis.com/projects/p/locations/us-central1/publishers/google/models/gemini-x'",
            "Project `proj_1` does not have access to model `gpt-5`",
            "The caller does not have permission",
        ] {
            let e = forbidden(model_scoped);
            assert_eq!(e.kind(), "upstream_forbidden", "{model_scoped}");
            assert_eq!(e.status(), 502);
        }
        for credential in [
            "The security token included in the request is invalid.",
            "The request signature we calculated does not match the signature you provided.",
            "Access denied due to invalid subscription key.",
            "This API key has been revoked.",
        ] {
            assert_eq!(forbidden(credential).kind(), "upstream_auth_error", "{credential}");
        }
    }

    #[test]
    fn rate_limit_keeps_retry_after() {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, "7".parse().unwrap());
        let e = UpstreamError::from_status(429, &headers, br#"{"message":"slow down"}"#);
        assert_eq!(
            e,
            UpstreamError::RateLimited { message: "slow down".into(), retry_after_secs: Some(7) }
        );
    }

    #[test]
    fn long_bodies_are_cut() {
        let body = "x".repeat(2000);
        match UpstreamError::from_status(500, &http::HeaderMap::new(), body.as_bytes()) {
            UpstreamError::Server { message, .. } => assert_eq!(message.len(), 500),
            other => panic!("{other:?}"),
        }
    }
}
