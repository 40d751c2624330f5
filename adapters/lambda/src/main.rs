//! `llm-gateway-lambda`: the gateway on AWS Lambda. Behind a Function URL (invoke mode
//! `RESPONSE_STREAM`) it serves the same axum router as the standalone server, with responses
//! streamed as they are produced and each request's background work finished at the end of its
//! response body (Lambda freezes the environment once the response is sent). With
//! `GATEWAY_LAMBDA_MODE=schedule` the same binary handles EventBridge schedule events by running
//! the periodic jobs. Nothing is done at init beyond building the gateway.

use std::path::PathBuf;
use std::sync::Arc;

use gateway_core::{ClientAddr, Config, Deps, Gateway, RawConfig};
use gateway_native::{NativePlatform, ReqwestClient, open_database};
use gateway_server::host::{self, App, Background};
use lambda_http::request::RequestContext;
use lambda_http::{RequestExt, service_fn};

type Error = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .without_time() // CloudWatch stamps every line
        .init();
    let gateway = build().await.map_err(|e| {
        tracing::error!("{e}");
        e
    })?;
    if std::env::var("GATEWAY_LAMBDA_MODE").is_ok_and(|m| m == "schedule") {
        return scheduled(gateway).await;
    }
    let admin_ui = std::env::var("ADMIN_UI_DIR").map_or_else(|_| default_admin_ui(), PathBuf::from);
    let router = host::router(App {
        gateway,
        background: Background::InBody,
        admin_ui,
        // The Function URL has read the whole body before the invocation starts.
        body_timeout: std::time::Duration::from_secs(60),
    });
    // The client address comes from the Function URL's request context.
    let app = tower::ServiceBuilder::new().map_request(|mut request: lambda_http::Request| {
        let ip = match request.request_context_ref() {
            Some(RequestContext::ApiGatewayV2(ctx)) => ctx.http.source_ip.clone(),
            Some(RequestContext::ApiGatewayV1(ctx)) => ctx.identity.source_ip.clone(),
            _ => None,
        };
        if let Some(ip) = ip.and_then(|ip| ip.parse().ok()) {
            request.extensions_mut().insert(ClientAddr(ip));
        }
        request
    });
    lambda_http::run_with_streaming_response(app.service(router)).await
}

async fn build() -> Result<Gateway, String> {
    let config = Config::validate(RawConfig::from_lookup(|name| std::env::var(name).ok()))
        .map_err(|problems| format!("invalid configuration:\n  {}", problems.join("\n  ")))?;
    let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| "/tmp/gateway.db".into());
    let token = std::env::var("DATABASE_AUTH_TOKEN").ok();
    let db = open_database(&url, token.as_deref()).await?;
    let http = ReqwestClient::new().map_err(|e| format!("HTTP client: {e}"))?;
    let limits = gateway_native::limit_store(std::env::var("LIMITS_URL").ok().as_deref())?;
    let deps = Deps {
        http: Arc::new(http),
        db,
        platform: Arc::new(NativePlatform),
        limits,
        flushes_limits: false,
        answers: None,
    };
    Gateway::start(config, deps).await.map_err(|e| format!("start-up failed: {e}"))
}

/// EventBridge schedule events (every minute): a health-check round, and the hourly jobs when due.
async fn scheduled(gateway: Gateway) -> Result<(), Error> {
    lambda_http::lambda_runtime::run(service_fn(
        move |_event: lambda_http::LambdaEvent<serde_json::Value>| {
            let gateway = gateway.clone();
            async move {
                gateway.scheduled().await.map_err(|e| Box::new(e) as Error)?;
                Ok::<_, Error>(serde_json::json!({"ok": true}))
            }
        },
    ))
    .await
}

/// The admin UI packaged next to the binary (`/var/task/admin-ui`), else the checkout's.
fn default_admin_ui() -> PathBuf {
    let packaged = PathBuf::from("/var/task/admin-ui");
    if packaged.is_dir() {
        return packaged;
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../admin-ui"))
}
