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

use super::prepare::{Payload, Prepared};
use crate::canonical::{Response, Usage};
use crate::codec::glue::{self, Plan};
use crate::codec::{self, embeddings};
use crate::error::GatewayError;
use crate::io::{ByteStream, TransportError};
use crate::provider::{Credential, Protocol};
use crate::routing::{Outcome, Route, RouteTarget};
use crate::state::Inner;
use crate::upstream::{
    MAX_UPSTREAM_BODY, Outbound, UpstreamError, build_request, read_body_within,
};

/// What a successful attempt produced.
pub(crate) enum Forwarded {
    /// A whole answer; `answer` is the canonical one when the plan keeps it (response cache);
    /// `output_bytes`, the answer's size, is what it is charged by when the usage is incomplete.
    Full {
        body: Bytes,
        usage: Usage,
        answer: Option<Box<Response>>,
        output_bytes: usize,
    },
    Stream {
        body: ByteStream,
        plan: Plan,
    },
    /// The response cache answered.
    Cached(super::cache::Hit),
    /// A relayed OpenAI endpoint's whole answer, in its own type (JSON, audio, text).
    /// `text_bytes`: for an answer billed by the token (completions), its text's size, what it
    /// is charged by when the usage is incomplete.
    Passed {
        body: Bytes,
        content_type: String,
        usage: Usage,
        units: crate::store::models::Units,
        text_bytes: Option<usize>,
    },
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
    prepared: &Prepared,
    started_ms: i64,
) -> Result<Served, Unserved> {
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
        let step = attempt(inner, t, prepared, timeout).await;
        match record(inner, route, t, &key, step, now) {
            Ok(forwarded) => return Ok(Served { forwarded, target: i, attempts }),
            Err((error, true)) => last = Some((error, i)),
            Err((error, false)) => return Err(Unserved { error, target: Some(i), attempts }),
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

/// Tells the breaker how an attempt on `t` (begun at `began_ms`) went; a failure comes back with
/// whether to try the next target.
fn record(
    inner: &Inner,
    route: &Route,
    t: &RouteTarget,
    key: &str,
    step: Step,
    began_ms: i64,
) -> Result<Forwarded, (GatewayError, bool)> {
    let done_at = inner.platform.now_ms();
    let (error, outcome, next) = match step {
        Step::Done(forwarded) => {
            let latency_ms = done_at - began_ms;
            // A stream's verdict waits for its end (the exchange reports it).
            let outcome = match forwarded {
                Forwarded::Stream { .. } => Outcome::Started { latency_ms },
                _ => Outcome::Success { latency_ms },
            };
            inner.router.record(key, done_at, outcome, &route.config);
            return Ok(forwarded);
        }
        // Resting a rate-limited target helps only when another can take its traffic.
        Step::Retry(error, Outcome::RateLimited { .. }) if route.targets.len() < 2 => {
            (error, Outcome::Neutral, true)
        }
        Step::Retry(error, outcome) => (error, outcome, true),
        Step::Stop(error, outcome) => (error, outcome, false),
    };
    inner.router.record(key, done_at, outcome, &route.config);
    inner.metrics.upstream_error(&t.provider.name, error.kind());
    if next {
        tracing::warn!(route = %route.name, target = %key, kind = error.kind(), "attempt failed; trying the next target");
    }
    Err((error, next))
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
    // A model this target's account may not use may still be served by another target; it
    // says nothing about the target's health.
    let elsewhere = matches!(error, GatewayError::Upstream(UpstreamError::Forbidden { .. }));
    if matches!(outcome, Outcome::Neutral) && !elsewhere {
        Step::Stop(error, outcome)
    } else {
        Step::Retry(error, outcome)
    }
}

/// One attempt on `t` within `timeout`: send with one of its provider's credentials, then read
/// the answer. A credential the upstream rate limits (429) rests, one it refuses (401/403) is
/// disabled, and the request goes again with another while the provider has one.
async fn attempt(
    inner: &Inner,
    t: &RouteTarget,
    prepared: &Prepared,
    timeout: std::time::Duration,
) -> Step {
    let started = inner.platform.now_ms();
    let mut tries = 0;
    loop {
        let spent = u64::try_from(inner.platform.now_ms() - started).unwrap_or(0);
        let left = timeout.saturating_sub(std::time::Duration::from_millis(spent));
        let now = inner.platform.now_ms();
        let Ok(credential) = inner.router.keyring.pick(&t.provider, now) else {
            return all_disabled(t);
        };
        let step = match send(inner, t, credential, prepared, left).await {
            Ok(response) => {
                let spent = u64::try_from(inner.platform.now_ms() - now).unwrap_or(0);
                let left = left.saturating_sub(std::time::Duration::from_millis(spent));
                read_answer(inner, t, prepared, response, left).await
            }
            Err(step) => step,
        };
        let step = redacted(inner, t, step);
        tries += 1;
        let Some(credential) = credential else { return step };
        let said = rotation(&step);
        if matches!(said, Some(Rotation::Disable(_))) && t.provider.auth_scheme.exchanges() {
            // A token the service refuses (expired early, revoked) is not used again: the next
            // request exchanges the credential anew.
            inner.router.tokens.forget(&inner.token_key(&t.provider, credential));
        }
        // A refused credential is disabled (a limited one rests) while another is usable, and
        // another takes the request while one is left untried.
        let another = rotate(inner, t, credential, said).await;
        if tries >= t.provider.credentials.len() || !another {
            return step;
        }
    }
}

/// Every credential of `t`'s provider was refused: nothing is sent with a revoked key; the
/// next target may serve.
fn all_disabled(t: &RouteTarget) -> Step {
    let message = format!(
        "every credential of provider `{}` was refused by the upstream and is disabled; \
         re-enable or replace one in the admin UI",
        t.provider.name
    );
    let error = UpstreamError::Auth { status: 401, message };
    Step::Retry(error.into(), Outcome::Neutral)
}

/// A failed step with the provider's secrets scrubbed from what the upstream said, before the
/// error reaches the caller, the log or a disabled credential's reason.
fn redacted(inner: &Inner, t: &RouteTarget, step: Step) -> Step {
    let scrub = |e: GatewayError| match e {
        GatewayError::Upstream(u) => u.redacted(&inner.redactor(&t.provider)).into(),
        other => other,
    };
    match step {
        Step::Retry(e, o) => Step::Retry(scrub(e), o),
        Step::Stop(e, o) => Step::Stop(scrub(e), o),
        done => done,
    }
}

/// What to do with a credential after its attempt.
enum Rotation {
    /// Rate limited: rest it this long (ms).
    Rest(i64),
    /// Refused: disable it, with why.
    Disable(String),
}

/// What `step` says about the credential it used, when the upstream said something about it.
fn rotation(step: &Step) -> Option<Rotation> {
    use crate::routing::keyring::DEFAULT_REST_MS;
    match step {
        Step::Retry(
            GatewayError::Upstream(UpstreamError::RateLimited { retry_after_secs, .. }),
            _,
        ) => {
            Some(Rotation::Rest(retry_after_secs.map_or(DEFAULT_REST_MS, |s| {
                i64::try_from(s).unwrap_or(3600).saturating_mul(1000)
            })))
        }
        Step::Stop(GatewayError::Upstream(UpstreamError::Auth { status, message }), _) => {
            let reason = format!("the upstream refused it (HTTP {status}): {message}");
            Some(Rotation::Disable(reason.chars().take(300).collect()))
        }
        _ => None,
    }
}

/// Rests (429) or disables (401/403, kept with why) `credential` when its provider has others;
/// whether another may take the request now. The last usable credential is never disabled: a
/// burst of 401s (an upstream's auth outage) must not take the provider down for good — it goes
/// on being tried, and answers for itself.
async fn rotate(
    inner: &Inner,
    t: &RouteTarget,
    credential: &Credential,
    rotation: Option<Rotation>,
) -> bool {
    let provider = &t.provider;
    let Some(rotation) = rotation.filter(|_| provider.credentials.len() > 1) else {
        return false;
    };
    let now = inner.platform.now_ms();
    match rotation {
        Rotation::Rest(ms) => {
            inner.router.keyring.rest(provider, credential, now + ms);
            tracing::warn!(provider = %provider.name, credential = %credential.id, rest_ms = ms, "credential rate limited; resting it");
        }
        // The last usable credential stays: its refusal reaches the caller, and the provider
        // recovers by itself once the key works again.
        Rotation::Disable(reason) => {
            if !inner.router.keyring.disable_unless_last(provider, credential, now) {
                return false;
            }
            let disabled = crate::provider::Disabled { reason: reason.clone(), at: now };
            match inner.store.disable_credential(&provider.id, &credential.id, disabled).await {
                Ok(true) => {
                    tracing::error!(provider = %provider.name, credential = %credential.id, %reason, "credential disabled");
                }
                // Another instance disabled the others meanwhile: this one is the last.
                Ok(false) => {
                    inner.router.keyring.undisable(provider, credential);
                    return false;
                }
                Err(e) => {
                    tracing::error!(provider = %provider.name, credential = %credential.id, %reason, error = %e, "credential disabled here; could not record it");
                }
            }
        }
    }
    inner.router.keyring.available(provider, now) > 0
}

/// The request `t` gets, with one of its provider's credentials (or the token it is exchanged
/// for), in the shape its cloud wants.
pub(super) async fn outbound(
    inner: &Inner,
    t: &RouteTarget,
    credential: Option<&Credential>,
    path: String,
    (body, (content_type, accept)): (Bytes, (&str, &str)),
    stream: bool,
    headers: &[(&'static str, String)],
) -> Result<http::Request<Bytes>, GatewayError> {
    let presented = match credential {
        Some(c) => Some(inner.presented(&t.provider, c).await?),
        None => None,
    };
    let path = crate::cloud::shape(&t.provider, &t.target.model, stream, path);
    let credential = presented.as_deref();
    let provider = &t.provider;
    let out =
        Outbound { provider, credential, path: &path, body, stream, headers, content_type, accept };
    let mut request = build_request(out)?;
    crate::cloud::sign(provider, credential, &mut request, inner.platform.now_ms())?;
    Ok(request)
}

/// Sends the request for `t`; the caller's forwarded headers go only to its own protocol. A
/// token exchange that fails is the target's failure (its credential or its token endpoint).
async fn send(
    inner: &Inner,
    t: &RouteTarget,
    credential: Option<&Credential>,
    prepared: &Prepared,
    timeout: std::time::Duration,
) -> Result<http::Response<ByteStream>, Step> {
    let now = inner.platform.now_ms();
    let stream = prepared.raw.stream;
    let (path, body) = prepared.request_for(t, stream).map_err(neutral)?;
    let same_protocol = t.provider.protocol == prepared.inbound;
    let headers = if same_protocol { prepared.headers.as_slice() } else { &[] };
    let body = (body, prepared.wire());
    let request = outbound(inner, t, credential, path, body, stream, headers).await;
    let request = request.map_err(|e| match e {
        e @ (GatewayError::Upstream(_) | GatewayError::Transport(_)) => failed(e, now),
        e => neutral(e),
    })?;
    inner.http.send(request, timeout).await.map_err(|e| failed(e.into(), now))
}

/// A failure of the gateway's own making: stop, and hold nothing against the target.
fn neutral(e: GatewayError) -> Step {
    Step::Stop(e, Outcome::Neutral)
}

/// Reads `t`'s answer within `left`: an error status, a stream up to its first event, or a whole
/// body made into the caller's answer.
async fn read_answer(
    inner: &Inner,
    t: &RouteTarget,
    prepared: &Prepared,
    response: http::Response<ByteStream>,
    left: std::time::Duration,
) -> Step {
    let platform = inner.platform.as_ref();
    let (parts, body) = response.into_parts();
    let upstream = t.provider.protocol;
    if !parts.status.is_success() {
        let bytes = read_body_within(body, 64 << 10, platform, left).await.unwrap_or_default();
        let error = UpstreamError::from_status(parts.status.as_u16(), &parts.headers, &bytes);
        return failed(error.into(), platform.now_ms());
    }
    if prepared.raw.stream {
        return match glue::first_event(body, upstream, platform, left).await {
            Ok(body) => {
                let plan = Plan {
                    upstream,
                    client: prepared.client.clone(),
                    passthrough: prepared.passthrough(t),
                    strip_instructions: t.provider.isolation.strip_instructions,
                    capture_body: false,
                    keep: prepared.keep,
                    model: prepared.raw.model.clone(),
                    call_ids: prepared.call_ids.clone(),
                    idle_timeout: inner.config.stream_idle_timeout,
                    secrets: inner.secrets(&t.provider),
                };
                Step::Done(Forwarded::Stream { body, plan })
            }
            Err(e) => failed(e.into(), platform.now_ms()),
        };
    }
    let answer = match read_body_within(body, MAX_UPSTREAM_BODY, platform, left).await {
        Ok(bytes) => match &prepared.payload {
            Payload::Pass(pass) => {
                let content_type = parts
                    .headers
                    .get(http::header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("application/octet-stream")
                    .to_owned();
                let (usage, units, text_bytes) = pass.used(&bytes, &content_type);
                // JSON answers name the model the caller asked for, as every answer does.
                let renamed = content_type
                    .contains("json")
                    .then(|| std::str::from_utf8(&bytes).ok())
                    .flatten()
                    .and_then(|text| codec::rename_model(upstream, text, &prepared.raw.model));
                let body = renamed.map_or(bytes, Bytes::from);
                Ok(Forwarded::Passed { body, content_type, usage, units, text_bytes })
            }
            _ => full_answer(t, prepared, bytes, platform.now_ms()),
        },
        Err(e) => Err(e.into()),
    };
    match answer {
        Ok(forwarded) => Step::Done(forwarded),
        Err(e) => failed(e, platform.now_ms()),
    }
}

/// A whole upstream answer as the caller's: embeddings in OpenAI's shape, the upstream's own bytes
/// for a same-protocol caller (only its usage read, and the model renamed), else decoded and
/// encoded in the caller's protocol.
fn full_answer(
    t: &RouteTarget,
    prepared: &Prepared,
    bytes: Bytes,
    now_ms: i64,
) -> Result<Forwarded, GatewayError> {
    let upstream = t.provider.protocol;
    let asked = &prepared.raw.model;
    if let Payload::Embeddings(e) = &prepared.payload {
        let (body, mut usage) = if upstream == Protocol::Gemini {
            embeddings::gemini_response(e, asked, &bytes)?
        } else {
            let usage = embeddings::openai_usage(&bytes)?;
            (bytes, usage)
        };
        // Embeddings have no output to count.
        usage.output.get_or_insert(0);
        return Ok(Forwarded::Full { body, usage, answer: None, output_bytes: 0 });
    }
    if prepared.passthrough(t) {
        // The whole answer is decoded only when the cache keeps it; its usage then comes with it.
        let answer = prepared
            .keep
            .then(|| codec::decode_response(upstream, &bytes, &prepared.call_ids).ok())
            .flatten()
            .map(Box::new);
        let usage = match answer.as_ref().map(|a| Ok(a.usage)) {
            Some(known) => known,
            None => codec::decode_usage(upstream, &bytes),
        };
        let usage = match usage {
            Ok(u) => u,
            Err(e) if serde_json::from_slice::<serde::de::IgnoredAny>(&bytes).is_err() => {
                return Err(e.into());
            }
            Err(_) => Usage::default(),
        };
        // Without its usage the answer is charged by its size: only then is it read for that.
        let output_bytes = match (&answer, usage.is_complete()) {
            (_, true) => 0,
            (Some(a), false) => a.answer_bytes(),
            (None, false) => codec::decode_response(upstream, &bytes, &prepared.call_ids)
                .map_or(bytes.len(), |a| a.answer_bytes()),
        };
        let strip = t.provider.isolation.strip_instructions;
        let body = if strip { crate::isolation::scrub_body(bytes) } else { bytes };
        let renamed = std::str::from_utf8(&body)
            .ok()
            .and_then(|text| codec::rename_model(upstream, text, asked));
        let body = renamed.map_or(body, Bytes::from);
        return Ok(Forwarded::Full { body, usage, answer, output_bytes });
    }
    let mut response = codec::decode_response(upstream, &bytes, &prepared.call_ids)?;
    if response.created == 0 {
        response.created = now_ms / 1000;
    }
    response.model.clone_from(asked);
    let usage = response.usage;
    let output_bytes = response.answer_bytes();
    let body = codec::encode_response(&prepared.client, &response);
    let answer = prepared.keep.then(|| Box::new(response));
    Ok(Forwarded::Full { body, usage, answer, output_bytes })
}
