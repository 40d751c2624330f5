//! `GET /api/admin/settings`, `PUT/PATCH /api/admin/settings`: gateway-wide settings kept in the
//! database (so every instance sharing it agrees).

use serde::{Deserialize, Serialize};

use super::{AdminResult, ok, validate};
use crate::error::{GatewayError, RequestError};
use crate::routes::SettingsOp;
use crate::state::Inner;
use crate::store::settings::Setting;

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    /// Request logs older than this are deleted (daily rollups are kept).
    log_retention_days: Option<i64>,
    /// Read-only: when the periodic jobs (retention, rollups) last ran, Unix ms.
    #[serde(default, skip_deserializing)]
    last_maintenance_at: Option<i64>,
    /// Persistent health monitoring: when on, the scheduler probes every enabled health target.
    monitoring_enabled: Option<bool>,
    /// Real requests to a monitored model count in its health statistics too (default off).
    monitoring_real_traffic: Option<bool>,
}

async fn current(inner: &Inner) -> Result<Settings, GatewayError> {
    let store = &inner.store;
    Ok(Settings {
        log_retention_days: Some(store.log_retention_days().await?),
        last_maintenance_at: store.number(Setting::LastMaintenance).await?,
        monitoring_enabled: Some(store.flag(Setting::MonitoringEnabled).await?),
        monitoring_real_traffic: Some(store.flag(Setting::MonitoringRealTraffic).await?),
    })
}

pub(super) async fn route(inner: &Inner, op: SettingsOp, body: &[u8]) -> AdminResult {
    match op {
        SettingsOp::Read => Ok(ok(&current(inner).await?)),
        SettingsOp::Update => {
            let input: Settings = validate::body(body)?;
            if let Some(days) = input.log_retention_days {
                if !(1..=3650).contains(&days) {
                    return Err(
                        RequestError::field("log_retention_days", "must be 1 to 3650").into()
                    );
                }
                let now = inner.platform.now_ms();
                inner.store.put_number(Setting::LogRetentionDays, days, now).await?;
            }
            if let Some(on) = input.monitoring_real_traffic {
                let now = inner.platform.now_ms();
                inner.store.put_flag(Setting::MonitoringRealTraffic, on, now).await?;
            }
            if let Some(on) = input.monitoring_enabled {
                crate::health::set_monitoring(inner, on).await?;
            }
            Ok(ok(&current(inner).await?))
        }
    }
}
