//! The admin API: `/api/auth/*` (sessions) and `/api/admin/*` (JWT required), JSON in and out.

mod catalog;
mod health;
mod keys;
mod logs;
mod models;
mod providers;
mod session;
pub mod settings;
mod users;
use crate::validate;
mod virtual_models;

use bytes::Bytes;
use http::{Method, StatusCode};
use serde::Serialize;

use crate::body::Body;
use crate::error::{GatewayError, RequestError};
use crate::reply;
use crate::state::{Ctx, Inner};

type AdminResult = Result<http::Response<Body>, GatewayError>;

pub(crate) async fn handle(inner: &Inner, ctx: &Ctx, request: http::Request<Bytes>) -> AdminResult {
    let admin = request.uri().path().starts_with("/api/admin/");
    let changes = admin && request.method() != Method::GET;
    let auth = request.headers().get(http::header::AUTHORIZATION).filter(|_| admin).cloned();
    let mut result = dispatch(inner, ctx, request).await;
    // Only a request the token was good for renews it (a revoked or expired one failed above).
    let renewed = auth.as_ref().and_then(|value| session::renewed(inner, value));
    if let (Ok(response), Some(token)) = (&mut result, renewed) {
        if let Ok(value) = http::HeaderValue::from_str(&token) {
            response.headers_mut().insert(session::RENEWED_TOKEN, value);
        }
    }
    if changes {
        // Any admin change (a failed one costs nothing; sessions change nothing cached) may touch
        // a key, model, provider or virtual model: this instance's hot-path caches start over.
        inner.key_cache.clear();
        inner.route_cache.clear();
    }
    result
}

async fn dispatch(inner: &Inner, ctx: &Ctx, request: http::Request<Bytes>) -> AdminResult {
    let (parts, body) = request.into_parts();
    let path = parts.uri.path().trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').skip(2).collect();
    let method = parts.method;
    match segments.as_slice() {
        ["auth", "login"] if method == Method::POST => session::login(inner, ctx, &body).await,
        ["auth", "me"] if method == Method::GET => {
            let user = session::require(inner, &parts.headers).await?;
            Ok(ok(&serde_json::json!({ "user": user })))
        }
        ["auth", "password"] if method == Method::POST => {
            let user = session::require(inner, &parts.headers).await?;
            session::change_password(inner, user, &body).await
        }
        ["auth", "logout"] if method == Method::POST => {
            let user = session::require(inner, &parts.headers).await?;
            inner.store.bump_token_version(&user.id, inner.platform.now_ms()).await?;
            Ok(no_content())
        }
        ["auth", "login" | "me" | "password" | "logout"] => {
            Err(RequestError::MethodNotAllowed.into())
        }
        ["admin", resource, rest @ ..] => {
            let user = session::require(inner, &parts.headers).await?;
            if let ("providers", [id, action]) = (*resource, rest) {
                return providers::action(inner, &method, id, action).await;
            }
            let id = match rest {
                [] => None,
                [id] => Some(*id),
                _ => return Err(RequestError::NotFound(format!("route {path}")).into()),
            };
            let req = Req { method: &method, id, body: &body, query: parts.uri.query() };
            match *resource {
                "providers" => providers::route(inner, req).await,
                "models" => models::route(inner, req).await,
                "keys" => keys::route(inner, req).await,
                "users" => users::route(inner, &user, req).await,
                "logs" => logs::route(inner, req).await,
                "stats" => logs::stats_route(inner, req).await,
                "settings" if req.id.is_none() => {
                    settings::route(inner, req.method, req.body).await
                }
                "virtual-models" => virtual_models::route(inner, req).await,
                "health-targets" => health::route(inner, req).await,
                "catalog" => catalog::route(inner, req).await,
                "routing" => match req.op()? {
                    Op::List => Ok(ok(&serde_json::json!({ "targets": inner.router.status() }))),
                    _ => Err(RequestError::MethodNotAllowed.into()),
                },
                "presets" => match req.op()? {
                    Op::List => Ok(list(crate::presets::PRESETS)),
                    _ => Err(RequestError::MethodNotAllowed.into()),
                },
                _ => Err(RequestError::NotFound(format!("route {path}")).into()),
            }
        }
        _ => Err(RequestError::NotFound(format!("route {path}")).into()),
    }
}

/// One admin request on a resource collection (`id` = None) or item.
pub(crate) struct Req<'a> {
    pub method: &'a Method,
    pub id: Option<&'a str>,
    pub body: &'a [u8],
    pub query: Option<&'a str>,
}

/// Which CRUD operation a request is.
pub(crate) enum Op<'a> {
    List,
    Create,
    Get(&'a str),
    Update(&'a str),
    Delete(&'a str),
}

impl<'a> Req<'a> {
    /// Maps method and id to the CRUD operation, or 405.
    pub fn op(&self) -> Result<Op<'a>, GatewayError> {
        Ok(match (self.method.clone(), self.id) {
            (Method::GET, None) => Op::List,
            (Method::POST, None) => Op::Create,
            (Method::GET, Some(id)) => Op::Get(id),
            (Method::PUT | Method::PATCH, Some(id)) => Op::Update(id),
            (Method::DELETE, Some(id)) => Op::Delete(id),
            _ => return Err(RequestError::MethodNotAllowed.into()),
        })
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
