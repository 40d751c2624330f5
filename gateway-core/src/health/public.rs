//! The public health API (no auth): `/public/health/summary`, `/targets`, `/detail?target_id=`,
//! `/runs?target_id=&window=1h|24h|7d&page=&page_size=`, limited to 60 requests a minute per IP,
//! with short cache headers. Answers 404 `health_monitoring_disabled` while monitoring is off.

use http::{HeaderValue, StatusCode};
use serde_json::json;

use super::stats::{HOUR, run_json, summary};
use crate::body::Body;
use crate::error::{GatewayError, PublicError};
use crate::reply::{self, ErrorShape};
use crate::routes::PublicView;
use crate::state::Inner;
use crate::store::health::HealthTarget;

/// The target named by the `target_id` parameter.
fn requested_target<'a>(
    pairs: &[(String, String)],
    targets: &'a [HealthTarget],
) -> Result<&'a HealthTarget, PublicError> {
    let id = param(pairs, "target_id").ok_or(PublicError::MissingParameter("target_id"))?;
    targets.iter().find(|t| t.id == id).ok_or_else(|| PublicError::TargetNotFound(id.to_owned()))
}

fn param<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
    pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str()).filter(|v| !v.is_empty())
}

pub(crate) async fn handle(
    inner: &Inner,
    view: PublicView,
    query: Option<&str>,
    ip: Option<&str>,
) -> http::Response<Body> {
    let result = route(inner, view, query, ip).await;
    let mut response = match result {
        Ok(value) => reply::json(StatusCode::OK, &value),
        Err(e) => reply::error(ErrorShape::Admin, &e),
    };
    if response.status() == StatusCode::OK {
        response
            .headers_mut()
            .insert(http::header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=15"));
    }
    response.headers_mut().insert("access-control-allow-origin", HeaderValue::from_static("*"));
    response
}

async fn route(
    inner: &Inner,
    view: PublicView,
    query: Option<&str>,
    ip: Option<&str>,
) -> Result<serde_json::Value, GatewayError> {
    let now = inner.platform.now_ms();
    inner
        .public_limiter
        .check(ip.unwrap_or("unknown"), now)
        .map_err(|wait| PublicError::RateLimited { retry_after_secs: wait.0 })?;
    if !inner.store.flag(crate::store::settings::Setting::MonitoringEnabled).await? {
        return Err(PublicError::Disabled.into());
    }
    let pairs = crate::query::pairs(query);
    let targets: Vec<_> = inner.store.list_health_targets().await?.items;
    match view {
        PublicView::Targets => {
            let list: Vec<_> = targets
                .iter()
                .filter(|t| t.enabled)
                .map(|t| json!({"id": t.id, "name": t.name, "type": t.kind, "check_interval_seconds": t.check_interval_seconds}))
                .collect();
            Ok(json!({"targets": list, "total": list.len()}))
        }
        PublicView::Summary => {
            let mut summaries = Vec::new();
            let (mut healthy, mut degraded, mut down, mut checks, mut successes, mut latencies) =
                (0, 0, 0, 0, 0, Vec::new());
            for t in targets.iter().filter(|t| t.enabled) {
                let runs = inner.store.health_runs(&t.id, now - 7 * 24 * HOUR).await?;
                let s = summary(t, &runs, now);
                match s["currentStatus"].as_str() {
                    Some("ok") => healthy += 1,
                    Some("degraded") => degraded += 1,
                    Some("down") => down += 1,
                    _ => {}
                }
                for r in runs.iter().filter(|r| r.created_at >= now - 24 * HOUR) {
                    checks += 1;
                    if r.status == "success" {
                        successes += 1;
                        latencies.extend(r.latency_ms);
                    }
                }
                summaries.push(s);
            }
            let availability = (checks > 0)
                .then(|| (f64::from(successes) * 10_000.0 / f64::from(checks)).round() / 100.0);
            let avg = (!latencies.is_empty())
                .then(|| latencies.iter().sum::<i64>() / latencies.len() as i64);
            Ok(json!({
                "global": {"totalTargets": targets.len(), "activeTargets": summaries.len(), "healthyTargets": healthy,
                           "degradedTargets": degraded, "downTargets": down,
                           "overall24hAvailability": availability, "overall24hAvgLatency": avg},
                "targets": summaries,
                "timestamp": now,
            }))
        }
        PublicView::Detail => {
            let t = requested_target(&pairs, &targets)?;
            let runs = inner.store.health_runs(&t.id, now - 7 * 24 * HOUR).await?;
            let mut s = summary(t, &runs, now);
            s["timestamp"] = now.into();
            Ok(s)
        }
        PublicView::Runs => {
            let t = requested_target(&pairs, &targets)?;
            let window = match param(&pairs, "window").unwrap_or("24h") {
                "1h" => HOUR,
                "24h" => 24 * HOUR,
                "7d" => 7 * 24 * HOUR,
                other => {
                    return Err(PublicError::BadParameter(format!(
                        "window must be 1h, 24h or 7d, not {other:?}"
                    ))
                    .into());
                }
            };
            let number = |name: &str, default: usize| -> Result<usize, PublicError> {
                param(&pairs, name).map_or(Ok(default), |v| {
                    v.parse().ok().filter(|n| *n >= 1).ok_or_else(|| {
                        PublicError::BadParameter(format!("{name} must be a positive number"))
                    })
                })
            };
            let page = number("page", 1)?;
            let page_size = number("page_size", 50)?.min(100);
            let runs = inner.store.health_runs(&t.id, now - window).await?;
            let total = runs.len();
            let data: Vec<_> =
                runs.iter().skip((page - 1) * page_size).take(page_size).map(run_json).collect();
            Ok(json!({
                "runs": data,
                "pagination": {"page": page, "pageSize": page_size, "total": total, "totalPages": total.div_ceil(page_size)},
                "timestamp": now,
            }))
        }
    }
}
