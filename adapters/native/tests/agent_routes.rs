//! What coding agents need from the data plane, in-process with a scripted upstream that records
//! what it was sent: caller betas forwarded only to an upstream of the caller's protocol (and no
//! credential ever), output limits fitted to each upstream, hosted tools dropped by name (refused
//! when forced), answers naming the model asked for, token counting in each upstream's API (or
//! an estimate), model lookups in each caller's shape, and the Gemini-native routes including
//! the JSON-array stream.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use bytes::Bytes;
use serde_json::{Value, json};
use support::Harness;

fn post(path: &str, key: &str, headers: &[(&str, &str)], body: Value) -> http::Request<Bytes> {
    let mut request = http::Request::builder()
        .method("POST")
        .uri(path)
        .header("x-api-key", key)
        .header("content-type", "application/json");
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    request.body(Bytes::from(body.to_string())).unwrap()
}

fn get(path: &str, key: &str, headers: &[(&str, &str)]) -> http::Request<Bytes> {
    let mut request = http::Request::builder().method("GET").uri(path).header("x-api-key", key);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    request.body(Bytes::new()).unwrap()
}

const MESSAGE: &str = r#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-up","content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":1}}"#;
const COMPLETION: &str = r#"{"id":"c1","object":"chat.completion","created":1,"model":"gpt-up","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":5,"completion_tokens":1}}"#;

fn sent(h: &Harness, n: usize) -> (http::HeaderMap, Value) {
    let seen = h.http.seen.lock().unwrap();
    let request = &seen[n];
    (request.headers().clone(), serde_json::from_slice(request.body()).unwrap_or(Value::Null))
}

#[tokio::test]
async fn betas_reach_only_an_upstream_of_the_callers_protocol_and_credentials_never() {
    let h = Harness::new().await;
    let key = h.setup("anthropic_messages").await;
    h.script(Ok((200, vec![], vec![MESSAGE])));
    let body = json!({"model": "m", "max_tokens": 10, "context_management": {"edits": []},
        "messages": [{"role": "user", "content": "hi"}]});
    let betas = [
        ("anthropic-beta", "context-management-2025-06-27,effort-2025-11-24"),
        ("openai-organization", "org-caller"),
        ("cookie", "session=caller"),
    ];
    let reply = h.send(post("/v1/messages?beta=true", &key, &betas, body)).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(reply.json["model"], "m", "the answer names the model the caller asked for");
    let (headers, upstream) = sent(&h, 0);
    assert_eq!(headers["anthropic-beta"], "context-management-2025-06-27,effort-2025-11-24");
    assert_eq!(
        headers["x-api-key"], "sealed-secret",
        "the provider's credential, not the caller's"
    );
    for never in ["authorization", "openai-organization", "cookie"] {
        assert!(headers.get(never).is_none(), "{never} must not travel");
    }
    assert!(upstream.get("context_management").is_some(), "same protocol: passed through");

    // Another protocol's upstream: no beta header, and the beta field is not forwarded blind.
    let h = Harness::new().await;
    let key = h.setup("openai_chat").await;
    h.script(Ok((200, vec![], vec![COMPLETION])));
    let body = json!({"model": "m", "max_tokens": 10, "context_management": {"edits": []},
        "output_config": {"effort": "low"},
        "messages": [{"role": "user", "content": "hi"}, {"role": "system", "content": "Be brief."}]});
    let reply = h.send(post("/v1/messages", &key, &betas[..1], body)).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    let (headers, upstream) = sent(&h, 0);
    assert!(headers.get("anthropic-beta").is_none());
    assert!(upstream.get("context_management").is_none());
    assert_eq!(upstream["reasoning_effort"], "low", "effort is mapped, not dropped");
    let roles: Vec<&str> = upstream["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["role"].as_str().unwrap())
        .collect();
    assert_eq!(roles, ["user", "system"], "the mid-conversation system message stays in place");
}

#[tokio::test]
async fn output_limits_are_capped_at_the_models_maximum_under_the_field_the_upstream_reads() {
    let h = Harness::new().await;
    let provider = h
        .admin(
            "POST",
            "/api/admin/providers",
            json!({"preset": "openai", "api_key": "sealed-secret",
            "base_url": "http://up.test/v1"}),
        )
        .await;
    assert_eq!(provider["quirks"]["max_tokens_field"], "max_completion_tokens", "from the preset");
    h.admin(
        "POST",
        "/api/admin/models",
        json!({"name": "o", "provider_id": provider["id"],
        "upstream_model": "o4-mini", "max_output_tokens": 8192}),
    )
    .await;
    let key = h.admin("POST", "/api/admin/keys", json!({"name": "k"})).await["key"]
        .as_str()
        .unwrap()
        .to_owned();
    // Same protocol: the caller's `max_tokens` becomes a capped `max_completion_tokens`.
    h.script(Ok((200, vec![], vec![COMPLETION])));
    let chat =
        json!({"model": "o", "max_tokens": 64000, "messages": [{"role": "user", "content": "hi"}]});
    assert_eq!(h.send(post("/v1/chat/completions", &key, &[], chat)).await.status, 200);
    let (_, upstream) = sent(&h, 0);
    assert_eq!(
        (upstream.get("max_tokens"), &upstream["max_completion_tokens"]),
        (None, &json!(8192))
    );
    // Translated (Claude Code asks for 128000): capped too.
    h.script(Ok((200, vec![], vec![COMPLETION])));
    let messages = json!({"model": "o", "max_tokens": 128000, "messages": [{"role": "user", "content": "hi"}]});
    assert_eq!(h.send(post("/v1/messages", &key, &[], messages)).await.status, 200);
    let (_, upstream) = sent(&h, 1);
    assert_eq!(
        (upstream.get("max_tokens"), &upstream["max_completion_tokens"]),
        (None, &json!(8192))
    );
}

#[tokio::test]
async fn hosted_tools_another_provider_runs_are_dropped_by_name_unless_forced() {
    let h = Harness::new().await;
    let key = h.setup("anthropic_messages").await;
    h.script(Ok((200, vec![], vec![MESSAGE])));
    let body = json!({"model": "m", "input": "hi", "tools": [
        {"type": "function", "name": "exec_command", "parameters": {"type": "object"}},
        {"type": "web_search", "external_web_access": false},
        {"type": "custom", "name": "apply_patch", "description": "Edit files"},
        {"type": "namespace", "name": "multi_agent_v1", "description": "Agents", "tools": [
            {"type": "function", "name": "spawn_agent", "parameters": {"type": "object"}}]}]});
    let reply = h.send(post("/v1/responses", &key, &[], body.clone())).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(reply.headers["x-gateway-dropped-tools"], "web_search");
    let (_, upstream) = sent(&h, 0);
    let names: Vec<&str> =
        upstream["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["exec_command", "apply_patch", "multi_agent_v1__spawn_agent"]);
    let mut forced = body;
    forced["tool_choice"] = json!({"type": "web_search"});
    let reply = h.send(post("/v1/responses", &key, &[], forced)).await;
    assert_eq!(
        (reply.status, reply.json["error"]["param"].as_str()),
        (400, Some("tool_choice")),
        "{}",
        reply.json
    );
    assert!(reply.json["error"]["message"].as_str().unwrap().contains("web_search"));
}

#[tokio::test]
async fn token_counting_uses_each_upstreams_own_api_or_an_estimate() {
    // Anthropic upstream: its count_tokens, with the caller's body and betas.
    let h = Harness::new().await;
    let key = h.setup("anthropic_messages").await;
    h.script(Ok((200, vec![], vec![r#"{"input_tokens":1234}"#])));
    let body = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    let beta = [("anthropic-beta", "context-management-2025-06-27")];
    let reply = h.send(post("/v1/messages/count_tokens", &key, &beta, body.clone())).await;
    assert_eq!((reply.status, &reply.json), (200, &json!({"input_tokens": 1234})));
    assert_eq!(reply.headers["x-gateway-token-count"], "upstream");
    let seen =
        h.http.seen.lock().unwrap().last().map(|r| (r.uri().to_string(), r.headers().clone()));
    let (uri, headers) = seen.unwrap();
    assert_eq!(uri, "http://up.test/v1/messages/count_tokens");
    assert_eq!(headers["anthropic-beta"], "context-management-2025-06-27");
    // Gemini upstream: countTokens with the whole request.
    let h = Harness::new().await;
    let key = h.setup("gemini").await;
    h.script(Ok((200, vec![], vec![r#"{"totalTokens":77}"#])));
    let reply = h.send(post("/v1/messages/count_tokens", &key, &[], body.clone())).await;
    assert_eq!(reply.json, json!({"input_tokens": 77}));
    let (_, upstream) = sent(&h, 0);
    assert_eq!(upstream["generateContentRequest"]["model"], "models/m");
    // Responses upstream, asked by a Responses caller and by a Gemini caller.
    let h = Harness::new().await;
    let key = h.setup("openai_responses").await;
    h.script(Ok((200, vec![], vec![r#"{"object":"response.input_tokens","input_tokens":9}"#])));
    let reply = h
        .send(post("/v1/responses/input_tokens", &key, &[], json!({"model": "m", "input": "hi"})))
        .await;
    assert_eq!(reply.json, json!({"object": "response.input_tokens", "input_tokens": 9}));
    h.script(Ok((200, vec![], vec![r#"{"object":"response.input_tokens","input_tokens":10}"#])));
    let gemini = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    let reply = h.send(post("/v1beta/models/m:countTokens", &key, &[], gemini)).await;
    assert_eq!(reply.json, json!({"totalTokens": 10}));
    let (_, upstream) = sent(&h, 1);
    assert!(upstream.get("store").is_none() && upstream["input"].is_array(), "{upstream}");
    // OpenAI chat has no counting API: an estimate, marked as such, and nothing sent upstream.
    let h = Harness::new().await;
    let key = h.setup("openai_chat").await;
    let long = json!({"model": "m", "messages": [{"role": "user", "content": "x".repeat(400)}]});
    let reply = h.send(post("/v1/messages/count_tokens", &key, &[], long)).await;
    assert_eq!(reply.json, json!({"input_tokens": 101}));
    assert_eq!(reply.headers["x-gateway-token-count"], "estimate");
    assert!(h.http.seen.lock().unwrap().is_empty());
    // Counting needs a key that may use the model, like generation.
    let reply = h.send(post("/v1/messages/count_tokens", "sk-gw-unknown", &[], body)).await;
    assert_eq!((reply.status, reply.json["type"].as_str()), (401, Some("error")));
}

#[tokio::test]
async fn models_are_listed_and_fetched_in_each_callers_shape() {
    let h = Harness::new().await;
    let key = h.setup("openai_chat").await;
    let openai = h.send(get("/v1/models/m", &key, &[])).await;
    assert_eq!(
        (openai.json["id"].as_str(), openai.json["object"].as_str()),
        (Some("m"), Some("model"))
    );
    let anthropic = h.send(get("/v1/models/m", &key, &[("anthropic-version", "2023-06-01")])).await;
    assert_eq!(anthropic.json["type"], "model");
    assert!(anthropic.json["created_at"].as_str().unwrap().ends_with('Z'), "{}", anthropic.json);
    let list = h.send(get("/v1/models", &key, &[("anthropic-version", "2023-06-01")])).await;
    assert_eq!(
        (list.json["first_id"].as_str(), list.json["has_more"].as_bool()),
        (Some("m"), Some(false))
    );
    let gemini = h.send(get("/v1beta/models", &key, &[])).await;
    assert_eq!(gemini.json["models"][0]["name"], "models/m");
    let one = h.send(get(&format!("/v1beta/models/m?key={key}"), "", &[])).await;
    assert_eq!(one.status, 200, "the key may come as ?key= on Gemini routes: {}", one.json);
    let missing =
        h.send(get("/v1/models/nope", &key, &[("anthropic-version", "2023-06-01")])).await;
    assert_eq!(
        (missing.status, missing.json["error"]["type"].as_str()),
        (404, Some("not_found_error"))
    );
    let missing = h.send(get("/v1beta/models/nope", &key, &[])).await;
    assert_eq!(
        (missing.status, missing.json["error"]["status"].as_str()),
        (404, Some("NOT_FOUND"))
    );
    // The @google/genai SDK with API version v1 lists `/v1/models` with its key in
    // `x-goog-api-key`: Google's shape there too (it read OpenAI's as no models at all).
    let google = |path: &str| {
        let request = http::Request::builder().method("GET").uri(path);
        request.header("x-goog-api-key", &key).body(Bytes::new()).unwrap()
    };
    let list = h.send(google("/v1/models?pageSize=50")).await;
    assert_eq!(list.json["models"][0]["name"], "models/m", "{}", list.json);
    let one = h.send(google("/v1/models/m")).await;
    assert_eq!(one.json["name"], "models/m", "{}", one.json);
    let missing = h.send(google("/v1/models/nope")).await;
    assert_eq!(missing.json["error"]["status"], "NOT_FOUND", "{}", missing.json);
}

#[tokio::test]
async fn gemini_callers_get_sse_or_one_json_array_from_any_upstream() {
    let h = Harness::new().await;
    let key = h.setup("openai_chat").await;
    let chunks = vec![
        "data: {\"id\":\"c\",\"model\":\"up\",\"created\":1,\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"}}]}\n\n",
        "data: {\"id\":\"c\",\"model\":\"up\",\"created\":1,\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":\"stop\"}]}\n\n",
        "data: {\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\n",
        "data: [DONE]\n\n",
    ];
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}]});
    h.script(Ok((200, vec![], chunks.clone())));
    let array =
        h.send(post("/v1beta/models/m:streamGenerateContent", &key, &[], body.clone())).await;
    assert_eq!(array.headers["content-type"], "application/json");
    let items = array.json.as_array().expect("one JSON array");
    let text: String = items
        .iter()
        .flat_map(|c| {
            c["candidates"][0]["content"]["parts"].as_array().cloned().unwrap_or_default()
        })
        .filter_map(|p| p["text"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(text, "Hello");
    let last = items.last().unwrap();
    assert_eq!(last["candidates"][0]["finishReason"], "STOP");
    assert_eq!(last["usageMetadata"]["promptTokenCount"], 3);
    assert!(items.iter().all(|c| c["modelVersion"] == "m"), "named as the caller asked");
    h.script(Ok((200, vec![], chunks)));
    let sse = h
        .send(post("/v1beta/models/m:streamGenerateContent?alt=sse", &key, &[], body.clone()))
        .await;
    assert_eq!(sse.headers["content-type"], "text/event-stream");
    assert!(sse.json.as_str().unwrap().starts_with("data: {"), "{}", sse.json);
    h.script(Ok((200, vec![], vec![COMPLETION])));
    let json = h.send(post("/v1beta/models/m:generateContent", &key, &[], body)).await;
    assert_eq!(json.json["candidates"][0]["content"]["parts"][0]["text"], "ok");
    let (_, upstream) = sent(&h, 2);
    assert_eq!(upstream["messages"][0]["content"], "hi");
}

#[tokio::test]
async fn a_gemini_upstreams_own_chunks_reach_a_gemini_caller_as_one_json_array() {
    let h = Harness::new().await;
    let key = h.setup("gemini").await;
    let chunk = |text: &str, finish: &str| {
        let finish = if finish.is_empty() {
            String::new()
        } else {
            format!(",\"finishReason\":\"{finish}\"")
        };
        format!(
            "data: {{\"candidates\":[{{\"content\":{{\"role\":\"model\",\"parts\":[{{\"text\":\"{text}\"}}]}}{finish}}}],\"modelVersion\":\"gemini-up\"}}\r\n\r\n"
        )
    };
    let chunks: Vec<&'static str> = vec![chunk("Hel", "").leak(), chunk("lo", "STOP").leak()];
    h.script(Ok((200, vec![], chunks)));
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "hi"}]}], "generationConfig": {"topK": 4}});
    let reply = h.send(post("/v1beta/models/m:streamGenerateContent", &key, &[], body)).await;
    let items = reply.json.as_array().unwrap_or_else(|| panic!("{}", reply.json));
    assert_eq!(items.len(), 2);
    assert_eq!(items[1]["candidates"][0]["finishReason"], "STOP");
    assert!(items.iter().all(|c| c["modelVersion"] == "m"), "{items:?}");
    let seen = h.http.seen.lock().unwrap();
    assert_eq!(seen[0].uri(), "http://up.test/v1/models/m:streamGenerateContent?alt=sse");
    let upstream: Value = serde_json::from_slice(seen[0].body()).unwrap();
    assert_eq!(upstream["generationConfig"]["topK"], 4, "same protocol: passed through");
    assert!(upstream.get("model").is_none());
}

/// No silent drops: a field the upstream's protocol has no place for is named in
/// `x-gateway-dropped-fields` and on the log row's translation report; back to the caller's own
/// protocol (a prompt rule re-encoded the request) it goes as it came; a field whose loss would
/// change the meaning is refused, naming it — a continued message thread with Anthropic's
/// `thread_not_found`, which the SDK answers with the whole conversation.
#[tokio::test]
async fn fields_translation_drops_are_named_and_meaning_changing_ones_refused() {
    let h = Harness::new().await;
    let key = h.setup("anthropic_messages").await;
    h.script(Ok((200, vec![], vec![MESSAGE])));
    let chat = json!({"model": "m", "seed": 7, "logprobs": true, "frobnicate": {"a": 1},
        "messages": [{"role": "user", "content": "hi"}]});
    let reply = h.send(post("/v1/chat/completions", &key, &[], chat)).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(reply.headers["x-gateway-dropped-fields"], "frobnicate, logprobs, seed");
    if let Some(work) = reply.background {
        work.await;
    }
    let (_, upstream) = sent(&h, 0);
    assert!(upstream.get("seed").is_none() && upstream.get("frobnicate").is_none(), "{upstream}");
    let row = h.latest_log().await;
    assert_eq!(row["translation"]["from"], "openai_chat", "{row}");
    assert_eq!(row["translation"]["to"], "anthropic_messages", "{row}");
    assert_eq!(row["translation"]["dropped"], json!(["frobnicate", "logprobs", "seed"]), "{row}");
    // A flood of invented fields makes a short report a header can carry.
    h.script(Ok((200, vec![], vec![MESSAGE])));
    let mut flood = json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]});
    for i in 0..40 {
        flood[format!("f{i:02}")] = json!(i);
    }
    flood["zé\u{7f}"] = json!(1);
    flood[format!("z{}", "x".repeat(5000))] = json!(1);
    let reply = h.send(post("/v1/chat/completions", &key, &[], flood)).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    let header = reply.headers["x-gateway-dropped-fields"].to_str().unwrap();
    assert!(header.starts_with("f00, f01,") && header.ends_with("... (10 more)"), "{header}");
    assert!(header.len() < 400, "{header}");
    if let Some(work) = reply.background {
        work.await;
    }
    let row = h.latest_log().await;
    assert_eq!(row["translation"]["dropped"].as_array().unwrap().len(), 33, "{row}");
    h.script(Ok((200, vec![], vec![MESSAGE])));
    let odd = json!({"model": "m", "zé\u{7f}": 1, "messages": [{"role": "user", "content": "hi"}]});
    let reply = h.send(post("/v1/chat/completions", &key, &[], odd)).await;
    assert_eq!(reply.headers["x-gateway-dropped-fields"], "z??", "one header-unsafe name");

    // Meaning-changing fields are refused, in the caller's protocol, naming the field.
    let responses = json!({"model": "m", "input": "and then?", "previous_response_id": "resp_1"});
    let reply = h.send(post("/v1/responses", &key, &[], responses)).await;
    assert_eq!(
        (reply.status, reply.json["error"]["param"].as_str()),
        (400, Some("previous_response_id")),
        "{}",
        reply.json
    );
    let chat_n = json!({"model": "m", "n": 3, "messages": [{"role": "user", "content": "hi"}]});
    let reply = h.send(post("/v1/chat/completions", &key, &[], chat_n)).await;
    assert_eq!((reply.status, reply.json["error"]["param"].as_str()), (400, Some("n")));
    assert_eq!(h.http.seen.lock().unwrap().len(), 3, "nothing refused was sent");

    // An Anthropic caller's thread: created (the whole conversation) it is translated with
    // `thread` reported dropped; continued (only the new turn) it is answered thread_not_found.
    let h = Harness::new().await;
    let key = h.setup("openai_chat").await;
    h.script(Ok((200, vec![], vec![COMPLETION])));
    let beta = [("anthropic-beta", "message-threads-2026-08-12")];
    let create = json!({"model": "m", "max_tokens": 50, "thread": {"type": "create"},
        "messages": [{"role": "user", "content": "hi"}]});
    let reply = h.send(post("/v1/messages", &key, &beta, create)).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(reply.headers["x-gateway-dropped-fields"], "thread");
    assert!(reply.json["id"].as_str().unwrap().starts_with("msg_"), "{}", reply.json);
    let cont = json!({"model": "m", "max_tokens": 50,
        "thread": {"type": "continue", "previous_message_id": reply.json["id"]},
        "messages": [{"role": "user", "content": "and then?"}]});
    let reply = h.send(post("/v1/messages", &key, &beta, cont)).await;
    assert_eq!(reply.status, 404, "{}", reply.json);
    assert_eq!(reply.json["type"], "error");
    assert_eq!(reply.json["error"]["type"], "not_found_error");
    assert_eq!(reply.json["error"]["details"]["error_code"], "thread_not_found");
    assert_eq!(h.http.seen.lock().unwrap().len(), 1, "a continue is never sent translated");

    // Back to the caller's own protocol through a rule: every field as it came.
    let h = Harness::new().await;
    let key = h.setup("openai_chat").await;
    let providers = h.admin("GET", "/api/admin/providers", Value::Null).await;
    let targets = json!([{"provider_id": providers["data"][0]["id"], "model": "m"}]);
    let rules = json!([{"op": "system_append", "template": "Be brief."}]);
    h.admin(
        "POST",
        "/api/admin/virtual-models",
        json!({"name": "ruled", "strategy": "priority", "targets": targets, "rules": rules}),
    )
    .await;
    h.script(Ok((200, vec![], vec![COMPLETION])));
    let chat = json!({"model": "ruled", "seed": 7, "frobnicate": {"a": 1},
        "messages": [{"role": "user", "content": "hi"}]});
    let reply = h.send(post("/v1/chat/completions", &key, &[], chat)).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert!(reply.headers.get("x-gateway-dropped-fields").is_none());
    let (_, upstream) = sent(&h, 0);
    assert_eq!((&upstream["seed"], &upstream["frobnicate"]), (&json!(7), &json!({"a": 1})));
    assert_eq!(upstream["messages"][0]["content"], "Be brief.", "{upstream}");
}
