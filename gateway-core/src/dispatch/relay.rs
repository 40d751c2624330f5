//! Relaying an OpenAI Chat Completions SSE stream to the caller, event by event as it arrives,
//! while tapping it for usage, time to first token and how it ended.
//!
//! The summary reaches the request's background work through a oneshot channel when the stream
//! ends, breaks, or is dropped because the client went away, so a log row is written in every case.

use std::sync::Arc;

use bytes::{BufMut, Bytes, BytesMut};
use futures::StreamExt;
use futures::channel::oneshot;
use serde::Deserialize;
use serde::de::IgnoredAny;

use super::usage::{OpenAiUsage, Usage};
use crate::io::{ByteStream, Platform, TransportError};
use crate::maybe_send::boxed_stream;
use crate::sse::{SseDecoder, SseEvent};

/// How a relayed stream went.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct StreamSummary {
    pub usage: Usage,
    /// Milliseconds from request start to the first byte sent to the caller.
    pub ttft_ms: Option<i64>,
    /// When the stream ended, in platform milliseconds.
    pub ended_ms: i64,
    /// Set when the stream broke or carried an error event.
    pub error_kind: Option<&'static str>,
    /// The caller stopped reading before the end.
    pub client_gone: bool,
}

#[derive(Deserialize)]
struct ChunkPeek {
    usage: Option<OpenAiUsage>,
    choices: Option<Vec<ChoicePeek>>,
    error: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct ChoicePeek {
    finish_reason: Option<IgnoredAny>,
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
            let _ = tx.send(self.summary.clone());
        }
    }
}

impl Drop for Reporter {
    fn drop(&mut self) {
        self.send(true);
    }
}

struct Relay {
    upstream: ByteStream,
    decoder: SseDecoder,
    /// The gateway asked for usage the caller did not: drop the usage-only chunk.
    strip_usage_chunk: bool,
    started_ms: i64,
    saw_done: bool,
    saw_finish: bool,
    ended: bool,
    reporter: Reporter,
}

/// Wraps `upstream` for the caller; returns the caller's stream and the summary to await.
pub fn relay_openai_chat(
    upstream: ByteStream,
    platform: Arc<dyn Platform>,
    started_ms: i64,
    strip_usage_chunk: bool,
) -> (ByteStream, oneshot::Receiver<StreamSummary>) {
    let (tx, rx) = oneshot::channel();
    let relay = Relay {
        upstream,
        decoder: SseDecoder::new(),
        strip_usage_chunk,
        started_ms,
        saw_done: false,
        saw_finish: false,
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
    /// The next bytes for the caller, or `None` when the stream is over.
    async fn next_output(&mut self) -> Option<Bytes> {
        while !self.ended {
            let mut out = BytesMut::new();
            match self.upstream.next().await {
                Some(Ok(chunk)) => match self.decoder.push(&chunk) {
                    Ok(events) => events.iter().for_each(|e| self.on_event(e, &mut out)),
                    Err(e) => self.fail(&mut out, "upstream_stream_error", &e.to_string()),
                },
                Some(Err(e)) => self.fail(&mut out, e.kind(), &e.to_string()),
                None => self.on_eof(&mut out),
            }
            if self.ended {
                self.reporter.send(false);
            }
            if !out.is_empty() {
                if self.reporter.summary.ttft_ms.is_none() {
                    let now = self.reporter.platform.now_ms();
                    self.reporter.summary.ttft_ms = Some(now - self.started_ms);
                }
                return Some(out.freeze());
            }
        }
        None
    }

    fn on_event(&mut self, event: &SseEvent, out: &mut BytesMut) {
        if self.saw_done {
            return;
        }
        if event.data == "[DONE]" {
            self.saw_done = true;
            out.put_slice(b"data: [DONE]\n\n");
            return;
        }
        if let Ok(peek) = serde_json::from_str::<ChunkPeek>(&event.data) {
            if peek.error.is_some() {
                self.reporter.summary.error_kind = Some("upstream_stream_error");
            }
            let choices = peek.choices.unwrap_or_default();
            if choices.iter().any(|c| c.finish_reason.is_some()) {
                self.saw_finish = true;
            }
            if let Some(usage) = peek.usage {
                self.reporter.summary.usage = usage.into();
                if self.strip_usage_chunk && choices.is_empty() {
                    return;
                }
            }
        }
        if let Some(name) = &event.event {
            out.put_slice(b"event: ");
            out.put_slice(name.as_bytes());
            out.put_slice(b"\n");
        }
        for line in event.data.split('\n') {
            out.put_slice(b"data: ");
            out.put_slice(line.as_bytes());
            out.put_slice(b"\n");
        }
        out.put_slice(b"\n");
    }

    fn on_eof(&mut self, out: &mut BytesMut) {
        if let Some(event) = self.decoder.finish() {
            self.on_event(&event, out);
        }
        self.ended = true;
        if self.saw_done {
            return;
        }
        if self.saw_finish {
            // Some compatible servers finish properly but forget the terminator.
            self.saw_done = true;
            out.put_slice(b"data: [DONE]\n\n");
        } else {
            self.fail(out, "upstream_stream_error", "upstream stream ended before it finished");
        }
    }

    /// Ends the stream with an error event in OpenAI's shape (the SDK raises on it).
    fn fail(&mut self, out: &mut BytesMut, kind: &'static str, message: &str) {
        self.ended = true;
        self.reporter.summary.error_kind = Some(kind);
        let event = serde_json::json!({"error": {
            "message": message, "type": "api_error", "param": null, "code": kind,
        }});
        out.put_slice(b"data: ");
        out.put_slice(event.to_string().as_bytes());
        out.put_slice(b"\n\n");
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::maybe_send::BoxFuture;
    use futures::executor::block_on;

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

    fn run(
        chunks: Vec<Result<&'static str, TransportError>>,
        strip: bool,
    ) -> (Vec<String>, StreamSummary) {
        let (stream, rx) = relay_openai_chat(upstream(chunks), Arc::new(FixedClock), 900, strip);
        let out: Vec<String> =
            block_on(stream.map(|c| String::from_utf8(c.unwrap().to_vec()).unwrap()).collect());
        (out, block_on(rx).unwrap())
    }

    const DELTA: &str = "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"Hi\"},\"finish_reason\":null}]}\n\n";
    const FINISH: &str =
        "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n";
    const USAGE: &str =
        "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":3,\"completion_tokens\":2}}\n\n";

    #[test]
    fn relays_each_event_as_it_arrives_and_captures_usage() {
        let (out, summary) =
            run(vec![Ok(DELTA), Ok(FINISH), Ok(USAGE), Ok("data: [DONE]\n\n")], false);
        assert_eq!(out.len(), 4, "one output per upstream event: {out:?}");
        assert_eq!(out[3], "data: [DONE]\n\n");
        assert_eq!(summary.usage.input, Some(3));
        assert_eq!(summary.usage.output, Some(2));
        assert_eq!(summary.ttft_ms, Some(100));
        assert_eq!(summary.error_kind, None);
        assert!(!summary.client_gone);
    }

    #[test]
    fn usage_chunk_the_caller_did_not_ask_for_is_removed() {
        let (out, summary) =
            run(vec![Ok(DELTA), Ok(FINISH), Ok(USAGE), Ok("data: [DONE]\n\n")], true);
        assert_eq!(out.len(), 3);
        assert!(out.iter().all(|c| !c.contains("usage")));
        assert_eq!(summary.usage.output, Some(2));
    }

    #[test]
    fn events_split_across_chunks_are_joined() {
        let (out, _) = run(
            vec![Ok("data: {\"choices\":[{\"delta\":"), Ok("{}}]}\n"), Ok("\ndata: [DONE]\n\n")],
            false,
        );
        assert_eq!(out, vec!["data: {\"choices\":[{\"delta\":{}}]}\n\ndata: [DONE]\n\n"]);
    }

    #[test]
    fn missing_done_after_finish_is_added() {
        let (out, summary) = run(vec![Ok(DELTA), Ok(FINISH)], false);
        assert_eq!(out.last().unwrap(), "data: [DONE]\n\n");
        assert_eq!(summary.error_kind, None);
    }

    #[test]
    fn truncated_stream_ends_with_an_error_event() {
        let (out, summary) = run(vec![Ok(DELTA)], false);
        assert!(out.last().unwrap().contains("\"code\":\"upstream_stream_error\""));
        assert_eq!(summary.error_kind, Some("upstream_stream_error"));
    }

    #[test]
    fn broken_upstream_body_ends_with_an_error_event() {
        let (out, summary) = run(vec![Ok(DELTA), Err(TransportError::Body("reset".into()))], false);
        assert_eq!(out.len(), 2);
        assert!(out[1].starts_with("data: {\"error\""));
        assert_eq!(summary.error_kind, Some("upstream_stream_error"));
    }

    #[test]
    fn dropping_the_stream_still_reports() {
        let (mut stream, rx) = relay_openai_chat(
            upstream(vec![Ok(DELTA), Ok(FINISH)]),
            Arc::new(FixedClock),
            0,
            false,
        );
        let first = block_on(stream.next()).unwrap().unwrap();
        assert!(first.starts_with(b"data: "));
        drop(stream);
        let summary = block_on(rx).unwrap();
        assert!(summary.client_gone);
    }
}
