//! End to end on the real `llm-gateway` binary: admin login, providers, models and keys through the
//! admin API, chat completions (JSON and SSE) through to a mock upstream, every documented error,
//! request logs, and a restart on the same database file.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures::StreamExt;
use reqwest::Method;
use serde_json::{Value, json};
use support::mock::Mock;
use support::{Admin, GatewayProcess, temp_db};

const UPSTREAM_SECRET: &str = "sk-upstream-very-secret-0042";

struct Setup {
    key: String,
    disabled_key: String,
    open_key: String,
}

/// Creates provider, models and keys through the admin API and checks what it answers.
async fn configure(admin: &Admin, mock: &Mock) -> Setup {
    let (status, provider) = admin
        .post(
            "/api/admin/providers",
            json!({"name": "Mock OpenAI", "base_url": mock.base, "api_key": UPSTREAM_SECRET,
                   "extra_headers": {"x-team": "e2e"}}),
        )
        .await;
    assert_eq!(status, 201, "{provider}");
    assert_eq!(provider["protocol"], "openai_chat");
    assert_eq!(provider["auth_scheme"], "bearer");
    assert_eq!(provider["has_credentials"], true);
    assert!(!provider.to_string().contains(UPSTREAM_SECRET), "credential leaked: {provider}");
    let provider_id = provider["id"].as_str().unwrap();

    let (status, list) = admin.get("/api/admin/providers").await;
    assert_eq!(status, 200);
    assert!(!list.to_string().contains(UPSTREAM_SECRET));

    let (status, dup) = admin
        .post("/api/admin/providers", json!({"name": "Mock OpenAI", "base_url": mock.base}))
        .await;
    assert_eq!((status, dup["error"]["code"].as_str()), (409, Some("conflict")));
    let (status, bad) =
        admin.post("/api/admin/providers", json!({"name": "x", "base_url": "ftp://nope"})).await;
    assert_eq!((status, bad["error"]["field"].as_str()), (400, Some("base_url")), "{bad}");
    let (status, bad) = admin
        .post(
            "/api/admin/providers",
            json!({"name": "x", "base_url": mock.base, "protocol": "smoke"}),
        )
        .await;
    assert_eq!((status, bad["error"]["field"].as_str()), (400, Some("protocol")), "{bad}");

    for (name, upstream) in
        [("gpt-test", "mock-model-1"), ("broken", "explode"), ("busy", "limited")]
    {
        let (status, model) = admin
            .post(
                "/api/admin/models",
                json!({"name": name, "provider_id": provider_id, "upstream_model": upstream,
                       "input_cost_per_token": 0.000001, "output_cost_per_token": 0.000002}),
            )
            .await;
        assert_eq!(status, 201, "{model}");
    }
    let (status, bad) = admin
        .post("/api/admin/models", json!({"name": "orphan", "provider_id": "prv_missing"}))
        .await;
    assert_eq!((status, bad["error"]["field"].as_str()), (400, Some("provider_id")));

    let (status, key) = admin
        .post(
            "/api/admin/keys",
            json!({"name": "app", "allowed_models": ["gpt-test", "broken", "busy"]}),
        )
        .await;
    assert_eq!(status, 201, "{key}");
    let secret = key["key"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("sk-gw-") && secret.len() == 38, "{secret}");
    assert_eq!(key["key_prefix"], &secret[..10]);
    let (_, keys) = admin.get("/api/admin/keys").await;
    assert!(!keys.to_string().contains(&secret), "the full key is shown only once");

    let (status, disabled) = admin
        .post("/api/admin/keys", json!({"name": "off", "key": "custom-key-disabled-01"}))
        .await;
    assert_eq!(status, 201, "{disabled}");
    let id = disabled["id"].as_str().unwrap();
    let (status, patched) = admin
        .call(Method::PATCH, &format!("/api/admin/keys/{id}"), Some(json!({"enabled": false})))
        .await;
    assert_eq!((status, &patched["enabled"]), (200, &json!(false)));

    let (_, open) = admin.post("/api/admin/keys", json!({"name": "all models"})).await;
    Setup {
        key: secret,
        disabled_key: "custom-key-disabled-01".into(),
        open_key: open["key"].as_str().unwrap().to_owned(),
    }
}

async fn chat(
    gw: &GatewayProcess,
    key: Option<&str>,
    body: &str,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut request = reqwest::Client::new()
        .post(gw.url("/v1/chat/completions"))
        .header("content-type", "application/json")
        .body(body.to_owned());
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    (
        status,
        headers,
        serde_json::from_slice(&response.bytes().await.unwrap()).unwrap_or(Value::Null),
    )
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("<none>")
}

/// Waits for the background log write of `request_id`.
async fn log_row(admin: &Admin, request_id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (status, logs) = admin.get(&format!("/api/admin/logs?request_id={request_id}")).await;
        assert_eq!(status, 200);
        if let Some(row) = logs["data"].as_array().and_then(|rows| rows.first()) {
            return row.clone();
        }
        assert!(Instant::now() < deadline, "no log row for {request_id}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn non_streaming(gw: &GatewayProcess, admin: &Admin, mock: &Mock, setup: &Setup) {
    let body = r#"{"model":"gpt-test","messages":[{"role":"user","content":"hi"}],"x_custom":{"keep":[1,2]}}"#;
    let (status, headers, completion) = chat(gw, Some(&setup.key), body).await;
    assert_eq!(status, 200, "{completion}");
    assert_eq!(completion["choices"][0]["message"]["content"], "Hello from mock");
    let request_id = headers["x-request-id"].to_str().unwrap().to_owned();

    let (upstream_headers, upstream_body) = mock.last_request().await;
    assert_eq!(upstream_headers["authorization"], format!("Bearer {UPSTREAM_SECRET}"));
    assert_eq!(upstream_headers["x-team"], "e2e");
    assert_eq!(upstream_body["model"], "mock-model-1", "model rewritten to the upstream id");
    assert_eq!(upstream_body["x_custom"], json!({"keep": [1, 2]}), "unknown fields pass through");
    assert!(upstream_body.get("stream_options").is_none());

    let row = log_row(admin, &request_id).await;
    assert_eq!(row["status"], 200);
    assert_eq!(row["model_requested"], "gpt-test");
    assert_eq!(row["model_served"], "mock-model-1");
    assert_eq!((row["input_tokens"].as_i64(), row["output_tokens"].as_i64()), (Some(11), Some(7)));
    assert_eq!(row["cached_tokens"], 3);
    let cost = row["cost_usd"].as_f64().unwrap();
    assert!((cost - (11.0 * 1e-6 + 7.0 * 2e-6)).abs() < 1e-12, "{cost}");
    assert_eq!(row["client_ip"], "127.0.0.1");
}

async fn streaming(gw: &GatewayProcess, admin: &Admin, mock: &Mock, setup: &Setup) {
    let response = reqwest::Client::new()
        .post(gw.url("/v1/chat/completions"))
        .header("x-api-key", &setup.key)
        .json(&json!({"model": "gpt-test", "stream": true, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    let request_id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    let mut body = response.bytes_stream();
    // The mock holds back everything after its first chunk until we have seen that chunk here.
    let first = tokio::time::timeout(Duration::from_secs(5), body.next())
        .await
        .expect("first chunk arrived while the upstream was still streaming")
        .unwrap()
        .unwrap();
    let first = String::from_utf8(first.to_vec()).unwrap();
    assert!(first.starts_with("data: ") && first.contains("\"Hel\""), "{first}");
    assert!(!first.contains("[DONE]"));
    mock.release();
    let mut rest = String::new();
    while let Some(chunk) = body.next().await {
        rest.push_str(std::str::from_utf8(&chunk.unwrap()).unwrap());
    }
    assert!(!mock.state.gate_timed_out.load(Ordering::SeqCst), "gateway buffered the stream");
    assert!(rest.ends_with("data: [DONE]\n\n"), "{rest}");
    assert!(rest.contains("\"lo\"") && rest.contains("\"finish_reason\":\"stop\""));
    assert!(!rest.contains("usage"), "usage chunk not asked for by the caller: {rest}");

    let (_, upstream_body) = mock.last_request().await;
    assert_eq!(upstream_body["stream_options"]["include_usage"], true, "gateway asks for usage");
    let row = log_row(admin, &request_id).await;
    assert_eq!(row["stream"], true);
    assert_eq!((row["input_tokens"].as_i64(), row["output_tokens"].as_i64()), (Some(5), Some(2)));
    assert!(row["ttft_ms"].as_i64().is_some());
    assert_eq!(row["error_kind"], Value::Null);

    // A caller that asks for usage gets the usage chunk.
    let response = reqwest::Client::new()
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(&setup.key)
        .json(
            &json!({"model": "gpt-test", "stream": true, "stream_options": {"include_usage": true},
                      "messages": [{"role": "user", "content": "hi"}]}),
        )
        .send()
        .await
        .unwrap();
    mock.release();
    let text = response.text().await.unwrap();
    assert!(text.contains("\"choices\":[],") && text.contains("\"usage\""), "{text}");
}

async fn errors(gw: &GatewayProcess, setup: &Setup) {
    let ok_body = r#"{"model":"gpt-test","messages":[{"role":"user","content":"hi"}]}"#;
    let cases: Vec<(Option<&str>, String, u16, &str)> = vec![
        (None, ok_body.into(), 401, "missing_api_key"),
        (Some("sk-gw-not-a-real-key-000000000000000"), ok_body.into(), 401, "invalid_api_key"),
        (Some(&setup.disabled_key), ok_body.into(), 403, "key_disabled"),
        (Some(&setup.key), ok_body.replace("gpt-test", "other-model"), 403, "model_not_allowed"),
        (
            Some(&setup.open_key),
            ok_body.replace("gpt-test", "no-such-model"),
            404,
            "model_not_found",
        ),
        (Some(&setup.key), "{\"model\": \"gpt-test\", ".into(), 400, "invalid_json"),
        (Some(&setup.key), r#"{"messages":[]}"#.into(), 400, "validation_error"),
        (Some(&setup.key), ok_body.replace("gpt-test", "broken"), 502, "upstream_error"),
        (Some(&setup.key), ok_body.replace("gpt-test", "busy"), 429, "upstream_rate_limited"),
    ];
    for (key, body, status, code) in cases {
        let (got, headers, error) = chat(gw, key, &body).await;
        assert_eq!((got, error_code(&error)), (status, code), "{body}: {error}");
        assert!(
            error["error"]["message"].is_string() && error["error"]["type"].is_string(),
            "{error}"
        );
        assert!(headers.contains_key("x-request-id"));
        if status == 429 {
            assert_eq!(headers["retry-after"], "7");
        }
    }
    let response = reqwest::Client::new().get(gw.url("/v1/chat/completions")).send().await.unwrap();
    assert_eq!(response.status(), 405);
}

async fn models_endpoint(gw: &GatewayProcess, setup: &Setup) {
    let client = reqwest::Client::new();
    let list: Value = client
        .get(gw.url("/v1/models"))
        .bearer_auth(&setup.key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut ids: Vec<&str> =
        list["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    ids.sort_unstable();
    assert_eq!(ids, ["broken", "busy", "gpt-test"]);
    assert_eq!(list["object"], "list");
    assert_eq!(list["data"][0]["object"], "model");
    // Also without the /v1 prefix.
    let response = client.get(gw.url("/models")).bearer_auth(&setup.key).send().await.unwrap();
    assert_eq!(response.status(), 200);
    let response = client.get(gw.url("/v1/models")).send().await.unwrap();
    assert_eq!(response.status(), 401);
}

async fn admin_auth(gw: &GatewayProcess, admin: &Admin) {
    let client = reqwest::Client::new();
    let (status, me) = admin.get("/api/auth/me").await;
    assert_eq!((status, me["user"]["username"].as_str()), (200, Some("admin")));
    assert!(me["user"].get("password_hash").is_none());
    let response = client.get(gw.url("/api/admin/providers")).send().await.unwrap();
    assert_eq!(response.status(), 401);
    let response =
        client.get(gw.url("/api/admin/providers")).bearer_auth("not.a.token").send().await.unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_token");
}

/// Workers serve the UI's security headers from `admin-ui/_headers`: the same set as the other hosts.
#[test]
fn workers_header_file_matches_the_ui_security_headers() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../admin-ui/_headers");
    let text = std::fs::read_to_string(path).unwrap();
    let rules: Vec<(String, String)> = text
        .lines()
        .filter(|l| l.starts_with("  "))
        .map(|l| {
            let (name, value) = l.trim().split_once(": ").unwrap();
            (name.to_owned(), value.to_owned())
        })
        .collect();
    let expected: Vec<(String, String)> = gateway_core::UI_SECURITY_HEADERS
        .iter()
        .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
        .collect();
    assert_eq!(rules, expected);
    assert!(text.lines().any(|l| l == "/*"), "the rules apply to every path");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gateway_end_to_end_on_the_real_binary() {
    let mock = Mock::start().await;
    let (_dir, db) = temp_db();

    let gw = GatewayProcess::start(&db, &[]);
    let password = gw.generated_password().expect("first start logs a generated admin password");
    assert!(password.len() >= 20);
    assert_eq!(reqwest::get(gw.url("/healthz")).await.unwrap().status(), 200);
    let index = reqwest::get(gw.url("/")).await.unwrap();
    assert_eq!(index.status(), 200);
    for (name, value) in gateway_core::UI_SECURITY_HEADERS {
        assert_eq!(index.headers()[name], value, "{name} on the admin UI");
    }
    let headers_file = reqwest::get(gw.url("/_headers")).await.unwrap();
    assert_eq!(headers_file.status(), 404, "the Workers' header file is not a page");
    assert!(index.text().await.unwrap().contains("LLM Gateway"), "admin UI served at /");

    let wrong = reqwest::Client::new()
        .post(gw.url("/api/auth/login"))
        .json(&json!({"username": "admin", "password": "wrong-password"}))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
    let admin = Admin::login(&gw.base, "admin", &password).await;
    admin_auth(&gw, &admin).await;
    let setup = configure(&admin, &mock).await;
    non_streaming(&gw, &admin, &mock, &setup).await;
    streaming(&gw, &admin, &mock, &setup).await;
    errors(&gw, &setup).await;
    models_endpoint(&gw, &setup).await;

    // Error rows are logged for known keys too (written in the background: wait for them).
    let wanted = ["key_disabled", "model_not_allowed", "upstream_error", "upstream_rate_limited"];
    let mut kinds: Vec<String> = Vec::new();
    for _ in 0..100 {
        let (_, logs) = admin.get("/api/admin/logs?limit=100").await;
        kinds = logs["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|r| r["error_kind"].as_str().map(str::to_owned))
            .collect();
        if wanted.iter().all(|k| kinds.iter().any(|have| have == k)) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    for kind in wanted {
        assert!(kinds.iter().any(|k| k == kind), "{kind} not logged: {kinds:?}");
    }

    let lines = gw.stop();
    let all = lines.join("\n");
    assert!(
        !all.contains(UPSTREAM_SECRET) && !all.contains(&setup.key),
        "a secret reached the log"
    );
    let raw = std::fs::read(&db).unwrap();
    assert!(
        !raw.windows(UPSTREAM_SECRET.len()).any(|w| w == UPSTREAM_SECRET.as_bytes()),
        "provider credential stored in plaintext"
    );

    // Restart on the same file: same admin password, same session token, same data.
    let gw = GatewayProcess::start(&db, &[]);
    assert!(gw.generated_password().is_none(), "no second admin on restart");
    let again = Admin { base: gw.base.clone(), ..admin };
    let (status, models) = again.get("/api/admin/models").await;
    assert_eq!(status, 200, "session survives a restart");
    assert_eq!(models["data"].as_array().unwrap().len(), 3);
    let admin = Admin::login(&gw.base, "admin", &password).await;
    let (status, _, completion) = chat(
        &gw,
        Some(&setup.key),
        r#"{"model":"gpt-test","messages":[{"role":"user","content":"x"}]}"#,
    )
    .await;
    assert_eq!(status, 200, "{completion}");

    // Changing the password revokes old sessions and returns a new token.
    let (status, changed) = admin
        .post(
            "/api/auth/password",
            json!({"current_password": password, "new_password": "a-new-pass-123"}),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    let (status, _) = admin.get("/api/auth/me").await;
    assert_eq!(status, 401, "old token revoked");
    let admin = Admin::login(&gw.base, "admin", "a-new-pass-123").await;
    let (status, _) = admin.post("/api/auth/logout", json!({})).await;
    assert_eq!(status, 204);
    let (status, _) = admin.get("/api/auth/me").await;
    assert_eq!(status, 401, "logout revokes the token");
}

#[tokio::test]
async fn configured_admin_password_and_login_throttling() {
    let (_dir, db) = temp_db();
    let gw = GatewayProcess::start(
        &db,
        &[("ADMIN_PASSWORD", "configured-pass-1"), ("ADMIN_USERNAME", "root")],
    );
    assert!(gw.generated_password().is_none());
    let admin = Admin::login(&gw.base, "root", "configured-pass-1").await;
    let (status, user) =
        admin.post("/api/admin/users", json!({"username": "second", "password": "short"})).await;
    assert_eq!((status, user["error"]["field"].as_str()), (400, Some("password")));

    let client = reqwest::Client::new();
    let mut statuses = Vec::new();
    for _ in 0..6 {
        let response = client
            .post(gw.url("/api/auth/login"))
            .json(&json!({"username": "root", "password": "guess-guess"}))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
        if response.status() == 429 {
            assert!(response.headers().contains_key("retry-after"));
            let body: Value = response.json().await.unwrap();
            assert_eq!(body["error"]["code"], "too_many_login_attempts");
        }
    }
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429]);
    let blocked = client
        .post(gw.url("/api/auth/login"))
        .json(&json!({"username": "root", "password": "configured-pass-1"}))
        .send()
        .await
        .unwrap();
    assert_eq!(blocked.status(), 429, "even the right password waits out the lock");
}

#[tokio::test]
async fn production_refuses_to_start_without_secrets() {
    let (_dir, db) = temp_db();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_llm-gateway"))
        .env_clear()
        .env("GATEWAY_ENV", "production")
        .env("JWT_SECRET", "too-short")
        .env("DATABASE_URL", &db)
        .env("PORT", "0")
        .output()
        .unwrap();
    assert!(!output.status.success());
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(text.contains("JWT_SECRET must be at least 32 bytes"), "{text}");
    assert!(text.contains("GATEWAY_SECRET is required"), "{text}");
}
