//! Health monitoring end to end on the server, with a healthy, a slow and an unreachable upstream:
//! the switch, targets, check rounds, every public endpoint, the per-IP limit, and the public status
//! page in a real headless chromium (screenshot kept in `target/test-artifacts/status-page/`). Needs
//! `/usr/bin/chromium` (or `CHROMIUM`); installs `tools/browser` (playwright-core) the first time.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Admin, GatewayProcess, temp_db};

async fn public(gw: &GatewayProcess, path: &str) -> (u16, Value) {
    let r = reqwest::get(gw.url(path)).await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

async fn set_monitoring(admin: &Admin, on: bool) {
    let body = json!({"monitoring_enabled": on});
    let (status, s) = admin.call(reqwest::Method::PUT, "/api/admin/settings", Some(body)).await;
    assert_eq!((status, &s["monitoring_enabled"]), (200, &json!(on)), "{s}");
}

/// The keys tagged as the monitoring key.
async fn monitoring_keys(admin: &Admin) -> Vec<Value> {
    let (_, keys) = admin.get("/api/admin/keys").await;
    let all = keys["data"].as_array().unwrap().iter();
    all.filter(|k| k["tags"] == json!(["monitoring"])).cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_monitoring_end_to_end_and_the_status_page_in_a_real_browser() {
    support::browser::prepare();
    let (mock, _) = mock_upstream::spawn(Default::default(), 0).await.unwrap();
    let slow =
        mock_upstream::MockConfig { latency: Duration::from_millis(600), ..Default::default() };
    let (slow, _) = mock_upstream::spawn(slow, 0).await.unwrap();
    let (_dir, db) = temp_db();
    let gw = GatewayProcess::start(
        &db,
        &[("ADMIN_PASSWORD", "status-pass-1"), ("HEALTH_TICK_SECS", "1")],
    );
    let admin = Admin::login(&gw.base, "admin", "status-pass-1").await;

    // Off by default: every public endpoint says so.
    for path in
        ["/public/health/summary", "/public/health/targets", "/public/health/runs?target_id=x"]
    {
        let (status, body) = public(&gw, path).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (404, &json!("health_monitoring_disabled")),
            "{path}: {body}"
        );
    }

    // Nothing listens on port 9 of 127.0.0.1: every check of `broken-model` fails to connect;
    // `slow-model` answers after 600 ms, past its 300 ms check timeout.
    let upstreams = [
        ("fast-model", format!("http://{mock}/v1"), json!({})),
        ("slow-model", format!("http://{slow}/v1"), json!({"timeout_ms": 300})),
        ("broken-model", "http://127.0.0.1:9/v1".to_owned(), json!({})),
    ];
    let mut ids = Vec::new();
    for (model, base_url, check_config) in upstreams {
        let (_, provider) = admin
            .post(
                "/api/admin/providers",
                json!({"name": model, "base_url": base_url, "api_key": "k"}),
            )
            .await;
        let (status, m) = admin
            .post("/api/admin/models", json!({"name": model, "provider_id": provider["id"], "upstream_model": "mock-text"}))
            .await;
        assert_eq!(status, 201, "{m}");
        let (status, t) = admin
            .post("/api/admin/health-targets", json!({"target_id": model, "display_title": model.replace('-', " "), "check_interval_seconds": 30, "check_config": check_config}))
            .await;
        assert_eq!(status, 201, "{t}");
        ids.push(t["id"].as_str().unwrap().to_owned());
    }
    let (status, body) = admin
        .post(
            "/api/admin/health-targets",
            json!({"target_id": "fast-model", "check_interval_seconds": 10}),
        )
        .await;
    assert_eq!(
        (status, &body["error"]["field"]),
        (400, &json!("check_interval_seconds")),
        "{body}"
    );

    // On, off, on: the monitoring key is created once.
    for on in [true, false, true] {
        set_monitoring(&admin, on).await;
    }
    let monitoring = monitoring_keys(&admin).await;
    assert_eq!(monitoring.len(), 1, "{monitoring:?}");
    assert_eq!(
        (&monitoring[0]["log_bodies"], &monitoring[0]["allowed_models"]),
        (&json!(false), &Value::Null)
    );
    // An admin deleting the monitoring key does not break monitoring for good: switching it on
    // again makes a new one.
    let old = monitoring[0]["id"].as_str().unwrap().to_owned();
    let (status, _) =
        admin.call(reqwest::Method::DELETE, &format!("/api/admin/keys/{old}"), None).await;
    assert_eq!(status, 204);
    set_monitoring(&admin, true).await;
    let monitoring = monitoring_keys(&admin).await;
    assert_eq!(monitoring.len(), 1, "{monitoring:?}");
    assert_ne!(monitoring[0]["id"], old.as_str());

    let mut summary = Value::Null;
    // At most 30 polls: the checks below stay under the public API's 60 requests a minute.
    for _ in 0..30 {
        summary = public(&gw, "/public/health/summary").await.1;
        let checked = summary["targets"].as_array().unwrap().iter();
        if checked.filter(|t| !t["latestCheck"].is_null()).count() == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let by_name = |name: &str| -> Value {
        summary["targets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|t| t["targetName"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name}: {summary}"))
    };
    let fast = by_name("fast-model");
    assert_eq!(
        (&fast["currentStatus"], &fast["stats1h"]["availability"]),
        (&json!("ok"), &json!(100.0)),
        "{summary}"
    );
    for name in ["slow-model", "broken-model"] {
        let t = by_name(name);
        assert_eq!(
            (&t["currentStatus"], &t["stats1h"]["availability"]),
            (&json!("down"), &json!(0.0)),
            "{summary}"
        );
    }
    let g = &summary["global"];
    assert_eq!(
        (&g["totalTargets"], &g["healthyTargets"], &g["downTargets"]),
        (&json!(3), &json!(1), &json!(2)),
        "{summary}"
    );
    let (_, runs) =
        public(&gw, &format!("/public/health/runs?target_id={}&window=24h", ids[1])).await;
    assert_eq!(runs["runs"][0]["errorType"], "timeout", "{runs}");
    let (_, runs) =
        public(&gw, &format!("/public/health/runs?target_id={}&window=1h&page_size=1", ids[2]))
            .await;
    assert_eq!(runs["runs"][0]["status"], "error", "{runs}");
    assert_eq!(runs["pagination"]["pageSize"], 1, "{runs}");
    let (status, detail) =
        public(&gw, &format!("/public/health/detail?target_id={}", ids[0])).await;
    assert_eq!((status, &detail["targetId"]), (200, &json!(ids[0])), "{detail}");
    for (path, status, code) in [
        ("/public/health/detail".to_owned(), 400, "missing_parameter"),
        ("/public/health/detail?target_id=nope".to_owned(), 404, "target_not_found"),
        (format!("/public/health/runs?target_id={}&window=2d", ids[0]), 400, "invalid_parameter"),
    ] {
        let (got, body) = public(&gw, &path).await;
        assert_eq!((got, &body["error"]["code"]), (status, &json!(code)), "{path}: {body}");
    }
    let (_, targets) = public(&gw, "/public/health/targets").await;
    assert_eq!(targets["total"], 3, "{targets}");

    // The page, as a visitor sees it.
    let screenshot = support::browser::artifacts("status-page").join("status-page.png");
    let output = support::browser::node(
        "status-page.mjs",
        vec![gw.url("/status"), screenshot.display().to_string()],
    )
    .await;
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let seen: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(seen["errors"], json!([]), "{seen}");
    assert!(seen["global"].as_str().unwrap().starts_with("1 of 3 models healthy"), "{seen}");
    let cards = seen["cards"].as_array().unwrap();
    let card = |name: &str| {
        cards
            .iter()
            .find(|c| c["name"] == name)
            .cloned()
            .unwrap_or_else(|| panic!("{name}: {seen}"))
    };
    let fast = card("fast model");
    assert_eq!((&fast["status"], &fast["className"]), (&json!("ok"), &json!("card ok")), "{seen}");
    assert_eq!(
        (&fast["stats"]["1 h availability"], &fast["errors"]),
        (&json!("100 %"), &Value::Null),
        "{seen}"
    );
    assert!(fast["stats"]["P50 (24 h)"].as_str().unwrap().ends_with(" ms"), "{seen}");
    assert!(fast["stats"]["P95 (24 h)"].as_str().unwrap().ends_with(" ms"), "{seen}");
    let slow = card("slow model");
    assert_eq!(
        (&slow["status"], &slow["errors"]),
        (&json!("down"), &json!("Errors: timeout")),
        "{seen}"
    );
    let broken = card("broken model");
    assert_eq!(
        (&broken["stats"]["24 h availability"], &broken["stats"]["P50 (24 h)"]),
        (&json!("0 %"), &json!("–")),
        "{seen}"
    );
    assert!(cards.iter().all(|c| c["checks"].as_u64().unwrap() >= 1), "{seen}");
    let detail = &seen["detail"];
    assert!(detail["title"].as_str().unwrap().ends_with("last 24 hours"), "{seen}");
    assert!(!detail["runs"].as_array().unwrap().is_empty(), "{seen}");
    assert!(std::fs::metadata(&screenshot).unwrap().len() > 1000, "screenshot kept");

    // With real traffic feeding the statistics, callers' requests count as checks too (not the
    // monitoring key's own, and not a caller's own mistakes).
    let (status, s) = admin
        .call(
            reqwest::Method::PUT,
            "/api/admin/settings",
            Some(json!({"monitoring_real_traffic": true})),
        )
        .await;
    assert_eq!((status, &s["monitoring_real_traffic"]), (200, &json!(true)), "{s}");
    let (_, key) = admin.post("/api/admin/keys", json!({"name": "app"})).await;
    let client = reqwest::Client::new();
    for body in [
        json!({"model": "fast-model", "messages": [{"role": "user", "content": "hi"}]}),
        json!({"model": "fast-model", "messages": [{"role": "user", "content": "hi again"}]}),
        json!({"model": "fast-model", "messages": "not a list"}),
        json!({"model": "broken-model", "messages": [{"role": "user", "content": "hi"}]}),
    ] {
        client
            .post(gw.url("/v1/chat/completions"))
            .bearer_auth(key["key"].as_str().unwrap())
            .json(&body)
            .send()
            .await
            .unwrap();
    }
    let probes = fast["checks"].as_u64().unwrap();
    let mut checks = 0;
    for _ in 0..15 {
        let (_, detail) = public(&gw, &format!("/public/health/detail?target_id={}", ids[0])).await;
        checks = detail["stats1h"]["totalChecks"].as_u64().unwrap();
        if checks >= probes + 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(checks, probes + 2, "two real requests counted, the malformed one not");
    let (_, detail) = public(&gw, &format!("/public/health/detail?target_id={}", ids[2])).await;
    let broken_probes = broken["checks"].as_u64().unwrap();
    assert_eq!(detail["stats1h"]["totalChecks"].as_u64(), Some(broken_probes + 1), "{detail}");
    let history = detail["healthHistory"].as_array().unwrap();
    assert!(history.iter().all(|r| r["errorType"] == "connection"), "{detail}");

    // The public API allows 60 requests a minute per address; the 61st is refused.
    let mut statuses = Vec::new();
    for _ in 0..61 {
        statuses.push(reqwest::get(gw.url("/public/health/targets")).await.unwrap());
    }
    let last = statuses.pop().unwrap();
    assert_eq!(last.status(), 429);
    assert!(last.headers().contains_key("retry-after"));
    let body: Value = last.json().await.unwrap();
    assert_eq!(body["error"]["code"], "rate_limit_exceeded", "{body}");
}
