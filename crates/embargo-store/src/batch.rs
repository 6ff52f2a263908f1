//! The queue behind group commit ([`crate::group_tx`] for writes, [`crate::audit_batch`] for
//! access-log entries): callers queue an item; the first finds no writer and starts one, in a
//! task of its own (so a cancelled request strands nobody), which takes what waits in batches
//! until nothing does. A writer that panics is replaced for the items left.

use std::future::Future;
use std::marker::PhantomData;
use std::sync::{Arc, Mutex};

use crate::Store;

/// How a writer finds its queue in the store and writes one batch (answering each item).
pub(crate) trait BatchWriter: Send + Sync + 'static {
    type Item: Send + 'static;
    /// Most items one batch takes.
    const MAX: usize;
    fn batcher(store: &Store) -> &Batcher<Self::Item>;
    fn write(store: &Store, batch: Vec<Self::Item>) -> impl Future<Output = ()> + Send + '_;
}

struct Queue<P> {
    waiting: Vec<P>,
    /// A writer task is running: it will take what waits.
    writing: bool,
}

/// Items waiting for a shared commit, shared by a store's clones.
pub(crate) struct Batcher<P> {
    queue: Mutex<Queue<P>>,
}

impl<P: Send + 'static> Batcher<P> {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self {
            queue: Mutex::new(Queue {
                waiting: Vec::new(),
                writing: false,
            }),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue<P>> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Queues `item` for `W`'s writer, starting one when none runs.
    pub(crate) fn submit<W: BatchWriter<Item = P>>(&self, store: &Store, item: P) {
        let start = {
            let mut q = self.lock();
            q.waiting.push(item);
            !std::mem::replace(&mut q.writing, true)
        };
        if start {
            tokio::spawn(write_all::<W>(store.clone()));
        }
    }

    /// The next batch, or `None` (the writer's mark cleared) when nothing waits.
    fn next(&self, max: usize) -> Option<Vec<P>> {
        let mut q = self.lock();
        if q.waiting.is_empty() {
            q.writing = false;
            return None;
        }
        let n = q.waiting.len().min(max);
        Some(q.waiting.drain(..n).collect())
    }
}

/// Clears the writer's mark if its task panics, and starts another for what waits.
struct Writing<W: BatchWriter>(Store, PhantomData<W>);

impl<W: BatchWriter> Drop for Writing<W> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let restart = {
            let mut q = W::batcher(&self.0).lock();
            q.writing = !q.waiting.is_empty();
            q.writing
        };
        if restart {
            tokio::spawn(write_all::<W>(self.0.clone()));
        }
    }
}

async fn write_all<W: BatchWriter>(store: Store) {
    let guard = Writing::<W>(store, PhantomData);
    let store = &guard.0;
    while let Some(batch) = W::batcher(store).next(W::MAX) {
        // Several callers' access-log entries in one transaction: see `audit::append`.
        crate::audit::SHARED_HEAD
            .scope(std::cell::RefCell::default(), W::write(store, batch))
            .await;
    }
}
