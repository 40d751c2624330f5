//! The whole gateway pipeline in-process: a real libSQL file, a scripted HTTP client standing in
//! for the provider's cloud, and a manual clock, so time-dependent behaviour (key expiry, session
//! expiry) and upstream failures are tested exactly.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::atomic::Ordering;

use bytes::Bytes;
use futures::StreamExt;
use gateway_core::{Body, BodyError, TransportError};
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
async fn admin_sessions_are_renewed_on_activity_and_logout_revokes_the_renewal() {
    let h = Harness::new().await;
    let token = h.token.clone();
    let renewed = |r: &support::Reply| {
        r.headers.get("x-session-token").map(|v| v.to_str().unwrap().to_owned())
    };
    // A young token is not renewed.
    let young = h.call("GET", "/api/admin/keys", Some(&token), Value::Null).await;
    assert_eq!((young.status, renewed(&young)), (200, None));
    // Past half its life, any admin request carries a fresh one...
    h.clock.now.store(T0 + 7 * 3600 * 1000, Ordering::SeqCst);
    let old = h.call("GET", "/api/admin/keys", Some(&token), Value::Null).await;
    let fresh = renewed(&old).expect("a renewed token");
    assert_ne!(fresh, token);
    // ...which outlives the original: 12 h after login the old one is refused, the new one works.
    h.clock.now.store(T0 + 12 * 3600 * 1000 + 60_000, Ordering::SeqCst);
    assert_eq!(h.call("GET", "/api/admin/keys", Some(&token), Value::Null).await.status, 401);
    let later = h.call("GET", "/api/admin/keys", Some(&fresh), Value::Null).await;
    assert_eq!(later.status, 200);
    // A refused request renews nothing, and logout revokes the renewed token too.
    let refused = h.call("GET", "/api/admin/keys", Some(&token), Value::Null).await;
    assert_eq!((refused.status, renewed(&refused)), (401, None));
    assert_eq!(h.call("POST", "/api/auth/logout", Some(&fresh), Value::Null).await.status, 204);
    assert_eq!(h.call("GET", "/api/admin/keys", Some(&fresh), Value::Null).await.status, 401);
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
    let refused = |path: &str, why: BodyError| h.gateway.body_error(path, 10, why).into_parts();
    let (parts, body) = refused("/v1/chat/completions", BodyError::TooLarge);
    let json: Value = serde_json::from_slice(&body.collect().await.unwrap()).unwrap();
    assert_eq!(
        (parts.status.as_u16(), json["error"]["code"].as_str()),
        (413, Some("request_too_large"))
    );
    assert_eq!(json["error"]["type"], "invalid_request_error");
    let (_, body) = refused("/api/admin/models", BodyError::TooLarge);
    let json: Value = serde_json::from_slice(&body.collect().await.unwrap()).unwrap();
    assert_eq!(json["error"]["code"], "request_too_large");
    assert!(json["error"].get("type").is_none(), "admin shape");
    // Malformed framing is the caller's mistake (400), not a size (it was answered 413).
    let (parts, body) = refused("/v1/messages", BodyError::Unreadable("bad chunk size".into()));
    let json: Value = serde_json::from_slice(&body.collect().await.unwrap()).unwrap();
    assert_eq!((parts.status.as_u16(), json["type"].as_str()), (400, Some("error")));
    // A spent body budget: 503 with a time to come back.
    let (parts, body) = refused("/v1/chat/completions", BodyError::Busy);
    let json: Value = serde_json::from_slice(&body.collect().await.unwrap()).unwrap();
    assert_eq!((parts.status.as_u16(), json["error"]["code"].as_str()), (503, Some("server_busy")));
    assert_eq!(parts.headers["retry-after"], "1");
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

#[tokio::test]
async fn stats_match_a_known_set_of_log_rows() {
    let h = Harness::new().await;
    let now = T0 + 3_600_000 * 5 + 1_000; // five hours and a second into the day
    h.clock.now.store(now, Ordering::SeqCst);
    // 20 requests over the last hours: latencies 10, 20, …, 200 ms; every fifth fails.
    for i in 0..20i64 {
        let failed = i % 5 == 4;
        let log = gateway_core::store::logs::LogRecord {
            id: format!("log{i}"),
            created_at: now - (i % 3) * 3_600_000,
            request_id: format!("r{i}"),
            key_id: Some(if i < 10 { "key-a" } else { "key-b" }.into()),
            endpoint: "/v1/chat/completions".into(),
            model_requested: Some(if i % 2 == 0 { "even" } else { "odd" }.into()),
            provider_id: Some("p".into()),
            status: if failed { 502 } else { 200 },
            error_kind: failed.then(|| "upstream_error".into()),
            latency_ms: (i + 1) * 10,
            ttft_ms: Some(i + 1),
            input_tokens: Some(10),
            output_tokens: Some(5),
            cost_usd: Some(0.5),
            ..Default::default()
        };
        h.store.insert_log(&log).await.unwrap();
    }
    let old = gateway_core::store::logs::LogRecord {
        id: "old".into(),
        created_at: now - 2 * 86_400_000,
        request_id: "old".into(),
        endpoint: "/v1/chat/completions".into(),
        status: 200,
        ..Default::default()
    };
    h.store.insert_log(&old).await.unwrap();

    let stats = h.admin("GET", "/api/admin/stats?window=24h", Value::Null).await;
    let totals = &stats["totals"];
    assert_eq!(totals["requests"], 20, "the 2-day-old row is outside 24 h");
    assert_eq!((totals["successes"].as_i64(), totals["errors"].as_i64()), (Some(16), Some(4)));
    assert_eq!(totals["success_rate"], 80.0);
    assert_eq!(
        (totals["input_tokens"].as_i64(), totals["output_tokens"].as_i64()),
        (Some(200), Some(100))
    );
    assert_eq!(totals["cost_usd"], 10.0);
    // Nearest rank over 10..200: P50 is the 10th value, P95 the 19th.
    assert_eq!(
        (totals["latency_p50_ms"].as_i64(), totals["latency_p95_ms"].as_i64()),
        (Some(100), Some(190))
    );
    assert_eq!(
        (totals["ttft_p50_ms"].as_i64(), totals["ttft_p95_ms"].as_i64()),
        (Some(10), Some(19))
    );
    assert_eq!(stats["errors_by_kind"], json!([{"kind": "upstream_error", "count": 4}]));
    let models: Vec<(&str, i64)> = stats["by_model"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["model"].as_str().unwrap(), m["requests"].as_i64().unwrap()))
        .collect();
    assert_eq!(models, [("even", 10), ("odd", 10)]);
    let series = stats["series"].as_array().unwrap();
    assert_eq!(series.len(), 24);
    let last: Vec<i64> = series[21..].iter().map(|p| p["requests"].as_i64().unwrap()).collect();
    assert_eq!(last, [6, 7, 7], "the last three hours hold i % 3 == 2, 1, 0");
    let by_key = h.admin("GET", "/api/admin/stats?window=7d&key_id=key-a", Value::Null).await;
    assert_eq!(by_key["totals"]["requests"], 10);
    assert_eq!(by_key["series"].as_array().unwrap().len(), 7);
    let token = h.token.clone();
    let bad = h.call("GET", "/api/admin/stats?window=1y", Some(&token), Value::Null).await;
    assert_eq!((bad.status, bad.json["error"]["field"].as_str()), (400, Some("window")));

    // The log search filters and pages.
    let page = h
        .admin("GET", "/api/admin/logs?model=even&status=502&page_size=1&page=2", Value::Null)
        .await;
    assert_eq!(
        page["pagination"],
        json!({"page": 2, "page_size": 1, "total": 2, "total_pages": 2})
    );
    assert_eq!(page["data"][0]["model_requested"], "even");
}

#[tokio::test]
async fn keys_limited_to_addresses_refuse_others_and_policies_are_validated() {
    let h = Harness::new().await;
    h.setup("openai_chat").await;
    let key = h
        .admin(
            "POST",
            "/api/admin/keys",
            json!({"name": "office", "allowed_ips": ["10.0.0.0/8", "::1"], "tags": ["ops"]}),
        )
        .await;
    assert_eq!(key["allowed_ips"], json!(["10.0.0.0/8", "::1"]));
    let secret = key["key"].as_str().unwrap();
    let send = |ip: &str| {
        let mut request = http::Request::post("/v1/chat/completions")
            .header("authorization", format!("Bearer {secret}"))
            .body(Bytes::from(chat_body(false).to_string()))
            .unwrap();
        request.extensions_mut().insert(gateway_core::ClientAddr(ip.parse().unwrap()));
        h.gateway.handle(request)
    };
    let refused = send("192.168.1.1").await;
    assert_eq!(refused.response.status(), 403);
    h.script(Ok((
        200,
        vec![],
        vec![r#"{"choices":[{"message":{"content":"ok"},"finish_reason":"stop"}]}"#],
    )));
    assert_eq!(send("10.20.30.40").await.response.status(), 200);

    let token = h.token.clone();
    for (body, field) in [
        (json!({"name": "k", "rpm_limit": 0}), "rpm_limit"),
        (json!({"name": "k", "max_concurrent": -1}), "max_concurrent"),
        (json!({"name": "k", "budget_usd": -5}), "budget_usd"),
        (json!({"name": "k", "budget_period": "week"}), "budget_period"),
        (json!({"name": "k", "allowed_ips": ["10.0.0.0/99"]}), "allowed_ips"),
        (json!({"name": "k", "tags": [""]}), "tags"),
    ] {
        let reply = h.call("POST", "/api/admin/keys", Some(&token), body.clone()).await;
        assert_eq!(
            (reply.status, reply.json["error"]["field"].as_str()),
            (400, Some(field)),
            "{body}"
        );
    }
    let settings = h.admin("PUT", "/api/admin/settings", json!({"log_retention_days": 7})).await;
    assert_eq!(settings["log_retention_days"], 7);
    let reply =
        h.call("PUT", "/api/admin/settings", Some(&token), json!({"log_retention_days": 0})).await;
    assert_eq!(reply.status, 400);
    h.gateway.maintenance().await.unwrap();
}

#[tokio::test]
async fn admin_changes_to_a_key_apply_at_once_despite_the_key_cache() {
    let h = Harness::new().await;
    let secret = h.setup("openai_chat").await;
    h.script(Ok((
        200,
        vec![],
        vec![r#"{"choices":[{"message":{"content":"ok"},"finish_reason":"stop"}]}"#],
    )));
    assert_eq!(
        h.call("POST", "/v1/chat/completions", Some(&secret), chat_body(false)).await.status,
        200
    );
    let keys = h.admin("GET", "/api/admin/keys", Value::Null).await;
    let id = keys["data"][0]["id"].as_str().unwrap().to_owned();
    h.admin("PATCH", &format!("/api/admin/keys/{id}"), json!({"enabled": false})).await;
    let reply = h.call("POST", "/v1/chat/completions", Some(&secret), chat_body(false)).await;
    assert_eq!((reply.status, reply.json["error"]["code"].as_str()), (403, Some("key_disabled")));
    h.admin("DELETE", &format!("/api/admin/keys/{id}"), Value::Null).await;
    let reply = h.call("POST", "/v1/chat/completions", Some(&secret), chat_body(false)).await;
    assert_eq!(reply.status, 401);
}
