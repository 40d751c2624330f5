//! Gemini responses ⇄ canonical.

use serde_json::{Value, json};

use super::request::{CallIds, decode_parts, sealed_parts};
use super::wire::GenerateResponse;
use crate::canonical::{Block, FinishReason, Response, Seal, Usage, arguments_object};
use crate::codec::upstream_json;
use crate::provider::Protocol;
use crate::upstream::UpstreamError;

pub(super) fn finish_reason(s: &str, has_calls: bool) -> FinishReason {
    match s {
        "STOP" if has_calls => FinishReason::ToolCalls,
        "STOP" | "FINISH_REASON_UNSPECIFIED" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" | "IMAGE_SAFETY" => {
            FinishReason::ContentFilter
        }
        "MALFORMED_FUNCTION_CALL" => FinishReason::Other("malformed_function_call".into()),
        other => FinishReason::Other(other.to_ascii_lowercase()),
    }
}

/// A canonical finish as Gemini's `finishReason` (tool calls finish with `STOP` there).
pub(super) fn finish_str(f: &FinishReason) -> &'static str {
    match f {
        FinishReason::Stop | FinishReason::StopSequence | FinishReason::ToolCalls => "STOP",
        FinishReason::Length => "MAX_TOKENS",
        FinishReason::ContentFilter => "SAFETY",
        FinishReason::Other(s) if s == "malformed_function_call" => "MALFORMED_FUNCTION_CALL",
        FinishReason::Other(_) => "OTHER",
    }
}

/// Only the usage of an answer (see [`crate::codec::usage_only`]).
pub fn decode_usage(body: &[u8]) -> Result<Usage, UpstreamError> {
    crate::codec::usage_only::<super::wire::UsageMetadata>(body)
}

pub fn decode_response(body: &[u8], call_ids: &str) -> Result<Response, UpstreamError> {
    let wire: GenerateResponse = upstream_json(body)?;
    let mut ids = CallIds::new(call_ids);
    let candidate = wire.candidates.into_iter().next();
    let finish = candidate.as_ref().and_then(|c| c.finish_reason.clone());
    let content = candidate.map(|c| decode_parts(c.content, &mut ids)).unwrap_or_default();
    let has_calls = content.iter().any(|b| matches!(b, Block::ToolCall { .. }));
    Ok(Response {
        id: wire.response_id.unwrap_or_default(),
        model: wire.model_version.unwrap_or_default(),
        created: 0,
        content,
        finish: finish.as_deref().map_or(FinishReason::Stop, |f| finish_reason(f, has_calls)),
        usage: wire.usage_metadata.map(Usage::from).unwrap_or_default(),
    })
}

/// `usageMetadata`: canonical output counts thoughts too, Gemini's candidates do not.
pub(super) fn usage_json(u: &Usage) -> Value {
    let input = u.input.unwrap_or(0);
    let output = u.output.unwrap_or(0);
    let thoughts = u.reasoning.unwrap_or(0).min(output);
    let mut v = json!({"promptTokenCount": input, "candidatesTokenCount": output - thoughts,
        "totalTokenCount": input + output});
    if let Some(c) = u.cached {
        v["cachedContentTokenCount"] = c.into();
    }
    if u.reasoning.is_some() {
        v["thoughtsTokenCount"] = thoughts.into();
    }
    v
}

/// A block as a part of a Gemini answer (tool results and images are not answers; thinking is a
/// thought part, its seal placed by [`super::request::sealed_parts`]).
pub(super) fn part_json(b: &Block) -> Option<Value> {
    Some(match b {
        Block::Text(t) => json!({"text": t}),
        Block::Thinking { text, .. } => json!({"text": text, "thought": true}),
        Block::ToolCall { id, name, arguments } => {
            json!({"functionCall": {"id": id, "name": name, "args": arguments_object(arguments)}})
        }
        Block::Image(_) | Block::ToolResult { .. } => return None,
    })
}

/// One `GenerateContentResponse` (a whole answer, or one chunk of a stream).
pub(super) fn chunk_json(
    id: &str,
    model: &str,
    parts: Vec<Value>,
    finish: Option<&FinishReason>,
    usage: Option<&Usage>,
) -> Value {
    let mut candidate = json!({"content": {"role": "model", "parts": parts}, "index": 0});
    if let Some(f) = finish {
        candidate["finishReason"] = finish_str(f).into();
    }
    let mut v = json!({"candidates": [candidate], "modelVersion": model, "responseId": id});
    if let Some(u) = usage {
        v["usageMetadata"] = usage_json(u);
    }
    v
}

pub fn encode_response(r: &Response) -> Value {
    let seal = |s: &Seal, text: &str| Some(s.present(Protocol::Gemini, text));
    let parts = sealed_parts(&r.content, part_json, seal, true);
    chunk_json(&r.id, &r.model, parts, Some(&r.finish), Some(&r.usage))
}
