//! Every upstream response decoder on arbitrary bytes (and the Gemini embeddings answer); what
//! decodes is encoded for every client protocol. Never panics.
#![no_main]

use gateway_core::codec;
use gateway_core::provider::Protocol;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
    let _ = codec::embeddings::openai_usage(body);
    if let Ok(request) = codec::embeddings::decode_request(br#"{"input":["a","b"]}"#) {
        let _ = codec::embeddings::gemini_response(&request, "m", body);
    }
    let upstream = Protocol::ALL[usize::from(pick) % Protocol::ALL.len()];
    let Ok(response) = codec::decode_response(upstream, body) else { return };
    for client in Protocol::ALL {
        let _ = codec::encode_response(client, &response);
    }
});
