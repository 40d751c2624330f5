//! Health statistics: status over the last hour, availability and latency percentiles per window,
//! in the public API's shapes (SPEC §3).

use serde_json::{Value, json};

use crate::stats::nearest_rank;
use crate::store::health::{HealthRun, HealthTarget};

pub(crate) const HOUR: i64 = 3_600_000;

/// `unknown` without runs, `ok` without errors, `degraded` under 20 % errors, `down` from 20 %.
pub(crate) fn status(last_hour: &[&HealthRun]) -> &'static str {
    if last_hour.is_empty() {
        return "unknown";
    }
    let errors = last_hour.iter().filter(|r| r.status != "success").count();
    match errors * 100 / last_hour.len() {
        0 if errors == 0 => "ok",
        p if p < 20 => "degraded",
        _ => "down",
    }
}

/// `{totalChecks, successCount, errorCount, availability, avgLatency, p50Latency, p95Latency}`.
pub(crate) fn window(runs: &[&HealthRun]) -> Value {
    let total = runs.len();
    let successes = runs.iter().filter(|r| r.status == "success").count();
    let mut latencies: Vec<i64> =
        runs.iter().filter(|r| r.status == "success").filter_map(|r| r.latency_ms).collect();
    latencies.sort_unstable();
    let availability =
        (total > 0).then(|| (successes as f64 * 10_000.0 / total as f64).round() / 100.0);
    let avg = (!latencies.is_empty())
        .then(|| (latencies.iter().sum::<i64>() as f64 / latencies.len() as f64).round() as i64);
    json!({
        "totalChecks": total,
        "successCount": successes,
        "errorCount": total - successes,
        "availability": availability,
        "avgLatency": avg,
        "p50Latency": nearest_rank(&latencies, 50.0),
        "p95Latency": nearest_rank(&latencies, 95.0),
    })
}

/// A run as the public API shows it.
pub(crate) fn run_json(r: &HealthRun) -> Value {
    json!({
        "id": r.id, "targetId": r.target_id, "timestamp": r.created_at, "status": r.status,
        "latencyMs": r.latency_ms, "ttftMs": r.ttft_ms, "errorType": r.error_type, "errorMessage": r.error_message,
    })
}

/// TargetSummary: identity, current status, latest check, last 100 runs, stats for 1 h / 24 h / 7 d.
/// `runs` are the target's runs of the last 7 days, newest first.
pub(crate) fn summary(target: &HealthTarget, runs: &[HealthRun], now_ms: i64) -> Value {
    let since = |ms: i64| runs.iter().filter(|r| r.created_at >= now_ms - ms).collect::<Vec<_>>();
    let hour = since(HOUR);
    let latest = runs.first().map(|r| {
        json!({"status": r.status, "timestamp": r.created_at, "latencyMs": r.latency_ms, "errorMessage": r.error_message})
    });
    json!({
        "targetId": target.id,
        "targetName": target.name,
        "displayTitle": target.display_title.clone().unwrap_or_else(|| target.name.clone()),
        "targetType": target.kind,
        "checkIntervalSeconds": target.check_interval_seconds,
        "currentStatus": status(&hour),
        "latestCheck": latest,
        "healthHistory": runs.iter().take(100).map(run_json).collect::<Vec<_>>(),
        "stats1h": window(&hour),
        "stats24h": window(&since(24 * HOUR)),
        "stats7d": window(&since(7 * 24 * HOUR)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(t: i64, ok: bool, latency: i64) -> HealthRun {
        HealthRun {
            id: format!("r{t}"),
            target_id: "t".into(),
            created_at: t,
            status: if ok { "success" } else { "error" }.into(),
            latency_ms: Some(latency),
            ttft_ms: None,
            error_type: (!ok).then(|| "http_error".into()),
            error_message: None,
        }
    }

    #[test]
    fn status_thresholds() {
        let ok: Vec<HealthRun> = (0..10).map(|i| run(i, true, 10)).collect();
        assert_eq!(status(&[]), "unknown");
        assert_eq!(status(&ok.iter().collect::<Vec<_>>()), "ok");
        let mut some = ok.clone();
        some[0] = run(0, false, 10); // 10 % errors
        assert_eq!(status(&some.iter().collect::<Vec<_>>()), "degraded");
        some[1] = run(1, false, 10); // 20 %
        assert_eq!(status(&some.iter().collect::<Vec<_>>()), "down");
    }

    #[test]
    fn windows_and_percentiles() {
        let runs: Vec<HealthRun> = (0..20).map(|i| run(i, i != 0, (i + 1) * 10)).collect();
        let w = window(&runs.iter().collect::<Vec<_>>());
        assert_eq!(w["totalChecks"], 20);
        assert_eq!(w["errorCount"], 1);
        assert_eq!(w["availability"], 95.0);
        // Latencies of the 19 successes: 20..200; nearest rank P50 = 10th = 110, P95 = 19th = 200.
        assert_eq!((w["p50Latency"].as_i64(), w["p95Latency"].as_i64()), (Some(110), Some(200)));
        assert_eq!(w["avgLatency"], 110);
        let empty = window(&[]);
        assert_eq!((empty["availability"].is_null(), empty["p50Latency"].is_null()), (true, true));
    }
}
