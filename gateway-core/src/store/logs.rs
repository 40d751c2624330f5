//! Request logs: one row per data-plane request.

use serde::Serialize;

use super::{Row, Store, StoreResult};
use crate::io::{Stmt, Value};

/// Everything recorded about one request.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct LogRecord {
    pub id: String,
    pub created_at: i64,
    pub request_id: String,
    pub key_id: Option<String>,
    pub endpoint: String,
    pub model_requested: Option<String>,
    pub model_served: Option<String>,
    pub provider_id: Option<String>,
    pub protocol_in: Option<String>,
    pub protocol_out: Option<String>,
    pub stream: bool,
    pub status: i64,
    pub error_kind: Option<String>,
    pub attempts: i64,
    pub latency_ms: i64,
    pub ttft_ms: Option<i64>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cached_tokens: Option<i64>,
    pub cache_write_tokens: Option<i64>,
    pub reasoning_tokens: Option<i64>,
    pub cost_usd: Option<f64>,
    /// The upstream did not report the usage: the tokens (and cost) were estimated.
    pub usage_estimated: bool,
    /// What translating the request lost (`codec::Translation`); `None`: not translated.
    pub translation: Option<serde_json::Value>,
    /// What the prompt cache saved ([`crate::store::models::Model::cache_savings`]).
    pub cache_savings_usd: Option<f64>,
    /// The response cache: `hit`, `miss`, `refresh` or `bypass`; `None` when no policy applied.
    pub response_cache: Option<String>,
    /// A hit: the request whose answer it replayed.
    pub cached_from: Option<String>,
    /// A hit: what the replayed answer cost when it was fetched.
    pub response_cache_saved_usd: Option<f64>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
    /// Only when the key logs bodies; truncated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_body: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub response_body: Option<String>,
}

const COLUMNS: &str = "id, created_at, request_id, key_id, endpoint, model_requested, model_served, \
    provider_id, protocol_in, protocol_out, stream, status, error_kind, attempts, latency_ms, ttft_ms, \
    input_tokens, output_tokens, cached_tokens, cache_write_tokens, reasoning_tokens, cost_usd, \
    usage_estimated, translation, cache_savings_usd, response_cache, cached_from, response_cache_saved_usd, client_ip, user_agent, \
    request_body, response_body";

fn decode(r: &Row<'_>) -> StoreResult<LogRecord> {
    Ok(LogRecord {
        id: r.text("id")?,
        created_at: r.int("created_at")?,
        request_id: r.text("request_id")?,
        key_id: r.opt_text("key_id")?,
        endpoint: r.text("endpoint")?,
        model_requested: r.opt_text("model_requested")?,
        model_served: r.opt_text("model_served")?,
        provider_id: r.opt_text("provider_id")?,
        protocol_in: r.opt_text("protocol_in")?,
        protocol_out: r.opt_text("protocol_out")?,
        stream: r.bool("stream")?,
        status: r.int("status")?,
        error_kind: r.opt_text("error_kind")?,
        attempts: r.int("attempts")?,
        latency_ms: r.int("latency_ms")?,
        ttft_ms: r.opt_int("ttft_ms")?,
        input_tokens: r.opt_int("input_tokens")?,
        output_tokens: r.opt_int("output_tokens")?,
        cached_tokens: r.opt_int("cached_tokens")?,
        cache_write_tokens: r.opt_int("cache_write_tokens")?,
        reasoning_tokens: r.opt_int("reasoning_tokens")?,
        cost_usd: r.opt_real("cost_usd")?,
        usage_estimated: r.bool("usage_estimated")?,
        translation: r.opt_text("translation")?.and_then(|t| serde_json::from_str(&t).ok()),
        cache_savings_usd: r.opt_real("cache_savings_usd")?,
        response_cache: r.opt_text("response_cache")?,
        cached_from: r.opt_text("cached_from")?,
        response_cache_saved_usd: r.opt_real("response_cache_saved_usd")?,
        client_ip: r.opt_text("client_ip")?,
        user_agent: r.opt_text("user_agent")?,
        request_body: r.opt_text("request_body")?,
        response_body: r.opt_text("response_body")?,
    })
}

fn values(l: &LogRecord) -> Vec<Value> {
    vec![
        l.id.clone().into(),
        Value::Integer(l.created_at),
        l.request_id.clone().into(),
        l.key_id.clone().into(),
        l.endpoint.clone().into(),
        l.model_requested.clone().into(),
        l.model_served.clone().into(),
        l.provider_id.clone().into(),
        l.protocol_in.clone().into(),
        l.protocol_out.clone().into(),
        l.stream.into(),
        Value::Integer(l.status),
        l.error_kind.clone().into(),
        Value::Integer(l.attempts),
        Value::Integer(l.latency_ms),
        l.ttft_ms.into(),
        l.input_tokens.into(),
        l.output_tokens.into(),
        l.cached_tokens.into(),
        l.cache_write_tokens.into(),
        l.reasoning_tokens.into(),
        l.cost_usd.into(),
        l.usage_estimated.into(),
        l.translation.as_ref().map(|t| t.to_string()).into(),
        l.cache_savings_usd.into(),
        l.response_cache.clone().into(),
        l.cached_from.clone().into(),
        l.response_cache_saved_usd.into(),
        l.client_ip.clone().into(),
        l.user_agent.clone().into(),
        l.request_body.clone().into(),
        l.response_body.clone().into(),
    ]
}

/// Filters of the request-log search.
#[derive(Debug, Clone, Default)]
pub struct LogFilter {
    pub from_ms: Option<i64>,
    pub to_ms: Option<i64>,
    pub key_id: Option<String>,
    pub model: Option<String>,
    pub status: Option<i64>,
    pub request_id: Option<String>,
}

impl LogFilter {
    /// `WHERE …` and its parameters.
    pub(crate) fn clause(&self) -> (String, Vec<Value>) {
        let mut conds = vec!["1 = 1".to_owned()];
        let mut params = Vec::new();
        let mut add = |cond: &str, v: Value| {
            conds.push(cond.to_owned());
            params.push(v);
        };
        if let Some(v) = self.from_ms {
            add("created_at >= ?", Value::Integer(v));
        }
        if let Some(v) = self.to_ms {
            add("created_at < ?", Value::Integer(v));
        }
        if let Some(v) = &self.key_id {
            add("key_id = ?", v.clone().into());
        }
        if let Some(v) = &self.model {
            add("model_requested = ?", v.clone().into());
        }
        if let Some(v) = self.status {
            add("status = ?", Value::Integer(v));
        }
        if let Some(v) = &self.request_id {
            add("request_id = ?", v.clone().into());
        }
        (conds.join(" AND "), params)
    }
}

impl Store {
    pub async fn insert_log(&self, l: &LogRecord) -> StoreResult<()> {
        self.insert_logs(std::slice::from_ref(l)).await
    }

    /// Writes records in one transaction (multi-row inserts of up to 100 rows).
    pub async fn insert_logs(&self, records: &[LogRecord]) -> StoreResult<()> {
        let columns = COLUMNS.split(',').count();
        let row = format!("({})", vec!["?"; columns].join(", "));
        let stmts: Vec<Stmt> = records
            .chunks(100)
            .map(|chunk| {
                let rows = vec![row.as_str(); chunk.len()].join(", ");
                let sql = format!("INSERT OR IGNORE INTO request_logs ({COLUMNS}) VALUES {rows}");
                Stmt::new(sql, chunk.iter().flat_map(values).collect())
            })
            .collect();
        if !stmts.is_empty() {
            self.batch(stmts).await?;
        }
        Ok(())
    }

    /// A page of matching logs, newest first, and how many match in all.
    pub async fn search_logs(
        &self,
        filter: &LogFilter,
        limit: i64,
        offset: i64,
    ) -> StoreResult<(Vec<LogRecord>, i64)> {
        let (clause, params) = filter.clause();
        let total = self
            .query_one(
                &format!("SELECT COUNT(*) AS n FROM request_logs WHERE {clause}"),
                params.clone(),
                |r| r.int("n"),
            )
            .await?
            .unwrap_or(0);
        let mut page_params = params;
        page_params.extend([Value::Integer(limit), Value::Integer(offset)]);
        let sql = format!(
            "SELECT {COLUMNS} FROM request_logs WHERE {clause} ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
        );
        Ok((self.query_as(&sql, page_params, decode).await?, total))
    }

    /// Rolls up every whole UTC day before `today_start_ms` into `request_rollups` (recomputing the
    /// days still in the logs), then deletes logs older than `cutoff_ms`. Rollups are kept.
    pub async fn roll_up_and_prune(&self, today_start_ms: i64, cutoff_ms: i64) -> StoreResult<u64> {
        self.batch(vec![Stmt::new(
            "INSERT OR REPLACE INTO request_rollups (day, key_id, model, provider_id, requests, errors, \
             input_tokens, output_tokens, cached_tokens, cost_usd, latency_ms_sum) \
             SELECT date(created_at / 1000, 'unixepoch'), COALESCE(key_id, ''), COALESCE(model_requested, ''), \
             COALESCE(provider_id, ''), COUNT(*), SUM(status >= 400), COALESCE(SUM(input_tokens), 0), \
             COALESCE(SUM(output_tokens), 0), COALESCE(SUM(cached_tokens), 0), COALESCE(SUM(cost_usd), 0), \
             SUM(latency_ms) FROM request_logs WHERE created_at < ? GROUP BY 1, 2, 3, 4",
            vec![Value::Integer(today_start_ms)],
        )])
        .await?;
        self.execute(
            "DELETE FROM request_logs WHERE created_at < ?",
            vec![Value::Integer(cutoff_ms)],
        )
        .await
    }

    /// What `key_id` spent since `from_ms` (USD): its request logs, and before the oldest log
    /// kept, its daily rollups — what a limit store that lost a budget counter is seeded with.
    pub async fn spent_since(&self, key_id: &str, from_ms: i64) -> StoreResult<f64> {
        let from_day = crate::rules::date(from_ms);
        self.query_one(
            "SELECT COALESCE((SELECT SUM(cost_usd) FROM request_logs \
               WHERE key_id = ? AND created_at >= ?), 0) \
             + COALESCE((SELECT SUM(cost_usd) FROM request_rollups WHERE key_id = ? AND day >= ? \
               AND day < (SELECT COALESCE(date(MIN(created_at) / 1000, 'unixepoch'), '9999-12-31') \
                          FROM request_logs)), 0) AS spent",
            vec![key_id.into(), Value::Integer(from_ms), key_id.into(), from_day.into()],
            |r| r.opt_real("spent"),
        )
        .await
        .map(|v| v.flatten().unwrap_or(0.0))
    }

    /// Daily rollups from `from_day` (`YYYY-MM-DD`) on: `(day, requests, errors, tokens, cost)`.
    pub async fn rollups(&self, from_day: &str) -> StoreResult<Vec<(String, i64, i64, i64, f64)>> {
        self.query_as(
            "SELECT day, SUM(requests) AS requests, SUM(errors) AS errors, \
             SUM(input_tokens + output_tokens) AS tokens, SUM(cost_usd) AS cost \
             FROM request_rollups WHERE day >= ? GROUP BY day ORDER BY day",
            vec![from_day.into()],
            |r| {
                Ok((
                    r.text("day")?,
                    r.int("requests")?,
                    r.int("errors")?,
                    r.int("tokens")?,
                    r.opt_real("cost")?.unwrap_or(0.0),
                ))
            },
        )
        .await
    }
}
