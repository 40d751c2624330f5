//! Model catalog fixtures, in the shapes the real lists have (LiteLLM's
//! `model_prices_and_context_window.json`, models.dev's `api.json`), served at
//! `GET /catalog/litellm.json` and `GET /catalog/models-dev.json`; `GET /catalog/broken.json` is a
//! 500. A stand-in for the public URLs, which tests cannot reach.

use axum::http::StatusCode;
use axum::response::Response;

use crate::json_response;

pub const LITELLM: &str = r#"{
  "sample_spec": {"max_tokens": "LEGACY parameter", "input_cost_per_token": 0.0, "mode": "one of: chat, embedding, completion, image_generation"},
  "gpt-4o": {"max_tokens": 16384, "max_input_tokens": 128000, "max_output_tokens": 16384,
             "input_cost_per_token": 2.5e-06, "output_cost_per_token": 1e-05, "cache_read_input_token_cost": 1.25e-06,
             "litellm_provider": "openai", "mode": "chat", "supports_function_calling": true,
             "supports_vision": true, "supports_prompt_caching": true, "supports_response_schema": true},
  "gpt-4o-mini": {"max_input_tokens": 128000, "max_output_tokens": 16384, "input_cost_per_token": 1.5e-07,
                  "output_cost_per_token": 6e-07, "litellm_provider": "openai", "mode": "chat",
                  "supports_function_calling": true, "supports_vision": true},
  "azure/gpt-4o": {"max_input_tokens": 128000, "max_output_tokens": 16384, "input_cost_per_token": 2.5e-06,
                   "output_cost_per_token": 1e-05, "litellm_provider": "azure", "mode": "chat"},
  "chatgpt-4o-latest": {"max_input_tokens": 128000, "max_output_tokens": 4096, "input_cost_per_token": 5e-06,
                        "output_cost_per_token": 1.5e-05, "litellm_provider": "openai", "mode": "chat"},
  "claude-sonnet-4-5": {"max_input_tokens": 200000, "max_output_tokens": 64000, "input_cost_per_token": 3e-06,
                        "output_cost_per_token": 1.5e-05, "cache_read_input_token_cost": 3e-07,
                        "cache_creation_input_token_cost": 3.75e-06,
                        "litellm_provider": "anthropic", "mode": "chat", "supports_function_calling": true,
                        "supports_reasoning": true},
  "text-embedding-3-small": {"max_tokens": 8191, "max_input_tokens": 8191, "input_cost_per_token": 2e-08,
                             "output_cost_per_token": 0.0, "litellm_provider": "openai", "mode": "embedding"},
  "dall-e-3": {"litellm_provider": "openai", "mode": "image_generation", "output_cost_per_image": 0.04}
}"#;

pub const MODELS_DEV: &str = r#"{
  "deepseek": {"id": "deepseek", "name": "DeepSeek", "models": {
    "deepseek-chat": {"id": "deepseek-chat", "name": "DeepSeek Chat", "tool_call": true, "reasoning": false,
                      "attachment": false, "cost": {"input": 0.27, "output": 1.1, "cache_read": 0.07},
                      "limit": {"context": 128000, "output": 8192}}
  }},
  "openai": {"id": "openai", "name": "OpenAI", "models": {
    "gpt-4o": {"id": "gpt-4o", "name": "GPT-4o", "tool_call": true, "attachment": true,
               "cost": {"input": 2.5, "output": 10}, "limit": {"context": 128000, "output": 16384}}
  }}
}"#;

pub(crate) async fn litellm() -> Response {
    json_response(StatusCode::OK, serde_json::from_str(LITELLM).unwrap_or_default())
}

pub(crate) async fn models_dev() -> Response {
    json_response(StatusCode::OK, serde_json::from_str(MODELS_DEV).unwrap_or_default())
}

pub(crate) async fn broken() -> Response {
    json_response(StatusCode::INTERNAL_SERVER_ERROR, serde_json::json!({"error": "down"}))
}

/// Model ids the mock's providers list (`GET /v1/models`, `GET /v1beta/models`).
pub const LISTED: [&str; 3] = ["mock-text", "mock-tool", "mock-parallel"];

/// `GET /v1/models`: OpenAI's (and Anthropic's) list shape; needs a credential header.
pub(crate) async fn openai_models(headers: axum::http::HeaderMap) -> Response {
    if !headers.contains_key("authorization") && !headers.contains_key("x-api-key") {
        return json_response(
            StatusCode::UNAUTHORIZED,
            serde_json::json!({"error": {"message": "no key"}}),
        );
    }
    let data: Vec<_> = LISTED
        .iter()
        .map(|id| serde_json::json!({"id": id, "object": "model", "created": 1_700_000_000, "owned_by": "mock"}))
        .collect();
    json_response(StatusCode::OK, serde_json::json!({"object": "list", "data": data}))
}

/// `GET /v1beta/models`: Gemini's list shape (`models/…` names).
pub(crate) async fn gemini_models(headers: axum::http::HeaderMap) -> Response {
    if !headers.contains_key("x-goog-api-key") {
        return json_response(
            StatusCode::FORBIDDEN,
            serde_json::json!({"error": {"code": 403, "message": "no key"}}),
        );
    }
    let models: Vec<_> = LISTED
        .iter()
        .map(|id| serde_json::json!({"name": format!("models/{id}"), "supportedGenerationMethods": ["generateContent"]}))
        .collect();
    json_response(StatusCode::OK, serde_json::json!({ "models": models }))
}
