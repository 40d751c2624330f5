//! The model catalog API: `GET /api/admin/catalog?q=&limit=` (search, exact > prefix > substring;
//! refreshes first when the stored copy is missing or a day old), `POST /api/admin/catalog/refresh`
//! (fetch every source now), `POST /api/admin/catalog/apply` (`{model_id, source, name}`: fill a
//! model's limits, prices and capability flags from an entry). Everything else works without it.

use serde::Deserialize;

use super::{AdminResult, Req, not_found, ok, validate};
use crate::catalog::{self, Entry};
use crate::error::{GatewayError, RequestError};
use crate::routes::CatalogOp;
use crate::state::Inner;
use crate::upstream::read_body;

/// The stored copy is refreshed when a search finds it older than this.
const MAX_AGE_MS: i64 = 24 * 3600 * 1000;
/// Largest list accepted from a source.
const MAX_BODY: usize = 32 << 20;
/// A search fetches a stale source by itself at most this often, so a source that keeps failing
/// costs one failed fetch per interval, not one per search. `POST …/refresh` always fetches.
const AUTO_RETRY_MS: i64 = 15 * 60 * 1000;

pub(super) async fn route(inner: &Inner, op: CatalogOp, req: Req<'_>) -> AdminResult {
    match op {
        CatalogOp::Search => search(inner, req.query).await,
        CatalogOp::Refresh => Ok(ok(&refresh(inner, |_| true).await?)),
        CatalogOp::Apply => apply(inner, req.body).await,
    }
}

/// Fetches the configured sources `wanted` picks and stores what parses; reports each outcome.
async fn refresh(
    inner: &Inner,
    wanted: impl Fn(&str) -> bool,
) -> Result<serde_json::Value, GatewayError> {
    if inner.config.catalog_sources.is_empty() {
        return Err(RequestError::Conflict(
            "the model catalog is off (CATALOG_URL and CATALOG_MODELS_DEV_URL are `off`)".into(),
        )
        .into());
    }
    let mut report = Vec::new();
    for (source, url) in inner.config.catalog_sources.iter().filter(|(s, _)| wanted(s)) {
        let now = inner.platform.now_ms();
        match fetch(inner, source, url).await {
            Ok(entries) => {
                inner.store.replace_catalog(source, &entries, now).await?;
                report.push(serde_json::json!({"source": source, "url": url, "count": entries.len(), "fetched_at": now}));
            }
            Err(message) => {
                tracing::warn!(source, url, error = %message, "catalog source could not be fetched");
                report.push(serde_json::json!({"source": source, "url": url, "error": message}));
            }
        }
    }
    Ok(serde_json::json!({ "sources": report }))
}

async fn fetch(inner: &Inner, source: &str, url: &str) -> Result<Vec<Entry>, String> {
    let request = http::Request::get(url)
        .header(http::header::ACCEPT, "application/json")
        .body(bytes::Bytes::new())
        .map_err(|e| e.to_string())?;
    let response = inner
        .http
        .send(request, std::time::Duration::from_secs(30))
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = read_body(response.into_body(), MAX_BODY).await.map_err(|e| e.to_string())?;
    if !status.is_success() {
        return Err(format!("HTTP {status}"));
    }
    match source {
        "models.dev" => catalog::parse_models_dev(&body),
        _ => catalog::parse_litellm(&body),
    }
}

async fn search(inner: &Inner, query: Option<&str>) -> AdminResult {
    let pairs = crate::query::pairs(query);
    let q = pairs.iter().find(|(k, _)| k == "q").map_or("", |(_, v)| v.as_str()).to_owned();
    let limit = match pairs.iter().find(|(k, _)| k == "limit") {
        Some((_, v)) => v
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=200).contains(n))
            .ok_or_else(|| RequestError::field("limit", "`limit` must be 1 to 200"))?,
        None => 20,
    };
    let now = inner.platform.now_ms();
    let mut stored = inner.store.catalog_sources().await?;
    let due = due_sources(inner, &stored, now);
    let mut refresh_report = None;
    if !due.is_empty() {
        // A failed fetch keeps the old copy (or none), and the search goes on.
        refresh_report = refresh(inner, |s| due.contains(&s)).await.ok();
        stored = inner.store.catalog_sources().await?;
    }
    let sources: Vec<_> = stored
        .into_iter()
        .map(|(source, count, fetched_at)| {
            serde_json::json!({"source": source, "count": count, "fetched_at": fetched_at})
        })
        .collect();
    let candidates = inner.store.catalog_candidates(&q, 2000).await?;
    let data = catalog::search(&q, candidates, limit);
    Ok(ok(&serde_json::json!({
        "query": q,
        "data": data,
        "sources": sources,
        "refreshed": refresh_report,
    })))
}

/// The sources a search fetches by itself: no copy younger than a day, and no search has tried
/// them lately (they are marked as tried now).
fn due_sources(
    inner: &Inner,
    stored: &[(String, i64, Option<i64>)],
    now: i64,
) -> Vec<&'static str> {
    let fresh = |source: &str| {
        stored.iter().any(|(s, _, at)| s == source && at.is_some_and(|at| now - at < MAX_AGE_MS))
    };
    let mut attempts =
        inner.catalog_attempts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    let due: Vec<&'static str> = inner
        .config
        .catalog_sources
        .iter()
        .map(|(source, _)| *source)
        .filter(|s| !fresh(s) && attempts.get(s).is_none_or(|at| now - at >= AUTO_RETRY_MS))
        .collect();
    for source in &due {
        attempts.insert(source, now);
    }
    due
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Apply {
    model_id: String,
    source: String,
    name: String,
}

/// Fills the model's context window, max output, prices and capability flags from the entry
/// (fields the entry lacks keep their value; capability flags are merged).
async fn apply(inner: &Inner, body: &[u8]) -> AdminResult {
    let input: Apply = validate::body(body)?;
    let entry =
        inner.store.catalog_entry(&input.source, &input.name).await?.ok_or_else(|| {
            not_found("catalog entry", &format!("{}/{}", input.source, input.name))
        })?;
    let mut model = inner
        .store
        .model(&input.model_id)
        .await?
        .ok_or_else(|| not_found("model", &input.model_id))?;
    model.context_window = entry.context_window.or(model.context_window);
    model.max_output_tokens = entry.max_output_tokens.or(model.max_output_tokens);
    model.input_cost_per_token = entry.input_cost_per_token.or(model.input_cost_per_token);
    model.output_cost_per_token = entry.output_cost_per_token.or(model.output_cost_per_token);
    model.cached_input_cost_per_token =
        entry.cached_input_cost_per_token.or(model.cached_input_cost_per_token);
    model.cache_write_cost_per_token =
        entry.cache_write_cost_per_token.or(model.cache_write_cost_per_token);
    model.capabilities.extend(entry.capabilities);
    let (mine, theirs) = (&mut model.unit_prices, entry.unit_prices);
    mine.per_image = theirs.per_image.or(mine.per_image);
    mine.per_second = theirs.per_second.or(mine.per_second);
    mine.per_character = theirs.per_character.or(mine.per_character);
    mine.per_query = theirs.per_query.or(mine.per_query);
    model.updated_at = inner.platform.now_ms();
    inner.store.update_model(&model).await?;
    Ok(ok(&model))
}
