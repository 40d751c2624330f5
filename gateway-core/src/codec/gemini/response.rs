//! Gemini responses → canonical.

use super::request::decode_parts;
use super::wire::GenerateResponse;
use crate::canonical::{Block, FinishReason, Response, Usage};
use crate::codec::upstream_json;
use crate::dispatch::upstream::UpstreamError;

pub fn finish_reason(s: &str, has_calls: bool) -> FinishReason {
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

/// Only the usage of an answer (see [`crate::codec::usage_only`]).
pub fn decode_usage(body: &[u8]) -> Result<Usage, UpstreamError> {
    crate::codec::usage_only::<super::wire::UsageMetadata>(body)
}

pub fn decode_response(body: &[u8]) -> Result<Response, UpstreamError> {
    let wire: GenerateResponse = upstream_json(body)?;
    let mut next_call = 0;
    let candidate = wire.candidates.into_iter().next();
    let finish = candidate.as_ref().and_then(|c| c.finish_reason.clone());
    let content = candidate.map(|c| decode_parts(c.content, &mut next_call)).unwrap_or_default();
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
