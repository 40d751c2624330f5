//! A mock LLM provider for tests and benchmarks: OpenAI Chat (`/v1/chat/completions`), OpenAI
//! Responses (`/v1/responses`), Anthropic Messages (`/v1/messages`) and Gemini
//! (`/v1beta/models/{model}:generateContent|streamGenerateContent?alt=sse`), and embeddings
//! (OpenAI `/v1/embeddings`, Gemini `:embedContent` / `:batchEmbedContents`), on 127.0.0.1.
//!
//! It stands in for the providers' clouds, which cannot run here. It is written from the
//! providers' API references, independently of the gateway's codecs, and it is strict where the
//! providers are (Anthropic's required `max_tokens`, no empty text blocks, tool results answering
//! the previous turn's calls, Gemini's object-only `functionResponse.response`, …): a request a real
//! provider would reject gets a 400 here too.
//!
//! `GET /mock/last?path=<fragment>` returns the last request body received on a matching path.
//!
//! Asked to reason, it answers with sealed reasoning and checks it on the next turn (see
//! [`thinking`]); structured-output fields are checked per protocol (see `formats`).
//!
//! What it answers depends on the upstream model name:
//! - `…text…` (default): text echoing the last user message and the system prompt, or, when the
//!   request carries tool results, `Tool results: <r1> | <r2>`;
//! - `…tool…`: one call `get_weather {"city":"Paris","unit":"celsius"}`; `…tool-once…`: that
//!   call, then (once the request carries its result) the answer `Tool results: …`, as a tool
//!   loop ends;
//! - `…parallel…`: two calls, `get_weather {"city":"Paris"}` and `get_time {"zone":"Asia/Tokyo"}`;
//! - `…error-500…` / `…error-503…` / `…error-429…`: that status with a protocol-shaped error body
//!   (429 with `Retry-After: 2`); `…error-403…`: 403 for a model the account may not use, in
//!   Bedrock's words;
//! - `…no-usage…`: (OpenAI chat) answers without `usage`, streams without the usage chunk even
//!   when asked (as providers that ignore `stream_options.include_usage`);
//! - `…slow-<ms>…`: waits that long before answering (headers included);
//! - `…chunks-<n>…`: streamed text comes in exactly `n` deltas;
//! - `…stream-error-first…`: (chat streams) the first event is an error event;
//! - `…stream-cut…`: (chat streams) the stream ends after its first two chunks, unfinished;
//! - `…agent…`: a coding agent's tool loop (see [`agent`]): it reads the file named in the user's
//!   message with the agent's own file tool, twice (or reads it, then writes a file with a
//!   `custom` `apply_patch` tool when the caller declared one), then answers with what the tools
//!   returned;
//! - `…max-<n>…`: refuses an output-token limit above `n`, as real APIs refuse one above the
//!   model's maximum;
//! - `…stall-body…`, `…short-body…`, `…huge-body…`, `…stall-stream…`, `…finish-stall…`,
//!   `…stream-garbage…`: (OpenAI chat) the faults of [`faults`];
//! - `…reasoning…`: (OpenAI chat) a reasoning model: refuses `max_tokens` (it wants
//!   `max_completion_tokens`), as OpenAI's o-series and gpt-5 models do;
//! - `…redacted…`: (Anthropic) thinking comes as `redacted_thinking`;
//! - `…gemini-3…`: (Gemini) refuses a model turn whose first function call has no thought
//!   signature, as Gemini 3 models do.
//!
//! Every mock refuses a conversation whose tool calls reuse an id, and tool results that answer
//! no call: real APIs refuse both (and an agent drops a call whose id it has seen before).
//!
//! Every answer reports usage: 21 input tokens (4 of them cached; Anthropic: none without
//! `cache_control`, and with it 16 written to the cache the first time a prefix is seen and read
//! from it after) and 9 output tokens. Streams
//! split text into small deltas, tool arguments into fragments, and split multi-byte UTF-8
//! characters across network chunks.

pub mod agent;
mod anthropic;
pub mod bedrock;
pub mod catalog;
mod chat;
pub mod cloud;
pub mod embeddings;
pub mod endpoints;
pub mod faults;
mod formats;
mod gemini;
mod responses;
pub mod thinking;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use bytes::Bytes;
use serde_json::{Value, json};

/// Input, output and cached tokens every answer reports.
pub const USAGE_INPUT: i64 = 21;
pub const USAGE_OUTPUT: i64 = 9;
pub const USAGE_CACHED: i64 = 4;

/// How the mock behaves.
#[derive(Debug, Clone, Default)]
pub struct MockConfig {
    /// Pause before answering (time to first byte).
    pub latency: Duration,
    /// Pause between stream chunks.
    pub chunk_delay: Duration,
    /// Up to this much more pause before answering, uniformly at random.
    pub jitter: Duration,
    /// Share of requests (0 to 1) answered with a 500, at random.
    pub error_rate: f64,
    /// Keep no copy of requests (benchmarks: constant memory).
    pub no_record: bool,
}

/// Shared state: the configuration and every request received (path, JSON body).
#[derive(Debug, Default)]
pub struct Mock {
    pub config: MockConfig,
    pub received: Mutex<Vec<(String, Value)>>,
    /// Prompt prefixes Anthropic's mock has cached (hashes of everything up to the last
    /// breakpoint): the first request with a prefix writes it, later ones read it.
    pub prompt_cache: Mutex<std::collections::HashSet<u64>>,
    /// OAuth tokens the mock's token endpoints issued.
    pub issued: cloud::Issued,
    /// Anthropic's message threads: each answer's id → the conversation up to and including it
    /// (`system`, `tools`, `messages`).
    pub threads: Mutex<std::collections::HashMap<String, Value>>,
    /// The last Bedrock request whose signature checked out, as it arrived (for re-signing it
    /// with a reference signer).
    pub signed: Mutex<Option<bedrock::Signed>>,
}

impl Mock {
    fn record(&self, path: &str, body: &Value) {
        if self.config.no_record {
            return;
        }
        if let Ok(mut received) = self.received.lock() {
            received.push((path.to_owned(), body.clone()));
        }
    }

    /// The last request received on a path containing `fragment`.
    pub fn last(&self, fragment: &str) -> Option<Value> {
        self.received
            .lock()
            .ok()?
            .iter()
            .rev()
            .find(|(p, _)| p.contains(fragment))
            .map(|(_, b)| b.clone())
    }
}

/// `GET /mock/last?path=<fragment>`: the last request body received on a path containing the
/// fragment (for tests written in other languages), 404 when there is none.
async fn last_received(
    axum::extract::State(mock): axum::extract::State<Arc<Mock>>,
    axum::extract::RawQuery(query): axum::extract::RawQuery,
) -> Response {
    let query = query.unwrap_or_default();
    let fragment = query.strip_prefix("path=").unwrap_or_default().replace("%3A", ":");
    match mock.last(&fragment) {
        Some(body) => json_response(StatusCode::OK, body),
        None => json_response(StatusCode::NOT_FOUND, json!({"error": "nothing received there"})),
    }
}

/// The router serving every protocol.
pub fn router(mock: Arc<Mock>) -> Router {
    Router::new()
        .route("/v1/chat/completions", post(chat::handle))
        .route("/v1/responses", post(responses::handle))
        .route("/v1/responses/input_tokens", post(responses::input_tokens))
        .route("/v1/messages", post(anthropic::handle))
        .route("/v1/messages/count_tokens", post(anthropic::count_tokens))
        .route("/v1/embeddings", post(embeddings::openai))
        .route("/v1/completions", post(endpoints::completions))
        .route("/v1/images/generations", post(endpoints::image_generations))
        .route("/v1/images/edits", post(endpoints::image_edits))
        .route("/v1/audio/speech", post(endpoints::speech))
        .route("/v1/audio/transcriptions", post(endpoints::transcriptions))
        .route("/v1/moderations", post(endpoints::moderations))
        .route("/v1/rerank", post(endpoints::rerank))
        .route("/v1/models", axum::routing::get(catalog::openai_models))
        .route("/v1beta/models", axum::routing::get(catalog::gemini_models))
        .route("/catalog/litellm.json", axum::routing::get(catalog::litellm))
        .route("/catalog/models-dev.json", axum::routing::get(catalog::models_dev))
        .route("/catalog/broken.json", axum::routing::get(catalog::broken))
        .route("/v1beta/models/{*rest}", post(gemini::handle))
        .route("/mock/last", axum::routing::get(last_received))
        .route("/mock/exchanges", axum::routing::get(cloud::exchanges))
        .route("/model/{model}/{verb}", post(bedrock::handle))
        .route("/google/token", post(cloud::google_token))
        .route("/entra/{tenant}/oauth2/v2.0/token", post(cloud::entra_token))
        .route(
            "/v1/projects/{project}/locations/{location}/publishers/google/models/{*rest}",
            post(cloud::vertex_gemini),
        )
        .route(
            "/v1/projects/{project}/locations/{location}/publishers/anthropic/models/{*rest}",
            post(cloud::vertex_anthropic),
        )
        .route("/openai/deployments/{deployment}/chat/completions", post(cloud::azure_chat))
        .route("/openai/deployments/{deployment}/embeddings", post(cloud::azure_embeddings))
        .route("/openai/responses", post(cloud::azure_responses))
        .with_state(mock)
}

/// Binds 127.0.0.1 on `port` (0: any free port), serves in the background, returns the address.
pub async fn spawn(
    config: MockConfig,
    port: u16,
) -> std::io::Result<(std::net::SocketAddr, Arc<Mock>)> {
    let mock = Arc::new(Mock { config, ..Mock::default() });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let addr = listener.local_addr()?;
    let app = router(mock.clone());
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok((addr, mock))
}

/// What the request contained, as each protocol module reads it.
#[derive(Debug, Default)]
pub struct Seen {
    pub system: String,
    /// The last user text.
    pub user: String,
    /// Every user text, in order.
    pub user_texts: Vec<String>,
    pub tool_results: Vec<String>,
    /// Names of the function tools declared (custom tools too).
    pub tools: Vec<String>,
    /// Names of the tools declared as Responses `custom` (freeform input) tools.
    pub custom_tools: Vec<String>,
    /// The output-token limit asked for.
    pub max_tokens: Option<u64>,
    /// Reasoning asked for: `Some(shown)`, whether its text is to be shown.
    pub thinking: Option<bool>,
    /// Reasoning to be returned sealed (Responses: `include` asks for encrypted content).
    pub sealed: bool,
}

pub struct Call {
    pub id: String,
    pub name: String,
    /// Arguments; for a custom tool `{"input": "…"}`.
    pub args: Value,
    /// A call of a Responses `custom` tool (freeform `input`).
    pub custom: bool,
}

/// A call id no other answer of this mock has used (real upstreams never repeat one).
pub(crate) fn call_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(1);
    format!("call_mock_{}", NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Refuses a call id seen before in the same conversation.
pub(crate) fn check_unique(ids: &mut Vec<String>, id: &str, at: &str) -> Result<(), String> {
    if !id.is_empty() && ids.iter().any(|i| i == id) {
        return Err(format!("{at}: tool call id {id:?} is used more than once"));
    }
    ids.push(id.to_owned());
    Ok(())
}

pub enum Answer {
    Text(String),
    Calls(Vec<Call>),
}

/// The scenario's answer, or the error status and message to send instead.
pub(crate) fn answer(model: &str, seen: &Seen) -> Result<Answer, (StatusCode, String)> {
    if model.contains("error-500") {
        return Err((StatusCode::INTERNAL_SERVER_ERROR, "mock upstream failure".into()));
    }
    if model.contains("error-503") {
        return Err((StatusCode::SERVICE_UNAVAILABLE, "mock upstream overloaded".into()));
    }
    if model.contains("error-429") {
        return Err((StatusCode::TOO_MANY_REQUESTS, "mock rate limit".into()));
    }
    if model.contains("error-403") {
        // What Bedrock, Vertex AI and Anthropic answer for a model the account has not enabled.
        let m = "You don't have access to the model with the specified model ID.";
        return Err((StatusCode::FORBIDDEN, m.into()));
    }
    if let (Some(max), Some(asked)) = (number_after(model, "max-"), seen.max_tokens)
        && asked > max
    {
        return Err((
            StatusCode::BAD_REQUEST,
            format!(
                "max_tokens: {asked} > {max}, which is the maximum allowed number of output tokens for {model}"
            ),
        ));
    }
    if model.contains("agent") {
        return Ok(agent::answer(seen));
    }
    let call = |_: usize, name: &str, args: Value| Call {
        id: call_id(),
        name: name.to_owned(),
        args,
        custom: false,
    };
    // `…once…`: a tool loop's last turn — with the results back, the answer.
    let answered = model.contains("once") && !seen.tool_results.is_empty();
    if (model.contains("parallel") || model.contains("tool")) && !answered {
        if seen.tools.is_empty() {
            return Err((StatusCode::BAD_REQUEST, "this mock model needs tools".into()));
        }
        let mut calls = vec![call(1, "get_weather", json!({"city": "Paris", "unit": "celsius"}))];
        if model.contains("parallel") {
            calls[0].args = json!({"city": "Paris"});
            calls.push(call(2, "get_time", json!({"zone": "Asia/Tokyo"})));
        }
        return Ok(Answer::Calls(calls));
    }
    if !seen.tool_results.is_empty() {
        return Ok(Answer::Text(format!("Tool results: {}", seen.tool_results.join(" | "))));
    }
    Ok(Answer::Text(format!("Hello, 世界! 👋 You said: {}. System: {}.", seen.user, seen.system)))
}

/// A request as a protocol module checks it.
pub(crate) struct Incoming<'a> {
    pub body: &'a Value,
    pub model: &'a str,
    pub headers: &'a HeaderMap,
}

/// What every protocol handler does first: parse and record the body, wait as configured, check
/// the request as the provider would (`read`), and pick the scenario's answer — or the error
/// response (`error`) to send instead. `model` overrides the body's (Gemini has it in the path).
pub(crate) async fn prepare(
    mock: &Mock,
    path: &str,
    (headers, body): (&HeaderMap, &str),
    model: Option<&str>,
    read: fn(&Incoming<'_>) -> Result<Seen, String>,
    error: fn(StatusCode, &str) -> Response,
) -> Result<(Value, String, Answer), Response> {
    let Ok(body) = serde_json::from_str::<Value>(body) else {
        return Err(error(StatusCode::BAD_REQUEST, "body is not JSON"));
    };
    mock.record(path, &body);
    // A revoked key is refused as every provider refuses one: 401, in the protocol's shape,
    // repeating the key as OpenAI does (masked), or whole as some proxies do (`leaky` keys).
    let presented = ["authorization", "x-api-key", "x-goog-api-key", "api-key"]
        .iter()
        .filter_map(|h| headers.get(*h).and_then(|v| v.to_str().ok()))
        .map(|v| v.trim_start_matches("Bearer ").to_owned())
        .find(|v| v.contains("revoked") || v.contains("leaky"));
    if let Some(key) = presented {
        let message = if key.contains("leaky") {
            format!("Invalid credentials: {key} is not a valid key for this proxy")
        } else {
            let (head, tail) = (&key[..key.len().min(8)], &key[key.len().saturating_sub(4)..]);
            format!(
                "Incorrect API key provided: {head}{}{tail}. You can find your API key at \
                 https://platform.openai.com/account/api-keys.",
                "*".repeat(40)
            )
        };
        return Err(error(StatusCode::UNAUTHORIZED, &message));
    }
    let model = model
        .map(str::to_owned)
        .unwrap_or_else(|| body["model"].as_str().unwrap_or("mock").to_owned());
    pause(mock, &model).await;
    if mock.config.error_rate > 0.0 && random_unit() < mock.config.error_rate {
        return Err(error(StatusCode::INTERNAL_SERVER_ERROR, "mock upstream failure (injected)"));
    }
    let incoming = Incoming { body: &body, model: &model, headers };
    let seen = read(&incoming).map_err(|message| error(StatusCode::BAD_REQUEST, &message))?;
    let answer = answer(&model, &seen).map_err(|(status, message)| error(status, &message))?;
    Ok((body, model, answer))
}

/// The first top-level field of `body` that is not in `allowed`: every real API refuses
/// fields it does not know, each in its own words.
pub(crate) fn unknown_field<'a>(body: &'a Value, allowed: &[&str]) -> Option<&'a str> {
    body.as_object()?.keys().map(String::as_str).find(|k| !allowed.contains(k))
}

/// What the counting endpoints answer: one token per four bytes of the request, at least one.
pub(crate) fn counted(body: &str) -> usize {
    (body.len() / 4).max(1)
}

/// Text cut into small deltas on character boundaries: 7 characters each, or exactly `n` pieces
/// when the model name says `chunks-<n>` (the text repeated as needed).
pub(crate) fn text_pieces(text: &str, model: &str) -> Vec<String> {
    let asked: Option<usize> = model
        .split("chunks-")
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
        .filter(|n| *n > 0);
    let mut chars: Vec<char> = text.chars().collect();
    let Some(n) = asked else {
        return chars.chunks(7).map(|c| c.iter().collect()).collect();
    };
    while chars.len() < n {
        chars.extend(text.chars());
    }
    let size = chars.len().div_ceil(n);
    let mut pieces: Vec<String> = chars.chunks(size).map(|c| c.iter().collect()).collect();
    while pieces.len() < n {
        pieces.push(" ".into());
    }
    pieces
}

/// A cheap pseudo-random number in [0, 1) (xorshift; the mock needs no quality).
fn random_unit() -> f64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static STATE: AtomicU64 = AtomicU64::new(0x9E37_79B9_7F4A_7C15);
    let mut x = STATE.load(Ordering::Relaxed);
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    STATE.store(x, Ordering::Relaxed);
    (x >> 11) as f64 / (1u64 << 53) as f64
}

/// JSON text cut into three fragments (the first may split a key, the second a value).
pub(crate) fn json_pieces(args: &Value) -> Vec<String> {
    let text = args.to_string();
    let chars: Vec<char> = text.chars().collect();
    let third = chars.len().div_ceil(3).max(1);
    chars.chunks(third).map(|c| c.iter().collect()).collect()
}

pub(crate) fn json_response(status: StatusCode, body: Value) -> Response {
    let mut builder = Response::builder().status(status).header("content-type", "application/json");
    if status == StatusCode::TOO_MANY_REQUESTS {
        builder = builder.header("retry-after", "2");
    }
    builder.body(Body::from(body.to_string())).unwrap_or_default()
}

/// An SSE response sending `events` one network chunk each (multi-byte characters split across
/// two chunks), with the configured delays.
pub(crate) fn sse_response(mock: &Mock, events: Vec<String>) -> Response {
    let mut chunks: Vec<Bytes> = Vec::new();
    for event in events {
        let bytes = event.into_bytes();
        match bytes.iter().position(|&b| b >= 0xC0) {
            Some(p) => {
                chunks.push(Bytes::copy_from_slice(&bytes[..=p]));
                chunks.push(Bytes::copy_from_slice(&bytes[p + 1..]));
            }
            None => chunks.push(Bytes::from(bytes)),
        }
    }
    let delay = mock.config.chunk_delay;
    let stream = futures::stream::unfold(chunks.into_iter(), move |mut rest| async move {
        let chunk = rest.next()?;
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        Some((Ok::<Bytes, std::io::Error>(chunk), rest))
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(stream))
        .unwrap_or_default()
}

/// `data: …` (and `event: …`) lines for one event, with the given line ending.
pub(crate) fn sse_event(name: Option<&str>, data: &Value, eol: &str) -> String {
    match name {
        Some(n) => format!("event: {n}{eol}data: {data}{eol}{eol}"),
        None => format!("data: {data}{eol}{eol}"),
    }
}

/// The number right after `prefix` in a model name (`slow-250` → 250).
pub(crate) fn number_after(model: &str, prefix: &str) -> Option<u64> {
    model
        .split(prefix)
        .nth(1)
        .and_then(|rest| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse().ok())
}

/// The configured latency, plus what a `slow-<ms>` model name asks for.
pub(crate) async fn pause(mock: &Mock, model: &str) {
    let asked = number_after(model, "slow-").map_or(Duration::ZERO, Duration::from_millis);
    let jitter = mock.config.jitter.mul_f64(random_unit());
    let total = mock.config.latency + jitter + asked;
    if !total.is_zero() {
        tokio::time::sleep(total).await;
    }
}

/// Text of a content value that is a string or a list of `{type, text}` parts.
pub(crate) fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => {
            parts.iter().filter_map(|p| p["text"].as_str()).collect::<Vec<_>>().join(" ")
        }
        _ => String::new(),
    }
}
