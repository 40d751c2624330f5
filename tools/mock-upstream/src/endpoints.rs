//! OpenAI's other endpoints, checked as OpenAI checks them: legacy completions (streamed too),
//! image generation and edits (multipart), speech (audio bytes), transcriptions (multipart, JSON,
//! verbose JSON or text), moderations, and a Cohere-shaped rerank. Each refuses a request without
//! a bearer key, without its required fields, or with fields the API does not know.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::{Mock, USAGE_INPUT, USAGE_OUTPUT, json_response, sse_event, sse_response, text_pieces};

/// A 1×1 transparent PNG, as images come back (`b64_json`).
pub const PNG_B64: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
/// What a transcription of any file says.
pub const TRANSCRIPT: &str = "The quick brown fox jumps over the lazy dog.";
/// Bytes of audio per second the mock assumes (16 kHz, 8-bit mono).
pub const BYTES_PER_SECOND: usize = 16_000;

fn error(status: StatusCode, message: &str, param: Option<&str>) -> Response {
    json_response(
        status,
        json!({"error": {"message": message, "type": "invalid_request_error", "param": param, "code": null}}),
    )
}

fn unauthorized(headers: &HeaderMap) -> Option<Response> {
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or_default();
    if !auth.starts_with("Bearer ") {
        return Some(error(StatusCode::UNAUTHORIZED, "You didn't provide an API key.", None));
    }
    auth.contains("revoked")
        .then(|| error(StatusCode::UNAUTHORIZED, "Incorrect API key provided", None))
}

/// Parses a JSON body, refusing fields outside `allowed` and missing `required` ones.
fn body(
    mock: &Mock,
    path: &str,
    text: &str,
    allowed: &[&str],
    required: &[&str],
) -> Result<Value, Box<Response>> {
    let value: Value = serde_json::from_str(text).map_err(|_| {
        error(StatusCode::BAD_REQUEST, "We could not parse the JSON body of your request.", None)
    })?;
    mock.record(path, &value);
    if let Some(unknown) = crate::unknown_field(&value, allowed) {
        return Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            &format!("Unrecognized request argument supplied: {unknown}"),
            None,
        )));
    }
    if let Some(missing) = required.iter().find(|f| value.get(**f).is_none_or(Value::is_null)) {
        return Err(Box::new(error(
            StatusCode::BAD_REQUEST,
            &format!("Missing required parameter: '{missing}'."),
            Some(missing),
        )));
    }
    Ok(value)
}

/// A multipart form's parts: `(name, filename, bytes)`.
type Parts = Vec<(String, Option<String>, Vec<u8>)>;

fn form(headers: &HeaderMap, body: &[u8]) -> Result<Parts, Box<Response>> {
    let bad = || Box::new(error(StatusCode::BAD_REQUEST, "Could not parse multipart form", None));
    let content_type =
        headers.get("content-type").and_then(|v| v.to_str().ok()).unwrap_or_default();
    let boundary = content_type
        .split(';')
        .find_map(|p| p.trim().strip_prefix("boundary="))
        .map(|b| b.trim_matches('"').to_owned())
        .filter(|_| content_type.starts_with("multipart/form-data"))
        .ok_or_else(bad)?;
    let delimiter = format!("--{boundary}").into_bytes();
    let positions: Vec<usize> = (0..body.len().saturating_sub(delimiter.len() - 1))
        .filter(|&i| body[i..].starts_with(&delimiter))
        .collect();
    let mut parts = Vec::new();
    for pair in positions.windows(2) {
        let part = &body[pair[0] + delimiter.len() + 2..pair[1] - 2];
        let split = (0..part.len().saturating_sub(3))
            .find(|&i| &part[i..i + 4] == b"\r\n\r\n")
            .ok_or_else(bad)?;
        let head = String::from_utf8_lossy(&part[..split]).to_string();
        let param = |key: &str| {
            head.split(';').find_map(|p| {
                p.trim().strip_prefix(&format!("{key}=\""))?.split('"').next().map(str::to_owned)
            })
        };
        let name = param("name").ok_or_else(bad)?;
        parts.push((name, param("filename"), part[split + 4..].to_vec()));
    }
    Ok(parts)
}

fn field<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .iter()
        .find(|(n, f, _)| n == name && f.is_none())
        .and_then(|(_, _, v)| std::str::from_utf8(v).ok())
}

/// `POST /v1/completions`.
pub(crate) async fn completions(
    State(mock): State<Arc<Mock>>,
    headers: HeaderMap,
    text: String,
) -> Response {
    if let Some(refused) = unauthorized(&headers) {
        return refused;
    }
    const FIELDS: [&str; 19] = [
        "model",
        "prompt",
        "suffix",
        "max_tokens",
        "temperature",
        "top_p",
        "n",
        "stream",
        "stream_options",
        "logprobs",
        "echo",
        "stop",
        "presence_penalty",
        "frequency_penalty",
        "best_of",
        "logit_bias",
        "user",
        "seed",
        "response_format_unused",
    ];
    let request = match body(&mock, "/v1/completions", &text, &FIELDS, &["model", "prompt"]) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let model = request["model"].as_str().unwrap_or_default().to_owned();
    let prompt = match &request["prompt"] {
        Value::String(p) => p.clone(),
        Value::Array(items) => items.iter().filter_map(Value::as_str).collect::<Vec<_>>().join(" "),
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "prompt must be a string or an array",
                Some("prompt"),
            );
        }
    };
    let answer = format!("Completed: {prompt}");
    let usage = json!({"prompt_tokens": USAGE_INPUT, "completion_tokens": USAGE_OUTPUT,
        "total_tokens": USAGE_INPUT + USAGE_OUTPUT});
    let base = json!({"id": "cmpl-mock123", "object": "text_completion", "created": 1_700_000_000, "model": model});
    if request["stream"] != true {
        let mut v = base;
        v["choices"] =
            json!([{"text": answer, "index": 0, "logprobs": null, "finish_reason": "stop"}]);
        v["usage"] = usage;
        return json_response(StatusCode::OK, v);
    }
    let mut events = Vec::new();
    for piece in text_pieces(&answer, &model) {
        let mut v = base.clone();
        v["choices"] =
            json!([{"text": piece, "index": 0, "logprobs": null, "finish_reason": null}]);
        events.push(sse_event(None, &v, "\n"));
    }
    let mut last = base.clone();
    last["choices"] = json!([{"text": "", "index": 0, "logprobs": null, "finish_reason": "stop"}]);
    events.push(sse_event(None, &last, "\n"));
    if request["stream_options"]["include_usage"] == true {
        let mut v = base;
        v["choices"] = json!([]);
        v["usage"] = usage;
        events.push(sse_event(None, &v, "\n"));
    }
    events.push("data: [DONE]\n\n".into());
    sse_response(&mock, events)
}

fn images(n: u64) -> Response {
    let data: Vec<Value> = (0..n).map(|_| json!({"b64_json": PNG_B64})).collect();
    json_response(
        StatusCode::OK,
        json!({"created": 1_700_000_000, "data": data,
        "usage": {"input_tokens": 50, "output_tokens": 272, "total_tokens": 322,
                  "input_tokens_details": {"text_tokens": 50, "image_tokens": 0}}}),
    )
}

/// `POST /v1/images/generations`.
pub(crate) async fn image_generations(
    State(mock): State<Arc<Mock>>,
    headers: HeaderMap,
    text: String,
) -> Response {
    if let Some(refused) = unauthorized(&headers) {
        return refused;
    }
    const FIELDS: [&str; 13] = [
        "model",
        "prompt",
        "n",
        "size",
        "quality",
        "response_format",
        "style",
        "user",
        "background",
        "moderation",
        "output_format",
        "output_compression",
        "partial_images",
    ];
    match body(&mock, "/v1/images/generations", &text, &FIELDS, &["prompt"]) {
        Ok(v) => images(v["n"].as_u64().unwrap_or(1).clamp(1, 10)),
        Err(r) => *r,
    }
}

/// `POST /v1/images/edits` (multipart: `image` file(s), `prompt`, `model`, `n`, …).
pub(crate) async fn image_edits(
    State(mock): State<Arc<Mock>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(refused) = unauthorized(&headers) {
        return refused;
    }
    let parts = match form(&headers, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    mock.record(
        "/v1/images/edits",
        &json!({"model": field(&parts, "model"), "prompt": field(&parts, "prompt")}),
    );
    if !parts.iter().any(|(n, f, _)| (n == "image" || n == "image[]") && f.is_some()) {
        return error(
            StatusCode::BAD_REQUEST,
            "Missing required parameter: 'image'.",
            Some("image"),
        );
    }
    if field(&parts, "prompt").is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            "Missing required parameter: 'prompt'.",
            Some("prompt"),
        );
    }
    images(field(&parts, "n").and_then(|n| n.parse().ok()).unwrap_or(1))
}

/// `POST /v1/audio/speech`: the "audio" is deterministic bytes with an MP3 header.
pub(crate) async fn speech(
    State(mock): State<Arc<Mock>>,
    headers: HeaderMap,
    text: String,
) -> Response {
    if let Some(refused) = unauthorized(&headers) {
        return refused;
    }
    const FIELDS: [&str; 7] =
        ["model", "input", "voice", "response_format", "speed", "instructions", "stream_format"];
    let request =
        match body(&mock, "/v1/audio/speech", &text, &FIELDS, &["model", "input", "voice"]) {
            Ok(v) => v,
            Err(r) => return *r,
        };
    let input = request["input"].as_str().unwrap_or_default();
    if input.chars().count() > 4096 {
        return error(
            StatusCode::BAD_REQUEST,
            "input: string too long; at most 4096 characters",
            Some("input"),
        );
    }
    let mut audio = b"ID3\x04\x00\x00\x00\x00\x00\x00".to_vec();
    audio.extend(input.bytes().map(|b| b ^ 0x5a));
    Response::builder()
        .header("content-type", "audio/mpeg")
        .body(Body::from(audio))
        .unwrap_or_default()
}

/// `POST /v1/audio/transcriptions` (multipart: `file`, `model`, `response_format`, …).
pub(crate) async fn transcriptions(
    State(mock): State<Arc<Mock>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    if let Some(refused) = unauthorized(&headers) {
        return refused;
    }
    let parts = match form(&headers, &body) {
        Ok(p) => p,
        Err(r) => return *r,
    };
    mock.record(
        "/v1/audio/transcriptions",
        &json!({"model": field(&parts, "model"),
        "response_format": field(&parts, "response_format")}),
    );
    let Some((_, _, file)) = parts.iter().find(|(n, f, _)| n == "file" && f.is_some()) else {
        return error(StatusCode::BAD_REQUEST, "Missing required parameter: 'file'.", Some("file"));
    };
    if field(&parts, "model").is_none() {
        return error(
            StatusCode::BAD_REQUEST,
            "Missing required parameter: 'model'.",
            Some("model"),
        );
    }
    let duration = file.len() as f64 / BYTES_PER_SECOND as f64;
    match field(&parts, "response_format").unwrap_or("json") {
        "json" => json_response(
            StatusCode::OK,
            json!({"text": TRANSCRIPT,
            "usage": {"type": "duration", "seconds": duration.ceil()}}),
        ),
        "verbose_json" => json_response(
            StatusCode::OK,
            json!({"task": "transcribe", "language": "english",
            "duration": duration, "text": TRANSCRIPT, "segments": []}),
        ),
        "text" => Response::builder()
            .header("content-type", "text/plain; charset=utf-8")
            .body(Body::from(format!("{TRANSCRIPT}\n")))
            .unwrap_or_default(),
        other => error(
            StatusCode::BAD_REQUEST,
            &format!("response_format {other} is not supported"),
            Some("response_format"),
        ),
    }
}

/// `POST /v1/moderations`.
pub(crate) async fn moderations(
    State(mock): State<Arc<Mock>>,
    headers: HeaderMap,
    text: String,
) -> Response {
    if let Some(refused) = unauthorized(&headers) {
        return refused;
    }
    let request = match body(&mock, "/v1/moderations", &text, &["model", "input"], &["input"]) {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let inputs: Vec<String> = match &request["input"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(items) => {
            items.iter().map(|i| i.as_str().map_or_else(|| i.to_string(), str::to_owned)).collect()
        }
        _ => {
            return error(
                StatusCode::BAD_REQUEST,
                "input must be a string or an array",
                Some("input"),
            );
        }
    };
    const CATEGORIES: [&str; 13] = [
        "harassment",
        "harassment/threatening",
        "hate",
        "hate/threatening",
        "illicit",
        "illicit/violent",
        "self-harm",
        "self-harm/instructions",
        "self-harm/intent",
        "sexual",
        "sexual/minors",
        "violence",
        "violence/graphic",
    ];
    let results: Vec<Value> = inputs
        .iter()
        .map(|text| {
            let flagged = text.to_lowercase().contains("kill");
            let categories: serde_json::Map<String, Value> = CATEGORIES
                .iter()
                .map(|c| ((*c).to_owned(), json!(flagged && *c == "violence")))
                .collect();
            let scores: serde_json::Map<String, Value> = CATEGORIES
                .iter()
                .map(|c| {
                    (
                        (*c).to_owned(),
                        json!(if flagged && *c == "violence" { 0.91 } else { 0.0001 }),
                    )
                })
                .collect();
            let applied: serde_json::Map<String, Value> =
                CATEGORIES.iter().map(|c| ((*c).to_owned(), json!(["text"]))).collect();
            json!({"flagged": flagged, "categories": categories, "category_scores": scores,
                   "category_applied_input_types": applied})
        })
        .collect();
    let model = request["model"].as_str().unwrap_or("omni-moderation-latest");
    json_response(StatusCode::OK, json!({"id": "modr-mock123", "model": model, "results": results}))
}

/// `POST /v1/rerank` (Cohere's v2 shape): documents scored by the words they share with the query.
pub(crate) async fn rerank(
    State(mock): State<Arc<Mock>>,
    headers: HeaderMap,
    text: String,
) -> Response {
    if let Some(refused) = unauthorized(&headers) {
        return refused;
    }
    const FIELDS: [&str; 6] =
        ["model", "query", "documents", "top_n", "return_documents", "max_tokens_per_doc"];
    let request = match body(&mock, "/v1/rerank", &text, &FIELDS, &["model", "query", "documents"])
    {
        Ok(v) => v,
        Err(r) => return *r,
    };
    let query: Vec<String> = request["query"]
        .as_str()
        .unwrap_or_default()
        .to_lowercase()
        .split_whitespace()
        .map(str::to_owned)
        .collect();
    let documents = request["documents"].as_array().cloned().unwrap_or_default();
    let mut scored: Vec<(usize, f64, Value)> = documents
        .into_iter()
        .enumerate()
        .map(|(i, d)| {
            let text = d
                .as_str()
                .map_or_else(|| d["text"].as_str().unwrap_or_default().to_owned(), str::to_owned);
            let words = text.to_lowercase();
            let hits = query.iter().filter(|q| words.contains(q.as_str())).count();
            (i, hits as f64 / query.len().max(1) as f64, json!({"text": text}))
        })
        .collect();
    scored.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let top = request["top_n"].as_u64().map_or(scored.len(), |n| n as usize);
    let results: Vec<Value> = scored
        .into_iter()
        .take(top)
        .map(|(index, score, document)| {
            let mut r = json!({"index": index, "relevance_score": score});
            if request["return_documents"] == true {
                r["document"] = document;
            }
            r
        })
        .collect();
    json_response(
        StatusCode::OK,
        json!({"id": "rerank-mock123", "results": results,
        "meta": {"api_version": {"version": "2"}, "billed_units": {"search_units": 1}}}),
    )
}
