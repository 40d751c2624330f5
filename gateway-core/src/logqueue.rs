//! Request logs written in batches off the response path. Each request's background work pushes its
//! record; whoever finds no flush running becomes the flusher and writes everything queued, in
//! batches, until the queue is empty — so under load records pile up while a write is in flight
//! and go out together, and no record is ever left behind without a flusher (the push and the
//! flusher's "queue is empty, I stop" happen under one lock). Hosts run background work to the end
//! (tracked tasks drained on shutdown, `wait_until`, before the invocation returns), so nothing
//! accepted is lost.

use std::sync::Mutex;

use crate::store::Store;
use crate::store::logs::LogRecord;

const BATCH: usize = 200;

#[derive(Debug, Default)]
pub(crate) struct LogQueue {
    state: Mutex<State>,
    /// Batches written since start (a metric: database writes the log costs).
    batches: std::sync::atomic::AtomicU64,
}

#[derive(Debug, Default)]
struct State {
    queue: Vec<LogRecord>,
    flushing: bool,
}

impl LogQueue {
    /// Queues a record and writes the queue unless another flush will.
    pub(crate) async fn write(&self, store: &Store, record: LogRecord) {
        let must_flush = match self.state.lock() {
            Ok(mut s) => {
                s.queue.push(record);
                !std::mem::replace(&mut s.flushing, true)
            }
            Err(_) => false,
        };
        if must_flush {
            self.flush(store).await;
        }
    }

    /// Batches written since start.
    pub(crate) fn batches(&self) -> u64 {
        self.batches.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Records waiting to be written.
    pub(crate) fn pending(&self) -> usize {
        self.state.lock().map(|s| s.queue.len()).unwrap_or(0)
    }

    async fn flush(&self, store: &Store) {
        loop {
            let batch: Vec<LogRecord> = match self.state.lock() {
                Ok(mut s) if s.queue.is_empty() => {
                    s.flushing = false;
                    return;
                }
                Ok(mut s) => {
                    let n = s.queue.len().min(BATCH);
                    s.queue.drain(..n).collect()
                }
                Err(_) => return,
            };
            self.batches.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            if let Err(e) = store.insert_logs(&batch).await {
                tracing::error!(error = %e, rows = batch.len(), "could not write request logs; keeping them for the next flush");
                if let Ok(mut s) = self.state.lock() {
                    let rest = std::mem::take(&mut s.queue);
                    s.queue = batch;
                    s.queue.extend(rest);
                    s.flushing = false;
                }
                return;
            }
        }
    }
}
