//! `llm-gateway`: the standalone server. Reads the environment, opens the libSQL database, starts
//! the core and serves it with axum until SIGINT/SIGTERM, then drains background work.

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use gateway_core::{Config, Deps, Gateway, RawConfig};
use gateway_native::{NativePlatform, ReqwestClient, limit_store, open_database};
use tokio_util::task::TaskTracker;

use gateway_server::settings::{self, ServerSettings};
use gateway_server::{host, serve};

#[tokio::main]
async fn main() -> ExitCode {
    if std::env::args().any(|a| a == "--help" || a == "-h") {
        print_help();
        return ExitCode::SUCCESS;
    }
    if std::env::args().any(|a| a == "--healthcheck") {
        return healthcheck();
    }
    let settings = ServerSettings::from_env();
    settings.init_tracing();
    match run(settings).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(problem) => {
            tracing::error!("{problem}");
            ExitCode::FAILURE
        }
    }
}

async fn run(settings: ServerSettings) -> Result<(), String> {
    let config = Config::validate(RawConfig::from_lookup(|name| std::env::var(name).ok()))
        .map_err(|problems| format!("invalid configuration:\n  {}", problems.join("\n  ")))?;
    let db = open_database(&settings.database_url, settings.database_auth_token.as_deref()).await?;
    let http = ReqwestClient::new().map_err(|e| format!("HTTP client: {e}"))?;
    let limits = limit_store(std::env::var("LIMITS_URL").ok().as_deref())?;
    let deps = Deps {
        http: Arc::new(http),
        db,
        platform: Arc::new(NativePlatform),
        limits,
        flushes_limits: true,
        answers: None,
    };
    let gateway =
        Gateway::start(config, deps).await.map_err(|e| format!("start-up failed: {e}"))?;
    tracing::info!(database = %settings.database_url, "gateway ready");

    let tracker = TaskTracker::new();
    spawn_maintenance(gateway.clone(), settings.maintenance_interval);
    spawn_health_checker(gateway.clone(), settings.health_tick);
    spawn_limit_flusher(gateway.clone());
    let gateway_for_exit = gateway.clone();
    let app = host::router(host::App {
        gateway,
        background: host::Background::Tracked(tracker.clone()),
        admin_ui: settings.admin_ui_dir.clone(),
        body_timeout: settings.body_timeout,
    });
    let listener = tokio::net::TcpListener::bind((settings.host.as_str(), settings.port))
        .await
        .map_err(|e| format!("cannot listen on {}:{}: {e}", settings.host, settings.port))?;
    let addr = listener.local_addr().map_err(|e| e.to_string())?;
    let limits = serve::Limits {
        header_read: settings.header_timeout,
        max_connections: settings.max_connections,
    };
    tracing::info!(max_connections = limits.max_connections, "listening on http://{addr}");
    let connections = serve::serve(listener, app, limits, shutdown_signal()).await;

    // Drain: open requests may finish until the deadline; then open streams end with an error
    // event in their caller's protocol (and are logged), so the process exits before an
    // orchestrator's hard kill would lose the log batch.
    if tokio::time::timeout(settings.drain_timeout, connections.wait()).await.is_err() {
        tracing::warn!(
            drain_secs = settings.drain_timeout.as_secs(),
            "drain deadline passed: ending open streams"
        );
        gateway_for_exit.end_streams();
        if tokio::time::timeout(Duration::from_secs(5), connections.wait()).await.is_err() {
            tracing::warn!("connections still open after ending the streams; exiting anyway");
        }
    }
    tracker.close();
    if tokio::time::timeout(Duration::from_secs(10), tracker.wait()).await.is_err() {
        tracing::warn!("gave up waiting for background work after 10 s");
    }
    gateway_for_exit.flush_limits(true).await;
    gateway_for_exit.flush_logs().await;
    let pending = gateway_for_exit.pending_logs();
    if pending > 0 {
        tracing::error!(pending, "request logs could not be written before exit");
    }
    tracing::info!("stopped");
    Ok(())
}

/// `llm-gateway --healthcheck`: exits 0 when `GET /healthz` on this host's port answers 200 (for
/// container health checks without curl in the image).
fn healthcheck() -> ExitCode {
    use std::io::{Read, Write};
    let port = std::env::var("PORT").ok().and_then(|p| p.parse::<u16>().ok()).unwrap_or(8080);
    let check = || -> std::io::Result<bool> {
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(3)))?;
        stream.write_all(b"GET /healthz HTTP/1.0\r\nHost: localhost\r\n\r\n")?;
        let mut head = [0u8; 12];
        stream.read_exact(&mut head)?;
        Ok(head.ends_with(b" 200"))
    };
    if check().unwrap_or(false) { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

fn print_help() {
    println!("llm-gateway {}: LLM gateway, standalone server\n", env!("CARGO_PKG_VERSION"));
    println!("Configured by environment variables:");
    for (name, what) in settings::NAMES.iter().chain(RawConfig::NAMES) {
        println!("  {name:<20} {what}");
    }
}

/// Log rollups and retention, limit-window cleanup: every `every` (hourly by default), the first
/// time a minute after start at the latest.
fn spawn_maintenance(gateway: Gateway, every: Duration) {
    tokio::spawn(async move {
        let first = tokio::time::Instant::now() + every.min(Duration::from_secs(60));
        let mut interval = tokio::time::interval_at(first, every);
        loop {
            interval.tick().await;
            if let Err(e) = gateway.maintenance().await {
                tracing::error!(error = %e, "maintenance failed");
            }
        }
    });
}

/// The health checker: every `every` (a minute by default) probes the targets that are due, when
/// persistent monitoring is on.
fn spawn_health_checker(gateway: Gateway, every: Duration) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(every);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            if let Err(e) = gateway.health_tick().await {
                tracing::error!(error = %e, "health check round failed");
            }
        }
    });
}

/// Every five seconds: leased limit capacity owed or idle goes back to the shared store,
/// concurrency slots in use are renewed, and request logs a failed write left queued are
/// written (so none waits in memory longer than that).
fn spawn_limit_flusher(gateway: Gateway) {
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(Duration::from_secs(5));
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            interval.tick().await;
            gateway.flush_limits(false).await;
            gateway.flush_logs().await;
        }
    });
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing open requests and pending log writes");
}
