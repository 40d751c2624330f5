//! `GET /api/admin/settings`, `PUT/PATCH /api/admin/settings`: gateway-wide settings kept in the
//! database (so every instance sharing it agrees).

use serde::{Deserialize, Serialize};

use super::{AdminResult, ok, validate};
use crate::error::{GatewayError, RequestError};
use crate::gateway::Inner;

pub const LOG_RETENTION_DAYS: &str = "log_retention_days";
pub const DEFAULT_RETENTION_DAYS: i64 = 30;
/// When the periodic jobs last ran (Unix ms), for operators and the hosts' tests.
pub const LAST_MAINTENANCE: &str = "maintenance.last_run_ms";

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
    let days = inner.store.setting(LOG_RETENTION_DAYS).await?.and_then(|v| v.parse().ok());
    let last = inner.store.setting(LAST_MAINTENANCE).await?.and_then(|v| v.parse().ok());
    Ok(Settings {
        log_retention_days: Some(days.unwrap_or(DEFAULT_RETENTION_DAYS)),
        last_maintenance_at: last,
        monitoring_enabled: Some(crate::health::enabled(&inner.store).await?),
        monitoring_real_traffic: Some(
            inner.store.setting(crate::health::REAL_TRAFFIC).await?.as_deref() == Some("true"),
        ),
    })
}

pub(super) async fn route(inner: &Inner, method: &http::Method, body: &[u8]) -> AdminResult {
    match *method {
        http::Method::GET => Ok(ok(&current(inner).await?)),
        http::Method::PUT | http::Method::PATCH => {
            let input: Settings = validate::body(body)?;
            if let Some(days) = input.log_retention_days {
                if !(1..=3650).contains(&days) {
                    return Err(
                        RequestError::field("log_retention_days", "must be 1 to 3650").into()
                    );
                }
                inner
                    .store
                    .put_setting(LOG_RETENTION_DAYS, &days.to_string(), inner.platform.now_ms())
                    .await?;
            }
            if let Some(on) = input.monitoring_real_traffic {
                let value = if on { "true" } else { "false" };
                let now = inner.platform.now_ms();
                inner.store.put_setting(crate::health::REAL_TRAFFIC, value, now).await?;
            }
            if let Some(on) = input.monitoring_enabled {
                crate::health::set_monitoring(inner, on).await?;
            }
            Ok(ok(&current(inner).await?))
        }
        _ => Err(RequestError::MethodNotAllowed.into()),
    }
}
