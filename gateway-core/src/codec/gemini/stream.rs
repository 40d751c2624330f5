//! Gemini SSE (each event a whole `GenerateContentResponse`) → canonical events.

use super::request::decode_parts;
use super::response::finish_reason;
use super::wire::GenerateResponse;
use crate::canonical::{Block, BlockKind, Event};
use crate::codec::StreamDecoder;
use crate::sse::SseEvent;

#[derive(Debug, Default)]
pub struct GeminiStreamDecoder {
    started: bool,
    /// Open text or thinking block: canonical index and whether it is thinking.
    open: Option<(usize, bool)>,
    next_index: usize,
    next_call: usize,
    saw_calls: bool,
    saw_finish: bool,
}

impl GeminiStreamDecoder {
    fn close(&mut self, out: &mut Vec<Event>) {
        if let Some((index, _)) = self.open.take() {
            out.push(Event::BlockStop { index });
        }
    }

    fn open_new(&mut self, kind: BlockKind, out: &mut Vec<Event>) -> usize {
        self.close(out);
        let index = self.next_index;
        self.next_index += 1;
        out.push(Event::BlockStart { index, kind });
        index
    }
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
                        let index = match self.open {
                            Some((i, false)) => i,
                            _ => {
                                let i = self.open_new(BlockKind::Text, &mut out);
                                self.open = Some((i, false));
                                i
                            }
                        };
                        out.push(Event::TextDelta { index, text });
                    }
                    Block::Thinking { text, .. } => {
                        let index = match self.open {
                            Some((i, true)) => i,
                            _ => {
                                let i = self.open_new(BlockKind::Thinking, &mut out);
                                self.open = Some((i, true));
                                i
                            }
                        };
                        out.push(Event::ThinkingDelta { index, text });
                    }
                    Block::ToolCall { id, name, arguments } => {
                        self.saw_calls = true;
                        let index = self.open_new(BlockKind::ToolCall { id, name }, &mut out);
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
            self.close(&mut out);
            self.saw_finish = true;
            out.push(Event::Finish(finish_reason(&reason, self.saw_calls)));
        }
        out
    }

    fn finish(&mut self) -> Vec<Event> {
        let mut out = Vec::new();
        self.close(&mut out);
        out
    }

    fn saw_terminal(&self) -> bool {
        self.saw_finish
    }
}
