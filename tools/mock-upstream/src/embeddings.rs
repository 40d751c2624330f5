//! Embeddings: OpenAI `POST /v1/embeddings` and Gemini `:embedContent` / `:batchEmbedContents`.
//! Vectors are a pure function of the text ([`vector`]), so a test can predict every number.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use base64::Engine;
use serde_json::{Value, json};

use crate::{Incoming, Mock, Seen, json_response, prepare};

/// Dimensions when the request asks for none.
pub const DEFAULT_DIMENSIONS: usize = 8;

/// The mock's embedding of `text`: `dims` numbers in [0, 1) derived from the text's bytes.
pub fn vector(text: &str, dims: usize) -> Vec<f32> {
    let seed = text.bytes().fold(17u32, |h, b| h.wrapping_mul(31).wrapping_add(u32::from(b)));
    (0..dims)
        .map(|i| {
            let i = u32::try_from(i).unwrap_or(0);
            let v = seed.wrapping_add(i.wrapping_mul(2_654_435_761)) % 1000;
            f32::from(u16::try_from(v).unwrap_or(0)) / 1000.0
        })
        .collect()
}

/// Tokens the mock reports for `text`: its whitespace-separated words (at least 1).
pub fn tokens(text: &str) -> usize {
    text.split_whitespace().count().max(1)
}

fn no_check(_: &Incoming<'_>) -> Result<Seen, String> {
    Ok(Seen::default())
}

fn openai_error(status: StatusCode, message: &str) -> Response {
    json_response(
        status,
        json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}}),
    )
}

pub(crate) async fn openai(
    State(mock): State<Arc<Mock>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    if !headers.contains_key("authorization") {
        return openai_error(StatusCode::UNAUTHORIZED, "You didn't provide an API key.");
    }
    let (body, model, _) =
        match prepare(&mock, "/v1/embeddings", (&headers, &body), None, no_check, openai_error)
            .await
        {
            Ok(p) => p,
            Err(response) => return response,
        };
    let texts: Vec<String> = match &body["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) if !items.is_empty() => items
            .iter()
            .map(|v| match v {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
            .collect(),
        _ => return openai_error(StatusCode::BAD_REQUEST, "'input' is a required property"),
    };
    let dims = body["dimensions"].as_u64().map_or(DEFAULT_DIMENSIONS, |d| d as usize);
    let base64 = body["encoding_format"] == "base64";
    let data: Vec<Value> = texts
        .iter()
        .enumerate()
        .map(|(index, text)| {
            let values = vector(text, dims);
            let embedding = if base64 {
                let bytes: Vec<u8> = values.iter().flat_map(|v| v.to_le_bytes()).collect();
                json!(base64::engine::general_purpose::STANDARD.encode(bytes))
            } else {
                json!(values)
            };
            json!({"object": "embedding", "index": index, "embedding": embedding})
        })
        .collect();
    let used: usize = texts.iter().map(|t| tokens(t)).sum();
    json_response(
        StatusCode::OK,
        json!({"object": "list", "data": data, "model": model,
               "usage": {"prompt_tokens": used, "total_tokens": used}}),
    )
}

fn text_of(content: &Value) -> Result<String, String> {
    let parts = content["parts"].as_array().filter(|p| !p.is_empty());
    let parts = parts.ok_or("content.parts must be a non-empty array")?;
    Ok(parts.iter().filter_map(|p| p["text"].as_str()).collect())
}

/// `embedContent` (`batch` false) or `batchEmbedContents`, for `model`.
pub(crate) async fn gemini(
    mock: &Mock,
    path: &str,
    model: &str,
    batch: bool,
    body: &str,
    error: fn(StatusCode, &str) -> Response,
) -> Response {
    let headers = HeaderMap::new();
    let (body, _, _) =
        match prepare(mock, path, (&headers, body), Some(model), no_check, error).await {
            Ok(p) => p,
            Err(response) => return response,
        };
    let one = |item: &Value| -> Result<Value, String> {
        let text = text_of(&item["content"])?;
        let dims = item["outputDimensionality"].as_u64().map_or(DEFAULT_DIMENSIONS, |d| d as usize);
        Ok(json!({"values": vector(&text, dims)}))
    };
    let answer = if batch {
        let requests = body["requests"].as_array().filter(|r| !r.is_empty());
        let Some(requests) = requests else {
            return error(StatusCode::BAD_REQUEST, "requests must be a non-empty array");
        };
        let expected = format!("models/{model}");
        let mut out = Vec::new();
        for r in requests {
            if r["model"] != expected.as_str() {
                return error(
                    StatusCode::BAD_REQUEST,
                    &format!("Model {} in a request does not match {expected}", r["model"]),
                );
            }
            match one(r) {
                Ok(v) => out.push(v),
                Err(m) => return error(StatusCode::BAD_REQUEST, &m),
            }
        }
        json!({ "embeddings": out })
    } else {
        match one(&body) {
            Ok(v) => json!({ "embedding": v }),
            Err(m) => return error(StatusCode::BAD_REQUEST, &m),
        }
    };
    json_response(StatusCode::OK, answer)
}
