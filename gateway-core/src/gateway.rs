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
use crate::provider::Protocol;
use crate::reply::{self, ErrorShape};
use crate::routes::{Lookup, OPENAPI};
use crate::state::{Ctx, Inner, log_internal};
use crate::store::Store;
use crate::{admin, bootstrap, dispatch, ids};

/// The host's implementations of the IO traits.
#[derive(Clone)]
pub struct Deps {
    pub http: Arc<dyn HttpClient>,
    pub db: Arc<dyn SqlExec>,
    pub platform: Arc<dyn Platform>,
}

/// The peer address of a request, inserted as a request extension by the host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub IpAddr);

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

/// Whether `path` belongs to the gateway's own API (everything else is the static admin UI).
pub fn is_api_path(path: &str) -> bool {
    const PREFIXES: [&str; 4] = ["/v1/", "/api/", "/public/", "/v1beta/"];
    const EXACT: [&str; 2] = ["/healthz", "/metrics"];
    PREFIXES.iter().any(|p| path.starts_with(p))
        || EXACT.contains(&path)
        || crate::routes::UNVERSIONED.iter().any(|a| {
            path.strip_prefix(a).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
        })
}

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
        Ok(Gateway {
            inner: Arc::new(Inner {
                signer: Signer::new(secrets.jwt.as_bytes()),
                sealer: Sealer::new(secrets.credentials.as_bytes()),
                config,
                store,
                http: deps.http,
                platform: deps.platform,
                login_limiter: LoginLimiter::default(),
                router: crate::routing::Router::default(),
                key_cache: crate::keycache::KeyCache::default(),
                route_cache: crate::keycache::TtlCache::default(),
                catalog_attempts: Default::default(),
                logs: Arc::default(),
                public_limiter: crate::auth::limiter::PublicLimiter::default(),
                metrics: Arc::default(),
                shutdown: crate::shutdown::Shutdown::default(),
                warned_proxy: Default::default(),
            }),
        })
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
            client_ip: client_ip(inner, &request),
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

    /// The response for a request whose body the host refused to read past `limit` bytes,
    /// rendered in the protocol the path speaks.
    pub fn body_too_large(&self, path: &str, limit: usize) -> http::Response<crate::body::Body> {
        let mut response = reply::error(shape_for(path), &RequestError::BodyTooLarge(limit).into());
        if path.starts_with("/api/") {
            cors_headers(&self.inner.config.admin_cors_origins, None, &mut response);
        }
        response
    }

    /// The response for a request whose body did not arrive in time (408), in the protocol the
    /// path speaks.
    pub fn body_timed_out(&self, path: &str) -> http::Response<crate::body::Body> {
        let mut response = reply::error(shape_for(path), &RequestError::BodyTimeout.into());
        if path.starts_with("/api/") {
            cors_headers(&self.inner.config.admin_cors_origins, None, &mut response);
        }
        response
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    async fn route(&self, ctx: &Ctx, request: http::Request<Bytes>) -> Handled {
        let inner = &self.inner;
        let path = request.uri().path().to_owned();
        let template = match crate::routes::lookup(request.method(), &path) {
            Lookup::Found(template) => template,
            Lookup::MethodNotAllowed => {
                return not_handled(ctx, shape_for(&path), RequestError::MethodNotAllowed);
            }
            Lookup::NotFound => {
                let e = RequestError::NotFound(format!("route {path}"));
                return not_handled(ctx, shape_for(&path), e);
            }
        };
        if path == "/api/openapi.json" {
            let mut response =
                http::Response::new(crate::Body::Full(Bytes::from_static(OPENAPI.as_bytes())));
            response
                .headers_mut()
                .insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            return Handled::now(response);
        }
        if path.starts_with("/public/health/") && request.method() == Method::GET {
            let query = request.uri().query();
            let response =
                crate::health::public::handle(inner, &path, query, ctx.client_ip.as_deref()).await;
            return Handled::now(response);
        }
        if path == "/metrics" {
            return Handled::now(metrics(inner, ctx, &request));
        }
        if path == "/healthz" {
            return Handled::now(reply::json(
                http::StatusCode::OK,
                &serde_json::json!({"status": "ok"}),
            ));
        }
        if path.starts_with("/api/") {
            let result = admin::handle(inner, ctx, request).await;
            return Handled::now(result.unwrap_or_else(|e| {
                log_internal(ctx, &e);
                reply::error(ErrorShape::Admin, &e)
            }));
        }
        self.data_plane(ctx, request, template).await
    }

    /// The data-plane routes, by the table's template.
    async fn data_plane(
        &self,
        ctx: &Ctx,
        request: http::Request<Bytes>,
        template: &'static str,
    ) -> Handled {
        let inner = &self.inner;
        let path = crate::routes::canonical(request.uri().path()).into_owned();
        let param = crate::routes::param(template, &path).map(str::to_owned);
        let generate = |p| Some(Inbound::new(Endpoint::Generate(p)));
        let inbound = match template {
            "/v1/chat/completions" => generate(Protocol::OpenaiChat),
            "/v1/responses" => generate(Protocol::OpenaiResponses),
            "/v1/messages" => generate(Protocol::AnthropicMessages),
            "/v1/embeddings" => Some(Inbound::new(Endpoint::Embeddings)),
            "/v1/messages/count_tokens" => {
                Some(Inbound::new(Endpoint::CountTokens(Protocol::AnthropicMessages)))
            }
            "/v1/responses/input_tokens" => {
                Some(Inbound::new(Endpoint::CountTokens(Protocol::OpenaiResponses)))
            }
            t if t.contains("/models/{model}:") => {
                path.rsplit('/').next().and_then(|s| Inbound::gemini(s, request.uri().query()))
            }
            "/v1/models" | "/v1beta/models" => {
                return dispatch::list_models(inner, ctx, request).await;
            }
            _ => {
                let id = param.unwrap_or_default();
                return dispatch::get_model(inner, ctx, request, &id).await;
            }
        };
        match inbound {
            Some(i) if matches!(i.endpoint, Endpoint::CountTokens(_)) => {
                dispatch::count_tokens(inner, ctx, request, i).await
            }
            Some(i) => dispatch::forward(inner, ctx, request, i).await,
            None => {
                not_handled(ctx, shape_for(&path), RequestError::NotFound(format!("route {path}")))
            }
        }
    }
}

/// The error shape callers of `path` understand: Anthropic's on `/v1/messages`, Google's on
/// `/v1beta/`, the admin shape on `/api/` and `/public/`, OpenAI's elsewhere.
fn shape_for(path: &str) -> ErrorShape {
    let data_path = path.strip_prefix("/v1").unwrap_or(path);
    if path.starts_with("/api/") || path.starts_with("/public/") {
        ErrorShape::Admin
    } else if crate::routes::is_gemini(path) {
        ErrorShape::Gemini
    } else if data_path.starts_with("/messages") {
        ErrorShape::Anthropic
    } else {
        ErrorShape::OpenAi
    }
}

/// Most request headers, and most bytes of names and values together.
pub const MAX_HEADERS: usize = 64;
pub const MAX_HEADER_BYTES: usize = 32 * 1024;

/// Header count and size, and JSON nesting depth (before any parser sees the body).
fn check_limits(request: &http::Request<Bytes>) -> Result<(), RequestError> {
    let headers = request.headers();
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
    if crate::json::too_deep(request.body(), crate::json::MAX_DEPTH) {
        return Err(RequestError::TooDeep(crate::json::MAX_DEPTH));
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
    if request.method() != Method::GET {
        return reply::error(ErrorShape::Admin, &RequestError::MethodNotAllowed.into());
    }
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
    let text = inner.metrics.render(&inner.router.status(), inner.logs.pending(), now);
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

fn client_ip(inner: &Inner, request: &http::Request<Bytes>) -> Option<String> {
    let trust_forwarded_for = inner.config.trust_forwarded_for;
    if !trust_forwarded_for
        && PROXY_HEADERS.iter().any(|h| request.headers().contains_key(*h))
        && !inner.warned_proxy.swap(true, std::sync::atomic::Ordering::Relaxed)
    {
        tracing::warn!(
            "requests arrive through a proxy (X-Forwarded-For), but TRUST_FORWARDED_FOR is off: \
             every client looks like the proxy, so key IP allow-lists see the proxy's address and \
             five bad admin logins from anyone lock every admin out for 15 minutes. Set \
             TRUST_FORWARDED_FOR=true if this proxy is yours."
        );
    }
    if trust_forwarded_for
        && let Some(first) = request
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(',').next())
            .and_then(|v| v.trim().parse::<IpAddr>().ok())
    {
        return Some(first.to_string());
    }
    request.extensions().get::<ClientAddr>().map(|a| a.0.to_string())
}
