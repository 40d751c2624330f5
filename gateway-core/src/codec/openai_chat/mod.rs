//! OpenAI Chat Completions (`/chat/completions`), also spoken by DeepSeek, Groq, Mistral, xAI,
//! OpenRouter, vLLM, Ollama and most other vendors.
//!
//! | canonical | Chat Completions | |
//! |---|---|---|
//! | `system` | `system` and `developer` messages | mapped (encoded as `system`) |
//! | text, image (URL or `data:`) | `content` string or `text` / `image_url` parts | mapped |
//! | tool call | assistant `tool_calls[]` (`function`) | mapped |
//! | tool result | `tool` role message (`tool_call_id`) | mapped; images in results become text-only |
//! | thinking | `reasoning_content` (DeepSeek style) on responses and deltas | decoded from responses; dropped from requests (DeepSeek rejects it in history) |
//! | tools, tool choice, parallel calls | `tools[].function`, `tool_choice`, `parallel_tool_calls` | mapped |
//! | max tokens | `max_completion_tokens` or `max_tokens` | decoded from either; encoded as `max_tokens` (widest support) |
//! | stop, temperature, top_p, user | same names | mapped |
//! | response format | `response_format` (`json_object`, `json_schema`) | mapped |
//! | reasoning effort | `reasoning_effort` | mapped; budget-only reasoning is dropped |
//! | usage | `usage` incl. `prompt_tokens_details.cached_tokens`, `completion_tokens_details.reasoning_tokens` | mapped |
//! | — | `n > 1`, `logprobs`, `seed`, audio, `logit_bias`, `prediction` | dropped when translating (kept on the same-protocol path) |

mod request;
mod response;
mod stream;
mod wire;

pub use request::{decode_request, encode_request};
pub use response::{decode_response, decode_usage, encode_response, finish_reason, finish_str};
pub use stream::{ChatStreamDecoder, ChatStreamEncoder};
