//! The server's own accept loop, where a production proxy keeps its defences: a deadline for a
//! request's headers that is also the idle keep-alive timeout (slow-loris and idle connections
//! are closed), a cap on open connections below the process's open-file limit, and, at the cap,
//! room made by closing the longest-idle connection — or, when every connection is busy, a clear
//! `503` before closing the new one. Shutdown stops accepting, lets busy connections finish their
//! request and closes idle ones.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Notify, watch};
use tokio_util::task::TaskTracker;
use tower::ServiceExt;

/// Connection limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Time a client has to send a request's headers, counted from when the connection is
    /// ready for one: so also how long an idle keep-alive connection stays open.
    pub header_read: Duration,
    pub max_connections: usize,
}

/// The default connection cap: the soft open-file limit (Linux: `/proc/self/limits`) less room
/// for the database, upstream connections and logs, at most 10 000.
pub fn default_max_connections() -> usize {
    let soft = std::fs::read_to_string("/proc/self/limits").ok().and_then(|text| {
        text.lines()
            .find(|l| l.starts_with("Max open files"))
            .and_then(|l| l.split_whitespace().nth(3).and_then(|n| n.parse::<usize>().ok()))
    });
    soft.unwrap_or(1024).saturating_sub(128).clamp(16, 10_000)
}

/// One open connection, as the cap sees it.
struct Conn {
    /// Requests in progress (until their response body is done).
    busy: AtomicUsize,
    /// When a request last started or ended, in ms since the server started.
    last_active: AtomicU64,
    /// Asks the connection to close once its current request (if any) is done.
    close: Notify,
}

#[derive(Default)]
struct Registry {
    conns: Mutex<HashMap<u64, Arc<Conn>>>,
    next: AtomicU64,
}

impl Registry {
    fn len(&self) -> usize {
        self.conns.lock().map(|c| c.len()).unwrap_or(0)
    }

    fn add(&self, now: u64) -> (u64, Arc<Conn>) {
        let id = self.next.fetch_add(1, Ordering::Relaxed);
        let conn = Arc::new(Conn {
            busy: AtomicUsize::new(0),
            last_active: AtomicU64::new(now),
            close: Notify::new(),
        });
        if let Ok(mut conns) = self.conns.lock() {
            conns.insert(id, conn.clone());
        }
        (id, conn)
    }

    fn remove(&self, id: u64) {
        if let Ok(mut conns) = self.conns.lock() {
            conns.remove(&id);
        }
    }

    /// Closes the connection idle the longest; false when every connection is busy.
    fn evict_idle(&self) -> bool {
        let Ok(mut conns) = self.conns.lock() else { return false };
        let idle = conns
            .iter()
            .filter(|(_, c)| c.busy.load(Ordering::Acquire) == 0)
            .min_by_key(|(_, c)| c.last_active.load(Ordering::Relaxed))
            .map(|(id, _)| *id);
        match idle.and_then(|id| conns.remove(&id)) {
            Some(conn) => {
                conn.close.notify_one();
                true
            }
            None => false,
        }
    }

    fn close_all(&self) {
        if let Ok(conns) = self.conns.lock() {
            conns.values().for_each(|c| c.close.notify_one());
        }
    }
}

/// Serves `app` on `listener` until `shutdown` resolves; returns once every connection is closed
/// or `drain` (given the signal time) says to stop waiting.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()>,
) -> TaskTracker {
    let registry = Arc::new(Registry::default());
    let connections = TaskTracker::new();
    let started = Instant::now();
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => accepted,
        };
        let (tcp, peer) = match accepted {
            Ok(pair) => pair,
            Err(e) => {
                // Out of file descriptors or similar: wait a little rather than spin.
                tracing::warn!(error = %e, "accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        if registry.len() >= limits.max_connections && !registry.evict_idle() {
            connections.spawn(refuse(tcp));
            continue;
        }
        let now = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let (id, conn) = registry.add(now);
        let (app, registry, stop) = (app.clone(), registry.clone(), stop_rx.clone());
        connections.spawn(async move {
            run(tcp, peer, app, conn, limits, started, stop).await;
            registry.remove(id);
        });
    }
    let _ = stop_tx.send(true);
    registry.close_all();
    connections.close();
    connections
}

/// At the cap with every connection busy: a short, honest answer instead of silence.
async fn refuse(mut tcp: TcpStream) {
    let body = r#"{"error":{"code":"server_busy","message":"the gateway has too many open connections; retry shortly"}}"#;
    let response = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\nretry-after: 1\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), tcp.write_all(response.as_bytes())).await;
    let _ = tcp.shutdown().await;
}

/// Serves one connection until it ends, is evicted, or the server stops.
async fn run(
    tcp: TcpStream,
    peer: SocketAddr,
    app: Router,
    conn: Arc<Conn>,
    limits: Limits,
    started: Instant,
    mut stop: watch::Receiver<bool>,
) {
    let state = conn.clone();
    let service = hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
        request.extensions_mut().insert(ConnectInfo(peer));
        let busy = Busy::start(state.clone(), started);
        let app = app.clone();
        async move {
            let response = match app.oneshot(request.map(axum::body::Body::new)).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            Ok::<_, Infallible>(response.map(|body| Guarded { body, _busy: busy }))
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new()).header_read_timeout(limits.header_read).keep_alive(true);
    let connection = builder.serve_connection(TokioIo::new(tcp), service);
    let mut connection = std::pin::pin!(connection);
    let closing = async {
        tokio::select! {
            () = conn.close.notified() => {}
            _ = stop.wait_for(|stopped| *stopped) => {}
        }
    };
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
            return;
        }
        () = closing => {}
    }
    // Closing: an idle connection goes now, a busy one after its current response.
    connection.as_mut().graceful_shutdown();
    let _ = connection.await;
}

/// Marks a connection busy from a request's start until its response body is done.
struct Busy {
    conn: Arc<Conn>,
    started: Instant,
}

impl Busy {
    fn start(conn: Arc<Conn>, started: Instant) -> Busy {
        conn.busy.fetch_add(1, Ordering::AcqRel);
        let busy = Busy { conn, started };
        busy.touch();
        busy
    }

    fn touch(&self) {
        let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.conn.last_active.store(now, Ordering::Relaxed);
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.touch();
        self.conn.busy.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A response body that keeps its connection marked busy until it is done or dropped.
struct Guarded {
    body: axum::body::Body,
    _busy: Busy,
}

impl http_body::Body for Guarded {
    type Data = bytes::Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Self::Data>, Self::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
