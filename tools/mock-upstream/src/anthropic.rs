//! Anthropic Messages, as the API reference describes it.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::{Answer, Mock, Seen, USAGE_CACHED, USAGE_INPUT, USAGE_OUTPUT};
use crate::{json_pieces, json_response, prepare, sse_event, sse_response, text_of, text_pieces};

fn error(status: StatusCode, message: &str) -> Response {
    let kind = match status.as_u16() {
        429 => "rate_limit_error",
        400 => "invalid_request_error",
        401 => "authentication_error",
        _ => "api_error",
    };
    json_response(status, json!({"type": "error", "error": {"type": kind, "message": message}}))
}

fn blocks(content: &Value) -> Vec<Value> {
    match content {
        Value::String(s) => vec![json!({"type": "text", "text": s})],
        Value::Array(list) => list.clone(),
        _ => vec![],
    }
}

/// Checks what Anthropic checks, and reads what the scenario needs.
fn read(body: &Value) -> Result<Seen, String> {
    if !body["max_tokens"].is_u64() {
        return Err("max_tokens: Field required".into());
    }
    let mut seen = Seen { system: text_of(&body["system"]), ..Seen::default() };
    let messages = body["messages"]
        .as_array()
        .filter(|m| !m.is_empty())
        .ok_or("messages: at least one message is required")?;
    let mut expected_role = "user";
    let mut open_calls: Vec<String> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let role = m["role"].as_str().unwrap_or_default();
        if role != expected_role {
            return Err(format!(
                "messages.{i}: roles must alternate between \"user\" and \"assistant\", starting with \"user\""
            ));
        }
        expected_role = if role == "user" { "assistant" } else { "user" };
        let content = blocks(&m["content"]);
        let mut answered = Vec::new();
        let mut calls = Vec::new();
        for b in &content {
            match b["type"].as_str() {
                Some("text") if b["text"].as_str().is_none_or(str::is_empty) => {
                    return Err(format!("messages.{i}: text content blocks must be non-empty"));
                }
                Some("text") if role == "user" => {
                    seen.user = b["text"].as_str().unwrap_or_default().to_owned()
                }
                Some("tool_use") if role == "assistant" => {
                    if !b["input"].is_object() {
                        return Err(format!("messages.{i}: tool_use.input must be an object"));
                    }
                    calls.push(b["id"].as_str().unwrap_or_default().to_owned());
                }
                Some("tool_result") if role == "user" => {
                    answered.push(b["tool_use_id"].as_str().unwrap_or_default().to_owned());
                    seen.tool_results.push(text_of(&b["content"]));
                }
                Some("thinking") if b["signature"].as_str().is_none() => {
                    return Err(format!("messages.{i}: thinking blocks need a signature"));
                }
                Some("text" | "image" | "thinking") => {}
                other => {
                    return Err(format!(
                        "messages.{i}: unexpected block {other:?} for role {role}"
                    ));
                }
            }
        }
        if role == "user" {
            if let Some(missing) = open_calls.iter().find(|id| !answered.contains(id)) {
                return Err(format!(
                    "messages.{i}: tool_use ids were found without tool_result blocks immediately after: {missing}"
                ));
            }
            if let Some(stray) = answered.iter().find(|id| !open_calls.contains(id)) {
                return Err(format!(
                    "messages.{i}: unexpected tool_use_id found in tool_result blocks: {stray}"
                ));
            }
        }
        open_calls = calls;
    }
    for tool in body["tools"].as_array().into_iter().flatten() {
        if !tool["input_schema"].is_object() {
            return Err("tools: input_schema is required".into());
        }
        seen.tools.push(tool["name"].as_str().unwrap_or_default().to_owned());
    }
    Ok(seen)
}

fn usage(output: i64) -> Value {
    json!({"input_tokens": USAGE_INPUT - USAGE_CACHED, "cache_creation_input_tokens": 0,
           "cache_read_input_tokens": USAGE_CACHED, "output_tokens": output})
}

pub(crate) async fn handle(
    State(mock): State<Arc<Mock>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    if !headers.contains_key("anthropic-version") {
        return error(StatusCode::BAD_REQUEST, "anthropic-version: header is required");
    }
    let (body, model, answer) = match prepare(&mock, "/v1/messages", &body, None, read, error).await
    {
        Ok(prepared) => prepared,
        Err(response) => return response,
    };
    if body["stream"] == true {
        return sse_response(&mock, stream(&model, &answer));
    }
    let (content, stop): (Vec<Value>, &str) = match &answer {
        Answer::Text(t) => (vec![json!({"type": "text", "text": t})], "end_turn"),
        Answer::Calls(calls) => (
            calls
                .iter()
                .map(|c| json!({"type": "tool_use", "id": c.id, "name": c.name, "input": c.args}))
                .collect(),
            "tool_use",
        ),
    };
    json_response(
        StatusCode::OK,
        json!({
            "id": "msg_mock123", "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": stop, "stop_sequence": null, "usage": usage(USAGE_OUTPUT),
        }),
    )
}

fn stream(model: &str, answer: &Answer) -> Vec<String> {
    let ev = |v: Value| sse_event(v["type"].as_str(), &v, "\n");
    let mut events = vec![ev(
        json!({"type": "message_start", "message": {"id": "msg_mock123", "type": "message",
        "role": "assistant", "model": model, "content": [], "stop_reason": null, "stop_sequence": null,
        "usage": usage(1)}}),
    )];
    let stop = match answer {
        Answer::Text(t) => {
            events.push(ev(json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}})));
            events.push(ev(json!({"type": "ping"})));
            for piece in text_pieces(t, model) {
                events.push(ev(json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}})));
            }
            events.push(ev(json!({"type": "content_block_stop", "index": 0})));
            "end_turn"
        }
        Answer::Calls(calls) => {
            for (i, c) in calls.iter().enumerate() {
                events.push(ev(json!({"type": "content_block_start", "index": i,
                    "content_block": {"type": "tool_use", "id": c.id, "name": c.name, "input": {}}})));
                events.push(ev(json!({"type": "content_block_delta", "index": i,
                    "delta": {"type": "input_json_delta", "partial_json": ""}})));
                for piece in json_pieces(&c.args) {
                    events.push(ev(json!({"type": "content_block_delta", "index": i,
                        "delta": {"type": "input_json_delta", "partial_json": piece}})));
                }
                events.push(ev(json!({"type": "content_block_stop", "index": i})));
            }
            "tool_use"
        }
    };
    events.push(ev(
        json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null},
        "usage": {"output_tokens": USAGE_OUTPUT}}),
    ));
    events.push(ev(json!({"type": "message_stop"})));
    events
}
