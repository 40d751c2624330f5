//! The models a key may use, listed or fetched one by one, in the caller's protocol: OpenAI's
//! list shape by default, Anthropic's when the caller sends `anthropic-version` (as the Anthropic
//! SDKs do), Google's on the Gemini-native routes — and on `/v1/models` for a caller that
//! authenticates the Gemini way (`x-goog-api-key` alone: the `@google/genai` SDK with API version
//! `v1` lists models there).

use bytes::Bytes;
use serde_json::{Value, json};

use super::admit::{authorize, lookup_key};
use crate::body::Handled;
use crate::error::{GatewayError, RequestError};
use crate::reply::{self, ErrorShape};
use crate::routes::Models;
use crate::state::{Ctx, Inner};

/// Which shape the caller reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    OpenAi,
    Anthropic,
    Gemini,
}

impl Shape {
    /// The family the route table names; on OpenAI's, Anthropic's when the caller sends
    /// `anthropic-version` (as the Anthropic SDKs do), Google's when its key comes in
    /// `x-goog-api-key` and no other way.
    fn of(family: Models, request: &http::Request<Bytes>) -> Shape {
        let headers = request.headers();
        let googles = headers.contains_key("x-goog-api-key")
            && !headers.contains_key(http::header::AUTHORIZATION)
            && !headers.contains_key("x-api-key");
        match family {
            Models::Gemini => Shape::Gemini,
            Models::OpenAi if headers.contains_key("anthropic-version") => Shape::Anthropic,
            Models::OpenAi if googles => Shape::Gemini,
            Models::OpenAi => Shape::OpenAi,
        }
    }

    fn errors(self) -> ErrorShape {
        match self {
            Shape::OpenAi => ErrorShape::OpenAi,
            Shape::Anthropic => ErrorShape::Anthropic,
            Shape::Gemini => ErrorShape::Gemini,
        }
    }
}

/// A model as listed: its name, when it was added, who serves it, its limits.
struct Listed {
    name: String,
    display_name: Option<String>,
    created_ms: i64,
    owner: String,
    context_window: Option<i64>,
    max_output: Option<i64>,
}

impl Listed {
    fn json(&self, shape: Shape) -> Value {
        let display = self.display_name.clone().unwrap_or_else(|| self.name.clone());
        match shape {
            Shape::OpenAi => json!({"id": self.name, "object": "model",
                "created": self.created_ms / 1000, "owned_by": self.owner}),
            Shape::Anthropic => json!({"type": "model", "id": self.name,
                "display_name": display, "created_at": rfc3339(self.created_ms)}),
            Shape::Gemini => {
                let mut m = json!({"name": format!("models/{}", self.name), "baseModelId": self.name,
                    "version": "1", "displayName": display,
                    "supportedGenerationMethods": ["generateContent", "streamGenerateContent", "countTokens"]});
                if let Some(n) = self.context_window {
                    m["inputTokenLimit"] = n.into();
                }
                if let Some(n) = self.max_output {
                    m["outputTokenLimit"] = n.into();
                }
                m
            }
        }
    }
}

/// `ms` as an RFC 3339 UTC timestamp (`2026-01-01T00:00:00Z`).
fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000).rem_euclid(86_400);
    format!(
        "{}T{:02}:{:02}:{:02}Z",
        crate::rules::date(ms),
        secs / 3600,
        secs % 3600 / 60,
        secs % 60
    )
}

/// Every enabled real and virtual model the caller's key allows, sorted by name.
async fn allowed(
    inner: &Inner,
    ctx: &Ctx,
    request: &http::Request<Bytes>,
) -> Result<Vec<Listed>, GatewayError> {
    let key = lookup_key(inner, request).await?;
    authorize(inner, ctx, &key)?;
    let models = inner.store.list_servable_models().await?.items;
    let virtual_models = inner.store.list_virtual_models().await?.items;
    let mut out: Vec<Listed> = models
        .into_iter()
        .filter(|(m, _)| key.allows(&m.name))
        .map(|(m, provider)| Listed {
            name: m.name,
            display_name: m.display_name,
            created_ms: m.created_at,
            owner: provider,
            context_window: m.context_window,
            max_output: m.max_output_tokens,
        })
        .chain(virtual_models.into_iter().filter(|v| v.enabled && key.allows(&v.name)).map(|v| {
            Listed {
                name: v.name,
                display_name: None,
                created_ms: v.created_at,
                owner: "llm-gateway".into(),
                context_window: None,
                max_output: None,
            }
        }))
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// `GET /v1/models`, `GET /v1beta/models`: the models this key may use.
pub(crate) async fn list_models(
    inner: &Inner,
    ctx: &Ctx,
    request: http::Request<Bytes>,
    family: Models,
) -> Handled {
    let shape = Shape::of(family, &request);
    let result = allowed(inner, ctx, &request).await.map(|models| {
        let data: Vec<Value> = models.iter().map(|m| m.json(shape)).collect();
        match shape {
            Shape::OpenAi => json!({"object": "list", "data": data}),
            Shape::Anthropic => json!({"data": data, "has_more": false,
                "first_id": models.first().map(|m| &m.name),
                "last_id": models.last().map(|m| &m.name)}),
            Shape::Gemini => json!({"models": data}),
        }
    });
    Handled::now(match result {
        Ok(list) => reply::json(http::StatusCode::OK, &list),
        Err(e) => reply::error(shape.errors(), &e),
    })
}

/// `GET /v1/models/{id}`, `GET /v1beta/models/{id}`: one model this key may use (404 otherwise).
pub(crate) async fn get_model(
    inner: &Inner,
    ctx: &Ctx,
    request: http::Request<Bytes>,
    family: Models,
    id: &str,
) -> Handled {
    let shape = Shape::of(family, &request);
    let id = id.strip_prefix("models/").unwrap_or(id);
    let result = allowed(inner, ctx, &request).await.and_then(|models| {
        models
            .iter()
            .find(|m| m.name == id)
            .map(|m| m.json(shape))
            .ok_or_else(|| RequestError::ModelNotFound(id.to_owned()).into())
    });
    Handled::now(match result {
        Ok(model) => reply::json(http::StatusCode::OK, &model),
        Err(e) => reply::error(shape.errors(), &e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_rfc3339_utc() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_767_229_261_999), "2026-01-01T01:01:01Z");
    }
}
