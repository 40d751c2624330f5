//! Native implementations of the core's IO traits, shared by the server and Lambda hosts:
//! reqwest for outbound HTTP, libSQL for SQL, tokio and the OS for time and randomness, and Redis
//! for key limits when `LIMITS_URL` names one.

mod http_client;
mod platform;
pub mod redis_limits;
mod sql;

use std::sync::Arc;

pub use redis_limits::RedisLimits;

pub use http_client::ReqwestClient;
pub use platform::NativePlatform;
pub use sql::{LibsqlExec, open_database};

/// The limit store `LIMITS_URL` names: unset for the database, `redis://` or `rediss://` (TLS) for
/// Redis.
pub fn limit_store(url: Option<&str>) -> Result<Option<Arc<dyn gateway_core::LimitStore>>, String> {
    match url.map(str::trim).filter(|u| !u.is_empty()) {
        None => Ok(None),
        Some(u) if u.starts_with("redis://") || u.starts_with("rediss://") => {
            Ok(Some(Arc::new(RedisLimits::new(u)?)))
        }
        Some(_) => Err("LIMITS_URL must be a redis:// or rediss:// URL".into()),
    }
}
