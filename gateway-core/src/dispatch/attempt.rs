//! Trying a route's targets in order until one answers, under one deadline that covers the whole
//! exchange up to the first byte the caller gets — a non-streamed answer's body included: failover
//! on connection errors, timeouts, 408, 429 and 5xx, bodies cut short or too large (never on other
//! 4xx), breakers updated with every outcome, retries limited by the instance's retry budget.
//! Streams are read to their first event before anything is committed, so they can fail over too.
//!
//! A 429 rests its target (for the upstream's `Retry-After`) only when the route has another
//! target to send to; a route with one target passes the upstream's 429 through and keeps the
//! target open, so one caller's rate limit never becomes everyone's outage.

use bytes::Bytes;

use super::inbound::{Fit, RawRequest, passthrough_body};
use crate::canonical::Request;
use crate::canonical::Usage;
use crate::codec::embeddings::{self, EmbeddingsRequest};
use crate::codec::glue::{self, Plan};
use crate::codec::{self, ClientView, EncodeOptions};
use crate::error::GatewayError;
use crate::io::{ByteStream, TransportError};
use crate::provider::{Protocol, SystemTo};
use crate::routing::Outcome;
use crate::routing::{Route, RouteTarget};
use crate::state::Inner;
use crate::upstream::{Outbound, UpstreamError, build_request, read_body};

/// Largest non-streaming upstream body the gateway will hold.
const MAX_UPSTREAM_BODY: usize = 64 << 20;

/// The caller's request, ready to be sent to any target.
pub(crate) struct Prepared<'a> {
    pub raw: &'a RawRequest,
    /// Present when some target needs translation or the rules changed the request.
    pub canonical: Option<Request>,
    pub rules_changed: bool,
    pub inbound: Protocol,
    /// Set for `/v1/embeddings`.
    pub embeddings: Option<EmbeddingsRequest>,
    /// Caller headers for an upstream of the caller's own protocol (`FORWARDED_HEADERS`).
    pub headers: Vec<(&'static str, String)>,
    /// The caller's side: protocol, tools, framing.
    pub client: ClientView,
    /// Prefix of the ids made for tool calls an upstream sends without one.
    pub call_ids: String,
}

/// How `t` takes the output-token limit: capped at its model's `max_output_tokens`, and for
/// OpenAI chat under the field its model (`capabilities.max_tokens_field`) or provider
/// (`quirks.max_tokens_field`) says.
pub(crate) fn fit(t: &RouteTarget) -> Fit {
    use crate::provider::MaxTokensField;
    let model_field = t
        .model
        .as_ref()
        .and_then(|m| m.capabilities.get("max_tokens_field"))
        .and_then(|v| serde_json::from_value::<MaxTokensField>(v.clone()).ok());
    let field = model_field.or(t.provider.quirks.max_tokens_field);
    Fit {
        cap: t
            .model
            .as_ref()
            .and_then(|m| m.max_output_tokens)
            .and_then(|m| u32::try_from(m).ok())
            .filter(|m| *m > 0),
        max_completion_tokens: field == Some(MaxTokensField::MaxCompletionTokens),
    }
}

impl Prepared<'_> {
    /// Whether `t` gets the caller's own JSON (same protocol, nothing rewritten).
    pub fn passthrough(&self, t: &RouteTarget) -> bool {
        t.provider.protocol == self.inbound
            && !self.rules_changed
            && t.provider.isolation.system_to.is_none()
    }

    /// The path below the provider's base URL and the body to send to `t`.
    fn request_for(&self, t: &RouteTarget, stream: bool) -> Result<(String, Bytes), GatewayError> {
        let upstream = t.provider.protocol;
        let model = &t.target.model;
        Ok(match &self.embeddings {
            Some(e) if upstream == Protocol::Gemini => {
                (embeddings::gemini_path(e, model), embeddings::gemini_request(e, model)?)
            }
            Some(_) => {
                ("/embeddings".into(), passthrough_body(self.raw, upstream, model, Fit::default())?)
            }
            None => (codec::upstream_path(upstream, model, stream), self.body_for(t)?),
        })
    }

    fn body_for(&self, t: &RouteTarget) -> Result<Bytes, GatewayError> {
        let upstream = t.provider.protocol;
        let fit = fit(t);
        if self.passthrough(t) {
            return Ok(passthrough_body(self.raw, upstream, &t.target.model, fit)?);
        }
        let mut request = self.canonical.clone().unwrap_or_default();
        codec::dropped_tools(&request, upstream)?;
        if let (Some(asked), Some(cap)) = (request.max_tokens, fit.cap) {
            request.max_tokens = Some(asked.min(cap));
        }
        let openai = matches!(upstream, Protocol::OpenaiChat | Protocol::OpenaiResponses);
        let developer = t.provider.isolation.system_to == Some(SystemTo::Developer) && openai;
        if t.provider.isolation.system_to.is_some() && !developer {
            crate::isolation::system_into_user(&mut request);
        }
        let options = EncodeOptions {
            default_max_tokens: fit.cap.unwrap_or(0),
            system_as_developer: developer,
            max_completion_tokens: fit.max_completion_tokens,
            // A model known not to reason (catalog flag) gets no reasoning controls.
            no_reasoning: t
                .model
                .as_ref()
                .and_then(|m| m.capabilities.get("reasoning"))
                .is_some_and(|v| v == false),
        };
        Ok(codec::encode_request(upstream, &request, &t.target.model, &options)?)
    }
}

/// Reads a whole body, refusing more than `limit` bytes or taking longer than `within`.
async fn read_body_within(
    body: ByteStream,
    limit: usize,
    platform: &dyn crate::io::Platform,
    within: std::time::Duration,
) -> Result<Bytes, TransportError> {
    use futures::future::{Either, select};
    let read = std::pin::pin!(read_body(body, limit));
    match select(read, platform.sleep(within)).await {
        Either::Left((result, _)) => result,
        Either::Right(_) => {
            Err(TransportError::Timeout(u64::try_from(within.as_millis()).unwrap_or(u64::MAX)))
        }
    }
}

/// What a successful attempt produced.
pub(crate) enum Forwarded {
    Full { body: Bytes, usage: Usage },
    Stream { body: ByteStream, plan: Plan },
}

/// The answer and who gave it.
pub(crate) struct Served {
    pub forwarded: Forwarded,
    pub target: usize,
    pub attempts: u32,
}

/// Why no target answered, after how many attempts, and the last one tried.
pub(crate) struct Unserved {
    pub error: GatewayError,
    pub target: Option<usize>,
    pub attempts: u32,
}

/// An attempt's result: keep going or stop.
enum Step {
    Done(Forwarded),
    Retry(GatewayError, Outcome),
    Stop(GatewayError, Outcome),
}

pub(crate) async fn run(
    inner: &Inner,
    route: &Route,
    order: &[usize],
    prepared: &Prepared<'_>,
    started_ms: i64,
) -> Result<Served, Unserved> {
    let stream = prepared.raw.stream;
    let deadline =
        started_ms.saturating_add(i64::try_from(route.config.deadline_ms).unwrap_or(i64::MAX));
    let mut attempts = 0u32;
    let mut last: Option<(GatewayError, usize)> = None;
    for &i in order {
        let t = &route.targets[i];
        let key = t.target.key();
        let now = inner.platform.now_ms();
        if now >= deadline || attempts >= route.config.max_attempts.max(1) {
            break;
        }
        if attempts > 0 && !inner.router.spend_retry() {
            break;
        }
        if !inner.router.acquire(&key, now) {
            continue; // another request is probing this half-open target
        }
        attempts += 1;
        let budget = (deadline - now)
            .min(i64::try_from(route.config.attempt_timeout_ms).unwrap_or(i64::MAX));
        let timeout = std::time::Duration::from_millis(u64::try_from(budget.max(1)).unwrap_or(1));
        let step = attempt(inner, t, prepared, stream, timeout).await;
        let done_at = inner.platform.now_ms();
        match step {
            Step::Done(forwarded) => {
                inner.router.record(
                    &key,
                    done_at,
                    Outcome::Success { latency_ms: done_at - now },
                    &route.config,
                );
                return Ok(Served { forwarded, target: i, attempts });
            }
            Step::Retry(error, outcome) => {
                // Resting a rate-limited target helps only when another can take its traffic.
                let outcome = match outcome {
                    Outcome::RateLimited { .. } if route.targets.len() < 2 => Outcome::Neutral,
                    other => other,
                };
                inner.router.record(&key, done_at, outcome, &route.config);
                inner.metrics.upstream_error(&t.provider.name, error.kind());
                tracing::warn!(route = %route.name, target = %key, kind = error.kind(), "attempt failed; trying the next target");
                last = Some((error, i));
            }
            Step::Stop(error, outcome) => {
                inner.router.record(&key, done_at, outcome, &route.config);
                inner.metrics.upstream_error(&t.provider.name, error.kind());
                return Err(Unserved { error, target: Some(i), attempts });
            }
        }
    }
    let (error, target) = match last {
        Some((e, i)) => (e, Some(i)),
        None if inner.platform.now_ms() >= deadline => {
            (TransportError::Timeout(route.config.deadline_ms).into(), None)
        }
        None => {
            (crate::routing::NoTarget { retry_after_secs: 1, rate_limited: false }.into(), None)
        }
    };
    Err(Unserved { error, target, attempts })
}

/// Classifies a failure: whether to fail over and what it says about the target.
fn failed(error: GatewayError, now_ms: i64) -> Step {
    let outcome = match &error {
        GatewayError::Upstream(UpstreamError::RateLimited { retry_after_secs, .. }) => {
            Outcome::RateLimited {
                reset_ms: retry_after_secs.map(|s| now_ms + i64::try_from(s).unwrap_or(0) * 1000),
            }
        }
        GatewayError::Upstream(UpstreamError::Rejected { status: 408, .. }) => Outcome::Failure,
        e if e.retryable() => Outcome::Failure,
        _ => Outcome::Neutral,
    };
    if matches!(outcome, Outcome::Neutral) {
        Step::Stop(error, outcome)
    } else {
        Step::Retry(error, outcome)
    }
}

async fn attempt(
    inner: &Inner,
    t: &RouteTarget,
    prepared: &Prepared<'_>,
    stream: bool,
    timeout: std::time::Duration,
) -> Step {
    let now = inner.platform.now_ms();
    let (path, body) = match prepared.request_for(t, stream) {
        Ok(r) => r,
        Err(e) => return Step::Stop(e, Outcome::Neutral),
    };
    let credential =
        match t.provider.credentials_enc.as_deref().map(|c| inner.sealer.open(c)).transpose() {
            Ok(c) => c,
            Err(e) => return Step::Stop(e.into(), Outcome::Neutral),
        };
    let upstream = t.provider.protocol;
    let same_protocol = upstream == prepared.inbound;
    let outbound = build_request(Outbound {
        provider: &t.provider,
        credential: credential.as_deref(),
        path: &path,
        body,
        stream,
        headers: if same_protocol { &prepared.headers } else { &[] },
    });
    let outbound = match outbound {
        Ok(o) => o,
        Err(e) => return Step::Stop(e.into(), Outcome::Neutral),
    };
    let response = match inner.http.send(outbound, timeout).await {
        Ok(r) => r,
        Err(e) => return failed(e.into(), now),
    };
    let (parts, body) = response.into_parts();
    let left = timeout.saturating_sub(std::time::Duration::from_millis(
        u64::try_from(inner.platform.now_ms() - now).unwrap_or(0),
    ));
    if !parts.status.is_success() {
        let bytes = read_body_within(body, 64 << 10, inner.platform.as_ref(), left)
            .await
            .unwrap_or_default();
        let error = UpstreamError::from_status(parts.status.as_u16(), &parts.headers, &bytes);
        return failed(error.into(), inner.platform.now_ms());
    }
    let passthrough = prepared.passthrough(t);
    let strip = t.provider.isolation.strip_instructions;
    if stream {
        return match glue::first_event(body, upstream, inner.platform.as_ref(), left).await {
            Ok(body) => {
                let plan = Plan {
                    upstream,
                    client: prepared.client.clone(),
                    passthrough,
                    strip_instructions: strip,
                    capture_body: false,
                    model: prepared.raw.model.clone(),
                    call_ids: prepared.call_ids.clone(),
                    idle_timeout: inner.config.stream_idle_timeout,
                };
                Step::Done(Forwarded::Stream { body, plan })
            }
            Err(e) => failed(e.into(), inner.platform.now_ms()),
        };
    }
    let bytes = match read_body_within(body, MAX_UPSTREAM_BODY, inner.platform.as_ref(), left).await
    {
        Ok(b) => b,
        Err(e) => return failed(e.into(), inner.platform.now_ms()),
    };
    if let Some(e) = &prepared.embeddings {
        let answer = if upstream == Protocol::Gemini {
            embeddings::gemini_response(e, &prepared.raw.model, &bytes)
        } else {
            embeddings::openai_usage(&bytes).map(|usage| (bytes, usage))
        };
        return match answer {
            Ok((body, usage)) => Step::Done(Forwarded::Full { body, usage }),
            Err(err) => failed(err.into(), inner.platform.now_ms()),
        };
    }
    if passthrough {
        // The caller gets the upstream's bytes as they are (if they are JSON at all); only the
        // usage is read, on the side.
        let usage = match codec::decode_usage(upstream, &bytes) {
            Ok(u) => u,
            Err(e) if serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_err() => {
                return failed(e.into(), inner.platform.now_ms());
            }
            Err(_) => Usage::default(),
        };
        let body = if strip { crate::isolation::scrub_body(bytes) } else { bytes };
        let renamed = std::str::from_utf8(&body)
            .ok()
            .and_then(|text| codec::rename_model(upstream, text, &prepared.raw.model));
        let body = renamed.map_or(body, Bytes::from);
        return Step::Done(Forwarded::Full { body, usage });
    }
    let mut response = match codec::decode_response(upstream, &bytes, &prepared.call_ids) {
        Ok(r) => r,
        Err(e) => return failed(e.into(), inner.platform.now_ms()),
    };
    if response.created == 0 {
        response.created = inner.platform.now_ms() / 1000;
    }
    response.model.clone_from(&prepared.raw.model);
    let usage = response.usage;
    Step::Done(Forwarded::Full { body: codec::encode_response(&prepared.client, &response), usage })
}
