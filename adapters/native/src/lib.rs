//! Native implementations of the core's IO traits, shared by the server and Lambda hosts:
//! reqwest for outbound HTTP, libSQL for SQL, tokio and the OS for time and randomness.

mod http_client;
mod platform;
mod sql;

pub use http_client::ReqwestClient;
pub use platform::NativePlatform;
pub use sql::{LibsqlExec, open_database};
