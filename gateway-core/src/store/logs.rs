//! Request logs: one row per data-plane request.

use serde::Serialize;

use super::{Row, Store, StoreResult};
use crate::io::Value;

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
    pub reasoning_tokens: Option<i64>,
    pub cost_usd: Option<f64>,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
}

const COLUMNS: &str = "id, created_at, request_id, key_id, endpoint, model_requested, model_served, \
    provider_id, protocol_in, protocol_out, stream, status, error_kind, attempts, latency_ms, ttft_ms, \
    input_tokens, output_tokens, cached_tokens, reasoning_tokens, cost_usd, client_ip, user_agent";

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
        reasoning_tokens: r.opt_int("reasoning_tokens")?,
        cost_usd: r.opt_real("cost_usd")?,
        client_ip: r.opt_text("client_ip")?,
        user_agent: r.opt_text("user_agent")?,
    })
}

impl Store {
    pub async fn insert_log(&self, l: &LogRecord) -> StoreResult<()> {
        let placeholders = vec!["?"; COLUMNS.split(',').count()].join(", ");
        let sql = format!("INSERT INTO request_logs ({COLUMNS}) VALUES ({placeholders})");
        self.execute(
            &sql,
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
                l.reasoning_tokens.into(),
                l.cost_usd.into(),
                l.client_ip.clone().into(),
                l.user_agent.clone().into(),
            ],
        )
        .await?;
        Ok(())
    }

    /// Newest first; `request_id` narrows to one request.
    pub async fn recent_logs(
        &self,
        request_id: Option<&str>,
        limit: i64,
        offset: i64,
    ) -> StoreResult<Vec<LogRecord>> {
        let sql = format!(
            "SELECT {COLUMNS} FROM request_logs WHERE (? IS NULL OR request_id = ?) \
             ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?"
        );
        let rid: Value = request_id.into();
        self.query_as(
            &sql,
            vec![rid.clone(), rid, Value::Integer(limit), Value::Integer(offset)],
            decode,
        )
        .await
    }
}
