//! The core's SQL on libSQL: a local file (WAL, `synchronous = NORMAL`, busy timeout), one
//! connection per operation from a small pool so a statement's row count and a batch's transaction
//! are never interleaved with another task's; remote libSQL (Turso) through the core's Hrana client.

use std::path::Path;
use std::sync::{Arc, Mutex};

use gateway_core::hrana::HranaExec;
use gateway_core::{Rows, Secret, SqlError, SqlExec, Stmt, Value, async_trait};
use libsql::{Connection, Database, TransactionBehavior};

const POOL_MAX: usize = 16;
const SQLITE_CONSTRAINT: i32 = 19;

pub struct LibsqlExec {
    db: Database,
    idle: Mutex<Vec<Connection>>,
}

impl std::fmt::Debug for LibsqlExec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LibsqlExec")
    }
}

/// Opens the database named by `DATABASE_URL`: remote libSQL (Turso: `libsql://…`, `https://…`,
/// or `http://…` for a local server) with `DATABASE_AUTH_TOKEN`, else a file path or `file:` URL
/// (directories are created).
///
/// A remote database is spoken to with the core's Hrana client ([`HranaExec`]), as on Workers:
/// every batch is one HTTP pipeline request (`BEGIN IMMEDIATE` … `COMMIT`, rolled back on any
/// failure), so no transaction is ever left open on the server between two requests — an
/// interactive remote transaction (one request per statement) holds the database's write lock
/// while its client is busy elsewhere, and every other writer waits.
pub async fn open_database(
    url: &str,
    auth_token: Option<&str>,
) -> Result<Arc<dyn SqlExec>, String> {
    if ["libsql://", "https://", "http://"].iter().any(|s| url.starts_with(s)) {
        let http = crate::ReqwestClient::new().map_err(|e| format!("HTTP client: {e}"))?;
        let token = auth_token.filter(|t| !t.is_empty()).map(Secret::new);
        return Ok(Arc::new(HranaExec::new(Arc::new(http), url, token)));
    }
    let path = url.strip_prefix("file://").or_else(|| url.strip_prefix("file:")).unwrap_or(url);
    if let Some(dir) = Path::new(path).parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create database directory {}: {e}", dir.display()))?;
    }
    let db = libsql::Builder::new_local(path)
        .build()
        .await
        .map_err(|e| format!("cannot open database {path}: {e}"))?;
    let exec = LibsqlExec { db, idle: Mutex::new(Vec::new()) };
    let (conn, _) = exec.acquire().map_err(|e| e.to_string())?;
    // WAL lets readers run beside the writer and several processes share the file.
    let mut rows = conn
        .query("PRAGMA journal_mode = WAL", ())
        .await
        .map_err(|e| format!("cannot enable WAL on {path}: {e}"))?;
    while rows.next().await.map_err(|e| e.to_string())?.is_some() {}
    exec.release(conn);
    Ok(Arc::new(exec))
}

impl LibsqlExec {
    /// A pooled connection, or a new one (`true`: it still needs [`LOCAL_PRAGMAS`]).
    fn acquire(&self) -> Result<(Connection, bool), SqlError> {
        if let Some(conn) = self.idle.lock().ok().and_then(|mut idle| idle.pop()) {
            return Ok((conn, false));
        }
        let conn = self.db.connect().map_err(map_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(map_err)?;
        Ok((conn, true))
    }

    fn release(&self, conn: Connection) {
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < POOL_MAX
        {
            idle.push(conn);
        }
    }
}

fn params(values: Vec<Value>) -> Vec<libsql::Value> {
    values
        .into_iter()
        .map(|v| match v {
            Value::Null => libsql::Value::Null,
            Value::Integer(i) => libsql::Value::Integer(i),
            Value::Real(f) => libsql::Value::Real(f),
            Value::Text(s) => libsql::Value::Text(s),
            Value::Blob(b) => libsql::Value::Blob(b),
        })
        .collect()
}

fn map_err(e: libsql::Error) -> SqlError {
    match e {
        libsql::Error::SqliteFailure(code, message) if code & 0xff == SQLITE_CONSTRAINT => {
            SqlError::Constraint(message)
        }
        // Remote (Hrana) errors carry SQLite's code and message as text.
        other
            if other.to_string().contains("SQLITE_CONSTRAINT")
                || other.to_string().contains("constraint failed") =>
        {
            SqlError::Constraint(other.to_string())
        }
        other => SqlError::Other(other.to_string()),
    }
}

async fn run_query(conn: &Connection, stmt: Stmt) -> Result<Rows, SqlError> {
    let mut rows = conn.query(&stmt.sql, params(stmt.params)).await.map_err(map_err)?;
    let count = rows.column_count();
    let columns = (0..count).map(|i| rows.column_name(i).unwrap_or("").to_owned()).collect();
    let mut out = Rows { columns, rows: Vec::new() };
    while let Some(row) = rows.next().await.map_err(map_err)? {
        let mut values = Vec::with_capacity(count as usize);
        for i in 0..count {
            values.push(match row.get_value(i).map_err(map_err)? {
                libsql::Value::Null => Value::Null,
                libsql::Value::Integer(i) => Value::Integer(i),
                libsql::Value::Real(f) => Value::Real(f),
                libsql::Value::Text(s) => Value::Text(s),
                libsql::Value::Blob(b) => Value::Blob(b),
            });
        }
        out.rows.push(values);
    }
    Ok(out)
}

/// Set on every new connection to a local file.
const LOCAL_PRAGMAS: &str = "PRAGMA synchronous = NORMAL";

impl LibsqlExec {
    /// Runs `op` on a pooled connection. A local database's calls block their thread (SQLite waits
    /// for locks in place), so they run on tokio's blocking pool: a writer waiting for a lock must
    /// never hold one of the few async workers that the lock's holder needs to finish.
    async fn with_conn<T: Send + 'static>(
        &self,
        op: impl FnOnce(
            Connection,
        ) -> futures::future::BoxFuture<
            'static,
            (Result<T, SqlError>, Option<Connection>),
        > + Send
        + 'static,
    ) -> Result<T, SqlError> {
        let (conn, fresh) = self.acquire()?;
        let handle = tokio::runtime::Handle::current();
        let (result, conn) = tokio::task::spawn_blocking(move || {
            handle.block_on(async move {
                if fresh {
                    // WAL with synchronous=NORMAL: commits do not wait for fsync (the WAL is
                    // synced at checkpoints); the database cannot corrupt, and an OS crash or
                    // power cut may lose the last commits, not an application crash.
                    if let Err(e) = conn.execute(LOCAL_PRAGMAS, ()).await {
                        return (Err(map_err(e)), None);
                    }
                }
                op(conn).await
            })
        })
        .await
        .map_err(|e| SqlError::Other(format!("database task failed: {e}")))?;
        if let Some(conn) = conn {
            self.release(conn);
        }
        result
    }
}

#[async_trait]
impl SqlExec for LibsqlExec {
    async fn execute(&self, stmt: Stmt) -> Result<u64, SqlError> {
        self.with_conn(move |conn| {
            Box::pin(async move {
                let result = conn.execute(&stmt.sql, params(stmt.params)).await.map_err(map_err);
                (result, Some(conn))
            })
        })
        .await
    }

    async fn query(&self, stmt: Stmt) -> Result<Rows, SqlError> {
        self.with_conn(move |conn| {
            Box::pin(async move {
                let result = run_query(&conn, stmt).await;
                (result, Some(conn))
            })
        })
        .await
    }

    async fn batch(&self, stmts: Vec<Stmt>) -> Result<Vec<u64>, SqlError> {
        self.with_conn(move |conn| Box::pin(batch(conn, stmts))).await
    }
}

/// One transaction: all statements or none. The connection comes back only when the transaction
/// ended cleanly; one whose transaction failed is retired rather than pooled in an unknown state.
async fn batch(
    conn: Connection,
    stmts: Vec<Stmt>,
) -> (Result<Vec<u64>, SqlError>, Option<Connection>) {
    let result = run_batch(&conn, stmts).await;
    let conn = result.is_ok().then_some(conn);
    (result, conn)
}

async fn run_batch(conn: &Connection, stmts: Vec<Stmt>) -> Result<Vec<u64>, SqlError> {
    let tx =
        conn.transaction_with_behavior(TransactionBehavior::Immediate).await.map_err(map_err)?;
    let mut changed = Vec::with_capacity(stmts.len());
    for stmt in stmts {
        match tx.execute(&stmt.sql, params(stmt.params)).await {
            Ok(n) => changed.push(n),
            Err(e) => {
                // Roll back explicitly (libsql's drop-time rollback panics if it fails).
                let _ = tx.rollback().await;
                return Err(map_err(e));
            }
        }
    }
    tx.commit().await.map_err(map_err)?;
    Ok(changed)
}
