//! Cloud providers' own auth through the whole pipeline in-process (a real libSQL file, a
//! scripted upstream that records what it was sent, a manual clock): a Google service account's
//! RS256 assertion (verified here against the test key's public half) exchanged for a token that
//! is reused until five minutes before it expires; Claude on Vertex AI (`rawPredict`); Azure
//! OpenAI deployments with `api-version`, by `api-key` and by Entra ID; a refused exchange as the
//! provider's auth error, which disables that credential while another serves; and no secret in
//! any answer, view or log row.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use jwt_simple::prelude::{RS256PublicKey, RSAPublicKeyLike, VerificationOptions};
use serde_json::{Value, json};
use support::{Harness, Scripted, T0, TEN_DAYS};

const SERVICE_ACCOUNT: &str =
    include_str!("../../../tools/mock-upstream/testdata/service-account.json");
const PUBLIC_KEY: &str =
    include_str!("../../../tools/mock-upstream/testdata/vertex-test-key.pub.pem");
const TOKEN_URI: &str = "http://oauth.test/token";
const VERTEX: &str = "http://vertex.test/v1/projects/p1/locations/us-east5/publishers";

const GEMINI_OK: &str = r#"{"candidates":[{"content":{"role":"model","parts":[{"text":"hi"}]},
    "finishReason":"STOP","index":0}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":1,
    "totalTokenCount":4},"modelVersion":"gemini-2.5-pro"}"#;
const ANTHROPIC_OK: &str = r#"{"id":"msg_1","type":"message","role":"assistant","model":"claude",
    "content":[{"type":"text","text":"hi"}],"stop_reason":"end_turn","stop_sequence":null,
    "usage":{"input_tokens":3,"output_tokens":1}}"#;
const CHAT_OK: &str = r#"{"id":"c","object":"chat.completion","created":1,"model":"m",
    "choices":[{"index":0,"message":{"role":"assistant","content":"hi"},"finish_reason":"stop"}],
    "usage":{"prompt_tokens":3,"completion_tokens":1}}"#;

fn json_answer(body: &'static str) -> Scripted {
    Ok((200, vec![("content-type", "application/json")], vec![body]))
}

fn token(access: &'static str) -> Scripted {
    json_answer(access)
}

/// The test service account with `token_uri` pointing at the scripted upstream; `key` replaces
/// its private key when given.
fn service_account(key: Option<&str>) -> String {
    let mut account: Value = serde_json::from_str(SERVICE_ACCOUNT).unwrap();
    account["token_uri"] = json!(TOKEN_URI);
    if let Some(key) = key {
        account["private_key"] = json!(key);
    }
    account.to_string()
}

/// A provider from `body`, a model `m` on it named `upstream`, and a key.
async fn setup(h: &Harness, body: Value, upstream: &str) -> (String, String) {
    let provider = h.admin("POST", "/api/admin/providers", body).await;
    let text = provider.to_string();
    assert!(
        !text.contains("PRIVATE KEY") && !text.contains("secret"),
        "no secret comes out: {text}"
    );
    let id = provider["id"].as_str().unwrap().to_owned();
    h.admin(
        "POST",
        "/api/admin/models",
        json!({"name": "m", "provider_id": id, "upstream_model": upstream}),
    )
    .await;
    let key =
        h.admin("POST", "/api/admin/keys", json!({"name": "k", "expires_at": T0 + TEN_DAYS})).await;
    (id, key["key"].as_str().unwrap().to_owned())
}

fn chat(stream: bool) -> Value {
    json!({"model": "m", "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}

/// The requests the upstream was sent, as (URL, headers, body).
fn seen(h: &Harness) -> Vec<(String, http::HeaderMap, String)> {
    let seen = h.http.seen.lock().unwrap();
    seen.iter()
        .map(|r| {
            let body = String::from_utf8_lossy(r.body()).into_owned();
            (r.uri().to_string(), r.headers().clone(), body)
        })
        .collect()
}

fn form(body: &str) -> HashMap<String, String> {
    body.split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| {
            let mut out = Vec::new();
            let bytes = v.as_bytes();
            let mut i = 0;
            while i < bytes.len() {
                if bytes[i] == b'%' {
                    out.push(u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap());
                    i += 3;
                } else {
                    out.push(bytes[i]);
                    i += 1;
                }
            }
            (k.to_owned(), String::from_utf8(out).unwrap())
        })
        .collect()
}

#[derive(serde::Serialize, serde::Deserialize)]
struct Scope {
    scope: String,
}

/// Checks a token request as Google does: the jwt-bearer grant, an RS256 assertion that verifies
/// with the test key's public half, issued by the account, for the token endpoint, at `now_s`,
/// for at most an hour, asking for the cloud-platform scope, naming the key id.
fn assert_google_exchange(url: &str, headers: &http::HeaderMap, body: &str, now_s: u64) {
    assert_eq!(url, TOKEN_URI);
    assert_eq!(headers["content-type"], "application/x-www-form-urlencoded");
    let fields = form(body);
    assert_eq!(fields["grant_type"], "urn:ietf:params:oauth:grant-type:jwt-bearer");
    let key = RS256PublicKey::from_pem(PUBLIC_KEY).unwrap();
    let options = VerificationOptions {
        artificial_time: Some(jwt_simple::prelude::Duration::from_secs(now_s)),
        allowed_issuers: Some(
            ["gateway-test@mock-project.iam.gserviceaccount.com".to_owned()].into(),
        ),
        allowed_audiences: Some([TOKEN_URI.to_owned()].into()),
        ..VerificationOptions::default()
    };
    let claims = key.verify_token::<Scope>(&fields["assertion"], Some(options)).unwrap();
    assert_eq!(claims.custom.scope, "https://www.googleapis.com/auth/cloud-platform");
    assert_eq!(claims.issued_at.unwrap().as_secs(), now_s);
    assert_eq!(claims.expires_at.unwrap().as_secs(), now_s + 3600);
    let metadata = jwt_simple::token::Token::decode_metadata(&fields["assertion"]).unwrap();
    assert_eq!(metadata.algorithm(), "RS256");
    assert_eq!(metadata.key_id(), Some("mock-key-1"));
}

#[tokio::test]
async fn gemini_on_vertex_exchanges_a_signed_assertion_once_and_refreshes_before_expiry() {
    let h = Harness::new().await;
    let (_, key) = setup(
        &h,
        json!({"preset": "vertex-gemini", "base_url": format!("{VERTEX}/google"),
               "api_key": service_account(None)}),
        "gemini-2.5-pro",
    )
    .await;
    h.script(token(r#"{"access_token":"ya29.first","expires_in":3599,"token_type":"Bearer"}"#));
    h.script(json_answer(GEMINI_OK));
    let reply = h.call("POST", "/v1/chat/completions", Some(&key), chat(false)).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(reply.json["choices"][0]["message"]["content"], "hi");
    let sent = seen(&h);
    assert_google_exchange(&sent[0].0, &sent[0].1, &sent[0].2, (T0 / 1000) as u64);
    assert_eq!(sent[1].0, format!("{VERTEX}/google/models/gemini-2.5-pro:generateContent"));
    assert_eq!(sent[1].1["authorization"], "Bearer ya29.first");
    assert!(!sent[1].1.contains_key("x-goog-api-key"));

    // The token serves until five minutes before it expires (the scripted upstream would fail
    // the test on an exchange nobody scripted).
    h.clock.now.store(T0 + (3599 - 301) * 1000, Ordering::SeqCst);
    h.script(json_answer(GEMINI_OK));
    assert_eq!(h.call("POST", "/v1/chat/completions", Some(&key), chat(false)).await.status, 200);
    assert_eq!(seen(&h).len(), 3);
    // Then one request refreshes it.
    h.clock.now.store(T0 + (3599 - 299) * 1000, Ordering::SeqCst);
    h.script(token(r#"{"access_token":"ya29.second","expires_in":3599,"token_type":"Bearer"}"#));
    h.script(json_answer(GEMINI_OK));
    assert_eq!(h.call("POST", "/v1/chat/completions", Some(&key), chat(false)).await.status, 200);
    let sent = seen(&h);
    assert_google_exchange(&sent[3].0, &sent[3].1, &sent[3].2, (T0 / 1000) as u64 + 3300);
    assert_eq!(sent[4].1["authorization"], "Bearer ya29.second");

    // Streaming goes to the SSE variant with the same token; nothing secret reaches the logs.
    h.script(Ok((
        200,
        vec![("content-type", "text/event-stream")],
        vec!["data: {\"candidates\":[{\"content\":{\"role\":\"model\",\"parts\":[{\"text\":\"hi\"}]},\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":3,\"candidatesTokenCount\":1,\"totalTokenCount\":4}}\r\n\r\n"],
    )));
    let reply = h.call("POST", "/v1/chat/completions", Some(&key), chat(true)).await;
    assert_eq!(reply.status, 200);
    assert!(reply.json.as_str().unwrap().contains("[DONE]"));
    assert_eq!(
        seen(&h)[5].0,
        format!("{VERTEX}/google/models/gemini-2.5-pro:streamGenerateContent?alt=sse")
    );
    if let Some(background) = reply.background {
        background.await;
    }
    let logs = h.admin("GET", "/api/admin/logs?limit=10", Value::Null).await.to_string();
    assert!(!logs.contains("ya29") && !logs.contains("PRIVATE KEY"), "{logs}");
}

#[tokio::test]
async fn a_token_the_service_refuses_is_its_auth_error_and_is_exchanged_anew_next_time() {
    let h = Harness::new().await;
    let (_, key) = setup(
        &h,
        json!({"preset": "vertex-gemini", "base_url": format!("{VERTEX}/google"),
               "api_key": service_account(None)}),
        "gemini-2.5-pro",
    )
    .await;
    h.script(token(r#"{"access_token":"ya29.revoked-early","expires_in":3599}"#));
    h.script(Ok((
        401,
        vec![("content-type", "application/json")],
        vec![r#"{"error":{"code":401,"message":"Request had invalid authentication credentials. Expected OAuth 2 access token, login cookie or other valid authentication credential.","status":"UNAUTHENTICATED"}}"#],
    )));
    let reply = h.call("POST", "/v1/chat/completions", Some(&key), chat(false)).await;
    assert_eq!(reply.status, 502, "{}", reply.json);
    assert_eq!(reply.json["error"]["code"], "upstream_auth_error");
    assert!(
        reply.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("invalid authentication credentials")
    );
    // The refused token is forgotten: the next request exchanges again and succeeds.
    h.script(token(r#"{"access_token":"ya29.new","expires_in":3599}"#));
    h.script(json_answer(GEMINI_OK));
    let reply = h.call("POST", "/v1/chat/completions", Some(&key), chat(false)).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    let sent = seen(&h);
    assert_eq!(sent[2].0, TOKEN_URI);
    assert_eq!(sent[3].1["authorization"], "Bearer ya29.new");
}

#[tokio::test]
async fn claude_on_vertex_uses_raw_predict_with_the_model_in_the_path() {
    let h = Harness::new().await;
    let (_, key) = setup(
        &h,
        json!({"preset": "vertex-anthropic", "base_url": format!("{VERTEX}/anthropic"),
               "api_key": service_account(None)}),
        "claude-sonnet-4-5@20250929",
    )
    .await;
    h.script(token(r#"{"access_token":"ya29.claude","expires_in":3599}"#));
    h.script(json_answer(ANTHROPIC_OK));
    let body =
        json!({"model": "m", "max_tokens": 64, "messages": [{"role": "user", "content": "hi"}]});
    let reply = h.call("POST", "/v1/messages", Some(&key), body.clone()).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    assert_eq!(reply.json["content"][0]["text"], "hi");
    let sent = seen(&h);
    assert_eq!(
        sent[1].0,
        format!("{VERTEX}/anthropic/models/claude-sonnet-4-5@20250929:rawPredict")
    );
    assert_eq!(sent[1].1["authorization"], "Bearer ya29.claude");
    assert!(!sent[1].1.contains_key("x-api-key") && !sent[1].1.contains_key("anthropic-version"));
    let upstream: Value = serde_json::from_str(&sent[1].2).unwrap();
    assert!(upstream.get("model").is_none(), "{upstream}");
    assert_eq!(upstream["anthropic_version"], "vertex-2023-10-16");
    assert_eq!(upstream["max_tokens"], 64);

    // From another protocol, streamed: streamRawPredict.
    h.script(Ok((
        200,
        vec![("content-type", "text/event-stream")],
        vec![
            "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"msg_1\",\"type\":\"message\",\"role\":\"assistant\",\"model\":\"claude\",\"content\":[],\"stop_reason\":null,\"usage\":{\"input_tokens\":3,\"output_tokens\":0}}}\n\n",
            "event: content_block_start\ndata: {\"type\":\"content_block_start\",\"index\":0,\"content_block\":{\"type\":\"text\",\"text\":\"\"}}\n\n",
            "event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"hi\"}}\n\n",
            "event: content_block_stop\ndata: {\"type\":\"content_block_stop\",\"index\":0}\n\n",
            "event: message_delta\ndata: {\"type\":\"message_delta\",\"delta\":{\"stop_reason\":\"end_turn\"},\"usage\":{\"output_tokens\":1}}\n\n",
            "event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n",
        ],
    )));
    let reply = h.call("POST", "/v1/chat/completions", Some(&key), chat(true)).await;
    assert_eq!(reply.status, 200);
    assert!(reply.json.as_str().unwrap().contains("\"content\":\"hi\""), "{}", reply.json);
    let sent = seen(&h);
    assert_eq!(
        sent[2].0,
        format!("{VERTEX}/anthropic/models/claude-sonnet-4-5@20250929:streamRawPredict")
    );
    let upstream: Value = serde_json::from_str(&sent[2].2).unwrap();
    assert_eq!((upstream["stream"].as_bool(), upstream.get("model")), (Some(true), None));
}

#[tokio::test]
async fn a_refused_exchange_is_the_providers_auth_error_and_disables_that_credential() {
    let h = Harness::new().await;
    let (id, key) = setup(
        &h,
        json!({"preset": "vertex-gemini", "base_url": format!("{VERTEX}/google"),
               "api_keys": [{"key": service_account(None), "label": "old"},
                            {"key": service_account(None), "label": "new"}]}),
        "gemini-2.5-pro",
    )
    .await;
    // The first credential's assertion is refused as Google refuses a bad signature; the
    // request goes on with the second.
    h.script(Ok((
        400,
        vec![("content-type", "application/json")],
        vec![r#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#],
    )));
    h.script(token(r#"{"access_token":"ya29.second","expires_in":3599}"#));
    h.script(json_answer(GEMINI_OK));
    let reply = h.call("POST", "/v1/chat/completions", Some(&key), chat(false)).await;
    assert_eq!(reply.status, 200, "no failed request: {}", reply.json);
    let provider = h.admin("GET", &format!("/api/admin/providers/{id}"), Value::Null).await;
    let reasons: Vec<&Value> =
        provider["credentials"].as_array().unwrap().iter().map(|c| &c["disabled_reason"]).collect();
    let reason = reasons[0].as_str().unwrap();
    assert!(reason.contains("invalid_grant: Invalid JWT Signature."), "{reason}");
    assert!(reasons[1].is_null());

    // With one credential left and it refused too: the caller gets the provider's auth error.
    h.admin(
        "PATCH",
        &format!("/api/admin/providers/{id}"),
        json!({"api_key": service_account(None)}),
    )
    .await;
    h.script(Ok((
        400,
        vec![("content-type", "application/json")],
        vec![r#"{"error":"invalid_grant","error_description":"Invalid JWT Signature."}"#],
    )));
    let reply = h.call("POST", "/v1/chat/completions", Some(&key), chat(false)).await;
    assert_eq!(reply.status, 502, "{}", reply.json);
    assert_eq!(reply.json["error"]["code"], "upstream_auth_error", "{}", reply.json);
    let text = reply.json.to_string();
    assert!(!text.contains("PRIVATE KEY") && !text.contains("assertion"), "{text}");
}

#[tokio::test]
async fn azure_deployments_carry_api_version_with_an_api_key_or_an_entra_token() {
    let h = Harness::new().await;
    let (id, key) = setup(
        &h,
        json!({"preset": "azure-openai-deployments", "base_url": "http://azure.test/openai",
               "api_key": "azure-key-0123456789"}),
        "gpt-4o-prod",
    )
    .await;
    h.script(json_answer(CHAT_OK));
    let reply = h.call("POST", "/v1/chat/completions", Some(&key), chat(false)).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    let sent = seen(&h);
    assert_eq!(
        sent[0].0,
        "http://azure.test/openai/deployments/gpt-4o-prod/chat/completions?api-version=2024-10-21"
    );
    assert_eq!(sent[0].1["api-key"], "azure-key-0123456789");
    let upstream: Value = serde_json::from_str(&sent[0].2).unwrap();
    assert!(upstream.get("max_tokens").is_none(), "Azure takes max_completion_tokens");

    // The same provider with an Entra ID application: a client-credentials token, as a bearer.
    let app = json!({"tenant_id": "contoso.onmicrosoft.com", "client_id": "app-1",
                     "client_secret": "entra-secret-value", "authority_host": "http://login.test"});
    let updated = h
        .admin(
            "PATCH",
            &format!("/api/admin/providers/{id}"),
            json!({"auth_scheme": "azure_entra", "api_key": app.to_string(),
                   "quirks": {"api_version": "2025-04-01-preview",
                              "max_tokens_field": "max_completion_tokens"}}),
        )
        .await;
    assert!(!updated.to_string().contains("entra-secret-value"));
    h.script(json_answer(
        r#"{"token_type":"Bearer","expires_in":3599,"access_token":"eyJ.entra"}"#,
    ));
    h.script(json_answer(CHAT_OK));
    let reply = h.call("POST", "/v1/chat/completions", Some(&key), chat(false)).await;
    assert_eq!(reply.status, 200, "{}", reply.json);
    let sent = seen(&h);
    assert_eq!(sent[1].0, "http://login.test/contoso.onmicrosoft.com/oauth2/v2.0/token");
    let fields = form(&sent[1].2);
    assert_eq!(fields["grant_type"], "client_credentials");
    assert_eq!(fields["client_id"], "app-1");
    assert_eq!(fields["client_secret"], "entra-secret-value");
    assert_eq!(fields["scope"], "https://cognitiveservices.azure.com/.default");
    assert_eq!(
        sent[2].0,
        "http://azure.test/openai/deployments/gpt-4o-prod/chat/completions?api-version=2025-04-01-preview"
    );
    assert_eq!(sent[2].1["authorization"], "Bearer eyJ.entra");
    assert!(!sent[2].1.contains_key("api-key"));
}

#[tokio::test]
async fn token_credentials_are_checked_when_given() {
    let h = Harness::new().await;
    let cases = [
        (json!({"preset": "vertex-gemini", "base_url": VERTEX, "api_key": "not json"}), "api_key"),
        (
            json!({"preset": "vertex-gemini", "base_url": VERTEX,
                   "api_key": service_account(Some("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n"))}),
            "api_key",
        ),
        (
            json!({"preset": "azure-openai-deployments", "base_url": "http://a.test/openai",
                   "auth_scheme": "azure_entra", "api_keys": [{"key": "{\"tenant_id\":\"t\"}"}]}),
            "api_keys[0].key",
        ),
        (
            json!({"preset": "azure-openai-deployments", "base_url": "http://a.test/openai",
                   "quirks": {"api_version": "2024-10-21&x=1"}}),
            "quirks.api_version",
        ),
    ];
    for (body, field) in cases {
        let token = h.token.clone();
        let reply = h.call("POST", "/api/admin/providers", Some(&token), body).await;
        assert_eq!(reply.status, 400, "{}", reply.json);
        assert_eq!(reply.json["error"]["field"], field, "{}", reply.json);
        assert!(!reply.json.to_string().contains("PRIVATE KEY"), "{}", reply.json);
    }
}
