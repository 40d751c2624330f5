//! Key limits as reservations in the database, exact across every instance sharing it.
//!
//! Admission is one transaction of conditional writes: counters are upserted with `used + n`, and
//! the table's `CHECK (used <= lim)` fails the statement — and so rolls back the whole transaction —
//! when a reservation would pass its limit. Concurrency slots are leases whose insert fails a
//! `NOT NULL` constraint when the key already holds its maximum. No read-then-write anywhere, and the
//! same statements work on libSQL files, Turso and D1.

use std::collections::HashMap;

use serde::Serialize;

use super::{Store, StoreResult};
use crate::io::{SqlError, Stmt, Value};
use crate::policy::{BudgetPeriod, minute};

/// Counter kinds in `key_usage`.
pub const REQUESTS: &str = "rpm";
pub const TOKENS: &str = "tpm";
pub const BUDGET: &str = "budget";

/// A reservation against one counter: window start, amount, limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reserve {
    pub window: i64,
    pub amount: i64,
    pub limit: i64,
}

/// Everything one request reserves at admission.
#[derive(Debug, Clone, Default)]
pub struct Admission {
    pub key_id: String,
    pub request_id: String,
    pub now_ms: i64,
    pub requests: Option<Reserve>,
    pub tokens: Option<Reserve>,
    pub budget: Option<Reserve>,
    /// `(max concurrent, lease expiry)`.
    pub lease: Option<(i64, i64)>,
}

impl Admission {
    pub fn is_empty(&self) -> bool {
        self.requests.is_none()
            && self.tokens.is_none()
            && self.budget.is_none()
            && self.lease.is_none()
    }
}

fn upsert(key_id: &str, kind: &str, r: Reserve) -> Stmt {
    Stmt::new(
        "INSERT INTO key_usage (key_id, kind, window_start, used, lim) VALUES (?, ?, ?, ?, ?) \
         ON CONFLICT(key_id, kind, window_start) DO UPDATE SET used = used + excluded.used, lim = excluded.lim",
        vec![
            key_id.into(),
            kind.into(),
            Value::Integer(r.window),
            Value::Integer(r.amount),
            Value::Integer(r.limit),
        ],
    )
}

impl Store {
    /// Reserves everything in `a` atomically; `Ok(false)` when some limit would be passed (nothing
    /// is reserved then).
    pub async fn admit(&self, a: &Admission) -> StoreResult<bool> {
        let mut stmts = Vec::new();
        if let Some((max, expires)) = a.lease {
            stmts.push(Stmt::new(
                "DELETE FROM key_leases WHERE key_id = ? AND expires_at <= ?",
                vec![a.key_id.clone().into(), Value::Integer(a.now_ms)],
            ));
            stmts.push(Stmt::new(
                "INSERT INTO key_leases (request_id, key_id, expires_at, ok) VALUES (?, ?, ?, \
                 (SELECT 1 WHERE (SELECT COUNT(*) FROM key_leases WHERE key_id = ? AND expires_at > ?) < ?))",
                vec![
                    a.request_id.clone().into(),
                    a.key_id.clone().into(),
                    Value::Integer(expires),
                    a.key_id.clone().into(),
                    Value::Integer(a.now_ms),
                    Value::Integer(max),
                ],
            ));
        }
        for (kind, reserve) in [(REQUESTS, a.requests), (TOKENS, a.tokens), (BUDGET, a.budget)] {
            if let Some(r) = reserve {
                stmts.push(upsert(&a.key_id, kind, r));
            }
        }
        if stmts.is_empty() {
            return Ok(true);
        }
        match self.batch(stmts).await {
            Ok(_) => Ok(true),
            Err(super::StoreError::Sql(SqlError::Constraint(_))) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Replaces a reservation's estimate with what was really used (`delta` = real − estimate).
    /// The limit moves up if the real usage passed it, so the truth is always recorded; the next
    /// admission sets the limit back and is refused.
    pub async fn settle(
        &self,
        key_id: &str,
        kind: &str,
        window: i64,
        delta: i64,
    ) -> StoreResult<()> {
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

    /// Frees a concurrency lease.
    pub async fn release_lease(&self, request_id: &str) -> StoreResult<()> {
        self.execute("DELETE FROM key_leases WHERE request_id = ?", vec![request_id.into()])
            .await?;
        Ok(())
    }

    /// Current use of one counter window (for telling a caller which limit stopped it).
    pub async fn usage(&self, key_id: &str, kind: &str, window: i64) -> StoreResult<i64> {
        Ok(self
            .query_one(
                "SELECT used FROM key_usage WHERE key_id = ? AND kind = ? AND window_start = ?",
                vec![key_id.into(), kind.into(), Value::Integer(window)],
                |r| r.int("used"),
            )
            .await?
            .unwrap_or(0))
    }

    /// Live leases of a key.
    pub async fn leases(&self, key_id: &str, now_ms: i64) -> StoreResult<i64> {
        Ok(self
            .query_one(
                "SELECT COUNT(*) AS n FROM key_leases WHERE key_id = ? AND expires_at > ?",
                vec![key_id.into(), Value::Integer(now_ms)],
                |r| r.int("n"),
            )
            .await?
            .unwrap_or(0))
    }

    /// Drops counter windows that started before `before_ms` (total budgets, window 0, are kept),
    /// and expired leases.
    pub async fn prune_usage(&self, before_ms: i64, now_ms: i64) -> StoreResult<()> {
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

/// What a key has used of its limits right now (shown next to the limits in the admin UI).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KeyUsage {
    pub requests_this_minute: i64,
    pub tokens_this_minute: i64,
    pub concurrent: i64,
    /// Spent in the current budget period (day, month or in total; total without a period).
    pub spent_usd: f64,
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
