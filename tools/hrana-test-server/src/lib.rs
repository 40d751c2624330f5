//! A test double of the Hrana v3 HTTP protocol that Turso speaks (`POST /v3/pipeline`,
//! `POST /v3/cursor`), serving a local libSQL file. No Turso server can be installed here, so the
//! gateway's remote-database mode is tested against this; it is not a production server.
//!
//! Streams are connections: a request without a baton opens one, the response hands back a baton
//! that continues it (so `BEGIN` … `COMMIT` across requests works), and a `close` request ends it.
//! Supported requests: `execute`, `batch` (with step conditions), `sequence`, `get_autocommit`,
//! `store_sql`, `close_sql`, `close`. Values use Hrana's JSON encoding (integers as strings, blobs
//! as base64).
//!
//! The crate also starts a real `redis-server` for the limit-store tests ([`RedisServer`]).

mod redis_server;
pub use redis_server::RedisServer;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use libsql::{Connection, Database};
use serde_json::{Value, json};
use tokio::sync::Mutex;

struct Stream {
    conn: Connection,
    sqls: HashMap<i64, String>,
}

struct Server {
    db: Database,
    token: Option<String>,
    streams: Mutex<HashMap<String, Stream>>,
    next: AtomicU64,
}

/// Serves `path` on 127.0.0.1 (any free port); requests must carry `Authorization: Bearer token`
/// when a token is given. Returns the base URL (`http://127.0.0.1:PORT`).
///
/// The server runs on a runtime of its own with many threads: SQLite waits for locks by blocking
/// its thread, and a writer blocked on the caller's two-thread test runtime could starve the very
/// request that would release the lock.
pub async fn spawn(path: &str, token: Option<&str>) -> std::io::Result<String> {
    let (path, token) = (path.to_owned(), token.map(str::to_owned));
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().worker_threads(16).enable_all().build();
        let Ok(runtime) = runtime else { return };
        runtime.block_on(async move {
            let started = serve(&path, token.as_deref()).await;
            let ok = started.is_ok();
            let _ = tx.send(started);
            if ok {
                std::future::pending::<()>().await;
            }
        });
    });
    rx.await.map_err(std::io::Error::other)?
}

async fn serve(path: &str, token: Option<&str>) -> std::io::Result<String> {
    let db = libsql::Builder::new_local(path).build().await.map_err(std::io::Error::other)?;
    // Like Turso's server: WAL, so writers queue behind each other instead of deadlocking readers.
    let conn = db.connect().map_err(std::io::Error::other)?;
    let mut rows =
        conn.query("PRAGMA journal_mode = WAL", ()).await.map_err(std::io::Error::other)?;
    while rows.next().await.map_err(std::io::Error::other)?.is_some() {}
    let server = Arc::new(Server {
        db,
        token: token.map(str::to_owned),
        streams: Mutex::default(),
        next: AtomicU64::new(1),
    });
    let app = Router::new()
        .route("/v3/pipeline", post(pipeline))
        .route("/v3/cursor", post(cursor))
        .with_state(server);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(base)
}

fn error(message: impl std::fmt::Display) -> Value {
    let message = message.to_string();
    let code =
        if message.contains("constraint failed") { "SQLITE_CONSTRAINT" } else { "SQLITE_ERROR" };
    json!({"message": message, "code": code})
}

fn authorized(server: &Server, headers: &HeaderMap) -> bool {
    match &server.token {
        None => true,
        Some(token) => headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v == format!("Bearer {token}")),
    }
}

/// The stream a baton continues, or a new one.
async fn open(server: &Server, baton: Option<&str>) -> Result<(String, Stream), String> {
    if let Some(baton) = baton {
        return server
            .streams
            .lock()
            .await
            .remove(baton)
            .map(|s| (baton.to_owned(), s))
            .ok_or_else(|| "unknown baton".into());
    }
    let conn = server.db.connect().map_err(|e| e.to_string())?;
    conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(|e| e.to_string())?;
    let id = format!("baton-{}", server.next.fetch_add(1, Ordering::SeqCst));
    Ok((id, Stream { conn, sqls: HashMap::new() }))
}

fn decode_value(v: &Value) -> libsql::Value {
    match v["type"].as_str() {
        Some("integer") => libsql::Value::Integer(
            v["value"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .or_else(|| v["value"].as_i64())
                .unwrap_or(0),
        ),
        Some("float") => libsql::Value::Real(v["value"].as_f64().unwrap_or(0.0)),
        Some("text") => libsql::Value::Text(v["value"].as_str().unwrap_or_default().to_owned()),
        Some("blob") => libsql::Value::Blob(
            STANDARD.decode(v["base64"].as_str().unwrap_or_default()).unwrap_or_default(),
        ),
        _ => libsql::Value::Null,
    }
}

fn encode_value(v: libsql::Value) -> Value {
    match v {
        libsql::Value::Null => json!({"type": "null"}),
        libsql::Value::Integer(i) => json!({"type": "integer", "value": i.to_string()}),
        libsql::Value::Real(f) => json!({"type": "float", "value": f}),
        libsql::Value::Text(t) => json!({"type": "text", "value": t}),
        libsql::Value::Blob(b) => json!({"type": "blob", "base64": STANDARD.encode(b)}),
    }
}

/// Runs one Hrana statement; returns `(cols, rows, affected, last_insert_rowid)`.
async fn run(
    stream: &Stream,
    stmt: &Value,
) -> Result<(Vec<Value>, Vec<Vec<Value>>, u64, i64), Value> {
    let sql = match (stmt["sql"].as_str(), stmt["sql_id"].as_i64()) {
        (Some(sql), _) => sql.to_owned(),
        (None, Some(id)) => stream.sqls.get(&id).cloned().ok_or_else(|| error("unknown sql_id"))?,
        _ => return Err(error("statement without sql")),
    };
    let params: Vec<libsql::Value> =
        stmt["args"].as_array().map(|a| a.iter().map(decode_value).collect()).unwrap_or_default();
    let named: Vec<(String, libsql::Value)> = stmt["named_args"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|n| {
                    (n["name"].as_str().unwrap_or_default().to_owned(), decode_value(&n["value"]))
                })
                .collect()
        })
        .unwrap_or_default();
    let mut rows = if named.is_empty() {
        stream.conn.query(&sql, params).await
    } else {
        stream.conn.query(&sql, libsql::params::Params::Named(named)).await
    }
    .map_err(error)?;
    let count = rows.column_count();
    let cols = (0..count)
        .map(|i| json!({"name": rows.column_name(i).unwrap_or(""), "decltype": null}))
        .collect();
    let mut out = Vec::new();
    while let Some(row) = rows.next().await.map_err(error)? {
        out.push(
            (0..count)
                .map(|i| encode_value(row.get_value(i).unwrap_or(libsql::Value::Null)))
                .collect(),
        );
    }
    Ok((cols, out, stream.conn.changes(), stream.conn.last_insert_rowid()))
}

fn result_json((cols, rows, affected, last): (Vec<Value>, Vec<Vec<Value>>, u64, i64)) -> Value {
    json!({"cols": cols, "rows": rows, "affected_row_count": affected, "last_insert_rowid": last.to_string(),
           "replication_index": null, "rows_read": 0, "rows_written": 0, "query_duration_ms": 0.0})
}

fn condition_holds(
    cond: &Value,
    results: &[Option<Value>],
    errors: &[Option<Value>],
    stream: &Stream,
) -> bool {
    let step = |c: &Value| c["step"].as_u64().map_or(usize::MAX, |s| s as usize);
    match cond["type"].as_str() {
        Some("ok") => results.get(step(cond)).is_some_and(Option::is_some),
        Some("error") => errors.get(step(cond)).is_some_and(Option::is_some),
        Some("not") => !condition_holds(&cond["cond"], results, errors, stream),
        Some("and") => cond["conds"]
            .as_array()
            .is_none_or(|c| c.iter().all(|c| condition_holds(c, results, errors, stream))),
        Some("or") => cond["conds"]
            .as_array()
            .is_some_and(|c| c.iter().any(|c| condition_holds(c, results, errors, stream))),
        Some("is_autocommit") => stream.conn.is_autocommit(),
        _ => true,
    }
}

async fn batch(stream: &Stream, steps: &[Value]) -> Value {
    let (mut results, mut errors): (Vec<Option<Value>>, Vec<Option<Value>>) = (vec![], vec![]);
    for step in steps {
        let go = step
            .get("condition")
            .is_none_or(|c| c.is_null() || condition_holds(c, &results, &errors, stream));
        let (r, e) = if go {
            match run(stream, &step["stmt"]).await {
                Ok(r) => (Some(result_json(r)), None),
                Err(e) => (None, Some(e)),
            }
        } else {
            (None, None)
        };
        results.push(r);
        errors.push(e);
    }
    json!({"step_results": results, "step_errors": errors})
}

async fn handle_request(stream: &mut Stream, req: &Value) -> (Value, bool) {
    let ok = |response: Value| json!({"type": "ok", "response": response});
    let fail = |e: Value| json!({"type": "error", "error": e});
    match req["type"].as_str() {
        Some("execute") => match run(stream, &req["stmt"]).await {
            Ok(r) => (ok(json!({"type": "execute", "result": result_json(r)})), false),
            Err(e) => (fail(e), false),
        },
        Some("batch") => {
            let steps = req["batch"]["steps"].as_array().cloned().unwrap_or_default();
            (ok(json!({"type": "batch", "result": batch(stream, &steps).await})), false)
        }
        Some("sequence") => {
            match stream.conn.execute_batch(req["sql"].as_str().unwrap_or_default()).await {
                Ok(_) => (ok(json!({"type": "sequence"})), false),
                Err(e) => (fail(error(e)), false),
            }
        }
        Some("get_autocommit") => (
            ok(json!({"type": "get_autocommit", "is_autocommit": stream.conn.is_autocommit()})),
            false,
        ),
        Some("store_sql") => {
            if let (Some(id), Some(sql)) = (req["sql_id"].as_i64(), req["sql"].as_str()) {
                stream.sqls.insert(id, sql.to_owned());
            }
            (ok(json!({"type": "store_sql"})), false)
        }
        Some("close_sql") => {
            if let Some(id) = req["sql_id"].as_i64() {
                stream.sqls.remove(&id);
            }
            (ok(json!({"type": "close_sql"})), false)
        }
        Some("close") => (ok(json!({"type": "close"})), true),
        Some("describe") => match describe(stream, req["sql"].as_str().unwrap_or_default()).await {
            Ok(result) => (ok(json!({"type": "describe", "result": result})), false),
            Err(e) => (fail(e), false),
        },
        other => (fail(error(format!("unsupported request {other:?}"))), false),
    }
}

async fn describe(stream: &Stream, sql: &str) -> Result<Value, Value> {
    let stmt = stream.conn.prepare(sql).await.map_err(error)?;
    let params: Vec<Value> = (1..=stmt.parameter_count())
        .map(|i| json!({"name": stmt.parameter_name(i32::try_from(i).unwrap_or(0))}))
        .collect();
    let cols: Vec<Value> = stmt
        .columns()
        .iter()
        .map(|c| json!({"name": c.name(), "decltype": c.decl_type()}))
        .collect();
    let readonly = sql.trim_start().get(..6).is_some_and(|s| s.eq_ignore_ascii_case("select"));
    Ok(json!({"params": params, "cols": cols, "is_explain": false, "is_readonly": readonly}))
}

fn json_response(status: StatusCode, body: Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap_or_default()
}

async fn pipeline(State(server): State<Arc<Server>>, headers: HeaderMap, body: String) -> Response {
    if !authorized(&server, &headers) {
        return json_response(StatusCode::UNAUTHORIZED, json!({"message": "bad token"}));
    }
    let Ok(body) = serde_json::from_str::<Value>(&body) else {
        return json_response(StatusCode::BAD_REQUEST, json!({"message": "not JSON"}));
    };
    let (baton, mut stream) = match open(&server, body["baton"].as_str()).await {
        Ok(s) => s,
        Err(e) => return json_response(StatusCode::BAD_REQUEST, json!({"message": e})),
    };
    let mut results = Vec::new();
    let mut closed = false;
    for req in body["requests"].as_array().into_iter().flatten() {
        let (result, close) = handle_request(&mut stream, req).await;
        if std::env::var("HRANA_TRACE").is_ok() {
            let sqls: Vec<&str> = req["batch"]["steps"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|s| s["stmt"]["sql"].as_str())
                .collect();
            let errors = &result["response"]["result"]["step_errors"];
            eprintln!(
                "hrana {baton} {} {} {:?} -> {} {}",
                req["type"], req["stmt"]["sql"], sqls, result["type"], errors
            );
        }
        results.push(result);
        closed |= close;
    }
    let baton = if closed {
        None
    } else {
        server.streams.lock().await.insert(baton.clone(), stream);
        Some(baton)
    };
    json_response(StatusCode::OK, json!({"baton": baton, "base_url": null, "results": results}))
}

/// `POST /v3/cursor`: a batch whose results stream back as newline-delimited JSON entries.
async fn cursor(State(server): State<Arc<Server>>, headers: HeaderMap, body: String) -> Response {
    if !authorized(&server, &headers) {
        return json_response(StatusCode::UNAUTHORIZED, json!({"message": "bad token"}));
    }
    let Ok(body) = serde_json::from_str::<Value>(&body) else {
        return json_response(StatusCode::BAD_REQUEST, json!({"message": "not JSON"}));
    };
    let (baton, stream) = match open(&server, body["baton"].as_str()).await {
        Ok(s) => s,
        Err(e) => return json_response(StatusCode::BAD_REQUEST, json!({"message": e})),
    };
    let mut lines = vec![json!({"baton": baton, "base_url": null}).to_string()];
    let (mut results, mut errors): (Vec<Option<Value>>, Vec<Option<Value>>) = (vec![], vec![]);
    for (i, step) in
        body["batch"]["steps"].as_array().cloned().unwrap_or_default().iter().enumerate()
    {
        let go = step
            .get("condition")
            .is_none_or(|c| c.is_null() || condition_holds(c, &results, &errors, &stream));
        if !go {
            results.push(None);
            errors.push(None);
            continue;
        }
        match run(&stream, &step["stmt"]).await {
            Ok((cols, rows, affected, last)) => {
                lines.push(json!({"type": "step_begin", "step": i, "cols": cols}).to_string());
                for row in rows {
                    lines.push(json!({"type": "row", "row": row}).to_string());
                }
                lines.push(json!({"type": "step_end", "affected_row_count": affected, "last_insert_rowid": last.to_string()}).to_string());
                results.push(Some(Value::Null));
                errors.push(None);
            }
            Err(e) => {
                lines
                    .push(json!({"type": "step_error", "step": i, "error": e.clone()}).to_string());
                results.push(None);
                errors.push(Some(e));
            }
        }
    }
    server.streams.lock().await.insert(baton, stream);
    let mut text = lines.join("\n");
    text.push('\n');
    Response::builder()
        .header("content-type", "text/plain")
        .body(Body::from(text))
        .unwrap_or_default()
}
