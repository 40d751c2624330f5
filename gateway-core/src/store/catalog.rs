//! The stored model catalog: each source's entries, replaced whole on refresh, and its fetch time.

use super::{Store, StoreResult};
use crate::catalog::Entry;
use crate::io::{Stmt, Value};

/// Setting holding when `source` was last fetched (Unix ms).
fn fetched_key(source: &str) -> String {
    format!("catalog.fetched_at.{source}")
}

impl Store {
    /// Replaces `source`'s entries and records the fetch time, in one transaction.
    pub async fn replace_catalog(
        &self,
        source: &str,
        entries: &[Entry],
        now_ms: i64,
    ) -> StoreResult<()> {
        let mut stmts =
            vec![Stmt::new("DELETE FROM catalog_models WHERE source = ?", vec![source.into()])];
        for chunk in entries.chunks(100) {
            let rows = vec!["(?, ?, ?)"; chunk.len()].join(", ");
            let mut params = Vec::with_capacity(chunk.len() * 3);
            for e in chunk {
                params.push(source.into());
                params.push(e.name.clone().into());
                params.push(serde_json::to_string(e).unwrap_or_default().into());
            }
            stmts.push(Stmt::new(
                format!(
                    "INSERT OR REPLACE INTO catalog_models (source, name, entry) VALUES {rows}"
                ),
                params,
            ));
        }
        stmts.push(Stmt::new(
            "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) \
             ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            vec![fetched_key(source).into(), now_ms.to_string().into(), Value::Integer(now_ms)],
        ));
        self.batch(stmts).await?;
        Ok(())
    }

    /// Each stored source: its entry count and when it was fetched (Unix ms).
    pub async fn catalog_sources(&self) -> StoreResult<Vec<(String, i64, Option<i64>)>> {
        self.query_as(
            "SELECT c.source AS source, COUNT(*) AS n, CAST(s.value AS INTEGER) AS fetched_at \
             FROM catalog_models c LEFT JOIN settings s ON s.key = 'catalog.fetched_at.' || c.source \
             GROUP BY c.source ORDER BY c.source",
            vec![],
            |r| Ok((r.text("source")?, r.int("n")?, r.opt_int("fetched_at")?)),
        )
        .await
    }

    /// Entries whose name contains `query` (case-insensitive; every entry for an empty query),
    /// at most `limit`, for the caller to rank.
    pub async fn catalog_candidates(&self, query: &str, limit: i64) -> StoreResult<Vec<Entry>> {
        let escaped =
            query.to_lowercase().replace('\\', "\\\\").replace('%', "\\%").replace('_', "\\_");
        self.query_as(
            "SELECT entry FROM catalog_models WHERE lower(name) LIKE ? ESCAPE '\\' \
             ORDER BY length(name), name LIMIT ?",
            vec![format!("%{escaped}%").into(), Value::Integer(limit)],
            |r| Ok(serde_json::from_str(&r.text("entry")?).ok()),
        )
        .await
        .map(|rows| rows.into_iter().flatten().collect())
    }

    /// One entry.
    pub async fn catalog_entry(&self, source: &str, name: &str) -> StoreResult<Option<Entry>> {
        let entry = self
            .query_one(
                "SELECT entry FROM catalog_models WHERE source = ? AND name = ?",
                vec![source.into(), name.into()],
                |r| r.text("entry"),
            )
            .await?;
        Ok(entry.and_then(|e| serde_json::from_str(&e).ok()))
    }
}
