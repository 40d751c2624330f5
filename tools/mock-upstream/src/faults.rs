//! Upstreams that misbehave the way real ones do, for the fault-injection tests (OpenAI chat
//! answers; chosen by the upstream model name):
//! - `…stall-body…`: headers and half the JSON body, then nothing (the connection stays open);
//! - `…short-body…`: a `Content-Length` the body never reaches (the connection closes early);
//! - `…huge-body…`: a JSON body larger than any gateway should hold (65 MiB);
//! - `…stall-stream…`: a stream's first events, then nothing;
//! - `…finish-stall…`: a stream's text and `finish_reason`, then nothing (no usage, no `[DONE]`);
//! - `…stream-garbage…`: a stream whose second event is not JSON (an HTML error page);
//! - `…finish-close…`: a stream's text and `finish_reason`, then the connection closes (no usage,
//!   no `[DONE]`).
//!
//! A stall lasts [`STALL`], far longer than any gateway timeout a test sets.

use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::Bytes;

/// How long a stalled answer waits before giving up by itself.
pub const STALL: Duration = Duration::from_secs(300);

/// The bytes of an answer, then (maybe) a stall.
fn body_then(chunks: Vec<Bytes>, stall: bool) -> Body {
    let stream =
        futures::stream::unfold((chunks.into_iter(), stall), |(mut rest, stall)| async move {
            match rest.next() {
                Some(chunk) => Some((Ok::<Bytes, std::io::Error>(chunk), (rest, stall))),
                None if stall => {
                    tokio::time::sleep(STALL).await;
                    None
                }
                None => None,
            }
        });
    Body::from_stream(stream)
}

/// The non-streamed fault a model name asks for, if any, given the well-formed answer.
pub(crate) fn json_fault(model: &str, answer: &serde_json::Value) -> Option<Response> {
    if !["stall-body", "short-body", "huge-body"].iter().any(|f| model.contains(f)) {
        return None;
    }
    let answer = answer.to_string().into_bytes();
    let half = Bytes::copy_from_slice(&answer[..answer.len() / 2]);
    let (body, length) = if model.contains("stall-body") {
        (body_then(vec![half], true), answer.len())
    } else if model.contains("short-body") {
        // Declared length of the whole answer, half of it sent: the connection then closes.
        (body_then(vec![half], false), answer.len())
    } else if model.contains("huge-body") {
        const SIZE: usize = 65 << 20;
        let mut chunks =
            vec![Bytes::from_static(br#"{"id":"huge","object":"chat.completion","pad":""#)];
        chunks.extend((0..SIZE >> 20).map(|_| Bytes::from(vec![b'x'; 1 << 20])));
        chunks.push(Bytes::from_static(br#"","choices":[]}"#));
        let length = chunks.iter().map(Bytes::len).sum();
        (body_then(chunks, false), length)
    } else {
        return None;
    };
    Response::builder()
        .header("content-type", "application/json")
        .header("content-length", length)
        .body(body)
        .ok()
}

/// The stream fault a model name asks for, if any, given the well-formed events.
pub(crate) fn stream_fault(model: &str, events: &[String]) -> Option<Response> {
    if !["stall-stream", "finish-stall", "stream-garbage", "finish-close"]
        .iter()
        .any(|f| model.contains(f))
    {
        return None;
    }
    let mut events = events.to_vec();
    let stall = if model.contains("stall-stream") {
        events.truncate(3);
        true
    } else if model.contains("finish-close") {
        let finish = events.iter().position(|e| e.contains("\"finish_reason\":\"stop\""))?;
        events.truncate(finish + 1);
        false
    } else if model.contains("finish-stall") {
        // Everything up to and including the finish_reason chunk; no usage, no [DONE].
        let finish = events.iter().position(|e| e.contains("\"finish_reason\":\"stop\""))?;
        events.truncate(finish + 1);
        true
    } else if model.contains("stream-garbage") {
        events.insert(2, "data: <html><body>502 Bad Gateway</body></html>\n\n".into());
        false
    } else {
        return None;
    };
    let chunks = events.into_iter().map(Bytes::from).collect();
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(body_then(chunks, stall))
        .ok()
}
