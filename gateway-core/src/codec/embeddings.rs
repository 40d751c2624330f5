//! `POST /v1/embeddings`: OpenAI's request checked, and translated to Gemini's `embedContent` /
//! `batchEmbedContents` and back. OpenAI-compatible upstreams get the caller's JSON unchanged
//! (but for the model id), so only what translation and limits need is read here.
//!
//! | OpenAI | Gemini |
//! |---|---|
//! | `input: "text"` | `POST /models/{m}:embedContent`, `content.parts[0].text` |
//! | `input: ["a", "b"]` | `POST /models/{m}:batchEmbedContents`, one `requests[]` item per input |
//! | `dimensions` | `outputDimensionality` |
//! | `encoding_format: "base64"` | floats encoded here as little-endian f32, base64 |
//! | `usage.prompt_tokens` | `usageMetadata.promptTokenCount` when sent, else ≈ chars / 4 |
//! | token-array inputs | refused (400): Gemini takes text only |

use base64::Engine;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::canonical::Usage;
use crate::error::request::RequestError;
use crate::upstream::UpstreamError;

/// Most inputs one request may carry (OpenAI's own limit).
pub const MAX_INPUTS: usize = 2048;

/// What the caller sent.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// One string (`single`) or an array of strings.
    Texts { texts: Vec<String>, single: bool },
    /// Token ids (one array or an array of arrays): forwarded only to OpenAI-compatible upstreams.
    Tokens(usize),
}

/// The parts of an embeddings request the gateway acts on.
#[derive(Debug, Clone, PartialEq)]
pub struct EmbeddingsRequest {
    pub input: Input,
    pub dimensions: Option<u32>,
    pub base64: bool,
}

impl EmbeddingsRequest {
    /// Characters of text input (token arrays count their length), for estimates.
    pub fn input_chars(&self) -> usize {
        match &self.input {
            Input::Texts { texts, .. } => texts.iter().map(|t| t.chars().count()).sum(),
            Input::Tokens(n) => *n * 4,
        }
    }
}

#[derive(Deserialize)]
struct Wire {
    input: Option<Value>,
    #[serde(default)]
    dimensions: Option<Value>,
    #[serde(default)]
    encoding_format: Option<Value>,
}

/// Checks an OpenAI embeddings body.
pub fn decode_request(body: &[u8]) -> Result<EmbeddingsRequest, RequestError> {
    let wire: Wire =
        serde_json::from_slice(body).map_err(|e| RequestError::InvalidJson(e.to_string()))?;
    let bad = |m: &str| RequestError::field("input", m);
    let input = match wire.input {
        None | Some(Value::Null) => return Err(bad("`input` is required")),
        Some(Value::String(s)) => Input::Texts { texts: vec![s], single: true },
        Some(Value::Array(items)) if items.is_empty() => {
            return Err(bad("`input` must not be an empty array"));
        }
        Some(Value::Array(items)) if items.len() > MAX_INPUTS => {
            return Err(bad(&format!("`input` may hold at most {MAX_INPUTS} items")));
        }
        Some(Value::Array(items)) => {
            if items.iter().all(Value::is_string) {
                let texts = items.into_iter().filter_map(|v| v.as_str().map(str::to_owned));
                Input::Texts { texts: texts.collect(), single: false }
            } else if items.iter().all(Value::is_u64) {
                Input::Tokens(items.len())
            } else if items
                .iter()
                .all(|v| v.as_array().is_some_and(|a| a.iter().all(Value::is_u64)))
            {
                Input::Tokens(items.iter().filter_map(Value::as_array).map(Vec::len).sum())
            } else {
                return Err(bad(
                    "`input` must be a string, an array of strings, or token ids (an array of \
                     integers or of integer arrays)",
                ));
            }
        }
        Some(_) => return Err(bad("`input` must be a string or an array")),
    };
    if let Input::Texts { texts, .. } = &input
        && texts.iter().any(String::is_empty)
    {
        return Err(bad("`input` must not contain empty strings"));
    }
    let dimensions = match wire.dimensions {
        None | Some(Value::Null) => None,
        Some(v) => {
            Some(v.as_u64().and_then(|d| u32::try_from(d).ok()).filter(|d| *d > 0).ok_or_else(
                || RequestError::field("dimensions", "`dimensions` must be a positive integer"),
            )?)
        }
    };
    let base64 = match wire.encoding_format.as_ref().map(|v| v.as_str()) {
        None | Some(Some("float")) => false,
        Some(_) if wire.encoding_format == Some(Value::Null) => false,
        Some(Some("base64")) => true,
        Some(_) => {
            return Err(RequestError::field(
                "encoding_format",
                "`encoding_format` must be \"float\" or \"base64\"",
            ));
        }
    };
    Ok(EmbeddingsRequest { input, dimensions, base64 })
}

/// Usage from an OpenAI-compatible embeddings answer.
pub fn openai_usage(body: &[u8]) -> Result<Usage, UpstreamError> {
    #[derive(Deserialize)]
    struct Answer {
        data: Vec<serde::de::IgnoredAny>,
        #[serde(default)]
        usage: Option<WireUsage>,
    }
    #[derive(Deserialize)]
    struct WireUsage {
        prompt_tokens: Option<i64>,
    }
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|e| UpstreamError::InvalidResponse(format!("not an embeddings list: {e}")))?;
    let _ = answer.data;
    Ok(Usage { input: answer.usage.and_then(|u| u.prompt_tokens), ..Usage::default() })
}

/// The Gemini path for `request` on `model`.
pub fn gemini_path(request: &EmbeddingsRequest, model: &str) -> String {
    let model = model.strip_prefix("models/").unwrap_or(model);
    match request.input {
        Input::Texts { single: true, .. } => format!("/models/{model}:embedContent"),
        _ => format!("/models/{model}:batchEmbedContents"),
    }
}

/// The Gemini body for `request` on `model` (text input only).
pub fn gemini_request(request: &EmbeddingsRequest, model: &str) -> Result<Bytes, RequestError> {
    let Input::Texts { texts, single } = &request.input else {
        return Err(RequestError::field(
            "input",
            "token-id input cannot be sent to a Gemini upstream; send text",
        ));
    };
    let model = model.strip_prefix("models/").unwrap_or(model);
    let item = |text: &str| {
        let mut item = json!({"content": {"parts": [{"text": text}]}});
        if let Some(d) = request.dimensions {
            item["outputDimensionality"] = d.into();
        }
        item
    };
    let body = if *single {
        item(&texts[0])
    } else {
        let requests: Vec<Value> = texts
            .iter()
            .map(|t| {
                let mut i = item(t);
                i["model"] = format!("models/{model}").into();
                i
            })
            .collect();
        json!({ "requests": requests })
    };
    Ok(Bytes::from(body.to_string()))
}

/// A Gemini embeddings answer as OpenAI's list, with its usage (estimated when Gemini gives none).
pub fn gemini_response(
    request: &EmbeddingsRequest,
    model: &str,
    body: &[u8],
) -> Result<(Bytes, Usage), UpstreamError> {
    #[derive(Deserialize)]
    struct Embedding {
        values: Vec<f32>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Answer {
        embedding: Option<Embedding>,
        embeddings: Option<Vec<Embedding>>,
        usage_metadata: Option<Meta>,
    }
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Meta {
        prompt_token_count: Option<i64>,
    }
    let invalid = |m: String| UpstreamError::InvalidResponse(m);
    let answer: Answer = serde_json::from_slice(body)
        .map_err(|e| invalid(format!("not a Gemini embeddings answer: {e}")))?;
    let vectors: Vec<Embedding> = match (answer.embedding, answer.embeddings) {
        (Some(one), None) => vec![one],
        (None, Some(many)) => many,
        _ => return Err(invalid("neither `embedding` nor `embeddings` in the answer".into())),
    };
    let expected = match &request.input {
        Input::Texts { texts, .. } => texts.len(),
        Input::Tokens(_) => 0,
    };
    if vectors.len() != expected {
        return Err(invalid(format!("{} embeddings for {expected} inputs", vectors.len())));
    }
    let data: Vec<Value> = vectors
        .into_iter()
        .enumerate()
        .map(|(index, e)| {
            let embedding =
                if request.base64 { Value::String(to_base64(&e.values)) } else { json!(e.values) };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let tokens = answer
        .usage_metadata
        .and_then(|m| m.prompt_token_count)
        .unwrap_or_else(|| i64::try_from(request.input_chars().div_ceil(4)).unwrap_or(i64::MAX));
    let body = json!({
        "object": "list",
        "data": data,
        "model": model,
        "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
    });
    Ok((Bytes::from(body.to_string()), Usage { input: Some(tokens), ..Usage::default() }))
}

/// OpenAI's `encoding_format: "base64"`: the floats as little-endian f32 bytes.
pub fn to_base64(values: &[f32]) -> String {
    let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_checked() {
        let ok = |b: &str| decode_request(b.as_bytes()).unwrap();
        assert_eq!(
            ok(r#"{"model":"m","input":"hi"}"#).input,
            Input::Texts { texts: vec!["hi".into()], single: true }
        );
        assert_eq!(ok(r#"{"input":[[1,2],[3]]}"#).input, Input::Tokens(3));
        assert_eq!(ok(r#"{"input":[1,2]}"#).input, Input::Tokens(2));
        let r = ok(r#"{"input":["a","b"],"dimensions":3,"encoding_format":"base64"}"#);
        assert_eq!((r.dimensions, r.base64), (Some(3), true));
        for (body, field) in [
            (r#"{"model":"m"}"#, "input"),
            (r#"{"input":[]}"#, "input"),
            (r#"{"input":[""]}"#, "input"),
            (r#"{"input":[1,"a"]}"#, "input"),
            (r#"{"input":{"a":1}}"#, "input"),
            (r#"{"input":"a","dimensions":0}"#, "dimensions"),
            (r#"{"input":"a","dimensions":"8"}"#, "dimensions"),
            (r#"{"input":"a","encoding_format":"int8"}"#, "encoding_format"),
        ] {
            match decode_request(body.as_bytes()) {
                Err(RequestError::Validation { field: f, .. }) => assert_eq!(f, field, "{body}"),
                other => panic!("{body}: {other:?}"),
            }
        }
        assert!(matches!(decode_request(b"[1"), Err(RequestError::InvalidJson(_))));
        let many = format!(r#"{{"input":[{}]}}"#, vec!["\"x\""; MAX_INPUTS + 1].join(","));
        assert!(decode_request(many.as_bytes()).is_err());
    }

    #[test]
    fn gemini_round_trip() {
        let one = decode_request(br#"{"input":"hello","dimensions":2}"#).unwrap();
        assert_eq!(gemini_path(&one, "models/e"), "/models/e:embedContent");
        let body: Value = serde_json::from_slice(&gemini_request(&one, "e").unwrap()).unwrap();
        assert_eq!(body, json!({"content":{"parts":[{"text":"hello"}]},"outputDimensionality":2}));
        let (out, usage) =
            gemini_response(&one, "alias", br#"{"embedding":{"values":[0.5,-1.0]}}"#).unwrap();
        let out: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(out["data"][0]["embedding"], json!([0.5, -1.0]));
        assert_eq!(out["model"], "alias");
        assert_eq!(usage.input, Some(2), "5 characters ≈ 2 tokens");

        let many = decode_request(br#"{"input":["a","b"],"encoding_format":"base64"}"#).unwrap();
        assert_eq!(gemini_path(&many, "e"), "/models/e:batchEmbedContents");
        let body: Value = serde_json::from_slice(&gemini_request(&many, "e").unwrap()).unwrap();
        assert_eq!(body["requests"][1]["model"], "models/e");
        let answer = br#"{"embeddings":[{"values":[1.0]},{"values":[2.0]}],"usageMetadata":{"promptTokenCount":7}}"#;
        let (out, usage) = gemini_response(&many, "e", answer).unwrap();
        let out: Value = serde_json::from_slice(&out).unwrap();
        assert_eq!(out["data"][1]["embedding"], to_base64(&[2.0]));
        assert_eq!(out["data"][1]["index"], 1);
        assert_eq!(usage.input, Some(7));
        assert!(gemini_response(&many, "e", br#"{"embeddings":[{"values":[1.0]}]}"#).is_err());
        let tokens = decode_request(br#"{"input":[1,2]}"#).unwrap();
        assert!(gemini_request(&tokens, "e").is_err());
    }

    #[test]
    fn openai_usage_is_read() {
        let u = openai_usage(br#"{"data":[],"usage":{"prompt_tokens":5,"total_tokens":5}}"#);
        assert_eq!(u.unwrap().input, Some(5));
        assert!(openai_usage(b"{}").is_err());
    }
}
