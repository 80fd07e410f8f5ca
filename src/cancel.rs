//! The cancellation token shared by the long blocking calls (listing, opening, fetching a
//! chunk, backoff sleeps).

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

/// A cancellation signal for long blocking calls (listing, opening, fetching a chunk).
///
/// Cancelling is immediate for waits (a backoff sleep returns at once, because the token's
/// channel sender is dropped). A chunk download stops at its next socket read; other requests
/// in flight run to their end, and no further request is sent.
#[derive(Clone)]
pub struct CancelToken {
    inner: Arc<CancelInner>,
}

struct CancelInner {
    cancelled: AtomicBool,
    /// Dropped on cancel: receivers waiting in `recv_timeout` wake up with `Disconnected`.
    sender: Mutex<Option<Sender<()>>>,
    receiver: Receiver<()>,
}

impl CancelToken {
    /// A token that is not cancelled.
    pub fn new() -> CancelToken {
        let (sender, receiver) = crossbeam_channel::bounded(0);
        CancelToken {
            inner: Arc::new(CancelInner {
                cancelled: AtomicBool::new(false),
                sender: Mutex::new(Some(sender)),
                receiver,
            }),
        }
    }

    /// Cancels every call using this token (and its clones). Idempotent.
    pub fn cancel(&self) {
        self.inner.cancelled.store(true, Ordering::SeqCst);
        let mut s = self.inner.sender.lock().unwrap_or_else(|p| p.into_inner());
        s.take();
    }

    /// True once [`CancelToken::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.inner.cancelled.load(Ordering::Relaxed)
    }

    /// Sleeps for `d` unless cancelled first; returns false when cancelled.
    pub(crate) fn sleep(&self, d: Duration) -> bool {
        if self.is_cancelled() {
            return false;
        }
        match self.inner.receiver.recv_timeout(d) {
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => !self.is_cancelled(),
            _ => false,
        }
    }
}

impl Default for CancelToken {
    fn default() -> Self {
        CancelToken::new()
    }
}

impl std::fmt::Debug for CancelToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CancelToken")
            .field("cancelled", &self.is_cancelled())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cancel_token_wakes_sleepers() {
        let t = CancelToken::new();
        let t2 = t.clone();
        let h = std::thread::spawn(move || t2.sleep(Duration::from_secs(600)));
        t.cancel();
        assert!(!h.join().unwrap());
        assert!(t.is_cancelled());
        assert!(!t.sleep(Duration::from_secs(600)));
    }

    #[test]
    fn sleep_without_cancel_returns_true() {
        assert!(CancelToken::new().sleep(Duration::from_millis(1)));
    }
}
