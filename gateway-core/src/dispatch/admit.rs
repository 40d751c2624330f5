//! What every data-plane route checks first: the caller's virtual key (found through this
//! instance's key cache; 401 when missing or unknown), that it may be used now and from this
//! address (403), and the route its model name leads to (through the route cache; 404).

use std::sync::Arc;

use bytes::Bytes;

use super::inbound;
use super::resolve::resolve;
use crate::auth::{AuthError, vkey};
use crate::error::{GatewayError, RequestError};
use crate::policy;
use crate::routing::Route;
use crate::state::{Ctx, Inner};
use crate::store::keys::VirtualKey;

/// The route for a model name, from this instance's 5-second cache when it can.
pub(super) async fn cached_route(inner: &Inner, name: &str) -> Result<Arc<Route>, GatewayError> {
    let now = inner.platform.now_ms();
    match inner.route_cache.get(name, now) {
        Some(Some(route)) => return Ok(route),
        Some(None) => return Err(RequestError::ModelNotFound(name.to_owned()).into()),
        None => {}
    }
    match resolve(&inner.store, name, inner.config.upstream_timeout).await {
        Ok(route) => {
            let route = Arc::new(route);
            inner.route_cache.put(name, Some(route.clone()), now);
            Ok(route)
        }
        Err(GatewayError::Request(RequestError::ModelNotFound(m))) => {
            inner.route_cache.put(name, None, now);
            Err(RequestError::ModelNotFound(m).into())
        }
        Err(e) => Err(e),
    }
}

/// The caller's key, found and checked from the request's headers before its body was read
/// ([`screen`]): the request's handling does not look it up again.
#[derive(Clone)]
pub(crate) struct Screened(pub Arc<VirtualKey>);

/// What a data-plane request's headers say about its key (what a refusal needs is all in the
/// headers, so a host reads no body for a caller it will refuse).
pub(crate) enum Screening {
    /// Known, and it may be used now from this address.
    Admitted(Arc<VirtualKey>),
    /// Missing, unknown, disabled, expired or not allowed from this address.
    Refused,
    /// Not known yet (the key store failed): the request's handling will say.
    Unsure,
}

/// Screens the key a data-plane request's headers present, for use now from `client_ip`.
pub(crate) async fn screen(
    inner: &Inner,
    headers: &http::HeaderMap,
    uri: &http::Uri,
    client_ip: Option<&str>,
) -> Screening {
    let key = match find_key(inner, headers, uri).await {
        Ok(key) => key,
        Err(GatewayError::Auth(_)) => return Screening::Refused,
        Err(_) => return Screening::Unsure,
    };
    if check_key(&key, inner.platform.now_ms()).is_err() {
        return Screening::Refused;
    }
    match &key.allowed_ips {
        Some(allowed) if !policy::ip_allowed(client_ip, allowed) => Screening::Refused,
        _ => Screening::Admitted(key),
    }
}

/// Finds the caller's virtual key (401 when missing or unknown): the one screened before the
/// body was read, else by its hash.
pub(super) async fn lookup_key(
    inner: &Inner,
    request: &http::Request<Bytes>,
) -> Result<Arc<VirtualKey>, GatewayError> {
    if let Some(Screened(key)) = request.extensions().get::<Screened>() {
        return Ok(key.clone());
    }
    find_key(inner, request.headers(), request.uri()).await
}

async fn find_key(
    inner: &Inner,
    headers: &http::HeaderMap,
    uri: &http::Uri,
) -> Result<Arc<VirtualKey>, GatewayError> {
    let presented = inbound::presented_key(headers, uri).ok_or(AuthError::MissingKey)?;
    let hash = vkey::hash(&presented);
    let now = inner.platform.now_ms();
    let key = match inner.key_cache.get(&hash, now) {
        Some(cached) => cached,
        None => {
            let found = inner.store.key_by_hash(&hash).await?.map(Arc::new);
            inner.key_cache.put(&hash, found.clone(), now);
            found
        }
    };
    Ok(key.ok_or(AuthError::InvalidKey)?)
}

/// Checks a known key may be used now (403 when disabled or expired).
fn check_key(key: &VirtualKey, now_ms: i64) -> Result<(), AuthError> {
    if !key.enabled {
        return Err(AuthError::KeyDisabled);
    }
    if key.expires_at.is_some_and(|t| t <= now_ms) {
        return Err(AuthError::KeyExpired);
    }
    Ok(())
}

/// Checks a known key may be used now, from this client address: what every data-plane route
/// checks after finding the key.
pub(super) fn authorize(inner: &Inner, ctx: &Ctx, key: &VirtualKey) -> Result<(), GatewayError> {
    check_key(key, inner.platform.now_ms())?;
    if let Some(allowed) = &key.allowed_ips
        && !policy::ip_allowed(ctx.client_ip.as_deref(), allowed)
    {
        return Err(AuthError::IpNotAllowed.into());
    }
    Ok(())
}
