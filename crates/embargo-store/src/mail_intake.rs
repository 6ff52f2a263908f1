//! Reports and replies that arrive by e-mail (parsed by the server's intake): a new message
//! is a report filed as its sender's address, which having written confirms; a reply to a
//! report is a comment by its reporter, and never a new report.
//!
//! A sender's address is all that mail proves, so a reply acts as "the reporter of this one
//! report" (as the private link does), whatever account the address has.

use embargo_domain::access::Actor;
use embargo_domain::advisory::NewReport;
use embargo_domain::ids::AdvisoryId;
use embargo_domain::types::{Email, Slug};

use crate::{Confirmed, Result, Store, StoreError};

/// What became of a message.
#[derive(Debug, Clone)]
pub enum MailIntake {
    /// A new report, with notes on what was not kept (attachments over the limit).
    Filed {
        confirmed: Confirmed,
        notes: Vec<String>,
    },
    /// A comment on this report.
    Comment(AdvisoryId),
    /// Not filed, and why (for the operator's log; the sender is not told).
    Dropped(String),
}

/// A file that came with the message.
#[derive(Debug, Clone)]
pub struct MailAttachment {
    pub filename: String,
    pub bytes: Vec<u8>,
}

impl Store {
    /// Files a report that arrived by mail from `sender`, with its attachments (each within
    /// `max_attachment` bytes); the sender gets the private link by mail.
    #[allow(clippy::too_many_arguments)]
    pub async fn file_by_mail(
        &self,
        org: &Slug,
        repo: Option<&Slug>,
        sender: &Email,
        report: NewReport,
        files: &[MailAttachment],
        max_attachment: usize,
        link_url: impl Fn(&str) -> String,
    ) -> Result<MailIntake> {
        let o = self.org(org).await?;
        if let Some(r) = repo {
            self.repo(org, r).await?;
        }
        if let Err(e) = self
            .refuse_if_blocked(o.id, None, Some(sender.as_str()))
            .await
        {
            return Ok(MailIntake::Dropped(format!("blocked sender: {e}")));
        }
        let confirmed = match self
            .file_as_address(sender, org, repo, report, link_url)
            .await
        {
            Ok(c) => c,
            Err(StoreError::RateLimited { what, .. }) => {
                return Ok(MailIntake::Dropped(format!("rate limited: {what}")));
            }
            Err(StoreError::Forbidden(m)) => return Ok(MailIntake::Dropped(m)),
            Err(StoreError::Invalid(f)) => {
                return Ok(MailIntake::Dropped(format!("not a report: {f}")));
            }
            Err(e) => return Err(e),
        };
        let reporter = Actor::ReporterLink {
            user: self
                .user_by_email(sender)
                .await?
                .ok_or(StoreError::NotFound("account"))?
                .id,
            advisory: confirmed.id.key(),
        };
        let mut notes = Vec::new();
        for f in files {
            match self
                .attach(
                    reporter,
                    &confirmed.id,
                    &f.filename,
                    &f.bytes,
                    max_attachment,
                )
                .await
            {
                Ok(_) => {}
                Err(StoreError::Invalid(e)) => notes.push(format!(
                    "attachment '{}' ({} bytes) not kept: {}",
                    f.filename,
                    f.bytes.len(),
                    e.message
                )),
                Err(e) => return Err(e),
            }
        }
        Ok(MailIntake::Filed { confirmed, notes })
    }

    /// A reply by mail to report `id`: a comment by its reporter when `sender` is the
    /// reporter's address; dropped otherwise (it never becomes a new report).
    pub async fn reply_by_mail(
        &self,
        sender: &Email,
        id: &AdvisoryId,
        body: &str,
    ) -> Result<MailIntake> {
        let not_theirs = || {
            MailIntake::Dropped(format!(
                "a reply about {id} from an address that is not its reporter's"
            ))
        };
        let Some(user) = self.user_by_email(sender).await? else {
            return Ok(not_theirs());
        };
        let reporter = Actor::ReporterLink {
            user: user.id,
            advisory: id.key(),
        };
        match self.comment(reporter, id, body, false).await {
            Ok(_) => Ok(MailIntake::Comment(id.clone())),
            Err(StoreError::NotFound(_) | StoreError::Forbidden(_)) => Ok(not_theirs()),
            Err(StoreError::Conflict(m)) => Ok(MailIntake::Dropped(format!("{id}: {m}"))),
            Err(StoreError::Invalid(f)) => Ok(MailIntake::Dropped(format!("{id}: {f}"))),
            Err(e) => Err(e),
        }
    }
}

fn openpgp_setting(org_id: i64) -> String {
    format!("openpgp_key:{org_id}")
}

impl Store {
    /// Keeps the organisation's OpenPGP secret key (armored; sealed like report text), with
    /// which mail sent to it encrypted is read. The caller checked that it is one.
    pub async fn set_openpgp_key(&self, org: &Slug, armored: &str) -> Result<()> {
        let o = self.org(org).await?;
        let name = openpgp_setting(o.id);
        let sealed = self.keys.seal(&format!("settings.{name}"), armored)?;
        let mut tx = self.pool.begin().await?;
        sqlx::query("DELETE FROM settings WHERE name = $1")
            .bind(&name)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO settings (name, value) VALUES ($1, $2)")
            .bind(&name)
            .bind(sealed)
            .execute(&mut *tx)
            .await?;
        crate::audit::append(
            &mut tx,
            self.now(),
            Actor::Anonymous,
            self.origin(),
            "openpgp_key_imported",
            None,
            &serde_json::json!({"org": o.slug}),
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// The organisation's OpenPGP secret key, armored, if one was imported.
    pub async fn openpgp_key(&self, org_id: i64) -> Result<Option<String>> {
        let name = openpgp_setting(org_id);
        let v: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
            .bind(&name)
            .fetch_optional(&self.pool)
            .await?;
        v.map(|v| self.keys.open(&format!("settings.{name}"), &v))
            .transpose()
    }
}
