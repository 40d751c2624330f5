//! The axum host shared by the standalone server and the Lambda function: request conversion,
//! static admin UI, and how each host runs the core's background work; and the standalone
//! server's accept loop (timeouts and the connection cap).

pub mod host;
pub mod serve;
pub mod settings;
