//! Fault injection end to end: the real binary, the mock upstream on 127.0.0.1 failing in every
//! way a provider fails (500, 503, 429 with Retry-After, connection refused, headers slower than
//! the attempt timeout, a stream that errors before its first event, a stream cut in the middle),
//! and a healthy second target. Each case checks the outcome, the attempts count, and that nothing
//! hangs past the deadline.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Admin, GatewayProcess, temp_db};

struct Case {
    name: &'static str,
    first: &'static str,
    stream: bool,
    config: Value,
}

async fn call(
    gw: &GatewayProcess,
    key: &str,
    model: &str,
    stream: bool,
) -> (u16, reqwest::header::HeaderMap, String, Duration) {
    let started = Instant::now();
    let response = reqwest::Client::new()
        .post(gw.url("/v1/chat/completions"))
        .bearer_auth(key)
        .json(&json!({"model": model, "stream": stream, "messages": [{"role": "user", "content": "hi"}]}))
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap();
    (status, headers, body, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failover_breakers_and_deadlines_against_a_failing_upstream() {
    let (mock, _state) = mock_upstream::spawn(Default::default(), 0).await.unwrap();
    // A port with nothing listening: bind, note it, close.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let (_dir, db) = temp_db();
    let gw = GatewayProcess::start(&db, &[("ADMIN_PASSWORD", "failover-pass")]);
    let admin = Admin::login(&gw.base, "admin", "failover-pass").await;
    let (_, live) = admin
        .post(
            "/api/admin/providers",
            json!({"name": "mock", "base_url": format!("http://{mock}/v1"), "api_key": "k"}),
        )
        .await;
    let (_, dead) = admin
        .post(
            "/api/admin/providers",
            json!({"name": "dead", "base_url": format!("http://{closed}/v1"), "api_key": "k"}),
        )
        .await;
    let (live, dead) =
        (live["id"].as_str().unwrap().to_owned(), dead["id"].as_str().unwrap().to_owned());

    let fast = json!({"attempt_timeout_ms": 500, "deadline_ms": 5_000});
    let cases = [
        Case { name: "server-error", first: "mock-error-500", stream: false, config: json!({}) },
        Case { name: "unavailable", first: "mock-error-503", stream: false, config: json!({}) },
        Case { name: "rate-limited", first: "mock-error-429", stream: false, config: json!({}) },
        Case { name: "refused", first: "dead", stream: false, config: json!({}) },
        Case { name: "slow-headers", first: "mock-slow-3000", stream: false, config: fast.clone() },
        Case {
            name: "stream-error-first",
            first: "mock-stream-error-first",
            stream: true,
            config: json!({}),
        },
        Case { name: "slow-stream", first: "mock-slow-3000", stream: true, config: fast },
    ];
    let (_, key) = admin.post("/api/admin/keys", json!({"name": "failover"})).await;
    let key = key["key"].as_str().unwrap().to_owned();
    for case in &cases {
        let first = if case.first == "dead" {
            json!({"provider_id": dead, "model": "mock-text", "priority": 0})
        } else {
            json!({"provider_id": live, "model": case.first, "priority": 0})
        };
        let (status, vm) = admin
            .post(
                "/api/admin/virtual-models",
                json!({"name": case.name, "strategy": "priority", "config": case.config,
                "targets": [first, {"provider_id": live, "model": "mock-text", "priority": 1}]}),
            )
            .await;
        assert_eq!(status, 201, "{vm}");
        let (status, headers, body, elapsed) = call(&gw, &key, case.name, case.stream).await;
        assert_eq!(status, 200, "{}: {body}", case.name);
        assert_eq!(headers["x-gateway-attempts"], "2", "{}", case.name);
        assert!(
            body.contains("Hello,") || body.contains("Hel"),
            "{}: served by the healthy target: {body}",
            case.name
        );
        assert!(
            elapsed < Duration::from_millis(2_500),
            "{}: took {elapsed:?}, past the attempt timeout",
            case.name
        );
        if case.stream {
            assert!(body.trim_end().ends_with("data: [DONE]"), "{}: {body}", case.name);
        }
    }

    // After the first byte there is no failover: a cut stream ends with an error event.
    admin
        .post(
            "/api/admin/virtual-models",
            json!({"name": "cut", "targets": [
            {"provider_id": live, "model": "mock-stream-cut", "priority": 0},
            {"provider_id": live, "model": "mock-text", "priority": 1}]}),
        )
        .await;
    let (status, headers, body, _) = call(&gw, &key, "cut", true).await;
    assert_eq!((status, headers["x-gateway-attempts"].to_str().unwrap()), (200, "1"));
    assert!(
        body.contains("\"code\":\"upstream_stream_error\"") && !body.contains("[DONE]"),
        "{body}"
    );

    // One deadline for everything: a lone slow target gives 504 at the deadline, not later.
    admin
        .post(
            "/api/admin/virtual-models",
            json!({"name": "deadline", "config": {"deadline_ms": 800, "attempt_timeout_ms": 800},
            "targets": [{"provider_id": live, "model": "mock-slow-3000"}]}),
        )
        .await;
    let (status, _, body, elapsed) = call(&gw, &key, "deadline", false).await;
    assert_eq!(status, 504, "{body}");
    assert!(elapsed < Duration::from_millis(2_000), "504 after {elapsed:?}");

    // The breaker: after one failure (threshold 1) the bad target is skipped, then probed again
    // after the cool-down.
    admin
        .post("/api/admin/virtual-models", json!({"name": "breaker", "config": {"failure_threshold": 1, "cooldown_ms": 1_000},
            "targets": [{"provider_id": dead, "model": "probe-me", "priority": 0}, {"provider_id": live, "model": "mock-text", "priority": 1}]}))
        .await;
    let attempts =
        |h: &reqwest::header::HeaderMap| h["x-gateway-attempts"].to_str().unwrap().to_owned();
    let (_, h1, _, _) = call(&gw, &key, "breaker", false).await;
    let (_, h2, _, _) = call(&gw, &key, "breaker", false).await;
    assert_eq!((attempts(&h1), attempts(&h2)), ("2".to_owned(), "1".to_owned()));
    let (_, status) = admin.get("/api/admin/routing").await;
    let probe = status["targets"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["target"].as_str().unwrap().ends_with("/probe-me"))
        .unwrap();
    assert_eq!(probe["breaker"]["state"], "open", "{status}");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    let (status, h3, _, _) = call(&gw, &key, "breaker", false).await;
    assert_eq!(
        (status, attempts(&h3)),
        (200, "2".to_owned()),
        "probed after the cool-down, then failed over"
    );
}
