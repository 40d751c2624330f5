//! Responses streams ⇄ canonical events.

use std::collections::{HashMap, HashSet};

use bytes::BytesMut;
use serde_json::{Value, json};

use super::response::{finish, item_json, response_json};
use super::wire::StreamEvent;
use crate::canonical::{
    Block, BlockKind, Event, FinishReason, NAMESPACE_SEPARATOR, Seal, ToolKind, Usage,
    arguments_object,
};
use crate::codec::{ClientView, OpenBlock, StreamDecoder, StreamEncoder, write_sse};
use crate::provider::Protocol;
use crate::sse::SseEvent;

/// Responses events in, canonical events out.
#[derive(Debug, Default)]
pub struct ResponsesStreamDecoder {
    /// Open block, keyed by `(output_index, is_thinking)`.
    blocks: OpenBlock<(usize, bool)>,
    /// Function-call items by output index.
    calls: HashMap<usize, usize>,
    /// Output indices of custom tool calls, whose freeform input is streamed as the JSON of a
    /// one-argument call (`{"input": "…"}`).
    customs: HashSet<usize>,
    streamed_args: HashSet<usize>,
    saw_calls: bool,
    saw_end: bool,
}

fn text_kind(thinking: bool) -> BlockKind {
    if thinking { BlockKind::Thinking } else { BlockKind::Text }
}

impl StreamDecoder for ResponsesStreamDecoder {
    fn push(&mut self, event: &SseEvent) -> Vec<Event> {
        let e = match serde_json::from_str::<StreamEvent>(&event.data) {
            Ok(parsed) => parsed,
            Err(e) => return crate::codec::unreadable_event(&event.data, &e),
        };
        let mut out = Vec::new();
        let oi = e.output_index.unwrap_or(0);
        match e.kind.as_str() {
            "response.created" => {
                if let Some(r) = e.response {
                    out.push(Event::Start { id: r.id, model: r.model, created: r.created_at });
                }
            }
            "response.output_item.added" => {
                let Some(item) = e.item else { return out };
                let custom = match item.kind.as_deref() {
                    Some("function_call") => false,
                    Some("custom_tool_call") => true,
                    _ => return out,
                };
                let id = item.call_id.unwrap_or_default();
                let name = item.name.unwrap_or_default();
                let name = match item.namespace {
                    Some(ns) => format!("{ns}{NAMESPACE_SEPARATOR}{name}"),
                    None => name,
                };
                let kind = || BlockKind::ToolCall { id, name };
                let index = self.blocks.ensure((oi, false), kind, &mut out);
                self.calls.insert(oi, index);
                self.saw_calls = true;
                if custom {
                    self.customs.insert(oi);
                    out.push(Event::ToolArgsDelta { index, json: "{\"input\":\"".into() });
                }
            }
            "response.custom_tool_call_input.delta" => {
                if let (Some(&index), Some(text)) =
                    (self.calls.get(&oi), e.delta.filter(|d| !d.is_empty()))
                {
                    self.streamed_args.insert(oi);
                    out.push(Event::ToolArgsDelta { index, json: json_string_body(&text) });
                }
            }
            "response.output_text.delta" | "response.refusal.delta" => {
                if let Some(text) = e.delta.filter(|d| !d.is_empty()) {
                    let index = self.blocks.ensure((oi, false), || text_kind(false), &mut out);
                    out.push(Event::TextDelta { index, text });
                }
            }
            "response.reasoning_summary_text.delta" | "response.reasoning_text.delta" => {
                if let Some(text) = e.delta.filter(|d| !d.is_empty()) {
                    let index = self.blocks.ensure((oi, true), || text_kind(true), &mut out);
                    out.push(Event::ThinkingDelta { index, text });
                }
            }
            "response.function_call_arguments.delta" => {
                if let (Some(&index), Some(json)) =
                    (self.calls.get(&oi), e.delta.filter(|d| !d.is_empty()))
                {
                    self.streamed_args.insert(oi);
                    out.push(Event::ToolArgsDelta { index, json });
                }
            }
            "response.output_item.done" => {
                if let Some(item) =
                    e.item.as_ref().filter(|i| i.kind.as_deref() == Some("reasoning"))
                    && let Some(sealed) = item.encrypted_content.as_ref().filter(|s| !s.is_empty())
                {
                    // The seal closes the item's thinking block (opened here if it showed none).
                    let index = self.blocks.ensure((oi, true), || text_kind(true), &mut out);
                    let seal = Seal::new(Protocol::OpenaiResponses, sealed.clone());
                    out.push(Event::SignatureDelta { index, seal });
                }
                if let Some(&index) = self.calls.get(&oi) {
                    let custom = self.customs.contains(&oi);
                    if !self.streamed_args.contains(&oi) {
                        let item = e.item;
                        let json = if custom {
                            item.and_then(|i| i.input).map(|t| json_string_body(&t))
                        } else {
                            item.and_then(|i| i.arguments)
                        };
                        if let Some(json) = json.filter(|a| !a.is_empty()) {
                            out.push(Event::ToolArgsDelta { index, json });
                        }
                    }
                    if custom {
                        out.push(Event::ToolArgsDelta { index, json: "\"}".into() });
                    }
                }
                if self.blocks.get((oi, false)).or(self.blocks.get((oi, true))).is_some() {
                    self.blocks.close(&mut out);
                }
            }
            "response.completed" | "response.incomplete" => {
                self.blocks.close(&mut out);
                self.saw_end = true;
                if let Some(r) = e.response {
                    if let Some(u) = r.usage {
                        out.push(Event::Usage(u.into()));
                    }
                    let reason = r.incomplete_details.and_then(|d| d.reason);
                    out.push(Event::Finish(finish(
                        r.status.as_deref(),
                        reason.as_deref(),
                        self.saw_calls,
                    )));
                }
            }
            "response.failed" => {
                let message = e
                    .response
                    .and_then(|r| r.error)
                    .and_then(|err| err["message"].as_str().map(str::to_owned))
                    .unwrap_or_else(|| "upstream response failed".into());
                out.push(Event::Error { kind: "upstream_stream_error".into(), message });
            }
            "error" => out.push(Event::Error {
                kind: e.code.unwrap_or_else(|| "upstream_stream_error".into()),
                message: e.message.unwrap_or_else(|| "upstream error".into()),
            }),
            _ => {}
        }
        out
    }

    fn finish(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        self.blocks.close(&mut out);
        out
    }

    fn saw_terminal(&self) -> bool {
        self.saw_end
    }
}

/// `text` as it appears inside a JSON string (escaped, without the quotes).
fn json_string_body(text: &str) -> String {
    let quoted = Value::String(text.to_owned()).to_string();
    quoted[1..quoted.len() - 1].to_owned()
}

/// The block being streamed to the client.
#[derive(Debug)]
struct OpenItem {
    index: usize,
    item_id: String,
    kind: BlockKind,
    /// A call of the caller's custom tool: its input is sent whole when the call ends.
    custom: bool,
    text: String,
    /// A thinking block's seal, sent in the item when it is done.
    seal: Option<Seal>,
}

/// Canonical events in, Responses SSE out, with `sequence_number` on every event.
#[derive(Debug, Default)]
pub struct ResponsesStreamEncoder {
    client: ClientView,
    seq: u64,
    id: String,
    model: String,
    created: i64,
    open: Option<OpenItem>,
    items: Vec<Value>,
    finish: Option<FinishReason>,
    usage: Usage,
}

impl ResponsesStreamEncoder {
    pub fn new(client: ClientView) -> Self {
        Self { client, ..Self::default() }
    }

    fn emit(&mut self, kind: &str, mut payload: Value, out: &mut BytesMut) {
        payload["type"] = kind.into();
        payload["sequence_number"] = self.seq.into();
        self.seq += 1;
        write_sse(out, Some(kind), &payload.to_string());
    }

    fn start_block(&mut self, index: usize, kind: &BlockKind, out: &mut BytesMut) {
        let mut custom = false;
        let (item_id, item) = match kind {
            BlockKind::Text => (
                format!("msg_{index}"),
                json!({"type": "message", "id": format!("msg_{index}"),
                "status": "in_progress", "role": "assistant", "content": []}),
            ),
            BlockKind::Thinking => (
                format!("rs_{index}"),
                json!({"type": "reasoning", "id": format!("rs_{index}"), "summary": []}),
            ),
            BlockKind::ToolCall { id, name } => match self.client.tool_kind(name) {
                Some(ToolKind::Custom { .. }) => {
                    custom = true;
                    (
                        format!("ctc_{index}"),
                        json!({"type": "custom_tool_call", "id": format!("ctc_{index}"),
                        "call_id": id, "name": name, "input": "", "status": "in_progress"}),
                    )
                }
                Some(ToolKind::Namespaced { namespace, function, .. }) => (
                    format!("fc_{index}"),
                    json!({"type": "function_call", "id": format!("fc_{index}"), "call_id": id,
                    "name": function, "namespace": namespace, "arguments": "", "status": "in_progress"}),
                ),
                _ => (
                    format!("fc_{index}"),
                    json!({"type": "function_call", "id": format!("fc_{index}"), "call_id": id,
                    "name": name, "arguments": "", "status": "in_progress"}),
                ),
            },
        };
        self.emit("response.output_item.added", json!({"output_index": index, "item": item}), out);
        match kind {
            BlockKind::Text => self.emit("response.content_part.added", json!({"item_id": item_id,
                "output_index": index, "content_index": 0,
                "part": {"type": "output_text", "text": "", "annotations": []}}), out),
            BlockKind::Thinking => self.emit("response.reasoning_summary_part.added", json!({"item_id": item_id,
                "output_index": index, "summary_index": 0, "part": {"type": "summary_text", "text": ""}}), out),
            BlockKind::ToolCall { .. } => {}
        }
        self.open = Some(OpenItem {
            index,
            item_id,
            kind: kind.clone(),
            custom,
            text: String::new(),
            seal: None,
        });
    }

    fn delta(&mut self, text: &str, out: &mut BytesMut) {
        let Some(open) = self.open.as_mut() else { return };
        open.text.push_str(text);
        if open.custom {
            return; // sent whole when the call ends
        }
        let (item_id, index) = (open.item_id.clone(), open.index);
        let (kind, payload) = match open.kind {
            BlockKind::Text => (
                "response.output_text.delta",
                json!({"item_id": item_id, "output_index": index,
                "content_index": 0, "delta": text, "logprobs": []}),
            ),
            BlockKind::Thinking => (
                "response.reasoning_summary_text.delta",
                json!({"item_id": item_id,
                "output_index": index, "summary_index": 0, "delta": text}),
            ),
            BlockKind::ToolCall { .. } => (
                "response.function_call_arguments.delta",
                json!({"item_id": item_id,
                "output_index": index, "delta": text}),
            ),
        };
        self.emit(kind, payload, out);
    }

    fn stop_block(&mut self, out: &mut BytesMut) {
        let Some(open) = self.open.take() else { return };
        let (id, i, text) = (open.item_id.clone(), open.index, open.text.clone());
        let block = match &open.kind {
            BlockKind::Text => {
                self.emit(
                    "response.output_text.done",
                    json!({"item_id": id, "output_index": i,
                    "content_index": 0, "text": text, "logprobs": []}),
                    out,
                );
                self.emit("response.content_part.done", json!({"item_id": id, "output_index": i,
                    "content_index": 0, "part": {"type": "output_text", "text": text, "annotations": []}}), out);
                Block::Text(text)
            }
            BlockKind::Thinking => {
                self.emit(
                    "response.reasoning_summary_text.done",
                    json!({"item_id": id, "output_index": i,
                    "summary_index": 0, "text": text}),
                    out,
                );
                self.emit(
                    "response.reasoning_summary_part.done",
                    json!({"item_id": id, "output_index": i,
                    "summary_index": 0, "part": {"type": "summary_text", "text": text}}),
                    out,
                );
                Block::Thinking { text, seal: open.seal.clone() }
            }
            BlockKind::ToolCall { id: call_id, name } if open.custom => {
                let input =
                    arguments_object(&text)["input"].as_str().unwrap_or_default().to_owned();
                self.emit(
                    "response.custom_tool_call_input.delta",
                    json!({"item_id": id, "output_index": i, "delta": input}),
                    out,
                );
                self.emit(
                    "response.custom_tool_call_input.done",
                    json!({"item_id": id, "output_index": i, "input": input}),
                    out,
                );
                Block::ToolCall { id: call_id.clone(), name: name.clone(), arguments: text }
            }
            BlockKind::ToolCall { id: call_id, name } => {
                let shown = match self.client.tool_kind(name) {
                    Some(ToolKind::Namespaced { function, .. }) => function.clone(),
                    _ => name.clone(),
                };
                self.emit(
                    "response.function_call_arguments.done",
                    json!({"item_id": id, "output_index": i,
                    "name": shown, "arguments": text}),
                    out,
                );
                Block::ToolCall { id: call_id.clone(), name: name.clone(), arguments: text }
            }
        };
        if let Some(item) = item_json(i, &block, &self.client) {
            self.emit(
                "response.output_item.done",
                json!({"output_index": i, "item": item.clone()}),
                out,
            );
            self.items.push(item);
        }
    }
}

impl StreamEncoder for ResponsesStreamEncoder {
    fn push(&mut self, event: &Event, out: &mut BytesMut) {
        match event {
            Event::Start { id, model, created } => {
                (self.id, self.model, self.created) = (id.clone(), model.clone(), *created);
                let response = response_json(id, model, *created, vec![], None);
                self.emit("response.created", json!({"response": response.clone()}), out);
                self.emit("response.in_progress", json!({"response": response}), out);
            }
            Event::BlockStart { index, kind } => {
                self.stop_block(out);
                self.start_block(*index, kind, out);
            }
            Event::TextDelta { text, .. } | Event::ThinkingDelta { text, .. } => {
                self.delta(text, out)
            }
            Event::ToolArgsDelta { json, .. } => self.delta(json, out),
            Event::BlockStop { .. } => self.stop_block(out),
            Event::Usage(u) => self.usage.merge(*u),
            Event::Finish(reason) => self.finish = Some(reason.clone()),
            Event::Error { kind, message } => self.error(kind, message, out),
            Event::SignatureDelta { seal, .. } => {
                if let Some(open) = self.open.as_mut() {
                    open.seal = Some(seal.clone());
                }
            }
        }
    }

    fn finish(&mut self, out: &mut BytesMut) {
        self.stop_block(out);
        let reason = self.finish.clone().unwrap_or(FinishReason::Stop);
        let (id, model, created) = (self.id.clone(), self.model.clone(), self.created);
        let response =
            response_json(&id, &model, created, self.items.clone(), Some((&reason, &self.usage)));
        let kind = if response["status"] == "incomplete" {
            "response.incomplete"
        } else {
            "response.completed"
        };
        self.emit(kind, json!({"response": response}), out);
    }

    fn error(&mut self, kind: &str, message: &str, out: &mut BytesMut) {
        self.emit("error", json!({"code": kind, "message": message, "param": null}), out);
    }

    fn terminal(&mut self, _out: &mut BytesMut) {}
}
