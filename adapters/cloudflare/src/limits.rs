//! Key limits on Durable Objects (`LIMITS_URL = "do://KEY_LIMITS"` with that binding declared in
//! `wrangler.toml`): one `KeyLimits` object per virtual key holds the key's counters and
//! concurrency slots, and each [`LimitStore`] call is one request to it. A Durable Object handles
//! its requests one at a time and delivers no other event while its storage is read or written, so
//! each operation — read the state, check, write it back — is atomic without a transaction, and
//! every isolate of every colo sees the same object. Unreachable: limited requests get 503
//! `limits_unavailable`, as with Redis.

use std::collections::{BTreeMap, HashMap};

use gateway_core::policy::{BudgetPeriod, minute};
use gateway_core::quota::{BUDGET, REQUESTS, TOKENS};
use gateway_core::{KeyUsage, LimitResult, LimitStore, LimitStoreError, Slot, Take};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use wasm_bindgen::JsValue;
use worker::{
    DurableObject, Env, Method, ObjectNamespace, Request, RequestInit, Response, State,
    durable_object,
};

/// One operation on a key's object.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
enum Op {
    Reserve { now_ms: i64, takes: Vec<(String, i64, i64, i64)>, slot: Option<(String, i64, i64)> },
    Adjust { kind: String, window: i64, delta: i64 },
    Renew { ids: Vec<String>, expires_ms: i64 },
    Release { ids: Vec<String> },
    Used { kind: String, window: i64 },
    Slots { now_ms: i64 },
    Usage { now_ms: i64, minute: i64, budget: i64 },
}

/// A key's state: counters by `kind:window`, slots by id with their expiry.
#[derive(Debug, Default, Serialize, Deserialize)]
struct Stored {
    counters: BTreeMap<String, i64>,
    slots: BTreeMap<String, i64>,
}

fn counter(kind: &str, window: i64) -> String {
    format!("{kind}:{window}")
}

impl Stored {
    fn live_slots(&self, now_ms: i64) -> i64 {
        self.slots.values().filter(|e| **e > now_ms).count() as i64
    }

    /// Applies `op`; returns the answer and whether the state changed.
    fn apply(&mut self, op: Op) -> (serde_json::Value, bool) {
        match op {
            Op::Reserve { now_ms, takes, slot } => {
                self.prune(now_ms);
                let fits = takes.iter().all(|(kind, window, amount, limit)| {
                    self.counters.get(&counter(kind, *window)).copied().unwrap_or(0) + amount
                        <= *limit
                });
                let slot_fits =
                    slot.as_ref().is_none_or(|(_, max, _)| self.live_slots(now_ms) < *max);
                if !(fits && slot_fits) {
                    return (false.into(), true);
                }
                for (kind, window, amount, _) in takes {
                    *self.counters.entry(counter(&kind, window)).or_default() += amount;
                }
                if let Some((id, _, expires_ms)) = slot {
                    self.slots.insert(id, expires_ms);
                }
                (true.into(), true)
            }
            Op::Adjust { kind, window, delta } => {
                let used = self.counters.entry(counter(&kind, window)).or_default();
                *used = (*used + delta).max(0);
                (true.into(), true)
            }
            Op::Renew { ids, expires_ms } => {
                for id in ids {
                    if let Some(e) = self.slots.get_mut(&id) {
                        *e = expires_ms;
                    }
                }
                (true.into(), true)
            }
            Op::Release { ids } => {
                for id in ids {
                    self.slots.remove(&id);
                }
                (true.into(), true)
            }
            Op::Used { kind, window } => {
                (self.counters.get(&counter(&kind, window)).copied().unwrap_or(0).into(), false)
            }
            Op::Slots { now_ms } => (self.live_slots(now_ms).into(), false),
            Op::Usage { now_ms, minute, budget } => {
                let get = |kind, window| self.counters.get(&counter(kind, window)).copied();
                let usage = serde_json::json!([
                    get(REQUESTS, minute).unwrap_or(0),
                    get(TOKENS, minute).unwrap_or(0),
                    get(BUDGET, budget).unwrap_or(0),
                    self.live_slots(now_ms),
                ]);
                (usage, false)
            }
        }
    }

    /// Drops expired slots and counters of windows long past (per-minute ones after two minutes,
    /// budget days and months after 40 days; budgets of all time stay).
    fn prune(&mut self, now_ms: i64) {
        self.slots.retain(|_, expires| *expires > now_ms);
        self.counters.retain(|name, _| {
            let (kind, window) = name.rsplit_once(':').unwrap_or((name, "0"));
            let window: i64 = window.parse().unwrap_or(0);
            match kind {
                REQUESTS | TOKENS => window >= now_ms - 120_000,
                _ => window == 0 || window >= now_ms - 40 * 86_400_000,
            }
        });
    }
}

/// The Durable Object: one per key, named by the key's id.
#[durable_object]
pub struct KeyLimits {
    state: State,
}

impl DurableObject for KeyLimits {
    fn new(state: State, _env: Env) -> Self {
        Self { state }
    }

    async fn fetch(&self, mut req: Request) -> worker::Result<Response> {
        let op: Op = req.json().await?;
        let storage = self.state.storage();
        let mut stored: Stored = storage.get("state").await?.unwrap_or_default();
        let (answer, changed) = stored.apply(op);
        if changed {
            storage.put("state", &stored).await?;
        }
        Response::from_json(&answer)
    }
}

/// The Worker's side: a [`LimitStore`] that sends each operation to the key's object.
pub struct DoLimits {
    namespace: ObjectNamespace,
}

fn unavailable(e: impl std::fmt::Display) -> LimitStoreError {
    LimitStoreError::Unavailable(format!("Durable Object: {e}"))
}

impl DoLimits {
    /// `LIMITS_URL = do://BINDING`: the Durable Object namespace bound as `BINDING`.
    pub fn from_url(env: &Env, url: &str) -> Result<Self, String> {
        let binding = url
            .strip_prefix("do://")
            .ok_or_else(|| format!("LIMITS_URL must be do://<binding> on Workers, not {url:?}"))?;
        let namespace = env
            .durable_object(binding)
            .map_err(|e| format!("LIMITS_URL names the Durable Object binding {binding}: {e}"))?;
        Ok(Self { namespace })
    }

    async fn call<T: DeserializeOwned>(&self, key_id: &str, op: &Op) -> LimitResult<T> {
        let stub = self
            .namespace
            .id_from_name(key_id)
            .and_then(|id| id.get_stub())
            .map_err(unavailable)?;
        let body = serde_json::to_string(op).map_err(unavailable)?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post).with_body(Some(JsValue::from_str(&body)));
        let request = Request::new_with_init("https://key-limits/", &init).map_err(unavailable)?;
        let mut response = stub.fetch_with_request(request).await.map_err(unavailable)?;
        if response.status_code() != 200 {
            let text = response.text().await.unwrap_or_default();
            return Err(unavailable(format!("{}: {text}", response.status_code())));
        }
        response.json().await.map_err(unavailable)
    }
}

#[gateway_core::async_trait(?Send)]
impl LimitStore for DoLimits {
    async fn reserve(
        &self,
        key_id: &str,
        now_ms: i64,
        takes: &[Take],
        slot: Option<&Slot>,
    ) -> LimitResult<bool> {
        let takes =
            takes.iter().map(|t| (t.kind.to_owned(), t.window, t.amount, t.limit)).collect();
        let slot = slot.map(|s| (s.id.clone(), s.max, s.expires_ms));
        self.call(key_id, &Op::Reserve { now_ms, takes, slot }).await
    }

    async fn adjust(&self, key_id: &str, kind: &str, window: i64, delta: i64) -> LimitResult<()> {
        if delta == 0 {
            return Ok(());
        }
        let _: bool = self.call(key_id, &Op::Adjust { kind: kind.into(), window, delta }).await?;
        Ok(())
    }

    async fn renew(&self, key_id: &str, ids: &[String], expires_ms: i64) -> LimitResult<()> {
        let _: bool = self.call(key_id, &Op::Renew { ids: ids.to_vec(), expires_ms }).await?;
        Ok(())
    }

    async fn release(&self, key_id: &str, ids: &[String]) -> LimitResult<()> {
        let _: bool = self.call(key_id, &Op::Release { ids: ids.to_vec() }).await?;
        Ok(())
    }

    async fn used(&self, key_id: &str, kind: &str, window: i64) -> LimitResult<i64> {
        self.call(key_id, &Op::Used { kind: kind.into(), window }).await
    }

    async fn slots(&self, key_id: &str, now_ms: i64) -> LimitResult<i64> {
        self.call(key_id, &Op::Slots { now_ms }).await
    }

    /// One request per key, all at once (the key list's usage column).
    async fn usage(
        &self,
        keys: &[(&str, Option<BudgetPeriod>)],
        now_ms: i64,
    ) -> LimitResult<HashMap<String, KeyUsage>> {
        let minute = minute(now_ms).0;
        let calls = keys.iter().map(|(id, period)| async move {
            let budget = period.unwrap_or(BudgetPeriod::Total).window(now_ms).0;
            let row: [i64; 4] = self.call(id, &Op::Usage { now_ms, minute, budget }).await?;
            let usage = KeyUsage {
                requests_this_minute: row[0],
                tokens_this_minute: row[1],
                concurrent: row[3],
                spent_usd: row[2] as f64 / 1e9,
            };
            Ok::<_, LimitStoreError>(((*id).to_owned(), usage))
        });
        futures::future::join_all(calls).await.into_iter().collect()
    }

    /// Each object drops its expired slots and past windows when it next reserves.
    async fn prune(&self, _before_ms: i64, _now_ms: i64) -> LimitResult<()> {
        Ok(())
    }
}
