//! A short-lived in-memory cache of virtual-key lookups, so the hot path does not read the database
//! for every request. Entries live 5 seconds (the longest another instance's admin change can go
//! unseen here); this instance's own admin changes clear it at once.

use std::collections::HashMap;
use std::sync::Mutex;

use crate::store::keys::VirtualKey;

const TTL_MS: i64 = 5_000;
const MAX_ENTRIES: usize = 10_000;

#[derive(Debug, Default)]
pub struct KeyCache {
    entries: Mutex<HashMap<String, (Option<VirtualKey>, i64)>>,
}

impl KeyCache {
    /// The cached lookup of `hash` (`Some(None)`: known not to exist), if still fresh.
    pub fn get(&self, hash: &str, now_ms: i64) -> Option<Option<VirtualKey>> {
        let entries = self.entries.lock().ok()?;
        entries.get(hash).filter(|(_, at)| now_ms - at < TTL_MS).map(|(k, _)| k.clone())
    }

    pub fn put(&self, hash: &str, key: Option<VirtualKey>, now_ms: i64) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.retain(|_, (_, at)| now_ms - *at < TTL_MS);
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
            }
            entries.insert(hash.to_owned(), (key, now_ms));
        }
    }

    pub fn clear(&self) {
        if let Ok(mut entries) = self.entries.lock() {
            entries.clear();
        }
    }
}

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
