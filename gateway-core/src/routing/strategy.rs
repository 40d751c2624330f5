//! The order in which a request tries a route's targets, per strategy. Targets whose breaker is
//! open are left out; the caller walks the order until an attempt succeeds.

use super::{NoTarget, Router, Strategy, Target};
use crate::io::Platform;

/// A uniform random number in [0, 1) from the platform RNG.
fn unit(platform: &dyn Platform) -> f64 {
    let mut b = [0u8; 8];
    platform.random_bytes(&mut b);
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

/// FNV-1a, for rendezvous hashing (stable across instances and restarts).
fn fnv(parts: &[&str]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for b in part.bytes().chain([0xff]) {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    h
}

/// Weighted sampling without replacement: each next pick is random in proportion to weight.
fn weighted<T: AsRef<Target>>(
    mut pool: Vec<usize>,
    targets: &[T],
    platform: &dyn Platform,
) -> Vec<usize> {
    let mut out = Vec::with_capacity(pool.len());
    while !pool.is_empty() {
        let total: f64 = pool.iter().map(|&i| f64::from(targets[i].as_ref().weight.max(1))).sum();
        let mut r = unit(platform) * total;
        let mut pick = pool.len() - 1;
        for (pos, &i) in pool.iter().enumerate() {
            let w = f64::from(targets[i].as_ref().weight.max(1));
            if r < w {
                pick = pos;
                break;
            }
            r -= w;
        }
        out.push(pool.remove(pick));
    }
    out
}

/// Why none of `targets` can be tried now (see [`NoTarget`]).
pub(crate) fn no_target<T: AsRef<Target>>(router: &Router, targets: &[T], now_ms: i64) -> NoTarget {
    let open = targets.iter().filter_map(|t| router.snapshot(&t.as_ref().key(), now_ms).2);
    unavailable(open.collect(), now_ms)
}

/// When the soonest of the open breakers `open` (until, opened by a 429) lets a request through,
/// and whether 429s closed them all.
fn unavailable(open: Vec<(i64, bool)>, now_ms: i64) -> NoTarget {
    let soonest = open.iter().map(|o| o.0).min().unwrap_or(now_ms + 1000);
    let secs = ((soonest - now_ms).max(0) + 999) / 1000;
    let rate_limited = !open.is_empty() && open.iter().all(|o| o.1);
    NoTarget { retry_after_secs: secs.max(1) as u64, rate_limited }
}

/// Indices of `targets` (a route's, or bare targets) in the order to try them.
pub(crate) fn order<T: AsRef<Target>>(
    router: &Router,
    route: &str,
    strategy: Strategy,
    targets: &[T],
    session: &str,
    now_ms: i64,
    platform: &dyn Platform,
) -> Result<Vec<usize>, NoTarget> {
    let snapshots: Vec<_> =
        targets.iter().map(|t| router.snapshot(&t.as_ref().key(), now_ms)).collect();
    let pool: Vec<usize> = (0..targets.len()).filter(|&i| snapshots[i].0).collect();
    if pool.is_empty() {
        return Err(unavailable(snapshots.iter().filter_map(|s| s.2).collect(), now_ms));
    }
    let latency = |i: usize| snapshots[i].1.unwrap_or(0.0);
    Ok(match strategy {
        Strategy::Weighted => weighted(pool, targets, platform),
        Strategy::Priority => {
            // Random by weight within a priority level, levels in order.
            let mut levels: Vec<i32> = pool.iter().map(|&i| targets[i].as_ref().priority).collect();
            levels.sort_unstable();
            levels.dedup();
            levels
                .into_iter()
                .flat_map(|level| {
                    let same: Vec<usize> = pool
                        .iter()
                        .copied()
                        .filter(|&i| targets[i].as_ref().priority == level)
                        .collect();
                    weighted(same, targets, platform)
                })
                .collect()
        }
        Strategy::RoundRobin => {
            let mut pool = pool;
            let n = pool.len();
            pool.rotate_left(router.next_turn(route) % n);
            pool
        }
        Strategy::LeastLatency => {
            // Power of two choices: of two random targets the faster goes first (an unmeasured
            // target counts as fastest, so new targets get explored); the rest by latency.
            let mut rest = weighted(pool, targets, platform);
            if rest.len() >= 2 && latency(rest[1]) < latency(rest[0]) {
                rest.swap(0, 1);
            }
            let (first, others) = rest.split_at_mut(1);
            others.sort_by(|a, b| latency(*a).total_cmp(&latency(*b)));
            first.iter().chain(others.iter()).copied().collect()
        }
        Strategy::Sticky => {
            // Rendezvous hashing: a session keeps its target while that target is available, and
            // only the sessions of a target that goes away move.
            let mut pool = pool;
            pool.sort_by_key(|&i| std::cmp::Reverse(fnv(&[session, &targets[i].as_ref().key()])));
            pool
        }
    })
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU64, Ordering};

    use super::*;
    use crate::maybe_send::BoxFuture;
    use crate::routing::{Outcome, RouteConfig};

    struct Rng(AtomicU64);
    impl Platform for Rng {
        fn now_ms(&self) -> i64 {
            0
        }
        fn random_bytes(&self, buf: &mut [u8]) {
            for b in buf.chunks_mut(8) {
                // splitmix64
                let mut z = self
                    .0
                    .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
                    .wrapping_add(0x9E37_79B9_7F4A_7C15);
                z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
                z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
                z ^= z >> 31;
                b.copy_from_slice(&z.to_le_bytes()[..b.len()]);
            }
        }
        fn sleep(&self, _: std::time::Duration) -> BoxFuture<'static, ()> {
            Box::pin(async {})
        }
    }

    fn target(name: &str, weight: u32, priority: i32) -> Target {
        Target { provider_id: "p".into(), model: name.into(), weight, priority }
    }

    fn firsts(strategy: Strategy, targets: &[Target], router: &Router, n: usize) -> Vec<usize> {
        let rng = Rng(AtomicU64::new(42));
        let mut counts = vec![0; targets.len()];
        for i in 0..n {
            let order =
                order(router, "route", strategy, targets, &format!("s{i}"), 0, &rng).unwrap();
            counts[order[0]] += 1;
        }
        counts
    }

    #[test]
    fn weighted_picks_follow_the_weights() {
        let targets = [target("a", 1, 0), target("b", 3, 0)];
        let counts = firsts(Strategy::Weighted, &targets, &Router::default(), 4000);
        let share = counts[1] as f64 / 4000.0;
        assert!((share - 0.75).abs() < 0.03, "{counts:?}");
    }

    #[test]
    fn priority_tries_lower_levels_first() {
        let targets = [target("backup", 5, 2), target("main", 1, 1)];
        let rng = Rng(AtomicU64::new(1));
        let order =
            order(&Router::default(), "r", Strategy::Priority, &targets, "", 0, &rng).unwrap();
        assert_eq!(order, vec![1, 0]);
    }

    #[test]
    fn round_robin_rotates() {
        let targets = [target("a", 1, 0), target("b", 1, 0), target("c", 1, 0)];
        let router = Router::default();
        let rng = Rng(AtomicU64::new(1));
        let firsts: Vec<usize> = (0..6)
            .map(|_| order(&router, "r", Strategy::RoundRobin, &targets, "", 0, &rng).unwrap()[0])
            .collect();
        assert_eq!(firsts, vec![0, 1, 2, 0, 1, 2]);
    }

    #[test]
    fn least_latency_prefers_the_faster_target() {
        let targets = [target("slow", 1, 0), target("fast", 1, 0)];
        let router = Router::default();
        let config = RouteConfig::default();
        router.record(&targets[0].key(), 0, Outcome::Success { latency_ms: 900 }, &config);
        router.record(&targets[1].key(), 0, Outcome::Success { latency_ms: 50 }, &config);
        let counts = firsts(Strategy::LeastLatency, &targets, &router, 500);
        assert_eq!(counts, vec![0, 500]);
    }

    #[test]
    fn sticky_keeps_a_session_until_its_target_is_unhealthy() {
        let targets = [target("a", 1, 0), target("b", 1, 0), target("c", 1, 0)];
        let router = Router::default();
        let rng = Rng(AtomicU64::new(1));
        let pick = |session: &str| {
            order(&router, "r", Strategy::Sticky, &targets, session, 0, &rng).unwrap()[0]
        };
        let first = pick("session-1");
        for _ in 0..20 {
            assert_eq!(pick("session-1"), first);
        }
        let spread: std::collections::HashSet<usize> =
            (0..50).map(|i| pick(&format!("s{i}"))).collect();
        assert_eq!(spread.len(), 3, "sessions spread over every target");
        let config = RouteConfig { failure_threshold: 1, ..RouteConfig::default() };
        router.record(&targets[first].key(), 0, Outcome::Failure, &config);
        let moved = pick("session-1");
        assert_ne!(moved, first);
        for _ in 0..20 {
            assert_eq!(pick("session-1"), moved, "and stays on its new target");
        }
    }

    #[test]
    fn open_breakers_are_skipped_and_all_open_says_when_to_retry() {
        let targets = [target("a", 1, 0), target("b", 1, 0)];
        let router = Router::default();
        let config =
            RouteConfig { failure_threshold: 1, cooldown_ms: 5_000, ..RouteConfig::default() };
        let rng = Rng(AtomicU64::new(1));
        router.record(&targets[0].key(), 0, Outcome::Failure, &config);
        assert_eq!(
            order(&router, "r", Strategy::Priority, &targets, "", 0, &rng).unwrap(),
            vec![1]
        );
        router.record(
            &targets[1].key(),
            0,
            Outcome::RateLimited { reset_ms: Some(2_500) },
            &config,
        );
        let err = order(&router, "r", Strategy::Priority, &targets, "", 0, &rng).unwrap_err();
        assert_eq!(err.retry_after_secs, 3);
        assert!(!err.rate_limited, "one target is out for failures, not only rate limits");
        assert_eq!(
            order(&router, "r", Strategy::Priority, &targets, "", 2_500, &rng).unwrap(),
            vec![1]
        );
    }
}
