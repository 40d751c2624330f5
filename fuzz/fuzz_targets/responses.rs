//! Every upstream response decoder on arbitrary bytes (and the Gemini embeddings answer); what
//! decodes is encoded for every client protocol. Never panics.
#![no_main]

use gateway_core::canonical::{Tool, ToolKind};
use gateway_core::codec::{self, ClientView};
use gateway_core::provider::Protocol;
use libfuzzer_sys::fuzz_target;

/// A caller with a custom tool and a namespaced one, so their item shapes are exercised too.
fn client(protocol: Protocol) -> ClientView {
    let namespaced = Tool {
        kind: ToolKind::Namespaced {
            namespace: "ns".into(),
            description: None,
            function: "f".into(),
        },
        ..Tool::custom("ns__f", None, None)
    };
    ClientView::new(protocol, &[Tool::custom("get_weather", None, None), namespaced])
}

fuzz_target!(|data: &[u8]| {
    let Some((&pick, body)) = data.split_first() else { return };
    let _ = codec::embeddings::openai_usage(body);
    if let Ok(request) = codec::embeddings::decode_request(br#"{"input":["a","b"]}"#) {
        let _ = codec::embeddings::gemini_response(&request, "m", body);
    }
    let upstream = Protocol::ALL[usize::from(pick) % Protocol::ALL.len()];
    if let Ok(text) = std::str::from_utf8(body) {
        let _ = codec::rename_model(upstream, text, "asked");
    }
    let Ok(response) = codec::decode_response(upstream, body, "call") else { return };
    for protocol in Protocol::CLIENTS {
        let _ = codec::encode_response(&client(protocol), &response);
    }
});
