//! `gateway-core`: the whole LLM gateway as a sans-IO library.
//!
//! Hosts hand it `http::Request<Bytes>` and get back a response whose body is whole or a byte
//! stream, plus background work to finish. Every effect — outbound HTTP, SQL, clock, randomness —
//! goes through the traits in [`io`], so the same code runs on the axum server, AWS Lambda and
//! Cloudflare Workers (wasm32). See ARCHITECTURE.md for the map.
//!
//! Modules the hosts and tests use are public; the rest are `pub(crate)`, and `unreachable_pub`
//! makes any `pub` item they would hide (dead, or public by accident) a warning.

#![warn(unreachable_pub)]

mod admin;
pub mod answers;
mod auth;
mod body;
mod bootstrap;
pub mod canonical;
mod catalog;
mod cloud;
pub mod codec;
mod config;
mod crypto;
mod dispatch;
mod error;
mod gateway;
mod health;
pub mod hrana;
mod ids;
pub mod io;
pub mod isolation;
mod jobs;
pub mod json;
mod keycache;
mod logqueue;
pub mod maybe_send;
mod metrics;
pub mod multipart;
pub mod net;
pub mod policy;
mod presets;
pub mod provider;
mod query;
pub mod quota;
pub mod redact;
mod reply;
pub mod routes;
mod routing;
pub mod rules;
mod shutdown;
pub mod sse;
mod state;
mod stats;
pub mod store;
mod upstream;
mod validate;

pub use async_trait::async_trait;
pub use body::{Body, BodyBudget, BodyError, Handled, Reserved};
pub use bootstrap::StartError;
pub use config::{Config, RawConfig, Secret};
pub use error::GatewayError;
pub use gateway::{ClientAddr, Deps, Gateway, Screen, UI_SECURITY_HEADERS};
pub use io::{
    ByteStream, HttpClient, Platform, Rows, SqlError, SqlExec, Stmt, TransportError, Value,
};
pub use maybe_send::{BoxFuture, BoxStream, MaybeSend, MaybeSync};
pub use quota::{KeyUsage, LimitResult, LimitStore, LimitStoreError, Slot, Take};
pub use routes::is_api_path;
