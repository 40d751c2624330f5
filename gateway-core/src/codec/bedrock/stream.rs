//! ConverseStream events ⇄ canonical events. The framing (binary event-stream messages) is
//! [`super::eventstream`]'s; here each message is an event named by its `:event-type`.

use std::collections::HashMap;

use bytes::BytesMut;
use serde_json::{Value, json};

use super::eventstream::{write_event, write_message};
use super::response::{finish_reason, stop_reason, usage, usage_json};
use crate::canonical::{BlockKind, Event, FinishReason, Seal, Usage};
use crate::codec::{StreamDecoder, StreamEncoder};
use crate::provider::Protocol;
use crate::sse::SseEvent;

/// ConverseStream events in, canonical events out. Text and reasoning blocks have no start
/// event (their first delta opens them); tool calls start with their id and name.
#[derive(Debug, Default)]
pub struct ConverseStreamDecoder {
    /// Converse block index → canonical index.
    blocks: HashMap<u64, usize>,
    next_index: usize,
    started: bool,
    saw_metadata: bool,
}

impl ConverseStreamDecoder {
    fn open(&mut self, index: u64, kind: BlockKind, out: &mut Vec<Event>) -> usize {
        if let Some(&canonical) = self.blocks.get(&index) {
            return canonical;
        }
        let canonical = self.next_index;
        self.next_index += 1;
        self.blocks.insert(index, canonical);
        out.push(Event::BlockStart { index: canonical, kind });
        canonical
    }
}

impl StreamDecoder for ConverseStreamDecoder {
    fn push(&mut self, event: &SseEvent) -> Vec<Event> {
        let name = event.event.as_deref().unwrap_or_default();
        let mut out = Vec::new();
        if let Some(kind) = name.strip_prefix("exception:").or_else(|| name.strip_prefix("error:"))
        {
            let value: Value = serde_json::from_str(&event.data).unwrap_or_default();
            let message = value["message"].as_str().unwrap_or(&event.data).to_owned();
            let kind =
                if kind.is_empty() { "upstream_stream_error".to_owned() } else { kind.to_owned() };
            out.push(Event::Error { kind, message });
            return out;
        }
        let value: Value = match serde_json::from_str(&event.data) {
            Ok(v) => v,
            Err(e) => return crate::codec::unreadable_event(&event.data, &e),
        };
        let index = value["contentBlockIndex"].as_u64().unwrap_or(0);
        match name {
            "messageStart" => {
                self.started = true;
                out.push(Event::Start { id: String::new(), model: String::new(), created: 0 });
            }
            "contentBlockStart" => {
                if let Some(call) = value["start"].get("toolUse") {
                    let id = call["toolUseId"].as_str().unwrap_or_default().to_owned();
                    let name = call["name"].as_str().unwrap_or_default().to_owned();
                    self.open(index, BlockKind::ToolCall { id, name }, &mut out);
                }
            }
            "contentBlockDelta" => {
                let delta = &value["delta"];
                if let Some(text) = delta["text"].as_str() {
                    let at = self.open(index, BlockKind::Text, &mut out);
                    out.push(Event::TextDelta { index: at, text: text.to_owned() });
                } else if let Some(input) = delta["toolUse"]["input"].as_str() {
                    let Some(&at) = self.blocks.get(&index) else { return out };
                    if !input.is_empty() {
                        out.push(Event::ToolArgsDelta { index: at, json: input.to_owned() });
                    }
                } else if let Some(reasoning) = delta.get("reasoningContent") {
                    let at = self.open(index, BlockKind::Thinking, &mut out);
                    if let Some(text) = reasoning["text"].as_str() {
                        out.push(Event::ThinkingDelta { index: at, text: text.to_owned() });
                    }
                    if let Some(signature) = reasoning["signature"].as_str() {
                        let seal = Seal::new(Protocol::BedrockConverse, signature);
                        out.push(Event::SignatureDelta { index: at, seal });
                    }
                    if let Some(data) = reasoning["redactedContent"].as_str() {
                        let seal =
                            Seal { redacted: true, ..Seal::new(Protocol::BedrockConverse, data) };
                        out.push(Event::SignatureDelta { index: at, seal });
                    }
                }
            }
            "contentBlockStop" => {
                if let Some(at) = self.blocks.remove(&index) {
                    out.push(Event::BlockStop { index: at });
                }
            }
            "messageStop" => {
                out.extend(self.finish());
                let reason = value["stopReason"].as_str().map_or(FinishReason::Stop, finish_reason);
                out.push(Event::Finish(reason));
            }
            "metadata" => {
                self.saw_metadata = true;
                out.push(Event::Usage(usage(&value["usage"])));
            }
            _ => {}
        }
        out
    }

    fn finish(&mut self) -> Vec<Event> {
        crate::codec::stop_open(&mut self.blocks)
    }

    fn saw_terminal(&self) -> bool {
        self.saw_metadata
    }
}

/// Canonical events in, ConverseStream messages out.
#[derive(Debug, Default)]
pub struct ConverseStreamEncoder {
    finish: Option<FinishReason>,
    usage: Usage,
    /// Canonical index → whether the block is a thinking block (its seal goes in a delta).
    thinking: HashMap<usize, bool>,
}

impl StreamEncoder for ConverseStreamEncoder {
    fn push(&mut self, event: &Event, out: &mut BytesMut) {
        match event {
            Event::Start { .. } => write_event(out, "messageStart", r#"{"role":"assistant"}"#),
            Event::BlockStart { index, kind } => {
                self.thinking.insert(*index, *kind == BlockKind::Thinking);
                if let BlockKind::ToolCall { id, name } = kind {
                    let start = json!({"contentBlockIndex": index,
                        "start": {"toolUse": {"toolUseId": id, "name": name}}});
                    write_event(out, "contentBlockStart", &start.to_string());
                }
            }
            Event::TextDelta { index, text } => {
                let delta = json!({"contentBlockIndex": index, "delta": {"text": text}});
                write_event(out, "contentBlockDelta", &delta.to_string());
            }
            Event::ThinkingDelta { index, text } => {
                let delta = json!({"contentBlockIndex": index,
                    "delta": {"reasoningContent": {"text": text}}});
                write_event(out, "contentBlockDelta", &delta.to_string());
            }
            Event::SignatureDelta { index, seal } => {
                let signature = seal.present(Protocol::BedrockConverse, "");
                let delta = json!({"contentBlockIndex": index,
                    "delta": {"reasoningContent": {"signature": signature}}});
                write_event(out, "contentBlockDelta", &delta.to_string());
            }
            Event::ToolArgsDelta { index, json } => {
                let delta = json!({"contentBlockIndex": index,
                    "delta": {"toolUse": {"input": json}}});
                write_event(out, "contentBlockDelta", &delta.to_string());
            }
            Event::BlockStop { index } => {
                write_event(
                    out,
                    "contentBlockStop",
                    &json!({"contentBlockIndex": index}).to_string(),
                );
            }
            Event::Usage(u) => self.usage.merge(*u),
            Event::Finish(reason) => self.finish = Some(reason.clone()),
            Event::Error { kind, message } => self.error(kind, message, out),
        }
    }

    fn finish(&mut self, out: &mut BytesMut) {
        let reason = self.finish.take().unwrap_or(FinishReason::Stop);
        write_event(out, "messageStop", &json!({"stopReason": stop_reason(&reason)}).to_string());
        let metadata = json!({"usage": usage_json(&self.usage), "metrics": {"latencyMs": 0}});
        write_event(out, "metadata", &metadata.to_string());
    }

    fn error(&mut self, kind: &str, message: &str, out: &mut BytesMut) {
        let exception = match kind {
            k if k.contains("rate_limit") => "throttlingException",
            k if k.contains("timeout") || k.contains("unavailable") => {
                "serviceUnavailableException"
            }
            _ => "modelStreamErrorException",
        };
        let headers = [
            (":message-type", "exception"),
            (":exception-type", exception),
            (":content-type", "application/json"),
        ];
        write_message(out, &headers, json!({"message": message}).to_string().as_bytes());
    }

    fn terminal(&mut self, _out: &mut BytesMut) {}

    fn relay(&mut self, event: Option<&str>, data: &str, out: &mut BytesMut) {
        write_event(out, event.unwrap_or_default(), data);
    }
}
