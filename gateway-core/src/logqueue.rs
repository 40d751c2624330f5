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

    /// Writes what is queued unless a flush is running: records kept after a failed write
    /// would otherwise wait for the next request's. Hosts call it on a timer, which bounds how
    /// long a record waits in memory (the window a hard kill can lose).
    pub(crate) async fn retry(&self, store: &Store) {
        let must_flush = match self.state.lock() {
            Ok(mut s) if !s.queue.is_empty() => !std::mem::replace(&mut s.flushing, true),
            _ => false,
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

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use futures::executor::block_on;

    use super::*;
    use crate::io::{Rows, SqlError, SqlExec, Stmt};

    /// A database whose first `fail` batches fail; counts the rows of the others.
    #[derive(Default)]
    struct Flaky {
        fail: AtomicUsize,
        rows: AtomicUsize,
    }

    crate::io_trait! {
    impl SqlExec for Flaky {
        async fn execute(&self, _: Stmt) -> Result<u64, SqlError> {
            Ok(0)
        }
        async fn query(&self, _: Stmt) -> Result<Rows, SqlError> {
            Ok(Rows::default())
        }
        async fn batch(&self, stmts: Vec<Stmt>) -> Result<Vec<u64>, SqlError> {
            if self.fail.load(Ordering::Relaxed) > 0 {
                self.fail.fetch_sub(1, Ordering::Relaxed);
                return Err(SqlError::Other("disk full".into()));
            }
            let rows: usize = stmts.iter().map(|s| s.sql.matches("(?").count()).sum();
            self.rows.fetch_add(rows, Ordering::Relaxed);
            Ok(vec![0; stmts.len()])
        }
    }
    }

    /// A failed write keeps its records; the hosts' timer writes them without waiting for the
    /// next request.
    #[test]
    fn records_a_failed_write_kept_go_out_on_the_next_retry() {
        let db = Arc::new(Flaky { fail: AtomicUsize::new(1), ..Default::default() });
        let store = Store::new(db.clone());
        let queue = LogQueue::default();
        block_on(queue.write(&store, LogRecord::default()));
        assert_eq!((queue.pending(), db.rows.load(Ordering::Relaxed)), (1, 0));
        block_on(queue.retry(&store));
        assert_eq!((queue.pending(), db.rows.load(Ordering::Relaxed)), (0, 1));
        block_on(queue.retry(&store));
        assert_eq!(db.rows.load(Ordering::Relaxed), 1, "nothing queued: nothing written");
    }
}
