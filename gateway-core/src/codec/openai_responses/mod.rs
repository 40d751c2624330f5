//! OpenAI Responses (`/responses`).
//!
//! | canonical | Responses | |
//! |---|---|---|
//! | `system` | `instructions`; leading `system`/`developer` input messages | mapped (encoded as `instructions`) |
//! | mid-conversation system messages | `system`/`developer` messages after the conversation started | kept in place (encoded as `system`, or `developer` with relay isolation) |
//! | text, image | `input_text`/`output_text`, `input_image` (`image_url`, incl. `data:`) | mapped |
//! | tool call | `function_call` item (`call_id`, `name`, `arguments`, `namespace`); `custom_tool_call` (`input`) | mapped; a namespaced call is `namespace__name` elsewhere, a custom call `{"input": "…"}`; both come back to the caller in their own item shapes (streams: `custom_tool_call_input.delta/done`) |
//! | tool result | `function_call_output` / `custom_tool_call_output` item (`output` string or content parts) | mapped; images in results become text-only |
//! | thinking | `reasoning` item (`summary[].text`, `encrypted_content`) | decoded with its seal; encoded to a Responses upstream only with OpenAI's own encrypted content (a summary alone cannot go back without storage); another protocol's sealed reasoning reaches the caller wrapped in `encrypted_content` (with its text) and goes back to its own upstream |
//! | tools, tool choice, parallel calls | `tools[]` of `type: function`, `custom` (freeform text, optional grammar), `namespace` (a group of functions), `tool_choice`, `parallel_tool_calls` | mapped; to other protocols a custom tool is a function with one string argument `input` (its grammar added to the description), a namespace's functions are flattened to `namespace__name` |
//! | hosted tools | `web_search`, `file_search`, `code_interpreter`, `tool_search`, `image_generation`, `mcp`, … | kept for a Responses upstream; dropped elsewhere (named in `x-gateway-dropped-tools`; 400 when `tool_choice` forces one); input items that only record their work (`web_search_call`, …) are dropped too |
//! | max tokens | `max_output_tokens` | mapped |
//! | temperature, top_p, user | same | mapped |
//! | stop | — | dropped (no equivalent) |
//! | response format | `text.format` (`json_object`, `json_schema`) | mapped |
//! | reasoning | `reasoning.effort`, `reasoning.summary`; `include: ["reasoning.encrypted_content"]` | mapped; a budget becomes an effort; a hidden summary is not asked for; whenever reasoning is asked for, the encrypted content is too, so the next turn can give it back; nothing of it for a model whose `capabilities.reasoning` is `false` |
//! | usage | `input_tokens(_details.{cached_tokens, cache_write_tokens})`, `output_tokens(_details.reasoning_tokens)` | mapped; every detail is always written (the openai SDK's types require them) |
//! | prompt caching | `prompt_cache_key`, `prompt_cache_retention` | as in Chat Completions: the key kept for OpenAI upstreams, caching of the conversation asked of Anthropic |
//! | finish | `status` + `incomplete_details.reason`; `function_call` items mean tool calls | mapped |
//! | — | every other field (`store`, `include`, `truncation`, `metadata`, `client_metadata`, …; `text.verbosity`) | kept as `Request::extra` ([`MAPPED`] lists what is mapped): sent as they came to a Responses upstream, dropped when translating and named in `x-gateway-dropped-fields`; `store` is sent as `false`; `previous_response_id`, `conversation`, `prompt` and `background` are never translated away (400 naming the field), and an `item_reference` input (stored state) is refused with 400 |

mod request;
mod response;
mod stream;
mod wire;

pub use request::{decode_request, encode_request};

/// The request's top-level fields the decoder maps into the canonical request.
pub const MAPPED: &[&str] = &[
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
    "user",
    "prompt_cache_key",
    "prompt_cache_retention",
];
pub use response::{decode_response, decode_usage, encode_response};
pub use stream::{ResponsesStreamDecoder, ResponsesStreamEncoder};
