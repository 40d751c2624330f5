//! Gemini requests ⇄ canonical, the request path, and the schema cut-down Gemini needs.

use serde_json::{Map, Value, json};

use super::wire::{Content, FunctionDeclaration, GenerateRequest};
use crate::canonical::{
    Block, ImageSource, Reasoning, Request, ResponseFormat, Role, Seal, Tool, ToolChoice, ToolKind,
    arguments_object, blocks_text,
};
use crate::codec::EncodeOptions;
use crate::error::request::RequestError;
use crate::provider::Protocol;

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
pub(super) fn sanitize_schema(schema: &Value) -> Value {
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

/// Blocks as parts, each seal in a `thoughtSignature`: Gemini's own on its thought part, any
/// other (a signature-only thinking block, another upstream's seal) on the next part — where
/// Gemini puts its signatures on function calls, and what callers keep in their history even when
/// they drop thought parts. `part` turns a block into its part, `seal` a seal into the value to
/// send (`None`: not sent, and neither is its thinking unless `answer`); an `answer` also shows
/// unsealed thinking and never loses a last seal.
pub(super) fn sealed_parts(
    blocks: &[Block],
    part: impl Fn(&Block) -> Option<Value>,
    seal: impl Fn(&Seal, &str) -> Option<String>,
    answer: bool,
) -> Vec<Value> {
    let mut parts: Vec<Value> = Vec::with_capacity(blocks.len());
    let mut pending: Option<String> = None;
    for b in blocks {
        if let Block::Thinking { text, seal: sealed } = b {
            let signature = sealed.as_ref().and_then(|s| seal(s, text).map(|v| (s.origin, v)));
            if signature.is_none() && !answer {
                continue;
            }
            let shown = !text.is_empty();
            if shown {
                parts.push(json!({"text": text, "thought": true}));
            }
            match (signature, parts.last_mut()) {
                (Some((Protocol::Gemini, v)), Some(p)) if shown => p["thoughtSignature"] = v.into(),
                (Some((_, v)), _) => pending = Some(v),
                (None, _) => {}
            }
            continue;
        }
        if let Some(mut p) = part(b) {
            if let Some(signature) = pending.take() {
                p["thoughtSignature"] = signature.into();
            }
            parts.push(p);
        }
    }
    match (pending, parts.last_mut()) {
        (Some(signature), Some(p)) => p["thoughtSignature"] = signature.into(),
        (Some(signature), None) if answer => {
            parts.push(json!({"text": "", "thoughtSignature": signature}));
        }
        _ => {}
    }
    parts
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
        "high" | "xhigh" | "max" => Some(24576),
        _ => None,
    })
}

/// The `tools` array: every callable tool as a function declaration, Gemini's own tools whole.
fn encode_tools(request: &Request) -> Vec<Value> {
    let decls: Vec<Value> = request
        .tools
        .iter()
        .filter(|t| t.is_callable())
        .map(|t| {
            let mut d = json!({"name": t.name, "parameters": sanitize_schema(&t.parameters)});
            if let Some(desc) = t.function_description() {
                d["description"] = desc.into();
            }
            d
        })
        .collect();
    let mut tools = Vec::new();
    if !decls.is_empty() {
        tools.push(json!({"functionDeclarations": decls}));
    }
    for t in &request.tools {
        if let ToolKind::Hosted { origin: Protocol::Gemini, spec } = &t.kind {
            tools.push(spec.clone());
        }
    }
    tools
}

/// What Gemini 3 accepts in place of a thought signature on a function call that has none (the
/// conversation came from another model or through a client that dropped it), as Google's
/// thought-signatures guide documents.
const SKIP_SIGNATURE: &str = "skip_thought_signature_validator";

/// Gemini 3 models refuse a model turn whose first function call has no thought signature.
fn needs_signatures(model: &str) -> bool {
    model.rsplit('/').next().is_some_and(|m| m.starts_with("gemini-3"))
}

/// `model` is the upstream model id (Gemini takes it in the URL; it decides the signature rule).
pub fn encode_request(
    request: &Request,
    model: &str,
    options: &EncodeOptions,
) -> Result<Value, RequestError> {
    let mut contents: Vec<Value> = Vec::new();
    // Mid-conversation system messages join `systemInstruction` (Gemini has no other place).
    for m in request.messages.iter().filter(|m| m.role != Role::System) {
        let role = if m.role == Role::User { "user" } else { "model" };
        // Gemini's own seals go back where they came from; others' thinking is left out.
        let native = |s: &Seal, _: &str| (s.origin == Protocol::Gemini).then(|| s.data.clone());
        let mut parts = sealed_parts(&m.content, |b| part_json(b, request), native, false);
        if role == "model" && needs_signatures(model) {
            let first_call = parts.iter_mut().find(|p| p.get("functionCall").is_some());
            if let Some(call) = first_call.filter(|p| p.get("thoughtSignature").is_none()) {
                call["thoughtSignature"] = SKIP_SIGNATURE.into();
            }
        }
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
    if let Some(system) = request.all_system_text() {
        body.insert("systemInstruction".into(), json!({"parts": [{"text": system}]}));
    }
    let tools = encode_tools(request);
    if !tools.is_empty() {
        body.insert("tools".into(), tools.into());
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
    if let Some(r) = request.reasoning.as_ref().filter(|_| !options.no_reasoning) {
        let budget = if r.adaptive { Some(-1) } else { thinking_budget(r).map(i64::from) };
        if let Some(budget) = budget {
            generation.insert(
                "thinkingConfig".into(),
                json!({"thinkingBudget": budget, "includeThoughts": !r.hidden()}),
            );
        }
    }
    if !generation.is_empty() {
        body.insert("generationConfig".into(), Value::Object(generation));
    }
    Ok(Value::Object(body))
}

/// Calls in a Gemini conversation that have no answer yet, so a `functionResponse` without an
/// id can be linked to its call by name; calls without ids are numbered `{prefix}_{n}`.
#[derive(Debug, Default)]
pub(super) struct CallIds {
    prefix: String,
    next: usize,
    open: Vec<(String, String)>,
}

impl CallIds {
    pub(super) fn new(prefix: &str) -> Self {
        CallIds { prefix: prefix.to_owned(), ..CallIds::default() }
    }

    fn call(&mut self, id: Option<String>, name: &str) -> String {
        let id = id.filter(|i| !i.is_empty()).unwrap_or_else(|| {
            self.next += 1;
            format!("{}_{}", self.prefix, self.next)
        });
        self.open.push((name.to_owned(), id.clone()));
        id
    }

    fn answer(&mut self, id: Option<String>, name: &str) -> String {
        let found = match &id {
            Some(id) => self.open.iter().position(|(_, open)| open == id),
            None => self.open.iter().position(|(n, _)| n == name),
        };
        match (found, id) {
            (Some(i), _) => self.open.remove(i).1,
            (None, Some(id)) => id,
            (None, None) => name.to_owned(),
        }
    }
}

/// A content's parts as blocks. A thought part's `thoughtSignature` seals its thinking block; a
/// signature on any other part (Gemini puts them on function calls) becomes a thinking block of
/// its own just before that part's block.
pub(super) fn decode_parts(content: Content, ids: &mut CallIds) -> Vec<Block> {
    let mut out = Vec::with_capacity(content.parts.len());
    for mut p in content.parts {
        let signature = p.thought_signature.take().filter(|s| !s.is_empty());
        let block = part_block(p, ids);
        match (signature, block) {
            (Some(sig), Some(Block::Thinking { text, .. })) => {
                out.push(Seal::thinking(&sig, Protocol::Gemini, text));
            }
            // A thought streamed in pieces comes back as adjacent thought parts: one block.
            (None, Some(Block::Thinking { text, seal: None })) => match out.last_mut() {
                Some(Block::Thinking { text: last, seal: None }) => last.push_str(&text),
                _ => out.push(Block::Thinking { text, seal: None }),
            },
            (Some(sig), block) => {
                let Block::Thinking { text, seal } =
                    Seal::thinking(&sig, Protocol::Gemini, String::new())
                else {
                    unreachable!("a seal reads as thinking")
                };
                // Another upstream's seal that the gateway put after its thought part belongs to
                // that part; Gemini's own stays on the part it signs.
                match out.last_mut() {
                    Some(last @ Block::Thinking { seal: None, .. })
                        if seal.as_ref().is_some_and(|s| s.origin != Protocol::Gemini) =>
                    {
                        *last = Block::Thinking { text, seal };
                    }
                    _ => out.push(Block::Thinking { text, seal }),
                }
                out.extend(block);
            }
            (None, block) => out.extend(block),
        }
    }
    out
}

fn part_block(p: super::wire::Part, ids: &mut CallIds) -> Option<Block> {
    if let Some(call) = p.function_call {
        let id = ids.call(call.id, &call.name);
        return Some(Block::ToolCall { id, name: call.name, arguments: call.args.to_string() });
    }
    if let Some(resp) = p.function_response {
        let call_id = ids.answer(resp.id, &resp.name);
        // `{"result": …}` (how text results are wrapped on the way out), `{"output": …}`
        // and `{"error": …}` (Gemini's own convention) are unwrapped.
        let only = resp.response.as_object().filter(|o| o.len() == 1).and_then(|o| {
            o.iter().find(|(k, _)| matches!(k.as_str(), "result" | "output" | "error"))
        });
        let (text, is_error) = match only {
            Some((k, Value::String(s))) => (s.clone(), k == "error"),
            _ => (resp.response.to_string(), false),
        };
        return Some(Block::ToolResult { call_id, content: vec![Block::Text(text)], is_error });
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
    Some(if p.thought { Block::Thinking { text, seal: None } } else { Block::Text(text) })
}

/// One entry of `tools`: its function declarations, or one of Gemini's own tools.
fn decode_tool(entry: Value, out: &mut Vec<Tool>) -> Result<(), String> {
    let Value::Object(map) = &entry else { return Err("a tool must be an object".into()) };
    if let Some(decls) = map.get("functionDeclarations").or(map.get("function_declarations")) {
        let decls: Vec<FunctionDeclaration> =
            serde_json::from_value(decls.clone()).map_err(|e| e.to_string())?;
        for f in decls {
            let parameters = f
                .parameters
                .or(f.parameters_json_schema)
                .unwrap_or_else(|| json!({"type": "object"}));
            out.push(Tool::function(f.name, f.description, parameters));
        }
        return Ok(());
    }
    let kind = map.keys().next().cloned().ok_or("an empty tool")?;
    out.push(Tool {
        name: kind,
        description: None,
        parameters: Value::Null,
        kind: ToolKind::Hosted { origin: Protocol::Gemini, spec: entry },
    });
    Ok(())
}

/// Reasoning from `thinkingConfig`: a budget (0 turns thinking off, -1 lets the model decide)
/// or a Gemini 3 thinking level.
fn decode_reasoning(t: super::wire::ThinkingConfig) -> Option<Reasoning> {
    let summary = t.include_thoughts.map(|shown| if shown { "auto" } else { "none" }.to_owned());
    let reasoning = Reasoning { summary, ..Reasoning::default() };
    match (t.thinking_budget, t.thinking_level) {
        (Some(0), _) => None,
        (Some(b), level) if b > 0 => {
            Some(Reasoning { effort: level, budget_tokens: u32::try_from(b).ok(), ..reasoning })
        }
        (_, Some(level)) => Some(Reasoning { effort: Some(level), ..reasoning }),
        // -1: dynamic thinking, the model decides.
        (Some(_), None) => Some(Reasoning { adaptive: true, ..reasoning }),
        (None, None) => None,
    }
}

/// Decodes a Gemini request (the Gemini-native endpoints); the model comes from the URL, so it
/// is left empty. Calls without ids get `call_{n}`, and answers without ids are linked to the
/// latest unanswered call of the same name.
pub fn decode_request(body: &[u8]) -> Result<Request, RequestError> {
    let wire: GenerateRequest = crate::json::parse(body)?;
    let mut ids = CallIds::new("call");
    let mut request = Request::default();
    if let Some(system) = wire.system_instruction {
        request.system.push(blocks_text(&decode_parts(system, &mut ids)));
    }
    for (i, c) in wire.contents.into_iter().enumerate() {
        let role = match c.role.as_deref() {
            Some("model") => Role::Assistant,
            None | Some("user" | "function" | "tool") => Role::User,
            Some(other) => {
                return Err(RequestError::field(
                    format!("contents[{i}].role"),
                    format!("unknown role {other:?}"),
                ));
            }
        };
        // A turn split over several contents (the SDK's chat keeps each streamed chunk's) is
        // one turn; a model turn's adjacent texts are one text (streamed chunks split words, and
        // the SDK reads them joined), a user's stay apart (separate documents, separate words);
        // an empty text part (a stream's closing chunk) is no content.
        let mut parts = decode_parts(c, &mut ids);
        parts.retain(|b| !matches!(b, Block::Text(t) if t.is_empty()));
        let same_turn = request.messages.last().is_some_and(|m| m.role == role);
        if parts.is_empty() {
            continue;
        }
        if !same_turn {
            request.messages.push(crate::canonical::Message { role, content: Vec::new() });
        }
        if let Some(turn) = request.messages.last_mut() {
            for block in parts {
                match (turn.content.last_mut(), block) {
                    (Some(Block::Text(last)), Block::Text(more)) if role == Role::Assistant => {
                        last.push_str(&more)
                    }
                    (_, block) => turn.content.push(block),
                }
            }
        }
    }
    for (i, entry) in wire.tools.into_iter().enumerate() {
        decode_tool(entry, &mut request.tools)
            .map_err(|m| RequestError::field(format!("tools[{i}]"), m))?;
    }
    if let Some(config) = wire.tool_config {
        let c = config.get("functionCallingConfig").or(config.get("function_calling_config"));
        let c = c.unwrap_or(&Value::Null);
        let allowed = c.get("allowedFunctionNames").or(c.get("allowed_function_names"));
        let first = allowed.and_then(|a| a[0].as_str());
        request.tool_choice = match (c["mode"].as_str(), first) {
            (Some("ANY"), Some(name)) => Some(ToolChoice::Tool(name.to_owned())),
            (Some("ANY"), None) => Some(ToolChoice::Required),
            (Some("NONE"), _) => Some(ToolChoice::None),
            (Some("AUTO" | "VALIDATED"), _) => Some(ToolChoice::Auto),
            _ => None,
        };
    }
    if let Some(g) = wire.generation_config {
        request.max_tokens = g.max_output_tokens;
        request.temperature = g.temperature;
        request.top_p = g.top_p;
        request.stop = g.stop_sequences;
        let schema = g.response_schema.or(g.response_json_schema);
        request.response_format = match (g.response_mime_type.as_deref(), schema) {
            (Some("application/json"), Some(schema)) => {
                Some(ResponseFormat::JsonSchema { name: "response".into(), schema, strict: None })
            }
            (Some("application/json"), None) => Some(ResponseFormat::JsonObject),
            _ => None,
        };
        request.reasoning = g.thinking_config.and_then(decode_reasoning);
    }
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proto_field_names_read_as_well_as_camel_case() {
        // What the google-genai Python SDK sends: some nested fields in snake_case.
        let body = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}],
            "tools": [{"functionDeclarations": [{"name": "f", "parameters_json_schema":
                {"type": "object", "properties": {"city": {"type": "string"}}}}]}],
            "tool_config": {"function_calling_config": {"mode": "ANY",
                "allowed_function_names": ["f"]}},
            "generationConfig": {"max_output_tokens": 99,
                "thinkingConfig": {"thinking_budget": 2048, "include_thoughts": true}}});
        let request = decode_request(body.to_string().as_bytes()).unwrap();
        assert_eq!(request.tools[0].parameters["properties"]["city"]["type"], "string");
        assert_eq!(request.tool_choice, Some(ToolChoice::Tool("f".into())));
        assert_eq!(request.max_tokens, Some(99));
        let reasoning = request.reasoning.unwrap();
        assert_eq!(
            (reasoning.budget_tokens, reasoning.summary.as_deref()),
            (Some(2048), Some("auto"))
        );
    }

    #[test]
    fn split_model_turns_join_their_texts_and_user_parts_stay_apart() {
        let body = json!({"contents": [
            {"role": "user", "parts": [{"text": "Document A."}, {"text": "Question?"}]},
            {"role": "model", "parts": [{"text": "Ans"}]},
            {"role": "model", "parts": [{"text": "wer."}, {"text": ""}]},
            {"role": "user", "parts": [{"text": "Thanks"}]}]});
        let request = decode_request(body.to_string().as_bytes()).unwrap();
        let texts: Vec<Vec<&str>> = request
            .messages
            .iter()
            .map(|m| {
                m.content
                    .iter()
                    .map(|b| match b {
                        Block::Text(t) => t.as_str(),
                        _ => "?",
                    })
                    .collect()
            })
            .collect();
        assert_eq!(texts, vec![vec!["Document A.", "Question?"], vec!["Answer."], vec!["Thanks"]]);
    }
}
