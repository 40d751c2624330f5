//! Gemini requests ⇄ canonical, the request path, and the schema cut-down Gemini needs.

use serde_json::{Map, Value, json};

use super::wire::{Content, GenerateRequest};
use crate::canonical::{
    Block, ImageSource, Message, Reasoning, Request, ResponseFormat, Role, Tool, ToolChoice,
    arguments_object, blocks_text,
};
use crate::error::RequestError;

/// `/models/{model}:generateContent`, or the SSE streaming variant.
pub fn path(model: &str, stream: bool) -> String {
    let model = model.strip_prefix("models/").unwrap_or(model);
    if stream {
        format!("/models/{model}:streamGenerateContent?alt=sse")
    } else {
        format!("/models/{model}:generateContent")
    }
}

/// JSON Schema keywords Gemini's OpenAPI-subset schema accepts.
const SCHEMA_KEYS: [&str; 20] = [
    "type",
    "format",
    "title",
    "description",
    "nullable",
    "enum",
    "maxItems",
    "minItems",
    "properties",
    "required",
    "minProperties",
    "maxProperties",
    "minLength",
    "maxLength",
    "pattern",
    "example",
    "anyOf",
    "propertyOrdering",
    "items",
    "minimum",
];

/// Cuts a JSON Schema down to what Gemini accepts.
pub fn sanitize_schema(schema: &Value) -> Value {
    let Value::Object(map) = schema else { return schema.clone() };
    let mut out = Map::new();
    for (k, v) in map {
        let v = match k.as_str() {
            "properties" => match v {
                Value::Object(props) => Value::Object(
                    props.iter().map(|(name, s)| (name.clone(), sanitize_schema(s))).collect(),
                ),
                other => other.clone(),
            },
            "items" => sanitize_schema(v),
            "enum" => match v {
                // Gemini enums are strings; a null member becomes `nullable`.
                Value::Array(members) => {
                    if members.iter().any(Value::is_null) {
                        out.insert("nullable".into(), true.into());
                    }
                    Value::Array(members.iter().filter(|m| !m.is_null()).cloned().collect())
                }
                other => other.clone(),
            },
            "anyOf" => Value::Array(
                v.as_array().map(|a| a.iter().map(sanitize_schema).collect()).unwrap_or_default(),
            ),
            "type" => match v {
                // ["string", "null"] → "string" + nullable
                Value::Array(types) => {
                    if types.iter().any(|t| t == "null") {
                        out.insert("nullable".into(), true.into());
                    }
                    types.iter().find(|t| *t != "null").cloned().unwrap_or_else(|| "string".into())
                }
                other => other.clone(),
            },
            key if SCHEMA_KEYS.contains(&key) || key == "maximum" || key == "default" => v.clone(),
            _ => continue,
        };
        out.insert(k.clone(), v);
    }
    Value::Object(out)
}

fn part_json(b: &Block, request: &Request) -> Option<Value> {
    Some(match b {
        Block::Text(t) if t.is_empty() => return None,
        Block::Text(t) => json!({"text": t}),
        Block::Image(ImageSource::Base64 { media_type, data }) => {
            json!({"inlineData": {"mimeType": media_type, "data": data}})
        }
        Block::Image(ImageSource::Url(url)) => {
            json!({"fileData": {"fileUri": url, "mimeType": guess_mime(url)}})
        }
        Block::ToolCall { id, name, arguments } => {
            json!({"functionCall": {"id": id, "name": name, "args": arguments_object(arguments)}})
        }
        Block::ToolResult { call_id, content, is_error } => {
            let text = blocks_text(content);
            let response = match serde_json::from_str::<Value>(&text) {
                Ok(v @ Value::Object(_)) => v,
                _ if *is_error => json!({"error": text}),
                _ => json!({"result": text}),
            };
            let name = request.tool_name(call_id).unwrap_or(call_id);
            json!({"functionResponse": {"id": call_id, "name": name, "response": response}})
        }
        Block::Thinking { .. } => return None,
    })
}

fn guess_mime(url: &str) -> &'static str {
    let lower = url.to_ascii_lowercase();
    if lower.ends_with(".png") {
        "image/png"
    } else if lower.ends_with(".webp") {
        "image/webp"
    } else if lower.ends_with(".gif") {
        "image/gif"
    } else {
        "image/jpeg"
    }
}

fn thinking_budget(r: &Reasoning) -> Option<u32> {
    r.budget_tokens.or_else(|| match r.effort.as_deref()? {
        "minimal" | "low" => Some(1024),
        "medium" => Some(8192),
        "high" => Some(24576),
        _ => None,
    })
}

pub fn encode_request(request: &Request) -> Result<Value, RequestError> {
    let mut contents: Vec<Value> = Vec::new();
    for m in &request.messages {
        let role = if m.role == Role::User { "user" } else { "model" };
        let parts: Vec<Value> = m.content.iter().filter_map(|b| part_json(b, request)).collect();
        if parts.is_empty() {
            continue;
        }
        match contents.last_mut() {
            Some(last) if last["role"] == role => {
                if let Some(list) = last["parts"].as_array_mut() {
                    list.extend(parts);
                }
            }
            _ => contents.push(json!({"role": role, "parts": parts})),
        }
    }
    let mut body = Map::new();
    body.insert("contents".into(), contents.into());
    if let Some(system) = request.system_text() {
        body.insert("systemInstruction".into(), json!({"parts": [{"text": system}]}));
    }
    if !request.tools.is_empty() {
        let decls: Vec<Value> = request
            .tools
            .iter()
            .map(|t| {
                let mut d = json!({"name": t.name, "parameters": sanitize_schema(&t.parameters)});
                if let Some(desc) = &t.description {
                    d["description"] = desc.clone().into();
                }
                d
            })
            .collect();
        body.insert("tools".into(), json!([{"functionDeclarations": decls}]));
    }
    if let Some(choice) = &request.tool_choice {
        let config = match choice {
            ToolChoice::Auto => json!({"mode": "AUTO"}),
            ToolChoice::None => json!({"mode": "NONE"}),
            ToolChoice::Required => json!({"mode": "ANY"}),
            ToolChoice::Tool(name) => json!({"mode": "ANY", "allowedFunctionNames": [name]}),
        };
        body.insert("toolConfig".into(), json!({"functionCallingConfig": config}));
    }
    let mut generation = Map::new();
    if let Some(m) = request.max_tokens {
        generation.insert("maxOutputTokens".into(), m.into());
    }
    if let Some(t) = request.temperature {
        generation.insert("temperature".into(), t.into());
    }
    if let Some(p) = request.top_p {
        generation.insert("topP".into(), p.into());
    }
    if !request.stop.is_empty() {
        generation.insert("stopSequences".into(), request.stop.clone().into());
    }
    match &request.response_format {
        Some(ResponseFormat::JsonObject) => {
            generation.insert("responseMimeType".into(), "application/json".into());
        }
        Some(ResponseFormat::JsonSchema { schema, .. }) => {
            generation.insert("responseMimeType".into(), "application/json".into());
            generation.insert("responseSchema".into(), sanitize_schema(schema));
        }
        _ => {}
    }
    if let Some(budget) = request.reasoning.as_ref().and_then(thinking_budget) {
        generation.insert(
            "thinkingConfig".into(),
            json!({"thinkingBudget": budget, "includeThoughts": true}),
        );
    }
    if !generation.is_empty() {
        body.insert("generationConfig".into(), Value::Object(generation));
    }
    Ok(Value::Object(body))
}

fn decode_content(content: Content, next_call: &mut usize) -> Vec<Block> {
    content
        .parts
        .into_iter()
        .filter_map(|p| {
            if let Some(call) = p.function_call {
                let id = call.id.unwrap_or_else(|| format!("call_{next_call}"));
                *next_call += 1;
                return Some(Block::ToolCall {
                    id,
                    name: call.name,
                    arguments: call.args.to_string(),
                });
            }
            if let Some(resp) = p.function_response {
                let id = resp.id.unwrap_or(resp.name);
                // `{"result": text}` is how text results are wrapped on the way out; unwrap it.
                let text = match resp.response.as_object().map(|o| (o.len(), o.get("result"))) {
                    Some((1, Some(Value::String(s)))) => s.clone(),
                    _ => resp.response.to_string(),
                };
                return Some(Block::ToolResult {
                    call_id: id,
                    content: vec![Block::Text(text)],
                    is_error: false,
                });
            }
            if let Some(blob) = p.inline_data {
                return Some(Block::Image(ImageSource::Base64 {
                    media_type: blob.mime_type,
                    data: blob.data,
                }));
            }
            if let Some(file) = p.file_data {
                return Some(Block::Image(ImageSource::Url(file.file_uri)));
            }
            let text = p.text?;
            Some(if p.thought {
                Block::Thinking { text, signature: p.thought_signature }
            } else {
                Block::Text(text)
            })
        })
        .collect()
}

pub(super) fn decode_parts(content: Content, next_call: &mut usize) -> Vec<Block> {
    decode_content(content, next_call)
}

/// Decodes a Gemini request (used by tests and a future Gemini-native endpoint); the model comes
/// from the URL, so it is left empty.
pub fn decode_request(body: &[u8]) -> Result<Request, RequestError> {
    let wire: GenerateRequest = crate::json::parse(body)?;
    let mut next_call = 0;
    let mut request = Request::default();
    if let Some(system) = wire.system_instruction {
        request.system.push(blocks_text(&decode_content(system, &mut next_call)));
    }
    for c in wire.contents {
        let role = if c.role.as_deref() == Some("model") { Role::Assistant } else { Role::User };
        request.messages.push(Message { role, content: decode_content(c, &mut next_call) });
    }
    for set in wire.tools {
        for f in set.function_declarations {
            request.tools.push(Tool {
                name: f.name,
                description: f.description,
                parameters: f.parameters.unwrap_or_else(|| json!({"type": "object"})),
            });
        }
    }
    if let Some(config) = wire.tool_config {
        let c = &config["functionCallingConfig"];
        request.tool_choice = match (c["mode"].as_str(), c["allowedFunctionNames"][0].as_str()) {
            (Some("ANY"), Some(name)) => Some(ToolChoice::Tool(name.to_owned())),
            (Some("ANY"), None) => Some(ToolChoice::Required),
            (Some("NONE"), _) => Some(ToolChoice::None),
            (Some("AUTO"), _) => Some(ToolChoice::Auto),
            _ => None,
        };
    }
    if let Some(g) = wire.generation_config {
        request.max_tokens = g.max_output_tokens;
        request.temperature = g.temperature;
        request.top_p = g.top_p;
        request.stop = g.stop_sequences;
        request.response_format = match (g.response_mime_type.as_deref(), g.response_schema) {
            (Some("application/json"), Some(schema)) => {
                Some(ResponseFormat::JsonSchema { name: "response".into(), schema, strict: None })
            }
            (Some("application/json"), None) => Some(ResponseFormat::JsonObject),
            _ => None,
        };
        request.reasoning = g
            .thinking_config
            .and_then(|t| t.thinking_budget)
            .map(|b| Reasoning { effort: None, budget_tokens: u32::try_from(b).ok() });
    }
    Ok(request)
}
