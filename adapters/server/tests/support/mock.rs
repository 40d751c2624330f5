//! A mock OpenAI-compatible upstream on 127.0.0.1. It records what it received and answers
//! `/v1/chat/completions` by the upstream model name:
//! - `explode` → 500; `limited` → 429 with `Retry-After: 7`;
//! - anything else → a completion (JSON, or SSE when `stream: true`).
//!
//! Streams send their first chunk, then wait until the test calls [`Mock::release`] (up to 10 s),
//! so a test can prove the first chunk reached the client before the rest was even sent.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::post;
use serde_json::{Value, json};
use tokio::sync::{Mutex, Notify};

#[derive(Default)]
pub struct MockState {
    pub requests: Mutex<Vec<(HeaderMap, Value)>>,
    gate: Notify,
    pub gate_timed_out: AtomicBool,
}

pub struct Mock {
    pub base: String,
    pub state: Arc<MockState>,
}

impl Mock {
    pub async fn start() -> Self {
        let state = Arc::new(MockState::default());
        let app = Router::new().route("/v1/chat/completions", post(chat)).with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}/v1", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base, state }
    }

    /// Lets a waiting stream send the rest of its chunks.
    pub fn release(&self) {
        self.state.gate.notify_one();
    }

    pub async fn last_request(&self) -> (HeaderMap, Value) {
        self.state.requests.lock().await.last().cloned().expect("the mock received a request")
    }
}

fn json_response(status: StatusCode, body: Value) -> Response {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::from(body.to_string()))
        .unwrap()
}

async fn chat(State(state): State<Arc<MockState>>, headers: HeaderMap, body: String) -> Response {
    let request: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    state.requests.lock().await.push((headers, request.clone()));
    let model = request["model"].as_str().unwrap_or("").to_owned();
    match model.as_str() {
        "explode" => {
            return json_response(
                StatusCode::INTERNAL_SERVER_ERROR,
                json!({"error": {"message": "kaboom", "type": "server_error"}}),
            );
        }
        "limited" => {
            let mut response = json_response(
                StatusCode::TOO_MANY_REQUESTS,
                json!({"error": {"message": "slow down", "type": "rate_limit"}}),
            );
            response.headers_mut().insert("retry-after", "7".parse().unwrap());
            return response;
        }
        _ => {}
    }
    if request["stream"] == json!(true) {
        return stream(state, model, request["stream_options"]["include_usage"] == json!(true));
    }
    json_response(
        StatusCode::OK,
        json!({
            "id": "chatcmpl-mock", "object": "chat.completion", "created": 1, "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": "Hello from mock"},
                         "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18,
                      "prompt_tokens_details": {"cached_tokens": 3}},
        }),
    )
}

fn stream(state: Arc<MockState>, model: String, include_usage: bool) -> Response {
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<String, std::io::Error>>(8);
    let chunk = move |delta: Value, finish: Value| {
        let c = json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1,
                       "model": model, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]});
        format!("data: {c}\n\n")
    };
    tokio::spawn(async move {
        let _ =
            tx.send(Ok(chunk(json!({"role": "assistant", "content": "Hel"}), Value::Null))).await;
        if tokio::time::timeout(Duration::from_secs(10), state.gate.notified()).await.is_err() {
            state.gate_timed_out.store(true, Ordering::SeqCst);
        }
        let _ = tx.send(Ok(chunk(json!({"content": "lo"}), Value::Null))).await;
        let _ = tx.send(Ok(chunk(json!({}), json!("stop")))).await;
        if include_usage {
            let usage = json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "created": 1,
                               "choices": [], "usage": {"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7}});
            let _ = tx.send(Ok(format!("data: {usage}\n\n"))).await;
        }
        let _ = tx.send(Ok("data: [DONE]\n\n".to_owned())).await;
    });
    Response::builder()
        .header("content-type", "text/event-stream")
        .body(Body::from_stream(tokio_stream(rx)))
        .unwrap()
}

fn tokio_stream(
    mut rx: tokio::sync::mpsc::Receiver<Result<String, std::io::Error>>,
) -> impl futures::Stream<Item = Result<String, std::io::Error>> {
    futures::stream::poll_fn(move |cx| rx.poll_recv(cx))
}
