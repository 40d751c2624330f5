//! `/api/admin/health-targets`: what the health checker probes (a model or virtual model by name).

use serde::Deserialize;

use super::{AdminResult, Op, Req, created, listed, no_content, not_found, ok, validate};
use crate::error::{GatewayError, RequestError};
use crate::state::Inner;
use crate::store::health::{CheckConfig, HealthTarget};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    name: Option<String>,
    #[serde(default, deserialize_with = "validate::nullable")]
    display_title: Option<Option<String>>,
    #[serde(rename = "type")]
    kind: Option<String>,
    target_id: Option<String>,
    enabled: Option<bool>,
    check_interval_seconds: Option<i64>,
    check_prompt: Option<String>,
    check_config: Option<CheckConfig>,
}

pub(super) async fn route(inner: &Inner, op: Op<'_>, req: Req<'_>) -> AdminResult {
    match op {
        Op::List => {
            let targets = inner.store.list_health_targets().await?;
            Ok(listed(&targets.items, &targets.skipped))
        }
        Op::Get(id) => Ok(ok(&load(inner, id).await?)),
        Op::Create => {
            let input: Input = validate::body(req.body)?;
            let now = inner.platform.now_ms();
            let target_id = validate::required(input.target_id.clone(), "target_id")?;
            let blank = HealthTarget {
                id: crate::ids::new_id(inner.platform.as_ref(), "ht"),
                name: input.name.clone().unwrap_or_else(|| target_id.clone()),
                display_title: None,
                kind: "model".into(),
                target_id,
                enabled: true,
                check_interval_seconds: 300,
                check_prompt: "Say \"OK\"".into(),
                check_config: CheckConfig::default(),
                created_at: now,
                updated_at: now,
            };
            let target = apply(inner, input, blank).await?;
            inner.store.insert_health_target(&target).await?;
            Ok(created(&target))
        }
        Op::Update(id) => {
            let input: Input = validate::body(req.body)?;
            let mut target = apply(inner, input, load(inner, id).await?).await?;
            target.updated_at = inner.platform.now_ms();
            inner.store.update_health_target(&target).await?;
            Ok(ok(&target))
        }
        Op::Delete(id) => {
            if inner.store.delete_health_target(id).await? {
                Ok(no_content())
            } else {
                Err(not_found("health target", id))
            }
        }
    }
}

async fn load(inner: &Inner, id: &str) -> Result<HealthTarget, GatewayError> {
    inner.store.health_target(id).await?.ok_or_else(|| not_found("health target", id))
}

async fn apply(
    inner: &Inner,
    input: Input,
    mut t: HealthTarget,
) -> Result<HealthTarget, GatewayError> {
    if let Some(name) = input.name {
        t.name = name;
    }
    t.name = validate::name("name", &t.name, 100)?;
    if let Some(d) = input.display_title {
        t.display_title = d.map(|d| validate::name("display_title", &d, 200)).transpose()?;
    }
    if let Some(kind) = input.kind {
        t.kind = kind;
    }
    if let Some(target_id) = input.target_id {
        t.target_id = target_id;
    }
    let exists = match t.kind.as_str() {
        "model" => inner.store.model_by_name(&t.target_id).await?.is_some(),
        "virtual_model" => inner.store.virtual_model_by_name(&t.target_id).await?.is_some(),
        _ => return Err(RequestError::field("type", "type must be model or virtual_model").into()),
    };
    if !exists {
        return Err(RequestError::field(
            "target_id",
            format!("no {} named `{}`", t.kind, t.target_id),
        )
        .into());
    }
    if let Some(enabled) = input.enabled {
        t.enabled = enabled;
    }
    if let Some(secs) = input.check_interval_seconds {
        if !(30..=86_400).contains(&secs) {
            return Err(RequestError::field("check_interval_seconds", "must be 30 to 86400").into());
        }
        t.check_interval_seconds = secs;
    }
    if let Some(prompt) = input.check_prompt {
        t.check_prompt = validate::name("check_prompt", &prompt, 2000)?;
    }
    if let Some(config) = input.check_config {
        if !(100..=300_000).contains(&config.timeout_ms) || !(1..=4096).contains(&config.max_tokens)
        {
            return Err(RequestError::field(
                "check_config",
                "timeout_ms must be 100 to 300000 and max_tokens 1 to 4096",
            )
            .into());
        }
        t.check_config = config;
    }
    Ok(t)
}
