//! A fake AWS Lambda Runtime API (a test double: no Lambda service runs here) with a Function URL
//! in front of it. HTTP requests to the front become API Gateway v2 events (the Function URL
//! format) handed to the function at `GET /runtime/invocation/next`; the function's streamed
//! response (`Lambda-Runtime-Function-Response-Mode: streaming`: a JSON prelude, eight NUL bytes,
//! then the body) is relayed back to the HTTP client chunk by chunk as it arrives.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use base64::Engine;
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{Value, json};
use tokio::sync::{Mutex, mpsc, oneshot};

type Head = (StatusCode, HeaderMap);
type Chunks = mpsc::Receiver<Result<Bytes, std::io::Error>>;

struct Waiting {
    head: oneshot::Sender<Result<(Head, Chunks), String>>,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<Vec<(String, Value)>>,
    notify: tokio::sync::Notify,
    waiting: Mutex<HashMap<String, Waiting>>,
    counter: std::sync::atomic::AtomicU64,
}

pub struct FakeRuntime {
    /// `127.0.0.1:PORT` for `AWS_LAMBDA_RUNTIME_API`.
    pub runtime_api: String,
    /// The Function URL.
    pub url: String,
    shared: Arc<Shared>,
}

impl FakeRuntime {
    pub async fn start() -> Self {
        let shared = Arc::new(Shared::default());
        let runtime = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(respond))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let front = Router::new().fallback(front).with_state(shared.clone());
        let runtime_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let front_listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let runtime_api = runtime_listener.local_addr().unwrap().to_string();
        let url = format!("http://{}", front_listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(runtime_listener, runtime).await.unwrap() });
        tokio::spawn(async move { axum::serve(front_listener, front).await.unwrap() });
        Self { runtime_api, url, shared }
    }

    /// Invokes the function with any event (a schedule event, say) and returns its JSON answer.
    pub async fn invoke(&self, event: Value) -> Result<Value, String> {
        let (head, chunks) = enqueue(&self.shared, event).await?;
        assert!(head.0.is_success());
        let body: Vec<u8> = ReceiverStream(chunks).map(|c| c.unwrap().to_vec()).concat().await;
        Ok(serde_json::from_slice(&body).unwrap_or(Value::Null))
    }
}

struct ReceiverStream(Chunks);
impl futures::Stream for ReceiverStream {
    type Item = Result<Bytes, std::io::Error>;
    fn poll_next(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Self::Item>> {
        self.0.poll_recv(cx)
    }
}

async fn enqueue(shared: &Arc<Shared>, event: Value) -> Result<(Head, Chunks), String> {
    let n = shared.counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let id = format!("req-{n}");
    let (tx, rx) = oneshot::channel();
    shared.waiting.lock().await.insert(id.clone(), Waiting { head: tx });
    shared.queue.lock().await.push((id, event));
    shared.notify.notify_one();
    rx.await.map_err(|e| e.to_string())?
}

/// The Function URL: an HTTP request in, the function's streamed answer out.
async fn front(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let body = axum::body::to_bytes(body, 64 << 20).await.unwrap();
    let headers: serde_json::Map<String, Value> = parts
        .headers
        .iter()
        .map(|(k, v)| {
            (k.as_str().to_owned(), Value::String(v.to_str().unwrap_or_default().to_owned()))
        })
        .collect();
    let event = json!({
        "version": "2.0", "routeKey": "$default",
        "rawPath": parts.uri.path(), "rawQueryString": parts.uri.query().unwrap_or(""),
        "headers": headers,
        "requestContext": {"accountId": "anonymous", "apiId": "fake", "domainName": "localhost", "domainPrefix": "localhost",
            "http": {"method": parts.method.as_str(), "path": parts.uri.path(), "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "fake-function-url"},
            "requestId": "fake", "routeKey": "$default", "stage": "$default", "time": "01/Jan/2026:00:00:00 +0000", "timeEpoch": 0},
        "body": base64::engine::general_purpose::STANDARD.encode(&body),
        "isBase64Encoded": true,
    });
    match enqueue(&shared, event).await {
        Ok(((status, headers), chunks)) => {
            let mut response = Response::new(Body::from_stream(ReceiverStream(chunks)));
            *response.status_mut() = status;
            *response.headers_mut() = headers;
            response
        }
        Err(e) => Response::builder().status(502).body(Body::from(e)).unwrap(),
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    loop {
        if let Some((id, event)) = {
            let mut q = shared.queue.lock().await;
            (!q.is_empty()).then(|| q.remove(0))
        } {
            return Response::builder()
                .header("lambda-runtime-aws-request-id", id)
                .header("lambda-runtime-deadline-ms", "9999999999999")
                .header(
                    "lambda-runtime-invoked-function-arn",
                    "arn:aws:lambda:us-east-1:000000000000:function:llm-gateway",
                )
                .header("lambda-runtime-trace-id", "Root=1-00000000-000000000000000000000000")
                .header("content-type", "application/json")
                .body(Body::from(event.to_string()))
                .unwrap();
        }
        shared.notify.notified().await;
    }
}

/// The function's response: streamed (prelude, 8 NULs, body) or buffered (a JSON payload).
async fn respond(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> StatusCode {
    let Some(waiting) = shared.waiting.lock().await.remove(&id) else {
        return StatusCode::NOT_FOUND;
    };
    let streaming =
        headers.get("lambda-runtime-function-response-mode").is_some_and(|v| v == "streaming");
    let (tx, rx) = mpsc::channel(64);
    let mut stream = body.into_data_stream();
    if !streaming {
        let bytes: Vec<u8> = stream.map(|c| c.unwrap().to_vec()).concat().await;
        let _ = waiting.head.send(Ok(((StatusCode::OK, HeaderMap::new()), rx)));
        let _ = tx.send(Ok(Bytes::from(bytes))).await;
        return StatusCode::ACCEPTED;
    }
    let mut buffer: Vec<u8> = Vec::new();
    let mut head = Some(waiting.head);
    let mut rx = Some(rx);
    while let Some(chunk) = stream.next().await {
        let Ok(chunk) = chunk else { break };
        if let Some(sender) = head.take() {
            buffer.extend_from_slice(&chunk);
            match buffer.windows(8).position(|w| w == [0u8; 8]) {
                Some(at) => {
                    let prelude: Value = serde_json::from_slice(&buffer[..at]).unwrap();
                    let status =
                        StatusCode::from_u16(prelude["statusCode"].as_u64().unwrap_or(200) as u16)
                            .unwrap();
                    let mut map = HeaderMap::new();
                    for (k, v) in prelude["headers"].as_object().into_iter().flatten() {
                        if let (Ok(name), Some(value)) =
                            (k.parse::<axum::http::HeaderName>(), v.as_str())
                        {
                            map.insert(name, value.parse().unwrap());
                        }
                    }
                    if let Some(rx) = rx.take() {
                        let _ = sender.send(Ok(((status, map), rx)));
                    }
                    let rest = buffer[at + 8..].to_vec();
                    if !rest.is_empty() {
                        let _ = tx.send(Ok(Bytes::from(rest))).await;
                    }
                }
                None => head = Some(sender),
            }
        } else {
            let _ = tx.send(Ok(chunk)).await;
        }
    }
    StatusCode::ACCEPTED
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: String,
) -> StatusCode {
    if let Some(waiting) = shared.waiting.lock().await.remove(&id) {
        let _ = waiting.head.send(Err(format!("function error: {body}")));
    }
    StatusCode::ACCEPTED
}

async fn init_error(body: String) -> StatusCode {
    eprintln!("function init error: {body}");
    StatusCode::ACCEPTED
}
