//! Advisories published elsewhere, brought in by an operator (`embargo import`).
//!
//! Each record is stored in one transaction: the advisory, its creation event, the audit
//! entry and the import row commit together or not at all. The importer is a system account
//! without a password, which no one can sign in as.

use embargo_domain::access::Actor;
use embargo_domain::advisory::{Advisory, Change, Content, Filing, ImportFacts};
use embargo_domain::ids::{AdvisoryId, RANDOM_BYTES};
use embargo_domain::types::{Email, Slug};
use sqlx::Row;

use crate::clock::to_ms;
use crate::secrets::random_bytes;
use crate::{Result, Store, StoreError};

/// The system account imported advisories are filed by.
pub const IMPORTER_EMAIL: &str = "importer@embargo.invalid";

/// What became of one imported record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    /// Stored as a new advisory.
    Created(AdvisoryId),
    /// The organisation imported this record before, as this advisory; nothing changed.
    Exists(AdvisoryId),
}

impl ImportOutcome {
    pub fn id(&self) -> &AdvisoryId {
        match self {
            Self::Created(id) | Self::Exists(id) => id,
        }
    }
}

/// Why a record's savepoint was undone: another import stored the same record first.
const IMPORTED_MEANWHILE: &str = "imported meanwhile";

impl Store {
    async fn importer_id(&self, known: Option<i64>) -> Result<i64> {
        if let Some(id) = known {
            return Ok(id);
        }
        let email = Email::parse(IMPORTER_EMAIL).map_err(StoreError::Invalid)?;
        if let Some(u) = self.user_by_email(&email).await? {
            return Ok(u.id);
        }
        match self.create_user(&email, Some("Import"), None, false).await {
            Ok(u) => Ok(u.id),
            // Another importer created it in the meantime.
            Err(StoreError::Conflict(_)) => self
                .user_by_email(&email)
                .await?
                .map(|u| u.id)
                .ok_or(StoreError::NotFound("importer account")),
            Err(e) => Err(e),
        }
    }

    /// Stores a published advisory of another database under `org/repo`, keeping its dates.
    pub async fn import_advisory(
        &self,
        org: &Slug,
        repo: &Slug,
        content: Content,
        facts: ImportFacts,
    ) -> Result<ImportOutcome> {
        let repo = match self.repo(org, repo).await {
            Err(StoreError::NotFound(what)) => {
                // Say which is missing: the organisation, or its repository.
                self.org(org).await?;
                return Err(StoreError::NotFound(what));
            }
            r => r?,
        };
        self.import_into(&repo, content, facts).await
    }

    /// [`Store::import_advisory`] into a repository already looked up (`embargo import` looks
    /// it up once for all its records instead of once per record).
    pub async fn import_into(
        &self,
        repo: &crate::Repo,
        content: Content,
        facts: ImportFacts,
    ) -> Result<ImportOutcome> {
        content.check().map_err(StoreError::Invalid)?;
        // One query answers both whether the record was imported before and who the
        // importer is (each read is a round trip).
        let (before, importer) = self
            .imported_as_and_importer(repo.org_id, &facts.source_id)
            .await?;
        if let Some(id) = before {
            return Ok(ImportOutcome::Exists(id));
        }
        let importer = self.importer_id(importer).await?;
        let actor = Actor::User {
            id: importer,
            admin: false,
        };
        let filing = Filing {
            id: AdvisoryId::from_random(random_bytes::<RANDOM_BYTES>()?),
            org: repo.org.clone(),
            repo: Some(repo.slug.clone()),
            reporter_id: importer,
            response_due_at: facts.published_at,
        };
        let advisory = Advisory::imported(filing, content.clone(), &facts);
        let doc = crate::advisories::seal_doc(&self.keys, &advisory)?;
        let now = self.now();
        let source_id = facts.source_id.clone();
        // Records imported at the same time share commits (group commit); each record is
        // still all or nothing (a savepoint of its own).
        let (store, org_id, repo_id, record) =
            (self.clone(), repo.org_id, repo.id, advisory.clone());
        let outcome = self
            .in_shared_tx(Box::new(move |tx| {
                // The write may run twice (see `group_tx`): each run has its own copies.
                let (store, advisory, doc, content, facts) = (
                    store.clone(),
                    record.clone(),
                    doc.clone(),
                    content.clone(),
                    facts.clone(),
                );
                Box::pin(async move {
                    // The advisory row must exist before the import row refers to it.
                    sqlx::query(
                        "INSERT INTO advisories (id, org_id, repo_id, reporter_id, state, revision, doc, created_at, updated_at, published_at, response_due_at)
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)",
                    )
                    .bind(advisory.id.as_str())
                    .bind(org_id)
                    .bind(repo_id)
                    .bind(importer)
                    .bind(advisory.state.as_str())
                    .bind(advisory.revision)
                    .bind(doc)
                    .bind(to_ms(advisory.created_at))
                    .bind(to_ms(advisory.updated_at))
                    .bind(advisory.published_at.map(to_ms))
                    .bind(to_ms(advisory.response_due_at))
                    .execute(&mut **tx)
                    .await?;
                    let claimed = sqlx::query(
                        "INSERT INTO imports (org_id, source_id, advisory_id, imported_at) VALUES ($1, $2, $3, $4)
                         ON CONFLICT (org_id, source_id) DO NOTHING",
                    )
                    .bind(org_id)
                    .bind(&facts.source_id)
                    .bind(advisory.id.as_str())
                    .bind(to_ms(now))
                    .execute(&mut **tx)
                    .await?;
                    if claimed.rows_affected() == 0 {
                        // Imported concurrently: this record's savepoint is undone.
                        return Err(StoreError::Conflict(IMPORTED_MEANWHILE.into()));
                    }
                    store
                        .insert_event(
                            tx,
                            &advisory.id,
                            org_id,
                            actor,
                            &Change::Imported { content, facts },
                            now,
                        )
                        .await?;
                    crate::public_index::after_change(tx, None, &advisory, org_id).await
                })
            }))
            .await;
        match outcome {
            Ok(()) => {}
            Err(StoreError::Conflict(m)) if m == IMPORTED_MEANWHILE => {
                // Imported by someone else at the same time: keep theirs.
                return self
                    .imported_as(repo.org_id, &source_id)
                    .await?
                    .map(ImportOutcome::Exists)
                    .ok_or(StoreError::NotFound("import"));
            }
            Err(e) => return Err(e),
        }
        Ok(ImportOutcome::Created(advisory.id))
    }

    /// The advisory `source_id` was imported as into the organisation, if it was, and the
    /// importer account's id, if it exists, in one round trip.
    async fn imported_as_and_importer(
        &self,
        org_id: i64,
        source_id: &str,
    ) -> Result<(Option<AdvisoryId>, Option<i64>)> {
        let row = sqlx::query(
            "SELECT (SELECT advisory_id FROM imports WHERE org_id = $1 AND source_id = $2) AS advisory_id,
                    (SELECT id FROM users WHERE email = $3) AS importer",
        )
        .bind(org_id)
        .bind(source_id)
        .bind(IMPORTER_EMAIL)
        .fetch_one(&self.pool)
        .await?;
        let id = row
            .try_get::<Option<String>, _>("advisory_id")?
            .map(|id| AdvisoryId::parse(&id).map_err(StoreError::Invalid))
            .transpose()?;
        Ok((id, row.try_get::<Option<i64>, _>("importer")?))
    }

    async fn imported_as(&self, org_id: i64, source_id: &str) -> Result<Option<AdvisoryId>> {
        let row =
            sqlx::query("SELECT advisory_id FROM imports WHERE org_id = $1 AND source_id = $2")
                .bind(org_id)
                .bind(source_id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(|r| {
            let id: String = r.try_get("advisory_id")?;
            AdvisoryId::parse(&id).map_err(StoreError::Invalid)
        })
        .transpose()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::group_tx::Work;
    use crate::{KeySource, SystemClock};

    fn record(i: usize) -> (Content, ImportFacts) {
        let osv = serde_json::json!({
            "schema_version": "1.6.0", "id": format!("TEST-{i}"), "modified": "2026-01-02T03:04:05Z",
            "published": "2026-01-01T00:00:00Z", "summary": format!("Overflow {i}"), "details": "Long text.",
            "affected": [{"package": {"ecosystem": "PyPI", "name": format!("pkg-{i}")},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.5"}]}]}]
        });
        let imported = embargo_formats::import::parse(osv.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("{}", e.message));
        let facts = ImportFacts {
            source_id: imported.source_id.clone(),
            published_at: imported.published.unwrap_or(imported.modified),
            modified_at: imported.modified,
            withdrawn_at: imported.withdrawn,
        };
        (imported.content, facts)
    }

    async fn revision(store: &Store) -> i64 {
        sqlx::query_scalar("SELECT revision FROM public_state WHERE id = 1")
            .fetch_one(&store.pool)
            .await
            .unwrap()
    }

    /// Imports arriving together share commits, and the public revision (which servers cache
    /// public documents by) moves with every commit that made something public.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn imports_together_are_each_indexed_and_move_the_public_revision() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Store::open(&url, Arc::new(SystemClock), KeySource::Ephemeral)
            .await
            .unwrap();
        let admin = store
            .create_user(&Email::parse("a@example.org").unwrap(), None, None, true)
            .await
            .unwrap();
        let actor = Actor::User {
            id: admin.id,
            admin: true,
        };
        let (org, repo) = (Slug::parse("o").unwrap(), Slug::parse("r").unwrap());
        store.create_org(actor, &org, "O").await.unwrap();
        store.create_repo(actor, &org, &repo, "R").await.unwrap();
        let missing = Slug::parse("missing").unwrap();
        let (c, f) = record(0);
        assert!(matches!(
            store.import_advisory(&missing, &repo, c, f).await,
            Err(StoreError::NotFound("organisation"))
        ));
        let (c, f) = record(0);
        assert!(matches!(
            store.import_advisory(&org, &missing, c, f).await,
            Err(StoreError::NotFound("repository"))
        ));

        let start = revision(&store).await;
        let (c, f) = record(0);
        let first = store.import_advisory(&org, &repo, c, f).await.unwrap();
        let one = revision(&store).await;
        assert_eq!(one, start + 1, "a lone import bumps the revision once");

        const N: usize = 60;
        let mut set = tokio::task::JoinSet::new();
        for i in 1..=N {
            let (s, org, repo) = (store.clone(), org.clone(), repo.clone());
            set.spawn(async move {
                let (c, f) = record(i);
                s.import_advisory(&org, &repo, c, f).await
            });
        }
        for outcome in set.join_all().await {
            assert!(matches!(outcome, Ok(ImportOutcome::Created(_))));
        }
        let after = revision(&store).await;
        assert!(after > one, "the revision moved");
        assert!(after <= one + N as i64, "at most once per import");

        let (c, f) = record(0);
        assert_eq!(
            store.import_advisory(&org, &repo, c, f).await.unwrap(),
            ImportOutcome::Exists(first.id().clone())
        );
        assert_eq!(revision(&store).await, after, "nothing changed, no bump");
        let entries: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM public_entries")
            .fetch_one(&store.pool)
            .await
            .unwrap();
        let packages: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM public_packages WHERE kind = 'package'")
                .fetch_one(&store.pool)
                .await
                .unwrap();
        assert_eq!((entries, packages), (N as i64 + 1, N as i64 + 1));

        // The same records imported three times at once: the copies that lose fail inside
        // shared transactions, which run again with savepoints; each record is stored and
        // indexed once, and nothing of a losing copy is left in the index.
        let mut set = tokio::task::JoinSet::new();
        for i in (N + 1..=N + 20).flat_map(|i| [i, i, i]) {
            let (s, org, repo) = (store.clone(), org.clone(), repo.clone());
            set.spawn(async move {
                let (c, f) = record(i);
                (i, s.import_advisory(&org, &repo, c, f).await.unwrap())
            });
        }
        let mut created = std::collections::BTreeMap::new();
        for (i, outcome) in set.join_all().await {
            if let ImportOutcome::Created(id) = outcome {
                assert!(created.insert(i, id).is_none(), "record {i} created twice");
            }
        }
        assert_eq!(created.len(), 20, "each record created once");
        let (entries, packages, orphans): (i64, i64, i64) = sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM public_entries),
                    (SELECT COUNT(*) FROM public_packages WHERE kind = 'package'),
                    (SELECT COUNT(*) FROM public_packages p WHERE NOT EXISTS (SELECT 1 FROM advisories a WHERE a.id = p.advisory_id))",
        )
        .fetch_one(&store.pool)
        .await
        .unwrap();
        assert_eq!(
            (entries, packages, orphans),
            (N as i64 + 21, N as i64 + 21, 0)
        );
        let check = store.verify_audit().await.unwrap();
        assert!(
            matches!(check, crate::AuditCheck::Unanchored { .. }),
            "{check:?}"
        );
    }

    /// A write that indexes a new public advisory and then fails, in one batch with writes
    /// that succeed: its index rows (held back to the end of the transaction) go with it, and
    /// the others are kept.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_write_failing_after_indexing_leaves_no_index_rows() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = Store::open(&url, Arc::new(SystemClock), KeySource::Ephemeral)
            .await
            .unwrap();
        let admin = store
            .create_user(&Email::parse("a@example.org").unwrap(), None, None, true)
            .await
            .unwrap();
        let actor = Actor::User {
            id: admin.id,
            admin: true,
        };
        let (org, repo) = (Slug::parse("o").unwrap(), Slug::parse("r").unwrap());
        store.create_org(actor, &org, "O").await.unwrap();
        let place = store.create_repo(actor, &org, &repo, "R").await.unwrap();
        let (content, facts) = record(1);
        let filing = Filing {
            id: AdvisoryId::from_random(random_bytes::<RANDOM_BYTES>().unwrap()),
            org: place.org.clone(),
            repo: Some(place.slug.clone()),
            reporter_id: admin.id,
            response_due_at: facts.published_at,
        };
        let advisory = Advisory::imported(filing, content, &facts);
        let org_id = place.org_id;
        let kept = || -> Work {
            Box::new(|tx| {
                Box::pin(async move {
                    sqlx::query("UPDATE orgs SET name = name")
                        .execute(&mut **tx)
                        .await?;
                    Ok(())
                })
            })
        };
        let failing: Work = Box::new(move |tx| {
            let advisory = advisory.clone();
            Box::pin(async move {
                crate::public_index::after_change(tx, None, &advisory, org_id).await?;
                Err(StoreError::Conflict("fails after indexing".into()))
            })
        });
        let answers = store.write_one_batch(vec![kept(), failing, kept()]).await;
        assert!(answers[0].is_ok(), "{answers:?}");
        assert!(
            matches!(&answers[1], Err(StoreError::Conflict(m)) if m == "fails after indexing"),
            "{answers:?}"
        );
        assert!(answers[2].is_ok(), "{answers:?}");
        let rows: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM public_entries) + (SELECT COUNT(*) FROM public_packages)",
        )
        .fetch_one(&store.pool)
        .await
        .unwrap();
        assert_eq!(rows, 0, "the failed write's index rows were written");
    }
}
