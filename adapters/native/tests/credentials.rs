//! Several credentials per provider through the whole pipeline in-process (a real libSQL file, a
//! scripted upstream that records what it was sent, a manual clock): a 429 on one credential
//! moves the request to another with no failed request and rests the first; a 401 disables the
//! credential, which the admin API then shows with why, until it is re-enabled.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::atomic::Ordering;

use serde_json::{Value, json};
use support::{Harness, Scripted, T0, TEN_DAYS};

const OK: &str = r#"{"id":"c","object":"chat.completion","created":1,"model":"m",
    "choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],
    "usage":{"prompt_tokens":1,"completion_tokens":1}}"#;

fn ok() -> Scripted {
    Ok((200, vec![("content-type", "application/json")], vec![OK]))
}

/// A provider with two credentials (`sk-first…`, `sk-second…`), a model `m` on it, a key.
async fn setup(h: &Harness) -> (String, String) {
    let provider = h
        .admin(
            "POST",
            "/api/admin/providers",
            json!({"name": "up", "base_url": "http://up.test/v1", "protocol": "openai_chat",
                "api_keys": [{"key": "sk-first-0123456789", "label": "first"},
                             {"key": "sk-second-0123456789", "label": "second"}]}),
        )
        .await;
    let id = provider["id"].as_str().unwrap().to_owned();
    assert!(!provider.to_string().contains("0123456789"), "credentials never come out");
    h.admin("POST", "/api/admin/models", json!({"name": "m", "provider_id": id})).await;
    let key =
        h.admin("POST", "/api/admin/keys", json!({"name": "k", "expires_at": T0 + TEN_DAYS})).await;
    (id, key["key"].as_str().unwrap().to_owned())
}

fn chat() -> Value {
    json!({"model": "m", "messages": [{"role": "user", "content": "hi"}]})
}

/// The credentials the upstream was sent, in order.
fn sent(h: &Harness) -> Vec<String> {
    h.http
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|r| {
            r.headers()["authorization"].to_str().unwrap().trim_start_matches("Bearer ").to_owned()
        })
        .collect()
}

#[tokio::test]
async fn a_rate_limited_credential_rests_while_the_others_serve() {
    let h = Harness::new().await;
    let (_, key) = setup(&h).await;
    h.script(Ok((429, vec![("retry-after", "30")], vec![r#"{"error":{"message":"slow down"}}"#])));
    h.script(ok());
    let reply = h.call("POST", "/v1/chat/completions", Some(&key), chat()).await;
    assert_eq!(reply.status, 200, "no failed request: {}", reply.json);
    let first = sent(&h);
    assert_eq!(first.len(), 2);
    assert_ne!(first[0], first[1], "the second try used the other credential");
    // While the first rests, every request uses the other.
    for _ in 0..6 {
        h.script(ok());
        assert_eq!(h.call("POST", "/v1/chat/completions", Some(&key), chat()).await.status, 200);
    }
    let after = sent(&h);
    assert!(after[2..].iter().all(|c| *c == first[1]), "{after:?}");
    // After its Retry-After both serve again.
    h.clock.now.fetch_add(30_000, Ordering::SeqCst);
    for _ in 0..16 {
        h.script(ok());
        assert_eq!(h.call("POST", "/v1/chat/completions", Some(&key), chat()).await.status, 200);
    }
    let later = &sent(&h)[8..];
    assert!(later.contains(&first[0]) && later.contains(&first[1]), "{later:?}");
}

#[tokio::test]
async fn a_refused_credential_is_disabled_with_its_reason_until_re_enabled() {
    let h = Harness::new().await;
    let (provider, key) = setup(&h).await;
    h.script(Ok((401, vec![], vec![r#"{"error":{"message":"Incorrect API key provided"}}"#])));
    h.script(ok());
    let reply = h.call("POST", "/v1/chat/completions", Some(&key), chat()).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    let refused = sent(&h)[0].clone();
    let view = h.admin("GET", &format!("/api/admin/providers/{provider}"), Value::Null).await;
    let credentials = view["credentials"].as_array().unwrap();
    let disabled: Vec<&Value> =
        credentials.iter().filter(|c| !c["disabled_reason"].is_null()).collect();
    assert_eq!(disabled.len(), 1, "{view}");
    let reason = disabled[0]["disabled_reason"].as_str().unwrap();
    assert!(reason.contains("401") && reason.contains("Incorrect API key"), "{reason}");
    assert!(!view.to_string().contains("0123456789"), "{view}");
    for _ in 0..4 {
        h.script(ok());
        assert_eq!(h.call("POST", "/v1/chat/completions", Some(&key), chat()).await.status, 200);
    }
    assert!(sent(&h)[2..].iter().all(|c| *c != refused), "the disabled one is not used");
    // Re-enabled through the admin API (kept by id), it serves again.
    let ids: Vec<Value> = credentials
        .iter()
        .map(|c| json!({"id": c["id"], "label": c["label"], "enabled": true}))
        .collect();
    let view = h
        .admin("PATCH", &format!("/api/admin/providers/{provider}"), json!({"api_keys": ids}))
        .await;
    assert!(view["credentials"].as_array().unwrap().iter().all(|c| c["disabled_reason"].is_null()));
    for _ in 0..16 {
        h.script(ok());
        assert_eq!(h.call("POST", "/v1/chat/completions", Some(&key), chat()).await.status, 200);
    }
    assert!(sent(&h)[6..].contains(&refused), "used again once re-enabled");
}

#[tokio::test]
async fn with_one_credential_the_upstreams_answer_reaches_the_caller() {
    let h = Harness::new().await;
    h.setup("openai_chat").await;
    let key = h.admin("POST", "/api/admin/keys", json!({"name": "k2"})).await;
    let key = key["key"].as_str().unwrap();
    h.script(Ok((401, vec![], vec![r#"{"error":{"message":"bad key"}}"#])));
    let reply = h.call("POST", "/v1/chat/completions", Some(key), chat()).await;
    assert_eq!(reply.status, 502, "{}", reply.json);
    let providers = h.admin("GET", "/api/admin/providers", Value::Null).await;
    assert!(
        providers["data"][0]["credentials"][0]["disabled_reason"].is_null(),
        "a lone key is not disabled"
    );
}

#[tokio::test]
async fn credential_lists_are_validated_naming_the_entry() {
    let h = Harness::new().await;
    let token = h.token.clone();
    for (keys, field) in [
        (json!([{"key": "sk-a", "id": "x"}]), "api_keys[0]"),
        (json!([{"id": "nope"}]), "api_keys[0].id"),
        (json!([{"key": "sk-a", "weight": 0}]), "api_keys[0].weight"),
        (json!([{"key": ""}]), "api_keys[0].key"),
    ] {
        let reply = h
            .call(
                "POST",
                "/api/admin/providers",
                Some(&token),
                json!({"name": "p", "base_url": "http://up.test/v1", "api_keys": keys}),
            )
            .await;
        assert_eq!(reply.status, 400, "{keys}");
        assert_eq!(reply.json["error"]["field"], field, "{}", reply.json);
    }
}
