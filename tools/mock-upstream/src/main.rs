//! `mock-upstream`: runs the mock provider on 127.0.0.1 until interrupted (benchmarks use it).
//! `PORT` (default 0 = any free port), `MOCK_LATENCY_MS`, `MOCK_JITTER_MS` (up to that much more,
//! uniformly), `MOCK_CHUNK_DELAY_MS`, `MOCK_ERROR_RATE` (0–1: share answered with a 500). It keeps
//! no copy of the requests it serves. Stream length: name the upstream model `…chunks-<n>…`.

use std::time::Duration;

use mock_upstream::{MockConfig, spawn};

fn env_ms(name: &str) -> Duration {
    Duration::from_millis(std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(0))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let port = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(0);
    let config = MockConfig {
        latency: env_ms("MOCK_LATENCY_MS"),
        jitter: env_ms("MOCK_JITTER_MS"),
        chunk_delay: env_ms("MOCK_CHUNK_DELAY_MS"),
        error_rate: std::env::var("MOCK_ERROR_RATE")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0),
        no_record: true,
    };
    let (addr, _mock) = spawn(config, port).await?;
    println!("listening on http://{addr}");
    let _ = tokio::signal::ctrl_c().await;
    Ok(())
}
