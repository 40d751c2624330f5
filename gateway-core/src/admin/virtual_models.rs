//! `/api/admin/virtual-models`: names bound to a routing config and prompt rules;
//! `POST /api/admin/virtual-models/preview` shows what rules make of a sample request;
//! `GET /api/admin/routing` is the live state of every target (breaker, latency, errors).

use serde::Deserialize;

use super::{AdminResult, Op, Req, conflict, created, listed, no_content, not_found, ok, validate};
use crate::answers::CachePolicy;
use crate::codec::{self, EncodeOptions};
use crate::error::{GatewayError, RequestError};
use crate::provider::Protocol;
use crate::routing::{RouteConfig, Strategy, Target};
use crate::rules::{self, Rule, Vars};
use crate::state::Inner;
use crate::store::virtual_models::VirtualModel;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    name: Option<String>,
    #[serde(default, deserialize_with = "validate::nullable")]
    description: Option<Option<String>>,
    strategy: Option<Strategy>,
    targets: Option<Vec<Target>>,
    rules: Option<Vec<Rule>>,
    config: Option<RouteConfig>,
    /// The response cache; `null` for off.
    #[serde(default, deserialize_with = "validate::nullable")]
    cache: Option<Option<CachePolicy>>,
    enabled: Option<bool>,
}

pub(super) async fn route(inner: &Inner, op: Op<'_>, req: Req<'_>) -> AdminResult {
    match op {
        Op::List => {
            let models = inner.store.list_virtual_models().await?;
            Ok(listed(&models.items, &models.skipped))
        }
        Op::Get(id) => Ok(ok(&load(inner, id).await?)),
        Op::Create => {
            let input: Input = validate::body(req.body)?;
            let now = inner.platform.now_ms();
            let blank = VirtualModel {
                id: crate::ids::new_id(inner.platform.as_ref(), "vm"),
                name: validate::required(input.name.clone(), "name")?,
                description: None,
                strategy: Strategy::default(),
                targets: validate::required(input.targets.clone(), "targets")?,
                rules: vec![],
                config: RouteConfig::default(),
                cache: None,
                enabled: true,
                created_at: now,
                updated_at: now,
            };
            let vm = apply(inner, input, blank).await?;
            inner.store.insert_virtual_model(&vm).await.map_err(conflict(taken(&vm.name)))?;
            Ok(created(&vm))
        }
        Op::Update(id) => {
            let input: Input = validate::body(req.body)?;
            let mut vm = apply(inner, input, load(inner, id).await?).await?;
            vm.updated_at = inner.platform.now_ms();
            inner.store.update_virtual_model(&vm).await.map_err(conflict(taken(&vm.name)))?;
            Ok(ok(&vm))
        }
        Op::Delete(id) => {
            if inner.store.delete_virtual_model(id).await? {
                Ok(no_content())
            } else {
                Err(not_found("virtual model", id))
            }
        }
    }
}

fn taken(name: &str) -> String {
    format!("a model or virtual model named `{name}` already exists")
}

async fn load(inner: &Inner, id: &str) -> Result<VirtualModel, GatewayError> {
    inner.store.virtual_model(id).await?.ok_or_else(|| not_found("virtual model", id))
}

async fn apply(
    inner: &Inner,
    input: Input,
    mut vm: VirtualModel,
) -> Result<VirtualModel, GatewayError> {
    if let Some(name) = input.name {
        vm.name = name;
    }
    vm.name = validate::identifier("name", &vm.name)?;
    if inner.store.model_name_taken(&vm.name, &vm.id).await? {
        return Err(RequestError::Conflict(taken(&vm.name)).into());
    }
    if let Some(d) = input.description {
        vm.description = d.map(|d| validate::name("description", &d, 500)).transpose()?;
    }
    if let Some(s) = input.strategy {
        vm.strategy = s;
    }
    if let Some(targets) = input.targets {
        vm.targets = targets;
    }
    check_targets(inner, &vm.targets).await?;
    if let Some(rules) = input.rules {
        rules::validate(&rules).map_err(|(i, m)| RequestError::field(format!("rules[{i}]"), m))?;
        vm.rules = rules;
    }
    if let Some(config) = input.config {
        check_config(&config)?;
        vm.config = config;
    }
    if let Some(cache) = input.cache {
        if let Some(c) = &cache {
            c.check("cache", false)?;
        }
        vm.cache = cache;
    }
    if let Some(enabled) = input.enabled {
        vm.enabled = enabled;
    }
    Ok(vm)
}

async fn check_targets(inner: &Inner, targets: &[Target]) -> Result<(), GatewayError> {
    if targets.is_empty() || targets.len() > 20 {
        return Err(RequestError::field("targets", "a virtual model needs 1 to 20 targets").into());
    }
    for (i, t) in targets.iter().enumerate() {
        let field = |f: &str| format!("targets[{i}].{f}");
        if inner.store.provider(&t.provider_id).await?.is_none() {
            return Err(RequestError::field(
                field("provider_id"),
                format!("no provider with id `{}`", t.provider_id),
            )
            .into());
        }
        validate::identifier(&field("model"), &t.model)?;
        if !(1..=1000).contains(&t.weight) {
            return Err(RequestError::field(field("weight"), "weight must be 1 to 1000").into());
        }
    }
    Ok(())
}

fn check_config(c: &RouteConfig) -> Result<(), RequestError> {
    let rules: [(&str, u64, u64, u64); 5] = [
        ("config.deadline_ms", c.deadline_ms, 100, 600_000),
        ("config.attempt_timeout_ms", c.attempt_timeout_ms, 100, c.deadline_ms.max(100)),
        ("config.max_attempts", u64::from(c.max_attempts), 1, 10),
        ("config.failure_threshold", u64::from(c.failure_threshold), 1, 100),
        ("config.cooldown_ms", c.cooldown_ms, 1_000, 3_600_000),
    ];
    for (field, value, min, max) in rules {
        if !(min..=max).contains(&value) {
            return Err(RequestError::field(field, format!("`{field}` must be {min} to {max}")));
        }
    }
    Ok(())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Preview {
    rules: Vec<Rule>,
    /// The protocol of `request`: `openai_chat` (default), `openai_responses`, `anthropic_messages`.
    protocol: Option<Protocol>,
    request: serde_json::Value,
    key_name: Option<String>,
}

/// Applies `rules` to a sample request without sending anything: the request as an upstream of
/// the same protocol would receive it.
pub(super) fn preview(inner: &Inner, body: &[u8]) -> AdminResult {
    let input: Preview = validate::body(body)?;
    rules::validate(&input.rules)
        .map_err(|(i, m)| RequestError::field(format!("rules[{i}]"), m))?;
    let protocol = input.protocol.unwrap_or(Protocol::OpenaiChat);
    let raw = serde_json::to_vec(&input.request).unwrap_or_default();
    let mut request = codec::decode_request(protocol, &raw).map_err(|e| match e {
        RequestError::Validation { field, message } => {
            RequestError::field(format!("request.{field}"), message)
        }
        other => other,
    })?;
    let model = request.model.clone();
    let vars = Vars {
        model: &model,
        key_name: input.key_name.as_deref().unwrap_or("preview"),
        now_ms: inner.platform.now_ms(),
        room: inner.config.max_body_bytes.saturating_sub(raw.len()),
    };
    let changed = rules::apply(&input.rules, &mut request, &vars).map_err(|e| match e {
        rules::RuleError::Failed(m) => RequestError::field("rules", m),
        rules::RuleError::TooLarge => RequestError::RulesTooLarge(vars.room),
    })?;
    let encoded = codec::encode_request(protocol, &request, &model, &EncodeOptions::default())?;
    let rewritten: serde_json::Value = serde_json::from_slice(&encoded).unwrap_or_default();
    Ok(ok(&serde_json::json!({"changed": changed, "request": rewritten})))
}
