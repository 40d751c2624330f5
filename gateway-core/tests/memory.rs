//! What the core holds in memory, counted by the allocator itself: the in-memory response cache
//! stays within its configured size (its bookkeeping and each allocation's malloc header
//! included), and reading a large relayed answer's usage does not build the answer as a tree.
//! One test, so nothing else allocates in this process meanwhile.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use gateway_core::answers::{AnswerStore, MemoryAnswers};
use gateway_core::provider::Protocol;
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<std::alloc::System> = &INSTRUMENTED_SYSTEM;

/// What glibc's malloc adds to each allocation (its header and rounding), on average.
const MALLOC_OVERHEAD: isize = 16;

#[test]
fn the_core_holds_what_it_says() {
    response_cache_stays_within_its_size();
    usage_is_read_without_building_the_answer();
}

/// Entries of many sizes, each handed over the way the encoder makes them (a buffer with spare
/// room), keyed by hex hashes as the gateway keys them: what the cache holds, all counted, stays
/// within `CACHE_MEMORY_MB`'s bytes (it held 2.1–2.6× before entries were copied to their length
/// and their keys and bookkeeping were counted).
fn response_cache_stays_within_its_size() {
    const CAPACITY: usize = 4 << 20;
    let region = Region::new(GLOBAL);
    let cache = MemoryAnswers::new(CAPACITY);
    futures::executor::block_on(async {
        for i in 0..40_000usize {
            let len = 64 + (i * 7919) % 3000;
            let mut buffer = Vec::with_capacity(len * 2);
            buffer.resize(len, b'a');
            let key = format!("{:064x}", i * 2_654_435_761);
            cache.put(&key, Bytes::from(buffer), 0, i64::MAX).await.unwrap();
        }
    });
    let change = region.change();
    // (A reallocation's growth is counted in `bytes_allocated` already.)
    let bytes = change.bytes_allocated as isize - change.bytes_deallocated as isize;
    let allocations = change.allocations as isize - change.deallocations as isize;
    let held = bytes + allocations * MALLOC_OVERHEAD;
    println!(
        "a response cache of {CAPACITY} bytes holds {held} bytes in {allocations} allocations"
    );
    assert!(held as f64 <= CAPACITY as f64 * 1.1, "the cache holds {held} bytes for {CAPACITY}");
    assert!(held as f64 >= CAPACITY as f64 * 0.5, "the cache is not even half full: {held}");
    drop(cache);
}

/// A 10 MB answer's usage, read on every protocol: what is allocated on the way is a small part
/// of the answer (a tree of it, or a copy of its text, would be at least its size).
fn usage_is_read_without_building_the_answer() {
    let text = "x".repeat(10 << 20);
    let bodies = [
        (
            Protocol::OpenaiChat,
            format!(
                r#"{{"id":"c","choices":[{{"index":0,"message":{{"role":"assistant","content":"{text}"}},"finish_reason":"stop"}}],"usage":{{"prompt_tokens":3,"completion_tokens":5}}}}"#
            ),
        ),
        (
            Protocol::OpenaiResponses,
            format!(
                r#"{{"id":"r","output":[{{"type":"message","content":[{{"type":"output_text","text":"{text}"}}]}}],"usage":{{"input_tokens":3,"output_tokens":5}}}}"#
            ),
        ),
        (
            Protocol::AnthropicMessages,
            format!(
                r#"{{"id":"m","type":"message","content":[{{"type":"text","text":"{text}"}}],"usage":{{"input_tokens":3,"output_tokens":5}}}}"#
            ),
        ),
        (
            Protocol::Gemini,
            format!(
                r#"{{"candidates":[{{"content":{{"parts":[{{"text":"{text}"}}]}}}}],"usageMetadata":{{"promptTokenCount":3,"candidatesTokenCount":5}}}}"#
            ),
        ),
        (
            Protocol::BedrockConverse,
            format!(
                r#"{{"output":{{"message":{{"content":[{{"text":"{text}"}}]}}}},"usage":{{"inputTokens":3,"outputTokens":5}}}}"#
            ),
        ),
    ];
    for (protocol, body) in &bodies {
        let region = Region::new(GLOBAL);
        let usage = gateway_core::codec::decode_usage(*protocol, body.as_bytes()).unwrap();
        let allocated = region.change().bytes_allocated;
        assert_eq!(usage.output, Some(5), "{protocol:?}");
        assert!(
            allocated < 64 << 10,
            "{protocol:?}: reading the usage allocated {allocated} bytes"
        );
    }
}
