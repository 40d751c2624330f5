//! The caller's request made ready for any of its route's targets: decoded to the canonical model
//! only when some target needs translation or the route has prompt rules (rules applied once),
//! and for each target, the path and body it gets — the caller's own JSON when the target speaks
//! the caller's protocol and nothing was rewritten, else the canonical request encoded for it.

use bytes::Bytes;

use super::raw::{Fit, RawRequest, passthrough_body};
use crate::canonical::Request;
use crate::codec::embeddings::{self, EmbeddingsRequest};
use crate::codec::{self, ClientView, EncodeOptions};
use crate::error::{GatewayError, RequestError};
use crate::provider::{MaxTokensField, Protocol, SystemTo};
use crate::routing::{Route, RouteTarget};
use crate::rules::{self, Vars};

const JSON: &str = "application/json";

/// What the caller sent, by kind.
// One per request, built in place and never moved around: boxing the conversation would only add
// an allocation.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Payload {
    /// A conversation. `canonical` is present when some target needs translation or the route
    /// has prompt rules; without it every target gets the caller's own JSON.
    Chat { canonical: Option<Request>, rules_changed: bool },
    /// `/v1/embeddings`.
    Embeddings(EmbeddingsRequest),
    /// An OpenAI endpoint relayed as it is.
    Pass(super::pass::Pass),
}

/// The caller's request, ready to be sent to any target.
pub(crate) struct Prepared {
    pub raw: RawRequest,
    pub payload: Payload,
    pub inbound: Protocol,
    /// Caller headers for an upstream of the caller's own protocol (`FORWARDED_HEADERS`).
    pub headers: Vec<(&'static str, String)>,
    /// The caller's side: protocol, tools, framing.
    pub client: ClientView,
    /// Prefix of the ids made for tool calls an upstream sends without one.
    pub call_ids: String,
    /// The whole answer is wanted in the canonical model too (the response cache keeps it).
    pub keep: bool,
}

/// Whether `t` needs the request translated (another protocol, or isolation rewriting the
/// system prompt): the one place the gateway decides between relaying and translating.
pub(crate) fn translates(inbound: Protocol, t: &RouteTarget) -> bool {
    t.provider.protocol != inbound || t.provider.isolation.system_to.is_some()
}

/// Whether `t` can take a relayed OpenAI endpoint (an OpenAI-compatible upstream).
pub(crate) fn passes(t: &RouteTarget) -> bool {
    matches!(t.provider.protocol, Protocol::OpenaiChat | Protocol::OpenaiResponses)
}

/// Whether `t` can serve embeddings (Anthropic has no embeddings API).
pub(crate) fn embeds(t: &RouteTarget) -> bool {
    t.provider.protocol != Protocol::AnthropicMessages
}

/// The caller's conversation decoded (only when some target or rule needs it, or `decode` asks:
/// the response cache keys on it) and rewritten by the route's rules: the canonical request, and
/// whether the rules changed it.
pub(crate) fn conversation(
    raw: &RawRequest,
    body: &[u8],
    inbound: Protocol,
    route: &Route,
    vars: &Vars<'_>,
    decode: bool,
) -> Result<Payload, GatewayError> {
    let needs =
        decode || !route.rules.is_empty() || route.targets.iter().any(|t| translates(inbound, t));
    if !needs {
        return Ok(Payload::Chat { canonical: None, rules_changed: false });
    }
    let mut decoded = codec::decode_request(inbound, body)?;
    decoded.stream = raw.stream;
    decoded.model = raw.model.clone();
    decoded.extra = codec::unmapped(inbound, &raw.fields);
    let rules_changed = apply_rules(route, &mut decoded, vars)?;
    Ok(Payload::Chat { canonical: Some(decoded), rules_changed })
}

/// The route's prompt rules applied to `request`; whether they changed it.
pub(crate) fn apply_rules(
    route: &Route,
    request: &mut Request,
    vars: &Vars<'_>,
) -> Result<bool, GatewayError> {
    rules::apply(&route.rules, request, vars).map_err(|e| match e {
        rules::RuleError::Failed(m) => {
            let m = format!("a prompt rule of `{}` failed: {m}", route.name);
            RequestError::field("rules", m).into()
        }
        rules::RuleError::TooLarge => RequestError::RulesTooLarge(vars.room).into(),
    })
}

/// How `t` takes the output-token limit: capped at its model's `max_output_tokens`, and for
/// OpenAI chat under the field its model (`capabilities.max_tokens_field`) or provider
/// (`quirks.max_tokens_field`) says.
pub(crate) fn fit(t: &RouteTarget) -> Fit {
    let model_field = t
        .model
        .as_ref()
        .and_then(|m| m.capabilities.get("max_tokens_field"))
        .and_then(|v| serde_json::from_value::<MaxTokensField>(v.clone()).ok());
    let field = model_field.or(t.provider.quirks.max_tokens_field);
    Fit {
        cap: t
            .model
            .as_ref()
            .and_then(|m| m.max_output_tokens)
            .and_then(|m| u32::try_from(m).ok())
            .filter(|m| *m > 0),
        max_completion_tokens: field == Some(MaxTokensField::MaxCompletionTokens),
        vertex: t.provider.vertex_anthropic(),
    }
}

impl Prepared {
    /// What targets are sent and may answer, `(Content-Type, Accept)`: JSON both ways, or for a
    /// relayed endpoint the caller's own type (a form keeps its boundary) and any answer.
    pub(super) fn wire(&self) -> (&str, &str) {
        match &self.payload {
            Payload::Pass(pass) => (pass.content_type(), "*/*"),
            _ => (JSON, JSON),
        }
    }

    /// The canonical request, when the conversation was decoded.
    pub(super) fn canonical(&self) -> Option<&Request> {
        match &self.payload {
            Payload::Chat { canonical, .. } => canonical.as_ref(),
            Payload::Embeddings(_) | Payload::Pass(_) => None,
        }
    }

    /// Whether `t` gets the caller's own conversation JSON (same protocol, nothing rewritten).
    pub(super) fn passthrough(&self, t: &RouteTarget) -> bool {
        match &self.payload {
            Payload::Chat { rules_changed, .. } => !translates(self.inbound, t) && !rules_changed,
            Payload::Embeddings(_) => false,
            // Relayed as they came (a completions stream's own events go to the caller).
            Payload::Pass(_) => true,
        }
    }

    /// The path below the provider's base URL and the body to send to `t`.
    pub(super) fn request_for(
        &self,
        t: &RouteTarget,
        stream: bool,
    ) -> Result<(String, Bytes), GatewayError> {
        let upstream = t.provider.protocol;
        let model = &t.target.model;
        Ok(match &self.payload {
            Payload::Embeddings(e) if upstream == Protocol::Gemini => {
                (embeddings::gemini_path(e, model), embeddings::gemini_request(e, model)?)
            }
            Payload::Embeddings(_) => (
                "/embeddings".into(),
                passthrough_body(&self.raw, upstream, model, Fit::default())?,
            ),
            Payload::Pass(pass) => (pass.call.path().into(), pass.body(&self.raw, model, fit(t))?),
            Payload::Chat { .. } if self.passthrough(t) => (
                codec::upstream_path(upstream, model, stream),
                passthrough_body(&self.raw, upstream, model, fit(t))?,
            ),
            Payload::Chat { canonical, .. } => (
                codec::upstream_path(upstream, model, stream),
                encoded(canonical.clone().unwrap_or_default(), t, self.inbound)?,
            ),
        })
    }
}

/// The canonical request encoded for `t`: its tools checked, its output limit capped, the system
/// prompt moved as the provider's isolation says; to the caller's own protocol (prompt rules
/// changed the request), with the caller's unmapped fields as they came.
fn encoded(
    mut request: Request,
    t: &RouteTarget,
    inbound: Protocol,
) -> Result<Bytes, GatewayError> {
    let upstream = t.provider.protocol;
    let fit = fit(t);
    codec::dropped_tools(&request, upstream)?;
    if let (Some(asked), Some(cap)) = (request.max_tokens, fit.cap) {
        request.max_tokens = Some(asked.min(cap));
    }
    let openai = matches!(upstream, Protocol::OpenaiChat | Protocol::OpenaiResponses);
    let developer = t.provider.isolation.system_to == Some(SystemTo::Developer) && openai;
    if t.provider.isolation.system_to.is_some() && !developer {
        crate::isolation::system_into_user(&mut request);
    }
    let options = EncodeOptions {
        default_max_tokens: fit.cap.unwrap_or(0),
        system_as_developer: developer,
        max_completion_tokens: fit.max_completion_tokens,
        vertex: fit.vertex,
        // A model known not to reason (catalog flag) gets no reasoning controls.
        no_reasoning: t
            .model
            .as_ref()
            .and_then(|m| m.capabilities.get("reasoning"))
            .is_some_and(|v| v == false),
        extra: upstream == inbound,
    };
    Ok(codec::encode_request(upstream, &request, &t.target.model, &options)?)
}
