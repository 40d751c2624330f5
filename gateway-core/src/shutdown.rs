//! The signal a host gives open streams when the process must go: each relayed stream watches it
//! and, when it fires, ends with an error event in its caller's protocol (so its log row is written
//! and the client knows to retry) instead of holding the process open until a hard kill.

use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::channel::oneshot;
use futures::future::Shared;

/// A one-time broadcast: cheap to clone, every clone sees the same signal.
#[derive(Clone)]
pub struct Shutdown {
    tx: Arc<Mutex<Option<oneshot::Sender<()>>>>,
    rx: Shared<oneshot::Receiver<()>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        let (tx, rx) = oneshot::channel();
        Shutdown { tx: Arc::new(Mutex::new(Some(tx))), rx: rx.shared() }
    }
}

impl std::fmt::Debug for Shutdown {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shutdown").field("signalled", &self.is_signalled()).finish()
    }
}

impl Shutdown {
    /// Fires the signal (once; later calls do nothing).
    pub fn signal(&self) {
        if let Ok(mut tx) = self.tx.lock()
            && let Some(tx) = tx.take()
        {
            let _ = tx.send(());
        }
    }

    pub fn is_signalled(&self) -> bool {
        self.tx.lock().map(|tx| tx.is_none()).unwrap_or(true)
    }

    /// Resolves once the signal fires.
    pub fn signalled(&self) -> Shared<oneshot::Receiver<()>> {
        self.rx.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_clone_sees_the_one_signal() {
        let s = Shutdown::default();
        let waiting = s.clone().signalled();
        assert!(!s.is_signalled());
        s.signal();
        s.signal();
        assert!(s.clone().is_signalled());
        assert!(futures::executor::block_on(waiting).is_ok());
    }
}
