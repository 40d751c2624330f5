//! Chat Completions streams ⇄ canonical events.

use std::collections::HashMap;

use bytes::{BufMut, BytesMut};
use serde_json::{Value, json};

use super::response::{finish_reason, finish_str, usage_json};
use super::wire::Chunk;
use crate::canonical::{BlockKind, Event, FinishReason, Usage};
use crate::codec::{OpenBlock, StreamDecoder, StreamEncoder, write_sse};
use crate::sse::SseEvent;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Open {
    Text,
    Thinking,
    /// A tool call, by its `tool_calls[].index`.
    Tool(usize),
}

/// Chunks in, canonical events out. Only choice 0 is read.
#[derive(Debug, Default)]
pub struct ChatStreamDecoder {
    started: bool,
    blocks: OpenBlock<Open>,
    /// `tool_calls[].index` → canonical index.
    tools: HashMap<usize, usize>,
    saw_done: bool,
    /// Prefix of the ids made for calls that come without one.
    call_ids: String,
}

impl ChatStreamDecoder {
    pub fn new(call_ids: &str) -> Self {
        ChatStreamDecoder { call_ids: call_ids.to_owned(), ..ChatStreamDecoder::default() }
    }
}

impl StreamDecoder for ChatStreamDecoder {
    fn push(&mut self, event: &SseEvent) -> Vec<Event> {
        let mut out = Vec::new();
        if event.data.trim() == "[DONE]" {
            self.saw_done = true;
            return out;
        }
        let chunk = match serde_json::from_str::<Chunk>(&event.data) {
            Ok(parsed) => parsed,
            Err(e) => return crate::codec::unreadable_event(&event.data, &e),
        };
        if let Some(error) = chunk.error {
            let message = error.get("message").and_then(Value::as_str).unwrap_or("upstream error");
            out.push(Event::Error {
                kind: "upstream_stream_error".into(),
                message: message.into(),
            });
            return out;
        }
        if !self.started {
            self.started = true;
            out.push(Event::Start {
                id: chunk.id.clone(),
                model: chunk.model.clone(),
                created: chunk.created,
            });
        }
        for choice in chunk.choices.into_iter().filter(|c| c.index == 0) {
            let delta = choice.delta;
            if let Some(text) =
                delta.reasoning_content.or(delta.reasoning).filter(|t| !t.is_empty())
            {
                let index = self.blocks.ensure(Open::Thinking, || BlockKind::Thinking, &mut out);
                out.push(Event::ThinkingDelta { index, text });
            }
            if let Some(text) = delta.content.filter(|t| !t.is_empty()) {
                let index = self.blocks.ensure(Open::Text, || BlockKind::Text, &mut out);
                out.push(Event::TextDelta { index, text });
            }
            for (pos, call) in delta.tool_calls.unwrap_or_default().into_iter().enumerate() {
                let tool = call.index.unwrap_or(pos);
                let (name, args) = call.function.map_or((None, None), |f| (f.name, f.arguments));
                let index =
                    match (self.blocks.get(Open::Tool(tool)), self.tools.contains_key(&tool)) {
                        (Some(index), _) => index,
                        (None, true) => continue, // a call resumed after another began: cannot reopen
                        (None, false) => {
                            let id = call
                                .id
                                .filter(|i| !i.is_empty())
                                .unwrap_or_else(|| format!("{}_{tool}", self.call_ids));
                            let name = name.unwrap_or_default();
                            let kind = || BlockKind::ToolCall { id, name };
                            let index = self.blocks.ensure(Open::Tool(tool), kind, &mut out);
                            self.tools.insert(tool, index);
                            index
                        }
                    };
                if let Some(json) = args.filter(|a| !a.is_empty()) {
                    out.push(Event::ToolArgsDelta { index, json });
                }
            }
            if let Some(reason) = choice.finish_reason {
                self.blocks.close(&mut out);
                out.push(Event::Finish(finish_reason(&reason)));
            }
        }
        if let Some(usage) = chunk.usage {
            out.push(Event::Usage(usage.into()));
        }
        out
    }

    fn finish(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        self.blocks.close(&mut out);
        out
    }

    fn saw_terminal(&self) -> bool {
        self.saw_done
    }
}

/// Canonical events in, `chat.completion.chunk` SSE out.
#[derive(Debug, Default)]
pub struct ChatStreamEncoder {
    include_usage: bool,
    id: String,
    model: String,
    created: i64,
    tool_index: HashMap<usize, usize>,
    finish: Option<FinishReason>,
    usage: Usage,
}

impl ChatStreamEncoder {
    pub fn new(include_usage: bool) -> Self {
        Self { include_usage, ..Self::default() }
    }

    fn chunk(&self, delta: Value, finish: Value, out: &mut BytesMut) {
        let chunk = json!({
            "id": self.id, "object": "chat.completion.chunk", "created": self.created, "model": self.model,
            "choices": [{"index": 0, "delta": delta, "logprobs": null, "finish_reason": finish}],
        });
        write_sse(out, None, &chunk.to_string());
    }
}

impl StreamEncoder for ChatStreamEncoder {
    fn push(&mut self, event: &Event, out: &mut BytesMut) {
        match event {
            Event::Start { id, model, created } => {
                (self.id, self.model, self.created) = (id.clone(), model.clone(), *created);
                self.chunk(json!({"role": "assistant", "content": ""}), Value::Null, out);
            }
            Event::BlockStart { index, kind: BlockKind::ToolCall { id, name } } => {
                let tool = self.tool_index.len();
                self.tool_index.insert(*index, tool);
                let call = json!({"index": tool, "id": id, "type": "function", "function": {"name": name, "arguments": ""}});
                self.chunk(json!({"tool_calls": [call]}), Value::Null, out);
            }
            Event::TextDelta { text, .. } => self.chunk(json!({"content": text}), Value::Null, out),
            Event::ThinkingDelta { text, .. } => {
                self.chunk(json!({"reasoning_content": text}), Value::Null, out)
            }
            Event::ToolArgsDelta { index, json } => {
                if let Some(tool) = self.tool_index.get(index) {
                    let call = json!({"index": tool, "function": {"arguments": json}});
                    self.chunk(json!({"tool_calls": [call]}), Value::Null, out);
                }
            }
            Event::Usage(u) => self.usage.merge(*u),
            Event::Finish(reason) => self.finish = Some(reason.clone()),
            Event::Error { kind, message } => self.error(kind, message, out),
            Event::BlockStart { .. } | Event::BlockStop { .. } | Event::SignatureDelta { .. } => {}
        }
    }

    fn finish(&mut self, out: &mut BytesMut) {
        let reason = self.finish.clone().unwrap_or(FinishReason::Stop);
        self.chunk(json!({}), finish_str(&reason).into(), out);
        if self.include_usage {
            let chunk = json!({
                "id": self.id, "object": "chat.completion.chunk", "created": self.created,
                "model": self.model, "choices": [], "usage": usage_json(&self.usage),
            });
            write_sse(out, None, &chunk.to_string());
        }
        self.terminal(out);
    }

    fn error(&mut self, kind: &str, message: &str, out: &mut BytesMut) {
        let error = json!({"error": {"message": message, "type": "api_error", "param": null, "code": kind}});
        write_sse(out, None, &error.to_string());
    }

    fn terminal(&mut self, out: &mut BytesMut) {
        out.put_slice(b"data: [DONE]\n\n");
    }
}
