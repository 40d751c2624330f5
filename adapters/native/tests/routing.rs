//! Routing in-process (scripted upstream, manual clock): failover order and attempts, what fails
//! over and what does not, breakers opening and probing, streams failing over before their first
//! event, prompt rules on every endpoint, relay isolation, and the admin API around it.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::atomic::Ordering;

use bytes::Bytes;
use gateway_core::TransportError;
use serde_json::{Value, json};
use support::{Harness, Scripted};

const OK_CHAT: &str = r#"{"id":"c","object":"chat.completion","created":1,"model":"up","choices":[{"index":0,"message":{"role":"assistant","content":"fine"},"finish_reason":"stop"}],"usage":{"prompt_tokens":3,"completion_tokens":1}}"#;

fn ok_chat() -> Scripted {
    Ok((200, vec![], vec![OK_CHAT]))
}

async fn provider(h: &Harness, name: &str, protocol: &str, extra: Value) -> String {
    let mut body = json!({"name": name, "base_url": format!("http://{name}.test/v1"), "protocol": protocol, "api_key": "k"});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    h.admin("POST", "/api/admin/providers", body).await["id"].as_str().unwrap().to_owned()
}

async fn key(h: &Harness) -> String {
    h.admin("POST", "/api/admin/keys", json!({"name": "team-a"})).await["key"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// A virtual model `smart` over `targets` (provider id, upstream model) in priority order.
async fn smart(h: &Harness, targets: &[(&str, &str)], extra: Value) -> Value {
    let targets: Vec<Value> = targets
        .iter()
        .enumerate()
        .map(|(i, (p, m))| json!({"provider_id": p, "model": m, "priority": i}))
        .collect();
    let mut body = json!({"name": "smart", "strategy": "priority", "targets": targets});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    h.admin("POST", "/api/admin/virtual-models", body).await
}

/// `smart` over `targets` with breakers that open after two failures and cool down for 10 s.
async fn smart_breaking(h: &Harness, targets: &[(&str, &str)]) {
    smart(h, targets, json!({"config": {"failure_threshold": 2, "cooldown_ms": 10_000}})).await;
}

fn chat(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

fn hosts(h: &Harness) -> Vec<String> {
    h.http
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|r| r.uri().host().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn fails_over_on_server_errors_and_says_who_served() {
    let h = Harness::new().await;
    let a = provider(&h, "a", "openai_chat", json!({})).await;
    let b = provider(&h, "b", "openai_chat", json!({})).await;
    smart(&h, &[(&a, "model-a"), (&b, "model-b")], json!({})).await;
    let key = key(&h).await;
    for (first, why) in [
        (Ok((500, vec![], vec!["boom"])), "500"),
        (Ok((503, vec![], vec!["busy"])), "503"),
        (Ok((408, vec![], vec!["slow"])), "408"),
        (Err(TransportError::Connect("refused".into())), "connect"),
        (Err(TransportError::Timeout(100)), "timeout"),
        (Ok((200, vec![], vec!["garbage"])), "invalid 2xx"),
    ] {
        h.clock.now.fetch_add(60_000, Ordering::SeqCst); // each case starts with closed breakers
        h.http.seen.lock().unwrap().clear();
        h.script(first);
        h.script(ok_chat());
        let reply = h.call("POST", "/v1/chat/completions", Some(&key), chat("smart", false)).await;
        assert_eq!(reply.status, 200, "{why}: {}", reply.json);
        assert_eq!(reply.headers["x-gateway-attempts"], "2", "{why}");
        assert_eq!(reply.headers["x-gateway-provider"], "b", "{why}");
        assert_eq!(reply.headers["x-gateway-model"], "model-b", "{why}");
        assert_eq!(hosts(&h), ["a.test", "b.test"], "{why}");
        reply.background.unwrap().await;
        let log = h.latest_log().await;
        assert_eq!(
            (log["attempts"].as_i64(), log["model_served"].as_str()),
            (Some(2), Some("model-b"))
        );
    }
}

#[tokio::test]
async fn client_errors_never_fail_over_or_count() {
    let h = Harness::new().await;
    let a = provider(&h, "a", "openai_chat", json!({})).await;
    let b = provider(&h, "b", "openai_chat", json!({})).await;
    smart(&h, &[(&a, "model-a"), (&b, "model-b")], json!({"config": {"failure_threshold": 1}}))
        .await;
    let key = key(&h).await;
    for _ in 0..3 {
        h.script(Ok((400, vec![], vec![r#"{"error":{"message":"bad tool schema"}}"#])));
        let reply = h.call("POST", "/v1/chat/completions", Some(&key), chat("smart", false)).await;
        assert_eq!(
            (reply.status, reply.json["error"]["message"].as_str()),
            (400, Some("bad tool schema"))
        );
        assert_eq!(reply.headers["x-gateway-attempts"], "1");
    }
    assert!(hosts(&h).iter().all(|host| host == "a.test"));
    let status = h.admin("GET", "/api/admin/routing", Value::Null).await;
    assert_eq!(status["targets"][0]["breaker"]["state"], "closed");
}

#[tokio::test]
async fn breaker_skips_a_failing_target_then_probes_it_after_the_cool_down() {
    let h = Harness::new().await;
    let a = provider(&h, "a", "openai_chat", json!({})).await;
    let b = provider(&h, "b", "openai_chat", json!({})).await;
    smart_breaking(&h, &[(&a, "model-a"), (&b, "model-b")]).await;
    let key = key(&h).await;
    for _ in 0..2 {
        h.script(Ok((500, vec![], vec!["boom"])));
        h.script(ok_chat());
        assert_eq!(
            h.call("POST", "/v1/chat/completions", Some(&key), chat("smart", false)).await.status,
            200
        );
    }
    h.http.seen.lock().unwrap().clear();
    h.script(ok_chat());
    let reply = h.call("POST", "/v1/chat/completions", Some(&key), chat("smart", false)).await;
    assert_eq!(reply.headers["x-gateway-attempts"], "1");
    assert_eq!(hosts(&h), ["b.test"], "open breaker: a is skipped");
    let status = h.admin("GET", "/api/admin/routing", Value::Null).await;
    let a_status = status["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"].as_str().unwrap().ends_with("model-a"))
        .unwrap();
    assert_eq!(a_status["breaker"]["state"], "open");
    assert_eq!(a_status["recent_error_rate"], 1.0);

    h.clock.now.fetch_add(10_000, Ordering::SeqCst);
    h.http.seen.lock().unwrap().clear();
    h.script(ok_chat());
    let reply = h.call("POST", "/v1/chat/completions", Some(&key), chat("smart", false)).await;
    assert_eq!(
        (reply.status, hosts(&h)),
        (200, vec!["a.test".to_owned()]),
        "half-open probe goes to a"
    );
    let status = h.admin("GET", "/api/admin/routing", Value::Null).await;
    assert!(
        status["targets"].as_array().unwrap().iter().all(|t| t["breaker"]["state"] == "closed")
    );
}

#[tokio::test]
async fn rate_limits_honour_retry_after_and_answer_429_when_nothing_is_left() {
    let h = Harness::new().await;
    let a = provider(&h, "a", "openai_chat", json!({})).await;
    let b = provider(&h, "b", "openai_chat", json!({})).await;
    smart(&h, &[(&a, "model-a"), (&b, "model-b")], json!({})).await;
    let key = key(&h).await;
    let limited =
        || Ok((429, vec![("retry-after", "7")], vec![r#"{"error":{"message":"slow down"}}"#]));
    // a says 429: it rests for its Retry-After while b serves.
    h.script(limited());
    h.script(ok_chat());
    let reply = h.call("POST", "/v1/chat/completions", Some(&key), chat("smart", false)).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(hosts(&h), ["a.test", "b.test"]);
    h.http.seen.lock().unwrap().clear();
    h.clock.now.fetch_add(3_000, Ordering::SeqCst);
    h.script(ok_chat());
    assert_eq!(
        h.call("POST", "/v1/chat/completions", Some(&key), chat("smart", false)).await.status,
        200
    );
    assert_eq!(hosts(&h), ["b.test"], "a rests until its reset");
    // b says 429 too: both rest, and the gateway answers 429 itself with the earliest reset.
    h.http.seen.lock().unwrap().clear();
    h.script(limited());
    let reply = h.call("POST", "/v1/chat/completions", Some(&key), chat("smart", false)).await;
    assert_eq!(reply.status, 429, "{}", reply.json);
    assert_eq!(reply.json["error"]["code"], "upstream_rate_limited");
    assert_eq!(hosts(&h), ["b.test"]);
    h.http.seen.lock().unwrap().clear();
    let reply = h.call("POST", "/v1/chat/completions", Some(&key), chat("smart", false)).await;
    assert_eq!((reply.status, reply.headers["retry-after"].to_str().unwrap()), (429, "4"));
    assert!(hosts(&h).is_empty(), "nothing is sent to resting targets");
    h.clock.now.fetch_add(4_000, Ordering::SeqCst);
    h.script(ok_chat());
    assert_eq!(
        h.call("POST", "/v1/chat/completions", Some(&key), chat("smart", false)).await.status,
        200
    );
}

/// A model with one target passes its upstream's 429 on (with the upstream's `Retry-After`) and
/// never rests the target: the upstream's limit may be per request or per key, and resting the
/// only target would turn it into an outage for every caller.
#[tokio::test]
async fn a_single_targets_429_passes_through_without_resting_it() {
    let h = Harness::new().await;
    let a = provider(&h, "a", "openai_chat", json!({})).await;
    smart(&h, &[(&a, "model-a")], json!({})).await;
    let key = key(&h).await;
    for _ in 0..5 {
        h.script(Ok((
            429,
            vec![("retry-after", "7")],
            vec![r#"{"error":{"message":"slow down"}}"#],
        )));
        let reply = h.call("POST", "/v1/chat/completions", Some(&key), chat("smart", false)).await;
        assert_eq!((reply.status, reply.headers["retry-after"].to_str().unwrap()), (429, "7"));
        assert_eq!(
            reply.json["error"]["message"],
            "the upstream provider is rate limiting: slow down"
        );
    }
    assert_eq!(hosts(&h).len(), 5, "every request reached the upstream");
    h.script(ok_chat());
    assert_eq!(
        h.call("POST", "/v1/chat/completions", Some(&key), chat("smart", false)).await.status,
        200
    );
    let routing = h.admin("GET", "/api/admin/routing", serde_json::Value::Null).await;
    assert!(routing.to_string().contains("\"closed\""), "{routing}");
}

#[tokio::test]
async fn streams_fail_over_until_their_first_event_and_not_after() {
    let h = Harness::new().await;
    let a = provider(&h, "a", "anthropic_messages", json!({})).await;
    let b = provider(&h, "b", "openai_chat", json!({})).await;
    smart(&h, &[(&a, "claude"), (&b, "gpt")], json!({})).await;
    let key = key(&h).await;
    let sse = vec![("content-type", "text/event-stream")];
    // a: the stream's first event is an error → b serves, translated back to chat.
    h.script(Ok((200, sse.clone(), vec!["event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n"])));
    h.script(Ok((200, sse.clone(), vec![
        "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"ok\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"x\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n",
    ])));
    let reply = h.call("POST", "/v1/chat/completions", Some(&key), chat("smart", true)).await;
    assert_eq!((reply.status, reply.headers["x-gateway-attempts"].to_str().unwrap()), (200, "2"));
    assert_eq!(hosts(&h), ["a.test", "b.test"]);

    // a: breaks after its first event → the caller gets an error inside the stream, no failover.
    h.clock.now.fetch_add(60_000, Ordering::SeqCst);
    h.http.seen.lock().unwrap().clear();
    h.script(Ok((200, sse, vec![
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"claude\",\"usage\":{\"input_tokens\":1}}}\n\n",
        "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
    ])));
    let handled = h
        .handle(
            "POST",
            "/v1/chat/completions",
            Some(&key),
            Bytes::from(chat("smart", true).to_string()),
        )
        .await;
    assert_eq!(handled.response.status(), 200);
    let text =
        String::from_utf8(handled.response.into_body().collect().await.unwrap().to_vec()).unwrap();
    assert!(text.contains("\"code\":\"upstream_stream_error\""), "{text}");
    assert!(!text.contains("[DONE]"));
    assert_eq!(hosts(&h), ["a.test"]);
}

#[tokio::test]
async fn every_target_failing_gives_the_last_error_in_the_callers_protocol() {
    let h = Harness::new().await;
    let a = provider(&h, "a", "openai_chat", json!({})).await;
    let b = provider(&h, "b", "gemini", json!({})).await;
    smart(&h, &[(&a, "x"), (&b, "y")], json!({})).await;
    let key = key(&h).await;
    h.script(Ok((500, vec![], vec!["a down"])));
    h.script(Ok((
        503,
        vec![],
        vec![r#"{"error":{"code":503,"message":"b overloaded","status":"UNAVAILABLE"}}"#],
    )));
    let body = json!({"model": "smart", "max_tokens": 10, "messages": [{"role": "user", "content": "hi"}]});
    let reply = h.call("POST", "/v1/messages", Some(&key), body).await;
    assert_eq!(reply.status, 503);
    assert_eq!(reply.json["type"], "error");
    assert!(reply.json["error"]["message"].as_str().unwrap().contains("b overloaded"));
    assert_eq!(reply.headers["x-gateway-attempts"], "2");
}

#[tokio::test]
async fn max_attempts_bounds_failover() {
    let h = Harness::new().await;
    let ids: Vec<String> = futures::future::join_all(
        ["a", "b", "c"].map(|n| provider(&h, n, "openai_chat", json!({}))),
    )
    .await;
    smart(
        &h,
        &[(&ids[0], "m"), (&ids[1], "m"), (&ids[2], "m")],
        json!({"config": {"max_attempts": 2}}),
    )
    .await;
    let key = key(&h).await;
    h.script(Ok((500, vec![], vec!["x"])));
    h.script(Ok((500, vec![], vec!["y"])));
    let reply = h.call("POST", "/v1/chat/completions", Some(&key), chat("smart", false)).await;
    assert_eq!((reply.status, reply.headers["x-gateway-attempts"].to_str().unwrap()), (502, "2"));
    assert_eq!(hosts(&h).len(), 2);
}

#[tokio::test]
async fn prompt_rules_apply_on_every_endpoint_and_keep_images_and_tools() {
    let h = Harness::new().await;
    let a = provider(&h, "a", "openai_chat", json!({})).await;
    let rules = json!([
        {"op": "system_set", "template": "You serve {{key_name}} via {{model}}."},
        {"op": "append", "template": "Answer briefly."},
        {"op": "regex_replace", "match": "(?i)colour", "template": "color"}
    ]);
    smart(&h, &[(&a, "gpt")], json!({"rules": rules})).await;
    let key = key(&h).await;
    let image = "data:image/png;base64,iVBORw0KGgo=";
    let bodies = [
        (
            "/v1/chat/completions",
            json!({"model": "smart", "tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "What colour?"}, {"type": "image_url", "image_url": {"url": image}}]}]}),
        ),
        (
            "/v1/responses",
            json!({"model": "smart", "tools": [{"type": "function", "name": "f", "parameters": {"type": "object"}}],
            "input": [{"role": "user", "content": [{"type": "input_text", "text": "What colour?"}, {"type": "input_image", "image_url": image}]}]}),
        ),
        (
            "/v1/messages",
            json!({"model": "smart", "max_tokens": 20, "tools": [{"name": "f", "input_schema": {"type": "object"}}],
            "messages": [{"role": "user", "content": [{"type": "text", "text": "What colour?"}, {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}]}]}),
        ),
    ];
    for (path, body) in bodies {
        h.http.seen.lock().unwrap().clear();
        h.script(ok_chat());
        let reply = h.call("POST", path, Some(&key), body).await;
        assert_eq!(reply.status, 200, "{path}: {}", reply.json);
        let sent: Value = serde_json::from_slice(h.http.seen.lock().unwrap()[0].body()).unwrap();
        assert_eq!(
            sent["messages"][0],
            json!({"role": "system", "content": "You serve team-a via smart."}),
            "{path}"
        );
        let user = &sent["messages"][1]["content"];
        assert_eq!(user[0], json!({"type": "text", "text": "What color?"}), "{path}");
        assert_eq!(user[1]["image_url"]["url"], image, "{path}: image kept");
        assert_eq!(user[2], json!({"type": "text", "text": "Answer briefly."}), "{path}");
        assert_eq!(sent["tools"][0]["function"]["name"], "f", "{path}: tools kept");
    }
}

#[tokio::test]
async fn relay_isolation_strips_echoed_instructions_and_moves_the_system_prompt() {
    let h = Harness::new().await;
    let relay = provider(
        &h,
        "relay",
        "openai_responses",
        json!({"isolation": {"strip_instructions": true, "system_to": "developer"}}),
    )
    .await;
    smart(&h, &[(&relay, "codex")], json!({})).await;
    let key = key(&h).await;
    let echoed = r#"{"id":"r","object":"response","created_at":1,"status":"completed","model":"codex","instructions":"RELAY SECRET PROMPT","output":[{"type":"message","role":"assistant","content":[{"type":"output_text","text":"hi"}]}],"usage":{"input_tokens":1,"output_tokens":1}}"#;
    h.script(Ok((200, vec![], vec![echoed])));
    let body = json!({"model": "smart", "instructions": "Caller rules.", "input": "hello"});
    let reply = h.call("POST", "/v1/responses", Some(&key), body.clone()).await;
    assert_eq!(reply.status, 200);
    assert!(!reply.json.to_string().contains("RELAY SECRET"), "{}", reply.json);
    let sent: Value = serde_json::from_slice(h.http.seen.lock().unwrap()[0].body()).unwrap();
    assert!(
        sent.get("instructions").is_none(),
        "caller's prompt no longer in the slot the relay overrides"
    );
    assert_eq!(
        sent["input"][0],
        json!({"type": "message", "role": "developer", "content": "Caller rules."})
    );

    let created = r#"event: response.created
data: {"type":"response.created","sequence_number":0,"response":{"id":"r","object":"response","created_at":1,"status":"in_progress","model":"codex","instructions":"RELAY SECRET PROMPT","output":[]}}

event: response.completed
data: {"type":"response.completed","sequence_number":1,"response":{"id":"r","object":"response","created_at":1,"status":"completed","model":"codex","instructions":"RELAY SECRET PROMPT","output":[],"usage":{"input_tokens":1,"output_tokens":1}}}

"#;
    h.script(Ok((200, vec![("content-type", "text/event-stream")], vec![created])));
    let mut stream_body = body;
    stream_body["stream"] = true.into();
    let handled =
        h.handle("POST", "/v1/responses", Some(&key), Bytes::from(stream_body.to_string())).await;
    let text =
        String::from_utf8(handled.response.into_body().collect().await.unwrap().to_vec()).unwrap();
    assert!(text.contains("response.completed") && !text.contains("RELAY SECRET"), "{text}");
}

#[tokio::test]
async fn virtual_models_are_listed_allowed_and_validated() {
    let h = Harness::new().await;
    let a = provider(&h, "a", "openai_chat", json!({})).await;
    h.admin("POST", "/api/admin/models", json!({"name": "plain", "provider_id": a})).await;
    let vm = smart(&h, &[(&a, "m")], json!({"strategy": "least_latency"})).await;
    assert_eq!(vm["strategy"], "least_latency");
    let key = key(&h).await;
    let models = h.call("GET", "/v1/models", Some(&key), Value::Null).await;
    let ids: Vec<&str> =
        models.json["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["plain", "smart"]);

    let token = h.token.clone();
    let bad = [
        (json!({"name": "plain", "targets": [{"provider_id": a, "model": "m"}]}), 409, None),
        (json!({"name": "x", "targets": []}), 400, Some("targets")),
        (
            json!({"name": "x", "targets": [{"provider_id": "nope", "model": "m"}]}),
            400,
            Some("targets[0].provider_id"),
        ),
        (
            json!({"name": "x", "targets": [{"provider_id": a, "model": "m", "weight": 0}]}),
            400,
            Some("targets[0].weight"),
        ),
        (
            json!({"name": "x", "strategy": "random", "targets": [{"provider_id": a, "model": "m"}]}),
            400,
            Some("strategy"),
        ),
        (
            json!({"name": "x", "targets": [{"provider_id": a, "model": "m"}], "config": {"max_attempts": 0}}),
            400,
            Some("config.max_attempts"),
        ),
        (
            json!({"name": "x", "targets": [{"provider_id": a, "model": "m"}], "rules": [{"op": "regex_replace", "match": "(", "template": ""}]}),
            400,
            Some("rules[0]"),
        ),
        // No Unicode property classes (their tables would weigh 147 KB in the Worker).
        (
            json!({"name": "x", "targets": [{"provider_id": a, "model": "m"}], "rules": [{"op": "regex_replace", "match": "\\p{Han}+", "template": ""}]}),
            400,
            Some("rules[0]"),
        ),
    ];
    for (body, status, field) in bad {
        let reply = h.call("POST", "/api/admin/virtual-models", Some(&token), body.clone()).await;
        assert_eq!(reply.status, status, "{body}: {}", reply.json);
        assert_eq!(reply.json["error"]["field"].as_str(), field, "{body}");
    }
    let reply = h
        .call("POST", "/api/admin/models", Some(&token), json!({"name": "smart", "provider_id": a}))
        .await;
    assert_eq!(reply.status, 409, "models and virtual models share one namespace");
}

#[tokio::test]
async fn an_untranslatable_field_waits_for_its_protocols_target_when_that_is_out() {
    const MESSAGE: &str = r#"{"id":"msg_1","type":"message","role":"assistant","model":"c","content":[{"type":"text","text":"ok"}],"stop_reason":"end_turn","usage":{"input_tokens":5,"output_tokens":1}}"#;
    let h = Harness::new().await;
    let a = provider(&h, "a", "openai_responses", json!({})).await;
    let b = provider(&h, "b", "anthropic_messages", json!({})).await;
    smart_breaking(&h, &[(&a, "model-a"), (&b, "model-b")]).await;
    let key = key(&h).await;
    let plain = json!({"model": "smart", "input": "hi"});
    for _ in 0..2 {
        h.script(Ok((500, vec![], vec!["boom"])));
        h.script(Ok((200, vec![], vec![MESSAGE])));
        let reply = h.call("POST", "/v1/responses", Some(&key), plain.clone()).await;
        assert_eq!(reply.status, 200, "{}", reply.json);
    }
    h.http.seen.lock().unwrap().clear();
    // The route serves Responses (its breaker is open): not a wrong model, a wrong moment.
    let continued =
        json!({"model": "smart", "input": "and then?", "previous_response_id": "resp_1"});
    let reply = h.call("POST", "/v1/responses", Some(&key), continued.clone()).await;
    assert_eq!(reply.status, 503, "{}", reply.json);
    assert_eq!(reply.json["error"]["code"], "no_available_target", "{}", reply.json);
    assert_eq!(reply.headers["retry-after"], "10", "when its breaker lets a request through");
    assert!(hosts(&h).is_empty(), "nothing is sent translated");
    // Past the cool-down it reaches its own protocol's target, the field intact.
    h.clock.now.fetch_add(10_000, Ordering::SeqCst);
    h.script(Ok((200, vec![], vec![r#"{"id":"resp_2","object":"response","status":"completed","model":"model-a","output":[{"type":"message","id":"m","role":"assistant","content":[{"type":"output_text","text":"ok","annotations":[]}]}],"usage":{"input_tokens":3,"output_tokens":1,"total_tokens":4}}"#])));
    let reply = h.call("POST", "/v1/responses", Some(&key), continued).await;
    assert_eq!((reply.status, hosts(&h)), (200, vec!["a.test".to_owned()]), "{}", reply.json);
}

#[tokio::test]
async fn rule_preview_shows_the_rewritten_request_without_sending_it() {
    let h = Harness::new().await;
    let preview = h
        .admin(
            "POST",
            "/api/admin/virtual-models/preview",
            json!({"protocol": "anthropic_messages", "key_name": "demo",
                   "rules": [{"op": "prepend", "template": "[{{key_name}}]", "first_turn_only": true}],
                   "request": {"model": "smart", "max_tokens": 5, "messages": [{"role": "user", "content": "hi"}]}}),
        )
        .await;
    assert_eq!(preview["changed"], true);
    assert_eq!(
        preview["request"]["messages"][0]["content"],
        json!([{"type": "text", "text": "[demo]"}, {"type": "text", "text": "hi"}])
    );
    assert!(h.http.seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn each_rule_op_on_each_endpoint() {
    let h = Harness::new().await;
    let a = provider(&h, "a", "openai_chat", json!({})).await;
    let key = key(&h).await;
    type Check = fn(&Value) -> bool;
    let ops: [(&str, Value, Check); 7] = [
        ("system_set", json!({"op": "system_set", "template": "S"}), |m| {
            m[0] == json!({"role": "system", "content": "S"}) && m[1]["role"] == "user"
        }),
        ("system_prepend", json!({"op": "system_prepend", "template": "P"}), |m| {
            m[0]["content"] == "P" && m[1]["content"] == "Sys"
        }),
        ("system_append", json!({"op": "system_append", "template": "A"}), |m| {
            m[0]["content"] == "Sys" && m[1]["content"] == "A"
        }),
        ("prepend", json!({"op": "prepend", "template": "X"}), |m| {
            m[1]["content"][0]["text"] == "X" && m[1]["content"][1]["text"] == "What colour?"
        }),
        ("append", json!({"op": "append", "template": "Y"}), |m| m[1]["content"][2]["text"] == "Y"),
        ("replace", json!({"op": "replace", "template": "Z {{user_prompt}}"}), |m| {
            m[1]["content"][0]["text"] == "Z What colour?"
                && m[1]["content"][1]["type"] == "image_url"
        }),
        (
            "regex_replace",
            json!({"op": "regex_replace", "match": "colour", "template": "color"}),
            |m| m[1]["content"][0]["text"] == "What color?",
        ),
    ];
    let image = "data:image/png;base64,iVBORw0KGgo=";
    for (n, (name, rule, check)) in ops.iter().enumerate() {
        let vm = format!("rules-{n}");
        h.admin(
            "POST",
            "/api/admin/virtual-models",
            json!({"name": vm, "rules": [rule], "targets": [{"provider_id": a, "model": "gpt"}]}),
        )
        .await;
        let bodies = [
            (
                "/v1/chat/completions",
                json!({"model": vm, "messages": [{"role": "system", "content": "Sys"},
                {"role": "user", "content": [{"type": "text", "text": "What colour?"}, {"type": "image_url", "image_url": {"url": image}}]}]}),
            ),
            (
                "/v1/responses",
                json!({"model": vm, "instructions": "Sys",
                "input": [{"role": "user", "content": [{"type": "input_text", "text": "What colour?"}, {"type": "input_image", "image_url": image}]}]}),
            ),
            (
                "/v1/messages",
                json!({"model": vm, "max_tokens": 20, "system": "Sys",
                "messages": [{"role": "user", "content": [{"type": "text", "text": "What colour?"}, {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}]}]}),
            ),
        ];
        for (path, body) in bodies {
            h.http.seen.lock().unwrap().clear();
            h.script(ok_chat());
            let reply = h.call("POST", path, Some(&key), body).await;
            assert_eq!(reply.status, 200, "{name} {path}: {}", reply.json);
            let sent: Value =
                serde_json::from_slice(h.http.seen.lock().unwrap()[0].body()).unwrap();
            let messages = &sent["messages"];
            assert!(check(messages), "{name} on {path}: {messages}");
            assert!(messages.to_string().contains(image), "{name} on {path}: image kept");
        }
    }
}
