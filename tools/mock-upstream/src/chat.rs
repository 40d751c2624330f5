//! OpenAI Chat Completions, as the API reference describes it.

use std::collections::HashSet;
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::agent::result_text;
use crate::text_pieces;
use crate::{Answer, Incoming, Mock, Seen, USAGE_CACHED, USAGE_INPUT, USAGE_OUTPUT};
use crate::{check_unique, json_pieces, json_response, prepare, sse_event, sse_response, text_of};

fn error(status: StatusCode, message: &str) -> Response {
    json_response(
        status,
        json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}}),
    )
}

/// Checks what OpenAI checks, and reads what the scenario needs.
fn read(incoming: &Incoming<'_>) -> Result<Seen, String> {
    let body = incoming.body;
    if body.get("stream_options").is_some() && body["stream"] != true {
        return Err("stream_options is only allowed when stream is true".into());
    }
    if incoming.model.contains("reasoning") && body.get("max_tokens").is_some() {
        return Err("Unsupported parameter: 'max_tokens' is not supported with this model. Use 'max_completion_tokens' instead.".into());
    }
    let format = &body["response_format"];
    crate::formats::check_openai(format, &format["json_schema"], "response_format.json_schema")?;
    let messages = body["messages"]
        .as_array()
        .filter(|m| !m.is_empty())
        .ok_or("messages must be a non-empty array")?;
    let mut seen = Seen {
        max_tokens: body["max_completion_tokens"].as_u64().or(body["max_tokens"].as_u64()),
        ..Seen::default()
    };
    let mut call_ids = HashSet::new();
    let mut ids = Vec::new();
    // Calls of the last assistant message not answered yet: only tool messages may follow.
    let mut unanswered: Vec<String> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        if m["role"] != "tool" && !unanswered.is_empty() {
            return Err(format!(
                "An assistant message with 'tool_calls' must be followed by tool messages \
                 responding to each 'tool_call_id'. The following tool_call_ids did not have \
                 response messages: {}",
                unanswered.join(", ")
            ));
        }
        match m["role"].as_str() {
            Some("system" | "developer") => seen.system = text_of(&m["content"]),
            Some("user") => {
                seen.user = text_of(&m["content"]);
                seen.user_texts.push(seen.user.clone());
            }
            Some("assistant") => {
                let calls = m["tool_calls"].as_array().filter(|c| !c.is_empty());
                if m["content"].is_null() && calls.is_none() {
                    return Err(format!(
                        "messages[{i}]: an assistant message needs content or tool_calls"
                    ));
                }
                for call in m["tool_calls"].as_array().into_iter().flatten() {
                    let args = call["function"]["arguments"]
                        .as_str()
                        .ok_or("tool call arguments must be a string")?;
                    serde_json::from_str::<Value>(args)
                        .map_err(|_| "tool call arguments must be JSON")?;
                    let id = call["id"].as_str().unwrap_or_default();
                    check_unique(&mut ids, id, &format!("messages[{i}]"))?;
                    call_ids.insert(id.to_owned());
                    unanswered.push(id.to_owned());
                }
            }
            Some("tool") => {
                let id = m["tool_call_id"].as_str().unwrap_or_default();
                unanswered.retain(|u| u != id);
                if !call_ids.contains(id) {
                    return Err(format!("tool message for unknown tool_call_id {id:?}"));
                }
                seen.tool_results.push(result_text(&m["content"]));
            }
            other => return Err(format!("invalid role {other:?}")),
        }
    }
    for tool in body["tools"].as_array().into_iter().flatten() {
        if tool["type"] != "function" {
            return Err(format!(
                "tools[].type: invalid value {}; supported: 'function'",
                tool["type"]
            ));
        }
        seen.tools.push(
            tool["function"]["name"]
                .as_str()
                .ok_or("tools[].function.name is required")?
                .to_owned(),
        );
    }
    Ok(seen)
}

fn usage() -> Value {
    json!({"prompt_tokens": USAGE_INPUT, "completion_tokens": USAGE_OUTPUT,
           "total_tokens": USAGE_INPUT + USAGE_OUTPUT, "prompt_tokens_details": {"cached_tokens": USAGE_CACHED}})
}

pub(crate) async fn handle(
    State(mock): State<Arc<Mock>>,
    headers: axum::http::HeaderMap,
    body: String,
) -> Response {
    let (body, model, answer) =
        match prepare(&mock, "/v1/chat/completions", (&headers, &body), None, read, error).await {
            Ok(prepared) => prepared,
            Err(response) => return response,
        };
    if body["stream"] == true {
        // `…no-usage…`: a provider that ignores `stream_options.include_usage`.
        let usage = body["stream_options"]["include_usage"] == true && !model.contains("no-usage");
        let events = stream(&model, &answer, usage);
        if let Some(fault) = crate::faults::stream_fault(&model, &events) {
            return fault;
        }
        return sse_response(&mock, events);
    }
    let (content, calls, finish) = match &answer {
        Answer::Text(t) => (json!(t), Value::Null, "stop"),
        Answer::Calls(calls) => {
            let calls: Vec<Value> = calls
                .iter()
                .map(|c| json!({"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.args.to_string()}}))
                .collect();
            (Value::Null, json!(calls), "tool_calls")
        }
    };
    let mut message = json!({"role": "assistant", "content": content, "refusal": null});
    if !calls.is_null() {
        message["tool_calls"] = calls;
    }
    let mut answer = json!({
        "id": "chatcmpl-mock123", "object": "chat.completion", "created": 1_700_000_000, "model": model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish}],
        "usage": usage(), "system_fingerprint": "fp_mock",
    });
    if model.contains("no-usage") {
        // An answer without `usage`, as some compatible servers send.
        answer.as_object_mut().map(|a| a.remove("usage"));
    }
    if let Some(fault) = crate::faults::json_fault(&model, &answer) {
        return fault;
    }
    json_response(StatusCode::OK, answer)
}

fn stream(model: &str, answer: &Answer, include_usage: bool) -> Vec<String> {
    let chunk = |delta: Value, finish: Value| {
        sse_event(
            None,
            &json!({"id": "chatcmpl-mock123", "object": "chat.completion.chunk", "created": 1_700_000_000,
            "model": model, "system_fingerprint": "fp_mock",
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}]}),
            "\n",
        )
    };
    let mut events =
        vec![chunk(json!({"role": "assistant", "content": "", "refusal": null}), Value::Null)];
    let finish = match answer {
        Answer::Text(t) => {
            for piece in text_pieces(t, model) {
                events.push(chunk(json!({"content": piece}), Value::Null));
            }
            "stop"
        }
        Answer::Calls(calls) => {
            for (i, c) in calls.iter().enumerate() {
                let first = json!({"index": i, "id": c.id, "type": "function", "function": {"name": c.name, "arguments": ""}});
                events.push(chunk(json!({"tool_calls": [first]}), Value::Null));
                for piece in json_pieces(&c.args) {
                    events.push(chunk(
                        json!({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}),
                        Value::Null,
                    ));
                }
            }
            "tool_calls"
        }
    };
    events.push(chunk(json!({}), json!(finish)));
    if include_usage {
        events.push(sse_event(
            None,
            &json!({"id": "chatcmpl-mock123", "object": "chat.completion.chunk",
            "created": 1_700_000_000, "model": model, "choices": [], "usage": usage()}),
            "\n",
        ));
    }
    events.push("data: [DONE]\n\n".into());
    if model.contains("stream-error-first") {
        let error = json!({"error": {"message": "mock stream failed to start", "type": "server_error", "param": null, "code": null}});
        return vec![sse_event(None, &error, "\n")];
    }
    if model.contains("stream-cut") {
        events.truncate(2);
    }
    events
}
