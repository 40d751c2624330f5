//! Amazon Bedrock Converse / ConverseStream (an upstream; its streams are AWS event-stream
//! binary messages, signed requests by SigV4 — see `cloud::sigv4`).
//!
//! | canonical | Converse | |
//! |---|---|---|
//! | `system` | `system[].text` | mapped; mid-conversation system messages join it (their position is lost) |
//! | text | `{text}` | mapped |
//! | image | `{image: {format, source: {bytes}}}` | base64 and `data:` URLs mapped (png, jpeg, gif, webp); a remote URL is refused (Converse takes bytes or S3 only) |
//! | tool call | `{toolUse: {toolUseId, name, input}}` | mapped |
//! | tool result | `{toolResult: {toolUseId, content: [{text} / {json} / {image}], status}}` | mapped; `json` content becomes its text; `status: error` is an error result |
//! | thinking | `{reasoningContent: {reasoningText: {text, signature}}}` / `{redactedContent}` | mapped with the seal (Bedrock's own seals go back to Bedrock only) |
//! | tools | `toolConfig.tools[].toolSpec {name, description, inputSchema.json}` | mapped; hosted tools of other protocols dropped |
//! | tool choice | `toolConfig.toolChoice` `auto` / `any` / `tool` | mapped; `none` has no Converse form: the tools stay, the choice is the model's |
//! | max tokens, temperature, top_p, stop | `inferenceConfig.maxTokens`, `temperature`, `topP`, `stopSequences` | mapped |
//! | reasoning | `additionalModelRequestFields.thinking` (Claude models) | budget or adaptive; an effort becomes a budget (low 1024, medium 8192, high 24576) below `maxTokens`; other model families get none |
//! | prompt caching | `{cachePoint: {type: default}}` after the marked system part, tool or block | mapped (TTL is Bedrock's default) |
//! | usage | `inputTokens` (+ `cacheReadInputTokens`, `cacheWriteInputTokens`), `outputTokens` | input counts cache reads and writes too, as canonical does |
//! | finish | `stopReason` | `end_turn`, `max_tokens`, `stop_sequence`, `tool_use`, `guardrail_intervened` / `content_filtered` (content filter) |
//! | — | response format, parallel-call switch, `user`, guardrails, documents, video | dropped (documents and video blocks in Converse requests too) |

mod eventstream;
mod request;
mod response;
mod stream;

pub use eventstream::EventStreamReader;
pub use request::{decode_request, encode_request, path};

/// The request's top-level fields the decoder maps into the canonical request.
pub const MAPPED: &[&str] = &[
    "modelId",
    "system",
    "messages",
    "inferenceConfig",
    "toolConfig",
    "additionalModelRequestFields",
];
pub use response::{decode_response, decode_usage, encode_response};
pub use stream::{ConverseStreamDecoder, ConverseStreamEncoder};
