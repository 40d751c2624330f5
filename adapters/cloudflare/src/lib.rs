//! The gateway on Cloudflare Workers: the `fetch` handler hands requests to the core and streams
//! its responses back, background work goes to `wait_until`, and the `scheduled` handler (a Cron
//! Trigger) runs the periodic jobs. Storage is D1 (the `DB` binding) or Turso over Hrana when
//! `DATABASE_URL` is set; key limits are in the database too, or in Durable Objects when
//! `LIMITS_URL = "do://KEY_LIMITS"` (`limits.rs`); the response cache is in the Cache API unless
//! `CACHE_STORE` says otherwise (`answers.rs`). The admin UI is served by Workers static
//! assets. Nothing here panics: a panic would kill the isolate.

// The core takes its IO objects as `Arc`s; on wasm they are not Send (one thread per isolate).
#![allow(clippy::arc_with_non_send_sync)]

mod answers;
mod d1;
mod http;
mod limits;
mod platform;

use std::cell::RefCell;
use std::sync::Arc;

use futures::StreamExt;
use gateway_core::hrana::HranaExec;
use gateway_core::{
    Body, BodyError, ClientAddr, Config, Deps, Gateway, HttpClient, LimitStore, RawConfig, Screen,
    Secret, SqlExec,
};
use worker::{Context, Env, HttpRequest, ScheduleContext, ScheduledEvent, event};

thread_local! {
    /// One gateway per isolate, built by the first request.
    static GATEWAY: RefCell<Option<Gateway>> = const { RefCell::new(None) };
}

fn lookup(env: &Env, name: &str) -> Option<String> {
    env.secret(name)
        .ok()
        .map(|s| s.to_string())
        .or_else(|| env.var(name).ok().map(|v| v.to_string()))
}

async fn gateway(env: &Env) -> Result<Gateway, String> {
    if let Some(g) = GATEWAY.with(|g| g.borrow().clone()) {
        return Ok(g);
    }
    // The response cache defaults to the Cache API here.
    let setting = |name: &str| match lookup(env, name) {
        None if name == "CACHE_STORE" => Some("workers".to_owned()),
        value => value,
    };
    let config = Config::validate(RawConfig::from_lookup(setting))
        .map_err(|problems| format!("invalid configuration: {}", problems.join("; ")))?;
    let http: Arc<dyn HttpClient> = Arc::new(http::FetchClient);
    let db: Arc<dyn SqlExec> = match lookup(env, "DATABASE_URL") {
        Some(url) => Arc::new(HranaExec::new(
            http.clone(),
            &url,
            lookup(env, "DATABASE_AUTH_TOKEN").map(Secret::new),
        )),
        None => Arc::new(d1::D1Exec::new(
            env.d1("DB").map_err(|e| format!("no DATABASE_URL and no D1 binding DB: {e}"))?,
        )),
    };
    // Key limits in the database unless `LIMITS_URL` names a Durable Object binding.
    let limits = match lookup(env, "LIMITS_URL") {
        Some(url) => Some(Arc::new(limits::DoLimits::from_url(env, &url)?) as Arc<dyn LimitStore>),
        None => None,
    };
    let deps = Deps {
        http,
        db,
        platform: Arc::new(platform::WorkerPlatform),
        limits,
        flushes_limits: false,
        answers: Some(Arc::new(answers::WorkersAnswers)),
    };
    let gateway =
        Gateway::start(config, deps).await.map_err(|e| format!("start-up failed: {e}"))?;
    GATEWAY.with(|g| *g.borrow_mut() = Some(gateway.clone()));
    Ok(gateway)
}

fn text(status: u16, message: &str) -> ::http::Response<worker::Body> {
    let bytes = message.as_bytes().to_vec();
    let body =
        worker::Body::from_stream(futures::stream::once(
            async move { Ok::<Vec<u8>, String>(bytes) },
        ));
    let mut response = ::http::Response::new(body.unwrap_or_else(|_| worker::Body::empty()));
    *response.status_mut() =
        ::http::StatusCode::from_u16(status).unwrap_or(::http::StatusCode::INTERNAL_SERVER_ERROR);
    response
}

/// Refused bodies up to this size are drained before the answer, for at most
/// `DRAIN_FIRST_FOR` (see `fetch`).
const DRAINED_FIRST: usize = 1 << 20;
const DRAIN_FIRST_FOR: std::time::Duration = std::time::Duration::from_secs(2);

#[event(fetch)]
async fn fetch(
    request: HttpRequest,
    env: Env,
    ctx: Context,
) -> worker::Result<::http::Response<worker::Body>> {
    let gateway = match gateway(&env).await {
        Ok(g) => g,
        Err(problem) => {
            worker::console_error!("{problem}");
            return Ok(text(500, "the gateway could not start; see the Worker's logs"));
        }
    };
    let (mut parts, body) = request.into_parts();
    if let Some(ip) = parts
        .headers
        .get("cf-connecting-ip")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
    {
        parts.extensions.insert(ClientAddr(ip));
    }
    // A caller refused by its headers never has its body held in the isolate: it is read and
    // dropped chunk by chunk (workerd breaks the connection's next request when a body is left
    // unread) — before the answer when it says it is small (for two seconds at most), so the
    // connection is clean when the client reuses it; else in the background, the answer at once.
    let limit = match gateway.screen(&mut parts).await {
        Screen::Read(limit) => limit,
        Screen::Refuse(handled) => {
            if let Some(work) = handled.background {
                ctx.wait_until(work);
            }
            let cap = gateway.body_budget().capacity();
            let small = parts
                .headers
                .get(::http::header::CONTENT_LENGTH)
                .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
                .is_some_and(|n| n <= DRAINED_FIRST);
            let drain = Box::pin(async move {
                let mut body = std::pin::pin!(body);
                let mut read = 0usize;
                while read <= cap {
                    match http_body_util::BodyExt::frame(&mut body).await {
                        Some(Ok(frame)) => {
                            read += frame.data_ref().map_or(0, |d| d.len());
                        }
                        _ => break,
                    }
                }
            });
            if small {
                // A client that announces a small body and then stalls still gets its answer.
                let deadline = Box::pin(worker::Delay::from(DRAIN_FIRST_FOR));
                if let futures::future::Either::Right((_, rest)) =
                    futures::future::select(drain, deadline).await
                {
                    ctx.wait_until(rest);
                }
            } else {
                ctx.wait_until(drain);
            }
            return Ok(to_worker(handled.response));
        }
    };
    let limited = http_body_util::Limited::new(body, limit);
    let bytes = match http_body_util::BodyExt::collect(limited).await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => {
            let response = gateway.body_error(parts.uri.path(), limit, BodyError::TooLarge);
            return Ok(to_worker(response));
        }
        Err(e) => {
            let why = BodyError::Unreadable(e.to_string());
            return Ok(to_worker(gateway.body_error(parts.uri.path(), limit, why)));
        }
    };
    let request = ::http::Request::from_parts(parts, bytes);
    let handled = gateway.handle(request).await;
    if let Some(work) = handled.background {
        ctx.wait_until(work);
    }
    Ok(to_worker(handled.response))
}

fn to_worker(response: ::http::Response<Body>) -> ::http::Response<worker::Body> {
    let (parts, body) = response.into_parts();
    let body = match body {
        Body::Full(bytes) if bytes.is_empty() => worker::Body::empty(),
        body => {
            worker::Body::from_stream(body.into_stream().map(|chunk| chunk.map(|b| b.to_vec())))
                .unwrap_or_else(|_| worker::Body::empty())
        }
    };
    ::http::Response::from_parts(parts, body)
}

#[event(scheduled)]
async fn scheduled(_event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    match gateway(&env).await {
        Ok(g) => {
            if let Err(e) = g.scheduled().await {
                worker::console_error!("scheduled jobs failed: {e}");
            }
        }
        Err(problem) => worker::console_error!("{problem}"),
    }
}
