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
    // One `model` part only: a second one (or a file under that name) would be authorised and
    // priced by the first while the upstream reads the last.
    if form.count("model") + form.count("model[]") > 1 || form.has_file("model") {
        let m = "the form must have exactly one `model` field";
        return Err(RequestError::field("model", m));
    }
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

    /// Tokens and units of an answer (`content_type` is the upstream's), and for completions
    /// (billed by the token) the bytes of text answered, which it is charged by when the
    /// upstream reports no usage. Read without building the answer as a tree: an image's
    /// base64 data is skipped, not held.
    pub(crate) fn used(&self, body: &[u8], content_type: &str) -> (Usage, Units, Option<usize>) {
        let answer: Answer = if content_type.contains("json") {
            serde_json::from_slice(body).unwrap_or_default()
        } else {
            Answer::default()
        };
        let usage = &answer.usage;
        let n = |field: &str| usage[field].as_i64();
        let output = n("output_tokens").or(n("completion_tokens"));
        // Jina's rerank reports only a total.
        let input = n("input_tokens")
            .or(n("prompt_tokens"))
            .or_else(|| n("total_tokens").filter(|_| output.is_none()));
        let tokens = Usage { input, output, ..Usage::default() };
        let mut units = self.asked;
        let mut text = None;
        match self.call {
            OpenaiCall::ImageGenerations | OpenaiCall::ImageEdits => {
                if let Some(Items(n)) = answer.data {
                    units.images = Some(n as f64);
                }
            }
            OpenaiCall::Transcriptions => {
                units.seconds = answer.duration.as_f64().or(usage["seconds"].as_f64());
            }
            OpenaiCall::Rerank => {
                // Cohere bills search units (a query over up to 100 documents is one).
                if let Some(search) = answer.meta.pointer("/billed_units/search_units") {
                    units.queries = search.as_f64();
                }
            }
            OpenaiCall::Completions => {
                let choices = answer.choices.as_array().map(Vec::as_slice).unwrap_or_default();
                text = Some(choices.iter().filter_map(|c| c["text"].as_str()).map(str::len).sum());
            }
            OpenaiCall::Speech | OpenaiCall::Moderations => {}
        }
        (tokens, units, text)
    }
}

/// What a relayed answer is read for: small fields as they come (whatever their type), the
/// images' data counted, not read.
#[derive(Default, serde::Deserialize)]
struct Answer {
    #[serde(default)]
    usage: Value,
    /// Images: how many came (their data skipped).
    #[serde(default)]
    data: Option<Items>,
    #[serde(default)]
    duration: Value,
    #[serde(default)]
    meta: Value,
    /// Completions: the texts.
    #[serde(default)]
    choices: Value,
}

/// The length of a JSON array whose items are skipped unread (anything else: none).
struct Items(usize);

impl<'de> serde::Deserialize<'de> for Items {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Count;
        impl<'de> serde::de::Visitor<'de> for Count {
            type Value = Items;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("anything")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<Items, A::Error> {
                while map.next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?.is_some() {}
                Ok(Items(0))
            }
            fn visit_unit<E>(self) -> Result<Items, E> {
                Ok(Items(0))
            }
            fn visit_bool<E>(self, _: bool) -> Result<Items, E> {
                Ok(Items(0))
            }
            fn visit_i64<E>(self, _: i64) -> Result<Items, E> {
                Ok(Items(0))
            }
            fn visit_u64<E>(self, _: u64) -> Result<Items, E> {
                Ok(Items(0))
            }
            fn visit_f64<E>(self, _: f64) -> Result<Items, E> {
                Ok(Items(0))
            }
            fn visit_str<E>(self, _: &str) -> Result<Items, E> {
                Ok(Items(0))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<Items, A::Error> {
                let mut n = 0;
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {
                    n += 1;
                }
                Ok(Items(n))
            }
        }
        d.deserialize_any(Count)
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
        let (u, units, text) =
            pass(OpenaiCall::Completions, Units::default()).used(completion, "application/json");
        assert_eq!((u.input, u.output, units), (Some(5), Some(7), Units::default()));
        assert_eq!(text, Some(1));
        let images = br#"{"created":1,"data":[{"b64_json":"aa"},{"b64_json":"bb"}],"usage":{"input_tokens":50,"output_tokens":4160}}"#;
        let asked = Units { images: Some(1.0), ..Units::default() };
        let (u, units, _) =
            pass(OpenaiCall::ImageGenerations, asked).used(images, "application/json");
        assert_eq!((u.input, u.output, units.images), (Some(50), Some(4160), Some(2.0)));
        let verbose = br#"{"text":"hi","duration":12.5}"#;
        let (_, units, _) =
            pass(OpenaiCall::Transcriptions, Units::default()).used(verbose, "application/json");
        assert_eq!(units.seconds, Some(12.5));
        let speech = Units { characters: Some(42.0), ..Units::default() };
        let (u, units, _) = pass(OpenaiCall::Speech, speech).used(b"ID3\x04", "audio/mpeg");
        assert_eq!((u, units.characters), (Usage::default(), Some(42.0)));
        let jina = br#"{"results":[],"usage":{"total_tokens":31}}"#;
        let rerank = Units { queries: Some(1.0), ..Units::default() };
        let (u, units, _) = pass(OpenaiCall::Rerank, rerank).used(jina, "application/json");
        assert_eq!((u.input, units.queries), (Some(31), Some(1.0)));
        // A field of an unexpected type costs nothing else: the usage is still read.
        let odd = br#"{"choices":[{"text":null}],"data":{"x":1},"usage":{"prompt_tokens":5,"completion_tokens":7}}"#;
        let (u, _, text) =
            pass(OpenaiCall::Completions, Units::default()).used(odd, "application/json");
        assert_eq!((u.input, u.output, text), (Some(5), Some(7), Some(0)));
        let cohere = br#"{"results":[],"meta":{"billed_units":{"search_units":2}}}"#;
        assert_eq!(
            pass(OpenaiCall::Rerank, rerank).used(cohere, "application/json").1.queries,
            Some(2.0)
        );
    }
}
