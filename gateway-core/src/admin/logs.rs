//! `GET /api/admin/logs`: request-log search, newest first — filters `from`, `to` (Unix ms),
//! `key_id`, `model`, `status`, `request_id`; paging `page` (from 1) and `page_size` (≤ 100).
//! `GET /api/admin/stats?window=24h|7d|30d[&key_id=&model=]`: the dashboard's figures.

use super::{AdminResult, ok};
use crate::error::RequestError;
use crate::state::Inner;
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

pub(super) async fn route(inner: &Inner, query: Option<&str>) -> AdminResult {
    let pairs = crate::query::pairs(query);
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

pub(super) async fn stats_route(inner: &Inner, query: Option<&str>) -> AdminResult {
    let pairs = crate::query::pairs(query);
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
    use crate::store::stats::StatDim;
    let store = &inner.store;
    let f = &f;
    let rolled = store.stats_rolled_until().await?;
    // Every figure is aggregated by the database, one after the other (so at most one query's
    // working memory at a time).
    let grouped = |dim: StatDim| async move {
        let rows = store.stat_groups(f, dim, rolled).await?;
        let ttft = store.ttft_histogram(f, dim, rolled).await?;
        Ok::<_, crate::store::StoreError>(stats::grouped(rows, ttft))
    };
    let time = StatDim::Time { start_ms: start, size_ms: bucket };
    let totals = grouped(StatDim::Total).await?;
    let by_model = grouped(StatDim::Model).await?;
    let by_provider = grouped(StatDim::Provider).await?;
    let by_key = grouped(StatDim::Key).await?;
    let series = store.stat_groups(f, time, rolled).await?;
    let errors = store.errors_by_kind(f, rolled).await?;
    let labelled = |groups: Vec<(String, stats::Summary)>, label: &str| -> Vec<serde_json::Value> {
        groups
            .into_iter()
            .map(|(k, s)| {
                let mut v = serde_json::to_value(s).unwrap_or_default();
                v[label] = k.into();
                v
            })
            .collect()
    };
    let totals = totals.into_iter().next().map(|(_, s)| s).unwrap_or_default();
    let series = stats::series(series, start, bucket, usize::try_from(buckets).unwrap_or(0));
    let errors: Vec<serde_json::Value> = errors
        .into_iter()
        .map(|(kind, count)| serde_json::json!({"kind": kind, "count": count}))
        .collect();
    let (by_model, by_provider, by_key) = (
        labelled(by_model, "model"),
        labelled(by_provider, "provider_id"),
        labelled(by_key, "key_id"),
    );
    Ok(ok(&serde_json::json!({
        "window": window,
        "from": start,
        "to": now,
        // Hours before this come from the hourly rollups, later ones from the logs.
        "rolled_up_until": rolled.map(|h| h * 3_600_000),
        "totals": totals,
        "errors_by_kind": errors,
        "by_model": by_model,
        "by_provider": by_provider,
        "by_key": by_key,
        "series": series,
    })))
}
