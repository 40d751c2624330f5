//! `/api/admin/providers`: upstream providers; credentials go in, never come out.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::{
    AdminResult, Op, Req, conflict, created, list, listed, no_content, not_found, ok, validate,
};
use crate::error::{GatewayError, RequestError};
use crate::presets;
use crate::provider::{AuthScheme, Credential, Isolation, Protocol, Provider, Quirks};
use crate::state::Inner;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Input {
    /// Create only: fill protocol, base URL, auth scheme and headers from a preset.
    preset: Option<String>,
    name: Option<String>,
    protocol: Option<Protocol>,
    base_url: Option<String>,
    auth_scheme: Option<AuthScheme>,
    /// Write-only. Replaces every credential with this one; `null` removes them all.
    #[serde(default, deserialize_with = "validate::nullable")]
    api_key: Option<Option<String>>,
    /// The provider's credentials, in full: entries with `key` are added, entries with the `id` of
    /// one stored are kept (their label and weight updated, `enabled: true` re-enables them),
    /// stored ones not listed are removed.
    api_keys: Option<Vec<KeyInput>>,
    extra_headers: Option<BTreeMap<String, String>>,
    isolation: Option<Isolation>,
    quirks: Option<Quirks>,
    enabled: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct KeyInput {
    id: Option<String>,
    key: Option<String>,
    label: Option<String>,
    weight: Option<u32>,
    enabled: Option<bool>,
}

pub(super) async fn route(inner: &Inner, op: Op<'_>, req: Req<'_>) -> AdminResult {
    match op {
        Op::List => {
            let providers = inner.store.list_providers().await?;
            let views: Vec<_> =
                providers.items.iter().map(|p| p.public_view(&inner.redactor(p))).collect();
            Ok(listed(&views, &providers.skipped))
        }
        Op::Get(id) => {
            let provider = load(inner, id).await?;
            Ok(ok(&provider.public_view(&inner.redactor(&provider))))
        }
        Op::Create => {
            let input: Input = validate::body(req.body)?;
            let now = inner.platform.now_ms();
            let blank = match input.preset.as_deref() {
                Some(id) => from_preset(id, &input)?,
                None => {
                    let protocol = input.protocol.unwrap_or(Protocol::OpenaiChat);
                    Provider {
                        id: String::new(),
                        name: validate::required(input.name.clone(), "name")?,
                        protocol,
                        base_url: validate::required(input.base_url.clone(), "base_url")?,
                        auth_scheme: input.auth_scheme.unwrap_or(protocol.default_auth()),
                        credentials: Vec::new(),
                        extra_headers: BTreeMap::new(),
                        isolation: Isolation::default(),
                        quirks: Quirks::default(),
                        enabled: true,
                        created_at: now,
                        updated_at: now,
                    }
                }
            };
            let blank = Provider {
                id: crate::ids::new_id(inner.platform.as_ref(), "prv"),
                created_at: now,
                updated_at: now,
                ..blank
            };
            let provider = apply(inner, input, blank)?;
            inner.store.insert_provider(&provider).await.map_err(conflict(format!(
                "a provider named `{}` already exists",
                provider.name
            )))?;
            Ok(created(&provider.public_view(&inner.redactor(&provider))))
        }
        Op::Update(id) => {
            let input: Input = validate::body(req.body)?;
            if input.preset.is_some() {
                return Err(
                    RequestError::field("preset", "presets apply only when creating").into()
                );
            }
            let mut provider = apply(inner, input, load(inner, id).await?)?;
            provider.updated_at = inner.platform.now_ms();
            inner.store.update_provider(&provider).await.map_err(conflict(format!(
                "a provider named `{}` already exists",
                provider.name
            )))?;
            Ok(ok(&provider.public_view(&inner.redactor(&provider))))
        }
        Op::Delete(id) => match inner.store.delete_provider(id).await? {
            Some(true) => Ok(no_content()),
            Some(false) => Err(not_found("provider", id)),
            None => Err(RequestError::Conflict(format!(
                "provider {id} is used by models; delete or move them first"
            ))
            .into()),
        },
    }
}

/// A provider filled from preset `id`; the input's own fields still override it in `apply`.
fn from_preset(id: &str, input: &Input) -> Result<Provider, GatewayError> {
    let preset = presets::find(id).ok_or_else(|| {
        RequestError::field("preset", format!("unknown preset `{id}`; see GET /api/admin/presets"))
    })?;
    if preset.needs_base_url && input.base_url.is_none() {
        return Err(RequestError::field(
            "base_url",
            format!("preset `{id}` needs base_url: {}", preset.notes),
        )
        .into());
    }
    Ok(Provider {
        id: String::new(),
        name: preset.name.to_owned(),
        protocol: preset.protocol,
        base_url: preset.base_url.to_owned(),
        auth_scheme: preset.auth_scheme,
        credentials: Vec::new(),
        extra_headers: preset
            .extra_headers
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        isolation: Isolation::default(),
        quirks: preset.quirks.quirks(),
        enabled: true,
        created_at: 0,
        updated_at: 0,
    })
}

async fn load(inner: &Inner, id: &str) -> Result<Provider, GatewayError> {
    inner.store.provider(id).await?.ok_or_else(|| not_found("provider", id))
}

/// Applies the fields present in `input` to `p` and checks the result.
fn apply(inner: &Inner, input: Input, mut p: Provider) -> Result<Provider, GatewayError> {
    if let Some(name) = input.name {
        p.name = name;
    }
    p.name = validate::name("name", &p.name, 100)?;
    if let Some(protocol) = input.protocol {
        p.protocol = protocol;
    }
    if let Some(url) = input.base_url {
        p.base_url = url;
    }
    p.base_url = validate::base_url(&p.base_url)?;
    if let Some(scheme) = input.auth_scheme {
        p.auth_scheme = scheme;
    }
    if let Some(headers) = input.extra_headers {
        validate::extra_headers(&headers)?;
        p.extra_headers = headers;
    }
    if let Some(enabled) = input.enabled {
        p.enabled = enabled;
    }
    if let Some(isolation) = input.isolation {
        p.isolation = isolation;
    }
    if let Some(quirks) = input.quirks {
        let version = quirks.api_version.as_deref();
        let plain =
            |v: &str| v.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
        if version.is_some_and(|v| v.is_empty() || v.len() > 40 || !plain(v)) {
            let m = "an API version such as 2024-10-21 (letters, digits, `-`, `.`)";
            return Err(RequestError::field("quirks.api_version", m).into());
        }
        p.quirks = quirks;
    }
    match input.api_key {
        Some(Some(key)) => {
            p.credentials = vec![seal(inner, p.auth_scheme, "api_key", &key, None, 1)?];
        }
        Some(None) => p.credentials.clear(),
        None => {}
    }
    if let Some(keys) = input.api_keys {
        let stored = std::mem::take(&mut p.credentials);
        p.credentials = credentials(inner, p.auth_scheme, keys, stored)?;
    }
    Ok(p)
}

/// A new credential, sealed.
fn seal(
    inner: &Inner,
    scheme: AuthScheme,
    field: &str,
    key: &str,
    label: Option<String>,
    weight: u32,
) -> Result<Credential, GatewayError> {
    let key =
        crate::cloud::check_credential(scheme, key).map_err(|e| RequestError::field(field, e))?;
    let mut nonce = [0u8; 12];
    inner.platform.random_bytes(&mut nonce);
    Ok(Credential {
        id: crate::ids::new_id(inner.platform.as_ref(), "cred"),
        label,
        sealed: inner.sealer.seal(&key, nonce)?,
        weight,
        disabled: None,
    })
}

/// The credential list `api_keys` describes, from the stored ones.
fn credentials(
    inner: &Inner,
    scheme: AuthScheme,
    keys: Vec<KeyInput>,
    mut stored: Vec<Credential>,
) -> Result<Vec<Credential>, GatewayError> {
    if keys.len() > 20 {
        return Err(RequestError::field("api_keys", "at most 20 credentials").into());
    }
    let mut out = Vec::with_capacity(keys.len());
    for (i, k) in keys.into_iter().enumerate() {
        let field = |f: &str| format!("api_keys[{i}].{f}");
        if k.weight.is_some_and(|w| !(1..=1000).contains(&w)) {
            return Err(RequestError::field(field("weight"), "weight must be 1 to 1000").into());
        }
        let label = k.label.map(|l| validate::name(&field("label"), &l, 100)).transpose()?;
        let mut credential = match (k.id, k.key) {
            (None, Some(key)) => seal(inner, scheme, &field("key"), &key, None, 1)?,
            (Some(id), None) => match stored.iter().position(|c| c.id == id) {
                Some(at) => stored.swap_remove(at),
                None => {
                    let m = format!("no credential with id `{id}`");
                    return Err(RequestError::field(field("id"), m).into());
                }
            },
            _ => {
                let m = "give either the `id` of a stored credential or a new `key`";
                return Err(RequestError::field(format!("api_keys[{i}]"), m).into());
            }
        };
        if let Some(weight) = k.weight {
            credential.weight = weight;
        }
        if label.is_some() {
            credential.label = label;
        }
        if k.enabled == Some(true) {
            credential.disabled = None;
        }
        out.push(credential);
    }
    Ok(out)
}

/// `POST /api/admin/providers/{id}/test`: asks the upstream for its model list with the stored
/// credential and reports whether that worked, how fast, and how many models it lists.
pub(super) async fn test(inner: &Inner, id: &str) -> AdminResult {
    let provider = load(inner, id).await?;
    let started = inner.platform.now_ms();
    let result = upstream_models(inner, &provider).await;
    let latency_ms = inner.platform.now_ms() - started;
    Ok(ok(&match result {
        Ok(models) => {
            serde_json::json!({"ok": true, "latency_ms": latency_ms, "models": models.len()})
        }
        Err(e) => serde_json::json!({"ok": false, "latency_ms": latency_ms,
            "error": {"code": e.kind(), "message": e.public_message()}}),
    }))
}

/// `GET /api/admin/providers/{id}/models`: the upstream's model list.
pub(super) async fn models(inner: &Inner, id: &str) -> AdminResult {
    let provider = load(inner, id).await?;
    let models = upstream_models(inner, &provider).await?;
    let data: Vec<_> = models.into_iter().map(|id| serde_json::json!({"id": id})).collect();
    Ok(list(&data))
}

/// The model ids the provider lists: `GET {base}/models` in its protocol's shape (OpenAI and
/// Anthropic `{data: [{id}]}`, Gemini `{models: [{name: "models/…"}]}`), sorted.
async fn upstream_models(inner: &Inner, p: &Provider) -> Result<Vec<String>, GatewayError> {
    use crate::upstream::{UpstreamError, build_get, read_body};
    let credential = match p.first_credential() {
        Some(c) => Some(inner.presented(p, c).await?),
        None => None,
    };
    let path = if p.protocol == Protocol::Gemini { "/models?pageSize=1000" } else { "/models" };
    let path = match p.quirks.api_version.as_deref() {
        Some(v) => format!("{path}?api-version={}", crate::query::percent_encode(v)),
        None => path.to_owned(),
    };
    let mut request = build_get(p, credential.as_deref(), &path)?;
    crate::cloud::sign(p, credential.as_deref(), &mut request, inner.platform.now_ms())?;
    let response = inner.http.send(request, std::time::Duration::from_secs(20)).await?;
    let (parts, body) = response.into_parts();
    let bytes = read_body(body, 16 << 20).await?;
    if !parts.status.is_success() {
        let error = UpstreamError::from_status(parts.status.as_u16(), &parts.headers, &bytes);
        return Err(error.redacted(&inner.redactor(p)).into());
    }
    let value: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| UpstreamError::InvalidResponse(format!("model list is not JSON: {e}")))?;
    let items = value["data"].as_array().or_else(|| value["models"].as_array());
    let Some(items) = items else {
        return Err(UpstreamError::InvalidResponse("no `data` or `models` list".into()).into());
    };
    let mut ids: Vec<String> = items
        .iter()
        .filter_map(|m| m["id"].as_str().or_else(|| m["name"].as_str()))
        .map(|id| id.strip_prefix("models/").unwrap_or(id).to_owned())
        .collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}
