//! Group commit for the access log. Every read of an unpublished advisory appends an entry,
//! and every entry goes through the chain's one head row, so each read used to wait for a
//! commit of its own, one after the other. Here concurrent reads share commits: the first
//! waiting entry's request starts a writer task; entries that arrive while it commits wait
//! for the next transaction, which takes all of them. Nothing is traded away: a read is
//! answered only after the transaction holding its entry committed (with the database's
//! durability setting), and a failed commit fails every read in it.

use std::sync::Arc;

use embargo_domain::access::Actor;
use embargo_domain::ids::AdvisoryId;
use time::OffsetDateTime;
use tokio::sync::oneshot;

use crate::audit::append;
use crate::batch::{BatchWriter, Batcher};
use crate::{Result, Store, StoreError};

/// Most entries one transaction takes.
const MAX_BATCH: usize = 256;

/// An entry waiting for its commit.
pub(crate) struct Pending {
    at: OffsetDateTime,
    actor: Actor,
    origin: Option<Arc<str>>,
    action: String,
    advisory: Option<AdvisoryId>,
    detail: serde_json::Value,
    done: oneshot::Sender<std::result::Result<(), String>>,
}

/// The entries waiting for a shared commit.
pub(crate) type GroupCommit = Batcher<Pending>;

/// Writes a batch of entries in one transaction and answers each.
pub(crate) struct Writer;

impl BatchWriter for Writer {
    type Item = Pending;
    const MAX: usize = MAX_BATCH;

    fn batcher(store: &Store) -> &Batcher<Pending> {
        &store.audit_queue
    }

    async fn write(store: &Store, batch: Vec<Pending>) {
        let outcome = store.write_batch(&batch).await.map_err(|e| {
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
        self.audit_queue.submit::<Writer>(
            self,
            Pending {
                at: self.now(),
                actor,
                origin: self.origin.clone(),
                action: action.to_owned(),
                advisory: advisory.cloned(),
                detail,
                done,
            },
        );
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
        crate::audit::flush_shared_head(&mut tx).await?;
        tx.commit().await?;
        if let Some((first, last)) = span {
            self.audit
                .advance_committed_span(&first, last.as_ref().unwrap_or(&first));
        }
        Ok(())
    }
}
