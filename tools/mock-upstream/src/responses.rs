//! OpenAI Responses, as the API reference describes it.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use crate::{Answer, Mock, Seen, USAGE_CACHED, USAGE_INPUT, USAGE_OUTPUT};
use crate::{json_pieces, json_response, prepare, sse_event, sse_response, text_of, text_pieces};

const PARAMS: [&str; 21] = [
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
];

fn error(status: StatusCode, message: &str) -> Response {
    json_response(
        status,
        json!({"error": {"message": message, "type": "invalid_request_error", "param": null, "code": null}}),
    )
}

fn read(body: &Value) -> Result<Seen, String> {
    if let Some(unknown) = body
        .as_object()
        .into_iter()
        .flatten()
        .map(|(k, _)| k)
        .find(|k| !PARAMS.contains(&k.as_str()))
    {
        return Err(format!("Unknown parameter: '{unknown}'."));
    }
    let mut seen = Seen {
        system: body["instructions"].as_str().unwrap_or_default().to_owned(),
        ..Seen::default()
    };
    let mut calls = Vec::new();
    match &body["input"] {
        Value::String(s) => seen.user = s.clone(),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                match (item["type"].as_str().unwrap_or("message"), item["role"].as_str()) {
                    ("message", Some("user")) => seen.user = text_of(&item["content"]),
                    ("message", Some("system" | "developer")) => {
                        seen.system = text_of(&item["content"])
                    }
                    ("message", Some("assistant")) => {}
                    ("function_call", _) => {
                        serde_json::from_str::<Value>(item["arguments"].as_str().unwrap_or(""))
                            .map_err(|_| format!("input[{i}].arguments must be JSON text"))?;
                        calls.push(item["call_id"].as_str().unwrap_or_default().to_owned());
                    }
                    ("function_call_output", _) => {
                        let id = item["call_id"].as_str().unwrap_or_default();
                        if !calls.iter().any(|c| c == id) {
                            return Err(format!(
                                "No tool call found for function call output with call_id {id}."
                            ));
                        }
                        seen.tool_results.push(
                            item["output"]
                                .as_str()
                                .ok_or(format!("input[{i}].output must be a string"))?
                                .to_owned(),
                        );
                    }
                    (kind, role) => {
                        return Err(format!("input[{i}]: unsupported item {kind} / {role:?}"));
                    }
                }
            }
        }
        _ => return Err("input is required".into()),
    }
    for tool in body["tools"].as_array().into_iter().flatten() {
        if tool["type"] != "function" || tool["name"].as_str().is_none() {
            return Err("tools[]: function tools need type and name".into());
        }
        seen.tools.push(tool["name"].as_str().unwrap_or_default().to_owned());
    }
    Ok(seen)
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
            .map(|(i, c)| {
                json!({"id": format!("fc_mock{i}"), "type": "function_call", "status": "completed",
                "call_id": c.id, "name": c.name, "arguments": c.args.to_string()})
            })
            .collect(),
    }
}

fn response(model: &str, status: &str, output: Vec<Value>) -> Value {
    let usage = if status == "completed" {
        json!({"input_tokens": USAGE_INPUT, "input_tokens_details": {"cached_tokens": USAGE_CACHED},
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

pub(crate) async fn handle(State(mock): State<Arc<Mock>>, body: String) -> Response {
    let (body, model, answer) =
        match prepare(&mock, "/v1/responses", &body, None, read, error).await {
            Ok(prepared) => prepared,
            Err(response) => return response,
        };
    if body["stream"] == true {
        return sse_response(&mock, stream(&model, &answer));
    }
    json_response(StatusCode::OK, response(&model, "completed", output_items(&answer)))
}

fn stream(model: &str, answer: &Answer) -> Vec<String> {
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
    match answer {
        Answer::Text(t) => {
            let mut added = items[0].clone();
            added["status"] = "in_progress".into();
            added["content"] = json!([]);
            ev(json!({"type": "response.output_item.added", "output_index": 0, "item": added}));
            ev(
                json!({"type": "response.content_part.added", "item_id": "msg_mock1", "output_index": 0,
                "content_index": 0, "part": {"type": "output_text", "text": "", "annotations": []}}),
            );
            for piece in text_pieces(t, model) {
                ev(
                    json!({"type": "response.output_text.delta", "item_id": "msg_mock1", "output_index": 0,
                    "content_index": 0, "delta": piece, "logprobs": []}),
                );
            }
            ev(
                json!({"type": "response.output_text.done", "item_id": "msg_mock1", "output_index": 0,
                "content_index": 0, "text": t, "logprobs": []}),
            );
            ev(
                json!({"type": "response.content_part.done", "item_id": "msg_mock1", "output_index": 0,
                "content_index": 0, "part": {"type": "output_text", "text": t, "annotations": []}}),
            );
            ev(json!({"type": "response.output_item.done", "output_index": 0, "item": items[0]}));
        }
        Answer::Calls(calls) => {
            for (i, (c, item)) in calls.iter().zip(&items).enumerate() {
                let mut added = item.clone();
                added["status"] = "in_progress".into();
                added["arguments"] = "".into();
                ev(json!({"type": "response.output_item.added", "output_index": i, "item": added}));
                for piece in json_pieces(&c.args) {
                    ev(
                        json!({"type": "response.function_call_arguments.delta", "item_id": item["id"],
                        "output_index": i, "delta": piece}),
                    );
                }
                ev(json!({"type": "response.function_call_arguments.done", "item_id": item["id"],
                    "output_index": i, "arguments": c.args.to_string()}));
                ev(json!({"type": "response.output_item.done", "output_index": i, "item": item}));
            }
        }
    }
    ev(json!({"type": "response.completed", "response": response(model, "completed", items)}));
    events
}
