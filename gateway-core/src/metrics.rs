//! Prometheus metrics of one gateway instance, rendered in the text exposition format at
//! `GET /metrics` (optionally behind `METRICS_TOKEN`). Counters live in memory: per process on the
//! server and Lambda, per isolate on Workers.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `llm_gateway_requests_total` | counter | endpoint, model, provider, status |
//! | `llm_gateway_request_duration_seconds` | histogram | endpoint |
//! | `llm_gateway_time_to_first_token_seconds` | histogram (streams) | endpoint |
//! | `llm_gateway_upstream_errors_total` | counter (every failed attempt) | provider, kind |
//! | `llm_gateway_tokens_total` | counter | model, direction (input, output) |
//! | `llm_gateway_limiter_rejections_total` | counter | limit (requests, tokens, concurrency, budget) |
//! | `llm_gateway_cache_lookups_total` | counter | result (hit, miss, refresh, bypass): requests under a response-cache policy |
//! | `llm_gateway_cache_stores_total` | counter | — (answers the response cache kept) |
//! | `llm_gateway_cache_saved_usd_total` | counter | — (what the answers replayed by hits cost when fetched) |
//! | `llm_gateway_breaker_state` | gauge (0 closed, 1 half-open, 2 open) | target |
//! | `llm_gateway_log_queue_depth` | gauge | — |
//! | `llm_gateway_log_batches_total` | counter (request-log writes) | — |
//! | `llm_gateway_limit_store_round_trips_total` | counter (reads and writes of key limits) | — |

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::Mutex;

use crate::routing::TargetStatus;
use crate::routing::breaker::Breaker;

/// Upper bounds (seconds) of the latency histogram buckets.
pub(crate) const BUCKETS: [f64; 14] =
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];

/// Most distinct label sets per metric; further ones are counted under `model="_other"`, so a
/// caller inventing model names cannot grow memory without bound.
const MAX_SERIES: usize = 2000;

#[derive(Debug, Clone, Default)]
struct Histogram {
    counts: [u64; BUCKETS.len()],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        for (bound, count) in BUCKETS.iter().zip(self.counts.iter_mut()) {
            if seconds <= *bound {
                *count += 1;
            }
        }
        self.sum += seconds;
        self.count += 1;
    }
}

#[derive(Debug, Default)]
struct State {
    requests: BTreeMap<(String, String, String, u16), u64>,
    duration: BTreeMap<String, Histogram>,
    ttft: BTreeMap<String, Histogram>,
    upstream_errors: BTreeMap<(String, String), u64>,
    tokens: BTreeMap<(String, &'static str), u64>,
    rejections: BTreeMap<&'static str, u64>,
    cache_lookups: BTreeMap<&'static str, u64>,
    cache_stores: u64,
    cache_saved_usd: f64,
}

/// One finished data-plane request, as the metrics see it.
#[derive(Debug, Clone, Default)]
pub(crate) struct Observation<'a> {
    pub endpoint: &'a str,
    pub model: &'a str,
    pub provider: &'a str,
    pub status: u16,
    pub latency_ms: i64,
    pub ttft_ms: Option<i64>,
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
}

/// The instance's metrics.
#[derive(Debug, Default)]
pub(crate) struct Metrics {
    state: Mutex<State>,
}

fn bounded<K: Ord>(map: &BTreeMap<K, u64>, key: K, fallback: impl FnOnce() -> K) -> K {
    if map.len() >= MAX_SERIES && !map.contains_key(&key) { fallback() } else { key }
}

impl Metrics {
    pub(crate) fn observe(&self, o: &Observation<'_>) {
        let Ok(mut s) = self.state.lock() else { return };
        let key = (o.endpoint.to_owned(), o.model.to_owned(), o.provider.to_owned(), o.status);
        let key = bounded(&s.requests, key, || {
            (o.endpoint.to_owned(), "_other".into(), "_other".into(), o.status)
        });
        *s.requests.entry(key).or_default() += 1;
        let seconds = |ms: i64| ms.max(0) as f64 / 1000.0;
        s.duration.entry(o.endpoint.to_owned()).or_default().observe(seconds(o.latency_ms));
        if let Some(ttft) = o.ttft_ms {
            s.ttft.entry(o.endpoint.to_owned()).or_default().observe(seconds(ttft));
        }
        for (direction, tokens) in [("input", o.input_tokens), ("output", o.output_tokens)] {
            if let Some(n) = tokens.filter(|n| *n > 0) {
                let key = bounded(&s.tokens, (o.model.to_owned(), direction), || {
                    ("_other".into(), direction)
                });
                *s.tokens.entry(key).or_default() += n.unsigned_abs();
            }
        }
    }

    /// One failed upstream attempt (failover included).
    pub(crate) fn upstream_error(&self, provider: &str, kind: &str) {
        let Ok(mut s) = self.state.lock() else { return };
        let key = bounded(&s.upstream_errors, (provider.to_owned(), kind.to_owned()), || {
            ("_other".into(), kind.to_owned())
        });
        *s.upstream_errors.entry(key).or_default() += 1;
    }

    /// A request refused by one of its key's limits.
    pub(crate) fn rejected(&self, limit: crate::policy::Limit) {
        use crate::policy::Limit;
        let name = match limit {
            Limit::Requests => "requests",
            Limit::Tokens => "tokens",
            Limit::Concurrency => "concurrency",
            Limit::Budget => "budget",
        };
        if let Ok(mut s) = self.state.lock() {
            *s.rejections.entry(name).or_default() += 1;
        }
    }

    /// A request under a response-cache policy: `hit`, `miss`, `refresh` or `bypass`.
    pub(crate) fn cache_lookup(&self, result: &'static str) {
        if let Ok(mut s) = self.state.lock() {
            *s.cache_lookups.entry(result).or_default() += 1;
        }
    }

    /// A response-cache hit, which replayed an answer that cost `saved_usd`.
    pub(crate) fn cache_hit(&self, saved_usd: f64) {
        if let Ok(mut s) = self.state.lock() {
            *s.cache_lookups.entry("hit").or_default() += 1;
            s.cache_saved_usd += saved_usd;
        }
    }

    /// An answer the response cache kept.
    pub(crate) fn cache_stored(&self) {
        if let Ok(mut s) = self.state.lock() {
            s.cache_stores += 1;
        }
    }

    /// The exposition text, with the breaker states and queue depth sampled now.
    pub(crate) fn render(&self, breakers: &[TargetStatus], io: Io, now_ms: i64) -> String {
        let Ok(s) = self.state.lock() else { return String::new() };
        let mut out = String::with_capacity(4096);
        header(&mut out, "requests_total", "counter", "Data-plane requests by outcome.");
        for ((endpoint, model, provider, status), n) in &s.requests {
            let labels =
                [("endpoint", endpoint.as_str()), ("model", model), ("provider", provider)];
            sample(&mut out, "requests_total", &labels, Some(("status", *status)), *n as f64);
        }
        for (name, help, map) in [
            (
                "request_duration_seconds",
                "Time from request to the last byte answered.",
                &s.duration,
            ),
            ("time_to_first_token_seconds", "Time to the first streamed event.", &s.ttft),
        ] {
            header(&mut out, name, "histogram", help);
            for (endpoint, h) in map {
                histogram(&mut out, name, endpoint, h);
            }
        }
        header(&mut out, "upstream_errors_total", "counter", "Failed upstream attempts by kind.");
        for ((provider, kind), n) in &s.upstream_errors {
            let labels = [("provider", provider.as_str()), ("kind", kind)];
            sample(&mut out, "upstream_errors_total", &labels, None, *n as f64);
        }
        header(&mut out, "tokens_total", "counter", "Tokens reported by upstreams.");
        for ((model, direction), n) in &s.tokens {
            let labels = [("model", model.as_str()), ("direction", direction)];
            sample(&mut out, "tokens_total", &labels, None, *n as f64);
        }
        header(&mut out, "limiter_rejections_total", "counter", "Requests refused by key limits.");
        for (limit, n) in &s.rejections {
            sample(&mut out, "limiter_rejections_total", &[("limit", limit)], None, *n as f64);
        }
        header(
            &mut out,
            "cache_lookups_total",
            "counter",
            "Requests under a response-cache policy, by result.",
        );
        for result in ["hit", "miss", "refresh", "bypass"] {
            let n = s.cache_lookups.get(result).copied().unwrap_or(0);
            sample(&mut out, "cache_lookups_total", &[("result", result)], None, n as f64);
        }
        header(&mut out, "cache_stores_total", "counter", "Answers the response cache kept.");
        sample(&mut out, "cache_stores_total", &[], None, s.cache_stores as f64);
        header(
            &mut out,
            "cache_saved_usd_total",
            "counter",
            "What the answers replayed by cache hits cost when fetched, USD.",
        );
        sample(&mut out, "cache_saved_usd_total", &[], None, s.cache_saved_usd);
        header(
            &mut out,
            "breaker_state",
            "gauge",
            "Breaker per target: 0 closed, 1 half-open, 2 open.",
        );
        for t in breakers {
            let state = match t.breaker {
                Breaker::Closed { .. } => 0.0,
                Breaker::Open { until_ms, .. } if now_ms < until_ms => 2.0,
                Breaker::Open { .. } | Breaker::HalfOpen { .. } => 1.0,
            };
            sample(&mut out, "breaker_state", &[("target", &t.target)], None, state);
        }
        header(&mut out, "log_queue_depth", "gauge", "Request logs waiting to be written.");
        sample(&mut out, "log_queue_depth", &[], None, io.log_queue_depth as f64);
        header(&mut out, "log_batches_total", "counter", "Request-log batches written.");
        sample(&mut out, "log_batches_total", &[], None, io.log_batches as f64);
        header(
            &mut out,
            "limit_store_round_trips_total",
            "counter",
            "Round trips to the limit store (admission, settlement, leases).",
        );
        sample(&mut out, "limit_store_round_trips_total", &[], None, io.limit_round_trips as f64);
        out
    }
}

/// The instance's IO figures sampled when rendering.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Io {
    pub log_queue_depth: usize,
    pub log_batches: u64,
    pub limit_round_trips: u64,
}

const PREFIX: &str = "llm_gateway_";

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {PREFIX}{name} {help}\n# TYPE {PREFIX}{name} {kind}");
}

/// Label values escaped as the exposition format requires (`\`, `"`, newline).
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn sample(
    out: &mut String,
    name: &str,
    labels: &[(&str, &str)],
    status: Option<(&str, u16)>,
    v: f64,
) {
    let _ = write!(out, "{PREFIX}{name}");
    let mut parts: Vec<String> =
        labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
    if let Some((k, code)) = status {
        parts.push(format!("{k}=\"{code}\""));
    }
    if !parts.is_empty() {
        let _ = write!(out, "{{{}}}", parts.join(","));
    }
    let _ = writeln!(out, " {v}");
}

fn histogram(out: &mut String, name: &str, endpoint: &str, h: &Histogram) {
    let endpoint = escape(endpoint);
    for (bound, count) in BUCKETS.iter().zip(h.counts) {
        let _ = writeln!(
            out,
            "{PREFIX}{name}_bucket{{endpoint=\"{endpoint}\",le=\"{bound}\"}} {count}"
        );
    }
    let _ =
        writeln!(out, "{PREFIX}{name}_bucket{{endpoint=\"{endpoint}\",le=\"+Inf\"}} {}", h.count);
    let _ = writeln!(out, "{PREFIX}{name}_sum{{endpoint=\"{endpoint}\"}} {}", h.sum);
    let _ = writeln!(out, "{PREFIX}{name}_count{{endpoint=\"{endpoint}\"}} {}", h.count);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::default();
        let ok = Observation {
            endpoint: "/v1/chat/completions",
            model: "m\"1",
            provider: "p",
            status: 200,
            latency_ms: 30,
            ttft_ms: Some(7),
            input_tokens: Some(21),
            output_tokens: Some(9),
        };
        m.observe(&ok);
        m.observe(&Observation { status: 500, latency_ms: 2000, ttft_ms: None, ..ok.clone() });
        m.upstream_error("p", "upstream_error");
        m.rejected(crate::policy::Limit::Requests);
        let io = Io { log_queue_depth: 3, log_batches: 4, limit_round_trips: 5 };
        let text = m.render(&[], io, 0);
        for line in [
            r#"llm_gateway_requests_total{endpoint="/v1/chat/completions",model="m\"1",provider="p",status="200"} 1"#,
            r#"llm_gateway_request_duration_seconds_bucket{endpoint="/v1/chat/completions",le="0.05"} 1"#,
            r#"llm_gateway_request_duration_seconds_bucket{endpoint="/v1/chat/completions",le="2.5"} 2"#,
            r#"llm_gateway_request_duration_seconds_count{endpoint="/v1/chat/completions"} 2"#,
            r#"llm_gateway_time_to_first_token_seconds_count{endpoint="/v1/chat/completions"} 1"#,
            r#"llm_gateway_tokens_total{model="m\"1",direction="input"} 42"#,
            r#"llm_gateway_upstream_errors_total{provider="p",kind="upstream_error"} 1"#,
            r#"llm_gateway_limiter_rejections_total{limit="requests"} 1"#,
            "llm_gateway_log_queue_depth 3",
            "llm_gateway_log_batches_total 4",
            "llm_gateway_limit_store_round_trips_total 5",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line}\n{text}");
        }
    }

    #[test]
    fn label_sets_are_bounded() {
        let m = Metrics::default();
        for i in 0..MAX_SERIES + 50 {
            let model = format!("made-up-{i}");
            m.observe(&Observation {
                endpoint: "/e",
                model: &model,
                status: 404,
                ..Default::default()
            });
        }
        let text = m.render(&[], Io::default(), 0);
        let series = text.lines().filter(|l| l.starts_with("llm_gateway_requests_total{")).count();
        assert_eq!(series, MAX_SERIES + 1);
        assert!(text.contains(r#"model="_other",provider="_other",status="404"} 50"#));
    }
}
