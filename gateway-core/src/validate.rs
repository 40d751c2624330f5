//! Admin input: JSON bodies parsed with the failing field named, and the rules each field obeys.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::error::request::RequestError;

/// Parses a JSON body (empty means `{}`); on failure the error names the field.
pub(crate) fn body<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, RequestError> {
    let bytes = if bytes.iter().all(u8::is_ascii_whitespace) { b"{}".as_slice() } else { bytes };
    crate::json::parse(bytes)
}

/// For `Option<Option<T>>` fields: absent → `None`, `null` → `Some(None)`, value → `Some(Some(v))`.
pub(crate) fn nullable<'de, D, T>(de: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(de).map(Some)
}

/// A required field of a create request.
pub(crate) fn required<T>(value: Option<T>, field: &str) -> Result<T, RequestError> {
    value.ok_or_else(|| RequestError::field(field, format!("`{field}` is required")))
}

/// A display name: trimmed, 1 to `max` characters, no control characters.
pub(crate) fn name(field: &str, value: &str, max: usize) -> Result<String, RequestError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > max {
        return Err(RequestError::field(field, format!("`{field}` must be 1 to {max} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(RequestError::field(
            field,
            format!("`{field}` must not contain control characters"),
        ));
    }
    Ok(value.to_owned())
}

/// An identifier callers type (model names): 1–200 visible characters, no spaces.
pub(crate) fn identifier(field: &str, value: &str) -> Result<String, RequestError> {
    if value.is_empty()
        || value.len() > 200
        || !value.chars().all(|c| !c.is_whitespace() && !c.is_control())
    {
        return Err(RequestError::field(
            field,
            format!("`{field}` must be 1 to 200 characters without spaces"),
        ));
    }
    Ok(value.to_owned())
}

/// An admin username: 3–64 of letters, digits, `.`, `_`, `-`.
pub(crate) fn username(value: &str) -> Result<String, RequestError> {
    let ok = (3..=64).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
    if ok {
        Ok(value.to_owned())
    } else {
        Err(RequestError::field(
            "username",
            "username must be 3-64 letters, digits, '.', '_' or '-'",
        ))
    }
}

/// An upstream base URL: http(s), a host, no whitespace, no query; the trailing `/` is dropped.
pub(crate) fn base_url(value: &str) -> Result<String, RequestError> {
    let value = value.trim().trim_end_matches('/');
    let rest =
        value.strip_prefix("https://").or_else(|| value.strip_prefix("http://")).ok_or_else(
            || RequestError::field("base_url", "base_url must start with http:// or https://"),
        )?;
    let host = rest.split('/').next().unwrap_or("");
    if host.is_empty()
        || value.len() > 2048
        || value.chars().any(|c| c.is_whitespace() || c.is_control())
        || value.contains(['?', '#'])
    {
        return Err(RequestError::field(
            "base_url",
            "base_url must be an http(s) URL with a host and no query, e.g. https://api.openai.com/v1",
        ));
    }
    Ok(value.to_owned())
}

/// Extra upstream headers: valid names and values, at most 32, none that would break framing.
pub(crate) fn extra_headers(headers: &BTreeMap<String, String>) -> Result<(), RequestError> {
    const FORBIDDEN: [&str; 5] =
        ["host", "content-length", "transfer-encoding", "connection", "upgrade"];
    if headers.len() > 32 {
        return Err(RequestError::field("extra_headers", "at most 32 extra headers"));
    }
    for (name, value) in headers {
        let field = format!("extra_headers.{name}");
        if http::HeaderName::from_bytes(name.as_bytes()).is_err()
            || FORBIDDEN.contains(&name.to_ascii_lowercase().as_str())
        {
            return Err(RequestError::field(
                field,
                format!("`{name}` cannot be sent as an extra header"),
            ));
        }
        if http::HeaderValue::from_str(value).is_err() {
            return Err(RequestError::field(field, "header values must be visible ASCII"));
        }
    }
    Ok(())
}

/// A price per token: finite and not negative.
pub(crate) fn price(field: &str, value: Option<f64>) -> Result<Option<f64>, RequestError> {
    match value {
        Some(v) if !v.is_finite() || v < 0.0 => {
            Err(RequestError::field(field, format!("`{field}` must be a non-negative number")))
        }
        other => Ok(other),
    }
}

/// A token count: positive.
pub(crate) fn positive(field: &str, value: Option<i64>) -> Result<Option<i64>, RequestError> {
    match value {
        Some(v) if v <= 0 => Err(RequestError::field(field, format!("`{field}` must be positive"))),
        other => Ok(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Input {
        enabled: Option<bool>,
        #[serde(default, deserialize_with = "nullable")]
        note: Option<Option<String>>,
    }

    #[test]
    fn type_errors_name_the_field() {
        let err = body::<Input>(br#"{"enabled":"yes"}"#).unwrap_err();
        match err {
            RequestError::Validation { field, .. } => assert_eq!(field, "enabled"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(body::<Input>(br#"{"nope":1}"#), Err(RequestError::Validation { .. })));
        assert!(matches!(body::<Input>(b"{not json"), Err(RequestError::InvalidJson(_))));
    }

    #[test]
    fn nullable_distinguishes_absent_from_null() {
        assert_eq!(body::<Input>(b"{}").unwrap().note, None);
        assert_eq!(body::<Input>(br#"{"note":null}"#).unwrap().note, Some(None));
        assert_eq!(body::<Input>(br#"{"note":"x"}"#).unwrap().note, Some(Some("x".into())));
    }

    #[test]
    fn base_urls_are_checked_and_normalised() {
        assert_eq!(base_url(" https://api.openai.com/v1/ ").unwrap(), "https://api.openai.com/v1");
        assert_eq!(base_url("http://127.0.0.1:8000").unwrap(), "http://127.0.0.1:8000");
        for bad in ["ftp://x", "https://", "https:///v1", "https://a b", "https://x/v1?key=1"] {
            assert!(base_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn framing_headers_cannot_be_injected() {
        let mut h = BTreeMap::new();
        h.insert("Host".to_string(), "evil".to_string());
        assert!(extra_headers(&h).is_err());
        let mut h = BTreeMap::new();
        h.insert("x-ok".to_string(), "line\nbreak".to_string());
        assert!(extra_headers(&h).is_err());
        let mut h = BTreeMap::new();
        h.insert("OpenAI-Organization".to_string(), "org-1".to_string());
        assert!(extra_headers(&h).is_ok());
    }

    #[test]
    fn names_and_numbers() {
        assert_eq!(name("name", "  x ", 10).unwrap(), "x");
        assert!(name("name", "", 10).is_err());
        assert!(identifier("name", "gpt 4").is_err());
        assert!(identifier("name", "deepseek/deepseek-chat:free").is_ok());
        assert!(price("p", Some(-1.0)).is_err());
        assert!(price("p", Some(f64::NAN)).is_err());
        assert!(positive("n", Some(0)).is_err());
        assert!(username("ad").is_err());
        assert!(username("admin").is_ok());
    }
}
