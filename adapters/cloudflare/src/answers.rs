//! The response cache in the Workers Cache API (`CACHE_STORE = "workers"`, the Worker's default):
//! each answer a cached response under a private URL, with `Cache-Control: max-age` so the data
//! centre drops it at its expiry (the periodic jobs have nothing to remove). The Cache API is per
//! data centre, and does nothing on `*.workers.dev` hosts (Cloudflare's rule): use a custom
//! domain, or `CACHE_STORE = "database"` to share answers through D1 or Turso.

use bytes::Bytes;
use gateway_core::answers::{AnswerStore, AnswerStoreError};

/// Where entries live in the cache's URL space (never fetched).
const ORIGIN: &str = "https://response-cache.llm-gateway.invalid/";
/// The entry's expiry, in Unix milliseconds, checked on read as well.
const EXPIRES: &str = "x-gateway-expires-ms";

pub(crate) struct WorkersAnswers;

fn failed(e: worker::Error) -> AnswerStoreError {
    AnswerStoreError(format!("the Workers Cache API failed: {e}"))
}

#[gateway_core::async_trait(?Send)]
impl AnswerStore for WorkersAnswers {
    async fn get(&self, key: &str, now_ms: i64) -> Result<Option<Bytes>, AnswerStoreError> {
        let cache = worker::Cache::default();
        let Some(mut response) =
            cache.get(format!("{ORIGIN}{key}"), false).await.map_err(failed)?
        else {
            return Ok(None);
        };
        let expires = response.headers().get(EXPIRES).ok().flatten();
        if expires.and_then(|v| v.parse::<i64>().ok()).is_none_or(|at| at <= now_ms) {
            return Ok(None);
        }
        Ok(Some(Bytes::from(response.bytes().await.map_err(failed)?)))
    }

    async fn put(
        &self,
        key: &str,
        entry: Bytes,
        now_ms: i64,
        expires_ms: i64,
    ) -> Result<(), AnswerStoreError> {
        let mut response = worker::Response::from_bytes(entry.to_vec()).map_err(failed)?;
        let max_age = (expires_ms - now_ms).max(1000) / 1000;
        let headers = response.headers_mut();
        headers.set("cache-control", &format!("max-age={max_age}")).map_err(failed)?;
        headers.set(EXPIRES, &expires_ms.to_string()).map_err(failed)?;
        headers.set("content-type", "application/json").map_err(failed)?;
        worker::Cache::default().put(format!("{ORIGIN}{key}"), response).await.map_err(failed)
    }

    async fn prune(&self, _now_ms: i64) -> Result<u64, AnswerStoreError> {
        Ok(0)
    }
}
