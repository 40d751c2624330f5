//! Key limits on a shared Redis (`LIMITS_URL=redis://…` or `rediss://…` for TLS; user and password
//! in the URL): the same [`LimitStore`] semantics as the database, each operation one atomic Lua
//! script. Counters are integers under `gw:lim:{key}:{kind}:{window}` that expire after their window
//! (budgets of all time never do); concurrency slots are members of the sorted set
//! `gw:slots:{key}` scored by their expiry (the set itself expires a day after its last change:
//! longer than any lease).
//!
//! Unreachable, stalled or partitioned Redis: every operation — connecting included — fails
//! within [`DEADLINE`] and limited requests are refused with 503 `limits_unavailable` (fail
//! closed: a limit that cannot be checked is not waived); keys without limits never touch Redis.
//! One multiplexed connection carries every request at once (none waits for another's answer);
//! it is opened outside any lock, by one request while the others wait on that same attempt; and
//! after a failure the store refuses at once for [`BACKOFF`] (a breaker), then lets one attempt
//! through — so however many limited requests wait, each is answered within the deadline.
//!
//! Budgets are money, and the database is their source of truth: a budget counter Redis does not
//! have (flushed, restarted without persistence, evicted) is not taken as zero — the reservation
//! asks to be seeded ([`LimitStoreError::Unseeded`]) and the core seeds it from the request log's
//! spend in the window.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use futures::FutureExt;
use futures::future::{BoxFuture, Shared};

use gateway_core::policy::{BudgetPeriod, minute};
use gateway_core::quota::{BUDGET, REQUESTS, TOKENS};
use gateway_core::{KeyUsage, LimitResult, LimitStore, LimitStoreError, Slot, Take};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, Client, Script};

/// The longest any limit operation may take, connecting included.
pub const DEADLINE: Duration = Duration::from_secs(2);
/// After a failure, how long operations are refused at once before one tries again.
pub const BACKOFF: Duration = Duration::from_secs(1);

/// The connection's state, changed under a lock that is never held across an await.
enum Link {
    /// Not connected; the next operation connects.
    Idle,
    /// A connection attempt every waiting operation shares.
    Connecting(Shared<BoxFuture<'static, Result<MultiplexedConnection, String>>>),
    Up(MultiplexedConnection),
    /// Failed: refused at once until then.
    Down(Instant),
}

/// Per take, four arguments: amount, limit, expiry (ms, 0: none) and whether the counter is
/// money (`1`: a budget, which the store may not take as zero when it has lost it). Answers 1
/// (reserved), 0 (a limit would pass) or the positions of budget counters to seed first.
const RESERVE: &str = r"
local now = tonumber(ARGV[1])
local n = tonumber(ARGV[2])
local function arg(i, k) return ARGV[2 + 4 * (i - 1) + k] end
local unseeded = {}
for i = 1, n do
  if arg(i, 4) == '1' and redis.call('EXISTS', KEYS[i]) == 0 then
    unseeded[#unseeded + 1] = i - 1
  end
end
if #unseeded > 0 then return unseeded end
for i = 1, n do
  local used = tonumber(redis.call('GET', KEYS[i]) or '0')
  if used + tonumber(arg(i, 1)) > tonumber(arg(i, 2)) then return 0 end
end
local slot = ARGV[4 * n + 3]
local slots = KEYS[n + 1]
if slot ~= '' then
  redis.call('ZREMRANGEBYSCORE', slots, '-inf', now)
  if redis.call('ZCARD', slots) >= tonumber(ARGV[4 * n + 4]) then return 0 end
end
for i = 1, n do
  redis.call('INCRBY', KEYS[i], arg(i, 1))
  local ttl = tonumber(arg(i, 3))
  if ttl > 0 and redis.call('PTTL', KEYS[i]) < 0 then redis.call('PEXPIRE', KEYS[i], ttl) end
end
if slot ~= '' then
  redis.call('ZADD', slots, tonumber(ARGV[4 * n + 5]), slot)
  redis.call('PEXPIRE', slots, 86460000)
end
return 1
";

/// Adds a delta; a budget counter the store lost is left for the next reservation to seed from
/// the request log (created here with one request's delta, it would pass for the whole spend).
const ADJUST: &str = r"
if ARGV[3] == '1' and redis.call('EXISTS', KEYS[1]) == 0 then return 1 end
local v = redis.call('INCRBY', KEYS[1], ARGV[1])
if v < 0 then redis.call('SET', KEYS[1], 0, 'KEEPTTL') end
local ttl = tonumber(ARGV[2])
if ttl > 0 and redis.call('PTTL', KEYS[1]) < 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
return 1
";

/// Sets a lost counter unless another instance did first.
const SEED: &str = r"
if redis.call('SET', KEYS[1], ARGV[1], 'NX') and tonumber(ARGV[2]) > 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
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
    link: Mutex<Link>,
    reserve: Script,
    adjust: Script,
    renew: Script,
    seed: Script,
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

/// Whether counters of `kind` are money, which a lost counter must not forgive.
fn seeded(kind: &str) -> &'static str {
    if kind == BUDGET { "1" } else { "0" }
}

impl RedisLimits {
    /// Parses the URL; connects on first use (so the gateway starts while Redis is down).
    pub fn new(url: &str) -> Result<Self, String> {
        let client = Client::open(url).map_err(|e| format!("LIMITS_URL: {e}"))?;
        Ok(Self {
            client,
            link: Mutex::new(Link::Idle),
            reserve: Script::new(RESERVE),
            adjust: Script::new(ADJUST),
            renew: Script::new(RENEW),
            seed: Script::new(SEED),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Link> {
        self.link.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// The connection: the one up, the attempt under way (shared with every operation waiting),
    /// or a new attempt; refused at once while the breaker is open after a failure.
    async fn connection(&self) -> LimitResult<MultiplexedConnection> {
        let attempt = {
            let mut link = self.lock();
            match &*link {
                Link::Up(c) => return Ok(c.clone()),
                Link::Down(until) if Instant::now() < *until => {
                    return Err(unavailable("unreachable; trying again shortly"));
                }
                Link::Connecting(attempt) => attempt.clone(),
                Link::Idle | Link::Down(_) => {
                    let client = self.client.clone();
                    let attempt = async move {
                        let config = AsyncConnectionConfig::new()
                            .set_connection_timeout(Some(DEADLINE))
                            .set_response_timeout(Some(DEADLINE));
                        let connect = client.get_multiplexed_async_connection_with_config(&config);
                        match tokio::time::timeout(DEADLINE, connect).await {
                            Ok(Ok(c)) => Ok(c),
                            Ok(Err(e)) => Err(e.to_string()),
                            Err(_) => Err("connection timed out".to_owned()),
                        }
                    }
                    .boxed()
                    .shared();
                    *link = Link::Connecting(attempt.clone());
                    attempt
                }
            }
        };
        let result = attempt.await;
        let mut link = self.lock();
        if matches!(*link, Link::Connecting(_)) {
            *link = match &result {
                Ok(c) => Link::Up(c.clone()),
                Err(_) => Link::Down(Instant::now() + BACKOFF),
            };
        }
        result.map_err(unavailable)
    }

    /// Runs one operation — connecting included — within the deadline; a failure opens the
    /// breaker (the connection is opened anew after it).
    async fn run<T, F, Fut>(&self, op: F) -> LimitResult<T>
    where
        F: FnOnce(MultiplexedConnection) -> Fut,
        Fut: std::future::Future<Output = redis::RedisResult<T>>,
    {
        let within = async {
            let conn = self.connection().await?;
            op(conn).await.map_err(unavailable)
        };
        let result = match tokio::time::timeout(DEADLINE, within).await {
            Ok(result) => result,
            Err(_) => Err(unavailable("no answer within the deadline")),
        };
        if result.is_err() {
            let mut link = self.lock();
            if !matches!(*link, Link::Down(_)) {
                *link = Link::Down(Instant::now() + BACKOFF);
            }
        }
        result
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
            call.arg(t.amount).arg(t.limit).arg(ttl_ms(t.kind, t.window)).arg(seeded(t.kind));
        }
        call.key(slots_key(key_id));
        match slot {
            Some(s) => call.arg(&s.id).arg(s.max).arg(s.expires_ms),
            None => call.arg("").arg(0).arg(0),
        };
        let answer: redis::Value =
            self.run(|mut c| async move { call.invoke_async(&mut c).await }).await?;
        match answer {
            redis::Value::Int(n) => Ok(n == 1),
            redis::Value::Array(missing) => Err(LimitStoreError::Unseeded(
                missing
                    .iter()
                    .filter_map(|v| match v {
                        redis::Value::Int(i) => usize::try_from(*i).ok(),
                        _ => None,
                    })
                    .collect(),
            )),
            other => Err(unavailable(format!("unexpected answer {other:?}"))),
        }
    }

    async fn adjust(&self, key_id: &str, kind: &str, window: i64, delta: i64) -> LimitResult<()> {
        if delta == 0 {
            return Ok(());
        }
        let mut call = self.adjust.prepare_invoke();
        call.key(counter(key_id, kind, window)).arg(delta).arg(ttl_ms(kind, window));
        call.arg(seeded(kind));
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

    async fn seed(&self, key_id: &str, kind: &str, window: i64, used: i64) -> LimitResult<()> {
        let mut call = self.seed.prepare_invoke();
        call.key(counter(key_id, kind, window)).arg(used.max(0)).arg(ttl_ms(kind, window));
        let _: i64 = self.run(|mut c| async move { call.invoke_async(&mut c).await }).await?;
        Ok(())
    }

    /// Counters expire by themselves and expired slots go at the next reservation.
    async fn prune(&self, _before_ms: i64, _now_ms: i64) -> LimitResult<()> {
        Ok(())
    }
}
