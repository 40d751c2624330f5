//! Provider presets: the vendors the gateway knows, as data (protocol, base URL, auth scheme,
//! extra headers, notes). Creating a provider from a preset needs only an API key; adding an
//! OpenAI-compatible vendor is adding a row here.

use serde::Serialize;

use crate::provider::{AuthScheme, MaxTokensField, Protocol, Quirks};

#[derive(Debug, Clone, Serialize)]
pub(crate) struct Preset {
    pub id: &'static str,
    pub name: &'static str,
    pub protocol: Protocol,
    pub base_url: &'static str,
    pub auth_scheme: AuthScheme,
    #[serde(serialize_with = "as_map")]
    pub extra_headers: &'static [(&'static str, &'static str)],
    /// The base URL has a placeholder (resource, account) the admin must fill in.
    pub needs_base_url: bool,
    /// How the vendor's API differs from its protocol's reference.
    pub quirks: PresetQuirks,
    pub notes: &'static str,
}

fn as_map<S: serde::Serializer>(pairs: &[(&str, &str)], s: S) -> Result<S::Ok, S::Error> {
    s.collect_map(pairs.iter().copied())
}

const fn preset(id: &'static str, name: &'static str, base_url: &'static str) -> Preset {
    Preset {
        id,
        name,
        protocol: Protocol::OpenaiChat,
        base_url,
        auth_scheme: AuthScheme::Bearer,
        extra_headers: &[],
        needs_base_url: false,
        quirks: PresetQuirks { max_tokens_field: None, api_version: None },
        notes: "",
    }
}

/// OpenAI's own API and Azure's take the output limit as `max_completion_tokens`.
const COMPLETION_TOKENS: PresetQuirks =
    PresetQuirks { max_tokens_field: Some(MaxTokensField::MaxCompletionTokens), api_version: None };

/// A preset's `Quirks`, as constants.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct PresetQuirks {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_tokens_field: Option<MaxTokensField>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_version: Option<&'static str>,
}

impl PresetQuirks {
    pub(crate) fn quirks(&self) -> Quirks {
        Quirks {
            max_tokens_field: self.max_tokens_field,
            api_version: self.api_version.map(std::borrow::Cow::Borrowed),
        }
    }
}

const fn local(
    id: &'static str,
    name: &'static str,
    base_url: &'static str,
    notes: &'static str,
) -> Preset {
    Preset { auth_scheme: AuthScheme::None, notes, ..preset(id, name, base_url) }
}

/// Amazon Bedrock (Converse), one preset per region with Bedrock's runtime endpoint.
const fn bedrock(id: &'static str, name: &'static str, base_url: &'static str) -> Preset {
    Preset {
        protocol: Protocol::BedrockConverse,
        auth_scheme: AuthScheme::AwsSigv4,
        notes: "Amazon Bedrock (Converse API): the key is JSON {\"access_key_id\", \"secret_access_key\", \"session_token\"?} of an IAM identity allowed bedrock:InvokeModel and bedrock:InvokeModelWithResponseStream; model ids are Bedrock's (anthropic.claude-sonnet-4-5-20250929-v1:0, or an inference profile such as us.anthropic.claude-…).",
        ..preset(id, name, base_url)
    }
}

/// Every preset, in the order the admin UI offers them.
pub(crate) const PRESETS: &[Preset] = &[
    Preset { quirks: COMPLETION_TOKENS, ..preset("openai", "OpenAI", "https://api.openai.com/v1") },
    Preset {
        protocol: Protocol::OpenaiResponses,
        notes: "The Responses API (reasoning items, built-in state) of the same account.",
        ..preset("openai-responses", "OpenAI (Responses API)", "https://api.openai.com/v1")
    },
    Preset {
        auth_scheme: AuthScheme::AzureApiKey,
        needs_base_url: true,
        quirks: COMPLETION_TOKENS,
        notes: "Replace YOUR-RESOURCE with the Azure OpenAI resource name; a model's upstream id is its deployment name (v1 API, no api-version needed).",
        ..preset("azure-openai", "Azure OpenAI", "https://YOUR-RESOURCE.openai.azure.com/openai/v1")
    },
    Preset {
        auth_scheme: AuthScheme::AzureApiKey,
        needs_base_url: true,
        quirks: PresetQuirks { api_version: Some("2024-10-21"), ..COMPLETION_TOKENS },
        notes: "Azure OpenAI deployments: replace YOUR-RESOURCE with the resource name; a model's upstream id is its deployment name, requests go to /deployments/{deployment}/chat/completions?api-version=… (quirks.api_version).",
        ..preset(
            "azure-openai-deployments",
            "Azure OpenAI (deployments)",
            "https://YOUR-RESOURCE.openai.azure.com/openai",
        )
    },
    Preset {
        auth_scheme: AuthScheme::AzureEntra,
        needs_base_url: true,
        quirks: PresetQuirks { api_version: Some("2024-10-21"), ..COMPLETION_TOKENS },
        notes: "Azure OpenAI deployments with Entra ID: the key is the application's JSON {\"tenant_id\", \"client_id\", \"client_secret\"} (role Cognitive Services OpenAI User); the gateway fetches and refreshes its tokens.",
        ..preset(
            "azure-openai-entra",
            "Azure OpenAI (deployments, Entra ID)",
            "https://YOUR-RESOURCE.openai.azure.com/openai",
        )
    },
    bedrock(
        "bedrock-us-east-1",
        "Amazon Bedrock (us-east-1, N. Virginia)",
        "https://bedrock-runtime.us-east-1.amazonaws.com",
    ),
    bedrock(
        "bedrock-us-east-2",
        "Amazon Bedrock (us-east-2, Ohio)",
        "https://bedrock-runtime.us-east-2.amazonaws.com",
    ),
    bedrock(
        "bedrock-us-west-2",
        "Amazon Bedrock (us-west-2, Oregon)",
        "https://bedrock-runtime.us-west-2.amazonaws.com",
    ),
    bedrock(
        "bedrock-eu-central-1",
        "Amazon Bedrock (eu-central-1, Frankfurt)",
        "https://bedrock-runtime.eu-central-1.amazonaws.com",
    ),
    bedrock(
        "bedrock-eu-west-1",
        "Amazon Bedrock (eu-west-1, Ireland)",
        "https://bedrock-runtime.eu-west-1.amazonaws.com",
    ),
    bedrock(
        "bedrock-eu-west-3",
        "Amazon Bedrock (eu-west-3, Paris)",
        "https://bedrock-runtime.eu-west-3.amazonaws.com",
    ),
    bedrock(
        "bedrock-ap-northeast-1",
        "Amazon Bedrock (ap-northeast-1, Tokyo)",
        "https://bedrock-runtime.ap-northeast-1.amazonaws.com",
    ),
    bedrock(
        "bedrock-ap-southeast-1",
        "Amazon Bedrock (ap-southeast-1, Singapore)",
        "https://bedrock-runtime.ap-southeast-1.amazonaws.com",
    ),
    bedrock(
        "bedrock-ap-southeast-2",
        "Amazon Bedrock (ap-southeast-2, Sydney)",
        "https://bedrock-runtime.ap-southeast-2.amazonaws.com",
    ),
    bedrock(
        "bedrock-ap-south-1",
        "Amazon Bedrock (ap-south-1, Mumbai)",
        "https://bedrock-runtime.ap-south-1.amazonaws.com",
    ),
    bedrock(
        "bedrock-ca-central-1",
        "Amazon Bedrock (ca-central-1, Canada)",
        "https://bedrock-runtime.ca-central-1.amazonaws.com",
    ),
    bedrock(
        "bedrock-sa-east-1",
        "Amazon Bedrock (sa-east-1, São Paulo)",
        "https://bedrock-runtime.sa-east-1.amazonaws.com",
    ),
    Preset {
        protocol: Protocol::Gemini,
        auth_scheme: AuthScheme::GoogleServiceAccount,
        needs_base_url: true,
        notes: "Gemini on Vertex AI: replace YOUR-PROJECT and YOUR-LOCATION (us-central1, europe-west4, …; for `global` the host is aiplatform.googleapis.com); the key is the service account's JSON key file (role Vertex AI User).",
        ..preset(
            "vertex-gemini",
            "Google Vertex AI (Gemini)",
            "https://YOUR-LOCATION-aiplatform.googleapis.com/v1/projects/YOUR-PROJECT/locations/YOUR-LOCATION/publishers/google",
        )
    },
    Preset {
        protocol: Protocol::AnthropicMessages,
        auth_scheme: AuthScheme::GoogleServiceAccount,
        needs_base_url: true,
        notes: "Claude on Vertex AI (rawPredict / streamRawPredict, anthropic_version vertex-2023-10-16): replace YOUR-PROJECT and YOUR-LOCATION (us-east5, europe-west1, global, …); model ids look like claude-sonnet-4-5@20250929; the key is the service account's JSON key file.",
        ..preset(
            "vertex-anthropic",
            "Google Vertex AI (Anthropic Claude)",
            "https://YOUR-LOCATION-aiplatform.googleapis.com/v1/projects/YOUR-PROJECT/locations/YOUR-LOCATION/publishers/anthropic",
        )
    },
    Preset {
        protocol: Protocol::AnthropicMessages,
        auth_scheme: AuthScheme::XApiKey,
        extra_headers: &[("anthropic-version", "2023-06-01")],
        ..preset("anthropic", "Anthropic", "https://api.anthropic.com/v1")
    },
    Preset {
        protocol: Protocol::Gemini,
        auth_scheme: AuthScheme::XGoogApiKey,
        ..preset("gemini", "Google Gemini", "https://generativelanguage.googleapis.com/v1beta")
    },
    preset("deepseek", "DeepSeek", "https://api.deepseek.com/v1"),
    preset("mistral", "Mistral", "https://api.mistral.ai/v1"),
    preset("groq", "Groq", "https://api.groq.com/openai/v1"),
    preset("xai", "xAI (Grok)", "https://api.x.ai/v1"),
    preset("openrouter", "OpenRouter", "https://openrouter.ai/api/v1"),
    preset("together", "Together AI", "https://api.together.xyz/v1"),
    preset("fireworks", "Fireworks AI", "https://api.fireworks.ai/inference/v1"),
    preset("perplexity", "Perplexity", "https://api.perplexity.ai"),
    Preset {
        notes: "Cohere's OpenAI-compatible endpoint.",
        ..preset("cohere", "Cohere (compatibility API)", "https://api.cohere.ai/compatibility/v1")
    },
    Preset {
        notes: "Mainland China accounts use https://api.moonshot.cn/v1.",
        ..preset("moonshot", "Moonshot AI (Kimi)", "https://api.moonshot.ai/v1")
    },
    preset("zhipu", "Zhipu AI (GLM)", "https://open.bigmodel.cn/api/paas/v4"),
    Preset {
        notes: "International accounts use https://dashscope-intl.aliyuncs.com/compatible-mode/v1.",
        ..preset(
            "qwen",
            "Alibaba Qwen (DashScope)",
            "https://dashscope.aliyuncs.com/compatible-mode/v1",
        )
    },
    preset("siliconflow", "SiliconFlow", "https://api.siliconflow.cn/v1"),
    Preset {
        notes: "Mainland China accounts use https://api.minimaxi.com/v1.",
        ..preset("minimax", "MiniMax", "https://api.minimax.io/v1")
    },
    Preset {
        notes: "A model's upstream id is the model id or an endpoint id (ep-…).",
        ..preset(
            "volcengine",
            "Volcengine Ark (Doubao)",
            "https://ark.cn-beijing.volces.com/api/v3",
        )
    },
    preset("qianfan", "Baidu Qianfan", "https://qianfan.baidubce.com/v2"),
    preset("hunyuan", "Tencent Hunyuan", "https://api.hunyuan.cloud.tencent.com/v1"),
    Preset {
        needs_base_url: true,
        notes: "Replace YOUR-ACCOUNT-ID with the Cloudflare account id; the key is an API token with Workers AI access.",
        ..preset(
            "workers-ai",
            "Cloudflare Workers AI",
            "https://api.cloudflare.com/client/v4/accounts/YOUR-ACCOUNT-ID/ai/v1",
        )
    },
    local("ollama", "Ollama", "http://127.0.0.1:11434/v1", "Local server; no key needed."),
    local(
        "vllm",
        "vLLM",
        "http://127.0.0.1:8000/v1",
        "Local server; set a key if vLLM runs with --api-key.",
    ),
    local("lmstudio", "LM Studio", "http://127.0.0.1:1234/v1", "Local server; no key needed."),
];

/// The preset with this id.
pub(crate) fn find(id: &str) -> Option<&'static Preset> {
    PRESETS.iter().find(|p| p.id == id)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_least_twenty_five_presets_with_unique_ids_and_valid_urls() {
        assert!(PRESETS.len() >= 25, "{}", PRESETS.len());
        let mut ids: Vec<&str> = PRESETS.iter().map(|p| p.id).collect();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), PRESETS.len(), "duplicate preset id");
        for p in PRESETS {
            let url = crate::validate::base_url(p.base_url).unwrap();
            assert_eq!(url, p.base_url, "{} base URL is not normalised", p.id);
            assert_eq!(p.needs_base_url, p.base_url.contains("YOUR-"), "{}", p.id);
        }
    }

    #[test]
    fn every_protocol_and_auth_scheme_has_a_preset() {
        for protocol in Protocol::ALL {
            assert!(PRESETS.iter().any(|p| p.protocol == protocol), "{protocol:?}");
        }
        for scheme in AuthScheme::ALL {
            assert!(PRESETS.iter().any(|p| p.auth_scheme == scheme), "{scheme:?}");
        }
    }
}
