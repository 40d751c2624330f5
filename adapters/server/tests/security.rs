//! What an attacker and an unlucky operator found (issue 28), each a case against the real binary
//! on a real libSQL file, a mock upstream on 127.0.0.1 and, for the Redis cases, a real
//! `redis-server`: answers without usage are paid for; callers without a key never make the
//! gateway hold their bodies, and bodies together stay within their budget; a client cannot write
//! its own address past a trusted proxy; a 403 about one model leaves the provider's credentials
//! and other models alone, and a refused credential is never sent again; the provider's key never
//! reaches a caller, the admin API, a table or the log; a second multipart `model` is refused; the
//! response cache keys every field the upstream sees; prompt rules cannot grow a request past its
//! limit; streams cut half-way count against their target; malformed chunked framing is a 400; a
//! stalled Redis refuses every waiting request within its deadline and a flushed one keeps budgets.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Admin, GatewayProcess, temp_db, vm_hwm_kib};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// USD per token, input and output alike.
const PRICE: f64 = 0.001;

struct Rig {
    gw: GatewayProcess,
    admin: Admin,
    http: reqwest::Client,
    mock: std::net::SocketAddr,
    upstream: std::sync::Arc<mock_upstream::Mock>,
    dir: tempfile::TempDir,
}

impl Rig {
    async fn start(env: &[(&str, &str)]) -> Rig {
        let (mock, upstream) = mock_upstream::spawn(Default::default(), 0).await.unwrap();
        let (dir, db) = temp_db();
        let mut all = vec![("ADMIN_PASSWORD", "security-pass-1"), ("UPSTREAM_TIMEOUT_MS", "3000")];
        all.extend_from_slice(env);
        let gw = GatewayProcess::start(&db, &all);
        let admin = Admin::login(&gw.base, "admin", "security-pass-1").await;
        Rig { gw, admin, http: reqwest::Client::new(), mock, upstream, dir }
    }

    fn db(&self) -> std::path::PathBuf {
        self.dir.path().join("data/gateway.db")
    }

    /// A provider on the mock with these credentials; returns its id.
    async fn provider(&self, name: &str, keys: &[&str]) -> String {
        let keys: Vec<Value> = keys.iter().map(|k| json!({"key": k})).collect();
        let body = json!({"name": name, "base_url": format!("http://{}/v1", self.mock),
            "api_keys": keys});
        self.admin.provider(body).await
    }

    /// A model `name` served by `upstream` at `provider`, priced at [`PRICE`] a token.
    async fn model(&self, name: &str, provider: &str, upstream: &str) {
        let body = json!({"name": name, "provider_id": provider, "upstream_model": upstream,
            "input_cost_per_token": PRICE, "output_cost_per_token": PRICE});
        let (status, body) = self.admin.post("/api/admin/models", body).await;
        assert_eq!(status, 201, "{body}");
    }

    /// A key with `policy`; returns (id, key).
    async fn key(&self, policy: Value) -> (String, String) {
        let mut body = json!({"name": "security"});
        body.as_object_mut().unwrap().extend(policy.as_object().unwrap().clone());
        let (status, key) = self.admin.post("/api/admin/keys", body).await;
        assert_eq!(status, 201, "{key}");
        (key["id"].as_str().unwrap().to_owned(), key["key"].as_str().unwrap().to_owned())
    }

    fn chat(&self, key: &str, body: Value) -> reqwest::RequestBuilder {
        self.http.post(self.gw.url("/v1/chat/completions")).bearer_auth(key).json(&body)
    }

    /// The key's log rows once `n` are written (newest first).
    async fn rows(&self, key_id: &str, n: usize) -> Vec<Value> {
        for _ in 0..100 {
            let (_, page) = self.admin.get(&format!("/api/admin/logs?key_id={key_id}")).await;
            let rows = page["data"].as_array().cloned().unwrap_or_default();
            if rows.len() >= n {
                return rows;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("fewer than {n} log rows for {key_id}");
    }
}

fn question(model: &str, stream: bool) -> Value {
    let mut body = json!({"model": model, "max_tokens": 9, "stream": stream,
        "messages": [{"role": "user", "content": "hello"}]});
    if stream {
        body["stream_options"] = json!({"include_usage": true});
    }
    body
}

/// A budget worth about five answers, against upstreams that report no usage: a JSON answer
/// without `usage`, a stream that ignores `stream_options.include_usage`, a stream closed after
/// its `finish_reason`. Each was free (20 of 20 served); each is now charged what a cut stream
/// is (the input estimated at admission, a token per four bytes of answer), the row says so,
/// and the budget stops them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_without_usage_are_charged_and_budgets_hold() {
    let rig = Rig::start(&[]).await;
    let provider = rig.provider("mock", &["k"]).await;
    rig.model("no-usage", &provider, "mock-no-usage").await;
    rig.model("finish-close", &provider, "mock-finish-close").await;
    // What one answer is charged: 20 to 31 input tokens estimated (a body of 80 to 125 bytes)
    // and 12 of output (its 47 bytes): 0.032 to 0.043 USD. Four or five of them.
    for (model, stream) in [("no-usage", false), ("no-usage", true), ("finish-close", true)] {
        let (id, key) = rig.key(json!({"budget_usd": 0.16, "budget_period": "total"})).await;
        let mut served = 0;
        for _ in 0..20 {
            let r = rig.chat(&key, question(model, stream)).send().await.unwrap();
            let ok = r.status() == 200;
            let text = r.text().await.unwrap();
            if ok {
                assert!(!stream || text.contains("[DONE]"), "{model}: {text}");
                served += 1;
            }
        }
        assert!((2..=6).contains(&served), "{model} (stream {stream}): {served} of 20 served");
        let rows = rig.rows(&id, 20).await;
        let charged: Vec<&Value> = rows.iter().filter(|r| r["status"] == 200).collect();
        for row in &charged {
            assert_eq!(row["usage_estimated"], true, "{model}: {row}");
            assert!(row["cost_usd"].as_f64().unwrap() > 0.01, "{model}: {row}");
            assert!(row["output_tokens"].as_i64().unwrap() > 0, "{model}: {row}");
        }
    }
    // An upstream that reports its usage is not marked.
    let (id, key) = rig.key(json!({})).await;
    rig.model("text", &provider, "mock-text").await;
    assert_eq!(rig.chat(&key, question("text", false)).send().await.unwrap().status(), 200);
    assert_eq!(rig.rows(&id, 1).await[0]["usage_estimated"], false);
}

/// Writes a request's head and most of its body, then holds the connection open; returns what
/// the gateway answered (its status line), if it answered within `wait`, and when.
async fn stalled_body(
    addr: &str,
    head: String,
    body_bytes: usize,
    wait: Duration,
) -> Option<(String, Duration)> {
    let started = Instant::now();
    let mut conn = tokio::net::TcpStream::connect(addr).await.ok()?;
    let (mut read, mut write) = conn.split();
    let send = async {
        write.write_all(head.as_bytes()).await?;
        let chunk = vec![b'x'; 64 << 10];
        let chunked = head.contains("Transfer-Encoding: chunked");
        let mut sent = 0;
        while sent < body_bytes {
            let n = chunk.len().min(body_bytes - sent);
            if chunked {
                write.write_all(format!("{n:x}\r\n").as_bytes()).await?;
            }
            write.write_all(&chunk[..n]).await?;
            if chunked {
                write.write_all(b"\r\n").await?;
            }
            sent += n;
        }
        // Held, never finished.
        tokio::time::sleep(wait).await;
        Ok::<(), std::io::Error>(())
    };
    let answer = async {
        let mut buf = vec![0u8; 512];
        let n = read.read(&mut buf).await.ok()?;
        let line = String::from_utf8_lossy(&buf[..n]).lines().next().map(str::to_owned)?;
        Some((line, started.elapsed()))
    };
    let (_, answer) = tokio::join!(tokio::time::timeout(wait, send), async {
        tokio::time::timeout(wait, answer).await.ok().flatten()
    });
    answer
}

/// 100 clients with no key, each sending 9.9 MB of a 10 MB body and holding on: each gets its
/// 401 from the headers alone and the gateway holds none of their bodies (they held 993 MB). With
/// a valid key, bodies being read share one budget: past it, 503 `server_busy` at once (a
/// chunked body, whose length nobody knows, as soon as it outgrows what is left).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bodies_are_held_only_for_callers_who_may_send_them_and_within_a_budget() {
    let rig = Rig::start(&[("MAX_BODY_MEMORY_MB", "32")]).await;
    let addr = rig.gw.base.trim_start_matches("http://").to_owned();
    let before = vm_hwm_kib(rig.gw.pid());
    let head = |key: Option<&str>| {
        let auth = key.map(|k| format!("Authorization: Bearer {k}\r\n")).unwrap_or_default();
        format!(
            "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n\
             {auth}Content-Length: 10000000\r\n\r\n"
        )
    };
    let wait = Duration::from_secs(8);
    let calls: Vec<_> = (0..100)
        .map(|_| {
            let (addr, head) = (addr.clone(), head(None));
            tokio::spawn(async move { stalled_body(&addr, head, 9_900_000, wait).await })
        })
        .collect();
    for call in calls {
        let answer = call.await.unwrap();
        assert!(answer.as_ref().is_some_and(|(a, _)| a.contains(" 401 ")), "{answer:?}");
    }
    let grew = vm_hwm_kib(rig.gw.pid()) - before;
    println!("100 stalled 10 MB bodies without a key: peak memory +{grew} KiB");
    assert!(grew < 50 * 1024, "the gateway held {grew} KiB of bodies it refused");
    // With a key: three bodies of 10 MB fit a 32 MiB budget, the fourth does not.
    let (_, key) = rig.key(json!({})).await;
    let held: Vec<_> = (0..3)
        .map(|_| {
            let (addr, head) = (addr.clone(), head(Some(&key)));
            tokio::spawn(async move { stalled_body(&addr, head, 5_000_000, wait).await })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let busy = stalled_body(&addr, head(Some(&key)), 1000, Duration::from_secs(5)).await;
    let (status, took) = busy.unwrap();
    assert!(status.contains(" 503 "), "{status}");
    assert!(took < Duration::from_secs(4), "refused at once, not after the body: {took:?}");
    // A chunked body says no length: it is refused part-way, when it outgrows what is left.
    let chunked = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\n\
         Authorization: Bearer {key}\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let busy = stalled_body(&addr, chunked, 8_000_000, Duration::from_secs(5)).await;
    let (status, took) = busy.unwrap();
    assert!(status.contains(" 503 "), "{status}");
    assert!(took < Duration::from_secs(4), "refused part-way: {took:?}");
    for call in held {
        // Held until the body deadline (408) or the test's end: never a 503.
        let answer = call.await.unwrap();
        assert!(!answer.is_some_and(|(a, _)| a.contains(" 503 ")), "held bodies are not refused");
    }
    // The budget is given back.
    let r = rig.chat(&key, json!({"model": "none", "messages": []})).send().await.unwrap();
    assert_ne!(r.status(), 503);
}

/// Behind a proxy that appends to `X-Forwarded-For` (here 127.0.0.1, the test client), the
/// client's own entries prove nothing: a key's allow-list, the login lockout and the public
/// per-address limit see the address the proxy appended (the leftmost let 403 become 200).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_cannot_write_its_own_address_past_a_trusted_proxy() {
    let rig = Rig::start(&[("TRUSTED_PROXIES", "127.0.0.1/32")]).await;
    let provider = rig.provider("mock", &["k"]).await;
    rig.model("text", &provider, "mock-text").await;
    let (_, key) = rig.key(json!({"allowed_ips": ["198.51.100.7"]})).await;
    let ask = |forwarded: &str| {
        rig.chat(&key, question("text", false)).header("x-forwarded-for", forwarded).send()
    };
    assert_eq!(ask("198.51.100.7, 203.0.113.9").await.unwrap().status(), 403, "spoofed");
    assert_eq!(ask("198.51.100.7").await.unwrap().status(), 200, "appended by the proxy");
    // Five bad logins from one client, each naming another address of its own: still one client.
    let login = |forwarded: String, password: &str| {
        rig.http
            .post(rig.gw.url("/api/auth/login"))
            .header("x-forwarded-for", forwarded)
            .json(&json!({"username": "admin", "password": password}))
            .send()
    };
    for i in 0..5 {
        let r = login(format!("10.0.0.{i}, 203.0.113.50"), "wrong-password").await.unwrap();
        assert_eq!(r.status(), 401);
    }
    let locked = login("10.9.9.9, 203.0.113.50".into(), "security-pass-1").await.unwrap();
    assert_eq!(locked.status(), 429, "the lockout follows the real address");
    let other = login("203.0.113.51".into(), "security-pass-1").await.unwrap();
    assert_eq!(other.status(), 200, "another client is not locked out");
    // Logins hash their passwords off the async workers: a chat request is served meanwhile.
    let logins: Vec<_> =
        (0..48).map(|i| login(format!("203.0.114.{i}"), "wrong-password")).collect();
    let started = Instant::now();
    let (statuses, chat) = tokio::join!(futures::future::join_all(logins), async {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let asked = Instant::now();
        let r = ask("198.51.100.7").await.unwrap();
        (r.status(), asked.elapsed())
    });
    assert!(statuses.iter().all(|r| r.as_ref().unwrap().status() == 401));
    assert_eq!(chat.0, 200);
    println!(
        "a chat request during 48 logins: {:?} (the logins took {:?})",
        chat.1,
        started.elapsed()
    );
}

/// A 403 about a model the account may not use (Bedrock, Vertex AI and Anthropic answer so)
/// is no verdict on the credentials: none is disabled — also after a restart — the other
/// model is served throughout, and the request is not tried with every credential. A
/// credential the upstream refuses (401) is disabled while another is usable; the last usable
/// one is kept (an upstream's auth outage must not disable a provider for good).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_403_about_a_model_leaves_the_provider_serving_and_refused_keys_stay_unused() {
    let rig = Rig::start(&[]).await;
    let provider = rig.provider("bedrock-like", &["k1", "k2", "k3"]).await;
    rig.model("denied", &provider, "mock-error-403").await;
    rig.model("fine", &provider, "mock-text").await;
    let (_, key) = rig.key(json!({})).await;
    let before = rig.upstream.received.lock().unwrap().len();
    for _ in 0..6 {
        let r = rig.chat(&key, question("denied", false)).send().await.unwrap();
        assert_eq!(r.status(), 502);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "upstream_forbidden", "{body}");
        assert_eq!(rig.chat(&key, question("fine", false)).send().await.unwrap().status(), 200);
    }
    let sent = rig.upstream.received.lock().unwrap().len() - before;
    assert_eq!(sent, 12, "each request was sent once, not once per credential");
    let (_, view) = rig.admin.get(&format!("/api/admin/providers/{provider}")).await;
    let disabled: Vec<&Value> = view["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| !c["disabled_reason"].is_null())
        .collect();
    assert!(disabled.is_empty(), "{view}");
    // After a restart, the same.
    let db = rig.db();
    let Rig { gw, upstream, mock, dir: _dir, .. } = rig;
    drop(gw);
    let gw = GatewayProcess::start(&db, &[("ADMIN_PASSWORD", "security-pass-1")]);
    let r = reqwest::Client::new()
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(&key)
        .json(&question("fine", false))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // Two refused credentials: the first disabled, the last kept and tried alone from then on.
    let admin = Admin::login(&gw.base, "admin", "security-pass-1").await;
    let keys =
        json!([{"key": "sk-revoked-aaaaaaaaaaaa1111"}, {"key": "sk-revoked-bbbbbbbbbbbb2222"}]);
    let revoked = admin
        .provider(
            json!({"name": "revoked", "base_url": format!("http://{mock}/v1"), "api_keys": keys}),
        )
        .await;
    let body = json!({"name": "gone", "provider_id": revoked, "upstream_model": "mock-text"});
    assert_eq!(admin.post("/api/admin/models", body).await.0, 201);
    let ask = || {
        reqwest::Client::new()
            .post(gw.url("/v1/chat/completions"))
            .bearer_auth(&key)
            .json(&question("gone", false))
            .send()
    };
    assert_eq!(ask().await.unwrap().status(), 502);
    let (_, view) = admin.get(&format!("/api/admin/providers/{revoked}")).await;
    let disabled: Vec<bool> = view["credentials"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| !c["disabled_reason"].is_null())
        .collect();
    assert_eq!(disabled, [true, false], "{view}");
    let before = upstream.received.lock().unwrap().len();
    for _ in 0..3 {
        let r = ask().await.unwrap();
        assert_eq!(r.status(), 502);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["code"], "upstream_auth_error", "{body}");
    }
    let sent = upstream.received.lock().unwrap().len() - before;
    assert_eq!(sent, 3, "one request each, with the last usable key only");
}

/// Upstreams repeat the key they were sent — OpenAI masked (`sk-revok****…2222`), some proxies
/// whole. Neither form reaches the caller's error, the admin API's disabled reason, the providers
/// table, the request log or the process log.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_providers_key_never_leaves_the_gateway() {
    let rig = Rig::start(&[]).await;
    let leaky = ["sk-leaky-0123456789abcdefghijkl", "sk-leaky-mnopqrstuvwxyz98765432"];
    let masked = ["sk-revoked-ABCDEFGHIJKL0123wxyz", "sk-revoked-MNOPQRSTUVWX4567stuv"];
    let p1 = rig.provider("leaky", &leaky).await;
    let p2 = rig.provider("masked", &masked).await;
    rig.model("leaky", &p1, "mock-text").await;
    rig.model("masked", &p2, "mock-text").await;
    let (id, key) = rig.key(json!({"log_bodies": true})).await;
    let mut seen = String::new();
    for model in ["leaky", "masked"] {
        for stream in [false, true] {
            let r = rig.chat(&key, question(model, stream)).send().await.unwrap();
            assert_eq!(r.status(), 502);
            seen.push_str(&r.text().await.unwrap());
        }
    }
    let (_, providers) = rig.admin.get("/api/admin/providers").await;
    seen.push_str(&providers.to_string());
    for row in rig.rows(&id, 4).await {
        seen.push_str(&row.to_string());
    }
    let exec = gateway_native::open_database(&rig.db().to_string_lossy(), None).await.unwrap();
    for table in ["providers", "request_logs"] {
        let rows =
            exec.query(gateway_core::Stmt::new(format!("SELECT * FROM {table}"), vec![])).await;
        seen.push_str(&format!("{:?}", rows.unwrap()));
    }
    seen.push_str(&rig.gw.log_lines().join("\n"));
    for secret in leaky.iter().chain(&masked) {
        assert!(!seen.contains(secret), "{secret} leaked");
        let tail = &secret[secret.len() - 4..];
        assert!(!seen.contains(&format!("*{tail}")), "the masked form of {secret} leaked");
    }
    assert!(seen.contains("[redacted]"), "the upstream's messages still say what happened");
}

/// A form with a second `model` part (or `model[]`, or a file named `model`) is refused: the
/// first was authorised and priced while the upstream read the last.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_with_two_models_is_refused() {
    let rig = Rig::start(&[]).await;
    let provider = rig.provider("mock", &["k"]).await;
    rig.model("whisper", &provider, "mock-text").await;
    let (_, key) = rig.key(json!({"allowed_models": ["whisper"]})).await;
    let part = |name: &str, file: bool, value: &str| {
        let filename = if file { "; filename=\"a.wav\"" } else { "" };
        format!(
            "--b0undary\r\nContent-Disposition: form-data; name=\"{name}\"{filename}\r\n\r\n{value}\r\n"
        )
    };
    for extra in [
        part("model", false, "gpt-4o-transcribe"),
        part("model[]", false, "x"),
        part("model", true, "RIFF"),
    ] {
        let body = format!(
            "{}{}{extra}--b0undary--\r\n",
            part("model", false, "whisper"),
            part("file", true, "RIFF....WAVE")
        );
        let r = rig
            .http
            .post(rig.gw.url("/v1/audio/transcriptions"))
            .bearer_auth(&key)
            .header("content-type", "multipart/form-data; boundary=b0undary")
            .body(body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 400, "{extra}");
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["error"]["param"], "model", "{body}");
    }
}

/// The response cache: the same question with another `seed`, `n` or `logprobs` is another
/// question (each was a stale hit).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_response_cache_keys_every_field_the_upstream_sees() {
    let rig = Rig::start(&[]).await;
    let provider = rig.provider("mock", &["k"]).await;
    rig.model("text", &provider, "mock-text").await;
    let (_, key) = rig.key(json!({"cache": {"ttl_s": 300}})).await;
    let ask = |extra: Value| {
        let mut body = json!({"model": "text", "temperature": 0, "max_tokens": 20,
            "messages": [{"role": "user", "content": "cache me"}]});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        rig.chat(&key, body).send()
    };
    let outcome =
        |r: reqwest::Response| r.headers()["x-gateway-cache"].to_str().unwrap().to_owned();
    assert_eq!(outcome(ask(json!({"seed": 1})).await.unwrap()), "miss");
    tokio::time::sleep(Duration::from_millis(300)).await; // the answer is kept in the background
    assert_eq!(outcome(ask(json!({"seed": 1})).await.unwrap()), "hit");
    for other in
        [json!({"seed": 2}), json!({"seed": 1, "n": 2}), json!({"seed": 1, "logprobs": true})]
    {
        assert_eq!(outcome(ask(other.clone()).await.unwrap()), "miss", "{other}");
    }
}

/// Doubling `replace` rules and `system_append` rules repeating the prompt, each within its own
/// bound, turned a 1 KB prompt into 176 MB (686 MB resident): refused at the request's size
/// limit, memory flat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompt_rules_cannot_grow_a_request_past_its_limit() {
    let rig = Rig::start(&[]).await;
    let provider = rig.provider("mock", &["k"]).await;
    let mut rules: Vec<Value> = (0..12)
        .map(|_| json!({"op": "replace", "template": "{{user_prompt}}{{user_prompt}}"}))
        .collect();
    rules.extend((0..20).map(|_| json!({"op": "system_append", "template": "{{user_prompt}}"})));
    let targets = json!([{"provider_id": provider, "model": "mock-text"}]);
    let body = json!({"name": "grow", "strategy": "priority", "targets": targets, "rules": rules});
    let (status, body) = rig.admin.post("/api/admin/virtual-models", body).await;
    assert_eq!(status, 201, "{body}");
    let (_, key) = rig.key(json!({})).await;
    let before = vm_hwm_kib(rig.gw.pid());
    let prompt =
        json!({"model": "grow", "messages": [{"role": "user", "content": "x".repeat(1024)}]});
    let r = rig.chat(&key, prompt).send().await.unwrap();
    assert_eq!(r.status(), 413);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["error"]["code"], "request_too_large", "{body}");
    let grew = vm_hwm_kib(rig.gw.pid()) - before;
    assert!(grew < 100 * 1024, "peak memory grew by {grew} KiB");
}

/// Streams that break after their first event were invisible to the breaker (5 of 5 cut:
/// `failures` 0): each now counts, and the target's breaker opens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streams_cut_half_way_count_against_their_target() {
    let rig = Rig::start(&[]).await;
    let provider = rig.provider("mock", &["k"]).await;
    rig.model("cut", &provider, "mock-stream-cut").await;
    let (_, key) = rig.key(json!({})).await;
    for _ in 0..5 {
        let r = rig.chat(&key, question("cut", true)).send().await.unwrap();
        let status = r.status();
        let text = r.text().await.unwrap();
        if status == 200 {
            assert!(text.contains("error") && !text.contains("[DONE]"), "{text}");
        }
    }
    let (_, routing) = rig.admin.get("/api/admin/routing").await;
    let target = routing["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"].as_str().unwrap().contains("mock-stream-cut"))
        .cloned()
        .unwrap();
    assert!(target["failures"].as_i64().unwrap() >= 3, "{target}");
    assert_eq!(target["breaker"]["state"], "open", "{target}");
}

/// A chunked body whose framing is broken is the caller's mistake (400), not a size (it was
/// answered 413). And a relayed stream whose upstream sends an HTML page mid-way ends there,
/// without the upstream's words or its end marker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_framing_and_garbled_streams_end_cleanly() {
    let rig = Rig::start(&[]).await;
    let provider = rig.provider("mock", &["k"]).await;
    rig.model("garbage", &provider, "mock-stream-garbage").await;
    let (_, key) = rig.key(json!({})).await;
    let addr = rig.gw.base.trim_start_matches("http://").to_owned();
    let mut conn = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let request = format!(
        "POST /v1/chat/completions HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nZZZ\r\n{{}}\r\n0\r\n\r\n"
    );
    conn.write_all(request.as_bytes()).await.unwrap();
    let mut answer = vec![0u8; 1024];
    let n = tokio::time::timeout(Duration::from_secs(10), conn.read(&mut answer))
        .await
        .unwrap()
        .unwrap();
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert!(answer.contains("invalid_body"), "{answer}");
    let r = rig.chat(&key, question("garbage", true)).send().await.unwrap();
    let text = r.text().await.unwrap();
    assert!(text.contains("not valid JSON") && !text.contains("[DONE]"), "{text}");
    assert!(!text.contains("Bad Gateway") && !text.contains("<html>"), "{text}");
}

/// Redis stalled under a running gateway (16 limited requests at once): each is refused with
/// 503 within the store's deadline (they were refused at 2, 4 … 32 s). Redis flushed: the budget
/// a key spent is not forgotten (it was spent three times over).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_or_flushed_redis_neither_queues_requests_nor_forgets_budgets() {
    let redis = hrana_test_server::RedisServer::start();
    let url = redis.url();
    let rig = Rig::start(&[("LIMITS_URL", url.as_str())]).await;
    let provider = rig.provider("mock", &["k"]).await;
    rig.model("text", &provider, "mock-text").await;
    // A budget of five answers and a bit: 21 input and 9 output tokens each (30 × 0.001 USD),
    // each admitted against its estimate (22 + 9 tokens).
    let (_, budget) = rig.key(json!({"budget_usd": 0.16, "budget_period": "day"})).await;
    for _ in 0..3 {
        assert_eq!(rig.chat(&budget, question("text", false)).send().await.unwrap().status(), 200);
    }
    tokio::time::sleep(Duration::from_millis(500)).await; // the log rows are written
    redis.flush();
    let mut served = 0;
    for _ in 0..5 {
        served += usize::from(
            rig.chat(&budget, question("text", false)).send().await.unwrap().status() == 200,
        );
    }
    assert_eq!(served, 2, "three of five were spent before Redis forgot");
    // Stalled: 16 limited requests (each needs the store: a limit under 32 requests' worth).
    let keys: Vec<String> = {
        let mut keys = Vec::new();
        for _ in 0..4 {
            keys.push(rig.key(json!({"rpm_limit": 20})).await.1);
        }
        keys
    };
    for k in &keys {
        assert_eq!(rig.chat(k, question("text", false)).send().await.unwrap().status(), 200);
    }
    redis.pause();
    let started = Instant::now();
    let waits: Vec<_> = (0..16)
        .map(|i| {
            let request = rig.chat(&keys[i % 4], question("text", false));
            async move {
                let r = request.send().await.unwrap();
                (r.status(), started.elapsed())
            }
        })
        .collect();
    for (status, took) in futures::future::join_all(waits).await {
        assert_eq!(status, 503);
        assert!(took < Duration::from_millis(3500), "refused after {took:?}");
    }
    redis.resume();
}
