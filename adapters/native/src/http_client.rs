//! Outbound HTTP with reqwest (rustls): pooled keep-alive connections, a deadline to the response
//! headers, and the body relayed as a stream of chunks as they arrive.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use gateway_core::{ByteStream, HttpClient, TransportError, async_trait};

#[derive(Debug, Clone)]
pub struct ReqwestClient {
    client: reqwest::Client,
}

impl ReqwestClient {
    pub fn new() -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .pool_idle_timeout(Duration::from_secs(90))
            .tcp_nodelay(true)
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self { client })
    }
}

#[async_trait]
impl HttpClient for ReqwestClient {
    async fn send(
        &self,
        request: http::Request<Bytes>,
        timeout: Duration,
    ) -> Result<http::Response<ByteStream>, TransportError> {
        let request = reqwest::Request::try_from(request)
            .map_err(|e| TransportError::InvalidRequest(e.to_string()))?;
        let response = tokio::time::timeout(timeout, self.client.execute(request))
            .await
            .map_err(|_| TransportError::Timeout(timeout.as_millis() as u64))?
            .map_err(|e| {
                if e.is_timeout() {
                    TransportError::Timeout(timeout.as_millis() as u64)
                } else {
                    TransportError::Connect(error_chain(&e))
                }
            })?;
        let mut builder = http::Response::builder().status(response.status());
        if let Some(headers) = builder.headers_mut() {
            *headers = response.headers().clone();
        }
        let body: ByteStream = Box::pin(
            response.bytes_stream().map(|r| r.map_err(|e| TransportError::Body(error_chain(&e)))),
        );
        builder.body(body).map_err(|e| TransportError::Body(e.to_string()))
    }
}

/// The error and its causes on one line ("error sending request: connection refused").
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}
