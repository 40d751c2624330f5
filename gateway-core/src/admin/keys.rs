//! `/api/admin/keys`: virtual keys. The full key is returned once, by create; only its SHA-256 and
//! a display prefix are stored.

use serde::Deserialize;

use super::{AdminResult, Op, Req, conflict, created, listed, no_content, not_found, ok, validate};
use crate::auth::vkey;
use crate::error::{GatewayError, RequestError};
use crate::policy::BudgetPeriod;
use crate::state::Inner;
use crate::store::keys::VirtualKey;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    name: Option<String>,
    /// Create only: a caller-chosen key instead of a generated one.
    key: Option<String>,
    enabled: Option<bool>,
    /// Unix milliseconds; `null` for never.
    #[serde(default, deserialize_with = "validate::nullable")]
    expires_at: Option<Option<i64>>,
    /// Model names; `null` for every model.
    #[serde(default, deserialize_with = "validate::nullable")]
    allowed_models: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "validate::nullable")]
    rpm_limit: Option<Option<i64>>,
    #[serde(default, deserialize_with = "validate::nullable")]
    tpm_limit: Option<Option<i64>>,
    #[serde(default, deserialize_with = "validate::nullable")]
    max_concurrent: Option<Option<i64>>,
    #[serde(default, deserialize_with = "validate::nullable")]
    budget_usd: Option<Option<f64>>,
    #[serde(default, deserialize_with = "validate::nullable")]
    budget_period: Option<Option<BudgetPeriod>>,
    /// Addresses or CIDR blocks; `null` for any.
    #[serde(default, deserialize_with = "validate::nullable")]
    allowed_ips: Option<Option<Vec<String>>>,
    log_bodies: Option<bool>,
    tags: Option<Vec<String>>,
    /// The response cache; `null` for the virtual model's (or none).
    #[serde(default, deserialize_with = "validate::nullable")]
    cache: Option<Option<crate::answers::CachePolicy>>,
}

pub(super) async fn route(inner: &Inner, op: Op<'_>, req: Req<'_>) -> AdminResult {
    match op {
        Op::List => {
            let keys = inner.store.list_keys().await?;
            Ok(listed(&with_usage(inner, &keys.items).await?, &keys.skipped))
        }
        Op::Get(id) => Ok(ok(&with_usage(inner, &[load(inner, id).await?]).await?[0])),
        Op::Create => {
            let mut input: Input = validate::body(req.body)?;
            let secret = match input.key.take() {
                Some(custom) => {
                    vkey::check_custom(&custom).map_err(|m| RequestError::field("key", m))?;
                    custom
                }
                None => vkey::generate(|b| inner.platform.random_bytes(b)),
            };
            let now = inner.platform.now_ms();
            let blank = VirtualKey::unrestricted(
                crate::ids::new_id(inner.platform.as_ref(), "key"),
                validate::required(input.name.clone(), "name")?,
                &secret,
                now,
            );
            let key = apply(input, blank)?;
            inner.store.insert_key(&key).await.map_err(conflict("this key already exists"))?;
            let mut view = serde_json::to_value(&key).unwrap_or_default();
            view["key"] = secret.into();
            Ok(created(&view))
        }
        Op::Update(id) => {
            let input: Input = validate::body(req.body)?;
            if input.key.is_some() {
                return Err(RequestError::field(
                    "key",
                    "a key's secret cannot be changed; create a new key",
                )
                .into());
            }
            let mut key = apply(input, load(inner, id).await?)?;
            key.updated_at = inner.platform.now_ms();
            inner.store.update_key(&key).await?;
            Ok(ok(&key))
        }
        Op::Delete(id) => {
            if inner.store.delete_key(id).await? {
                Ok(no_content())
            } else {
                Err(not_found("key", id))
            }
        }
    }
}

/// Key views with what each has used of its limits right now (`usage`).
async fn with_usage(
    inner: &Inner,
    keys: &[VirtualKey],
) -> Result<Vec<serde_json::Value>, GatewayError> {
    let ids: Vec<_> = keys.iter().map(|k| (k.id.as_str(), k.budget_period)).collect();
    let now = inner.platform.now_ms();
    let mut usage = inner.quota.store().usage(&ids, now).await?;
    // Capacity this instance leased and has not used is not use.
    let minute = crate::policy::minute(now).0;
    for (id, period) in &ids {
        let Some(u) = usage.get_mut(*id) else { continue };
        let [requests, tokens, budget] = inner.quota.unused(id);
        let period = period.unwrap_or(crate::policy::BudgetPeriod::Total).window(now).0;
        let unused = |c: Option<(i64, i64)>, window| c.filter(|c| c.0 == window).map_or(0, |c| c.1);
        u.requests_this_minute = (u.requests_this_minute - unused(requests, minute)).max(0);
        u.tokens_this_minute = (u.tokens_this_minute - unused(tokens, minute)).max(0);
        u.spent_usd = (u.spent_usd - unused(budget, period) as f64 / 1e9).max(0.0);
    }
    Ok(keys
        .iter()
        .map(|k| {
            let mut view = serde_json::to_value(k).unwrap_or_default();
            view["usage"] = serde_json::to_value(usage.get(&k.id)).unwrap_or_default();
            view
        })
        .collect())
}

async fn load(inner: &Inner, id: &str) -> Result<VirtualKey, GatewayError> {
    inner.store.key(id).await?.ok_or_else(|| not_found("key", id))
}

fn apply(input: Input, mut k: VirtualKey) -> Result<VirtualKey, GatewayError> {
    if let Some(name) = input.name {
        k.name = name;
    }
    k.name = validate::name("name", &k.name, 100)?;
    if let Some(enabled) = input.enabled {
        k.enabled = enabled;
    }
    if let Some(expires) = input.expires_at {
        k.expires_at = expires;
    }
    if let Some(models) = input.allowed_models {
        k.allowed_models = models
            .map(|list| {
                if list.len() > 1000 {
                    return Err(RequestError::field("allowed_models", "at most 1000 models"));
                }
                list.iter().map(|m| validate::identifier("allowed_models", m)).collect()
            })
            .transpose()?;
    }
    for (field, input, target) in [
        ("rpm_limit", input.rpm_limit, &mut k.rpm_limit),
        ("tpm_limit", input.tpm_limit, &mut k.tpm_limit),
        ("max_concurrent", input.max_concurrent, &mut k.max_concurrent),
    ] {
        if let Some(v) = input {
            if v.is_some_and(|v| !(1..=1_000_000_000).contains(&v)) {
                return Err(RequestError::field(
                    field,
                    format!("`{field}` must be 1 to 1000000000, or null"),
                )
                .into());
            }
            *target = v;
        }
    }
    if let Some(b) = input.budget_usd {
        k.budget_usd = validate::price("budget_usd", b)?;
    }
    if let Some(p) = input.budget_period {
        k.budget_period = p;
    }
    if let Some(ips) = input.allowed_ips {
        if let Some(list) = &ips {
            if list.len() > 100 {
                return Err(RequestError::field("allowed_ips", "at most 100 entries").into());
            }
            if let Some(bad) = list.iter().find(|e| crate::policy::parse_cidr(e).is_none()) {
                return Err(RequestError::field(
                    "allowed_ips",
                    format!("`{bad}` is not an IP address or CIDR block"),
                )
                .into());
            }
        }
        k.allowed_ips = ips;
    }
    if let Some(b) = input.log_bodies {
        k.log_bodies = b;
    }
    if let Some(tags) = input.tags {
        if tags.len() > 50 || tags.iter().any(|t| t.is_empty() || t.chars().count() > 64) {
            return Err(RequestError::field("tags", "at most 50 tags of 1 to 64 characters").into());
        }
        k.tags = tags;
    }
    if let Some(cache) = input.cache {
        if let Some(c) = &cache {
            c.check("cache", true)?;
        }
        k.cache = cache;
    }
    Ok(k)
}
