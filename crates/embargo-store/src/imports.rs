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
    async fn importer_id(&self) -> Result<i64> {
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
        content.check().map_err(StoreError::Invalid)?;
        let org = self.org(org).await?;
        let repo = self.repo(&org.slug, repo).await?;
        if let Some(id) = self.imported_as(org.id, &facts.source_id).await? {
            return Ok(ImportOutcome::Exists(id));
        }
        let importer = self.importer_id().await?;
        let actor = Actor::User {
            id: importer,
            admin: false,
        };
        let filing = Filing {
            id: AdvisoryId::from_random(random_bytes::<RANDOM_BYTES>()?),
            org: org.slug.clone(),
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
        let (store, org_id, repo_id, record) = (self.clone(), org.id, repo.id, advisory.clone());
        let outcome = self
            .in_shared_tx(Box::new(move |tx| {
                Box::pin(async move {
                    let advisory = record;
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
                    .imported_as(org.id, &source_id)
                    .await?
                    .map(ImportOutcome::Exists)
                    .ok_or(StoreError::NotFound("import"));
            }
            Err(e) => return Err(e),
        }
        Ok(ImportOutcome::Created(advisory.id))
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
