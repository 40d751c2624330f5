//! Golden fixtures for every codec, in realistic shapes from the providers' API references
//! (`tests/fixtures/<protocol>/`), snapshot-tested with insta, plus the battery every codec must
//! pass: streams decode the same under every chunking (tool calls and multi-byte characters split
//! across chunks), usage-only final chunks, upstream error events, and translated streams that the
//! client protocol's own decoder reads back to the same content.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use bytes::BytesMut;
use gateway_core::canonical::{BlockKind, Event, FinishReason, Usage};
use gateway_core::codec::{self, ClientView, EncodeOptions};
use gateway_core::provider::Protocol;
use serde_json::Value;

mod common;
use common::{decode_pieces, fixture};

const ALL: [Protocol; 5] = Protocol::ALL;
const CLIENTS: [Protocol; 4] = Protocol::CLIENTS;

/// A caller of `protocol` with no special tools.
fn view(protocol: Protocol, include_usage: bool) -> ClientView {
    ClientView { protocol, include_usage, ..ClientView::default() }
}

fn pretty(bytes: &[u8]) -> String {
    serde_json::to_string_pretty(&serde_json::from_slice::<Value>(bytes).unwrap()).unwrap()
}

/// Decodes an upstream SSE byte stream cut into `chunk`-byte pieces (0: whole).
fn decode_stream(protocol: Protocol, bytes: &[u8], chunk: usize) -> Vec<Event> {
    let pieces: Vec<&[u8]> = if chunk == 0 { vec![bytes] } else { bytes.chunks(chunk).collect() };
    decode_pieces(protocol, &pieces)
}

fn encode_stream(client: Protocol, events: &[Event]) -> String {
    let mut encoder = codec::stream_encoder(&view(client, true));
    let mut out = BytesMut::new();
    for e in events {
        encoder.push(e, &mut out);
    }
    if !events.iter().any(|e| matches!(e, Event::Error { .. })) {
        encoder.finish(&mut out);
    }
    String::from_utf8(out.to_vec()).unwrap()
}

#[test]
fn requests_decode_to_canonical_and_encode_for_every_upstream() {
    for protocol in ALL {
        let request = codec::decode_request(protocol, &fixture(protocol, "request.json")).unwrap();
        insta::assert_debug_snapshot!(format!("request_{}_canonical", protocol.as_str()), request);
        for target in ALL {
            let options = EncodeOptions { default_max_tokens: 4096, ..EncodeOptions::default() };
            // Bedrock takes images only as bytes: a request with an image URL is refused, clearly.
            let encoded = match codec::encode_request(target, &request, "upstream-model", &options)
            {
                Ok(body) => pretty(&body),
                Err(e) if target == Protocol::BedrockConverse => format!("refused: {e}"),
                Err(e) => panic!("{protocol:?} -> {target:?}: {e}"),
            };
            insta::assert_snapshot!(
                format!("request_{}_to_{}", protocol.as_str(), target.as_str()),
                encoded
            );
        }
    }
}

#[test]
fn responses_decode_to_canonical_and_encode_for_every_client() {
    for protocol in ALL {
        let response =
            codec::decode_response(protocol, &fixture(protocol, "response.json"), "call").unwrap();
        insta::assert_debug_snapshot!(
            format!("response_{}_canonical", protocol.as_str()),
            response
        );
        for client in CLIENTS {
            let body = codec::encode_response(&view(client, false), &response);
            insta::assert_snapshot!(
                format!("response_{}_to_{}", protocol.as_str(), client.as_str()),
                pretty(&body)
            );
            // The client's own decoder reads back the same content.
            let again = codec::decode_response(client, &body, "call").unwrap();
            assert_eq!(again.content.len(), response.content.len(), "{protocol:?} -> {client:?}");
        }
    }
}

/// The same-protocol path reads only the usage: it must be what the full decode finds.
#[test]
fn usage_only_decoding_agrees_with_the_full_decode() {
    for protocol in ALL {
        let body = fixture(protocol, "response.json");
        let full = codec::decode_response(protocol, &body, "call").unwrap().usage;
        assert_eq!(codec::decode_usage(protocol, &body).unwrap(), full, "{protocol:?}");
        assert!(full.input.is_some(), "{protocol:?}: the fixture reports usage");
    }
    assert!(codec::decode_usage(Protocol::OpenaiChat, b"not json").is_err());
    assert_eq!(codec::decode_usage(Protocol::Gemini, b"{}").unwrap(), Default::default());
}

#[test]
fn streams_decode_the_same_under_every_chunking() {
    for protocol in ALL {
        for name in ["stream_text.sse", "stream_tools.sse", "stream_error.sse"] {
            let bytes = fixture(protocol, name);
            let whole = decode_stream(protocol, &bytes, 0);
            for size in 1..=24 {
                assert_eq!(
                    decode_stream(protocol, &bytes, size),
                    whole,
                    "{protocol:?} {name} in {size}-byte chunks"
                );
            }
            insta::assert_debug_snapshot!(
                format!("{}_{}", protocol.as_str(), name.replace('.', "_")),
                whole
            );
        }
    }
}

#[test]
fn upstream_error_events_become_canonical_errors() {
    for protocol in ALL {
        let events = decode_stream(protocol, &fixture(protocol, "stream_error.sse"), 0);
        assert!(
            events.iter().any(|e| matches!(e, Event::Error { .. })),
            "{protocol:?}: {events:?}"
        );
    }
}

/// What a stream carries, independent of protocol framing.
#[derive(Debug, PartialEq)]
struct Content {
    text: String,
    thinking: String,
    calls: Vec<(String, String, Value)>,
    finish: Option<FinishReason>,
    usage: (i64, i64),
}

fn content(events: &[Event]) -> Content {
    let mut c = Content {
        text: String::new(),
        thinking: String::new(),
        calls: vec![],
        finish: None,
        usage: (0, 0),
    };
    let mut usage = Usage::default();
    let mut args: Vec<String> = vec![];
    let mut call_at = std::collections::HashMap::new();
    for e in events {
        match e {
            Event::TextDelta { text, .. } => c.text.push_str(text),
            Event::ThinkingDelta { text, .. } => c.thinking.push_str(text),
            Event::BlockStart { index, kind: BlockKind::ToolCall { id, name } } => {
                call_at.insert(*index, c.calls.len());
                c.calls.push((id.clone(), name.clone(), Value::Null));
                args.push(String::new());
            }
            Event::ToolArgsDelta { index, json } => args[call_at[index]].push_str(json),
            Event::Finish(f) => {
                c.finish = Some(if *f == FinishReason::StopSequence {
                    FinishReason::Stop
                } else {
                    f.clone()
                })
            }
            Event::Usage(u) => usage.merge(*u),
            _ => {}
        }
    }
    for (call, a) in c.calls.iter_mut().zip(args) {
        call.2 = serde_json::from_str(&a).unwrap_or(Value::Null);
    }
    c.usage = (usage.input.unwrap_or(0), usage.output.unwrap_or(0));
    c
}

#[test]
fn translated_streams_read_back_to_the_same_content_in_every_client_protocol() {
    for upstream in ALL {
        for name in ["stream_text.sse", "stream_tools.sse"] {
            let events = decode_stream(upstream, &fixture(upstream, name), 0);
            let want = content(&events);
            for client in CLIENTS {
                let sse = encode_stream(client, &events);
                insta::assert_snapshot!(
                    format!(
                        "{}_{}_as_{}",
                        upstream.as_str(),
                        name.replace('.', "_"),
                        client.as_str()
                    ),
                    sse
                );
                let back = decode_stream(client, sse.as_bytes(), 7);
                let mut got = content(&back);
                if client == Protocol::OpenaiChat && want.thinking.is_empty() {
                    got.thinking.clear();
                }
                assert_eq!(got, want, "{upstream:?} {name} as {client:?}");
            }
        }
    }
}

#[test]
fn chat_usage_chunk_only_when_asked() {
    let events =
        decode_stream(Protocol::OpenaiChat, &fixture(Protocol::OpenaiChat, "stream_text.sse"), 0);
    assert!(
        matches!(events.last(), Some(Event::Usage(_))),
        "usage-only final chunk decodes to Usage"
    );
    for (include, want) in [(true, true), (false, false)] {
        let mut encoder = codec::stream_encoder(&view(Protocol::OpenaiChat, include));
        let mut out = BytesMut::new();
        events.iter().for_each(|e| encoder.push(e, &mut out));
        encoder.finish(&mut out);
        let text = String::from_utf8(out.to_vec()).unwrap();
        assert_eq!(text.contains("\"choices\":[],"), want, "{text}");
        assert!(text.ends_with("data: [DONE]\n\n"));
    }
}

#[test]
fn empty_content_survives_every_direction() {
    let empty = br#"{"id":"x","object":"chat.completion","created":1,"model":"m","choices":[{"index":0,"message":{"role":"assistant","content":""},"finish_reason":"stop"}]}"#;
    let response = codec::decode_response(Protocol::OpenaiChat, empty, "call").unwrap();
    assert!(response.content.is_empty());
    for client in CLIENTS {
        let body = codec::encode_response(&view(client, false), &response);
        let again = codec::decode_response(client, &body, "call").unwrap();
        assert!(
            again
                .content
                .iter()
                .all(|b| matches!(b, gateway_core::canonical::Block::Text(t) if t.is_empty()))
        );
    }
}

/// Bedrock is an upstream only, but its encoders are complete: every upstream's fixture answer
/// and stream, written as Converse and as ConverseStream messages, reads back to the same content
/// through Bedrock's own decoders (the event-stream framing included).
#[test]
fn converse_encoders_read_back_through_the_converse_decoders() {
    let bedrock = Protocol::BedrockConverse;
    for upstream in ALL {
        let response =
            codec::decode_response(upstream, &fixture(upstream, "response.json"), "call").unwrap();
        let body = codec::encode_response(&view(bedrock, false), &response);
        let again = codec::decode_response(bedrock, &body, "call").unwrap();
        assert_eq!(again.content.len(), response.content.len(), "{upstream:?}");
        assert_eq!(again.finish, response.finish, "{upstream:?}");
        for name in ["stream_text.sse", "stream_tools.sse"] {
            let events = decode_stream(upstream, &fixture(upstream, name), 0);
            let mut encoder = codec::stream_encoder(&view(bedrock, true));
            let mut out = BytesMut::new();
            events.iter().for_each(|e| encoder.push(e, &mut out));
            encoder.finish(&mut out);
            let back = decode_stream(bedrock, &out, 7);
            assert_eq!(content(&back), content(&events), "{upstream:?} {name} as Converse");
        }
    }
}
