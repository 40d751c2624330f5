//! Anthropic Messages (`/messages`).
//!
//! | canonical | Messages | |
//! |---|---|---|
//! | `system` | `system` (string or text blocks) | mapped (parts joined by blank lines; kept as blocks when a breakpoint marks one; non-text system blocks are refused, as the API refuses them) |
//! | prompt-cache breakpoints | `cache_control` (`ephemeral`, `ttl` `5m`/`1h`) on system blocks, tools and message blocks; top-level `cache_control` | mapped by position both ways, and moved with their parts by prompt rules and isolation; checked as the API checks them (type, TTL, at most 4: a 400 naming the field); none on thinking blocks; an OpenAI caller's `prompt_cache_key` becomes the top-level one; other upstreams cache by themselves, so nothing is sent there |
//! | mid-conversation system messages | `messages[].role: "system"` (a beta Claude Code uses) | decoded in place; encoded into `system` after the opening instructions (position lost; the stable API has no other place) |
//! | text, image | `text`, `image` (`base64` or `url` source) | mapped; empty text blocks are never sent |
//! | tool call | `tool_use` (`input` object) | mapped; arguments that are not a JSON object become `{}` |
//! | tool result | `tool_result` (`content` string or blocks, `is_error`) | mapped |
//! | thinking | `thinking` with `signature`, `redacted_thinking` | mapped with its seal: Anthropic's own goes back to an Anthropic upstream as it came; another protocol's sealed reasoning reaches the caller wrapped in `signature` (with its text) and goes back to its own upstream; redacted thinking reaches a translated caller as a thinking block with a wrapped signature; thinking Anthropic cannot read is dropped from requests (the API refuses it) |
//! | tools, tool choice | `tools[].input_schema`; `tool_choice` `auto`/`any`/`tool`/`none` | mapped; custom and namespaced tools of Responses callers become plain tools (`input` string / `namespace__function`) |
//! | hosted tools | Anthropic's own tool types (`web_search_…`, `code_execution_…`, …) | kept for an Anthropic upstream; dropped elsewhere (named in `x-gateway-dropped-tools`; 400 when `tool_choice` forces one) |
//! | parallel tool calls | `tool_choice.disable_parallel_tool_use` | mapped |
//! | max tokens | `max_tokens` (required) | mapped; the model's max output or 4096 when the caller gave none |
//! | stop | `stop_sequences` | mapped |
//! | temperature, top_p | same | mapped |
//! | reasoning | `thinking: {type: enabled, budget_tokens}` / `{type: adaptive}` (+ `display`), `output_config.effort` | decoded: budget, adaptive, effort, display (`omitted` is a hidden summary); encoded: adaptive as adaptive (with `output_config.effort` when there is one), otherwise a budget (an effort becomes one: low 1024, medium 4096, high 16384) clamped to leave 1024 tokens of `max_tokens` for the answer, `display: omitted` when hidden; left out for a model whose `capabilities.reasoning` is `false` and when Anthropic would refuse it: forced tool use, `max_tokens` under 2048, or a tool loop being continued (the request ends with tool results) whose assistant turn has no Anthropic-signed thinking; with thinking on, `temperature`/`top_p` are dropped |
//! | response format | `output_config.format` (`json_schema` with `schema`) | mapped: a JSON schema both ways (decoded without a name or `strict`; encoded with every object closed — `additionalProperties: false`, which the API requires — and without the numeric, string and array-size constraints it does not enforce); `json_object` has no equivalent and is dropped |
//! | user | `metadata.user_id` | mapped |
//! | usage | `input_tokens` + `cache_read_input_tokens` + `cache_creation_input_tokens`, `output_tokens` (`output_tokens_details.thinking_tokens`) | canonical input counts cache reads and writes too (as OpenAI does); re-split when encoding, both cache fields always written; thinking tokens are reasoning; a stream's `message_start` carries the upstream's input usage when it came with the start |
//! | finish | `stop_reason` `end_turn`/`max_tokens`/`stop_sequence`/`tool_use`/`refusal` | mapped |
//! | — | every other field (`top_k`, `context_management`, `service_tier`, …), documents, tools' `defer_loading` | the fields kept as `Request::extra` ([`MAPPED`] lists what is mapped): sent as they came to an Anthropic upstream (with the caller's `anthropic-beta`), dropped when translating and named in `x-gateway-dropped-fields`; `thread` is dropped from a thread's first request (which carries the whole conversation), while a continued thread, `mcp_servers` and `container` are never translated away (a continue is answered `thread_not_found`, the others 400) |
//! | message id | `msg_…` | translated answers get `msg_` before the upstream's id (the SDKs use it as `previous_message_id`) |

/// The `anthropic_version` Claude on Vertex AI is asked with (in the body; the model is in the path).
pub const VERTEX_VERSION: &str = "vertex-2023-10-16";

mod request;
mod response;
mod schema;
mod stream;
mod wire;

pub use request::{decode_request, encode_request};

/// The request's top-level fields the decoder maps into the canonical request.
pub const MAPPED: &[&str] = &[
    "model",
    "max_tokens",
    "system",
    "messages",
    "tools",
    "tool_choice",
    "stop_sequences",
    "temperature",
    "top_p",
    "thinking",
    "output_config",
    "stream",
    "metadata",
    "cache_control",
];
pub use response::{decode_response, decode_usage, encode_response};
pub use stream::{MessagesStreamDecoder, MessagesStreamEncoder};
