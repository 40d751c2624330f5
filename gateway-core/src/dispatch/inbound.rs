//! What a data-plane request is before anything is decoded: which endpoint (and, for the
//! Gemini-native routes, the model and streaming mode its URL names), the caller's key, and the
//! caller headers that may travel upstream. The body itself is read in `raw.rs`.

use crate::provider::Protocol;
use crate::routes::{GeminiCall, OpenaiCall};

/// What a data-plane request asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// Generation in one of the inbound protocols.
    Generate(Protocol),
    Embeddings,
    /// An OpenAI endpoint relayed as it is (completions, images, audio, moderations, rerank).
    Openai(OpenaiCall),
    /// Counting a request's input tokens without generating (`/v1/messages/count_tokens`,
    /// `/v1/responses/input_tokens`, Gemini `:countTokens`).
    CountTokens(Protocol),
}

impl Endpoint {
    /// The path the request log names.
    pub(crate) fn path(self) -> &'static str {
        match self {
            Endpoint::Generate(Protocol::OpenaiChat) => "/v1/chat/completions",
            Endpoint::Generate(Protocol::OpenaiResponses) => "/v1/responses",
            Endpoint::Generate(Protocol::AnthropicMessages) => "/v1/messages",
            Endpoint::Generate(Protocol::Gemini) => "/v1beta/models:generateContent",
            // No endpoint speaks Converse to callers.
            Endpoint::Generate(Protocol::BedrockConverse) => "/model/converse",
            Endpoint::Embeddings => "/v1/embeddings",
            Endpoint::Openai(OpenaiCall::Completions) => "/v1/completions",
            Endpoint::Openai(OpenaiCall::ImageGenerations) => "/v1/images/generations",
            Endpoint::Openai(OpenaiCall::ImageEdits) => "/v1/images/edits",
            Endpoint::Openai(OpenaiCall::Speech) => "/v1/audio/speech",
            Endpoint::Openai(OpenaiCall::Transcriptions) => "/v1/audio/transcriptions",
            Endpoint::Openai(OpenaiCall::Moderations) => "/v1/moderations",
            Endpoint::Openai(OpenaiCall::Rerank) => "/v1/rerank",
            Endpoint::CountTokens(Protocol::AnthropicMessages) => "/v1/messages/count_tokens",
            Endpoint::CountTokens(Protocol::Gemini) => "/v1beta/models:countTokens",
            Endpoint::CountTokens(_) => "/v1/responses/input_tokens",
        }
    }

    /// The caller's protocol as the request log names it.
    pub(crate) fn log_protocol(self) -> &'static str {
        match self {
            Endpoint::Generate(p) | Endpoint::CountTokens(p) => p.as_str(),
            Endpoint::Embeddings => "openai_embeddings",
            Endpoint::Openai(_) => "openai",
        }
    }

    /// The protocol the caller speaks (embeddings callers speak OpenAI's).
    pub(crate) fn protocol(self) -> Protocol {
        match self {
            Endpoint::Generate(p) | Endpoint::CountTokens(p) => p,
            Endpoint::Embeddings | Endpoint::Openai(_) => Protocol::OpenaiChat,
        }
    }
}

/// A data-plane request as its route describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Inbound {
    pub endpoint: Endpoint,
    /// Gemini: the model named in the URL (`/v1beta/models/{model}:generateContent`).
    pub path_model: Option<String>,
    /// Gemini: `streamGenerateContent`.
    pub path_stream: bool,
    /// Gemini `streamGenerateContent` without `alt=sse`: the answer is one JSON array.
    pub json_array: bool,
}

impl Inbound {
    pub(crate) fn new(endpoint: Endpoint) -> Self {
        Inbound { endpoint, path_model: None, path_stream: false, json_array: false }
    }

    /// A Gemini-native call on `model` (the `{model}` of its path).
    pub(crate) fn gemini(model: &str, call: GeminiCall, query: Option<&str>) -> Self {
        let sse = crate::query::pairs(query).iter().any(|(k, v)| k == "alt" && v == "sse");
        let endpoint = match call {
            GeminiCall::Generate | GeminiCall::Stream => Endpoint::Generate(Protocol::Gemini),
            GeminiCall::CountTokens => Endpoint::CountTokens(Protocol::Gemini),
        };
        let stream = call == GeminiCall::Stream;
        Inbound {
            endpoint,
            path_model: Some(model.to_owned()),
            path_stream: stream,
            json_array: stream && !sse,
        }
    }
}

/// The virtual key a caller presented: `Authorization: Bearer`, `x-api-key`, `x-goog-api-key`,
/// or (Gemini-native routes, as Google's API allows) the `key` query parameter.
pub(crate) fn presented_key(headers: &http::HeaderMap, uri: &http::Uri) -> Option<String> {
    if let Some(key) = crate::auth::vkey::from_headers(headers) {
        return Some(key.to_owned());
    }
    if crate::routes::is_gemini(uri.path()) {
        return crate::query::pairs(uri.query())
            .into_iter()
            .find(|(k, v)| k == "key" && !v.is_empty())
            .map(|(_, v)| v);
    }
    None
}

/// Caller headers an upstream of the caller's own protocol receives, merged with the provider's
/// `extra_headers`. Only these travel: they change what the upstream accepts, not who pays.
///
/// | header | protocol | why |
/// |---|---|---|
/// | `anthropic-beta` | Anthropic | enables the beta fields the caller sends (Claude Code: `context_management`, mid-conversation `system` messages, `output_config.effort`, …); joined with the provider's own betas |
/// | `openai-beta` | OpenAI chat, Responses | the same for OpenAI's beta features |
///
/// Never forwarded: credentials (`authorization`, `x-api-key`, `x-goog-api-key`, `api-key`,
/// cookies), account selectors (`openai-organization`, `openai-project`: the gateway's credential
/// decides the account), `anthropic-version` (the provider row sets it), `idempotency-key` (one
/// caller request can become several upstream attempts on different providers, so the caller's
/// key would not describe what the upstream sees), client telemetry (`x-stainless-*`, user agent).
pub(crate) const FORWARDED_HEADERS: [(&str, &[Protocol]); 2] = [
    ("anthropic-beta", &[Protocol::AnthropicMessages]),
    ("openai-beta", &[Protocol::OpenaiChat, Protocol::OpenaiResponses]),
];

/// The caller's headers that an upstream speaking `protocol` (the caller's own) may receive.
pub(crate) fn forwarded_headers(
    headers: &http::HeaderMap,
    protocol: Protocol,
) -> Vec<(&'static str, String)> {
    FORWARDED_HEADERS
        .iter()
        .filter(|(_, protocols)| protocols.contains(&protocol))
        .filter_map(|(name, _)| {
            let values: Vec<&str> =
                headers.get_all(*name).iter().filter_map(|v| v.to_str().ok()).collect();
            (!values.is_empty()).then(|| (*name, values.join(",")))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The Gemini call a `POST` to `path` is, as the route table dispatches it.
    fn gemini(path: &str, query: Option<&str>) -> Option<Inbound> {
        use crate::routes::{Lookup, RouteId, lookup, param};
        match lookup(&http::Method::POST, path) {
            Lookup::Found((_, t, RouteId::Gemini(call))) => {
                Some(Inbound::gemini(param(t, path)?, *call, query))
            }
            _ => None,
        }
    }

    #[test]
    fn gemini_routes_name_model_action_and_framing() {
        let i = gemini("/v1beta/models/gemini-2.5-flash:streamGenerateContent", Some("alt=sse"))
            .unwrap();
        assert_eq!(i.path_model.as_deref(), Some("gemini-2.5-flash"));
        assert!(i.path_stream && !i.json_array);
        let i = gemini("/v1beta/models/m:streamGenerateContent", None).unwrap();
        assert!(i.json_array);
        let i = gemini("/v1/models/m:countTokens", None).unwrap();
        assert_eq!(i.endpoint, Endpoint::CountTokens(Protocol::Gemini));
        assert_eq!(gemini("/v1beta/models/m:embedContent", None), None);
        assert_eq!(gemini("/v1beta/models/m", None), None);
    }

    #[test]
    fn only_allow_listed_headers_travel_and_only_to_their_protocol() {
        let mut headers = http::HeaderMap::new();
        headers.insert("anthropic-beta", "context-management-2025-06-27".parse().unwrap());
        headers.append("anthropic-beta", "effort-2025-11-24".parse().unwrap());
        headers.insert("x-api-key", "sk-gw-secret".parse().unwrap());
        headers.insert("openai-organization", "org".parse().unwrap());
        let out = forwarded_headers(&headers, Protocol::AnthropicMessages);
        assert_eq!(
            out,
            vec![("anthropic-beta", "context-management-2025-06-27,effort-2025-11-24".into())]
        );
        assert!(forwarded_headers(&headers, Protocol::OpenaiChat).is_empty());
    }
}
