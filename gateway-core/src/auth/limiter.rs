//! Per-IP throttling of failed admin logins, in memory (per instance).
//!
//! After `MAX_FAILURES` failures inside `WINDOW_MS` an address is refused until the window ends.
//! A success clears the address. The table is bounded so a flood of addresses cannot grow it forever.
//!
//! Every attempt counts as a failure the moment it starts (`begin`), before the password is
//! checked, and a success takes it back: so concurrent attempts cannot all pass the check before
//! any of them is counted.

use std::collections::HashMap;
use std::sync::Mutex;

use super::AuthError;

const MAX_FAILURES: u32 = 5;
const WINDOW_MS: i64 = 15 * 60 * 1000;
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Default)]
pub(crate) struct LoginLimiter {
    entries: Mutex<HashMap<String, (u32, i64)>>,
}

impl LoginLimiter {
    /// Refuses an address that has used up its failures in the current window (the tests' view;
    /// logins go through `begin`, which checks and counts in one step).
    #[cfg(test)]
    fn check(&self, ip: &str, now_ms: i64) -> Result<(), AuthError> {
        let Ok(entries) = self.entries.lock() else { return Ok(()) };
        Self::refusal(&entries, ip, now_ms)
    }

    fn refusal(
        entries: &HashMap<String, (u32, i64)>,
        ip: &str,
        now_ms: i64,
    ) -> Result<(), AuthError> {
        match entries.get(ip) {
            Some(&(failures, start)) if failures >= MAX_FAILURES && now_ms < start + WINDOW_MS => {
                let secs = (start + WINDOW_MS - now_ms + 999) / 1000;
                Err(AuthError::TooManyAttempts { retry_after_secs: secs.max(1) as u64 })
            }
            _ => Ok(()),
        }
    }

    /// Starts an attempt: refused when the address has used up its failures, else counted as a
    /// failure until [`LoginLimiter::record_success`] takes it back — in one step, so concurrent
    /// attempts see each other.
    pub(crate) fn begin(&self, ip: &str, now_ms: i64) -> Result<(), AuthError> {
        let Ok(mut entries) = self.entries.lock() else { return Ok(()) };
        Self::refusal(&entries, ip, now_ms)?;
        Self::count(&mut entries, ip, now_ms);
        Ok(())
    }

    #[cfg(test)]
    fn record_failure(&self, ip: &str, now_ms: i64) {
        let Ok(mut entries) = self.entries.lock() else { return };
        Self::count(&mut entries, ip, now_ms);
    }

    fn count(entries: &mut HashMap<String, (u32, i64)>, ip: &str, now_ms: i64) {
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(ip) {
            entries.retain(|_, &mut (_, start)| now_ms < start + WINDOW_MS);
            if entries.len() >= MAX_ENTRIES {
                // Still full of live windows: forget the oldest one rather than grow.
                if let Some(oldest) =
                    entries.iter().min_by_key(|(_, (_, start))| *start).map(|(k, _)| k.clone())
                {
                    entries.remove(&oldest);
                }
            }
        }
        let entry = entries.entry(ip.to_owned()).or_insert((0, now_ms));
        if now_ms >= entry.1 + WINDOW_MS {
            *entry = (0, now_ms);
        }
        entry.0 += 1;
    }

    pub(crate) fn record_success(&self, ip: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.remove(ip);
        }
    }
}

/// Seconds to wait before the public limiter lets an address through again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RetryAfter(pub u64);

/// Public status requests one IP may make a minute.
const PUBLIC_LIMIT: u32 = 60;
/// Addresses remembered at once; past it, those of earlier minutes are forgotten.
const PUBLIC_MAX_IPS: usize = 10_000;

/// Requests per IP in the current minute (per instance).
#[derive(Debug, Default)]
pub(crate) struct PublicLimiter {
    counts: Mutex<HashMap<String, (i64, u32)>>,
}

impl PublicLimiter {
    /// Counts one request from `ip`; past the limit, how many seconds until the next minute.
    pub(crate) fn check(&self, ip: &str, now_ms: i64) -> Result<(), RetryAfter> {
        let minute = now_ms.div_euclid(60_000);
        let Ok(mut counts) = self.counts.lock() else { return Ok(()) };
        if counts.len() >= PUBLIC_MAX_IPS && !counts.contains_key(ip) {
            counts.retain(|_, (m, _)| *m == minute);
        }
        let entry = counts.entry(ip.to_owned()).or_insert((minute, 0));
        if entry.0 != minute {
            *entry = (minute, 0);
        }
        entry.1 += 1;
        if entry.1 > PUBLIC_LIMIT {
            let secs = (minute + 1) * 60 - now_ms.div_euclid(1000);
            return Err(RetryAfter(u64::try_from(secs.max(1)).unwrap_or(1)));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locks_after_max_failures_until_window_ends() {
        let limiter = LoginLimiter::default();
        for _ in 0..MAX_FAILURES {
            assert!(limiter.check("1.2.3.4", 1000).is_ok());
            limiter.record_failure("1.2.3.4", 1000);
        }
        let err = limiter.check("1.2.3.4", 2000).unwrap_err();
        assert_eq!(err.retry_after_secs(), Some(((WINDOW_MS - 1000) / 1000) as u64));
        assert!(limiter.check("5.6.7.8", 2000).is_ok(), "other addresses are unaffected");
        assert!(limiter.check("1.2.3.4", 1000 + WINDOW_MS).is_ok());
    }

    #[test]
    fn concurrent_attempts_cannot_all_pass_the_check_before_any_is_counted() {
        let limiter = LoginLimiter::default();
        // 100 attempts start before any finishes: only MAX_FAILURES get to try a password.
        let started = (0..100).filter(|_| limiter.begin("1.2.3.4", 1000).is_ok()).count();
        assert_eq!(started, MAX_FAILURES as usize);
        limiter.record_success("1.2.3.4");
        assert!(limiter.begin("1.2.3.4", 1000).is_ok(), "a success takes the count back");
    }

    #[test]
    fn success_clears_failures() {
        let limiter = LoginLimiter::default();
        for _ in 0..MAX_FAILURES {
            limiter.record_failure("ip", 0);
        }
        limiter.record_success("ip");
        assert!(limiter.check("ip", 1).is_ok());
    }

    #[test]
    fn table_stays_bounded() {
        let limiter = LoginLimiter::default();
        for i in 0..(MAX_ENTRIES + 50) {
            limiter.record_failure(&format!("ip{i}"), 0);
        }
        assert!(limiter.entries.lock().unwrap().len() <= MAX_ENTRIES);
    }

    #[test]
    fn sixty_a_minute_per_ip() {
        let limiter = PublicLimiter::default();
        for _ in 0..60 {
            assert!(limiter.check("a", 1_000).is_ok());
        }
        assert_eq!(limiter.check("a", 1_000), Err(RetryAfter(59)));
        assert!(limiter.check("b", 1_000).is_ok(), "per address");
        assert!(limiter.check("a", 60_000).is_ok(), "a new minute");
    }
}
