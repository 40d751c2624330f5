//! Gemini streams ⇄ canonical events. Upstream: SSE, each event a whole
//! `GenerateContentResponse`. To Gemini callers: the same SSE (`alt=sse`), or one JSON array of
//! those responses (`streamGenerateContent` without `alt`).

use bytes::{BufMut, BytesMut};
use serde_json::{Value, json};

use super::request::{CallIds, decode_parts};
use super::response::{chunk_json, finish_reason, part_json};
use super::wire::GenerateResponse;
use crate::canonical::{Block, BlockKind, Event, FinishReason, Usage};
use crate::codec::{OpenBlock, StreamDecoder, StreamEncoder, write_sse};
use crate::provider::Protocol;
use crate::sse::SseEvent;

#[derive(Debug, Default)]
pub struct GeminiStreamDecoder {
    started: bool,
    /// The open text (`false`) or thinking (`true`) block.
    blocks: OpenBlock<bool>,
    ids: CallIds,
    saw_calls: bool,
    saw_finish: bool,
}

impl GeminiStreamDecoder {
    /// Calls without ids get `{call_ids}_{n}`, stable for the whole stream.
    pub fn new(call_ids: &str) -> Self {
        GeminiStreamDecoder { ids: CallIds::new(call_ids), ..GeminiStreamDecoder::default() }
    }
}

impl StreamDecoder for GeminiStreamDecoder {
    fn push(&mut self, event: &SseEvent) -> Vec<Event> {
        let chunk = match serde_json::from_str::<GenerateResponse>(&event.data) {
            Ok(parsed) => parsed,
            Err(e) => return crate::codec::unreadable_event(&event.data, &e),
        };
        let mut out = Vec::new();
        if let Some(error) = chunk.error {
            let message = error["message"].as_str().unwrap_or("upstream error").to_owned();
            out.push(Event::Error { kind: "upstream_stream_error".into(), message });
            return out;
        }
        if !self.started {
            self.started = true;
            out.push(Event::Start {
                id: chunk.response_id.clone().unwrap_or_default(),
                model: chunk.model_version.clone().unwrap_or_default(),
                created: 0,
            });
        }
        let mut finish = None;
        if let Some(candidate) = chunk.candidates.into_iter().next() {
            finish = candidate.finish_reason;
            for block in decode_parts(candidate.content, &mut self.ids) {
                match block {
                    Block::Thinking { text, seal } => {
                        // A wrapped seal's text repeats the thought streamed just before it.
                        let repeated = self.blocks.get(true).is_some()
                            && seal.as_ref().is_some_and(|s| s.origin != Protocol::Gemini);
                        let index = self.blocks.ensure(true, || BlockKind::Thinking, &mut out);
                        if !text.is_empty() && !repeated {
                            out.push(Event::ThinkingDelta { index, text });
                        }
                        if let Some(seal) = seal {
                            out.push(Event::SignatureDelta { index, seal });
                        }
                    }
                    Block::Text(text) if text.is_empty() => {}
                    Block::Text(text) => {
                        let index = self.blocks.ensure(false, || BlockKind::Text, &mut out);
                        out.push(Event::TextDelta { index, text });
                    }
                    Block::ToolCall { id, name, arguments } => {
                        // Gemini sends calls whole: start, all arguments, stop.
                        self.saw_calls = true;
                        let index = self.blocks.start(BlockKind::ToolCall { id, name }, &mut out);
                        out.push(Event::ToolArgsDelta { index, json: arguments });
                        out.push(Event::BlockStop { index });
                    }
                    _ => {}
                }
            }
        }
        if let Some(usage) = chunk.usage_metadata {
            out.push(Event::Usage(usage.into()));
        }
        if let Some(reason) = finish {
            self.blocks.close(&mut out);
            self.saw_finish = true;
            out.push(Event::Finish(finish_reason(&reason, self.saw_calls)));
        }
        out
    }

    fn finish(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        self.blocks.close(&mut out);
        out
    }

    fn saw_terminal(&self) -> bool {
        self.saw_finish
    }
}

/// A tool call being collected: Gemini sends calls whole.
#[derive(Debug)]
struct PendingCall {
    id: String,
    name: String,
    arguments: String,
}

/// Canonical events in, Gemini chunks out (SSE or one JSON array).
///
/// The `@google/genai` chat keeps a streamed turn only if every chunk has content, and keeps each
/// chunk's content as its own history entry: so the `finishReason` (and usage) ride on the last
/// real part — never on an empty text part of their own, which the SDK sends back as an empty
/// model turn — and the encoder holds back the last character of text (the whole last part,
/// for a call) until it knows whether more follows.
#[derive(Debug, Default)]
pub struct GeminiStreamEncoder {
    json_array: bool,
    /// Chunks written so far (the JSON array needs `[` before the first and `,` between).
    written: usize,
    closed: bool,
    id: String,
    model: String,
    call: Option<PendingCall>,
    finish: Option<FinishReason>,
    usage: Usage,
    /// The open thinking block's text (a wrapped seal carries it).
    thinking: String,
    /// A seal waiting for the next part (see [`super::request::sealed_parts`]).
    signature: Option<String>,
    /// The last part, held back for the chunk that ends the stream.
    held: Option<Value>,
}

impl GeminiStreamEncoder {
    pub fn new(json_array: bool) -> Self {
        GeminiStreamEncoder { json_array, ..GeminiStreamEncoder::default() }
    }

    fn write(&mut self, data: &str, out: &mut BytesMut) {
        if self.closed {
            return;
        }
        if self.json_array {
            out.put_slice(if self.written == 0 { b"[" } else { b",\r\n" });
            out.put_slice(data.as_bytes());
        } else {
            write_sse(out, None, data);
        }
        self.written += 1;
    }

    fn parts(&mut self, mut parts: Vec<Value>, out: &mut BytesMut) {
        if let (Some(first), Some(signature)) = (parts.first_mut(), self.signature.take()) {
            first["thoughtSignature"] = signature.into();
        }
        let chunk = chunk_json(&self.id, &self.model, parts, None, None);
        self.write(&chunk.to_string(), out);
    }

    /// Writes what is held back (it is not the last part after all).
    fn release(&mut self, out: &mut BytesMut) {
        if let Some(part) = self.held.take() {
            self.parts(vec![part], out);
        }
    }

    /// Text (or thought) as it streams: all but its last character now — with any held text of
    /// the same kind in front — the last character held.
    fn text(&mut self, text: &str, thought: bool, out: &mut BytesMut) {
        let same = |p: &Value| p["text"].is_string() && (p["thought"] == true) == thought;
        let mut pending = match self.held.take() {
            Some(p) if same(&p) => p["text"].as_str().unwrap_or_default().to_owned(),
            other => {
                self.held = other;
                self.release(out);
                String::new()
            }
        };
        pending.push_str(text);
        let Some((cut, _)) = pending.char_indices().last() else { return };
        let last = pending.split_off(cut);
        let part = |text: String| {
            if thought { json!({"text": text, "thought": true}) } else { json!({"text": text}) }
        };
        if !pending.is_empty() {
            self.parts(vec![part(pending)], out);
        }
        self.held = Some(part(last));
    }

    fn close_array(&mut self, out: &mut BytesMut) {
        if self.json_array && !self.closed {
            if self.written == 0 {
                out.put_u8(b'[');
            }
            out.put_u8(b']');
        }
        self.closed = true;
    }
}

impl StreamEncoder for GeminiStreamEncoder {
    fn push(&mut self, event: &Event, out: &mut BytesMut) {
        match event {
            Event::Start { id, model, .. } => (self.id, self.model) = (id.clone(), model.clone()),
            Event::BlockStart { kind: BlockKind::ToolCall { id, name }, .. } => {
                self.call = Some(PendingCall {
                    id: id.clone(),
                    name: name.clone(),
                    arguments: String::new(),
                });
            }
            Event::TextDelta { text, .. } => self.text(text, false, out),
            Event::ThinkingDelta { text, .. } => {
                self.thinking.push_str(text);
                self.text(text, true, out)
            }
            Event::SignatureDelta { seal, .. } => {
                // The seal goes on the part after the thought it signs: what came before is out.
                self.release(out);
                self.signature = Some(seal.present(Protocol::Gemini, &self.thinking));
            }
            Event::ToolArgsDelta { json, .. } => {
                if let Some(call) = self.call.as_mut() {
                    call.arguments.push_str(json);
                }
            }
            Event::BlockStop { .. } => {
                self.thinking.clear();
                if let Some(c) = self.call.take() {
                    let block = Block::ToolCall { id: c.id, name: c.name, arguments: c.arguments };
                    self.release(out);
                    let mut part = part_json(&block);
                    if let (Some(p), Some(signature)) = (part.as_mut(), self.signature.take()) {
                        p["thoughtSignature"] = signature.into();
                    }
                    self.held = part;
                }
            }
            Event::Usage(u) => self.usage.merge(*u),
            Event::Finish(reason) => self.finish = Some(reason.clone()),
            Event::Error { kind, message } => self.error(kind, message, out),
            Event::BlockStart { .. } => {}
        }
    }

    fn finish(&mut self, out: &mut BytesMut) {
        let reason = self.finish.clone().unwrap_or(FinishReason::Stop);
        // The last part carries the end; only an answer with no part at all (or a seal alone)
        // ends on an empty text part.
        let mut parts = vec![self.held.take().unwrap_or_else(|| json!({"text": ""}))];
        if let Some(signature) = self.signature.take() {
            parts[0]["thoughtSignature"] = signature.into();
        }
        let chunk = chunk_json(&self.id, &self.model, parts, Some(&reason), Some(&self.usage));
        self.write(&chunk.to_string(), out);
        self.close_array(out);
    }

    fn error(&mut self, kind: &str, message: &str, out: &mut BytesMut) {
        self.release(out);
        let error = json!({"error": {"code": 500, "message": message, "status": "INTERNAL", "details": [{"reason": kind}]}});
        self.write(&error.to_string(), out);
        self.close_array(out);
    }

    fn terminal(&mut self, out: &mut BytesMut) {
        self.close_array(out);
    }

    fn relay(&mut self, event: Option<&str>, data: &str, out: &mut BytesMut) {
        if self.json_array {
            self.write(data, out);
        } else {
            write_sse(out, event, data);
        }
    }
}
