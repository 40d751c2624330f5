//! Key/value settings kept in the database (so every instance sharing it agrees), each named by a
//! [`Setting`] with a typed accessor: nothing outside this file spells a setting's key.

use super::{Store, StoreResult};
use crate::io::Value;

/// Every setting the gateway keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Setting {
    /// Request logs older than this many days are deleted (daily rollups are kept).
    LogRetentionDays,
    /// When the periodic jobs last ran, Unix ms.
    LastMaintenance,
    /// Persistent health monitoring is on.
    MonitoringEnabled,
    /// Real requests to a monitored model count in its statistics too.
    MonitoringRealTraffic,
    /// The monitoring-only key's id, and its secret sealed with the credentials key.
    MonitoringKeyId,
    MonitoringKeySealed,
    /// Where the last traffic import started reading request logs, Unix ms.
    TrafficCursor,
    /// The hour (Unix ms) below which hourly statistics are rolled up.
    StatsRolledUntil,
    /// A secret generated in development when none is configured (`jwt`, `credentials`).
    DevSecret(&'static str),
}

/// Days of request logs kept when no one has said otherwise.
pub const DEFAULT_RETENTION_DAYS: i64 = 30;

impl Setting {
    fn key(self) -> std::borrow::Cow<'static, str> {
        match self {
            Self::LogRetentionDays => "log_retention_days".into(),
            Self::LastMaintenance => "maintenance.last_run_ms".into(),
            Self::MonitoringEnabled => "monitoring.enabled".into(),
            Self::MonitoringRealTraffic => "monitoring.real_traffic".into(),
            Self::MonitoringKeyId => "monitoring.key_id".into(),
            Self::MonitoringKeySealed => "monitoring.key_sealed".into(),
            Self::TrafficCursor => "monitoring.traffic_cursor".into(),
            Self::StatsRolledUntil => "stats.rolled_until_hour".into(),
            Self::DevSecret(name) => format!("dev.{name}").into(),
        }
    }
}

impl Store {
    /// A setting's text, if it has one.
    pub async fn text(&self, setting: Setting) -> StoreResult<Option<String>> {
        self.setting(&setting.key()).await
    }

    /// A setting by its raw key (the typed accessors here are what the gateway uses).
    pub async fn setting(&self, key: &str) -> StoreResult<Option<String>> {
        self.query_one("SELECT value FROM settings WHERE key = ?", vec![key.into()], |r| {
            r.text("value")
        })
        .await
    }

    /// A numeric setting (`None` when unset or unreadable).
    pub async fn number(&self, setting: Setting) -> StoreResult<Option<i64>> {
        Ok(self.text(setting).await?.and_then(|v| v.parse().ok()))
    }

    /// A switch (off unless set to on).
    pub async fn flag(&self, setting: Setting) -> StoreResult<bool> {
        Ok(self.text(setting).await?.as_deref() == Some("true"))
    }

    /// Days of request logs to keep.
    pub async fn log_retention_days(&self) -> StoreResult<i64> {
        Ok(self.number(Setting::LogRetentionDays).await?.unwrap_or(DEFAULT_RETENTION_DAYS))
    }

    pub async fn put_text(&self, setting: Setting, value: &str, now_ms: i64) -> StoreResult<()> {
        self.put_setting(&setting.key(), value, now_ms).await
    }

    /// Sets a setting by its raw key.
    pub async fn put_setting(&self, key: &str, value: &str, now_ms: i64) -> StoreResult<()> {
        self.execute(
            "INSERT INTO settings (key, value, updated_at) VALUES (?, ?, ?) \
             ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
            vec![key.into(), value.into(), Value::Integer(now_ms)],
        )
        .await?;
        Ok(())
    }

    pub async fn put_number(&self, setting: Setting, value: i64, now_ms: i64) -> StoreResult<()> {
        self.put_text(setting, &value.to_string(), now_ms).await
    }

    pub async fn put_flag(&self, setting: Setting, on: bool, now_ms: i64) -> StoreResult<()> {
        self.put_text(setting, if on { "true" } else { "false" }, now_ms).await
    }

    /// Deletes the setting only while it still holds `value` (safe against a concurrent writer).
    pub async fn delete_text_if(&self, setting: Setting, value: &str) -> StoreResult<()> {
        self.execute(
            "DELETE FROM settings WHERE key = ? AND value = ?",
            vec![setting.key().as_ref().into(), value.into()],
        )
        .await?;
        Ok(())
    }

    /// Stores `value` unless the setting already has one; returns whichever value is stored, so
    /// instances racing to initialise a setting all end up with the same one.
    pub async fn text_or_insert(
        &self,
        setting: Setting,
        value: &str,
        now_ms: i64,
    ) -> StoreResult<String> {
        self.setting_or_insert(&setting.key(), value, now_ms).await
    }

    /// `text_or_insert` by the raw key (the typed accessors above are what the gateway uses).
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
