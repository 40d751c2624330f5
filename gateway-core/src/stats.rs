//! Statistics over request logs for the dashboard: totals, success rate, tokens, cost, latency and
//! time-to-first-token percentiles (nearest rank), errors by kind, per model / provider / key, and
//! time series.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::store::logs::StatRow;

/// The `p`-th percentile of sorted values by nearest rank: the value at rank ⌈p/100 · n⌉.
pub fn nearest_rank(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Summary {
    pub requests: i64,
    pub successes: i64,
    pub errors: i64,
    /// Percent, two decimals; `null` with no requests.
    pub success_rate: Option<f64>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_tokens: i64,
    pub cost_usd: f64,
    pub latency_p50_ms: Option<i64>,
    pub latency_p95_ms: Option<i64>,
    pub ttft_p50_ms: Option<i64>,
    pub ttft_p95_ms: Option<i64>,
}

pub fn summarize<'a>(rows: impl IntoIterator<Item = &'a StatRow>) -> Summary {
    let mut s = Summary::default();
    let mut latencies = Vec::new();
    let mut ttfts = Vec::new();
    for r in rows {
        s.requests += 1;
        if r.status < 400 && r.error_kind.is_none() {
            s.successes += 1;
        }
        s.input_tokens += r.input_tokens;
        s.output_tokens += r.output_tokens;
        s.cached_tokens += r.cached_tokens;
        s.cost_usd += r.cost_usd;
        latencies.push(r.latency_ms);
        ttfts.extend(r.ttft_ms);
    }
    s.errors = s.requests - s.successes;
    s.success_rate = (s.requests > 0)
        .then(|| (s.successes as f64 * 10_000.0 / s.requests as f64).round() / 100.0);
    s.cost_usd = (s.cost_usd * 1e9).round() / 1e9;
    latencies.sort_unstable();
    ttfts.sort_unstable();
    s.latency_p50_ms = nearest_rank(&latencies, 50.0);
    s.latency_p95_ms = nearest_rank(&latencies, 95.0);
    s.ttft_p50_ms = nearest_rank(&ttfts, 50.0);
    s.ttft_p95_ms = nearest_rank(&ttfts, 95.0);
    s
}

/// Summaries per value of `key` (rows without one are grouped under `""`), busiest first.
pub fn by(rows: &[StatRow], key: impl Fn(&StatRow) -> Option<&str>) -> Vec<(String, Summary)> {
    let mut groups: BTreeMap<String, Vec<&StatRow>> = BTreeMap::new();
    for r in rows {
        groups.entry(key(r).unwrap_or_default().to_owned()).or_default().push(r);
    }
    let mut out: Vec<(String, Summary)> =
        groups.into_iter().map(|(k, rows)| (k, summarize(rows))).collect();
    out.sort_by(|a, b| b.1.requests.cmp(&a.1.requests).then(a.0.cmp(&b.0)));
    out
}

/// How many requests failed with each error kind, most first.
pub fn errors_by_kind(rows: &[StatRow]) -> Vec<(String, i64)> {
    let mut counts: BTreeMap<String, i64> = BTreeMap::new();
    for r in rows {
        if let Some(kind) = &r.error_kind {
            *counts.entry(kind.clone()).or_default() += 1;
        } else if r.status >= 400 {
            *counts.entry(format!("http_{}", r.status)).or_default() += 1;
        }
    }
    let mut out: Vec<(String, i64)> = counts.into_iter().collect();
    out.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    out
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Point {
    /// Bucket start, Unix ms.
    pub t: i64,
    pub requests: i64,
    pub errors: i64,
    pub tokens: i64,
    pub cost_usd: f64,
    pub latency_p95_ms: Option<i64>,
}

/// `buckets` consecutive buckets of `bucket_ms` from `start_ms`, every bucket present.
pub fn series(rows: &[StatRow], start_ms: i64, bucket_ms: i64, buckets: usize) -> Vec<Point> {
    let mut grouped: Vec<Vec<&StatRow>> = vec![Vec::new(); buckets];
    for r in rows {
        let i = (r.created_at - start_ms).div_euclid(bucket_ms);
        if let Some(slot) = usize::try_from(i).ok().and_then(|i| grouped.get_mut(i)) {
            slot.push(r);
        }
    }
    grouped
        .into_iter()
        .enumerate()
        .map(|(i, rows)| {
            let s = summarize(rows);
            Point {
                t: start_ms + i as i64 * bucket_ms,
                requests: s.requests,
                errors: s.errors,
                tokens: s.input_tokens + s.output_tokens,
                cost_usd: s.cost_usd,
                latency_p95_ms: s.latency_p95_ms,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(t: i64, status: i64, latency: i64, model: &str) -> StatRow {
        StatRow {
            created_at: t,
            model: Some(model.into()),
            status,
            error_kind: (status >= 400).then(|| "upstream_error".into()),
            latency_ms: latency,
            ttft_ms: Some(latency / 2),
            input_tokens: 10,
            output_tokens: 5,
            cost_usd: 0.001,
            ..StatRow::default()
        }
    }

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<i64> = (1..=20).collect();
        assert_eq!(nearest_rank(&v, 50.0), Some(10));
        assert_eq!(nearest_rank(&v, 95.0), Some(19));
        assert_eq!(nearest_rank(&v, 100.0), Some(20));
        assert_eq!(nearest_rank(&[7], 95.0), Some(7));
        assert_eq!(nearest_rank(&[], 50.0), None);
        assert_eq!(nearest_rank(&[15, 20, 35, 40, 50], 30.0), Some(20), "the textbook example");
    }

    #[test]
    fn summaries_groups_and_series() {
        let rows: Vec<StatRow> = (0..10)
            .map(|i| {
                row(
                    i * 1_000,
                    if i == 9 { 502 } else { 200 },
                    (i + 1) * 100,
                    if i % 2 == 0 { "a" } else { "b" },
                )
            })
            .collect();
        let s = summarize(&rows);
        assert_eq!((s.requests, s.successes, s.errors), (10, 9, 1));
        assert_eq!(s.success_rate, Some(90.0));
        assert_eq!((s.input_tokens, s.output_tokens), (100, 50));
        assert!((s.cost_usd - 0.01).abs() < 1e-12);
        assert_eq!((s.latency_p50_ms, s.latency_p95_ms), (Some(500), Some(1000)));
        assert_eq!(s.ttft_p50_ms, Some(250));
        let models = by(&rows, |r| r.model.as_deref());
        assert_eq!(
            models.iter().map(|(m, s)| (m.as_str(), s.requests)).collect::<Vec<_>>(),
            [("a", 5), ("b", 5)]
        );
        assert_eq!(errors_by_kind(&rows), vec![("upstream_error".to_string(), 1)]);
        let points = series(&rows, 0, 5_000, 3);
        assert_eq!(points.iter().map(|p| p.requests).collect::<Vec<_>>(), [5, 5, 0]);
        assert_eq!(points[1].errors, 1);
    }
}
