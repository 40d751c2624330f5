//! OpenAI Responses (`/responses`).
//!
//! | canonical | Responses | |
//! |---|---|---|
//! | `system` | `instructions`; `system`/`developer` input messages | mapped (encoded as `instructions`) |
//! | text, image | `input_text`/`output_text`, `input_image` (`image_url`, incl. `data:`) | mapped |
//! | tool call | `function_call` item (`call_id`, `name`, `arguments`) | mapped |
//! | tool result | `function_call_output` item (`output` string) | mapped; images in results become text-only |
//! | thinking | `reasoning` item (`summary[].text`) | decoded; dropped from requests (reasoning items need the upstream's own ids) |
//! | tools, tool choice, parallel calls | `tools[]` of `type: function`, `tool_choice`, `parallel_tool_calls` | mapped; built-in tools (web search, file search, …) are refused with 400 when translating |
//! | max tokens | `max_output_tokens` | mapped |
//! | temperature, top_p, user | same | mapped |
//! | stop | — | dropped (no equivalent) |
//! | response format | `text.format` (`json_object`, `json_schema`) | mapped |
//! | reasoning | `reasoning.effort` | mapped; budget-only reasoning is dropped |
//! | usage | `input_tokens(_details.cached_tokens)`, `output_tokens(_details.reasoning_tokens)` | mapped |
//! | finish | `status` + `incomplete_details.reason`; `function_call` items mean tool calls | mapped |
//! | — | `previous_response_id`, `store`, `include`, `truncation`, `metadata` | dropped when translating (kept on the same-protocol path); `store` is sent as `false` |

mod request;
mod response;
mod stream;
mod wire;

pub use request::{decode_request, encode_request};
pub use response::{decode_response, decode_usage, encode_response};
pub use stream::{ResponsesStreamDecoder, ResponsesStreamEncoder};
