//! The axum host shared by the standalone server and the Lambda function: request conversion,
//! static admin UI, and how each host runs the core's background work.

pub mod host;
pub mod settings;
