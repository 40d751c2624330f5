//! Settings only the standalone server has: where to listen, where the database and the admin UI
//! are, logging. Everything the gateway itself needs is read by the core's `RawConfig`.

use std::path::PathBuf;

pub struct ServerSettings {
    pub host: String,
    pub port: u16,
    pub database_url: String,
    pub database_auth_token: Option<String>,
    pub admin_ui_dir: PathBuf,
    pub maintenance_interval: std::time::Duration,
    pub health_tick: std::time::Duration,
    /// Time to send a request's headers; also how long an idle keep-alive connection stays.
    pub header_timeout: std::time::Duration,
    /// Time to send a request's whole body.
    pub body_timeout: std::time::Duration,
    pub max_connections: usize,
    /// After SIGTERM: how long open requests may finish before open streams are ended.
    pub drain_timeout: std::time::Duration,
    json_logs: bool,
}

/// Server-only environment variables, documented in the README.
pub const NAMES: &[(&str, &str)] = &[
    ("HOST", "address to listen on (default 127.0.0.1; 0.0.0.0 in the Docker image)"),
    ("PORT", "port to listen on (default 8080; 0 picks a free one)"),
    (
        "DATABASE_URL",
        "libSQL database: a file (default ./data/gateway.db) or libsql:// / https:// (Turso)",
    ),
    ("DATABASE_AUTH_TOKEN", "auth token for a remote (Turso) database"),
    ("ADMIN_UI_DIR", "directory of the static admin UI (default ./admin-ui)"),
    ("MAINTENANCE_INTERVAL_SECS", "how often log retention and rollups run (default 3600)"),
    ("HEALTH_TICK_SECS", "how often the health checker looks for due targets (default 60)"),
    (
        "HEADER_TIMEOUT_SECS",
        "time a client has to send a request's headers; also the idle keep-alive timeout (default 30)",
    ),
    ("BODY_TIMEOUT_SECS", "time a client has to send a request's body (default 60; 408 beyond)"),
    (
        "MAX_CONNECTIONS",
        "open connections at most (default: the open-file limit less 128, at most 10000)",
    ),
    (
        "DRAIN_TIMEOUT_SECS",
        "after SIGTERM, how long open requests may finish before open streams are ended (default 20)",
    ),
    ("LOG_FORMAT", "text (default) or json"),
    ("RUST_LOG", "log filter (default info)"),
];

/// `./admin-ui` when it exists (the repo root, the Docker image), else the checkout this binary
/// was built from, so the UI is found wherever `cargo run` or the tests start the binary.
fn default_admin_ui() -> PathBuf {
    let local = PathBuf::from("admin-ui");
    if local.is_dir() {
        return local;
    }
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../admin-ui"))
}

impl ServerSettings {
    pub fn from_env() -> Self {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let secs = |name: &str, default: u64| {
            std::time::Duration::from_secs(
                var(name).and_then(|v| v.parse().ok()).filter(|s| *s > 0).unwrap_or(default),
            )
        };
        Self {
            host: var("HOST").unwrap_or_else(|| "127.0.0.1".into()),
            port: var("PORT").and_then(|p| p.parse().ok()).unwrap_or(8080),
            database_url: var("DATABASE_URL").unwrap_or_else(|| "./data/gateway.db".into()),
            database_auth_token: var("DATABASE_AUTH_TOKEN"),
            admin_ui_dir: var("ADMIN_UI_DIR").map_or_else(default_admin_ui, PathBuf::from),
            maintenance_interval: std::time::Duration::from_secs(
                var("MAINTENANCE_INTERVAL_SECS")
                    .and_then(|v| v.parse().ok())
                    .filter(|s| *s > 0)
                    .unwrap_or(3600),
            ),
            health_tick: std::time::Duration::from_secs(
                var("HEALTH_TICK_SECS")
                    .and_then(|v| v.parse().ok())
                    .filter(|s| *s > 0)
                    .unwrap_or(60),
            ),
            header_timeout: secs("HEADER_TIMEOUT_SECS", 30),
            body_timeout: secs("BODY_TIMEOUT_SECS", 60),
            max_connections: var("MAX_CONNECTIONS")
                .and_then(|v| v.parse().ok())
                .filter(|n| *n > 0)
                .unwrap_or_else(crate::serve::default_max_connections),
            drain_timeout: secs("DRAIN_TIMEOUT_SECS", 20),
            json_logs: var("LOG_FORMAT").is_some_and(|f| f.eq_ignore_ascii_case("json")),
        }
    }

    pub fn init_tracing(&self) {
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        let ansi = std::io::IsTerminal::is_terminal(&std::io::stdout());
        let builder = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(ansi);
        if self.json_logs {
            builder.json().init();
        } else {
            builder.init();
        }
    }
}
