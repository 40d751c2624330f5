//! The black-box suite every host must pass unchanged: admin login; provider, model and key through
//! the admin API; chat completions, messages and Gemini-native streaming (chunks checked to arrive
//! as the upstream sends them) and not; Bedrock, Vertex AI and Azure Entra ID auth; relayed
//! OpenAI endpoints (audio bytes, a multipart upload); token counting and model lookups; 400 / 401 / 403 / 429;
//! answers whose upstream reports no usage still charged (and marked); a client address written
//! into `X-Forwarded-For` that a trusted proxy did not append is not believed (hosts run with
//! `TRUSTED_PROXIES=127.0.0.1/32`); a scheduled tick runs; the request log is written.
//! It speaks HTTP only, to whatever base URL the host test gives it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use futures::StreamExt;
use futures::future::BoxFuture;
use serde_json::{Value, json};

use super::client::Admin;

/// Upstream delay between stream chunks the suite expects the mock to use.
pub const CHUNK_DELAY: Duration = Duration::from_millis(120);

/// A mock upstream for the suite: streams with a pause between chunks.
pub async fn mock() -> std::net::SocketAddr {
    let config = mock_upstream::MockConfig { chunk_delay: CHUNK_DELAY, ..Default::default() };
    mock_upstream::spawn(config, 0).await.unwrap().0
}

pub struct Host<'a> {
    pub name: &'a str,
    pub base: String,
    pub admin_password: &'a str,
    /// The mock's base URL as the host reaches it (`http://127.0.0.1:PORT`).
    pub mock: String,
    /// Makes the host run its scheduled jobs once.
    pub tick: Box<dyn Fn() -> BoxFuture<'static, ()> + Send + Sync + 'a>,
    /// The host serves one request at a time (one Lambda execution environment): two requests at
    /// once are served one after the other, so a one-slot key serves both.
    pub serial: bool,
}

async fn post(base: &str, path: &str, key: &str, body: Value) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}{path}"))
        .bearer_auth(key)
        .json(&body)
        .send()
        .await
        .unwrap()
}

/// Reads a streamed body; returns the text and how far apart the first and last chunks arrived.
async fn read_stream(response: reqwest::Response) -> (String, usize, Duration) {
    let mut body = response.bytes_stream();
    let mut text = String::new();
    let (mut first, mut last, mut chunks) = (None, Instant::now(), 0);
    while let Some(chunk) = body.next().await {
        let chunk = chunk.unwrap();
        if chunk.is_empty() {
            continue;
        }
        let now = Instant::now();
        first.get_or_insert(now);
        last = now;
        chunks += 1;
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    (text, chunks, first.map_or(Duration::ZERO, |f| last - f))
}

/// Waits out the end of a UTC minute, so per-minute limits count the suite's requests in one window.
async fn clear_of_minute_boundary() {
    let second =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() % 60;
    if second > 40 {
        tokio::time::sleep(Duration::from_secs(61 - second)).await;
    }
}

pub async fn run(host: Host<'_>) {
    clear_of_minute_boundary().await;
    let name = host.name;
    let base = host.base.clone();
    let admin = Admin::login(&base, "admin", host.admin_password).await;
    let (status, provider) = admin
        .post(
            "/api/admin/providers",
            json!({"name": "mock-openai", "base_url": format!("{}/v1", host.mock), "api_key": "k"}),
        )
        .await;
    assert_eq!(status, 201, "{name}: {provider}");
    let (_, anthropic) = admin
        .post("/api/admin/providers", json!({"name": "mock-anthropic", "protocol": "anthropic_messages", "base_url": format!("{}/v1", host.mock), "api_key": "k"}))
        .await;
    for (model, p, upstream) in [
        ("gpt", &provider, "mock-text"),
        ("claude", &anthropic, "mock-text"),
        ("slow", &provider, "mock-slow-1000"),
        ("quiet", &provider, "mock-no-usage"),
    ] {
        let (status, m) = admin
            .post("/api/admin/models", json!({"name": model, "provider_id": p["id"], "upstream_model": upstream, "output_cost_per_token": 0.000001}))
            .await;
        assert_eq!(status, 201, "{name}: {m}");
    }
    let (_, key) = admin.post("/api/admin/keys", json!({"name": "suite", "rpm_limit": 8})).await;
    let key_id = key["id"].as_str().unwrap().to_owned();
    let key = key["key"].as_str().unwrap().to_owned();

    // Chat completions, JSON, through translation to the Anthropic upstream.
    let chat = json!({"model": "claude", "messages": [{"role": "user", "content": "ping"}]});
    let response = post(&base, "/v1/chat/completions", &key, chat.clone()).await;
    assert_eq!(response.status(), 200, "{name}");
    let request_id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    let body: Value = response.json().await.unwrap();
    assert!(
        body["choices"][0]["message"]["content"].as_str().unwrap().contains("You said: ping"),
        "{name}: {body}"
    );

    // Chat completions, streamed: chunks arrive as the upstream sends them.
    let mut stream = chat.clone();
    stream["stream"] = true.into();
    stream["model"] = "gpt".into();
    let response = post(&base, "/v1/chat/completions", &key, stream).await;
    assert_eq!(response.status(), 200, "{name}");
    let (text, chunks, spread) = read_stream(response).await;
    assert!(text.trim_end().ends_with("data: [DONE]"), "{name}: {text}");
    assert!(
        chunks >= 3 && spread >= CHUNK_DELAY * 3,
        "{name}: {chunks} chunks over {spread:?}: not incremental"
    );

    // Messages, JSON and streamed (translated from the OpenAI upstream).
    let messages = json!({"model": "gpt", "max_tokens": 50, "messages": [{"role": "user", "content": "ping"}]});
    let response = post(&base, "/v1/messages", &key, messages.clone()).await;
    assert_eq!(response.status(), 200, "{name}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["type"], "message", "{name}: {body}");
    let mut streamed = messages;
    streamed["stream"] = true.into();
    let (text, chunks, spread) =
        read_stream(post(&base, "/v1/messages", &key, streamed).await).await;
    assert!(text.contains("event: message_stop"), "{name}: {text}");
    assert!(chunks >= 3 && spread >= CHUNK_DELAY * 3, "{name}: messages stream not incremental");

    // Errors, each in its protocol's shape.
    let client = reqwest::Client::new();
    let r = client.post(format!("{base}/v1/chat/completions")).json(&chat).send().await.unwrap();
    assert_eq!(r.status(), 401, "{name}");
    let r = client
        .post(format!("{base}/v1/messages"))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body("{oops")
        .send()
        .await
        .unwrap();
    let (status, body) = (r.status(), r.text().await.unwrap_or_default());
    assert_eq!(status, 400, "{name}: {body}");
    let body: Value = serde_json::from_str(&body).unwrap_or_default();
    assert_eq!(body["type"], "error", "{name}: Anthropic error shape");
    let (status, limited) = admin
        .post("/api/admin/keys", json!({"name": "one-model", "allowed_models": ["gpt"]}))
        .await;
    assert_eq!(status, 201, "{name}: {limited}");
    let r =
        post(&base, "/v1/chat/completions", limited["key"].as_str().unwrap(), chat.clone()).await;
    assert_eq!(r.status(), 403, "{name}");
    // The suite's key allows 8 requests a minute; 4 are used: the 5th to 8th pass, the 9th is 429.
    let mut statuses = Vec::new();
    for _ in 0..5 {
        statuses
            .push(post(&base, "/v1/chat/completions", &key, chat.clone()).await.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 200, 200, 429], "{name}");

    concurrency_and_budget(&host, &admin).await;
    unreported_usage(&host, &admin).await;
    forwarded_addresses(&host, &admin).await;
    response_cache(&host, &admin).await;
    clouds(&host, &admin).await;
    relayed(&host, &admin).await;

    // The request log has the first request with its tokens.
    let mut logged = Value::Null;
    for _ in 0..100 {
        let (_, page) = admin.get(&format!("/api/admin/logs?request_id={request_id}")).await;
        if let Some(row) = page["data"].as_array().and_then(|rows| rows.first()) {
            logged = row.clone();
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        (logged["input_tokens"].as_i64(), logged["output_tokens"].as_i64()),
        (Some(21), Some(9)),
        "{name}: {logged}"
    );
    assert_eq!(logged["key_id"], key_id.as_str());

    // Embeddings (OpenAI-compatible upstream), metrics, the OpenAPI document, the body limit.
    let one_model = limited["key"].as_str().unwrap();
    let r =
        post(&base, "/v1/embeddings", one_model, json!({"model": "gpt", "input": ["a b", "c"]}))
            .await;
    assert_eq!(r.status(), 200, "{name}");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["data"].as_array().map(Vec::len), Some(2), "{name}: {body}");
    assert_eq!(body["usage"]["prompt_tokens"], 3, "{name}: {body}");
    // Gemini-native ingress (streamed as the upstream sends), token counting, a model lookup.
    let gemini = json!({"contents": [{"role": "user", "parts": [{"text": "ping"}]}]});
    let r = client
        .post(format!("{base}/v1beta/models/gpt:streamGenerateContent?alt=sse"))
        .header("x-goog-api-key", one_model)
        .json(&gemini)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{name}");
    let (text, chunks, spread) = read_stream(r).await;
    assert!(text.contains("\"finishReason\":\"STOP\""), "{name}: {text}");
    assert!(chunks >= 3 && spread >= CHUNK_DELAY * 3, "{name}: Gemini stream not incremental");
    let count = json!({"model": "gpt", "messages": [{"role": "user", "content": "ping"}]});
    let r = post(&base, "/v1/messages/count_tokens", one_model, count).await;
    assert_eq!(r.status(), 200, "{name}");
    assert!(r.json::<Value>().await.unwrap()["input_tokens"].as_i64() > Some(0), "{name}");
    let r =
        client.get(format!("{base}/v1/models/gpt")).bearer_auth(one_model).send().await.unwrap();
    assert_eq!(r.json::<Value>().await.unwrap()["id"], "gpt", "{name}");
    let metrics = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), 200, "{name}");
    let metrics = metrics.text().await.unwrap();
    assert!(
        metrics.contains(r#"llm_gateway_requests_total{endpoint="/v1/embeddings",model="gpt",provider="mock-openai",status="200"} 1"#),
        "{name}: {metrics}"
    );
    let doc: Value =
        client.get(format!("{base}/api/openapi.json")).send().await.unwrap().json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0", "{name}");
    let r = client
        .post(format!("{base}/v1/messages"))
        .bearer_auth(&key)
        .header("content-type", "application/json")
        .body(vec![b' '; (10 << 20) + 1])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 413, "{name}: bodies over 10 MiB are refused");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["type"], "request_too_large", "{name}: Anthropic shape: {body}");

    // A scheduled tick runs the periodic jobs.
    let (_, before) = admin.get("/api/admin/settings").await;
    (host.tick)().await;
    let mut ran = false;
    for _ in 0..100 {
        let (_, now) = admin.get("/api/admin/settings").await;
        if !now["last_maintenance_at"].is_null()
            && now["last_maintenance_at"] != before["last_maintenance_at"]
        {
            ran = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(ran, "{name}: the scheduled tick did not run the periodic jobs");

    health_monitoring(&host, &admin).await;
}

/// A key's concurrency slot and budget, on whatever limit store the host uses: of two requests at
/// once on a one-slot key one is refused, and the slot is free again after; a budget of exactly two
/// requests (9 output tokens at 1e-6 USD, `max_tokens` 9: estimate = cost) admits two.
async fn concurrency_and_budget(host: &Host<'_>, admin: &Admin) {
    let (name, base) = (host.name, &host.base);
    let body = |model: &str| json!({"model": model, "max_tokens": 9, "messages": [{"role": "user", "content": "ping"}]});
    let (_, one) =
        admin.post("/api/admin/keys", json!({"name": "one-slot", "max_concurrent": 1})).await;
    let one = one["key"].as_str().unwrap();
    let (a, b) = tokio::join!(post(base, "/v1/chat/completions", one, body("slow")), async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        post(base, "/v1/chat/completions", one, body("gpt")).await
    });
    assert_eq!(a.status(), 200, "{name}");
    if host.serial {
        assert_eq!(b.status(), 200, "{name}: served after the first, whose slot was given back");
    } else {
        assert_eq!(b.status(), 429, "{name}: the slot is held");
        let b: Value = b.json().await.unwrap();
        assert_eq!(b["error"]["code"], "concurrency_limit", "{name}: {b}");
    }
    let mut freed = false;
    for _ in 0..50 {
        if post(base, "/v1/chat/completions", one, body("gpt")).await.status() == 200 {
            freed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(freed, "{name}: the slot was not given back");

    let (_, budget) = admin
        .post("/api/admin/keys", json!({"name": "two-requests", "budget_usd": 0.000018}))
        .await;
    let (id, budget) = (budget["id"].as_str().unwrap(), budget["key"].as_str().unwrap());
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses
            .push(post(base, "/v1/chat/completions", budget, body("gpt")).await.status().as_u16());
    }
    assert_eq!(statuses, [200, 200, 429], "{name}");
    let mut spent = 0.0;
    for _ in 0..50 {
        let (_, key) = admin.get(&format!("/api/admin/keys/{id}")).await;
        spent = key["usage"]["spent_usd"].as_f64().unwrap_or(0.0);
        if (spent - 0.000018).abs() < 1e-12 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{name}: the key shows {spent} spent, not 0.000018");
}

/// An upstream that reports no usage (a JSON answer without `usage`, a stream without its usage
/// chunk) is still paid for: the row is charged the estimate a cut stream would be, and says so.
async fn unreported_usage(host: &Host<'_>, admin: &Admin) {
    let (name, base) = (host.name, &host.base);
    let (_, key) = admin.post("/api/admin/keys", json!({"name": "quiet"})).await;
    let (id, key) = (key["id"].as_str().unwrap(), key["key"].as_str().unwrap());
    let ask = json!({"model": "quiet", "max_tokens": 9, "messages": [{"role": "user", "content": "ping"}]});
    let r = post(base, "/v1/chat/completions", key, ask.clone()).await;
    assert_eq!(r.status(), 200, "{name}");
    let mut streamed = ask;
    streamed["stream"] = true.into();
    streamed["stream_options"] = json!({"include_usage": true});
    let (text, _, _) = read_stream(post(base, "/v1/chat/completions", key, streamed).await).await;
    assert!(text.contains("[DONE]"), "{name}: {text}");
    let mut rows = Vec::new();
    for _ in 0..100 {
        let (_, page) = admin.get(&format!("/api/admin/logs?key_id={id}")).await;
        rows = page["data"].as_array().cloned().unwrap_or_default();
        if rows.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(rows.len(), 2, "{name}: {rows:?}");
    for row in rows {
        assert_eq!(row["usage_estimated"], true, "{name}: {row}");
        assert!(row["output_tokens"].as_i64() > Some(0), "{name}: {row}");
        assert!(row["cost_usd"].as_f64() > Some(0.0), "{name}: {row}");
    }
}

/// The host trusts the proxy at 127.0.0.1 (the suite itself, `TRUSTED_PROXIES`): the address it
/// appends to `X-Forwarded-For` is the client's, whatever the client wrote before it.
async fn forwarded_addresses(host: &Host<'_>, admin: &Admin) {
    let (name, base) = (host.name, &host.base);
    let (_, key) = admin
        .post("/api/admin/keys", json!({"name": "office", "allowed_ips": ["198.51.100.0/24"]}))
        .await;
    let key = key["key"].as_str().unwrap();
    let ask = |forwarded: &'static str| {
        reqwest::Client::new()
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(key)
            // What Cloudflare sets on Workers (the client as it saw it): here, the proxy.
            .header("cf-connecting-ip", "127.0.0.1")
            .header("x-forwarded-for", forwarded)
            .json(&json!({"model": "gpt", "max_tokens": 9, "messages": [{"role": "user", "content": "ping"}]}))
            .send()
    };
    let spoofed = ask("198.51.100.7, 203.0.113.9").await.unwrap();
    assert_eq!(spoofed.status(), 403, "{name}: the client wrote the allowed address itself");
    let appended = ask("198.51.100.7").await.unwrap();
    let status = appended.status();
    let body = appended.text().await.unwrap();
    assert_eq!(status, 200, "{name}: the proxy appended the allowed address: {body}");
}

/// The response cache on the host's default store: a question answered upstream once is then
/// answered from the cache on another endpoint (once the first request's background work has
/// kept it), whole and streamed, with no upstream tokens.
async fn response_cache(host: &Host<'_>, admin: &Admin) {
    let (name, base) = (host.name, &host.base);
    let (status, key) =
        admin.post("/api/admin/keys", json!({"name": "cached", "cache": {"ttl_s": 300}})).await;
    assert_eq!(status, 201, "{name}: {key}");
    let key = key["key"].as_str().unwrap();
    let chat = json!({"model": "gpt", "temperature": 0, "max_tokens": 20,
        "messages": [{"role": "user", "content": "cache me"}]});
    let first = post(base, "/v1/chat/completions", key, chat).await;
    assert_eq!(first.status(), 200, "{name}");
    assert_eq!(first.headers()["x-gateway-cache"], "miss", "{name}");
    let messages = json!({"model": "gpt", "temperature": 0, "max_tokens": 20,
        "messages": [{"role": "user", "content": "cache me"}]});
    let mut hit = None;
    for _ in 0..50 {
        let r = post(base, "/v1/messages", key, messages.clone()).await;
        assert_eq!(r.status(), 200, "{name}");
        if r.headers()["x-gateway-cache"] == "hit" {
            hit = Some(r.json::<Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let hit = hit.unwrap_or_else(|| panic!("{name}: the answer was never kept"));
    assert!(
        hit["content"][0]["text"].as_str().unwrap().contains("You said: cache me"),
        "{name}: {hit}"
    );
    assert_eq!(hit["usage"]["input_tokens"], 0, "{name}: {hit}");
    let mut streamed = messages;
    streamed["stream"] = true.into();
    let r = post(base, "/v1/messages", key, streamed).await;
    assert_eq!(r.headers()["x-gateway-cache"], "hit", "{name}");
    let (text, _, _) = read_stream(r).await;
    assert!(
        text.contains("You said: cache me") && text.contains("event: message_stop"),
        "{name}: {text}"
    );
}

/// The clouds' own auth on the host's runtime: Bedrock's SigV4 (temporary credentials; the mock
/// recomputes the signature) whole and streamed (AWS event-stream framing), Gemini on Vertex AI
/// (an RS256 assertion the mock's token endpoint verifies, then its token), Azure OpenAI
/// deployments with an Entra ID token and `api-version`.
async fn clouds(host: &Host<'_>, admin: &Admin) {
    use mock_upstream::{bedrock, cloud};
    let (name, base, mock) = (host.name, &host.base, &host.mock);
    let aws = json!({"access_key_id": bedrock::TEMPORARY_ACCESS_KEY_ID,
        "secret_access_key": bedrock::SECRET_ACCESS_KEY, "session_token": bedrock::SESSION_TOKEN,
        "region": bedrock::REGION});
    let entra = json!({"tenant_id": "contoso", "client_id": cloud::ENTRA_CLIENT_ID,
        "client_secret": cloud::ENTRA_CLIENT_SECRET, "authority_host": format!("{mock}/entra")});
    let providers = [
        (
            "aws",
            json!({"name": "cloud-bedrock", "protocol": "bedrock_converse", "auth_scheme": "aws_sigv4",
            "base_url": mock, "api_key": aws.to_string()}),
            "anthropic.mock-text-v1:0",
        ),
        (
            "vertex",
            json!({"preset": "vertex-gemini", "name": "cloud-vertex",
            "base_url": format!("{mock}/v1/projects/p/locations/us-central1/publishers/google"),
            "api_key": cloud::service_account(&format!("{mock}/google/token"))}),
            "mock-text",
        ),
        (
            "azure",
            json!({"preset": "azure-openai-entra", "name": "cloud-azure",
            "base_url": format!("{mock}/openai"), "api_key": entra.to_string()}),
            "mock-text",
        ),
    ];
    for (model, provider, upstream) in providers {
        let (status, p) = admin.post("/api/admin/providers", provider).await;
        assert_eq!(status, 201, "{name}: {p}");
        let (status, m) = admin
            .post(
                "/api/admin/models",
                json!({"name": model, "provider_id": p["id"], "upstream_model": upstream}),
            )
            .await;
        assert_eq!(status, 201, "{name}: {m}");
    }
    let (_, key) = admin.post("/api/admin/keys", json!({"name": "clouds"})).await;
    let key = key["key"].as_str().unwrap();
    for model in ["aws", "vertex", "azure"] {
        let chat = json!({"model": model, "messages": [{"role": "user", "content": "ping"}]});
        let response = post(base, "/v1/chat/completions", key, chat).await;
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, 200, "{name} {model}: {body}");
        let text = body["choices"][0]["message"]["content"].as_str().unwrap_or_default();
        assert!(text.contains("You said: ping"), "{name} {model}: {body}");
    }
    let streamed = json!({"model": "aws", "stream": true, "max_tokens": 30,
        "messages": [{"role": "user", "content": "ping"}]});
    let response = post(base, "/v1/messages", key, streamed).await;
    assert_eq!(response.status(), 200, "{name}");
    let (text, chunks, _) = read_stream(response).await;
    // The answer's text arrives in several deltas, then the end with Bedrock's usage.
    assert!(
        text.contains("\"text\":\": ping.\"") && text.contains("\"output_tokens\":9"),
        "{name}: {text}"
    );
    assert!(text.contains("event: message_stop"), "{name}: {text}");
    assert!(chunks >= 3, "{name}: the Bedrock stream came in {chunks} chunks");
}

/// The OpenAI endpoints relayed as they are, on the host's runtime: speech (audio bytes back)
/// and a transcription (a multipart form with a file, the model renamed inside it), each costed
/// from the model's unit prices.
async fn relayed(host: &Host<'_>, admin: &Admin) {
    use mock_upstream::endpoints::{BYTES_PER_SECOND, TRANSCRIPT};
    let (name, base) = (host.name, &host.base);
    let provider = admin
        .provider(json!({"name": "relay-openai", "api_key": "k", "base_url": format!("{}/v1", host.mock)}))
        .await;
    for (model, upstream, prices) in [
        ("tts", "mock-tts", json!({"per_character": 1e-5})),
        ("stt", "mock-whisper", json!({"per_second": 1e-4})),
    ] {
        let (status, m) = admin
            .post(
                "/api/admin/models",
                json!({"name": model, "provider_id": provider,
                "upstream_model": upstream, "unit_prices": prices}),
            )
            .await;
        assert_eq!(status, 201, "{name}: {m}");
    }
    let (_, key) = admin.post("/api/admin/keys", json!({"name": "relayed"})).await;
    let key = key["key"].as_str().unwrap();
    let speech = post(
        base,
        "/v1/audio/speech",
        key,
        json!({"model": "tts", "voice": "alloy", "input": "hello"}),
    )
    .await;
    assert_eq!(speech.status(), 200, "{name}");
    assert_eq!(speech.headers()["content-type"], "audio/mpeg", "{name}");
    let audio = speech.bytes().await.unwrap();
    let want: Vec<u8> = b"ID3\x04\x00\x00\x00\x00\x00\x00"
        .iter()
        .copied()
        .chain(b"hello".iter().map(|b| b ^ 0x5a))
        .collect();
    assert_eq!(
        audio.as_ref(),
        want.as_slice(),
        "{name}: the audio bytes as the upstream sent them"
    );
    let file = vec![0u8; BYTES_PER_SECOND * 3];
    let mut form = b"--gw-suite\r\nContent-Disposition: form-data; name=\"model\"\r\n\r\nstt\r\n\
--gw-suite\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.wav\"\r\nContent-Type: audio/wav\r\n\r\n".to_vec();
    form.extend_from_slice(&file);
    form.extend_from_slice(b"\r\n--gw-suite\r\nContent-Disposition: form-data; name=\"response_format\"\r\n\r\nverbose_json\r\n--gw-suite--\r\n");
    let response = reqwest::Client::new()
        .post(format!("{base}/v1/audio/transcriptions"))
        .bearer_auth(key)
        .header("content-type", "multipart/form-data; boundary=gw-suite")
        .body(form)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{name}");
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        (body["text"].as_str(), body["duration"].as_f64()),
        (Some(TRANSCRIPT), Some(3.0)),
        "{name}: {body}"
    );
    // Their log rows, costed by characters and seconds (written in the background).
    for (endpoint, cost) in [("/v1/audio/speech", 5e-5), ("/v1/audio/transcriptions", 3e-4)] {
        let mut found = None;
        for _ in 0..100 {
            let (_, page) = admin.get("/api/admin/logs?page_size=100").await;
            found = page["data"]
                .as_array()
                .unwrap()
                .iter()
                .find(|r| r["endpoint"] == endpoint)
                .map(|r| r["cost_usd"].as_f64());
            if found.is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let got =
            found.flatten().unwrap_or_else(|| panic!("{name}: no cost logged for {endpoint}"));
        assert!((got - cost).abs() < 1e-12, "{name}: {endpoint} cost {got}, expected {cost}");
    }
}

/// Health monitoring: off by default (the public API says so); switched on, a scheduled tick probes
/// a target through the pipeline and the public status API shows its status and latency.
async fn health_monitoring(host: &Host<'_>, admin: &Admin) {
    let name = host.name;
    let public = |path: String| {
        let url = format!("{}{path}", host.base);
        async move {
            let r = reqwest::get(url).await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let page = reqwest::get(format!("{}/status/", host.base)).await.unwrap();
    assert_eq!(page.status(), 200, "{name}: the status page is served");
    for (header, value) in gateway_core::UI_SECURITY_HEADERS {
        assert_eq!(
            page.headers().get(header).map(|v| v.to_str().unwrap()),
            Some(value),
            "{name}: {header}"
        );
    }
    // The admin app's files: the page, its modules (served as JavaScript, or browsers refuse to run
    // them), the vendored libraries, the styles and the deployment config.
    for (path, kind) in [
        ("/", "text/html"),
        ("/js/main.js", "javascript"),
        ("/js/pages/dashboard.js", "javascript"),
        ("/vendor/preact.js", "javascript"),
        ("/vendor/uplot.js", "javascript"),
        ("/app.css", "text/css"),
        ("/config.json", "json"),
    ] {
        let r = reqwest::get(format!("{}{path}", host.base)).await.unwrap();
        assert_eq!(r.status(), 200, "{name}: {path}");
        let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
        assert!(content_type.contains(kind), "{name}: {path} is {content_type}");
    }
    let (status, body) = public("/public/health/summary".into()).await;
    assert_eq!(status, 404, "{name}: monitoring is off by default: {body}");
    let (status, target) = admin
        .post(
            "/api/admin/health-targets",
            json!({"target_id": "gpt", "check_interval_seconds": 60}),
        )
        .await;
    assert_eq!(status, 201, "{name}: {target}");
    let (status, settings) = admin
        .call(
            reqwest::Method::PUT,
            "/api/admin/settings",
            Some(json!({"monitoring_enabled": true})),
        )
        .await;
    assert_eq!((status, &settings["monitoring_enabled"]), (200, &json!(true)), "{name}");
    let id = target["id"].as_str().unwrap();
    let mut summary = Value::Null;
    for _ in 0..20 {
        (host.tick)().await;
        let (status, body) = public("/public/health/summary".into()).await;
        assert_eq!(status, 200, "{name}: {body}");
        summary = body;
        if summary["targets"][0]["currentStatus"] == "ok" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let t = &summary["targets"][0];
    assert_eq!(
        (t["targetId"].as_str(), &t["currentStatus"]),
        (Some(id), &json!("ok")),
        "{name}: {summary}"
    );
    assert!(t["stats1h"]["p50Latency"].as_i64().is_some(), "{name}: {summary}");
    assert_eq!(summary["global"]["healthyTargets"], 1, "{name}: {summary}");
    let (status, runs) = public(format!("/public/health/runs?target_id={id}&window=1h")).await;
    assert_eq!(status, 200, "{name}: {runs}");
    let run = &runs["runs"][0];
    assert_eq!(run["status"], "success", "{name}: {runs}");
    assert!(
        run["ttftMs"].as_i64().is_some() && run["latencyMs"].as_i64().is_some(),
        "{name}: {run}"
    );
    let (status, body) = public("/public/health/runs?window=1h".into()).await;
    assert_eq!(status, 400, "{name}: a missing target_id is a clear error: {body}");
}
