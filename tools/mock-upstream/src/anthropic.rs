//! Anthropic Messages (and `count_tokens`), as the API reference describes it: unknown top-level
//! fields are refused, and so are beta fields sent without the `anthropic-beta` that enables
//! them (the table below pairs each with the beta Claude Code sends alongside it).
//!
//! Message threads (`anthropic-beta: message-threads-2026-08-12`) are kept as the API keeps them:
//! `thread: {type: "create"}` starts one with the whole conversation, `{type: "continue",
//! previous_message_id}` sends only the new messages (no `system`, no `tools`: the thread has
//! them), and an id the mock never answered (another server's, or another account's) is
//! `404` with `error.details.error_code: "thread_not_found"`.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use crate::agent::result_text;
use crate::{Answer, Incoming, Mock, Seen, USAGE_INPUT, USAGE_OUTPUT};
use crate::{check_unique, json_pieces, json_response, prepare, sse_event, sse_response, text_of};
use crate::{text_pieces, thinking};

/// Top-level request fields the API knows.
const FIELDS: [&str; 19] = [
    "model",
    "messages",
    "max_tokens",
    "system",
    "metadata",
    "stop_sequences",
    "stream",
    "temperature",
    "top_p",
    "top_k",
    "tools",
    "tool_choice",
    "thinking",
    "service_tier",
    "container",
    "mcp_servers",
    "context_management",
    "output_config",
    "cache_control",
];

/// Beta-gated parts of a request and the `anthropic-beta` values that enable each (for
/// mid-conversation system messages, the betas Claude Code sends whenever it sends them).
const BETAS: [(&str, &[&str]); 4] = [
    ("context_management", &["context-management-2025-06-27"]),
    ("output_config.effort", &["effort-2025-11-24"]),
    (
        "messages[].role: system",
        &["mid-conversation-tool-changes-2026-07-01", "per-turn-control-2026-07-01"],
    ),
    ("tools[].defer_loading", &["advanced-tool-use-2025-11-20"]),
];

/// Which beta-gated parts `body` uses.
fn gated_parts(body: &Value) -> Vec<&'static str> {
    let mut used = Vec::new();
    if body.get("context_management").is_some() {
        used.push(BETAS[0].0);
    }
    if body["output_config"].get("effort").is_some() {
        used.push(BETAS[1].0);
    }
    if body["messages"].as_array().into_iter().flatten().any(|m| m["role"] == "system") {
        used.push(BETAS[2].0);
    }
    if body["tools"].as_array().into_iter().flatten().any(|t| t.get("defer_loading").is_some()) {
        used.push(BETAS[3].0);
    }
    used
}

/// Refuses unknown fields and beta fields without their beta.
fn check_fields(incoming: &Incoming<'_>, allowed: &[&str]) -> Result<(), String> {
    let body = incoming.body;
    if let Some(unknown) = crate::unknown_field(body, allowed) {
        return Err(format!("{unknown}: Extra inputs are not permitted"));
    }
    let betas: Vec<&str> = incoming
        .headers
        .get_all("anthropic-beta")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for part in gated_parts(body) {
        let needed = BETAS.iter().find(|(p, _)| *p == part).map_or(&[][..], |(_, b)| *b);
        if !needed.iter().any(|b| betas.contains(b)) {
            return Err(format!(
                "{part}: this field requires the `{}` beta (anthropic-beta header)",
                needed.join("` or `")
            ));
        }
    }
    Ok(())
}

fn error(status: StatusCode, message: &str) -> Response {
    let kind = match status.as_u16() {
        429 => "rate_limit_error",
        400 => "invalid_request_error",
        401 => "authentication_error",
        _ => "api_error",
    };
    json_response(status, json!({"type": "error", "error": {"type": kind, "message": message}}))
}

fn blocks(content: &Value) -> Vec<Value> {
    match content {
        Value::String(s) => vec![json!({"type": "text", "text": s})],
        Value::Array(list) => list.clone(),
        _ => vec![],
    }
}

/// Checks what Anthropic checks, and reads what the scenario needs.
fn read(incoming: &Incoming<'_>) -> Result<Seen, String> {
    let body = incoming.body;
    check_fields(incoming, &FIELDS)?;
    if !body["max_tokens"].is_u64() {
        return Err("max_tokens: Field required".into());
    }
    check_output_format(&body["output_config"]["format"])?;
    cache_prefix(body)?;
    let mut seen = read_messages(body)?;
    seen.max_tokens = body["max_tokens"].as_u64();
    seen.thinking = check_thinking(body)?;
    Ok(seen)
}

/// Thinking asked for (`Some(shown)`), checked as the API checks it: a budget of at least 1024
/// below `max_tokens`, and a tool loop being continued must give its thinking back.
fn check_thinking(body: &Value) -> Result<Option<bool>, String> {
    let thinking = &body["thinking"];
    match thinking["type"].as_str() {
        Some("enabled") => {
            let budget = thinking["budget_tokens"].as_u64().unwrap_or(0);
            if budget < 1024 {
                return Err(
                    "thinking.budget_tokens: Input should be greater than or equal to 1024".into(),
                );
            }
            if budget >= body["max_tokens"].as_u64().unwrap_or(0) {
                return Err("`max_tokens` must be greater than `thinking.budget_tokens`".into());
            }
        }
        Some("adaptive") => {}
        None | Some("disabled") => return Ok(None),
        Some(other) => return Err(format!("thinking.type: unknown type {other:?}")),
    }
    // A tool loop being continued: the conversation ends with tool results.
    let turns: Vec<(usize, &Value)> = body["messages"]
        .as_array()
        .into_iter()
        .flatten()
        .enumerate()
        .filter(|(_, m)| m["role"] != "system")
        .collect();
    let continues = turns.last().is_some_and(|(_, m)| {
        m["role"] == "user" && blocks(&m["content"]).iter().any(|b| b["type"] == "tool_result")
    });
    let assistant =
        turns.iter().rev().find(|(_, m)| m["role"] == "assistant").filter(|_| continues);
    if let Some(&(i, last)) = assistant {
        let content = blocks(&last["content"]);
        let calls = content.iter().any(|b| b["type"] == "tool_use");
        let first = content.first().and_then(|b| b["type"].as_str()).unwrap_or_default();
        if calls && first != "thinking" && first != "redacted_thinking" {
            return Err(format!(
                "messages.{i}.content.0.type: Expected `thinking` or `redacted_thinking`, but found `{first}`. When `thinking` is enabled, a final `assistant` message must start with a thinking block (preceeding the lastmost set of `tool_use` and `tool_result` blocks)."
            ));
        }
    }
    Ok(Some(thinking["display"] != "omitted"))
}

/// The thinking block an answer starts with when thinking was asked for (`…redacted…` models
/// answer with redacted thinking).
fn thinking_block(body: &Value, model: &str) -> Option<Value> {
    let shown = check_thinking(body).ok().flatten()?;
    if model.contains("redacted") {
        return Some(json!({"type": "redacted_thinking", "data": thinking::anthropic_redacted()}));
    }
    let text = if shown { thinking::TEXT } else { "" };
    Some(
        json!({"type": "thinking", "thinking": text, "signature": thinking::anthropic_signature(text)}),
    )
}

/// `output_config.format` as structured outputs take it: `json_schema` with a schema whose every
/// object is closed and which uses no constraint the API does not enforce.
fn check_output_format(format: &Value) -> Result<(), String> {
    if format.is_null() {
        return Ok(());
    }
    if format["type"] != "json_schema" {
        return Err(format!(
            "output_config.format.type: Input should be 'json_schema', got {}",
            format["type"]
        ));
    }
    if !format["schema"].is_object() {
        return Err("output_config.format.schema: Field required".into());
    }
    check_schema(&format["schema"], "output_config.format.schema")
}

fn check_schema(schema: &Value, at: &str) -> Result<(), String> {
    let Some(map) = schema.as_object() else { return Ok(()) };
    for keyword in [
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "multipleOf",
        "minLength",
        "maxLength",
        "maxItems",
    ] {
        if map.contains_key(keyword) {
            return Err(format!("{at}: `{keyword}` is not supported in structured outputs"));
        }
    }
    if map.get("minItems").and_then(Value::as_u64).is_some_and(|n| n > 1) {
        return Err(format!("{at}: minItems values other than 0 or 1 are not supported"));
    }
    let is_object = map.get("type").is_some_and(|t| {
        t == "object" || t.as_array().is_some_and(|a| a.iter().any(|t| t == "object"))
    }) || map.contains_key("properties");
    if is_object && map.get("additionalProperties") != Some(&Value::Bool(false)) {
        return Err(format!(
            "{at}: `additionalProperties` must be explicitly set to false for objects"
        ));
    }
    for (key, value) in map {
        match key.as_str() {
            "properties" | "$defs" | "definitions" => {
                for (name, sub) in value.as_object().into_iter().flatten() {
                    check_schema(sub, &format!("{at}.{key}.{name}"))?;
                }
            }
            "items" | "not" => check_schema(value, &format!("{at}.{key}"))?,
            "anyOf" | "allOf" | "oneOf" => {
                for (i, sub) in value.as_array().into_iter().flatten().enumerate() {
                    check_schema(sub, &format!("{at}.{key}[{i}]"))?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// The conversation as Anthropic checks it (shared by `messages` and `count_tokens`).
fn read_messages(body: &Value) -> Result<Seen, String> {
    let mut seen = Seen { system: text_of(&body["system"]), ..Seen::default() };
    let mut ids = Vec::new();
    let messages = body["messages"]
        .as_array()
        .filter(|m| !m.is_empty())
        .ok_or("messages: at least one message is required")?;
    let mut expected_role = "user";
    let mut open_calls: Vec<String> = Vec::new();
    for (i, m) in messages.iter().enumerate() {
        let role = m["role"].as_str().unwrap_or_default();
        if role == "system" {
            continue; // mid-conversation instructions (beta-gated, checked above)
        }
        if role != expected_role {
            return Err(format!(
                "messages.{i}: roles must alternate between \"user\" and \"assistant\", starting with \"user\""
            ));
        }
        expected_role = if role == "user" { "assistant" } else { "user" };
        let content = blocks(&m["content"]);
        if role == "assistant" {
            thinking::check_anthropic(i, &content)?;
        }
        let mut answered = Vec::new();
        let mut calls = Vec::new();
        for b in &content {
            match b["type"].as_str() {
                Some("text") if b["text"].as_str().is_none_or(str::is_empty) => {
                    return Err(format!("messages.{i}: text content blocks must be non-empty"));
                }
                Some("text") if role == "user" => {
                    seen.user = b["text"].as_str().unwrap_or_default().to_owned();
                    seen.user_texts.push(seen.user.clone());
                }
                Some("tool_use") if role == "assistant" => {
                    if !b["input"].is_object() {
                        return Err(format!("messages.{i}: tool_use.input must be an object"));
                    }
                    let id = b["id"].as_str().unwrap_or_default();
                    check_unique(&mut ids, id, &format!("messages.{i}"))?;
                    calls.push(id.to_owned());
                }
                Some("tool_result") if role == "user" => {
                    answered.push(b["tool_use_id"].as_str().unwrap_or_default().to_owned());
                    seen.tool_results.push(result_text(&b["content"]));
                }
                Some("thinking") if b["signature"].as_str().is_none() => {
                    return Err(format!("messages.{i}: thinking blocks need a signature"));
                }
                Some("text" | "image" | "thinking" | "redacted_thinking" | "document") => {}
                other => {
                    return Err(format!(
                        "messages.{i}: unexpected block {other:?} for role {role}"
                    ));
                }
            }
        }
        if role == "user" {
            if let Some(missing) = open_calls.iter().find(|id| !answered.contains(id)) {
                return Err(format!(
                    "messages.{i}: tool_use ids were found without tool_result blocks immediately after: {missing}"
                ));
            }
            if let Some(stray) = answered.iter().find(|id| !open_calls.contains(id)) {
                return Err(format!(
                    "messages.{i}: unexpected tool_use_id found in tool_result blocks: {stray}"
                ));
            }
        }
        open_calls = calls;
    }
    for tool in body["tools"].as_array().into_iter().flatten() {
        match tool["type"].as_str() {
            None | Some("custom") => {}
            Some(kind)
                if kind.starts_with("web_search_") || kind.starts_with("code_execution_") =>
            {
                continue; // server tools
            }
            Some(kind) => return Err(format!("tools: unknown tool type {kind:?}")),
        }
        if !tool["input_schema"].is_object() {
            return Err("tools: input_schema is required".into());
        }
        seen.tools.push(tool["name"].as_str().unwrap_or_default().to_owned());
    }
    Ok(seen)
}

/// Anthropic refuses every request without an `anthropic-version` header.
fn unversioned(headers: &HeaderMap) -> Option<Response> {
    (!headers.contains_key("anthropic-version"))
        .then(|| error(StatusCode::BAD_REQUEST, "anthropic-version: header is required"))
}

/// `POST /v1/messages/count_tokens`: checks the request as `messages` does (without
/// `max_tokens`), answers a count that grows with the request's size.
pub(crate) async fn count_tokens(
    State(mock): State<Arc<Mock>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    if let Some(refused) = unversioned(&headers) {
        return refused;
    }
    let Ok(value) = serde_json::from_str::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "body is not JSON");
    };
    mock.record("/v1/messages/count_tokens", &value);
    let model = value["model"].as_str().unwrap_or_default();
    let incoming = Incoming { body: &value, model, headers: &headers };
    const COUNT_FIELDS: [&str; 8] = [
        "model",
        "messages",
        "system",
        "tools",
        "tool_choice",
        "thinking",
        "context_management",
        "output_config",
    ];
    if let Err(message) =
        check_fields(&incoming, &COUNT_FIELDS).and_then(|()| read_messages(&value).map(|_| ()))
    {
        return error(StatusCode::BAD_REQUEST, &message);
    }
    json_response(StatusCode::OK, json!({"input_tokens": crate::counted(&body)}))
}

/// Input tokens of the cached prefix when a request has breakpoints.
pub const CACHE_PREFIX: i64 = 16;

/// How a request used the prompt cache.
#[derive(Clone, Copy, PartialEq)]
enum Cache {
    None,
    Write,
    Read,
}

/// Checks every `cache_control` as the API does and returns a hash of the prompt up to the last
/// breakpoint (the whole prompt for the top-level one), or `None` without breakpoints.
fn cache_prefix(body: &Value) -> Result<Option<u64>, String> {
    let mut marks = 0;
    let mut last: Option<usize> = None; // how many messages the cached prefix covers
    let mut check = |b: &Value, at: &str, messages: usize| -> Result<(), String> {
        let Some(cache) = b.get("cache_control").filter(|c| !c.is_null()) else { return Ok(()) };
        if cache["type"] != "ephemeral" {
            return Err(format!("{at}.cache_control.type: Input should be 'ephemeral'"));
        }
        if !cache["ttl"].is_null() && cache["ttl"] != "5m" && cache["ttl"] != "1h" {
            return Err(format!("{at}.cache_control.ttl: Input should be '5m' or '1h'"));
        }
        if matches!(b["type"].as_str(), Some("thinking" | "redacted_thinking")) {
            return Err(format!("{at}: cache_control cannot be set for thinking blocks"));
        }
        marks += 1;
        last = Some(last.unwrap_or(0).max(messages));
        Ok(())
    };
    for (i, t) in body["tools"].as_array().into_iter().flatten().enumerate() {
        check(t, &format!("tools.{i}"), 0)?;
    }
    for (i, b) in body["system"].as_array().into_iter().flatten().enumerate() {
        check(b, &format!("system.{i}"), 0)?;
    }
    for (i, m) in body["messages"].as_array().into_iter().flatten().enumerate() {
        for (j, b) in m["content"].as_array().into_iter().flatten().enumerate() {
            check(b, &format!("messages.{i}.content.{j}"), i + 1)?;
        }
    }
    if !body["cache_control"].is_null() {
        check(body, "cache_control", body["messages"].as_array().map_or(0, Vec::len))?;
    }
    if marks > 4 {
        return Err(format!(
            "A maximum of 4 blocks with cache_control may be provided. Found {marks}."
        ));
    }
    let Some(covered) = last else { return Ok(None) };
    // The prefix without the markers themselves (moving a breakpoint does not change the text).
    let mut prefix = json!([
        body["tools"],
        body["system"],
        body["messages"].as_array().map(|m| m[..covered.min(m.len())].to_vec())
    ]);
    strip_cache_control(&mut prefix);
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    prefix.to_string().hash(&mut h);
    Ok(Some(h.finish()))
}

fn strip_cache_control(v: &mut Value) {
    match v {
        Value::Object(map) => {
            map.remove("cache_control");
            map.values_mut().for_each(strip_cache_control);
        }
        Value::Array(list) => list.iter_mut().for_each(strip_cache_control),
        _ => {}
    }
}

impl Mock {
    /// Whether the request's cached prefix is written or read (and remembers it).
    fn prompt_cached(&self, body: &Value) -> Cache {
        let Ok(Some(prefix)) = cache_prefix(body) else { return Cache::None };
        let Ok(mut seen) = self.prompt_cache.lock() else { return Cache::None };
        if seen.insert(prefix) { Cache::Write } else { Cache::Read }
    }
}

fn usage(output: i64, cache: Cache) -> Value {
    let (write, read) = match cache {
        Cache::None => (0, 0),
        Cache::Write => (CACHE_PREFIX, 0),
        Cache::Read => (0, CACHE_PREFIX),
    };
    json!({"input_tokens": USAGE_INPUT - write - read, "cache_creation_input_tokens": write,
           "cache_read_input_tokens": read, "output_tokens": output})
}

/// The beta that enables message threads.
const THREADS_BETA: &str = "message-threads-2026-08-12";

/// A request that names a thread, as the whole conversation it continues (`thread` removed) and
/// `true`, or the API's refusal; any other request as it came.
fn threaded(mock: &Mock, headers: &HeaderMap, body: &str) -> Result<(String, bool), Box<Response>> {
    let Ok(mut value) = serde_json::from_str::<Value>(body) else {
        return Ok((body.to_owned(), false));
    };
    let Some(thread) = value.as_object_mut().and_then(|o| o.remove("thread")) else {
        return Ok((body.to_owned(), false));
    };
    let beta = headers
        .get_all("anthropic-beta")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|b| b.trim() == THREADS_BETA));
    if !beta {
        let m = format!(
            "thread: this field requires the `{THREADS_BETA}` beta (anthropic-beta header)"
        );
        return Err(Box::new(error(StatusCode::BAD_REQUEST, &m)));
    }
    match thread["type"].as_str() {
        Some("create") => {}
        Some("continue") => {
            if value.get("system").is_some() || value.get("tools").is_some() {
                let m = "thread: a continued thread keeps the system and tools it was created with";
                return Err(Box::new(error(StatusCode::BAD_REQUEST, m)));
            }
            let id = thread["previous_message_id"].as_str().unwrap_or_default();
            let Some(kept) = mock.threads.lock().ok().and_then(|t| t.get(id).cloned()) else {
                let body = json!({"type": "error", "error": {"type": "not_found_error",
                    "message": format!("thread with message {id:?} not found"),
                    "details": {"error_code": "thread_not_found"}}});
                return Err(Box::new(json_response(StatusCode::NOT_FOUND, body)));
            };
            let mut messages = kept["messages"].as_array().cloned().unwrap_or_default();
            messages.extend(value["messages"].as_array().cloned().unwrap_or_default());
            value["messages"] = messages.into();
            for field in ["system", "tools"] {
                if !kept[field].is_null() {
                    value[field] = kept[field].clone();
                }
            }
        }
        _ => {
            return Err(Box::new(error(
                StatusCode::BAD_REQUEST,
                "thread.type: create or continue",
            )));
        }
    }
    Ok((value.to_string(), true))
}

/// Keeps the conversation ending in the answer `content` under its message `id`.
fn keep_thread(mock: &Mock, body: &Value, id: &str, content: &[Value]) {
    let mut messages = body["messages"].as_array().cloned().unwrap_or_default();
    messages.push(json!({"role": "assistant", "content": content}));
    let kept = json!({"system": body["system"], "tools": body["tools"], "messages": messages});
    if let Ok(mut threads) = mock.threads.lock() {
        threads.insert(id.to_owned(), kept);
    }
}

/// A message id no other answer of this mock has used.
fn message_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("msg_mock{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

pub(crate) async fn handle(
    State(mock): State<Arc<Mock>>,
    headers: HeaderMap,
    body: String,
) -> Response {
    if let Some(refused) = unversioned(&headers) {
        return refused;
    }
    let (body, thread) = match threaded(&mock, &headers, &body) {
        Ok(threaded) => threaded,
        Err(refused) => return *refused,
    };
    let (body, model, answer) =
        match prepare(&mock, "/v1/messages", (&headers, &body), None, read, error).await {
            Ok(prepared) => prepared,
            Err(response) => return response,
        };
    let id = message_id();
    let cache = mock.prompt_cached(&body);
    if thread {
        keep_thread(&mock, &body, &id, &answer_blocks(&answer));
    }
    if body["stream"] == true {
        let thinking = thinking_block(&body, &model);
        return sse_response(&mock, stream(&id, &model, &answer, cache, thinking));
    }
    let thinking = thinking_block(&body, &model);
    let (mut content, stop): (Vec<Value>, &str) = match &answer {
        Answer::Text(t) => (vec![json!({"type": "text", "text": t})], "end_turn"),
        Answer::Calls(calls) => (
            calls
                .iter()
                .map(|c| json!({"type": "tool_use", "id": c.id, "name": c.name, "input": c.args}))
                .collect(),
            "tool_use",
        ),
    };
    content.splice(0..0, thinking);
    json_response(
        StatusCode::OK,
        json!({
            "id": id, "type": "message", "role": "assistant", "model": model, "content": content,
            "stop_reason": stop, "stop_sequence": null, "usage": usage(USAGE_OUTPUT, cache),
        }),
    )
}

/// The answer's content blocks (what a thread keeps of it).
fn answer_blocks(answer: &Answer) -> Vec<Value> {
    match answer {
        Answer::Text(t) => vec![json!({"type": "text", "text": t})],
        Answer::Calls(calls) => calls
            .iter()
            .map(|c| json!({"type": "tool_use", "id": c.id, "name": c.name, "input": c.args}))
            .collect(),
    }
}

fn stream(
    id: &str,
    model: &str,
    answer: &Answer,
    cache: Cache,
    thinking: Option<Value>,
) -> Vec<String> {
    let ev = |v: Value| sse_event(v["type"].as_str(), &v, "\n");
    let mut events = vec![ev(
        json!({"type": "message_start", "message": {"id": id, "type": "message",
        "role": "assistant", "model": model, "content": [], "stop_reason": null, "stop_sequence": null,
        "usage": usage(1, cache)}}),
    )];
    // Thinking first: the text in deltas, then the signature in one delta.
    let first = usize::from(thinking.is_some());
    if let Some(block) = thinking {
        if block["type"] == "redacted_thinking" {
            events.push(ev(
                json!({"type": "content_block_start", "index": 0, "content_block": block}),
            ));
        } else {
            events.push(ev(json!({"type": "content_block_start", "index": 0,
                "content_block": {"type": "thinking", "thinking": "", "signature": ""}})));
            for piece in text_pieces(block["thinking"].as_str().unwrap_or_default(), model) {
                events.push(ev(json!({"type": "content_block_delta", "index": 0,
                    "delta": {"type": "thinking_delta", "thinking": piece}})));
            }
            events.push(ev(json!({"type": "content_block_delta", "index": 0,
                "delta": {"type": "signature_delta", "signature": block["signature"]}})));
        }
        events.push(ev(json!({"type": "content_block_stop", "index": 0})));
    }
    let stop = match answer {
        Answer::Text(t) => {
            events.push(ev(json!({"type": "content_block_start", "index": first, "content_block": {"type": "text", "text": ""}})));
            events.push(ev(json!({"type": "ping"})));
            for piece in text_pieces(t, model) {
                events.push(ev(json!({"type": "content_block_delta", "index": first, "delta": {"type": "text_delta", "text": piece}})));
            }
            events.push(ev(json!({"type": "content_block_stop", "index": first})));
            "end_turn"
        }
        Answer::Calls(calls) => {
            for (i, c) in calls.iter().enumerate() {
                events.push(ev(json!({"type": "content_block_start", "index": first + i,
                    "content_block": {"type": "tool_use", "id": c.id, "name": c.name, "input": {}}})));
                events.push(ev(json!({"type": "content_block_delta", "index": first + i,
                    "delta": {"type": "input_json_delta", "partial_json": ""}})));
                for piece in json_pieces(&c.args) {
                    events.push(ev(json!({"type": "content_block_delta", "index": first + i,
                        "delta": {"type": "input_json_delta", "partial_json": piece}})));
                }
                events.push(ev(json!({"type": "content_block_stop", "index": first + i})));
            }
            "tool_use"
        }
    };
    events.push(ev(
        json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null},
        "usage": {"output_tokens": USAGE_OUTPUT}}),
    ));
    events.push(ev(json!({"type": "message_stop"})));
    events
}
