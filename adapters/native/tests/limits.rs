//! One limits suite, run on every limit store the native hosts can use: the database on a libSQL
//! file (two connections racing on it, as two instances would), the database over Turso's protocol
//! (the Hrana double), and a real `redis-server`. Store level: exact reservations under races,
//! all-or-nothing, overruns recorded, slots that expire. Instance level (two `Quota`s, as two
//! gateway instances, over one store): small limits exact, large limits leased in blocks with the
//! under-admission bounded and few round trips, budgets never overdrawn beyond the overruns of the
//! requests in flight, a killed instance's slots back after their lease. Redis alone: stopped
//! mid-run it fails fast and is used again once back.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use gateway_core::hrana::HranaExec;
use gateway_core::quota::{BUDGET, Quota, Refused, Wants};
use gateway_core::store::Store;
use gateway_core::{HttpClient, LimitStore, LimitStoreError, Secret, Slot, Take};
use gateway_native::{RedisLimits, ReqwestClient, open_database};
use hrana_test_server::RedisServer;

type Pair = (Arc<dyn LimitStore>, Arc<dyn LimitStore>);

static KEYS: AtomicUsize = AtomicUsize::new(0);

/// A key id no other test uses (the Redis server is shared by the suite's tests).
fn key() -> String {
    format!("k{}-{}", std::process::id(), KEYS.fetch_add(1, Ordering::Relaxed))
}

async fn file() -> (tempfile::TempDir, Pair) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("limits.db").to_string_lossy().into_owned();
    let a = Store::new(open_database(&path, None).await.unwrap());
    a.migrate(1).await.unwrap();
    let b = Store::new(open_database(&path, None).await.unwrap());
    (dir, (Arc::new(a), Arc::new(b)))
}

async fn hrana() -> (tempfile::TempDir, Pair) {
    let dir = tempfile::tempdir().unwrap();
    let url = hrana_test_server::spawn(dir.path().join("r.db").to_str().unwrap(), Some("tok"))
        .await
        .unwrap();
    let http: Arc<dyn HttpClient> = Arc::new(ReqwestClient::new().unwrap());
    let exec = |h| Arc::new(HranaExec::new(h, &url, Some(Secret::new("tok"))));
    let a = Store::new(exec(http.clone()));
    a.migrate(1).await.unwrap();
    let b = Store::new(exec(http));
    (dir, (Arc::new(a), Arc::new(b)))
}

fn redis_pair(server: &RedisServer) -> Pair {
    let a = RedisLimits::new(&server.url()).unwrap();
    let b = RedisLimits::new(&server.url()).unwrap();
    (Arc::new(a), Arc::new(b))
}

fn rpm(limit: i64) -> Wants {
    Wants { counters: [Some((0, 1, limit)), None, None], max_concurrent: None }
}

async fn races((a, b): &Pair) {
    let k = key();
    let mut tasks = Vec::new();
    for i in 0..40 {
        let s = if i % 2 == 0 { a.clone() } else { b.clone() };
        let k = k.clone();
        tasks.push(tokio::spawn(async move {
            let take = Take { kind: "rpm", window: 0, amount: 1, limit: 7 };
            s.reserve(&k, 1_000, &[take], None).await.unwrap()
        }));
    }
    let mut admitted = 0;
    for t in tasks {
        admitted += usize::from(t.await.unwrap());
    }
    assert_eq!(admitted, 7);
    assert_eq!(a.used(&k, "rpm", 0).await.unwrap(), 7);
}

async fn all_or_nothing((a, _): &Pair) {
    let k = key();
    let take = [Take { kind: "rpm", window: 0, amount: 1, limit: 10 }];
    let slot = |id: &str| Slot { id: id.into(), max: 1, expires_ms: 100_000 };
    // Requests still fit, but the slot does not: neither may be kept.
    assert!(a.reserve(&k, 1_000, &take, Some(&slot("a"))).await.unwrap());
    assert!(!a.reserve(&k, 1_000, &take, Some(&slot("b"))).await.unwrap());
    assert_eq!(a.used(&k, "rpm", 0).await.unwrap(), 1);
    assert_eq!(a.slots(&k, 1_000).await.unwrap(), 1);
    a.release(&k, &["a".into()]).await.unwrap();
    assert!(a.reserve(&k, 1_000, &take, Some(&slot("c"))).await.unwrap());
    // Renewed, the slot outlives its first expiry; expired (its holder died), it no longer counts.
    a.renew(&k, &["c".into()], 200_000).await.unwrap();
    assert_eq!(a.slots(&k, 150_000).await.unwrap(), 1);
    assert_eq!(a.slots(&k, 200_000).await.unwrap(), 0);
    assert!(a.reserve(&k, 200_000, &take, Some(&slot("d"))).await.unwrap());
    let usage = a.usage(&[(k.as_str(), None)], 200_001).await.unwrap();
    assert_eq!(usage[&k].concurrent, 0, "slot d expired at 100 000: {usage:?}");
}

async fn overruns((a, _): &Pair) {
    let k = key();
    let take = [Take { kind: "tpm", window: 60_000, amount: 100, limit: 150 }];
    assert!(a.reserve(&k, 0, &take, None).await.unwrap());
    a.adjust(&k, "tpm", 60_000, 120).await.unwrap(); // really used 220
    assert_eq!(a.used(&k, "tpm", 60_000).await.unwrap(), 220);
    assert!(!a.reserve(&k, 0, &take, None).await.unwrap(), "over the limit: refused");
    a.adjust(&k, "tpm", 60_000, -500).await.unwrap();
    assert_eq!(a.used(&k, "tpm", 60_000).await.unwrap(), 0, "never below zero");
}

/// The database a quota seeds lost budget counters from (an empty one: nothing spent yet).
async fn ledger() -> Store {
    let dir = tempfile::tempdir().unwrap().keep();
    let path = dir.join("ledger.db").to_string_lossy().into_owned();
    let store = Store::new(open_database(&path, None).await.unwrap());
    store.migrate(1).await.unwrap();
    store
}

async fn quotas((a, b): &Pair, lease_ms: i64) -> (Arc<Quota>, Arc<Quota>) {
    let ledger = ledger().await;
    (
        Arc::new(Quota::new(a.clone(), ledger.clone(), "a".into(), (lease_ms, true))),
        Arc::new(Quota::new(b.clone(), ledger, "b".into(), (lease_ms, true))),
    )
}

/// Admits `n` requests at once, alternating between the two instances.
async fn burst(qa: &Arc<Quota>, qb: &Arc<Quota>, k: &str, wants: &Wants, n: usize) -> usize {
    let mut tasks = Vec::new();
    for i in 0..n {
        let q = if i % 2 == 0 { qa.clone() } else { qb.clone() };
        let (k, wants) = (k.to_owned(), wants.clone());
        tasks.push(tokio::spawn(async move { q.admit(&k, wants, 1_000).await.is_ok() }));
    }
    let mut admitted = 0;
    for t in tasks {
        admitted += usize::from(t.await.unwrap());
    }
    admitted
}

async fn small_limits_are_exact(pair: &Pair) {
    let (qa, qb) = quotas(pair, 60_000).await;
    let k = key();
    assert_eq!(burst(&qa, &qb, &k, &rpm(10), 40).await, 10);
}

async fn large_limits_lease_blocks(pair: &Pair) {
    let (qa, qb) = quotas(pair, 60_000).await;
    let k = key();
    let limit = 3_200;
    // Demand of twice the limit from both instances.
    let admitted = burst(&qa, &qb, &k, &rpm(limit), 2 * limit as usize).await as i64;
    let trips = qa.round_trips() + qb.round_trips();
    assert!(admitted <= limit, "{admitted} admitted");
    assert!(admitted * 10 >= limit * 9, "only {admitted} of {limit} admitted");
    assert!(trips * 10 < admitted as u64, "{trips} store round trips for {admitted} requests");
    let used = pair.0.used(&k, "rpm", 0).await.unwrap();
    assert!(used <= limit, "{used}");
}

async fn budgets_are_not_overdrawn(pair: &Pair) {
    let (qa, qb) = quotas(pair, 60_000).await;
    let k = key();
    let limit = 1_000_000_000; // 1 USD in nano-USD
    let estimate = 1_000_000;
    let wants = Wants { counters: [None, None, Some((0, estimate, limit))], max_concurrent: None };
    let mut tasks = Vec::new();
    for (n, q) in [qa.clone(), qb.clone()].into_iter().enumerate() {
        let (k, wants) = (k.clone(), wants.clone());
        tasks.push(tokio::spawn(async move {
            let mut spent = 0;
            for i in 0.. {
                let Ok(ticket) = q.admit(&k, wants.clone(), 1_000 + i).await else { break };
                // Most requests cost less than estimated, every seventh costs more.
                let real = if (i + n as i64) % 7 == 0 { 2 * estimate } else { estimate / 3 };
                q.settle(&ticket, [None, None, Some(real)], 1_000 + i).await;
                spent += real;
            }
            spent
        }));
    }
    let mut spent = 0;
    for t in tasks {
        spent += t.await.unwrap();
    }
    qa.flush(10_000_000, true).await;
    qb.flush(10_000_000, true).await;
    assert_eq!(pair.0.used(&k, BUDGET, 0).await.unwrap(), spent, "the store holds what was spent");
    // Each instance has one request in flight at a time: at most one overrun each past the limit.
    assert!(spent <= limit + 2 * estimate, "spent {spent} of {limit}");
    assert!(spent * 10 >= limit * 9, "only {spent} of {limit} spent");
}

async fn killed_instances_free_their_slots(pair: &Pair) {
    let (qa, qb) = quotas(pair, 2_000).await;
    let k = key();
    let wants = Wants { counters: [None; 3], max_concurrent: Some(2) };
    assert!(qa.admit(&k, wants.clone(), 1_000).await.is_ok());
    assert!(qa.admit(&k, wants.clone(), 1_000).await.is_ok());
    drop(qa); // killed: it never settles nor gives its slots back
    assert!(matches!(qb.admit(&k, wants.clone(), 2_000).await, Err(Refused::Limit)));
    let ticket = qb.admit(&k, wants.clone(), 3_001).await;
    assert!(ticket.is_ok(), "the lease ran out at 3 000");
    // Settled and idle, an instance keeps no slot: another instance gets both.
    qb.settle(&ticket.ok().unwrap(), [None; 3], 3_002).await;
    let (qc, _) = quotas(pair, 2_000).await;
    assert!(qc.admit(&k, wants.clone(), 3_003).await.is_ok());
    assert!(qc.admit(&k, wants.clone(), 3_003).await.is_ok());
}

async fn suite(pair: Pair) {
    races(&pair).await;
    all_or_nothing(&pair).await;
    overruns(&pair).await;
    small_limits_are_exact(&pair).await;
    large_limits_lease_blocks(&pair).await;
    budgets_are_not_overdrawn(&pair).await;
    killed_instances_free_their_slots(&pair).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_on_a_libsql_file() {
    let (_dir, pair) = file().await;
    suite(pair).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_over_hrana() {
    let (_dir, pair) = hrana().await;
    suite(pair).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_server() {
    let server = RedisServer::start();
    suite(redis_pair(&server)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_stopped_mid_run_fails_fast_and_recovers() {
    let mut server = RedisServer::start();
    let (a, _) = redis_pair(&server);
    let quota = Quota::new(a.clone(), ledger().await, "a".into(), (60_000, true));
    let k = key();
    assert!(quota.admit(&k, rpm(10), 1_000).await.is_ok());
    server.stop();
    let started = Instant::now();
    let refused = quota.admit(&k, rpm(10), 1_000).await;
    assert!(
        matches!(refused, Err(Refused::Store(LimitStoreError::Unavailable(_)))),
        "a limit that cannot be checked is not waived"
    );
    assert!(started.elapsed() < Duration::from_secs(10), "took {:?}", started.elapsed());
    server.restart();
    // Back (empty: it kept nothing on disk), and used again without a restart of the gateway.
    let mut ok = false;
    for _ in 0..50 {
        if quota.admit(&k, rpm(10), 1_000).await.is_ok() {
            ok = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(ok, "Redis came back but the store did not reconnect");
}

/// Redis flushed (or restarted without persistence) under a key with a budget: the counter it
/// lost is not taken as zero. The next reservation seeds it from what the request log says the
/// key spent in the window, so the budget holds (it was spent three times over before).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flushed_redis_seeds_budgets_from_the_request_log() {
    use gateway_core::policy::BudgetPeriod;
    use gateway_core::store::logs::LogRecord;
    let server = RedisServer::start();
    let (a, _) = redis_pair(&server);
    let ledger = ledger().await;
    let now = 1_800_000_000_000; // a UTC day's budget window
    let (day, _) = BudgetPeriod::Day.window(now);
    let k = key();
    // 0.90 USD spent today, in nine requests already logged; 5 USD yesterday (another window).
    let rows: Vec<LogRecord> = (0..10)
        .map(|i| LogRecord {
            id: format!("log-{k}-{i}"),
            created_at: if i == 0 { day - 3_600_000 } else { day + i * 1000 },
            request_id: format!("r{i}"),
            key_id: Some(k.clone()),
            endpoint: "/v1/chat/completions".into(),
            status: 200,
            cost_usd: Some(if i == 0 { 5.0 } else { 0.1 }),
            ..Default::default()
        })
        .collect();
    ledger.insert_logs(&rows).await.unwrap();
    let quota = Quota::new(a.clone(), ledger, "a".into(), (60_000, false));
    let budget = |amount| Wants {
        counters: [None, None, Some((day, amount, 1_000_000_000))],
        max_concurrent: None,
    };
    server.flush();
    let spent = |n| (0..n).map(|_| 50_000_000).collect::<Vec<i64>>();
    let mut admitted = 0;
    for amount in spent(10) {
        admitted += usize::from(quota.admit(&k, budget(amount), now).await.is_ok());
    }
    assert_eq!(admitted, 2, "0.90 spent of 1.00: two more requests of 0.05");
    assert_eq!(a.used(&k, BUDGET, day).await.unwrap(), 1_000_000_000);
}

/// Redis stalled (`SIGSTOP`: connections open, nothing answers) under 16 limited requests at
/// once: every one is refused within the store's deadline — the connection is not reopened
/// under a lock one request at a time (they were refused at 2, 4 … 32 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_redis_refuses_every_waiting_request_within_the_deadline() {
    let server = RedisServer::start();
    let (a, _) = redis_pair(&server);
    let quota = Arc::new(Quota::new(a, ledger().await, "a".into(), (60_000, true)));
    // Limits under 32 requests' worth are reserved per request: each one needs the store.
    let keys: Vec<String> = (0..4).map(|_| key()).collect();
    for k in &keys {
        assert!(quota.admit(k, rpm(20), 1_000).await.is_ok());
    }
    server.pause();
    let started = Instant::now();
    let waits: Vec<_> = (0..16)
        .map(|i| {
            let (quota, k) = (quota.clone(), keys[i % 4].clone());
            tokio::spawn(async move {
                let refused = quota.admit(&k, rpm(20), 1_000).await;
                (matches!(refused, Err(Refused::Store(_))), started.elapsed())
            })
        })
        .collect();
    for wait in waits {
        let (unavailable, took) = wait.await.unwrap();
        assert!(unavailable, "a limit that cannot be checked is not waived");
        let deadline = gateway_native::redis_limits::DEADLINE;
        assert!(took < deadline + Duration::from_millis(1500), "refused after {took:?}");
    }
    server.resume();
    let mut back = false;
    for _ in 0..50 {
        if quota.admit(&keys[0], rpm(20), 1_000).await.is_ok() {
            back = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(back, "Redis answers again but the store does not use it");
}
