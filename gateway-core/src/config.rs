//! Configuration: the names hosts read (env vars, Worker vars), parsed and validated in one place.
//!
//! A host fills [`RawConfig`] through [`RawConfig::from_lookup`] with whatever lookup it has (process
//! environment, Worker bindings); [`Config::validate`] then reports every problem at once.

use std::fmt;
use std::time::Duration;

/// Where LiteLLM publishes its list (overridable with `CATALOG_URL`).
pub(crate) const DEFAULT_LITELLM_URL: &str =
    "https://raw.githubusercontent.com/BerriAI/litellm/main/model_prices_and_context_window.json";
/// models.dev's list, the second source (overridable with `CATALOG_MODELS_DEV_URL`).
pub(crate) const DEFAULT_MODELS_DEV_URL: &str = "https://models.dev/api.json";

/// A secret string whose `Debug` and `Display` never reveal it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }
    /// The secret itself; call only where it is used, never to log.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

/// Every setting as text, exactly as the host found it.
#[derive(Debug, Clone, Default)]
pub struct RawConfig {
    pub env: Option<String>,
    pub jwt_secret: Option<Secret>,
    pub gateway_secret: Option<Secret>,
    pub admin_username: Option<String>,
    pub admin_password: Option<Secret>,
    pub upstream_timeout_ms: Option<String>,
    pub stream_idle_timeout_ms: Option<String>,
    pub trust_forwarded_for: Option<String>,
    pub trusted_proxies: Option<String>,
    pub metrics_token: Option<Secret>,
    pub admin_cors_origins: Option<String>,
    pub catalog_url: Option<String>,
    pub catalog_models_dev_url: Option<String>,
    pub max_body_bytes: Option<String>,
    pub max_body_memory_mb: Option<String>,
    pub limit_lease_seconds: Option<String>,
    pub cache_store: Option<String>,
    pub cache_memory_mb: Option<String>,
}

impl RawConfig {
    /// Setting names the hosts read, with what each is for (printed by `--help`-style docs).
    pub const NAMES: &'static [(&'static str, &'static str)] = &[
        ("GATEWAY_ENV", "development (default) or production"),
        ("JWT_SECRET", "HS256 key for admin sessions; at least 32 bytes, required in production"),
        (
            "GATEWAY_SECRET",
            "key material for encrypting provider credentials; required in production",
        ),
        ("ADMIN_USERNAME", "name of the first admin user (default admin)"),
        ("ADMIN_PASSWORD", "password of the first admin user; generated and logged once if unset"),
        (
            "UPSTREAM_TIMEOUT_MS",
            "deadline to the upstream's first byte, and for a whole non-streamed answer (default 60000)",
        ),
        (
            "STREAM_IDLE_TIMEOUT_MS",
            "longest silence of a started upstream stream before it is ended with an error (default 120000)",
        ),
        (
            "TRUSTED_PROXIES",
            "reverse proxies whose X-Forwarded-For names the client: their addresses or CIDR blocks (comma-separated), or a hop count",
        ),
        ("TRUST_FORWARDED_FOR", "true: one proxy in front (TRUSTED_PROXIES=1)"),
        ("METRICS_TOKEN", "bearer token `GET /metrics` requires (open when unset)"),
        (
            "ADMIN_CORS_ORIGINS",
            "comma-separated origins allowed to call the admin API from a browser (none by default)",
        ),
        ("CATALOG_URL", "LiteLLM's model list for the model catalog (`off` for none)"),
        (
            "CATALOG_MODELS_DEV_URL",
            "models.dev's api.json, the catalog's second source (`off` for none)",
        ),
        ("MAX_BODY_BYTES", "largest request body accepted, in bytes (default 10485760)"),
        (
            "MAX_BODY_MEMORY_MB",
            "the most request bodies being read may hold together, in MiB (default 256); past it, 503",
        ),
        (
            "LIMIT_LEASE_SECONDS",
            "how long a concurrency slot outlives an instance that stops renewing it (default 900)",
        ),
        (
            "CACHE_STORE",
            "where the response cache keeps answers: `memory` (default; Workers: `workers`, the Cache API) or `database`",
        ),
        ("CACHE_MEMORY_MB", "the in-memory response cache's size in MiB (default 64)"),
    ];

    /// Builds the raw config from a lookup such as `std::env::var`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        Self {
            env: get("GATEWAY_ENV"),
            jwt_secret: get("JWT_SECRET").map(Secret::new),
            gateway_secret: get("GATEWAY_SECRET").map(Secret::new),
            admin_username: get("ADMIN_USERNAME"),
            admin_password: get("ADMIN_PASSWORD").map(Secret::new),
            upstream_timeout_ms: get("UPSTREAM_TIMEOUT_MS"),
            stream_idle_timeout_ms: get("STREAM_IDLE_TIMEOUT_MS"),
            trust_forwarded_for: get("TRUST_FORWARDED_FOR"),
            trusted_proxies: get("TRUSTED_PROXIES"),
            metrics_token: get("METRICS_TOKEN").map(Secret::new),
            admin_cors_origins: get("ADMIN_CORS_ORIGINS"),
            catalog_url: lookup("CATALOG_URL"),
            catalog_models_dev_url: lookup("CATALOG_MODELS_DEV_URL"),
            max_body_bytes: get("MAX_BODY_BYTES"),
            max_body_memory_mb: get("MAX_BODY_MEMORY_MB"),
            limit_lease_seconds: get("LIMIT_LEASE_SECONDS"),
            cache_store: get("CACHE_STORE"),
            cache_memory_mb: get("CACHE_MEMORY_MB"),
        }
    }
}

/// Deployment mode: production refuses weak or missing secrets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Environment {
    Development,
    Production,
}

/// Validated configuration the core runs with.
#[derive(Debug, Clone)]
pub struct Config {
    pub env: Environment,
    /// `None` in development: the core generates one and keeps it in the database.
    pub jwt_secret: Option<Secret>,
    /// `None` in development: the core generates one and keeps it in the database.
    pub gateway_secret: Option<Secret>,
    pub admin_username: String,
    pub admin_password: Option<Secret>,
    pub upstream_timeout: Duration,
    /// The longest a started upstream stream may stay silent.
    pub stream_idle_timeout: Duration,
    /// Which proxies' `X-Forwarded-For` names the client (`TRUSTED_PROXIES`).
    pub trusted_proxies: crate::net::TrustedProxies,
    pub metrics_token: Option<Secret>,
    /// Exact origins (`scheme://host[:port]`) whose browsers may call `/api/…`.
    pub admin_cors_origins: Vec<String>,
    /// Model catalog sources: (`litellm` | `models.dev`, URL); empty with `off`.
    pub catalog_sources: Vec<(&'static str, String)>,
    /// The largest request body a host reads; past it the caller gets 413 in its protocol.
    pub max_body_bytes: usize,
    /// The most bytes the request bodies being read may hold together (hosts refuse more with
    /// 503 `server_busy`).
    pub max_body_memory: usize,
    /// Lifetime of a concurrency slot not renewed (its instance died), in milliseconds.
    pub limit_lease_ms: i64,
    /// Where the response cache keeps answers.
    pub cache_store: CacheStore,
    /// The in-memory response cache's size, in bytes.
    pub cache_memory_bytes: usize,
}

/// Where the response cache keeps answers (`CACHE_STORE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CacheStore {
    /// This instance's memory.
    #[default]
    Memory,
    /// The database, shared by the instances on it.
    Database,
    /// The host's own (Workers: the Cache API); memory where the host has none.
    Host,
}

/// Minimum length of `JWT_SECRET` and `GATEWAY_SECRET`.
pub(crate) const MIN_SECRET_BYTES: usize = 32;

impl Default for Config {
    fn default() -> Self {
        Self {
            env: Environment::Development,
            jwt_secret: None,
            gateway_secret: None,
            admin_username: "admin".into(),
            admin_password: None,
            upstream_timeout: Duration::from_secs(60),
            stream_idle_timeout: Duration::from_secs(120),
            trusted_proxies: crate::net::TrustedProxies::None,
            metrics_token: None,
            admin_cors_origins: Vec::new(),
            catalog_sources: vec![
                ("litellm", DEFAULT_LITELLM_URL.into()),
                ("models.dev", DEFAULT_MODELS_DEV_URL.into()),
            ],
            max_body_bytes: 10 << 20,
            max_body_memory: 256 << 20,
            limit_lease_ms: 900_000,
            cache_store: CacheStore::Memory,
            cache_memory_bytes: 64 << 20,
        }
    }
}

impl Config {
    /// Checks every setting and returns all problems together, one line each.
    pub fn validate(raw: RawConfig) -> Result<Config, Vec<String>> {
        let mut problems = Vec::new();
        let mut config = Config::default();
        match raw.env.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("development") | Some("dev") => {}
            Some("production") | Some("prod") => config.env = Environment::Production,
            Some(other) => problems
                .push(format!("GATEWAY_ENV must be development or production, not {other:?}")),
        }
        let production = config.env == Environment::Production;
        for (name, value) in
            [("JWT_SECRET", &raw.jwt_secret), ("GATEWAY_SECRET", &raw.gateway_secret)]
        {
            match value {
                Some(s) if s.expose().len() < MIN_SECRET_BYTES => problems.push(format!(
                    "{name} must be at least {MIN_SECRET_BYTES} bytes (it has {})",
                    s.expose().len()
                )),
                None if production => {
                    problems.push(format!("{name} is required when GATEWAY_ENV=production"))
                }
                _ => {}
            }
        }
        config.jwt_secret = raw.jwt_secret;
        config.gateway_secret = raw.gateway_secret;
        if let Some(name) = raw.admin_username {
            if crate::validate::username(&name).is_err() {
                problems
                    .push("ADMIN_USERNAME must be 3-64 letters, digits, '.', '_' or '-'".into());
            }
            config.admin_username = name;
        }
        if let Some(p) = &raw.admin_password
            && p.expose().len() < 8
        {
            problems.push("ADMIN_PASSWORD must be at least 8 characters".into());
        }
        config.admin_password = raw.admin_password;
        for (name, value, slot) in [
            ("UPSTREAM_TIMEOUT_MS", raw.upstream_timeout_ms, &mut config.upstream_timeout),
            ("STREAM_IDLE_TIMEOUT_MS", raw.stream_idle_timeout_ms, &mut config.stream_idle_timeout),
        ] {
            let Some(ms) = value else { continue };
            match ms.trim().parse::<u64>() {
                Ok(v) if (100..=3_600_000).contains(&v) => *slot = Duration::from_millis(v),
                _ => problems.push(format!(
                    "{name} must be a number of milliseconds between 100 and 3600000, not {ms:?}"
                )),
            }
        }
        match (raw.trusted_proxies, raw.trust_forwarded_for) {
            (Some(v), _) => match crate::net::TrustedProxies::parse(&v) {
                Ok(p) => config.trusted_proxies = p,
                Err(e) => problems.push(format!("TRUSTED_PROXIES: {e}")),
            },
            (None, Some(v)) => match parse_bool(&v) {
                Some(true) => config.trusted_proxies = crate::net::TrustedProxies::Hops(1),
                Some(false) => {}
                None => {
                    problems.push(format!("TRUST_FORWARDED_FOR must be true or false, not {v:?}"))
                }
            },
            (None, None) => {}
        }
        config.metrics_token = raw.metrics_token;
        if let Some(v) = raw.max_body_bytes {
            match v.trim().parse::<usize>() {
                Ok(n) if (1024..=1 << 30).contains(&n) => config.max_body_bytes = n,
                _ => problems.push(format!(
                    "MAX_BODY_BYTES must be a number of bytes between 1024 and 1073741824, not {v:?}"
                )),
            }
        }
        if let Some(v) = raw.max_body_memory_mb {
            match v.trim().parse::<usize>() {
                Ok(n) if (1..=65_536).contains(&n) => config.max_body_memory = n << 20,
                _ => problems.push(format!(
                    "MAX_BODY_MEMORY_MB must be a number of MiB between 1 and 65536, not {v:?}"
                )),
            }
        }
        if config.max_body_memory < config.max_body_bytes {
            problems.push(format!(
                "MAX_BODY_MEMORY_MB ({} MiB) must hold at least one body of MAX_BODY_BYTES ({} bytes)",
                config.max_body_memory >> 20,
                config.max_body_bytes
            ));
        }
        if let Some(v) = raw.limit_lease_seconds {
            match v.trim().parse::<i64>() {
                Ok(n) if (2..=86_400).contains(&n) => config.limit_lease_ms = n * 1000,
                _ => problems.push(format!(
                    "LIMIT_LEASE_SECONDS must be a number of seconds between 2 and 86400, not {v:?}"
                )),
            }
        }
        match raw.cache_store.as_deref().map(str::trim) {
            None | Some("memory") => {}
            Some("database") => config.cache_store = CacheStore::Database,
            Some("workers") => config.cache_store = CacheStore::Host,
            Some(v) => problems
                .push(format!("CACHE_STORE must be `memory`, `database` or `workers`, not {v:?}")),
        }
        if let Some(v) = raw.cache_memory_mb {
            match v.trim().parse::<usize>() {
                Ok(n) if n <= 65_536 => config.cache_memory_bytes = n << 20,
                _ => problems.push(format!(
                    "CACHE_MEMORY_MB must be a number of MiB between 0 and 65536, not {v:?}"
                )),
            }
        }
        for (i, value) in [raw.catalog_url, raw.catalog_models_dev_url].into_iter().enumerate() {
            let Some(value) = value.map(|v| v.trim().to_owned()) else { continue };
            if value.is_empty() || value.eq_ignore_ascii_case("off") {
                config.catalog_sources[i].1.clear();
            } else if value.starts_with("https://") || value.starts_with("http://") {
                config.catalog_sources[i].1 = value;
            } else {
                problems.push(format!("catalog URLs must be http(s) URLs or `off`, not {value:?}"));
            }
        }
        config.catalog_sources.retain(|(_, url)| !url.is_empty());
        for origin in raw.admin_cors_origins.iter().flat_map(|v| v.split(',')) {
            let origin = origin.trim().trim_end_matches('/');
            let valid = (origin.starts_with("https://") || origin.starts_with("http://"))
                && !origin.contains(['*', ' '])
                && origin.splitn(4, '/').count() == 3;
            if valid {
                config.admin_cors_origins.push(origin.to_owned());
            } else if !origin.is_empty() {
                problems.push(format!(
                    "ADMIN_CORS_ORIGINS entries must be origins like https://admin.example.com, not {origin:?}"
                ));
            }
        }
        if problems.is_empty() { Ok(config) } else { Err(problems) }
    }
}

fn parse_bool(v: &str) -> Option<bool> {
    match v.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Some(true),
        "0" | "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(pairs: &[(&str, &str)]) -> RawConfig {
        let pairs: Vec<(String, String)> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        RawConfig::from_lookup(|name| pairs.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
    }

    #[test]
    fn development_needs_no_secrets() {
        let config = Config::validate(raw(&[])).unwrap();
        assert_eq!(config.env, Environment::Development);
        assert!(config.jwt_secret.is_none());
        assert_eq!(config.upstream_timeout, Duration::from_secs(60));
    }

    #[test]
    fn production_reports_every_missing_secret_at_once() {
        let problems = Config::validate(raw(&[("GATEWAY_ENV", "production")])).unwrap_err();
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("JWT_SECRET"));
        assert!(problems[1].contains("GATEWAY_SECRET"));
    }

    #[test]
    fn short_secret_and_bad_numbers_are_rejected() {
        let problems = Config::validate(raw(&[
            ("JWT_SECRET", "short"),
            ("UPSTREAM_TIMEOUT_MS", "soon"),
            ("TRUST_FORWARDED_FOR", "maybe"),
            ("ADMIN_CORS_ORIGINS", "https://ok.example, *, https://x.example/path"),
        ]))
        .unwrap_err();
        assert_eq!(problems.len(), 5, "{problems:?}");
        let config = Config::validate(raw(&[(
            "ADMIN_CORS_ORIGINS",
            "https://admin.example.com/, http://127.0.0.1:5173",
        )]))
        .unwrap();
        assert_eq!(
            config.admin_cors_origins,
            ["https://admin.example.com", "http://127.0.0.1:5173"]
        );
    }

    #[test]
    fn body_limit_is_read_once_and_checked() {
        assert_eq!(Config::validate(raw(&[])).unwrap().max_body_bytes, 10 << 20);
        let config = Config::validate(raw(&[("MAX_BODY_BYTES", "65536")])).unwrap();
        assert_eq!(config.max_body_bytes, 65536);
        for bad in ["10MB", "12", "-1"] {
            let problems = Config::validate(raw(&[("MAX_BODY_BYTES", bad)])).unwrap_err();
            assert!(problems[0].starts_with("MAX_BODY_BYTES must be"), "{problems:?}");
        }
    }

    #[test]
    fn secrets_never_print() {
        let s = Secret::new("hunter2-hunter2-hunter2-hunter2-xx");
        assert_eq!(format!("{s:?} {s}"), "*** ***");
    }
}
