//! The response cache on the data plane: which policy applies (the key's, else the virtual
//! model's), the lookup before admission (a hit is admitted for its request only, no tokens), and
//! the answer kept after a complete, successful exchange.

use std::sync::Arc;

use bytes::Bytes;

use crate::answers::{self, AnswerStore, CachePolicy, Entry, Mode};
use crate::canonical::{Request, Response};
use crate::routing::Route;
use crate::state::Inner;
use crate::store::keys::VirtualKey;

/// One request's dealings with the cache.
pub(super) struct Lookup {
    pub key: String,
    pub policy: CachePolicy,
    pub mode: Mode,
    /// Why the request may not be answered from the cache, if it may not.
    pub refusal: Option<&'static str>,
}

impl Lookup {
    /// The policy that applies to `key` asking `route` (the key's own, else the virtual model's),
    /// and the lookup for `request` under it; `None` when no policy applies.
    pub(super) fn new(
        key: &VirtualKey,
        route: &Route,
        request: &Request,
        mode: Mode,
    ) -> Option<Lookup> {
        let policy = key.cache.clone().or_else(|| route.cache.clone())?;
        // A shared namespace and a key's own never meet: `ns:` and `key:` prefixes.
        let namespace = match &policy.namespace {
            Some(shared) => format!("ns:{shared}"),
            None => format!("key:{}", key.id),
        };
        let refusal = answers::refusal(request, &policy);
        Some(Lookup { key: answers::key(&namespace, request), policy, mode, refusal })
    }

    /// What the log row, the metrics and the response header say: `miss`, `refresh` or `bypass`
    /// (a hit says `hit`).
    pub(super) fn label(&self) -> &'static str {
        match (self.refusal, self.mode) {
            (Some(_), _) | (_, Mode::NoStore) => "bypass",
            (None, Mode::Refresh) => "refresh",
            (None, Mode::Use) => "miss",
        }
    }

    pub(super) fn reads(&self) -> bool {
        self.refusal.is_none() && self.mode == Mode::Use
    }

    /// What keeping the answer of this request needs, when it may be kept.
    pub(super) fn fill(&self, inner: &Inner) -> Option<Fill> {
        (self.refusal.is_none() && self.mode != Mode::NoStore).then(|| Fill {
            store: inner.answers.clone(),
            key: self.key.clone(),
            ttl_ms: i64::from(self.policy.ttl_s) * 1000,
            max_bytes: self.policy.max_bytes as usize,
        })
    }
}

/// The kept answer for `lookup`, if there is one; a store that fails is a miss (logged).
pub(super) async fn find(inner: &Inner, lookup: &Lookup, now_ms: i64) -> Option<Entry> {
    match inner.answers.get(&lookup.key, now_ms).await {
        Ok(bytes) => bytes.and_then(|b| Entry::decode(&b)),
        Err(e) => {
            tracing::warn!(error = %e, "the response cache could not be read; asking upstream");
            None
        }
    }
}

/// A hit: the caller's bytes (whole, or the whole stream) and what the log row says of the entry.
pub(crate) struct Hit {
    pub body: Bytes,
    pub stream: bool,
    pub json_array: bool,
    /// The request that fetched the answer.
    pub fetched_by: String,
    /// What the answer cost then.
    pub saved_usd: Option<f64>,
}

impl Hit {
    /// `entry` replayed for `client` (see [`Entry::replay`]).
    pub(super) fn replay(
        entry: Entry,
        client: &crate::codec::ClientView,
        stream: bool,
        model: &str,
        now_ms: i64,
    ) -> Hit {
        let (fetched_by, saved_usd) = (entry.request_id.clone(), entry.cost_usd);
        let body = entry.replay(client, stream, model, now_ms);
        Hit { body, stream, json_array: client.json_array, fetched_by, saved_usd }
    }
}

/// Where and how long an answer is kept.
pub(crate) struct Fill {
    store: Arc<dyn AnswerStore>,
    key: String,
    ttl_ms: i64,
    max_bytes: usize,
}

impl Fill {
    /// Keeps `response`, fetched by `request_id` for `cost_usd`, unless it is not an answer to
    /// keep or too large. Whether it was kept.
    pub(crate) async fn keep(
        self,
        response: Response,
        request_id: &str,
        cost_usd: Option<f64>,
        now_ms: i64,
    ) -> bool {
        if !answers::keeps(&response) {
            return false;
        }
        let entry =
            Entry { request_id: request_id.to_owned(), cost_usd, stored_ms: now_ms, response };
        let bytes: Bytes = entry.encode();
        if bytes.len() > self.max_bytes {
            return false;
        }
        match self.store.put(&self.key, bytes, now_ms, now_ms + self.ttl_ms).await {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(error = %e, "the response cache could not keep an answer");
                false
            }
        }
    }
}
