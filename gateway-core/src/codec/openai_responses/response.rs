//! Responses responses ⇄ canonical, and the response object the stream encoder reuses.

use serde_json::{Value, json};

use super::wire::{Item, ItemContent, WireResponse};
use crate::canonical::{
    Block, FinishReason, NAMESPACE_SEPARATOR, Response, ToolKind, Usage, arguments_object,
};
use crate::codec::{ClientView, upstream_json};
use crate::provider::Protocol;
use crate::upstream::UpstreamError;

/// Only the usage of an answer (see [`crate::codec::usage_only`]).
pub fn decode_usage(body: &[u8]) -> Result<Usage, UpstreamError> {
    crate::codec::usage_only::<super::wire::WireUsage>(body)
}

pub fn decode_response(body: &[u8]) -> Result<Response, UpstreamError> {
    let wire: WireResponse = upstream_json(body)?;
    let mut content = Vec::new();
    for item in wire.output {
        content.extend(decode_output_item(item));
    }
    let has_calls = content.iter().any(|b| matches!(b, Block::ToolCall { .. }));
    let reason = wire.incomplete_details.and_then(|d| d.reason);
    Ok(Response {
        id: wire.id,
        model: wire.model,
        created: wire.created_at,
        content,
        finish: finish(wire.status.as_deref(), reason.as_deref(), has_calls),
        usage: wire.usage.map(Usage::from).unwrap_or_default(),
    })
}

pub(super) fn finish(
    status: Option<&str>,
    incomplete: Option<&str>,
    has_calls: bool,
) -> FinishReason {
    match (status, incomplete) {
        (Some("incomplete"), Some("max_output_tokens")) => FinishReason::Length,
        (Some("incomplete"), Some("content_filter")) => FinishReason::ContentFilter,
        _ if has_calls => FinishReason::ToolCalls,
        _ => FinishReason::Stop,
    }
}

pub(super) fn decode_output_item(item: Item) -> Vec<Block> {
    match item.kind.as_deref() {
        Some("message") | None => match item.content {
            Some(ItemContent::Text(t)) => vec![Block::Text(t)],
            Some(ItemContent::Parts(parts)) => {
                parts.into_iter().filter_map(|p| p.text.or(p.refusal)).map(Block::Text).collect()
            }
            None => vec![],
        },
        Some("function_call") => {
            let name = item.name.unwrap_or_default();
            vec![Block::ToolCall {
                id: item.call_id.unwrap_or_default(),
                name: match item.namespace {
                    Some(ns) => format!("{ns}{NAMESPACE_SEPARATOR}{name}"),
                    None => name,
                },
                arguments: item.arguments.unwrap_or_default(),
            }]
        }
        Some("custom_tool_call") => vec![Block::ToolCall {
            id: item.call_id.unwrap_or_default(),
            name: item.name.unwrap_or_default(),
            arguments: json!({"input": item.input.unwrap_or_default()}).to_string(),
        }],
        Some("reasoning") => super::request::reasoning_block(item).into_iter().collect(),
        Some(_) => vec![],
    }
}

/// The output item for block number `n` of a response, complete. Calls of the caller's custom
/// and namespaced tools come back in their own item shapes.
pub(super) fn item_json(n: usize, block: &Block, client: &ClientView) -> Option<Value> {
    Some(match block {
        Block::Text(t) => {
            json!({"type": "message", "id": format!("msg_{n}"), "status": "completed",
            "role": "assistant", "content": [{"type": "output_text", "text": t, "annotations": []}]})
        }
        Block::ToolCall { id, name, arguments } => match client.tool_kind(name) {
            Some(ToolKind::Custom { .. }) => {
                let input =
                    arguments_object(arguments)["input"].as_str().unwrap_or_default().to_owned();
                json!({"type": "custom_tool_call", "id": format!("ctc_{n}"), "call_id": id,
                    "name": name, "input": input, "status": "completed"})
            }
            Some(ToolKind::Namespaced { namespace, function, .. }) => {
                json!({"type": "function_call", "id": format!("fc_{n}"), "call_id": id,
                    "name": function, "namespace": namespace, "arguments": arguments, "status": "completed"})
            }
            _ => json!({"type": "function_call", "id": format!("fc_{n}"),
                "call_id": id, "name": name, "arguments": arguments, "status": "completed"}),
        },
        Block::Thinking { text, seal } => {
            let mut item = json!({"type": "reasoning", "id": format!("rs_{n}"),
                "summary": [{"type": "summary_text", "text": text}]});
            if let Some(seal) = seal {
                item["encrypted_content"] = seal.present(Protocol::OpenaiResponses, text).into();
            }
            item
        }
        Block::Image(_) | Block::ToolResult { .. } => return None,
    })
}

pub(super) fn usage_json(u: &Usage) -> Value {
    let input = u.input.unwrap_or(0);
    let output = u.output.unwrap_or(0);
    json!({
        "input_tokens": input,
        "input_tokens_details": {"cached_tokens": u.cached.unwrap_or(0),
            "cache_write_tokens": u.cache_write.unwrap_or(0)},
        "output_tokens": output,
        "output_tokens_details": {"reasoning_tokens": u.reasoning.unwrap_or(0)},
        "total_tokens": input + output,
    })
}

/// A whole response object; `output` is given as items.
pub(super) fn response_json(
    id: &str,
    model: &str,
    created: i64,
    output: Vec<Value>,
    finish: Option<(&FinishReason, &Usage)>,
) -> Value {
    let (status, incomplete) = match finish.map(|f| f.0) {
        None => ("in_progress", Value::Null),
        Some(FinishReason::Length) => ("incomplete", json!({"reason": "max_output_tokens"})),
        Some(FinishReason::ContentFilter) => ("incomplete", json!({"reason": "content_filter"})),
        Some(_) => ("completed", Value::Null),
    };
    json!({
        "id": id, "object": "response", "created_at": created, "status": status, "model": model,
        "output": output, "error": null, "incomplete_details": incomplete, "instructions": null,
        "metadata": {}, "parallel_tool_calls": true, "temperature": null, "top_p": null,
        "tool_choice": "auto", "tools": [],
        "usage": finish.map_or(Value::Null, |f| usage_json(f.1)),
    })
}

pub fn encode_response(r: &Response, client: &ClientView) -> Value {
    let output: Vec<Value> =
        r.content.iter().enumerate().filter_map(|(n, b)| item_json(n, b, client)).collect();
    response_json(&r.id, &r.model, r.created, output, Some((&r.finish, &r.usage)))
}
