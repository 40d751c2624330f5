//! Fault injection against the real binary: clients that leave at every phase, upstreams that
//! stall before and after their headers, cut their bodies short, send bodies too large to hold,
//! break their streams or rate-limit, a SIGTERM with a stream still open, and stored rows the
//! code cannot read. For each case: what the client got, exactly one log row, nothing held
//! afterwards (the key's open requests back to zero), what the key was charged, the breaker's
//! state, and that normal requests are still served.
//!
//! Charging, as documented: a request that completed upstream is charged its real usage, even if
//! its client left; a stream that did not end normally is charged what the upstream reported so
//! far, the input estimated at admission where it never said, and one output token per four
//! bytes of answer received.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use futures::StreamExt;
use serde_json::{Value, json};
use support::{Admin, GatewayProcess, temp_db};

/// USD per token, input and output alike, for every model here: charges are easy to read.
const PRICE: f64 = 0.001;
/// The gateway's deadline (to the first byte; whole answer when not streamed) and stream idle
/// limit in these tests.
const DEADLINE_MS: u64 = 1500;

struct Rig {
    gw: GatewayProcess,
    admin: Admin,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

/// Upstream scenarios by gateway model name.
const MODELS: [(&str, &str); 9] = [
    ("fast", "mock-text"),
    ("slow", "mock-slow-1000"),
    ("stall-body", "mock-stall-body"),
    ("stall-stream", "mock-stall-stream"),
    ("short-body", "mock-short-body"),
    ("huge-body", "mock-huge-body"),
    ("finish-stall", "mock-finish-stall"),
    ("garbage", "mock-stream-garbage"),
    ("limited", "mock-error-429"),
];

impl Rig {
    async fn start(env: &[(&str, &str)]) -> Rig {
        let (mock, _) = mock_upstream::spawn(Default::default(), 0).await.unwrap();
        let (dir, db) = temp_db();
        let deadline = DEADLINE_MS.to_string();
        let mut all = vec![
            ("ADMIN_PASSWORD", "faults-pass-123"),
            ("UPSTREAM_TIMEOUT_MS", deadline.as_str()),
            ("STREAM_IDLE_TIMEOUT_MS", deadline.as_str()),
        ];
        all.extend_from_slice(env);
        let gw = GatewayProcess::start(&db, &all);
        let admin = Admin::login(&gw.base, "admin", "faults-pass-123").await;
        let provider = admin
            .provider(
                json!({"name": "mock", "base_url": format!("http://{mock}/v1"), "api_key": "k"}),
            )
            .await;
        for (name, upstream) in MODELS {
            let (status, body) = admin
                .post(
                    "/api/admin/models",
                    json!({"name": name, "provider_id": provider,
                    "upstream_model": upstream, "input_cost_per_token": PRICE,
                    "output_cost_per_token": PRICE}),
                )
                .await;
            assert_eq!(status, 201, "{body}");
        }
        // Failover pairs: the faulty target first, a healthy one behind it.
        for fault in ["stall-body", "short-body", "huge-body", "limited"] {
            let targets = json!([{"provider_id": provider, "model": MODELS.iter().find(|m| m.0 == fault).unwrap().1, "priority": 0},
                                 {"provider_id": provider, "model": "mock-text", "priority": 1}]);
            // One deadline for both attempts; each attempt at most a third of it.
            let config = json!({"deadline_ms": DEADLINE_MS * 3, "attempt_timeout_ms": DEADLINE_MS});
            let body = json!({"name": format!("fo-{fault}"), "strategy": "priority",
                "targets": targets, "config": config});
            let (status, body) = admin.post("/api/admin/virtual-models", body).await;
            assert_eq!(status, 201, "{body}");
        }
        Rig { gw, admin, http: reqwest::Client::new(), _dir: dir }
    }

    /// A key that may hold one request at a time, with a budget, counted from zero.
    async fn key(&self, budget: f64) -> (String, String) {
        let (status, key) = self
            .admin
            .post(
                "/api/admin/keys",
                json!({"name": "faults", "max_concurrent": 1,
                "tpm_limit": 10_000_000, "budget_usd": budget, "budget_period": "total"}),
            )
            .await;
        assert_eq!(status, 201, "{key}");
        (key["id"].as_str().unwrap().to_owned(), key["key"].as_str().unwrap().to_owned())
    }

    fn chat(
        &self,
        key: &str,
        request_id: &str,
        model: &str,
        stream: bool,
    ) -> reqwest::RequestBuilder {
        self.http
            .post(self.gw.url("/v1/chat/completions"))
            .bearer_auth(key)
            .header("x-request-id", request_id)
            .json(&chat_body(model, stream))
    }

    /// The one log row of `request_id` (waits for it; fails on none or several).
    async fn logged(&self, request_id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (_, page) =
                self.admin.get(&format!("/api/admin/logs?request_id={request_id}")).await;
            let rows = page["data"].as_array().unwrap().clone();
            if !rows.is_empty() {
                // Give a duplicate the chance to show up before declaring there is one.
                tokio::time::sleep(Duration::from_millis(300)).await;
                let (_, page) =
                    self.admin.get(&format!("/api/admin/logs?request_id={request_id}")).await;
                let rows = page["data"].as_array().unwrap();
                assert_eq!(rows.len(), 1, "exactly one log row for {request_id}: {rows:#?}");
                return rows[0].clone();
            }
            assert!(Instant::now() < deadline, "no log row for {request_id}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The key's usage once nothing is held any more (fails if a request stays open).
    async fn settled(&self, key_id: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let (_, key) = self.admin.get(&format!("/api/admin/keys/{key_id}")).await;
            if key["usage"]["concurrent"] == 0 {
                return key["usage"].clone();
            }
            assert!(Instant::now() < deadline, "the key still holds a request: {key}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The breaker of the target with upstream model `upstream`.
    async fn breaker(&self, upstream: &str) -> Value {
        let (_, routing) = self.admin.get("/api/admin/routing").await;
        routing["targets"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|t| t["target"].as_str().is_some_and(|t| t.ends_with(&format!("/{upstream}"))))
            .cloned()
            .unwrap_or(Value::Null)
    }

    /// A normal request still gets its answer.
    async fn still_serves(&self) {
        let (_, key) = self.key(100.0).await;
        let r =
            self.chat(&key, &format!("ok-{}", rand_suffix()), "fast", false).send().await.unwrap();
        assert_eq!(r.status(), 200, "normal requests are still served");
    }
}

fn rand_suffix() -> u128 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos()
}

/// The chat request these tests send (a small output limit keeps budget reservations small).
fn chat_body(model: &str, stream: bool) -> Value {
    json!({"model": model, "stream": stream, "max_tokens": 16,
        "messages": [{"role": "user", "content": "hello"}]})
}

/// What the admission estimates for that body's input: its bytes / 4.
fn estimated_input(model: &str, stream: bool) -> f64 {
    (chat_body(model, stream).to_string().len() as f64 / 4.0).ceil()
}

fn assert_spent(usage: &Value, tokens: f64, what: &str) {
    let spent = usage["spent_usd"].as_f64().unwrap();
    assert!(
        (spent - tokens * PRICE).abs() < 1e-9,
        "{what}: spent {spent}, expected {tokens} tokens"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_leave_at_every_phase_end_in_one_row_and_release_everything() {
    let rig = Rig::start(&[]).await;
    let (in_tokens, out_tokens) =
        (mock_upstream::USAGE_INPUT as f64, mock_upstream::USAGE_OUTPUT as f64);

    // Before the answer starts, not streamed: the upstream finishes anyway; its real usage is
    // charged and the lease is released.
    let (id, key) = rig.key(100.0).await;
    let r =
        rig.chat(&key, "gone-json", "slow", false).timeout(Duration::from_millis(200)).send().await;
    assert!(r.is_err(), "the client gave up");
    let row = rig.logged("gone-json").await;
    assert_eq!(
        (row["status"].as_i64(), row["input_tokens"].as_i64()),
        (Some(200), Some(21)),
        "{row}"
    );
    assert_spent(&rig.settled(&id).await, in_tokens + out_tokens, "left before a JSON answer");

    // Before a stream's first event: nothing reached the client; charged the admission estimate.
    let (id, key) = rig.key(100.0).await;
    let r = rig
        .chat(&key, "gone-before-stream", "slow", true)
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(r.is_err());
    let row = rig.logged("gone-before-stream").await;
    assert_eq!(row["error_kind"], "client_disconnected", "{row}");
    assert_spent(
        &rig.settled(&id).await,
        estimated_input("slow", true),
        "left before the first event",
    );

    // Mid-stream: the upstream stalls after its first events and the client stops reading.
    let (id, key) = rig.key(100.0).await;
    let r = rig.chat(&key, "gone-mid-stream", "stall-stream", true).send().await.unwrap();
    let mut body = r.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert!(first.starts_with(b"data: "));
    drop(body);
    let row = rig.logged("gone-mid-stream").await;
    assert_eq!(row["error_kind"], "client_disconnected", "{row}");
    let usage = rig.settled(&id).await;
    assert!(usage["spent_usd"].as_f64().unwrap() >= estimated_input("stall-stream", true) * PRICE);

    // After finish_reason, before the usage event: never free.
    let (id, key) = rig.key(100.0).await;
    let r = rig.chat(&key, "gone-after-finish", "finish-stall", true).send().await.unwrap();
    let mut body = r.bytes_stream();
    let mut text = String::new();
    while !text.contains("\"finish_reason\":\"stop\"") {
        text.push_str(&String::from_utf8_lossy(&body.next().await.unwrap().unwrap()));
    }
    drop(body);
    let row = rig.logged("gone-after-finish").await;
    assert_eq!(row["error_kind"], "client_disconnected", "{row}");
    let answer = "Hello, 世界! 👋 You said: hello. System: .";
    let charged = estimated_input("finish-stall", true) + (answer.len() as f64 / 4.0).ceil();
    assert_spent(&rig.settled(&id).await, charged, "left after finish_reason");
    rig.still_serves().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_had_without_their_usage_event_still_spend_the_budget() {
    let rig = Rig::start(&[]).await;
    // Each answer is charged about 0.04 USD: a budget of 0.15 allows a few, not twenty.
    let (id, key) = rig.key(0.15).await;
    let mut statuses = Vec::new();
    for i in 0..20 {
        let r = rig.chat(&key, &format!("budget-{i}"), "finish-stall", true).send().await.unwrap();
        statuses.push(r.status().as_u16());
        if r.status() != 200 {
            continue;
        }
        let mut body = r.bytes_stream();
        let mut text = String::new();
        while !text.contains("\"finish_reason\":\"stop\"") {
            text.push_str(&String::from_utf8_lossy(&body.next().await.unwrap().unwrap()));
        }
        drop(body);
        rig.logged(&format!("budget-{i}")).await;
        rig.settled(&id).await;
    }
    let served = statuses.iter().filter(|s| **s == 200).count();
    assert!((2..=5).contains(&served), "the budget stopped the free answers: {statuses:?}");
    assert_eq!(statuses.last(), Some(&429), "{statuses:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn upstreams_that_stall_cut_or_flood_after_their_headers_fail_over_or_fail_clearly() {
    let rig = Rig::start(&[]).await;
    // A stalled, a cut and an oversized JSON body fail over to the healthy target, and count
    // against the faulty one's breaker.
    for (fault, upstream) in [
        ("stall-body", "mock-stall-body"),
        ("short-body", "mock-short-body"),
        ("huge-body", "mock-huge-body"),
    ] {
        let (id, key) = rig.key(100.0).await;
        let request_id = format!("fo-{fault}");
        let started = Instant::now();
        let r = rig.chat(&key, &request_id, &format!("fo-{fault}"), false).send().await.unwrap();
        assert_eq!(r.status(), 200, "{fault}: {}", r.text().await.unwrap());
        let took = started.elapsed();
        assert!(took < Duration::from_millis(DEADLINE_MS * 3), "{fault}: bounded, took {took:?}");
        let row = rig.logged(&request_id).await;
        assert_eq!(
            (row["attempts"].as_i64(), row["model_served"].as_str()),
            (Some(2), Some("mock-text")),
            "{row}"
        );
        let breaker = rig.breaker(upstream).await;
        assert_eq!(breaker["failures"], 1, "{fault}: the breaker saw it: {breaker}");
        rig.settled(&id).await;
    }
    // With nothing to fail over to: a clear error within the deadline, one row, nothing held.
    let (id, key) = rig.key(100.0).await;
    let started = Instant::now();
    let r = rig.chat(&key, "stall-alone", "stall-body", false).send().await.unwrap();
    assert_eq!(r.status(), 504);
    assert!(started.elapsed() < Duration::from_millis(DEADLINE_MS * 2));
    assert_eq!(rig.logged("stall-alone").await["error_kind"], "upstream_timeout");
    rig.settled(&id).await;
    // A stream that stalls after it started ends with an error event after the idle limit.
    let (id, key) = rig.key(100.0).await;
    let started = Instant::now();
    let r = rig.chat(&key, "stall-stream", "stall-stream", true).send().await.unwrap();
    let text = r.text().await.unwrap();
    assert!(started.elapsed() < Duration::from_millis(DEADLINE_MS * 3));
    assert!(text.contains("\"code\":\"upstream_timeout\"") && !text.contains("[DONE]"), "{text}");
    assert_eq!(rig.logged("stall-stream").await["error_kind"], "upstream_timeout");
    rig.settled(&id).await;
    // A stream event that is not JSON is an error in the caller's protocol, not silence.
    let (id, key) = rig.key(100.0).await;
    let r = rig
        .http
        .post(rig.gw.url("/v1/messages"))
        .header("x-api-key", &key)
        .header("x-request-id", "garbage")
        .json(&json!({"model": "garbage", "max_tokens": 50, "stream": true,
            "messages": [{"role": "user", "content": "hello"}]}))
        .send()
        .await
        .unwrap();
    let text = r.text().await.unwrap();
    assert!(text.contains("event: error") && text.contains("not valid JSON"), "{text}");
    assert!(!text.contains("message_stop"), "{text}");
    assert_eq!(rig.logged("garbage").await["error_kind"], "upstream_invalid_response");
    rig.settled(&id).await;
    rig.still_serves().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_429_is_passed_on_without_becoming_an_outage() {
    let rig = Rig::start(&[]).await;
    // No concurrency limit here: back-to-back requests must not meet the previous one's lease.
    let (status, key) = rig.admin.post("/api/admin/keys", json!({"name": "429"})).await;
    assert_eq!(status, 201);
    let key = key["key"].as_str().unwrap().to_owned();
    // One target: every caller keeps reaching the upstream, which answers for itself.
    for i in 0..3 {
        let r = rig.chat(&key, &format!("429-{i}"), "limited", false).send().await.unwrap();
        assert_eq!(r.status(), 429);
        assert_eq!(r.headers()["retry-after"], "2", "the upstream's Retry-After");
    }
    let breaker = rig.breaker("mock-error-429").await;
    assert_eq!(breaker["breaker"]["state"], "closed", "{breaker}");
    // With a second target, the limited one rests for its Retry-After and the other serves.
    for i in 0..3 {
        let r = rig.chat(&key, &format!("fo-429-{i}"), "fo-limited", false).send().await.unwrap();
        assert_eq!(r.status(), 200);
    }
    let breaker = rig.breaker("mock-error-429").await;
    assert_eq!(breaker["breaker"]["state"], "open", "resting: {breaker}");
    assert_eq!(breaker["requests"], 4, "rested, so asked only once more: {breaker}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_ends_a_stalled_stream_after_the_drain_deadline_and_keeps_its_log_row() {
    let (mock, _) = mock_upstream::spawn(Default::default(), 0).await.unwrap();
    let (_dir, db) = temp_db();
    let env = [
        ("ADMIN_PASSWORD", "faults-pass-123"),
        ("STREAM_IDLE_TIMEOUT_MS", "600000"),
        ("DRAIN_TIMEOUT_SECS", "2"),
    ];
    let gw = GatewayProcess::start(&db, &env);
    let admin = Admin::login(&gw.base, "admin", "faults-pass-123").await;
    let provider =
        admin.provider(json!({"name": "m", "base_url": format!("http://{mock}/v1")})).await;
    admin
        .post(
            "/api/admin/models",
            json!({"name": "stall", "provider_id": provider,
            "upstream_model": "mock-stall-stream"}),
        )
        .await;
    let (_, key) = admin.post("/api/admin/keys", json!({"name": "k", "max_concurrent": 1})).await;
    let response = reqwest::Client::new()
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(key["key"].as_str().unwrap())
        .header("x-request-id", "at-shutdown")
        .json(&json!({"model": "stall", "stream": true, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    let mut body = response.bytes_stream();
    let first = body.next().await.unwrap().unwrap();
    assert!(first.starts_with(b"data: "));
    let reader = tokio::spawn(async move {
        let mut rest = String::new();
        while let Some(Ok(chunk)) = body.next().await {
            rest.push_str(&String::from_utf8_lossy(&chunk));
        }
        rest
    });
    let (took, log) =
        tokio::task::spawn_blocking(move || gw.terminate(Duration::from_secs(15))).await.unwrap();
    assert!(took < Duration::from_secs(9), "bounded by the drain deadline: {took:?}");
    assert!(log.iter().any(|l| l.contains("drain deadline passed")), "{log:#?}");
    let rest = reader.await.unwrap();
    assert!(rest.contains("server_shutting_down"), "the client is told: {rest}");
    // The row was written before the process exited.
    let gw = GatewayProcess::start(&db, &env);
    let admin = Admin::login(&gw.base, "admin", "faults-pass-123").await;
    let (_, page) = admin.get("/api/admin/logs?request_id=at-shutdown").await;
    assert_eq!(page["data"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["data"][0]["error_kind"], "server_shutting_down");
    let (_, keys) = admin.get("/api/admin/keys").await;
    assert_eq!(keys["data"][0]["usage"]["concurrent"], 0, "the lease went with it");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_side_holds_under_bad_rows_concurrent_guesses_and_oversized_rules() {
    let rig = Rig::start(&[]).await;
    // A health target whose check_config this version cannot read: reported, skipped, and the
    // public status API and the checker keep working.
    let (status, good) =
        rig.admin.post("/api/admin/health-targets", json!({"target_id": "fast"})).await;
    assert_eq!(status, 201, "{good}");
    let db = gateway_native::open_database(&rig.gw_db_path(), None).await.unwrap();
    db.execute(gateway_core::Stmt::new(
        "INSERT INTO health_targets (id, name, type, target_id, enabled, check_interval_seconds, \
         check_prompt, check_config, created_at, updated_at) VALUES ('ht_sql', 'by hand', 'model', \
         'fast', 1, 60, 'Say OK', '{\"retries\": 3}', 1, 1)",
        vec![],
    ))
    .await
    .unwrap();
    let (status, list) = rig.admin.get("/api/admin/health-targets").await;
    assert_eq!(status, 200);
    assert_eq!(list["data"].as_array().unwrap().len(), 1, "{list}");
    assert_eq!(list["skipped"][0]["id"], "ht_sql", "{list}");
    rig.admin
        .call(
            reqwest::Method::PUT,
            "/api/admin/settings",
            Some(json!({"monitoring_enabled": true})),
        )
        .await;
    let r = reqwest::get(rig.gw.url("/public/health/targets")).await.unwrap();
    assert_eq!(r.status(), 200, "the public list survives the bad row");
    // 100 concurrent wrong passwords: at most the limit's five get to be checked.
    let attempts = (0..100).map(|_| {
        let http = rig.http.clone();
        let url = rig.gw.url("/api/auth/login");
        async move {
            http.post(url)
                .json(&json!({"username": "admin", "password": "wrong-guess"}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    });
    let statuses = futures::future::join_all(attempts).await;
    let checked = statuses.iter().filter(|s| **s == 401).count();
    assert!(checked <= 5, "{checked} guesses were checked: {statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 429).count(), 100 - checked);
    // A rule that would repeat the prompt a thousand times is refused when saved.
    let rules = json!([{"op": "append", "template": "{{user_prompt}}".repeat(1000)}]);
    let (_, providers) = rig.admin.get("/api/admin/providers").await;
    let targets = json!([{"provider_id": providers["data"][0]["id"], "model": "mock-text"}]);
    let body = json!({"name": "big", "strategy": "priority", "targets": targets, "rules": rules});
    let (status, body) = rig.admin.post("/api/admin/virtual-models", body).await;
    assert_eq!(status, 400, "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("user_prompt"), "{body}");
    // Metrics name providers and models: not for a request relayed by a proxy (without a token).
    let r = rig
        .http
        .get(rig.gw.url("/metrics"))
        .header("x-forwarded-for", "203.0.113.7")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    assert_eq!(rig.http.get(rig.gw.url("/metrics")).send().await.unwrap().status(), 200);
    assert!(
        rig.gw.log_lines().iter().any(|l| l.contains("TRUSTED_PROXIES is not set")),
        "the operator is told about the proxy"
    );
}

impl Rig {
    fn gw_db_path(&self) -> String {
        self._dir.path().join("data/gateway.db").to_string_lossy().into_owned()
    }
}
