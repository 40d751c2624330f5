//! The core's SQL on Cloudflare D1. A batch is D1's own batch, which runs as one transaction.

use std::sync::Arc;

use gateway_core::{Rows, SqlError, SqlExec, Stmt, Value, async_trait};
use serde_json::Value as Json;
use wasm_bindgen::JsValue;
use worker::{D1Database, D1PreparedStatement};

pub struct D1Exec {
    db: Arc<D1Database>,
}

impl D1Exec {
    pub fn new(db: D1Database) -> Self {
        Self { db: Arc::new(db) }
    }

    fn prepare(&self, stmt: &Stmt) -> Result<D1PreparedStatement, SqlError> {
        let params: Vec<JsValue> = stmt
            .params
            .iter()
            .map(|v| match v {
                Value::Null => JsValue::NULL,
                Value::Integer(i) => JsValue::from_f64(*i as f64),
                Value::Real(f) => JsValue::from_f64(*f),
                Value::Text(t) => JsValue::from_str(t),
                Value::Blob(b) => js_sys::Uint8Array::from(b.as_slice()).into(),
            })
            .collect();
        self.db.prepare(stmt.sql.clone()).bind(&params).map_err(error)
    }
}

fn error(e: worker::Error) -> SqlError {
    let message = e.to_string();
    if message.contains("constraint failed") || message.contains("SQLITE_CONSTRAINT") {
        SqlError::Constraint(message)
    } else {
        SqlError::Other(message)
    }
}

/// D1 returns numbers as JavaScript numbers: whole ones become integers.
fn value(v: &Json) -> Value {
    match v {
        Json::Null => Value::Null,
        Json::Bool(b) => Value::Integer(i64::from(*b)),
        Json::Number(n) => match (n.as_i64(), n.as_f64()) {
            (Some(i), _) => Value::Integer(i),
            (None, Some(f)) if f.fract() == 0.0 && f.abs() < 9.007e15 => Value::Integer(f as i64),
            (None, Some(f)) => Value::Real(f),
            _ => Value::Null,
        },
        Json::String(s) => Value::Text(s.clone()),
        Json::Array(a) => Value::Blob(
            a.iter().filter_map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok())).collect(),
        ),
        Json::Object(_) => Value::Text(v.to_string()),
    }
}

#[async_trait(?Send)]
impl SqlExec for D1Exec {
    async fn execute(&self, stmt: Stmt) -> Result<u64, SqlError> {
        let result = self.prepare(&stmt)?.run().await.map_err(error)?;
        Ok(result.meta().map_err(error)?.and_then(|m| m.changes).unwrap_or(0) as u64)
    }

    async fn query(&self, stmt: Stmt) -> Result<Rows, SqlError> {
        let result = self.prepare(&stmt)?.all().await.map_err(error)?;
        let objects: Vec<serde_json::Map<String, Json>> = result.results().map_err(error)?;
        // Rows are read by column name, so the keys of the first row are the columns.
        let columns: Vec<String> =
            objects.first().map(|o| o.keys().cloned().collect()).unwrap_or_default();
        let rows = objects.iter().map(|o| columns.iter().map(|c| value(&o[c])).collect()).collect();
        Ok(Rows { columns, rows })
    }

    async fn batch(&self, stmts: Vec<Stmt>) -> Result<Vec<u64>, SqlError> {
        let prepared = stmts.iter().map(|s| self.prepare(s)).collect::<Result<Vec<_>, _>>()?;
        let results = self.db.batch(prepared).await.map_err(error)?;
        Ok(results
            .iter()
            .map(|r| r.meta().ok().flatten().and_then(|m| m.changes).unwrap_or(0) as u64)
            .collect())
    }
}
