//! Key limits as reservations in the database, exact across every instance sharing it: the default
//! [`LimitStore`], on libSQL files, Turso and D1.
//!
//! Admission is one transaction of conditional writes: counters are upserted with `used + n`, and
//! the table's `CHECK (used <= lim)` fails the statement — and so rolls back the whole transaction —
//! when a reservation would pass its limit. Concurrency slots are leases whose insert fails a
//! `NOT NULL` constraint when the key already holds its maximum. No read-then-write anywhere, and the
//! same statements work on libSQL files, Turso and D1.

use std::collections::HashMap;

use super::{Store, StoreResult};
use crate::io::{SqlError, Stmt, Value};
use crate::policy::{BudgetPeriod, minute};
use crate::quota::{BUDGET, KeyUsage, LimitResult, LimitStore, REQUESTS, Slot, TOKENS, Take};

fn upsert(key_id: &str, t: &Take) -> Stmt {
    Stmt::new(
        "INSERT INTO key_usage (key_id, kind, window_start, used, lim) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT(key_id, kind, window_start) DO UPDATE SET used = used + excluded.used, lim = excluded.lim",
        vec![
            key_id.into(),
            t.kind.into(),
            Value::Integer(t.window),
            Value::Integer(t.amount),
            Value::Integer(t.limit),
        ],
    )
}

/// `?, ?, …` for `n` parameters.
fn marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

fn with_ids(key_id: &str, first: Option<i64>, ids: &[String]) -> Vec<Value> {
    let mut params: Vec<Value> = first.map(Value::Integer).into_iter().collect();
    params.push(key_id.into());
    params.extend(ids.iter().map(|id| Value::from(id.as_str())));
    params
}

#[cfg_attr(not(target_arch = "wasm32"), async_trait::async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait::async_trait(?Send))]
impl LimitStore for Store {
    async fn reserve(
        &self,
        key_id: &str,
        now_ms: i64,
        takes: &[Take],
        slot: Option<&Slot>,
    ) -> LimitResult<bool> {
        let mut stmts = Vec::new();
        if let Some(s) = slot {
            stmts.push(Stmt::new(
                "DELETE FROM key_leases WHERE key_id = ? AND expires_at <= ?",
                vec![key_id.into(), Value::Integer(now_ms)],
            ));
            stmts.push(Stmt::new(
                "INSERT INTO key_leases (request_id, key_id, expires_at, ok) VALUES (?, ?, ?, \
                 (SELECT 1 WHERE (SELECT COUNT(*) FROM key_leases WHERE key_id = ? AND expires_at > ?) < ?))",
                vec![
                    s.id.as_str().into(),
                    key_id.into(),
                    Value::Integer(s.expires_ms),
                    key_id.into(),
                    Value::Integer(now_ms),
                    Value::Integer(s.max),
                ],
            ));
        }
        stmts.extend(takes.iter().map(|t| upsert(key_id, t)));
        if stmts.is_empty() {
            return Ok(true);
        }
        match self.batch(stmts).await {
            Ok(_) => Ok(true),
            Err(super::StoreError::Sql(SqlError::Constraint(_))) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The limit moves up if the real usage passed it, so the truth is always recorded; the next
    /// reservation sets the limit back and is refused.
    async fn adjust(&self, key_id: &str, kind: &str, window: i64, delta: i64) -> LimitResult<()> {
        if delta == 0 {
            return Ok(());
        }
        self.execute(
            "UPDATE key_usage SET used = MAX(0, used + ?), lim = MAX(lim, used + ?) \
             WHERE key_id = ? AND kind = ? AND window_start = ?",
            vec![
                Value::Integer(delta),
                Value::Integer(delta),
                key_id.into(),
                kind.into(),
                Value::Integer(window),
            ],
        )
        .await?;
        Ok(())
    }

    async fn renew(&self, key_id: &str, ids: &[String], expires_ms: i64) -> LimitResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "UPDATE key_leases SET expires_at = ? WHERE key_id = ? AND request_id IN ({})",
            marks(ids.len())
        );
        self.execute(&sql, with_ids(key_id, Some(expires_ms), ids)).await?;
        Ok(())
    }

    async fn release(&self, key_id: &str, ids: &[String]) -> LimitResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let sql = format!(
            "DELETE FROM key_leases WHERE key_id = ? AND request_id IN ({})",
            marks(ids.len())
        );
        self.execute(&sql, with_ids(key_id, None, ids)).await?;
        Ok(())
    }

    async fn used(&self, key_id: &str, kind: &str, window: i64) -> LimitResult<i64> {
        Ok(self
            .query_one(
                "SELECT used FROM key_usage WHERE key_id = ? AND kind = ? AND window_start = ?",
                vec![key_id.into(), kind.into(), Value::Integer(window)],
                |r| r.int("used"),
            )
            .await?
            .unwrap_or(0))
    }

    async fn slots(&self, key_id: &str, now_ms: i64) -> LimitResult<i64> {
        Ok(self
            .query_one(
                "SELECT COUNT(*) AS n FROM key_leases WHERE key_id = ? AND expires_at > ?",
                vec![key_id.into(), Value::Integer(now_ms)],
                |r| r.int("n"),
            )
            .await?
            .unwrap_or(0))
    }

    async fn usage(
        &self,
        keys: &[(&str, Option<BudgetPeriod>)],
        now_ms: i64,
    ) -> LimitResult<HashMap<String, KeyUsage>> {
        Ok(self.key_usage(keys, now_ms).await?)
    }

    async fn prune(&self, before_ms: i64, now_ms: i64) -> LimitResult<()> {
        self.batch(vec![
            Stmt::new(
                "DELETE FROM key_usage WHERE window_start > 0 AND window_start < ?",
                vec![Value::Integer(before_ms)],
            ),
            Stmt::new("DELETE FROM key_leases WHERE expires_at <= ?", vec![Value::Integer(now_ms)]),
        ])
        .await?;
        Ok(())
    }
}

impl Store {
    /// Current usage of `keys` (id and budget period): one read of the counters of the current
    /// minute, day and month and of all time, and one of the live leases (for a single key, both
    /// reads are narrowed to it).
    pub async fn key_usage(
        &self,
        keys: &[(&str, Option<BudgetPeriod>)],
        now_ms: i64,
    ) -> StoreResult<HashMap<String, KeyUsage>> {
        let only = match keys {
            [(id, _)] => Some(*id),
            _ => None,
        };
        let (this_minute, _) = minute(now_ms);
        let windows = [BudgetPeriod::Day, BudgetPeriod::Month, BudgetPeriod::Total]
            .map(|p| Value::Integer(p.window(now_ms).0));
        let narrow = if only.is_some() { " AND key_id = ?" } else { "" };
        let mut params = vec![Value::Integer(this_minute)];
        params.extend(windows);
        params.extend(only.map(Value::from));
        let counters = self
            .query_as(
                &format!(
                    "SELECT key_id, kind, window_start, used FROM key_usage \
                     WHERE window_start IN (?, ?, ?, ?){narrow}"
                ),
                params,
                |r| {
                    Ok((r.text("key_id")?, r.text("kind")?, r.int("window_start")?, r.int("used")?))
                },
            )
            .await?;
        let mut params = vec![Value::Integer(now_ms)];
        params.extend(only.map(Value::from));
        let leases = self
            .query_as(
                &format!(
                    "SELECT key_id, COUNT(*) AS n FROM key_leases \
                     WHERE expires_at > ?{narrow} GROUP BY key_id"
                ),
                params,
                |r| Ok((r.text("key_id")?, r.int("n")?)),
            )
            .await?;
        let mut out: HashMap<String, KeyUsage> =
            keys.iter().map(|(id, _)| ((*id).to_owned(), KeyUsage::default())).collect();
        let periods: HashMap<&str, i64> = keys
            .iter()
            .map(|(id, p)| (*id, p.unwrap_or(BudgetPeriod::Total).window(now_ms).0))
            .collect();
        for (key_id, kind, window, used) in counters {
            let Some(u) = out.get_mut(&key_id) else { continue };
            match kind.as_str() {
                REQUESTS if window == this_minute => u.requests_this_minute = used,
                TOKENS if window == this_minute => u.tokens_this_minute = used,
                BUDGET if periods.get(key_id.as_str()) == Some(&window) => {
                    u.spent_usd = used as f64 / 1e9;
                }
                _ => {}
            }
        }
        for (key_id, n) in leases {
            if let Some(u) = out.get_mut(&key_id) {
                u.concurrent = n;
            }
        }
        Ok(out)
    }
}
