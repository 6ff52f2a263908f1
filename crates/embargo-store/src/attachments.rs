//! Attachments: files (proofs of concept) on an advisory's private thread. Their name, type
//! and bytes are sealed at rest; they stay with the audience even after publication; every
//! download is in the access log.

use embargo_domain::FieldError;
use embargo_domain::access::{Action, Actor};
use embargo_domain::advisory::Change;
use embargo_domain::ids::AdvisoryId;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sqlx::Row;
use time::OffsetDateTime;

use crate::clock::{from_ms, to_ms};
use crate::secrets::{hex, random_bytes};
use crate::{Result, Store, StoreError};

/// What is known of an attachment besides its bytes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Attachment {
    pub id: String,
    pub filename: String,
    /// Sniffed from the first bytes, never taken from the uploader.
    pub content_type: String,
    pub size: i64,
    pub sha256: String,
    pub uploader: String,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

#[derive(Serialize, Deserialize)]
struct Meta {
    filename: String,
    content_type: String,
    sha256: String,
}

fn aad(advisory: &str, attachment: &str) -> String {
    format!("attachments:{advisory}:{attachment}")
}

/// A file name safe to store and to put in a header: no path, no control characters, at
/// most 200 characters.
pub fn clean_filename(raw: &str) -> Result<String> {
    let base = raw.rsplit(['/', '\\']).next().unwrap_or_default().trim();
    let name: String = base
        .chars()
        .filter(|c| !c.is_control() && *c != '"')
        .take(200)
        .collect();
    if name.is_empty() || name == "." || name == ".." {
        return Err(FieldError::new("filename", "give the file a name, such as poc.py").into());
    }
    Ok(name)
}

/// The type a file is served with: what its bytes show it to be, and never something a
/// browser would render as a page.
fn sniff(bytes: &[u8]) -> String {
    let t = infer::get(bytes)
        .map(|t| t.mime_type())
        .unwrap_or("application/octet-stream");
    if t.contains("html") || t.contains("xml") || t.contains("javascript") || t.starts_with("text/")
    {
        "application/octet-stream".into()
    } else {
        t.into()
    }
}

impl Store {
    /// Attaches a file to an advisory's thread (anyone who may comment on it).
    pub async fn attach(
        &self,
        actor: Actor,
        id: &AdvisoryId,
        filename: &str,
        bytes: &[u8],
        max: usize,
    ) -> Result<Attachment> {
        let filename = clean_filename(filename)?;
        if bytes.is_empty() {
            return Err(FieldError::new("file", "is empty").into());
        }
        if bytes.len() > max {
            return Err(FieldError::new(
                "file",
                format!("is {} bytes; the limit is {max}", bytes.len()),
            )
            .into());
        }
        let now = self.now();
        let attachment_id = hex(&random_bytes::<16>()?);
        let meta = Meta {
            filename: filename.clone(),
            content_type: sniff(bytes),
            sha256: hex(&Sha256::digest(bytes)),
        };
        let meta_json =
            serde_json::to_string(&meta).map_err(|e| StoreError::Internal(e.to_string()))?;
        let place = aad(id.as_str(), &attachment_id);
        let (mut tx, _) = self
            .begin_decided(actor, id, Action::Attach, "attach files to")
            .await?;
        sqlx::query("INSERT INTO attachments (id, advisory_id, uploader_id, size, meta, data, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)")
            .bind(&attachment_id)
            .bind(id.as_str())
            .bind(actor.user_id())
            .bind(i64::try_from(bytes.len()).unwrap_or(i64::MAX))
            .bind(self.keys.seal(&place, &meta_json)?)
            .bind(self.keys.seal_bytes(&place, bytes)?)
            .bind(to_ms(now))
            .execute(&mut *tx)
            .await?;
        let org_id: i64 = sqlx::query_scalar("SELECT org_id FROM advisories WHERE id = $1")
            .bind(id.as_str())
            .fetch_one(&mut *tx)
            .await?;
        let change = Change::Attached {
            attachment_id: attachment_id.clone(),
            size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
        };
        self.insert_event(&mut tx, id, org_id, actor, &change, now)
            .await?;
        tx.commit().await?;
        let uploader = self
            .user_by_id(actor.user_id().unwrap_or(-1))
            .await?
            .map(|u| u.name)
            .unwrap_or_default();
        Ok(Attachment {
            id: attachment_id,
            filename,
            content_type: meta.content_type,
            size: i64::try_from(bytes.len()).unwrap_or(i64::MAX),
            sha256: meta.sha256,
            uploader,
            created_at: now,
        })
    }

    async fn attachment_rows(
        &self,
        id: &AdvisoryId,
        only: Option<&str>,
        with_data: bool,
    ) -> Result<Vec<(Attachment, Option<Vec<u8>>)>> {
        // A listing reads no file contents (they can be megabytes each).
        let sql = if with_data {
            "SELECT t.id, t.size, t.meta, t.data, t.created_at, u.name FROM attachments t JOIN users u ON u.id = t.uploader_id
             WHERE t.advisory_id = $1 AND ($2 = '' OR t.id = $2) ORDER BY t.created_at, t.id"
        } else {
            "SELECT t.id, t.size, t.meta, t.created_at, u.name FROM attachments t JOIN users u ON u.id = t.uploader_id
             WHERE t.advisory_id = $1 AND ($2 = '' OR t.id = $2) ORDER BY t.created_at, t.id"
        };
        let rows = sqlx::query(sql)
            .bind(id.as_str())
            .bind(only.unwrap_or_default())
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| {
                let aid: String = r.try_get("id")?;
                let place = aad(id.as_str(), &aid);
                let meta: Meta = serde_json::from_str(
                    &self.keys.open(&place, &r.try_get::<String, _>("meta")?)?,
                )
                .map_err(|e| StoreError::Internal(e.to_string()))?;
                let data = if with_data {
                    Some(
                        self.keys
                            .open_bytes(&place, &r.try_get::<String, _>("data")?)?,
                    )
                } else {
                    None
                };
                let a = Attachment {
                    id: aid,
                    filename: meta.filename,
                    content_type: meta.content_type,
                    size: r.try_get("size")?,
                    sha256: meta.sha256,
                    uploader: r.try_get("name")?,
                    created_at: from_ms(r.try_get("created_at")?),
                };
                Ok((a, data))
            })
            .collect()
    }

    /// The attachments of an advisory (its audience).
    pub async fn attachments(&self, actor: Actor, id: &AdvisoryId) -> Result<Vec<Attachment>> {
        self.decided(
            actor,
            id,
            Action::ReadAttachments,
            "read the attachments of",
        )
        .await?;
        Ok(self
            .attachment_rows(id, None, false)
            .await?
            .into_iter()
            .map(|(a, _)| a)
            .collect())
    }

    /// One attachment with its bytes; the download is recorded in the access log.
    pub async fn attachment(
        &self,
        actor: Actor,
        id: &AdvisoryId,
        attachment_id: &str,
    ) -> Result<(Attachment, Vec<u8>)> {
        let a = self
            .decided(
                actor,
                id,
                Action::ReadAttachments,
                "read the attachments of",
            )
            .await?;
        let found = self.attachment_rows(id, Some(attachment_id), true).await?;
        let Some((meta, Some(bytes))) = found.into_iter().next() else {
            return Err(StoreError::NotFound("attachment"));
        };
        // Attachments stay private after publication, so every download is logged.
        let _ = a;
        let mut tx = self.pool.begin().await?;
        crate::audit::append(
            &mut tx,
            self.now(),
            actor,
            self.origin(),
            "read_attachment",
            Some(id),
            &serde_json::json!({"attachment": meta.id}),
        )
        .await?;
        tx.commit().await?;
        Ok((meta, bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_paths_and_controls() {
        assert_eq!(clean_filename("../../etc/passwd").unwrap(), "passwd");
        assert_eq!(clean_filename("C:\\x\\poc.py").unwrap(), "poc.py");
        assert_eq!(clean_filename("a\"b\r\n.txt").unwrap(), "ab.txt");
        assert!(clean_filename("..").is_err() && clean_filename("dir/").is_err());
    }

    #[test]
    fn pages_are_never_served_as_pages() {
        assert_eq!(
            sniff(b"<html><script>alert(1)</script>"),
            "application/octet-stream"
        );
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n0000"), "image/png");
        assert_eq!(sniff(b"%PDF-1.7"), "application/pdf");
    }
}
