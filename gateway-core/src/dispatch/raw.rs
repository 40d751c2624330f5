//! The caller's body read only at its top level (model, streaming, output limit; every field kept
//! as raw JSON), and the body a same-protocol upstream receives: the caller's own JSON with the
//! model replaced and the output limit fitted.

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::value::RawValue;

use super::inbound::Inbound;
use crate::error::RequestError;
use crate::provider::Protocol;

/// A request body read only at the top level; every field stays raw JSON so the same-protocol
/// path forwards it untouched.
pub(crate) struct RawRequest {
    pub fields: BTreeMap<String, Box<RawValue>>,
    pub model: String,
    pub stream: bool,
    pub include_usage: bool,
    /// The output limit the caller asked for, for the token estimate and for fitting.
    pub max_tokens: Option<u32>,
}

/// The top-level fields that carry the output limit, per protocol (Gemini's is nested).
fn max_fields(protocol: Protocol) -> &'static [&'static str] {
    match protocol {
        Protocol::OpenaiChat => &["max_completion_tokens", "max_tokens"],
        Protocol::OpenaiResponses => &["max_output_tokens"],
        Protocol::AnthropicMessages => &["max_tokens"],
        Protocol::Gemini | Protocol::BedrockConverse => &[],
    }
}

/// Reads the top level of `body`; the model and streaming come from `inbound`'s URL when it
/// names them (Gemini).
pub(crate) fn peek(body: &[u8], inbound: &Inbound) -> Result<RawRequest, RequestError> {
    let fields: BTreeMap<String, Box<RawValue>> =
        serde_json::from_slice(body).map_err(|e| RequestError::InvalidJson(e.to_string()))?;
    let model = match (&inbound.path_model, fields.get("model")) {
        (Some(m), _) => m.clone(),
        (None, raw) => match raw.map(|v| serde_json::from_str::<String>(v.get())) {
            Some(Ok(m)) if !m.trim().is_empty() => m,
            Some(_) => {
                return Err(RequestError::field("model", "`model` must be a non-empty string"));
            }
            None => return Err(RequestError::field("model", "`model` is required")),
        },
    };
    let stream = match fields.get("stream").map(|v| v.get()) {
        _ if inbound.path_model.is_some() => inbound.path_stream,
        None | Some("null") | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(RequestError::field("stream", "`stream` must be a boolean")),
    };
    let include_usage = fields
        .get("stream_options")
        .and_then(|v| serde_json::from_str::<serde_json::Value>(v.get()).ok())
        .and_then(|v| v.get("include_usage").and_then(|b| b.as_bool()))
        .unwrap_or(false);
    let protocol = inbound.endpoint.protocol();
    let max_tokens = if protocol == Protocol::Gemini {
        fields
            .get("generationConfig")
            .and_then(|v| serde_json::from_str::<serde_json::Value>(v.get()).ok())
            .and_then(|g| g["maxOutputTokens"].as_u64())
            .and_then(|m| u32::try_from(m).ok())
    } else {
        max_fields(protocol)
            .iter()
            .find_map(|f| fields.get(*f).and_then(|v| v.get().parse::<u32>().ok()))
    };
    Ok(RawRequest { fields, model, stream, include_usage, max_tokens })
}

/// How a target takes the request: its output-token limit fitted (a cap, the model's
/// `max_output_tokens`, and for OpenAI chat the field the upstream reads it from), and for Claude
/// on Vertex AI, the model named in the path instead of the body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Fit {
    pub cap: Option<u32>,
    pub max_completion_tokens: bool,
    /// Claude on Vertex AI: no `model` in the body, `anthropic_version` instead.
    pub vertex: bool,
}

/// The caller's JSON as the upstream of the same protocol gets it: the upstream's model id (none
/// for Gemini, whose model is in the URL), the output limit fitted, and, for chat streams, usage
/// asked for (the relay hides it again if the caller did not ask).
pub(crate) fn passthrough_body(
    raw: &RawRequest,
    protocol: Protocol,
    upstream_model: &str,
    fit: Fit,
) -> Result<Bytes, RequestError> {
    let invalid = |e: serde_json::Error| RequestError::InvalidJson(e.to_string());
    let mut replaced: BTreeMap<&str, Option<String>> = BTreeMap::new();
    if fit.vertex {
        replaced.insert("model", None);
        let version = crate::codec::anthropic_messages::VERTEX_VERSION;
        replaced.insert("anthropic_version", Some(format!("\"{version}\"")));
    } else if protocol != Protocol::Gemini {
        replaced.insert("model", Some(serde_json::to_string(upstream_model).map_err(invalid)?));
    }
    if protocol == Protocol::OpenaiChat && raw.stream && !raw.include_usage {
        let mut options: serde_json::Map<String, serde_json::Value> = raw
            .fields
            .get("stream_options")
            .and_then(|v| serde_json::from_str(v.get()).ok())
            .unwrap_or_default();
        options.insert("include_usage".into(), true.into());
        replaced.insert("stream_options", Some(serde_json::to_string(&options).map_err(invalid)?));
    }
    fit_limit(raw, protocol, fit, &mut replaced).map_err(invalid)?;
    written(raw, replaced, upstream_model.len())
}

/// The caller's fields written one by one, each copied as raw JSON untouched unless `replaced`
/// names it (a new value, or `None`: left out); replacements for absent fields come last.
fn written(
    raw: &RawRequest,
    mut replaced: BTreeMap<&str, Option<String>>,
    extra: usize,
) -> Result<Bytes, RequestError> {
    let invalid = |e: serde_json::Error| RequestError::InvalidJson(e.to_string());
    let size: usize = raw.fields.iter().map(|(k, v)| k.len() + v.get().len() + 4).sum();
    let mut out = Vec::with_capacity(size + extra + 64);
    let put = |out: &mut Vec<u8>, key: &str, value: &str| -> Result<(), RequestError> {
        out.push(if out.is_empty() { b'{' } else { b',' });
        serde_json::to_writer(&mut *out, key).map_err(invalid)?;
        out.push(b':');
        out.extend_from_slice(value.as_bytes());
        Ok(())
    };
    for (key, value) in &raw.fields {
        match replaced.remove(key.as_str()) {
            Some(Some(v)) => put(&mut out, key, &v)?,
            Some(None) => {} // left out
            None => put(&mut out, key, value.get())?,
        }
    }
    for (key, value) in replaced {
        if let Some(v) = value {
            put(&mut out, key, &v)?;
        }
    }
    if out.is_empty() {
        out.push(b'{');
    }
    out.push(b'}');
    Ok(Bytes::from(out))
}

/// The replacements that fit the caller's output limit to the target: capped at the model's
/// maximum, under the field name the upstream reads.
fn fit_limit(
    raw: &RawRequest,
    protocol: Protocol,
    fit: Fit,
    replaced: &mut BTreeMap<&'static str, Option<String>>,
) -> Result<(), serde_json::Error> {
    let Some(asked) = raw.max_tokens else { return Ok(()) };
    let limit = fit.cap.map_or(asked, |cap| asked.min(cap));
    match protocol {
        Protocol::Gemini => {
            if limit != asked
                && let Some(config) = raw.fields.get("generationConfig")
            {
                let mut config: serde_json::Value = serde_json::from_str(config.get())?;
                config["maxOutputTokens"] = limit.into();
                replaced.insert("generationConfig", Some(serde_json::to_string(&config)?));
            }
        }
        Protocol::OpenaiChat if fit.max_completion_tokens => {
            replaced.insert("max_tokens", None);
            replaced.insert("max_completion_tokens", Some(limit.to_string()));
        }
        _ => {
            for field in max_fields(protocol) {
                if raw.fields.contains_key(*field) {
                    replaced.insert(field, Some(limit.to_string()));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::inbound::Endpoint;
    use crate::routes::GeminiCall;

    fn pass_fit(body: &str, protocol: Protocol, fit: Fit) -> serde_json::Value {
        let inbound = Inbound::new(Endpoint::Generate(protocol));
        let raw = peek(body.as_bytes(), &inbound).unwrap();
        let out = passthrough_body(&raw, protocol, "up-\"model\"", fit).unwrap();
        serde_json::from_slice(&out).unwrap()
    }

    fn pass(body: &str, protocol: Protocol) -> serde_json::Value {
        pass_fit(body, protocol, Fit::default())
    }

    #[test]
    fn passthrough_replaces_only_the_model_and_asks_streams_for_usage() {
        let body =
            r#"{"model":"m","messages":[{"role":"user","content":"hi"}],"x":{"deep":[1,2.50]}}"#;
        let out = pass(body, Protocol::OpenaiChat);
        assert_eq!(out["model"], "up-\"model\"");
        assert_eq!(out["x"], serde_json::json!({"deep": [1, 2.5]}));
        assert!(out.get("stream_options").is_none());
        let out =
            pass(r#"{"model":"m","stream":true,"stream_options":{"a":1}}"#, Protocol::OpenaiChat);
        assert_eq!(out["stream_options"], serde_json::json!({"a": 1, "include_usage": true}));
        let out = pass(r#"{"model":"m","stream":true}"#, Protocol::OpenaiChat);
        assert_eq!(out["stream_options"], serde_json::json!({"include_usage": true}));
        let out = pass(r#"{"model":"m","stream":true}"#, Protocol::AnthropicMessages);
        assert!(out.get("stream_options").is_none());
    }

    #[test]
    fn output_limits_are_capped_and_renamed_for_the_upstream() {
        let fit = Fit { cap: Some(8192), ..Fit::default() };
        let out = pass_fit(r#"{"model":"m","max_tokens":64000}"#, Protocol::AnthropicMessages, fit);
        assert_eq!(out["max_tokens"], 8192);
        let out = pass_fit(r#"{"model":"m","max_tokens":100}"#, Protocol::AnthropicMessages, fit);
        assert_eq!(out["max_tokens"], 100);
        let reasoning = Fit { cap: Some(8192), max_completion_tokens: true, ..Fit::default() };
        let out = pass_fit(r#"{"model":"m","max_tokens":9000}"#, Protocol::OpenaiChat, reasoning);
        assert_eq!((out.get("max_tokens"), &out["max_completion_tokens"]), (None, &8192.into()));
        let out =
            pass_fit(r#"{"model":"m","max_output_tokens":32000}"#, Protocol::OpenaiResponses, fit);
        assert_eq!(out["max_output_tokens"], 8192);
        let gemini = Inbound::gemini("g", GeminiCall::Generate, None);
        let body = r#"{"contents":[],"generationConfig":{"maxOutputTokens":65536,"topK":3}}"#;
        let raw = peek(body.as_bytes(), &gemini).unwrap();
        let out: serde_json::Value =
            serde_json::from_slice(&passthrough_body(&raw, Protocol::Gemini, "g", fit).unwrap())
                .unwrap();
        assert_eq!(
            out["generationConfig"],
            serde_json::json!({"maxOutputTokens": 8192, "topK": 3})
        );
        assert!(out.get("model").is_none(), "Gemini's model is in the URL");
    }
}
