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

use super::{StreamDecoder, StreamEncoder, stream_decoder, stream_encoder, write_sse};
use crate::canonical::{Event, Usage};
use crate::io::{ByteStream, Platform, TransportError};
use crate::maybe_send::boxed_stream;
use crate::provider::Protocol;
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
    pub error_kind: Option<String>,
    /// The caller stopped reading before the end.
    pub client_gone: bool,
}

/// What the stream connects.
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub upstream: Protocol,
    pub client: Protocol,
    /// Same protocol and untouched request: relay the upstream's own events.
    pub passthrough: bool,
    /// Chat callers: whether they asked for the usage chunk themselves.
    pub include_usage: bool,
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
    sse: SseDecoder,
    decoder: Box<dyn StreamDecoder>,
    encoder: Box<dyn StreamEncoder>,
    plan: Plan,
    started_ms: i64,
    finished: bool,
    ended: bool,
    reporter: Reporter,
}

/// Wraps `upstream` for the caller; returns the caller's stream and the summary to await.
pub fn relay(
    upstream: ByteStream,
    plan: Plan,
    platform: Arc<dyn Platform>,
    started_ms: i64,
) -> (ByteStream, oneshot::Receiver<StreamSummary>) {
    let (tx, rx) = oneshot::channel();
    let relay = Relay {
        upstream,
        sse: SseDecoder::new(),
        decoder: stream_decoder(plan.upstream),
        encoder: stream_encoder(plan.client, plan.include_usage),
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
    /// The next bytes for the caller, or `None` when the stream is over.
    async fn next_output(&mut self) -> Option<Bytes> {
        while !self.ended {
            let mut out = BytesMut::new();
            match self.upstream.next().await {
                Some(Ok(chunk)) => match self.sse.push(&chunk) {
                    Ok(events) => events.iter().for_each(|e| self.on_sse(e, &mut out)),
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

    fn on_sse(&mut self, sse: &SseEvent, out: &mut BytesMut) {
        let events = self.decoder.push(sse);
        self.tap(&events);
        if self.plan.passthrough {
            // The gateway asked a chat upstream for usage the caller did not want: hide that chunk.
            let usage_only =
                !events.is_empty() && events.iter().all(|e| matches!(e, Event::Usage(_)));
            if !(usage_only && self.plan.client == Protocol::OpenaiChat && !self.plan.include_usage)
            {
                write_sse(out, sse.event.as_deref(), &sse.data);
            }
        } else {
            for event in &events {
                self.encoder.push(event, out);
            }
        }
        if events.iter().any(|e| matches!(e, Event::Error { .. })) {
            self.ended = true;
        }
    }

    fn tap(&mut self, events: &[Event]) {
        for event in events {
            match event {
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
        let tail = self.decoder.finish();
        self.tap(&tail);
        if !self.plan.passthrough {
            for event in &tail {
                self.encoder.push(event, out);
            }
        }
        self.ended = true;
        if !self.finished {
            self.fail(out, "upstream_stream_error", "upstream stream ended before it finished");
        } else if !self.plan.passthrough {
            self.encoder.finish(out);
        } else if !self.decoder.saw_terminal() {
            // Some compatible servers finish properly but forget the end marker.
            self.encoder.terminal(out);
        }
    }

    /// Ends the stream with an error in the client's protocol.
    fn fail(&mut self, out: &mut BytesMut, kind: &str, message: &str) {
        self.ended = true;
        self.reporter.summary.error_kind = Some(kind.to_owned());
        self.encoder.error(kind, message, out);
    }
}
