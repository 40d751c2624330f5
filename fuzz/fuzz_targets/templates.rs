//! The prompt-rule template renderer on arbitrary templates, and whole rules (with arbitrary
//! regex `match` patterns) applied to a request. Never panics.
#![no_main]

use gateway_core::canonical::Request;
use gateway_core::rules::{self, Rule, Vars};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let request = gateway_core::codec::decode_request(
        gateway_core::provider::Protocol::OpenaiChat,
        br#"{"model":"m","messages":[{"role":"system","content":"be brief"},{"role":"user","content":"hello {{model}}"}]}"#,
    )
    .unwrap_or_else(|_| Request::default());
    let vars = Vars { model: "gpt-x", key_name: "key {{x}}", now_ms: 1_700_000_000_000, room: 1 << 24 };
    let _ = rules::render(text, &request, &vars);
    // The same text as a whole rule list (JSON), as the admin API would accept it.
    if let Ok(list) = serde_json_from(text) {
        let mut r = request.clone();
        let _ = rules::apply(&list, &mut r, &vars);
    }
});

fn serde_json_from(text: &str) -> Result<Vec<Rule>, ()> {
    gateway_core::json::parse::<Vec<Rule>>(text.as_bytes()).map_err(|_| ())
}
