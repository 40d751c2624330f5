//! The response cache: whole answers kept under a hash of the canonical request (after prompt
//! rules) and the key's namespace, so the same question asked on any endpoint finds one entry;
//! which requests may be kept (`refusal`), which answers (`keeps`), the entry format, the
//! `AnswerStore` trait with the in-memory store (LRU by bytes), and the replay of an entry in the
//! caller's protocol, whole or as a stream.
//!
//! Stores: this module's `MemoryAnswers` (per instance, the default), the database
//! (`store/answers.rs`, shared by every instance on it), and on Workers the Cache API
//! (`adapters/cloudflare`).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use bytes::{Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::canonical::{Block, FinishReason, Request, Response, Role, ToolKind, Usage};
use crate::codec::{self, ClientView};
use crate::error::request::RequestError;
use crate::maybe_send::{MaybeSend, MaybeSync};

/// The longest an answer may be kept: 30 days.
pub const MAX_TTL_S: u32 = 30 * 86_400;
/// The largest answer a policy may keep: 16 MiB.
pub const MAX_ENTRY_BYTES: u32 = 16 << 20;
/// The request header that steers the cache, and the response header that reports on it.
pub const HEADER: &str = "x-gateway-cache";

/// A key's or virtual model's cache settings (`cache` in the admin API; `null`: off).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CachePolicy {
    /// How long an answer is served from the cache, in seconds.
    #[serde(default = "default_ttl")]
    pub ttl_s: u32,
    /// Answers larger than this (as stored) are not kept.
    #[serde(default = "default_max_bytes")]
    pub max_bytes: u32,
    /// Also keep answers sampled at a temperature above 0 (or the provider's default): callers
    /// asking again get the first sample instead of a new one.
    #[serde(default)]
    pub sampled: bool,
    /// Keys only: keys with the same namespace share answers (default: the key's own).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

fn default_ttl() -> u32 {
    3600
}

fn default_max_bytes() -> u32 {
    1 << 20
}

impl CachePolicy {
    /// Checks the settings given under `field` (`cache`); `namespaced` where a namespace may be
    /// set (keys).
    pub(crate) fn check(&self, field: &str, namespaced: bool) -> Result<(), RequestError> {
        if !(1..=MAX_TTL_S).contains(&self.ttl_s) {
            let m = format!("`{field}.ttl_s` must be 1 to {MAX_TTL_S} seconds");
            return Err(RequestError::field(format!("{field}.ttl_s"), m));
        }
        if !(1..=MAX_ENTRY_BYTES).contains(&self.max_bytes) {
            let m = format!("`{field}.max_bytes` must be 1 to {MAX_ENTRY_BYTES}");
            return Err(RequestError::field(format!("{field}.max_bytes"), m));
        }
        if let Some(ns) = &self.namespace {
            if !namespaced {
                let m = "only keys have a cache namespace";
                return Err(RequestError::field(format!("{field}.namespace"), m));
            }
            crate::validate::name(&format!("{field}.namespace"), ns, 64)?;
        }
        Ok(())
    }
}

/// What the caller asked of the cache (`x-gateway-cache` on the request).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Serve a kept answer, keep a new one.
    Use,
    /// Do not serve a kept answer; keep the new one.
    Refresh,
    /// Neither serve nor keep.
    NoStore,
}

impl Mode {
    pub(crate) fn of(headers: &http::HeaderMap) -> Result<Mode, RequestError> {
        let Some(value) = headers.get(HEADER) else { return Ok(Mode::Use) };
        match value.to_str().map(str::trim).map(str::to_ascii_lowercase).as_deref() {
            Ok("no-store") => Ok(Mode::NoStore),
            Ok("refresh") => Ok(Mode::Refresh),
            _ => Err(RequestError::field(
                HEADER,
                "`x-gateway-cache` must be `no-store` or `refresh`",
            )),
        }
    }
}

/// Why a request is never answered from the cache, or `None` when it may be. A kept answer
/// stands for a new one only when asking again would give the same: sampling at temperature 0
/// (unless the policy keeps samples), no tool results just handed back (the agent loop continues
/// on a world its tools just observed), no provider-hosted tools (web search and the like answer
/// from the live world), no state kept upstream ([`SERVER_STATE`]).
pub fn refusal(request: &Request, policy: &CachePolicy) -> Option<&'static str> {
    if !policy.sampled && request.temperature != Some(0.0) {
        return Some("sampled");
    }
    let last = request.messages.last();
    let results = last.is_some_and(|m| {
        m.role == Role::User && m.content.iter().any(|b| matches!(b, Block::ToolResult { .. }))
    });
    if results {
        return Some("tool_results");
    }
    if request.tools.iter().any(|t| matches!(t.kind, ToolKind::Hosted { .. })) {
        return Some("hosted_tools");
    }
    if request.extra.iter().any(|(name, v)| SERVER_STATE.contains(&name.as_str()) && set(v)) {
        return Some("server_state");
    }
    None
}

/// Fields whose meaning lives upstream, not in the body: a continued thread or response, a
/// stored conversation or prompt, cached content, a container, MCP servers, a background run.
/// Two requests alike in body may ask different things.
const SERVER_STATE: &[&str] = &[
    "thread",
    "previous_response_id",
    "conversation",
    "prompt",
    "background",
    "cachedContent",
    "cached_content",
    "container",
    "mcp_servers",
];

fn set(v: &serde_json::Value) -> bool {
    !matches!(v, serde_json::Value::Null | serde_json::Value::Bool(false))
}

/// Whether an answer may be kept: it finished (stop, length, stop sequence, tool calls — not
/// filtered or otherwise) and says something.
pub fn keeps(response: &Response) -> bool {
    let finished = matches!(
        response.finish,
        FinishReason::Stop
            | FinishReason::Length
            | FinishReason::StopSequence
            | FinishReason::ToolCalls
    );
    finished && !response.content.is_empty()
}

/// The entry's key: SHA-256 (hex) of the namespace and the request's meaning — the model as
/// asked, instructions, messages, tools, tool choice, sampling, output limit, stop sequences,
/// output format, reasoning, and every field of the caller's the canonical request does not map
/// (`n`, `seed`, `logprobs`, penalties, `top_k`, …: the upstream sees them, so they may change
/// the answer); not the endpoint, streaming, prompt-cache marks or the end-user id, which do
/// not.
pub fn key(namespace: &str, request: &Request) -> String {
    #[derive(Serialize)]
    struct Meaning<'a> {
        model: &'a str,
        system: &'a [String],
        messages: &'a [crate::canonical::Message],
        tools: &'a [crate::canonical::Tool],
        tool_choice: &'a Option<crate::canonical::ToolChoice>,
        parallel_tool_calls: Option<bool>,
        max_tokens: Option<u32>,
        temperature: Option<f64>,
        top_p: Option<f64>,
        stop: &'a [String],
        response_format: &'a Option<crate::canonical::ResponseFormat>,
        reasoning: &'a Option<crate::canonical::Reasoning>,
        extra: &'a std::collections::BTreeMap<String, serde_json::Value>,
    }
    let meaning = Meaning {
        model: &request.model,
        system: &request.system,
        messages: &request.messages,
        tools: &request.tools,
        tool_choice: &request.tool_choice,
        parallel_tool_calls: request.parallel_tool_calls,
        max_tokens: request.max_tokens,
        temperature: request.temperature,
        top_p: request.top_p,
        stop: &request.stop,
        response_format: &request.response_format,
        reasoning: &request.reasoning,
        extra: &request.extra,
    };
    // Written straight into the hash: no JSON tree, no text copy.
    let mut hasher = HashWriter(Sha256::new());
    hasher.0.update(namespace.as_bytes());
    hasher.0.update([0]);
    let _ = serde_json::to_writer(&mut hasher, &meaning);
    hasher.0.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// Feeds what is written into a SHA-256.
struct HashWriter(Sha256);

impl std::io::Write for HashWriter {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.update(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// One kept answer: the canonical response (with the usage it cost), what it cost, and the
/// request that fetched it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    pub request_id: String,
    pub cost_usd: Option<f64>,
    pub stored_ms: i64,
    pub response: Response,
}

impl Entry {
    pub fn encode(&self) -> Bytes {
        Bytes::from(serde_json::to_vec(self).unwrap_or_default())
    }

    /// An entry read back; `None` for anything unreadable (an older format), which is a miss.
    pub fn decode(bytes: &[u8]) -> Option<Entry> {
        serde_json::from_slice(bytes).ok()
    }

    /// The answer for a caller of `client`'s protocol, whole or as the stream that would have
    /// carried it: named after the model asked, dated now, with no upstream tokens.
    pub fn replay(self, client: &ClientView, stream: bool, model: &str, now_ms: i64) -> Bytes {
        let mut response = self.response;
        response.model = model.to_owned();
        response.created = now_ms / 1000;
        response.usage = Usage {
            input: Some(0),
            output: Some(0),
            cached: Some(0),
            cache_write: Some(0),
            reasoning: Some(0),
        };
        if !stream {
            return codec::encode_response(client, &response);
        }
        let mut encoder = codec::stream_encoder(client);
        let mut out = BytesMut::new();
        for event in response.events() {
            encoder.push(&event, &mut out);
        }
        encoder.finish(&mut out);
        out.freeze()
    }
}

/// A store's failure; the cache is then skipped (the request goes upstream), never failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnswerStoreError(pub String);

impl std::fmt::Display for AnswerStoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for AnswerStoreError {}

crate::io_trait! {
/// Where kept answers live. Entries are opaque bytes ([`Entry::encode`]).
pub trait AnswerStore: MaybeSend + MaybeSync {
    /// The entry under `key`, unless it expired by `now_ms`.
    async fn get(&self, key: &str, now_ms: i64) -> Result<Option<Bytes>, AnswerStoreError>;
    /// Keeps `entry` under `key` until `expires_ms` (replacing what was there).
    async fn put(
        &self,
        key: &str,
        entry: Bytes,
        now_ms: i64,
        expires_ms: i64,
    ) -> Result<(), AnswerStoreError>;
    /// Removes what expired by `now_ms`; how many entries.
    async fn prune(&self, now_ms: i64) -> Result<u64, AnswerStoreError>;
}
}

/// The default store: this instance's memory, at most `capacity` bytes of entries, the least
/// recently used dropped first.
#[derive(Debug)]
pub struct MemoryAnswers {
    capacity: usize,
    inner: Mutex<Lru>,
}

#[derive(Debug, Default)]
struct Lru {
    entries: HashMap<String, Kept>,
    /// Entries by last use.
    order: BTreeMap<u64, String>,
    tick: u64,
    bytes: usize,
}

#[derive(Debug)]
struct Kept {
    entry: Bytes,
    expires_ms: i64,
    used: u64,
}

impl MemoryAnswers {
    pub fn new(capacity: usize) -> Self {
        MemoryAnswers { capacity, inner: Mutex::new(Lru::default()) }
    }

    fn lock(&self) -> Result<std::sync::MutexGuard<'_, Lru>, AnswerStoreError> {
        self.inner.lock().map_err(|_| AnswerStoreError("the memory cache is poisoned".into()))
    }

    /// Bytes held now.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.lock().map(|l| l.bytes).unwrap_or(0)
    }
}

/// What one entry holds in memory beyond its bytes and its key's: the map slots of both
/// indexes, the key's two allocations and the entry's, with the allocator's own overhead
/// (measured in `tests/memory.rs`).
pub const ENTRY_OVERHEAD: usize = 320;

/// The memory an entry holds: its bytes, its key twice (the map and the recency order each own
/// one) and the bookkeeping around them. `CACHE_MEMORY_MB` bounds this, not the bytes alone.
fn held(entry: &[u8], key: &str) -> usize {
    entry.len() + 2 * key.len() + ENTRY_OVERHEAD
}

impl Lru {
    fn remove(&mut self, key: &str) {
        if let Some(kept) = self.entries.remove(key) {
            self.order.remove(&kept.used);
            self.bytes -= held(&kept.entry, key);
        }
    }
}

crate::io_trait! {
impl AnswerStore for MemoryAnswers {
    async fn get(&self, key: &str, now_ms: i64) -> Result<Option<Bytes>, AnswerStoreError> {
        let mut lru = self.lock()?;
        let lru = &mut *lru;
        let Some(kept) = lru.entries.get_mut(key) else { return Ok(None) };
        if kept.expires_ms <= now_ms {
            lru.remove(key);
            return Ok(None);
        }
        lru.tick += 1;
        lru.order.remove(&kept.used);
        kept.used = lru.tick;
        lru.order.insert(lru.tick, key.to_owned());
        Ok(Some(kept.entry.clone()))
    }

    async fn put(
        &self,
        key: &str,
        entry: Bytes,
        _now_ms: i64,
        expires_ms: i64,
    ) -> Result<(), AnswerStoreError> {
        let size = held(&entry, key);
        if size > self.capacity {
            return Ok(());
        }
        // A copy of exactly its length: the encoder's buffer may hold twice that in spare room.
        let entry = Bytes::copy_from_slice(&entry);
        let mut lru = self.lock()?;
        lru.remove(key);
        while lru.bytes + size > self.capacity {
            let Some((_, oldest)) = lru.order.pop_first() else { break };
            lru.remove(&oldest);
        }
        lru.tick += 1;
        let used = lru.tick;
        lru.order.insert(used, key.to_owned());
        lru.bytes += size;
        lru.entries.insert(key.to_owned(), Kept { entry, expires_ms, used });
        Ok(())
    }

    async fn prune(&self, now_ms: i64) -> Result<u64, AnswerStoreError> {
        let mut lru = self.lock()?;
        let expired: Vec<String> = lru
            .entries
            .iter()
            .filter(|(_, k)| k.expires_ms <= now_ms)
            .map(|(key, _)| key.clone())
            .collect();
        for key in &expired {
            lru.remove(key);
        }
        Ok(expired.len() as u64)
    }
}
}

#[cfg(test)]
mod tests {
    use futures::executor::block_on;

    use super::*;
    use crate::provider::Protocol;

    fn policy() -> CachePolicy {
        serde_json::from_str("{}").unwrap()
    }

    #[test]
    fn the_same_question_on_every_endpoint_has_one_key() {
        let chat = br#"{"model":"m","temperature":0,"max_tokens":50,
            "messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Hi"}]}"#;
        let responses = br#"{"model":"m","temperature":0,"max_output_tokens":50,
            "instructions":"Be brief.","input":"Hi"}"#;
        let messages = br#"{"model":"m","temperature":0,"max_tokens":50,"system":"Be brief.",
            "messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}]}"#;
        let keys: Vec<String> = [
            (Protocol::OpenaiChat, &chat[..]),
            (Protocol::OpenaiResponses, &responses[..]),
            (Protocol::AnthropicMessages, &messages[..]),
        ]
        .into_iter()
        .map(|(p, body)| {
            let mut r = codec::decode_request(p, body).unwrap();
            r.model = "m".into();
            key("ns", &r)
        })
        .collect();
        assert_eq!(keys[0], keys[1]);
        assert_eq!(keys[0], keys[2]);
        let mut other = codec::decode_request(Protocol::OpenaiChat, chat).unwrap();
        other.model = "m".into();
        assert_ne!(key("other", &other), keys[0], "namespaces do not share");
        other.max_tokens = Some(51);
        assert_ne!(key("ns", &other), keys[0]);
    }

    #[test]
    fn state_kept_upstream_is_never_answered_from_the_cache() {
        let at_zero = |body: &str| {
            let protocol = Protocol::OpenaiResponses;
            let mut r = codec::decode_request(protocol, body.as_bytes()).unwrap();
            r.extra = codec::unmapped(protocol, &serde_json::from_str(body).unwrap());
            refusal(&r, &policy())
        };
        assert_eq!(at_zero(r#"{"model":"m","temperature":0,"input":"Go on"}"#), None);
        let continued =
            r#"{"model":"m","temperature":0,"input":"Go on","previous_response_id":"r"}"#;
        assert_eq!(at_zero(continued), Some("server_state"));
        let background = r#"{"model":"m","temperature":0,"input":"Go on","background":false}"#;
        assert_eq!(at_zero(background), None, "false is no background run");
    }

    /// Fields that shape the answer but have no place in the canonical request still reach a
    /// same-protocol upstream: each one makes another entry (they were ignored: 6/6 stale hits).
    #[test]
    fn fields_the_canonical_request_does_not_map_are_part_of_the_key() {
        let key_of = |protocol: Protocol, body: &str| {
            let fields = serde_json::from_str(body).unwrap();
            let mut r = codec::decode_request(protocol, body.as_bytes()).unwrap();
            r.model = "m".into();
            r.extra = codec::unmapped(protocol, &fields);
            key("ns", &r)
        };
        let chat = r#"{"model":"m","temperature":0,"messages":[{"role":"user","content":"Hi"}]"#;
        let plain = key_of(Protocol::OpenaiChat, &format!("{chat}}}"));
        for extra in [
            r#""n":2"#,
            r#""logprobs":true,"top_logprobs":3"#,
            r#""seed":7"#,
            r#""logit_bias":{"50256":-100}"#,
            r#""presence_penalty":1"#,
            r#""frequency_penalty":1"#,
            r#""modalities":["text","audio"],"audio":{"voice":"alloy","format":"wav"}"#,
        ] {
            let with = key_of(Protocol::OpenaiChat, &format!("{chat},{extra}}}"));
            assert_ne!(with, plain, "{extra}");
            assert_eq!(with, key_of(Protocol::OpenaiChat, &format!("{chat},{extra}}}")));
        }
        let messages = r#"{"model":"m","max_tokens":9,"temperature":0,"messages":[{"role":"user","content":"Hi"}]"#;
        assert_ne!(
            key_of(Protocol::AnthropicMessages, &format!("{messages},\"top_k\":5}}")),
            key_of(Protocol::AnthropicMessages, &format!("{messages}}}"))
        );
        let gemini = |config: &str| {
            format!(
                r#"{{"contents":[{{"role":"user","parts":[{{"text":"Hi"}}]}}],"generationConfig":{{"temperature":0{config}}}}}"#
            )
        };
        assert_ne!(
            key_of(Protocol::Gemini, &gemini(r#","topK":5"#)),
            key_of(Protocol::Gemini, &gemini(""))
        );
        assert_ne!(
            key_of(Protocol::Gemini, &gemini(r#","seed":1"#)),
            key_of(Protocol::Gemini, &gemini(r#","seed":2"#))
        );
    }

    #[test]
    fn only_requests_that_would_be_answered_the_same_are_kept() {
        let mut r = Request { temperature: Some(0.0), ..Request::default() };
        r.push(Role::User, vec![Block::Text("hi".into())]);
        assert_eq!(refusal(&r, &policy()), None);
        r.temperature = None;
        assert_eq!(refusal(&r, &policy()), Some("sampled"));
        assert_eq!(refusal(&r, &CachePolicy { sampled: true, ..policy() }), None);
        r.temperature = Some(0.0);
        r.push(
            Role::Assistant,
            vec![Block::ToolCall { id: "c".into(), name: "f".into(), arguments: "{}".into() }],
        );
        r.push(
            Role::User,
            vec![Block::ToolResult { call_id: "c".into(), content: vec![], is_error: false }],
        );
        assert_eq!(refusal(&r, &policy()), Some("tool_results"));
    }

    #[test]
    fn policies_are_checked_field_by_field() {
        assert!(policy().check("cache", true).is_ok());
        let bad = CachePolicy { ttl_s: 0, ..policy() }.check("cache", true).unwrap_err();
        assert!(bad.to_string().contains("cache.ttl_s"), "{bad}");
        let ns = CachePolicy { namespace: Some("team".into()), ..policy() };
        assert!(ns.check("cache", true).is_ok());
        assert!(ns.check("cache", false).unwrap_err().to_string().contains("namespace"));
    }

    #[test]
    fn memory_keeps_the_recently_used_within_its_bytes_and_drops_the_expired() {
        // Room for three entries of 30 bytes with their keys and bookkeeping, not four.
        let store = MemoryAnswers::new(3 * (30 + 2 + ENTRY_OVERHEAD) + 10);
        let entry = Bytes::from(vec![b'x'; 30]);
        block_on(async {
            for k in ["a", "b", "c"] {
                store.put(k, entry.clone(), 0, 1000).await.unwrap();
            }
            assert!(store.get("a", 10).await.unwrap().is_some()); // a is now the newest
            store.put("d", entry.clone(), 0, 1000).await.unwrap(); // b goes
            assert!(store.get("b", 10).await.unwrap().is_none());
            assert!(store.get("a", 10).await.unwrap().is_some());
            assert!(store.bytes() <= 3 * (32 + ENTRY_OVERHEAD) + 10);
            assert!(store.get("c", 1000).await.unwrap().is_none(), "expired at its time");
            assert_eq!(store.prune(1000).await.unwrap(), 2);
            assert_eq!(store.bytes(), 0);
            store.put("big", Bytes::from(vec![0; 1200]), 0, 1000).await.unwrap();
            assert!(store.get("big", 0).await.unwrap().is_none(), "larger than the whole cache");
        });
    }

    #[test]
    fn an_entry_replays_in_each_protocol_with_no_upstream_tokens() {
        let entry = Entry {
            request_id: "req1".into(),
            cost_usd: Some(0.5),
            stored_ms: 0,
            response: Response {
                id: "msg_1".into(),
                model: "upstream-id".into(),
                created: 1,
                content: vec![Block::Text("Hello".into())],
                finish: FinishReason::Stop,
                usage: Usage { input: Some(10), output: Some(5), ..Usage::default() },
            },
        };
        assert!(keeps(&entry.response));
        let filtered = Response { finish: FinishReason::ContentFilter, ..entry.response.clone() };
        let empty = Response { content: vec![], ..entry.response.clone() };
        assert!(!keeps(&filtered) && !keeps(&empty), "filtered and empty answers are not kept");
        let back = Entry::decode(&entry.encode()).unwrap();
        assert_eq!(back, entry);
        let entry = || back.clone();
        let chat = ClientView { protocol: Protocol::OpenaiChat, ..ClientView::default() };
        let json: serde_json::Value =
            serde_json::from_slice(&entry().replay(&chat, false, "m", 5000)).unwrap();
        assert_eq!(json["choices"][0]["message"]["content"], "Hello");
        assert_eq!(
            (json["model"].as_str(), json["usage"]["prompt_tokens"].as_i64()),
            (Some("m"), Some(0))
        );
        let anthropic =
            ClientView { protocol: Protocol::AnthropicMessages, ..ClientView::default() };
        let sse = String::from_utf8(entry().replay(&anthropic, true, "m", 5000).to_vec()).unwrap();
        assert!(sse.starts_with("event: message_start"), "{sse}");
        assert!(sse.contains("\"text\":\"Hello\"") && sse.contains("event: message_stop"), "{sse}");
    }
}
