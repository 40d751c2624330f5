//! The data plane: authorize the virtual key, resolve the model, forward to the provider, relay the
//! answer, and hand the request-log write to the host as background work.

pub mod relay;
pub mod upstream;
pub mod usage;

use std::collections::BTreeMap;

use bytes::Bytes;
use serde_json::value::RawValue;

use self::relay::relay_openai_chat;
use self::upstream::{Outbound, UpstreamError, build_request, read_body};
use self::usage::{OpenAiUsage, Usage};
use crate::auth::{AuthError, vkey};
use crate::body::{Body, Handled};
use crate::error::{GatewayError, RequestError};
use crate::gateway::{Ctx, Inner, log_internal};
use crate::maybe_send::boxed;
use crate::provider::Protocol;
use crate::reply::{self, ErrorShape};
use crate::store::Store;
use crate::store::keys::VirtualKey;
use crate::store::logs::LogRecord;
use crate::store::models::Model;
use crate::{ids, provider::Provider};

/// Largest non-streaming upstream body the gateway will hold.
const MAX_UPSTREAM_BODY: usize = 64 << 20;

/// Finds the caller's virtual key (401 when missing or unknown).
async fn lookup_key(inner: &Inner, headers: &http::HeaderMap) -> Result<VirtualKey, GatewayError> {
    let presented = vkey::from_headers(headers).ok_or(AuthError::MissingKey)?;
    let key =
        inner.store.key_by_hash(&vkey::hash(presented)).await?.ok_or(AuthError::InvalidKey)?;
    Ok(key)
}

/// Checks a known key may be used now (403 when disabled or expired).
fn check_key(key: &VirtualKey, now_ms: i64) -> Result<(), AuthError> {
    if !key.enabled {
        return Err(AuthError::KeyDisabled);
    }
    if key.expires_at.is_some_and(|t| t <= now_ms) {
        return Err(AuthError::KeyExpired);
    }
    Ok(())
}

/// Finds and checks the caller's key.
async fn authorize(inner: &Inner, headers: &http::HeaderMap) -> Result<VirtualKey, GatewayError> {
    let key = lookup_key(inner, headers).await?;
    check_key(&key, inner.platform.now_ms())?;
    Ok(key)
}

/// `GET /v1/models`: the models this key may use, in OpenAI's list shape.
pub(crate) async fn list_models(inner: &Inner, request: http::Request<Bytes>) -> Handled {
    let result = async {
        let key = authorize(inner, request.headers()).await?;
        let models = inner.store.list_servable_models().await?;
        let data: Vec<_> = models
            .into_iter()
            .filter(|(m, _)| key.allows(&m.name))
            .map(|(m, provider)| {
                serde_json::json!({
                    "id": m.name, "object": "model", "created": m.created_at / 1000,
                    "owned_by": provider,
                })
            })
            .collect();
        Ok::<_, GatewayError>(serde_json::json!({"object": "list", "data": data}))
    }
    .await;
    Handled::now(match result {
        Ok(list) => reply::json(http::StatusCode::OK, &list),
        Err(e) => reply::error(ErrorShape::OpenAi, &e),
    })
}

/// The parts of a chat request the gateway reads; every other field is kept as raw JSON.
struct ChatRequest {
    fields: BTreeMap<String, Box<RawValue>>,
    model: String,
    stream: bool,
    include_usage: bool,
}

fn parse_chat(body: &[u8]) -> Result<ChatRequest, RequestError> {
    let fields: BTreeMap<String, Box<RawValue>> =
        serde_json::from_slice(body).map_err(|e| RequestError::InvalidJson(e.to_string()))?;
    let model = match fields.get("model").map(|v| serde_json::from_str::<String>(v.get())) {
        Some(Ok(m)) if !m.trim().is_empty() => m,
        Some(_) => return Err(RequestError::field("model", "`model` must be a non-empty string")),
        None => return Err(RequestError::field("model", "`model` is required")),
    };
    let stream = match fields.get("stream").map(|v| v.get()) {
        None | Some("null") | Some("false") => false,
        Some("true") => true,
        Some(_) => return Err(RequestError::field("stream", "`stream` must be a boolean")),
    };
    let include_usage = fields
        .get("stream_options")
        .and_then(|v| serde_json::from_str::<serde_json::Value>(v.get()).ok())
        .and_then(|v| v.get("include_usage").and_then(|b| b.as_bool()))
        .unwrap_or(false);
    if !fields.contains_key("messages") {
        return Err(RequestError::field("messages", "`messages` is required"));
    }
    Ok(ChatRequest { fields, model, stream, include_usage })
}

/// The request as the upstream gets it: same JSON, the upstream's model id, and usage asked for
/// in streams (the gateway needs it for the log; the relay hides it again if the caller did not ask).
fn upstream_body(mut chat: ChatRequest, upstream_model: &str) -> Result<Bytes, RequestError> {
    let model = serde_json::value::to_raw_value(upstream_model)
        .map_err(|e| RequestError::InvalidJson(e.to_string()))?;
    chat.fields.insert("model".into(), model);
    if chat.stream && !chat.include_usage {
        let mut options: serde_json::Map<String, serde_json::Value> = chat
            .fields
            .get("stream_options")
            .and_then(|v| serde_json::from_str(v.get()).ok())
            .unwrap_or_default();
        options.insert("include_usage".into(), true.into());
        let raw = serde_json::value::to_raw_value(&options)
            .map_err(|e| RequestError::InvalidJson(e.to_string()))?;
        chat.fields.insert("stream_options".into(), raw);
    }
    serde_json::to_vec(&chat.fields)
        .map(Bytes::from)
        .map_err(|e| RequestError::InvalidJson(e.to_string()))
}

/// What a successful forward produced.
enum Forwarded {
    Full {
        body: Bytes,
        usage: Usage,
    },
    /// `caller_wants_usage`: the caller asked for the usage chunk itself, so the relay keeps it.
    Stream {
        body: crate::io::ByteStream,
        caller_wants_usage: bool,
    },
}

/// `POST /v1/chat/completions`.
pub(crate) async fn chat_completions(
    inner: &Inner,
    ctx: &Ctx,
    request: http::Request<Bytes>,
) -> Handled {
    let mut log = LogRecord {
        id: ids::new_id(inner.platform.as_ref(), "log"),
        created_at: ctx.started_ms,
        request_id: ctx.request_id.clone(),
        endpoint: "/v1/chat/completions".into(),
        protocol_in: Some(Protocol::OpenaiChat.as_str().into()),
        client_ip: ctx.client_ip.clone(),
        user_agent: ctx.user_agent.clone(),
        ..Default::default()
    };
    let mut model_for_cost = None;
    let result = forward_chat(inner, request, &mut log, &mut model_for_cost).await;
    let store = inner.store.clone();
    match result {
        Ok(Forwarded::Full { body, usage }) => {
            finish_log(
                &mut log,
                inner.platform.now_ms() - ctx.started_ms,
                usage,
                model_for_cost.as_ref(),
            );
            log.status = 200;
            let background = log.key_id.is_some().then(|| boxed(write_log(store, log)));
            Handled { response: reply::raw_json(http::StatusCode::OK, body), background }
        }
        Ok(Forwarded::Stream { body, caller_wants_usage }) => {
            let (stream, summary) = relay_openai_chat(
                body,
                inner.platform.clone(),
                ctx.started_ms,
                !caller_wants_usage,
            );
            log.status = 200;
            let started = ctx.started_ms;
            let background = boxed(async move {
                let summary = summary.await.unwrap_or_default();
                log.ttft_ms = summary.ttft_ms;
                log.error_kind = summary.error_kind.map(str::to_owned);
                if summary.client_gone && log.error_kind.is_none() {
                    log.error_kind = Some("client_disconnected".into());
                }
                finish_log(
                    &mut log,
                    summary.ended_ms - started,
                    summary.usage,
                    model_for_cost.as_ref(),
                );
                write_log(store, log).await;
            });
            Handled { response: sse_response(stream), background: Some(background) }
        }
        Err(err) => {
            log_internal(ctx, &err);
            log.status = i64::from(err.status().as_u16());
            log.error_kind = Some(err.kind().into());
            log.latency_ms = inner.platform.now_ms() - ctx.started_ms;
            let background = log.key_id.is_some().then(|| boxed(write_log(store, log)));
            Handled { response: reply::error(ErrorShape::OpenAi, &err), background }
        }
    }
}

async fn forward_chat(
    inner: &Inner,
    request: http::Request<Bytes>,
    log: &mut LogRecord,
    model_for_cost: &mut Option<Model>,
) -> Result<Forwarded, GatewayError> {
    let key = lookup_key(inner, request.headers()).await?;
    log.key_id = Some(key.id.clone());
    check_key(&key, inner.platform.now_ms())?;
    let chat = parse_chat(request.body())?;
    log.model_requested = Some(chat.model.clone());
    log.stream = chat.stream;
    if !key.allows(&chat.model) {
        return Err(AuthError::ModelNotAllowed(chat.model).into());
    }
    let (model, provider) = resolve(&inner.store, &chat.model).await?;
    log.model_served = Some(model.upstream_model.clone());
    log.provider_id = Some(provider.id.clone());
    log.attempts = 1;
    if provider.protocol != Protocol::OpenaiChat {
        return Err(RequestError::Unsupported(format!(
            "provider `{}` speaks {}; translation between protocols is not available yet",
            provider.name,
            provider.protocol.as_str()
        ))
        .into());
    }
    log.protocol_out = Some(provider.protocol.as_str().into());
    let credential =
        provider.credentials_enc.as_deref().map(|c| inner.sealer.open(c)).transpose()?;
    let (stream, caller_wants_usage) = (chat.stream, chat.include_usage);
    let body = upstream_body(chat, &model.upstream_model)?;
    let outbound = build_request(Outbound {
        provider: &provider,
        credential: credential.as_deref(),
        path: "/chat/completions",
        body,
        stream,
    })?;
    *model_for_cost = Some(model);
    let response = inner.http.send(outbound, inner.config.upstream_timeout).await?;
    let (parts, body) = response.into_parts();
    if !parts.status.is_success() {
        let bytes = read_body(body, 64 << 10).await.unwrap_or_default();
        return Err(
            UpstreamError::from_status(parts.status.as_u16(), &parts.headers, &bytes).into()
        );
    }
    if stream {
        return Ok(Forwarded::Stream { body, caller_wants_usage });
    }
    let bytes = read_body(body, MAX_UPSTREAM_BODY).await?;
    let usage = serde_json::from_slice::<UsageEnvelope>(&bytes)
        .map_err(|e| UpstreamError::InvalidResponse(format!("not a JSON object: {e}")))?
        .usage
        .map(Usage::from)
        .unwrap_or_default();
    Ok(Forwarded::Full { body: bytes, usage })
}

#[derive(serde::Deserialize)]
struct UsageEnvelope {
    usage: Option<OpenAiUsage>,
}

/// The model a caller named, with its provider; both must exist and be enabled.
async fn resolve(store: &Store, name: &str) -> Result<(Model, Provider), GatewayError> {
    let model = store
        .model_by_name(name)
        .await?
        .filter(|m| m.enabled)
        .ok_or_else(|| RequestError::ModelNotFound(name.to_owned()))?;
    let provider = store
        .provider(&model.provider_id)
        .await?
        .filter(|p| p.enabled)
        .ok_or_else(|| RequestError::ModelNotFound(name.to_owned()))?;
    Ok((model, provider))
}

fn finish_log(log: &mut LogRecord, latency_ms: i64, usage: Usage, model: Option<&Model>) {
    log.latency_ms = latency_ms.max(0);
    log.input_tokens = usage.input;
    log.output_tokens = usage.output;
    log.cached_tokens = usage.cached;
    log.reasoning_tokens = usage.reasoning;
    log.cost_usd = model.and_then(|m| usage.cost(m));
}

async fn write_log(store: Store, log: LogRecord) {
    if let Err(e) = store.insert_log(&log).await {
        tracing::error!(request_id = %log.request_id, error = %e, "could not write request log");
    }
}

fn sse_response(stream: crate::io::ByteStream) -> http::Response<Body> {
    let mut response = http::Response::new(Body::Stream(stream));
    let headers = response.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("text/event-stream"));
    headers.insert(http::header::CACHE_CONTROL, http::HeaderValue::from_static("no-cache"));
    headers.insert("x-accel-buffering", http::HeaderValue::from_static("no"));
    response
}
