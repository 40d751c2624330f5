//! Gemini `generateContent` / `streamGenerateContent?alt=sse`, as the API reference describes it
//! (including its quirks: CRLF line ends in SSE, usage on every chunk, calls without ids).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::agent::result_text;
use crate::thinking;
use crate::{Answer, Incoming, Mock, Seen, USAGE_CACHED, USAGE_INPUT, USAGE_OUTPUT};
use crate::{check_unique, json_response, prepare, sse_event, sse_response, text_pieces};

fn error(status: StatusCode, message: &str) -> Response {
    let label = match status.as_u16() {
        400 => "INVALID_ARGUMENT",
        429 => "RESOURCE_EXHAUSTED",
        401 | 403 => "PERMISSION_DENIED",
        _ => "INTERNAL",
    };
    json_response(
        status,
        json!({"error": {"code": status.as_u16(), "message": message, "status": label}}),
    )
}

/// Gemini's schema is an OpenAPI subset: these JSON Schema keywords are rejected.
fn check_schema(schema: &Value, path: &str) -> Result<(), String> {
    if let Value::Object(map) = schema {
        for (k, v) in map {
            if matches!(
                k.as_str(),
                "additionalProperties" | "$schema" | "$ref" | "$defs" | "strict" | "const"
            ) {
                return Err(format!(
                    "Invalid JSON payload received. Unknown name \"{k}\" at '{path}'"
                ));
            }
            if k == "properties" {
                for (name, s) in v.as_object().into_iter().flatten() {
                    check_schema(s, &format!("{path}.properties[{name}]"))?;
                }
            } else if k == "items" {
                check_schema(v, &format!("{path}.items"))?;
            }
        }
    }
    Ok(())
}

fn read(incoming: &Incoming<'_>) -> Result<Seen, String> {
    let body = incoming.body;
    let mut seen = Seen {
        max_tokens: body["generationConfig"]["maxOutputTokens"].as_u64(),
        ..Seen::default()
    };
    for part in body["systemInstruction"]["parts"].as_array().into_iter().flatten() {
        seen.system.push_str(part["text"].as_str().unwrap_or_default());
    }
    let contents =
        body["contents"].as_array().filter(|c| !c.is_empty()).ok_or("contents is not specified")?;
    let mut last_calls: Vec<(String, String)> = Vec::new();
    let mut ids = Vec::new();
    for (i, c) in contents.iter().enumerate() {
        let role = c["role"].as_str().unwrap_or("user");
        if role != "user" && role != "model" {
            return Err(format!("contents[{i}].role must be user or model"));
        }
        let mut calls = Vec::new();
        let parts = c["parts"].as_array().map(Vec::as_slice).unwrap_or_default();
        check_signatures(i, role, parts, incoming.model)?;
        for part in parts {
            if let Some(text) = part["text"].as_str() {
                if role == "user" {
                    seen.user = text.to_owned();
                    seen.user_texts.push(text.to_owned());
                }
            } else if let Some(call) = part.get("functionCall") {
                if !call["args"].is_object() {
                    return Err(format!("contents[{i}]: functionCall.args must be an object"));
                }
                let id = call["id"].as_str().unwrap_or_default().to_owned();
                check_unique(&mut ids, &id, &format!("contents[{i}]"))?;
                calls.push((call["name"].as_str().unwrap_or_default().to_owned(), id));
            } else if let Some(resp) = part.get("functionResponse") {
                if !resp["response"].is_object() {
                    return Err(format!(
                        "contents[{i}]: functionResponse.response must be an object"
                    ));
                }
                let name = resp["name"].as_str().unwrap_or_default();
                let id = resp["id"].as_str();
                let answers = |(n, i): &(String, String)| match id {
                    Some(id) if !i.is_empty() => i == id,
                    _ => n == name,
                };
                if !last_calls.iter().any(answers) {
                    return Err(format!(
                        "contents[{i}]: functionResponse {name:?} answers no functionCall of the previous turn"
                    ));
                }
                seen.tool_results.push(result_text(&resp["response"]));
            } else if part.get("inlineData").is_none()
                && part.get("fileData").is_none()
                && part.get("thoughtSignature").is_none()
            {
                return Err(format!("contents[{i}]: unknown part {part}"));
            }
        }
        last_calls = calls;
    }
    let generation = &body["generationConfig"];
    let schema = generation.get("responseSchema").or(generation.get("responseJsonSchema"));
    if let Some(schema) = schema {
        if generation["responseMimeType"] != "application/json" {
            return Err(
                "generationConfig: a response schema needs responseMimeType \"application/json\""
                    .into(),
            );
        }
        if generation.get("responseSchema").is_some() {
            check_schema(schema, "generationConfig.responseSchema")?;
        }
    }
    let thinking = &body["generationConfig"]["thinkingConfig"];
    // The API takes proto names (snake_case) as well as camelCase.
    let either = |camel: &str, snake: &str| thinking.get(camel).or(thinking.get(snake)).cloned();
    if thinking.is_object() && either("thinkingBudget", "thinking_budget") != Some(json!(0)) {
        seen.thinking = Some(either("includeThoughts", "include_thoughts") == Some(json!(true)));
    }
    for set in body["tools"].as_array().into_iter().flatten() {
        for decl in set["functionDeclarations"].as_array().into_iter().flatten() {
            // `parametersJsonSchema` takes full JSON Schema; `parameters` only the OpenAPI subset.
            if decl.get("parametersJsonSchema").is_none() {
                check_schema(&decl["parameters"], "parameters")?;
            }
            seen.tools.push(decl["name"].as_str().unwrap_or_default().to_owned());
        }
    }
    Ok(seen)
}

/// Thought signatures as Gemini checks them: each one minted here (or the documented sentinel),
/// and on Gemini 3 models the first function call of every model turn signed.
fn check_signatures(i: usize, role: &str, parts: &[Value], model: &str) -> Result<(), String> {
    for part in parts {
        if let Some(sig) = part["thoughtSignature"].as_str()
            && sig != thinking::gemini_signature()
            && sig != thinking::GEMINI_SKIP
        {
            return Err(format!(
                "contents[{i}]: Unable to submit request because Thought signature is not valid."
            ));
        }
    }
    if role == "model" && model.contains("gemini-3") {
        let first_call = parts.iter().find(|p| p.get("functionCall").is_some());
        if let Some(call) = first_call.filter(|p| p.get("thoughtSignature").is_none()) {
            return Err(format!(
                "Function call `{}` in the `{i}.` content block is missing a `thought_signature`.",
                call["functionCall"]["name"].as_str().unwrap_or_default()
            ));
        }
    }
    Ok(())
}

/// An answer's parts when thinking was asked for (`Some(shown)`): the thought first when shown,
/// and the signature on the first part that is not a thought (where Gemini puts it).
fn with_thinking(mut parts: Vec<Value>, thinking: Option<bool>) -> Vec<Value> {
    let Some(shown) = thinking else { return parts };
    if let Some(first) = parts.first_mut() {
        first["thoughtSignature"] = thinking::gemini_signature().into();
    }
    if shown {
        parts.insert(0, json!({"text": thinking::TEXT, "thought": true}));
    }
    parts
}

fn usage(candidates: i64) -> Value {
    json!({"promptTokenCount": USAGE_INPUT, "candidatesTokenCount": candidates,
           "totalTokenCount": USAGE_INPUT + candidates, "cachedContentTokenCount": USAGE_CACHED})
}

fn chunk(model: &str, parts: Vec<Value>, finish: Option<&str>, candidates: i64) -> Value {
    let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
    if let Some(f) = finish {
        candidate["finishReason"] = f.into();
    }
    json!({"candidates": [candidate], "usageMetadata": usage(candidates), "modelVersion": model,
           "responseId": "gemini-mock123"})
}

pub(crate) async fn handle(
    State(mock): State<Arc<Mock>>,
    Path(rest): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    if !headers.contains_key("x-goog-api-key") {
        return error(
            StatusCode::FORBIDDEN,
            "Method doesn't allow unregistered callers. Please use an API key.",
        );
    }
    let Some((model, method)) = rest.split_once(':') else {
        return error(StatusCode::NOT_FOUND, "unknown method");
    };
    let path = format!("/v1beta/models/{rest}");
    let stream = match method {
        "generateContent" => false,
        "streamGenerateContent" => true,
        "embedContent" | "batchEmbedContents" => {
            let batch = method == "batchEmbedContents";
            return crate::embeddings::gemini(&mock, &path, model, batch, &body, error).await;
        }
        "countTokens" => return count_tokens(&mock, &path, model, &headers, &body),
        _ => return error(StatusCode::NOT_FOUND, "unknown method"),
    };
    let (request, _, answer) =
        match prepare(&mock, &path, (&headers, &body), Some(model), read, error).await {
            Ok(prepared) => prepared,
            Err(response) => return response,
        };
    let incoming = Incoming { body: &request, model, headers: &headers };
    let thinking = read(&incoming).ok().and_then(|seen| seen.thinking);
    let call_parts = |calls: &[crate::Call]| -> Vec<Value> {
        calls.iter().map(|c| json!({"functionCall": {"name": c.name, "args": c.args}})).collect()
    };
    if !stream {
        let parts = match &answer {
            Answer::Text(t) => vec![json!({"text": t})],
            Answer::Calls(calls) => call_parts(calls),
        };
        let parts = with_thinking(parts, thinking);
        return json_response(StatusCode::OK, chunk(model, parts, Some("STOP"), USAGE_OUTPUT));
    }
    let mut events = Vec::new();
    if thinking == Some(true) {
        let thought = vec![json!({"text": thinking::TEXT, "thought": true})];
        events.push(sse_event(None, &chunk(model, thought, None, 1), "\r\n"));
    }
    // The signature comes on the first part after the thought.
    let mut unsigned = thinking.is_some();
    let mut signed = |mut parts: Vec<Value>| {
        if let Some(first) = parts.first_mut().filter(|_| std::mem::take(&mut unsigned)) {
            first["thoughtSignature"] = thinking::gemini_signature().into();
        }
        parts
    };
    match &answer {
        Answer::Text(t) => {
            let pieces = text_pieces(t, model);
            let n = pieces.len();
            for (i, piece) in pieces.into_iter().enumerate() {
                let last = i + 1 == n;
                let c = chunk(
                    model,
                    signed(vec![json!({"text": piece})]),
                    last.then_some("STOP"),
                    if last { USAGE_OUTPUT } else { i as i64 + 1 },
                );
                events.push(sse_event(None, &c, "\r\n"));
            }
        }
        Answer::Calls(calls) => {
            events.push(sse_event(
                None,
                &chunk(model, signed(call_parts(calls)), Some("STOP"), USAGE_OUTPUT),
                "\r\n",
            ));
        }
    }
    sse_response(&mock, events)
}

/// `:countTokens`: `{contents}` or `{generateContentRequest}`, checked as generation is.
fn count_tokens(mock: &Mock, path: &str, model: &str, headers: &HeaderMap, body: &str) -> Response {
    let Ok(value) = serde_json::from_str::<Value>(body) else {
        return error(StatusCode::BAD_REQUEST, "body is not JSON");
    };
    mock.record(path, &value);
    let request = value.get("generateContentRequest").unwrap_or(&value);
    if let Some(unknown) = crate::unknown_field(&value, &["contents", "generateContentRequest"]) {
        return error(
            StatusCode::BAD_REQUEST,
            &format!("Invalid JSON payload received. Unknown name \"{unknown}\""),
        );
    }
    if let Err(message) = read(&Incoming { body: request, model, headers }) {
        return error(StatusCode::BAD_REQUEST, &message);
    }
    json_response(StatusCode::OK, json!({"totalTokens": crate::counted(body)}))
}
