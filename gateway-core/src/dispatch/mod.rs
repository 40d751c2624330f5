//! The data plane: authorize the virtual key, resolve the model, forward to the provider in its
//! own protocol (translating through the canonical model when it differs from the caller's),
//! relay the answer, and hand the request-log write to the host as background work.

mod attempt;
mod count;
mod inbound;
mod limits;
mod models;
mod resolve;

use bytes::Bytes;

use self::attempt::{Forwarded, Prepared};
pub(crate) use self::count::count_tokens;
use self::inbound::peek;
pub(crate) use self::inbound::{Endpoint, Inbound};
pub use self::inbound::{FORWARDED_HEADERS, error_shape};
pub(crate) use self::models::{get_model, list_models};

use self::resolve::resolve;
use crate::auth::{AuthError, vkey};
use crate::body::{Body, Handled};
use crate::canonical::Usage;
use crate::codec::{self, ClientView, glue};
use crate::error::{GatewayError, RequestError};
use crate::ids;
use crate::logqueue::LogQueue;
use crate::maybe_send::boxed;
use crate::policy;
use crate::provider::Protocol;
use crate::reply;
use crate::routing::{self, Route};
use crate::rules::{self, Vars};
use crate::state::{Ctx, Inner, log_internal};
use crate::store::Store;
use crate::store::keys::VirtualKey;
use crate::store::logs::LogRecord;
use crate::store::models::Model;

/// The route for a model name, from this instance's 5-second cache when it can.
async fn cached_route(inner: &Inner, name: &str) -> Result<std::sync::Arc<Route>, GatewayError> {
    let now = inner.platform.now_ms();
    match inner.route_cache.get(name, now) {
        Some(Some(route)) => return Ok(route),
        Some(None) => return Err(RequestError::ModelNotFound(name.to_owned()).into()),
        None => {}
    }
    match resolve(&inner.store, name, inner.config.upstream_timeout).await {
        Ok(route) => {
            let route = std::sync::Arc::new(route);
            inner.route_cache.put(name, Some(route.clone()), now);
            Ok(route)
        }
        Err(GatewayError::Request(RequestError::ModelNotFound(m))) => {
            inner.route_cache.put(name, None, now);
            Err(RequestError::ModelNotFound(m).into())
        }
        Err(e) => Err(e),
    }
}

/// Finds the caller's virtual key (401 when missing or unknown).
async fn lookup_key(
    inner: &Inner,
    request: &http::Request<Bytes>,
) -> Result<std::sync::Arc<VirtualKey>, GatewayError> {
    let presented = inbound::presented_key(request).ok_or(AuthError::MissingKey)?;
    let hash = vkey::hash(&presented);
    let now = inner.platform.now_ms();
    let key = match inner.key_cache.get(&hash, now) {
        Some(cached) => cached,
        None => {
            let found = inner.store.key_by_hash(&hash).await?.map(std::sync::Arc::new);
            inner.key_cache.put(&hash, found.clone(), now);
            found
        }
    };
    Ok(key.ok_or(AuthError::InvalidKey)?)
}

/// Checks a known key may be used now (403 when disabled or expired).
fn check_key(key: &VirtualKey, now_ms: i64) -> Result<(), AuthError> {
    if !key.enabled {
        return Err(AuthError::KeyDisabled);
    }
    if key.expires_at.is_some_and(|t| t <= now_ms) {
        return Err(AuthError::KeyExpired);
    }
    Ok(())
}

/// Checks a known key may be used now, from this client address: what every data-plane route
/// checks after finding the key.
fn authorize(inner: &Inner, ctx: &Ctx, key: &VirtualKey) -> Result<(), GatewayError> {
    check_key(key, inner.platform.now_ms())?;
    if let Some(allowed) = &key.allowed_ips
        && !policy::ip_allowed(ctx.client_ip.as_deref(), allowed)
    {
        return Err(AuthError::IpNotAllowed.into());
    }
    Ok(())
}

/// Facts gathered while forwarding, for the log, the headers and the background work.
#[derive(Default)]
struct ServedBy {
    provider: Option<(String, String)>,
    model: Option<Model>,
    attempts: u32,
    /// Reservations against the key's limits, settled when the response ends.
    held: Option<limits::Held>,
    log_bodies: bool,
    /// Tools the serving upstream could not take (another provider's hosted tools).
    dropped_tools: Vec<String>,
    /// Input tokens estimated at admission (charged for a stream cut before its usage came).
    estimated_input: i64,
}

/// Bodies kept in the log are cut at this many bytes.
const LOGGED_BODY: usize = 64 * 1024;

fn truncated(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(LOGGED_BODY)];
    String::from_utf8_lossy(cut).into_owned()
}

impl ServedBy {
    fn headers(&self, response: &mut http::Response<Body>) {
        let headers = response.headers_mut();
        if let Some((provider, model)) = &self.provider {
            for (name, value) in [("x-gateway-provider", provider), ("x-gateway-model", model)] {
                if let Ok(v) = http::HeaderValue::from_str(value) {
                    headers.insert(name, v);
                }
            }
        }
        if self.attempts > 0 {
            headers.insert("x-gateway-attempts", http::HeaderValue::from(self.attempts));
        }
        if !self.dropped_tools.is_empty()
            && let Ok(v) = http::HeaderValue::from_str(&self.dropped_tools.join(", "))
        {
            headers.insert("x-gateway-dropped-tools", v);
        }
    }
}

/// `POST /v1/chat/completions`, `/v1/responses`, `/v1/messages`, `/v1/embeddings` and the
/// Gemini-native `generateContent` / `streamGenerateContent`.
pub(crate) async fn forward(
    inner: &Inner,
    ctx: &Ctx,
    request: http::Request<Bytes>,
    inbound: Inbound,
) -> Handled {
    let kind = inbound.endpoint;
    let mut log = LogRecord {
        id: ids::sortable_id(inner.platform.as_ref(), "log", ctx.started_ms),
        created_at: ctx.started_ms,
        request_id: ctx.request_id.clone(),
        endpoint: kind.path().into(),
        protocol_in: Some(kind.log_protocol().into()),
        client_ip: ctx.client_ip.clone(),
        user_agent: ctx.user_agent.clone(),
        ..Default::default()
    };
    inner.router.admit(ctx.started_ms);
    let mut served = ServedBy::default();
    let request_body = request.body().clone();
    let result = forward_inner(inner, ctx, request, &inbound, &mut log, &mut served).await;
    log.attempts = i64::from(served.attempts);
    if served.log_bodies {
        log.request_body = Some(truncated(&request_body));
    }
    let store = inner.store.clone();
    let logs = inner.logs.clone();
    let held = served.held.take();
    let metrics = inner.metrics.clone();
    let provider = served.provider.as_ref().map(|(p, _)| p.clone()).unwrap_or_default();
    let mut handled = match result {
        Ok(Forwarded::Full { body, usage }) => {
            let latency = inner.platform.now_ms() - ctx.started_ms;
            finish_log(&mut log, latency, usage, served.model.as_ref());
            log.status = 200;
            if served.log_bodies {
                log.response_body = Some(truncated(&body));
            }
            observe(&metrics, &log, &provider);
            let response = reply::raw_json(http::StatusCode::OK, body);
            let background = boxed(finish(store, logs, held, usage, log));
            Handled { response, background: Some(background) }
        }
        Ok(Forwarded::Stream { body, mut plan }) => {
            plan.capture_body = served.log_bodies;
            let shutdown = inner.shutdown.clone();
            let (stream, summary) =
                glue::relay(body, plan, inner.platform.clone(), ctx.started_ms, shutdown);
            log.status = 200;
            let started = ctx.started_ms;
            let model = served.model.clone();
            let estimated_input = served.estimated_input;
            let background = boxed(async move {
                let summary = summary.await.unwrap_or_default();
                log.ttft_ms = summary.ttft_ms;
                log.error_kind = summary.error_kind;
                log.response_body = summary.body;
                if let Some(kind) = log.error_kind.as_deref().filter(|k| k.starts_with("upstream"))
                {
                    metrics.upstream_error(&provider, kind);
                }
                let cut = summary.client_gone || log.error_kind.is_some();
                if summary.client_gone && log.error_kind.is_none() {
                    log.error_kind = Some("client_disconnected".into());
                }
                let usage = if cut {
                    summary.usage.charged_when_cut(summary.output_bytes, estimated_input)
                } else {
                    summary.usage
                };
                finish_log(&mut log, summary.ended_ms - started, usage, model.as_ref());
                observe(&metrics, &log, &provider);
                finish(store, logs, held, usage, log).await;
            });
            Handled {
                response: stream_response(stream, inbound.json_array),
                background: Some(background),
            }
        }
        Err(err) => {
            log_internal(ctx, &err);
            log.status = i64::from(err.status().as_u16());
            log.error_kind = Some(err.kind().into());
            log.latency_ms = inner.platform.now_ms() - ctx.started_ms;
            if let GatewayError::Limit(limit) = &err {
                metrics.rejected(limit.limit);
            }
            observe(&metrics, &log, &provider);
            let background = log
                .key_id
                .is_some()
                .then(|| boxed(finish(store, logs, held, Usage::default(), log)));
            Handled { response: reply::error(error_shape(kind.protocol()), &err), background }
        }
    };
    served.headers(&mut handled.response);
    handled
}

/// The background end of every request: settle the key's reservations, then queue the log row.
async fn finish(
    store: Store,
    logs: std::sync::Arc<LogQueue>,
    held: Option<limits::Held>,
    usage: Usage,
    log: LogRecord,
) {
    if let Some(held) = &held {
        limits::settle(&store, held, usage, log.cost_usd).await;
    }
    logs.write(&store, log).await;
}

async fn forward_inner(
    inner: &Inner,
    ctx: &Ctx,
    request: http::Request<Bytes>,
    inbound: &Inbound,
    log: &mut LogRecord,
    served: &mut ServedBy,
) -> Result<Forwarded, GatewayError> {
    let kind = inbound.endpoint;
    let protocol = kind.protocol();
    let key = lookup_key(inner, &request).await?;
    log.key_id = Some(key.id.clone());
    served.log_bodies = key.log_bodies;
    authorize(inner, ctx, &key)?;
    let mut raw = peek(request.body(), inbound)?;
    let embeddings = match kind {
        Endpoint::Embeddings => {
            raw.stream = false;
            Some(codec::embeddings::decode_request(request.body())?)
        }
        _ => None,
    };
    log.model_requested = Some(raw.model.clone());
    log.stream = raw.stream;
    if !key.allows(&raw.model) {
        return Err(AuthError::ModelNotAllowed(raw.model).into());
    }
    let route = cached_route(inner, &raw.model).await?;
    let embeds = |t: &routing::RouteTarget| t.provider.protocol != Protocol::AnthropicMessages;
    if embeddings.is_some() && !route.targets.iter().any(embeds) {
        return Err(RequestError::field(
            "model",
            format!(
                "`{}` is served only by Anthropic providers, which have no embeddings API",
                raw.model
            ),
        )
        .into());
    }
    let now = inner.platform.now_ms();
    let body_len = request.body().len();
    served.estimated_input = policy::estimate_tokens(body_len, raw.max_tokens).0;
    let held =
        limits::admit(&inner.store, &key, &route, &ctx.request_id, body_len, raw.max_tokens, now)
            .await?;
    served.held = Some(held);
    // Prompt rules, translation and isolation concern conversations, not embeddings.
    let needs_canonical = embeddings.is_none()
        && (!route.rules.is_empty()
            || route.targets.iter().any(|t| {
                t.provider.protocol != protocol || t.provider.isolation.system_to.is_some()
            }));
    let mut canonical = None;
    let mut rules_changed = false;
    let mut client = ClientView::new(protocol, &[]);
    if needs_canonical {
        let mut decoded = codec::decode_request(protocol, request.body())?;
        decoded.stream = raw.stream;
        decoded.model = raw.model.clone();
        let vars = Vars { model: &raw.model, key_name: &key.name, now_ms: ctx.started_ms };
        rules_changed = rules::apply(&route.rules, &mut decoded, &vars).map_err(|m| {
            RequestError::field("rules", format!("a prompt rule of `{}` failed: {m}", route.name))
        })?;
        client = ClientView::new(protocol, &decoded.tools);
        canonical = Some(decoded);
    }
    client.include_usage = raw.include_usage;
    client.json_array = inbound.json_array;
    let session = request
        .headers()
        .get("x-session-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or(&key.id)
        .to_owned();
    let targets: Vec<_> = route.targets.iter().map(|t| t.target.clone()).collect();
    let mut order = routing::order(
        &inner.router,
        &route.name,
        route.strategy,
        &targets,
        &session,
        now,
        inner.platform.as_ref(),
    )?;
    if embeddings.is_some() {
        order.retain(|&i| embeds(&route.targets[i]));
    }
    // Ids for tool calls an upstream sends without one: only translated answers need them.
    let call_ids = if needs_canonical {
        format!("call_{}", ids::base62(12, |b| inner.platform.random_bytes(b)))
    } else {
        String::new()
    };
    let prepared = Prepared {
        raw: &raw,
        canonical,
        rules_changed,
        inbound: protocol,
        embeddings,
        headers: inbound::forwarded_headers(request.headers(), protocol),
        client,
        call_ids,
    };
    let result = attempt::run(inner, &route, &order, &prepared, ctx.started_ms).await;
    let (target, attempts, outcome) = match result {
        Ok(s) => (Some(s.target), s.attempts, Ok(s.forwarded)),
        Err(u) => (u.target, u.attempts, Err(u.error)),
    };
    served.attempts = attempts;
    if let Some(t) = target.map(|i| &route.targets[i]) {
        log.provider_id = Some(t.provider.id.clone());
        log.model_served = Some(t.target.model.clone());
        log.protocol_out = Some(t.provider.protocol.as_str().into());
        served.provider = Some((t.provider.name.clone(), t.target.model.clone()));
        served.model = t.model.clone();
        if let Some(request) = &prepared.canonical {
            served.dropped_tools =
                codec::dropped_tools(request, t.provider.protocol).unwrap_or_default();
        }
    }
    outcome
}

/// Counts a finished request (the model only once the key was accepted, so unauthenticated
/// callers cannot invent label values).
fn observe(metrics: &crate::metrics::Metrics, log: &LogRecord, provider: &str) {
    let model = if log.key_id.is_some() { log.model_requested.as_deref() } else { None };
    metrics.observe(&crate::metrics::Observation {
        endpoint: &log.endpoint,
        model: model.unwrap_or_default(),
        provider,
        status: u16::try_from(log.status).unwrap_or(0),
        latency_ms: log.latency_ms,
        ttft_ms: log.ttft_ms,
        input_tokens: log.input_tokens,
        output_tokens: log.output_tokens,
    });
}

fn finish_log(log: &mut LogRecord, latency_ms: i64, usage: Usage, model: Option<&Model>) {
    log.latency_ms = latency_ms.max(0);
    log.input_tokens = usage.input;
    log.output_tokens = usage.output;
    log.cached_tokens = usage.cached;
    log.reasoning_tokens = usage.reasoning;
    log.cost_usd = model.and_then(|m| m.cost(&usage));
}

/// A streamed answer: SSE, or (Gemini callers without `alt=sse`) one JSON array.
fn stream_response(stream: crate::io::ByteStream, json_array: bool) -> http::Response<Body> {
    let mut response = http::Response::new(Body::Stream(stream));
    let headers = response.headers_mut();
    let content_type = if json_array { "application/json" } else { "text/event-stream" };
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    headers.insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", http::HeaderValue::from_static("no"));
    response
}
