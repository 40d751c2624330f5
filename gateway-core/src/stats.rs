//! Statistics over request logs for the dashboard: totals, success rate, tokens, cost, latency and
//! time-to-first-token percentiles (nearest rank), errors by kind, per model / provider / key, and
//! time series. The database counts (per group, and per group and latency bucket); this module
//! only turns those counts into summaries, so memory depends on how many groups and buckets there
//! are, never on how many requests.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::store::stats::StatGroup;

/// The `p`-th percentile of sorted values by nearest rank: the value at rank ⌈p/100 · n⌉.
pub(crate) fn nearest_rank(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    sorted.get(rank.min(sorted.len()) - 1).copied()
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct Summary {
    pub requests: i64,
    pub successes: i64,
    pub errors: i64,
    /// Percent, two decimals; `null` with no requests.
    pub success_rate: Option<f64>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_tokens: i64,
    pub cache_write_tokens: i64,
    /// Percent of input tokens read from the prompt cache, two decimals; `null` without input.
    pub cache_hit_share: Option<f64>,
    pub cost_usd: f64,
    /// What the prompt cache saved, USD (see `Model::cache_savings`).
    pub cache_savings_usd: f64,
    /// Response cache: requests it was asked for (hits and misses) and hits.
    pub response_cache_lookups: i64,
    pub response_cache_hits: i64,
    /// Percent of lookups the response cache answered, two decimals; `null` without lookups.
    pub response_cache_hit_rate: Option<f64>,
    /// What the answers replayed by hits cost when they were fetched, USD.
    pub response_cache_saved_usd: f64,
    pub latency_p50_ms: Option<i64>,
    pub latency_p95_ms: Option<i64>,
    pub ttft_p50_ms: Option<i64>,
    pub ttft_p95_ms: Option<i64>,
}

/// The `p`-th percentile by nearest rank over a histogram of `(bucket, count)` sorted by bucket:
/// the bucket holding the value at rank ⌈p/100 · n⌉.
pub(crate) fn histogram_rank(histogram: &[(i64, i64)], p: f64) -> Option<i64> {
    let total: i64 = histogram.iter().map(|(_, n)| n).sum();
    if total <= 0 {
        return None;
    }
    let rank = ((p / 100.0) * total as f64).ceil().max(1.0) as i64;
    let mut seen = 0;
    for &(bucket, n) in histogram {
        seen += n;
        if seen >= rank {
            return Some(bucket);
        }
    }
    histogram.last().map(|(b, _)| *b)
}

/// A group's summary from its counts and the histograms of its latency and time to first token.
pub(crate) fn summarize(g: &StatGroup, latency: &[(i64, i64)], ttft: &[(i64, i64)]) -> Summary {
    Summary {
        requests: g.requests,
        successes: g.successes,
        errors: g.requests - g.successes,
        success_rate: (g.requests > 0)
            .then(|| (g.successes as f64 * 10_000.0 / g.requests as f64).round() / 100.0),
        input_tokens: g.input_tokens,
        output_tokens: g.output_tokens,
        cached_tokens: g.cached_tokens,
        cache_write_tokens: g.cache_write_tokens,
        cache_hit_share: (g.input_tokens > 0)
            .then(|| (g.cached_tokens as f64 * 10_000.0 / g.input_tokens as f64).round() / 100.0),
        cost_usd: (g.cost_usd * 1e9).round() / 1e9,
        cache_savings_usd: (g.cache_savings_usd * 1e9).round() / 1e9,
        response_cache_lookups: g.answer_lookups,
        response_cache_hits: g.answer_hits,
        response_cache_hit_rate: (g.answer_lookups > 0)
            .then(|| (g.answer_hits as f64 * 10_000.0 / g.answer_lookups as f64).round() / 100.0),
        response_cache_saved_usd: (g.answer_saved_usd * 1e9).round() / 1e9,
        latency_p50_ms: histogram_rank(latency, 50.0),
        latency_p95_ms: histogram_rank(latency, 95.0),
        ttft_p50_ms: histogram_rank(ttft, 50.0),
        ttft_p95_ms: histogram_rank(ttft, 95.0),
    }
}

/// Histogram rows `(group, bucket, count)` as one sorted histogram per group.
fn by_group(rows: Vec<(String, i64, i64)>) -> BTreeMap<String, Vec<(i64, i64)>> {
    let mut out: BTreeMap<String, Vec<(i64, i64)>> = BTreeMap::new();
    for (group, bucket, n) in rows {
        out.entry(group).or_default().push((bucket, n));
    }
    for histogram in out.values_mut() {
        histogram.sort_unstable();
    }
    out
}

/// Summaries per group, busiest first, from per-(group, latency bucket) counts and the groups'
/// time-to-first-token histograms.
pub(crate) fn grouped(
    rows: Vec<(String, i64, StatGroup)>,
    ttft: Vec<(String, i64, i64)>,
) -> Vec<(String, Summary)> {
    let mut totals: BTreeMap<String, StatGroup> = BTreeMap::new();
    let mut latency: Vec<(String, i64, i64)> = Vec::with_capacity(rows.len());
    for (group, bucket, g) in rows {
        latency.push((group.clone(), bucket, g.requests));
        let t = totals
            .entry(group.clone())
            .or_insert_with(|| StatGroup { group, ..StatGroup::default() });
        t.requests += g.requests;
        t.successes += g.successes;
        t.input_tokens += g.input_tokens;
        t.output_tokens += g.output_tokens;
        t.cached_tokens += g.cached_tokens;
        t.cache_write_tokens += g.cache_write_tokens;
        t.cost_usd += g.cost_usd;
        t.cache_savings_usd += g.cache_savings_usd;
        t.answer_lookups += g.answer_lookups;
        t.answer_hits += g.answer_hits;
        t.answer_saved_usd += g.answer_saved_usd;
    }
    let (latency, ttft) = (by_group(latency), by_group(ttft));
    let none = Vec::new();
    let mut out: Vec<(String, Summary)> = totals
        .into_values()
        .map(|g| {
            let s = summarize(
                &g,
                latency.get(&g.group).unwrap_or(&none),
                ttft.get(&g.group).unwrap_or(&none),
            );
            (g.group, s)
        })
        .collect();
    out.sort_by(|a, b| b.1.requests.cmp(&a.1.requests).then(a.0.cmp(&b.0)));
    out
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub(crate) struct Point {
    /// Bucket start, Unix ms.
    pub t: i64,
    pub requests: i64,
    pub errors: i64,
    pub tokens: i64,
    pub cost_usd: f64,
    pub latency_p95_ms: Option<i64>,
}

/// `buckets` consecutive time buckets of `bucket_ms` from `start_ms`, every bucket present, from
/// groups numbered by bucket (see [`crate::store::logs::StatDim::Time`]).
pub(crate) fn series(
    rows: Vec<(String, i64, StatGroup)>,
    start_ms: i64,
    bucket_ms: i64,
    buckets: usize,
) -> Vec<Point> {
    let summaries: BTreeMap<usize, Summary> = grouped(rows, vec![])
        .into_iter()
        .filter_map(|(g, s)| g.parse::<usize>().ok().map(|i| (i, s)))
        .collect();
    (0..buckets)
        .map(|i| {
            let s = summaries.get(&i).cloned().unwrap_or_default();
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
    fn histogram_ranks_agree_with_nearest_rank_on_the_values() {
        let values: Vec<i64> = (1..=20).collect();
        let histogram: Vec<(i64, i64)> = values.iter().map(|v| (*v, 1)).collect();
        for p in [1.0, 30.0, 50.0, 95.0, 100.0] {
            assert_eq!(histogram_rank(&histogram, p), nearest_rank(&values, p), "p{p}");
        }
        assert_eq!(histogram_rank(&[(100, 9), (5000, 1)], 95.0), Some(5000));
        assert_eq!(histogram_rank(&[], 50.0), None);
    }

    #[test]
    fn summaries_groups_and_series() {
        // Five requests per group, one per latency bucket; group b has one failure.
        let rows =
            |group: &str, latencies: &[i64], failed: usize| -> Vec<(String, i64, StatGroup)> {
                latencies
                    .iter()
                    .enumerate()
                    .map(|(i, l)| {
                        let g = StatGroup {
                            group: group.into(),
                            requests: 1,
                            successes: i64::from(i >= failed),
                            input_tokens: 10,
                            output_tokens: 5,
                            cost_usd: 0.001,
                            ..StatGroup::default()
                        };
                        (group.to_owned(), *l, g)
                    })
                    .collect()
            };
        let mut all = rows("a", &[100, 300, 500, 700, 900], 0);
        all.extend(rows("b", &[200, 400, 600, 800, 1000], 1));
        let groups = grouped(all.clone(), vec![("b".into(), 50, 5)]);
        assert_eq!(
            groups.iter().map(|(m, s)| (m.as_str(), s.requests)).collect::<Vec<_>>(),
            [("a", 5), ("b", 5)]
        );
        let b = &groups[1].1;
        assert_eq!((b.errors, b.success_rate), (1, Some(80.0)));
        assert_eq!(
            (b.latency_p50_ms, b.latency_p95_ms, b.ttft_p50_ms),
            (Some(600), Some(1000), Some(50))
        );
        assert!((b.cost_usd - 0.005).abs() < 1e-12);
        let timed = all
            .into_iter()
            .map(|(g, b, s)| (if g == "a" { "0" } else { "1" }.to_owned(), b, s))
            .collect();
        let points = series(timed, 0, 5_000, 3);
        assert_eq!(points.iter().map(|p| p.requests).collect::<Vec<_>>(), [5, 5, 0]);
        assert_eq!(
            (points[1].errors, points[1].t, points[1].latency_p95_ms),
            (1, 5_000, Some(1000))
        );
    }
}
