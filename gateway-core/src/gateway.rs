//! The gateway: built once per process (or isolate) from a config and the host's IO, then asked
//! to handle requests. Routes each request to the data plane, the admin API or liveness.

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderValue, Method};

use crate::auth::jwt::Signer;
use crate::auth::limiter::LoginLimiter;
use crate::body::Handled;
use crate::config::Config;
use crate::crypto::Sealer;
use crate::error::{GatewayError, RequestError};
use crate::io::{HttpClient, Platform, SqlExec};
use crate::provider::Protocol;
use crate::reply::{self, ErrorShape};
use crate::store::{Store, StoreError};
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

/// Why the gateway could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("database: {0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Bootstrap(String),
}

pub(crate) struct Inner {
    pub config: Config,
    pub store: Store,
    pub http: Arc<dyn HttpClient>,
    pub platform: Arc<dyn Platform>,
    pub signer: Signer,
    pub sealer: Sealer,
    pub login_limiter: LoginLimiter,
    pub router: crate::routing::Router,
    pub key_cache: crate::keycache::KeyCache,
    pub logs: Arc<crate::logqueue::LogQueue>,
    pub public_limiter: crate::health::public::PublicLimiter,
}

/// Per-request facts every handler may need.
pub(crate) struct Ctx {
    pub request_id: String,
    pub started_ms: i64,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
}

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
    const EXACT: [&str; 7] = [
        "/healthz",
        "/metrics",
        "/chat/completions",
        "/responses",
        "/messages",
        "/models",
        "/embeddings",
    ];
    PREFIXES.iter().any(|p| path.starts_with(p)) || EXACT.contains(&path)
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
                logs: Arc::default(),
                public_limiter: crate::health::public::PublicLimiter::default(),
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
            client_ip: client_ip(&request, inner.config.trust_forwarded_for),
            user_agent: request
                .headers()
                .get(http::header::USER_AGENT)
                .and_then(|v| v.to_str().ok())
                .map(|s| s.chars().take(256).collect()),
        };
        let mut handled = self.route(&ctx, request).await;
        if let Ok(value) = HeaderValue::from_str(&ctx.request_id) {
            handled.response.headers_mut().insert("x-request-id", value);
        }
        handled
    }

    /// Periodic upkeep, run by each host's scheduler (hourly on the server, the Cron Trigger on
    /// Workers): daily rollups of the request logs, deletion of logs past the retention setting
    /// (default 30 days), and of expired limit windows and leases.
    pub async fn maintenance(&self) -> Result<(), StoreError> {
        let inner = &self.inner;
        let now = inner.platform.now_ms();
        let days = inner
            .store
            .setting(crate::admin::settings::LOG_RETENTION_DAYS)
            .await?
            .and_then(|v| v.parse::<i64>().ok())
            .unwrap_or(crate::admin::settings::DEFAULT_RETENTION_DAYS);
        const DAY: i64 = 86_400_000;
        let today = now.div_euclid(DAY) * DAY;
        let deleted = inner.store.roll_up_and_prune(today, now - days * DAY).await?;
        inner.store.prune_usage(now - 40 * DAY, now).await?;
        inner
            .store
            .put_setting(crate::admin::settings::LAST_MAINTENANCE, &now.to_string(), now)
            .await?;
        tracing::info!(deleted, retention_days = days, "maintenance done");
        Ok(())
    }

    /// How many request logs wait to be written (hosts may report it before exiting).
    pub fn pending_logs(&self) -> usize {
        self.inner.logs.pending()
    }

    /// The response for a request whose body the host refused to read past `limit` bytes,
    /// rendered in the protocol the path speaks.
    pub fn body_too_large(&self, path: &str, limit: usize) -> http::Response<crate::body::Body> {
        let data_path = path.strip_prefix("/v1").unwrap_or(path);
        let shape = if path.starts_with("/api/") {
            ErrorShape::Admin
        } else if data_path.starts_with("/messages") {
            ErrorShape::Anthropic
        } else {
            ErrorShape::OpenAi
        };
        reply::error(shape, &RequestError::BodyTooLarge(limit).into())
    }

    pub(crate) fn inner(&self) -> &Inner {
        &self.inner
    }

    async fn route(&self, ctx: &Ctx, request: http::Request<Bytes>) -> Handled {
        let inner = &self.inner;
        let path = request.uri().path().to_owned();
        if path.starts_with("/public/health/") && request.method() == Method::GET {
            let query = request.uri().query();
            let response =
                crate::health::public::handle(inner, &path, query, ctx.client_ip.as_deref()).await;
            return Handled::now(response);
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
        let data_path = path.strip_prefix("/v1").unwrap_or(&path);
        let method = request.method().clone();
        let inbound = match data_path {
            "/chat/completions" => Some(Protocol::OpenaiChat),
            "/responses" => Some(Protocol::OpenaiResponses),
            "/messages" => Some(Protocol::AnthropicMessages),
            _ => None,
        };
        match (inbound, data_path, method) {
            (Some(protocol), _, Method::POST) => {
                dispatch::forward(inner, ctx, request, protocol).await
            }
            (None, "/models", Method::GET) => dispatch::list_models(inner, request).await,
            (Some(protocol), _, _) => {
                not_handled(ctx, dispatch::error_shape(protocol), RequestError::MethodNotAllowed)
            }
            (None, "/models", _) => {
                not_handled(ctx, ErrorShape::OpenAi, RequestError::MethodNotAllowed)
            }
            _ => not_handled(
                ctx,
                ErrorShape::OpenAi,
                RequestError::NotFound(format!("route {path}")),
            ),
        }
    }
}

fn not_handled(ctx: &Ctx, shape: ErrorShape, err: RequestError) -> Handled {
    let err = GatewayError::from(err);
    log_internal(ctx, &err);
    Handled::now(reply::error(shape, &err))
}

/// Internal failures are logged with their details, which the caller never sees.
pub(crate) fn log_internal(ctx: &Ctx, err: &GatewayError) {
    if err.status().is_server_error() {
        tracing::error!(request_id = %ctx.request_id, kind = err.kind(), error = %err, "request failed");
    }
}

fn client_ip(request: &http::Request<Bytes>, trust_forwarded_for: bool) -> Option<String> {
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
