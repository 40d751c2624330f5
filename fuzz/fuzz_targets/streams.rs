//! Every upstream stream decoder on arbitrary bytes in its framing (SSE; AWS event-stream for
//! Bedrock), its canonical events re-encoded for every
//! client protocol (the relay's path). Never panics, whatever order or shape the events come in.
#![no_main]

use bytes::BytesMut;
use gateway_core::canonical::Tool;
use gateway_core::codec::{self, ClientView};
use gateway_core::provider::Protocol;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
    let upstream = Protocol::ALL[usize::from(pick) % Protocol::ALL.len()];
    let mut framer = codec::Framer::new(upstream);
    let Ok(mut events) = framer.push(body) else { return };
    events.extend(framer.finish());
    let mut decoder = codec::stream_decoder(upstream, "call");
    let mut canonical = Vec::new();
    for event in &events {
        canonical.extend(decoder.push(event));
    }
    canonical.extend(decoder.finish());
    let _ = decoder.saw_terminal();
    for protocol in Protocol::CLIENTS {
        let mut client = ClientView::new(protocol, &[Tool::custom("get_weather", None, None)]);
        client.include_usage = pick & 0x80 != 0;
        client.json_array = pick & 0x20 != 0;
        let mut encoder = codec::stream_encoder(&client);
        let mut out = BytesMut::new();
        for event in &canonical {
            encoder.push(event, &mut out);
        }
        if pick & 0x40 != 0 {
            encoder.error("upstream_error", "cut", &mut out);
        } else {
            encoder.finish(&mut out);
        }
    }
});
