//! What every handler shares: the per-process state (`Inner`: config, store, IO, caches, the
//! router, limiters, the log queue, metrics) and the per-request facts (`Ctx`). Below the handlers
//! and above the domain modules, so handlers depend on it and never on `gateway.rs`.

use std::sync::Arc;

use crate::auth::jwt::Signer;
use crate::auth::limiter::{LoginLimiter, PublicLimiter};
use crate::config::Config;
use crate::crypto::Sealer;
use crate::error::GatewayError;
use crate::io::{HttpClient, Platform};
use crate::redact::Redactor;
use crate::store::Store;

pub(crate) struct Inner {
    pub config: Config,
    pub store: Store,
    /// Key limits: this instance's leased blocks over the shared limit store.
    pub quota: Arc<crate::quota::Quota>,
    /// Where the response cache keeps answers.
    pub answers: Arc<dyn crate::answers::AnswerStore>,
    pub http: Arc<dyn HttpClient>,
    pub platform: Arc<dyn Platform>,
    pub signer: Signer,
    pub sealer: Arc<Sealer>,
    pub login_limiter: LoginLimiter,
    /// Password hashes, at most two at a time, off the async workers.
    pub hasher: crate::auth::password::Hasher,
    pub router: Arc<crate::routing::Router>,
    pub key_cache: crate::keycache::KeyCache,
    /// Resolved routes by model name (`None`: no such model).
    pub route_cache: crate::keycache::TtlCache<Option<Arc<crate::routing::Route>>>,
    pub logs: Arc<crate::logqueue::LogQueue>,
    pub public_limiter: PublicLimiter,
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Fired when the host is shutting down: open streams end with an error event.
    pub shutdown: crate::shutdown::Shutdown,
    /// Whether the warning about untrusted proxy headers was logged already.
    pub warned_proxy: std::sync::atomic::AtomicBool,
    /// When a search last fetched each catalog source by itself (so a failing one is not
    /// retried on every search).
    pub catalog_attempts: std::sync::Mutex<std::collections::HashMap<&'static str, i64>>,
    /// Each provider's secrets to keep out of what its upstream says — still sealed — by
    /// provider id with the row's `updated_at` (a change of credentials makes a new one).
    pub secrets: std::sync::Mutex<std::collections::HashMap<String, (i64, Arc<SealedSecrets>)>>,
    /// What request bodies being read may hold together.
    pub body_budget: Arc<crate::body::BodyBudget>,
}

/// A provider's credentials as stored (sealed), and the sealer that opens them when an upstream's
/// words must be scrubbed.
pub(crate) struct SealedSecrets {
    sealer: Arc<Sealer>,
    sealed: Vec<String>,
}

impl crate::redact::Secrets for SealedSecrets {
    fn redactor(&self) -> Redactor {
        let opened = self.sealed.iter().filter_map(|s| self.sealer.open(s).ok());
        Redactor::new(opened.flat_map(|text| Redactor::credential_secrets(&text)))
    }
}

impl Inner {
    /// Where a credential's token is kept (see `cloud::Tokens`).
    pub(crate) fn token_key(
        &self,
        provider: &crate::provider::Provider,
        credential: &crate::provider::Credential,
    ) -> String {
        format!("{}/{}", provider.id, credential.id)
    }

    /// The sealed secrets of every credential of `provider` (one handle per change of the
    /// provider), for a stream to open only if its upstream reports an error.
    pub(crate) fn secrets(&self, provider: &crate::provider::Provider) -> Arc<SealedSecrets> {
        let lock = || self.secrets.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((at, s)) = lock().get(&provider.id)
            && *at == provider.updated_at
        {
            return s.clone();
        }
        let sealed = provider.credentials.iter().map(|c| c.sealed.clone()).collect();
        let secrets = Arc::new(SealedSecrets { sealer: self.sealer.clone(), sealed });
        lock().insert(provider.id.clone(), (provider.updated_at, secrets.clone()));
        secrets
    }

    /// The secrets of every credential of `provider`, opened now to scrub what its upstream
    /// said (a credential that does not open is left out); dropped with the error it served.
    pub(crate) fn redactor(&self, provider: &crate::provider::Provider) -> Redactor {
        use crate::redact::Secrets;
        self.secrets(provider).redactor()
    }

    /// What `provider`'s auth scheme presents for `credential`: the opened key, or the bearer
    /// token it is exchanged for (see `cloud`).
    pub(crate) async fn presented(
        &self,
        provider: &crate::provider::Provider,
        credential: &crate::provider::Credential,
    ) -> Result<String, GatewayError> {
        if !provider.auth_scheme.exchanges() {
            return Ok(self.sealer.open(&credential.sealed)?);
        }
        // A fresh token needs neither the credential opened nor a refresh.
        let key = self.token_key(provider, credential);
        let tokens = &self.router.tokens;
        if let Some(token) = tokens.fresh(&key, self.platform.now_ms()) {
            return Ok(token.to_string());
        }
        let secret = self.sealer.open(&credential.sealed)?;
        let (http, platform) = (self.http.as_ref(), self.platform.as_ref());
        Ok(tokens.refreshed(http, platform, provider.auth_scheme, &key, secret).await?)
    }
}

/// Per-request facts every handler may need.
pub(crate) struct Ctx {
    pub request_id: String,
    pub started_ms: i64,
    pub client_ip: Option<String>,
    pub user_agent: Option<String>,
}

/// Internal failures are logged with their details, which the caller never sees.
pub(crate) fn log_internal(ctx: &Ctx, err: &GatewayError) {
    if err.status().is_server_error() {
        tracing::error!(request_id = %ctx.request_id, kind = err.kind(), error = %err, "request failed");
    }
}
