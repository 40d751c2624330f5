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

/// How much the request bodies being read may hold together (`MAX_BODY_MEMORY_MB`): a host
/// reserves each body's bytes as they arrive and answers 503 `server_busy` when the budget is
/// spent, so clients that stall in the middle of large bodies cannot take the memory of
/// everyone else (each is also bounded by `MAX_BODY_BYTES` and the body deadline).
#[derive(Debug)]
pub struct BodyBudget {
    capacity: usize,
    used: std::sync::atomic::AtomicUsize,
}

/// Bytes of a [`BodyBudget`] held by one body; given back when dropped.
#[derive(Debug)]
pub struct Reserved {
    budget: std::sync::Arc<BodyBudget>,
    bytes: usize,
}

impl BodyBudget {
    pub fn new(capacity: usize) -> std::sync::Arc<Self> {
        std::sync::Arc::new(Self { capacity, used: Default::default() })
    }

    /// The most bytes bodies may hold together.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// Bytes held by bodies now.
    pub fn used(&self) -> usize {
        self.used.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// An empty reservation, grown as a body arrives.
    pub fn reserve(self: &std::sync::Arc<Self>) -> Reserved {
        Reserved { budget: self.clone(), bytes: 0 }
    }

    fn take(&self, bytes: usize) -> bool {
        use std::sync::atomic::Ordering;
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(bytes).filter(|total| *total <= self.capacity)
            })
            .is_ok()
    }
}

impl Reserved {
    /// Holds `bytes` more; `false` (nothing taken) when the budget cannot hold them.
    pub fn grow(&mut self, bytes: usize) -> bool {
        let taken = self.budget.take(bytes);
        if taken {
            self.bytes += bytes;
        }
        taken
    }

    /// Bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        self.budget.used.fetch_sub(self.bytes, std::sync::atomic::Ordering::AcqRel);
    }
}

/// Why a host could not read a request's body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyError {
    /// Longer than `MAX_BODY_BYTES` (413).
    TooLarge,
    /// Not all there within the body deadline (408).
    TimedOut,
    /// Framing the host could not read (malformed chunked encoding; 400).
    Unreadable(String),
    /// The [`BodyBudget`] is spent (503 with `Retry-After`).
    Busy,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_budget_is_shared_and_given_back() {
        let budget = BodyBudget::new(100);
        let mut a = budget.reserve();
        assert!(a.grow(60));
        let mut b = budget.reserve();
        assert!(!b.grow(41), "past the budget: nothing taken");
        assert!(b.grow(40));
        assert_eq!(budget.used(), 100);
        drop(a);
        assert_eq!(budget.used(), 40);
        drop(b);
        assert_eq!(budget.used(), 0);
    }
}
