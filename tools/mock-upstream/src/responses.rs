//! OpenAI Responses, as the API reference describes it.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::agent::result_text;
use crate::{Answer, Incoming, Mock, Seen, USAGE_CACHED, USAGE_INPUT, USAGE_OUTPUT};
use crate::{check_unique, json_pieces, json_response, prepare, sse_event, sse_response, text_of};
use crate::{text_pieces, thinking};

/// Tool types the API runs itself (accepted, never called by the mock).
const HOSTED: [&str; 11] = [
    "web_search",
    "web_search_preview",
    "file_search",
    "code_interpreter",
    "image_generation",
    "computer_use_preview",
    "mcp",
    "local_shell",
    "shell",
    "tool_search",
    "apply_patch",
];

const PARAMS: [&str; 23] = [
    "model",
    "input",
    "instructions",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "max_output_tokens",
    "temperature",
    "top_p",
    "text",
    "reasoning",
    "stream",
    "store",
    "user",
    "metadata",
    "include",
    "previous_response_id",
    "truncation",
    "service_tier",
    "prompt_cache_key",
    "stream_options",
    "client_metadata",
    "max_tool_calls",
];

fn error(status: StatusCode, message: &str) -> Response {
    json_response(
        status,
        json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}}),
    )
}

fn read(incoming: &Incoming<'_>) -> Result<Seen, String> {
    let body = incoming.body;
    if let Some(unknown) = crate::unknown_field(body, &PARAMS) {
        return Err(format!("Unknown parameter: '{unknown}'."));
    }
    let format = &body["text"]["format"];
    crate::formats::check_openai(format, format, "text.format")?;
    let mut seen = Seen {
        system: body["instructions"].as_str().unwrap_or_default().to_owned(),
        max_tokens: body["max_output_tokens"].as_u64(),
        ..Seen::default()
    };
    let mut calls = Vec::new();
    match &body["input"] {
        Value::String(s) => {
            seen.user = s.clone();
            seen.user_texts.push(s.clone());
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                if item["type"] == "reasoning" {
                    check_reasoning(i, item, body["store"] != false)?;
                }
                read_item(i, item, &mut seen, &mut calls)?;
            }
        }
        _ => return Err("input is required".into()),
    }
    for tool in body["tools"].as_array().into_iter().flatten() {
        read_tool(tool, &mut seen)?;
    }
    Ok(seen)
}

/// One input item: messages, calls and their outputs (each output answering a call before it).
fn read_item(
    i: usize,
    item: &Value,
    seen: &mut Seen,
    calls: &mut Vec<String>,
) -> Result<(), String> {
    match (item["type"].as_str().unwrap_or("message"), item["role"].as_str()) {
        ("message", Some("user")) => {
            seen.user = text_of(&item["content"]);
            seen.user_texts.push(seen.user.clone());
        }
        ("message", Some("system" | "developer")) => seen.system = text_of(&item["content"]),
        ("message", Some("assistant")) | ("reasoning", _) => {}
        ("function_call", _) => {
            serde_json::from_str::<Value>(item["arguments"].as_str().unwrap_or(""))
                .map_err(|_| format!("input[{i}].arguments must be JSON text"))?;
            check_unique(
                calls,
                item["call_id"].as_str().unwrap_or_default(),
                &format!("input[{i}]"),
            )?;
        }
        ("custom_tool_call", _) => {
            item["input"].as_str().ok_or(format!("input[{i}].input must be a string"))?;
            check_unique(
                calls,
                item["call_id"].as_str().unwrap_or_default(),
                &format!("input[{i}]"),
            )?;
        }
        ("function_call_output" | "custom_tool_call_output", _) => {
            let id = item["call_id"].as_str().unwrap_or_default();
            if !calls.iter().any(|c| c == id) {
                return Err(format!(
                    "No tool call found for function call output with call_id {id}."
                ));
            }
            if !(item["output"].is_string() || item["output"].is_array()) {
                return Err(format!("input[{i}].output must be a string or content parts"));
            }
            seen.tool_results.push(result_text(&item["output"]));
        }
        (kind, role) => return Err(format!("input[{i}]: unsupported item {kind} / {role:?}")),
    }
    Ok(())
}

/// One declared tool: functions, custom tools, namespaces of functions, and the hosted types.
fn read_tool(tool: &Value, seen: &mut Seen) -> Result<(), String> {
    let name = || tool["name"].as_str().map(str::to_owned).ok_or("tools[]: a tool needs a name");
    match tool["type"].as_str() {
        Some("function") => seen.tools.push(name()?),
        Some("custom") => {
            seen.tools.push(name()?);
            seen.custom_tools.push(name()?);
        }
        Some("namespace") => {
            for inner in tool["tools"].as_array().into_iter().flatten() {
                if inner["type"] != "function" {
                    return Err("tools[]: a namespace holds function tools".into());
                }
            }
        }
        Some(kind) if HOSTED.contains(&kind) => {}
        other => return Err(format!("tools[]: invalid tool type {other:?}")),
    }
    Ok(())
}

fn output_items(answer: &Answer) -> Vec<Value> {
    match answer {
        Answer::Text(t) => vec![
            json!({"id": "msg_mock1", "type": "message", "status": "completed", "role": "assistant",
            "content": [{"type": "output_text", "text": t, "annotations": []}]}),
        ],
        Answer::Calls(calls) => calls
            .iter()
            .enumerate()
            .map(|(i, c)| if c.custom {
                json!({"id": format!("ctc_mock{i}"), "type": "custom_tool_call", "status": "completed",
                "call_id": c.id, "name": c.name, "input": c.args["input"]})
            } else {
                json!({"id": format!("fc_mock{i}"), "type": "function_call", "status": "completed",
                "call_id": c.id, "name": c.name, "arguments": c.args.to_string()})
            })
            .collect(),
    }
}

fn response(model: &str, status: &str, output: Vec<Value>) -> Value {
    let usage = if status == "completed" {
        json!({"input_tokens": USAGE_INPUT, "input_tokens_details": {"cached_tokens": USAGE_CACHED,
               "cache_write_tokens": 0},
               "output_tokens": USAGE_OUTPUT, "output_tokens_details": {"reasoning_tokens": 0},
               "total_tokens": USAGE_INPUT + USAGE_OUTPUT})
    } else {
        Value::Null
    };
    json!({"id": "resp_mock123", "object": "response", "created_at": 1_700_000_000, "status": status,
        "error": null, "incomplete_details": null, "instructions": null, "max_output_tokens": null,
        "model": model, "output": output, "parallel_tool_calls": true, "previous_response_id": null,
        "reasoning": {"effort": null, "summary": null}, "store": false, "temperature": 1.0,
        "text": {"format": {"type": "text"}}, "tool_choice": "auto", "tools": [], "top_p": 1.0,
        "truncation": "disabled", "usage": usage, "user": null, "metadata": {}})
}

pub(crate) async fn handle(
    State(mock): State<Arc<Mock>>,
    headers: axum::http::HeaderMap,
    body: String,
) -> Response {
    let (body, model, answer) =
        match prepare(&mock, "/v1/responses", (&headers, &body), None, read, error).await {
            Ok(prepared) => prepared,
            Err(response) => return response,
        };
    let reasoning = reasoning_item(&body);
    if body["stream"] == true {
        return sse_response(&mock, stream(&model, &answer, reasoning));
    }
    let output = reasoning.into_iter().chain(output_items(&answer)).collect();
    json_response(StatusCode::OK, response(&model, "completed", output))
}

/// The reasoning item an answer starts with when reasoning was asked for: its summary when one
/// was asked for, its encrypted content when `include` asked for that.
fn reasoning_item(body: &Value) -> Option<Value> {
    let reasoning = body.get("reasoning").filter(|r| r.is_object() && r["effort"] != "none")?;
    let summary = if reasoning["summary"].is_null() {
        json!([])
    } else {
        json!([{"type": "summary_text", "text": thinking::TEXT}])
    };
    let mut item = json!({"id": "rs_mock1", "type": "reasoning", "summary": summary});
    if sealed(body) {
        item["encrypted_content"] = thinking::openai_encrypted().into();
    }
    Some(item)
}

/// Whether `include` asks for reasoning's encrypted content.
fn sealed(body: &Value) -> bool {
    body["include"].as_array().into_iter().flatten().any(|v| v == "reasoning.encrypted_content")
}

/// A reasoning item given back: without storage only its encrypted content (minted here) can
/// carry it.
fn check_reasoning(i: usize, item: &Value, stored: bool) -> Result<(), String> {
    match item["encrypted_content"].as_str() {
        Some(e) if e == thinking::openai_encrypted() => Ok(()),
        Some(_) => Err(format!(
            "input[{i}]: The encrypted content for item {} could not be verified.",
            item["id"].as_str().unwrap_or("rs_?")
        )),
        None if stored => Ok(()),
        None => Err(format!(
            "Item with id '{}' not found. Items are not persisted when `store` is set to false. Try again with `store` set to true, or remove this item from your input.",
            item["id"].as_str().unwrap_or("")
        )),
    }
}

fn stream(model: &str, answer: &Answer, reasoning: Option<Value>) -> Vec<String> {
    let mut seq = 0;
    let mut events = Vec::new();
    let mut ev = |mut v: Value| {
        v["sequence_number"] = seq.into();
        seq += 1;
        events.push(sse_event(v["type"].as_str(), &v, "\n"));
    };
    ev(json!({"type": "response.created", "response": response(model, "in_progress", vec![])}));
    ev(json!({"type": "response.in_progress", "response": response(model, "in_progress", vec![])}));
    let items = output_items(answer);
    let first = usize::from(reasoning.is_some());
    if let Some(item) = &reasoning {
        let mut added = item.clone();
        added["summary"] = json!([]);
        added.as_object_mut().map(|o| o.remove("encrypted_content"));
        ev(json!({"type": "response.output_item.added", "output_index": 0, "item": added}));
        for (k, part) in item["summary"].as_array().into_iter().flatten().enumerate() {
            let text = part["text"].as_str().unwrap_or_default();
            ev(json!({"type": "response.reasoning_summary_part.added", "item_id": item["id"],
                "output_index": 0, "summary_index": k, "part": {"type": "summary_text", "text": ""}}));
            for piece in text_pieces(text, model) {
                ev(json!({"type": "response.reasoning_summary_text.delta", "item_id": item["id"],
                    "output_index": 0, "summary_index": k, "delta": piece}));
            }
            ev(json!({"type": "response.reasoning_summary_text.done", "item_id": item["id"],
                "output_index": 0, "summary_index": k, "text": text}));
            ev(json!({"type": "response.reasoning_summary_part.done", "item_id": item["id"],
                "output_index": 0, "summary_index": k, "part": part}));
        }
        ev(json!({"type": "response.output_item.done", "output_index": 0, "item": item}));
    }
    match answer {
        Answer::Text(t) => {
            let mut added = items[0].clone();
            added["status"] = "in_progress".into();
            added["content"] = json!([]);
            ev(json!({"type": "response.output_item.added", "output_index": first, "item": added}));
            ev(
                json!({"type": "response.content_part.added", "item_id": "msg_mock1", "output_index": first,
                "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}}),
            );
            for piece in text_pieces(t, model) {
                ev(
                    json!({"type": "response.output_text.delta", "item_id": "msg_mock1", "output_index": first,
                    "content_index": 0, "delta": piece, "logprobs": []}),
                );
            }
            ev(
                json!({"type": "response.output_text.done", "item_id": "msg_mock1", "output_index": first,
                "content_index": 0, "text": t, "logprobs": []}),
            );
            ev(
                json!({"type": "response.content_part.done", "item_id": "msg_mock1", "output_index": first,
                "content_index": 0, "part": {"type": "output_text", "text": t, "annotations": []}}),
            );
            ev(
                json!({"type": "response.output_item.done", "output_index": first, "item": items[0]}),
            );
        }
        Answer::Calls(calls) => {
            for (i, (c, item)) in calls.iter().zip(&items).enumerate() {
                let mut added = item.clone();
                added["status"] = "in_progress".into();
                if c.custom {
                    added["input"] = "".into();
                    ev(
                        json!({"type": "response.output_item.added", "output_index": first + i, "item": added}),
                    );
                    let input = c.args["input"].as_str().unwrap_or_default();
                    let half =
                        input.char_indices().nth(input.chars().count() / 2).map_or(0, |(b, _)| b);
                    for piece in [&input[..half], &input[half..]] {
                        ev(json!({"type": "response.custom_tool_call_input.delta",
                            "item_id": item["id"], "output_index": first + i, "delta": piece}));
                    }
                    ev(
                        json!({"type": "response.custom_tool_call_input.done", "item_id": item["id"],
                        "output_index": first + i, "input": input}),
                    );
                    ev(
                        json!({"type": "response.output_item.done", "output_index": first + i, "item": item}),
                    );
                    continue;
                }
                added["arguments"] = "".into();
                ev(
                    json!({"type": "response.output_item.added", "output_index": first + i, "item": added}),
                );
                for piece in json_pieces(&c.args) {
                    ev(
                        json!({"type": "response.function_call_arguments.delta", "item_id": item["id"],
                        "output_index": first + i, "delta": piece}),
                    );
                }
                ev(json!({"type": "response.function_call_arguments.done", "item_id": item["id"],
                    "output_index": first + i, "arguments": c.args.to_string()}));
                ev(
                    json!({"type": "response.output_item.done", "output_index": first + i, "item": item}),
                );
            }
        }
    }
    let all = reasoning.into_iter().chain(items).collect();
    ev(json!({"type": "response.completed", "response": response(model, "completed", all)}));
    events
}

/// `POST /v1/responses/input_tokens`: checks the request as `responses` does, answers a count.
pub(crate) async fn input_tokens(
    State(mock): State<Arc<Mock>>,
    headers: axum::http::HeaderMap,
    body: String,
) -> Response {
    let Ok(value) = serde_json::from_str::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "body is not JSON");
    };
    mock.record("/v1/responses/input_tokens", &value);
    let model = value["model"].as_str().unwrap_or_default();
    for refused in ["stream", "store", "max_output_tokens", "temperature", "top_p"] {
        if value.get(refused).is_some() {
            return error(StatusCode::BAD_REQUEST, &format!("Unknown parameter: '{refused}'."));
        }
    }
    if let Err(message) = read(&Incoming { body: &value, model, headers: &headers }) {
        return error(StatusCode::BAD_REQUEST, &message);
    }
    json_response(
        StatusCode::OK,
        json!({"object": "response.input_tokens", "input_tokens": crate::counted(&body)}),
    )
}
