//! OpenAI Chat Completions (`/chat/completions`), also spoken by DeepSeek, Groq, Mistral, xAI,
//! OpenRouter, vLLM, Ollama and most other vendors.
//!
//! | canonical | Chat Completions | |
//! |---|---|---|
//! | `system` | leading `system` and `developer` messages | mapped (encoded as `system`) |
//! | mid-conversation system messages | `system`/`developer` messages after the first turn | kept in place |
//! | text, image (URL or `data:`) | `content` string or `text` / `image_url` parts | mapped |
//! | tool call | assistant `tool_calls[]` (`function`) | mapped |
//! | tool result | `tool` role message (`tool_call_id`) | mapped; images in results become text-only |
//! | thinking | `reasoning_content` (DeepSeek style) on responses and deltas | decoded from responses; dropped from requests (DeepSeek rejects it in history); Chat has no place for sealed reasoning, so another upstream's seals do not reach Chat callers |
//! | tools, tool choice, parallel calls | `tools[].function`, `tool_choice`, `parallel_tool_calls` | mapped; Responses callers' custom tools become functions with one string argument `input`, namespaced ones `namespace__name`; other protocols' hosted tools are dropped (named in `x-gateway-dropped-tools`) |
//! | max tokens | `max_completion_tokens` or `max_tokens` | decoded from either; encoded as `max_tokens` (widest support) or, where the provider's `quirks.max_tokens_field` or the model's `capabilities.max_tokens_field` says so (OpenAI, Azure: their reasoning models refuse `max_tokens`), `max_completion_tokens`; capped at the model's `max_output_tokens` |
//! | stop, temperature, top_p, user | same names | mapped |
//! | response format | `response_format` (`json_object`, `json_schema`) | mapped |
//! | reasoning effort | `reasoning_effort` | mapped; a budget becomes an effort (≤ 2048 low, ≤ 12000 medium, above high); left out for a model whose `capabilities.reasoning` is `false` |
//! | usage | `usage` incl. `prompt_tokens_details.{cached_tokens, cache_write_tokens}`, `completion_tokens_details.reasoning_tokens` | mapped; `prompt_tokens` counts cache reads and writes too; the details are written whenever the upstream reported cache figures |
//! | prompt caching | `prompt_cache_key`, `prompt_cache_retention` | the key kept for OpenAI upstreams; either field asks an Anthropic upstream to cache the conversation (top-level `cache_control`, `24h` retention as a `1h` TTL); Gemini caches by itself (nothing sent) |
//! | — | every other field (`logprobs`, `seed`, `logit_bias`, penalties, `prediction`, …) | kept as `Request::extra` ([`MAPPED`] lists what is mapped): sent as it came to a Chat upstream, dropped when translating and named in `x-gateway-dropped-fields`; `n > 1`, audio output and the legacy `functions` / `function_call` are never translated away (only Chat targets; else 400 naming the field) |

mod request;
mod response;
mod stream;
mod wire;

pub use request::{decode_request, encode_request};

/// The request's top-level fields the decoder maps into the canonical request.
pub const MAPPED: &[&str] = &[
    "model",
    "messages",
    "tools",
    "tool_choice",
    "parallel_tool_calls",
    "max_tokens",
    "max_completion_tokens",
    "temperature",
    "top_p",
    "stop",
    "response_format",
    "reasoning_effort",
    "stream",
    "stream_options",
    "user",
    "prompt_cache_key",
    "prompt_cache_retention",
];
pub use response::{decode_response, decode_usage, encode_response, finish_reason, finish_str};
pub use stream::{ChatStreamDecoder, ChatStreamEncoder};
