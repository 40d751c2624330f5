//! The gateway: built once per process (or isolate) from a config and the host's IO, then asked
//! to handle requests. Routes each request to the data plane, the admin API or liveness.

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method};
use tracing::Instrument;

use crate::auth::jwt::Signer;
use crate::auth::limiter::LoginLimiter;
use crate::body::Handled;
use crate::bootstrap::StartError;
use crate::config::Config;
use crate::crypto::Sealer;
use crate::dispatch::{Endpoint, Inbound};
use crate::error::{GatewayError, RequestError};
use crate::io::{HttpClient, Platform, SqlExec};
use crate::reply::{self, ErrorShape};
use crate::routes::{self, GeminiCall, Lookup, OPENAPI, RouteId, shape_for};
use crate::state::{Ctx, Inner, log_internal};
use crate::store::Store;
use crate::{admin, bootstrap, dispatch, ids};

/// The host's implementations of the IO traits.
#[derive(Clone)]
pub struct Deps {
    pub http: Arc<dyn HttpClient>,
    pub db: Arc<dyn SqlExec>,
    pub platform: Arc<dyn Platform>,
    /// Where key limits live when not in the database (Redis, Durable Objects); `None`: the
    /// database.
    pub limits: Option<Arc<dyn crate::quota::LimitStore>>,
    /// Whether the host calls [`Gateway::flush_limits`] every few seconds and with `true` before it
    /// exits (the server): then budgets are leased in blocks too, and idle spare slots wait for
    /// the next flush.
    pub flushes_limits: bool,
    /// The host's own store for the response cache (Workers: the Cache API), used when
    /// `CACHE_STORE` says `workers`; `None`: memory or the database, as `CACHE_STORE` says.
    pub answers: Option<Arc<dyn crate::answers::AnswerStore>>,
}

/// The peer address of a request, inserted as a request extension by the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

/// What a host does with a request whose headers have arrived (see [`Gateway::screen`]).
pub enum Screen {
    /// Read the body — at most this many bytes — then hand the request to [`Gateway::handle`].
    Read(usize),
    /// Answer with this now: the request is refused by its headers alone, its body unread.
    Refuse(Handled),
}

/// The most a request may send where it sends no more than a form or a query: logins, password
/// changes, the public status API, metrics.
const SMALL_BODY: usize = 64 << 10;

/// The runtime-free gateway. Cheap to clone; share one per process.
#[derive(Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Gateway").field("env", &self.inner.config.env).finish()
    }
}

/// Headers every host sends with the static admin UI and status page: scripts and styles only from
/// the gateway itself (the UI has no inline code), no framing, no MIME sniffing. Workers serve the
/// same set from `admin-ui/_headers` (a test keeps the two equal).
pub const UI_SECURITY_HEADERS: [(&str, &str); 4] = [
    (
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
         connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; \
         frame-ancestors 'none'",
    ),
    ("x-frame-options", "DENY"),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
];

impl Gateway {
    /// Migrates the database, settles secrets and the first admin, and returns a ready gateway.
    // On wasm the IO objects are not Send (one thread per isolate); one `Arc` serves both targets.
    #[allow(clippy::arc_with_non_send_sync)]
    pub async fn start(config: Config, deps: Deps) -> Result<Gateway, StartError> {
        let store = Store::new(deps.db.clone());
        let now = deps.platform.now_ms();
        store.migrate(now).await?;
        let secrets = bootstrap::secrets(&config, &store, deps.platform.as_ref()).await?;
        bootstrap::first_admin(&config, &store, deps.platform.as_ref()).await?;
        let limit_store = deps.limits.unwrap_or_else(|| Arc::new(store.clone()));
        let mut instance = [0u8; 6];
        deps.platform.random_bytes(&mut instance);
        let instance: String = instance.iter().map(|b| format!("{b:02x}")).collect();
        let answers: Arc<dyn crate::answers::AnswerStore> = match (config.cache_store, deps.answers)
        {
            (crate::config::CacheStore::Database, _) => Arc::new(store.clone()),
            (crate::config::CacheStore::Host, Some(host)) => host,
            _ => Arc::new(crate::answers::MemoryAnswers::new(config.cache_memory_bytes)),
        };
        let quota = crate::quota::Quota::new(
            limit_store,
            store.clone(),
            instance,
            (config.limit_lease_ms, deps.flushes_limits),
        );
        let body_budget = crate::body::BodyBudget::new(config.max_body_memory);
        Ok(Gateway {
            inner: Arc::new(Inner {
                signer: Signer::new(secrets.jwt.as_bytes()),
                sealer: Arc::new(Sealer::new(secrets.credentials.as_bytes())),
                config,
                store,
                quota: Arc::new(quota),
                answers,
                http: deps.http,
                platform: deps.platform,
                login_limiter: LoginLimiter::default(),
                hasher: Default::default(),
                router: Arc::default(),
                key_cache: crate::keycache::KeyCache::default(),
                route_cache: crate::keycache::TtlCache::default(),
                catalog_attempts: Default::default(),
                logs: Arc::default(),
                public_limiter: crate::auth::limiter::PublicLimiter::default(),
                metrics: Arc::default(),
                shutdown: crate::shutdown::Shutdown::default(),
                warned_proxy: Default::default(),
                secrets: Default::default(),
                body_budget,
            }),
        })
    }

    /// Checks a request by its headers before its body is read — the route exists, the virtual
    /// key is known, enabled, unexpired and allowed from the client's address, the admin session
    /// is valid — and says how much body to read, or answers at once. Hosts that read bodies
    /// call it first (with the peer's [`ClientAddr`] in `parts`), so a caller that will be
    /// refused never makes the gateway hold a body: one with no key gets its 401 before it has
    /// sent a byte of it. What it found travels in `parts` to [`Gateway::handle`].
    pub async fn screen(&self, parts: &mut http::request::Parts) -> Screen {
        let inner = &self.inner;
        let max = inner.config.max_body_bytes;
        let path = routes::canonical(parts.uri.path()).into_owned();
        let id = match routes::lookup(&parts.method, &path) {
            Lookup::Found((_, _, id)) if check_headers(&parts.headers).is_ok() => *id,
            _ if parts.method == Method::OPTIONS => return Screen::Read(0),
            _ => return self.refuse_early(parts).await,
        };
        match id {
            RouteId::Generate(_)
            | RouteId::Gemini(_)
            | RouteId::CountTokens(_)
            | RouteId::Embeddings
            | RouteId::Openai(_)
            | RouteId::ListModels(_)
            | RouteId::GetModel(_) => {
                let peer = parts.extensions.get::<ClientAddr>().map(|a| a.0);
                let ip = client_ip(inner, &parts.headers, peer);
                match dispatch::screen(inner, &parts.headers, &parts.uri, ip.as_deref()).await {
                    dispatch::Screening::Admitted(key) => {
                        parts.extensions.insert(dispatch::Screened(key));
                        Screen::Read(max)
                    }
                    dispatch::Screening::Refused => self.refuse_early(parts).await,
                    dispatch::Screening::Unsure => Screen::Read(max),
                }
            }
            RouteId::Admin(_) => match admin::require(inner, &parts.headers).await {
                Err(GatewayError::Auth(_)) => self.refuse_early(parts).await,
                _ => Screen::Read(max),
            },
            _ => Screen::Read(SMALL_BODY.min(max)),
        }
    }

    /// The refusal a request gets whatever its body: handled as it is, without one. (Hosts that
    /// leave the body unread end the connection after it.)
    async fn refuse_early(&self, parts: &http::request::Parts) -> Screen {
        let mut request = http::Request::new(Bytes::new());
        *request.method_mut() = parts.method.clone();
        *request.uri_mut() = parts.uri.clone();
        *request.headers_mut() = parts.headers.clone();
        if let Some(addr) = parts.extensions.get::<ClientAddr>() {
            request.extensions_mut().insert(*addr);
        }
        Screen::Refuse(self.handle(request).await)
    }

    /// What request bodies being read may hold together (`MAX_BODY_MEMORY_MB`), shared by every
    /// request of this instance.
    pub fn body_budget(&self) -> Arc<crate::body::BodyBudget> {
        self.inner.body_budget.clone()
    }

    /// Handles one request. Never fails: every error becomes a response in the caller's protocol.
    pub async fn handle(&self, request: http::Request<Bytes>) -> Handled {
        let inner = &self.inner;
        let ctx = Ctx {
            request_id: ids::request_id(
                inner.platform.as_ref(),
                request.headers().get("x-request-id").and_then(|v| v.to_str().ok()),
            ),
            started_ms: inner.platform.now_ms(),
            client_ip: client_ip(
                inner,
                request.headers(),
                request.extensions().get::<ClientAddr>().map(|a| a.0),
            ),
            user_agent: request
                .headers()
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.chars().take(256).collect()),
        };
        let span = tracing::info_span!("request", request_id = %ctx.request_id);
        let method = request.method().clone();
        let path = request.uri().path().to_owned();
        let origin = request.headers().get(http::header::ORIGIN).cloned();
        let mut handled = match check_limits(&request) {
            Err(e) => not_handled(&ctx, shape_for(&path), e),
            Ok(()) if method == Method::OPTIONS && path.starts_with("/api/") => {
                cors_preflight(&inner.config.admin_cors_origins, origin.as_ref())
            }
            Ok(()) => self.route(&ctx, request).instrument(span.clone()).await,
        };
        if path.starts_with("/api/") {
            cors_headers(&inner.config.admin_cors_origins, origin.as_ref(), &mut handled.response);
        }
        if let Ok(value) = HeaderValue::from_str(&ctx.request_id) {
            handled.response.headers_mut().insert("x-request-id", value);
        }
        if let Some(work) = handled.background.take() {
            handled.background = Some(crate::maybe_send::boxed(work.instrument(span.clone())));
        }
        let status = handled.response.status().as_u16();
        let elapsed_ms = inner.platform.now_ms() - ctx.started_ms;
        span.in_scope(|| tracing::info!(%method, %path, status, elapsed_ms, "request"));
        handled
    }

    /// Ends every open stream now, each with an error event in its caller's protocol (and its log
    /// row written): what a host calls when its drain deadline after SIGTERM has passed. Streams
    /// started later end at once too.
    pub fn end_streams(&self) {
        self.inner.shutdown.signal();
    }

    /// How many request logs wait to be written (hosts may report it before exiting).
    pub fn pending_logs(&self) -> usize {
        self.inner.logs.pending()
    }

    /// The response for a request whose body the host could not read — past `limit` bytes
    /// (413), not in time (408), malformed (400), or more than the body budget holds (503 with
    /// `Retry-After`) — rendered in the protocol the path speaks.
    pub fn body_error(
        &self,
        path: &str,
        limit: usize,
        why: crate::body::BodyError,
    ) -> http::Response<crate::body::Body> {
        use crate::body::BodyError;
        let error: GatewayError = match why {
            BodyError::TooLarge => RequestError::BodyTooLarge(limit).into(),
            BodyError::TimedOut => RequestError::BodyTimeout.into(),
            BodyError::Unreadable(why) => RequestError::BodyUnreadable(why).into(),
            BodyError::Busy => GatewayError::Busy(
                "the gateway is reading as many request bodies as it may hold; retry shortly"
                    .into(),
            ),
        };
        let mut response = reply::error(shape_for(path), &error);
        if path.starts_with("/api/") {
            cors_headers(&self.inner.config.admin_cors_origins, None, &mut response);
        }
        response
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    /// Finds the request's row in the route table and hands it to what serves it.
    async fn route(&self, ctx: &Ctx, request: http::Request<Bytes>) -> Handled {
        let inner = &self.inner;
        let path = routes::canonical(request.uri().path()).into_owned();
        let (template, id) = match routes::lookup(request.method(), &path) {
            Lookup::Found((_, template, id)) => (*template, *id),
            Lookup::MethodNotAllowed => {
                return not_handled(ctx, shape_for(&path), RequestError::MethodNotAllowed);
            }
            Lookup::NotFound => {
                let e = RequestError::NotFound(format!("route {path}"));
                return not_handled(ctx, shape_for(&path), e);
            }
        };
        let param = routes::param(template, &path).unwrap_or_default().to_owned();
        let query = request.uri().query().map(str::to_owned);
        let query = query.as_deref();
        match id {
            RouteId::Generate(p) => {
                dispatch::forward(inner, ctx, request, Inbound::new(Endpoint::Generate(p))).await
            }
            RouteId::Embeddings => {
                dispatch::forward(inner, ctx, request, Inbound::new(Endpoint::Embeddings)).await
            }
            RouteId::Openai(call) => {
                dispatch::forward(inner, ctx, request, Inbound::new(Endpoint::Openai(call))).await
            }
            RouteId::Gemini(GeminiCall::CountTokens) => {
                let inbound = Inbound::gemini(&param, GeminiCall::CountTokens, query);
                dispatch::count_tokens(inner, ctx, request, inbound).await
            }
            RouteId::Gemini(call) => {
                dispatch::forward(inner, ctx, request, Inbound::gemini(&param, call, query)).await
            }
            RouteId::CountTokens(p) => {
                let inbound = Inbound::new(Endpoint::CountTokens(p));
                dispatch::count_tokens(inner, ctx, request, inbound).await
            }
            RouteId::ListModels(family) => dispatch::list_models(inner, ctx, request, family).await,
            RouteId::GetModel(family) => {
                dispatch::get_model(inner, ctx, request, family, &param).await
            }
            RouteId::Healthz => Handled::now(reply::json(
                http::StatusCode::OK,
                &serde_json::json!({"status": "ok"}),
            )),
            RouteId::Metrics => Handled::now(metrics(inner, ctx, &request)),
            RouteId::OpenApi => Handled::now(openapi()),
            RouteId::Public(view) => {
                let ip = ctx.client_ip.as_deref();
                Handled::now(crate::health::public::handle(inner, view, query, ip).await)
            }
            RouteId::Session(op) => {
                admin_answer(ctx, admin::session(inner, ctx, op, request).await)
            }
            RouteId::Admin(route) => {
                admin_answer(ctx, admin::handle(inner, route, &param, request).await)
            }
        }
    }
}

/// `GET /api/openapi.json`.
fn openapi() -> http::Response<crate::Body> {
    let mut response =
        http::Response::new(crate::Body::Full(Bytes::from_static(OPENAPI.as_bytes())));
    response
        .headers_mut()
        .insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// An admin answer, or its error in the admin shape.
fn admin_answer(ctx: &Ctx, result: Result<http::Response<crate::Body>, GatewayError>) -> Handled {
    Handled::now(result.unwrap_or_else(|e| {
        log_internal(ctx, &e);
        reply::error(ErrorShape::Admin, &e)
    }))
}

/// Most request headers, and most bytes of names and values together.
pub(crate) const MAX_HEADERS: usize = 64;
pub(crate) const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Header count and size, and JSON nesting depth (before any parser sees the body).
fn check_limits(request: &http::Request<Bytes>) -> Result<(), RequestError> {
    check_headers(request.headers())?;
    if crate::json::too_deep(request.body(), crate::json::MAX_DEPTH) {
        return Err(RequestError::TooDeep(crate::json::MAX_DEPTH));
    }
    Ok(())
}

/// Header count and size.
fn check_headers(headers: &http::HeaderMap) -> Result<(), RequestError> {
    if headers.len() > MAX_HEADERS {
        return Err(RequestError::HeadersTooLarge(format!(
            "{} headers, at most {MAX_HEADERS} allowed",
            headers.len()
        )));
    }
    let bytes: usize = headers.iter().map(|(k, v)| k.as_str().len() + v.len()).sum();
    if bytes > MAX_HEADER_BYTES {
        return Err(RequestError::HeadersTooLarge(format!(
            "{bytes} bytes, at most {MAX_HEADER_BYTES} allowed"
        )));
    }
    Ok(())
}

/// Whether `origin` is one of the configured admin origins.
fn allowed_origin<'a>(
    allowed: &[String],
    origin: Option<&'a HeaderValue>,
) -> Option<&'a HeaderValue> {
    let origin = origin?;
    let text = origin.to_str().ok()?;
    allowed.iter().any(|a| a == text).then_some(origin)
}

/// CORS on `/api/…`: only configured origins, credentials by bearer token (no cookies).
fn cors_headers(
    allowed: &[String],
    origin: Option<&HeaderValue>,
    response: &mut http::Response<crate::Body>,
) {
    let headers = response.headers_mut();
    headers.insert(http::header::VARY, HeaderValue::from_static("origin"));
    if let Some(origin) = allowed_origin(allowed, origin) {
        headers.insert(http::header::ACCESS_CONTROL_ALLOW_ORIGIN, origin.clone());
        headers.insert(
            http::header::ACCESS_CONTROL_EXPOSE_HEADERS,
            HeaderValue::from_static("x-request-id, retry-after, x-session-token"),
        );
    }
}

/// The answer to a browser's preflight: 204 with the allowed methods and headers for a
/// configured origin, 403 for any other.
fn cors_preflight(allowed: &[String], origin: Option<&HeaderValue>) -> Handled {
    let mut response = http::Response::new(crate::Body::empty());
    if allowed_origin(allowed, origin).is_some() {
        *response.status_mut() = http::StatusCode::NO_CONTENT;
        let headers = response.headers_mut();
        headers.insert(
            http::header::ACCESS_CONTROL_ALLOW_METHODS,
            HeaderValue::from_static("GET, POST, PUT, PATCH, DELETE"),
        );
        headers.insert(
            http::header::ACCESS_CONTROL_ALLOW_HEADERS,
            HeaderValue::from_static("authorization, content-type"),
        );
        headers.insert(http::header::ACCESS_CONTROL_MAX_AGE, HeaderValue::from_static("600"));
    } else {
        *response.status_mut() = http::StatusCode::FORBIDDEN;
    }
    Handled::now(response)
}

/// `GET /metrics`: with `METRICS_TOKEN` set, for its bearer; without, only for clients on this
/// machine (loopback, not relayed by a proxy), since the labels name providers and models.
fn metrics(
    inner: &Inner,
    ctx: &Ctx,
    request: &http::Request<Bytes>,
) -> http::Response<crate::Body> {
    if inner.config.metrics_token.is_none() {
        let local = ctx
            .client_ip
            .as_deref()
            .and_then(|ip| ip.parse::<IpAddr>().ok())
            .is_some_and(|ip| ip.is_loopback())
            && !PROXY_HEADERS.iter().any(|h| request.headers().contains_key(*h));
        if !local {
            return reply::error(
                ErrorShape::Admin,
                &crate::auth::AuthError::Forbidden(
                    "metrics are served to this machine only; set METRICS_TOKEN to scrape from elsewhere".into(),
                )
                .into(),
            );
        }
    }
    if let Some(token) = &inner.config.metrics_token {
        let presented = request
            .headers()
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .unwrap_or_default();
        if !crate::auth::constant_time_eq(presented.as_bytes(), token.expose().as_bytes()) {
            let mut response =
                reply::error(ErrorShape::Admin, &crate::auth::AuthError::InvalidToken.into());
            response
                .headers_mut()
                .insert(http::header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
            return response;
        }
    }
    let now = inner.platform.now_ms();
    let io = crate::metrics::Io {
        log_queue_depth: inner.logs.pending(),
        log_batches: inner.logs.batches(),
        limit_round_trips: inner.quota.round_trips(),
    };
    let text = inner.metrics.render(&inner.router.status(), io, now);
    let mut response = http::Response::new(crate::Body::Full(Bytes::from(text)));
    response.headers_mut().insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}

fn not_handled(ctx: &Ctx, shape: ErrorShape, err: RequestError) -> Handled {
    let err = GatewayError::from(err);
    log_internal(ctx, &err);
    Handled::now(reply::error(shape, &err))
}

/// Headers a reverse proxy adds to name the client it forwards for.
const PROXY_HEADERS: [&str; 3] = ["x-forwarded-for", "forwarded", "x-real-ip"];

/// The client's address: the connection's, or behind trusted proxies the rightmost address in
/// `X-Forwarded-For` that no trusted proxy wrote (see `net`).
fn client_ip(inner: &Inner, headers: &http::HeaderMap, peer: Option<IpAddr>) -> Option<String> {
    let proxies = &inner.config.trusted_proxies;
    if !proxies.any()
        && PROXY_HEADERS.iter().any(|h| headers.contains_key(*h))
        && !inner.warned_proxy.swap(true, std::sync::atomic::Ordering::Relaxed)
    {
        tracing::warn!(
            "requests arrive through a proxy (X-Forwarded-For), but TRUSTED_PROXIES is not set: \
             every client looks like the proxy, so key IP allow-lists see the proxy's address and \
             five bad admin logins from anyone lock every admin out for 15 minutes. Set \
             TRUSTED_PROXIES to the proxy's address (or the number of proxies in front) if this \
             proxy is yours."
        );
    }
    let forwarded: Vec<&str> = if proxies.any() {
        headers.get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect()
    } else {
        Vec::new()
    };
    proxies.client(peer, &forwarded).map(|ip| ip.to_string())
}
