//! All SQL the gateway runs, once, for every host: typed functions over [`SqlExec`].
//!
//! Each submodule owns one table family. Nothing outside `store` writes SQL text.

pub mod answers;
pub mod catalog;
pub mod health;
pub mod keys;
pub mod limits;
pub mod logs;
pub mod migrate;
pub mod models;
pub mod providers;
pub mod settings;
pub mod stats;
pub mod users;
pub mod virtual_models;

use std::sync::Arc;

use crate::io::{Rows, SqlError, SqlExec, Stmt, Value};

/// Storage failures. Details go to the log; callers see `internal_error`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Sql(#[from] SqlError),
    #[error("unexpected value in column {column}: {detail}")]
    Decode { column: String, detail: String },
    #[error(
        "database schema version {found} is newer than this gateway knows ({known}); upgrade the gateway"
    )]
    SchemaTooNew { found: i64, known: i64 },
}

impl StoreError {
    /// True when a UNIQUE/PRIMARY KEY/foreign key constraint refused the write.
    pub fn is_constraint(&self) -> bool {
        matches!(self, StoreError::Sql(SqlError::Constraint(_)))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The database, shared by every part of the core.
#[derive(Clone)]
pub struct Store {
    db: Arc<dyn SqlExec>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Store")
    }
}

impl Store {
    pub fn new(db: Arc<dyn SqlExec>) -> Self {
        Self { db }
    }

    pub(crate) async fn execute(&self, sql: &str, params: Vec<Value>) -> StoreResult<u64> {
        Ok(self.db.execute(Stmt::new(sql, params)).await?)
    }

    pub(crate) async fn query(&self, sql: &str, params: Vec<Value>) -> StoreResult<Rows> {
        Ok(self.db.query(Stmt::new(sql, params)).await?)
    }

    pub(crate) async fn batch(&self, stmts: Vec<Stmt>) -> StoreResult<Vec<u64>> {
        Ok(self.db.batch(stmts).await?)
    }

    /// Runs a query and decodes every row with `decode`.
    pub(crate) async fn query_as<T>(
        &self,
        sql: &str,
        params: Vec<Value>,
        decode: impl Fn(&Row<'_>) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        let rows = self.query(sql, params).await?;
        rows.rows.iter().map(|values| decode(&Row { columns: &rows.columns, values })).collect()
    }

    /// Like [`Store::query_as`], but a row `decode` cannot read (a JSON column written by hand,
    /// a value a newer version wrote) is reported and skipped instead of failing the whole list:
    /// one bad row must not take down every page or job that lists its table.
    pub(crate) async fn query_tolerant<T>(
        &self,
        table: &str,
        sql: &str,
        params: Vec<Value>,
        decode: impl Fn(&Row<'_>) -> StoreResult<T>,
    ) -> StoreResult<Listed<T>> {
        let rows = self.query(sql, params).await?;
        let mut listed = Listed { items: Vec::with_capacity(rows.rows.len()), skipped: vec![] };
        for values in &rows.rows {
            let row = Row { columns: &rows.columns, values };
            match decode(&row) {
                Ok(item) => listed.items.push(item),
                Err(e) => {
                    let id = row.text("id").unwrap_or_else(|_| "?".into());
                    tracing::warn!(table, id = %id, error = %e, "skipping a stored row the gateway cannot read");
                    listed.skipped.push(Skipped { id, problem: e.to_string() });
                }
            }
        }
        Ok(listed)
    }

    /// Like [`Store::query_as`] for at most one row.
    pub(crate) async fn query_one<T>(
        &self,
        sql: &str,
        params: Vec<Value>,
        decode: impl Fn(&Row<'_>) -> StoreResult<T>,
    ) -> StoreResult<Option<T>> {
        Ok(self.query_as(sql, params, decode).await?.into_iter().next())
    }
}

/// A stored row that could not be read, as admin lists report it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Skipped {
    pub id: String,
    pub problem: String,
}

/// The rows of a list that could be read, and those that could not.
#[derive(Debug, Clone)]
pub struct Listed<T> {
    pub items: Vec<T>,
    pub skipped: Vec<Skipped>,
}

/// One result row, read by column name.
pub struct Row<'a> {
    columns: &'a [String],
    values: &'a [Value],
}

impl Row<'_> {
    fn get(&self, column: &str) -> StoreResult<&Value> {
        self.columns
            .iter()
            .position(|c| c == column)
            .and_then(|i| self.values.get(i))
            .ok_or_else(|| decode_err(column, "column missing from result"))
    }

    pub fn text(&self, column: &str) -> StoreResult<String> {
        self.opt_text(column)?.ok_or_else(|| decode_err(column, "unexpected NULL"))
    }

    pub fn opt_text(&self, column: &str) -> StoreResult<Option<String>> {
        match self.get(column)? {
            Value::Null => Ok(None),
            Value::Text(s) => Ok(Some(s.clone())),
            other => Err(decode_err(column, &format!("expected text, got {other:?}"))),
        }
    }

    pub fn int(&self, column: &str) -> StoreResult<i64> {
        self.opt_int(column)?.ok_or_else(|| decode_err(column, "unexpected NULL"))
    }

    pub fn opt_int(&self, column: &str) -> StoreResult<Option<i64>> {
        match self.get(column)? {
            Value::Null => Ok(None),
            Value::Integer(i) => Ok(Some(*i)),
            other => Err(decode_err(column, &format!("expected integer, got {other:?}"))),
        }
    }

    pub fn opt_real(&self, column: &str) -> StoreResult<Option<f64>> {
        match self.get(column)? {
            Value::Null => Ok(None),
            Value::Real(f) => Ok(Some(*f)),
            Value::Integer(i) => Ok(Some(*i as f64)),
            other => Err(decode_err(column, &format!("expected real, got {other:?}"))),
        }
    }

    pub fn bool(&self, column: &str) -> StoreResult<bool> {
        Ok(self.int(column)? != 0)
    }

    /// A column holding JSON text, parsed.
    pub fn json<T: serde::de::DeserializeOwned>(&self, column: &str) -> StoreResult<T> {
        let text = self.text(column)?;
        serde_json::from_str(&text).map_err(|e| decode_err(column, &e.to_string()))
    }
}

fn decode_err(column: &str, detail: &str) -> StoreError {
    StoreError::Decode { column: column.to_owned(), detail: detail.to_owned() }
}
