//! The response cache through the whole pipeline in-process (a real libSQL file, a scripted
//! upstream that panics when asked more than it was scripted for, a manual clock): one entry
//! for the same question on every endpoint, replayed whole or streamed, expiry by the clock, keys
//! kept apart, `x-gateway-cache`, and nothing kept from errors, cut streams or departed clients.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::atomic::Ordering;

use bytes::Bytes;
use futures::StreamExt;
use gateway_core::Body;
use serde_json::{Value, json};
use support::{Harness, Reply, Scripted, T0, TEN_DAYS};

const ANSWER: &str = r#"{"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"up-m",
    "choices":[{"index":0,"message":{"role":"assistant","content":"Hello from upstream"},
    "finish_reason":"stop"}],"usage":{"prompt_tokens":20,"completion_tokens":10,"total_tokens":30}}"#;

fn answer() -> Scripted {
    Ok((200, vec![("content-type", "application/json")], vec![ANSWER]))
}

fn streamed(finish: bool) -> Scripted {
    let mut chunks = vec![
        "data: {\"id\":\"c1\",\"model\":\"up-m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hel\"},\"finish_reason\":null}]}\n\n",
        "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"lo\"},\"finish_reason\":null}]}\n\n",
    ];
    if finish {
        chunks.push("data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":2}}\n\n");
        chunks.push("data: [DONE]\n\n");
    }
    Ok((200, vec![("content-type", "text/event-stream")], chunks))
}

fn chat(stream: bool) -> Value {
    json!({"model": "m", "stream": stream, "temperature": 0, "max_tokens": 50,
        "messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"}]})
}

/// The same question on `/v1/responses` and `/v1/messages`.
fn responses(stream: bool) -> Value {
    json!({"model": "m", "stream": stream, "temperature": 0, "max_output_tokens": 50,
        "instructions": "Be brief.", "input": "Hi"})
}

fn messages(stream: bool) -> Value {
    json!({"model": "m", "stream": stream, "temperature": 0, "max_tokens": 50, "system": "Be brief.",
        "messages": [{"role": "user", "content": "Hi"}]})
}

/// A provider, a priced model `m`, and a key with the given cache setting.
async fn setup(h: &Harness, cache: Value) -> String {
    let key = h.setup("openai_chat").await;
    let models = h.admin("GET", "/api/admin/models", Value::Null).await;
    let id = models["data"][0]["id"].as_str().unwrap().to_owned();
    h.admin(
        "PATCH",
        &format!("/api/admin/models/{id}"),
        json!({"input_cost_per_token": 0.001, "output_cost_per_token": 0.002}),
    )
    .await;
    set_cache(h, &key, cache).await;
    key
}

async fn set_cache(h: &Harness, _key: &str, cache: Value) {
    // The setup's key is the first one made.
    let keys = h.admin("GET", "/api/admin/keys", Value::Null).await;
    let id = keys["data"][0]["id"].as_str().unwrap().to_owned();
    h.admin("PATCH", &format!("/api/admin/keys/{id}"), json!({"cache": cache})).await;
}

async fn new_key(h: &Harness, cache: Value) -> String {
    let key = h
        .admin(
            "POST",
            "/api/admin/keys",
            json!({"name": "other", "expires_at": T0 + TEN_DAYS, "cache": cache}),
        )
        .await;
    key["key"].as_str().unwrap().to_owned()
}

/// Sends a request with optional `x-gateway-cache`, waits for its background work (the log row,
/// the entry kept).
async fn ask(h: &Harness, path: &str, key: &str, body: Value, header: Option<&str>) -> Reply {
    let mut request = http::Request::builder()
        .method("POST")
        .uri(path)
        .header("authorization", format!("Bearer {key}"));
    if let Some(v) = header {
        request = request.header("x-gateway-cache", v);
    }
    let mut reply = h.send(request.body(Bytes::from(body.to_string())).unwrap()).await;
    if let Some(background) = reply.background.take() {
        background.await;
    }
    // The next request's log row sorts after this one's.
    h.clock.now.fetch_add(1, Ordering::SeqCst);
    reply
}

/// What `x-gateway-cache` said to `body` on chat completions, asked with `key`.
async fn chat_outcome(h: &Harness, key: &str, body: Value) -> String {
    let reply = ask(h, "/v1/chat/completions", key, body, None).await;
    cache_header(&reply).unwrap_or("none").to_owned()
}

fn cache_header(reply: &Reply) -> Option<&str> {
    reply.headers.get("x-gateway-cache").map(|v| v.to_str().unwrap())
}

fn upstream_calls(h: &Harness) -> usize {
    h.http.seen.lock().unwrap().len()
}

#[tokio::test]
async fn one_entry_answers_the_same_question_on_every_endpoint_whole_and_streamed() {
    let h = Harness::new().await;
    let key = setup(&h, json!({"ttl_s": 60})).await;
    h.script(answer());
    let first = ask(&h, "/v1/chat/completions", &key, chat(false), None).await;
    assert_eq!((first.status, cache_header(&first)), (200, Some("miss")));
    assert_eq!(first.json["choices"][0]["message"]["content"], "Hello from upstream");
    let miss_log = h.latest_log().await;
    assert_eq!(miss_log["response_cache"], "miss");
    let fetched_by = miss_log["request_id"].as_str().unwrap().to_owned();

    // The scripted upstream answers once: everything below comes from the cache.
    let chat_hit = ask(&h, "/v1/chat/completions", &key, chat(false), None).await;
    assert_eq!((chat_hit.status, cache_header(&chat_hit)), (200, Some("hit")));
    assert_eq!(chat_hit.json["choices"][0]["message"]["content"], "Hello from upstream");
    assert_eq!(chat_hit.json["model"], "m");
    assert_eq!(chat_hit.json["usage"]["prompt_tokens"], 0);
    assert_eq!(chat_hit.json["usage"]["completion_tokens"], 0);
    let log = h.latest_log().await;
    assert_eq!(log["response_cache"], "hit");
    assert_eq!(log["cached_from"], fetched_by.as_str());
    assert_eq!(log["input_tokens"], 0);
    assert_eq!(log["cost_usd"], 0.0);
    // What the fetch cost: 20 input tokens at 0.001 and 10 output at 0.002.
    assert!((log["response_cache_saved_usd"].as_f64().unwrap() - 0.04).abs() < 1e-9, "{log}");

    let resp_hit = ask(&h, "/v1/responses", &key, responses(false), None).await;
    assert_eq!((resp_hit.status, cache_header(&resp_hit)), (200, Some("hit")));
    assert_eq!(resp_hit.json["output"][0]["content"][0]["text"], "Hello from upstream");
    assert_eq!(resp_hit.json["usage"]["input_tokens"], 0);
    let msg_hit = ask(&h, "/v1/messages", &key, messages(false), None).await;
    assert_eq!((msg_hit.status, cache_header(&msg_hit)), (200, Some("hit")));
    assert_eq!(msg_hit.json["content"][0]["text"], "Hello from upstream");
    assert_eq!(msg_hit.json["stop_reason"], "end_turn");

    // Streamed replays carry each protocol's whole event grammar.
    let sse = ask(&h, "/v1/chat/completions", &key, chat(true), None).await;
    assert_eq!(cache_header(&sse), Some("hit"));
    assert_eq!(sse.headers["content-type"], "text/event-stream");
    let text = sse.json.as_str().unwrap();
    assert!(text.contains("Hello from upstream") && text.ends_with("data: [DONE]\n\n"), "{text}");
    let sse = ask(&h, "/v1/messages", &key, messages(true), None).await;
    let text = sse.json.as_str().unwrap();
    let events: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("event: ")).collect();
    assert_eq!(
        events,
        [
            "message_start",
            "content_block_start",
            "content_block_delta",
            "content_block_stop",
            "message_delta",
            "message_stop"
        ]
    );
    let sse = ask(&h, "/v1/responses", &key, responses(true), None).await;
    let text = sse.json.as_str().unwrap();
    assert!(text.contains("event: response.completed"), "{text}");
    assert!(text.contains("\"delta\":\"Hello from upstream\""), "{text}");
    assert_eq!(upstream_calls(&h), 1);

    let mut scrape = http::Request::builder().uri("/metrics").body(Bytes::new()).unwrap();
    scrape.extensions_mut().insert(gateway_core::ClientAddr([127, 0, 0, 1].into()));
    let metrics = h.send(scrape).await;
    let metrics = metrics.json.as_str().unwrap_or_default().to_owned();
    assert!(metrics.contains("llm_gateway_cache_lookups_total{result=\"hit\"} 6"), "{metrics}");
    assert!(metrics.contains("llm_gateway_cache_lookups_total{result=\"miss\"} 1"), "{metrics}");
    assert!(metrics.contains("llm_gateway_cache_stores_total 1"), "{metrics}");
}

#[tokio::test]
async fn a_streamed_answer_is_kept_and_replayed_whole() {
    let h = Harness::new().await;
    let key = setup(&h, json!({})).await;
    h.script(streamed(true));
    let first = ask(&h, "/v1/chat/completions", &key, chat(true), None).await;
    assert_eq!(cache_header(&first), Some("miss"));
    let hit = ask(&h, "/v1/messages", &key, messages(false), None).await;
    assert_eq!(cache_header(&hit), Some("hit"));
    assert_eq!(hit.json["content"][0]["text"], "Hello");
    assert_eq!(upstream_calls(&h), 1);
}

#[tokio::test]
async fn in_memory_entries_expire_by_the_clock_to_the_millisecond() {
    let h = Harness::new().await;
    let key = setup(&h, json!({"ttl_s": 10})).await;
    h.script(answer());
    assert_eq!(chat_outcome(&h, &key, chat(false)).await, "miss");
    h.clock.now.store(T0 + 9_999, Ordering::SeqCst);
    assert_eq!(chat_outcome(&h, &key, chat(false)).await, "hit");
    h.clock.now.store(T0 + 10_000, Ordering::SeqCst);
    h.script(answer());
    assert_eq!(chat_outcome(&h, &key, chat(false)).await, "miss");
    assert_eq!(upstream_calls(&h), 2);
}

#[tokio::test]
async fn on_the_database_entries_expire_and_the_hourly_jobs_delete_them() {
    let raw =
        gateway_core::RawConfig { cache_store: Some("database".into()), ..Default::default() };
    let h = Harness::with(gateway_core::Config::validate(raw).unwrap()).await;
    let key = setup(&h, json!({"ttl_s": 10})).await;
    h.script(answer());
    assert_eq!(chat_outcome(&h, &key, chat(false)).await, "miss");
    assert_eq!(chat_outcome(&h, &key, chat(false)).await, "hit");
    // The entry is in the database, under the key's namespace and the question's meaning.
    let keys = h.admin("GET", "/api/admin/keys", Value::Null).await;
    let id = keys["data"][0]["id"].as_str().unwrap();
    let mut question = gateway_core::codec::decode_request(
        gateway_core::provider::Protocol::OpenaiChat,
        chat(false).to_string().as_bytes(),
    )
    .unwrap();
    question.model = "m".into();
    let entry_key = gateway_core::answers::key(&format!("key:{id}"), &question);
    let kept = |at| gateway_core::answers::AnswerStore::get(&h.store, &entry_key, at);
    let entry = kept(T0).await.unwrap().expect("kept in the database");
    let entry = gateway_core::answers::Entry::decode(&entry).unwrap();
    assert_eq!(entry.request_id, h.latest_log().await["cached_from"].as_str().unwrap());
    // Past its time it is no longer served, and the maintenance job deletes the row.
    h.clock.now.fetch_add(10_000, Ordering::SeqCst);
    assert!(kept(T0 + 10_000).await.unwrap().is_none(), "expired at its time");
    assert!(kept(T0).await.unwrap().is_some(), "still in the table until the job runs");
    h.gateway.maintenance().await.unwrap();
    assert!(kept(T0).await.unwrap().is_none(), "the expired row is gone");
}

#[tokio::test]
async fn keys_see_only_their_own_answers_unless_they_share_a_namespace() {
    let h = Harness::new().await;
    let a = setup(&h, json!({})).await;
    let b = new_key(&h, json!({})).await;
    h.script(answer());
    h.script(answer());
    assert_eq!(chat_outcome(&h, &a, chat(false)).await, "miss");
    assert_eq!(chat_outcome(&h, &b, chat(false)).await, "miss");
    let c = new_key(&h, json!({"namespace": "team"})).await;
    let d = new_key(&h, json!({"namespace": "team"})).await;
    h.script(answer());
    assert_eq!(chat_outcome(&h, &c, chat(false)).await, "miss");
    assert_eq!(chat_outcome(&h, &d, chat(false)).await, "hit");
    assert_eq!(upstream_calls(&h), 3);
}

#[tokio::test]
async fn no_store_refresh_and_sampling_are_honoured() {
    let h = Harness::new().await;
    let key = setup(&h, json!({})).await;
    h.script(answer());
    let skipped = ask(&h, "/v1/chat/completions", &key, chat(false), Some("no-store")).await;
    assert_eq!(cache_header(&skipped), Some("bypass"));
    h.script(answer());
    assert_eq!(chat_outcome(&h, &key, chat(false)).await, "miss");
    h.script(answer());
    let refreshed = ask(&h, "/v1/chat/completions", &key, chat(false), Some("no-store")).await;
    assert_eq!(upstream_calls(&h), 3, "no-store does not read either: {}", refreshed.status);
    h.script(Ok((200, vec![], vec![&ANSWER.replace("Hello from upstream", "Fresh").leak()[..]])));
    let refreshed = ask(&h, "/v1/chat/completions", &key, chat(false), Some("refresh")).await;
    assert_eq!(cache_header(&refreshed), Some("refresh"));
    let hit = ask(&h, "/v1/chat/completions", &key, chat(false), None).await;
    assert_eq!(hit.json["choices"][0]["message"]["content"], "Fresh");
    let bad = ask(&h, "/v1/chat/completions", &key, chat(false), Some("sometimes")).await;
    assert_eq!((bad.status, bad.json["error"]["param"].as_str()), (400, Some("x-gateway-cache")));

    // Sampled requests (no temperature: the provider's default) are not kept...
    let mut sampled = chat(false);
    sampled.as_object_mut().unwrap().remove("temperature");
    h.script(answer());
    h.script(answer());
    for _ in 0..2 {
        let reply = ask(&h, "/v1/chat/completions", &key, sampled.clone(), None).await;
        assert_eq!(cache_header(&reply), Some("bypass"));
    }
    // ...unless the key keeps samples.
    set_cache(&h, &key, json!({"sampled": true})).await;
    h.script(answer());
    assert_eq!(chat_outcome(&h, &key, sampled.clone()).await, "miss");
    assert_eq!(chat_outcome(&h, &key, sampled).await, "hit");
}

#[tokio::test]
async fn errors_cut_streams_and_departed_clients_leave_nothing_behind() {
    let h = Harness::new().await;
    let key = setup(&h, json!({})).await;
    // An upstream error.
    h.script(Ok((500, vec![], vec![r#"{"error":{"message":"boom"}}"#])));
    let failed = ask(&h, "/v1/chat/completions", &key, chat(false), None).await;
    assert_eq!(failed.status, 502);
    // A stream that ends before it finishes.
    h.script(streamed(false));
    let cut = ask(&h, "/v1/chat/completions", &key, chat(true), None).await;
    assert!(cut.json.as_str().unwrap().contains("upstream_stream_error"));
    // A stream whose client leaves after the first chunk.
    h.script(streamed(true));
    let request = http::Request::builder()
        .method("POST")
        .uri("/v1/chat/completions")
        .header("authorization", format!("Bearer {key}"))
        .body(Bytes::from(chat(true).to_string()))
        .unwrap();
    let handled = h.gateway.handle(request).await;
    let background = handled.background.expect("streams log in the background");
    let Body::Stream(mut stream) = handled.response.into_body() else { panic!("a stream") };
    assert!(stream.next().await.unwrap().unwrap().starts_with(b"data: "));
    drop(stream);
    background.await;
    assert_eq!(h.latest_log().await["error_kind"], "client_disconnected");
    // None of them was kept: the next request still goes upstream.
    h.script(answer());
    let next = ask(&h, "/v1/chat/completions", &key, chat(false), None).await;
    assert_eq!(cache_header(&next), Some("miss"));
    assert_eq!(upstream_calls(&h), 4);
}

#[tokio::test]
async fn hits_count_as_requests_but_use_no_tokens() {
    let h = Harness::new().await;
    let key = setup(&h, json!({})).await;
    let keys = h.admin("GET", "/api/admin/keys", Value::Null).await;
    let id = keys["data"][0]["id"].as_str().unwrap().to_owned();
    h.admin(
        "PATCH",
        &format!("/api/admin/keys/{id}"),
        json!({"rpm_limit": 3, "tpm_limit": 100000}),
    )
    .await;
    h.script(answer());
    assert_eq!(chat_outcome(&h, &key, chat(false)).await, "miss");
    let usage = |k: Value| k["usage"].clone();
    let before = usage(h.admin("GET", &format!("/api/admin/keys/{id}"), Value::Null).await);
    assert_eq!(before["tokens_this_minute"], 30);
    for _ in 0..2 {
        assert_eq!(chat_outcome(&h, &key, chat(false)).await, "hit");
    }
    let after = usage(h.admin("GET", &format!("/api/admin/keys/{id}"), Value::Null).await);
    assert_eq!(
        (after["requests_this_minute"].as_i64(), after["tokens_this_minute"].as_i64()),
        (Some(3), Some(30))
    );
    let refused = ask(&h, "/v1/chat/completions", &key, chat(false), None).await;
    assert_eq!(refused.status, 429, "a hit still counts against requests per minute");
}

#[tokio::test]
async fn a_virtual_models_policy_applies_to_keys_without_their_own() {
    let h = Harness::new().await;
    let key = h.setup("openai_chat").await;
    let providers = h.admin("GET", "/api/admin/providers", Value::Null).await;
    let provider = providers["data"][0]["id"].as_str().unwrap().to_owned();
    let vm = json!({"name": "v", "targets": [{"provider_id": provider, "model": "m"}],
        "cache": {"ttl_s": 30}});
    let created = h.admin("POST", "/api/admin/virtual-models", vm).await;
    assert_eq!(created["cache"]["ttl_s"], 30);
    let mut body = chat(false);
    body["model"] = json!("v");
    h.script(answer());
    assert_eq!(chat_outcome(&h, &key, body.clone()).await, "miss");
    assert_eq!(chat_outcome(&h, &key, body).await, "hit");
    // A plain model without a policy is not cached for this key.
    h.script(answer());
    let plain = ask(&h, "/v1/chat/completions", &key, chat(false), None).await;
    assert_eq!(cache_header(&plain), None);
}

#[tokio::test]
async fn bad_cache_settings_are_refused_naming_the_field() {
    let h = Harness::new().await;
    let token = h.token.clone();
    for (cache, field) in [
        (json!({"ttl_s": 0}), "cache.ttl_s"),
        (json!({"max_bytes": 999_999_999}), "cache.max_bytes"),
        (json!({"namespace": ""}), "cache.namespace"),
        (json!({"ttl": 5}), "cache"),
    ] {
        let reply = h
            .call("POST", "/api/admin/keys", Some(&token), json!({"name": "k", "cache": cache}))
            .await;
        assert_eq!(reply.status, 400, "{cache}");
        let said = reply.json["error"]["field"].as_str().unwrap_or_default();
        assert!(said.starts_with(field), "{cache}: {}", reply.json);
    }
}
