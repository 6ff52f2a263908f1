//! Group commit for small independent writes (filing reports, imported records). Each write
//! used to commit on its own, and on SQLite every commit waits for the disk (and for the one
//! write lock). Here the writes that arrive together run one after the other in ONE
//! transaction and commit together. Nothing is traded away: each caller is answered only after
//! the shared commit succeeded (with the database's durability setting); if the commit fails,
//! every write in it fails.
//!
//! A write that fails must fail alone. Writes rarely fail, so a batch first runs without
//! savepoints (two statements fewer a write); when one fails, that transaction is rolled back
//! and the batch runs again with each write in a savepoint of its own, so the failing one is
//! rolled back to its savepoint and the others are kept. That is why a write is `Fn`: it may
//! run twice, and only the run that commits counts.

use std::future::Future;
use std::pin::Pin;

use tokio::sync::oneshot;

use crate::batch::{BatchWriter, Batcher};
use crate::{Result, Store, StoreError};

/// Most writes one transaction takes.
const MAX_BATCH: usize = 128;

type Tx<'t> = sqlx::Transaction<'t, sqlx::Any>;

/// One write: given the shared transaction (or a savepoint inside it). It may be run a
/// second time after the first run was rolled back.
pub(crate) type Work = Box<
    dyn for<'a, 'b> Fn(&'a mut Tx<'b>) -> Pin<Box<dyn Future<Output = Result<()>> + Send + 'a>>
        + Send
        + Sync,
>;

pub(crate) struct Pending {
    work: Work,
    done: oneshot::Sender<Result<()>>,
}

/// The writes waiting for a shared transaction.
pub(crate) type GroupTx = Batcher<Pending>;

/// Writes a batch of [`Work`] in one transaction.
pub(crate) struct Writer;

impl BatchWriter for Writer {
    type Item = Pending;
    const MAX: usize = MAX_BATCH;

    fn batcher(store: &Store) -> &Batcher<Pending> {
        &store.group_tx
    }

    fn write(store: &Store, batch: Vec<Pending>) -> impl Future<Output = ()> + Send + '_ {
        crate::public_index::deferring_rows(store.write_batch_tx(batch))
    }
}

/// How a batch run without savepoints ended.
enum Together {
    /// Every write kept, the transaction committed.
    Committed,
    /// The transaction could not begin, or not commit: every write fails.
    Failed(String),
    /// A write failed; the transaction was rolled back.
    WriteFailed(StoreError),
}

/// What a shared transaction's writes leave to do at its end: the access log's head and
/// new advisories' index rows (see `audit::SHARED_HEAD`, `public_index::DEFERRED_ROWS`).
struct LeftToDo {
    head: Option<Option<crate::audit::SharedHead>>,
    rows: Option<crate::public_index::Deferred>,
}

impl LeftToDo {
    fn save() -> Self {
        Self {
            head: crate::audit::snapshot_shared(),
            rows: crate::public_index::snapshot_deferred(),
        }
    }

    /// Puts back what was saved, when the writes after it are rolled back (their entries
    /// and rows are undone, so is what they left to do).
    fn restore(self) {
        crate::audit::restore_shared(self.head);
        crate::public_index::restore_deferred(self.rows);
    }
}

/// Does what the writes left to the end of the transaction: one bump of the public revision
/// when one of them changed something public, their index rows, the access log's head.
async fn before_commit(tx: &mut Tx<'_>, bump: bool) -> Result<()> {
    if bump {
        crate::public_index::bump(tx).await?;
    }
    crate::public_index::flush_deferred(tx).await?;
    crate::audit::flush_shared_head(tx).await
}

impl Store {
    /// Runs `work` in a transaction shared with other writes arriving at the same time and
    /// returns once that transaction committed (or with `work`'s own error).
    pub(crate) async fn in_shared_tx(&self, work: Work) -> Result<()> {
        let (done, answer) = oneshot::channel();
        self.group_tx.submit::<Writer>(self, Pending { work, done });
        answer
            .await
            .map_err(|_| StoreError::Internal("the shared writer stopped".into()))?
    }

    async fn write_batch_tx(&self, batch: Vec<Pending>) {
        match self.all_together(&batch).await {
            Together::Committed => {
                for p in batch {
                    let _ = p.done.send(Ok(()));
                }
            }
            Together::Failed(e) => {
                for p in batch {
                    let _ = p.done.send(Err(StoreError::Internal(e.clone())));
                }
            }
            // Alone, the failing write needs no second run: its error is the answer.
            Together::WriteFailed(e) if batch.len() == 1 => {
                if let Some(p) = batch.into_iter().next() {
                    let _ = p.done.send(Err(e));
                }
            }
            Together::WriteFailed(_) => self.each_in_savepoint(batch).await,
        }
    }

    /// Runs every write of the batch in one transaction, without savepoints, and commits.
    async fn all_together(&self, batch: &[Pending]) -> Together {
        let saved = LeftToDo::save();
        let mut tx = match self.pool.begin().await {
            Ok(tx) => tx,
            Err(e) => return Together::Failed(e.to_string()),
        };
        let mut bump = false;
        for p in batch {
            let (outcome, public) = crate::public_index::deferring_bump((p.work)(&mut tx)).await;
            if let Err(e) = outcome {
                let _ = tx.rollback().await;
                saved.restore();
                return Together::WriteFailed(e);
            }
            bump |= public;
        }
        if let Err(e) = before_commit(&mut tx, bump).await {
            let _ = tx.rollback().await;
            return Together::Failed(e.to_string());
        }
        match tx.commit().await {
            Ok(()) => Together::Committed,
            Err(e) => Together::Failed(e.to_string()),
        }
    }

    /// Writes `works` as one batch of the shared writer (as its task would) and answers each:
    /// for tests that need a batch made up just so.
    #[cfg(test)]
    pub(crate) async fn write_one_batch(&self, works: Vec<Work>) -> Vec<Result<()>> {
        let (batch, answers): (Vec<_>, Vec<_>) = works
            .into_iter()
            .map(|work| {
                let (done, answer) = oneshot::channel();
                (Pending { work, done }, answer)
            })
            .unzip();
        crate::audit::SHARED_HEAD
            .scope(std::cell::RefCell::default(), Writer::write(self, batch))
            .await;
        let mut out = Vec::new();
        for a in answers {
            out.push(
                a.await
                    .unwrap_or_else(|_| Err(StoreError::Internal("no answer".into()))),
            );
        }
        out
    }

    /// Runs the batch again, each write in a savepoint of its own, after a write failed.
    async fn each_in_savepoint(&self, batch: Vec<Pending>) {
        let mut tx = match self.pool.begin().await {
            Ok(tx) => tx,
            Err(e) => {
                let msg = e.to_string();
                for p in batch {
                    let _ = p.done.send(Err(StoreError::Internal(msg.clone())));
                }
                return;
            }
        };
        // Each write's outcome, kept until the commit says whether the good ones hold.
        let mut outcomes: Vec<(oneshot::Sender<Result<()>>, Result<()>)> =
            Vec::with_capacity(batch.len());
        let mut broken: Option<String> = None;
        // Whether a kept write changed something public: the public revision is bumped once,
        // in this transaction, before it commits.
        let mut bump = false;
        for p in batch {
            if let Some(e) = &broken {
                outcomes.push((p.done, Err(StoreError::Internal(e.clone()))));
                continue;
            }
            let mut sp = match sqlx::Acquire::begin(&mut *tx).await {
                Ok(sp) => sp,
                Err(e) => {
                    broken = Some(e.to_string());
                    outcomes.push((p.done, Err(StoreError::Internal(e.to_string()))));
                    continue;
                }
            };
            let saved = LeftToDo::save();
            let (outcome, public) = crate::public_index::deferring_bump((p.work)(&mut sp)).await;
            let ended = match outcome {
                Ok(()) => {
                    bump |= public;
                    sp.commit().await
                }
                Err(_) => {
                    saved.restore();
                    sp.rollback().await
                }
            };
            if let Err(e) = ended {
                // The savepoint could not be released or rolled back: the transaction is
                // in an unknown state, so nothing in it is kept.
                broken = Some(e.to_string());
            }
            outcomes.push((p.done, outcome));
        }
        if broken.is_none()
            && let Err(e) = before_commit(&mut tx, bump).await
        {
            broken = Some(e.to_string());
        }
        let committed = match broken {
            Some(e) => {
                let _ = tx.rollback().await;
                Err(e)
            }
            None => tx.commit().await.map_err(|e| e.to_string()),
        };
        for (done, outcome) in outcomes {
            let answer = match (&committed, outcome) {
                (Ok(()), outcome) => outcome,
                (Err(_), Err(e)) => Err(e),
                (Err(e), Ok(())) => Err(StoreError::Internal(format!(
                    "the write was not committed: {e}"
                ))),
            };
            let _ = done.send(answer);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{KeySource, SystemClock};

    fn insert(n: i64, fail_after: bool) -> Work {
        Box::new(move |tx| {
            Box::pin(async move {
                // An access-log entry in each write: a failed write's entry is undone with
                // it, and the chain goes on from the entry before it.
                crate::audit::append(
                    tx,
                    time::OffsetDateTime::now_utc(),
                    embargo_domain::access::Actor::Anonymous,
                    None,
                    "group_tx_test",
                    None,
                    &serde_json::json!({ "n": n }),
                )
                .await?;
                sqlx::query("INSERT INTO group_tx_test (n) VALUES ($1)")
                    .bind(n)
                    .execute(&mut **tx)
                    .await?;
                if fail_after {
                    // A second row that breaks the key: this write fails after writing.
                    sqlx::query("INSERT INTO group_tx_test (n) VALUES (0)")
                        .execute(&mut **tx)
                        .await?;
                }
                Ok(())
            })
        })
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn writes_together_commit_together_and_fail_alone() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Store::open(&url, std::sync::Arc::new(SystemClock), KeySource::Ephemeral)
            .await
            .unwrap();
        sqlx::query("CREATE TABLE group_tx_test (n BIGINT PRIMARY KEY)")
            .execute(&store.pool)
            .await
            .unwrap();
        store.in_shared_tx(insert(0, false)).await.unwrap();
        let mut set = tokio::task::JoinSet::new();
        for n in 1..=200_i64 {
            let s = store.clone();
            // Every tenth write fails after its first insert.
            set.spawn(async move { (n, s.in_shared_tx(insert(n, n % 10 == 0)).await) });
        }
        let mut failed = Vec::new();
        for (n, outcome) in set.join_all().await {
            match outcome {
                Ok(()) => assert_ne!(n % 10, 0, "{n} should have failed"),
                Err(e) => {
                    assert_eq!(n % 10, 0, "{n} failed: {e}");
                    failed.push(n);
                }
            }
        }
        assert_eq!(failed.len(), 20);
        let rows: Vec<i64> = sqlx::query_scalar("SELECT n FROM group_tx_test ORDER BY n")
            .fetch_all(&store.pool)
            .await
            .unwrap();
        let want: Vec<i64> = (0..=200).filter(|n| *n == 0 || n % 10 != 0).collect();
        assert_eq!(
            rows, want,
            "a failed write left rows, or a good one was lost"
        );
        let entries: Vec<i64> = sqlx::query_scalar(
            "SELECT CAST(json_extract(detail, '$.n') AS BIGINT) FROM audit_log WHERE action = 'group_tx_test' ORDER BY seq",
        )
        .fetch_all(&store.pool)
        .await
        .unwrap();
        let mut entries = entries;
        entries.sort_unstable();
        assert_eq!(
            entries, want,
            "the access log does not match the writes kept"
        );
        // One chain, every link checked (this store keeps no head file to anchor its end),
        // and the head row names its last entry.
        let check = store.verify_audit().await.unwrap();
        assert!(
            matches!(check, crate::AuditCheck::Unanchored { entries: 181, .. }),
            "{check:?}"
        );
        let (head, last): (i64, i64) = sqlx::query_as(
            "SELECT (SELECT seq FROM audit_head WHERE id = 1), (SELECT MAX(seq) FROM audit_log)",
        )
        .fetch_one(&store.pool)
        .await
        .unwrap();
        assert_eq!(head, last);
    }
}
