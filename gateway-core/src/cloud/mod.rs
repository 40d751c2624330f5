//! Cloud providers' own ways in: credentials exchanged for short-lived bearer tokens (a Google
//! service account for Vertex AI, an Azure Entra ID application), and the request shapes of
//! Anthropic on Vertex (`rawPredict`) and of Azure OpenAI deployments (`api-version`).
//!
//! Tokens are kept per instance until five minutes before they expire. One request at a time
//! refreshes a credential's token; the others keep using the old one while it is valid, or wait
//! for the new one when there is none — except on wasm, where a request waiting on another
//! request's IO is cancelled as hung, so there a request with no valid token fetches its own.

mod azure;
mod google;
pub(crate) mod sigv4;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use serde::Deserialize;

use crate::io::{HttpClient, Platform, TransportError};
use crate::provider::{AuthScheme, Provider};
use crate::upstream::{ExchangeError, UpstreamError, read_body_within};

/// A token is refreshed this long before it expires.
const REFRESH_BEFORE_MS: i64 = 5 * 60 * 1000;
/// A token exchange gets this long; a refresh marked longer ago is taken as lost.
const EXCHANGE_TIMEOUT: Duration = Duration::from_secs(20);

/// Checks a credential given for `scheme` and returns what is sealed: a key as given (trimmed),
/// or the JSON document of a token scheme once it parses (a service account whose private key
/// opens, an Entra ID application with its tenant, client id and secret).
pub(crate) fn check_credential(scheme: AuthScheme, text: &str) -> Result<String, String> {
    let text = text.trim();
    match scheme {
        AuthScheme::GoogleServiceAccount => google::ServiceAccount::parse(text).map(|_| ()),
        AuthScheme::AzureEntra => azure::Application::parse(text).map(|_| ()),
        AuthScheme::AwsSigv4 => sigv4::AwsKey::parse(text).map(|_| ()),
        _ => {
            let visible = http::HeaderValue::from_str(text).is_ok();
            if text.is_empty() || text.len() > 8192 || !visible {
                return Err("api_key must be 1 to 8192 visible characters".into());
            }
            Ok(())
        }
    }?;
    Ok(text.to_owned())
}

/// Bearer tokens this instance holds, by credential.
#[derive(Default)]
pub(crate) struct Tokens {
    cached: Mutex<HashMap<String, Cached>>,
    #[cfg(not(target_arch = "wasm32"))]
    gates: Mutex<HashMap<String, Arc<futures::lock::Mutex<()>>>>,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Tokens(***)")
    }
}

#[derive(Default)]
struct Cached {
    token: Option<(Arc<str>, i64)>,
    /// When a refresh started, while one is under way (wasm, which has no gate to hold).
    refreshing: Option<i64>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Tokens {
    /// Forgets every token (admin changes: a credential may have been replaced).
    pub(crate) fn clear(&self) {
        lock(&self.cached).clear();
    }

    /// Forgets one credential's token (the service refused it).
    pub(crate) fn forget(&self, key: &str) {
        if let Some(entry) = lock(&self.cached).get_mut(key) {
            entry.token = None;
        }
    }

    /// A token valid at `now` and until at least `margin` ms later.
    fn token(&self, key: &str, now: i64, margin: i64) -> Option<Arc<str>> {
        let cached = lock(&self.cached);
        let (token, expires) = cached.get(key)?.token.as_ref()?;
        (now < expires - margin).then(|| token.clone())
    }

    /// A token not due for refresh.
    pub(crate) fn fresh(&self, key: &str, now: i64) -> Option<Arc<str>> {
        self.token(key, now, REFRESH_BEFORE_MS)
    }

    /// A token still valid (due for refresh or not).
    fn valid(&self, key: &str, now: i64) -> Option<Arc<str>> {
        self.token(key, now, 0)
    }

    /// Marks a refresh as started; false when another is under way (and not lost).
    #[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
    fn begin(&self, key: &str, now: i64) -> bool {
        let lost = i64::try_from(EXCHANGE_TIMEOUT.as_millis()).unwrap_or(i64::MAX);
        let mut cached = lock(&self.cached);
        let entry = cached.entry(key.to_owned()).or_default();
        if entry.refreshing.is_some_and(|since| now - since < lost) {
            return false;
        }
        entry.refreshing = Some(now);
        true
    }

    /// Ends a refresh, keeping its token when it got one.
    fn settle(&self, key: &str, token: Option<(Arc<str>, i64)>) {
        let mut cached = lock(&self.cached);
        let entry = cached.entry(key.to_owned()).or_default();
        entry.refreshing = None;
        if token.is_some() {
            entry.token = token;
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    fn gate(&self, key: &str) -> Arc<futures::lock::Mutex<()>> {
        lock(&self.gates).entry(key.to_owned()).or_default().clone()
    }
}

impl Tokens {
    /// A bearer token for the credential `key` of token scheme `scheme` (`secret` is the opened
    /// credential): the cached one while fresh, else one request's exchange (see the module doc).
    pub(crate) async fn refreshed(
        &self,
        http: &dyn HttpClient,
        platform: &dyn Platform,
        scheme: AuthScheme,
        key: &str,
        secret: String,
    ) -> Result<String, ExchangeError> {
        let now = platform.now_ms();
        if let Some(token) = self.fresh(key, now) {
            return Ok(token.to_string());
        }
        // One request refreshes; the others use the current token while it is valid, or wait
        // for the new one (native) when there is none.
        #[cfg(not(target_arch = "wasm32"))]
        let gate = self.gate(key);
        #[cfg(not(target_arch = "wasm32"))]
        let _held = match gate.try_lock() {
            Some(held) => held,
            None => {
                if let Some(token) = self.valid(key, now) {
                    return Ok(token.to_string());
                }
                let held = gate.lock().await;
                if let Some(token) = self.fresh(key, platform.now_ms()) {
                    return Ok(token.to_string());
                }
                held
            }
        };
        #[cfg(target_arch = "wasm32")]
        if !self.begin(key, now) {
            if let Some(token) = self.valid(key, now) {
                return Ok(token.to_string());
            }
        }
        // The token endpoint's words may repeat the credential: scrubbed before they go anywhere.
        let redactor =
            crate::redact::Redactor::new(crate::redact::Redactor::credential_secrets(&secret));
        let exchanged = exchange(http, platform, scheme, &secret).await.map_err(|e| match e {
            ExchangeError::Upstream(u) => ExchangeError::Upstream(u.redacted(&redactor)),
            other => other,
        });
        match exchanged {
            Ok((token, expires_ms)) => {
                let token: Arc<str> = token.into();
                self.settle(key, Some((token.clone(), expires_ms)));
                Ok(token.to_string())
            }
            Err(e) => {
                self.settle(key, None);
                match self.valid(key, platform.now_ms()) {
                    Some(token) => {
                        tracing::warn!(credential = %key, error = %e, "token refresh failed; the current token is still valid");
                        Ok(token.to_string())
                    }
                    None => Err(e),
                }
            }
        }
    }
}

/// A token endpoint's answer (OAuth 2.0, RFC 6749 §5.1).
#[derive(Deserialize)]
struct Issued {
    access_token: String,
    expires_in: Option<i64>,
}

/// Exchanges `secret` (the credential's JSON) for a bearer token and when it expires (ms).
async fn exchange(
    http: &dyn HttpClient,
    platform: &dyn Platform,
    scheme: AuthScheme,
    secret: &str,
) -> Result<(String, i64), ExchangeError> {
    let now = platform.now_ms();
    let refused = |message: String| UpstreamError::Auth { status: 401, message };
    let request = match scheme {
        AuthScheme::GoogleServiceAccount => {
            let account = google::ServiceAccount::parse(secret).map_err(refused)?;
            account.token_request(now / 1000).map_err(refused)?
        }
        AuthScheme::AzureEntra => {
            azure::Application::parse(secret).map_err(refused)?.token_request()
        }
        _ => return Ok((secret.to_owned(), i64::MAX)),
    };
    let request = request.map_err(|e| TransportError::InvalidRequest(e.to_string()))?;
    let response = http.send(request, EXCHANGE_TIMEOUT).await?;
    let (parts, body) = response.into_parts();
    let bytes = read_body_within(body, 64 << 10, platform, EXCHANGE_TIMEOUT).await?;
    let status = parts.status.as_u16();
    if !parts.status.is_success() {
        let message = format!("the token exchange was refused: {}", oauth_error(&bytes));
        return Err(match status {
            400..=499 => UpstreamError::Auth { status, message },
            _ => UpstreamError::Server { status, message },
        }
        .into());
    }
    let issued: Issued = serde_json::from_slice(&bytes).map_err(|e| {
        UpstreamError::InvalidResponse(format!("the token endpoint's answer has no token: {e}"))
    })?;
    let lifetime_ms = issued.expires_in.unwrap_or(3600).clamp(60, 86_400) * 1000;
    Ok((issued.access_token, now + lifetime_ms))
}

/// An OAuth error body's `error` and `error_description`, else the body's start.
fn oauth_error(body: &[u8]) -> String {
    let value: serde_json::Value = serde_json::from_slice(body).unwrap_or_default();
    let field = |name: &str| value.get(name).and_then(|v| v.as_str());
    match (field("error"), field("error_description")) {
        (Some(error), Some(description)) => format!("{error}: {description}"),
        (Some(error), None) => error.to_owned(),
        _ => String::from_utf8_lossy(body).chars().take(300).collect(),
    }
}

/// `application/x-www-form-urlencoded` pairs.
fn form(pairs: &[(&str, &str)]) -> Bytes {
    let encoded: Vec<String> = pairs
        .iter()
        .map(|(k, v)| {
            format!("{}={}", crate::query::percent_encode(k), crate::query::percent_encode(v))
        })
        .collect();
    Bytes::from(encoded.join("&"))
}

/// Signs `request` when `provider` signs its requests (SigV4, Bedrock), with `secret` (the
/// opened credential); a credential that cannot sign is the provider's auth error.
pub(crate) fn sign(
    provider: &Provider,
    secret: Option<&str>,
    request: &mut http::Request<Bytes>,
    now_ms: i64,
) -> Result<(), UpstreamError> {
    if provider.auth_scheme != AuthScheme::AwsSigv4 {
        return Ok(());
    }
    let refused = |message: String| UpstreamError::Auth { status: 401, message };
    let key = sigv4::AwsKey::parse(secret.unwrap_or_default()).map_err(refused)?;
    sigv4::sign(request, &key, now_ms).map_err(refused)
}

/// The path a request to `model` takes on `provider` when its cloud names things differently
/// from the protocol's reference: Claude on Vertex AI names the model and the streaming in the path
/// (`:rawPredict`, `:streamRawPredict`; its body already has `anthropic_version` instead of the
/// model, see `Fit::vertex`); Azure OpenAI deployments name the deployment in the path (the
/// Responses API excepted) and want `api-version`.
pub(crate) fn shape(provider: &Provider, model: &str, stream: bool, path: String) -> String {
    if provider.vertex_anthropic() {
        match path.as_str() {
            "/messages" => {
                let verb = if stream { "streamRawPredict" } else { "rawPredict" };
                return format!("/models/{model}:{verb}");
            }
            "/messages/count_tokens" => return "/models/count-tokens:rawPredict".into(),
            _ => {}
        }
    }
    if let Some(version) = provider.quirks.api_version.as_deref() {
        // Every OpenAI endpoint lives under the deployment but the Responses API.
        let path = match path.starts_with("/responses") {
            false => format!("/deployments/{}{path}", crate::query::percent_encode(model)),
            true => path,
        };
        let join = if path.contains('?') { '&' } else { '?' };
        return format!("{path}{join}api-version={}", crate::query::percent_encode(version));
    }
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_fresh_until_five_minutes_before_expiry_and_valid_until_it() {
        let tokens = Tokens::default();
        assert!(tokens.fresh("k", 0).is_none());
        assert!(tokens.begin("k", 0), "the first refresh starts");
        assert!(!tokens.begin("k", 1), "a second one waits for it");
        tokens.settle("k", Some(("t1".into(), 3_600_000)));
        let due = 3_600_000 - REFRESH_BEFORE_MS;
        assert_eq!(tokens.fresh("k", due - 1).as_deref(), Some("t1"));
        assert!(tokens.fresh("k", due).is_none(), "due for refresh");
        assert_eq!(tokens.valid("k", 3_599_999).as_deref(), Some("t1"), "but still usable");
        assert!(tokens.valid("k", 3_600_000).is_none());
        // A failed refresh keeps the old token; a lost one (no settle) is retried after the
        // exchange timeout.
        assert!(tokens.begin("k", due));
        tokens.settle("k", None);
        assert_eq!(tokens.valid("k", due).as_deref(), Some("t1"));
        assert!(tokens.begin("k", due));
        assert!(!tokens.begin("k", due + 19_999));
        assert!(tokens.begin("k", due + 20_000));
        tokens.clear();
        assert!(tokens.valid("k", 0).is_none());
    }
}
