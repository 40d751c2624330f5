//! Messages responses ⇄ canonical.

use serde_json::{Value, json};

use super::request::{decode_block, encode_block};
use super::wire::WireResponse;
use crate::canonical::{Block, FinishReason, Response, Usage};
use crate::codec::upstream_json;
use crate::provider::Protocol;
use crate::upstream::UpstreamError;

pub(super) fn finish_reason(s: &str) -> FinishReason {
    match s {
        "end_turn" | "pause_turn" => FinishReason::Stop,
        "max_tokens" => FinishReason::Length,
        "stop_sequence" => FinishReason::StopSequence,
        "tool_use" => FinishReason::ToolCalls,
        "refusal" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

pub(super) fn stop_reason(f: &FinishReason) -> &str {
    match f {
        FinishReason::Stop => "end_turn",
        FinishReason::Length => "max_tokens",
        FinishReason::StopSequence => "stop_sequence",
        FinishReason::ToolCalls => "tool_use",
        FinishReason::ContentFilter => "refusal",
        FinishReason::Other(s) => s,
    }
}

/// `usage` in Messages shape: input without the parts read from and written to the cache, which
/// are reported on their own; thinking tokens as `output_tokens_details.thinking_tokens`.
pub(super) fn usage_json(u: &Usage) -> Value {
    let mut v = json!({
        "input_tokens": u.uncached_input(),
        "cache_creation_input_tokens": u.cache_write.unwrap_or(0),
        "cache_read_input_tokens": u.cached.unwrap_or(0),
        "output_tokens": u.output.unwrap_or(0),
    });
    if let Some(r) = u.reasoning {
        v["output_tokens_details"] = json!({"thinking_tokens": r.min(u.output.unwrap_or(0))});
    }
    v
}

/// Only the usage of an answer (see [`crate::codec::usage_only`]).
pub fn decode_usage(body: &[u8]) -> Result<Usage, UpstreamError> {
    crate::codec::usage_only::<super::wire::WireUsage>(body)
}

pub fn decode_response(body: &[u8]) -> Result<Response, UpstreamError> {
    let wire: WireResponse = upstream_json(body)?;
    Ok(Response {
        id: wire.id,
        model: wire.model,
        created: 0,
        content: wire.content.into_iter().filter_map(decode_block).collect(),
        finish: wire.stop_reason.as_deref().map_or(FinishReason::Stop, finish_reason),
        usage: wire.usage.map(Usage::from).unwrap_or_default(),
    })
}

/// A message id as Anthropic's are (`msg_…`): an answer from another protocol keeps its own id
/// behind the prefix (the SDKs use it as the next turn's `previous_message_id`).
pub(super) fn message_id(id: &str) -> String {
    if id.starts_with("msg_") { id.to_owned() } else { format!("msg_{id}") }
}

pub fn encode_response(r: &Response) -> Value {
    let content: Vec<Value> = r
        .content
        .iter()
        .filter_map(|b| match b {
            // Reasoning from another protocol's upstream (or redacted) travels wrapped in the
            // signature; one that does not seal it has an empty signature.
            Block::Thinking { text, seal } => {
                let signature = seal
                    .as_ref()
                    .map(|s| s.present(Protocol::AnthropicMessages, text))
                    .unwrap_or_default();
                Some(json!({"type": "thinking", "thinking": text, "signature": signature}))
            }
            other => encode_block(other),
        })
        .collect();
    json!({
        "id": message_id(&r.id),
        "type": "message",
        "role": "assistant",
        "model": r.model,
        "content": content,
        "stop_reason": stop_reason(&r.finish),
        "stop_sequence": null,
        "usage": usage_json(&r.usage),
    })
}
