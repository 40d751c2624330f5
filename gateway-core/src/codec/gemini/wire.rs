//! Gemini wire shapes the codec reads. The API takes every field in lowerCamelCase or in its
//! proto name (snake_case), and the google-genai Python SDK sends some nested ones that way
//! (`parameters_json_schema`, `thinking_budget`, `include_thoughts`): both are read.

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GenerateRequest {
    #[serde(default)]
    pub contents: Vec<Content>,
    #[serde(alias = "system_instruction")]
    pub system_instruction: Option<Content>,
    /// Read one by one: `functionDeclarations`, or one of Gemini's own tools (`googleSearch`,
    /// `codeExecution`, `urlContext`, …) kept whole.
    #[serde(default)]
    pub tools: Vec<Value>,
    #[serde(alias = "tool_config")]
    pub tool_config: Option<Value>,
    #[serde(alias = "generation_config")]
    pub generation_config: Option<GenerationConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct GenerationConfig {
    #[serde(alias = "max_output_tokens")]
    pub max_output_tokens: Option<u32>,
    pub temperature: Option<f64>,
    #[serde(alias = "top_p")]
    pub top_p: Option<f64>,
    #[serde(default)]
    #[serde(alias = "stop_sequences")]
    pub stop_sequences: Vec<String>,
    #[serde(alias = "response_mime_type")]
    pub response_mime_type: Option<String>,
    #[serde(alias = "response_schema")]
    pub response_schema: Option<Value>,
    #[serde(alias = "response_json_schema")]
    pub response_json_schema: Option<Value>,
    #[serde(alias = "thinking_config")]
    pub thinking_config: Option<ThinkingConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ThinkingConfig {
    #[serde(alias = "thinking_budget")]
    pub thinking_budget: Option<i64>,
    /// Gemini 3: `low` / `high` (an effort, in OpenAI's terms).
    #[serde(alias = "thinking_level")]
    pub thinking_level: Option<String>,
    #[serde(alias = "include_thoughts")]
    pub include_thoughts: Option<bool>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct FunctionDeclaration {
    pub name: String,
    pub description: Option<String>,
    /// The OpenAPI-subset schema, or (newer API) a full JSON Schema in `parametersJsonSchema`.
    pub parameters: Option<Value>,
    #[serde(alias = "parameters_json_schema")]
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
    #[serde(alias = "thought_signature")]
    pub thought_signature: Option<String>,
    #[serde(alias = "inline_data")]
    pub inline_data: Option<Blob>,
    #[serde(alias = "file_data")]
    pub file_data: Option<FileData>,
    #[serde(alias = "function_call")]
    pub function_call: Option<FunctionCall>,
    #[serde(alias = "function_response")]
    pub function_response: Option<FunctionResponse>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Blob {
    #[serde(alias = "mime_type")]
    pub mime_type: String,
    pub data: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct FileData {
    #[serde(alias = "file_uri")]
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
    #[serde(alias = "usage_metadata")]
    pub usage_metadata: Option<UsageMetadata>,
    #[serde(alias = "model_version")]
    pub model_version: Option<String>,
    #[serde(alias = "response_id")]
    pub response_id: Option<String>,
    pub error: Option<Value>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Candidate {
    #[serde(default)]
    pub content: Content,
    #[serde(alias = "finish_reason")]
    pub finish_reason: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageMetadata {
    #[serde(alias = "prompt_token_count")]
    pub prompt_token_count: Option<i64>,
    #[serde(alias = "candidates_token_count")]
    pub candidates_token_count: Option<i64>,
    #[serde(alias = "cached_content_token_count")]
    pub cached_content_token_count: Option<i64>,
    #[serde(alias = "thoughts_token_count")]
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
