//! `gateway-core`: the whole LLM gateway as a sans-IO library.
//!
//! Hosts hand it `http::Request<Bytes>` and get back a response whose body is whole or a byte
//! stream, plus background work to finish. Every effect — outbound HTTP, SQL, clock, randomness —
//! goes through the traits in [`io`], so the same code runs on the axum server, AWS Lambda and
//! Cloudflare Workers (wasm32). See ARCHITECTURE.md for the map.

pub mod admin;
pub mod auth;
pub mod body;
mod bootstrap;
pub mod canonical;
pub mod catalog;
pub mod codec;
pub mod config;
pub mod crypto;
pub mod dispatch;
pub mod error;
pub mod gateway;
pub mod health;
pub mod hrana;
pub mod ids;
pub mod io;
pub mod isolation;
mod jobs;
pub mod json;
pub mod keycache;
pub mod logqueue;
pub mod maybe_send;
pub mod metrics;
pub mod policy;
pub mod presets;
pub mod provider;
pub mod query;
pub mod reply;
pub mod routes;
pub mod routing;
pub mod rules;
pub mod shutdown;
pub mod sse;
mod state;
pub mod stats;
pub mod store;
pub mod upstream;
pub mod validate;

pub use async_trait::async_trait;
pub use body::{Body, Handled};
pub use bootstrap::StartError;
pub use config::{Config, RawConfig, Secret};
pub use error::GatewayError;
pub use gateway::{ClientAddr, Deps, Gateway, UI_SECURITY_HEADERS};
pub use io::{
    ByteStream, HttpClient, Platform, Rows, SqlError, SqlExec, Stmt, TransportError, Value,
};
pub use maybe_send::{BoxFuture, BoxStream, MaybeSend, MaybeSync};
pub use routes::is_api_path;
