//! Admin sessions: login (throttled per IP), the session check every admin route runs, password change.

use serde::Deserialize;

use super::validate;
use super::{AdminResult, ok};
use crate::auth::jwt::Session;
use crate::auth::{AuthError, password};
use crate::error::{GatewayError, RequestError};
use crate::state::{Ctx, Inner};
use crate::store::users::User;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Login {
    username: String,
    password: String,
}

pub(super) async fn login(inner: &Inner, ctx: &Ctx, body: &[u8]) -> AdminResult {
    let input: Login = validate::body(body)?;
    let ip = ctx.client_ip.as_deref().unwrap_or("unknown");
    let now = inner.platform.now_ms();
    // Counted before the (slow) password check, so concurrent guesses cannot slip past the limit.
    inner.login_limiter.begin(ip, now)?;
    let user = inner.store.user_by_username(&input.username).await?;
    let stored = user.as_ref().map(|u| u.password_hash.as_str());
    if !inner.hasher.verify(inner.platform.as_ref(), &input.password, stored).await {
        tracing::warn!(ip, "failed admin login");
        return Err(AuthError::BadCredentials.into());
    }
    inner.login_limiter.record_success(ip);
    let user = user.ok_or(AuthError::BadCredentials)?;
    issue(inner, user)
}

fn issue(inner: &Inner, user: User) -> AdminResult {
    let now_secs = (inner.platform.now_ms() / 1000).max(0) as u64;
    let session = Session { uid: user.id.clone(), ver: user.token_version };
    let (token, expires_at) = inner.signer.issue(session, now_secs)?;
    Ok(ok(&serde_json::json!({
        "token": token,
        "token_type": "Bearer",
        "expires_at": expires_at,
        "user": user,
    })))
}

/// Response header carrying a renewed session token (see `renewed`).
pub(crate) const RENEWED_TOKEN: &str = "x-session-token";

/// Sessions are renewed on activity: a valid token older than half its lifetime gets a fresh one
/// (same user, same token version, so logout still revokes both), which the admin UI swaps in. An
/// admin who keeps working is never logged out; one who stops is after 12 hours.
pub(crate) fn renewed(inner: &Inner, authorization: &http::HeaderValue) -> Option<String> {
    let token = bearer(authorization)?;
    let now_secs = (inner.platform.now_ms() / 1000).max(0) as u64;
    let (session, issued) = inner.signer.verify_issued(token, now_secs).ok()?;
    if now_secs.saturating_sub(issued) < crate::auth::jwt::TOKEN_TTL_SECS / 2 {
        return None;
    }
    inner.signer.issue(session, now_secs).ok().map(|(token, _)| token)
}

fn bearer(authorization: &http::HeaderValue) -> Option<&str> {
    authorization
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// The user behind the request's bearer token; revoked and expired tokens are refused.
pub(crate) async fn require(
    inner: &Inner,
    headers: &http::HeaderMap,
) -> Result<User, GatewayError> {
    let token =
        headers.get(http::header::AUTHORIZATION).and_then(bearer).ok_or(AuthError::MissingToken)?;
    let now_secs = (inner.platform.now_ms() / 1000).max(0) as u64;
    let session = inner.signer.verify(token, now_secs)?;
    let user = inner.store.user_by_id(&session.uid).await?.ok_or(AuthError::InvalidToken)?;
    if user.token_version != session.ver {
        return Err(AuthError::InvalidToken.into());
    }
    Ok(user)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PasswordChange {
    current_password: String,
    new_password: String,
}

/// Changes the caller's password, revokes their other sessions and returns a fresh token.
pub(super) async fn change_password(inner: &Inner, user: User, body: &[u8]) -> AdminResult {
    let input: PasswordChange = validate::body(body)?;
    let stored = Some(user.password_hash.as_str());
    if !inner.hasher.verify(inner.platform.as_ref(), &input.current_password, stored).await {
        return Err(RequestError::field("current_password", "current password is wrong").into());
    }
    password::check_strength(&input.new_password)
        .map_err(|m| RequestError::field("new_password", m))?;
    let hash = hash_new(inner, &input.new_password).await?;
    inner.store.set_password(&user.id, &hash, inner.platform.now_ms()).await?;
    let user = inner.store.user_by_id(&user.id).await?.ok_or(AuthError::InvalidToken)?;
    issue(inner, user)
}

/// Hashes a new password with a fresh salt (off the request path).
pub(super) async fn hash_new(inner: &Inner, password_text: &str) -> Result<String, GatewayError> {
    let mut salt = [0u8; password::SALT_LEN];
    inner.platform.random_bytes(&mut salt);
    inner
        .hasher
        .hash(inner.platform.as_ref(), password_text, salt)
        .await
        .map_err(|e| crate::crypto::CryptoError::PasswordHash(e).into())
}
