//! Key limits are exact across instances: two `llm-gateway` processes on one libSQL file — and
//! on one Redis — take a burst of concurrent requests with one key; exactly the limit is admitted
//! (requests per minute, a budget, concurrent requests), every request is logged; a process killed
//! with `kill -9` holds its slots only until their lease runs out; and a clean shutdown right after
//! a burst with streams and client disconnects loses no log row and gives its leased limits back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use futures::StreamExt;
use hrana_test_server::RedisServer;
use serde_json::{Value, json};
use support::{Admin, GatewayProcess, temp_db};

const ENV: [(&str, &str); 1] = [("ADMIN_PASSWORD", "limits-pass-1")];

/// Fires `n` requests at once, alternating between the two gateways; returns statuses and bodies.
async fn burst(
    gws: &[&GatewayProcess],
    key: &str,
    model: &str,
    n: usize,
) -> Vec<(u16, Value, reqwest::header::HeaderMap)> {
    let client = reqwest::Client::new();
    let calls = (0..n).map(|i| {
        let url = gws[i % gws.len()].url("/v1/chat/completions");
        let client = client.clone();
        let key = key.to_owned();
        let model = model.to_owned();
        async move {
            let response = client
                .post(url)
                .bearer_auth(key)
                .json(&json!({"model": model, "max_tokens": 9, "messages": [{"role": "user", "content": "hi"}]}))
                .send()
                .await
                .unwrap();
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            (status, response.json::<Value>().await.unwrap_or(Value::Null), headers)
        }
    });
    futures::future::join_all(calls).await
}

async fn key(admin: &Admin, policy: Value) -> (String, String) {
    let mut body = json!({"name": "limited"});
    body.as_object_mut().unwrap().extend(policy.as_object().unwrap().clone());
    let (status, key) = admin.post("/api/admin/keys", body).await;
    assert_eq!(status, 201, "{key}");
    (key["key"].as_str().unwrap().to_owned(), key["id"].as_str().unwrap().to_owned())
}

/// Waits for every log row of a key (written off the response path).
async fn logs(admin: &Admin, key_id: &str, want: i64) -> Vec<Value> {
    for _ in 0..100 {
        let (_, page) = admin.get(&format!("/api/admin/logs?key_id={key_id}&page_size=100")).await;
        if page["pagination"]["total"].as_i64() == Some(want) {
            return page["data"].as_array().unwrap().clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, page) = admin.get(&format!("/api/admin/logs?key_id={key_id}&page_size=100")).await;
    panic!("expected {want} log rows, have {}", page["pagination"]["total"]);
}

fn count(results: &[(u16, Value, reqwest::header::HeaderMap)], status: u16) -> usize {
    results.iter().filter(|r| r.0 == status).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_hold_exactly_across_two_instances_sharing_one_database() {
    exact_across_two_instances(&ENV).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_hold_exactly_across_two_instances_sharing_one_redis() {
    let redis = RedisServer::start();
    let url = redis.url();
    exact_across_two_instances(&[ENV[0], ("LIMITS_URL", &url)]).await;
}

/// Sets up a mock provider with the models `m` (9 output tokens at 1e-4 USD each) and `slow`
/// (answers after 1.5 s).
async fn provider_and_models(admin: &Admin) -> std::net::SocketAddr {
    let (mock, _) = mock_upstream::spawn(Default::default(), 0).await.unwrap();
    let (_, provider) = admin
        .post(
            "/api/admin/providers",
            json!({"name": "mock", "base_url": format!("http://{mock}/v1"), "api_key": "k"}),
        )
        .await;
    for (name, upstream) in [("m", "mock-text"), ("slow", "mock-slow-1500")] {
        let (status, m) = admin
            .post(
                "/api/admin/models",
                json!({"name": name, "provider_id": provider["id"], "upstream_model": upstream,
                "input_cost_per_token": 0.0, "output_cost_per_token": 0.0001}),
            )
            .await;
        assert_eq!(status, 201, "{m}");
    }
    mock
}

async fn exact_across_two_instances(env: &[(&str, &str)]) {
    let (_dir, db) = temp_db();
    let a = GatewayProcess::start(&db, env);
    let b = GatewayProcess::start(&db, env);
    let admin = Admin::login(&a.base, "admin", "limits-pass-1").await;
    provider_and_models(&admin).await;
    // Output tokens cost 1e-4 USD each; the mock answers 9 output tokens, the requests ask for 9:
    // the budget reservation equals the real cost, so exactness is exact to the request.
    let gws = [&a, &b];

    // Requests per minute. Stay clear of a minute boundary so the burst falls in one window.
    let second = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() % 60;
    if second > 50 {
        tokio::time::sleep(Duration::from_secs(61 - second)).await;
    }
    let (rpm_key, rpm_id) = key(&admin, json!({"rpm_limit": 10})).await;
    let minute_now = || SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() / 60;
    let burst_minute = minute_now();
    let results = burst(&gws, &rpm_key, "m", 40).await;
    assert_eq!((count(&results, 200), count(&results, 429)), (10, 30));
    let refused = results.iter().find(|r| r.0 == 429).unwrap();
    assert_eq!(refused.1["error"]["code"], "rate_limit_requests");
    assert_eq!(refused.2["x-ratelimit-limit-requests"], "10");
    let retry: u64 = refused.2["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
    let rows = logs(&admin, &rpm_id, 40).await;
    assert_eq!(rows.iter().filter(|r| r["status"] == 200).count(), 10);
    // The admin API shows the use against the limit (the UI's usage bars): all 10 while still in
    // the burst's minute (a new minute starts from 0).
    let before = minute_now();
    let (_, view) = admin.get(&format!("/api/admin/keys/{rpm_id}")).await;
    let used = view["usage"]["requests_this_minute"].as_i64().unwrap();
    match (before == burst_minute, minute_now() == burst_minute) {
        (true, true) => assert_eq!(used, 10, "{view}"),
        (false, _) => assert_eq!(used, 0, "{view}"),
        (true, false) => assert!(used == 10 || used == 0, "{view}"), // read at the turn
    }

    // A large limit is leased in blocks: twice the limit asked for, 32 at a time across both
    // instances, admits at least 90 % of it and never more.
    let (big_key, _) = key(&admin, json!({"rpm_limit": 640})).await;
    let second = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs() % 60;
    if second > 45 {
        tokio::time::sleep(Duration::from_secs(61 - second)).await;
    }
    let flood_minute = minute_now();
    let client = reqwest::Client::new();
    let admitted = futures::stream::iter(0..1280)
        .map(|i| {
            let request = client
                .post(gws[i % 2].url("/v1/chat/completions"))
                .bearer_auth(&big_key)
                .json(&json!({"model": "m", "max_tokens": 9, "messages": [{"role": "user", "content": "hi"}]}));
            async move { request.send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
        })
        .buffer_unordered(32)
        .filter(|s| std::future::ready(*s == 200))
        .count()
        .await;
    eprintln!("rpm_limit 640, 1280 requests over two instances: {admitted} admitted");
    if minute_now() == flood_minute {
        assert!((576..=640).contains(&admitted), "{admitted} of 640 admitted");
    } else {
        // Only on a machine so slow the flood outlasted 15 seconds: two windows were counted.
        assert!(admitted <= 1280, "{admitted}");
    }

    // A budget: 5 requests' worth.
    let (budget_key, budget_id) =
        key(&admin, json!({"budget_usd": 0.0045, "budget_period": "total"})).await;
    let results = burst(&gws, &budget_key, "m", 20).await;
    assert_eq!((count(&results, 200), count(&results, 429)), (5, 15));
    assert_eq!(results.iter().find(|r| r.0 == 429).unwrap().1["error"]["code"], "budget_exceeded");
    let rows = logs(&admin, &budget_id, 20).await;
    let spent: f64 = rows.iter().filter_map(|r| r["cost_usd"].as_f64()).sum();
    assert!(spent <= 0.0045 + 1e-12 && spent > 0.0044, "logged spend {spent}");
    let (_, all) = admin.get("/api/admin/keys").await;
    let view = all["data"].as_array().unwrap().iter().find(|k| k["id"] == budget_id).unwrap();
    let shown = view["usage"]["spent_usd"].as_f64().unwrap();
    assert!((shown - spent).abs() < 1e-9, "usage {view} vs logged {spent}");
    assert_eq!(view["usage"]["concurrent"], 0);

    // Concurrent requests: 3 slots, upstream takes 1.5 s, 10 at once.
    let (conc_key, conc_id) = key(&admin, json!({"max_concurrent": 3})).await;
    let results = burst(&gws, &conc_key, "slow", 10).await;
    assert_eq!((count(&results, 200), count(&results, 429)), (3, 7));
    assert_eq!(
        results.iter().find(|r| r.0 == 429).unwrap().1["error"]["code"],
        "concurrency_limit"
    );
    logs(&admin, &conc_id, 10).await;
    // The slots were given back: the next three go through.
    let results = burst(&gws, &conc_key, "m", 3).await;
    assert_eq!(count(&results, 200), 3);

    // Stats see the bursts.
    let (status, stats) = admin.get(&format!("/api/admin/stats?window=24h&key_id={rpm_id}")).await;
    assert_eq!(status, 200, "{stats}");
    assert_eq!(stats["totals"]["requests"], 40);
    assert_eq!(stats["totals"]["success_rate"], 25.0);
    assert_eq!(stats["totals"]["output_tokens"], 90);
    assert_eq!(stats["errors_by_kind"][0], json!({"kind": "rate_limit_requests", "count": 30}));
    assert_eq!(stats["series"].as_array().unwrap().len(), 24);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_log_row_is_lost_through_a_burst_with_streams_disconnects_and_a_shutdown() {
    let slow =
        mock_upstream::MockConfig { chunk_delay: Duration::from_millis(100), ..Default::default() };
    let (mock, _) = mock_upstream::spawn(slow, 0).await.unwrap();
    let (_dir, db) = temp_db();
    let gw = GatewayProcess::start(&db, &ENV);
    let admin = Admin::login(&gw.base, "admin", "limits-pass-1").await;
    let (_, provider) = admin
        .post(
            "/api/admin/providers",
            json!({"name": "mock", "base_url": format!("http://{mock}/v1"), "api_key": "k"}),
        )
        .await;
    admin
        .post(
            "/api/admin/models",
            json!({"name": "m", "provider_id": provider["id"], "upstream_model": "mock-text",
            "input_cost_per_token": 0.000001, "output_cost_per_token": 0.000002}),
        )
        .await;
    // Every limit set (high enough never to refuse): capacity is leased in blocks.
    let limits = json!({"log_bodies": true, "rpm_limit": 100_000, "tpm_limit": 100_000_000,
        "max_concurrent": 64, "budget_usd": 1000.0});
    let (key, key_id) = key(&admin, limits).await;
    let client = reqwest::Client::new();
    let request = |stream: bool| {
        client
            .post(gw.url("/v1/chat/completions"))
            .bearer_auth(&key)
            .json(&json!({"model": "m", "stream": stream, "messages": [{"role": "user", "content": "hi"}]}))
    };
    let mut calls = Vec::new();
    for i in 0..12 {
        let req = request(i % 3 != 0);
        let disconnect = i % 6 == 1;
        calls.push(async move {
            let response = req.send().await.unwrap();
            assert_eq!(response.status(), 200);
            let mut body = response.bytes_stream();
            if disconnect {
                body.next().await; // read the first chunk, then hang up mid-stream
                return;
            }
            while body.next().await.is_some() {}
        });
    }
    futures::future::join_all(calls).await;
    // Shut down at once: pending log writes must be flushed first.
    gw.stop();
    let gw = GatewayProcess::start(&db, &ENV);
    let admin = Admin::login(&gw.base, "admin", "limits-pass-1").await;
    let rows = logs(&admin, &key_id, 12).await;
    let complete: Vec<&Value> = rows.iter().filter(|r| r["error_kind"].is_null()).collect();
    let gone = rows.iter().filter(|r| r["error_kind"] == "client_disconnected").count();
    assert_eq!((complete.len(), gone), (10, 2), "{rows:#?}");
    for r in &complete {
        assert_eq!((r["input_tokens"].as_i64(), r["output_tokens"].as_i64()), (Some(21), Some(9)));
        let cost = r["cost_usd"].as_f64().unwrap();
        assert!((cost - (21.0 * 1e-6 + 9.0 * 2e-6)).abs() < 1e-12, "{cost}");
        assert!(
            r["request_body"].as_str().unwrap().contains("\"hi\""),
            "bodies are logged for this key"
        );
        assert!(r["response_body"].as_str().unwrap().contains("Hel"));
    }
    // The shutdown gave the leased blocks and slots back: the new instance, which leased nothing,
    // shows exactly what the log says was spent, and no request open.
    let spent: f64 = rows.iter().filter_map(|r| r["cost_usd"].as_f64()).sum();
    let (_, view) = admin.get(&format!("/api/admin/keys/{key_id}")).await;
    let shown = view["usage"]["spent_usd"].as_f64().unwrap();
    assert!((shown - spent).abs() < 1e-9, "store {shown} vs logged {spent}: {view}");
    assert_eq!(view["usage"]["concurrent"], 0, "{view}");
    // Twelve requests, or none when a new minute began since.
    let requests = view["usage"]["requests_this_minute"].as_i64();
    assert!(matches!(requests, Some(0 | 12)), "{view}");
}

/// A gateway killed with `kill -9` while it holds concurrency slots: the other instance is refused
/// until the slots' lease (`LIMIT_LEASE_SECONDS`) runs out, then served. On both limit stores.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_instance_frees_its_slots_when_their_lease_runs_out() {
    let redis = RedisServer::start();
    let url = redis.url();
    for limits in [None, Some(url.as_str())] {
        let (_dir, db) = temp_db();
        let mut env = vec![ENV[0], ("LIMIT_LEASE_SECONDS", "3")];
        env.extend(limits.map(|u| ("LIMITS_URL", u)));
        let a = GatewayProcess::start(&db, &env);
        let b = GatewayProcess::start(&db, &env);
        let admin = Admin::login(&a.base, "admin", "limits-pass-1").await;
        provider_and_models(&admin).await;
        let (key, _) = key(&admin, json!({"max_concurrent": 2})).await;
        // Two slow requests hold both slots on `a`; then `a` dies with them.
        let held = tokio::spawn(burst_owned(a.base.clone(), key.clone(), "slow", 2));
        tokio::time::sleep(Duration::from_millis(500)).await;
        let killed_at = std::time::Instant::now();
        drop(a); // SIGKILL: no settlement, no release
        let _ = held.await;
        let results = burst(&[&b], &key, "m", 1).await;
        assert_eq!(results[0].0, 429, "{limits:?}: the dead instance's slots still count");
        assert_eq!(results[0].1["error"]["code"], "concurrency_limit");
        let wait = Duration::from_millis(3_200).saturating_sub(killed_at.elapsed());
        tokio::time::sleep(wait).await;
        let results = burst(&[&b], &key, "m", 2).await;
        assert_eq!(count(&results, 200), 2, "{limits:?}: the lease ran out: {results:?}");
    }
}

/// [`burst`] against one gateway given by its base URL (for a spawned task).
async fn burst_owned(base: String, key: String, model: &str, n: usize) -> Vec<u16> {
    let client = reqwest::Client::new();
    let calls = (0..n).map(|_| {
        client
            .post(format!("{base}/v1/chat/completions"))
            .bearer_auth(&key)
            .json(&json!({"model": model, "max_tokens": 9, "messages": [{"role": "user", "content": "hi"}]}))
            .send()
    });
    futures::future::join_all(calls)
        .await
        .into_iter()
        .map(|r| r.map_or(0, |r| r.status().as_u16()))
        .collect()
}

/// Redis stopped under a running gateway: a limited key is refused with 503 `limits_unavailable`
/// in the caller's protocol within the store's 2-second deadline (a limit that cannot be checked is
/// not waived), a key without limits is still served, and once Redis is back limited keys are
/// served again without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_going_away_refuses_limited_keys_fast_and_coming_back_serves_them() {
    let mut redis = RedisServer::start();
    let url = redis.url();
    let (_dir, db) = temp_db();
    let gw = GatewayProcess::start(&db, &[ENV[0], ("LIMITS_URL", &url)]);
    let admin = Admin::login(&gw.base, "admin", "limits-pass-1").await;
    provider_and_models(&admin).await;
    let (limited, _) = key(&admin, json!({"rpm_limit": 1000, "max_concurrent": 4})).await;
    let (open, _) = key(&admin, json!({})).await;
    let client = reqwest::Client::new();
    let messages = |key: &str| {
        client.post(gw.url("/v1/messages")).header("x-api-key", key).json(
            &json!({"model": "m", "max_tokens": 9, "messages": [{"role": "user", "content": "hi"}]}),
        )
    };
    assert_eq!(messages(&limited).send().await.unwrap().status(), 200);
    redis.stop();
    let started = std::time::Instant::now();
    let r = messages(&limited).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert_eq!(r.headers()["retry-after"], "1");
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["type"], "error", "Anthropic's error shape: {body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("key limits cannot be checked"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    let r = burst(&[&gw], &limited, "m", 1).await;
    assert_eq!((r[0].0, &r[0].1["error"]["code"]), (503, &json!("limits_unavailable")), "{r:?}");
    assert_eq!(messages(&open).send().await.unwrap().status(), 200, "no limits, no Redis needed");
    redis.restart();
    let mut back = false;
    for _ in 0..50 {
        if messages(&limited).send().await.unwrap().status() == 200 {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "Redis is back but the limited key is still refused");
}
