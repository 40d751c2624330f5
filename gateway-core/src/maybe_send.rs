//! The one place where the Send-on-native / ?Send-on-wasm split lives.
//!
//! Workers futures are not `Send`; axum and lambda_http need `Send` to stream. Everything in the core
//! that crosses an await or is handed to a host uses these aliases, so the same code compiles for both.

use std::future::Future;
use std::pin::Pin;

use futures::Stream;

#[cfg(not(target_family = "wasm"))]
mod imp {
    /// `Send` on native targets, nothing on wasm.
    pub trait MaybeSend: Send {}
    impl<T: Send + ?Sized> MaybeSend for T {}
    /// `Sync` on native targets, nothing on wasm.
    pub trait MaybeSync: Sync {}
    impl<T: Sync + ?Sized> MaybeSync for T {}
}

#[cfg(target_family = "wasm")]
mod imp {
    /// `Send` on native targets, nothing on wasm.
    pub trait MaybeSend {}
    impl<T: ?Sized> MaybeSend for T {}
    /// `Sync` on native targets, nothing on wasm.
    pub trait MaybeSync {}
    impl<T: ?Sized> MaybeSync for T {}
}

pub use imp::{MaybeSend, MaybeSync};

/// A boxed future that is `Send` exactly when the target allows it.
#[cfg(not(target_family = "wasm"))]
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;
/// A boxed future that is `Send` exactly when the target allows it.
#[cfg(target_family = "wasm")]
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// A boxed stream that is `Send` exactly when the target allows it.
#[cfg(not(target_family = "wasm"))]
pub type BoxStream<'a, T> = Pin<Box<dyn Stream<Item = T> + Send + 'a>>;
/// A boxed stream that is `Send` exactly when the target allows it.
#[cfg(target_family = "wasm")]
pub type BoxStream<'a, T> = Pin<Box<dyn Stream<Item = T> + 'a>>;

/// Boxes a future into [`BoxFuture`].
pub fn boxed<'a, T>(fut: impl Future<Output = T> + MaybeSend + 'a) -> BoxFuture<'a, T> {
    Box::pin(fut)
}

/// Boxes a stream into [`BoxStream`].
pub fn boxed_stream<'a, T>(stream: impl Stream<Item = T> + MaybeSend + 'a) -> BoxStream<'a, T> {
    Box::pin(stream)
}

/// Applies `async_trait` with `?Send` on wasm and `Send` elsewhere, so trait definitions and
/// implementations never spell the split themselves.
#[macro_export]
macro_rules! io_trait {
    ($item:item) => {
        #[cfg_attr(target_family = "wasm", $crate::async_trait(?Send))]
        #[cfg_attr(not(target_family = "wasm"), $crate::async_trait)]
        $item
    };
}
