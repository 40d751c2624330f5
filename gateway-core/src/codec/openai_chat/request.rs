//! Chat Completions requests ⇄ canonical.

use serde_json::{Value, json};

use super::wire::{self, ChatRequest, Content, ResponseFormat as WireFormat, StringOrList};
use crate::canonical::{
    Block, ImageSource, Message, Reasoning, Request, ResponseFormat, Role, Tool, ToolChoice,
    blocks_text,
};
use crate::codec::EncodeOptions;
use crate::error::request::RequestError;

pub fn decode_request(body: &[u8]) -> Result<Request, RequestError> {
    let wire: ChatRequest = crate::json::parse(body)?;
    let mut request = Request {
        model: wire.model,
        max_tokens: wire.max_completion_tokens.or(wire.max_tokens),
        temperature: wire.temperature,
        top_p: wire.top_p,
        parallel_tool_calls: wire.parallel_tool_calls,
        stream: wire.stream.unwrap_or(false),
        include_usage: wire.stream_options.and_then(|o| o.include_usage).unwrap_or(false),
        user: wire.user,
        stop: match wire.stop {
            None => vec![],
            Some(StringOrList::One(s)) => vec![s],
            Some(StringOrList::Many(v)) => v,
        },
        reasoning: wire
            .reasoning_effort
            .map(|effort| Reasoning { effort: Some(effort), ..Reasoning::default() }),
        response_format: wire.response_format.map(|f| match f {
            WireFormat::Text => ResponseFormat::Text,
            WireFormat::JsonObject => ResponseFormat::JsonObject,
            WireFormat::JsonSchema { json_schema } => ResponseFormat::JsonSchema {
                name: json_schema.name,
                schema: json_schema.schema,
                strict: json_schema.strict,
            },
        }),
        tools: wire
            .tools
            .into_iter()
            .map(|t| {
                let parameters = t
                    .function
                    .parameters
                    .unwrap_or_else(|| json!({"type": "object", "properties": {}}));
                Tool::function(t.function.name, t.function.description, parameters)
            })
            .collect(),
        tool_choice: wire.tool_choice.as_ref().map(decode_tool_choice).transpose()?,
        ..Request::default()
    };
    request.openai_cache(wire.prompt_cache_key, wire.prompt_cache_retention);
    for (i, message) in wire.messages.into_iter().enumerate() {
        decode_message(&mut request, message)
            .map_err(|m| RequestError::field(format!("messages[{i}]"), m))?;
    }
    request.hoist_leading_system();
    Ok(request)
}

fn decode_tool_choice(v: &Value) -> Result<ToolChoice, RequestError> {
    match v {
        Value::String(s) if s == "auto" => Ok(ToolChoice::Auto),
        Value::String(s) if s == "none" => Ok(ToolChoice::None),
        Value::String(s) if s == "required" => Ok(ToolChoice::Required),
        _ => v
            .pointer("/function/name")
            .and_then(Value::as_str)
            .map(|name| ToolChoice::Tool(name.to_owned()))
            .ok_or_else(|| RequestError::field("tool_choice", "unknown tool_choice")),
    }
}

fn content_blocks(content: Option<Content>) -> Vec<Block> {
    match content {
        None => vec![],
        Some(Content::Text(t)) => vec![Block::Text(t)],
        Some(Content::Parts(parts)) => parts
            .into_iter()
            .filter_map(|p| match (p.kind.as_str(), p.text, p.image_url) {
                ("text", Some(t), _) => Some(Block::Text(t)),
                ("image_url", _, Some(img)) => Some(Block::Image(ImageSource::from_url(&img.url))),
                _ => None,
            })
            .collect(),
    }
}

fn decode_message(request: &mut Request, m: wire::ChatMessage) -> Result<(), String> {
    match m.role.as_str() {
        "system" | "developer" => {
            let text = blocks_text(&content_blocks(m.content));
            request.messages.push(Message { role: Role::System, content: vec![Block::Text(text)] });
        }
        "user" => request.push(Role::User, content_blocks(m.content)),
        "assistant" => {
            let mut blocks = Vec::new();
            if let Some(thinking) = m.reasoning_content.filter(|t| !t.is_empty()) {
                blocks.push(Block::Thinking { text: thinking, seal: None });
            }
            blocks.extend(
                content_blocks(m.content)
                    .into_iter()
                    .filter(|b| !matches!(b, Block::Text(t) if t.is_empty())),
            );
            for (i, call) in m.tool_calls.unwrap_or_default().into_iter().enumerate() {
                blocks.push(Block::ToolCall {
                    id: call.id.unwrap_or_else(|| format!("call_{i}")),
                    name: call.function.name,
                    arguments: call.function.arguments,
                });
            }
            request.push(Role::Assistant, blocks);
        }
        "tool" => {
            let call_id = m.tool_call_id.ok_or("a tool message needs tool_call_id")?;
            let content = content_blocks(m.content);
            request.push(Role::User, vec![Block::ToolResult { call_id, content, is_error: false }]);
        }
        other => return Err(format!("unknown role {other:?}")),
    }
    Ok(())
}

pub fn encode_request(
    request: &Request,
    model: &str,
    options: &EncodeOptions,
) -> Result<Value, RequestError> {
    let role = if options.system_as_developer { "developer" } else { "system" };
    let mut messages: Vec<Value> =
        request.system.iter().map(|s| json!({"role": role, "content": s})).collect();
    for m in &request.messages {
        encode_message(m, role, &mut messages);
    }
    let mut body = json!({"model": model, "messages": messages});
    let obj = body.as_object_mut().ok_or_else(|| RequestError::InvalidJson("body".into()))?;
    let tools: Vec<Value> = request
        .tools
        .iter()
        .filter(|t| t.is_callable())
        .map(|t| {
            let mut f = json!({"name": t.name, "parameters": t.parameters});
            if let Some(d) = t.function_description() {
                f["description"] = d.into();
            }
            json!({"type": "function", "function": f})
        })
        .collect();
    let has_tools = !tools.is_empty();
    if has_tools {
        obj.insert("tools".into(), tools.into());
    }
    if let Some(choice) = &request.tool_choice {
        obj.insert(
            "tool_choice".into(),
            match choice {
                ToolChoice::Auto => "auto".into(),
                ToolChoice::None => "none".into(),
                ToolChoice::Required => "required".into(),
                ToolChoice::Tool(name) => json!({"type": "function", "function": {"name": name}}),
            },
        );
    }
    if let Some(p) = request.parallel_tool_calls.filter(|_| has_tools) {
        obj.insert("parallel_tool_calls".into(), p.into());
    }
    let max_field =
        if options.max_completion_tokens { "max_completion_tokens" } else { "max_tokens" };
    put(obj, max_field, request.max_tokens.map(Value::from));
    put(obj, "temperature", request.temperature.map(Value::from));
    put(obj, "top_p", request.top_p.map(Value::from));
    put(obj, "user", request.user.clone().map(Value::from));
    put(obj, "prompt_cache_key", request.prompt_cache_key.clone().map(Value::from));
    if !request.stop.is_empty() {
        obj.insert("stop".into(), request.stop.clone().into());
    }
    if let Some(effort) = request.reasoning.as_ref().and_then(Reasoning::effort_or_budget)
        && !options.no_reasoning
    {
        obj.insert("reasoning_effort".into(), effort.into());
    }
    if let Some(format) = &request.response_format {
        obj.insert(
            "response_format".into(),
            match format {
                ResponseFormat::Text => json!({"type": "text"}),
                ResponseFormat::JsonObject => json!({"type": "json_object"}),
                ResponseFormat::JsonSchema { name, schema, strict } => {
                    json!({"type": "json_schema",
                    "json_schema": {"name": name, "schema": schema, "strict": strict}})
                }
            },
        );
    }
    if request.stream {
        obj.insert("stream".into(), true.into());
        obj.insert("stream_options".into(), json!({"include_usage": true}));
    }
    Ok(body)
}

fn put(obj: &mut serde_json::Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        obj.insert(key.into(), v);
    }
}

fn encode_parts(blocks: &[Block]) -> Value {
    let parts: Vec<Value> = blocks
        .iter()
        .filter_map(|b| match b {
            Block::Text(t) => Some(json!({"type": "text", "text": t})),
            Block::Image(src) => {
                Some(json!({"type": "image_url", "image_url": {"url": src.to_url()}}))
            }
            _ => None,
        })
        .collect();
    match parts.as_slice() {
        [one] if one["type"] == "text" => one["text"].clone(),
        _ => parts.into(),
    }
}

fn encode_message(m: &Message, system_role: &str, out: &mut Vec<Value>) {
    match m.role {
        Role::System => {
            out.push(json!({"role": system_role, "content": blocks_text(&m.content)}));
        }
        Role::User => {
            let (results, rest): (Vec<&Block>, Vec<&Block>) =
                m.content.iter().partition(|b| matches!(b, Block::ToolResult { .. }));
            for r in results {
                if let Block::ToolResult { call_id, content, .. } = r {
                    out.push(json!({"role": "tool", "tool_call_id": call_id, "content": blocks_text(content)}));
                }
            }
            if !rest.is_empty() {
                let rest: Vec<Block> = rest.into_iter().cloned().collect();
                out.push(json!({"role": "user", "content": encode_parts(&rest)}));
            }
        }
        Role::Assistant => {
            let text: String = m
                .content
                .iter()
                .filter_map(|b| if let Block::Text(t) = b { Some(t.as_str()) } else { None })
                .collect();
            let calls = super::response::tool_calls_json(&m.content);
            // An empty turn (a caller's split model turn, reasoning only) is no message: OpenAI
            // refuses an assistant message with neither content nor calls, and one between a
            // call and its result.
            if text.is_empty() && calls.is_empty() {
                return;
            }
            // Consecutive assistant turns are one message.
            if let Some(last) = out.last_mut().filter(|l| l["role"] == "assistant") {
                if !text.is_empty() {
                    let joined = format!("{}{text}", last["content"].as_str().unwrap_or_default());
                    last["content"] = joined.into();
                }
                if !calls.is_empty() {
                    match last["tool_calls"].as_array_mut() {
                        Some(list) => list.extend(calls),
                        None => last["tool_calls"] = calls.into(),
                    }
                }
                return;
            }
            let mut msg = json!({"role": "assistant", "content": if text.is_empty() { Value::Null } else { text.into() }});
            if !calls.is_empty() {
                msg["tool_calls"] = calls.into();
            }
            out.push(msg);
        }
    }
}
