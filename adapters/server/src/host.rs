//! The axum side of the server: converts requests for the core, streams its responses back,
//! runs its background work on a tracked task, and serves the static admin UI for other paths.

use std::net::SocketAddr;
use std::path::PathBuf;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::response::{IntoResponse, Response};
use gateway_core::{Body, ClientAddr, Gateway, is_api_path};
use tokio_util::task::TaskTracker;
use tower::ServiceExt;
use tower_http::services::ServeDir;

#[derive(Clone)]
pub struct App {
    pub gateway: Gateway,
    pub tracker: TaskTracker,
    pub admin_ui: PathBuf,
    pub body_limit: usize,
}

pub fn router(app: App) -> Router {
    Router::new().fallback(handle).with_state(app)
}

async fn handle(
    State(app): State<App>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
) -> Response {
    if !is_api_path(request.uri().path()) {
        return match ServeDir::new(&app.admin_ui).oneshot(request).await {
            Ok(response) => response.into_response(),
            Err(never) => match never {},
        };
    }
    let (parts, body) = request.into_parts();
    let bytes = match axum::body::to_bytes(body, app.body_limit).await {
        Ok(bytes) => bytes,
        Err(_) => return to_axum(app.gateway.body_too_large(parts.uri.path(), app.body_limit)),
    };
    let mut request = http::Request::from_parts(parts, bytes);
    request.extensions_mut().insert(ClientAddr(peer.ip()));
    let handled = app.gateway.handle(request).await;
    if let Some(background) = handled.background {
        app.tracker.spawn(background);
    }
    to_axum(handled.response)
}

fn to_axum(response: http::Response<Body>) -> Response {
    let (parts, body) = response.into_parts();
    let body = match body {
        Body::Full(bytes) => axum::body::Body::from(bytes),
        Body::Stream(stream) => axum::body::Body::from_stream(stream),
    };
    Response::from_parts(parts, body)
}
