//! One data-plane request's record, from admission to its log row: the log being written, who
//! served it, and the reservations it holds against its key's limits. Every request that got past
//! its key ends here in exactly one way: `settle` charges the usage, releases the reservations and
//! queues the log row — after a whole answer, after a stream (however it ended), or after a
//! refusal.

use std::sync::Arc;

use bytes::Bytes;

use super::attempt::Forwarded;
use super::limits;
use crate::body::{Body, Handled};
use crate::canonical::Usage;
use crate::codec::glue::{self, Plan};
use crate::error::GatewayError;
use crate::io::ByteStream;
use crate::logqueue::LogQueue;
use crate::maybe_send::boxed;
use crate::metrics::Metrics;
use crate::reply::{self, ErrorShape};
use crate::routing::RouteTarget;
use crate::state::{Ctx, Inner, log_internal};
use crate::store::Store;
use crate::store::logs::LogRecord;
use crate::store::models::Model;

/// Bodies kept in the log are cut at this many bytes.
const LOGGED_BODY: usize = 64 * 1024;

fn truncated(bytes: &[u8]) -> String {
    let cut = &bytes[..bytes.len().min(LOGGED_BODY)];
    String::from_utf8_lossy(cut).into_owned()
}

/// A request's record while it is served.
pub(crate) struct Exchange {
    pub log: LogRecord,
    /// Provider name and model id of the target that answered (or was tried last).
    provider: Option<(String, String)>,
    /// The model row behind that target (its prices).
    model: Option<Model>,
    pub attempts: u32,
    /// Reservations against the key's limits, settled when the response ends.
    pub held: Option<crate::quota::Ticket>,
    /// The key asks for request and response bodies in its log rows.
    pub log_bodies: bool,
    /// What translating the request for the upstream that served it lost (`None`: not
    /// translated).
    pub translation: Option<crate::codec::Translation>,
    /// Input tokens estimated at admission (charged for a stream cut before its usage came).
    pub estimated_input: i64,
    /// Where to keep the answer, when the response cache may keep it.
    pub fill: Option<super::cache::Fill>,
    /// The target that answered (its breaker key) and its route's settings: a stream that breaks
    /// after its first byte is still the target's failure.
    breaker: Option<(String, crate::routing::RouteConfig)>,
    router: Arc<crate::routing::Router>,
    store: Store,
    quota: Arc<crate::quota::Quota>,
    logs: Arc<LogQueue>,
    metrics: Arc<Metrics>,
}

impl Exchange {
    /// The record of a request to `endpoint`, logged as of the request's start.
    pub(crate) fn new(inner: &Inner, ctx: &Ctx, endpoint: super::Endpoint) -> Self {
        Exchange {
            log: LogRecord {
                id: crate::ids::sortable_id(inner.platform.as_ref(), "log", ctx.started_ms),
                created_at: ctx.started_ms,
                request_id: ctx.request_id.clone(),
                endpoint: endpoint.path().into(),
                protocol_in: Some(endpoint.log_protocol().into()),
                client_ip: ctx.client_ip.clone(),
                user_agent: ctx.user_agent.clone(),
                ..Default::default()
            },
            provider: None,
            model: None,
            attempts: 0,
            held: None,
            log_bodies: false,
            translation: None,
            estimated_input: 0,
            fill: None,
            breaker: None,
            router: inner.router.clone(),
            store: inner.store.clone(),
            quota: inner.quota.clone(),
            logs: inner.logs.clone(),
            metrics: inner.metrics.clone(),
        }
    }

    /// Records `t` as the target that answered (or failed last), on a route with `config`.
    pub(crate) fn served_by(&mut self, t: &RouteTarget, config: &crate::routing::RouteConfig) {
        self.breaker = Some((t.target.key(), config.clone()));
        self.log.provider_id = Some(t.provider.id.clone());
        self.log.model_served = Some(t.target.model.clone());
        self.log.protocol_out = Some(t.provider.protocol.as_str().into());
        self.provider = Some((t.provider.name.clone(), t.target.model.clone()));
        self.model = t.model.clone();
    }

    /// The response for what forwarding produced, with the log row's completion as its
    /// background work.
    pub(crate) fn answer(
        mut self,
        inner: &Inner,
        ctx: &Ctx,
        request_body: &Bytes,
        result: Result<Forwarded, GatewayError>,
        shape: ErrorShape,
    ) -> Handled {
        self.log.attempts = i64::from(self.attempts);
        self.log.translation = self.translation.as_ref().and_then(|t| serde_json::to_value(t).ok());
        if self.log_bodies {
            self.log.request_body = Some(truncated(request_body));
        }
        let headers = self.headers();
        let mut handled = match result {
            Ok(Forwarded::Full { body, usage, answer, output_bytes }) => {
                self.log.status = 200;
                let usage = self.charged(usage, output_bytes);
                if self.log_bodies {
                    self.log.response_body = Some(truncated(&body));
                }
                self.record(inner.platform.now_ms() - ctx.started_ms, usage);
                let response = reply::raw_json(http::StatusCode::OK, body);
                let now = inner.platform.now_ms();
                let background = async move {
                    self.keep(answer.map(|a| *a), now).await;
                    self.settle(usage).await
                };
                Handled { response, background: Some(boxed(background)) }
            }
            Ok(Forwarded::Passed { body, content_type, usage, units, text_bytes }) => {
                self.log.status = 200;
                let usage = match text_bytes {
                    Some(bytes) => self.charged(usage, bytes),
                    None => usage,
                };
                if self.log_bodies && content_type.contains("json") {
                    self.log.response_body = Some(truncated(&body));
                }
                self.record(inner.platform.now_ms() - ctx.started_ms, usage);
                if let Some(cost) = self.model.as_ref().and_then(|m| m.unit_cost(&units)) {
                    self.log.cost_usd = Some(self.log.cost_usd.unwrap_or(0.0) + cost);
                }
                let mut response = http::Response::new(Body::Full(body));
                if let Ok(v) = http::HeaderValue::from_str(&content_type) {
                    response.headers_mut().insert(http::header::CONTENT_TYPE, v);
                }
                let background = async move { self.settle(usage).await };
                Handled { response, background: Some(boxed(background)) }
            }
            Ok(Forwarded::Stream { body, plan }) => self.relay(inner, ctx, body, plan),
            Ok(Forwarded::Cached(hit)) => self.hit(inner, ctx, hit),
            Err(err) => self.refuse(inner, ctx, &err, shape),
        };
        handled.response.headers_mut().extend(headers);
        handled
    }

    /// The response to a request that generates nothing (a token count): logged, without tokens
    /// or charge.
    pub(crate) fn logged(
        mut self,
        inner: &Inner,
        ctx: &Ctx,
        result: Result<http::Response<Body>, GatewayError>,
        shape: ErrorShape,
    ) -> Handled {
        self.log.latency_ms = inner.platform.now_ms() - ctx.started_ms;
        let mut response = match result {
            Ok(response) => {
                self.log.status = 200;
                response
            }
            Err(err) => self.failed(ctx, &err, shape),
        };
        response.headers_mut().extend(self.headers());
        let background = self
            .log
            .key_id
            .is_some()
            .then(|| boxed(async move { self.logs.write(&self.store, self.log).await }));
        Handled { response, background }
    }

    /// Relays a stream; the log row is completed when it ends, however it ends.
    fn relay(mut self, inner: &Inner, ctx: &Ctx, body: ByteStream, mut plan: Plan) -> Handled {
        plan.capture_body = self.log_bodies;
        let json_array = plan.client.json_array;
        let shutdown = inner.shutdown.clone();
        let (stream, summary) =
            glue::relay(body, plan, inner.platform.clone(), ctx.started_ms, shutdown);
        self.log.status = 200;
        let started = ctx.started_ms;
        let background = boxed(async move {
            let summary = summary.await.unwrap_or_default();
            self.log.ttft_ms = summary.ttft_ms;
            self.log.error_kind = summary.error_kind;
            self.log.response_body = summary.body;
            let failed = self.log.error_kind.as_deref().filter(|k| k.starts_with("upstream"));
            if let Some(kind) = failed {
                self.metrics.upstream_error(self.provider_name(), kind);
            }
            // Cut, stalled or failing after its first byte: the target's failure all the same,
            // so a provider that breaks every stream half-way loses its share.
            if let Some((key, config)) = &self.breaker {
                self.router.stream_ended(key, failed.is_some(), summary.ended_ms, config);
            }
            let cut = summary.client_gone || self.log.error_kind.is_some();
            if summary.client_gone && self.log.error_kind.is_none() {
                self.log.error_kind = Some("client_disconnected".into());
            }
            let usage = self.charged(summary.usage, summary.output_bytes);
            self.record(summary.ended_ms - started, usage);
            if !cut {
                self.keep(summary.answer, summary.ended_ms).await;
            }
            self.settle(usage).await;
        });
        Handled { response: stream_response(stream, json_array), background: Some(background) }
    }

    /// A response-cache hit: the kept answer in the caller's shape, logged with no upstream
    /// tokens, what the answer cost when fetched (saved) and the request that fetched it.
    fn hit(mut self, inner: &Inner, ctx: &Ctx, hit: super::cache::Hit) -> Handled {
        let super::cache::Hit { body, stream, json_array, fetched_by, saved_usd } = hit;
        self.log.status = 200;
        self.log.response_cache = Some("hit".into());
        self.log.cached_from = Some(fetched_by);
        self.log.response_cache_saved_usd = saved_usd;
        self.metrics.cache_hit(saved_usd.unwrap_or(0.0));
        if self.log_bodies {
            self.log.response_body = Some(truncated(&body));
        }
        let latency = inner.platform.now_ms() - ctx.started_ms;
        if stream {
            self.log.ttft_ms = Some(latency);
        }
        let usage = Usage { input: Some(0), output: Some(0), ..Usage::default() };
        self.record(latency, usage);
        self.log.cost_usd = Some(0.0);
        let mut response = if stream {
            let chunk = futures::stream::once(async move { Ok(body) });
            stream_response(crate::maybe_send::boxed_stream(chunk), json_array)
        } else {
            reply::raw_json(http::StatusCode::OK, body)
        };
        let value = http::HeaderValue::from_static("hit");
        response.headers_mut().insert(crate::answers::HEADER, value);
        Handled { response, background: Some(boxed(self.settle(usage))) }
    }

    /// Keeps a complete answer in the response cache, when the request may be kept.
    async fn keep(&mut self, answer: Option<crate::canonical::Response>, now_ms: i64) {
        let (Some(fill), Some(answer)) = (self.fill.take(), answer) else { return };
        if fill.keep(answer, &self.log.request_id, self.log.cost_usd, now_ms).await {
            self.metrics.cache_stored();
        }
    }

    /// The error response; a request whose key was known is still logged and settled.
    fn refuse(
        mut self,
        inner: &Inner,
        ctx: &Ctx,
        err: &GatewayError,
        shape: ErrorShape,
    ) -> Handled {
        self.log.latency_ms = inner.platform.now_ms() - ctx.started_ms;
        let response = self.failed(ctx, err, shape);
        if let GatewayError::Limit(limit) = err {
            self.metrics.rejected(limit.limit);
        }
        self.observe();
        // Unknown keys are not logged (anyone could fill the log); known ones are, and settle.
        let background = self.log.key_id.is_some().then(|| boxed(self.settle(Usage::default())));
        Handled { response, background }
    }

    /// What an answer is charged: its usage, or where the upstream left the input or output
    /// out, their estimates (see [`Usage::charged_when_cut`]) — and the row says so.
    fn charged(&mut self, usage: Usage, output_bytes: usize) -> Usage {
        if usage.is_complete() {
            return usage;
        }
        self.log.usage_estimated = true;
        usage.charged_when_cut(output_bytes, self.estimated_input)
    }

    /// A finished answer's latency, usage and cost into the row, and into the metrics.
    fn record(&mut self, latency_ms: i64, usage: Usage) {
        self.log.latency_ms = latency_ms.max(0);
        self.log.input_tokens = usage.input;
        self.log.output_tokens = usage.output;
        self.log.cached_tokens = usage.cached;
        self.log.cache_write_tokens = usage.cache_write;
        self.log.reasoning_tokens = usage.reasoning;
        self.log.cost_usd = self.model.as_ref().and_then(|m| m.cost(&usage));
        self.log.cache_savings_usd = self.model.as_ref().and_then(|m| m.cache_savings(&usage));
        self.observe();
    }

    /// The end of every logged request: the key's reservations settled with what it used, the row
    /// queued.
    async fn settle(self, usage: Usage) {
        if let Some(held) = &self.held {
            let ended_ms = self.log.created_at + self.log.latency_ms;
            limits::settle(&self.quota, held, usage, self.log.cost_usd, ended_ms).await;
        }
        self.logs.write(&self.store, self.log).await;
    }

    /// An error into the row (internal ones into the process log too), and its response.
    fn failed(&mut self, ctx: &Ctx, err: &GatewayError, shape: ErrorShape) -> http::Response<Body> {
        log_internal(ctx, err);
        self.log.status = i64::from(err.status().as_u16());
        self.log.error_kind = Some(err.kind().into());
        reply::error(shape, err)
    }

    fn provider_name(&self) -> &str {
        self.provider.as_ref().map_or("", |(p, _)| p.as_str())
    }

    /// Counts a finished request (the model only once the key was accepted, so unauthenticated
    /// callers cannot invent label values).
    fn observe(&self) {
        let log = &self.log;
        let model = if log.key_id.is_some() { log.model_requested.as_deref() } else { None };
        self.metrics.observe(&crate::metrics::Observation {
            endpoint: &log.endpoint,
            model: model.unwrap_or_default(),
            provider: self.provider_name(),
            status: u16::try_from(log.status).unwrap_or(0),
            latency_ms: log.latency_ms,
            ttft_ms: log.ttft_ms,
            input_tokens: log.input_tokens,
            output_tokens: log.output_tokens,
        });
    }

    /// `x-gateway-provider`, `x-gateway-model`, `x-gateway-attempts`, `x-gateway-cache`,
    /// `x-gateway-dropped-fields`, `x-gateway-dropped-tools`.
    fn headers(&self) -> http::HeaderMap {
        let mut headers = http::HeaderMap::new();
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
        if let Some(v) =
            self.log.response_cache.as_deref().and_then(|v| http::HeaderValue::from_str(v).ok())
        {
            headers.insert(crate::answers::HEADER, v);
        }
        let report = self.translation.as_ref();
        for (name, list) in [
            ("x-gateway-dropped-fields", report.map(|t| &t.dropped)),
            ("x-gateway-dropped-tools", report.map(|t| &t.dropped_tools)),
        ] {
            // Names as the caller sent them, any character a header cannot carry as `?`.
            if let Some(list) = list.filter(|l| !l.is_empty()) {
                let visible = |c: char| if c.is_ascii_graphic() || c == ' ' { c } else { '?' };
                let value: String = list.join(", ").chars().map(visible).collect();
                if let Ok(v) = http::HeaderValue::from_str(&value) {
                    headers.insert(name, v);
                }
            }
        }
        headers
    }
}

/// A streamed answer: SSE, or (Gemini callers without `alt=sse`) one JSON array.
fn stream_response(stream: ByteStream, json_array: bool) -> http::Response<Body> {
    let mut response = http::Response::new(Body::Stream(stream));
    let headers = response.headers_mut();
    let content_type = if json_array { "application/json" } else { "text/event-stream" };
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(content_type));
    headers.insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", http::HeaderValue::from_static("no"));
    response
}
