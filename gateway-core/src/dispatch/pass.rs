//! The OpenAI endpoints relayed as they are (completions, images, audio, moderations, rerank):
//! the caller's body read for its model (JSON, or a multipart form), the body each target gets
//! (only the model renamed), and what an answer used — tokens where the upstream reports them,
//! and the units its other prices count (images, seconds of audio, characters, queries).

use bytes::Bytes;
use serde_json::Value;

use super::raw::{Fit, RawRequest, passthrough_body};
use crate::canonical::Usage;
use crate::error::RequestError;
use crate::multipart::Form;
use crate::provider::Protocol;
use crate::routes::OpenaiCall;
use crate::store::models::Units;

/// A relayed request.
pub(crate) struct Pass {
    pub call: OpenaiCall,
    /// The caller's form (multipart endpoints).
    form: Option<Form>,
    /// The caller's `Content-Type` for a form.
    content_type: String,
    /// What the request itself says it uses (characters to speak, a query, images asked).
    asked: Units,
}

/// Reads `body` for `call`: its model (and streaming) and the request to relay.
pub(crate) fn read(
    call: OpenaiCall,
    body: &Bytes,
    content_type: Option<&str>,
    inbound: &super::Inbound,
) -> Result<(RawRequest, Pass), RequestError> {
    if !call.multipart() {
        let mut raw = super::raw::peek(body, inbound)?;
        // Only completions stream as events the gateway reads; the others are relayed whole.
        raw.stream &= call == OpenaiCall::Completions;
        let asked = asked(call, &raw);
        let pass = Pass { call, form: None, content_type: "application/json".into(), asked };
        return Ok((raw, pass));
    }
    let content_type = content_type.unwrap_or_default();
    let form = Form::parse(body.clone(), content_type)
        .map_err(|e| RequestError::field("body", format!("a multipart form is expected: {e}")))?;
    let model = form.text("model").map(str::trim).filter(|m| !m.is_empty());
    let model = model.ok_or_else(|| RequestError::field("model", "`model` is required"))?;
    let file = if call == OpenaiCall::ImageEdits { "image" } else { "file" };
    if !form.has_file(file) && !form.has_file(&format!("{file}[]")) {
        return Err(RequestError::field(file, format!("`{file}` (a file) is required")));
    }
    let raw = RawRequest {
        fields: Default::default(),
        model: model.to_owned(),
        stream: false,
        include_usage: false,
        max_tokens: None,
    };
    let n = form.text("n").and_then(|n| n.trim().parse::<f64>().ok());
    let asked =
        Units { images: n.or((call == OpenaiCall::ImageEdits).then_some(1.0)), ..Units::default() };
    let pass = Pass { call, form: Some(form), content_type: content_type.to_owned(), asked };
    Ok((raw, pass))
}

/// What a JSON request says it uses (read from the fields the top-level peek kept raw).
fn asked(call: OpenaiCall, raw: &RawRequest) -> Units {
    let field = |name: &str| -> Value {
        raw.fields.get(name).and_then(|v| serde_json::from_str(v.get()).ok()).unwrap_or_default()
    };
    match call {
        OpenaiCall::ImageGenerations => {
            Units { images: Some(field("n").as_f64().unwrap_or(1.0)), ..Units::default() }
        }
        OpenaiCall::Speech => {
            let characters = field("input").as_str().map(|t| t.chars().count() as f64);
            Units { characters, ..Units::default() }
        }
        OpenaiCall::Rerank => Units { queries: Some(1.0), ..Units::default() },
        _ => Units::default(),
    }
}

impl Pass {
    /// The `Content-Type` of the body sent upstream.
    pub(crate) fn content_type(&self) -> &str {
        &self.content_type
    }

    /// Whether the request is a form (its bytes are no tokens).
    pub(crate) fn is_form(&self) -> bool {
        self.form.is_some()
    }

    /// The body `model` gets: the caller's, the model renamed (and for completions the output
    /// limit fitted, as for chat).
    pub(crate) fn body(
        &self,
        raw: &RawRequest,
        model: &str,
        fit: Fit,
    ) -> Result<Bytes, RequestError> {
        match &self.form {
            Some(form) => Ok(form.with_text("model", model)),
            None => {
                let fit = if self.call == OpenaiCall::Completions { fit } else { Fit::default() };
                passthrough_body(raw, Protocol::OpenaiChat, model, fit)
            }
        }
    }

    /// Tokens and units of an answer (`content_type` is the upstream's).
    pub(crate) fn used(&self, body: &[u8], content_type: &str) -> (Usage, Units) {
        let json = content_type.contains("json");
        let value: Value =
            if json { serde_json::from_slice(body).unwrap_or_default() } else { Value::Null };
        let usage = &value["usage"];
        let n = |v: &Value| v.as_i64();
        let output = n(&usage["output_tokens"]).or(n(&usage["completion_tokens"]));
        // Jina's rerank reports only a total.
        let input = n(&usage["input_tokens"])
            .or(n(&usage["prompt_tokens"]))
            .or_else(|| n(&usage["total_tokens"]).filter(|_| output.is_none()));
        let tokens = Usage { input, output, ..Usage::default() };
        let mut units = self.asked;
        match self.call {
            OpenaiCall::ImageGenerations | OpenaiCall::ImageEdits => {
                if let Some(data) = value["data"].as_array() {
                    units.images = Some(data.len() as f64);
                }
            }
            OpenaiCall::Transcriptions => {
                units.seconds = value["duration"].as_f64().or(usage["seconds"].as_f64());
            }
            OpenaiCall::Rerank => {
                // Cohere bills search units (a query over up to 100 documents is one).
                if let Some(search) = value["meta"]["billed_units"]["search_units"].as_f64() {
                    units.queries = Some(search);
                }
            }
            OpenaiCall::Completions | OpenaiCall::Speech | OpenaiCall::Moderations => {}
        }
        (tokens, units)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(call: OpenaiCall, asked: Units) -> Pass {
        Pass { call, form: None, content_type: "application/json".into(), asked }
    }

    #[test]
    fn answers_say_what_they_used() {
        let completion = br#"{"choices":[{"text":"x"}],"usage":{"prompt_tokens":5,"completion_tokens":7,"total_tokens":12}}"#;
        let (u, units) =
            pass(OpenaiCall::Completions, Units::default()).used(completion, "application/json");
        assert_eq!((u.input, u.output, units), (Some(5), Some(7), Units::default()));
        let images = br#"{"created":1,"data":[{"b64_json":"aa"},{"b64_json":"bb"}],"usage":{"input_tokens":50,"output_tokens":4160}}"#;
        let asked = Units { images: Some(1.0), ..Units::default() };
        let (u, units) = pass(OpenaiCall::ImageGenerations, asked).used(images, "application/json");
        assert_eq!((u.input, u.output, units.images), (Some(50), Some(4160), Some(2.0)));
        let verbose = br#"{"text":"hi","duration":12.5}"#;
        let (_, units) =
            pass(OpenaiCall::Transcriptions, Units::default()).used(verbose, "application/json");
        assert_eq!(units.seconds, Some(12.5));
        let speech = Units { characters: Some(42.0), ..Units::default() };
        let (u, units) = pass(OpenaiCall::Speech, speech).used(b"ID3\x04", "audio/mpeg");
        assert_eq!((u, units.characters), (Usage::default(), Some(42.0)));
        let jina = br#"{"results":[],"usage":{"total_tokens":31}}"#;
        let rerank = Units { queries: Some(1.0), ..Units::default() };
        let (u, units) = pass(OpenaiCall::Rerank, rerank).used(jina, "application/json");
        assert_eq!((u.input, units.queries), (Some(31), Some(1.0)));
        let cohere = br#"{"results":[],"meta":{"billed_units":{"search_units":2}}}"#;
        assert_eq!(
            pass(OpenaiCall::Rerank, rerank).used(cohere, "application/json").1.queries,
            Some(2.0)
        );
    }
}
