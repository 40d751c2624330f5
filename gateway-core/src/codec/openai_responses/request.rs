//! Responses requests ⇄ canonical.

use serde_json::{Map, Value, json};

use super::wire::{Input, Item, ItemContent, ResponsesRequest};
use crate::canonical::{
    Block, ImageSource, Message, NAMESPACE_SEPARATOR, Reasoning, Request, ResponseFormat, Role,
    Seal, Tool, ToolChoice, ToolKind, arguments_object, blocks_text,
};
use crate::codec::EncodeOptions;
use crate::error::request::RequestError;
use crate::provider::Protocol;

pub fn decode_request(body: &[u8]) -> Result<Request, RequestError> {
    let wire: ResponsesRequest = crate::json::parse(body)?;
    let mut request = Request {
        model: wire.model,
        system: wire.instructions.into_iter().collect(),
        max_tokens: wire.max_output_tokens,
        temperature: wire.temperature,
        top_p: wire.top_p,
        parallel_tool_calls: wire.parallel_tool_calls,
        stream: wire.stream.unwrap_or(false),
        user: wire.user,
        reasoning: wire
            .reasoning
            .filter(|r| r.effort.is_some() || r.summary.is_some())
            .map(|r| Reasoning { effort: r.effort, summary: r.summary, ..Reasoning::default() }),
        response_format: wire.text.and_then(|t| t.format).map(|f| decode_format(&f)).transpose()?,
        ..Request::default()
    };
    request.openai_cache(wire.prompt_cache_key, wire.prompt_cache_retention);
    for (i, tool) in wire.tools.iter().enumerate() {
        decode_tool(tool, &mut request.tools)
            .map_err(|m| RequestError::field(format!("tools[{i}]"), m))?;
    }
    request.tool_choice = wire.tool_choice.as_ref().map(decode_tool_choice).transpose()?;
    match wire.input {
        None => {}
        Some(Input::Text(t)) => {
            request.messages.push(Message { role: Role::User, content: vec![Block::Text(t)] })
        }
        Some(Input::Items(items)) => {
            for (i, item) in items.into_iter().enumerate() {
                decode_item(&mut request, item)
                    .map_err(|m| RequestError::field(format!("input[{i}]"), m))?;
            }
        }
    }
    request.hoist_leading_system();
    Ok(request)
}

fn tool_text(tool: &Value, field: &str) -> Option<String> {
    tool[field].as_str().map(str::to_owned)
}

/// One declared tool: functions and custom tools as they are, a `namespace` as its functions
/// (named `{namespace}__{function}`), anything else as a hosted tool kept whole.
fn decode_tool(tool: &Value, out: &mut Vec<Tool>) -> Result<(), String> {
    let name = || tool_text(tool, "name").filter(|n| !n.is_empty()).ok_or("a tool needs a name");
    match tool["type"].as_str() {
        Some("function") => out.push(Tool::function(
            name()?,
            tool_text(tool, "description"),
            tool.get("parameters").cloned().unwrap_or_else(|| json!({"type": "object"})),
        )),
        Some("custom") => out.push(Tool::custom(
            name()?,
            tool_text(tool, "description"),
            tool.get("format").cloned(),
        )),
        Some("namespace") => {
            let namespace = name()?;
            for inner in tool["tools"].as_array().into_iter().flatten() {
                if inner["type"] != "function" {
                    return Err(format!(
                        "namespace {namespace:?}: only function tools can be grouped in a namespace here, not {}",
                        inner["type"]
                    ));
                }
                let function =
                    tool_text(inner, "name").ok_or("a namespaced function needs a name")?;
                out.push(Tool {
                    name: format!("{namespace}{NAMESPACE_SEPARATOR}{function}"),
                    description: tool_text(inner, "description"),
                    parameters: inner
                        .get("parameters")
                        .cloned()
                        .unwrap_or_else(|| json!({"type": "object"})),
                    kind: ToolKind::Namespaced {
                        namespace: namespace.clone(),
                        description: tool_text(tool, "description"),
                        function,
                    },
                });
            }
        }
        Some(kind) => out.push(Tool {
            name: kind.to_owned(),
            description: None,
            parameters: Value::Null,
            kind: ToolKind::Hosted { origin: Protocol::OpenaiResponses, spec: tool.clone() },
        }),
        None => return Err("a tool needs a type".into()),
    }
    Ok(())
}

fn decode_format(f: &Value) -> Result<ResponseFormat, RequestError> {
    match f["type"].as_str() {
        Some("text") => Ok(ResponseFormat::Text),
        Some("json_object") => Ok(ResponseFormat::JsonObject),
        Some("json_schema") => Ok(ResponseFormat::JsonSchema {
            name: f["name"].as_str().unwrap_or("response").to_owned(),
            schema: f.get("schema").cloned().unwrap_or(Value::Null),
            strict: f["strict"].as_bool(),
        }),
        _ => Err(RequestError::field("text.format", "unknown format type")),
    }
}

fn decode_tool_choice(v: &Value) -> Result<ToolChoice, RequestError> {
    match (v.as_str(), v["type"].as_str(), v["name"].as_str()) {
        (Some("auto"), _, _) => Ok(ToolChoice::Auto),
        (Some("none"), _, _) => Ok(ToolChoice::None),
        (Some("required"), _, _) => Ok(ToolChoice::Required),
        (None, Some("function" | "custom"), Some(name)) => {
            Ok(ToolChoice::Tool(match v["namespace"].as_str() {
                Some(ns) => format!("{ns}{NAMESPACE_SEPARATOR}{name}"),
                None => name.to_owned(),
            }))
        }
        // A subset of the tools: the model still chooses (`mode: required` forces a call).
        (None, Some("allowed_tools"), _) => Ok(match v["mode"].as_str() {
            Some("required") => ToolChoice::Required,
            _ => ToolChoice::Auto,
        }),
        // A hosted tool, by its type.
        (None, Some(kind), _) => Ok(ToolChoice::Tool(kind.to_owned())),
        _ => Err(RequestError::field("tool_choice", "unknown tool_choice")),
    }
}

fn content_blocks(content: Option<ItemContent>) -> Vec<Block> {
    match content {
        None => vec![],
        Some(ItemContent::Text(t)) => vec![Block::Text(t)],
        Some(ItemContent::Parts(parts)) => parts
            .into_iter()
            .filter_map(|p| match p.kind.as_str() {
                "input_text" | "output_text" | "text" => p.text.map(Block::Text),
                "refusal" => p.refusal.map(Block::Text),
                "input_image" => p.image_url.map(|u| Block::Image(ImageSource::from_url(&u))),
                _ => None,
            })
            .collect(),
    }
}

/// A tool's output: a string, or a list of content parts (text and images).
fn output_blocks(output: Option<Value>) -> Vec<Block> {
    match output {
        None => vec![Block::Text(String::new())],
        Some(Value::String(s)) => vec![Block::Text(s)],
        Some(Value::Array(parts)) => {
            let parts = parts.into_iter().filter_map(|p| serde_json::from_value(p).ok()).collect();
            content_blocks(Some(ItemContent::Parts(parts)))
        }
        Some(other) => vec![Block::Text(other.to_string())],
    }
}

/// Input item types that only record a hosted tool's work (the answer that followed carries
/// its result); they are dropped when translating.
fn is_hosted_record(kind: &str) -> bool {
    kind.ends_with("_call") || kind.ends_with("_call_output") || kind.ends_with("_output")
}

fn decode_item(request: &mut Request, item: Item) -> Result<(), String> {
    match item.kind.as_deref().unwrap_or("message") {
        "message" => match item.role.as_deref() {
            Some("system" | "developer") => {
                request.push(Role::System, content_blocks(item.content))
            }
            Some("user") => request.push(Role::User, content_blocks(item.content)),
            Some("assistant") => request.push(Role::Assistant, content_blocks(item.content)),
            other => return Err(format!("unknown role {other:?}")),
        },
        "function_call" => {
            let name = item.name.unwrap_or_default();
            request.push(
                Role::Assistant,
                vec![Block::ToolCall {
                    id: item.call_id.ok_or("function_call needs call_id")?,
                    name: match item.namespace {
                        Some(ns) => format!("{ns}{NAMESPACE_SEPARATOR}{name}"),
                        None => name,
                    },
                    arguments: item.arguments.unwrap_or_default(),
                }],
            )
        }
        "custom_tool_call" => request.push(
            Role::Assistant,
            vec![Block::ToolCall {
                id: item.call_id.ok_or("custom_tool_call needs call_id")?,
                name: item.name.unwrap_or_default(),
                arguments: json!({"input": item.input.unwrap_or_default()}).to_string(),
            }],
        ),
        "function_call_output" | "custom_tool_call_output" => request.push(
            Role::User,
            vec![Block::ToolResult {
                call_id: item.call_id.ok_or("a tool output needs call_id")?,
                content: output_blocks(item.output),
                is_error: false,
            }],
        ),
        "reasoning" => {
            if let Some(block) = reasoning_block(item) {
                request.push(Role::Assistant, vec![block]);
            }
        }
        other if is_hosted_record(other) => {}
        other => {
            return Err(format!("input item type {other:?} is not available through this gateway"));
        }
    }
    Ok(())
}

fn encode_items(request: &Request, m: &Message, options: &EncodeOptions, out: &mut Vec<Value>) {
    let role = match m.role {
        Role::User => "user",
        Role::Assistant => "assistant",
        Role::System if options.system_as_developer => "developer",
        Role::System => "system",
    };
    let mut parts: Vec<Value> = Vec::new();
    let flush = |parts: &mut Vec<Value>, out: &mut Vec<Value>| {
        if !parts.is_empty() {
            out.push(json!({"type": "message", "role": role, "content": std::mem::take(parts)}));
        }
    };
    for b in &m.content {
        match b {
            // An empty text (a caller's split model turn) is no part: and a message of none is
            // not sent.
            Block::Text(t) if t.is_empty() => {}
            Block::Text(t) if m.role == Role::Assistant => {
                parts.push(json!({"type": "output_text", "text": t}))
            }
            Block::Text(t) => parts.push(json!({"type": "input_text", "text": t})),
            Block::Image(src) => {
                parts.push(json!({"type": "input_image", "image_url": src.to_url()}))
            }
            Block::ToolCall { id, name, arguments } => {
                flush(&mut parts, out);
                out.push(call_item(request, id, name, arguments));
            }
            Block::ToolResult { call_id, content, .. } => {
                flush(&mut parts, out);
                let custom = request
                    .tool_name(call_id)
                    .and_then(|n| request.tool(n))
                    .is_some_and(|t| matches!(t.kind, ToolKind::Custom { .. }));
                let kind = if custom { "custom_tool_call_output" } else { "function_call_output" };
                out.push(json!({"type": kind, "call_id": call_id, "output": blocks_text(content)}));
            }
            // Only OpenAI can read its encrypted reasoning; summaries alone cannot go back.
            Block::Thinking { text, seal: Some(seal) }
                if seal.origin == Protocol::OpenaiResponses =>
            {
                flush(&mut parts, out);
                let summary: Vec<Value> = if text.is_empty() {
                    vec![]
                } else {
                    vec![json!({"type": "summary_text", "text": text})]
                };
                out.push(json!({"type": "reasoning", "summary": summary,
                    "encrypted_content": seal.data}));
            }
            Block::Thinking { .. } => {}
        }
    }
    flush(&mut parts, out);
}

/// A reasoning item as a thinking block: its summary, and its encrypted content as the seal
/// (an OpenAI one, or another upstream's the gateway wrapped). `None` when it has neither.
pub(super) fn reasoning_block(item: Item) -> Option<Block> {
    let text: Vec<String> = item.summary.into_iter().map(|s| s.text).collect();
    let text = text.join("\n");
    match item.encrypted_content.filter(|e| !e.is_empty()) {
        Some(sealed) => Some(Seal::thinking(&sealed, Protocol::OpenaiResponses, text)),
        None if text.is_empty() => None,
        None => Some(Block::Thinking { text, seal: None }),
    }
}

/// A call in the history as the item its tool's kind needs.
fn call_item(request: &Request, id: &str, name: &str, arguments: &str) -> Value {
    let arguments = if arguments.is_empty() { "{}" } else { arguments };
    match request.tool(name).map(|t| &t.kind) {
        Some(ToolKind::Custom { .. }) => {
            let input =
                arguments_object(arguments)["input"].as_str().unwrap_or_default().to_owned();
            json!({"type": "custom_tool_call", "call_id": id, "name": name, "input": input})
        }
        Some(ToolKind::Namespaced { namespace, function, .. }) => json!({"type": "function_call",
            "call_id": id, "name": function, "namespace": namespace, "arguments": arguments}),
        _ => json!({"type": "function_call", "call_id": id, "name": name, "arguments": arguments}),
    }
}

/// The declared tools in Responses shape: namespaced functions grouped again, custom tools as
/// such, hosted tools only when they are Responses' own.
fn encode_tools(request: &Request) -> Vec<Value> {
    let mut out: Vec<Value> = Vec::new();
    for t in &request.tools {
        let function = |name: &str| json!({"type": "function", "name": name, "description": t.description, "parameters": t.parameters});
        match &t.kind {
            ToolKind::Function => out.push(function(&t.name)),
            ToolKind::Custom { format } => {
                let mut v = json!({"type": "custom", "name": t.name, "description": t.description});
                if let Some(f) = format {
                    v["format"] = f.clone();
                }
                out.push(v);
            }
            ToolKind::Namespaced { namespace, description, function: name } => {
                let group =
                    out.iter_mut().find(|v| v["type"] == "namespace" && v["name"] == *namespace);
                match group.and_then(|g| g["tools"].as_array_mut()) {
                    Some(tools) => tools.push(function(name)),
                    None => out.push(json!({"type": "namespace", "name": namespace,
                        "description": description, "tools": [function(name)]})),
                }
            }
            ToolKind::Hosted { origin: Protocol::OpenaiResponses, spec } => out.push(spec.clone()),
            ToolKind::Hosted { .. } => {}
        }
    }
    out
}

fn encode_tool_choice(request: &Request, choice: &ToolChoice) -> Value {
    match choice {
        ToolChoice::Auto => "auto".into(),
        ToolChoice::None => "none".into(),
        ToolChoice::Required => "required".into(),
        ToolChoice::Tool(name) => match request.tool(name).map(|t| &t.kind) {
            Some(ToolKind::Custom { .. }) => json!({"type": "custom", "name": name}),
            Some(ToolKind::Namespaced { namespace, function, .. }) => {
                json!({"type": "function", "name": function, "namespace": namespace})
            }
            Some(ToolKind::Hosted { spec, .. }) => json!({"type": spec["type"]}),
            _ => json!({"type": "function", "name": name}),
        },
    }
}

pub fn encode_request(
    request: &Request,
    model: &str,
    options: &EncodeOptions,
) -> Result<Value, RequestError> {
    let mut input = Vec::new();
    let system = request.system_text();
    if let Some(text) = system.as_ref().filter(|_| options.system_as_developer) {
        input.push(json!({"type": "message", "role": "developer", "content": text}));
    }
    for m in &request.messages {
        encode_items(request, m, options, &mut input);
    }
    let mut body = Map::new();
    body.insert("model".into(), model.into());
    body.insert("input".into(), input.into());
    body.insert("store".into(), false.into());
    if let Some(system) = system.filter(|_| !options.system_as_developer) {
        body.insert("instructions".into(), system.into());
    }
    let tools = encode_tools(request);
    if !tools.is_empty() {
        body.insert("tools".into(), tools.into());
        if let Some(p) = request.parallel_tool_calls {
            body.insert("parallel_tool_calls".into(), p.into());
        }
    }
    if let Some(choice) = &request.tool_choice {
        body.insert("tool_choice".into(), encode_tool_choice(request, choice));
    }
    if let Some(m) = request.max_tokens {
        body.insert("max_output_tokens".into(), m.into());
    }
    if let Some(t) = request.temperature {
        body.insert("temperature".into(), t.into());
    }
    if let Some(p) = request.top_p {
        body.insert("top_p".into(), p.into());
    }
    if let Some(u) = &request.user {
        body.insert("user".into(), u.clone().into());
    }
    if let Some(key) = &request.prompt_cache_key {
        body.insert("prompt_cache_key".into(), key.clone().into());
    }
    if let Some(r) = request.reasoning.as_ref().filter(|_| !options.no_reasoning) {
        let mut reasoning = Map::new();
        if let Some(effort) = r.effort_or_budget() {
            reasoning.insert("effort".into(), effort.into());
        }
        if let Some(summary) = r.summary.as_ref().filter(|_| !r.hidden()) {
            reasoning.insert("summary".into(), summary.clone().into());
        }
        if !reasoning.is_empty() {
            body.insert("reasoning".into(), reasoning.into());
        }
        // Without storage, the reasoning comes back only encrypted: asked for so the next turn
        // can give it back (see `Seal`).
        body.insert("include".into(), json!(["reasoning.encrypted_content"]));
    }
    if let Some(format) = &request.response_format {
        let format = match format {
            ResponseFormat::Text => json!({"type": "text"}),
            ResponseFormat::JsonObject => json!({"type": "json_object"}),
            ResponseFormat::JsonSchema { name, schema, strict } => {
                json!({"type": "json_schema", "name": name, "schema": schema, "strict": strict})
            }
        };
        body.insert("text".into(), json!({"format": format}));
    }
    if request.stream {
        body.insert("stream".into(), true.into());
    }
    Ok(Value::Object(body))
}
