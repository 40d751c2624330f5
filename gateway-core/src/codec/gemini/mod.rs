//! Gemini `generateContent` / `streamGenerateContent` (`?alt=sse` upstream; SSE or a JSON array
//! to Gemini callers).
//!
//! | canonical | Gemini | |
//! |---|---|---|
//! | `system` | `systemInstruction.parts[].text` | mapped |
//! | text | `parts[].text` | mapped |
//! | image | `inlineData` (base64) / `fileData.fileUri` (URL) | mapped; URLs must be ones Gemini can fetch |
//! | tool call | `functionCall {name, args, id?}` | mapped; Gemini sends calls whole and often without ids, so ids are made: `call_<random>_<n>` per upstream answer, unique across a conversation's turns and stable within a stream |
//! | tool result | `functionResponse {name, response, id?}` | mapped; the name is looked up from the call in the history; text results are wrapped as `{"result": …}` (Gemini wants an object); from Gemini callers, an answer without an id is linked to the latest unanswered call of that name |
//! | mid-conversation system messages | — | folded into `systemInstruction` after the opening instructions (their position in the conversation is lost) |
//! | custom / namespaced tools | — | offered as function declarations (`input` string argument / `namespace__function` name) |
//! | hosted tools | `googleSearch`, `codeExecution`, `urlContext`, … | kept for a Gemini upstream; another protocol's hosted tools are dropped (named in `x-gateway-dropped-tools`) |
//! | thinking | parts with `thought: true`; `thoughtSignature` on any part | decoded with the seal: a thought part's signature seals it, a signature on another part (a function call) becomes a signature-only thinking block before it; encoded to Gemini as it came (Gemini's own seals only); to Gemini callers, another protocol's seal goes wrapped on the part after the thought (which callers keep); a Gemini 3 model turn whose first call has no signature gets `skip_thought_signature_validator` |
//! | tools | `tools[].functionDeclarations[]` (`parameters`, or `parametersJsonSchema` from callers) | mapped; schemas are cut down to the OpenAPI subset Gemini accepts (`additionalProperties`, `$schema`, `$ref`, … removed; `["T","null"]` becomes `nullable`) |
//! | tool choice | `toolConfig.functionCallingConfig` `AUTO`/`ANY`/`NONE` + `allowedFunctionNames` | mapped |
//! | max tokens, temperature, top_p, stop | `generationConfig.maxOutputTokens`, `temperature`, `topP`, `stopSequences` | mapped |
//! | response format | `responseMimeType: application/json` + `responseSchema` / `responseJsonSchema` | mapped (schema cut down as for tools); a MIME type without a schema is `json_object` |
//! | reasoning | `thinkingConfig.thinkingBudget` (+ `includeThoughts`), `thinkingLevel` | budget mapped; -1 is adaptive both ways; effort becomes a budget (low 1024, medium 8192, high 24576); `includeThoughts` is whether the reasoning is shown; nothing for a model whose `capabilities.reasoning` is `false`; from callers, a level is an effort and budget 0 is off |
//! | usage | `promptTokenCount`, `cachedContentTokenCount`, `candidatesTokenCount` + `thoughtsTokenCount` | output counts thoughts too (as OpenAI does); reasoning = thoughts; cache reads = `cachedContentTokenCount`; Gemini has no cache-write count (its implicit cache is not billed for writes); the last chunk's numbers are kept, never summed |
//! | prompt caching | — (implicit caching) | breakpoints and cache keys of other callers are not needed and not sent |
//! | finish | `finishReason` `STOP`/`MAX_TOKENS`/`SAFETY`/… | mapped; `STOP` with function calls means tool calls |
//! | — | every other field (`safetySettings`, `generationConfig.topK`, `seed`, …; parallel-call switch, `user`) | kept as `Request::extra` (top level and `generationConfig.<field>`; [`MAPPED`] and [`MAPPED_CONFIG`] list what is mapped): sent as they came to a Gemini upstream, dropped when translating and named in `x-gateway-dropped-fields`; `cachedContent`, `candidateCount > 1` and image or audio output are never translated away |
//! | split turns | consecutive contents of one role (the `@google/genai` chat keeps each streamed chunk's) | one turn, a model turn's adjacent texts joined (a user's kept apart), empty text parts left out; a translated stream ends on its last real part, `finishReason` and usage on it (never an empty text part, which the chat would send back as a turn of its own) |

mod request;
mod response;
mod stream;
mod wire;

pub use request::{decode_request, encode_request, path};

/// The request's top-level fields the decoder maps into the canonical request (each in both of
/// the spellings the API takes), `model` being the URL's.
pub const MAPPED: &[&str] = &[
    "model",
    "contents",
    "systemInstruction",
    "system_instruction",
    "tools",
    "toolConfig",
    "tool_config",
];

/// The field holding the generation settings, in both spellings.
pub const CONFIG: &[&str] = &["generationConfig", "generation_config"];

/// The generation settings the decoder maps.
pub const MAPPED_CONFIG: &[&str] = &[
    "maxOutputTokens",
    "max_output_tokens",
    "temperature",
    "topP",
    "top_p",
    "stopSequences",
    "stop_sequences",
    "responseMimeType",
    "response_mime_type",
    "responseSchema",
    "response_schema",
    "responseJsonSchema",
    "response_json_schema",
    "thinkingConfig",
    "thinking_config",
];
pub use response::{decode_response, decode_usage, encode_response};
pub use stream::{GeminiStreamDecoder, GeminiStreamEncoder};
