//! The response cache in the database (`CACHE_STORE=database`): answers shared by every instance
//! on one libSQL file, Turso or D1, expiring by their own time and removed by the periodic jobs.

use bytes::Bytes;

use super::Store;
use crate::answers::{AnswerStore, AnswerStoreError};
use crate::io::Value;

fn failed(e: super::StoreError) -> AnswerStoreError {
    AnswerStoreError(e.to_string())
}

crate::io_trait! {
impl AnswerStore for Store {
    async fn get(&self, key: &str, now_ms: i64) -> Result<Option<Bytes>, AnswerStoreError> {
        let entry = self
            .query_one(
                "SELECT entry FROM response_cache WHERE key = ? AND expires_at > ?",
                vec![key.into(), Value::Integer(now_ms)],
                |r| r.text("entry"),
            )
            .await
            .map_err(failed)?;
        Ok(entry.map(Bytes::from))
    }

    async fn put(
        &self,
        key: &str,
        entry: Bytes,
        _now_ms: i64,
        expires_ms: i64,
    ) -> Result<(), AnswerStoreError> {
        let text = String::from_utf8(entry.to_vec())
            .map_err(|_| AnswerStoreError("an entry is not UTF-8".into()))?;
        self.execute(
            "INSERT INTO response_cache (key, entry, expires_at) VALUES (?, ?, ?) \
             ON CONFLICT (key) DO UPDATE SET entry = excluded.entry, expires_at = excluded.expires_at",
            vec![key.into(), text.into(), Value::Integer(expires_ms)],
        )
        .await
        .map_err(failed)?;
        Ok(())
    }

    async fn prune(&self, now_ms: i64) -> Result<u64, AnswerStoreError> {
        self.execute("DELETE FROM response_cache WHERE expires_at <= ?", vec![Value::Integer(now_ms)])
            .await
            .map_err(failed)
    }
}
}
