//! The axum side of the gateway, shared by the standalone server and the Lambda function: converts
//! requests for the core, streams its responses back, runs its background work, and serves the
//! static admin UI for every other path.
//!
//! On the server a request whose client hangs up is not cancelled half-way: its handling moves to
//! a tracked task of its own and finishes there, so the request still ends in one log row and
//! releases what it holds (a stream nobody reads is dropped at once, which ends it the same way).

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use gateway_core::{
    Body, BodyBudget, BodyError, BoxFuture, ClientAddr, Gateway, Reserved, Screen, is_api_path,
};
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use tower_http::services::ServeDir;

/// Where a request's background work (log writes, limit settling) runs.
#[derive(Clone)]
pub enum Background {
    /// On a tracked task that shutdown waits for (the long-running server).
    Tracked(TaskTracker),
    /// At the end of the response body, so it finishes before the invocation does (Lambda freezes
    /// the environment once the response has been sent).
    InBody,
}

#[derive(Clone)]
pub struct App {
    pub gateway: Gateway,
    pub background: Background,
    pub admin_ui: PathBuf,
    /// Time a client has to send its whole request body (408 beyond).
    pub body_timeout: std::time::Duration,
}

pub fn router(app: App) -> Router {
    Router::new().fallback(handle).with_state(app)
}

/// The admin UI's files with the UI security headers (`_headers` is the Workers' copy of them, not
/// a page).
async fn static_ui(app: &App, request: Request) -> Response {
    let mut response = if request.uri().path() == "/_headers" {
        http::StatusCode::NOT_FOUND.into_response()
    } else {
        match ServeDir::new(&app.admin_ui).oneshot(request).await {
            Ok(response) => response.into_response(),
            Err(never) => match never {},
        }
    };
    for (name, value) in gateway_core::UI_SECURITY_HEADERS {
        response.headers_mut().insert(name, http::HeaderValue::from_static(value));
    }
    response
}

async fn handle(State(app): State<App>, request: Request) -> Response {
    if !is_api_path(request.uri().path()) {
        return static_ui(&app, request).await;
    }
    let peer = request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let (mut parts, body) = request.into_parts();
    if let (None, Some(ip)) = (parts.extensions.get::<ClientAddr>(), peer) {
        parts.extensions.insert(ClientAddr(ip));
    }
    // Refused by its headers (no key, an unknown or disabled one, no session): answered before
    // a byte of the body is held.
    let limit = match app.gateway.screen(&mut parts).await {
        Screen::Read(limit) => limit,
        Screen::Refuse(handled) => {
            linger(body);
            let mut response = respond(&app, handled);
            // The body the client may still be sending is not read: the connection ends here.
            response
                .headers_mut()
                .insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
            return response;
        }
    };
    let path = parts.uri.path().to_owned();
    // An announced size over the limit is refused before a byte of the body is read.
    let announced = parts
        .headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if announced.is_some_and(|n| n > limit as u64) {
        linger(body);
        let mut response = to_axum(app.gateway.body_error(&path, limit, BodyError::TooLarge), None);
        response
            .headers_mut()
            .insert(http::header::CONNECTION, http::HeaderValue::from_static("close"));
        return response;
    }
    let budget = app.gateway.body_budget();
    let read = tokio::time::timeout(app.body_timeout, read_body(body, limit, &budget, announced));
    let (bytes, held) = match read.await {
        Ok(Ok(read)) => read,
        Ok(Err(why)) => return to_axum(app.gateway.body_error(&path, limit, why), None),
        Err(_) => return to_axum(app.gateway.body_error(&path, limit, BodyError::TimedOut), None),
    };
    let request = http::Request::from_parts(parts, bytes);
    match &app.background {
        Background::Tracked(tracker) => {
            // Handled in place, but if the client hangs up first the handling moves to a task of
            // its own and finishes there; its background work is on the tracker before the
            // answer leaves. The body's share of the budget is held until the answer is ready.
            let (gateway, tasks) = (app.gateway.clone(), tracker.clone());
            let handling = Box::pin(async move {
                let handled = gateway.handle(request).await;
                drop(held);
                if let Some(work) = handled.background {
                    tasks.spawn(work);
                }
                handled.response
            });
            to_axum(Unabandoned { future: Some(handling), tracker: tracker.clone() }.await, None)
        }
        Background::InBody => {
            let handled = app.gateway.handle(request).await;
            drop(held);
            to_axum(handled.response, handled.background)
        }
    }
}

/// A response the core gave without handling a body, with its background work run as the
/// host runs it.
fn respond(app: &App, handled: gateway_core::Handled) -> Response {
    match (&app.background, handled.background) {
        (Background::Tracked(tracker), Some(work)) => {
            tracker.spawn(work);
            to_axum(handled.response, None)
        }
        (_, work) => to_axum(handled.response, work),
    }
}

/// Connections reading out a refused body at once, at most: each holds a read buffer, and a
/// flood of refused callers must not hold many.
const MAX_LINGERING: usize = 32;
static LINGERING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Reads and drops what is left of a refused request's body for a few seconds (a lingering
/// close), so a client still sending it can read the answer instead of meeting a reset
/// connection; nothing is kept, and the connection closes after. Past [`MAX_LINGERING`] such
/// connections the body is dropped at once.
fn linger(body: axum::body::Body) {
    use std::sync::atomic::Ordering;
    if LINGERING.fetch_add(1, Ordering::AcqRel) >= MAX_LINGERING {
        LINGERING.fetch_sub(1, Ordering::AcqRel);
        return;
    }
    tokio::spawn(async move {
        let mut stream = body.into_data_stream();
        let drain = async { while let Some(Ok(_)) = stream.next().await {} };
        let _ = tokio::time::timeout(std::time::Duration::from_secs(5), drain).await;
        LINGERING.fetch_sub(1, Ordering::AcqRel);
    });
}

/// Reads a body of at most `limit` bytes, holding its bytes in `budget` as they arrive (the
/// announced length at once).
async fn read_body(
    body: axum::body::Body,
    limit: usize,
    budget: &std::sync::Arc<BodyBudget>,
    announced: Option<u64>,
) -> Result<(bytes::Bytes, Reserved), BodyError> {
    let mut held = budget.reserve();
    let mut buffer = bytes::BytesMut::new();
    if let Some(n) = announced.and_then(|n| usize::try_from(n).ok()) {
        if !held.grow(n) {
            return Err(BodyError::Busy);
        }
        buffer.reserve(n);
    }
    // Copied, even a body that came in one frame: hyper's frames are slices of its connection's
    // read buffer, and keeping one would keep that whole buffer for the request's life.
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| BodyError::Unreadable(e.to_string()))?;
        let total = buffer.len() + chunk.len();
        if total > limit {
            return Err(BodyError::TooLarge);
        }
        if total > held.bytes() && !held.grow(total - held.bytes()) {
            return Err(BodyError::Busy);
        }
        buffer.extend_from_slice(&chunk);
    }
    Ok((buffer.freeze(), held))
}

/// A future run in place that, dropped before it is done (its client hung up), finishes on a
/// tracked task instead of stopping half-way. Spawning only then keeps the common case free of
/// a task and its cross-thread wake-up per request.
struct Unabandoned<T: Send + 'static> {
    future: Option<futures::future::BoxFuture<'static, T>>,
    tracker: TaskTracker,
}

impl<T: Send + 'static> std::future::Future for Unabandoned<T> {
    type Output = T;

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<T> {
        let Some(future) = self.future.as_mut() else {
            return std::task::Poll::Pending;
        };
        let output = std::task::ready!(future.as_mut().poll(cx));
        self.future = None;
        std::task::Poll::Ready(output)
    }
}

impl<T: Send + 'static> Drop for Unabandoned<T> {
    fn drop(&mut self) {
        let Some(future) = self.future.take() else { return };
        // Outside a runtime (it is shutting down) there is nothing left to finish on.
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            self.tracker.spawn_on(
                async move {
                    drop(future.await);
                },
                &runtime,
            );
        }
    }
}

/// The core's response as axum's; `then` runs after the last body byte is sent.
fn to_axum(response: http::Response<Body>, then: Option<BoxFuture<'static, ()>>) -> Response {
    let (parts, body) = response.into_parts();
    let body = match (body, then) {
        (Body::Full(bytes), None) => axum::body::Body::from(bytes),
        (body, None) => axum::body::Body::from_stream(body.into_stream()),
        (body, Some(work)) => {
            let tail = futures::stream::once(work).filter_map(|()| async { None });
            axum::body::Body::from_stream(body.into_stream().chain(tail))
        }
    };
    Response::from_parts(parts, body)
}
