//! Group commit for the access log. Every read of an unpublished advisory appends an entry,
//! and every entry goes through the chain's one head row, so each read used to wait for a
//! commit of its own, one after the other. Here concurrent reads share commits: the first
//! waiting entry's request starts a writer task; entries that arrive while it commits wait
//! for the next transaction, which takes all of them. Nothing is traded away: a read is
//! answered only after the transaction holding its entry committed (with the database's
//! durability setting), and a failed commit fails every read in it.

use std::sync::{Arc, Mutex};

use embargo_domain::access::Actor;
use embargo_domain::ids::AdvisoryId;
use time::OffsetDateTime;
use tokio::sync::oneshot;

use crate::audit::append;
use crate::{Result, Store, StoreError};

/// Most entries one transaction takes.
const MAX_BATCH: usize = 256;

/// An entry waiting for its commit.
struct Pending {
    at: OffsetDateTime,
    actor: Actor,
    origin: Option<Arc<str>>,
    action: String,
    advisory: Option<AdvisoryId>,
    detail: serde_json::Value,
    done: oneshot::Sender<std::result::Result<(), String>>,
}

#[derive(Default)]
struct Queue {
    waiting: Vec<Pending>,
    /// A writer task is running: it will take what waits.
    writing: bool,
}

/// The entries waiting to be written, shared by a store's clones.
#[derive(Default)]
pub(crate) struct GroupCommit {
    queue: Mutex<Queue>,
}

impl GroupCommit {
    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// Marks the writer gone however its task ends (a panic included), so the next entry
/// starts another.
struct Writing(Store);

impl Drop for Writing {
    fn drop(&mut self) {
        // A writer that returns has cleared the mark itself, under the lock.
        if !std::thread::panicking() {
            return;
        }
        let restart = {
            let mut q = self.0.audit_queue.lock();
            q.writing = !q.waiting.is_empty();
            q.writing
        };
        if restart {
            tokio::spawn(write_all(self.0.clone()));
        }
    }
}

/// Writes what waits, in transactions of up to [`MAX_BATCH`], until nothing does.
async fn write_all(store: Store) {
    let guard = Writing(store);
    let store = &guard.0;
    loop {
        let batch: Vec<Pending> = {
            let mut q = store.audit_queue.lock();
            if q.waiting.is_empty() {
                q.writing = false;
                return;
            }
            let n = q.waiting.len().min(MAX_BATCH);
            q.waiting.drain(..n).collect()
        };
        let outcome = crate::audit::SHARED_APPENDS
            .scope(std::cell::Cell::new(0), store.write_batch(&batch))
            .await
            .map_err(|e| {
            tracing::error!(error = %e, entries = batch.len(), "writing access-log entries failed");
            e.to_string()
        });
        for p in batch {
            // A reader that went away does not need its answer.
            let _ = p.done.send(outcome.clone());
        }
    }
}

impl Store {
    /// Appends one access-log entry and returns once it is committed, sharing the commit
    /// with entries appended at the same time.
    pub(crate) async fn audit_append_shared(
        &self,
        actor: Actor,
        action: &str,
        advisory: Option<&AdvisoryId>,
        detail: serde_json::Value,
    ) -> Result<()> {
        let (done, committed) = oneshot::channel();
        let start = {
            let mut q = self.audit_queue.lock();
            q.waiting.push(Pending {
                at: self.now(),
                actor,
                origin: self.origin.clone(),
                action: action.to_owned(),
                advisory: advisory.cloned(),
                detail,
                done,
            });
            !std::mem::replace(&mut q.writing, true)
        };
        if start {
            // A task of its own: the request that started it may be cancelled (its client
            // gone) without stranding the entries of others.
            tokio::spawn(write_all(self.clone()));
        }
        match committed.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::Internal(format!(
                "the access log could not be written: {e}"
            ))),
            Err(_) => Err(StoreError::Internal(
                "the access log's writer stopped".into(),
            )),
        }
    }

    async fn write_batch(&self, batch: &[Pending]) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        let mut span = None;
        for p in batch {
            let entry = append(
                &mut tx,
                p.at,
                p.actor,
                p.origin.as_deref(),
                &p.action,
                p.advisory.as_ref(),
                &p.detail,
            )
            .await?;
            span = Some(match span {
                None => (entry, None),
                Some((first, _)) => (first, Some(entry)),
            });
        }
        tx.commit().await?;
        if let Some((first, last)) = span {
            self.audit
                .advance_committed_span(&first, last.as_ref().unwrap_or(&first));
        }
        Ok(())
    }
}

impl GroupCommit {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(Self::default())
    }
}
