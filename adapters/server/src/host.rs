//! The axum side of the gateway, shared by the standalone server and the Lambda function: converts
//! requests for the core, streams its responses back, runs its background work, and serves the
//! static admin UI for every other path.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use gateway_core::{Body, BoxFuture, ClientAddr, Gateway, is_api_path};
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
    pub body_limit: usize,
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
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, app.body_limit).await {
        Ok(bytes) => bytes,
        Err(_) => {
            return to_axum(app.gateway.body_too_large(parts.uri.path(), app.body_limit), None);
        }
    };
    let mut request = http::Request::from_parts(parts, bytes);
    if let (None, Some(ip)) = (request.extensions().get::<ClientAddr>(), peer) {
        request.extensions_mut().insert(ClientAddr(ip));
    }
    let handled = app.gateway.handle(request).await;
    match (&app.background, handled.background) {
        (Background::Tracked(tracker), Some(work)) => {
            tracker.spawn(work);
            to_axum(handled.response, None)
        }
        (Background::InBody, work) => to_axum(handled.response, work),
        (_, None) => to_axum(handled.response, None),
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
