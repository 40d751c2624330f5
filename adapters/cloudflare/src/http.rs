//! Outbound HTTP with the Workers `fetch`, with a deadline to the response headers and the body
//! relayed as a stream.

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use futures::future::{Either, select};
use gateway_core::{ByteStream, HttpClient, TransportError, async_trait};
use worker::{Fetch, Headers, Method, Request, RequestInit};

#[derive(Debug, Default, Clone, Copy)]
pub struct FetchClient;

fn method(m: &http::Method) -> Method {
    match *m {
        http::Method::GET => Method::Get,
        http::Method::PUT => Method::Put,
        http::Method::DELETE => Method::Delete,
        http::Method::PATCH => Method::Patch,
        http::Method::HEAD => Method::Head,
        _ => Method::Post,
    }
}

#[async_trait(?Send)]
impl HttpClient for FetchClient {
    async fn send(
        &self,
        request: http::Request<Bytes>,
        timeout: Duration,
    ) -> Result<http::Response<ByteStream>, TransportError> {
        let invalid = |e: worker::Error| TransportError::InvalidRequest(e.to_string());
        let headers = Headers::new();
        for (name, value) in request.headers() {
            headers.append(name.as_str(), value.to_str().unwrap_or_default()).map_err(invalid)?;
        }
        let mut init = RequestInit::new();
        init.with_method(method(request.method())).with_headers(headers);
        if !request.body().is_empty() {
            init.with_body(Some(js_sys::Uint8Array::from(request.body().as_ref()).into()));
        }
        let outbound =
            Request::new_with_init(&request.uri().to_string(), &init).map_err(invalid)?;
        let fetch = Fetch::Request(outbound);
        let send = Box::pin(fetch.send());
        let deadline = Box::pin(worker::Delay::from(timeout));
        let mut response = match select(send, deadline).await {
            Either::Left((result, _)) => {
                result.map_err(|e| TransportError::Connect(e.to_string()))?
            }
            Either::Right(_) => {
                return Err(TransportError::Timeout(
                    u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                ));
            }
        };
        let mut builder = http::Response::builder().status(response.status_code());
        for (name, value) in response.headers().entries() {
            builder = builder.header(name, value);
        }
        let body: ByteStream = match response.stream() {
            Ok(stream) => Box::pin(stream.map(|chunk| {
                chunk.map(Bytes::from).map_err(|e| TransportError::Body(e.to_string()))
            })),
            Err(_) => Box::pin(futures::stream::empty()),
        };
        builder.body(body).map_err(|e| TransportError::Body(e.to_string()))
    }
}
