//! `GET /api/admin/logs`: request-log search, newest first — filters `from`, `to` (Unix ms),
//! `key_id`, `model`, `status`, `request_id`; paging `page` (from 1) and `page_size` (≤ 100).
//! `GET /api/admin/stats?window=24h|7d|30d[&key_id=&model=]`: the dashboard's figures.

use super::{AdminResult, Op, Req, ok};
use crate::error::RequestError;
use crate::gateway::Inner;
use crate::stats;
use crate::store::logs::LogFilter;

fn number(field: &str, value: &str, min: i64, max: i64) -> Result<i64, RequestError> {
    value.parse::<i64>().ok().filter(|v| (min..=max).contains(v)).ok_or_else(|| {
        RequestError::field(field, format!("`{field}` must be a number from {min} to {max}"))
    })
}

/// Reads the filters shared by the search and the stats.
fn filter(pairs: &[(String, String)]) -> Result<LogFilter, RequestError> {
    let mut f = LogFilter::default();
    for (name, value) in pairs {
        match name.as_str() {
            "from" => f.from_ms = Some(number("from", value, 0, i64::MAX)?),
            "to" => f.to_ms = Some(number("to", value, 0, i64::MAX)?),
            "key_id" => f.key_id = Some(value.clone()),
            "model" => f.model = Some(value.clone()),
            "status" => f.status = Some(number("status", value, 100, 599)?),
            "request_id" => f.request_id = Some(value.clone()),
            _ => {}
        }
    }
    Ok(f)
}

pub(super) async fn route(inner: &Inner, req: Req<'_>) -> AdminResult {
    let Op::List = req.op()? else {
        return Err(RequestError::MethodNotAllowed.into());
    };
    let pairs = crate::query::pairs(req.query);
    let f = filter(&pairs)?;
    let (mut page, mut page_size) = (1, 50);
    for (name, value) in &pairs {
        match name.as_str() {
            "page" => page = number("page", value, 1, 1_000_000)?,
            "page_size" | "limit" => page_size = number(name, value, 1, 100)?,
            _ => {}
        }
    }
    let (rows, total) = inner.store.search_logs(&f, page_size, (page - 1) * page_size).await?;
    Ok(ok(&serde_json::json!({
        "data": rows,
        "pagination": {"page": page, "page_size": page_size, "total": total,
                       "total_pages": (total + page_size - 1) / page_size},
    })))
}

pub(super) async fn stats_route(inner: &Inner, req: Req<'_>) -> AdminResult {
    let Op::List = req.op()? else {
        return Err(RequestError::MethodNotAllowed.into());
    };
    let pairs = crate::query::pairs(req.query);
    let window = pairs.iter().find(|(k, _)| k == "window").map_or("24h", |(_, v)| v.as_str());
    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 24 * HOUR;
    let (bucket, buckets) = match window {
        "24h" => (HOUR, 24),
        "7d" => (DAY, 7),
        "30d" => (DAY, 30),
        _ => return Err(RequestError::field("window", "`window` must be 24h, 7d or 30d").into()),
    };
    let now = inner.platform.now_ms();
    // Buckets end with the current (partial) hour or day.
    let start = (now.div_euclid(bucket) + 1 - buckets) * bucket;
    let mut f = filter(&pairs)?;
    f.from_ms = Some(start);
    f.to_ms = None;
    let rows = inner.store.stat_rows(&f).await?;
    let groups = |key: fn(&crate::store::logs::StatRow) -> Option<&str>,
                  label: &str|
     -> Vec<serde_json::Value> {
        stats::by(&rows, key)
            .into_iter()
            .map(|(k, s)| {
                let mut v = serde_json::to_value(s).unwrap_or_default();
                v[label] = k.into();
                v
            })
            .collect()
    };
    Ok(ok(&serde_json::json!({
        "window": window,
        "from": start,
        "to": now,
        "totals": stats::summarize(&rows),
        "errors_by_kind": stats::errors_by_kind(&rows).into_iter().map(|(kind, count)| serde_json::json!({"kind": kind, "count": count})).collect::<Vec<_>>(),
        "by_model": groups(|r| r.model.as_deref(), "model"),
        "by_provider": groups(|r| r.provider_id.as_deref(), "provider_id"),
        "by_key": groups(|r| r.key_id.as_deref(), "key_id"),
        "series": stats::series(&rows, start, bucket, usize::try_from(buckets).unwrap_or(0)),
    })))
}
