//! The whole gateway pipeline in-process: a real libSQL file, a scripted HTTP client standing in
//! for the provider's cloud, and a manual clock, so time-dependent behaviour (key expiry, session
//! expiry) and upstream failures are tested exactly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::atomic::Ordering;

use bytes::Bytes;
use futures::StreamExt;
use gateway_core::{Body, TransportError};
use serde_json::{Value, json};
use support::{Harness, T0, TEN_DAYS, chat_body};

#[tokio::test]
async fn keys_expire_by_the_platform_clock() {
    let h = Harness::new().await;
    let key = h.setup("openai_chat").await;
    h.script(Ok((200, vec![], vec![r#"{"choices":[],"usage":{"prompt_tokens":1}}"#])));
    assert_eq!(
        h.call("POST", "/v1/chat/completions", Some(&key), chat_body(false)).await.status,
        200
    );
    h.clock.now.store(T0 + TEN_DAYS, Ordering::SeqCst);
    let reply = h.call("POST", "/v1/chat/completions", Some(&key), chat_body(false)).await;
    assert_eq!((reply.status, reply.json["error"]["code"].as_str()), (403, Some("key_expired")));
}

#[tokio::test]
async fn admin_sessions_expire_after_twelve_hours() {
    let h = Harness::new().await;
    let token = h.token.clone();
    assert_eq!(h.call("GET", "/api/auth/me", Some(&token), Value::Null).await.status, 200);
    h.clock.now.store(T0 + 12 * 3600 * 1000 + 60_000, Ordering::SeqCst);
    let reply = h.call("GET", "/api/auth/me", Some(&token), Value::Null).await;
    assert_eq!((reply.status, reply.json["error"]["code"].as_str()), (401, Some("invalid_token")));
}

#[tokio::test]
async fn transport_failures_map_to_gateway_statuses_and_are_logged() {
    let h = Harness::new().await;
    let key = h.setup("openai_chat").await;
    let cases = [
        (Err(TransportError::Timeout(60_000)), 504, "upstream_timeout"),
        (Err(TransportError::Connect("refused".into())), 502, "upstream_connection_error"),
        (Ok((401, vec![], vec![r#"{"error":{"message":"bad key"}}"#])), 502, "upstream_auth_error"),
        (Ok((503, vec![], vec!["overloaded"])), 503, "upstream_error"),
        (Ok((200, vec![], vec!["not json"])), 502, "upstream_invalid_response"),
        (
            Ok((400, vec![], vec![r#"{"error":{"message":"context too long"}}"#])),
            400,
            "upstream_rejected",
        ),
    ];
    for (answer, status, code) in cases {
        // Past the breaker's cool-down, so each case meets a closed breaker.
        h.clock.now.fetch_add(31_000, Ordering::SeqCst);
        h.script(answer);
        let reply = h.call("POST", "/v1/chat/completions", Some(&key), chat_body(false)).await;
        assert_eq!(
            (reply.status, reply.json["error"]["code"].as_str()),
            (status, Some(code)),
            "{}",
            reply.json
        );
        reply.background.expect("failed requests of known keys are logged too").await;
        let log = h.latest_log().await;
        assert_eq!(
            (log["status"].as_i64(), log["error_kind"].as_str()),
            (Some(i64::from(status)), Some(code))
        );
    }
    let seen = h.http.seen.lock().unwrap();
    let first = &seen[0];
    assert_eq!(first.uri(), "http://up.test/v1/chat/completions");
    assert_eq!(first.headers()["authorization"], "Bearer sealed-secret");
}

#[tokio::test]
async fn the_upstream_message_reaches_the_caller() {
    let h = Harness::new().await;
    let key = h.setup("openai_chat").await;
    h.script(Ok((400, vec![], vec![r#"{"error":{"message":"context too long"}}"#])));
    let reply = h.call("POST", "/v1/chat/completions", Some(&key), chat_body(false)).await;
    assert_eq!(reply.json["error"]["message"], "context too long");
    assert_eq!(reply.json["error"]["type"], "invalid_request_error");
}

#[tokio::test]
async fn chat_callers_reach_an_anthropic_upstream_through_translation() {
    let h = Harness::new().await;
    let key = h.setup("anthropic_messages").await;
    h.script(Ok((
        200,
        vec![],
        vec![r#"{"id":"msg_1","type":"message","role":"assistant","model":"claude-x","content":[{"type":"text","text":"Bonjour"}],"stop_reason":"end_turn","usage":{"input_tokens":9,"output_tokens":3,"cache_read_input_tokens":2}}"#],
    )));
    let body = json!({"model": "m", "max_tokens": 50, "messages": [
        {"role": "system", "content": "be French"}, {"role": "user", "content": "hi"}]});
    let reply = h.call("POST", "/v1/chat/completions", Some(&key), body).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(reply.json["object"], "chat.completion");
    assert_eq!(reply.json["choices"][0]["message"]["content"], "Bonjour");
    assert_eq!(reply.json["choices"][0]["finish_reason"], "stop");
    assert_eq!(reply.json["usage"]["prompt_tokens"], 11, "cached input counts as input");
    assert_eq!(reply.json["usage"]["prompt_tokens_details"]["cached_tokens"], 2);
    let seen = h.http.seen.lock().unwrap();
    let sent = &seen[0];
    assert_eq!(sent.uri(), "http://up.test/v1/messages");
    assert_eq!(sent.headers()["x-api-key"], "sealed-secret");
    assert_eq!(sent.headers()["anthropic-version"], "2023-06-01");
    let upstream: Value = serde_json::from_slice(sent.body()).unwrap();
    assert_eq!(upstream["system"], "be French");
    assert_eq!(upstream["max_tokens"], 50);
    assert_eq!(
        upstream["messages"],
        json!([{"role": "user", "content": [{"type": "text", "text": "hi"}]}])
    );
}

#[tokio::test]
async fn disabled_provider_hides_its_models() {
    let h = Harness::new().await;
    let key = h.setup("openai_chat").await;
    let providers = h.admin("GET", "/api/admin/providers", Value::Null).await;
    let id = providers["data"][0]["id"].as_str().unwrap();
    h.admin("PATCH", &format!("/api/admin/providers/{id}"), json!({"enabled": false})).await;
    let reply = h.call("POST", "/v1/chat/completions", Some(&key), chat_body(false)).await;
    assert_eq!(
        (reply.status, reply.json["error"]["code"].as_str()),
        (404, Some("model_not_found"))
    );
    let models = h.call("GET", "/v1/models", Some(&key), Value::Null).await;
    assert_eq!(models.json["data"], json!([]));
}

#[tokio::test]
async fn a_client_leaving_mid_stream_is_logged_with_what_arrived() {
    let h = Harness::new().await;
    let key = h.setup("openai_chat").await;
    h.script(Ok((
        200,
        vec![("content-type", "text/event-stream")],
        vec![
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"a\"},\"finish_reason\":null}]}\n\n",
            "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"b\"},\"finish_reason\":null}]}\n\n",
        ],
    )));
    let handled = h
        .handle(
            "POST",
            "/v1/chat/completions",
            Some(&key),
            Bytes::from(chat_body(true).to_string()),
        )
        .await;
    let background = handled.background.expect("streams log in the background");
    let Body::Stream(mut stream) = handled.response.into_body() else { panic!("a stream") };
    h.clock.now.fetch_add(25, Ordering::SeqCst);
    let first = stream.next().await.unwrap().unwrap();
    assert!(first.starts_with(b"data: "));
    drop(stream);
    background.await;
    let log = h.latest_log().await;
    assert_eq!(log["error_kind"], "client_disconnected");
    assert_eq!(log["stream"], true);
    assert_eq!(log["ttft_ms"], 25);
}

#[tokio::test]
async fn oversized_bodies_are_refused_in_the_callers_shape() {
    let h = Harness::new().await;
    let (parts, body) = h.gateway.body_too_large("/v1/chat/completions", 10).into_parts();
    let json: Value = serde_json::from_slice(&body.collect().await.unwrap()).unwrap();
    assert_eq!(
        (parts.status.as_u16(), json["error"]["code"].as_str()),
        (413, Some("request_too_large"))
    );
    assert_eq!(json["error"]["type"], "invalid_request_error");
    let (_, body) = h.gateway.body_too_large("/api/admin/models", 10).into_parts();
    let json: Value = serde_json::from_slice(&body.collect().await.unwrap()).unwrap();
    assert_eq!(json["error"]["code"], "request_too_large");
    assert!(json["error"].get("type").is_none(), "admin shape");
}

#[tokio::test]
async fn admin_validation_names_the_field() {
    let h = Harness::new().await;
    let token = h.token.clone();
    let cases = [
        (
            "/api/admin/providers",
            json!({"name": "p", "base_url": "http://x", "enabled": "yes"}),
            "enabled",
        ),
        ("/api/admin/providers", json!({"base_url": "http://x"}), "name"),
        (
            "/api/admin/providers",
            json!({"name": "p", "base_url": "http://x", "colour": 1}),
            "colour",
        ),
        ("/api/admin/keys", json!({"name": "k", "key": "short"}), "key"),
        (
            "/api/admin/keys",
            json!({"name": "k", "allowed_models": ["has space"]}),
            "allowed_models",
        ),
        (
            "/api/admin/models",
            json!({"name": "m", "provider_id": "x", "context_window": -1}),
            "provider_id",
        ),
    ];
    for (path, body, field) in cases {
        let reply = h.call("POST", path, Some(&token), body.clone()).await;
        assert_eq!(reply.status, 400, "{body}: {}", reply.json);
        assert_eq!(reply.json["error"]["code"], "validation_error");
        let got = reply.json["error"]["field"].as_str().unwrap_or("");
        assert!(got.contains(field), "{body}: field {got:?}, want {field}");
    }
    let reply = h.call("DELETE", "/api/admin/providers/prv_nope", Some(&token), Value::Null).await;
    assert_eq!((reply.status, reply.json["error"]["code"].as_str()), (404, Some("not_found")));
    let reply = h.call("POST", "/api/admin/providers/prv_nope", Some(&token), json!({})).await;
    assert_eq!(reply.status, 405);
    let reply = h.call("GET", "/api/admin/nothing", Some(&token), Value::Null).await;
    assert_eq!(reply.status, 404);
    let reply = h.call("GET", "/api/nothing", None, Value::Null).await;
    assert_eq!(reply.status, 404);
}

#[tokio::test]
async fn every_response_has_a_request_id_and_keeps_a_sane_incoming_one() {
    let h = Harness::new().await;
    let reply = h.call("GET", "/healthz", None, Value::Null).await;
    assert!(reply.headers["x-request-id"].to_str().unwrap().starts_with("req_"));
    let request = http::Request::get("/healthz")
        .header("x-request-id", "trace-123")
        .body(Bytes::new())
        .unwrap();
    let handled = h.gateway.handle(request).await;
    assert_eq!(handled.response.headers()["x-request-id"], "trace-123");
}

#[tokio::test]
async fn providers_are_created_from_presets_with_only_a_key() {
    let h = Harness::new().await;
    let presets = h.admin("GET", "/api/admin/presets", Value::Null).await;
    let list = presets["data"].as_array().unwrap();
    assert!(list.len() >= 25);
    let anthropic = list.iter().find(|p| p["id"] == "anthropic").unwrap();
    assert_eq!(anthropic["extra_headers"], json!({"anthropic-version": "2023-06-01"}));

    let created = h
        .admin("POST", "/api/admin/providers", json!({"preset": "deepseek", "api_key": "sk-ds"}))
        .await;
    assert_eq!(created["name"], "DeepSeek");
    assert_eq!(created["base_url"], "https://api.deepseek.com/v1");
    assert_eq!(created["protocol"], "openai_chat");
    assert_eq!(created["has_credentials"], true);
    let gemini = h
        .admin(
            "POST",
            "/api/admin/providers",
            json!({"preset": "gemini", "name": "Gemini EU", "api_key": "g"}),
        )
        .await;
    assert_eq!(
        (gemini["name"].as_str(), gemini["auth_scheme"].as_str()),
        (Some("Gemini EU"), Some("x_goog_api_key"))
    );

    let token = h.token.clone();
    let reply = h
        .call(
            "POST",
            "/api/admin/providers",
            Some(&token),
            json!({"preset": "azure-openai", "api_key": "k"}),
        )
        .await;
    assert_eq!((reply.status, reply.json["error"]["field"].as_str()), (400, Some("base_url")));
    let reply =
        h.call("POST", "/api/admin/providers", Some(&token), json!({"preset": "nope"})).await;
    assert_eq!((reply.status, reply.json["error"]["field"].as_str()), (400, Some("preset")));
    let azure = h
        .admin(
            "POST",
            "/api/admin/providers",
            json!({"preset": "azure-openai", "api_key": "k",
                "base_url": "https://contoso.openai.azure.com/openai/v1"}),
        )
        .await;
    assert_eq!(azure["auth_scheme"], "azure_api_key");
}
