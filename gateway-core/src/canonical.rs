//! The canonical model every wire protocol decodes into and encodes from (hub and spoke): a
//! request, a response, and the stream event vocabulary. It is at least as rich as the richest
//! protocol the gateway speaks, so a trip through it loses only what a codec drops on purpose
//! (each codec's module doc lists what it maps, approximates and drops).

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Who said a message. Tool results travel inside user messages (as Anthropic and Gemini do);
/// OpenAI's `tool` role is decoded into that and encoded back out of it. `System` is an
/// instruction given in the middle of a conversation (Claude Code sends them after the first
/// turn, OpenAI callers may send `system`/`developer` messages anywhere); instructions that open
/// the conversation live in [`Request::system`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Role {
    User,
    Assistant,
    System,
}

/// Where an image comes from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum ImageSource {
    Url(String),
    Base64 { media_type: String, data: String },
}

/// One ordered piece of a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Block {
    Text(String),
    Image(ImageSource),
    /// The model asks for a tool; `arguments` is JSON text (as streamed, possibly `{}`).
    ToolCall {
        id: String,
        name: String,
        arguments: String,
    },
    /// The answer to a tool call, referring to its id.
    ToolResult {
        call_id: String,
        content: Vec<Block>,
        is_error: bool,
    },
    /// Reasoning shown by the model (possibly only a summary, or nothing), and the sealed form
    /// its upstream needs back on the next turn.
    Thinking {
        text: String,
        seal: Option<Seal>,
    },
}

/// Reasoning an upstream sealed so it can be given back on the next turn: Anthropic's thinking
/// `signature` (or a `redacted_thinking` block's `data`), OpenAI's `encrypted_content`, Gemini's
/// `thoughtSignature`. Only an upstream of `origin`'s protocol can read it: encoders send it to
/// that protocol as it came and drop it for any other. A caller of another protocol gets it
/// wrapped ([`Seal::present`]) in its own protocol's field, and sends it back that way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seal {
    pub origin: crate::provider::Protocol,
    pub data: String,
    /// Anthropic's `redacted_thinking`: the whole reasoning is in `data`.
    pub redacted: bool,
}

impl Seal {
    pub fn new(origin: crate::provider::Protocol, data: impl Into<String>) -> Seal {
        Seal { origin, data: data.into(), redacted: false }
    }

    /// The value to put in `reader`'s own field: the upstream's data as it came for a caller of
    /// the same protocol; otherwise (and for redacted thinking, which is presented as a thinking
    /// block's signature) the seal wrapped (base64 of a small JSON record with the
    /// reasoning text, which some callers do not send back), opaque to the caller.
    pub fn present(&self, reader: crate::provider::Protocol, text: &str) -> String {
        use base64::Engine;
        if reader == self.origin && !self.redacted {
            return self.data.clone();
        }
        let record = serde_json::json!({"gw": 1, "o": self.origin, "d": self.data,
            "r": self.redacted, "t": text});
        base64::engine::general_purpose::STANDARD.encode(record.to_string())
    }

    /// A seal read from `reader`'s field: one the gateway wrapped (with the reasoning text it
    /// carried), or the upstream's own. Wrapped seals may come back in URL-safe base64 (the
    /// google-genai SDK holds signatures as bytes and writes them that way).
    pub fn read(value: &str, reader: crate::provider::Protocol) -> (Seal, Option<String>) {
        use base64::Engine;
        use base64::engine::general_purpose::{STANDARD, URL_SAFE};
        // A wrapped record starts `{"`, which is `eyJ` in either alphabet: an upstream's own
        // signature (often kilobytes) is recognised without decoding it.
        let unwrapped = Some(value)
            .filter(|v| v.starts_with("eyJ"))
            .and_then(|v| STANDARD.decode(v).or_else(|_| URL_SAFE.decode(v)).ok())
            .and_then(|bytes| serde_json::from_slice::<Value>(&bytes).ok())
            .filter(|record| record["gw"] == 1);
        if let Some(record) = unwrapped
            && let (Ok(origin), Some(data)) =
                (serde_json::from_value(record["o"].clone()), record["d"].as_str())
        {
            let seal = Seal { origin, data: data.to_owned(), redacted: record["r"] == true };
            return (seal, record["t"].as_str().map(str::to_owned));
        }
        (Seal::new(reader, value), None)
    }

    /// A thinking block from `reader`'s field: for a wrapped seal, the text it carried (exactly
    /// what its upstream sealed, however the caller showed or split it); otherwise `shown`.
    pub fn thinking(value: &str, reader: crate::provider::Protocol, shown: String) -> Block {
        let (seal, carried) = Seal::read(value, reader);
        Block::Thinking { text: carried.unwrap_or(shown), seal: Some(seal) }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Message {
    pub role: Role,
    pub content: Vec<Block>,
}

/// A tool the model may use. For function-like tools `name` is what the model calls and
/// `parameters` a JSON Schema; `kind` says what the caller declared, so a codec that cannot carry
/// the kind natively can still offer the tool as a function and map calls back.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Tool {
    pub name: String,
    pub description: Option<String>,
    pub parameters: Value,
    pub kind: ToolKind,
}

/// What kind of tool the caller declared.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub enum ToolKind {
    /// A plain function.
    #[default]
    Function,
    /// A function inside a Responses `namespace` tool group; `name` above is the flattened
    /// `{namespace}__{function}` every other protocol sees.
    Namespaced { namespace: String, description: Option<String>, function: String },
    /// A Responses `custom` tool: freeform text input (optionally constrained by a grammar),
    /// offered elsewhere as a function with one string argument, `input`.
    Custom { format: Option<Value> },
    /// A tool the provider runs itself (web search, code execution, …), declared in `origin`'s
    /// own shape; only an upstream of that protocol can take it, others drop it.
    Hosted { origin: crate::provider::Protocol, spec: Value },
}

/// The separator between a namespace and a function name in flattened tool names.
pub const NAMESPACE_SEPARATOR: &str = "__";

impl Tool {
    /// A plain function tool.
    pub fn function(
        name: impl Into<String>,
        description: Option<String>,
        parameters: Value,
    ) -> Self {
        Tool { name: name.into(), description, parameters, kind: ToolKind::Function }
    }

    /// A `custom` (freeform) tool as a function: one required string argument, `input`; the
    /// grammar or format the text must follow is added to the description.
    pub fn custom(
        name: impl Into<String>,
        description: Option<String>,
        format: Option<Value>,
    ) -> Self {
        let parameters = serde_json::json!({
            "type": "object",
            "properties": {"input": {"type": "string", "description": "The tool's whole input, as raw text."}},
            "required": ["input"],
        });
        Tool { name: name.into(), description, parameters, kind: ToolKind::Custom { format } }
    }

    /// Whether the tool is a function of some kind (not hosted by a provider).
    pub fn is_callable(&self) -> bool {
        !matches!(self.kind, ToolKind::Hosted { .. })
    }

    /// The description offered to protocols that see the tool as a plain function: for custom
    /// tools, with how the single `input` argument must be written.
    pub fn function_description(&self) -> Option<String> {
        let ToolKind::Custom { format } = &self.kind else { return self.description.clone() };
        let mut text = self.description.clone().unwrap_or_default();
        if !text.is_empty() {
            text.push_str("\n\n");
        }
        text.push_str("Pass the whole input as the string argument `input`, not as JSON.");
        if let Some(format) = format {
            match (format["type"].as_str(), format["definition"].as_str()) {
                (Some("grammar"), Some(definition)) => {
                    let syntax = format["syntax"].as_str().unwrap_or("grammar");
                    text.push_str(&format!(" It must match this {syntax} grammar:\n{definition}"));
                }
                (Some("text"), _) | (None, _) => {}
                _ => text.push_str(&format!(" Its format: {format}")),
            }
        }
        Some(text)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum ToolChoice {
    Auto,
    None,
    /// Must call some tool.
    Required,
    /// Must call this tool.
    Tool(String),
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum ResponseFormat {
    Text,
    JsonObject,
    JsonSchema { name: String, schema: Value, strict: Option<bool> },
}

/// A prompt-cache breakpoint: the provider caches the prompt up to and including the marked part
/// (Anthropic's `cache_control: {type: "ephemeral", ttl}`). `ttl` is `5m` or `1h`; `None` is the
/// provider's default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CacheMark {
    pub ttl: Option<String>,
}

/// What a breakpoint marks: one of the opening instructions, a tool, or a block of a message, by
/// index. Edits that insert or remove parts move the marks with them ([`Request::remap_marks`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum CacheAt {
    System(usize),
    Tool(usize),
    Block { message: usize, block: usize },
}

/// Reasoning controls: an effort level (OpenAI, Anthropic's `output_config.effort`, Gemini's
/// `thinkingLevel`) and/or a token budget (Anthropic, Gemini), or the model deciding for itself.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Reasoning {
    pub effort: Option<String>,
    pub budget_tokens: Option<u32>,
    /// The model decides how much to think (Anthropic `thinking: {type: "adaptive"}`, Gemini
    /// `thinkingBudget: -1`).
    pub adaptive: bool,
    /// Whether and how the reasoning is shown: `auto` / `concise` / `detailed` (OpenAI's
    /// `reasoning.summary`), `none` (Anthropic `display: "omitted"`, Gemini without
    /// `includeThoughts`); `None` leaves it to the provider.
    pub summary: Option<String>,
}

impl Reasoning {
    /// An effort for protocols that take only that (OpenAI): the caller's, or one from the budget.
    pub fn effort_or_budget(&self) -> Option<String> {
        self.effort.clone().or_else(|| {
            self.budget_tokens.map(|b| {
                match b {
                    0..=2048 => "low",
                    2049..=12_000 => "medium",
                    _ => "high",
                }
                .to_owned()
            })
        })
    }

    /// Whether the caller asked not to be shown the reasoning.
    pub fn hidden(&self) -> bool {
        self.summary.as_deref() == Some("none")
    }
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Request {
    /// The model name the caller asked for (replaced by the upstream id when encoding).
    pub model: String,
    /// System and developer instructions, in order.
    pub system: Vec<String>,
    pub messages: Vec<Message>,
    pub tools: Vec<Tool>,
    pub tool_choice: Option<ToolChoice>,
    pub parallel_tool_calls: Option<bool>,
    pub max_tokens: Option<u32>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub stop: Vec<String>,
    pub response_format: Option<ResponseFormat>,
    pub reasoning: Option<Reasoning>,
    pub stream: bool,
    /// OpenAI chat callers that asked for the final usage chunk.
    pub include_usage: bool,
    /// End-user id for abuse tracking (`user` / `metadata.user_id`).
    pub user: Option<String>,
    /// Prompt-cache breakpoints the caller placed, in order of position.
    pub cache_marks: Vec<(CacheAt, CacheMark)>,
    /// Caching asked for the whole conversation, the provider placing the breakpoint
    /// (Anthropic's top-level `cache_control`; implied by an OpenAI `prompt_cache_key`).
    pub cache_auto: Option<CacheMark>,
    /// OpenAI's cache routing key (`prompt_cache_key`).
    pub prompt_cache_key: Option<String>,
    /// The caller's fields its protocol's decoder does not map (by name; Gemini's
    /// `generationConfig` fields as `generationConfig.<name>`), as sent: what an upstream of the
    /// caller's protocol would see beyond the canonical request (`seed`, `n`, `logprobs`,
    /// penalties, `top_k`, …). Part of the response cache's key.
    pub extra: std::collections::BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum FinishReason {
    Stop,
    Length,
    ToolCalls,
    ContentFilter,
    /// Anthropic's stop on a stop sequence; other protocols call it `stop`.
    StopSequence,
    Other(String),
}

/// Tokens of one request. `None` where the upstream did not say. `input` counts every input
/// token, those read from and written to the prompt cache included (as OpenAI counts them);
/// `cached` (read) and `cache_write` are the parts of it billed at their own prices; `output`
/// counts reasoning tokens too, and `reasoning` is that part of it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Usage {
    pub input: Option<i64>,
    pub output: Option<i64>,
    pub cached: Option<i64>,
    pub cache_write: Option<i64>,
    pub reasoning: Option<i64>,
}

impl Usage {
    /// Whether the upstream reported both input and output tokens.
    pub fn is_complete(&self) -> bool {
        self.input.is_some() && self.output.is_some()
    }

    /// What to charge for an answer whose usage the upstream did not report in full (a stream
    /// that did not end normally, one without its usage event, a JSON answer without `usage`):
    /// the tokens the upstream reported; where it never said, the input estimated at admission
    /// and one output token per four bytes of answer received. Never nothing: an answer had
    /// without its usage is still paid for.
    pub fn charged_when_cut(self, output_bytes: usize, estimated_input: i64) -> Usage {
        Usage {
            input: self.input.or(Some(estimated_input)),
            output: self.output.or_else(|| i64::try_from(output_bytes.div_ceil(4)).ok()),
            ..self
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub id: String,
    pub model: String,
    /// Unix seconds; 0 when the upstream did not say (the dispatcher fills it in).
    pub created: i64,
    pub content: Vec<Block>,
    pub finish: FinishReason,
    pub usage: Usage,
}

/// What kind of block a stream is opening.
#[derive(Debug, Clone, PartialEq)]
pub enum BlockKind {
    Text,
    Thinking,
    ToolCall { id: String, name: String },
}

/// The canonical stream vocabulary. Block indices count every block of the response from 0, in
/// order; a block is started, receives deltas of its own kind, and is stopped before the next starts.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Start {
        id: String,
        model: String,
        created: i64,
    },
    BlockStart {
        index: usize,
        kind: BlockKind,
    },
    TextDelta {
        index: usize,
        text: String,
    },
    ThinkingDelta {
        index: usize,
        text: String,
    },
    /// The seal of the thinking block at `index` (whole; Anthropic sends it in one delta).
    SignatureDelta {
        index: usize,
        seal: Seal,
    },
    ToolArgsDelta {
        index: usize,
        json: String,
    },
    BlockStop {
        index: usize,
    },
    /// Usage so far; later values replace earlier ones field by field.
    Usage(Usage),
    Finish(FinishReason),
    /// The upstream reported an error inside the stream.
    Error {
        kind: String,
        message: String,
    },
}

impl Usage {
    /// Input tokens billed at the plain input price: neither read from nor written to the cache.
    pub fn uncached_input(&self) -> i64 {
        (self.input.unwrap_or(0) - self.cached.unwrap_or(0) - self.cache_write.unwrap_or(0)).max(0)
    }

    /// Takes every field `newer` knows, keeping the rest.
    pub fn merge(&mut self, newer: Usage) {
        self.input = newer.input.or(self.input);
        self.output = newer.output.or(self.output);
        self.cached = newer.cached.or(self.cached);
        self.cache_write = newer.cache_write.or(self.cache_write);
        self.reasoning = newer.reasoning.or(self.reasoning);
    }
}

impl Request {
    /// The text of the system prompt, parts joined by blank lines.
    pub fn system_text(&self) -> Option<String> {
        (!self.system.is_empty()).then(|| self.system.join("\n\n"))
    }

    /// Appends `blocks` to the last message when it has the same role, else starts a new message
    /// (protocols that split one turn into several messages or items come out as one turn).
    pub fn push(&mut self, role: Role, blocks: Vec<Block>) {
        match self.messages.last_mut() {
            Some(last) if last.role == role => last.content.extend(blocks),
            _ => self.messages.push(Message { role, content: blocks }),
        }
    }

    /// The declared tool called `name` (flattened name for namespaced tools).
    pub fn tool(&self, name: &str) -> Option<&Tool> {
        self.tools.iter().find(|t| t.name == name)
    }

    /// Moves every system message at the start of `messages` into `system` (protocols without
    /// in-place system messages decode them all as messages first).
    pub fn hoist_leading_system(&mut self) {
        let leading = self.messages.iter().take_while(|m| m.role == Role::System).count();
        for m in self.messages.drain(..leading) {
            self.system.push(blocks_text(&m.content));
        }
    }

    /// All instructions as one system text: the opening ones, then the mid-conversation ones in
    /// order (for protocols that have only one system slot).
    pub fn all_system_text(&self) -> Option<String> {
        let parts: Vec<String> = self
            .system
            .iter()
            .cloned()
            .chain(
                self.messages
                    .iter()
                    .filter(|m| m.role == Role::System)
                    .map(|m| blocks_text(&m.content))
                    .filter(|t| !t.is_empty()),
            )
            .collect();
        (!parts.is_empty()).then(|| parts.join("\n\n"))
    }

    /// OpenAI's prompt-cache fields read: the routing key kept, and either field taken as asking
    /// for the whole conversation to be cached (what a provider with explicit caching needs;
    /// OpenAI's 24-hour retention becomes the longest breakpoint TTL, one hour).
    pub fn openai_cache(&mut self, key: Option<String>, retention: Option<String>) {
        if key.is_some() || retention.is_some() {
            let ttl = (retention.as_deref() == Some("24h")).then(|| "1h".to_owned());
            self.cache_auto = Some(CacheMark { ttl });
        }
        self.prompt_cache_key = key;
    }

    /// The breakpoint on `at`, if the caller placed one.
    pub fn mark(&self, at: CacheAt) -> Option<&CacheMark> {
        self.cache_marks.iter().find(|(a, _)| *a == at).map(|(_, m)| m)
    }

    /// Moves every breakpoint where `to` says (`None`: the marked part is gone), after an edit
    /// that inserted or removed parts; two marks landing on one part become one.
    pub fn remap_marks(&mut self, to: impl Fn(CacheAt) -> Option<CacheAt>) {
        let mut marks: Vec<(CacheAt, CacheMark)> = std::mem::take(&mut self.cache_marks)
            .into_iter()
            .filter_map(|(at, mark)| to(at).map(|at| (at, mark)))
            .collect();
        marks.sort_by_key(|(at, _)| *at);
        marks.dedup_by_key(|(at, _)| *at);
        self.cache_marks = marks;
    }

    /// The tool name of a call id, searching the history (Gemini answers tools by name).
    pub fn tool_name(&self, call_id: &str) -> Option<&str> {
        self.messages.iter().flat_map(|m| &m.content).find_map(|b| match b {
            Block::ToolCall { id, name, .. } if id == call_id => Some(name.as_str()),
            _ => None,
        })
    }
}

impl Response {
    /// Bytes of answer — text, reasoning and tool arguments — what an answer whose upstream did
    /// not report its usage is charged by (one output token per four bytes, as a cut stream).
    pub fn answer_bytes(&self) -> usize {
        self.content
            .iter()
            .map(|b| match b {
                Block::Text(t) | Block::Thinking { text: t, .. } => t.len(),
                Block::ToolCall { name, arguments, .. } => name.len() + arguments.len(),
                _ => 0,
            })
            .sum()
    }

    /// The answer as the stream that would have carried it: start, each block with its content in
    /// one delta, usage, finish (what a cached answer is replayed as).
    pub fn events(&self) -> Vec<Event> {
        let mut out = vec![Event::Start {
            id: self.id.clone(),
            model: self.model.clone(),
            created: self.created,
        }];
        let blocks = self.content.iter().filter(|b| {
            matches!(b, Block::Text(_) | Block::Thinking { .. } | Block::ToolCall { .. })
        });
        for (index, block) in blocks.enumerate() {
            let (kind, delta) = match block {
                Block::Text(text) => {
                    (BlockKind::Text, Event::TextDelta { index, text: text.clone() })
                }
                Block::Thinking { text, .. } => {
                    (BlockKind::Thinking, Event::ThinkingDelta { index, text: text.clone() })
                }
                Block::ToolCall { id, name, arguments } => (
                    BlockKind::ToolCall { id: id.clone(), name: name.clone() },
                    Event::ToolArgsDelta { index, json: arguments.clone() },
                ),
                _ => continue,
            };
            out.push(Event::BlockStart { index, kind });
            out.push(delta);
            if let Block::Thinking { seal: Some(seal), .. } = block {
                out.push(Event::SignatureDelta { index, seal: seal.clone() });
            }
            out.push(Event::BlockStop { index });
        }
        out.push(Event::Usage(self.usage));
        out.push(Event::Finish(self.finish.clone()));
        out
    }
}

/// Builds the whole answer from a stream's canonical events ([`Response::events`] in reverse),
/// for a stream that is to be kept.
#[derive(Debug, Default)]
pub struct Assembler {
    id: String,
    model: String,
    created: i64,
    /// Blocks by stream index.
    blocks: Vec<(usize, Block)>,
    usage: Usage,
    finish: Option<FinishReason>,
    broken: bool,
}

impl Assembler {
    pub fn push(&mut self, event: &Event) {
        fn block(blocks: &mut [(usize, Block)], index: usize) -> Option<&mut Block> {
            blocks.iter_mut().rev().find(|(i, _)| *i == index).map(|(_, b)| b)
        }
        match event {
            Event::Start { id, model, created } => {
                (self.id, self.model, self.created) = (id.clone(), model.clone(), *created);
            }
            Event::BlockStart { index, kind } => {
                let new = match kind {
                    BlockKind::Text => Block::Text(String::new()),
                    BlockKind::Thinking => Block::Thinking { text: String::new(), seal: None },
                    BlockKind::ToolCall { id, name } => Block::ToolCall {
                        id: id.clone(),
                        name: name.clone(),
                        arguments: String::new(),
                    },
                };
                self.blocks.push((*index, new));
            }
            Event::TextDelta { index, text } => match block(&mut self.blocks, *index) {
                Some(Block::Text(t)) => t.push_str(text),
                _ => self.broken = true,
            },
            Event::ThinkingDelta { index, text } => match block(&mut self.blocks, *index) {
                Some(Block::Thinking { text: t, .. }) => t.push_str(text),
                _ => self.broken = true,
            },
            Event::SignatureDelta { index, seal } => match block(&mut self.blocks, *index) {
                Some(Block::Thinking { seal: s, .. }) => *s = Some(seal.clone()),
                _ => self.broken = true,
            },
            Event::ToolArgsDelta { index, json } => match block(&mut self.blocks, *index) {
                Some(Block::ToolCall { arguments, .. }) => arguments.push_str(json),
                _ => self.broken = true,
            },
            Event::BlockStop { .. } => {}
            Event::Usage(u) => self.usage.merge(*u),
            Event::Finish(reason) => self.finish = Some(reason.clone()),
            Event::Error { .. } => self.broken = true,
        }
    }

    /// The answer, when the stream finished and every event fitted.
    pub fn finish(self) -> Option<Response> {
        let finish = self.finish.filter(|_| !self.broken)?;
        Some(Response {
            id: self.id,
            model: self.model,
            created: self.created,
            content: self.blocks.into_iter().map(|(_, b)| b).collect(),
            finish,
            usage: self.usage,
        })
    }
}

/// Splits a `data:` URL into media type and base64 payload.
pub fn parse_data_url(url: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("data:")?;
    let (meta, data) = rest.split_once(',')?;
    let media_type = meta.strip_suffix(";base64")?;
    Some((media_type.to_owned(), data.to_owned()))
}

impl ImageSource {
    /// From a URL that may be a `data:` URL.
    pub fn from_url(url: &str) -> Self {
        match parse_data_url(url) {
            Some((media_type, data)) => ImageSource::Base64 { media_type, data },
            None => ImageSource::Url(url.to_owned()),
        }
    }

    /// As a URL, turning inline data into a `data:` URL.
    pub fn to_url(&self) -> String {
        match self {
            ImageSource::Url(u) => u.clone(),
            ImageSource::Base64 { media_type, data } => format!("data:{media_type};base64,{data}"),
        }
    }
}

/// Tool-call arguments as a JSON object (what Anthropic and Gemini want); invalid or empty JSON
/// becomes `{}` rather than failing the whole request.
pub fn arguments_object(arguments: &str) -> Value {
    match serde_json::from_str::<Value>(arguments) {
        Ok(v @ Value::Object(_)) => v,
        _ => Value::Object(Default::default()),
    }
}

/// The text of tool-result content (for protocols whose tool results are plain strings).
pub fn blocks_text(blocks: &[Block]) -> String {
    let mut out = String::new();
    for b in blocks {
        if let Block::Text(t) = b {
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(t);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_answer_survives_its_own_stream() {
        let answer = Response {
            id: "r1".into(),
            model: "m".into(),
            created: 7,
            content: vec![
                Block::Thinking {
                    text: "hmm".into(),
                    seal: Some(Seal::new(crate::provider::Protocol::AnthropicMessages, "sig")),
                },
                Block::Text("Hello".into()),
                Block::ToolCall {
                    id: "c1".into(),
                    name: "f".into(),
                    arguments: "{\"a\":1}".into(),
                },
            ],
            finish: FinishReason::ToolCalls,
            usage: Usage { input: Some(3), output: Some(4), ..Usage::default() },
        };
        let mut assembler = Assembler::default();
        answer.events().iter().for_each(|e| assembler.push(e));
        assert_eq!(assembler.finish(), Some(answer.clone()));
        // A stream that never said how it finished, or carried an error, gives no answer.
        let events = answer.events();
        let mut cut = Assembler::default();
        events[..events.len() - 1].iter().for_each(|e| cut.push(e));
        assert_eq!(cut.finish(), None);
        let mut failed = Assembler::default();
        events.iter().for_each(|e| failed.push(e));
        failed.push(&Event::Error { kind: "x".into(), message: "y".into() });
        assert_eq!(failed.finish(), None);
    }

    #[test]
    fn a_cut_stream_is_charged_what_is_known_and_estimated_where_not() {
        let known = Usage { input: Some(50), ..Default::default() };
        let charged = known.charged_when_cut(41, 900);
        assert_eq!((charged.input, charged.output), (Some(50), Some(11)));
        let charged = Usage::default().charged_when_cut(0, 900);
        assert_eq!((charged.input, charged.output), (Some(900), Some(0)));
        let full = Usage { input: Some(1), output: Some(2), ..Default::default() };
        assert_eq!(full.charged_when_cut(400, 900), full);
    }
}
