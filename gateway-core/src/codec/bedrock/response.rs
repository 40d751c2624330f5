//! Converse responses ⇄ canonical.

use serde_json::{Value, json};

use crate::canonical::{Block, FinishReason, Response, Usage};
use crate::codec::upstream_json;
use crate::provider::Protocol;
use crate::upstream::UpstreamError;

pub(super) fn finish_reason(s: &str) -> FinishReason {
    match s {
        "end_turn" => FinishReason::Stop,
        "max_tokens" | "model_context_window_exceeded" => FinishReason::Length,
        "stop_sequence" => FinishReason::StopSequence,
        "tool_use" => FinishReason::ToolCalls,
        "guardrail_intervened" | "content_filtered" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_owned()),
    }
}

pub(super) fn stop_reason(f: &FinishReason) -> &str {
    match f {
        FinishReason::Stop => "end_turn",
        FinishReason::Length => "max_tokens",
        FinishReason::StopSequence => "stop_sequence",
        FinishReason::ToolCalls => "tool_use",
        FinishReason::ContentFilter => "content_filtered",
        FinishReason::Other(s) => s,
    }
}

/// Converse `usage`: `inputTokens` leaves out what was read from and written to the cache (as
/// Anthropic counts), so canonical input adds them back.
pub(super) fn usage(v: &Value) -> Usage {
    let n = |k: &str| v[k].as_i64();
    let (read, write) = (n("cacheReadInputTokens"), n("cacheWriteInputTokens"));
    let input = n("inputTokens").map(|i| i + read.unwrap_or(0) + write.unwrap_or(0));
    Usage { input, output: n("outputTokens"), cached: read, cache_write: write, reasoning: None }
}

pub(super) fn usage_json(u: &Usage) -> Value {
    let input = u.uncached_input();
    let output = u.output.unwrap_or(0);
    let mut v = json!({"inputTokens": input, "outputTokens": output,
        "totalTokens": u.input.unwrap_or(0) + output});
    if let Some(read) = u.cached {
        v["cacheReadInputTokens"] = read.into();
    }
    if let Some(write) = u.cache_write {
        v["cacheWriteInputTokens"] = write.into();
    }
    v
}

/// Only the usage of an answer (the rest of the body is skipped, not read into a tree).
pub fn decode_usage(body: &[u8]) -> Result<Usage, UpstreamError> {
    #[derive(serde::Deserialize)]
    struct Only {
        #[serde(default)]
        usage: Value,
    }
    let only: Only = upstream_json(body)?;
    Ok(usage(&only.usage))
}

pub fn decode_response(body: &[u8]) -> Result<Response, UpstreamError> {
    let value: Value = upstream_json(body)?;
    let Some(content) = value["output"]["message"]["content"].as_array() else {
        return Err(UpstreamError::InvalidResponse(
            "a Converse answer has output.message.content".into(),
        ));
    };
    let mut blocks = Vec::with_capacity(content.len());
    for part in content {
        let decoded = super::request::decode_block(part)
            .map_err(|e| UpstreamError::InvalidResponse(e.to_string()))?;
        blocks.extend(decoded);
    }
    Ok(Response {
        // Converse answers carry neither an id nor the model; the dispatcher names the model.
        id: String::new(),
        model: String::new(),
        created: 0,
        content: blocks,
        finish: value["stopReason"].as_str().map_or(FinishReason::Stop, finish_reason),
        usage: usage(&value["usage"]),
    })
}

pub fn encode_response(r: &Response) -> Value {
    let content: Vec<Value> = r
        .content
        .iter()
        .filter_map(|b| match b {
            Block::Thinking { text, seal } => {
                let signature = seal.as_ref().map(|s| s.present(Protocol::BedrockConverse, text));
                let mut reasoning = json!({"text": text});
                if let Some(signature) = signature {
                    reasoning["signature"] = signature.into();
                }
                Some(json!({"reasoningContent": {"reasoningText": reasoning}}))
            }
            other => super::request::block(other).ok().flatten(),
        })
        .collect();
    json!({
        "output": {"message": {"role": "assistant", "content": content}},
        "stopReason": stop_reason(&r.finish),
        "usage": usage_json(&r.usage),
        "metrics": {"latencyMs": 0},
    })
}
