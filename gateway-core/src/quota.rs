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
//!   an instance keeps the slots it uses plus up to 1/8 of the maximum spare while busy, gives them
//!   all back when idle, renews them before they expire, and a killed instance's slots free
//!   themselves at expiry.
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

impl Ticket {
    pub fn wants(&self) -> &Wants {
        &self.wants
    }
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
    /// Capacity kept in `left` after settlement: one block (none when reserving exactly).
    fn keep(&self) -> i64 {
        self.cap
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
}

type Shared<T> = Arc<futures::lock::Mutex<T>>;

/// The per-instance limit accounts over a shared store.
pub struct Quota {
    store: Arc<dyn LimitStore>,
    instance: String,
    lease_ms: i64,
    accounts: Mutex<HashMap<String, Shared<Account>>>,
    seq: AtomicU64,
    round_trips: AtomicU64,
    lease_budgets: bool,
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

impl Quota {
    /// `instance` names this instance's slots (random per process or isolate). `lease_budgets`:
    /// whether budgets are leased in blocks too — only on a host that gives leases back before it
    /// exits (the server); where instances vanish without notice (Lambda, Workers), a budget's
    /// block would be lost with them for the whole period, so budgets are reserved exactly there.
    pub fn new(
        store: Arc<dyn LimitStore>,
        instance: String,
        lease_ms: i64,
        lease_budgets: bool,
    ) -> Self {
        Self {
            store,
            instance,
            lease_ms,
            accounts: Mutex::default(),
            seq: AtomicU64::new(0),
            round_trips: AtomicU64::new(0),
            lease_budgets,
        }
    }

    fn leases(&self, counter: usize) -> bool {
        KINDS[counter] != BUDGET || self.lease_budgets
    }

    pub fn store(&self) -> &dyn LimitStore {
        self.store.as_ref()
    }

    pub fn lease_ms(&self) -> i64 {
        self.lease_ms
    }

    /// Store round trips made for limits since start (the benchmark's writes per request).
    pub fn round_trips(&self) -> u64 {
        self.round_trips.load(Ordering::Relaxed)
    }

    fn trip(&self) {
        self.round_trips.fetch_add(1, Ordering::Relaxed);
    }

    fn account(&self, key_id: &str) -> Shared<Account> {
        let mut map = match self.accounts.lock() {
            Ok(m) => m,
            Err(poisoned) => poisoned.into_inner(),
        };
        map.entry(key_id.to_owned()).or_default().clone()
    }

    fn accounts(&self) -> Vec<(String, Shared<Account>)> {
        match self.accounts.lock() {
            Ok(m) => m.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Admits a request against `wants`, from the instance's blocks when they suffice.
    pub async fn admit(&self, key_id: &str, wants: Wants, now_ms: i64) -> Result<Ticket, Refused> {
        let account = self.account(key_id);
        let mut a = account.lock().await;
        // Counters whose window or limit changed start over (a lowered limit hands its block back).
        for (i, want) in wants.counters.iter().enumerate() {
            let Some((window, _, limit)) = *want else { continue };
            let stale = a.counters[i].as_ref().map(|c| (c.window != window, c.limit != limit));
            match stale {
                None | Some((true, _)) => {
                    a.counters[i] = Some(Counter::new(window, limit, self.leases(i)));
                }
                Some((false, true)) => {
                    if let Some(c) = a.counters[i].take() {
                        let back = c.owed - c.left;
                        if back != 0 {
                            self.trip();
                            let r = self.store.adjust(key_id, KINDS[i], window, back).await;
                            r.map_err(Refused::Store)?;
                        }
                    }
                    a.counters[i] = Some(Counter::new(window, limit, self.leases(i)));
                }
                Some((false, false)) => {}
            }
        }
        // What the store must give: per short counter, a block (or the exact need).
        let mut takes = Vec::new();
        let mut exact = Vec::new();
        for (i, want) in wants.counters.iter().enumerate() {
            let (Some((window, amount, limit)), Some(c)) = (*want, a.counters[i].as_ref()) else {
                continue;
            };
            if c.left >= amount {
                continue;
            }
            let need = amount - c.left;
            let block = c.block(amount).max(amount) - c.left;
            takes.push(Take { kind: KINDS[i], window, amount: block, limit });
            exact.push(Take { kind: KINDS[i], window, amount: need, limit });
        }
        let slot = match wants.max_concurrent {
            Some(max) if a.slots.in_use >= a.slots.held.len() as i64 => {
                let n = self.seq.fetch_add(1, Ordering::Relaxed);
                let expires_ms = now_ms + self.lease_ms;
                Some(Slot { id: format!("{}-{n}", self.instance), max, expires_ms })
            }
            _ => None,
        };
        let recently_refused = exact.iter().any(|t| {
            let i = KINDS.iter().position(|k| *k == t.kind);
            let c = i.and_then(|i| a.counters[i].as_ref());
            c.is_some_and(|c| now_ms.saturating_sub(c.refused_ms) < REFUSED_MS)
        });
        if recently_refused {
            return Err(Refused::Limit);
        }
        if !takes.is_empty() || slot.is_some() {
            self.trip();
            let mut got = self.store.reserve(key_id, now_ms, &takes, slot.as_ref()).await;
            if matches!(got, Ok(false)) && takes != exact {
                self.trip();
                got = self.store.reserve(key_id, now_ms, &exact, slot.as_ref()).await;
                takes = exact;
            }
            match got {
                Ok(true) => {}
                Ok(false) => {
                    // A refusal with a slot may be the slot's (freed any moment): not remembered.
                    for t in takes.iter().filter(|_| slot.is_none()) {
                        let i = KINDS.iter().position(|k| *k == t.kind);
                        if let Some(c) = i.and_then(|i| a.counters[i].as_mut()) {
                            c.refused_ms = now_ms;
                        }
                    }
                    return Err(Refused::Limit);
                }
                Err(e) => return Err(Refused::Store(e)),
            }
            for t in &takes {
                let Some(c) = KINDS.iter().position(|k| *k == t.kind) else { continue };
                let Some(c) = a.counters[c].as_mut() else { continue };
                c.left += t.amount;
                let elapsed = now_ms - c.refilled_ms;
                c.k = if elapsed < 1_000 {
                    (c.k * 2).min(1 << 20)
                } else if elapsed > IDLE_MS {
                    (c.k / 2).max(1)
                } else {
                    c.k
                };
                c.refilled_ms = now_ms;
            }
            if let Some(s) = slot {
                if a.slots.held.is_empty() {
                    a.slots.expires_ms = s.expires_ms;
                }
                a.slots.held.push(s.id);
            }
        }
        for (i, want) in wants.counters.iter().enumerate() {
            if let (Some((_, amount, _)), Some(c)) = (*want, a.counters[i].as_mut()) {
                c.left -= amount;
                c.used_ms = now_ms;
            }
        }
        if wants.max_concurrent.is_some() {
            a.slots.in_use += 1;
            self.renew_if_due(key_id, &mut a.slots, now_ms).await;
        }
        Ok(Ticket { key_id: key_id.to_owned(), wants })
    }

    /// Capacity this instance holds for a key and has not handed out, per counter kind, with its
    /// window: what the store's counters show beyond real use, as far as this instance knows.
    pub async fn unused(&self, key_id: &str) -> [Option<(i64, i64)>; 3] {
        let account = self.account(key_id);
        let a = account.lock().await;
        let mut out = [None; 3];
        for (slot, c) in out.iter_mut().zip(&a.counters) {
            *slot = c.as_ref().map(|c| (c.window, c.left - c.owed));
        }
        out
    }

    /// Renews the instance's slots of a key when half their lease has passed.
    async fn renew_if_due(&self, key_id: &str, slots: &mut Slots, now_ms: i64) {
        if slots.held.is_empty() || slots.expires_ms - now_ms > self.lease_ms / 2 {
            return;
        }
        let expires_ms = now_ms + self.lease_ms;
        self.trip();
        match self.store.renew(key_id, &slots.held, expires_ms).await {
            Ok(()) => slots.expires_ms = expires_ms,
            Err(e) => tracing::warn!(key_id, error = %e, "could not renew concurrency slots"),
        }
    }

    /// Settles a request: `real` per counter kind replaces its estimate (requests are never
    /// settled: `None` keeps the estimate), and its slot is freed.
    pub async fn settle(&self, ticket: &Ticket, real: [Option<i64>; 3], now_ms: i64) {
        let key_id = ticket.key_id.as_str();
        let account = self.account(key_id);
        let mut a = account.lock().await;
        let mut result = Ok(());
        for (i, want) in ticket.wants.counters.iter().enumerate() {
            let (Some((window, estimate, _)), Some(real)) = (*want, real[i]) else { continue };
            let delta = real - estimate;
            if delta == 0 {
                continue;
            }
            let Some(c) = a.counters[i].as_mut().filter(|c| c.window == window) else {
                // The window moved on: an overrun is still recorded where it happened.
                if delta > 0 {
                    self.trip();
                    result = result.and(self.store.adjust(key_id, KINDS[i], window, delta).await);
                }
                continue;
            };
            if delta < 0 {
                c.left -= delta;
                let keep = c.keep();
                if c.left > keep {
                    c.owed -= c.left - keep;
                    c.left = keep;
                }
            } else {
                let from_block = c.left.min(delta);
                c.left -= from_block;
                c.owed += delta - from_block;
            }
            let due = c.owed > 0
                || c.keep() == 0
                || now_ms - c.flushed_ms >= FLUSH_MS
                || -c.owed >= c.keep();
            if c.owed != 0 && due {
                self.trip();
                let r = self.store.adjust(key_id, KINDS[i], window, c.owed).await;
                if r.is_ok() {
                    c.owed = 0;
                    c.flushed_ms = now_ms;
                }
                result = result.and(r);
            }
        }
        if let Some(max) = ticket.wants.max_concurrent {
            let s = &mut a.slots;
            s.in_use = (s.in_use - 1).max(0);
            let spare = if s.in_use == 0 { 0 } else { max / SPARE_SLOT_SHARE };
            let keep = usize::try_from(s.in_use + spare).unwrap_or(0);
            if s.held.len() > keep {
                let freed = s.held.split_off(keep);
                self.trip();
                result = result.and(self.store.release(key_id, &freed).await);
            }
            self.renew_if_due(key_id, s, now_ms).await;
        }
        if let Err(e) = result {
            tracing::error!(key_id, error = %e, "could not settle key limits");
        }
    }

    /// Writes owed capacity back, returns the blocks of idle counters (all of them with `all`:
    /// at shutdown), and renews slots in use.
    pub async fn flush(&self, now_ms: i64, all: bool) {
        for (key_id, account) in self.accounts() {
            let mut a = account.lock().await;
            for (i, slot) in a.counters.iter_mut().enumerate() {
                let Some(c) = slot.as_mut() else { continue };
                let mut back = c.owed;
                if all || now_ms - c.used_ms >= IDLE_MS {
                    back -= c.left;
                    c.left = 0;
                }
                if back == 0 {
                    continue;
                }
                self.trip();
                match self.store.adjust(&key_id, KINDS[i], c.window, back).await {
                    Ok(()) => {
                        c.owed = 0;
                        c.flushed_ms = now_ms;
                    }
                    Err(e) => {
                        c.owed = back;
                        tracing::warn!(key_id, error = %e, "could not return leased limits");
                    }
                }
            }
            let s = &mut a.slots;
            if all || s.in_use == 0 {
                let spare = usize::try_from(s.in_use).unwrap_or(0);
                if s.held.len() > spare {
                    let freed = s.held.split_off(spare);
                    self.trip();
                    if let Err(e) = self.store.release(&key_id, &freed).await {
                        tracing::warn!(key_id, error = %e, "could not release concurrency slots");
                    }
                }
            }
            self.renew_if_due(&key_id, s, now_ms).await;
        }
    }
}
