//! Chat Completions responses ⇄ canonical.

use serde_json::{Value, json};

use super::wire::Completion;
use crate::canonical::{Block, FinishReason, Response, Usage};
use crate::codec::upstream_json;
use crate::upstream::UpstreamError;

pub fn finish_reason(s: &str) -> FinishReason {
    match s {
        "stop" => FinishReason::Stop,
        "length" => FinishReason::Length,
        "tool_calls" | "function_call" => FinishReason::ToolCalls,
        "content_filter" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

pub fn finish_str(f: &FinishReason) -> &str {
    match f {
        FinishReason::Stop | FinishReason::StopSequence => "stop",
        FinishReason::Length => "length",
        FinishReason::ToolCalls => "tool_calls",
        FinishReason::ContentFilter => "content_filter",
        FinishReason::Other(s) => s,
    }
}

/// Only the usage of an answer (see [`crate::codec::usage_only`]).
pub fn decode_usage(body: &[u8]) -> Result<Usage, UpstreamError> {
    crate::codec::usage_only::<super::wire::Usage>(body)
}

/// Decodes an answer; calls without ids (some compatible servers) get `{call_ids}_{n}`.
pub fn decode_response(body: &[u8], call_ids: &str) -> Result<Response, UpstreamError> {
    let completion: Completion = upstream_json(body)?;
    let choice = completion
        .choices
        .into_iter()
        .next()
        .ok_or_else(|| UpstreamError::InvalidResponse("completion without choices".into()))?;
    let mut content = Vec::new();
    if let Some(thinking) = choice.message.reasoning_content.filter(|t| !t.is_empty()) {
        content.push(Block::Thinking { text: thinking, seal: None });
    }
    match choice.message.content {
        Some(super::wire::Content::Text(t)) if !t.is_empty() => content.push(Block::Text(t)),
        Some(super::wire::Content::Parts(parts)) => {
            content.extend(parts.into_iter().filter_map(|p| p.text.map(Block::Text)))
        }
        _ => {}
    }
    for (i, call) in choice.message.tool_calls.unwrap_or_default().into_iter().enumerate() {
        content.push(Block::ToolCall {
            id: call.id.filter(|i| !i.is_empty()).unwrap_or_else(|| format!("{call_ids}_{i}")),
            name: call.function.name,
            arguments: call.function.arguments,
        });
    }
    Ok(Response {
        id: completion.id,
        model: completion.model,
        created: completion.created,
        content,
        finish: choice.finish_reason.as_deref().map_or(FinishReason::Stop, finish_reason),
        usage: completion.usage.map(Usage::from).unwrap_or_default(),
    })
}

/// `usage` in Chat Completions shape.
pub(super) fn usage_json(u: &Usage) -> Value {
    let input = u.input.unwrap_or(0);
    let output = u.output.unwrap_or(0);
    let mut v = json!({"prompt_tokens": input, "completion_tokens": output, "total_tokens": input + output});
    if u.cached.is_some() || u.cache_write.is_some() {
        v["prompt_tokens_details"] = json!({"cached_tokens": u.cached.unwrap_or(0)});
        if let Some(w) = u.cache_write {
            v["prompt_tokens_details"]["cache_write_tokens"] = w.into();
        }
    }
    if let Some(r) = u.reasoning {
        v["completion_tokens_details"] = json!({"reasoning_tokens": r});
    }
    v
}

/// The `tool_calls` array for the tool-call blocks among `blocks`.
pub(super) fn tool_calls_json(blocks: &[Block]) -> Vec<Value> {
    blocks
        .iter()
        .filter_map(|b| match b {
            Block::ToolCall { id, name, arguments } => {
                let arguments = if arguments.is_empty() { "{}" } else { arguments };
                Some(json!({"id": id, "type": "function",
                    "function": {"name": name, "arguments": arguments}}))
            }
            _ => None,
        })
        .collect()
}

pub fn encode_response(r: &Response) -> Value {
    let text: String = r
        .content
        .iter()
        .filter_map(|b| if let Block::Text(t) = b { Some(t.as_str()) } else { None })
        .collect();
    let thinking: String = r
        .content
        .iter()
        .filter_map(
            |b| if let Block::Thinking { text, .. } = b { Some(text.as_str()) } else { None },
        )
        .collect();
    let calls = tool_calls_json(&r.content);
    let mut message = json!({"role": "assistant", "content": if text.is_empty() && !calls.is_empty() { Value::Null } else { text.into() }});
    if !thinking.is_empty() {
        message["reasoning_content"] = thinking.into();
    }
    if !calls.is_empty() {
        message["tool_calls"] = calls.into();
    }
    json!({
        "id": r.id,
        "object": "chat.completion",
        "created": r.created,
        "model": r.model,
        "choices": [{"index": 0, "message": message, "logprobs": null, "finish_reason": finish_str(&r.finish)}],
        "usage": usage_json(&r.usage),
    })
}
