//! `/api/admin/models`: the model names callers use, bound to a provider and an upstream id.

use serde::Deserialize;

use super::{AdminResult, Op, Req, conflict, created, listed, no_content, not_found, ok, validate};
use crate::error::{GatewayError, RequestError};
use crate::state::Inner;
use crate::store::models::Model;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    name: Option<String>,
    provider_id: Option<String>,
    upstream_model: Option<String>,
    #[serde(default, deserialize_with = "validate::nullable")]
    display_name: Option<Option<String>>,
    enabled: Option<bool>,
    #[serde(default, deserialize_with = "validate::nullable")]
    context_window: Option<Option<i64>>,
    #[serde(default, deserialize_with = "validate::nullable")]
    max_output_tokens: Option<Option<i64>>,
    #[serde(default, deserialize_with = "validate::nullable")]
    input_cost_per_token: Option<Option<f64>>,
    #[serde(default, deserialize_with = "validate::nullable")]
    output_cost_per_token: Option<Option<f64>>,
    #[serde(default, deserialize_with = "validate::nullable")]
    cached_input_cost_per_token: Option<Option<f64>>,
    #[serde(default, deserialize_with = "validate::nullable")]
    cache_write_cost_per_token: Option<Option<f64>>,
    capabilities: Option<serde_json::Map<String, serde_json::Value>>,
    /// `{per_image, per_second, per_character, per_query}`; `null` clears them.
    #[serde(default, deserialize_with = "validate::nullable")]
    unit_prices: Option<Option<crate::store::models::UnitPrices>>,
}

/// Creates one model from `input`.
async fn create(inner: &Inner, input: Input) -> Result<Model, GatewayError> {
    let now = inner.platform.now_ms();
    let name = validate::required(input.name.clone(), "name")?;
    let blank = Model {
        id: crate::ids::new_id(inner.platform.as_ref(), "mdl"),
        upstream_model: input.upstream_model.clone().unwrap_or_else(|| name.clone()),
        name,
        provider_id: validate::required(input.provider_id.clone(), "provider_id")?,
        display_name: None,
        enabled: true,
        context_window: None,
        max_output_tokens: None,
        input_cost_per_token: None,
        output_cost_per_token: None,
        cached_input_cost_per_token: None,
        cache_write_cost_per_token: None,
        capabilities: Default::default(),
        unit_prices: Default::default(),
        created_at: now,
        updated_at: now,
    };
    let model = apply(inner, input, blank).await?;
    inner
        .store
        .insert_model(&model)
        .await
        .map_err(conflict(format!("a model named `{}` already exists", model.name)))?;
    Ok(model)
}

/// Most models one bulk import may create.
const MAX_BULK: usize = 1000;

/// `POST /api/admin/models/bulk` `{models: [model, …]}`: each is created on its own; the answer
/// says, in order, which were created and why the others were not (a duplicate name is skipped
/// as `conflict`, so re-running an import is harmless).
pub(super) async fn bulk(inner: &Inner, body: &[u8]) -> AdminResult {
    #[derive(Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Bulk {
        models: Vec<serde_json::Value>,
    }
    let input: Bulk = validate::body(body)?;
    if input.models.is_empty() || input.models.len() > MAX_BULK {
        return Err(RequestError::field("models", format!("send 1 to {MAX_BULK} models")).into());
    }
    let mut results = Vec::with_capacity(input.models.len());
    let mut created_count = 0;
    for value in input.models {
        let parsed = serde_json::to_vec(&value)
            .map_err(|e| RequestError::InvalidJson(e.to_string()).into())
            .and_then(|bytes| validate::body::<Input>(&bytes).map_err(GatewayError::from));
        let outcome = match parsed {
            Ok(one) => create(inner, one).await,
            Err(e) => Err(e),
        };
        results.push(match outcome {
            Ok(model) => {
                created_count += 1;
                serde_json::json!({"status": 201, "model": model})
            }
            Err(e) => serde_json::json!({"status": e.status().as_u16(),
                "name": value.get("name"), "error": {"code": e.kind(), "message": e.public_message()}}),
        });
    }
    Ok(ok(&serde_json::json!({"created": created_count, "results": results})))
}

pub(super) async fn route(inner: &Inner, op: Op<'_>, req: Req<'_>) -> AdminResult {
    match op {
        Op::List => {
            let models = inner.store.list_models().await?;
            Ok(listed(&models.items, &models.skipped))
        }
        Op::Get(id) => Ok(ok(&load(inner, id).await?)),
        Op::Create => {
            let input: Input = validate::body(req.body)?;
            Ok(created(&create(inner, input).await?))
        }
        Op::Update(id) => {
            let input: Input = validate::body(req.body)?;
            let mut model = apply(inner, input, load(inner, id).await?).await?;
            model.updated_at = inner.platform.now_ms();
            inner
                .store
                .update_model(&model)
                .await
                .map_err(conflict(format!("a model named `{}` already exists", model.name)))?;
            Ok(ok(&model))
        }
        Op::Delete(id) => {
            if inner.store.delete_model(id).await? {
                Ok(no_content())
            } else {
                Err(not_found("model", id))
            }
        }
    }
}

async fn load(inner: &Inner, id: &str) -> Result<Model, GatewayError> {
    inner.store.model(id).await?.ok_or_else(|| not_found("model", id))
}

async fn apply(inner: &Inner, input: Input, mut m: Model) -> Result<Model, GatewayError> {
    if let Some(name) = input.name {
        m.name = name;
    }
    m.name = validate::identifier("name", &m.name)?;
    if inner.store.model_name_taken(&m.name, &m.id).await? {
        return Err(RequestError::Conflict(format!(
            "a model or virtual model named `{}` already exists",
            m.name
        ))
        .into());
    }
    if let Some(upstream) = input.upstream_model {
        m.upstream_model = upstream;
    }
    m.upstream_model = validate::identifier("upstream_model", &m.upstream_model)?;
    if let Some(provider_id) = input.provider_id {
        m.provider_id = provider_id;
    }
    if inner.store.provider(&m.provider_id).await?.is_none() {
        return Err(RequestError::field(
            "provider_id",
            format!("no provider with id `{}`", m.provider_id),
        )
        .into());
    }
    if let Some(display) = input.display_name {
        m.display_name = display.map(|d| validate::name("display_name", &d, 200)).transpose()?;
    }
    if let Some(enabled) = input.enabled {
        m.enabled = enabled;
    }
    if let Some(v) = input.context_window {
        m.context_window = validate::positive("context_window", v)?;
    }
    if let Some(v) = input.max_output_tokens {
        m.max_output_tokens = validate::positive("max_output_tokens", v)?;
    }
    if let Some(v) = input.input_cost_per_token {
        m.input_cost_per_token = validate::price("input_cost_per_token", v)?;
    }
    if let Some(v) = input.output_cost_per_token {
        m.output_cost_per_token = validate::price("output_cost_per_token", v)?;
    }
    if let Some(v) = input.cached_input_cost_per_token {
        m.cached_input_cost_per_token = validate::price("cached_input_cost_per_token", v)?;
    }
    if let Some(v) = input.cache_write_cost_per_token {
        m.cache_write_cost_per_token = validate::price("cache_write_cost_per_token", v)?;
    }
    if let Some(caps) = input.capabilities {
        m.capabilities = caps;
    }
    if let Some(prices) = input.unit_prices {
        let prices = prices.unwrap_or_default();
        for (name, v) in [
            ("unit_prices.per_image", prices.per_image),
            ("unit_prices.per_second", prices.per_second),
            ("unit_prices.per_character", prices.per_character),
            ("unit_prices.per_query", prices.per_query),
        ] {
            validate::price(name, v)?;
        }
        m.unit_prices = prices;
    }
    Ok(m)
}
