//! The one place where upstream bytes become client bytes: SSE decoder → upstream stream decoder
//! → (client stream encoder | the upstream's own events, relayed) → client, event by event as
//! they arrive, while tapping usage, time to first byte and how the stream ended.
//!
//! The summary reaches the request's background work through a oneshot channel when the stream
//! ends, breaks, or is dropped because the client went away, so a log row is written in every case.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use futures::StreamExt;
use futures::channel::oneshot;

use super::{ClientView, StreamDecoder, StreamEncoder, stream_decoder, stream_encoder};
use crate::canonical::{Assembler, Event, Response, Usage};
use crate::io::{ByteStream, Platform, TransportError};
use crate::maybe_send::boxed_stream;
use crate::provider::Protocol;
use crate::sse::SseEvent;
use crate::upstream::ExchangeError;

/// The most of a stream kept for the request log.
const CAPTURE_LIMIT: usize = 64 * 1024;

/// How a relayed stream went.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamSummary {
    pub usage: Usage,
    /// Bytes of answer (text, reasoning, tool arguments) the upstream sent, for charging a stream
    /// that ended before its usage arrived.
    pub output_bytes: usize,
    /// Milliseconds from request start to the first byte sent to the caller.
    pub ttft_ms: Option<i64>,
    /// When the stream ended, in platform milliseconds.
    pub ended_ms: i64,
    /// Set when the stream broke or carried an error event.
    pub error_kind: Option<String>,
    /// The caller stopped reading before the end.
    pub client_gone: bool,
    /// What the client received, when the plan captures it (truncated).
    pub body: Option<String>,
    /// The whole answer, when the plan keeps it and the stream finished.
    pub answer: Option<Response>,
}

/// What the stream connects.
#[derive(Debug, Clone)]
pub struct Plan {
    pub upstream: Protocol,
    /// The caller: its protocol, tools and framing.
    pub client: ClientView,
    /// Same protocol and untouched request: relay the upstream's own events.
    pub passthrough: bool,
    /// Relay isolation: remove `instructions` the upstream echoes in its events.
    pub strip_instructions: bool,
    /// Keep what the client received (up to 64 KiB) for the request log.
    pub capture_body: bool,
    /// Assemble the whole answer in the canonical model (the response cache keeps it).
    pub keep: bool,
    /// The model name the caller asked for: the answer names it instead of the upstream's id.
    pub model: String,
    /// Prefix of the ids made for tool calls the upstream sends without one.
    pub call_ids: String,
    /// The longest the upstream may stay silent once the stream has started.
    pub idle_timeout: std::time::Duration,
    /// The provider's secrets (still sealed), scrubbed from any error the upstream reports
    /// mid-stream.
    pub secrets: Arc<dyn crate::redact::Secrets>,
}

impl std::fmt::Debug for dyn crate::redact::Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(sealed)")
    }
}

/// Reads an upstream stream until its first event, within `timeout`, so a failed attempt can still
/// fail over before anything reaches the caller. Returns the stream with what was read put back in
/// front; an upstream error event, an early end or the timeout is an error.
pub async fn first_event(
    mut upstream: ByteStream,
    protocol: Protocol,
    platform: &dyn Platform,
    timeout: std::time::Duration,
) -> Result<ByteStream, ExchangeError> {
    use crate::upstream::UpstreamError;
    use futures::future::{Either, select};
    let mut sse = super::Framer::new(protocol);
    let mut decoder = stream_decoder(protocol, "call");
    let mut prefix: Vec<Bytes> = Vec::new();
    let mut sleep = platform.sleep(timeout);
    loop {
        let chunk = match select(upstream.next(), &mut sleep).await {
            Either::Right(_) => {
                return Err(TransportError::Timeout(
                    u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                )
                .into());
            }
            Either::Left((None, _)) => {
                return Err(UpstreamError::InvalidResponse(
                    "stream ended before its first event".into(),
                )
                .into());
            }
            Either::Left((Some(chunk), _)) => chunk?,
        };
        prefix.push(chunk.clone());
        let events = sse.push(&chunk).map_err(UpstreamError::InvalidResponse)?;
        let mut started = false;
        for sse_event in &events {
            for event in decoder.push(sse_event) {
                if let Event::Error { message, .. } = event {
                    return Err(UpstreamError::Stream(message).into());
                }
                started = true;
            }
        }
        if started {
            let replay = futures::stream::iter(prefix.into_iter().map(Ok));
            return Ok(boxed_stream(replay.chain(upstream)));
        }
    }
}

/// Sends the summary exactly once: at the end, or on drop if the stream never finished.
struct Reporter {
    tx: Option<oneshot::Sender<StreamSummary>>,
    summary: StreamSummary,
    platform: Arc<dyn Platform>,
}

impl Reporter {
    fn send(&mut self, client_gone: bool) {
        if let Some(tx) = self.tx.take() {
            self.summary.client_gone = client_gone;
            self.summary.ended_ms = self.platform.now_ms();
            let _ = tx.send(std::mem::take(&mut self.summary));
        }
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.send(true);
    }
}

/// What waiting on the upstream gave.
enum Next {
    Chunk(Option<Result<Bytes, TransportError>>),
    Idle,
    Shutdown,
}

struct Relay {
    shutdown: crate::shutdown::Shutdown,
    upstream: ByteStream,
    sse: super::Framer,
    decoder: Box<dyn StreamDecoder>,
    encoder: Box<dyn StreamEncoder>,
    plan: Plan,
    started_ms: i64,
    finished: bool,
    ended: bool,
    reporter: Reporter,
    /// The answer being assembled, when the plan keeps it.
    assembler: Option<Assembler>,
}

/// Wraps `upstream` for the caller; returns the caller's stream and the summary to await. The
/// stream ends early, with an error event in the caller's protocol, when the upstream stays
/// silent longer than the plan's idle timeout or `shutdown` fires.
pub fn relay(
    upstream: ByteStream,
    plan: Plan,
    platform: Arc<dyn Platform>,
    started_ms: i64,
    shutdown: crate::shutdown::Shutdown,
) -> (ByteStream, oneshot::Receiver<StreamSummary>) {
    let (tx, rx) = oneshot::channel();
    let relay = Relay {
        shutdown,
        upstream,
        sse: super::Framer::new(plan.upstream),
        decoder: stream_decoder(plan.upstream, &plan.call_ids),
        encoder: stream_encoder(&plan.client),
        assembler: plan.keep.then(Assembler::default),
        plan,
        started_ms,
        finished: false,
        ended: false,
        reporter: Reporter { tx: Some(tx), summary: StreamSummary::default(), platform },
    };
    let stream = futures::stream::unfold(relay, |mut relay| async move {
        let out = relay.next_output().await?;
        Some((Ok::<Bytes, TransportError>(out), relay))
    });
    (boxed_stream(stream), rx)
}

impl Relay {
    /// The upstream's next chunk, unless it stays silent past the idle timeout or the gateway
    /// is shutting down first.
    async fn next_chunk(&mut self) -> Next {
        use futures::future::{Either, select};
        let idle = self.reporter.platform.sleep(self.plan.idle_timeout);
        let stop = self.shutdown.signalled();
        match select(self.upstream.next(), select(idle, stop)).await {
            Either::Left((chunk, _)) => Next::Chunk(chunk),
            Either::Right((Either::Left(_), _)) => Next::Idle,
            Either::Right((Either::Right(_), _)) => Next::Shutdown,
        }
    }

    /// The next bytes for the caller, or `None` when the stream is over.
    async fn next_output(&mut self) -> Option<Bytes> {
        while !self.ended {
            let mut out = BytesMut::new();
            match self.next_chunk().await {
                Next::Chunk(Some(Ok(chunk))) => match self.sse.push(&chunk) {
                    Ok(events) => {
                        // Nothing after an error: the stream ended with it.
                        for event in events.iter() {
                            self.on_sse(event, &mut out);
                            if self.ended {
                                break;
                            }
                        }
                    }
                    Err(e) => self.fail(&mut out, "upstream_stream_error", &e),
                },
                Next::Chunk(Some(Err(e))) => self.fail(&mut out, e.kind(), &e.to_string()),
                Next::Chunk(None) => self.on_eof(&mut out),
                Next::Idle => {
                    let secs = self.plan.idle_timeout.as_secs_f64();
                    let message = format!("the upstream sent nothing for {secs:.0} s");
                    self.fail(&mut out, "upstream_timeout", &message);
                }
                Next::Shutdown => self.fail(
                    &mut out,
                    "server_shutting_down",
                    "the gateway is shutting down; send the request again",
                ),
            }
            if self.ended {
                let errored = self.reporter.summary.error_kind.is_some();
                let assembled = self.assembler.take().filter(|_| !errored);
                self.reporter.summary.answer = assembled.and_then(Assembler::finish);
                self.reporter.send(false);
            }
            if !out.is_empty() {
                if self.plan.capture_body {
                    let body = self.reporter.summary.body.get_or_insert_with(String::new);
                    let room = CAPTURE_LIMIT.saturating_sub(body.len());
                    body.push_str(&String::from_utf8_lossy(&out[..out.len().min(room)]));
                }
                if self.reporter.summary.ttft_ms.is_none() {
                    let now = self.reporter.platform.now_ms();
                    self.reporter.summary.ttft_ms = Some(now - self.started_ms);
                }
                return Some(out.freeze());
            }
        }
        None
    }

    fn on_sse(&mut self, sse: &SseEvent, out: &mut BytesMut) {
        let mut events = self.decoder.push(sse);
        for event in &mut events {
            if let Event::Error { message, .. } = event
                && let std::borrow::Cow::Owned(clean) = self.plan.secrets.redactor().scrub(message)
            {
                *message = clean;
            }
        }
        self.tap(&events);
        let unreadable = events.iter().find_map(|e| match e {
            Event::Error { kind, message } if kind == "upstream_invalid_response" => Some(message),
            _ => None,
        });
        if let Some(message) = unreadable {
            // Never relayed: the caller gets an error in its own protocol instead.
            self.fail(out, "upstream_invalid_response", &message.clone());
            return;
        }
        let failed = events.iter().find_map(|e| match e {
            Event::Error { kind, message } => Some((kind.clone(), message.clone())),
            _ => None,
        });
        if let (true, Some((kind, message))) = (self.plan.passthrough, failed) {
            // Not relayed as the upstream wrote it (its words may carry the provider's key):
            // rendered anew, and the stream ends there.
            self.ended = true;
            self.encoder.error(&kind, &message, out);
            return;
        }
        if self.plan.passthrough {
            // The gateway asked a chat upstream for usage the caller did not want: hide that chunk.
            let usage_only =
                !events.is_empty() && events.iter().all(|e| matches!(e, Event::Usage(_)));
            let client = &self.plan.client;
            if !(usage_only && client.protocol == Protocol::OpenaiChat && !client.include_usage) {
                let scrubbed = if self.plan.strip_instructions {
                    crate::isolation::scrub_event(&sse.data)
                } else {
                    None
                };
                let data = scrubbed.as_deref().unwrap_or(&sse.data);
                let renamed = super::rename_model(client.protocol, data, &self.plan.model);
                self.encoder.relay(sse.event.as_deref(), renamed.as_deref().unwrap_or(data), out);
            }
        } else {
            for event in &events {
                match event {
                    Event::Start { id, created, .. } => {
                        self.encoder.push(&self.complete_start(id, *created), out)
                    }
                    other => self.encoder.push(other, out),
                }
            }
        }
        if events.iter().any(|e| matches!(e, Event::Error { .. })) {
            self.ended = true;
        }
    }

    /// Fills what some upstreams leave out of their first event (Anthropic and Gemini send no
    /// creation time, Gemini sometimes no id) but clients expect, and names the model the caller
    /// asked for.
    fn complete_start(&self, id: &str, created: i64) -> Event {
        let platform = &self.reporter.platform;
        let id = if id.is_empty() {
            format!("gen-{}", crate::ids::base62(24, |b| platform.random_bytes(b)))
        } else {
            id.to_owned()
        };
        let created = if created == 0 { platform.now_ms() / 1000 } else { created };
        Event::Start { id, model: self.plan.model.clone(), created }
    }

    fn tap(&mut self, events: &[Event]) {
        for event in events {
            if self.assembler.is_some() {
                let start = match event {
                    Event::Start { id, created, .. } => Some(self.complete_start(id, *created)),
                    _ => None,
                };
                if let Some(assembler) = &mut self.assembler {
                    assembler.push(start.as_ref().unwrap_or(event));
                }
            }
            match event {
                Event::TextDelta { text, .. } | Event::ThinkingDelta { text, .. } => {
                    self.reporter.summary.output_bytes += text.len()
                }
                Event::ToolArgsDelta { json, .. } => {
                    self.reporter.summary.output_bytes += json.len()
                }
                Event::Usage(u) => self.reporter.summary.usage.merge(*u),
                Event::Finish(_) => self.finished = true,
                Event::Error { .. } => {
                    self.reporter.summary.error_kind = Some("upstream_stream_error".into())
                }
                _ => {}
            }
        }
    }

    fn on_eof(&mut self, out: &mut BytesMut) {
        if let Some(sse) = self.sse.finish() {
            self.on_sse(&sse, out);
        }
        if self.ended {
            return;
        }
        // Complete when the upstream said how it finished or sent its own end marker.
        if !self.finished && !self.decoder.saw_terminal() {
            self.fail(out, "upstream_stream_error", "upstream stream ended before it finished");
            return;
        }
        self.ended = true;
        let tail = self.decoder.finish();
        self.tap(&tail);
        if self.plan.passthrough {
            if !self.decoder.saw_terminal() || self.plan.client.json_array {
                // Some compatible servers finish properly but forget the end marker (and a
                // Gemini caller's JSON array is closed here).
                self.encoder.terminal(out);
            }
        } else {
            for event in &tail {
                self.encoder.push(event, out);
            }
            self.encoder.finish(out);
        }
    }

    /// Ends the stream with an error in the client's protocol.
    fn fail(&mut self, out: &mut BytesMut, kind: &str, message: &str) {
        self.ended = true;
        self.reporter.summary.error_kind = Some(kind.to_owned());
        self.encoder.error(kind, message, out);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use futures::executor::block_on;

    use super::*;
    use crate::maybe_send::BoxFuture;

    struct FixedClock;
    impl Platform for FixedClock {
        fn now_ms(&self) -> i64 {
            1_000
        }
        fn random_bytes(&self, buf: &mut [u8]) {
            buf.fill(1);
        }
        fn sleep(&self, _: Duration) -> BoxFuture<'static, ()> {
            Box::pin(async {})
        }
    }

    fn upstream(chunks: Vec<Result<&'static str, TransportError>>) -> ByteStream {
        boxed_stream(futures::stream::iter(
            chunks.into_iter().map(|c| c.map(|s| Bytes::from_static(s.as_bytes()))),
        ))
    }

    fn plan(upstream: Protocol, client: Protocol, include_usage: bool) -> Plan {
        Plan {
            upstream,
            client: ClientView { protocol: client, include_usage, ..ClientView::default() },
            passthrough: upstream == client,
            strip_instructions: false,
            capture_body: false,
            keep: false,
            model: "m".into(),
            call_ids: "call".into(),
            idle_timeout: Duration::from_secs(60),
            secrets: Arc::new(()),
        }
    }

    fn run(
        chunks: Vec<Result<&'static str, TransportError>>,
        plan: Plan,
    ) -> (Vec<String>, StreamSummary) {
        let (stream, rx) =
            relay(upstream(chunks), plan, Arc::new(FixedClock), 900, Default::default());
        let out: Vec<String> =
            block_on(stream.map(|c| String::from_utf8(c.unwrap().to_vec()).unwrap()).collect());
        (out, block_on(rx).unwrap())
    }

    const DELTA: &str = "data: {\"id\":\"c1\",\"model\":\"m\",\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n";
    const FINISH: &str = "data: {\"id\":\"c1\",\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";
    const USAGE: &str = "data: {\"id\":\"c1\",\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\n";
    const DONE: &str = "data: [DONE]\n\n";
    const CHAT: Protocol = Protocol::OpenaiChat;

    #[test]
    fn passthrough_relays_each_event_as_it_arrives_and_captures_usage() {
        let (out, summary) =
            run(vec![Ok(DELTA), Ok(FINISH), Ok(USAGE), Ok(DONE)], plan(CHAT, CHAT, true));
        assert_eq!(out, vec![DELTA, FINISH, USAGE, DONE], "one output per upstream event");
        assert_eq!(summary.usage.input, Some(3));
        assert_eq!(summary.usage.output, Some(2));
        assert_eq!(summary.ttft_ms, Some(100));
        assert_eq!(summary.error_kind, None);
        assert!(!summary.client_gone);
    }

    #[test]
    fn usage_chunk_the_caller_did_not_ask_for_is_removed() {
        let (out, summary) =
            run(vec![Ok(DELTA), Ok(FINISH), Ok(USAGE), Ok(DONE)], plan(CHAT, CHAT, false));
        assert_eq!(out, vec![DELTA, FINISH, DONE]);
        assert_eq!(summary.usage.output, Some(2));
    }

    #[test]
    fn events_split_across_chunks_are_joined() {
        let (out, _) = run(
            vec![Ok("data: {\"choices\":[{\"delta\":"), Ok("{}}]}\n"), Ok("\ndata: [DONE]\n\n")],
            plan(CHAT, CHAT, false),
        );
        assert_eq!(out, vec!["data: {\"choices\":[{\"delta\":{}}]}\n\ndata: [DONE]\n\n"]);
    }

    #[test]
    fn missing_done_after_finish_is_added() {
        let (out, summary) = run(vec![Ok(DELTA), Ok(FINISH)], plan(CHAT, CHAT, false));
        assert_eq!(out.last().unwrap(), DONE);
        assert_eq!(summary.error_kind, None);
    }

    #[test]
    fn truncated_stream_ends_with_an_error_in_the_callers_protocol() {
        let (out, summary) = run(vec![Ok(DELTA)], plan(CHAT, CHAT, false));
        assert!(out.last().unwrap().contains("\"code\":\"upstream_stream_error\""));
        assert_eq!(summary.error_kind.as_deref(), Some("upstream_stream_error"));
        let (out, _) = run(vec![Ok(DELTA)], plan(CHAT, Protocol::AnthropicMessages, false));
        let last = out.last().unwrap();
        assert!(
            last.starts_with("event: error\n") && last.contains("\"type\":\"api_error\""),
            "{last}"
        );
        assert!(!out.concat().contains("message_stop"));
    }

    #[test]
    fn broken_upstream_body_ends_with_an_error_event() {
        let (out, summary) = run(
            vec![Ok(DELTA), Err(TransportError::Body("reset".into()))],
            plan(CHAT, CHAT, false),
        );
        assert_eq!(out.len(), 2);
        assert!(out[1].starts_with("data: {\"error\""));
        assert_eq!(summary.error_kind.as_deref(), Some("upstream_stream_error"));
    }

    /// A Bedrock stream (binary event-stream messages) whose last message is cut in the middle,
    /// and one whose upstream reports an exception: both end with an error in the caller's
    /// protocol, after the text that did arrive.
    #[test]
    fn a_cut_or_failing_bedrock_stream_ends_with_an_error_in_the_callers_protocol() {
        let bedrock = ClientView { protocol: Protocol::BedrockConverse, ..ClientView::default() };
        let mut encoder = stream_encoder(&bedrock);
        let mut head = BytesMut::new();
        let events = [
            Event::Start { id: String::new(), model: String::new(), created: 0 },
            Event::BlockStart { index: 0, kind: crate::canonical::BlockKind::Text },
            Event::TextDelta { index: 0, text: "Hello".into() },
            Event::BlockStop { index: 0 },
        ];
        events.iter().for_each(|e| encoder.push(e, &mut head));
        let mut tail = BytesMut::new();
        encoder.finish(&mut tail);
        let mut failed = BytesMut::new();
        encoder.error("rate_limit", "Too many tokens", &mut failed);
        for (ending, message) in [
            (tail.split_to(9).freeze(), "ended before it finished"),
            (failed.freeze(), "Too many tokens"),
        ] {
            let chunks = vec![Ok(head.clone().freeze()), Ok(ending)];
            let body = boxed_stream(futures::stream::iter(chunks));
            let plan = plan(Protocol::BedrockConverse, CHAT, false);
            let (stream, rx) = relay(body, plan, Arc::new(FixedClock), 900, Default::default());
            let out: Vec<String> =
                block_on(stream.map(|c| String::from_utf8(c.unwrap().to_vec()).unwrap()).collect());
            let text = out.concat();
            assert!(text.contains("\"content\":\"Hello\""), "{text}");
            assert!(text.contains(message) && !text.contains("[DONE]"), "{text}");
            assert!(block_on(rx).unwrap().error_kind.is_some());
        }
    }

    /// A relayed stream whose upstream sends an HTML page mid-stream ends at the error, even when
    /// the upstream's own end marker came in the same chunk, and the caller never reads the
    /// upstream's words.
    #[test]
    fn a_garbled_event_ends_a_relayed_stream_there() {
        let garbage = "data: <html><body>Bad gateway: internal-host-7 token=abc</body></html>\n\n";
        let (out, summary) = run(vec![Ok(DELTA), Ok(garbage), Ok(DONE)], plan(CHAT, CHAT, false));
        let text = out.concat();
        assert!(text.contains("not valid JSON"), "{text}");
        assert!(!text.contains("[DONE]"), "{text}");
        assert!(!text.contains("internal-host") && !text.contains("<html>"), "{text}");
        assert_eq!(summary.error_kind.as_deref(), Some("upstream_invalid_response"));
        let both = format!("{garbage}{DONE}").leak();
        let (out, _) = run(vec![Ok(DELTA), Ok(both)], plan(CHAT, CHAT, false));
        assert!(!out.concat().contains("[DONE]"), "{out:?}");
    }

    /// An upstream's error event that repeats the provider's key reaches the caller without it,
    /// relayed (rendered anew) or translated.
    #[test]
    fn the_providers_key_is_scrubbed_from_error_events() {
        let key = "sk-live-0123456789abcdefghij";
        let error = format!("data: {{\"error\":{{\"message\":\"key {key} is over quota\",\"type\":\"insufficient_quota\"}}}}\n\n").leak();
        for client in [CHAT, Protocol::AnthropicMessages] {
            let mut p = plan(CHAT, client, false);
            p.secrets = Arc::new(crate::redact::Redactor::new([key.to_owned()]));
            let (out, summary) = run(vec![Ok(DELTA), Ok(error)], p);
            let text = out.concat();
            assert!(!text.contains(key) && text.contains("[redacted] is over quota"), "{text}");
            assert_eq!(summary.error_kind.as_deref(), Some("upstream_stream_error"));
        }
    }

    #[test]
    fn upstream_error_event_mid_stream_is_rendered_for_the_client() {
        let error = "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"busy\"}}\n\n";
        let start = "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"id\":\"m\",\"model\":\"c\",\"usage\":{\"input_tokens\":1}}}\n\n";
        let (out, summary) =
            run(vec![Ok(start), Ok(error)], plan(Protocol::AnthropicMessages, CHAT, false));
        let text = out.concat();
        assert!(text.contains("\"message\":\"busy\""), "{text}");
        assert!(!text.contains("[DONE]"));
        assert_eq!(summary.error_kind.as_deref(), Some("upstream_stream_error"));
    }

    #[test]
    fn translated_stream_ends_with_the_clients_own_lifecycle() {
        let (out, summary) = run(
            vec![Ok(DELTA), Ok(FINISH), Ok(USAGE), Ok(DONE)],
            plan(CHAT, Protocol::AnthropicMessages, false),
        );
        let text = out.concat();
        let names: Vec<&str> = text.lines().filter_map(|l| l.strip_prefix("event: ")).collect();
        assert_eq!(
            names,
            [
                "message_start",
                "content_block_start",
                "content_block_delta",
                "content_block_stop",
                "message_delta",
                "message_stop"
            ]
        );
        assert!(text.contains("\"output_tokens\":2"));
        assert_eq!(summary.usage.input, Some(3));
    }

    #[test]
    fn dropping_the_stream_still_reports() {
        let (mut stream, rx) = relay(
            upstream(vec![Ok(DELTA), Ok(FINISH)]),
            plan(CHAT, CHAT, false),
            Arc::new(FixedClock),
            0,
            Default::default(),
        );
        let first = block_on(stream.next()).unwrap().unwrap();
        assert!(first.starts_with(b"data: "));
        drop(stream);
        let summary = block_on(rx).unwrap();
        assert!(summary.client_gone);
    }
}
