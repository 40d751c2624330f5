//! The dashboard's statistics at production volume: a million request-log rows in a real libSQL
//! file, `GET /api/admin/stats?window=30d` on the real binary, first straight from the logs, then
//! from the hourly rollups the periodic jobs build. The figures must be right and the same both
//! ways, and the process's peak memory (VmHWM from `/proc`) must not grow with the number of
//! rows: the database aggregates and buckets, the gateway reads one row per group and bucket.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod support;

use std::time::{Duration, Instant};

use gateway_core::Stmt;
use support::{Admin, GatewayProcess, temp_db, vm_hwm_kib};

const ROWS: i64 = 1_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_over_a_million_rows_are_right_in_bounded_memory() {
    let (_dir, db) = temp_db();
    let env = [("ADMIN_PASSWORD", "stats-pass-123")];
    // First start creates the schema; then a million rows go in directly.
    GatewayProcess::start(&db, &env).terminate(Duration::from_secs(20));
    let now =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis()
            as i64;
    let exec = gateway_native::open_database(&db.to_string_lossy(), None).await.unwrap();
    // 20 models, 4 providers, 50 keys; every 50th request failed; latencies 100–4099 ms spread
    // evenly; spaced 2.5 s apart, so all within the last 29 days; 20 of each 100 input tokens
    // read from the prompt cache and 10 written to it, saving 1e-5 USD a request.
    exec.execute(Stmt::new(
        "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ? - 1) \
         INSERT INTO request_logs (id, created_at, request_id, key_id, endpoint, model_requested, \
         provider_id, status, error_kind, latency_ms, ttft_ms, input_tokens, output_tokens, cost_usd, \
         cached_tokens, cache_write_tokens, cache_savings_usd) \
         SELECT printf('log%07d', i), ? - i * 2500, 'r' || i, 'key-' || (i % 50), '/v1/chat/completions', \
         'model-' || (i % 20), 'prv-' || (i % 4), CASE WHEN i % 50 = 0 THEN 502 ELSE 200 END, \
         CASE WHEN i % 50 = 0 THEN 'upstream_error' END, 100 + (i * 7919) % 4000, \
         50 + (i * 104729) % 1000, 100, 50, 0.0001, 20, 10, 0.00001 FROM n",
        vec![ROWS.into(), now.into()],
    ))
    .await
    .unwrap();
    drop(exec);

    // No periodic jobs yet (an hour away): the first call reads the logs themselves.
    let gw = GatewayProcess::start(&db, &env);
    let admin = Admin::login(&gw.base, "admin", "stats-pass-123").await;
    let (status, _) = admin.get("/api/admin/stats?window=24h").await; // warm the connection pool
    assert_eq!(status, 200);
    let (raw, took, grew) = measured(&gw, &admin).await;
    assert!(raw["rolled_up_until"].is_null(), "nothing rolled up yet");
    println!("stats over {ROWS} log rows: {took:?}, VmHWM +{grew} KiB");
    check(&raw);
    // Loading the rows (as before) took 130 MB for 199 k rows; a bound well below that for five
    // times as many shows the memory no longer follows the row count.
    assert!(grew < 48 * 1024, "peak memory grew by {grew} KiB");
    drop(gw);
    // With the periodic jobs running, closed hours come from the rollups.
    let fast = [("ADMIN_PASSWORD", "stats-pass-123"), ("MAINTENANCE_INTERVAL_SECS", "1")];
    let gw = GatewayProcess::start(&db, &fast);
    let admin = Admin::login(&gw.base, "admin", "stats-pass-123").await;
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (_, stats) = admin.get("/api/admin/stats?window=24h").await;
        if stats["rolled_up_until"].as_i64().is_some_and(|t| t >= now - 3 * 3_600_000) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the rollups never caught up: {}",
            stats["rolled_up_until"]
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    // Measured without the once-a-second jobs running beside it.
    drop(gw);
    let gw = GatewayProcess::start(&db, &env);
    let admin = Admin::login(&gw.base, "admin", "stats-pass-123").await;
    let (status, _) = admin.get("/api/admin/stats?window=24h").await;
    assert_eq!(status, 200);
    let (rolled, took, grew) = measured(&gw, &admin).await;
    println!("stats over {ROWS} log rows from hourly rollups: {took:?}, VmHWM +{grew} KiB");
    check(&rolled);
    assert!(grew < 48 * 1024, "peak memory grew by {grew} KiB");
    for part in ["totals", "by_model", "by_key", "by_provider", "errors_by_kind", "series"] {
        assert_eq!(rolled[part], raw[part], "{part}: the rollups say what the logs say");
    }
}

/// One 30-day stats call: the answer, how long it took and how much the peak memory grew (KiB).
async fn measured(gw: &GatewayProcess, admin: &Admin) -> (serde_json::Value, Duration, i64) {
    let before = vm_hwm_kib(gw.pid());
    let started = Instant::now();
    let (status, stats) = admin.get("/api/admin/stats?window=30d").await;
    let took = started.elapsed();
    assert_eq!(status, 200, "{stats}");
    (stats, took, vm_hwm_kib(gw.pid()) - before)
}

/// The figures of the synthetic million rows.
fn check(stats: &serde_json::Value) {
    let totals = &stats["totals"];
    assert_eq!(totals["requests"], ROWS, "{totals}");
    assert_eq!(totals["errors"], ROWS / 50, "{totals}");
    assert_eq!(totals["input_tokens"], ROWS * 100);
    assert!((totals["cost_usd"].as_f64().unwrap() - ROWS as f64 * 0.0001).abs() < 1e-3);
    // Prompt-cache figures: rolled up like the rest.
    assert_eq!(totals["cached_tokens"], ROWS * 20, "{totals}");
    assert_eq!(totals["cache_write_tokens"], ROWS * 10, "{totals}");
    assert_eq!(totals["cache_hit_share"], 20.0, "{totals}");
    assert!((totals["cache_savings_usd"].as_f64().unwrap() - ROWS as f64 * 0.00001).abs() < 1e-4);
    // Latencies are spread evenly over 100–4099 ms: P50 near 2100, P95 near 3900 (three
    // significant digits).
    let p50 = totals["latency_p50_ms"].as_i64().unwrap();
    let p95 = totals["latency_p95_ms"].as_i64().unwrap();
    assert!((2050..=2150).contains(&p50) && (3850..=3950).contains(&p95), "{totals}");
    assert_eq!(stats["by_model"].as_array().unwrap().len(), 20);
    assert_eq!(stats["by_key"].as_array().unwrap().len(), 50);
    assert_eq!(stats["errors_by_kind"][0]["count"], ROWS / 50);
    let days: i64 =
        stats["series"].as_array().unwrap().iter().map(|p| p["requests"].as_i64().unwrap()).sum();
    assert_eq!(days, ROWS);
}
