//! Short-lived in-memory caches of what the hot path would otherwise read from the database on
//! every request: virtual keys (by hash) and resolved routes (by model name). Entries live 5
//! seconds (the longest another instance's admin change can go unseen here); this instance's own
//! admin changes clear them at once.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::store::keys::VirtualKey;

const TTL_MS: i64 = 5_000;
const MAX_ENTRIES: usize = 10_000;

/// A bounded map whose entries expire `TTL_MS` after they were put.
#[derive(Debug)]
pub(crate) struct TtlCache<V> {
    entries: Mutex<HashMap<String, (V, i64)>>,
}

impl<V> Default for TtlCache<V> {
    fn default() -> Self {
        Self { entries: Mutex::new(HashMap::new()) }
    }
}

impl<V: Clone> TtlCache<V> {
    /// The cached value for `key`, if still fresh.
    pub(crate) fn get(&self, key: &str, now_ms: i64) -> Option<V> {
        let entries = self.entries.lock().ok()?;
        entries.get(key).filter(|(_, at)| now_ms - at < TTL_MS).map(|(v, _)| v.clone())
    }

    pub(crate) fn put(&self, key: &str, value: V, now_ms: i64) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.retain(|_, (_, at)| now_ms - *at < TTL_MS);
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
            }
            entries.insert(key.to_owned(), (value, now_ms));
        }
    }

    pub(crate) fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

/// Key lookups by hash (`None`: known not to exist).
pub(crate) type KeyCache = TtlCache<Option<std::sync::Arc<VirtualKey>>>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_expire_and_clear() {
        let cache = KeyCache::default();
        cache.put("h", None, 1_000);
        assert_eq!(cache.get("h", 1_000 + TTL_MS - 1), Some(None));
        assert_eq!(cache.get("h", 1_000 + TTL_MS), None);
        cache.put("h", None, 0);
        cache.clear();
        assert_eq!(cache.get("h", 0), None);
    }

    #[test]
    fn stays_bounded() {
        let cache = KeyCache::default();
        for i in 0..(MAX_ENTRIES + 10) {
            cache.put(&i.to_string(), None, 0);
        }
        assert!(cache.entries.lock().unwrap().len() <= MAX_ENTRIES);
    }
}
