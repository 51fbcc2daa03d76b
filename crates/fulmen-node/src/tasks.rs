//! A count of the node's running tasks and threads, so that stopping can
//! wait until every one of them has finished.

use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use tokio::sync::Notify;

#[derive(Debug, Default)]
struct Inner {
    running: AtomicUsize,
    idle: Notify,
}

/// Counts running tasks; [`TaskTracker::wait_idle`] waits until none is.
#[derive(Debug, Clone, Default)]
pub(crate) struct TaskTracker {
    inner: Arc<Inner>,
}

/// Held by a running task; dropping it marks the task finished.
#[derive(Debug)]
pub(crate) struct TaskGuard {
    inner: Arc<Inner>,
}

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if self.inner.running.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.inner.idle.notify_waiters();
        }
    }
}

impl TaskTracker {
    /// A guard for a task or thread started by hand.
    pub(crate) fn guard(&self) -> TaskGuard {
        self.inner.running.fetch_add(1, Ordering::AcqRel);
        TaskGuard {
            inner: self.inner.clone(),
        }
    }

    /// Spawns `fut` on the runtime, counted until it completes.
    pub(crate) fn spawn<F>(&self, fut: F) -> tokio::task::JoinHandle<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let guard = self.guard();
        tokio::spawn(async move {
            let out = fut.await;
            drop(guard);
            out
        })
    }

    /// Waits until no counted task is running.
    pub(crate) async fn wait_idle(&self) {
        loop {
            let notified = self.inner.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.inner.running.load(Ordering::Acquire) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// Completes once the shutdown flag is set (or its sender is gone).
pub(crate) async fn stopped(shutdown: &mut tokio::sync::watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|s| *s).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_for_every_task() {
        let tracker = TaskTracker::default();
        tracker.wait_idle().await;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tracker.spawn(async move {
            let _ = rx.await;
        });
        let guard = tracker.guard();
        let thread = std::thread::spawn(move || drop(guard));
        let waiter = tokio::spawn({
            let t = tracker.clone();
            async move { t.wait_idle().await }
        });
        thread.join().unwrap();
        assert!(!waiter.is_finished());
        tx.send(()).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(5), waiter)
            .await
            .unwrap()
            .unwrap();
    }
}
