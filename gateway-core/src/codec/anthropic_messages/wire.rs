//! Messages wire shapes the codec reads.

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
pub(super) struct MessagesRequest {
    pub model: String,
    pub max_tokens: Option<u32>,
    pub system: Option<TextOrBlocks>,
    pub messages: Vec<WireMessage>,
    /// Read one by one ([`WireTool`]), so Anthropic's own tool types can be kept whole.
    #[serde(default)]
    pub tools: Vec<Value>,
    pub tool_choice: Option<WireToolChoice>,
    #[serde(default)]
    pub stop_sequences: Vec<String>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    pub thinking: Option<Thinking>,
    pub output_config: Option<OutputConfig>,
    pub stream: Option<bool>,
    pub metadata: Option<Metadata>,
    /// Caching of the whole conversation, the API placing the breakpoint.
    pub cache_control: Option<WireCache>,
}

/// `cache_control`: `{type: "ephemeral", ttl?: "5m" | "1h"}`, read loosely so a bad value gets
/// a clear error naming it.
#[derive(Debug, Deserialize)]
pub(super) struct WireCache {
    #[serde(rename = "type")]
    pub kind: Option<Value>,
    pub ttl: Option<Value>,
}

/// A content block with the breakpoint it may carry.
#[derive(Debug, Deserialize)]
pub(super) struct MarkedBlock {
    #[serde(flatten)]
    pub block: WireBlock,
    pub cache_control: Option<WireCache>,
}

/// `output_config`: `effort` (a beta) and `format` (structured output).
#[derive(Debug, Deserialize)]
pub(super) struct OutputConfig {
    pub effort: Option<String>,
    pub format: Option<OutputFormat>,
}

/// `output_config.format`: `{type: "json_schema", schema}`.
#[derive(Debug, Deserialize)]
pub(super) struct OutputFormat {
    #[serde(rename = "type")]
    pub kind: String,
    pub schema: Option<Value>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Metadata {
    pub user_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct Thinking {
    #[serde(rename = "type")]
    pub kind: String,
    pub budget_tokens: Option<u32>,
    /// `summarized` or `omitted`.
    pub display: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(super) enum TextOrBlocks {
    Text(String),
    Blocks(Vec<MarkedBlock>),
}

#[derive(Debug, Deserialize)]
pub(super) struct WireMessage {
    pub role: String,
    pub content: TextOrBlocks,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum WireBlock {
    Text {
        text: String,
    },
    Image {
        source: ImageSource,
    },
    ToolUse {
        id: String,
        name: String,
        #[serde(default)]
        input: Value,
    },
    ToolResult {
        tool_use_id: String,
        content: Option<TextOrBlocks>,
        #[serde(default)]
        is_error: bool,
    },
    Thinking {
        thinking: String,
        signature: Option<String>,
    },
    RedactedThinking {
        data: String,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum ImageSource {
    Base64 {
        media_type: String,
        data: String,
    },
    Url {
        url: String,
    },
    #[serde(other)]
    Other,
}

/// A tool: a custom (client) tool has no `type` or `type: "custom"`; any other `type` is one of
/// Anthropic's own (`web_search_20250305`, `code_execution_…`, `bash_…`, …), kept whole.
#[derive(Debug, Deserialize)]
pub(super) struct WireTool {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    #[serde(default)]
    pub name: String,
    pub description: Option<String>,
    pub input_schema: Option<Value>,
    pub cache_control: Option<WireCache>,
}

#[derive(Debug, Deserialize)]
pub(super) struct WireToolChoice {
    #[serde(rename = "type")]
    pub kind: String,
    pub name: Option<String>,
    pub disable_parallel_tool_use: Option<bool>,
}

#[derive(Debug, Deserialize)]
pub(super) struct WireResponse {
    #[serde(default)]
    pub id: String,
    #[serde(default)]
    pub model: String,
    #[serde(default)]
    pub content: Vec<WireBlock>,
    pub stop_reason: Option<String>,
    pub usage: Option<WireUsage>,
}

#[derive(Debug, Default, Deserialize)]
pub struct WireUsage {
    pub input_tokens: Option<i64>,
    pub output_tokens: Option<i64>,
    pub cache_read_input_tokens: Option<i64>,
    pub cache_creation_input_tokens: Option<i64>,
    pub output_tokens_details: Option<OutputDetails>,
}

/// `usage.output_tokens_details`: how many of the output tokens were thinking.
#[derive(Debug, Default, Deserialize)]
pub struct OutputDetails {
    pub thinking_tokens: Option<i64>,
}

impl From<WireUsage> for crate::canonical::Usage {
    fn from(u: WireUsage) -> Self {
        let cached = u.cache_read_input_tokens;
        let cache_write = u.cache_creation_input_tokens;
        let input = u.input_tokens.map(|i| i + cached.unwrap_or(0) + cache_write.unwrap_or(0));
        crate::canonical::Usage {
            input,
            output: u.output_tokens,
            cached,
            cache_write,
            reasoning: u.output_tokens_details.and_then(|d| d.thinking_tokens),
        }
    }
}

/// Stream events (`type` equals the SSE `event:` name).
#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum StreamEvent {
    MessageStart {
        message: WireResponse,
    },
    ContentBlockStart {
        index: usize,
        content_block: WireBlock,
    },
    ContentBlockDelta {
        index: usize,
        delta: Delta,
    },
    ContentBlockStop {
        index: usize,
    },
    MessageDelta {
        delta: MessageDelta,
        usage: Option<WireUsage>,
    },
    MessageStop,
    Ping,
    Error {
        error: ErrorBody,
    },
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub(super) enum Delta {
    #[serde(rename = "text_delta")]
    Text { text: String },
    #[serde(rename = "input_json_delta")]
    InputJson { partial_json: String },
    #[serde(rename = "thinking_delta")]
    Thinking { thinking: String },
    #[serde(rename = "signature_delta")]
    Signature { signature: String },
    #[serde(other)]
    Other,
}

#[derive(Debug, Deserialize)]
pub(super) struct MessageDelta {
    pub stop_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ErrorBody {
    #[serde(rename = "type", default)]
    pub kind: String,
    #[serde(default)]
    pub message: String,
}
