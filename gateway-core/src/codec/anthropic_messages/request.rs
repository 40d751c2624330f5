//! Messages requests ⇄ canonical.

use serde_json::{Map, Value, json};

use super::wire::{
    ImageSource as WireImage, MessagesRequest, TextOrBlocks, WireBlock, WireCache, WireTool,
};
use crate::canonical::{
    Block, CacheAt, CacheMark, ImageSource, Message, Reasoning, Request, ResponseFormat, Role,
    Seal, Tool, ToolChoice, ToolKind, arguments_object,
};
use crate::codec::EncodeOptions;
use crate::error::request::RequestError;
use crate::provider::Protocol;

/// The most breakpoints one request may carry (the API's limit; the top-level one counts).
const MAX_MARKS: usize = 4;

/// A breakpoint as the API checks it: `type` must be `ephemeral`, `ttl` `5m` or `1h`. `at` names
/// the marked part in errors (built only then: most parts carry no breakpoint; empty for the
/// top-level one).
fn decode_mark(
    cache: Option<WireCache>,
    at: impl FnOnce() -> String,
) -> Result<Option<CacheMark>, RequestError> {
    let Some(cache) = cache else { return Ok(None) };
    let refused = |leaf: &str, allowed: &str| {
        let at = at();
        let field = if at.is_empty() { leaf.to_owned() } else { format!("{at}.{leaf}") };
        let message = format!("`{field}` must be {allowed}");
        RequestError::field(field, message)
    };
    if cache.kind.as_ref().and_then(Value::as_str) != Some("ephemeral") {
        return Err(refused("cache_control.type", "\"ephemeral\""));
    }
    match cache.ttl {
        None | Some(Value::Null) => Ok(Some(CacheMark { ttl: None })),
        Some(Value::String(t)) if t == "5m" || t == "1h" => Ok(Some(CacheMark { ttl: Some(t) })),
        Some(_) => Err(refused("cache_control.ttl", "\"5m\" or \"1h\"")),
    }
}

/// A tool as declared: a custom tool becomes a function, Anthropic's own tool types are kept whole
/// (their breakpoint with them); a custom tool's breakpoint is returned beside it.
fn decode_tool(i: usize, raw: Value) -> Result<(Tool, Option<CacheMark>), RequestError> {
    let wire: WireTool = serde_json::from_value(raw.clone())
        .map_err(|e| RequestError::field(format!("tools[{i}]"), e.to_string()))?;
    let mark = decode_mark(wire.cache_control, || format!("tools[{i}]"))?;
    let tool = match wire.kind.as_deref() {
        None | Some("custom") => {
            if wire.name.is_empty() {
                return Err(RequestError::field(format!("tools[{i}].name"), "a tool needs a name"));
            }
            let schema = wire.input_schema.unwrap_or_else(|| json!({"type": "object"}));
            Tool::function(wire.name, wire.description, schema)
        }
        Some(kind) => {
            return Ok((
                Tool {
                    name: if wire.name.is_empty() { kind.to_owned() } else { wire.name },
                    description: None,
                    parameters: Value::Null,
                    kind: ToolKind::Hosted { origin: Protocol::AnthropicMessages, spec: raw },
                },
                None,
            ));
        }
    };
    Ok((tool, mark))
}

/// Reasoning asked for: `thinking` (`enabled` with a budget, or `adaptive`) and/or
/// `output_config.effort`.
fn decode_reasoning(wire: &MessagesRequest) -> Option<Reasoning> {
    let effort = wire.output_config.as_ref().and_then(|o| o.effort.clone());
    let thinking = wire.thinking.as_ref();
    let summary = match thinking.and_then(|t| t.display.as_deref()) {
        Some("omitted") => Some("none".to_owned()),
        Some(_) => Some("auto".to_owned()),
        None => None,
    };
    let reasoning = Reasoning { effort, summary, ..Reasoning::default() };
    match thinking.map(|t| (t.kind.as_str(), t.budget_tokens)) {
        Some(("enabled", budget)) => Some(Reasoning { budget_tokens: budget, ..reasoning }),
        Some(("adaptive", _)) => Some(Reasoning { adaptive: true, ..reasoning }),
        Some(("disabled", _)) => None,
        _ if reasoning.effort.is_some() => Some(reasoning),
        _ => None,
    }
}

/// Structured output asked for: `output_config.format`, a JSON schema.
fn decode_format(wire: &MessagesRequest) -> Result<Option<ResponseFormat>, RequestError> {
    let Some(format) = wire.output_config.as_ref().and_then(|o| o.format.as_ref()) else {
        return Ok(None);
    };
    match (format.kind.as_str(), &format.schema) {
        ("json_schema", Some(schema @ Value::Object(_))) => Ok(Some(ResponseFormat::JsonSchema {
            name: "output".into(),
            schema: schema.clone(),
            strict: None,
        })),
        ("json_schema", _) => Err(RequestError::field(
            "output_config.format.schema",
            "a json_schema format needs a `schema` object",
        )),
        (other, _) => Err(RequestError::field(
            "output_config.format.type",
            format!("unknown format type {other:?}; `json_schema` is the one there is"),
        )),
    }
}

pub fn decode_request(body: &[u8]) -> Result<Request, RequestError> {
    let wire: MessagesRequest = crate::json::parse(body)?;
    let reasoning = decode_reasoning(&wire);
    let response_format = decode_format(&wire)?;
    let mut marks = Vec::new();
    let system = match wire.system {
        None => vec![],
        // Each text block is one instruction (the API takes nothing else there), so a
        // breakpoint's index among the blocks is the instruction's.
        Some(content) => {
            decode_marked(content, &mut marks, |i| format!("system[{i}]"), CacheAt::System)?
                .into_iter()
                .map(|b| match b {
                    Block::Text(t) => Ok(t),
                    _ => Err(RequestError::field("system", "system blocks must be text blocks")),
                })
                .collect::<Result<_, _>>()?
        }
    };
    let mut tools = Vec::with_capacity(wire.tools.len());
    for (i, raw) in wire.tools.into_iter().enumerate() {
        let (tool, mark) = decode_tool(i, raw)?;
        if let Some(m) = mark {
            marks.push((CacheAt::Tool(tools.len()), m));
        }
        tools.push(tool);
    }
    let mut request = Request {
        model: wire.model,
        max_tokens: wire.max_tokens,
        temperature: wire.temperature,
        top_p: wire.top_p,
        stop: wire.stop_sequences,
        stream: wire.stream.unwrap_or(false),
        user: wire.metadata.and_then(|m| m.user_id),
        reasoning,
        response_format,
        system,
        tools,
        cache_auto: decode_mark(wire.cache_control, String::new)?,
        ..Request::default()
    };
    if let Some(choice) = wire.tool_choice {
        request.parallel_tool_calls = choice.disable_parallel_tool_use.map(|d| !d);
        request.tool_choice = Some(match (choice.kind.as_str(), choice.name) {
            ("auto", _) => ToolChoice::Auto,
            ("any", _) => ToolChoice::Required,
            ("none", _) => ToolChoice::None,
            ("tool", Some(name)) => ToolChoice::Tool(name),
            _ => return Err(RequestError::field("tool_choice", "unknown tool_choice")),
        });
    }
    for (i, m) in wire.messages.into_iter().enumerate() {
        let role = match m.role.as_str() {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            // Mid-conversation instructions (a beta Claude Code uses).
            "system" => Role::System,
            other => {
                return Err(RequestError::field(
                    format!("messages[{i}].role"),
                    format!("unknown role {other:?}"),
                ));
            }
        };
        let content = decode_marked(
            m.content,
            &mut marks,
            |j| format!("messages[{i}].content[{j}]"),
            |block| CacheAt::Block { message: i, block },
        )?;
        request.messages.push(Message { role, content });
    }
    let count = marks.len() + usize::from(request.cache_auto.is_some());
    if count > MAX_MARKS {
        return Err(RequestError::field(
            "cache_control",
            format!(
                "a request may carry at most {MAX_MARKS} cache_control breakpoints; found {count}"
            ),
        ));
    }
    marks.sort_by_key(|(at, _)| *at);
    request.cache_marks = marks;
    Ok(request)
}

/// Content blocks with their breakpoints: each block kept, and each breakpoint recorded at
/// `at(index among the kept blocks)`; `path(index as sent)` names a block in errors.
fn decode_marked(
    content: TextOrBlocks,
    marks: &mut Vec<(CacheAt, CacheMark)>,
    path: impl Fn(usize) -> String,
    at: impl Fn(usize) -> CacheAt,
) -> Result<Vec<Block>, RequestError> {
    let blocks = match content {
        TextOrBlocks::Text(t) => return Ok(vec![Block::Text(t)]),
        TextOrBlocks::Blocks(blocks) => blocks,
    };
    let mut out = Vec::with_capacity(blocks.len());
    for (j, b) in blocks.into_iter().enumerate() {
        let mark = decode_mark(b.cache_control, || path(j))?;
        let Some(block) = decode_block(b.block) else { continue };
        if let Some(mark) = mark {
            marks.push((at(out.len()), mark));
        }
        out.push(block);
    }
    Ok(out)
}

pub(super) fn decode_block(b: WireBlock) -> Option<Block> {
    Some(match b {
        WireBlock::Text { text } => Block::Text(text),
        WireBlock::Image { source: WireImage::Base64 { media_type, data } } => {
            Block::Image(ImageSource::Base64 { media_type, data })
        }
        WireBlock::Image { source: WireImage::Url { url } } => Block::Image(ImageSource::Url(url)),
        WireBlock::ToolUse { id, name, input } => {
            let arguments = if input.is_null() { "{}".to_owned() } else { input.to_string() };
            Block::ToolCall { id, name, arguments }
        }
        WireBlock::ToolResult { tool_use_id, content, is_error } => Block::ToolResult {
            call_id: tool_use_id,
            content: content.map(decode_content).unwrap_or_default(),
            is_error,
        },
        WireBlock::Thinking { thinking, signature } => match signature.filter(|s| !s.is_empty()) {
            Some(signature) => Seal::thinking(&signature, Protocol::AnthropicMessages, thinking),
            None => Block::Thinking { text: thinking, seal: None },
        },
        WireBlock::RedactedThinking { data } => Block::Thinking {
            text: String::new(),
            seal: Some(Seal { redacted: true, ..Seal::new(Protocol::AnthropicMessages, data) }),
        },
        WireBlock::Image { source: WireImage::Other } | WireBlock::Other => return None,
    })
}

fn decode_content(content: TextOrBlocks) -> Vec<Block> {
    match content {
        TextOrBlocks::Text(t) => vec![Block::Text(t)],
        TextOrBlocks::Blocks(blocks) => {
            blocks.into_iter().filter_map(|b| decode_block(b.block)).collect()
        }
    }
}

fn image_json(src: &ImageSource) -> Value {
    match src {
        ImageSource::Url(url) => json!({"type": "image", "source": {"type": "url", "url": url}}),
        ImageSource::Base64 { media_type, data } => {
            json!({"type": "image", "source": {"type": "base64", "media_type": media_type, "data": data}})
        }
    }
}

/// A block in Messages shape, or `None` for what Anthropic would reject.
pub(super) fn encode_block(b: &Block) -> Option<Value> {
    Some(match b {
        Block::Text(t) if t.is_empty() => return None,
        Block::Text(t) => json!({"type": "text", "text": t}),
        Block::Image(src) => image_json(src),
        Block::ToolCall { id, name, arguments } => {
            json!({"type": "tool_use", "id": id, "name": name, "input": arguments_object(arguments)})
        }
        Block::ToolResult { call_id, content, is_error } => {
            let inner: Vec<Value> = content.iter().filter_map(encode_block).collect();
            let mut v = json!({"type": "tool_result", "tool_use_id": call_id, "content": inner});
            if *is_error {
                v["is_error"] = true.into();
            }
            v
        }
        // Only Anthropic can read its seals; thinking without one is refused by the API.
        Block::Thinking { text, seal: Some(seal) }
            if seal.origin == Protocol::AnthropicMessages =>
        {
            if seal.redacted {
                json!({"type": "redacted_thinking", "data": seal.data})
            } else {
                json!({"type": "thinking", "thinking": text, "signature": seal.data})
            }
        }
        Block::Thinking { .. } => return None,
    })
}

fn budget(reasoning: &Reasoning) -> Option<u32> {
    reasoning.budget_tokens.or_else(|| match reasoning.effort.as_deref()? {
        "minimal" | "low" => Some(1024),
        "medium" => Some(4096),
        "high" => Some(16384),
        _ => None,
    })
}

/// A tool in Messages shape; hosted tools of other protocols are left out.
fn encode_tool(t: &Tool) -> Option<Value> {
    if let ToolKind::Hosted { origin, spec } = &t.kind {
        return (*origin == Protocol::AnthropicMessages).then(|| spec.clone());
    }
    let mut v = json!({"name": t.name, "input_schema": t.parameters});
    if let Some(d) = t.function_description() {
        v["description"] = d.into();
    }
    Some(v)
}

/// Whether the request continues a tool loop (it ends with tool results) whose assistant turn
/// called tools without thinking Anthropic signed.
fn loop_without_thinking(request: &Request) -> bool {
    let mut turns = request.messages.iter().rev().filter(|m| m.role != Role::System);
    let continues = turns.next().is_some_and(|m| {
        m.role == Role::User && m.content.iter().any(|b| matches!(b, Block::ToolResult { .. }))
    });
    let Some(last) = turns.find(|m| m.role == Role::Assistant).filter(|_| continues) else {
        return false;
    };
    let calls = last.content.iter().any(|b| matches!(b, Block::ToolCall { .. }));
    let signed = last.content.iter().any(|b| {
        matches!(b, Block::Thinking { seal: Some(s), .. } if s.origin == Protocol::AnthropicMessages)
    });
    calls && !signed
}

/// `cache_control` for a breakpoint.
fn mark_json(mark: &CacheMark) -> Value {
    match &mark.ttl {
        Some(ttl) => json!({"type": "ephemeral", "ttl": ttl}),
        None => json!({"type": "ephemeral"}),
    }
}

/// `v` with the breakpoint the caller placed on `at`, if any.
fn marked(request: &Request, at: CacheAt, mut v: Value) -> Value {
    if let Some(mark) = request.mark(at) {
        v["cache_control"] = mark_json(mark);
    }
    v
}

/// `system`: one string, or text blocks when a breakpoint marks one of them (the opening
/// instructions, then the mid-conversation ones, which the stable API has no other place for).
fn encode_system(request: &Request) -> Option<Value> {
    if !request.cache_marks.iter().any(|(at, _)| matches!(at, CacheAt::System(_))) {
        return request.all_system_text().map(Value::from);
    }
    let opening = request
        .system
        .iter()
        .enumerate()
        .filter(|(_, t)| !t.is_empty())
        .map(|(i, t)| marked(request, CacheAt::System(i), json!({"type": "text", "text": t})));
    let later = request
        .messages
        .iter()
        .filter(|m| m.role == Role::System)
        .map(|m| crate::canonical::blocks_text(&m.content))
        .filter(|t| !t.is_empty())
        .map(|t| json!({"type": "text", "text": t}));
    Some(Value::Array(opening.chain(later).collect()))
}

pub fn encode_request(
    request: &Request,
    model: &str,
    options: &EncodeOptions,
) -> Result<Value, RequestError> {
    let mut messages: Vec<Value> = Vec::new();
    // Mid-conversation system messages join the system prompt (the stable API has no others).
    for (i, m) in request.messages.iter().enumerate().filter(|(_, m)| m.role != Role::System) {
        let role = if m.role == Role::User { "user" } else { "assistant" };
        let mut content: Vec<Value> = m
            .content
            .iter()
            .enumerate()
            .filter_map(|(j, b)| {
                let v = encode_block(b)?;
                // Thinking blocks cannot carry a breakpoint.
                Some(if matches!(b, Block::Thinking { .. }) {
                    v
                } else {
                    marked(request, CacheAt::Block { message: i, block: j }, v)
                })
            })
            .collect();
        // Tool results must come first in their user turn.
        content.sort_by_key(|b| b["type"] != "tool_result");
        if content.is_empty() {
            continue;
        }
        match messages.last_mut() {
            Some(last) if last["role"] == role => {
                if let Some(list) = last["content"].as_array_mut() {
                    list.extend(content);
                }
            }
            _ => messages.push(json!({"role": role, "content": content})),
        }
    }
    let default_max =
        if options.default_max_tokens == 0 { 4096 } else { options.default_max_tokens };
    let mut body = Map::new();
    if options.vertex {
        body.insert("anthropic_version".into(), super::VERTEX_VERSION.into());
    } else {
        body.insert("model".into(), model.into());
    }
    body.insert("max_tokens".into(), request.max_tokens.unwrap_or(default_max).into());
    body.insert("messages".into(), messages.into());
    if let Some(system) = encode_system(request) {
        body.insert("system".into(), system);
    }
    let tools: Vec<Value> = request
        .tools
        .iter()
        .enumerate()
        .filter_map(|(i, t)| Some(marked(request, CacheAt::Tool(i), encode_tool(t)?)))
        .collect();
    if !tools.is_empty() {
        body.insert("tools".into(), tools.into());
        let no_parallel = request.parallel_tool_calls == Some(false);
        if request.tool_choice.is_some() || no_parallel {
            let mut choice = match &request.tool_choice {
                None | Some(ToolChoice::Auto) => json!({"type": "auto"}),
                Some(ToolChoice::None) => json!({"type": "none"}),
                Some(ToolChoice::Required) => json!({"type": "any"}),
                Some(ToolChoice::Tool(name)) => json!({"type": "tool", "name": name}),
            };
            if no_parallel && choice["type"] != "none" {
                choice["disable_parallel_tool_use"] = true.into();
            }
            body.insert("tool_choice".into(), choice);
        }
    }
    if !request.stop.is_empty() {
        body.insert("stop_sequences".into(), request.stop.clone().into());
    }
    if let Some(t) = request.temperature {
        body.insert("temperature".into(), t.into());
    }
    if let Some(p) = request.top_p {
        body.insert("top_p".into(), p.into());
    }
    // Anthropic refuses thinking together with forced tool use, with a budget not below
    // max_tokens, or with a sampling temperature other than 1; thinking yields in those cases.
    let max_tokens = request.max_tokens.unwrap_or(default_max);
    let forced_tool =
        matches!(request.tool_choice, Some(ToolChoice::Required | ToolChoice::Tool(_)));
    let mut output_config = Map::new();
    let thinking = match &request.reasoning {
        // Anthropic refuses thinking when the tool loop being continued has no thinking of its
        // own to give back (it came from another model, or through a client without a place
        // for it): that turn goes on without thinking, as the API's guide advises.
        _ if forced_tool || options.no_reasoning || loop_without_thinking(request) => None,
        // The model decides (and an effort, when given, steers it).
        Some(r) if r.adaptive => {
            if let Some(effort) = &r.effort {
                output_config.insert("effort".into(), effort.clone().into());
            }
            Some(json!({"type": "adaptive"}))
        }
        // A budget fits in the output limit, leaving at least 1024 tokens for the answer.
        Some(r) => budget(r)
            .filter(|_| max_tokens >= 2048)
            .map(|b| b.clamp(1024, max_tokens - 1024))
            .map(|b| json!({"type": "enabled", "budget_tokens": b})),
        None => None,
    };
    if let Some(mut thinking) = thinking {
        if request.reasoning.as_ref().is_some_and(Reasoning::hidden) {
            thinking["display"] = "omitted".into();
        }
        body.insert("thinking".into(), thinking);
        body.remove("temperature");
        body.remove("top_p");
    }
    if let Some(ResponseFormat::JsonSchema { schema, .. }) = &request.response_format {
        let format = json!({"type": "json_schema", "schema": super::schema::fitted(schema)});
        output_config.insert("format".into(), format);
    }
    if !output_config.is_empty() {
        body.insert("output_config".into(), output_config.into());
    }
    if let Some(user) = &request.user {
        body.insert("metadata".into(), json!({"user_id": user}));
    }
    if let Some(mark) = &request.cache_auto {
        body.insert("cache_control".into(), mark_json(mark));
    }
    if request.stream {
        body.insert("stream".into(), true.into());
    }
    Ok(Value::Object(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_model_known_not_to_reason_gets_no_reasoning_controls_in_any_protocol() {
        let body = json!({"model": "m", "max_tokens": 8192, "messages": [{"role": "user", "content": "hi"}],
            "thinking": {"type": "enabled", "budget_tokens": 2048}});
        let request = decode_request(body.to_string().as_bytes()).unwrap();
        for (no_reasoning, fields) in [(false, 1), (true, 0)] {
            let options = EncodeOptions { no_reasoning, ..EncodeOptions::default() };
            for protocol in Protocol::ALL {
                // Bedrock's reasoning field is model-specific: Claude's.
                let model =
                    if protocol == Protocol::BedrockConverse { "anthropic.claude-x" } else { "m" };
                let bytes =
                    crate::codec::encode_request(protocol, &request, model, &options).unwrap();
                let text = String::from_utf8(bytes.to_vec()).unwrap();
                let found = ["thinking", "reasoning", "thinkingConfig"]
                    .iter()
                    .filter(|f| {
                        text.contains(&format!("\"{f}\"")) || text.contains(&format!("\"{f}_"))
                    })
                    .count();
                assert_eq!(found.min(1), fields, "{protocol:?} ({no_reasoning}): {text}");
            }
        }
    }

    #[test]
    fn a_tool_loop_without_anthropic_thinking_continues_with_thinking_off() {
        // A Chat caller's loop: the assistant's calls come back with no thinking to give back.
        let mut chat = json!({"model": "m", "max_tokens": 8192, "reasoning_effort": "medium",
            "messages": [{"role": "user", "content": "weather?"},
                {"role": "assistant", "content": null, "tool_calls": [{"id": "c1", "type": "function",
                    "function": {"name": "w", "arguments": "{}"}}]},
                {"role": "tool", "tool_call_id": "c1", "content": "sunny"}]});
        let encode = |body: &Value| {
            let request =
                crate::codec::openai_chat::decode_request(body.to_string().as_bytes()).unwrap();
            encode_request(&request, "claude", &EncodeOptions::default()).unwrap()
        };
        assert!(encode(&chat).get("thinking").is_none(), "the loop goes on without thinking");
        // Once the user speaks again the loop is over: thinking is back.
        chat["messages"].as_array_mut().unwrap().extend([
            json!({"role": "assistant", "content": "It is sunny."}),
            json!({"role": "user", "content": "And tomorrow?"}),
        ]);
        assert_eq!(encode(&chat)["thinking"]["type"], "enabled");
    }

    #[test]
    fn breakpoints_are_checked_as_the_api_checks_them() {
        let with = |cache: Value| {
            json!({"model": "m", "max_tokens": 8, "messages": [{"role": "user", "content": [
                {"type": "text", "text": "a", "cache_control": cache}]}]})
        };
        let refused = |body: Value| match decode_request(body.to_string().as_bytes()) {
            Err(RequestError::Validation { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            refused(with(json!({"type": "persistent"}))),
            "messages[0].content[0].cache_control.type"
        );
        assert_eq!(
            refused(with(json!({"type": "ephemeral", "ttl": "10m"}))),
            "messages[0].content[0].cache_control.ttl"
        );
        let ok =
            decode_request(with(json!({"type": "ephemeral", "ttl": "1h"})).to_string().as_bytes())
                .unwrap();
        assert_eq!(ok.cache_marks[0].1.ttl.as_deref(), Some("1h"));
        // Five breakpoints (four blocks and the top-level one) are one too many.
        let mut five = with(json!({"type": "ephemeral"}));
        let block = five["messages"][0]["content"][0].clone();
        five["messages"][0]["content"] = json!([block, block, block, block]);
        five["cache_control"] = json!({"type": "ephemeral"});
        assert_eq!(refused(five), "cache_control");
        // Instructions are text (so a breakpoint's index is the instruction's); the API agrees.
        let mut image = with(json!({"type": "ephemeral"}));
        image["system"] = json!([{"type": "text", "text": "a"},
            {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}}]);
        assert_eq!(refused(image), "system");
        // The top-level breakpoint is named as such.
        let mut top = with(json!({"type": "ephemeral"}));
        top["cache_control"] = json!({"type": "ephemeral", "ttl": "2h"});
        assert_eq!(refused(top), "cache_control.ttl");
    }

    #[test]
    fn an_openai_callers_cache_key_asks_anthropic_to_cache_the_conversation() {
        let chat = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}],
            "prompt_cache_key": "session-7", "prompt_cache_retention": "24h"});
        let request =
            crate::codec::openai_chat::decode_request(chat.to_string().as_bytes()).unwrap();
        let encoded = encode_request(&request, "claude", &EncodeOptions::default()).unwrap();
        assert_eq!(encoded["cache_control"], json!({"type": "ephemeral", "ttl": "1h"}));
        // Back to an OpenAI upstream the key travels as it came.
        let chat_again =
            crate::codec::openai_chat::encode_request(&request, "gpt", &EncodeOptions::default())
                .unwrap();
        assert_eq!(chat_again["prompt_cache_key"], "session-7");
        let responses = crate::codec::openai_responses::encode_request(
            &request,
            "gpt",
            &EncodeOptions::default(),
        )
        .unwrap();
        assert_eq!(responses["prompt_cache_key"], "session-7");
        // Without either field, nothing asks for caching.
        let plain = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
        let request =
            crate::codec::openai_chat::decode_request(plain.to_string().as_bytes()).unwrap();
        let encoded = encode_request(&request, "claude", &EncodeOptions::default()).unwrap();
        assert!(encoded.get("cache_control").is_none());
    }

    #[test]
    fn structured_output_is_a_json_schema_both_ways() {
        let body = json!({"model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}],
            "output_config": {"format": {"type": "json_schema", "schema": {"type": "object",
                "properties": {"a": {"type": "string"}}, "additionalProperties": false}}}});
        let request = decode_request(body.to_string().as_bytes()).unwrap();
        let Some(ResponseFormat::JsonSchema { name, schema, strict }) = &request.response_format
        else {
            panic!("{:?}", request.response_format)
        };
        assert_eq!((name.as_str(), strict), ("output", &None));
        assert_eq!(schema["properties"]["a"]["type"], "string");
        let encoded = encode_request(&request, "claude", &EncodeOptions::default()).unwrap();
        assert_eq!(encoded["output_config"], body["output_config"]);
        // A schema from an OpenAI caller is closed and loses what Anthropic does not enforce.
        let mut openai = request.clone();
        openai.response_format = Some(ResponseFormat::JsonSchema {
            name: "answer".into(),
            schema: json!({"type": "object", "properties": {"n": {"type": "integer", "maximum": 9}}}),
            strict: Some(true),
        });
        let encoded = encode_request(&openai, "claude", &EncodeOptions::default()).unwrap();
        assert_eq!(
            encoded["output_config"]["format"]["schema"],
            json!({"type": "object", "properties": {"n": {"type": "integer"}},
                "additionalProperties": false})
        );
        // `json_object` has no Anthropic equivalent: nothing is sent.
        openai.response_format = Some(ResponseFormat::JsonObject);
        let encoded = encode_request(&openai, "claude", &EncodeOptions::default()).unwrap();
        assert!(encoded.get("output_config").is_none(), "{encoded}");
        for (format, field) in [
            (json!({"type": "json_object"}), "output_config.format.type"),
            (json!({"type": "json_schema"}), "output_config.format.schema"),
        ] {
            let mut bad = body.clone();
            bad["output_config"]["format"] = format;
            match decode_request(bad.to_string().as_bytes()) {
                Err(RequestError::Validation { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{other:?}"),
            }
        }
    }
}
