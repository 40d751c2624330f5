//! Health targets and their runs.

use serde::{Deserialize, Serialize};

use super::{Row, Store, StoreResult};
use crate::io::Value;

/// How a target is checked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CheckConfig {
    pub timeout_ms: u64,
    pub max_tokens: u32,
    /// The endpoint the probe calls: `openai_chat` (default), `openai_responses`, `anthropic_messages`.
    pub protocol: crate::provider::Protocol,
}

impl Default for CheckConfig {
    fn default() -> Self {
        Self { timeout_ms: 30_000, max_tokens: 16, protocol: crate::provider::Protocol::OpenaiChat }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthTarget {
    pub id: String,
    pub name: String,
    pub display_title: Option<String>,
    /// `model` or `virtual_model`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The model's (or virtual model's) name callers use.
    pub target_id: String,
    pub enabled: bool,
    pub check_interval_seconds: i64,
    pub check_prompt: String,
    pub check_config: CheckConfig,
    pub created_at: i64,
    pub updated_at: i64,
}

/// One check.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HealthRun {
    pub id: String,
    pub target_id: String,
    pub created_at: i64,
    /// `success` or `error`.
    pub status: String,
    pub latency_ms: Option<i64>,
    pub ttft_ms: Option<i64>,
    pub error_type: Option<String>,
    pub error_message: Option<String>,
}

const TARGET_COLUMNS: &str = "id, name, display_title, type, target_id, enabled, check_interval_seconds, \
    check_prompt, check_config, created_at, updated_at";
const RUN_COLUMNS: &str =
    "id, target_id, created_at, status, latency_ms, ttft_ms, error_type, error_message";

fn decode_target(r: &Row<'_>) -> StoreResult<HealthTarget> {
    Ok(HealthTarget {
        id: r.text("id")?,
        name: r.text("name")?,
        display_title: r.opt_text("display_title")?,
        kind: r.text("type")?,
        target_id: r.text("target_id")?,
        enabled: r.bool("enabled")?,
        check_interval_seconds: r.int("check_interval_seconds")?,
        check_prompt: r.text("check_prompt")?,
        check_config: r.json("check_config")?,
        created_at: r.int("created_at")?,
        updated_at: r.int("updated_at")?,
    })
}

fn decode_run(r: &Row<'_>) -> StoreResult<HealthRun> {
    Ok(HealthRun {
        id: r.text("id")?,
        target_id: r.text("target_id")?,
        created_at: r.int("created_at")?,
        status: r.text("status")?,
        latency_ms: r.opt_int("latency_ms")?,
        ttft_ms: r.opt_int("ttft_ms")?,
        error_type: r.opt_text("error_type")?,
        error_message: r.opt_text("error_message")?,
    })
}

fn target_params(t: &HealthTarget) -> Vec<Value> {
    vec![
        t.name.clone().into(),
        t.display_title.clone().into(),
        t.kind.clone().into(),
        t.target_id.clone().into(),
        t.enabled.into(),
        Value::Integer(t.check_interval_seconds),
        t.check_prompt.clone().into(),
        serde_json::to_string(&t.check_config).unwrap_or_else(|_| "{}".into()).into(),
        Value::Integer(t.updated_at),
    ]
}

impl Store {
    pub async fn list_health_targets(&self) -> StoreResult<super::Listed<HealthTarget>> {
        let sql = format!("SELECT {TARGET_COLUMNS} FROM health_targets ORDER BY name, id");
        self.query_tolerant("health_targets", &sql, vec![], decode_target).await
    }

    pub async fn health_target(&self, id: &str) -> StoreResult<Option<HealthTarget>> {
        let sql = format!("SELECT {TARGET_COLUMNS} FROM health_targets WHERE id = ?");
        self.query_one(&sql, vec![id.into()], decode_target).await
    }

    pub async fn insert_health_target(&self, t: &HealthTarget) -> StoreResult<()> {
        let mut values = target_params(t);
        values.insert(0, t.id.clone().into());
        values.push(Value::Integer(t.created_at));
        self.execute(
            "INSERT INTO health_targets (id, name, display_title, type, target_id, enabled, \
             check_interval_seconds, check_prompt, check_config, updated_at, created_at) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            values,
        )
        .await?;
        Ok(())
    }

    pub async fn update_health_target(&self, t: &HealthTarget) -> StoreResult<bool> {
        let mut values = target_params(t);
        values.push(t.id.clone().into());
        let changed = self
            .execute(
                "UPDATE health_targets SET name = ?, display_title = ?, type = ?, target_id = ?, enabled = ?, \
                 check_interval_seconds = ?, check_prompt = ?, check_config = ?, updated_at = ? WHERE id = ?",
                values,
            )
            .await?;
        Ok(changed == 1)
    }

    pub async fn delete_health_target(&self, id: &str) -> StoreResult<bool> {
        let changed =
            self.execute("DELETE FROM health_targets WHERE id = ?", vec![id.into()]).await?;
        self.execute("DELETE FROM health_runs WHERE target_id = ?", vec![id.into()]).await?;
        Ok(changed == 1)
    }

    pub async fn insert_health_run(&self, run: &HealthRun, source: &str) -> StoreResult<()> {
        self.execute(
            "INSERT INTO health_runs (id, target_id, created_at, status, latency_ms, ttft_ms, error_type, \
             error_message, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                run.id.clone().into(),
                run.target_id.clone().into(),
                Value::Integer(run.created_at),
                run.status.clone().into(),
                run.latency_ms.into(),
                run.ttft_ms.into(),
                run.error_type.clone().into(),
                run.error_message.clone().into(),
                source.into(),
            ],
        )
        .await?;
        Ok(())
    }

    /// Runs of a target since `from_ms`, newest first.
    pub async fn health_runs(&self, target_id: &str, from_ms: i64) -> StoreResult<Vec<HealthRun>> {
        let sql = format!(
            "SELECT {RUN_COLUMNS} FROM health_runs WHERE target_id = ? AND created_at >= ? \
             ORDER BY created_at DESC, id DESC"
        );
        self.query_as(&sql, vec![target_id.into(), Value::Integer(from_ms)], decode_run).await
    }

    /// When each target was last checked by a probe.
    pub async fn last_probe_times(&self) -> StoreResult<Vec<(String, i64)>> {
        self.query_as(
            "SELECT target_id, MAX(created_at) AS last FROM health_runs WHERE source = 'probe' GROUP BY target_id",
            vec![],
            |r| Ok((r.text("target_id")?, r.int("last")?)),
        )
        .await
    }

    /// Copies request-log rows of models with an enabled target into their runs (`source =
    /// 'traffic'`), from `from_ms` on, leaving out one key (the monitoring key's own probes). Client
    /// errors other than 429 say nothing about the model and are left out, as are response-cache
    /// hits (they never reached it). Idempotent: a log row
    /// becomes at most one run, so overlapping windows are safe. Returns the rows added.
    pub async fn import_traffic_runs(&self, from_ms: i64, except_key: &str) -> StoreResult<u64> {
        self.execute(
            "INSERT OR IGNORE INTO health_runs \
             (id, target_id, created_at, status, latency_ms, ttft_ms, error_type, error_message, source) \
             SELECT 'traffic_' || t.id || '_' || l.id, t.id, l.created_at, \
                    CASE WHEN l.status < 400 THEN 'success' ELSE 'error' END, \
                    l.latency_ms, l.ttft_ms, \
                    CASE WHEN l.status < 400 THEN NULL \
                         WHEN l.error_kind LIKE '%timeout%' THEN 'timeout' \
                         WHEN l.error_kind LIKE '%connection%' THEN 'connection' \
                         WHEN l.error_kind IN ('upstream_invalid_response', 'upstream_stream_error') \
                              THEN 'invalid_response' \
                         ELSE 'http_error' END, \
                    CASE WHEN l.status < 400 THEN NULL ELSE l.error_kind END, 'traffic' \
             FROM request_logs l JOIN health_targets t \
               ON t.enabled = 1 AND t.target_id = l.model_requested \
             WHERE l.created_at >= ? AND (l.key_id IS NULL OR l.key_id != ?) \
               AND (l.status < 400 OR l.status = 429 OR l.status >= 500) \
               AND (l.response_cache IS NULL OR l.response_cache != 'hit')",
            vec![Value::Integer(from_ms), except_key.into()],
        )
        .await
    }

    pub async fn prune_health_runs(&self, before_ms: i64) -> StoreResult<u64> {
        self.execute(
            "DELETE FROM health_runs WHERE created_at < ?",
            vec![Value::Integer(before_ms)],
        )
        .await
    }
}
