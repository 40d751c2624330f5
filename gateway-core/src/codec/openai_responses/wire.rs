//! Responses wire shapes the codec reads.

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
pub(super) struct ResponsesRequest {
    pub model: String,
    pub input: Option<Input>,
    pub instructions: Option<String>,
    #[serde(default)]
    pub tools: Vec<Value>,
    pub tool_choice: Option<Value>,
    pub parallel_tool_calls: Option<bool>,
    pub max_output_tokens: Option<u32>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub text: Option<TextConfig>,
    pub reasoning: Option<ReasoningConfig>,
    pub stream: Option<bool>,
    pub user: Option<String>,
    pub prompt_cache_key: Option<String>,
    pub prompt_cache_retention: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum Input {
    Text(String),
    Items(Vec<Item>),
}

/// An input or output item. Messages may come without `type`.
#[derive(Debug, Deserialize)]
pub(super) struct Item {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub role: Option<String>,
    pub content: Option<ItemContent>,
    pub call_id: Option<String>,
    pub name: Option<String>,
    pub arguments: Option<String>,
    /// A function call's `namespace` (tools grouped in a `namespace` tool).
    pub namespace: Option<String>,
    /// A `custom_tool_call`'s freeform input.
    pub input: Option<String>,
    pub output: Option<Value>,
    #[serde(default)]
    pub summary: Vec<SummaryPart>,
    /// A reasoning item's sealed reasoning (asked for with `include`).
    pub encrypted_content: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum ItemContent {
    Text(String),
    Parts(Vec<ContentPart>),
}

#[derive(Debug, Deserialize)]
pub(super) struct ContentPart {
    #[serde(rename = "type")]
    pub kind: String,
    pub text: Option<String>,
    pub image_url: Option<String>,
    pub refusal: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct SummaryPart {
    #[serde(default)]
    pub text: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct TextConfig {
    pub format: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ReasoningConfig {
    pub effort: Option<String>,
    pub summary: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct WireResponse {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub created_at: i64,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub output: Vec<Item>,
    pub usage: Option<WireUsage>,
    pub incomplete_details: Option<IncompleteDetails>,
    pub error: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub(super) struct IncompleteDetails {
    pub reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct WireUsage {
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub input_tokens_details: Option<InputDetails>,
    pub output_tokens_details: Option<OutputDetails>,
}

#[derive(Debug, Deserialize)]
pub struct InputDetails {
    pub cached_tokens: Option<i64>,
    pub cache_write_tokens: Option<i64>,
}

#[derive(Debug, Deserialize)]
pub struct OutputDetails {
    pub reasoning_tokens: Option<i64>,
}

impl From<WireUsage> for crate::canonical::Usage {
    fn from(u: WireUsage) -> Self {
        let details = u.input_tokens_details;
        crate::canonical::Usage {
            input: u.input_tokens,
            output: u.output_tokens,
            cached: details.as_ref().and_then(|d| d.cached_tokens),
            cache_write: details.and_then(|d| d.cache_write_tokens),
            reasoning: u.output_tokens_details.and_then(|d| d.reasoning_tokens),
        }
    }
}

/// Stream events, read by `type`.
#[derive(Debug, Deserialize)]
pub(super) struct StreamEvent {
    #[serde(rename = "type")]
    pub kind: String,
    pub response: Option<WireResponse>,
    pub output_index: Option<usize>,
    pub item: Option<Item>,
    pub delta: Option<String>,
    pub message: Option<String>,
    pub code: Option<String>,
}
