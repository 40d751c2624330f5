//! SQL over Hrana v3 (`POST /v3/pipeline`), the HTTP protocol Turso speaks, on top of the core's
//! [`HttpClient`] — so any host with outbound HTTP (Cloudflare Workers in particular) can use a
//! remote libSQL database with the same statements as everywhere else.
//!
//! A batch is one pipeline request: `BEGIN IMMEDIATE`, each statement conditioned on the previous
//! step's success, `COMMIT`, and a `ROLLBACK` if anything failed — all or nothing, like the local
//! driver.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Value as Json, json};

use crate::config::Secret;
use crate::io::{HttpClient, Rows, SqlError, SqlExec, Stmt, Value};

pub struct HranaExec {
    http: Arc<dyn HttpClient>,
    pipeline_url: String,
    token: Option<Secret>,
    timeout: Duration,
}

impl std::fmt::Debug for HranaExec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HranaExec").field("url", &self.pipeline_url).finish()
    }
}

impl HranaExec {
    /// `url` is the database URL (`libsql://…` is read as `https://…`).
    pub fn new(http: Arc<dyn HttpClient>, url: &str, token: Option<Secret>) -> Self {
        let base = match url.strip_prefix("libsql://") {
            Some(rest) => format!("https://{rest}"),
            None => url.to_owned(),
        };
        Self {
            http,
            pipeline_url: format!("{}/v3/pipeline", base.trim_end_matches('/')),
            token,
            timeout: Duration::from_secs(30),
        }
    }

    async fn pipeline(&self, requests: Vec<Json>) -> Result<Vec<Json>, SqlError> {
        let body = json!({"baton": null, "requests": requests}).to_string();
        let mut builder =
            http::Request::post(&self.pipeline_url).header("content-type", "application/json");
        if let Some(token) = &self.token {
            builder = builder.header("authorization", format!("Bearer {}", token.expose()));
        }
        let request =
            builder.body(Bytes::from(body)).map_err(|e| SqlError::Other(e.to_string()))?;
        let response = self
            .http
            .send(request, self.timeout)
            .await
            .map_err(|e| SqlError::Other(e.to_string()))?;
        let status = response.status();
        let mut stream = response.into_body();
        let mut bytes = Vec::new();
        while let Some(chunk) = stream.next().await {
            bytes.extend_from_slice(&chunk.map_err(|e| SqlError::Other(e.to_string()))?);
        }
        if !status.is_success() {
            return Err(SqlError::Other(format!(
                "Hrana HTTP {status}: {}",
                String::from_utf8_lossy(&bytes)
            )));
        }
        let parsed: Json = serde_json::from_slice(&bytes)
            .map_err(|e| SqlError::Other(format!("Hrana response: {e}")))?;
        Ok(parsed["results"].as_array().cloned().unwrap_or_default())
    }
}

fn encode(v: &Value) -> Json {
    match v {
        Value::Null => json!({"type": "null"}),
        Value::Integer(i) => json!({"type": "integer", "value": i.to_string()}),
        Value::Real(f) => json!({"type": "float", "value": f}),
        Value::Text(t) => json!({"type": "text", "value": t}),
        Value::Blob(b) => json!({"type": "blob", "base64": STANDARD.encode(b)}),
    }
}

fn decode(v: &Json) -> Value {
    match v["type"].as_str() {
        Some("integer") => Value::Integer(
            v["value"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .or_else(|| v["value"].as_i64())
                .unwrap_or(0),
        ),
        Some("float") => Value::Real(v["value"].as_f64().unwrap_or(0.0)),
        Some("text") => Value::Text(v["value"].as_str().unwrap_or_default().to_owned()),
        Some("blob") => Value::Blob(
            STANDARD.decode(v["base64"].as_str().unwrap_or_default()).unwrap_or_default(),
        ),
        _ => Value::Null,
    }
}

fn stmt_json(stmt: &Stmt, want_rows: bool) -> Json {
    json!({"sql": stmt.sql, "args": stmt.params.iter().map(encode).collect::<Vec<_>>(), "want_rows": want_rows})
}

fn sql_error(e: &Json) -> SqlError {
    let message = e["message"].as_str().unwrap_or("Hrana error").to_owned();
    let code = e["code"].as_str().unwrap_or_default();
    if code.starts_with("SQLITE_CONSTRAINT") || message.contains("constraint failed") {
        SqlError::Constraint(message)
    } else {
        SqlError::Other(message)
    }
}

/// The `result` of a successful `execute`, or its error.
fn execute_result(result: Option<&Json>) -> Result<&Json, SqlError> {
    let result = result.ok_or_else(|| SqlError::Other("Hrana: missing result".into()))?;
    if result["type"] == "error" {
        return Err(sql_error(&result["error"]));
    }
    Ok(&result["response"]["result"])
}

crate::io_trait! {
    impl SqlExec for HranaExec {
        async fn execute(&self, stmt: Stmt) -> Result<u64, SqlError> {
            let results = self.pipeline(vec![json!({"type": "execute", "stmt": stmt_json(&stmt, false)}), json!({"type": "close"})]).await?;
            Ok(execute_result(results.first())?["affected_row_count"].as_u64().unwrap_or(0))
        }

        async fn query(&self, stmt: Stmt) -> Result<Rows, SqlError> {
            let results = self.pipeline(vec![json!({"type": "execute", "stmt": stmt_json(&stmt, true)}), json!({"type": "close"})]).await?;
            let result = execute_result(results.first())?;
            let columns = result["cols"].as_array().into_iter().flatten().map(|c| c["name"].as_str().unwrap_or_default().to_owned()).collect();
            let rows = result["rows"].as_array().into_iter().flatten().map(|r| r.as_array().into_iter().flatten().map(decode).collect()).collect();
            Ok(Rows { columns, rows })
        }

        async fn batch(&self, stmts: Vec<Stmt>) -> Result<Vec<u64>, SqlError> {
            let n = stmts.len();
            let ok = |step: usize| json!({"type": "ok", "step": step});
            let mut steps = vec![json!({"stmt": {"sql": "BEGIN IMMEDIATE", "want_rows": false}})];
            for (i, stmt) in stmts.iter().enumerate() {
                steps.push(json!({"condition": ok(i), "stmt": stmt_json(stmt, false)}));
            }
            steps.push(json!({"condition": ok(n), "stmt": {"sql": "COMMIT", "want_rows": false}}));
            steps.push(json!({"condition": {"type": "not", "cond": ok(n + 1)}, "stmt": {"sql": "ROLLBACK", "want_rows": false}}));
            let results = self.pipeline(vec![json!({"type": "batch", "batch": {"steps": steps}}), json!({"type": "close"})]).await?;
            let batch = execute_result(results.first())?;
            if let Some(e) = batch["step_errors"].as_array().into_iter().flatten().find(|e| !e.is_null()) {
                return Err(sql_error(e));
            }
            let step_results = batch["step_results"].as_array().cloned().unwrap_or_default();
            Ok((1..=n).map(|i| step_results.get(i).and_then(|r| r["affected_row_count"].as_u64()).unwrap_or(0)).collect())
        }
    }
}
