//! Gemini SSE (each event a whole `GenerateContentResponse`) → canonical events.

use super::request::decode_parts;
use super::response::finish_reason;
use super::wire::GenerateResponse;
use crate::canonical::{Block, BlockKind, Event};
use crate::codec::{OpenBlock, StreamDecoder};
use crate::sse::SseEvent;

#[derive(Debug, Default)]
pub struct GeminiStreamDecoder {
    started: bool,
    /// The open text (`false`) or thinking (`true`) block.
    blocks: OpenBlock<bool>,
    next_call: usize,
    saw_calls: bool,
    saw_finish: bool,
}

impl StreamDecoder for GeminiStreamDecoder {
    fn push(&mut self, event: &SseEvent) -> Vec<Event> {
        let Ok(chunk) = serde_json::from_str::<GenerateResponse>(&event.data) else {
            return vec![];
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
            for block in decode_parts(candidate.content, &mut self.next_call) {
                match block {
                    Block::Text(text) | Block::Thinking { text, .. } if text.is_empty() => {}
                    Block::Text(text) => {
                        let index = self.blocks.ensure(false, || BlockKind::Text, &mut out);
                        out.push(Event::TextDelta { index, text });
                    }
                    Block::Thinking { text, .. } => {
                        let index = self.blocks.ensure(true, || BlockKind::Thinking, &mut out);
                        out.push(Event::ThinkingDelta { index, text });
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
