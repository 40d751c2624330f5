//! Operations and hardening on the real binary: Prometheus metrics against a scripted mix of
//! requests, JSON logs (request ids on every request line, no secret anywhere), embeddings to
//! OpenAI-compatible and Gemini upstreams (the mock stands in for their clouds), structured output
//! translated to Anthropic's `output_config.format`, hostile input on every route, admin CORS, and
//! the route table against the OpenAPI document and the server.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{Value, json};
use support::{Admin, GatewayProcess, temp_db};

const METRICS_TOKEN: &str = "metrics-token-9f8e7d6c5b4a";
const PROVIDER_KEY: &str = "sk-provider-secret-0a1b2c3d";
const ADMIN_PASSWORD: &str = "ops-admin-pass-77";
const JWT_SECRET: &str = "jwt-secret-for-the-operations-suite-0123456789";
const GATEWAY_SECRET: &str = "gateway-secret-for-the-operations-suite-012345";

/// The value of the one sample `series` (exact name and labels) in a scrape, 0 when absent.
fn sample(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series).and_then(|v| v.strip_prefix(' ')))
        .map_or(0.0, |v| v.parse().unwrap())
}

async fn scrape(gw: &GatewayProcess, token: Option<&str>) -> (u16, String) {
    let mut request = reqwest::Client::new().get(gw.url("/metrics"));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.unwrap();
    (response.status().as_u16(), response.text().await.unwrap())
}

/// A chat completion: status, `x-request-id` and body.
async fn chat(gw: &GatewayProcess, key: &str, model: &str, stream: bool) -> (u16, String, String) {
    let response = support::chat(&gw.base, key, model, stream).await;
    let status = response.status().as_u16();
    let id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    (status, id, response.text().await.unwrap())
}

async fn setup_provider(admin: &Admin, name: &str, protocol: &str, base_url: String) -> String {
    admin
        .provider(json!({"name": name, "protocol": protocol, "base_url": base_url, "api_key": PROVIDER_KEY}))
        .await
}

/// The mock upstream (its address and what it saw), and a fresh gateway with its admin signed in.
async fn gateway_and_mock() -> (
    std::net::SocketAddr,
    std::sync::Arc<mock_upstream::Mock>,
    tempfile::TempDir,
    GatewayProcess,
    Admin,
) {
    let (mock, mock_state) = mock_upstream::spawn(Default::default(), 0).await.unwrap();
    let (dir, db) = temp_db();
    let gw = GatewayProcess::start(&db, &[("ADMIN_PASSWORD", ADMIN_PASSWORD)]);
    let admin = Admin::login(&gw.base, "admin", ADMIN_PASSWORD).await;
    (mock, mock_state, dir, gw, admin)
}

async fn add_model(admin: &Admin, name: &str, provider: &str, upstream: &str) {
    let (status, m) = admin
        .post(
            "/api/admin/models",
            json!({"name": name, "provider_id": provider, "upstream_model": upstream,
                   "input_cost_per_token": 0.000001}),
        )
        .await;
    assert_eq!(status, 201, "{m}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_equal_a_scripted_mix_and_json_logs_carry_ids_but_no_secrets() {
    let (mock, _) = mock_upstream::spawn(Default::default(), 0).await.unwrap();
    let (_dir, db) = temp_db();
    let gw = GatewayProcess::start(
        &db,
        &[
            ("ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("JWT_SECRET", JWT_SECRET),
            ("GATEWAY_SECRET", GATEWAY_SECRET),
            ("METRICS_TOKEN", METRICS_TOKEN),
            ("LOG_FORMAT", "json"),
        ],
    );
    let admin = Admin::login(&gw.base, "admin", ADMIN_PASSWORD).await;
    let p = setup_provider(&admin, "mockai", "openai_chat", format!("http://{mock}/v1")).await;
    add_model(&admin, "ok", &p, "mock-text").await;
    add_model(&admin, "boom", &p, "mock-error-500").await;
    let (_, free) = admin.post("/api/admin/keys", json!({"name": "free"})).await;
    let (_, tight) = admin.post("/api/admin/keys", json!({"name": "tight", "rpm_limit": 2})).await;
    let (free, tight) = (free["key"].as_str().unwrap(), tight["key"].as_str().unwrap());

    // The script: 3 JSON and 2 streamed successes, 2 bad keys, 1 upstream 500, and a key with
    // rpm 2 sending 3 (2 successes, 1 refused).
    let mut ids = Vec::new();
    for stream in [false, false, false, true, true] {
        let (status, id, body) = chat(&gw, free, "ok", stream).await;
        assert_eq!(status, 200, "{body}");
        ids.push(id);
    }
    for _ in 0..2 {
        assert_eq!(chat(&gw, "sk-not-a-key", "ok", false).await.0, 401);
    }
    assert_eq!(chat(&gw, free, "boom", false).await.0, 502);
    let statuses = [
        chat(&gw, tight, "ok", false).await.0,
        chat(&gw, tight, "ok", false).await.0,
        chat(&gw, tight, "ok", false).await.0,
    ];
    assert_eq!(statuses, [200, 200, 429]);

    let (status, _) = scrape(&gw, None).await;
    assert_eq!(status, 401, "metrics need the token when one is configured");
    assert_eq!(scrape(&gw, Some("wrong")).await.0, 401);
    let ep = r#"endpoint="/v1/chat/completions""#;
    let deadline = Instant::now() + Duration::from_secs(10);
    let text = loop {
        let (status, text) = scrape(&gw, Some(METRICS_TOKEN)).await;
        assert_eq!(status, 200);
        let done = sample(&text, &format!("llm_gateway_request_duration_seconds_count{{{ep}}}"));
        if done == 10.0 || Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let req = |labels: &str| sample(&text, &format!("llm_gateway_requests_total{{{ep},{labels}}}"));
    assert_eq!(req(r#"model="ok",provider="mockai",status="200""#), 7.0, "{text}");
    assert_eq!(req(r#"model="",provider="",status="401""#), 2.0, "{text}");
    assert_eq!(req(r#"model="boom",provider="mockai",status="502""#), 1.0, "{text}");
    assert_eq!(req(r#"model="ok",provider="",status="429""#), 1.0, "{text}");
    let total: f64 = text
        .lines()
        .filter(|l| l.starts_with("llm_gateway_requests_total{"))
        .map(|l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
        .sum();
    assert_eq!(total, 11.0, "every request counted once:\n{text}");
    let hist =
        |name: &str, part: &str| sample(&text, &format!("llm_gateway_{name}_{part}{{{ep}}}"));
    assert_eq!(hist("request_duration_seconds", "count"), 11.0);
    assert_eq!(
        sample(&text, &format!(r#"llm_gateway_request_duration_seconds_bucket{{{ep},le="+Inf"}}"#)),
        11.0
    );
    assert_eq!(hist("time_to_first_token_seconds", "count"), 2.0, "the two streams");
    let tokens = |model: &str, dir: &str| {
        sample(&text, &format!(r#"llm_gateway_tokens_total{{model="{model}",direction="{dir}"}}"#))
    };
    let (input, output) = (mock_upstream::USAGE_INPUT as f64, mock_upstream::USAGE_OUTPUT as f64);
    assert_eq!((tokens("ok", "input"), tokens("ok", "output")), (7.0 * input, 7.0 * output));
    assert_eq!(
        sample(
            &text,
            r#"llm_gateway_upstream_errors_total{provider="mockai",kind="upstream_error"}"#
        ),
        1.0
    );
    assert_eq!(sample(&text, r#"llm_gateway_limiter_rejections_total{limit="requests"}"#), 1.0);
    assert!(text.contains("llm_gateway_breaker_state{target="), "{text}");
    assert!(text.lines().any(|l| l.starts_with("llm_gateway_log_queue_depth ")), "{text}");
    for line in text.lines().filter(|l| !l.starts_with('#')) {
        let value = line.rsplit(' ').next().unwrap();
        assert!(value.parse::<f64>().is_ok(), "not a sample line: {line}");
    }

    // JSON logs: every line is JSON; each request above has its access line with its id.
    let lines = gw.stop();
    let parsed: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    for id in &ids {
        let found = parsed
            .iter()
            .any(|l| l["fields"]["message"] == "request" && l["span"]["request_id"] == id.as_str());
        assert!(found, "no access line with request_id {id}");
    }
    let access = parsed.iter().filter(|l| l["fields"]["message"] == "request");
    for line in access {
        assert!(line["span"]["request_id"].is_string(), "access line without request id: {line}");
    }
    // No secret in any line: the keys, the provider credential, the passwords, the JWT.
    for secret in
        [free, tight, PROVIDER_KEY, ADMIN_PASSWORD, JWT_SECRET, GATEWAY_SECRET, METRICS_TOKEN]
    {
        assert!(!lines.iter().any(|l| l.contains(secret)), "a log line contains {secret}");
    }
    assert!(!lines.iter().any(|l| l.contains(&admin.token)), "a log line contains the JWT");
}

/// The floats of a JSON vector equal `want` (to f32 precision: JSON text carries them as decimals).
fn assert_close(got: &Value, want: &[f32]) {
    let got: Vec<f64> = got.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()).collect();
    assert_eq!(got.len(), want.len(), "{got:?} vs {want:?}");
    for (g, w) in got.iter().zip(want) {
        assert!((g - f64::from(*w)).abs() < 1e-6, "{got:?} vs {want:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embeddings_route_to_openai_and_gemini_with_keys_limits_and_logs() {
    let (mock, mock_state, _dir, gw, admin) = gateway_and_mock().await;
    let oa = setup_provider(&admin, "oa", "openai_chat", format!("http://{mock}/v1")).await;
    let gm = setup_provider(&admin, "gm", "gemini", format!("http://{mock}/v1beta")).await;
    let an = setup_provider(&admin, "an", "anthropic_messages", format!("http://{mock}/v1")).await;
    add_model(&admin, "emb-oa", &oa, "text-embedding-mock").await;
    add_model(&admin, "emb-gm", &gm, "gemini-embedding-mock").await;
    add_model(&admin, "emb-an", &an, "claude-mock").await;
    add_model(&admin, "emb-500", &oa, "mock-error-500").await;
    let (_, key) = admin
        .post(
            "/api/admin/keys",
            json!({"name": "emb", "allowed_models": ["emb-oa", "emb-gm", "emb-an", "emb-500"]}),
        )
        .await;
    let key = key["key"].as_str().unwrap().to_owned();
    let client = reqwest::Client::new();
    let embed = |body: Value| {
        let request = client.post(gw.url("/v1/embeddings")).bearer_auth(&key).json(&body);
        async move {
            let r = request.send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };

    // OpenAI-compatible: passed through with the upstream's model id.
    let (status, body) = embed(json!({"model": "emb-oa", "input": ["one two", "three"]})).await;
    assert_eq!(status, 200, "{body}");
    assert_close(&body["data"][1]["embedding"], &mock_upstream::embeddings::vector("three", 8));
    assert_eq!(body["usage"]["prompt_tokens"], 3);
    let sent = mock_state.last("/v1/embeddings").unwrap();
    assert_eq!(sent["model"], "text-embedding-mock");

    // Gemini: one input → embedContent, several → batchEmbedContents; floats or base64.
    let (status, body) = embed(json!({"model": "emb-gm", "input": "hello", "dimensions": 3})).await;
    assert_eq!(status, 200, "{body}");
    assert_close(&body["data"][0]["embedding"], &mock_upstream::embeddings::vector("hello", 3));
    assert_eq!((body["object"].as_str(), body["model"].as_str()), (Some("list"), Some("emb-gm")));
    assert!(mock_state.last(":embedContent").is_some());
    let (status, body) =
        embed(json!({"model": "emb-gm", "input": ["a", "b"], "encoding_format": "base64"})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["data"][1]["embedding"].is_string(), "{body}");
    let batch = mock_state.last(":batchEmbedContents").unwrap();
    assert_eq!(batch["requests"][0]["model"], "models/gemini-embedding-mock");

    // Errors in OpenAI's shape.
    let (status, body) = embed(json!({"model": "emb-an", "input": "x"})).await;
    assert_eq!((status, body["error"]["param"].as_str()), (400, Some("model")), "{body}");
    let (status, body) = embed(json!({"model": "emb-oa", "input": []})).await;
    assert_eq!((status, body["error"]["type"].as_str()), (400, Some("invalid_request_error")));
    let (status, body) = embed(json!({"model": "emb-gm", "input": [[1, 2]]})).await;
    assert_eq!(status, 400, "token ids cannot go to Gemini: {body}");
    let (status, _) = embed(json!({"model": "emb-500", "input": "x"})).await;
    assert_eq!(status, 502);
    let (status, body) = embed(json!({"model": "ok-but-not-allowed", "input": "x"})).await;
    assert_eq!(status, 403, "{body}");

    // Logged like chat: endpoint, tokens and cost.
    let logs = logged(&admin, 8).await;
    let ok: Vec<&Value> = logs.iter().filter(|l| l["status"] == 200).collect();
    assert_eq!(ok.len(), 3, "{logs:?}");
    assert!(
        ok.iter()
            .all(|l| l["endpoint"] == "/v1/embeddings" && l["input_tokens"].as_i64() > Some(0))
    );
    assert!(ok.iter().all(|l| l["cost_usd"].as_f64() > Some(0.0)), "{ok:?}");
}

/// An OpenAI caller's JSON schema reaches an Anthropic upstream as structured output, fitted the
/// way the API requires (the mock refuses open objects and unenforced constraints as it does), and
/// an Anthropic caller's reaches an OpenAI upstream as `response_format`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn structured_output_crosses_between_openai_and_anthropic() {
    let (mock, mock_state, _dir, gw, admin) = gateway_and_mock().await;
    let an = setup_provider(&admin, "an", "anthropic_messages", format!("http://{mock}/v1")).await;
    let oa = setup_provider(&admin, "oa", "openai_chat", format!("http://{mock}/v1")).await;
    add_model(&admin, "claude", &an, "claude-mock").await;
    add_model(&admin, "gpt", &oa, "gpt-mock").await;
    let (_, key) = admin.post("/api/admin/keys", json!({"name": "so"})).await;
    let key = key["key"].as_str().unwrap().to_owned();
    let client = reqwest::Client::new();
    let schema = json!({"type": "object", "required": ["city"], "properties": {
        "city": {"type": "string", "maxLength": 80},
        "stops": {"type": "array", "items": {"type": "object", "properties": {
            "n": {"type": "integer", "minimum": 1}}}}}});

    // A closed schema is what the mock (like the API) insists on: sent as it is, it is refused.
    let direct = post_messages(
        format!("http://{mock}/v1/messages"),
        "k",
        &json!({"model": "claude-mock", "max_tokens": 64,
            "messages": [{"role": "user", "content": "hi"}],
            "output_config": {"format": {"type": "json_schema", "schema": schema}}}),
    )
    .await;
    assert_eq!(direct.status(), 400, "{}", direct.text().await.unwrap());

    let r = client
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&json!({"model": "claude", "messages": [{"role": "user", "content": "Plan a trip"}],
            "response_format": {"type": "json_schema",
                "json_schema": {"name": "trip", "schema": schema, "strict": false}}}))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    let sent = mock_state.last("/v1/messages").unwrap();
    assert_eq!(
        sent["output_config"]["format"]["schema"],
        json!({"type": "object", "required": ["city"], "additionalProperties": false, "properties": {
            "city": {"type": "string"},
            "stops": {"type": "array", "items": {"type": "object", "additionalProperties": false,
                "properties": {"n": {"type": "integer"}}}}}}),
        "{sent}"
    );
    assert_eq!(sent["output_config"]["format"]["type"], "json_schema");

    let closed = sent["output_config"]["format"]["schema"].clone();
    let r = post_messages(
        gw.url("/v1/messages"),
        &key,
        &json!({"model": "gpt", "max_tokens": 64,
            "messages": [{"role": "user", "content": "Plan a trip"}],
            "output_config": {"format": {"type": "json_schema", "schema": closed}}}),
    )
    .await;
    let status = r.status().as_u16();
    let body: Value = r.json().await.unwrap();
    assert_eq!(status, 200, "{body}");
    let sent_openai = mock_state.last("/v1/chat/completions").unwrap();
    assert_eq!(sent_openai["response_format"]["type"], "json_schema", "{sent_openai}");
    assert_eq!(sent_openai["response_format"]["json_schema"]["schema"], closed);
}

/// The error shape a path's callers get.
fn check_shape(path: &str, status: u16, body: &Value, context: &str) {
    let data = path.strip_prefix("/v1").unwrap_or(path);
    if data == "/messages" || data.starts_with("/messages/") {
        assert_eq!(body["type"], "error", "{context}: {body}");
        assert!(body["error"]["message"].is_string(), "{context}: {body}");
    } else if gateway_core::routes::is_gemini(path) {
        assert_eq!(body["error"]["code"].as_u64(), Some(u64::from(status)), "{context}: {body}");
        assert!(body["error"]["status"].is_string(), "{context}: {body}");
        assert!(body["error"]["message"].is_string(), "{context}: {body}");
    } else if path.starts_with("/v1/") {
        assert!(body["error"]["message"].is_string(), "{context}: {body}");
        assert!(body["error"]["type"].is_string(), "{context}: {body}");
    } else {
        assert!(body["error"]["code"].is_string(), "{context}: {body}");
        assert!(body["error"]["message"].is_string(), "{context}: {body}");
    }
    assert!((400..500).contains(&status), "{context}: {status} {body}");
}

fn concrete(template: &str) -> String {
    template.replace("{id}", "no-such-id").replace("{model}", "no-such-model")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_input_on_every_route_gets_a_4xx_in_its_protocol_and_the_server_stays_up() {
    let (_dir, db) = temp_db();
    let gw = GatewayProcess::start(
        &db,
        &[
            ("ADMIN_PASSWORD", ADMIN_PASSWORD),
            ("MAX_BODY_BYTES", "65536"),
            ("ADMIN_CORS_ORIGINS", "https://admin.example.com"),
        ],
    );
    let admin = Admin::login(&gw.base, "admin", ADMIN_PASSWORD).await;
    let (_, key) = admin.post("/api/admin/keys", json!({"name": "k"})).await;
    let key = key["key"].as_str().unwrap().to_owned();
    let client = reqwest::Client::new();
    // Authenticated: a request its headers refuse (no key) is answered before its body is read.
    let auth = |path: &str, r: reqwest::RequestBuilder| {
        if path.starts_with("/v1/") || path.starts_with("/v1beta/") {
            r.bearer_auth(&key)
        } else if path.starts_with("/api/") {
            r.bearer_auth(&admin.token)
        } else {
            r
        }
    };
    let send = |method: &str, path: &str, body: Vec<u8>, headers: usize| {
        let mut r = auth(
            path,
            client.request(Method::from_bytes(method.as_bytes()).unwrap(), gw.url(path)),
        )
        .header("content-type", "application/json")
        .body(body);
        for i in 0..headers {
            r = r.header(format!("x-filler-{i}"), "x");
        }
        async move {
            let r = r.send().await.unwrap();
            let status = r.status().as_u16();
            let text = r.text().await.unwrap();
            (status, serde_json::from_str::<Value>(&text).unwrap_or(Value::String(text)))
        }
    };
    let too_big = vec![b' '; 65537];
    let deep = format!("{}{}", "[".repeat(200), "]".repeat(200)).into_bytes();
    for (method, template, _) in gateway_core::routes::ROUTES {
        let method = &method.as_str();
        if *template == "/api/auth/logout" {
            continue; // would end the session this test uses; covered by e2e
        }
        let path = concrete(template);
        let ctx = |what: &str| format!("{what} on {method} {path}");
        let (status, body) = send(method, &path, too_big.clone(), 0).await;
        assert_eq!(status, 413, "{}: {body}", ctx("oversized body"));
        check_shape(&path, status, &body, &ctx("oversized body"));
        let (status, body) = send(method, &path, deep.clone(), 0).await;
        assert_eq!(status, 400, "{}: {body}", ctx("deep JSON"));
        check_shape(&path, status, &body, &ctx("deep JSON"));
        let (status, body) = send(method, &path, b"{}".to_vec(), 70).await;
        assert_eq!(status, 431, "{}: {body}", ctx("too many headers"));
        check_shape(&path, status, &body, &ctx("too many headers"));
        let r = auth(
            &path,
            client.request(Method::from_bytes(method.as_bytes()).unwrap(), gw.url(&path)),
        )
        .header("x-huge", "h".repeat(40 * 1024));
        let r = r.send().await.unwrap();
        let status = r.status().as_u16();
        let body: Value = r.json().await.unwrap();
        assert_eq!(status, 431, "{}: {body}", ctx("a 40 KiB header"));
        check_shape(&path, status, &body, &ctx("a 40 KiB header"));
        if matches!(*method, "POST" | "PUT" | "PATCH") {
            let (status, body) = send(method, &path, b"{\"model\": ".to_vec(), 0).await;
            check_shape(&path, status, &body, &ctx("truncated JSON"));
            let (status, body) = send(method, &path, b"\xff\xfe[1,2".to_vec(), 0).await;
            check_shape(&path, status, &body, &ctx("bytes that are not UTF-8"));
            let (status, body) = send(method, &path, b"[1,2,3]".to_vec(), 0).await;
            check_shape(&path, status, &body, &ctx("a JSON array body"));
        }
    }
    // Unknown paths and methods, in each family.
    for (method, path, want) in [
        ("GET", "/v1/nope", 404),
        ("GET", "/v1/messages", 405),
        ("DELETE", "/v1/chat/completions", 405),
        ("GET", "/api/admin/nope", 404),
        ("POST", "/api/admin/keys/x", 405),
        ("GET", "/public/health/nope", 404),
        ("POST", "/metrics", 405),
    ] {
        let (status, body) = send(method, path, Vec::new(), 0).await;
        assert_eq!(status, want, "{method} {path}: {body}");
        check_shape(path, status, &body, &format!("{method} {path}"));
    }
    let r = client.get(gw.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), 200, "the server is still healthy");
    assert!(!gw.log_lines().iter().any(|l| l.contains("panicked")), "a handler panicked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_route_table_is_what_the_server_serves_and_the_openapi_document_says() {
    let (_dir, db) = temp_db();
    let gw = GatewayProcess::start(
        &db,
        &[("ADMIN_PASSWORD", ADMIN_PASSWORD), ("ADMIN_CORS_ORIGINS", "https://admin.example.com")],
    );
    let admin = Admin::login(&gw.base, "admin", ADMIN_PASSWORD).await;
    let client = reqwest::Client::new();

    // The document the server serves is the one in the repository.
    let served: Value =
        client.get(gw.url("/api/openapi.json")).send().await.unwrap().json().await.unwrap();
    let file: Value = serde_json::from_str(gateway_core::routes::OPENAPI).unwrap();
    assert_eq!(served, file);
    let documented: BTreeSet<(String, String)> = file["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(p, item)| {
            item.as_object().unwrap().keys().map(move |m| (m.to_uppercase(), p.clone()))
        })
        .collect();

    // Each documented route reaches a handler (no "route not found", no 405); every other method
    // on a documented path is refused with 405.
    let methods = ["GET", "POST", "PUT", "PATCH", "DELETE"];
    let templates: BTreeSet<&String> = documented.iter().map(|(_, p)| p).collect();
    for template in templates {
        if template == "/api/auth/logout" {
            continue;
        }
        let path = concrete(template);
        for method in methods {
            let mut r = client
                .request(Method::from_bytes(method.as_bytes()).unwrap(), gw.url(&path))
                .bearer_auth(&admin.token);
            if matches!(method, "POST" | "PUT" | "PATCH") {
                r = r.json(&json!({}));
            }
            let r = r.send().await.unwrap();
            let status = r.status().as_u16();
            let body: Value = r.json().await.unwrap_or(Value::Null);
            let route_missing =
                status == 404 && body.to_string().contains(&format!("route {path}"));
            if documented.contains(&(method.to_owned(), template.clone())) {
                assert!(
                    !route_missing && status != 405,
                    "{method} {path} is documented but not served: {status} {body}"
                );
            } else {
                assert_eq!(status, 405, "{method} {path} is served but not documented: {body}");
            }
        }
    }

    // Admin CORS: configured origins only.
    let preflight = |origin: &str| {
        client
            .request(Method::OPTIONS, gw.url("/api/admin/models"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .send()
    };
    let ok = preflight("https://admin.example.com").await.unwrap();
    assert_eq!(ok.status(), 204);
    assert_eq!(ok.headers()["access-control-allow-origin"], "https://admin.example.com");
    assert!(
        ok.headers()["access-control-allow-headers"].to_str().unwrap().contains("authorization")
    );
    let evil = preflight("https://evil.example.com").await.unwrap();
    assert_eq!(evil.status(), 403);
    assert!(evil.headers().get("access-control-allow-origin").is_none());
    for (origin, allowed) in
        [("https://admin.example.com", true), ("https://evil.example.com", false)]
    {
        let r = client
            .get(gw.url("/api/admin/models"))
            .bearer_auth(&admin.token)
            .header("origin", origin)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers().get("access-control-allow-origin").is_some(), allowed, "{origin}");
    }
}

/// A `POST /v1/messages` as Anthropic clients send it (key in `x-api-key`, a version header).
async fn post_messages(url: String, key: &str, body: &Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(url)
        .header("x-api-key", key)
        .header("anthropic-version", "2023-06-01")
        .json(body)
        .send()
        .await
        .unwrap()
}

/// Waits until the logs hold `n` rows and returns them, newest first.
async fn logged(admin: &Admin, n: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, logs) = admin.get("/api/admin/logs?page_size=100").await;
        let rows = logs["data"].as_array().unwrap().clone();
        if rows.len() >= n || Instant::now() > deadline {
            return rows;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Claude Code's breakpoints reach Anthropic through a virtual model whose prompt rule rewrites
/// the request (the rule's text goes before them, the marks stay on what the caller marked); an
/// OpenAI caller's `prompt_cache_key` asks Anthropic to cache the conversation; the mock writes
/// the prefix once and reads it after, and the usage, the logged tokens, the cost and the savings
/// are what a hand computation at the model's four prices gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_caching_survives_rules_and_translation_and_is_priced_exactly() {
    let (mock, mock_state, _dir, gw, admin) = gateway_and_mock().await;
    let an = setup_provider(&admin, "an", "anthropic_messages", format!("http://{mock}/v1")).await;
    let (status, m) = admin
        .post(
            "/api/admin/models",
            json!({"name": "claude", "provider_id": an, "upstream_model": "claude-mock",
                   "input_cost_per_token": 3e-6, "output_cost_per_token": 15e-6,
                   "cached_input_cost_per_token": 0.3e-6, "cache_write_cost_per_token": 3.75e-6}),
        )
        .await;
    assert_eq!(status, 201, "{m}");
    let rules = json!([{"op": "system_prepend", "template": "Policy for {{key_name}}."},
                       {"op": "append", "template": "Be exact."}]);
    let targets = json!([{"provider_id": an, "model": "claude-mock"}]);
    let vm =
        json!({"name": "claude-ruled", "strategy": "priority", "targets": targets, "rules": rules});
    let (status, body) = admin.post("/api/admin/virtual-models", vm).await;
    assert_eq!(status, 201, "{body}");
    let (_, key) = admin.post("/api/admin/keys", json!({"name": "cache"})).await;
    let key = key["key"].as_str().unwrap().to_owned();
    let client = reqwest::Client::new();
    let bad = admin
        .post(
            "/api/admin/models",
            json!({"name": "x", "provider_id": an,
        "cache_write_cost_per_token": -1}),
        )
        .await;
    assert_eq!(
        (bad.0, bad.1["error"]["field"].as_str()),
        (400, Some("cache_write_cost_per_token"))
    );

    let ephemeral = json!({"type": "ephemeral"});
    let messages_body = |stream: bool| {
        json!({"model": "claude-ruled", "max_tokens": 64, "stream": stream,
            "system": [{"type": "text", "text": "You are a coding agent."},
                       {"type": "text", "text": "Long stable instructions.", "cache_control": ephemeral}],
            "messages": [
                {"role": "user", "content": [{"type": "text", "text": "Read the file", "cache_control": ephemeral}]}]})
    };
    let mut usages = Vec::new();
    for stream in [false, true] {
        let r = post_messages(gw.url("/v1/messages"), &key, &messages_body(stream)).await;
        assert_eq!(r.status(), 200);
        let text = r.text().await.unwrap();
        let usage = if stream {
            let start = text
                .lines()
                .find(|l| l.starts_with("data:") && l.contains("message_start"))
                .unwrap();
            let start: Value = serde_json::from_str(start.trim_start_matches("data: ")).unwrap();
            start["message"]["usage"].clone()
        } else {
            serde_json::from_str::<Value>(&text).unwrap()["usage"].clone()
        };
        usages.push(usage);
        let sent = mock_state.last("/v1/messages").unwrap();
        let system = sent["system"].as_array().unwrap();
        assert_eq!(system[0]["text"], "Policy for cache.", "the rule's text first: {sent}");
        assert!(system[0].get("cache_control").is_none(), "{sent}");
        assert_eq!(system[2]["cache_control"], ephemeral, "the caller's mark stays on its text");
        let content = sent["messages"][0]["content"].as_array().unwrap();
        assert_eq!(content[0]["cache_control"], ephemeral, "{sent}");
        assert!(content.last().unwrap()["text"].as_str().unwrap().contains("Be exact."));
    }
    assert_eq!(
        (&usages[0]["cache_creation_input_tokens"], &usages[0]["cache_read_input_tokens"]),
        (&json!(16), &json!(0)),
        "the first request writes the prefix: {usages:?}"
    );
    assert_eq!(
        (&usages[1]["cache_creation_input_tokens"], &usages[1]["cache_read_input_tokens"]),
        (&json!(0), &json!(16)),
        "the second reads it: {usages:?}"
    );
    assert_eq!(usages[1]["input_tokens"], 5);

    // A malformed breakpoint is refused in the caller's protocol, naming it.
    let mut bad = messages_body(false);
    bad["system"][1]["cache_control"] = json!({"type": "persistent"});
    let r = post_messages(gw.url("/v1/messages"), &key, &bad).await;
    assert_eq!(r.status(), 400);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["type"], "error", "{body}");
    assert!(
        body["error"]["message"].as_str().unwrap().contains("system[1].cache_control.type"),
        "{body}"
    );

    // OpenAI callers: a cache key asks for caching; usage carries reads and writes in Chat's places.
    let mut chat_usage = Vec::new();
    for _ in 0..2 {
        let r = client
            .post(gw.url("/v1/chat/completions"))
            .bearer_auth(&key)
            .json(&json!({"model": "claude", "prompt_cache_key": "repo-42",
                "messages": [{"role": "system", "content": "Stable."}, {"role": "user", "content": "Hi"}]}))
            .send()
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap();
        chat_usage.push(body["usage"].clone());
    }
    let sent = mock_state.last("/v1/messages").unwrap();
    assert_eq!(sent["cache_control"], ephemeral, "{sent}");
    assert_eq!(chat_usage[0]["prompt_tokens"], 21, "{chat_usage:?}");
    assert_eq!(chat_usage[0]["prompt_tokens_details"]["cache_write_tokens"], 16);
    assert_eq!(chat_usage[1]["prompt_tokens_details"]["cached_tokens"], 16);
    assert_eq!(chat_usage[1]["prompt_tokens_details"]["cache_write_tokens"], 0);
    // Responses callers, streamed: in `input_tokens_details`, of the final response.
    let mut responses_usage = Vec::new();
    for _ in 0..2 {
        let r = client
            .post(gw.url("/v1/responses"))
            .bearer_auth(&key)
            .json(&json!({"model": "claude", "prompt_cache_key": "repo-43", "stream": true,
                "instructions": "Another stable prompt.", "input": "Hi"}))
            .send()
            .await
            .unwrap();
        let text = r.text().await.unwrap();
        let done =
            text.lines().find(|l| l.starts_with("data:") && l.contains("response.completed"));
        let done: Value = serde_json::from_str(done.unwrap().trim_start_matches("data: ")).unwrap();
        responses_usage.push(done["response"]["usage"]["input_tokens_details"].clone());
    }
    assert_eq!(
        responses_usage,
        [
            json!({"cached_tokens": 0, "cache_write_tokens": 16}),
            json!({"cached_tokens": 16, "cache_write_tokens": 0})
        ]
    );

    // Logged: all four token counts, the cost at four prices and what caching saved.
    let rows = logged(&admin, 7).await;
    let ok: Vec<&Value> = rows.iter().filter(|r| r["status"] == 200).collect();
    assert_eq!(ok.len(), 6, "{rows:?}");
    let close = |a: &Value, b: f64| (a.as_f64().unwrap() - b).abs() < 1e-12;
    for row in &ok {
        let (read, write) =
            (row["cached_tokens"].as_i64().unwrap(), row["cache_write_tokens"].as_i64().unwrap());
        assert_eq!((row["input_tokens"].as_i64(), read + write), (Some(21), 16), "{row}");
        let cost = (21 - read - write) as f64 * 3e-6
            + read as f64 * 0.3e-6
            + write as f64 * 3.75e-6
            + 9.0 * 15e-6;
        assert!(close(&row["cost_usd"], cost), "{row} vs {cost}");
        let saved = read as f64 * (3e-6 - 0.3e-6) - write as f64 * (3.75e-6 - 3e-6);
        assert!(close(&row["cache_savings_usd"], saved), "{row} vs {saved}");
    }
    // The dashboard's figures: three reads of 16 out of 126 input tokens.
    let (_, stats) = admin.get("/api/admin/stats").await;
    let totals = &stats["totals"];
    assert_eq!((&totals["cached_tokens"], &totals["cache_write_tokens"]), (&json!(48), &json!(48)));
    assert_eq!(totals["cache_hit_share"], 38.1, "{totals}");
    let saved = 3.0 * 16.0 * (3e-6 - 0.3e-6) - 3.0 * 16.0 * 0.75e-6;
    assert!(close(&totals["cache_savings_usd"], saved), "{totals}");
}
