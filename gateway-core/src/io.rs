//! The complete list of effects the core needs from a host: HTTP out, SQL, and a clock with randomness.
//!
//! Each host implements these three traits once (reqwest + libSQL + tokio natively, `fetch` + Turso/D1
//! on Workers); the core never touches a socket, a file, the environment or the system clock itself.

use std::time::Duration;

use bytes::Bytes;

use crate::io_trait;
use crate::maybe_send::{BoxFuture, BoxStream, MaybeSend, MaybeSync};

/// A response body arriving in pieces, as the upstream sends them.
pub type ByteStream = BoxStream<'static, Result<Bytes, TransportError>>;

/// Why an outbound HTTP exchange failed before or while its body arrived.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The connection could not be made (DNS, refused, TLS).
    #[error("could not connect to upstream: {0}")]
    Connect(String),
    /// No response headers arrived before the deadline.
    #[error("upstream did not answer within {0} ms")]
    Timeout(u64),
    /// The body broke off after the headers arrived.
    #[error("upstream body failed: {0}")]
    Body(String),
    /// The request could not even be built (bad URL, bad header).
    #[error("invalid upstream request: {0}")]
    InvalidRequest(String),
}

impl TransportError {
    /// HTTP status the caller sees for this failure.
    pub fn status(&self) -> http::StatusCode {
        match self {
            Self::Timeout(_) => http::StatusCode::GATEWAY_TIMEOUT,
            _ => http::StatusCode::BAD_GATEWAY,
        }
    }

    /// Stable snake_case name of this failure.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::Connect(_) => "upstream_connection_error",
            Self::Timeout(_) => "upstream_timeout",
            Self::Body(_) => "upstream_stream_error",
            Self::InvalidRequest(_) => "upstream_request_invalid",
        }
    }
}

io_trait! {
    /// Outbound HTTP. `timeout` bounds the time until response headers arrive; the body may take longer.
    pub trait HttpClient: MaybeSend + MaybeSync {
        async fn send(
            &self,
            request: http::Request<Bytes>,
            timeout: Duration,
        ) -> Result<http::Response<ByteStream>, TransportError>;
    }
}

/// One SQL value, the five SQLite storage classes.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Integer(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

impl From<i64> for Value {
    fn from(v: i64) -> Self {
        Value::Integer(v)
    }
}
impl From<bool> for Value {
    fn from(v: bool) -> Self {
        Value::Integer(i64::from(v))
    }
}
impl From<f64> for Value {
    fn from(v: f64) -> Self {
        Value::Real(v)
    }
}
impl From<String> for Value {
    fn from(v: String) -> Self {
        Value::Text(v)
    }
}
impl From<&str> for Value {
    fn from(v: &str) -> Self {
        Value::Text(v.to_owned())
    }
}
impl<T: Into<Value>> From<Option<T>> for Value {
    fn from(v: Option<T>) -> Self {
        v.map_or(Value::Null, Into::into)
    }
}

/// A statement with positional (`?`) parameters.
#[derive(Debug, Clone, PartialEq)]
pub struct Stmt {
    pub sql: String,
    pub params: Vec<Value>,
}

impl Stmt {
    pub fn new(sql: impl Into<String>, params: Vec<Value>) -> Self {
        Self { sql: sql.into(), params }
    }
}

/// Result rows of a query, values in column order.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    pub columns: Vec<String>,
    pub rows: Vec<Vec<Value>>,
}

/// What a database driver reports; the message is for logs, never for API callers.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SqlError {
    /// A UNIQUE or PRIMARY KEY constraint rejected the write.
    #[error("constraint violated: {0}")]
    Constraint(String),
    /// Anything else the driver reported.
    #[error("database error: {0}")]
    Other(String),
}

io_trait! {
    /// Executes SQL (SQLite dialect). All statement text lives in the core's `store` module.
    pub trait SqlExec: MaybeSend + MaybeSync {
        /// Runs one statement and returns the number of rows it changed.
        async fn execute(&self, stmt: Stmt) -> Result<u64, SqlError>;
        /// Runs one statement and returns its rows.
        async fn query(&self, stmt: Stmt) -> Result<Rows, SqlError>;
        /// Runs statements in one transaction: all of them or none. Returns rows changed per statement.
        async fn batch(&self, stmts: Vec<Stmt>) -> Result<Vec<u64>, SqlError>;
    }
}

/// Clock, randomness and timers.
pub trait Platform: MaybeSend + MaybeSync {
    /// Wall-clock time in milliseconds since the Unix epoch.
    fn now_ms(&self) -> i64;
    /// Fills `buf` with cryptographically secure random bytes.
    fn random_bytes(&self, buf: &mut [u8]);
    /// Resolves after `duration`.
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()>;
    /// Runs CPU-heavy `work` (a password hash) where it does not hold up other requests — a
    /// blocking-task pool on native hosts — and resolves when it is done. By default inline
    /// (Workers: one thread per isolate, nowhere else to run it).
    fn blocking(&self, work: Box<dyn FnOnce() + Send + 'static>) -> BoxFuture<'static, ()> {
        work();
        Box::pin(async {})
    }
}
