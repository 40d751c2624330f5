//! The scheduler's work, above the gateway it drives: what a host's timer calls (`scheduled`), the
//! health checker's rounds (probes sent through the gateway itself with the monitoring key, and
//! the import of real traffic), and the periodic upkeep of logs, rollups and limit windows.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::future::{Either, select};

use crate::body::Body;
use crate::canonical::Event;
use crate::codec;
use crate::gateway::Gateway;
use crate::io::Platform;
use crate::provider::Protocol;
use crate::sse::SseDecoder;
use crate::store::StoreError;
use crate::store::health::{HealthRun, HealthTarget};
use crate::store::settings::Setting;

/// How far back each traffic import re-reads, for log rows written late (they are batched off
/// the response path); the import is idempotent.
const TRAFFIC_OVERLAP_MS: i64 = 5 * 60_000;
/// Targets checked at once in one round.
const CONCURRENCY: usize = 4;
/// Health runs are kept this long.
const RETENTION_MS: i64 = 30 * 86_400_000;
const DAY: i64 = 86_400_000;

impl Gateway {
    /// What a host's scheduler calls (a Cron Trigger, an EventBridge schedule, the server's timer):
    /// a health-check round, and the maintenance jobs when the last run is an hour old.
    pub async fn scheduled(&self) -> Result<(), crate::GatewayError> {
        self.flush_limits(false).await;
        self.health_tick().await?;
        let inner = self.inner();
        let last = inner.store.number(Setting::LastMaintenance).await?.unwrap_or(0);
        if inner.platform.now_ms() - last >= 3_600_000 {
            self.maintenance().await?;
        }
        Ok(())
    }

    /// Writes request logs still queued (after a failed write they wait for the next request
    /// otherwise). Hosts call it every few seconds and before exiting.
    pub async fn flush_logs(&self) {
        let inner = self.inner();
        inner.logs.retry(&inner.store).await;
    }

    /// Gives leased limit capacity back to the shared store: what is owed and idle blocks, or
    /// everything with `all` (at shutdown); renews concurrency slots in use. Hosts call it on their
    /// timer and before exiting.
    pub async fn flush_limits(&self, all: bool) {
        let inner = self.inner();
        inner.quota.flush(inner.platform.now_ms(), all).await;
    }

    /// Periodic upkeep, run by each host's scheduler (hourly on the server, the Cron Trigger on
    /// Workers): daily rollups of the request logs, deletion of logs past the retention setting
    /// (default 30 days), of expired limit windows and leases, and of expired response-cache
    /// entries.
    pub async fn maintenance(&self) -> Result<(), StoreError> {
        let inner = self.inner();
        let now = inner.platform.now_ms();
        let days = inner.store.log_retention_days().await?;
        let today = now.div_euclid(DAY) * DAY;
        // Hourly stats first: they read logs the retention below may delete.
        let hours = inner.store.roll_up_stats(inner.platform.as_ref()).await?;
        // Logs go a whole UTC day at a time: a day's rollup is recomputed from its logs on every
        // run, so a day cut in the middle would lose the half already deleted (and budgets seeded
        // from the logs would miss it).
        let cutoff = (now - days * DAY).div_euclid(DAY) * DAY;
        let deleted = inner.store.roll_up_and_prune(today, cutoff).await?;
        if let Err(e) = inner.quota.store().prune(now - 40 * DAY, now).await {
            tracing::warn!(error = %e, "could not prune limit windows");
        }
        match inner.answers.prune(now).await {
            Ok(n) => tracing::info!(expired = n, "response cache pruned"),
            Err(e) => tracing::warn!(error = %e, "could not prune the response cache"),
        }
        inner.store.put_number(Setting::LastMaintenance, now, now).await?;
        tracing::info!(deleted, retention_days = days, stats_hours = hours, "maintenance done");
        Ok(())
    }

    /// One checker round: probes every enabled target whose interval has passed (when monitoring is
    /// on), records the runs, and prunes runs older than 30 days. Returns how many were checked.
    pub async fn health_tick(&self) -> Result<usize, crate::GatewayError> {
        let inner = self.inner();
        if !inner.store.flag(Setting::MonitoringEnabled).await? {
            return Ok(0);
        }
        let Some(sealed) = inner.store.text(Setting::MonitoringKeySealed).await? else {
            return Ok(0);
        };
        let key = inner.sealer.open(&sealed)?;
        let now = inner.platform.now_ms();
        let last: std::collections::HashMap<String, i64> =
            inner.store.last_probe_times().await?.into_iter().collect();
        let due: Vec<HealthTarget> = inner
            .store
            .list_health_targets()
            .await?
            .items
            .into_iter()
            .filter(|t| is_due(t, last.get(&t.id).copied(), now))
            .collect();
        let count = due.len();
        let runs: Vec<HealthRun> = futures::stream::iter(due)
            .map(|t| {
                let key = key.clone();
                async move { self.probe(&t, &key).await }
            })
            .buffer_unordered(CONCURRENCY)
            .collect()
            .await;
        for run in runs {
            inner.store.insert_health_run(&run, "probe").await?;
        }
        if inner.store.flag(Setting::MonitoringRealTraffic).await? {
            let cursor = inner.store.number(Setting::TrafficCursor).await?;
            let from = cursor.map_or(now - TRAFFIC_OVERLAP_MS, |c| c - TRAFFIC_OVERLAP_MS);
            let key_id = inner.store.text(Setting::MonitoringKeyId).await?.unwrap_or_default();
            inner.store.import_traffic_runs(from, &key_id).await?;
            inner.store.put_number(Setting::TrafficCursor, now, now).await?;
        }
        inner.store.prune_health_runs(now - RETENTION_MS).await?;
        Ok(count)
    }

    /// Sends the target's prompt through the gateway with the monitoring key, streamed, and times it.
    async fn probe(&self, target: &HealthTarget, key: &str) -> HealthRun {
        let platform = self.inner().platform.clone();
        let started = platform.now_ms();
        let mut run = HealthRun {
            id: crate::ids::new_id(platform.as_ref(), "run"),
            target_id: target.id.clone(),
            created_at: started,
            status: "error".into(),
            latency_ms: None,
            ttft_ms: None,
            error_type: None,
            error_message: None,
        };
        let timeout = Duration::from_millis(target.check_config.timeout_ms.max(1));
        let work = Box::pin(self.probe_inner(target, key, platform.as_ref(), started));
        let outcome = match select(work, platform.sleep(timeout)).await {
            Either::Left((outcome, _)) => outcome,
            Either::Right(_) => {
                Err(("timeout", format!("no complete answer within {} ms", timeout.as_millis())))
            }
        };
        run.latency_ms = Some(platform.now_ms() - started);
        match outcome {
            Ok(ttft) => {
                run.status = "success".into();
                run.ttft_ms = ttft;
            }
            Err((kind, message)) => {
                run.error_type = Some(kind.into());
                run.error_message = Some(message.chars().take(500).collect());
            }
        }
        run
    }

    async fn probe_inner(
        &self,
        target: &HealthTarget,
        key: &str,
        platform: &dyn Platform,
        started: i64,
    ) -> Result<Option<i64>, (&'static str, String)> {
        let protocol = target.check_config.protocol;
        let (path, body) = probe_request(
            protocol,
            &target.target_id,
            &target.check_prompt,
            target.check_config.max_tokens,
        );
        let request = http::Request::post(path)
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .header("user-agent", "llm-gateway-health-check")
            .body(Bytes::from(body.to_string()))
            .map_err(|e| ("invalid_response", e.to_string()))?;
        let handled = self.handle(request).await;
        let (parts, body) = handled.response.into_parts();
        let result = read_probe(parts.status, body, protocol, platform, started).await;
        if let Some(work) = handled.background {
            work.await;
        }
        result
    }
}

/// A target is due when enabled and never probed, or its interval has passed since the last probe.
fn is_due(target: &HealthTarget, last_probe_ms: Option<i64>, now_ms: i64) -> bool {
    target.enabled
        && last_probe_ms.is_none_or(|at| now_ms - at >= target.check_interval_seconds * 1000)
}

fn probe_request(
    protocol: Protocol,
    model: &str,
    prompt: &str,
    max_tokens: u32,
) -> (&'static str, serde_json::Value) {
    use serde_json::json;
    match protocol {
        Protocol::OpenaiResponses => (
            "/v1/responses",
            json!({"model": model, "input": prompt, "max_output_tokens": max_tokens, "stream": true}),
        ),
        Protocol::AnthropicMessages => (
            "/v1/messages",
            json!({"model": model, "max_tokens": max_tokens, "stream": true,
            "messages": [{"role": "user", "content": prompt}]}),
        ),
        _ => (
            "/v1/chat/completions",
            json!({"model": model, "max_tokens": max_tokens, "stream": true,
            "messages": [{"role": "user", "content": prompt}]}),
        ),
    }
}

/// Reads the probe's answer: it must be 200, carry content, and end without an error event.
async fn read_probe(
    status: http::StatusCode,
    body: Body,
    protocol: Protocol,
    platform: &dyn Platform,
    started: i64,
) -> Result<Option<i64>, (&'static str, String)> {
    let mut stream = body.into_stream();
    if !status.is_success() {
        let bytes = Body::Stream(stream).collect().await.unwrap_or_default();
        let parsed: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let code = parsed["error"]["code"]
            .as_str()
            .or(parsed["error"]["type"].as_str())
            .unwrap_or_default();
        let message = parsed["error"]["message"].as_str().unwrap_or("").to_owned();
        let kind = match code {
            "upstream_timeout" => "timeout",
            "upstream_connection_error" => "connection",
            _ => "http_error",
        };
        return Err((kind, format!("HTTP {}: {message}", status.as_u16())));
    }
    let mut sse = SseDecoder::new();
    let mut decoder = codec::stream_decoder(protocol, "call");
    let (mut ttft, mut content) = (None, false);
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ("connection", e.to_string()))?;
        let events = sse.push(&chunk).map_err(|e| ("invalid_response", e.to_string()))?;
        for event in events.iter().flat_map(|e| decoder.push(e)) {
            match event {
                Event::TextDelta { text, .. } | Event::ThinkingDelta { text, .. }
                    if !text.is_empty() =>
                {
                    content = true;
                    ttft.get_or_insert(platform.now_ms() - started);
                }
                Event::Error { message, .. } => return Err(("invalid_response", message)),
                _ => {}
            }
        }
    }
    if content { Ok(ttft) } else { Err(("empty_content", "the answer had no content".into())) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(enabled: bool, interval_secs: i64) -> HealthTarget {
        HealthTarget {
            id: "ht_1".into(),
            name: "m".into(),
            display_title: None,
            kind: "model".into(),
            target_id: "m".into(),
            enabled,
            check_interval_seconds: interval_secs,
            check_prompt: "Say \"OK\"".into(),
            check_config: Default::default(),
            created_at: 0,
            updated_at: 0,
        }
    }

    #[test]
    fn due_when_never_checked_or_the_interval_has_passed() {
        let t = target(true, 300);
        assert!(is_due(&t, None, 1_000));
        assert!(!is_due(&t, Some(1_000), 1_000 + 299_999));
        assert!(is_due(&t, Some(1_000), 1_000 + 300_000));
        assert!(!is_due(&target(false, 300), None, 1_000), "disabled targets are never due");
    }

    #[test]
    fn probe_requests_speak_the_configured_protocol() {
        let (path, body) = probe_request(Protocol::AnthropicMessages, "m", "Say \"OK\"", 16);
        assert_eq!(path, "/v1/messages");
        assert_eq!((body["max_tokens"].as_u64(), body["stream"].as_bool()), (Some(16), Some(true)));
        let (path, body) = probe_request(Protocol::OpenaiResponses, "m", "hi", 8);
        assert_eq!((path, body["input"].as_str()), ("/v1/responses", Some("hi")));
        assert_eq!(probe_request(Protocol::OpenaiChat, "m", "hi", 8).0, "/v1/chat/completions");
    }
}
