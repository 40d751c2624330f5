//! Converse requests ⇄ canonical, and the request path.

use serde_json::{Map, Value, json};

use crate::canonical::{
    Block, CacheAt, CacheMark, ImageSource, Reasoning, Request, Role, Seal, Tool, ToolChoice,
    arguments_object, blocks_text,
};
use crate::codec::EncodeOptions;
use crate::error::request::RequestError;
use crate::provider::Protocol;

/// `/model/{modelId}/converse` or `/converse-stream`; the model id is percent-encoded (its `:`
/// version suffix becomes `%3A`, as AWS's SDKs send it and sign it).
pub fn path(model: &str, stream: bool) -> String {
    let verb = if stream { "converse-stream" } else { "converse" };
    format!("/model/{}/{verb}", crate::query::percent_encode(model))
}

const CACHE_POINT: &str = "cachePoint";

fn cache_point() -> Value {
    json!({"cachePoint": {"type": "default"}})
}

/// Image formats Converse takes, by media type.
fn image_format(media_type: &str) -> Option<&'static str> {
    match media_type {
        "image/png" => Some("png"),
        "image/jpeg" | "image/jpg" => Some("jpeg"),
        "image/gif" => Some("gif"),
        "image/webp" => Some("webp"),
        _ => None,
    }
}

fn image(source: &ImageSource) -> Result<Value, RequestError> {
    let (media_type, data) = match source {
        ImageSource::Base64 { media_type, data } => (media_type.clone(), data.clone()),
        ImageSource::Url(url) => crate::canonical::parse_data_url(url).ok_or_else(|| {
            RequestError::field(
                "messages",
                "Bedrock takes images as inline data (base64 or a data: URL), not by URL",
            )
        })?,
    };
    let format = image_format(&media_type).ok_or_else(|| {
        RequestError::field(
            "messages",
            format!("Bedrock takes png, jpeg, gif or webp images, not {media_type}"),
        )
    })?;
    Ok(json!({"image": {"format": format, "source": {"bytes": data}}}))
}

/// A block as Converse content; `None` for what Converse cannot carry here (empty text,
/// reasoning another protocol sealed or nobody sealed).
pub(super) fn block(b: &Block) -> Result<Option<Value>, RequestError> {
    Ok(Some(match b {
        Block::Text(t) if t.is_empty() => return Ok(None),
        Block::Text(t) => json!({"text": t}),
        Block::Image(source) => image(source)?,
        Block::ToolCall { id, name, arguments } => {
            json!({"toolUse": {"toolUseId": id, "name": name, "input": arguments_object(arguments)}})
        }
        Block::ToolResult { call_id, content, is_error } => {
            let mut parts = Vec::new();
            for c in content {
                match c {
                    Block::Image(source) => parts.push(image(source)?),
                    Block::Text(t) if !t.is_empty() => parts.push(json!({"text": t})),
                    _ => {}
                }
            }
            if parts.is_empty() {
                parts.push(json!({"text": blocks_text(content)}));
            }
            let status = if *is_error { "error" } else { "success" };
            json!({"toolResult": {"toolUseId": call_id, "content": parts, "status": status}})
        }
        Block::Thinking { text, seal: Some(seal) } if seal.origin == Protocol::BedrockConverse => {
            if seal.redacted {
                json!({"reasoningContent": {"redactedContent": seal.data}})
            } else {
                json!({"reasoningContent": {"reasoningText": {"text": text, "signature": seal.data}}})
            }
        }
        Block::Thinking { .. } => return Ok(None),
    }))
}

/// A reasoning budget Claude on Bedrock takes (at least 1024 tokens, below the output limit).
fn budget(reasoning: &Reasoning, max_tokens: u32) -> Option<u32> {
    let asked = reasoning.budget_tokens.or_else(|| {
        reasoning.effort.as_deref().map(|e| match e {
            "minimal" | "low" => 1024,
            "medium" => 8192,
            _ => 24_576,
        })
    })?;
    let budget = asked.max(1024).min(max_tokens.saturating_sub(1));
    (asked > 0 && budget >= 1024).then_some(budget)
}

pub fn encode_request(
    request: &Request,
    model: &str,
    options: &EncodeOptions,
) -> Result<Value, RequestError> {
    let mut system: Vec<Value> = Vec::new();
    for (i, text) in request.system.iter().enumerate() {
        system.push(json!({"text": text}));
        if request.mark(CacheAt::System(i)).is_some() {
            system.push(cache_point());
        }
    }
    let mut messages: Vec<Value> = Vec::new();
    for (i, m) in request.messages.iter().enumerate() {
        if m.role == Role::System {
            // Converse has no system messages mid-conversation: they join the system prompt.
            let text = blocks_text(&m.content);
            if !text.is_empty() {
                system.push(json!({"text": text}));
            }
            continue;
        }
        let role = if m.role == Role::User { "user" } else { "assistant" };
        let mut content = Vec::new();
        for (j, b) in m.content.iter().enumerate() {
            if let Some(v) = block(b)? {
                content.push(v);
                if request.mark(CacheAt::Block { message: i, block: j }).is_some() {
                    content.push(cache_point());
                }
            }
        }
        if content.is_empty() {
            continue;
        }
        // Turns of one role stay one message (a dropped system message may have split them).
        match messages.last_mut() {
            Some(last) if last["role"] == role => {
                if let Some(list) = last["content"].as_array_mut() {
                    list.extend(content);
                }
            }
            _ => messages.push(json!({"role": role, "content": content})),
        }
    }
    let mut body = Map::new();
    body.insert("messages".into(), Value::Array(messages));
    if !system.is_empty() {
        body.insert("system".into(), Value::Array(system));
    }
    let max_tokens = request
        .max_tokens
        .or_else(|| (options.default_max_tokens > 0).then_some(options.default_max_tokens));
    let mut inference = Map::new();
    if let Some(n) = max_tokens {
        inference.insert("maxTokens".into(), n.into());
    }
    if let Some(t) = request.temperature {
        inference.insert("temperature".into(), t.into());
    }
    if let Some(p) = request.top_p {
        inference.insert("topP".into(), p.into());
    }
    if !request.stop.is_empty() {
        inference.insert("stopSequences".into(), json!(request.stop));
    }
    if !inference.is_empty() {
        body.insert("inferenceConfig".into(), Value::Object(inference));
    }
    let mut tools: Vec<Value> = Vec::new();
    for (i, t) in request.tools.iter().enumerate() {
        if !t.is_callable() {
            continue;
        }
        let mut spec = json!({"name": t.name, "inputSchema": {"json": t.parameters}});
        if let Some(d) = t.function_description() {
            spec["description"] = d.into();
        }
        tools.push(json!({"toolSpec": spec}));
        if request.mark(CacheAt::Tool(i)).is_some() {
            tools.push(cache_point());
        }
    }
    if !tools.is_empty() {
        let mut config = json!({"tools": tools});
        let choice = match &request.tool_choice {
            Some(ToolChoice::Auto) => Some(json!({"auto": {}})),
            Some(ToolChoice::Required) => Some(json!({"any": {}})),
            Some(ToolChoice::Tool(name)) => Some(json!({"tool": {"name": name}})),
            // Converse has no "none": the tools stay (a conversation with tool blocks needs
            // them), the choice is left to the model.
            Some(ToolChoice::None) | None => None,
        };
        if let Some(choice) = choice {
            config["toolChoice"] = choice;
        }
        body.insert("toolConfig".into(), config);
    }
    // Reasoning is a model-specific field; Claude on Bedrock takes Anthropic's `thinking`.
    let claude = model.contains("anthropic") || model.contains("claude");
    if let (Some(reasoning), true, false) = (&request.reasoning, claude, options.no_reasoning) {
        let thinking = if reasoning.adaptive {
            Some(json!({"type": "adaptive"}))
        } else {
            budget(reasoning, max_tokens.unwrap_or(u32::MAX))
                .map(|b| json!({"type": "enabled", "budget_tokens": b}))
        };
        if let Some(thinking) = thinking {
            body.insert("additionalModelRequestFields".into(), json!({"thinking": thinking}));
        }
    }
    Ok(Value::Object(body))
}

/// A Converse content block as canonical; `Ok(None)` for a cache point (marks the block before
/// it) and for blocks the gateway does not carry (documents, videos, guard content).
pub(super) fn decode_block(v: &Value) -> Result<Option<Block>, RequestError> {
    let bad = |m: &str| RequestError::field("messages", m.to_owned());
    if let Some(t) = v.get("text").and_then(Value::as_str) {
        return Ok(Some(Block::Text(t.to_owned())));
    }
    if let Some(image) = v.get("image") {
        let format = image["format"].as_str().ok_or_else(|| bad("image.format is required"))?;
        let data = image["source"]["bytes"]
            .as_str()
            .ok_or_else(|| bad("image.source.bytes is required"))?;
        let media_type = format!("image/{format}");
        return Ok(Some(Block::Image(ImageSource::Base64 { media_type, data: data.to_owned() })));
    }
    if let Some(call) = v.get("toolUse") {
        return Ok(Some(Block::ToolCall {
            id: call["toolUseId"].as_str().unwrap_or_default().to_owned(),
            name: call["name"].as_str().unwrap_or_default().to_owned(),
            arguments: call.get("input").map_or_else(|| "{}".into(), Value::to_string),
        }));
    }
    if let Some(result) = v.get("toolResult") {
        let mut content = Vec::new();
        for part in result["content"].as_array().map(Vec::as_slice).unwrap_or_default() {
            match part.get("json") {
                Some(json) => content.push(Block::Text(json.to_string())),
                None => content.extend(decode_block(part)?),
            }
        }
        return Ok(Some(Block::ToolResult {
            call_id: result["toolUseId"].as_str().unwrap_or_default().to_owned(),
            content,
            is_error: result["status"] == "error",
        }));
    }
    if let Some(reasoning) = v.get("reasoningContent") {
        if let Some(data) = reasoning["redactedContent"].as_str() {
            let seal =
                Seal { origin: Protocol::BedrockConverse, data: data.to_owned(), redacted: true };
            return Ok(Some(Block::Thinking { text: String::new(), seal: Some(seal) }));
        }
        let text = reasoning["reasoningText"]["text"].as_str().unwrap_or_default().to_owned();
        let seal = reasoning["reasoningText"]["signature"]
            .as_str()
            .map(|s| Seal::new(Protocol::BedrockConverse, s));
        return Ok(Some(Block::Thinking { text, seal }));
    }
    Ok(None)
}

pub fn decode_request(body: &[u8]) -> Result<Request, RequestError> {
    let value: Value = crate::json::parse(body)?;
    let mut request = Request::default();
    let mut marks: Vec<(CacheAt, CacheMark)> = Vec::new();
    for part in value["system"].as_array().map(Vec::as_slice).unwrap_or_default() {
        if part.get(CACHE_POINT).is_some() {
            if let Some(last) = request.system.len().checked_sub(1) {
                marks.push((CacheAt::System(last), CacheMark::default()));
            }
        } else if let Some(t) = part["text"].as_str() {
            request.system.push(t.to_owned());
        }
    }
    let Some(messages) = value["messages"].as_array() else {
        return Err(RequestError::field("messages", "messages is required"));
    };
    for m in messages {
        let role = match m["role"].as_str() {
            Some("user") => Role::User,
            Some("assistant") => Role::Assistant,
            _ => return Err(RequestError::field("messages", "role must be user or assistant")),
        };
        let mut blocks = Vec::new();
        for part in m["content"].as_array().map(Vec::as_slice).unwrap_or_default() {
            if part.get(CACHE_POINT).is_some() {
                let message = request.messages.len();
                let merged = request.messages.last().is_some_and(|l| l.role == role);
                let message = if merged { message - 1 } else { message };
                let before = if merged { request.messages[message].content.len() } else { 0 };
                if let Some(block) = (before + blocks.len()).checked_sub(1) {
                    marks.push((CacheAt::Block { message, block }, CacheMark::default()));
                }
                continue;
            }
            blocks.extend(decode_block(part)?);
        }
        request.push(role, blocks);
    }
    let inference = &value["inferenceConfig"];
    request.max_tokens = inference["maxTokens"].as_u64().and_then(|n| u32::try_from(n).ok());
    request.temperature = inference["temperature"].as_f64();
    request.top_p = inference["topP"].as_f64();
    request.stop = inference["stopSequences"]
        .as_array()
        .map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    let tools = &value["toolConfig"];
    for t in tools["tools"].as_array().map(Vec::as_slice).unwrap_or_default() {
        if t.get(CACHE_POINT).is_some() {
            if let Some(last) = request.tools.len().checked_sub(1) {
                marks.push((CacheAt::Tool(last), CacheMark::default()));
            }
            continue;
        }
        let spec = &t["toolSpec"];
        let Some(name) = spec["name"].as_str() else {
            return Err(RequestError::field("toolConfig.tools", "toolSpec.name is required"));
        };
        let description = spec["description"].as_str().map(str::to_owned);
        request.tools.push(Tool::function(name, description, spec["inputSchema"]["json"].clone()));
    }
    let choice = &tools["toolChoice"];
    request.tool_choice = if choice.get("auto").is_some() {
        Some(ToolChoice::Auto)
    } else if choice.get("any").is_some() {
        Some(ToolChoice::Required)
    } else {
        choice["tool"]["name"].as_str().map(|n| ToolChoice::Tool(n.to_owned()))
    };
    let thinking = &value["additionalModelRequestFields"]["thinking"];
    request.reasoning = match thinking["type"].as_str() {
        Some("enabled") => Some(Reasoning {
            budget_tokens: thinking["budget_tokens"].as_u64().and_then(|n| u32::try_from(n).ok()),
            ..Reasoning::default()
        }),
        Some("adaptive") => Some(Reasoning { adaptive: true, ..Reasoning::default() }),
        _ => None,
    };
    request.cache_marks = marks;
    Ok(request)
}
