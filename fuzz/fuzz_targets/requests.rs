//! Every inbound request decoder (chat, responses, messages, Gemini, embeddings) on arbitrary
//! bytes; what decodes is encoded for every upstream protocol (hosted tools checked against each)
//! and run through relay isolation. Never panics.
#![no_main]

use gateway_core::codec::{self, EncodeOptions};
use gateway_core::provider::Protocol;
use libfuzzer_sys::fuzz_target;

const INBOUND: [Protocol; 4] = Protocol::CLIENTS;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
    if let Ok(e) = codec::embeddings::decode_request(body) {
        let _ = codec::embeddings::gemini_request(&e, "m");
    }
    let inbound = INBOUND[usize::from(pick) % INBOUND.len()];
    let Ok(mut request) = codec::decode_request(inbound, body) else { return };
    // The fields the decoder does not map, as the dispatcher keeps them.
    let fields: std::collections::BTreeMap<String, Box<serde_json::value::RawValue>> =
        serde_json::from_slice(body).unwrap_or_default();
    request.extra = codec::unmapped(inbound, &fields);
    let _ = codec::untranslatable(inbound, &request.extra);
    let options = EncodeOptions {
        default_max_tokens: 64,
        system_as_developer: pick & 0x80 != 0,
        max_completion_tokens: pick & 0x40 != 0,
        no_reasoning: pick & 0x20 != 0,
        vertex: pick & 0x10 != 0,
        extra: pick & 0x08 != 0,
    };
    for upstream in Protocol::ALL {
        let _ = codec::dropped_tools(&request, upstream);
        let _ = codec::encode_request(upstream, &request, "model", &options);
    }
    let mut isolated = request.clone();
    gateway_core::isolation::system_into_user(&mut isolated);
});
