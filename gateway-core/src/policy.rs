//! Virtual-key policies beyond "enabled and not expired": client IP allow-lists, and the limits
//! that must hold exactly across instances (requests and tokens per minute, concurrent requests,
//! budgets per day, month or in total). Limits are enforced by reservations in the database (see
//! `store::limits`); this module computes windows, estimates and what to tell a caller who hit one.

use std::net::IpAddr;

use http::StatusCode;
use serde::{Deserialize, Serialize};

/// One budget period, in UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetPeriod {
    Day,
    Month,
    Total,
}

impl BudgetPeriod {
    pub fn as_str(self) -> &'static str {
        match self {
            BudgetPeriod::Day => "day",
            BudgetPeriod::Month => "month",
            BudgetPeriod::Total => "total",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [BudgetPeriod::Day, BudgetPeriod::Month, BudgetPeriod::Total]
            .into_iter()
            .find(|p| p.as_str() == s)
    }

    /// The window `now_ms` falls in: its start, and when the next one starts (none for `Total`).
    pub fn window(self, now_ms: i64) -> (i64, Option<i64>) {
        const DAY: i64 = 86_400_000;
        match self {
            BudgetPeriod::Day => {
                let start = now_ms.div_euclid(DAY) * DAY;
                (start, Some(start + DAY))
            }
            BudgetPeriod::Month => {
                let (y, m) = year_month(now_ms);
                let next = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                (days_from_civil(y, m, 1) * DAY, Some(days_from_civil(next.0, next.1, 1) * DAY))
            }
            BudgetPeriod::Total => (0, None),
        }
    }
}

/// The minute `now_ms` falls in: its start and the next minute's.
pub fn minute(now_ms: i64) -> (i64, i64) {
    let start = now_ms.div_euclid(60_000) * 60_000;
    (start, start + 60_000)
}

fn year_month(ms: i64) -> (i64, i64) {
    let date = crate::rules::date(ms);
    let y = date[..4].parse().unwrap_or(1970);
    let m = date[5..7].parse().unwrap_or(1);
    (y, m)
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's days_from_civil).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Nano-dollars: budgets are counted in integers so sums never drift.
pub fn to_nano(usd: f64) -> i64 {
    (usd * 1e9).round() as i64
}

/// A rough token estimate reserved at admission: the body's bytes / 4 for the input, the
/// request's `max_tokens` (else 256) for the output. Reconciled with real usage at the end.
pub fn estimate_tokens(body_len: usize, max_tokens: Option<u32>) -> (i64, i64) {
    let input = i64::try_from(body_len.div_ceil(4)).unwrap_or(i64::MAX);
    (input, i64::from(max_tokens.unwrap_or(256)))
}

/// Whether `ip` is in one of the `allowed` addresses or CIDR blocks (`10.0.0.0/8`, `::1`).
pub fn ip_allowed(ip: Option<&str>, allowed: &[String]) -> bool {
    let Some(ip) = ip.and_then(|i| i.parse::<IpAddr>().ok()) else { return false };
    allowed.iter().any(|entry| cidr_contains(entry, ip))
}

use crate::net::cidr_contains;
pub use crate::net::parse_cidr;

/// Which limit stopped a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    Requests,
    Tokens,
    Concurrency,
    Budget,
}

/// A key ran into one of its limits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.describe())]
pub struct LimitError {
    pub limit: Limit,
    /// The limit in its unit (requests, tokens, concurrent requests, nano-USD).
    pub value: i64,
    /// When the window resets (Unix ms); none for concurrency and total budgets.
    pub reset_ms: Option<i64>,
    pub now_ms: i64,
}

impl LimitError {
    fn describe(&self) -> String {
        let when = match self.reset_secs() {
            Some(s) => format!("; it resets in {s} s"),
            None if self.limit == Limit::Concurrency => "; retry when a request finishes".into(),
            None => "; it does not reset".into(),
        };
        let what = match self.limit {
            Limit::Requests => format!("{} requests per minute", self.value),
            Limit::Tokens => format!("{} tokens per minute", self.value),
            Limit::Concurrency => format!("{} concurrent requests", self.value),
            Limit::Budget => format!("a budget of ${:.4}", self.value as f64 / 1e9),
        };
        format!("this API key has used up its limit of {what}{when}")
    }

    pub fn status(&self) -> StatusCode {
        StatusCode::TOO_MANY_REQUESTS
    }

    pub fn kind(&self) -> &'static str {
        match self.limit {
            Limit::Requests => "rate_limit_requests",
            Limit::Tokens => "rate_limit_tokens",
            Limit::Concurrency => "concurrency_limit",
            Limit::Budget => "budget_exceeded",
        }
    }

    pub fn reset_secs(&self) -> Option<u64> {
        match (self.limit, self.reset_ms) {
            (Limit::Concurrency, _) => Some(1),
            (_, Some(reset)) => {
                Some(u64::try_from(((reset - self.now_ms).max(0) + 999) / 1000).unwrap_or(0).max(1))
            }
            _ => None,
        }
    }

    /// `x-ratelimit-*` headers in OpenAI's naming.
    pub fn headers(&self) -> Vec<(&'static str, String)> {
        let (limit, remaining, reset) = match self.limit {
            Limit::Requests => (
                "x-ratelimit-limit-requests",
                "x-ratelimit-remaining-requests",
                "x-ratelimit-reset-requests",
            ),
            Limit::Tokens => (
                "x-ratelimit-limit-tokens",
                "x-ratelimit-remaining-tokens",
                "x-ratelimit-reset-tokens",
            ),
            Limit::Concurrency => (
                "x-ratelimit-limit-concurrency",
                "x-ratelimit-remaining-concurrency",
                "x-ratelimit-reset-concurrency",
            ),
            Limit::Budget => (
                "x-ratelimit-limit-budget-usd",
                "x-ratelimit-remaining-budget-usd",
                "x-ratelimit-reset-budget",
            ),
        };
        let value = if self.limit == Limit::Budget {
            format!("{:.4}", self.value as f64 / 1e9)
        } else {
            self.value.to_string()
        };
        let mut out = vec![(limit, value), (remaining, "0".into())];
        if let Some(s) = self.reset_secs() {
            out.push((reset, format!("{s}s")));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn windows_are_utc_minutes_days_and_months() {
        let t = 1_767_225_600_000 + 3_723_000; // 2026-01-01 01:02:03
        assert_eq!(minute(t), (t - 3_000, t + 57_000));
        assert_eq!(BudgetPeriod::Day.window(t), (1_767_225_600_000, Some(1_767_312_000_000)));
        let (start, next) = BudgetPeriod::Month.window(t);
        assert_eq!(crate::rules::date(start), "2026-01-01");
        assert_eq!(crate::rules::date(next.unwrap()), "2026-02-01");
        let dec = BudgetPeriod::Month.window(1_765_000_000_000); // December 2025
        assert_eq!(crate::rules::date(dec.1.unwrap()), "2026-01-01");
        assert_eq!(BudgetPeriod::Total.window(t), (0, None));
    }

    #[test]
    fn cidr_matching() {
        let allowed = vec!["10.0.0.0/8".to_string(), "192.168.1.7".into(), "2001:db8::/32".into()];
        assert!(ip_allowed(Some("10.1.2.3"), &allowed));
        assert!(ip_allowed(Some("192.168.1.7"), &allowed));
        assert!(!ip_allowed(Some("192.168.1.8"), &allowed));
        assert!(ip_allowed(Some("2001:db8::1"), &allowed));
        assert!(!ip_allowed(Some("2001:db9::1"), &allowed));
        assert!(ip_allowed(Some("::ffff:10.9.9.9"), &allowed), "IPv4-mapped");
        assert!(!ip_allowed(None, &allowed));
        assert!(ip_allowed(Some("8.8.8.8"), &["0.0.0.0/0".to_string()]));
        assert!(parse_cidr("10.0.0.0/33").is_none());
        assert!(parse_cidr("nonsense").is_none());
    }

    #[test]
    fn limit_errors_say_which_limit_and_when() {
        let e = LimitError {
            limit: Limit::Requests,
            value: 10,
            reset_ms: Some(61_000),
            now_ms: 20_500,
        };
        assert_eq!(e.reset_secs(), Some(41));
        assert!(e.to_string().contains("10 requests per minute") && e.to_string().contains("41 s"));
        assert!(e.headers().contains(&("x-ratelimit-reset-requests", "41s".into())));
        let b = LimitError { limit: Limit::Budget, value: to_nano(5.0), reset_ms: None, now_ms: 0 };
        assert_eq!(b.kind(), "budget_exceeded");
        assert!(b.to_string().contains("$5.0000") && b.to_string().contains("does not reset"));
        assert_eq!(b.reset_secs(), None);
    }

    #[test]
    fn estimates_are_rough_but_never_zero_for_output() {
        assert_eq!(estimate_tokens(401, Some(20)), (101, 20));
        assert_eq!(estimate_tokens(0, None), (0, 256));
    }
}
