//! The in-process gateway harness shared by the pipeline tests: a real libSQL file, a scripted
//! HTTP client standing in for the provider's cloud, and a manual clock.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::VecDeque;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use gateway_core::{
    BoxFuture, ByteStream, Config, Deps, Gateway, Handled, HttpClient, Platform, Secret,
    TransportError, async_trait,
};
use gateway_native::open_database;
use serde_json::{Value, json};

pub const T0: i64 = 1_800_000_000_000;
pub const TEN_DAYS: i64 = 10 * 86_400_000;

pub struct ManualClock {
    pub now: AtomicI64,
    counter: AtomicU64,
}

impl Platform for ManualClock {
    fn now_ms(&self) -> i64 {
        self.now.load(Ordering::SeqCst)
    }
    fn random_bytes(&self, buf: &mut [u8]) {
        for chunk in buf.chunks_mut(8) {
            let n = self.counter.fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::SeqCst).to_le_bytes();
            chunk.copy_from_slice(&n[..chunk.len()]);
        }
    }
    fn sleep(&self, _: Duration) -> BoxFuture<'static, ()> {
        Box::pin(async {})
    }
}

pub type Scripted =
    Result<(u16, Vec<(&'static str, &'static str)>, Vec<&'static str>), TransportError>;

#[derive(Default)]
pub struct ScriptedHttp {
    pub answers: Mutex<VecDeque<Scripted>>,
    pub seen: Mutex<Vec<http::Request<Bytes>>>,
}

#[async_trait]
impl HttpClient for ScriptedHttp {
    async fn send(
        &self,
        request: http::Request<Bytes>,
        _timeout: Duration,
    ) -> Result<http::Response<ByteStream>, TransportError> {
        self.seen.lock().unwrap().push(request);
        let (status, headers, chunks) =
            self.answers.lock().unwrap().pop_front().expect("a scripted answer")?;
        let body: ByteStream = Box::pin(futures::stream::iter(
            chunks.into_iter().map(|c| Ok(Bytes::from_static(c.as_bytes()))),
        ));
        let mut response = http::Response::builder().status(status);
        for (k, v) in headers {
            response = response.header(k, v);
        }
        Ok(response.body(body).unwrap())
    }
}

pub struct Harness {
    _dir: tempfile::TempDir,
    pub gateway: Gateway,
    pub clock: Arc<ManualClock>,
    pub http: Arc<ScriptedHttp>,
    pub token: String,
    /// The same database the gateway uses, for arranging and inspecting rows directly.
    pub store: gateway_core::store::Store,
}

pub struct Reply {
    pub status: u16,
    pub headers: http::HeaderMap,
    pub json: Value,
    pub background: Option<BoxFuture<'static, ()>>,
}

impl Harness {
    pub async fn new() -> Self {
        Self::with(Config::default()).await
    }

    /// A harness whose gateway runs with `config` (the admin password is the harness's own).
    pub async fn with(config: Config) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let db = open_database(dir.path().join("g.db").to_str().unwrap(), None).await.unwrap();
        let clock = Arc::new(ManualClock { now: AtomicI64::new(T0), counter: AtomicU64::new(7) });
        let http = Arc::new(ScriptedHttp::default());
        let config = Config { admin_password: Some(Secret::new("pipeline-pass")), ..config };
        let deps = Deps {
            http: http.clone(),
            db,
            platform: clock.clone(),
            limits: None,
            flushes_limits: false,
            answers: None,
        };
        let store = gateway_core::store::Store::new(deps.db.clone());
        let gateway = Gateway::start(config, deps).await.unwrap();
        let mut h = Harness { _dir: dir, gateway, clock, http, token: String::new(), store };
        let login = h
            .call(
                "POST",
                "/api/auth/login",
                None,
                json!({"username":"admin","password":"pipeline-pass"}),
            )
            .await;
        h.token = login.json["token"].as_str().unwrap().to_owned();
        h
    }

    pub async fn handle(
        &self,
        method: &str,
        path: &str,
        auth: Option<&str>,
        body: Bytes,
    ) -> Handled {
        let mut request = http::Request::builder().method(method).uri(path);
        if let Some(auth) = auth {
            request = request.header("authorization", format!("Bearer {auth}"));
        }
        self.gateway.handle(request.body(body).unwrap()).await
    }

    pub async fn call(&self, method: &str, path: &str, auth: Option<&str>, body: Value) -> Reply {
        let bytes = if body.is_null() { Bytes::new() } else { Bytes::from(body.to_string()) };
        let handled = self.handle(method, path, auth, bytes).await;
        Self::reply(handled).await
    }

    /// Sends `request` (any headers) and reads the whole answer.
    pub async fn send(&self, request: http::Request<Bytes>) -> Reply {
        Self::reply(self.gateway.handle(request).await).await
    }

    /// The body as JSON, or (streams) as a JSON string of the text.
    async fn reply(handled: Handled) -> Reply {
        let (parts, body) = handled.response.into_parts();
        let bytes = body.collect().await.unwrap();
        Reply {
            status: parts.status.as_u16(),
            headers: parts.headers,
            json: serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned())),
            background: handled.background,
        }
    }

    pub async fn admin(&self, method: &str, path: &str, body: Value) -> Value {
        let token = self.token.clone();
        let reply = self.call(method, path, Some(&token), body).await;
        assert!(reply.status < 300, "{path}: {} {}", reply.status, reply.json);
        reply.json
    }

    /// A provider (protocol as given), a model `m` on it, and a key for every model.
    pub async fn setup(&self, protocol: &str) -> String {
        let provider = self
            .admin(
                "POST",
                "/api/admin/providers",
                json!({"name": "up", "base_url": "http://up.test/v1",
                    "protocol": protocol, "api_key": "sealed-secret"}),
            )
            .await;
        self.admin(
            "POST",
            "/api/admin/models",
            json!({"name": "m", "provider_id": provider["id"]}),
        )
        .await;
        let key = self
            .admin("POST", "/api/admin/keys", json!({"name": "k", "expires_at": T0 + TEN_DAYS}))
            .await;
        key["key"].as_str().unwrap().to_owned()
    }

    pub fn script(&self, answer: Scripted) {
        self.http.answers.lock().unwrap().push_back(answer);
    }

    pub async fn latest_log(&self) -> Value {
        let logs = self.admin("GET", "/api/admin/logs?limit=1", Value::Null).await;
        logs["data"][0].clone()
    }
}

pub fn chat_body(stream: bool) -> Value {
    json!({"model": "m", "stream": stream, "messages": [{"role": "user", "content": "hi"}]})
}
