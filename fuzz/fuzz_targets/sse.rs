//! The SSE decoder on arbitrary bytes: never panics, and the events do not depend on how the
//! bytes are split into network chunks (the first byte picks the split points).
#![no_main]

use gateway_core::sse::SseDecoder;
use libfuzzer_sys::fuzz_target;

fn decode(chunks: &[&[u8]]) -> Option<Vec<gateway_core::sse::SseEvent>> {
    let mut decoder = SseDecoder::with_max_line(4096);
    let mut out = Vec::new();
    for chunk in chunks {
        out.extend(decoder.push(chunk).ok()?);
    }
    out.extend(decoder.finish());
    Some(out)
}

fuzz_target!(|data: &[u8]| {
    let Some((&step, body)) = data.split_first() else { return };
    let whole = decode(&[body]);
    let step = usize::from(step % 16) + 1;
    let pieces: Vec<&[u8]> = body.chunks(step).collect();
    let split = decode(&pieces);
    if let (Some(whole), Some(split)) = (whole, split) {
        assert_eq!(whole, split, "chunking changed the events");
    }
});
