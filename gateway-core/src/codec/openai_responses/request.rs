//! Responses requests ⇄ canonical.

use serde_json::{Map, Value, json};

use super::wire::{Input, Item, ItemContent, ResponsesRequest};
use crate::canonical::{
    Block, ImageSource, Message, Reasoning, Request, ResponseFormat, Role, Tool, ToolChoice,
    blocks_text,
};
use crate::codec::EncodeOptions;
use crate::error::RequestError;

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
            .and_then(|r| r.effort)
            .map(|effort| Reasoning { effort: Some(effort), budget_tokens: None }),
        response_format: wire.text.and_then(|t| t.format).map(|f| decode_format(&f)).transpose()?,
        tool_choice: wire.tool_choice.as_ref().map(decode_tool_choice).transpose()?,
        ..Request::default()
    };
    for (i, tool) in wire.tools.iter().enumerate() {
        if tool["type"] != "function" {
            return Err(RequestError::field(
                format!("tools[{i}]"),
                format!("tool type {} is not available through this gateway", tool["type"]),
            ));
        }
        request.tools.push(Tool {
            name: tool["name"].as_str().unwrap_or_default().to_owned(),
            description: tool["description"].as_str().map(str::to_owned),
            parameters: tool
                .get("parameters")
                .cloned()
                .unwrap_or_else(|| json!({"type": "object"})),
        });
    }
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
    Ok(request)
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
        (None, Some("function"), Some(name)) => Ok(ToolChoice::Tool(name.to_owned())),
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

fn decode_item(request: &mut Request, item: Item) -> Result<(), String> {
    match item.kind.as_deref().unwrap_or("message") {
        "message" => match item.role.as_deref() {
            Some("system" | "developer") => {
                request.system.push(blocks_text(&content_blocks(item.content)))
            }
            Some("user") => request.push(Role::User, content_blocks(item.content)),
            Some("assistant") => request.push(Role::Assistant, content_blocks(item.content)),
            other => return Err(format!("unknown role {other:?}")),
        },
        "function_call" => request.push(
            Role::Assistant,
            vec![Block::ToolCall {
                id: item.call_id.ok_or("function_call needs call_id")?,
                name: item.name.unwrap_or_default(),
                arguments: item.arguments.unwrap_or_default(),
            }],
        ),
        "function_call_output" => {
            let output = match item.output {
                Some(Value::String(s)) => s,
                Some(other) => other.to_string(),
                None => String::new(),
            };
            request.push(
                Role::User,
                vec![Block::ToolResult {
                    call_id: item.call_id.ok_or("function_call_output needs call_id")?,
                    content: vec![Block::Text(output)],
                    is_error: false,
                }],
            )
        }
        "reasoning" => {
            let text: Vec<String> = item.summary.into_iter().map(|s| s.text).collect();
            request.push(
                Role::Assistant,
                vec![Block::Thinking { text: text.join("\n"), signature: None }],
            );
        }
        other => {
            return Err(format!("input item type {other:?} is not available through this gateway"));
        }
    }
    Ok(())
}

fn encode_items(m: &Message, out: &mut Vec<Value>) {
    let role = if m.role == Role::User { "user" } else { "assistant" };
    let mut parts: Vec<Value> = Vec::new();
    let flush = |parts: &mut Vec<Value>, out: &mut Vec<Value>| {
        if !parts.is_empty() {
            out.push(json!({"type": "message", "role": role, "content": std::mem::take(parts)}));
        }
    };
    for b in &m.content {
        match b {
            Block::Text(t) if m.role == Role::User => {
                parts.push(json!({"type": "input_text", "text": t}))
            }
            Block::Text(t) => parts.push(json!({"type": "output_text", "text": t})),
            Block::Image(src) => {
                parts.push(json!({"type": "input_image", "image_url": src.to_url()}))
            }
            Block::ToolCall { id, name, arguments } => {
                flush(&mut parts, out);
                out.push(json!({"type": "function_call", "call_id": id, "name": name,
                    "arguments": if arguments.is_empty() { "{}" } else { arguments }}));
            }
            Block::ToolResult { call_id, content, .. } => {
                flush(&mut parts, out);
                out.push(json!({"type": "function_call_output", "call_id": call_id, "output": blocks_text(content)}));
            }
            Block::Thinking { .. } => {}
        }
    }
    flush(&mut parts, out);
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
        encode_items(m, &mut input);
    }
    let mut body = Map::new();
    body.insert("model".into(), model.into());
    body.insert("input".into(), input.into());
    body.insert("store".into(), false.into());
    if let Some(system) = system.filter(|_| !options.system_as_developer) {
        body.insert("instructions".into(), system.into());
    }
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|t| json!({"type": "function", "name": t.name, "description": t.description, "parameters": t.parameters}))
            .collect();
        body.insert("tools".into(), tools.into());
        if let Some(p) = request.parallel_tool_calls {
            body.insert("parallel_tool_calls".into(), p.into());
        }
    }
    if let Some(choice) = &request.tool_choice {
        body.insert(
            "tool_choice".into(),
            match choice {
                ToolChoice::Auto => "auto".into(),
                ToolChoice::None => "none".into(),
                ToolChoice::Required => "required".into(),
                ToolChoice::Tool(name) => json!({"type": "function", "name": name}),
            },
        );
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
    if let Some(effort) = request.reasoning.as_ref().and_then(|r| r.effort.clone()) {
        body.insert("reasoning".into(), json!({"effort": effort}));
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
