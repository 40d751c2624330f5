//! Forward-only schema migrations, embedded from `migrations/` and applied at start.
//!
//! Each migration runs in one transaction together with its `schema_migrations` row, so a crash or
//! a second instance starting at the same moment can never leave half a migration applied.

use super::{Store, StoreError, StoreResult};
use crate::io::{Stmt, Value};

/// `(version, name, sql)`, in order. Versions are the file's number.
pub const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "init", include_str!("../../../migrations/0001_init.sql")),
    (2, "routing", include_str!("../../../migrations/0002_routing.sql")),
    (3, "policies", include_str!("../../../migrations/0003_policies.sql")),
    (4, "health", include_str!("../../../migrations/0004_health.sql")),
    (5, "catalog", include_str!("../../../migrations/0005_catalog.sql")),
    (6, "provider_quirks", include_str!("../../../migrations/0006_provider_quirks.sql")),
    (7, "request_stats", include_str!("../../../migrations/0007_request_stats.sql")),
    (8, "prompt_cache", include_str!("../../../migrations/0008_prompt_cache.sql")),
    (9, "response_cache", include_str!("../../../migrations/0009_response_cache.sql")),
    (10, "provider_credentials", include_str!("../../../migrations/0010_provider_credentials.sql")),
    (11, "unit_prices", include_str!("../../../migrations/0011_unit_prices.sql")),
    (12, "translation_report", include_str!("../../../migrations/0012_translation_report.sql")),
];

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (\
    version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)";

/// Splits a migration file into statements: a statement ends with `;` at the end of a line;
/// lines starting with `--` are comments.
pub fn split_statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        let trimmed = line.trim();
        if trimmed.is_empty() || trimmed.starts_with("--") {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if trimmed.ends_with(';') {
            let stmt = current.trim().trim_end_matches(';').trim().to_owned();
            if !stmt.is_empty() {
                out.push(stmt);
            }
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_owned());
    }
    out
}

impl Store {
    /// Applies every pending migration; returns the versions this call applied.
    pub async fn migrate(&self, now_ms: i64) -> StoreResult<Vec<i64>> {
        self.execute(CREATE_TABLE, vec![]).await?;
        let known = MIGRATIONS.last().map_or(0, |m| m.0);
        let mut applied_now = Vec::new();
        for &(version, name, sql) in MIGRATIONS {
            let applied = self.applied_versions().await?;
            if let Some(&found) = applied.iter().max()
                && found > known
            {
                return Err(StoreError::SchemaTooNew { found, known });
            }
            if applied.contains(&version) {
                continue;
            }
            let mut stmts: Vec<Stmt> =
                split_statements(sql).into_iter().map(|s| Stmt::new(s, vec![])).collect();
            stmts.push(Stmt::new(
                "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
                vec![Value::Integer(version), name.into(), Value::Integer(now_ms)],
            ));
            if let Err(err) = self.batch(stmts).await {
                // Another instance may have applied it between our check and our write.
                if self.applied_versions().await?.contains(&version) {
                    continue;
                }
                return Err(err);
            }
            tracing::info!(version, name, "applied migration");
            applied_now.push(version);
        }
        Ok(applied_now)
    }

    async fn applied_versions(&self) -> StoreResult<Vec<i64>> {
        self.query_as("SELECT version FROM schema_migrations", vec![], |r| r.int("version")).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_on_line_final_semicolons_and_skips_comments() {
        let sql = "-- header\nCREATE TABLE a (x TEXT DEFAULT ';');\n\nCREATE INDEX i ON a(x);\n";
        assert_eq!(
            split_statements(sql),
            vec!["CREATE TABLE a (x TEXT DEFAULT ';')", "CREATE INDEX i ON a(x)"]
        );
    }

    #[test]
    fn migrations_are_numbered_in_order_and_non_empty() {
        for (i, (version, name, sql)) in MIGRATIONS.iter().enumerate() {
            assert_eq!(*version, i as i64 + 1, "{name}");
            assert!(!split_statements(sql).is_empty(), "{name}");
        }
    }
}
