//! Property tests over the codecs: canonical → wire → canonical is the identity on the subset
//! every protocol can carry, and any chunking of a valid upstream stream decodes to the same events.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gateway_core::canonical::{Block, Message, Request, Role, Tool, ToolChoice};
use gateway_core::codec::{self, EncodeOptions};
use gateway_core::provider::Protocol;
use proptest::prelude::*;
use serde_json::json;

mod common;
use common::{decode_pieces, fixture};

const TOOLS: [&str; 2] = ["get_weather", "lookup_stock"];

fn text() -> impl Strategy<Value = String> {
    // Words, punctuation and multi-byte characters; never empty, never a blank-line separator.
    proptest::string::string_regex("[a-zA-Z0-9 ,.!?éü世界👋]{1,24}")
        .unwrap()
        .prop_filter("not blank", |s| !s.trim().is_empty())
}

/// One exchange: a user text, then an assistant reply that is text or tool calls; calls are
/// answered by tool results at the start of the next user turn.
fn conversation() -> impl Strategy<Value = Vec<Message>> {
    let turn = (
        text(),
        prop_oneof![
            text().prop_map(Ok),
            proptest::collection::vec((0..2usize, text()), 1..3).prop_map(Err)
        ],
    );
    proptest::collection::vec(turn, 1..4).prop_map(|turns| {
        let mut messages: Vec<Message> = Vec::new();
        let mut pending: Vec<Block> = Vec::new();
        for (n, (user, reply)) in turns.into_iter().enumerate() {
            let mut content = std::mem::take(&mut pending);
            content.push(Block::Text(user));
            messages.push(Message { role: Role::User, content });
            let assistant = match reply {
                Ok(t) => vec![Block::Text(t)],
                Err(calls) => calls
                    .into_iter()
                    .enumerate()
                    .map(|(i, (tool, arg))| {
                        let id = format!("call_{n}_{i}");
                        pending.push(Block::ToolResult {
                            call_id: id.clone(),
                            content: vec![Block::Text(format!("result {arg}"))],
                            is_error: false,
                        });
                        Block::ToolCall {
                            id,
                            name: TOOLS[tool].into(),
                            arguments: json!({"q": arg}).to_string(),
                        }
                    })
                    .collect(),
            };
            messages.push(Message { role: Role::Assistant, content: assistant });
        }
        if !pending.is_empty() {
            messages.push(Message { role: Role::User, content: pending });
        }
        messages
    })
}

fn request() -> impl Strategy<Value = Request> {
    (
        proptest::option::of(text()),
        conversation(),
        proptest::option::of(prop_oneof![Just(ToolChoice::Auto), Just(ToolChoice::None), Just(ToolChoice::Required), Just(ToolChoice::Tool(TOOLS[1].into()))]),
        1u32..8000,
        proptest::option::of(prop_oneof![Just(0.0), Just(0.5), Just(1.0)]),
        proptest::collection::vec("[A-Z]{3,6}", 0..2),
    )
        .prop_map(|(system, messages, tool_choice, max_tokens, temperature, stop)| Request {
            model: "upstream-model".into(),
            system: system.into_iter().collect(),
            messages,
            tools: TOOLS
                .iter()
                .map(|name| Tool::function(
                    *name,
                    Some(format!("{name} tool")),
                    json!({"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}),
                ))
                .collect(),
            tool_choice,
            max_tokens: Some(max_tokens),
            temperature,
            stop,
            ..Request::default()
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn canonical_wire_canonical_is_the_identity(request in request()) {
        for protocol in Protocol::ALL {
            let body = codec::encode_request(protocol, &request, "upstream-model", &EncodeOptions::default()).unwrap();
            let back = codec::decode_request(protocol, &body).unwrap();
            let mut want = request.clone();
            match protocol {
                Protocol::OpenaiResponses => want.stop.clear(), // no stop sequences in Responses
                Protocol::Gemini => want.model.clear(),          // the model is in the URL
                Protocol::BedrockConverse => {
                    want.model.clear(); // the model is in the URL
                    // Converse has no "none" tool choice: the choice is left to the model.
                    if want.tool_choice == Some(ToolChoice::None) {
                        want.tool_choice = None;
                    }
                }
                _ => {}
            }
            prop_assert_eq!(back, want, "{:?}", protocol);
        }
    }
}

proptest! {
    #[test]
    fn any_chunking_of_a_stream_decodes_to_the_same_events(cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12)) {
        for protocol in Protocol::ALL {
            for name in ["stream_text.sse", "stream_tools.sse", "stream_error.sse"] {
                let bytes = fixture(protocol, name);
                let mut points: Vec<usize> = cuts.iter().map(|i| i.index(bytes.len() + 1)).collect();
                points.sort_unstable();
                let mut pieces = Vec::new();
                let mut start = 0;
                for p in points {
                    pieces.push(&bytes[start..p]);
                    start = p;
                }
                pieces.push(&bytes[start..]);
                prop_assert_eq!(decode_pieces(protocol, &pieces), decode_pieces(protocol, &[&bytes]), "{:?} {}", protocol, name);
            }
        }
    }
}

proptest! {
    /// A seal shown to a caller of any protocol reads back as the same seal, with the reasoning
    /// text its upstream sealed, however that text and data look; the origin's own caller gets the
    /// data untouched. Anything else a caller sends in those fields is that protocol's own seal.
    #[test]
    fn a_seal_shown_to_any_caller_reads_back_as_itself(
        data in "[ -~]{0,64}",
        text in text(),
        redacted in any::<bool>(),
        origin in 0usize..4,
        reader in 0usize..4,
    ) {
        use gateway_core::canonical::Seal;
        let (origin, reader) = (Protocol::ALL[origin], Protocol::ALL[reader]);
        let seal = Seal { origin, data: data.clone(), redacted };
        let shown = seal.present(reader, &text);
        let (back, carried) = Seal::read(&shown, reader);
        prop_assert_eq!(&back, &seal);
        if reader == origin && !redacted {
            prop_assert_eq!(&shown, &data);
        } else {
            prop_assert_eq!(carried, Some(text.clone()));
        }
        // What an SDK holding bytes writes back (URL-safe base64) reads the same.
        use base64::Engine;
        let wrapped = reader != origin || redacted;
        if let Ok(bytes) = base64::engine::general_purpose::STANDARD.decode(&shown)
            && wrapped
        {
            let url_safe = base64::engine::general_purpose::URL_SAFE.encode(bytes);
            prop_assert_eq!(Seal::read(&url_safe, reader).0, seal);
        }
    }
}
