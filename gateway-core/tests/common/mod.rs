//! Helpers shared by the codec test files: fixtures and whole-stream decoding.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use gateway_core::canonical::Event;
use gateway_core::codec;
use gateway_core::provider::Protocol;

/// A fixture file of `tests/fixtures/<protocol>/`.
pub fn fixture(protocol: Protocol, name: &str) -> Vec<u8> {
    let path =
        format!("{}/tests/fixtures/{}/{name}", env!("CARGO_MANIFEST_DIR"), protocol.as_str());
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Decodes an upstream stream (SSE, or event-stream messages for Bedrock) arriving in `pieces`,
/// closing it at the end.
pub fn decode_pieces(protocol: Protocol, pieces: &[&[u8]]) -> Vec<Event> {
    let mut sse = codec::Framer::new(protocol);
    let mut decoder = codec::stream_decoder(protocol, "call");
    let mut events = Vec::new();
    for piece in pieces {
        for e in sse.push(piece).unwrap() {
            events.extend(decoder.push(&e));
        }
    }
    if let Some(e) = sse.finish() {
        events.extend(decoder.push(&e));
    }
    events.extend(decoder.finish());
    events
}
