//! The model catalog: public lists of models with their limits, prices and capabilities — LiteLLM's
//! `model_prices_and_context_window.json` and models.dev's `api.json` — parsed into one shape,
//! searched (exact name > prefix > substring), and applied to a model's attributes.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// One catalog model. Prices are USD per token, as the models table keeps them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub source: String,
    pub name: String,
    pub provider: Option<String>,
    pub context_window: Option<i64>,
    pub max_output_tokens: Option<i64>,
    pub input_cost_per_token: Option<f64>,
    pub output_cost_per_token: Option<f64>,
    pub cached_input_cost_per_token: Option<f64>,
    /// The price of a token written to the prompt cache (entries stored before it was read have
    /// none).
    #[serde(default)]
    pub cache_write_cost_per_token: Option<f64>,
    /// Capability flags (`tools`, `vision`, `reasoning`, `prompt_caching`, `structured_output`).
    pub capabilities: Map<String, Value>,
    /// Prices per image, second, character or query (images, audio and rerank models).
    #[serde(default)]
    pub unit_prices: crate::store::models::UnitPrices,
}

fn int(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_f64().map(|f| f as i64)).filter(|n| *n > 0)
}

fn flag(out: &mut Map<String, Value>, name: &str, v: &Value) {
    if let Some(b) = v.as_bool() {
        out.insert(name.into(), b.into());
    }
}

/// LiteLLM's list: an object of model name → attributes (`sample_spec` is documentation): chat,
/// completion, embedding, image, audio, rerank and moderation models (image, audio and rerank
/// ones with their prices per image, second, character or query).
pub(crate) fn parse_litellm(body: &[u8]) -> Result<Vec<Entry>, String> {
    let all: Map<String, Value> =
        serde_json::from_slice(body).map_err(|e| format!("not LiteLLM's model list: {e}"))?;
    let mut out = Vec::new();
    for (name, m) in all {
        if name == "sample_spec" || !m.is_object() {
            continue;
        }
        let mode = m["mode"].as_str().unwrap_or("chat");
        let modes = [
            "chat",
            "completion",
            "responses",
            "embedding",
            "image_generation",
            "image_edit",
            "audio_transcription",
            "audio_speech",
            "rerank",
            "moderation",
        ];
        if !modes.contains(&mode) {
            continue;
        }
        let mut caps = Map::new();
        flag(&mut caps, "tools", &m["supports_function_calling"]);
        flag(&mut caps, "vision", &m["supports_vision"]);
        flag(&mut caps, "reasoning", &m["supports_reasoning"]);
        flag(&mut caps, "prompt_caching", &m["supports_prompt_caching"]);
        flag(&mut caps, "structured_output", &m["supports_response_schema"]);
        if mode == "embedding" {
            caps.insert("embeddings".into(), true.into());
        }
        out.push(Entry {
            source: "litellm".into(),
            name,
            provider: m["litellm_provider"].as_str().map(str::to_owned),
            context_window: int(&m["max_input_tokens"]).or_else(|| int(&m["max_tokens"])),
            max_output_tokens: int(&m["max_output_tokens"]),
            input_cost_per_token: m["input_cost_per_token"].as_f64(),
            output_cost_per_token: m["output_cost_per_token"].as_f64(),
            cached_input_cost_per_token: m["cache_read_input_token_cost"].as_f64(),
            cache_write_cost_per_token: m["cache_creation_input_token_cost"].as_f64(),
            capabilities: caps,
            unit_prices: crate::store::models::UnitPrices {
                per_image: m["output_cost_per_image"]
                    .as_f64()
                    .or(m["input_cost_per_image"].as_f64()),
                per_second: m["input_cost_per_second"].as_f64(),
                per_character: m["input_cost_per_character"].as_f64(),
                per_query: m["input_cost_per_query"].as_f64(),
            },
        });
    }
    Ok(out)
}

/// models.dev's list: providers, each with models; costs are USD per million tokens. Names are
/// the model ids (the provider is kept beside them).
pub(crate) fn parse_models_dev(body: &[u8]) -> Result<Vec<Entry>, String> {
    let all: Map<String, Value> =
        serde_json::from_slice(body).map_err(|e| format!("not models.dev's list: {e}"))?;
    let per_token = |v: &Value| v.as_f64().map(|per_million| per_million / 1_000_000.0);
    let mut out = Vec::new();
    for (provider_id, provider) in all {
        for (model_id, m) in provider["models"].as_object().into_iter().flatten() {
            let mut caps = Map::new();
            flag(&mut caps, "tools", &m["tool_call"]);
            flag(&mut caps, "reasoning", &m["reasoning"]);
            flag(&mut caps, "vision", &m["attachment"]);
            out.push(Entry {
                source: "models.dev".into(),
                name: m["id"].as_str().unwrap_or(model_id).to_owned(),
                provider: Some(provider_id.clone()),
                context_window: int(&m["limit"]["context"]),
                max_output_tokens: int(&m["limit"]["output"]),
                input_cost_per_token: per_token(&m["cost"]["input"]),
                output_cost_per_token: per_token(&m["cost"]["output"]),
                cached_input_cost_per_token: per_token(&m["cost"]["cache_read"]),
                cache_write_cost_per_token: per_token(&m["cost"]["cache_write"]),
                capabilities: caps,
                unit_prices: Default::default(),
            });
        }
    }
    Ok(out)
}

/// How well `name` matches `query` (case-insensitive): 0 exact, 1 prefix (also after a
/// `provider/` part), 2 substring, `None` no match.
pub(crate) fn rank(query: &str, name: &str) -> Option<u8> {
    let (q, n) = (query.to_lowercase(), name.to_lowercase());
    let short = n.rsplit('/').next().unwrap_or(&n);
    if n == q || short == q {
        Some(0)
    } else if n.starts_with(&q) || short.starts_with(&q) {
        Some(1)
    } else if n.contains(&q) {
        Some(2)
    } else {
        None
    }
}

/// `entries` that match `query`, best first: rank, then shorter names, then name, then source.
pub(crate) fn search(query: &str, mut entries: Vec<Entry>, limit: usize) -> Vec<Entry> {
    let query = query.trim();
    entries.retain(|e| query.is_empty() || rank(query, &e.name).is_some());
    entries.sort_by(|a, b| {
        let key = |e: &Entry| (rank(query, &e.name).unwrap_or(3), e.name.len());
        key(a).cmp(&key(b)).then_with(|| a.name.cmp(&b.name)).then_with(|| a.source.cmp(&b.source))
    });
    entries.truncate(limit);
    entries
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn litellm_entries_parse_and_skip_what_is_not_a_model() {
        let body = br#"{"sample_spec":{"max_tokens":"set"},
            "gpt-4o":{"max_input_tokens":128000,"max_output_tokens":16384,"input_cost_per_token":2.5e-6,
                      "output_cost_per_token":1e-5,"cache_read_input_token_cost":1.25e-6,"litellm_provider":"openai",
                      "mode":"chat","supports_function_calling":true,"supports_vision":true},
            "dall-e-3":{"mode":"image_generation","output_cost_per_image":0.04},
            "whisper-1":{"mode":"audio_transcription","input_cost_per_second":0.0001},
            "tts-1":{"mode":"audio_speech","input_cost_per_character":1.5e-5},
            "cohere/rerank-v3.5":{"mode":"rerank","input_cost_per_query":0.002},
            "fine-tuning":{"mode":"fine_tune"},
            "text-embedding-3-small":{"max_tokens":8191,"input_cost_per_token":2e-8,"mode":"embedding"}}"#;
        let mut entries = parse_litellm(body).unwrap();
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "cohere/rerank-v3.5",
                "dall-e-3",
                "gpt-4o",
                "text-embedding-3-small",
                "tts-1",
                "whisper-1"
            ]
        );
        assert_eq!(entries[0].unit_prices.per_query, Some(0.002));
        assert_eq!(entries[1].unit_prices.per_image, Some(0.04));
        assert_eq!(entries[4].unit_prices.per_character, Some(1.5e-5));
        assert_eq!(entries[5].unit_prices.per_second, Some(0.0001));
        let entries: Vec<Entry> = entries.into_iter().filter(|e| e.name.contains("-")).collect();
        let entries: Vec<&Entry> = entries
            .iter()
            .filter(|e| e.name.starts_with("gpt") || e.name.starts_with("text"))
            .collect();
        let gpt = &entries[0];
        assert_eq!((gpt.context_window, gpt.max_output_tokens), (Some(128_000), Some(16_384)));
        assert_eq!(gpt.cached_input_cost_per_token, Some(1.25e-6));
        assert_eq!(gpt.capabilities["tools"], true);
        assert_eq!(entries[1].capabilities["embeddings"], true);
        assert!(parse_litellm(b"[]").is_err());
    }

    #[test]
    fn models_dev_costs_are_per_million() {
        let body = br#"{"anthropic":{"id":"anthropic","models":{"claude-x":{"id":"claude-x",
            "limit":{"context":200000,"output":64000},"cost":{"input":3,"output":15,"cache_read":0.3,"cache_write":3.75},
            "tool_call":true,"reasoning":true}}}}"#;
        let e = &parse_models_dev(body).unwrap()[0];
        assert_eq!(e.provider.as_deref(), Some("anthropic"));
        assert_eq!(e.input_cost_per_token, Some(3e-6));
        assert_eq!(e.output_cost_per_token, Some(15e-6));
        assert_eq!(e.cached_input_cost_per_token, Some(0.3e-6));
        assert_eq!(e.cache_write_cost_per_token, Some(3.75e-6));
        assert_eq!(e.context_window, Some(200_000));
    }

    #[test]
    fn search_ranks_exact_then_prefix_then_substring() {
        let entry = |name: &str| Entry {
            source: "litellm".into(),
            name: name.into(),
            provider: None,
            context_window: None,
            max_output_tokens: None,
            input_cost_per_token: None,
            output_cost_per_token: None,
            cached_input_cost_per_token: None,
            cache_write_cost_per_token: None,
            capabilities: Map::new(),
            unit_prices: Default::default(),
        };
        let names = [
            "azure/gpt-4o-mini",
            "gpt-4o-mini",
            "openai/gpt-4o",
            "chatgpt-4o-latest",
            "gpt-4o",
            "o1",
        ];
        let found = search("GPT-4o", names.iter().map(|n| entry(n)).collect(), 10);
        let order: Vec<&str> = found.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            order,
            ["gpt-4o", "openai/gpt-4o", "gpt-4o-mini", "azure/gpt-4o-mini", "chatgpt-4o-latest"]
        );
        assert_eq!(search("", names.iter().map(|n| entry(n)).collect(), 2).len(), 2);
    }
}
