//! What a provider is: a row of data (wire protocol, base URL, auth scheme, extra headers), never a
//! module of code. Adding an OpenAI-compatible vendor is adding a row.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Upstream wire protocols, named after the API rather than the vendor.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum Protocol {
    #[default]
    OpenaiChat,
    OpenaiResponses,
    AnthropicMessages,
    Gemini,
    /// Amazon Bedrock's Converse API (an upstream only: no endpoint speaks it to callers).
    BedrockConverse,
}

impl Protocol {
    /// Every upstream protocol.
    pub const ALL: [Protocol; 5] = [
        Protocol::OpenaiChat,
        Protocol::OpenaiResponses,
        Protocol::AnthropicMessages,
        Protocol::Gemini,
        Protocol::BedrockConverse,
    ];

    /// The protocols callers speak (each has its endpoint).
    pub const CLIENTS: [Protocol; 4] = [
        Protocol::OpenaiChat,
        Protocol::OpenaiResponses,
        Protocol::AnthropicMessages,
        Protocol::Gemini,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::OpenaiChat => "openai_chat",
            Protocol::OpenaiResponses => "openai_responses",
            Protocol::AnthropicMessages => "anthropic_messages",
            Protocol::Gemini => "gemini",
            Protocol::BedrockConverse => "bedrock_converse",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == s)
    }

    /// The auth scheme a provider of this protocol uses unless told otherwise.
    pub fn default_auth(self) -> AuthScheme {
        match self {
            Protocol::OpenaiChat | Protocol::OpenaiResponses => AuthScheme::Bearer,
            Protocol::AnthropicMessages => AuthScheme::XApiKey,
            Protocol::Gemini => AuthScheme::XGoogApiKey,
            Protocol::BedrockConverse => AuthScheme::AwsSigv4,
        }
    }
}

/// How the provider's credential is presented upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthScheme {
    /// `Authorization: Bearer <key>` (OpenAI and compatibles).
    Bearer,
    /// `x-api-key: <key>` plus `anthropic-version` (Anthropic).
    XApiKey,
    /// `x-goog-api-key: <key>` (Gemini).
    XGoogApiKey,
    /// `api-key: <key>` (Azure OpenAI).
    AzureApiKey,
    /// No credential (local servers such as Ollama or vLLM).
    None,
    /// A Google service account's key file (JSON), exchanged for an OAuth token sent as
    /// `Authorization: Bearer` (Vertex AI).
    GoogleServiceAccount,
    /// An Azure Entra ID application (JSON: tenant, client id and secret), exchanged for a token
    /// sent as `Authorization: Bearer` (Azure OpenAI).
    AzureEntra,
    /// AWS Signature Version 4 (Bedrock): the credential is JSON with `access_key_id`,
    /// `secret_access_key`, optional `session_token` and `region`; every request is signed.
    AwsSigv4,
}

impl AuthScheme {
    pub const ALL: [AuthScheme; 8] = [
        AuthScheme::Bearer,
        AuthScheme::XApiKey,
        AuthScheme::XGoogApiKey,
        AuthScheme::AzureApiKey,
        AuthScheme::None,
        AuthScheme::GoogleServiceAccount,
        AuthScheme::AzureEntra,
        AuthScheme::AwsSigv4,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthScheme::Bearer => "bearer",
            AuthScheme::XApiKey => "x_api_key",
            AuthScheme::XGoogApiKey => "x_goog_api_key",
            AuthScheme::AzureApiKey => "azure_api_key",
            AuthScheme::None => "none",
            AuthScheme::GoogleServiceAccount => "google_service_account",
            AuthScheme::AzureEntra => "azure_entra",
            AuthScheme::AwsSigv4 => "aws_sigv4",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// Whether the credential is exchanged for a short-lived token (see `cloud`).
    pub fn exchanges(self) -> bool {
        matches!(self, AuthScheme::GoogleServiceAccount | AuthScheme::AzureEntra)
    }

    /// Header name and value that carry `credential` (for a token scheme, the token), if this
    /// scheme sends one.
    pub fn header(self, credential: &str) -> Option<(&'static str, String)> {
        match self {
            AuthScheme::Bearer | AuthScheme::GoogleServiceAccount | AuthScheme::AzureEntra => {
                Some(("authorization", format!("Bearer {credential}")))
            }
            AuthScheme::XApiKey => Some(("x-api-key", credential.to_owned())),
            AuthScheme::XGoogApiKey => Some(("x-goog-api-key", credential.to_owned())),
            AuthScheme::AzureApiKey => Some(("api-key", credential.to_owned())),
            // Signed after the request is built (see `cloud::sigv4`).
            AuthScheme::None | AuthScheme::AwsSigv4 => None,
        }
    }
}

/// Relay-station isolation: some relays in front of Codex-style backends inject their own
/// `instructions` and echo them back.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Isolation {
    /// Remove the `instructions` the upstream echoes in responses (top level and inside Responses
    /// stream events), so its injected prompt never reaches the caller.
    pub strip_instructions: bool,
    /// Send the caller's system prompt as a message instead of the system slot the upstream
    /// overrides: `developer` (OpenAI protocols) or `user` (any protocol).
    pub system_to: Option<SystemTo>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SystemTo {
    Developer,
    User,
}

/// How an upstream's API differs from its protocol's reference, as data.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Quirks {
    /// OpenAI chat: the name the output-token limit is sent under (`max_tokens` when unset). A
    /// model's `capabilities.max_tokens_field` overrides it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens_field: Option<MaxTokensField>,
    /// Azure OpenAI deployments: the `api-version` every request carries; every endpoint but the
    /// Responses API then goes to `/deployments/{model}/…` (the model's upstream id is the
    /// deployment).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<std::borrow::Cow<'static, str>>,
}

/// The field OpenAI chat upstreams read the output-token limit from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MaxTokensField {
    /// What most OpenAI-compatible servers read.
    MaxTokens,
    /// OpenAI's own API (its reasoning models refuse `max_tokens`), Azure OpenAI.
    MaxCompletionTokens,
}

/// One of a provider's credentials, sealed (see `crypto`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Credential {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub sealed: String,
    /// Share of the traffic relative to the provider's other credentials (1 to 1000).
    #[serde(default = "one")]
    pub weight: u32,
    /// Set when the upstream refused it (401/403): it is not used until re-enabled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled: Option<Disabled>,
}

fn one() -> u32 {
    1
}

/// Why and when a credential was disabled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Disabled {
    pub reason: String,
    pub at: i64,
}

/// A configured upstream.
#[derive(Debug, Clone, PartialEq)]
pub struct Provider {
    pub id: String,
    pub name: String,
    pub protocol: Protocol,
    /// Base URL up to and including the version segment, e.g. `https://api.openai.com/v1`.
    pub base_url: String,
    pub auth_scheme: AuthScheme,
    /// Sealed credentials (see `crypto`), used by weight; never leave the core in plaintext
    /// except upstream.
    pub credentials: Vec<Credential>,
    pub extra_headers: BTreeMap<String, String>,
    pub isolation: Isolation,
    pub quirks: Quirks,
    pub enabled: bool,
    pub created_at: i64,
    pub updated_at: i64,
}

impl Provider {
    /// Claude on Vertex AI: Anthropic's protocol behind a Google service account, called by
    /// `rawPredict` with the model in the path.
    pub fn vertex_anthropic(&self) -> bool {
        self.protocol == Protocol::AnthropicMessages
            && self.auth_scheme == AuthScheme::GoogleServiceAccount
    }

    /// The first credential not disabled (the admin API's connectivity test and model list).
    pub fn first_credential(&self) -> Option<&Credential> {
        self.credentials.iter().find(|c| c.disabled.is_none())
    }

    /// The admin API's view: everything but the credential, which is reduced to a flag; a
    /// disabled credential's reason (the upstream's words) scrubbed by `redactor` — rows stored
    /// before upstream messages were scrubbed may still carry a key.
    pub fn public_view(&self, redactor: &crate::redact::Redactor) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "name": self.name,
            "protocol": self.protocol,
            "base_url": self.base_url,
            "auth_scheme": self.auth_scheme,
            "has_credentials": !self.credentials.is_empty(),
            "credentials": self.credentials.iter().map(|c| serde_json::json!({
                "id": c.id, "label": c.label, "weight": c.weight,
                "disabled_reason": c.disabled.as_ref().map(|d| redactor.scrub(&d.reason)),
                "disabled_at": c.disabled.as_ref().map(|d| d.at),
            })).collect::<Vec<_>>(),
            "extra_headers": self.extra_headers,
            "isolation": self.isolation,
            "quirks": self.quirks,
            "enabled": self.enabled,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_and_scheme_names_round_trip() {
        for p in Protocol::ALL {
            assert_eq!(Protocol::parse(p.as_str()), Some(p));
            assert_eq!(serde_json::to_value(p).unwrap(), p.as_str());
        }
        for a in AuthScheme::ALL {
            assert_eq!(AuthScheme::parse(a.as_str()), Some(a));
            assert_eq!(serde_json::to_value(a).unwrap(), a.as_str());
        }
    }

    #[test]
    fn public_view_never_contains_the_credential() {
        let p = Provider {
            id: "p".into(),
            name: "n".into(),
            protocol: Protocol::OpenaiChat,
            base_url: "http://x".into(),
            auth_scheme: AuthScheme::Bearer,
            credentials: vec![Credential {
                id: "c1".into(),
                label: None,
                sealed: "v1:SEALED".into(),
                weight: 1,
                disabled: None,
            }],
            extra_headers: BTreeMap::new(),
            isolation: Isolation::default(),
            quirks: Quirks::default(),
            enabled: true,
            created_at: 0,
            updated_at: 0,
        };
        let text = p.public_view(&Default::default()).to_string();
        assert!(!text.contains("SEALED"));
        assert!(text.contains("\"has_credentials\":true"));
    }
}
