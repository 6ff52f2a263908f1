//! The access log: every read of an unpublished advisory and every change, with who, what,
//! when and from which address. Entries form a hash chain: each holds the hash of the one
//! before it and a hash of its own content, and `audit_head` holds the last hash, so an
//! edited, removed or truncated entry is found by [`Store::verify_audit`].

use embargo_domain::access::{Action, Actor};
use embargo_domain::ids::AdvisoryId;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;
use time::OffsetDateTime;

use crate::clock::{from_ms, to_ms};
use crate::secrets::hex;
use crate::{Result, Store, StoreError};

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// One entry of the access log.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AuditEntry {
    pub seq: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor: Option<String>,
    pub origin: Option<String>,
    pub action: String,
    pub advisory_id: Option<String>,
    pub detail: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

/// The hashed fields of an entry.
struct Fields<'a> {
    seq: i64,
    at: i64,
    actor_id: Option<i64>,
    origin: Option<&'a str>,
    action: &'a str,
    advisory_id: Option<&'a str>,
    detail: &'a str,
    prev: &'a str,
}

impl Fields<'_> {
    /// SHA-256 over a JSON array of the fields, in a fixed order, with the detail as the
    /// exact text stored.
    fn hash(&self) -> String {
        let canonical = serde_json::json!([
            self.seq,
            self.at,
            self.actor_id,
            self.origin,
            self.action,
            self.advisory_id,
            self.detail,
            self.prev
        ]);
        hex(&Sha256::digest(canonical.to_string().as_bytes()))
    }
}

/// Appends one entry inside the caller's transaction. Locking `audit_head` first serialises
/// appends (a row lock on PostgreSQL, the write lock on SQLite), so the chain never forks.
pub(crate) async fn append(
    conn: &mut sqlx::AnyConnection,
    at: OffsetDateTime,
    actor: Actor,
    origin: Option<&str>,
    action: &str,
    advisory_id: Option<&AdvisoryId>,
    detail: &serde_json::Value,
) -> Result<()> {
    let head = sqlx::query("UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash")
        .fetch_one(&mut *conn)
        .await?;
    let seq: i64 = head.try_get("seq")?;
    let prev: String = head.try_get("hash")?;
    let at = to_ms(at);
    let actor_id = actor.user_id();
    let advisory = advisory_id.map(AdvisoryId::as_str);
    let detail = detail.to_string();
    let hash = Fields {
        seq,
        at,
        actor_id,
        origin,
        action,
        advisory_id: advisory,
        detail: &detail,
        prev: &prev,
    }
    .hash();
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor_id, origin, action, advisory_id, detail, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(seq)
    .bind(at)
    .bind(actor_id)
    .bind(origin)
    .bind(action)
    .bind(advisory)
    .bind(detail)
    .bind(prev)
    .bind(&hash)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
        .bind(hash)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The result of checking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditCheck {
    Intact {
        entries: i64,
    },
    /// The first entry that does not fit, and why.
    Broken {
        seq: i64,
        reason: String,
    },
}

impl Store {
    /// Records a read of an unpublished advisory (a separate short transaction).
    pub(crate) async fn audit_read(
        &self,
        actor: Actor,
        action: &str,
        id: &AdvisoryId,
    ) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        append(
            &mut tx,
            self.now(),
            actor,
            self.origin(),
            action,
            Some(id),
            &serde_json::json!({}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Records that a list showed these unpublished advisories.
    pub(crate) async fn audit_list(&self, actor: Actor, ids: &[&AdvisoryId]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        let listed: Vec<&str> = ids.iter().map(|i| i.as_str()).collect();
        append(
            &mut tx,
            self.now(),
            actor,
            self.origin(),
            "list",
            None,
            &serde_json::json!({ "advisories": listed }),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// One advisory's access log, for those allowed to read it (security managers).
    pub async fn audit_log(&self, actor: Actor, id: &AdvisoryId) -> Result<Vec<AuditEntry>> {
        self.decided(actor, id, Action::ReadEvents, "read the access log of")
            .await?;
        let rows = sqlx::query(
            "SELECT l.seq, l.at, u.email, l.origin, l.action, l.advisory_id, l.detail, l.prev_hash, l.hash
             FROM audit_log l LEFT JOIN users u ON u.id = l.actor_id
             WHERE l.advisory_id = $1 OR (l.action = 'list' AND l.detail LIKE $2) ORDER BY l.seq",
        )
        .bind(id.as_str())
        .bind(format!("%\"{}\"%", id.as_str()))
        .fetch_all(&self.pool)
        .await?;
        let entries = rows
            .iter()
            .map(|r| {
                let detail: String = r.try_get("detail")?;
                Ok(AuditEntry {
                    seq: r.try_get("seq")?,
                    at: from_ms(r.try_get("at")?),
                    actor: r.try_get("email")?,
                    origin: r.try_get("origin")?,
                    action: r.try_get("action")?,
                    advisory_id: r.try_get("advisory_id")?,
                    detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                    prev_hash: r.try_get("prev_hash")?,
                    hash: r.try_get("hash")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // Reading the log is itself an access.
        self.audit_read(actor, "read_access_log", id).await?;
        Ok(entries)
    }

    /// Checks the whole chain from the first entry: every hash, every link, no gap, and the
    /// head matching the last entry.
    pub async fn verify_audit(&self) -> Result<AuditCheck> {
        let mut expected_prev = GENESIS.to_owned();
        let mut expected_seq = 1_i64;
        let mut after: i64 = 0;
        loop {
            let rows = sqlx::query(
                "SELECT seq, at, actor_id, origin, action, advisory_id, detail, prev_hash, hash
                 FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 1000",
            )
            .bind(after)
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                let seq: i64 = r.try_get("seq")?;
                if seq != expected_seq {
                    return Ok(AuditCheck::Broken {
                        seq: expected_seq,
                        reason: format!("entry {expected_seq} is missing (the next is {seq})"),
                    });
                }
                let prev: String = r.try_get("prev_hash")?;
                if prev != expected_prev {
                    return Ok(AuditCheck::Broken {
                        seq,
                        reason: "its link to the previous entry does not match".into(),
                    });
                }
                let origin: Option<String> = r.try_get("origin")?;
                let advisory: Option<String> = r.try_get("advisory_id")?;
                let action: String = r.try_get("action")?;
                let detail: String = r.try_get("detail")?;
                let at: i64 = r.try_get("at")?;
                let computed = Fields {
                    seq,
                    at,
                    actor_id: r.try_get("actor_id")?,
                    origin: origin.as_deref(),
                    action: &action,
                    advisory_id: advisory.as_deref(),
                    detail: &detail,
                    prev: &prev,
                }
                .hash();
                let stored: String = r.try_get("hash")?;
                if computed != stored {
                    return Ok(AuditCheck::Broken {
                        seq,
                        reason: "its content does not match its hash (it was changed)".into(),
                    });
                }
                expected_prev = stored;
                expected_seq += 1;
                after = seq;
            }
        }
        let head = sqlx::query("SELECT seq, hash FROM audit_head WHERE id = 1")
            .fetch_one(&self.pool)
            .await?;
        let (head_seq, head_hash): (i64, String) = (head.try_get("seq")?, head.try_get("hash")?);
        if head_seq != expected_seq - 1 || head_hash != expected_prev {
            return Ok(AuditCheck::Broken {
                seq: expected_seq,
                reason: format!(
                    "the chain ends at entry {} but its head says {head_seq}: entries were removed from the end",
                    expected_seq - 1
                ),
            });
        }
        Ok(AuditCheck::Intact {
            entries: expected_seq - 1,
        })
    }
}

impl From<AuditCheck> for std::result::Result<i64, StoreError> {
    fn from(c: AuditCheck) -> Self {
        match c {
            AuditCheck::Intact { entries } => Ok(entries),
            AuditCheck::Broken { seq, reason } => {
                Err(StoreError::Conflict(format!("entry {seq}: {reason}")))
            }
        }
    }
}
