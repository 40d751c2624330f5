//! Wire codecs: one per API, named after the API (not the vendor), meeting only in the canonical
//! model. Each decodes and encodes requests, responses and streams; none calls another.
//!
//! | codec | inbound endpoint | upstream |
//! |---|---|---|
//! | [`openai_chat`] | `POST /v1/chat/completions` | OpenAI and every compatible vendor |
//! | [`openai_responses`] | `POST /v1/responses` | OpenAI Responses |
//! | [`anthropic_messages`] | `POST /v1/messages` | Anthropic |
//! | [`gemini`] | `POST /v1beta/models/{model}:generateContent` / `:streamGenerateContent` | Gemini `generateContent` / `streamGenerateContent` (SSE) |
//! | [`bedrock`] | — | Amazon Bedrock Converse / ConverseStream (AWS event-stream framing) |
//! | [`embeddings`] | `POST /v1/embeddings` | OpenAI-compatible (as is), Gemini `embedContent` / `batchEmbedContents` |
//!
//! [`glue`] is the one place where upstream bytes become client bytes.

pub mod anthropic_messages;
pub mod bedrock;
pub mod embeddings;
pub mod gemini;
pub mod glue;
pub mod openai_chat;
pub mod openai_responses;

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};

use crate::canonical::{BlockKind, Event, Request, Response, Tool, ToolChoice, ToolKind};
use crate::error::request::RequestError;
use crate::maybe_send::MaybeSend;
use crate::provider::Protocol;
use crate::sse::SseEvent;
use crate::upstream::UpstreamError;

/// Settings an encoder needs that the canonical request does not carry.
#[derive(Debug, Clone, Default)]
pub struct EncodeOptions {
    /// `max_tokens` to send when the caller gave none and the upstream requires one (Anthropic).
    pub default_max_tokens: u32,
    /// Send the system prompt as `developer` messages (OpenAI protocols) instead of the system
    /// slot (relay isolation).
    pub system_as_developer: bool,
    /// OpenAI chat: send the output limit as `max_completion_tokens` (OpenAI's own API, which
    /// its reasoning models require) instead of `max_tokens` (what most compatible servers read).
    pub max_completion_tokens: bool,
    /// Leave out reasoning controls (the model is known not to reason; some APIs refuse them).
    pub no_reasoning: bool,
    /// Claude on Vertex AI (Anthropic): the model goes in the path, `anthropic_version` in the body.
    pub vertex: bool,
    /// The request's unmapped fields (`Request::extra`) are in this protocol's own terms (the
    /// caller speaks it): they go back into the body as they came.
    pub extra: bool,
}

/// What encoding an answer for the caller needs beyond the canonical answer itself.
#[derive(Debug, Clone, Default)]
pub struct ClientView {
    pub protocol: Protocol,
    /// The caller's custom and namespaced tools, which its protocol calls in their own item
    /// shapes (every other protocol sees them as plain functions).
    pub tools: Arc<Vec<Tool>>,
    /// Chat callers: whether they asked for the final usage chunk (`stream_options`).
    pub include_usage: bool,
    /// Gemini callers of `streamGenerateContent` without `alt=sse`: one JSON array, not SSE.
    pub json_array: bool,
}

impl ClientView {
    /// A view for a caller of `protocol` whose request declared `tools`.
    pub fn new(protocol: Protocol, tools: &[Tool]) -> Self {
        let special = tools
            .iter()
            .filter(|t| matches!(t.kind, ToolKind::Custom { .. } | ToolKind::Namespaced { .. }))
            .cloned()
            .collect();
        ClientView { protocol, tools: Arc::new(special), ..ClientView::default() }
    }

    /// The kind of the caller's tool called `name`, when it is not a plain function.
    pub fn tool_kind(&self, name: &str) -> Option<&ToolKind> {
        self.tools.iter().find(|t| t.name == name).map(|t| &t.kind)
    }
}

/// The tools `upstream` cannot take (hosted tools declared for another protocol), by name, in
/// order; they are left out of the upstream request. Refused instead when the caller forces one
/// of them (`tool_choice`), since leaving it out would change what the answer means.
pub fn dropped_tools(request: &Request, upstream: Protocol) -> Result<Vec<String>, RequestError> {
    let dropped: Vec<String> = request
        .tools
        .iter()
        .filter(|t| matches!(&t.kind, ToolKind::Hosted { origin, .. } if *origin != upstream))
        .map(|t| t.name.clone())
        .collect();
    if let Some(ToolChoice::Tool(forced)) = &request.tool_choice
        && dropped.contains(forced)
    {
        return Err(RequestError::field(
            "tool_choice",
            format!(
                "the tool `{forced}` is run by another provider and cannot be used with this model's upstream ({})",
                upstream.as_str()
            ),
        ));
    }
    Ok(dropped)
}

/// What translating a request from `from` to `to` lost — the report a caller gets in
/// `x-gateway-dropped-fields` / `x-gateway-dropped-tools` and the log row keeps: the caller's
/// fields the upstream's protocol has no place for (`Request::extra`), another provider's hosted
/// tools, and settings mapped to the nearest the upstream has. Everything else was mapped.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Translation {
    pub from: Protocol,
    pub to: Protocol,
    pub dropped: Vec<String>,
    pub dropped_tools: Vec<String>,
    pub approximated: Vec<&'static str>,
}

/// The report for `request` (in `from`'s terms) sent to an upstream of `to`; `None` when the
/// protocols are the same (nothing is translated).
pub fn translation(request: &Request, from: Protocol, to: Protocol) -> Option<Translation> {
    if from == to {
        return None;
    }
    let mut dropped: Vec<String> = Vec::new();
    let mut approximated = Vec::new();
    // Effort and budget become each other; which levels exist differs by protocol.
    if request.reasoning.is_some() {
        approximated.push("reasoning");
    }
    match (to, &request.response_format, &request.tool_choice) {
        (Protocol::AnthropicMessages, Some(crate::canonical::ResponseFormat::JsonObject), _) => {
            dropped.push("response_format".into())
        }
        (Protocol::BedrockConverse, _, Some(ToolChoice::None)) => approximated.push("tool_choice"),
        _ => {}
    }
    // The gateway's own names first, then the caller's unmapped fields (sorted): a cap cuts these.
    dropped.extend(request.extra.keys().cloned());
    let dropped_tools = dropped_tools(request, to).unwrap_or_default();
    let dropped_tools = named(dropped_tools);
    Some(Translation { from, to, dropped: named(dropped), dropped_tools, approximated })
}

/// At most [`REPORTED`] names of at most [`NAME_CHARS`] characters each, then how many more: a
/// body of a million invented fields makes a short report, not a megabyte header or log row.
fn named(mut names: Vec<String>) -> Vec<String> {
    const REPORTED: usize = 32;
    const NAME_CHARS: usize = 64;
    let more = names.len().saturating_sub(REPORTED);
    names.truncate(REPORTED);
    for name in &mut names {
        if let Some((cut, _)) = name.char_indices().nth(NAME_CHARS) {
            name.truncate(cut);
            name.push_str("...");
        }
    }
    if more > 0 {
        names.push(format!("... ({more} more)"));
    }
    names
}

/// Turns an upstream's SSE events into canonical events.
pub trait StreamDecoder: MaybeSend {
    fn push(&mut self, event: &SseEvent) -> Vec<Event>;
    /// The upstream ended; closes what is open.
    fn finish(&mut self) -> Vec<Event>;
    /// Whether the protocol's own end marker arrived (`[DONE]`, `message_stop`, …).
    fn saw_terminal(&self) -> bool;
}

/// Turns canonical events into a client's SSE bytes.
pub trait StreamEncoder: MaybeSend {
    fn push(&mut self, event: &Event, out: &mut BytesMut);
    /// The stream ended normally: closing events and the protocol's end marker.
    fn finish(&mut self, out: &mut BytesMut);
    /// The stream broke: an error in the protocol's own shape.
    fn error(&mut self, kind: &str, message: &str, out: &mut BytesMut);
    /// Only the end marker, for a relayed stream whose upstream forgot it.
    fn terminal(&mut self, out: &mut BytesMut);
    /// One upstream event of the caller's own protocol, relayed as it came (same-protocol
    /// streams), in the framing the caller reads.
    fn relay(&mut self, event: Option<&str>, data: &str, out: &mut BytesMut) {
        write_sse(out, event, data);
    }
}

pub fn decode_request(protocol: Protocol, body: &[u8]) -> Result<Request, RequestError> {
    match protocol {
        Protocol::OpenaiChat => openai_chat::decode_request(body),
        Protocol::OpenaiResponses => openai_responses::decode_request(body),
        Protocol::AnthropicMessages => anthropic_messages::decode_request(body),
        Protocol::Gemini => gemini::decode_request(body),
        Protocol::BedrockConverse => bedrock::decode_request(body),
    }
}

/// The caller's top-level fields (as the top-level peek kept them) that `protocol`'s decoder does
/// not map into the canonical request — and for Gemini the unmapped fields of
/// `generationConfig`, named `generationConfig.<field>` — parsed.
pub fn unmapped(
    protocol: Protocol,
    fields: &std::collections::BTreeMap<String, Box<serde_json::value::RawValue>>,
) -> std::collections::BTreeMap<String, serde_json::Value> {
    type Names = &'static [&'static str];
    let (mapped, nested): (Names, Option<(Names, Names)>) = match protocol {
        Protocol::OpenaiChat => (openai_chat::MAPPED, None),
        Protocol::OpenaiResponses => (openai_responses::MAPPED, None),
        Protocol::AnthropicMessages => (anthropic_messages::MAPPED, None),
        Protocol::Gemini => (gemini::MAPPED, Some((gemini::CONFIG, gemini::MAPPED_CONFIG))),
        Protocol::BedrockConverse => (bedrock::MAPPED, None),
    };
    let parse = |raw: &serde_json::value::RawValue| {
        serde_json::from_str::<serde_json::Value>(raw.get()).unwrap_or_default()
    };
    let mut out = std::collections::BTreeMap::new();
    for (name, raw) in fields {
        if let Some((config, mapped_config)) = nested
            && config.contains(&name.as_str())
        {
            if let serde_json::Value::Object(inner) = parse(raw) {
                for (field, value) in inner {
                    if !mapped_config.contains(&field.as_str()) {
                        out.insert(format!("generationConfig.{field}"), value);
                    }
                }
            }
            continue;
        }
        if !mapped.contains(&name.as_str()) {
            out.insert(name.clone(), parse(raw));
        }
    }
    out
}

/// Encodes `request` for an upstream, with `model` as the upstream's model id.
pub fn encode_request(
    protocol: Protocol,
    request: &Request,
    model: &str,
    options: &EncodeOptions,
) -> Result<Bytes, RequestError> {
    let mut value = match protocol {
        Protocol::OpenaiChat => openai_chat::encode_request(request, model, options),
        Protocol::OpenaiResponses => openai_responses::encode_request(request, model, options),
        Protocol::AnthropicMessages => anthropic_messages::encode_request(request, model, options),
        Protocol::Gemini => gemini::encode_request(request, model, options),
        Protocol::BedrockConverse => bedrock::encode_request(request, model, options),
    }?;
    if options.extra {
        restore_extra(&mut value, &request.extra);
    }
    Ok(Bytes::from(value.to_string()))
}

/// Puts a caller's unmapped fields back into a body of its own protocol (`generationConfig.x`
/// into `generationConfig`); a field the encoder wrote itself stays as written.
fn restore_extra(
    body: &mut serde_json::Value,
    extra: &std::collections::BTreeMap<String, serde_json::Value>,
) {
    let Some(body) = body.as_object_mut() else { return };
    for (name, value) in extra {
        let (object, field) = match name.split_once('.') {
            Some((outer, inner)) => {
                let slot = body.entry(outer.to_owned()).or_insert_with(|| serde_json::json!({}));
                let Some(object) = slot.as_object_mut() else { continue };
                (object, inner)
            }
            None => (&mut *body, name.as_str()),
        };
        object.entry(field.to_owned()).or_insert_with(|| value.clone());
    }
}

/// A caller's field whose loss would change what its request means, so it is never translated
/// away: Anthropic's `thread` continuing a server-held conversation (`{type: "continue"}`: the
/// request holds only the new messages), `mcp_servers`, `container`;
/// Responses' `previous_response_id`, `conversation`, `prompt`, `background`; Chat's legacy
/// `functions` / `function_call`, `n` above 1, audio output; Gemini's `cachedContent`, several
/// candidates, image or audio output. `None` when every unmapped field may be dropped.
pub fn untranslatable(
    protocol: Protocol,
    extra: &std::collections::BTreeMap<String, serde_json::Value>,
) -> Option<&str> {
    use serde_json::Value;
    let set = |v: &Value| !matches!(v, Value::Null | Value::Bool(false));
    let many = |v: &Value| v.as_f64().is_some_and(|n| n > 1.0);
    let audio = |v: &Value| {
        v.as_array().is_some_and(|a| {
            a.iter().any(|m| m.as_str().is_some_and(|m| !m.eq_ignore_ascii_case("text")))
        })
    };
    extra
        .iter()
        .find(|(name, v)| match (protocol, name.as_str()) {
            // A thread that is created carries the whole conversation; one continued does not.
            (Protocol::AnthropicMessages, "thread") => v["type"] == "continue",
            (Protocol::AnthropicMessages, "mcp_servers" | "container") => set(v),
            (
                Protocol::OpenaiResponses,
                "previous_response_id" | "conversation" | "prompt" | "background",
            ) => set(v),
            (Protocol::OpenaiChat, "functions" | "function_call" | "audio") => set(v),
            (Protocol::OpenaiChat, "n") => many(v),
            (Protocol::OpenaiChat, "modalities") => audio(v),
            (Protocol::Gemini, "cachedContent" | "cached_content") => set(v),
            (
                Protocol::Gemini,
                "generationConfig.candidateCount" | "generationConfig.candidate_count",
            ) => many(v),
            (
                Protocol::Gemini,
                "generationConfig.responseModalities" | "generationConfig.response_modalities",
            ) => audio(v),
            _ => false,
        })
        .map(|(name, _)| name.as_str())
}

/// The path below the provider's base URL for a request to `model`.
pub fn upstream_path(protocol: Protocol, model: &str, stream: bool) -> String {
    match protocol {
        Protocol::OpenaiChat => "/chat/completions".into(),
        Protocol::OpenaiResponses => "/responses".into(),
        Protocol::AnthropicMessages => "/messages".into(),
        Protocol::Gemini => gemini::path(model, stream),
        Protocol::BedrockConverse => bedrock::path(model, stream),
    }
}

/// Decodes an upstream's answer; calls the upstream sends without ids (Gemini) get
/// `{call_ids}_{n}`, so ids stay unique across the turns of a conversation.
pub fn decode_response(
    protocol: Protocol,
    body: &[u8],
    call_ids: &str,
) -> Result<Response, UpstreamError> {
    match protocol {
        Protocol::OpenaiChat => openai_chat::decode_response(body, call_ids),
        Protocol::OpenaiResponses => openai_responses::decode_response(body),
        Protocol::AnthropicMessages => anthropic_messages::decode_response(body),
        Protocol::Gemini => gemini::decode_response(body, call_ids),
        Protocol::BedrockConverse => bedrock::decode_response(body),
    }
}

/// The usage of an answer (`usage`, Gemini's `usageMetadata`) read with a codec's wire type `U`;
/// the rest of the body is skipped, not decoded (the same-protocol path relays it untouched). An
/// answer without usage counts none.
pub(crate) fn usage_only<U>(body: &[u8]) -> Result<crate::canonical::Usage, UpstreamError>
where
    U: serde::de::DeserializeOwned + Into<crate::canonical::Usage>,
{
    #[derive(serde::Deserialize)]
    struct Only<U> {
        #[serde(alias = "usageMetadata")]
        usage: Option<U>,
    }
    let only: Only<U> = upstream_json(body)?;
    Ok(only.usage.map(Into::into).unwrap_or_default())
}

/// Only the usage of an upstream's non-streaming answer.
pub fn decode_usage(
    protocol: Protocol,
    body: &[u8],
) -> Result<crate::canonical::Usage, UpstreamError> {
    match protocol {
        Protocol::OpenaiChat => openai_chat::decode_usage(body),
        Protocol::OpenaiResponses => openai_responses::decode_usage(body),
        Protocol::AnthropicMessages => anthropic_messages::decode_usage(body),
        Protocol::Gemini => gemini::decode_usage(body),
        Protocol::BedrockConverse => bedrock::decode_usage(body),
    }
}

/// Encodes a response for the caller.
pub fn encode_response(client: &ClientView, response: &Response) -> Bytes {
    let value = match client.protocol {
        Protocol::OpenaiChat => openai_chat::encode_response(response),
        Protocol::OpenaiResponses => openai_responses::encode_response(response, client),
        Protocol::AnthropicMessages => anthropic_messages::encode_response(response),
        Protocol::Gemini => gemini::encode_response(response),
        Protocol::BedrockConverse => bedrock::encode_response(response),
    };
    Bytes::from(value.to_string())
}

/// A decoder for an upstream's stream; calls without ids get `{call_ids}_{n}`.
pub fn stream_decoder(protocol: Protocol, call_ids: &str) -> Box<dyn StreamDecoder> {
    match protocol {
        Protocol::OpenaiChat => Box::new(openai_chat::ChatStreamDecoder::new(call_ids)),
        Protocol::OpenaiResponses => Box::new(openai_responses::ResponsesStreamDecoder::default()),
        Protocol::AnthropicMessages => {
            Box::new(anthropic_messages::MessagesStreamDecoder::default())
        }
        Protocol::Gemini => Box::new(gemini::GeminiStreamDecoder::new(call_ids)),
        Protocol::BedrockConverse => Box::new(bedrock::ConverseStreamDecoder::default()),
    }
}

/// An encoder for the caller's stream.
pub fn stream_encoder(client: &ClientView) -> Box<dyn StreamEncoder> {
    match client.protocol {
        Protocol::OpenaiChat => Box::new(openai_chat::ChatStreamEncoder::new(client.include_usage)),
        Protocol::OpenaiResponses => {
            Box::new(openai_responses::ResponsesStreamEncoder::new(client.clone()))
        }
        Protocol::AnthropicMessages => {
            Box::new(anthropic_messages::MessagesStreamEncoder::default())
        }
        Protocol::Gemini => Box::new(gemini::GeminiStreamEncoder::new(client.json_array)),
        Protocol::BedrockConverse => Box::new(bedrock::ConverseStreamEncoder::default()),
    }
}

/// Splits an upstream's stream into events: SSE, or AWS event-stream messages (Bedrock).
#[derive(Debug)]
pub enum Framer {
    Sse(crate::sse::SseDecoder),
    EventStream(bedrock::EventStreamReader),
}

impl Framer {
    pub fn new(upstream: Protocol) -> Self {
        match upstream {
            Protocol::BedrockConverse => Framer::EventStream(bedrock::EventStreamReader::default()),
            _ => Framer::Sse(crate::sse::SseDecoder::new()),
        }
    }

    /// The events `chunk` completes, or what is wrong with the stream.
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<SseEvent>, String> {
        match self {
            Framer::Sse(sse) => sse.push(chunk).map_err(|e| e.to_string()),
            Framer::EventStream(reader) => reader.push(chunk),
        }
    }

    /// The last event of a stream that ended without its separator (SSE only).
    pub fn finish(&mut self) -> Option<SseEvent> {
        match self {
            Framer::Sse(sse) => sse.finish(),
            Framer::EventStream(_) => None,
        }
    }
}

/// Block bookkeeping for stream decoders: at most one block is open, identified by whatever key
/// the upstream uses for it; canonical indices count blocks from 0 in order of appearance.
#[derive(Debug)]
pub(crate) struct OpenBlock<K> {
    open: Option<(usize, K)>,
    next_index: usize,
}

impl<K> Default for OpenBlock<K> {
    fn default() -> Self {
        Self { open: None, next_index: 0 }
    }
}

impl<K: PartialEq + Copy> OpenBlock<K> {
    /// Stops the open block, if any.
    pub(crate) fn close(&mut self, out: &mut Vec<Event>) {
        if let Some((index, _)) = self.open.take() {
            out.push(Event::BlockStop { index });
        }
    }

    /// The index of the block open under `key`, if that is the open one.
    pub(crate) fn get(&self, key: K) -> Option<usize> {
        self.open.filter(|(_, k)| *k == key).map(|(index, _)| index)
    }

    /// The block open under `key`, or a new one of `kind` (stopping the previous one).
    pub(crate) fn ensure(
        &mut self,
        key: K,
        kind: impl FnOnce() -> BlockKind,
        out: &mut Vec<Event>,
    ) -> usize {
        if let Some(index) = self.get(key) {
            return index;
        }
        let index = self.start(kind(), out);
        self.open = Some((index, key));
        index
    }

    /// Starts a block that is not kept open (the caller stops it), stopping the open one first.
    pub(crate) fn start(&mut self, kind: BlockKind, out: &mut Vec<Event>) -> usize {
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        out.push(Event::BlockStart { index, kind });
        index
    }
}

/// Stops every block still open (upstream key → canonical index), in canonical order: what
/// decoders that track several blocks at once close when their upstream ends.
pub(crate) fn stop_open<K>(blocks: &mut std::collections::HashMap<K, usize>) -> Vec<Event> {
    let mut open: Vec<usize> = blocks.drain().map(|(_, c)| c).collect();
    open.sort_unstable();
    open.into_iter().map(|index| Event::BlockStop { index }).collect()
}

/// Writes one SSE event: an optional `event:` line, then `data:` lines.
pub fn write_sse(out: &mut BytesMut, event: Option<&str>, data: &str) {
    if let Some(name) = event {
        out.put_slice(b"event: ");
        out.put_slice(name.as_bytes());
        out.put_u8(b'\n');
    }
    for line in data.split('\n') {
        out.put_slice(b"data: ");
        out.put_slice(line.as_bytes());
        out.put_u8(b'\n');
    }
    out.put_u8(b'\n');
}

/// What a stream decoder makes of an event it cannot read: nothing for an empty one (keep-alive),
/// an error for anything else — an upstream that sends non-JSON (an HTML error page, a proxy's
/// notice) mid-stream is broken, and saying so beats dropping its words silently.
pub(crate) fn unreadable_event(data: &str, error: &serde_json::Error) -> Vec<Event> {
    if data.trim().is_empty() {
        return vec![];
    }
    // Neither callers nor the log get the upstream's words (they may carry anything, a key
    // included): how long the event was and why it did not parse.
    tracing::warn!(%error, bytes = data.len(), "an upstream stream event is not valid JSON");
    vec![Event::Error {
        kind: "upstream_invalid_response".into(),
        message: "the upstream sent an event that is not valid JSON; the stream ends here".into(),
    }]
}

/// Parses an upstream body as `T`, or says what is wrong with it.
pub(crate) fn upstream_json<T: serde::de::DeserializeOwned>(
    body: &[u8],
) -> Result<T, UpstreamError> {
    serde_json::from_slice(body).map_err(|e| UpstreamError::InvalidResponse(e.to_string()))
}

/// `json` with the model its protocol reports (`model`; Gemini's `modelVersion`) replaced by
/// `model`, or `None` when there is none or it already says so. Only the first such key whose
/// value is a string is touched: every protocol puts the answer's own model before its content,
/// and inside JSON strings quotes are escaped, so the raw bytes `"model":` can only be a key.
pub fn rename_model(protocol: Protocol, json: &str, model: &str) -> Option<String> {
    let key = if protocol == Protocol::Gemini { "\"modelVersion\"" } else { "\"model\"" };
    let mut from = 0;
    while let Some(found) = json[from..].find(key) {
        let after_key = from + found + key.len();
        let rest = &json[after_key..];
        let colon = rest.len() - rest.trim_start().len();
        let rest = &rest[colon..];
        from = after_key;
        let Some(rest) = rest.strip_prefix(':') else { continue };
        let space = rest.len() - rest.trim_start().len();
        let value_start = json.len() - rest.len() + space;
        let Some(len) = json_string_len(&json[value_start..]) else { continue };
        let current: String = serde_json::from_str(&json[value_start..value_start + len]).ok()?;
        if current == model {
            return None;
        }
        let replacement = serde_json::Value::String(model.to_owned()).to_string();
        let mut out = String::with_capacity(json.len() + replacement.len());
        out.push_str(&json[..value_start]);
        out.push_str(&replacement);
        out.push_str(&json[value_start + len..]);
        return Some(out);
    }
    None
}

/// The byte length of the JSON string literal `text` starts with, if it starts with one.
fn json_string_len(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    if bytes.first() != Some(&b'"') {
        return None;
    }
    let mut i = 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}
