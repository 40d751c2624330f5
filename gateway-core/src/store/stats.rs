//! What the dashboard's statistics are read from: hourly rollups of closed hours (counts, tokens
//! and cost; latency and time-to-first-token histograms; errors by kind — per key, model and
//! provider), kept up to date by the periodic jobs, and the request logs themselves for the hours
//! not rolled up yet. Either way the database aggregates: the gateway reads one row per group and
//! bucket, so neither its memory nor (once rolled up) the query's work follows the number of
//! requests.
//!
//! A closed hour is rolled up two hours after it ends and recomputed for six more hours (a
//! request is logged when it ends, so a long stream's row can arrive late); rows that arrive
//! later than that count in the logs but not in the rollups.

use super::logs::LogFilter;
use super::settings::Setting;
use super::{Row, Store, StoreResult};
use crate::io::{Stmt, Value};

/// The first hour (Unix ms / 3 600 000) not rolled up yet.
const HOUR: i64 = 3_600_000;
/// Hours wait this long after they end before they are rolled up.
const LAG_HOURS: i64 = 2;
/// Each run recomputes this many hours before the last one rolled up (late rows).
const REDO_HOURS: i64 = 6;
/// Hours rolled up per transaction (so a first backfill never holds the writer for long).
const CHUNK_HOURS: i64 = 6;
/// How long rollups are kept: past the dashboard's longest window.
const KEEP_HOURS: i64 = 40 * 24;

/// What stats are grouped by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StatDim {
    /// One group, `""`.
    Total,
    Model,
    Provider,
    Key,
    /// Time buckets of `size_ms` from `start_ms`, numbered from 0.
    Time {
        start_ms: i64,
        size_ms: i64,
    },
}

impl StatDim {
    /// The SQL expression of the group over the logs, or (`rollup`) over rollup rows, and its
    /// parameters.
    fn expression(self, rollup: bool) -> (&'static str, Vec<Value>) {
        let time = |start_ms: i64, size_ms: i64| {
            vec![Value::Integer(start_ms), Value::Integer(size_ms.max(1))]
        };
        match (self, rollup) {
            (StatDim::Total, _) => ("''", vec![]),
            (StatDim::Model, false) => ("COALESCE(model_requested, '')", vec![]),
            (StatDim::Model, true) => ("model", vec![]),
            (StatDim::Provider, false) => ("COALESCE(provider_id, '')", vec![]),
            (StatDim::Provider, true) => ("provider_id", vec![]),
            (StatDim::Key, false) => ("COALESCE(key_id, '')", vec![]),
            (StatDim::Key, true) => ("key_id", vec![]),
            (StatDim::Time { start_ms, size_ms }, false) => {
                ("CAST((created_at - ?) / ? AS TEXT)", time(start_ms, size_ms))
            }
            (StatDim::Time { start_ms, size_ms }, true) => {
                ("CAST((hour * 3600000 - ?) / ? AS TEXT)", time(start_ms, size_ms))
            }
        }
    }
}

/// `column` rounded down to three significant digits: exact below 1 000 ms, within 1 % above.
fn bucket(column: &str) -> String {
    format!(
        "CASE WHEN {c} < 1000 THEN {c} WHEN {c} < 10000 THEN {c} - {c} % 10 \
         WHEN {c} < 100000 THEN {c} - {c} % 100 WHEN {c} < 1000000 THEN {c} - {c} % 1000 \
         ELSE {c} - {c} % 10000 END",
        c = column
    )
}

fn group_text(r: &Row<'_>) -> StoreResult<String> {
    r.opt_text("g").map(Option::unwrap_or_default)
}

/// The response cache's counts over request-log rows: lookups (hits and misses), hits, savings.
const ANSWERS: &str = "COALESCE(SUM(response_cache IN ('hit', 'miss')), 0) AS al, \
    COALESCE(SUM(response_cache = 'hit'), 0) AS ah, \
    COALESCE(SUM(response_cache_saved_usd), 0.0) AS asv";

/// One group's counts.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StatGroup {
    pub group: String,
    pub requests: i64,
    pub successes: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cached_tokens: i64,
    pub cache_write_tokens: i64,
    pub cost_usd: f64,
    pub cache_savings_usd: f64,
    /// Response cache: requests looked up (hits and misses), hits, and what the hits saved.
    pub answer_lookups: i64,
    pub answer_hits: i64,
    pub answer_saved_usd: f64,
}

/// The part of a stats window read from rollups and the part read from the logs.
struct Split {
    /// Rolled-up hours `[from, to)`, when any.
    hours: Option<(i64, i64)>,
    /// The logs' share: the filter, from the first hour not rolled up.
    raw: LogFilter,
}

/// Rollup rows for `filter`'s key and model, in hours `[from, to)`: the clause and parameters.
fn rollup_clause(filter: &LogFilter, (from, to): (i64, i64)) -> (String, Vec<Value>) {
    let mut clause = "hour >= ? AND hour < ?".to_owned();
    let mut params = vec![Value::Integer(from), Value::Integer(to)];
    if let Some(k) = &filter.key_id {
        clause.push_str(" AND key_id = ?");
        params.push(k.clone().into());
    }
    if let Some(m) = &filter.model {
        clause.push_str(" AND model = ?");
        params.push(m.clone().into());
    }
    (clause, params)
}

fn split(filter: &LogFilter, rolled_until: Option<i64>) -> Split {
    let from = filter.from_ms.unwrap_or(0);
    let plain = filter.to_ms.is_none() && filter.status.is_none() && filter.request_id.is_none();
    match rolled_until {
        // Only windows that start on an hour and run to now are split (what the stats ask).
        Some(until) if plain && from % HOUR == 0 && from / HOUR < until => {
            let raw = LogFilter { from_ms: Some(until * HOUR), ..filter.clone() };
            Split { hours: Some((from / HOUR, until)), raw }
        }
        _ => Split { hours: None, raw: filter.clone() },
    }
}

impl Store {
    /// The first hour not rolled up, if the rollups ever ran.
    pub async fn stats_rolled_until(&self) -> StoreResult<Option<i64>> {
        self.number(Setting::StatsRolledUntil).await
    }

    /// Rolls up every closed hour not rolled up yet (recomputing the last few), six hours per
    /// transaction, and drops rollups past their keep; returns how many hours were computed. A
    /// backfill (the first run over a large log) pauses after each transaction as long as it
    /// took: it takes at most half of one core from the requests — dashboard reads of the same
    /// logs among them — served meanwhile.
    pub async fn roll_up_stats(&self, platform: &dyn crate::io::Platform) -> StoreResult<i64> {
        let now_ms = platform.now_ms();
        let to = now_ms.div_euclid(HOUR) - LAG_HOURS;
        let from = match self.stats_rolled_until().await? {
            Some(until) => until - REDO_HOURS,
            None => {
                let oldest = self
                    .query_one("SELECT MIN(created_at) AS t FROM request_logs", vec![], |r| {
                        r.opt_int("t")
                    })
                    .await?
                    .flatten();
                oldest.map_or(to, |t| t.div_euclid(HOUR))
            }
        }
        .max(to - KEEP_HOURS);
        let mut start = from;
        while start < to {
            let began = platform.now_ms();
            let end = (start + CHUNK_HOURS).min(to);
            self.batch(roll_up(start, end)).await?;
            self.put_number(Setting::StatsRolledUntil, end, now_ms).await?;
            start = end;
            if start < to {
                let took = u64::try_from(platform.now_ms() - began).unwrap_or(0).min(5_000);
                platform.sleep(std::time::Duration::from_millis(took)).await;
            }
        }
        if from >= to {
            self.put_number(Setting::StatsRolledUntil, to.max(from), now_ms).await?;
        }
        let keep = vec![Value::Integer(to - KEEP_HOURS)];
        self.batch(
            ["request_stats", "request_stat_buckets", "request_stat_errors"]
                .iter()
                .map(|t| Stmt::new(format!("DELETE FROM {t} WHERE hour < ?"), keep.clone()))
                .collect(),
        )
        .await?;
        Ok((to - from).max(0))
    }

    /// Runs a query grouped by `dim` over the logs (`rollup` false) or the rollups: `sql` gets
    /// the group's SQL expression, whose parameters come before `params`.
    async fn grouped<T>(
        &self,
        (dim, rollup): (StatDim, bool),
        params: Vec<Value>,
        sql: impl FnOnce(&str) -> String,
        decode: impl Fn(&Row<'_>) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        let (group, mut all) = dim.expression(rollup);
        all.extend(params);
        self.query_as(&sql(group), all, decode).await
    }

    /// Per value of `dim` and latency bucket: requests, successes, tokens and cost. Summed per
    /// group this gives the group's totals; per bucket, its latency histogram.
    pub async fn stat_groups(
        &self,
        filter: &LogFilter,
        dim: StatDim,
        rolled_until: Option<i64>,
    ) -> StoreResult<Vec<(String, i64, StatGroup)>> {
        let split = split(filter, rolled_until);
        let decode = |r: &Row<'_>| {
            let group = group_text(r)?;
            let g = StatGroup {
                group: group.clone(),
                requests: r.int("n")?,
                successes: r.int("ok")?,
                input_tokens: r.int("i")?,
                output_tokens: r.int("o")?,
                cached_tokens: r.int("c")?,
                cache_write_tokens: r.int("w")?,
                cost_usd: r.opt_real("cost")?.unwrap_or(0.0),
                cache_savings_usd: r.opt_real("sv")?.unwrap_or(0.0),
                answer_lookups: r.int("al")?,
                answer_hits: r.int("ah")?,
                answer_saved_usd: r.opt_real("asv")?.unwrap_or(0.0),
            };
            Ok((group, r.int("b")?, g))
        };
        let (clause, params) = split.raw.clause();
        let from_logs = |group: &str| {
            format!(
                "SELECT {group} AS g, {} AS b, COUNT(*) AS n, \
                 COALESCE(SUM(status < 400 AND error_kind IS NULL), 0) AS ok, \
                 COALESCE(SUM(input_tokens), 0) AS i, COALESCE(SUM(output_tokens), 0) AS o, \
                 COALESCE(SUM(cached_tokens), 0) AS c, COALESCE(SUM(cache_write_tokens), 0) AS w, \
                 COALESCE(SUM(cost_usd), 0.0) AS cost, COALESCE(SUM(cache_savings_usd), 0.0) AS sv, \
                 {ANSWERS} FROM request_logs WHERE {clause} GROUP BY g, b",
                bucket("latency_ms")
            )
        };
        let mut rows = self.grouped((dim, false), params, from_logs, decode).await?;
        if let Some(hours) = split.hours {
            // Totals live in `request_stats`, the latency histogram in the buckets: the totals
            // come back under bucket -1, which only summing reads (a histogram row has n only).
            let (clause, params) = rollup_clause(filter, hours);
            let totals = |group: &str| {
                format!(
                    "SELECT {group} AS g, -1 AS b, 0 AS n, SUM(successes) AS ok, \
                     SUM(input_tokens) AS i, SUM(output_tokens) AS o, SUM(cached_tokens) AS c, \
                     SUM(cache_write_tokens) AS w, SUM(cost_usd) AS cost, \
                     SUM(cache_savings_usd) AS sv, SUM(response_cache_lookups) AS al, \
                     SUM(response_cache_hits) AS ah, SUM(response_cache_saved_usd) AS asv \
                     FROM request_stats WHERE {clause} GROUP BY g"
                )
            };
            rows.extend(self.grouped((dim, true), params.clone(), totals, decode).await?);
            let latency = |group: &str| {
                format!(
                    "SELECT {group} AS g, bucket AS b, SUM(n) AS n, 0 AS ok, 0 AS i, 0 AS o, \
                     0 AS c, 0 AS w, 0.0 AS cost, 0.0 AS sv, 0 AS al, 0 AS ah, 0.0 AS asv \
                     FROM request_stat_buckets \
                     WHERE {clause} AND metric = 0 GROUP BY g, b"
                )
            };
            rows.extend(self.grouped((dim, true), params, latency, decode).await?);
        }
        Ok(rows)
    }

    /// How many requests of each `dim` group fell in each bucket of time to first token.
    pub async fn ttft_histogram(
        &self,
        filter: &LogFilter,
        dim: StatDim,
        rolled_until: Option<i64>,
    ) -> StoreResult<Vec<(String, i64, i64)>> {
        let split = split(filter, rolled_until);
        let decode = |r: &Row<'_>| Ok((group_text(r)?, r.int("b")?, r.int("n")?));
        let (clause, params) = split.raw.clause();
        let from_logs = |group: &str| {
            format!(
                "SELECT {group} AS g, {} AS b, COUNT(*) AS n FROM request_logs \
                 WHERE {clause} AND ttft_ms IS NOT NULL GROUP BY g, b",
                bucket("ttft_ms")
            )
        };
        let mut rows = self.grouped((dim, false), params, from_logs, decode).await?;
        if let Some(hours) = split.hours {
            let (clause, params) = rollup_clause(filter, hours);
            let rolled = |group: &str| {
                format!(
                    "SELECT {group} AS g, bucket AS b, SUM(n) AS n FROM request_stat_buckets \
                     WHERE {clause} AND metric = 1 GROUP BY g, b"
                )
            };
            rows.extend(self.grouped((dim, true), params, rolled, decode).await?);
        }
        Ok(rows)
    }

    /// Failed requests per error kind (`http_<status>` when a failure has none), most first.
    pub async fn errors_by_kind(
        &self,
        filter: &LogFilter,
        rolled_until: Option<i64>,
    ) -> StoreResult<Vec<(String, i64)>> {
        let split = split(filter, rolled_until);
        let (clause, params) = split.raw.clause();
        let mut sql = format!(
            "SELECT COALESCE(error_kind, 'http_' || status) AS kind, COUNT(*) AS n FROM request_logs \
             WHERE {clause} AND (error_kind IS NOT NULL OR status >= 400) GROUP BY kind"
        );
        let mut all = params;
        if let Some(hours) = split.hours {
            let (clause, params) = rollup_clause(filter, hours);
            sql.push_str(&format!(
                " UNION ALL SELECT kind, SUM(n) AS n FROM request_stat_errors WHERE {clause} GROUP BY kind"
            ));
            all.extend(params);
        }
        let sql =
            format!("SELECT kind, SUM(n) AS n FROM ({sql}) GROUP BY kind ORDER BY n DESC, kind");
        self.query_as(&sql, all, |r| Ok((r.text("kind")?, r.int("n")?))).await
    }
}

/// The statements that (re)compute the rollups of hours `[from, to)` from the logs.
fn roll_up(from: i64, to: i64) -> Vec<Stmt> {
    let hours = || vec![Value::Integer(from), Value::Integer(to)];
    let range = || vec![Value::Integer(from * HOUR), Value::Integer(to * HOUR)];
    let dims = "created_at / 3600000, COALESCE(key_id, ''), COALESCE(model_requested, ''), \
                COALESCE(provider_id, '')";
    let mut stmts: Vec<Stmt> = ["request_stats", "request_stat_buckets", "request_stat_errors"]
        .iter()
        .map(|t| Stmt::new(format!("DELETE FROM {t} WHERE hour >= ? AND hour < ?"), hours()))
        .collect();
    stmts.push(Stmt::new(
        format!(
            "INSERT INTO request_stats (hour, key_id, model, provider_id, requests, successes, \
             input_tokens, output_tokens, cached_tokens, cache_write_tokens, cost_usd, \
             cache_savings_usd, response_cache_lookups, response_cache_hits, \
             response_cache_saved_usd) \
             SELECT {dims}, COUNT(*), COALESCE(SUM(status < 400 AND error_kind IS NULL), 0), \
             COALESCE(SUM(input_tokens), 0), COALESCE(SUM(output_tokens), 0), \
             COALESCE(SUM(cached_tokens), 0), COALESCE(SUM(cache_write_tokens), 0), \
             COALESCE(SUM(cost_usd), 0.0), COALESCE(SUM(cache_savings_usd), 0.0), {ANSWERS} \
             FROM request_logs WHERE created_at >= ? AND created_at < ? GROUP BY 1, 2, 3, 4"
        ),
        range(),
    ));
    for (metric, column, only) in
        [(0, "latency_ms", ""), (1, "ttft_ms", " AND ttft_ms IS NOT NULL")]
    {
        stmts.push(Stmt::new(
            format!(
                "INSERT INTO request_stat_buckets (hour, key_id, model, provider_id, metric, bucket, n) \
                 SELECT {dims}, {metric}, {}, COUNT(*) FROM request_logs \
                 WHERE created_at >= ? AND created_at < ?{only} GROUP BY 1, 2, 3, 4, 6",
                bucket(column)
            ),
            range(),
        ));
    }
    stmts.push(Stmt::new(
        format!(
            "INSERT INTO request_stat_errors (hour, key_id, model, provider_id, kind, n) \
             SELECT {dims}, COALESCE(error_kind, 'http_' || status), COUNT(*) FROM request_logs \
             WHERE created_at >= ? AND created_at < ? AND (error_kind IS NOT NULL OR status >= 400) \
             GROUP BY 1, 2, 3, 4, 5"
        ),
        range(),
    ));
    stmts
}
