//! The circuit breaker of one target: closed → open after consecutive failures (or at once on a
//! 429 that says when to come back) → half-open after the cool-down, where exactly one probe may
//! pass → closed on its success, open again on its failure. Client errors never count.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub(crate) enum Breaker {
    Closed {
        failures: u32,
    },
    /// `rate_limited`: opened by the upstream's 429 (the caller is told 429, not 503).
    Open {
        until_ms: i64,
        rate_limited: bool,
    },
    HalfOpen {
        probing: bool,
    },
}

impl Default for Breaker {
    fn default() -> Self {
        Breaker::Closed { failures: 0 }
    }
}

impl Breaker {
    /// Whether a request could go to this target now (without claiming the half-open probe).
    pub(crate) fn available(&self, now_ms: i64) -> bool {
        match *self {
            Breaker::Closed { .. } => true,
            Breaker::Open { until_ms, .. } => now_ms >= until_ms,
            Breaker::HalfOpen { probing } => !probing,
        }
    }

    /// Claims the right to send one request now; in half-open state only one caller gets it.
    pub(crate) fn acquire(&mut self, now_ms: i64) -> bool {
        match *self {
            Breaker::Closed { .. } => true,
            Breaker::Open { until_ms, .. } if now_ms >= until_ms => {
                *self = Breaker::HalfOpen { probing: true };
                true
            }
            Breaker::Open { .. } => false,
            Breaker::HalfOpen { probing: false } => {
                *self = Breaker::HalfOpen { probing: true };
                true
            }
            Breaker::HalfOpen { probing: true } => false,
        }
    }

    pub(crate) fn success(&mut self) {
        *self = Breaker::Closed { failures: 0 };
    }

    /// A failure that counts (connection, timeout, 408, 5xx).
    pub(crate) fn failure(&mut self, now_ms: i64, threshold: u32, cooldown_ms: i64) {
        *self = match *self {
            Breaker::Closed { failures } if failures + 1 < threshold.max(1) => {
                Breaker::Closed { failures: failures + 1 }
            }
            Breaker::Open { until_ms, rate_limited } => {
                Breaker::Open { until_ms: until_ms.max(now_ms + cooldown_ms), rate_limited }
            }
            _ => Breaker::Open { until_ms: now_ms + cooldown_ms, rate_limited: false },
        };
    }

    /// A 429: with a reset time the target is out until then at once; without, it is a failure.
    pub(crate) fn rate_limited(
        &mut self,
        now_ms: i64,
        reset_ms: Option<i64>,
        threshold: u32,
        cooldown_ms: i64,
    ) {
        match reset_ms {
            Some(until) => {
                *self = Breaker::Open { until_ms: until.max(now_ms), rate_limited: true }
            }
            None => {
                self.failure(now_ms, threshold, cooldown_ms);
                if let Breaker::Open { rate_limited, .. } = self {
                    *rate_limited = true;
                }
            }
        }
    }

    /// An answer that says nothing about the target's health (a client error): a half-open probe
    /// that got one has still reached a working upstream.
    pub(crate) fn neutral(&mut self) {
        if let Breaker::HalfOpen { .. } = self {
            *self = Breaker::Closed { failures: 0 };
        }
    }

    /// A half-open probe's stream started: others may try the target again, but it is on
    /// probation — one failure (the stream breaking) opens it again, as a failed probe would.
    pub(crate) fn started(&mut self, threshold: u32) {
        if let Breaker::HalfOpen { .. } = self {
            *self = Breaker::Closed { failures: threshold.max(1) - 1 };
        }
    }

    /// When the target can be tried again, and whether a rate limit closed it, if it is open.
    pub(crate) fn open_until(&self) -> Option<(i64, bool)> {
        match *self {
            Breaker::Open { until_ms, rate_limited } => Some((until_ms, rate_limited)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_consecutive_failures() {
        let mut b = Breaker::default();
        b.failure(0, 3, 30_000);
        b.failure(1, 3, 30_000);
        assert!(b.available(2));
        b.failure(2, 3, 30_000);
        assert_eq!(b, Breaker::Open { until_ms: 30_002, rate_limited: false });
        assert!(!b.available(30_001));
        assert!(!b.clone().acquire(30_001));
    }

    #[test]
    fn a_success_resets_the_count() {
        let mut b = Breaker::default();
        b.failure(0, 3, 10);
        b.failure(0, 3, 10);
        b.success();
        b.failure(0, 3, 10);
        assert_eq!(b, Breaker::Closed { failures: 1 });
    }

    #[test]
    fn half_open_lets_exactly_one_probe_through() {
        let mut b = Breaker::Open { until_ms: 100, rate_limited: false };
        assert!(b.available(100));
        assert!(b.acquire(100), "first caller probes");
        assert!(!b.acquire(100), "second caller waits");
        assert!(!b.available(100));
        b.success();
        assert!(b.acquire(101));
    }

    #[test]
    fn failed_probe_reopens_for_another_cool_down() {
        let mut b = Breaker::Open { until_ms: 100, rate_limited: true };
        assert!(b.acquire(150));
        b.failure(150, 3, 30_000);
        assert_eq!(b, Breaker::Open { until_ms: 30_150, rate_limited: false });
    }

    #[test]
    fn rate_limit_with_reset_opens_at_once_until_the_reset() {
        let mut b = Breaker::default();
        b.rate_limited(1_000, Some(8_000), 3, 30_000);
        assert_eq!(b.open_until(), Some((8_000, true)));
        let mut b = Breaker::default();
        b.rate_limited(1_000, None, 3, 30_000);
        assert_eq!(b, Breaker::Closed { failures: 1 }, "without a reset it is an ordinary failure");
        b.rate_limited(1_000, None, 3, 30_000);
        b.rate_limited(1_000, None, 3, 30_000);
        assert_eq!(b.open_until(), Some((31_000, true)), "opened by rate limits, and says so");
    }

    #[test]
    fn client_errors_never_count_but_close_a_probe() {
        let mut b = Breaker::Closed { failures: 2 };
        b.neutral();
        assert_eq!(b, Breaker::Closed { failures: 2 });
        let mut b = Breaker::HalfOpen { probing: true };
        b.neutral();
        assert_eq!(b, Breaker::Closed { failures: 0 });
    }
}
