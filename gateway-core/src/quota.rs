//! Key limits at full speed: each instance leases capacity from the shared limit store in blocks and
//! admits from them in memory, so a limited key costs no store round trip on most requests.
//!
//! The store ([`LimitStore`]: libSQL by default, Redis or a Durable Object when configured) holds
//! per-key counters — requests and tokens per minute, budget per period, in the limit's unit — and
//! concurrency slots with an expiry. A reservation there never passes a limit, so whatever the
//! instances hold together never passes it either. Per key and counter an instance keeps `left`:
//! capacity reserved in the store but not yet handed to a request.
//!
//! - **Admission** takes from `left`. When a counter runs short, one atomic reservation tops up every
//!   short counter (and a slot, when none is free) by a block; if blocks do not fit, the exact need is
//!   tried. A block is `k` requests' worth — `k` doubles when blocks run out within a second and
//!   halves when they last more than ten — and at most 1/32 of the limit; a limit smaller than 32
//!   requests' worth is reserved exactly, per request, as before. So unused capacity held by other
//!   instances — the under-admission — is at most 1/32 of the limit per instance. When the store
//!   refuses a counter, the instance refuses it by itself for 250 ms, so a flood of over-limit
//!   requests does not cost a round trip each.
//! - **Settlement** replaces the estimate with the real usage in memory: a saving goes back to
//!   `left` (above one block it is owed to the store, written at most once a second); an overrun is
//!   taken from `left` or written at once, so the store never lags behind real spending by more than
//!   the request being settled.
//! - **Concurrency** slots are store entries with an expiry (`LIMIT_LEASE_SECONDS`, default 900):
//!   an instance keeps the slots it uses plus up to 1/8 of the maximum spare, gives them all back
//!   when idle (at once on Lambda and Workers, at the next flush on the server), renews them before
//!   they expire, and a killed instance's slots free themselves at expiry.
//! - **Flush** (`Gateway::flush_limits`: the hosts' timers and shutdown) returns owed capacity and
//!   the blocks of counters idle for ten seconds.
//! - **Budgets** are leased in blocks only on hosts that flush before they exit (the server); on
//!   Lambda and Workers, whose instances vanish without notice, a lost block would stay spent for
//!   the whole budget period, so budgets are reserved per request there. Per-minute blocks lost
//!   with an instance come back with the next minute.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use serde::Serialize;

use crate::maybe_send::{MaybeSend, MaybeSync};
use crate::policy::BudgetPeriod;

/// Counter kinds, as stores name them.
pub const REQUESTS: &str = "rpm";
pub const TOKENS: &str = "tpm";
pub const BUDGET: &str = "budget";
const KINDS: [&str; 3] = [REQUESTS, TOKENS, BUDGET];

/// A block is at most this fraction of a limit.
const BLOCK_SHARE: i64 = 32;
/// While busy, an instance keeps at most this fraction of the maximum in spare slots.
const SPARE_SLOT_SHARE: i64 = 8;
/// Owed capacity is written back at most this often (unless a block's worth is owed).
const FLUSH_MS: i64 = 1_000;
/// A counter whose block is untouched this long gives it back at the next flush.
const IDLE_MS: i64 = 10_000;
/// After the store refuses a counter, the instance refuses it by itself this long (a flood of
/// over-limit requests costs no round trip each).
const REFUSED_MS: i64 = 250;

/// One counter reservation: `used + amount` must stay within `limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Take {
    pub kind: &'static str,
    pub window: i64,
    pub amount: i64,
    pub limit: i64,
}

/// A new concurrency slot: the key's live slots plus this one must stay within `max`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    pub id: String,
    pub max: i64,
    pub expires_ms: i64,
}

/// What a limit store failed at. `Unavailable` (a shared store that cannot be reached) refuses
/// limited requests with 503; a database error is an internal error, as anywhere else.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitStoreError {
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
    #[error("key limits cannot be checked right now: {0}")]
    Unavailable(String),
    /// The store has lost these budget counters (the takes' positions): they must be seeded
    /// ([`LimitStore::seed`]) from the request log before the reservation is tried again.
    #[error("budget counters to seed: {0:?}")]
    Unseeded(Vec<usize>),
}

pub type LimitResult<T> = Result<T, LimitStoreError>;

/// What a key has used of its limits right now (shown next to the limits in the admin UI). The
/// admin API subtracts what the answering instance leased and has not used; other instances'
/// unused leases (at most 1/32 of a limit each) are included.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct KeyUsage {
    pub requests_this_minute: i64,
    pub tokens_this_minute: i64,
    pub concurrent: i64,
    /// Spent in the current budget period (day, month or in total; total without a period).
    pub spent_usd: f64,
}

/// Where key limits live, shared by every instance. Each method is one round trip and atomic.
#[cfg_attr(not(target_arch = "wasm32"), async_trait)]
#[cfg_attr(target_arch = "wasm32", async_trait(?Send))]
pub trait LimitStore: MaybeSend + MaybeSync {
    /// Reserves every take and the slot together; `Ok(false)` (nothing reserved) when one would
    /// pass its limit. Expired slots of the key are dropped first.
    async fn reserve(
        &self,
        key_id: &str,
        now_ms: i64,
        takes: &[Take],
        slot: Option<&Slot>,
    ) -> LimitResult<bool>;
    /// Adds `delta` (negative gives back) to a counter; `used` never goes below 0, and an overrun
    /// is recorded even past the limit.
    async fn adjust(&self, key_id: &str, kind: &str, window: i64, delta: i64) -> LimitResult<()>;
    /// Moves the expiry of slots.
    async fn renew(&self, key_id: &str, ids: &[String], expires_ms: i64) -> LimitResult<()>;
    /// Frees slots.
    async fn release(&self, key_id: &str, ids: &[String]) -> LimitResult<()>;
    /// A counter's current use.
    async fn used(&self, key_id: &str, kind: &str, window: i64) -> LimitResult<i64>;
    /// Live slots of a key.
    async fn slots(&self, key_id: &str, now_ms: i64) -> LimitResult<i64>;
    /// Current use of `keys` (id, budget period).
    async fn usage(
        &self,
        keys: &[(&str, Option<BudgetPeriod>)],
        now_ms: i64,
    ) -> LimitResult<HashMap<String, KeyUsage>>;
    /// Drops counters of windows that started before `before_ms` (total budgets are kept) and
    /// expired slots.
    async fn prune(&self, before_ms: i64, now_ms: i64) -> LimitResult<()>;
    /// Sets a counter the store had lost (see [`LimitStoreError::Unseeded`]) to `used`, unless
    /// another instance seeded it meanwhile. Stores that never lose counters never ask.
    async fn seed(&self, _key_id: &str, _kind: &str, _window: i64, _used: i64) -> LimitResult<()> {
        Ok(())
    }
}

/// One request's wants: per counter kind (requests, tokens, budget), `(window, amount, limit)`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wants {
    pub counters: [Option<(i64, i64, i64)>; 3],
    /// Maximum concurrent requests.
    pub max_concurrent: Option<i64>,
}

impl Wants {
    pub fn is_empty(&self) -> bool {
        self.counters.iter().all(Option::is_none) && self.max_concurrent.is_none()
    }
}

/// What an admitted request holds until it settles.
#[derive(Debug, Clone, Default)]
pub struct Ticket {
    key_id: String,
    wants: Wants,
}

#[derive(Debug, Default)]
struct Counter {
    window: i64,
    limit: i64,
    /// The largest block (0: reserved exactly).
    cap: i64,
    /// Reserved in the store, not yet handed out.
    left: i64,
    /// Owed to the store (negative) — written at the next flush.
    owed: i64,
    /// Requests' worth per block.
    k: i64,
    refilled_ms: i64,
    flushed_ms: i64,
    used_ms: i64,
    /// When the store last refused to top this counter up (`i64::MIN`: never).
    refused_ms: i64,
}

impl Counter {
    /// `leased`: whether this counter may be leased in blocks at all.
    fn new(window: i64, limit: i64, leased: bool) -> Self {
        let cap = if leased { limit / BLOCK_SHARE } else { 0 };
        Self { window, limit, cap, k: 1, refused_ms: i64::MIN, ..Self::default() }
    }
    fn block(&self, amount: i64) -> i64 {
        if self.cap < amount.max(1) {
            amount
        } else {
            amount.saturating_mul(self.k.max(1)).min(self.cap)
        }
    }
}

#[derive(Debug, Default)]
struct Slots {
    held: Vec<String>,
    in_use: i64,
    expires_ms: i64,
}

#[derive(Debug, Default)]
struct Account {
    counters: [Option<Counter>; 3],
    slots: Slots,
    /// When a block reservation in flight started (`None`: none is): others reserve exactly what
    /// they need meanwhile, so an instance never holds more than one block of a counter beyond its
    /// exact needs. One older than five seconds is taken as lost (its request was dropped).
    refilling: Option<i64>,
}

/// A key's account. It is locked only between round trips, never across one. Requests that need
/// the store pass the gate one at a time, so one refill serves those waiting behind it — except on
/// wasm: a Workers request waiting for another request's IO looks hung to the runtime and is
/// cancelled, so there a request never waits for another, and those arriving while a block is
/// being reserved reserve exactly their own need.
#[derive(Debug, Default)]
struct Entry {
    account: Mutex<Account>,
    #[cfg(not(target_arch = "wasm32"))]
    gate: futures::lock::Mutex<()>,
}

type Shared<T> = Arc<T>;

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The per-instance limit accounts over a shared store.
pub struct Quota {
    store: Arc<dyn LimitStore>,
    /// The database: what a budget counter the limit store lost is seeded from.
    ledger: crate::store::Store,
    instance: String,
    lease_ms: i64,
    accounts: Mutex<HashMap<String, Shared<Entry>>>,
    seq: AtomicU64,
    round_trips: AtomicU64,
    flushed: bool,
}

impl std::fmt::Debug for Quota {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Quota").field("instance", &self.instance).finish()
    }
}

/// What a failed reservation leaves: refused, or the store failed.
pub enum Refused {
    Limit,
    Store(LimitStoreError),
}

/// A counter write decided under the lock, made after it: `(counter, window, delta)`.
type Write = (usize, i64, i64);

/// What an admission must get from the store, decided under the lock.
struct Plan {
    takes: Vec<Take>,
    exact: Vec<Take>,
    slot: Option<Slot>,
    /// Counters served from the blocks (given back if the store refuses the rest).
    local: Vec<usize>,
    slot_local: bool,
    refill: bool,
}

fn index(kind: &str) -> usize {
    KINDS.iter().position(|k| *k == kind).unwrap_or(0)
}

impl Quota {
    /// `instance` names this instance's slots (random per process or isolate). `flushed`: whether
    /// the host calls [`Quota::flush`] on a timer and before it exits (the server). Only then are
    /// budgets leased in blocks and spare slots kept while the instance is idle: where instances
    /// vanish without notice (Lambda, Workers), a budget's block would be lost with them for the
    /// whole period, and idle slots held until their lease ran out.
    pub fn new(
        store: Arc<dyn LimitStore>,
        ledger: crate::store::Store,
        instance: String,
        (lease_ms, flushed): (i64, bool),
    ) -> Self {
        Self {
            store,
            ledger,
            instance,
            lease_ms,
            accounts: Mutex::default(),
            seq: AtomicU64::new(0),
            round_trips: AtomicU64::new(0),
            flushed,
        }
    }

    fn leases(&self, counter: usize) -> bool {
        KINDS[counter] != BUDGET || self.flushed
    }

    pub fn store(&self) -> &dyn LimitStore {
        self.store.as_ref()
    }

    /// Store round trips made for limits since start (the benchmark's writes per request).
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    fn trip(&self) {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
    }

    /// A key's account (made on first use; the lookup allocates nothing after that).
    fn account(&self, key_id: &str) -> Shared<Entry> {
        let mut accounts = lock(&self.accounts);
        match accounts.get(key_id) {
            Some(entry) => entry.clone(),
            None => accounts.entry(key_id.to_owned()).or_default().clone(),
        }
    }

    fn accounts(&self) -> Vec<(String, Shared<Entry>)> {
        lock(&self.accounts).iter().map(|(k, v)| (k.clone(), v.clone())).collect()
    }

    /// Writes counter deltas; a failed one is owed again (written at the next chance).
    async fn write(&self, key_id: &str, account: &Entry, writes: Vec<Write>) {
        for (i, window, delta) in writes {
            self.trip();
            if let Err(e) = self.store.adjust(key_id, KINDS[i], window, delta).await {
                tracing::warn!(key_id, error = %e, "could not write key limits; retrying later");
                if let Some(c) =
                    lock(&account.account).counters[i].as_mut().filter(|c| c.window == window)
                {
                    c.owed += delta;
                }
            }
        }
    }

    /// Admits a request against `wants`, from the instance's blocks when they suffice.
    pub async fn admit(&self, key_id: &str, wants: Wants, now_ms: i64) -> Result<Ticket, Refused> {
        let account = self.account(key_id);
        // Counters whose window or limit changed start over (a changed limit hands its block
        // back first).
        let back: Vec<Write> = {
            let mut a = lock(&account.account);
            let mut back = Vec::new();
            for (i, want) in wants.counters.iter().enumerate() {
                let Some((window, _, limit)) = *want else { continue };
                let fresh = || Some(Counter::new(window, limit, self.leases(i)));
                match a.counters[i].as_ref().map(|c| (c.window == window, c.limit == limit)) {
                    Some((true, true)) => {}
                    Some((true, false)) => {
                        let c = a.counters[i].as_ref().map_or(0, |c| c.owed - c.left);
                        if c != 0 {
                            back.push((i, window, c));
                        }
                        a.counters[i] = fresh();
                    }
                    _ => a.counters[i] = fresh(),
                }
            }
            back
        };
        for (i, window, delta) in back {
            self.trip();
            let r = self.store.adjust(key_id, KINDS[i], window, delta).await;
            r.map_err(Refused::Store)?;
        }
        #[cfg(not(target_arch = "wasm32"))]
        let _gate = match self.fits(&account, &wants) {
            true => None,
            false => Some(account.gate.lock().await),
        };
        let Some(plan) = self.plan(&account, &wants, now_ms) else {
            return Err(Refused::Limit);
        };
        let amount = |i: usize| wants.counters[i].map_or(0, |w| w.1);
        let mut takes = plan.takes;
        let mut got = Ok(true);
        if !takes.is_empty() || plan.slot.is_some() {
            got = self.reserve(key_id, now_ms, &takes, plan.slot.as_ref()).await;
            if matches!(got, Ok(false)) && takes != plan.exact {
                got = self.reserve(key_id, now_ms, &plan.exact, plan.slot.as_ref()).await;
                takes = plan.exact;
            }
        }
        let renew = {
            let mut a = lock(&account.account);
            if plan.refill {
                a.refilling = None;
            }
            match got {
                Ok(true) => {
                    for t in &takes {
                        let i = index(t.kind);
                        let Some(c) = a.counters[i].as_mut().filter(|c| c.window == t.window)
                        else {
                            continue; // the window moved on meanwhile: that capacity is spent
                        };
                        c.left += t.amount - amount(i);
                        c.used_ms = now_ms;
                        if plan.refill && c.cap >= amount(i).max(1) {
                            let elapsed = now_ms - c.refilled_ms;
                            if elapsed < 1_000 {
                                c.k = (c.k * 2).min(1 << 20);
                            } else if elapsed > IDLE_MS {
                                c.k = (c.k / 2).max(1);
                            }
                            c.refilled_ms = now_ms;
                        }
                    }
                    if let Some(s) = plan.slot {
                        if a.slots.held.is_empty() {
                            a.slots.expires_ms = s.expires_ms;
                        }
                        a.slots.held.push(s.id);
                        a.slots.in_use += 1;
                    }
                    self.renewal(&mut a.slots, now_ms)
                }
                refused => {
                    for &i in &plan.local {
                        if let Some(c) = a.counters[i].as_mut() {
                            c.left += amount(i);
                        }
                    }
                    if plan.slot_local {
                        a.slots.in_use -= 1;
                    }
                    return Err(match refused {
                        Err(e) => Refused::Store(e),
                        _ => {
                            // A refusal with a slot may be the slot's (freed any moment): not
                            // remembered.
                            for t in takes.iter().filter(|_| plan.slot.is_none()) {
                                if let Some(c) = a.counters[index(t.kind)].as_mut() {
                                    c.refused_ms = now_ms;
                                }
                            }
                            Refused::Limit
                        }
                    });
                }
            }
        };
        self.renew(key_id, renew).await;
        Ok(Ticket { key_id: key_id.to_owned(), wants })
    }

    /// One reservation in the store; budget counters it lost are first seeded with what the
    /// request log says the key spent in their window (the database stays the source of truth
    /// for money), then it is tried again.
    async fn reserve(
        &self,
        key_id: &str,
        now_ms: i64,
        takes: &[Take],
        slot: Option<&Slot>,
    ) -> LimitResult<bool> {
        self.trip();
        let missing = match self.store.reserve(key_id, now_ms, takes, slot).await {
            Err(LimitStoreError::Unseeded(missing)) => missing,
            other => return other,
        };
        for t in missing.iter().filter_map(|&i| takes.get(i)) {
            let spent = self.ledger.spent_since(key_id, t.window).await?;
            tracing::warn!(
                key_id,
                window = t.window,
                spent,
                "the limit store lost a budget counter; seeded it from the request log"
            );
            self.trip();
            self.store.seed(key_id, t.kind, t.window, crate::policy::to_nano(spent)).await?;
        }
        self.trip();
        self.store.reserve(key_id, now_ms, takes, slot).await
    }

    /// Whether the blocks hold everything `wants` needs right now (no round trip).
    #[cfg(not(target_arch = "wasm32"))]
    fn fits(&self, account: &Entry, wants: &Wants) -> bool {
        let a = lock(&account.account);
        let counters = wants.counters.iter().zip(&a.counters).all(|(w, c)| match (w, c) {
            (None, _) => true,
            (Some((window, amount, limit)), Some(c)) => {
                c.window == *window && c.limit == *limit && c.left >= *amount
            }
            (Some(_), None) => false,
        });
        counters && (wants.max_concurrent.is_none() || a.slots.in_use < a.slots.held.len() as i64)
    }

    /// Under the account's lock: takes what the blocks have and says what the store must give;
    /// `None` when a short counter was refused by the store moments ago.
    fn plan(&self, account: &Entry, wants: &Wants, now_ms: i64) -> Option<Plan> {
        let mut a = lock(&account.account);
        let short = |c: &Counter, amount| c.left < amount;
        let refused = wants.counters.iter().zip(&a.counters).any(|(w, c)| match (w, c) {
            (Some((_, amount, _)), Some(c)) => {
                short(c, *amount) && now_ms.saturating_sub(c.refused_ms) < REFUSED_MS
            }
            _ => false,
        });
        if refused {
            return None;
        }
        let blocks = a.refilling.is_none_or(|since| now_ms - since > 5_000);
        let mut plan = Plan {
            takes: Vec::new(),
            exact: Vec::new(),
            slot: None,
            local: Vec::new(),
            slot_local: false,
            refill: false,
        };
        for (i, want) in wants.counters.iter().enumerate() {
            let (Some((window, amount, limit)), Some(c)) = (*want, a.counters[i].as_mut()) else {
                continue;
            };
            if !short(c, amount) {
                c.left -= amount;
                c.used_ms = now_ms;
                plan.local.push(i);
                continue;
            }
            let block = if blocks { c.block(amount).max(amount) } else { amount };
            plan.takes.push(Take { kind: KINDS[i], window, amount: block, limit });
            plan.exact.push(Take { kind: KINDS[i], window, amount, limit });
        }
        if let Some(max) = wants.max_concurrent {
            if a.slots.in_use < a.slots.held.len() as i64 {
                a.slots.in_use += 1;
                plan.slot_local = true;
            } else {
                let n = self.seq.fetch_add(1, Ordering::Relaxed);
                let id = format!("{}-{n}", self.instance);
                plan.slot = Some(Slot { id, max, expires_ms: now_ms + self.lease_ms });
            }
        }
        if blocks && !plan.takes.is_empty() {
            a.refilling = Some(now_ms);
            plan.refill = true;
        }
        Some(plan)
    }

    /// Capacity this instance holds for a key and has not handed out, per counter kind, with its
    /// window: what the store's counters show beyond real use, as far as this instance knows.
    pub fn unused(&self, key_id: &str) -> [Option<(i64, i64)>; 3] {
        let account = self.account(key_id);
        let a = lock(&account.account);
        let mut out = [None; 3];
        for (slot, c) in out.iter_mut().zip(&a.counters) {
            *slot = c.as_ref().map(|c| (c.window, c.left - c.owed));
        }
        out
    }

    /// The slots to renew when half their lease has passed (their new expiry is taken at once,
    /// so only one request renews them).
    fn renewal(&self, slots: &mut Slots, now_ms: i64) -> Option<(Vec<String>, i64)> {
        if slots.held.is_empty() || slots.expires_ms - now_ms > self.lease_ms / 2 {
            return None;
        }
        slots.expires_ms = now_ms + self.lease_ms;
        Some((slots.held.clone(), slots.expires_ms))
    }

    async fn renew(&self, key_id: &str, renewal: Option<(Vec<String>, i64)>) {
        let Some((ids, expires_ms)) = renewal else { return };
        self.trip();
        if let Err(e) = self.store.renew(key_id, &ids, expires_ms).await {
            tracing::warn!(key_id, error = %e, "could not renew concurrency slots");
        }
    }

    async fn release(&self, key_id: &str, ids: Vec<String>) {
        if ids.is_empty() {
            return;
        }
        self.trip();
        if let Err(e) = self.store.release(key_id, &ids).await {
            tracing::warn!(key_id, error = %e, "could not release concurrency slots");
        }
    }

    /// Settles a request: `real` per counter kind replaces its estimate (requests are never
    /// settled: `None` keeps the estimate), and its slot is freed.
    pub async fn settle(&self, ticket: &Ticket, real: [Option<i64>; 3], now_ms: i64) {
        let key_id = ticket.key_id.as_str();
        let account = self.account(key_id);
        let (writes, freed, renew) = {
            let mut a = lock(&account.account);
            let mut writes = Vec::new();
            for (i, want) in ticket.wants.counters.iter().enumerate() {
                let (Some((window, estimate, _)), Some(real)) = (*want, real[i]) else { continue };
                let delta = real - estimate;
                if delta == 0 {
                    continue;
                }
                let Some(c) = a.counters[i].as_mut().filter(|c| c.window == window) else {
                    // The window moved on: an overrun is still recorded where it happened.
                    if delta > 0 {
                        writes.push((i, window, delta));
                    }
                    continue;
                };
                if delta < 0 {
                    c.left -= delta;
                    // One block stays in `left` (none when reserving exactly); the rest is owed.
                    if c.left > c.cap {
                        c.owed -= c.left - c.cap;
                        c.left = c.cap;
                    }
                } else {
                    let from_block = c.left.min(delta);
                    c.left -= from_block;
                    c.owed += delta - from_block;
                }
                let due = c.owed > 0
                    || c.cap == 0
                    || now_ms - c.flushed_ms >= FLUSH_MS
                    || -c.owed >= c.cap;
                if c.owed != 0 && due {
                    writes.push((i, window, std::mem::take(&mut c.owed)));
                    c.flushed_ms = now_ms;
                }
            }
            let mut freed = Vec::new();
            if let Some(max) = ticket.wants.max_concurrent {
                let s = &mut a.slots;
                s.in_use = (s.in_use - 1).max(0);
                // Idle, an instance without a timer gives every slot back now; the server at its
                // next flush (a busy instance's count touches zero between requests all the time).
                let idle = s.in_use == 0 && !self.flushed;
                let spare = if idle { 0 } else { max / SPARE_SLOT_SHARE };
                let keep = usize::try_from(s.in_use + spare).unwrap_or(0);
                if s.held.len() > keep {
                    freed = s.held.split_off(keep);
                }
            }
            let renew = self.renewal(&mut a.slots, now_ms);
            (writes, freed, renew)
        };
        self.write(key_id, &account, writes).await;
        self.release(key_id, freed).await;
        self.renew(key_id, renew).await;
    }

    /// Writes owed capacity back, returns the blocks of idle counters (all of them with `all`:
    /// at shutdown) and the slots of idle accounts, and renews slots in use.
    pub async fn flush(&self, now_ms: i64, all: bool) {
        for (key_id, account) in self.accounts() {
            let (writes, freed, renew) = {
                let mut a = lock(&account.account);
                let mut writes = Vec::new();
                for (i, slot) in a.counters.iter_mut().enumerate() {
                    let Some(c) = slot.as_mut() else { continue };
                    let mut back = std::mem::take(&mut c.owed);
                    if all || now_ms - c.used_ms >= IDLE_MS {
                        back -= c.left;
                        c.left = 0;
                    }
                    if back != 0 {
                        writes.push((i, c.window, back));
                        c.flushed_ms = now_ms;
                    }
                }
                let s = &mut a.slots;
                let mut freed = Vec::new();
                if all || s.in_use == 0 {
                    let keep = usize::try_from(s.in_use).unwrap_or(0);
                    if s.held.len() > keep {
                        freed = s.held.split_off(keep);
                    }
                }
                let renew = self.renewal(s, now_ms);
                (writes, freed, renew)
            };
            self.write(&key_id, &account, writes).await;
            self.release(&key_id, freed).await;
            self.renew(&key_id, renew).await;
        }
    }
}
