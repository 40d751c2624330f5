//! Gemini wire shapes the codec reads.

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GenerateRequest {
    #[serde(default)]
    pub contents: Vec<Content>,
    pub system_instruction: Option<Content>,
    /// Read one by one: `functionDeclarations`, or one of Gemini's own tools (`googleSearch`,
    /// `codeExecution`, `urlContext`, …) kept whole.
    #[serde(default)]
    pub tools: Vec<Value>,
    pub tool_config: Option<Value>,
    pub generation_config: Option<GenerationConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GenerationConfig {
    pub max_output_tokens: Option<u32>,
    pub temperature: Option<f64>,
    pub top_p: Option<f64>,
    #[serde(default)]
    pub stop_sequences: Vec<String>,
    pub response_mime_type: Option<String>,
    pub response_schema: Option<Value>,
    pub response_json_schema: Option<Value>,
    pub thinking_config: Option<ThinkingConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ThinkingConfig {
    pub thinking_budget: Option<i64>,
    /// Gemini 3: `low` / `high` (an effort, in OpenAI's terms).
    pub thinking_level: Option<String>,
    pub include_thoughts: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct FunctionDeclaration {
    pub name: String,
    pub description: Option<String>,
    /// The OpenAPI-subset schema, or (newer API) a full JSON Schema in `parametersJsonSchema`.
    pub parameters: Option<Value>,
    pub parameters_json_schema: Option<Value>,
}

#[derive(Debug, Default, Deserialize)]
pub(super) struct Content {
    pub role: Option<String>,
    #[serde(default)]
    pub parts: Vec<Part>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Part {
    pub text: Option<String>,
    #[serde(default)]
    pub thought: bool,
    pub thought_signature: Option<String>,
    pub inline_data: Option<Blob>,
    pub file_data: Option<FileData>,
    pub function_call: Option<FunctionCall>,
    pub function_response: Option<FunctionResponse>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Blob {
    pub mime_type: String,
    pub data: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct FileData {
    pub file_uri: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct FunctionCall {
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub args: Value,
}

#[derive(Debug, Deserialize)]
pub(super) struct FunctionResponse {
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub response: Value,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GenerateResponse {
    #[serde(default)]
    pub candidates: Vec<Candidate>,
    pub usage_metadata: Option<UsageMetadata>,
    pub model_version: Option<String>,
    pub response_id: Option<String>,
    pub error: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Candidate {
    #[serde(default)]
    pub content: Content,
    pub finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageMetadata {
    pub prompt_token_count: Option<i64>,
    pub candidates_token_count: Option<i64>,
    pub cached_content_token_count: Option<i64>,
    pub thoughts_token_count: Option<i64>,
}

impl From<UsageMetadata> for crate::canonical::Usage {
    fn from(u: UsageMetadata) -> Self {
        let output = match (u.candidates_token_count, u.thoughts_token_count) {
            (None, None) => None,
            (c, t) => Some(c.unwrap_or(0) + t.unwrap_or(0)),
        };
        crate::canonical::Usage {
            input: u.prompt_token_count,
            output,
            cached: u.cached_content_token_count,
            cache_write: None,
            reasoning: u.thoughts_token_count,
        }
    }
}
