//! Clock, randomness and timers from the OS and tokio.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use gateway_core::{BoxFuture, Platform};

#[derive(Debug, Default, Clone, Copy)]
pub struct NativePlatform;

impl Platform for NativePlatform {
    fn now_ms(&self) -> i64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
            .unwrap_or(0)
    }

    fn random_bytes(&self, buf: &mut [u8]) {
        // The OS RNG failing is not recoverable and must never yield predictable secrets.
        if let Err(e) = getrandom::getrandom(buf) {
            tracing::error!(error = %e, "OS random number generator failed");
            std::process::abort();
        }
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(duration))
    }

    /// On tokio's blocking pool: an Argon2 hash (tens of milliseconds of CPU) never stalls the
    /// async workers that serve every other request.
    fn blocking(&self, work: Box<dyn FnOnce() + Send + 'static>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            let _ = tokio::task::spawn_blocking(work).await;
        })
    }
}
