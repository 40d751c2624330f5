//! The data plane: authorize the virtual key, resolve the model, forward to the provider in its
//! own protocol (translating through the canonical model when it differs from the caller's),
//! relay the answer, and hand the request-log write to the host as background work.

mod admit;
mod attempt;
mod cache;
mod count;
mod exchange;
mod inbound;
mod limits;
mod models;
mod pass;
mod prepare;
mod raw;
mod resolve;

use bytes::Bytes;

pub(crate) use self::admit::{Screened, Screening, screen};
use self::admit::{authorize, cached_route, lookup_key};
use self::attempt::Forwarded;
pub(crate) use self::count::count_tokens;
use self::exchange::Exchange;
pub(crate) use self::inbound::{Endpoint, Inbound};
pub(crate) use self::models::{get_model, list_models};
use self::prepare::{Payload, Prepared};
use self::raw::{RawRequest, peek};

use crate::answers;
use crate::auth::AuthError;
use crate::body::Handled;
use crate::canonical::Request;
use crate::codec::{self, ClientView};
use crate::error::{GatewayError, RequestError};
use crate::ids;
use crate::policy;
use crate::reply::ErrorShape;
use crate::routing::{self, Route, RouteTarget};
use crate::rules::Vars;
use crate::state::{Ctx, Inner};
use crate::store::keys::VirtualKey;

/// `POST /v1/chat/completions`, `/v1/responses`, `/v1/messages`, `/v1/embeddings`, the OpenAI
/// endpoints relayed as they are, and the Gemini-native `generateContent` /
/// `streamGenerateContent`.
pub(crate) async fn forward(
    inner: &Inner,
    ctx: &Ctx,
    request: http::Request<Bytes>,
    inbound: Inbound,
) -> Handled {
    inner.router.admit(ctx.started_ms);
    let mut exchange = Exchange::new(inner, ctx, inbound.endpoint);
    let result = serve(inner, ctx, &request, &inbound, &mut exchange).await;
    let shape = ErrorShape::of(inbound.endpoint.protocol());
    exchange.answer(inner, ctx, request.body(), result, shape)
}

/// Admits the request and tries its route's targets: the key and its policy, the route, the
/// reservations, the request made ready, the targets in order.
async fn serve(
    inner: &Inner,
    ctx: &Ctx,
    request: &http::Request<Bytes>,
    inbound: &Inbound,
    exchange: &mut Exchange,
) -> Result<Forwarded, GatewayError> {
    let key = lookup_key(inner, request).await?;
    exchange.log.key_id = Some(key.id.clone());
    exchange.log_bodies = key.log_bodies;
    authorize(inner, ctx, &key)?;
    let (raw, special) = read(request, inbound)?;
    exchange.log.model_requested = Some(raw.model.clone());
    exchange.log.stream = raw.stream;
    if !key.allows(&raw.model) {
        return Err(AuthError::ModelNotAllowed(raw.model).into());
    }
    let route = cached_route(inner, &raw.model).await?;
    let mut body_len = request.body().len();
    match &special {
        Some(Payload::Embeddings(_)) if !route.targets.iter().any(prepare::embeds) => {
            let m = format!(
                "`{}` is served only by Anthropic providers, which have no embeddings API",
                raw.model
            );
            return Err(RequestError::field("model", m).into());
        }
        Some(Payload::Pass(pass)) => {
            if !route.targets.iter().any(prepare::passes) {
                let m = format!(
                    "`{}` has no OpenAI-compatible provider, which `{}` needs",
                    raw.model,
                    inbound.endpoint.path()
                );
                return Err(RequestError::field("model", m).into());
            }
            // A form's bytes are files, not tokens.
            if pass.is_form() {
                body_len = 0;
            }
        }
        _ => {}
    }
    exchange.estimated_input = policy::estimate_tokens(body_len, raw.max_tokens).0;
    let now = inner.platform.now_ms();
    let room = inner.config.max_body_bytes.saturating_sub(request.body().len());
    let vars = Vars { model: &raw.model, key_name: &key.name, now_ms: ctx.started_ms, room };
    let protocol = inbound.endpoint.protocol();
    // With a cache policy the conversation is decoded (and its rules applied) before admission:
    // the entry's key is its meaning, and a hit is admitted for its request only.
    let mut payload = None;
    if special.is_none() && (key.cache.is_some() || route.cache.is_some()) {
        let decoded = prepare::conversation(&raw, request.body(), protocol, &route, &vars, true)?;
        let ask = Ask { key: &key, route: &route, raw: &raw, inbound, now };
        if let Some(hit) = consult_cache(inner, exchange, request.headers(), &ask, &decoded).await?
        {
            return Ok(hit);
        }
        payload = Some(decoded);
    }
    exchange.held =
        limits::admit(&inner.quota, &key, &route, body_len, raw.max_tokens, now, false).await?;
    let payload = match (special, payload.take()) {
        (Some(p), _) => p,
        (None, Some(p)) => p,
        (None, None) => {
            prepare::conversation(&raw, request.body(), protocol, &route, &vars, false)?
        }
    };
    let mut prepared = prepared(inner, request, inbound, raw, payload);
    prepared.keep = exchange.fill.is_some();
    let order = order(inner, request, &route, &key.id, &prepared)?;
    let result = attempt::run(inner, &route, &order, &prepared, ctx.started_ms).await;
    let (target, attempts, outcome) = match result {
        Ok(s) => (Some(s.target), s.attempts, Ok(s.forwarded)),
        Err(u) => (u.target, u.attempts, Err(u.error)),
    };
    exchange.attempts = attempts;
    if let Some(t) = target.map(|i| &route.targets[i]) {
        exchange.served_by(t, &route.config);
        if let Some(request) = prepared.canonical() {
            exchange.translation =
                codec::translation(request, prepared.inbound, t.provider.protocol);
        }
    }
    outcome
}

/// What a request asks, for the response cache.
struct Ask<'a> {
    key: &'a VirtualKey,
    route: &'a Route,
    raw: &'a RawRequest,
    inbound: &'a Inbound,
    now: i64,
}

/// The response cache before admission: with a kept answer, the request admitted for itself only
/// (no tokens) and answered; otherwise the lookup recorded and, when the answer may be kept,
/// where.
async fn consult_cache(
    inner: &Inner,
    exchange: &mut Exchange,
    headers: &http::HeaderMap,
    ask: &Ask<'_>,
    payload: &Payload,
) -> Result<Option<Forwarded>, GatewayError> {
    let Payload::Chat { canonical: Some(canonical), .. } = payload else { return Ok(None) };
    let mode = answers::Mode::of(headers)?;
    let Some(lookup) = cache::Lookup::new(ask.key, ask.route, canonical, mode) else {
        return Ok(None);
    };
    if lookup.reads()
        && let Some(entry) = cache::find(inner, &lookup, ask.now).await
    {
        exchange.held =
            limits::admit(&inner.quota, ask.key, ask.route, 0, Some(0), ask.now, true).await?;
        let client = client_view(ask.inbound, ask.raw, Some(canonical));
        let (stream, now) = (ask.raw.stream, inner.platform.now_ms());
        let hit = cache::Hit::replay(entry, &client, stream, &ask.raw.model, now);
        return Ok(Some(Forwarded::Cached(hit)));
    }
    exchange.log.response_cache = Some(lookup.label().into());
    inner.metrics.cache_lookup(lookup.label());
    exchange.fill = lookup.fill(inner);
    Ok(None)
}

/// The body read at its top level; embeddings decoded (they never stream), and the OpenAI
/// endpoints relayed as they are read for their model.
fn read(
    request: &http::Request<Bytes>,
    inbound: &Inbound,
) -> Result<(RawRequest, Option<Payload>), GatewayError> {
    let body = request.body();
    if let Endpoint::Openai(call) = inbound.endpoint {
        let content_type =
            request.headers().get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
        let (raw, pass) = pass::read(call, body, content_type, inbound)?;
        return Ok((raw, Some(Payload::Pass(pass))));
    }
    let mut raw = peek(body, inbound)?;
    let embeddings = match inbound.endpoint {
        Endpoint::Embeddings => Some(codec::embeddings::decode_request(body)?),
        _ => None,
    };
    raw.stream &= embeddings.is_none();
    Ok((raw, embeddings.map(Payload::Embeddings)))
}

/// The request ready for any target: the caller's view (protocol, special tools, framing), the
/// headers that may travel, and ids for tool calls a translated answer may lack.
fn prepared(
    inner: &Inner,
    request: &http::Request<Bytes>,
    inbound: &Inbound,
    raw: RawRequest,
    payload: Payload,
) -> Prepared {
    let protocol = inbound.endpoint.protocol();
    let canonical = match &payload {
        Payload::Chat { canonical: Some(c), .. } => Some(c),
        _ => None,
    };
    let client = client_view(inbound, &raw, canonical);
    // Ids for tool calls an upstream sends without one: only translated answers need them.
    let call_ids = if canonical.is_some() {
        format!("call_{}", ids::base62(12, |b| inner.platform.random_bytes(b)))
    } else {
        String::new()
    };
    let headers = inbound::forwarded_headers(request.headers(), protocol);
    Prepared { raw, payload, inbound: protocol, headers, client, call_ids, keep: false }
}

/// The caller's side of the answer: its protocol, its special tools, its framing.
fn client_view(inbound: &Inbound, raw: &RawRequest, canonical: Option<&Request>) -> ClientView {
    let mut client =
        ClientView::new(inbound.endpoint.protocol(), canonical.map_or(&[], |c| &c.tools));
    client.include_usage = raw.include_usage;
    client.json_array = inbound.json_array;
    client
}

/// The route's targets in the order to try them (sticky sessions by `x-session-id`, else by key);
/// embeddings and the relayed OpenAI endpoints only to targets that have them.
fn order(
    inner: &Inner,
    request: &http::Request<Bytes>,
    route: &Route,
    key_id: &str,
    prepared: &Prepared,
) -> Result<Vec<usize>, GatewayError> {
    let session = request.headers().get("x-session-id").and_then(|v| v.to_str().ok());
    let now = inner.platform.now_ms();
    let platform = inner.platform.as_ref();
    let session = session.unwrap_or(key_id);
    let mut order = routing::order(
        &inner.router,
        &route.name,
        route.strategy,
        &route.targets,
        session,
        now,
        platform,
    )?;
    match &prepared.payload {
        Payload::Embeddings(_) => order.retain(|&i| prepare::embeds(&route.targets[i])),
        Payload::Pass(_) => order.retain(|&i| prepare::passes(&route.targets[i])),
        Payload::Chat { canonical: Some(c), .. } => {
            untranslated(&inner.router, now, route, &mut order, c, prepared)?
        }
        Payload::Chat { canonical: None, .. } => {}
    }
    Ok(order)
}

/// A request with a field no other protocol can carry (a continued message thread, a stored
/// response to continue, …) goes only to targets of the caller's protocol; with none left it is
/// refused — a continued thread with Anthropic's `thread_not_found`, which the SDKs answer by
/// sending the whole conversation (so a route whose Anthropic target is out still answers); any
/// other field, when the route has such a target but its breaker is open, as no target available
/// now (the model is right, the moment is not), and when it has none, naming the field.
fn untranslated(
    router: &routing::Router,
    now_ms: i64,
    route: &Route,
    order: &mut Vec<usize>,
    canonical: &Request,
    prepared: &Prepared,
) -> Result<(), GatewayError> {
    let inbound = prepared.inbound;
    let Some(field) = codec::untranslatable(inbound, &canonical.extra) else { return Ok(()) };
    let had = !order.is_empty();
    order.retain(|&i| route.targets[i].provider.protocol == inbound);
    if !had || !order.is_empty() {
        return Ok(());
    }
    if field == "thread" {
        return Err(RequestError::ThreadNotFound.into());
    }
    let own: Vec<&RouteTarget> =
        route.targets.iter().filter(|t| t.provider.protocol == inbound).collect();
    if !own.is_empty() {
        return Err(routing::no_target(router, &own, now_ms).into());
    }
    let m = format!(
        "`{field}` has no equivalent in the protocol this model's providers speak, and without \
         it the request would mean something else; use a model served over {}",
        inbound.as_str()
    );
    Err(RequestError::field(field, m).into())
}
