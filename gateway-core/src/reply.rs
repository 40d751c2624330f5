//! Building responses: JSON bodies and errors rendered in the shape the caller's protocol expects.

use bytes::Bytes;
use http::{HeaderValue, StatusCode, header};
use serde::Serialize;

use crate::body::Body;
use crate::error::GatewayError;

/// The error body shapes callers understand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorShape {
    /// `{"error":{"message","type","param","code"}}`
    OpenAi,
    /// `{"type":"error","error":{"type","message"}}`
    Anthropic,
    /// `{"error":{"code","message","field"}}` for the admin and public APIs.
    Admin,
    /// Google's `{"error":{"code","message","status"}}` on the Gemini-native routes.
    Gemini,
}

impl ErrorShape {
    /// The shape a caller of `protocol` understands.
    pub fn of(protocol: crate::provider::Protocol) -> ErrorShape {
        use crate::provider::Protocol;
        match protocol {
            Protocol::AnthropicMessages => ErrorShape::Anthropic,
            Protocol::Gemini => ErrorShape::Gemini,
            Protocol::OpenaiChat | Protocol::OpenaiResponses | Protocol::BedrockConverse => {
                ErrorShape::OpenAi
            }
        }
    }
}

/// A JSON response with the given status.
pub(crate) fn json<T: Serialize + ?Sized>(status: StatusCode, value: &T) -> http::Response<Body> {
    let bytes = serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec());
    raw_json(status, Bytes::from(bytes))
}

/// A response carrying JSON bytes that are already encoded.
pub(crate) fn raw_json(status: StatusCode, bytes: Bytes) -> http::Response<Body> {
    let mut response = http::Response::new(Body::Full(bytes));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Renders `err` in `shape`, with `Retry-After` when the error knows it.
pub(crate) fn error(shape: ErrorShape, err: &GatewayError) -> http::Response<Body> {
    let status = err.status();
    let message = err.public_message();
    let kind = err.kind();
    let body = match shape {
        ErrorShape::OpenAi => serde_json::json!({"error": {
            "message": message,
            "type": openai_type(status),
            "param": err.field(),
            "code": kind,
        }}),
        ErrorShape::Anthropic => {
            let mut e = serde_json::json!({"type": anthropic_type(status), "message": message});
            // Message threads: the SDKs act on this code.
            if let Some(code) = err.thread_code() {
                e["details"] = serde_json::json!({"error_code": code});
            }
            serde_json::json!({"type": "error", "error": e})
        }
        ErrorShape::Gemini => serde_json::json!({"error": {
            "code": status.as_u16(),
            "message": message,
            "status": google_status(status),
            "details": [{"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": kind,
                "domain": "llm-gateway"}],
        }}),
        ErrorShape::Admin => {
            let mut e = serde_json::json!({"code": kind, "message": message});
            if let Some(field) = err.field() {
                e["field"] = field.into();
            }
            serde_json::json!({ "error": e })
        }
    };
    let mut response = json(status, &body);
    if let Some(secs) = err.retry_after_secs() {
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if let GatewayError::Limit(limit) = err {
        for (name, value) in limit.headers() {
            if let Ok(v) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, v);
            }
        }
    }
    response
}

fn openai_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        _ => "api_error",
    }
}

/// Google's canonical error status for an HTTP status.
fn google_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 | 413 | 431 => "INVALID_ARGUMENT",
        401 => "UNAUTHENTICATED",
        403 => "PERMISSION_DENIED",
        404 => "NOT_FOUND",
        405 | 501 => "UNIMPLEMENTED",
        409 => "ALREADY_EXISTS",
        429 => "RESOURCE_EXHAUSTED",
        503 => "UNAVAILABLE",
        504 => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

fn anthropic_type(status: StatusCode) -> &'static str {
    match status.as_u16() {
        401 => "authentication_error",
        403 => "permission_error",
        404 => "not_found_error",
        413 => "request_too_large",
        429 => "rate_limit_error",
        400..=499 => "invalid_request_error",
        503 | 529 => "overloaded_error",
        _ => "api_error",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::AuthError;
    use crate::error::RequestError;

    fn body_json(response: http::Response<Body>) -> serde_json::Value {
        match response.into_body() {
            Body::Full(b) => serde_json::from_slice(&b).unwrap(),
            Body::Stream(_) => panic!("expected a full body"),
        }
    }

    #[test]
    fn openai_shape_carries_type_code_and_param() {
        let err = GatewayError::from(RequestError::field("model", "model is required"));
        let response = error(ErrorShape::OpenAi, &err);
        assert_eq!(response.status(), 400);
        let v = body_json(response);
        assert_eq!(v["error"]["type"], "invalid_request_error");
        assert_eq!(v["error"]["code"], "validation_error");
        assert_eq!(v["error"]["param"], "model");
        assert_eq!(v["error"]["message"], "model is required");
    }

    #[test]
    fn anthropic_shape_has_top_level_type_error() {
        let err = GatewayError::from(AuthError::InvalidKey);
        let v = body_json(error(ErrorShape::Anthropic, &err));
        assert_eq!(v["type"], "error");
        assert_eq!(v["error"]["type"], "authentication_error");
    }

    #[test]
    fn rate_limited_login_sets_retry_after() {
        let err = GatewayError::from(AuthError::TooManyAttempts { retry_after_secs: 42 });
        let response = error(ErrorShape::Admin, &err);
        assert_eq!(response.status(), 429);
        assert_eq!(response.headers()[header::RETRY_AFTER], "42");
        assert_eq!(body_json(response)["error"]["code"], "too_many_login_attempts");
    }

    #[test]
    fn internal_errors_hide_details() {
        let err = GatewayError::from(crate::store::StoreError::Sql(crate::io::SqlError::Other(
            "disk I/O error at /secret/path".into(),
        )));
        let v = body_json(error(ErrorShape::OpenAi, &err));
        assert_eq!(v["error"]["code"], "internal_error");
        assert!(!v["error"]["message"].as_str().unwrap().contains("/secret"));
    }
}
