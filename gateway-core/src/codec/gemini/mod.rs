//! Gemini `generateContent` / `streamGenerateContent?alt=sse` (upstream only).
//!
//! | canonical | Gemini | |
//! |---|---|---|
//! | `system` | `systemInstruction.parts[].text` | mapped |
//! | text | `parts[].text` | mapped |
//! | image | `inlineData` (base64) / `fileData.fileUri` (URL) | mapped; URLs must be ones Gemini can fetch |
//! | tool call | `functionCall {name, args, id?}` | mapped; Gemini sends calls whole and often without ids, so ids `call_<n>` are made |
//! | tool result | `functionResponse {name, response}` | mapped; the name is looked up from the call in the history; text results are wrapped as `{"result": …}` (Gemini wants an object) |
//! | thinking | parts with `thought: true`; `thoughtSignature` | decoded; dropped from requests |
//! | tools | `tools[].functionDeclarations[]` | mapped; schemas are cut down to the OpenAPI subset Gemini accepts (`additionalProperties`, `$schema`, `$ref`, … removed; `["T","null"]` becomes `nullable`) |
//! | tool choice | `toolConfig.functionCallingConfig` `AUTO`/`ANY`/`NONE` + `allowedFunctionNames` | mapped |
//! | max tokens, temperature, top_p, stop | `generationConfig.maxOutputTokens`, `temperature`, `topP`, `stopSequences` | mapped |
//! | response format | `responseMimeType: application/json` + `responseSchema` | mapped (schema cut down as for tools) |
//! | reasoning | `thinkingConfig.thinkingBudget` (+ `includeThoughts`) | budget mapped; effort becomes a budget (low 1024, medium 8192, high 24576) |
//! | usage | `promptTokenCount`, `cachedContentTokenCount`, `candidatesTokenCount` + `thoughtsTokenCount` | output counts thoughts too (as OpenAI does); reasoning = thoughts; the last chunk's numbers are kept, never summed |
//! | finish | `finishReason` `STOP`/`MAX_TOKENS`/`SAFETY`/… | mapped; `STOP` with function calls means tool calls |
//! | — | parallel-call switch, `user`, candidate count > 1, safety settings | dropped |

mod request;
mod response;
mod stream;
mod wire;

pub use request::{decode_request, encode_request, path};
pub use response::{decode_response, decode_usage};
pub use stream::GeminiStreamDecoder;
