//! Key/value settings, including secrets the gateway generated for itself in development.

use super::{Store, StoreResult};
use crate::io::Value;

impl Store {
    pub async fn setting(&self, key: &str) -> StoreResult<Option<String>> {
        self.query_one("SELECT value FROM settings WHERE key = ?", vec![key.into()], |r| {
            r.text("value")
        })
        .await
    }

    pub async fn put_setting(&self, key: &str, value: &str, now_ms: i64) -> StoreResult<()> {
        self.execute(
            "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) \
             ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            vec![key.into(), value.into(), Value::Integer(now_ms)],
        )
        .await?;
        Ok(())
    }

    /// Deletes the setting only while it still holds `value` (safe against a concurrent writer).
    pub async fn delete_setting_if(&self, key: &str, value: &str) -> StoreResult<()> {
        self.execute(
            "DELETE FROM settings WHERE key = ? AND value = ?",
            vec![key.into(), value.into()],
        )
        .await?;
        Ok(())
    }

    /// Stores `value` unless the key already has one; returns whichever value is stored, so
    /// instances racing to initialise a setting all end up with the same one.
    pub async fn setting_or_insert(
        &self,
        key: &str,
        value: &str,
        now_ms: i64,
    ) -> StoreResult<String> {
        self.execute(
            "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) ON CONFLICT(key) DO NOTHING",
            vec![key.into(), value.into(), Value::Integer(now_ms)],
        )
        .await?;
        Ok(self.setting(key).await?.unwrap_or_else(|| value.to_owned()))
    }
}
