//! Routing: which upstream targets a request may go to, in which order, and what each target's
//! recent history says about it. State (breakers, latency averages, round-robin counters, the retry
//! budget) lives in memory per instance; everything that must be exact across instances does not
//! belong here.

pub(crate) mod breaker;
pub(crate) mod keyring;
mod route;
mod strategy;

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

pub(crate) use self::breaker::Breaker;
pub(crate) use self::route::{Route, RouteTarget};
pub(crate) use self::strategy::{no_target, order};

/// How a routing config orders its targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Strategy {
    /// Random, proportional to weight.
    Weighted,
    /// In priority order (lower first); equal priorities by weight.
    #[default]
    Priority,
    RoundRobin,
    /// Power of two choices over the decaying latency average.
    LeastLatency,
    /// The same target for the same session (`x-session-id`, else the key) while it is healthy.
    Sticky,
}

/// One upstream a routing config may use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Target {
    pub provider_id: String,
    /// The upstream model id.
    pub model: String,
    #[serde(default = "one")]
    pub weight: u32,
    #[serde(default)]
    pub priority: i32,
}

fn one() -> u32 {
    1
}

impl AsRef<Target> for Target {
    fn as_ref(&self) -> &Target {
        self
    }
}

impl Target {
    /// The key its health is tracked under.
    pub fn key(&self) -> String {
        format!("{}/{}", self.provider_id, self.model)
    }
}

/// Deadlines, attempts and breaker settings of a routing config.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RouteConfig {
    /// One deadline to the first byte, shared by every attempt.
    pub deadline_ms: u64,
    /// Each attempt's limit to its first byte (never beyond the deadline).
    pub attempt_timeout_ms: u64,
    pub max_attempts: u32,
    /// Consecutive failures that open a target's breaker.
    pub failure_threshold: u32,
    pub cooldown_ms: u64,
}

impl Default for RouteConfig {
    fn default() -> Self {
        Self {
            deadline_ms: 60_000,
            attempt_timeout_ms: 30_000,
            max_attempts: 3,
            failure_threshold: 3,
            cooldown_ms: 30_000,
        }
    }
}

/// How an attempt went, for the target's record.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Outcome {
    Success {
        latency_ms: i64,
    },
    /// A stream's first event came after `latency_ms`: its latency counts now, its verdict when
    /// it ends ([`Router::stream_ended`]) — a stream that breaks half-way is no success.
    Started {
        latency_ms: i64,
    },
    /// Counts against the target (connection, timeout, 408, 5xx, broken first event).
    Failure,
    /// A 429; `reset_ms` is when the upstream said to come back.
    RateLimited {
        reset_ms: Option<i64>,
    },
    /// Says nothing about the target (a client error).
    Neutral,
}

/// No target can be tried now.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", if *rate_limited { "every upstream target that can serve this request is rate limiting; retry later" } else { "no upstream target that can serve this request is available right now; their circuit breakers are open" })]
pub struct NoTarget {
    pub retry_after_secs: u64,
    /// Every target is out because the upstream said 429: the caller is told 429 too.
    pub rate_limited: bool,
}

const RECENT: usize = 100;
const EWMA_ALPHA: f64 = 0.3;

#[derive(Debug, Default)]
struct TargetState {
    breaker: Breaker,
    latency_ewma_ms: Option<f64>,
    recent: VecDeque<bool>,
    requests: u64,
    failures: u64,
}

/// A target's live state, for the admin API.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct TargetStatus {
    pub target: String,
    pub breaker: Breaker,
    pub latency_ewma_ms: Option<f64>,
    pub requests: u64,
    pub failures: u64,
    /// Failures among the last 100 attempts, 0 to 1.
    pub recent_error_rate: f64,
}

/// Per-instance routing state shared by all requests.
#[derive(Debug, Default)]
pub(crate) struct Router {
    /// Which credential each provider's requests use.
    pub keyring: keyring::Keyring,
    /// Bearer tokens obtained with token-scheme credentials (see `cloud`).
    pub tokens: crate::cloud::Tokens,
    targets: Mutex<HashMap<String, TargetState>>,
    round_robin: Mutex<HashMap<String, usize>>,
    budget: Mutex<RetryBudget>,
}

impl Router {
    /// Whether a target could be tried now; also its latency average (for ordering).
    pub(crate) fn snapshot(
        &self,
        key: &str,
        now_ms: i64,
    ) -> (bool, Option<f64>, Option<(i64, bool)>) {
        let Ok(targets) = self.targets.lock() else { return (true, None, None) };
        targets.get(key).map_or((true, None, None), |t| {
            (t.breaker.available(now_ms), t.latency_ewma_ms, t.breaker.open_until())
        })
    }

    /// The next round-robin position of a route.
    pub(crate) fn next_turn(&self, route: &str) -> usize {
        let Ok(mut counters) = self.round_robin.lock() else { return 0 };
        let counter = counters.entry(route.to_owned()).or_insert(0);
        let turn = *counter;
        *counter = counter.wrapping_add(1);
        turn
    }

    /// Claims a target for one attempt (only one probe passes a half-open breaker).
    pub(crate) fn acquire(&self, key: &str, now_ms: i64) -> bool {
        let Ok(mut targets) = self.targets.lock() else { return true };
        targets.entry(key.to_owned()).or_default().breaker.acquire(now_ms)
    }

    /// Records how an attempt on `key` went.
    pub(crate) fn record(&self, key: &str, now_ms: i64, outcome: Outcome, config: &RouteConfig) {
        let Ok(mut targets) = self.targets.lock() else { return };
        let t = targets.entry(key.to_owned()).or_default();
        let cooldown = i64::try_from(config.cooldown_ms).unwrap_or(i64::MAX);
        let ok = match outcome {
            Outcome::Success { latency_ms } | Outcome::Started { latency_ms } => {
                if matches!(outcome, Outcome::Success { .. }) {
                    t.breaker.success();
                } else {
                    // A half-open probe that started streaming reached a working upstream: the
                    // target is open to others again, on probation until the stream's end.
                    t.breaker.started(config.failure_threshold);
                }
                let sample = latency_ms.max(0) as f64;
                t.latency_ewma_ms =
                    Some(t.latency_ewma_ms.map_or(sample, |avg| avg + EWMA_ALPHA * (sample - avg)));
                true
            }
            Outcome::Failure => {
                t.breaker.failure(now_ms, config.failure_threshold, cooldown);
                false
            }
            Outcome::RateLimited { reset_ms } => {
                t.breaker.rate_limited(now_ms, reset_ms, config.failure_threshold, cooldown);
                false
            }
            Outcome::Neutral => {
                t.breaker.neutral();
                true
            }
        };
        t.requests += 1;
        if !ok {
            t.failures += 1;
        }
        t.recent.push_back(ok);
        if t.recent.len() > RECENT {
            t.recent.pop_front();
        }
    }

    /// A stream `key` started ([`Outcome::Started`]) has ended: as a success (finished, or its
    /// client left), or as the target's failure — it broke, stalled or failed half-way — which
    /// then counts towards its breaker, its failures and its recent error rate.
    pub(crate) fn stream_ended(&self, key: &str, failed: bool, now_ms: i64, config: &RouteConfig) {
        let Ok(mut targets) = self.targets.lock() else { return };
        let t = targets.entry(key.to_owned()).or_default();
        if !failed {
            t.breaker.success();
            return;
        }
        let cooldown = i64::try_from(config.cooldown_ms).unwrap_or(i64::MAX);
        t.breaker.failure(now_ms, config.failure_threshold, cooldown);
        t.failures += 1;
        if let Some(last) = t.recent.iter_mut().rev().find(|ok| **ok) {
            *last = false;
        }
    }

    /// Every target seen so far.
    pub(crate) fn status(&self) -> Vec<TargetStatus> {
        let Ok(targets) = self.targets.lock() else { return vec![] };
        let mut out: Vec<TargetStatus> = targets
            .iter()
            .map(|(key, t)| TargetStatus {
                target: key.clone(),
                breaker: t.breaker,
                latency_ewma_ms: t.latency_ewma_ms.map(|l| (l * 10.0).round() / 10.0),
                requests: t.requests,
                failures: t.failures,
                recent_error_rate: if t.recent.is_empty() {
                    0.0
                } else {
                    t.recent.iter().filter(|ok| !**ok).count() as f64 / t.recent.len() as f64
                },
            })
            .collect();
        out.sort_by(|a, b| a.target.cmp(&b.target));
        out
    }

    /// Counts a request towards the retry budget.
    pub(crate) fn admit(&self, now_ms: i64) {
        if let Ok(mut b) = self.budget.lock() {
            b.deposit(now_ms);
        }
    }

    /// Spends one retry from the budget; false when retries would multiply load.
    pub(crate) fn spend_retry(&self) -> bool {
        self.budget.lock().map(|mut b| b.withdraw()).unwrap_or(false)
    }
}

/// Retries may add at most 20 % to the request rate, plus 10 per second so a quiet instance can
/// still fail over (the shape of Finagle's and Envoy's retry budgets).
#[derive(Debug)]
struct RetryBudget {
    tokens: f64,
    last_ms: Option<i64>,
}

const BUDGET_RATIO: f64 = 0.2;
const BUDGET_PER_SEC: f64 = 10.0;
const BUDGET_CAP: f64 = 100.0;

impl Default for RetryBudget {
    fn default() -> Self {
        Self { tokens: BUDGET_PER_SEC, last_ms: None }
    }
}

impl RetryBudget {
    fn deposit(&mut self, now_ms: i64) {
        let elapsed = self.last_ms.map_or(0.0, |last| (now_ms - last).max(0) as f64 / 1000.0);
        self.last_ms = Some(now_ms);
        // Time refills only up to one second's worth; requests add their fraction up to the cap.
        if self.tokens < BUDGET_PER_SEC {
            self.tokens = (self.tokens + elapsed * BUDGET_PER_SEC).min(BUDGET_PER_SEC);
        }
        self.tokens = (self.tokens + BUDGET_RATIO).min(BUDGET_CAP);
    }

    fn withdraw(&mut self) -> bool {
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_budget_limits_retries_to_a_fraction_of_requests() {
        let mut b = RetryBudget::default();
        let mut retries = 0;
        for _ in 0..1000 {
            b.deposit(0); // a burst: no time passes
            if b.withdraw() {
                retries += 1;
            }
        }
        assert!(retries <= 10 + 200 + 1, "{retries}");
        assert!(retries >= 200, "{retries}");
    }

    #[test]
    fn retry_budget_refills_with_time() {
        let mut b = RetryBudget::default();
        b.deposit(0);
        while b.withdraw() {}
        b.deposit(1_000);
        let mut n = 0;
        while b.withdraw() {
            n += 1;
        }
        assert!(n >= 10, "{n}");
    }

    #[test]
    fn router_tracks_latency_errors_and_breakers() {
        let router = Router::default();
        let config = RouteConfig { failure_threshold: 2, ..RouteConfig::default() };
        router.record("p/m", 0, Outcome::Success { latency_ms: 100 }, &config);
        router.record("p/m", 0, Outcome::Success { latency_ms: 200 }, &config);
        router.record("p/m", 0, Outcome::Failure, &config);
        router.record("p/m", 0, Outcome::Failure, &config);
        let status = &router.status()[0];
        assert_eq!(status.latency_ewma_ms, Some(130.0));
        assert_eq!((status.requests, status.failures), (4, 2));
        assert_eq!(status.recent_error_rate, 0.5);
        assert_eq!(status.breaker, Breaker::Open { until_ms: 30_000, rate_limited: false });
        assert!(!router.acquire("p/m", 29_999));
        assert!(router.acquire("p/m", 30_000));
        assert!(!router.acquire("p/m", 30_000), "one probe at a time");
    }

    /// A stream's first event opens a half-open target to others at once (the probe reached a
    /// working upstream); its end gives the verdict: streams that break half-way open the
    /// breaker after the threshold, as any failure does, and one that finishes resets the count.
    #[test]
    fn a_streams_verdict_comes_at_its_end_without_holding_the_probe() {
        let router = Router::default();
        let config = RouteConfig { failure_threshold: 2, ..RouteConfig::default() };
        router.record("p/m", 0, Outcome::Failure, &config);
        router.record("p/m", 0, Outcome::Failure, &config);
        assert!(router.acquire("p/m", 30_000), "the half-open probe");
        router.record("p/m", 30_000, Outcome::Started { latency_ms: 5 }, &config);
        assert!(router.acquire("p/m", 30_001), "open to others while the probe streams");
        // The probe's stream breaks: open again at once, as a failed probe.
        router.stream_ended("p/m", true, 30_100, &config);
        let status = &router.status()[0];
        assert_eq!(status.breaker, Breaker::Open { until_ms: 60_100, rate_limited: false });
        assert_eq!(status.failures, 3);
        assert!(!router.acquire("p/m", 30_200));
        assert!(router.acquire("p/m", 60_100));
        router.record("p/m", 60_100, Outcome::Started { latency_ms: 5 }, &config);
        router.stream_ended("p/m", false, 60_400, &config);
        assert_eq!(router.status()[0].breaker, Breaker::Closed { failures: 0 });
    }
}
