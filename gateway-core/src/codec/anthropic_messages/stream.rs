//! Messages streams ⇄ canonical events.

use std::collections::HashMap;

use bytes::BytesMut;
use serde_json::{Value, json};

use super::response::{finish_reason, stop_reason, usage_json};
use super::wire::{Delta, StreamEvent, WireBlock};
use crate::canonical::{BlockKind, Event, FinishReason, Seal, Usage};
use crate::codec::{StreamDecoder, StreamEncoder, write_sse};
use crate::provider::Protocol;
use crate::sse::SseEvent;

/// Messages events in, canonical events out.
#[derive(Debug, Default)]
pub struct MessagesStreamDecoder {
    /// Anthropic block index → canonical index (skipped block types get none).
    blocks: HashMap<usize, usize>,
    next_index: usize,
    saw_stop: bool,
}

impl StreamDecoder for MessagesStreamDecoder {
    fn push(&mut self, event: &SseEvent) -> Vec<Event> {
        let parsed = match serde_json::from_str::<StreamEvent>(&event.data) {
            Ok(parsed) => parsed,
            Err(e) => return crate::codec::unreadable_event(&event.data, &e),
        };
        let mut out = Vec::new();
        match parsed {
            StreamEvent::MessageStart { message } => {
                out.push(Event::Start { id: message.id, model: message.model, created: 0 });
                if let Some(u) = message.usage {
                    out.push(Event::Usage(u.into()));
                }
            }
            StreamEvent::ContentBlockStart { index, content_block } => {
                let mut redacted = None;
                let kind = match content_block {
                    WireBlock::Text { .. } => BlockKind::Text,
                    WireBlock::Thinking { .. } => BlockKind::Thinking,
                    WireBlock::RedactedThinking { data } => {
                        redacted = Some(data);
                        BlockKind::Thinking
                    }
                    WireBlock::ToolUse { id, name, .. } => BlockKind::ToolCall { id, name },
                    _ => return out,
                };
                let canonical = self.next_index;
                self.next_index += 1;
                self.blocks.insert(index, canonical);
                out.push(Event::BlockStart { index: canonical, kind });
                if let Some(data) = redacted {
                    let seal =
                        Seal { redacted: true, ..Seal::new(Protocol::AnthropicMessages, data) };
                    out.push(Event::SignatureDelta { index: canonical, seal });
                }
            }
            StreamEvent::ContentBlockDelta { index, delta } => {
                let Some(&index) = self.blocks.get(&index) else { return out };
                out.push(match delta {
                    Delta::Text { text } => Event::TextDelta { index, text },
                    Delta::InputJson { partial_json } if partial_json.is_empty() => return out,
                    Delta::InputJson { partial_json } => {
                        Event::ToolArgsDelta { index, json: partial_json }
                    }
                    Delta::Thinking { thinking } => Event::ThinkingDelta { index, text: thinking },
                    Delta::Signature { signature } => Event::SignatureDelta {
                        index,
                        seal: Seal::new(Protocol::AnthropicMessages, signature),
                    },
                    Delta::Other => return out,
                });
            }
            StreamEvent::ContentBlockStop { index } => {
                if let Some(index) = self.blocks.remove(&index) {
                    out.push(Event::BlockStop { index });
                }
            }
            StreamEvent::MessageDelta { delta, usage } => {
                if let Some(u) = usage {
                    let mut usage: Usage = u.into();
                    // message_delta may omit input; never let that erase message_start's count.
                    if usage.input == Some(0) {
                        usage.input = None;
                    }
                    out.push(Event::Usage(usage));
                }
                if let Some(reason) = delta.stop_reason {
                    out.push(Event::Finish(finish_reason(&reason)));
                }
            }
            StreamEvent::MessageStop => self.saw_stop = true,
            StreamEvent::Error { error } => {
                let kind =
                    if error.kind.is_empty() { "upstream_stream_error".into() } else { error.kind };
                out.push(Event::Error { kind, message: error.message });
            }
            StreamEvent::Ping | StreamEvent::Other => {}
        }
        out
    }

    fn finish(&mut self) -> Vec<Event> {
        crate::codec::stop_open(&mut self.blocks)
    }

    fn saw_terminal(&self) -> bool {
        self.saw_stop
    }
}

/// Canonical events in, Messages SSE out (every event with its `event:` line).
#[derive(Debug, Default)]
pub struct MessagesStreamEncoder {
    finish: Option<FinishReason>,
    usage: Usage,
    /// `message_start` held until the usage that may follow the start is known (an Anthropic
    /// upstream reports input and cache tokens there), written before anything else.
    pending: Option<Value>,
    /// The open thinking block's text so far (a seal from another protocol carries it).
    thinking: String,
}

impl MessagesStreamEncoder {
    fn open(&mut self, out: &mut BytesMut) {
        if let Some(mut start) = self.pending.take() {
            start["message"]["usage"] = usage_json(&Usage { output: Some(0), ..self.usage });
            emit(out, start);
        }
    }
}

fn emit(out: &mut BytesMut, value: Value) {
    let name = value["type"].as_str().unwrap_or("unknown").to_owned();
    write_sse(out, Some(&name), &value.to_string());
}

impl StreamEncoder for MessagesStreamEncoder {
    fn push(&mut self, event: &Event, out: &mut BytesMut) {
        match event {
            Event::Start { id, model, .. } => {
                self.pending = Some(json!({"type": "message_start", "message": {
                    "id": super::response::message_id(id), "type": "message", "role": "assistant", "model": model, "content": [],
                    "stop_reason": null, "stop_sequence": null,
                }}));
                return;
            }
            Event::Usage(u) => {
                self.usage.merge(*u);
                self.open(out);
                return;
            }
            _ => self.open(out),
        }
        match event {
            Event::Start { .. } | Event::Usage(_) => {}
            Event::BlockStart { index, kind } => {
                let block = match kind {
                    BlockKind::Text => json!({"type": "text", "text": ""}),
                    BlockKind::Thinking => {
                        json!({"type": "thinking", "thinking": "", "signature": ""})
                    }
                    BlockKind::ToolCall { id, name } => {
                        json!({"type": "tool_use", "id": id, "name": name, "input": {}})
                    }
                };
                emit(
                    out,
                    json!({"type": "content_block_start", "index": index, "content_block": block}),
                );
            }
            Event::TextDelta { index, text } => emit(
                out,
                json!({"type": "content_block_delta", "index": index,
                "delta": {"type": "text_delta", "text": text}}),
            ),
            Event::ThinkingDelta { index, text } => {
                self.thinking.push_str(text);
                emit(
                    out,
                    json!({"type": "content_block_delta", "index": index,
                    "delta": {"type": "thinking_delta", "thinking": text}}),
                )
            }
            Event::SignatureDelta { index, seal } => {
                let signature = seal.present(Protocol::AnthropicMessages, &self.thinking);
                emit(
                    out,
                    json!({"type": "content_block_delta",
                    "index": index, "delta": {"type": "signature_delta", "signature": signature}}),
                )
            }
            Event::ToolArgsDelta { index, json } => emit(
                out,
                json!({"type": "content_block_delta", "index": index,
                "delta": {"type": "input_json_delta", "partial_json": json}}),
            ),
            Event::BlockStop { index } => {
                self.thinking.clear();
                emit(out, json!({"type": "content_block_stop", "index": index}))
            }
            Event::Finish(reason) => self.finish = Some(reason.clone()),
            Event::Error { kind, message } => self.error(kind, message, out),
        }
    }

    fn finish(&mut self, out: &mut BytesMut) {
        self.open(out);
        let reason = self.finish.clone().unwrap_or(FinishReason::Stop);
        emit(
            out,
            json!({"type": "message_delta",
            "delta": {"stop_reason": stop_reason(&reason), "stop_sequence": null},
            "usage": usage_json(&self.usage)}),
        );
        self.terminal(out);
    }

    fn error(&mut self, kind: &str, message: &str, out: &mut BytesMut) {
        let kind = match kind {
            "overloaded_error" | "rate_limit_error" | "invalid_request_error" => kind,
            _ => "api_error",
        };
        emit(out, json!({"type": "error", "error": {"type": kind, "message": message}}));
    }

    fn terminal(&mut self, out: &mut BytesMut) {
        emit(out, json!({"type": "message_stop"}));
    }
}
