//! `bare-relay`: the floor of one proxy hop. Forwards every POST, body and headers as they are, to
//! `RELAY_TO` with the same HTTP stack as the gateway (axum in, reqwest out, pooled connections,
//! TCP_NODELAY) and no logic at all. The harness measures it beside the gateway, so "gateway minus
//! bare relay" is what the gateway's own work costs.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use futures::TryStreamExt;

#[derive(Clone)]
struct Relay {
    client: reqwest::Client,
    to: String,
}

async fn forward(State(relay): State<Relay>, request: Request) -> Response {
    let (parts, body) = request.into_parts();
    let Ok(body) = axum::body::to_bytes(body, 64 << 20).await else {
        return Response::builder().status(400).body(Body::empty()).unwrap_or_default();
    };
    let url = format!("{}{}", relay.to, parts.uri.path());
    let mut out = relay.client.post(url).body(body);
    for (name, value) in &parts.headers {
        if !matches!(name.as_str(), "host" | "content-length" | "connection") {
            out = out.header(name, value);
        }
    }
    match out.send().await {
        Ok(r) => {
            let mut response = Response::builder().status(r.status().as_u16());
            for (name, value) in r.headers() {
                if !matches!(name.as_str(), "content-length" | "transfer-encoding" | "connection") {
                    response = response.header(name, value);
                }
            }
            let stream = r.bytes_stream().map_err(std::io::Error::other);
            response.body(Body::from_stream(stream)).unwrap_or_default()
        }
        Err(_) => Response::builder().status(502).body(Body::empty()).unwrap_or_default(),
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let to = std::env::var("RELAY_TO").unwrap_or_else(|_| "http://127.0.0.1:8081".into());
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(0);
    let client =
        reqwest::Client::builder().tcp_nodelay(true).build().map_err(std::io::Error::other)?;
    let app = axum::Router::new().fallback(forward).with_state(Relay { client, to });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("listening on http://{}", listener.local_addr()?);
    let listener = axum::serve::ListenerExt::tap_io(listener, |tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app).await
}
