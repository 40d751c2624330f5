//! Key limits on a shared Redis (`LIMITS_URL=redis://…` or `rediss://…` for TLS; user and password
//! in the URL): the same [`LimitStore`] semantics as the database, each operation one atomic Lua
//! script. Counters are integers under `gw:lim:{key}:{kind}:{window}` that expire after their window
//! (budgets of all time never do); concurrency slots are members of the sorted set
//! `gw:slots:{key}` scored by their expiry (the set itself expires a day after its last change:
//! longer than any lease).
//!
//! Unreachable Redis: every operation fails within [`DEADLINE`] and limited requests are refused
//! with 503 `limits_unavailable` (fail closed: a limit that cannot be checked is not waived); keys
//! without limits never touch Redis. The connection is re-opened on the next request after a
//! failure.

use std::collections::HashMap;
use std::time::Duration;

use gateway_core::policy::{BudgetPeriod, minute};
use gateway_core::quota::{BUDGET, REQUESTS, TOKENS};
use gateway_core::{KeyUsage, LimitResult, LimitStore, LimitStoreError, Slot, Take};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, Script};

/// The longest any limit operation may take, connecting included.
pub const DEADLINE: Duration = Duration::from_secs(2);

const RESERVE: &str = r"
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
for i = 1, n do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used + tonumber(ARGV[3 * i]) > tonumber(ARGV[3 * i + 1]) then return 0 end
end
local slot = ARGV[3 * n + 3]
local slots = KEYS[n + 1]
if slot ~= '' then
  redis.call('ZREMRANGEBYSCORE', slots, '-inf', now)
  if redis.call('ZCARD', slots) >= tonumber(ARGV[3 * n + 4]) then return 0 end
end
for i = 1, n do
  redis.call('INCRBY', KEYS[i], ARGV[3 * i])
  local ttl = tonumber(ARGV[3 * i + 2])
  if ttl > 0 and redis.call('PTTL', KEYS[i]) < 0 then redis.call('PEXPIRE', KEYS[i], ttl) end
end
if slot ~= '' then
  local expires = tonumber(ARGV[3 * n + 5])
  redis.call('ZADD', slots, expires, slot)
  redis.call('PEXPIRE', slots, 86460000)
end
return 1
";

const ADJUST: &str = r"
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
if v < 0 then redis.call('SET', KEYS[1], 0, 'KEEPTTL') end
local ttl = tonumber(ARGV[2])
if ttl > 0 and redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
";

const RENEW: &str = r"
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], 'XX', ARGV[1], ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], 86460000)
return 1
";

/// Redis as the limit store.
pub struct RedisLimits {
    client: Client,
    conn: tokio::sync::Mutex<Option<MultiplexedConnection>>,
    reserve: Script,
    adjust: Script,
    renew: Script,
}

impl std::fmt::Debug for RedisLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RedisLimits")
    }
}

fn counter(key_id: &str, kind: &str, window: i64) -> String {
    format!("gw:lim:{key_id}:{kind}:{window}")
}

fn slots_key(key_id: &str) -> String {
    format!("gw:slots:{key_id}")
}

/// How long a counter outlives its window's start: two minutes for per-minute counters, 40 days
/// for budget days and months, forever for budgets of all time.
fn ttl_ms(kind: &str, window: i64) -> i64 {
    match kind {
        REQUESTS | TOKENS => 120_000,
        _ if window == 0 => 0,
        _ => 40 * 86_400_000,
    }
}

fn unavailable(e: impl std::fmt::Display) -> LimitStoreError {
    LimitStoreError::Unavailable(format!("Redis: {e}"))
}

impl RedisLimits {
    /// Parses the URL; connects on first use (so the gateway starts while Redis is down).
    pub fn new(url: &str) -> Result<Self, String> {
        let client = Client::open(url).map_err(|e| format!("LIMITS_URL: {e}"))?;
        Ok(Self {
            client,
            conn: tokio::sync::Mutex::new(None),
            reserve: Script::new(RESERVE),
            adjust: Script::new(ADJUST),
            renew: Script::new(RENEW),
        })
    }

    async fn connection(&self) -> LimitResult<MultiplexedConnection> {
        let mut slot = self.conn.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(DEADLINE))
            .set_response_timeout(Some(DEADLINE));
        let connect = self.client.get_multiplexed_async_connection_with_config(&config);
        let c = tokio::time::timeout(DEADLINE, connect)
            .await
            .map_err(|_| unavailable("connection timed out"))?
            .map_err(unavailable)?;
        *slot = Some(c.clone());
        Ok(c)
    }

    /// Runs one operation under the deadline; a failure drops the connection.
    async fn run<T, F, Fut>(&self, op: F) -> LimitResult<T>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let conn = self.connection().await?;
        let result = match tokio::time::timeout(DEADLINE, op(conn)).await {
            Ok(Ok(v)) => return Ok(v),
            Ok(Err(e)) => unavailable(e),
            Err(_) => unavailable("no answer within the deadline"),
        };
        *self.conn.lock().await = None;
        Err(result)
    }
}

#[gateway_core::async_trait]
impl LimitStore for RedisLimits {
    async fn reserve(
        &self,
        key_id: &str,
        now_ms: i64,
        takes: &[Take],
        slot: Option<&Slot>,
    ) -> LimitResult<bool> {
        let mut call = self.reserve.prepare_invoke();
        call.arg(now_ms).arg(takes.len());
        for t in takes {
            call.key(counter(key_id, t.kind, t.window));
            call.arg(t.amount).arg(t.limit).arg(ttl_ms(t.kind, t.window));
        }
        call.key(slots_key(key_id));
        match slot {
            Some(s) => call.arg(&s.id).arg(s.max).arg(s.expires_ms),
            None => call.arg("").arg(0).arg(0),
        };
        let ok: i64 = self.run(|mut c| async move { call.invoke_async(&mut c).await }).await?;
        Ok(ok == 1)
    }

    async fn adjust(&self, key_id: &str, kind: &str, window: i64, delta: i64) -> LimitResult<()> {
        if delta == 0 {
            return Ok(());
        }
        let mut call = self.adjust.prepare_invoke();
        call.key(counter(key_id, kind, window)).arg(delta).arg(ttl_ms(kind, window));
        let _: i64 = self.run(|mut c| async move { call.invoke_async(&mut c).await }).await?;
        Ok(())
    }

    async fn renew(&self, key_id: &str, ids: &[String], expires_ms: i64) -> LimitResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut call = self.renew.prepare_invoke();
        call.key(slots_key(key_id)).arg(expires_ms).arg(ids);
        let _: i64 = self.run(|mut c| async move { call.invoke_async(&mut c).await }).await?;
        Ok(())
    }

    async fn release(&self, key_id: &str, ids: &[String]) -> LimitResult<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut cmd = redis::cmd("ZREM");
        cmd.arg(slots_key(key_id)).arg(ids);
        let _: i64 = self.run(|mut c| async move { cmd.query_async(&mut c).await }).await?;
        Ok(())
    }

    async fn used(&self, key_id: &str, kind: &str, window: i64) -> LimitResult<i64> {
        let mut cmd = redis::cmd("GET");
        cmd.arg(counter(key_id, kind, window));
        let v: Option<i64> = self.run(|mut c| async move { cmd.query_async(&mut c).await }).await?;
        Ok(v.unwrap_or(0))
    }

    async fn slots(&self, key_id: &str, now_ms: i64) -> LimitResult<i64> {
        let mut cmd = redis::cmd("ZCOUNT");
        cmd.arg(slots_key(key_id)).arg(format!("({now_ms}")).arg("+inf");
        self.run(|mut c| async move { cmd.query_async(&mut c).await }).await
    }

    async fn usage(
        &self,
        keys: &[(&str, Option<BudgetPeriod>)],
        now_ms: i64,
    ) -> LimitResult<HashMap<String, KeyUsage>> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        let (this_minute, _) = minute(now_ms);
        let mut pipe = redis::pipe();
        for (id, period) in keys {
            let budget = period.unwrap_or(BudgetPeriod::Total).window(now_ms).0;
            pipe.cmd("GET").arg(counter(id, REQUESTS, this_minute));
            pipe.cmd("GET").arg(counter(id, TOKENS, this_minute));
            pipe.cmd("GET").arg(counter(id, BUDGET, budget));
            pipe.cmd("ZCOUNT").arg(slots_key(id)).arg(format!("({now_ms}")).arg("+inf");
        }
        let flat: Vec<Option<i64>> =
            self.run(|mut c| async move { pipe.query_async(&mut c).await }).await?;
        Ok(keys
            .iter()
            .zip(flat.chunks(4))
            .map(|((id, _), row)| {
                let at = |i: usize| row.get(i).copied().flatten().unwrap_or(0);
                let usage = KeyUsage {
                    requests_this_minute: at(0),
                    tokens_this_minute: at(1),
                    concurrent: at(3),
                    spent_usd: at(2) as f64 / 1e9,
                };
                ((*id).to_owned(), usage)
            })
            .collect())
    }

    /// Counters expire by themselves and expired slots go at the next reservation.
    async fn prune(&self, _before_ms: i64, _now_ms: i64) -> LimitResult<()> {
        Ok(())
    }
}
