//! Counting a request's input tokens without generating: `POST /v1/messages/count_tokens`
//! (Claude Code's context accounting, the Anthropic SDK's `messages.count_tokens`),
//! `POST /v1/responses/input_tokens` and Gemini's `:countTokens`. The request goes to the first
//! target the model's routing would pick, in that upstream's own counting API: Anthropic
//! `count_tokens`, Gemini `countTokens`, OpenAI Responses `input_tokens`. OpenAI chat has no such
//! API: the answer is then an estimate (one token per four bytes of text, tool definitions and
//! arguments, 1,000 per image), marked `x-gateway-token-count: estimate`. Counting is not a
//! generation: the key's limits are not charged, but the call is logged (without tokens).

use bytes::Bytes;
use serde_json::{Value, json};

use super::Inbound;
use super::admit::{authorize, cached_route, lookup_key};
use super::attempt::outbound;
use super::exchange::Exchange;
use super::prepare::fit;
use super::raw::{Fit, RawRequest, passthrough_body, peek};
use crate::body::Handled;
use crate::canonical::{Block, Request};
use crate::codec::{self, EncodeOptions};
use crate::error::{GatewayError, RequestError};
use crate::provider::Protocol;
use crate::reply;
use crate::routing::RouteTarget;
use crate::rules::Vars;
use crate::state::{Ctx, Inner};
use crate::upstream::{UpstreamError, read_body};

/// A count and where it came from.
struct Counted {
    tokens: i64,
    /// No upstream counting API: the gateway's own estimate.
    estimated: bool,
}

pub(crate) async fn count_tokens(
    inner: &Inner,
    ctx: &Ctx,
    request: http::Request<Bytes>,
    inbound: Inbound,
) -> Handled {
    let protocol = inbound.endpoint.protocol();
    let mut exchange = Exchange::new(inner, ctx, inbound.endpoint);
    let result = count(inner, &request, &inbound, ctx, &mut exchange).await.map(|counted| {
        let body = match protocol {
            Protocol::AnthropicMessages => json!({"input_tokens": counted.tokens}),
            Protocol::Gemini => json!({"totalTokens": counted.tokens}),
            _ => json!({"object": "response.input_tokens", "input_tokens": counted.tokens}),
        };
        let mut response = reply::json(http::StatusCode::OK, &body);
        let how = if counted.estimated { "estimate" } else { "upstream" };
        response.headers_mut().insert("x-gateway-token-count", http::HeaderValue::from_static(how));
        response
    });
    exchange.logged(inner, ctx, result, reply::ErrorShape::of(protocol))
}

async fn count(
    inner: &Inner,
    request: &http::Request<Bytes>,
    inbound: &Inbound,
    ctx: &Ctx,
    exchange: &mut Exchange,
) -> Result<Counted, GatewayError> {
    let protocol = inbound.endpoint.protocol();
    let key = lookup_key(inner, request).await?;
    exchange.log.key_id = Some(key.id.clone());
    authorize(inner, ctx, &key)?;
    // Gemini callers may wrap the request: `{"generateContentRequest": {…}}`.
    let body = match serde_json::from_slice::<Value>(request.body()) {
        Ok(Value::Object(mut o)) if protocol == Protocol::Gemini => {
            match o.remove("generateContentRequest") {
                Some(inner_request) => Bytes::from(inner_request.to_string()),
                None => request.body().clone(),
            }
        }
        _ => request.body().clone(),
    };
    let raw = peek(&body, inbound)?;
    exchange.log.model_requested = Some(raw.model.clone());
    if !key.allows(&raw.model) {
        return Err(crate::auth::AuthError::ModelNotAllowed(raw.model).into());
    }
    let route = cached_route(inner, &raw.model).await?;
    let mut canonical = codec::decode_request(protocol, &body)?;
    canonical.model = raw.model.clone();
    let room = inner.config.max_body_bytes.saturating_sub(body.len());
    let vars = Vars { model: &raw.model, key_name: &key.name, now_ms: ctx.started_ms, room };
    let changed = super::prepare::apply_rules(&route, &mut canonical, &vars)?;
    let now = inner.platform.now_ms();
    let order = crate::routing::order(
        &inner.router,
        &route.name,
        route.strategy,
        &route.targets,
        &key.id,
        now,
        inner.platform.as_ref(),
    )?;
    let Some(t) = order.first().map(|&i| &route.targets[i]) else {
        return Err(crate::routing::NoTarget { retry_after_secs: 1, rate_limited: false }.into());
    };
    exchange.served_by(t, &route.config);
    let same = t.provider.protocol == protocol && !changed;
    ask(inner, request, t, Asked { raw: &raw, canonical: &canonical, protocol, same }).await
}

/// What is counted: the caller's request read at its top level and decoded (rules applied), in
/// the caller's protocol, and whether a same-protocol upstream may get the caller's own JSON.
struct Asked<'a> {
    raw: &'a RawRequest,
    canonical: &'a Request,
    protocol: Protocol,
    same: bool,
}

/// Asks `t`'s counting API, or estimates when it has none.
async fn ask(
    inner: &Inner,
    request: &http::Request<Bytes>,
    t: &RouteTarget,
    asked: Asked<'_>,
) -> Result<Counted, GatewayError> {
    let Asked { raw, canonical, protocol, same } = asked;
    let upstream = t.provider.protocol;
    let model = &t.target.model;
    let (path, body) = match upstream {
        // Neither Chat Completions nor Converse has a counting endpoint the gateway uses.
        Protocol::OpenaiChat | Protocol::BedrockConverse => {
            return Ok(Counted { tokens: estimate(canonical), estimated: true });
        }
        _ if same => {
            (count_path(upstream, model), passthrough_body(raw, upstream, model, Fit::default())?)
        }
        _ => (count_path(upstream, model), count_body(canonical, upstream, model, fit(t))?),
    };
    let headers = if upstream == protocol {
        super::inbound::forwarded_headers(request.headers(), protocol)
    } else {
        vec![]
    };
    let now = inner.platform.now_ms();
    let Ok(credential) = inner.router.keyring.pick(&t.provider, now) else {
        // Every credential was refused: nothing is sent with a revoked key.
        return Ok(Counted { tokens: estimate(canonical), estimated: true });
    };
    let body = (body, ("application/json", "application/json"));
    let outbound = outbound(inner, t, credential, path, body, false, &headers).await?;
    let response = inner.http.send(outbound, inner.config.upstream_timeout).await?;
    let (parts, body) = response.into_parts();
    let bytes = read_body(body, 1 << 20).await?;
    if !parts.status.is_success() {
        let error = UpstreamError::from_status(parts.status.as_u16(), &parts.headers, &bytes);
        return Err(error.redacted(&inner.redactor(&t.provider)).into());
    }
    let answer: Value = serde_json::from_slice(&bytes)
        .map_err(|e| UpstreamError::InvalidResponse(format!("token count is not JSON: {e}")))?;
    let tokens =
        answer["input_tokens"].as_i64().or_else(|| answer["totalTokens"].as_i64()).ok_or_else(
            || UpstreamError::InvalidResponse("the answer carries no token count".into()),
        )?;
    Ok(Counted { tokens, estimated: false })
}

/// The counting endpoint below a provider's base URL.
fn count_path(upstream: Protocol, model: &str) -> String {
    match upstream {
        Protocol::AnthropicMessages => "/messages/count_tokens".into(),
        Protocol::Gemini => {
            format!("/models/{}:countTokens", model.strip_prefix("models/").unwrap_or(model))
        }
        _ => "/responses/input_tokens".into(),
    }
}

/// A counting request for `upstream`: the generation request it would get, without the fields
/// its counting API refuses.
fn count_body(
    request: &Request,
    upstream: Protocol,
    model: &str,
    fit: Fit,
) -> Result<Bytes, GatewayError> {
    let mut request = request.clone();
    request.stream = false;
    codec::dropped_tools(&request, upstream)?;
    let options =
        EncodeOptions { default_max_tokens: fit.cap.unwrap_or(0), ..EncodeOptions::default() };
    let encoded = codec::encode_request(upstream, &request, model, &options)?;
    let mut body: serde_json::Map<String, Value> =
        serde_json::from_slice(&encoded).map_err(|e| RequestError::InvalidJson(e.to_string()))?;
    let keep: &[&str] = match upstream {
        Protocol::AnthropicMessages => {
            &["model", "messages", "system", "tools", "tool_choice", "thinking"]
        }
        Protocol::OpenaiResponses => &[
            "model",
            "input",
            "instructions",
            "tools",
            "tool_choice",
            "parallel_tool_calls",
            "reasoning",
            "text",
        ],
        _ => &["contents", "systemInstruction", "tools", "toolConfig", "generationConfig"],
    };
    body.retain(|k, _| keep.contains(&k.as_str()));
    let body = if upstream == Protocol::Gemini {
        let model = model.strip_prefix("models/").unwrap_or(model);
        body.insert("model".into(), format!("models/{model}").into());
        json!({"generateContentRequest": body})
    } else {
        Value::Object(body)
    };
    Ok(Bytes::from(body.to_string()))
}

/// One token per four bytes of the request's text, tool definitions and arguments, and 1,000
/// per image: what the gateway answers when the upstream has no counting API.
fn estimate(request: &Request) -> i64 {
    fn block_bytes(b: &Block) -> usize {
        match b {
            Block::Text(t) | Block::Thinking { text: t, .. } => t.len(),
            Block::Image(_) => 4000,
            Block::ToolCall { name, arguments, .. } => name.len() + arguments.len(),
            Block::ToolResult { content, .. } => content.iter().map(block_bytes).sum(),
        }
    }
    let system: usize = request.system.iter().map(String::len).sum();
    let messages: usize =
        request.messages.iter().flat_map(|m| &m.content).map(block_bytes).sum::<usize>()
            + 4 * request.messages.len();
    let tools: usize = request
        .tools
        .iter()
        .map(|t| {
            t.name.len()
                + t.description.as_ref().map_or(0, String::len)
                + t.parameters.to_string().len()
        })
        .sum();
    i64::try_from((system + messages + tools).div_ceil(4)).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::canonical::{Message, Role, Tool};

    #[test]
    fn the_estimate_counts_text_tools_and_images() {
        let request = Request {
            system: vec!["abcd".repeat(10)],
            messages: vec![Message {
                role: Role::User,
                content: vec![
                    Block::Text("x".repeat(96)),
                    Block::Image(crate::canonical::ImageSource::Url("u".into())),
                ],
            }],
            tools: vec![Tool::function("f", None, json!({}))],
            ..Request::default()
        };
        // 40 + 96 + 4000 + 4 (one message) + 1 + 2 = 4143 bytes → 1036 tokens.
        assert_eq!(estimate(&request), 1036);
    }

    #[test]
    fn counting_bodies_keep_only_what_counting_apis_take() {
        let request = Request {
            system: vec!["s".into()],
            messages: vec![Message { role: Role::User, content: vec![Block::Text("hi".into())] }],
            max_tokens: Some(100),
            temperature: Some(0.5),
            ..Request::default()
        };
        let parse = |b: Bytes| serde_json::from_slice::<Value>(&b).unwrap();
        let a =
            parse(count_body(&request, Protocol::AnthropicMessages, "c", Fit::default()).unwrap());
        assert_eq!(a["model"], "c");
        assert!(a.get("max_tokens").is_none() && a.get("temperature").is_none());
        let g = parse(count_body(&request, Protocol::Gemini, "g", Fit::default()).unwrap());
        assert_eq!(g["generateContentRequest"]["model"], "models/g");
        assert!(g["generateContentRequest"]["contents"].is_array());
        let r =
            parse(count_body(&request, Protocol::OpenaiResponses, "r", Fit::default()).unwrap());
        assert!(r.get("store").is_none() && r["input"].is_array());
    }
}
