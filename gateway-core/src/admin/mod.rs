//! The admin API: `/api/auth/*` (sessions) and `/api/admin/*` (JWT required), JSON in and out.

mod catalog;
mod health;
mod keys;
mod logs;
mod models;
mod providers;
mod session;
pub(crate) use self::session::require;
pub(crate) mod settings;
mod users;
use crate::validate;
mod virtual_models;

use bytes::Bytes;
use http::{Method, StatusCode};
use serde::Serialize;

use crate::body::Body;
use crate::error::{GatewayError, RequestError};
use crate::reply;
use crate::routes::{self, AdminRoute, SessionOp};
use crate::state::{Ctx, Inner};

type AdminResult = Result<http::Response<Body>, GatewayError>;

/// `/api/admin/*`: the caller's session is checked, the row's operation runs, the token is renewed
/// when due, and a change clears this instance's hot-path caches.
pub(crate) async fn handle(
    inner: &Inner,
    route: AdminRoute,
    id: &str,
    request: http::Request<Bytes>,
) -> AdminResult {
    let (parts, body) = request.into_parts();
    let user = session::require(inner, &parts.headers).await?;
    let req = Req { body: &body, query: parts.uri.query() };
    let mut result = resource(inner, &user, route, id, req).await;
    // Only a request the token was good for renews it (a revoked or expired one failed above).
    let renewed = parts
        .headers
        .get(http::header::AUTHORIZATION)
        .and_then(|value| session::renewed(inner, value));
    if let (Ok(response), Some(token)) = (&mut result, renewed) {
        if let Ok(value) = http::HeaderValue::from_str(&token) {
            response.headers_mut().insert(session::RENEWED_TOKEN, value);
        }
    }
    if parts.method != Method::GET {
        // Any admin change (a failed one costs nothing; sessions change nothing cached) may touch
        // a key, model, provider or virtual model: this instance's hot-path caches start over.
        inner.key_cache.clear();
        inner.route_cache.clear();
        inner.router.keyring.clear();
        inner.router.tokens.clear();
    }
    result
}

/// One arm per admin row of the route table.
async fn resource(
    inner: &Inner,
    user: &crate::store::users::User,
    route: AdminRoute,
    id: &str,
    req: Req<'_>,
) -> AdminResult {
    match route {
        AdminRoute::Providers(op) => providers::route(inner, Op::new(op, id), req).await,
        AdminRoute::ProviderTest => providers::test(inner, id).await,
        AdminRoute::ProviderModels => providers::models(inner, id).await,
        AdminRoute::Models(op) => models::route(inner, Op::new(op, id), req).await,
        AdminRoute::ModelsBulk => models::bulk(inner, req.body).await,
        AdminRoute::Keys(op) => keys::route(inner, Op::new(op, id), req).await,
        AdminRoute::Users(op) => users::route(inner, user, op, id, req.body).await,
        AdminRoute::VirtualModels(op) => virtual_models::route(inner, Op::new(op, id), req).await,
        AdminRoute::VirtualModelPreview => virtual_models::preview(inner, req.body),
        AdminRoute::HealthTargets(op) => health::route(inner, Op::new(op, id), req).await,
        AdminRoute::Logs => logs::route(inner, req.query).await,
        AdminRoute::Stats => logs::stats_route(inner, req.query).await,
        AdminRoute::Settings(op) => settings::route(inner, op, req.body).await,
        AdminRoute::Routing => Ok(ok(&serde_json::json!({ "targets": inner.router.status() }))),
        AdminRoute::Presets => Ok(list(crate::presets::PRESETS)),
        AdminRoute::Catalog(op) => catalog::route(inner, op, req).await,
    }
}

/// `/api/auth/*`: sessions.
pub(crate) async fn session(
    inner: &Inner,
    ctx: &Ctx,
    op: SessionOp,
    request: http::Request<Bytes>,
) -> AdminResult {
    let (parts, body) = request.into_parts();
    if op == SessionOp::Login {
        return session::login(inner, ctx, &body).await;
    }
    let user = session::require(inner, &parts.headers).await?;
    match op {
        SessionOp::Login | SessionOp::Me => Ok(ok(&serde_json::json!({ "user": user }))),
        SessionOp::Password => session::change_password(inner, user, &body).await,
        SessionOp::Logout => {
            inner.store.bump_token_version(&user.id, inner.platform.now_ms()).await?;
            Ok(no_content())
        }
    }
}

/// The body and query of an admin request.
pub(crate) struct Req<'a> {
    pub body: &'a [u8],
    pub query: Option<&'a str>,
}

/// Which CRUD operation a request is, with the item's id.
pub(crate) enum Op<'a> {
    List,
    Create,
    Get(&'a str),
    Update(&'a str),
    Delete(&'a str),
}

impl<'a> Op<'a> {
    /// The operation a row names, on the item `id` its path holds.
    fn new(op: routes::Op, id: &'a str) -> Self {
        match op {
            routes::Op::List => Op::List,
            routes::Op::Create => Op::Create,
            routes::Op::Get => Op::Get(id),
            routes::Op::Update => Op::Update(id),
            routes::Op::Delete => Op::Delete(id),
        }
    }
}

pub(crate) fn ok<T: Serialize + ?Sized>(value: &T) -> http::Response<Body> {
    reply::json(StatusCode::OK, value)
}

pub(crate) fn created<T: Serialize + ?Sized>(value: &T) -> http::Response<Body> {
    reply::json(StatusCode::CREATED, value)
}

pub(crate) fn no_content() -> http::Response<Body> {
    let mut response = http::Response::new(Body::empty());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

pub(crate) fn list<T: Serialize>(items: &[T]) -> http::Response<Body> {
    ok(&serde_json::json!({ "data": items }))
}

/// A list with the stored rows that could not be read (`skipped`, only when there are any).
pub(crate) fn listed<T: Serialize>(
    items: &[T],
    skipped: &[crate::store::Skipped],
) -> http::Response<Body> {
    if skipped.is_empty() {
        return list(items);
    }
    ok(&serde_json::json!({ "data": items, "skipped": skipped }))
}

/// 404 for a missing item of `what`.
pub(crate) fn not_found(what: &str, id: &str) -> GatewayError {
    RequestError::NotFound(format!("{what} {id}")).into()
}

/// Turns a UNIQUE violation into a 409 with `message`; other store errors pass through.
pub(crate) fn conflict(
    message: impl Into<String>,
) -> impl FnOnce(crate::store::StoreError) -> GatewayError {
    let message = message.into();
    move |e| {
        if e.is_constraint() { RequestError::Conflict(message).into() } else { e.into() }
    }
}
