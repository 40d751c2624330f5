//! Clock, randomness and timers from the Workers runtime.

use std::time::Duration;

use gateway_core::{BoxFuture, Platform};
use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = crypto, js_name = getRandomValues)]
    fn get_random_values(buf: &mut [u8]);
}

#[derive(Debug, Default, Clone, Copy)]
pub struct WorkerPlatform;

impl Platform for WorkerPlatform {
    fn now_ms(&self) -> i64 {
        i64::try_from(worker::Date::now().as_millis()).unwrap_or(i64::MAX)
    }

    fn random_bytes(&self, buf: &mut [u8]) {
        // getRandomValues fills at most 65536 bytes per call.
        for chunk in buf.chunks_mut(65_536) {
            get_random_values(chunk);
        }
    }

    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        Box::pin(worker::Delay::from(duration))
    }
}
