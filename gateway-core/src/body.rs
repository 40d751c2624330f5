//! What the core hands back to a host: a response whose body is whole or a byte stream, plus the
//! background work (log writes) the host must run to completion after the response is under way.

use bytes::Bytes;
use futures::StreamExt;

use crate::io::ByteStream;
use crate::maybe_send::BoxFuture;

/// A response body: bytes already in hand, or a stream the host relays chunk by chunk.
pub enum Body {
    Full(Bytes),
    Stream(ByteStream),
}

impl Body {
    pub fn empty() -> Self {
        Body::Full(Bytes::new())
    }

    /// The body as a stream, whatever it was.
    pub fn into_stream(self) -> ByteStream {
        match self {
            Body::Full(bytes) => {
                crate::maybe_send::boxed_stream(futures::stream::once(async move { Ok(bytes) }))
            }
            Body::Stream(s) => s,
        }
    }

    /// Collects the whole body (for tests and small bodies); stream errors end collection early.
    pub async fn collect(self) -> Result<Bytes, crate::io::TransportError> {
        match self {
            Body::Full(bytes) => Ok(bytes),
            Body::Stream(mut s) => {
                let mut out = Vec::new();
                while let Some(chunk) = s.next().await {
                    out.extend_from_slice(&chunk?);
                }
                Ok(out.into())
            }
        }
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Full(b) => write!(f, "Body::Full({} bytes)", b.len()),
            Body::Stream(_) => f.write_str("Body::Stream"),
        }
    }
}

/// The outcome of one request: the response now, and work to finish in the background.
///
/// The background future never fails and never panics; the host runs it with `wait_until` on
/// Workers, a tracked task on the server, or before the invocation returns on Lambda.
pub struct Handled {
    pub response: http::Response<Body>,
    pub background: Option<BoxFuture<'static, ()>>,
}

impl Handled {
    pub fn now(response: http::Response<Body>) -> Self {
        Self { response, background: None }
    }
}
