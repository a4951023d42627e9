//! Per-code ordering (SPEC section 6): requests for the same entity code run one after the
//! other, in arrival order, while other codes run concurrently. The consumer loop takes a
//! `Turn` for each delivery in the order they arrive; a turn waits for the previous turn of
//! the same key to be dropped.

use std::collections::HashMap;
use std::sync::Mutex;

use tokio::sync::oneshot;

/// Above this many remembered keys, finished ones are swept.
const SWEEP_ABOVE: usize = 4096;

#[derive(Debug, Default)]
pub struct Ordering {
    /// For each key, the completion signal of its latest turn.
    tails: Mutex<HashMap<String, oneshot::Receiver<()>>>,
}

/// A place in the queue of one key. Dropping it lets the next turn of that key run.
#[derive(Debug)]
pub struct Turn {
    previous: Option<oneshot::Receiver<()>>,
    _done: Option<oneshot::Sender<()>>,
}

impl Ordering {
    pub fn new() -> Ordering {
        Ordering::default()
    }

    /// Take the next turn for `key` (None: no ordering needed, e.g. a LIST).
    pub fn enter(&self, key: Option<String>) -> Turn {
        let Some(key) = key else {
            return Turn {
                previous: None,
                _done: None,
            };
        };
        let (done, tail) = oneshot::channel();
        // A poisoned lock only means another thread panicked while holding it; the map
        // itself is still consistent (each operation is a single insert or retain).
        let mut tails = self.tails.lock().unwrap_or_else(|p| p.into_inner());
        if tails.len() > SWEEP_ABOVE {
            tails.retain(|_, rx| matches!(rx.try_recv(), Err(oneshot::error::TryRecvError::Empty)));
        }
        let previous = tails.insert(key, tail);
        Turn {
            previous,
            _done: Some(done),
        }
    }

    /// Keys remembered (for tests).
    pub fn len(&self) -> usize {
        self.tails.lock().map(|t| t.len()).unwrap_or(0)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Turn {
    /// Wait until every earlier turn of the same key has finished.
    pub async fn wait(&mut self) {
        if let Some(previous) = self.previous.take() {
            // Err means the previous turn was dropped without sending: it is finished.
            let _ = previous.await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn same_key_runs_in_order_other_keys_do_not_wait() {
        let ordering = Ordering::new();
        let log = Arc::new(Mutex::new(Vec::new()));
        let first = ordering.enter(Some("C1".into()));
        let mut second = ordering.enter(Some("C1".into()));
        let mut other = ordering.enter(Some("C2".into()));
        // C2 does not wait for C1.
        tokio::time::timeout(std::time::Duration::from_secs(1), other.wait())
            .await
            .unwrap();
        let l = log.clone();
        let waiter = tokio::spawn(async move {
            second.wait().await;
            l.lock().unwrap().push("second");
        });
        tokio::task::yield_now().await;
        log.lock().unwrap().push("first");
        drop(first);
        waiter.await.unwrap();
        assert_eq!(*log.lock().unwrap(), ["first", "second"]);
    }

    #[tokio::test]
    async fn no_key_never_waits() {
        let ordering = Ordering::new();
        let mut t = ordering.enter(None);
        t.wait().await;
        assert!(ordering.is_empty());
    }
}
