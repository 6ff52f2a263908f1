//! An organisation's IMAP intake: the mailbox a job polls for reports (server address, user,
//! password, folder, the repository reports go to), kept sealed in `settings` like the
//! OpenPGP key (so `keys rotate` reseals it), and the record of the messages taken from it,
//! which makes each message read at most once (see `imap_taken` in migration 24).
//!
//! Security managers set it (`OrgAction::ManagePolicy`); nobody reads the password back.

use embargo_domain::FieldError;
use embargo_domain::access::{Actor, OrgAction};
use embargo_domain::types::Slug;
use serde::{Deserialize, Serialize};

use crate::clock::to_ms;
use crate::{Result, Store, StoreError};

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum ImapTls {
    /// TLS from the first byte (`imaps://`, usually port 993).
    Implicit,
    /// `STARTTLS` before signing in (`imap://`, usually port 143); refused if not offered.
    Starttls,
    /// No TLS: only for a host listed in `[network] allow` (checked when connecting).
    None,
}

/// The settings as the job uses them. Its `Debug` hides the password.
#[derive(Clone, Serialize, Deserialize)]
pub struct ImapIntake {
    /// `imaps://host:port` or `imap://host:port`.
    pub url: String,
    pub user: String,
    pub password: String,
    pub tls: ImapTls,
    /// The folder read (`INBOX` unless said).
    pub folder: String,
    /// The repository reports are filed to; the organisation's inbox when `None`.
    pub repo: Option<Slug>,
}

impl std::fmt::Debug for ImapIntake {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImapIntake")
            .field("url", &self.url)
            .field("user", &self.user)
            .field("password", &"[hidden]")
            .field("tls", &self.tls)
            .field("folder", &self.folder)
            .field("repo", &self.repo)
            .finish()
    }
}

/// What a security manager sends (`PUT /api/v1/orgs/{org}/mail-intake`).
#[derive(Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ImapIntakeRequest {
    pub url: String,
    pub user: String,
    /// Empty: keep the stored one (only for the same server and user).
    pub password: String,
    #[serde(default)]
    pub tls: Option<ImapTls>,
    #[serde(default)]
    pub folder: Option<String>,
    #[serde(default)]
    pub repo: Option<String>,
}

/// The settings as they are shown: everything but the password.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ImapIntakeView {
    pub url: String,
    pub user: String,
    pub tls: ImapTls,
    pub folder: String,
    pub repo: Option<Slug>,
}

impl From<&ImapIntake> for ImapIntakeView {
    fn from(s: &ImapIntake) -> Self {
        Self {
            url: s.url.clone(),
            user: s.user.clone(),
            tls: s.tls,
            folder: s.folder.clone(),
            repo: s.repo.clone(),
        }
    }
}

/// Where a message taken from the mailbox stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImapClaim {
    /// Never seen: it is claimed now, and must be read.
    New,
    /// Claimed earlier, with no outcome written: a reading died half-way, so it may or may
    /// not have been filed; it must not be read again.
    Unfinished,
    /// Read earlier with this outcome, but not moved away.
    Done(String),
}

fn setting_name(org_id: i64) -> String {
    format!("imap_intake:{org_id}")
}

fn invalid(field: &str, message: impl Into<String>) -> StoreError {
    StoreError::Invalid(FieldError::new(field, message.into()))
}

impl Store {
    /// Sets (replaces) the organisation's IMAP intake. The caller checked the address against
    /// the network rule; here its form, the TLS mode and the repository.
    pub async fn set_imap_intake(
        &self,
        actor: Actor,
        org: &Slug,
        req: ImapIntakeRequest,
    ) -> Result<ImapIntakeView> {
        let o = self.org(org).await?;
        self.require_org(actor, &o, OrgAction::ManagePolicy, "set the mail intake")
            .await?;
        let url = url::Url::parse(req.url.trim()).map_err(|_| {
            invalid(
                "url",
                "is not an address such as imaps://imap.example.org:993",
            )
        })?;
        let tls = match (url.scheme(), req.tls) {
            ("imaps", None | Some(ImapTls::Implicit)) => ImapTls::Implicit,
            ("imap", None | Some(ImapTls::Starttls)) => ImapTls::Starttls,
            ("imap", Some(ImapTls::None)) => ImapTls::None,
            ("imaps" | "imap", Some(_)) => {
                return Err(invalid(
                    "tls",
                    "imaps:// is implicit TLS; imap:// is starttls (or none, for a host in [network] allow)",
                ));
            }
            _ => {
                return Err(invalid(
                    "url",
                    "must be imaps://host:port (TLS) or imap://host:port (STARTTLS)",
                ));
            }
        };
        if url.host_str().is_none_or(str::is_empty)
            || !url.username().is_empty()
            || url.password().is_some()
            || !matches!(url.path(), "" | "/")
            || url.query().is_some()
            || url.fragment().is_some()
        {
            return Err(invalid(
                "url",
                "must be only scheme, host and port (the user and password are fields of their own)",
            ));
        }
        let user = req.user.trim().to_owned();
        if user.is_empty() || user.len() > 256 || user.chars().any(char::is_control) {
            return Err(invalid(
                "user",
                "must be the mailbox's user name (1 to 256 characters)",
            ));
        }
        let url_text = url.to_string().trim_end_matches('/').to_owned();
        // Left empty: the stored password is kept, but only for the same server and user, so
        // that nobody can send it to another server without knowing it.
        let password = if req.password.is_empty() {
            match self.imap_settings(o.id).await? {
                // Nor over a weaker connection than it was stored for.
                Some(old) if old.url == url_text && old.user == user && old.tls == tls => {
                    old.password
                }
                _ => {
                    return Err(invalid(
                        "password",
                        "must be given (1 to 1024 characters) for a new server, user or TLS setting",
                    ));
                }
            }
        } else if req.password.len() > 1024 || req.password.chars().any(char::is_control) {
            return Err(invalid(
                "password",
                "must be 1 to 1024 characters, no control characters",
            ));
        } else {
            req.password
        };
        let folder = req
            .folder
            .as_deref()
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .unwrap_or("INBOX")
            .to_owned();
        if folder.len() > 200
            || folder
                .chars()
                .any(|c| c.is_control() || c == '"' || c == '\\')
        {
            return Err(invalid(
                "folder",
                "must be a folder name without quotes, backslashes or control characters",
            ));
        }
        let repo = match req.repo.as_deref().filter(|r| !r.is_empty()) {
            None => None,
            Some(r) => {
                let r = Slug::parse(r).map_err(|e| invalid("repo", e.message))?;
                self.repo(org, &r)
                    .await
                    .map_err(|_| invalid("repo", format!("{org} has no repository '{r}'")))?;
                Some(r)
            }
        };
        let settings = ImapIntake {
            url: url_text,
            user,
            password,
            tls,
            folder,
            repo,
        };
        let name = setting_name(o.id);
        let json = serde_json::to_string(&settings)
            .map_err(|e| StoreError::Internal(format!("encoding the IMAP settings: {e}")))?;
        let sealed = self.keys.seal(&format!("settings.{name}"), &json)?;
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
            actor,
            self.origin(),
            "imap_intake_set",
            None,
            &serde_json::json!({"org": o.slug, "url": settings.url, "user": settings.user}),
        )
        .await?;
        tx.commit().await?;
        Ok(ImapIntakeView::from(&settings))
    }

    /// The organisation's IMAP intake without its password, if one is set.
    pub async fn imap_intake(&self, actor: Actor, org: &Slug) -> Result<Option<ImapIntakeView>> {
        let o = self.org(org).await?;
        self.require_org(actor, &o, OrgAction::ManagePolicy, "read the mail intake")
            .await?;
        Ok(self
            .imap_settings(o.id)
            .await?
            .as_ref()
            .map(ImapIntakeView::from))
    }

    /// Turns the organisation's IMAP intake off; whether one was set.
    pub async fn delete_imap_intake(&self, actor: Actor, org: &Slug) -> Result<bool> {
        let o = self.org(org).await?;
        self.require_org(
            actor,
            &o,
            OrgAction::ManagePolicy,
            "turn off the mail intake",
        )
        .await?;
        let mut tx = self.pool.begin().await?;
        let n = sqlx::query("DELETE FROM settings WHERE name = $1")
            .bind(setting_name(o.id))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        if n > 0 {
            crate::audit::append(
                &mut tx,
                self.now(),
                actor,
                self.origin(),
                "imap_intake_removed",
                None,
                &serde_json::json!({"org": o.slug}),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(n > 0)
    }

    async fn imap_settings(&self, org_id: i64) -> Result<Option<ImapIntake>> {
        let name = setting_name(org_id);
        let v: Option<String> = sqlx::query_scalar("SELECT value FROM settings WHERE name = $1")
            .bind(&name)
            .fetch_optional(&self.pool)
            .await?;
        v.map(|v| self.open_imap_settings(&name, &v)).transpose()
    }

    fn open_imap_settings(&self, name: &str, sealed: &str) -> Result<ImapIntake> {
        let json = self.keys.open(&format!("settings.{name}"), sealed)?;
        serde_json::from_str(&json)
            .map_err(|e| StoreError::Internal(format!("reading the IMAP settings: {e}")))
    }

    /// Every organisation's IMAP intake (for the job, which acts for the system).
    pub async fn imap_intakes(&self) -> Result<Vec<(i64, Slug, ImapIntake)>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT name, value FROM settings WHERE name LIKE 'imap_intake:%'")
                .fetch_all(&self.pool)
                .await?;
        let orgs = self.orgs().await?;
        let mut out = Vec::new();
        for (name, sealed) in rows {
            let Some(org) = name
                .strip_prefix("imap_intake:")
                .and_then(|id| id.parse::<i64>().ok())
                .and_then(|id| orgs.iter().find(|o| o.id == id))
            else {
                continue;
            };
            out.push((
                org.id,
                org.slug.clone(),
                self.open_imap_settings(&name, &sealed)?,
            ));
        }
        Ok(out)
    }

    /// Claims the message with SHA-256 `digest` in the organisation's mailbox, or says what
    /// became of it before. The claim is written (and committed) before the message is read.
    pub async fn imap_claim(
        &self,
        org_id: i64,
        digest: &str,
        message_id: Option<&str>,
    ) -> Result<ImapClaim> {
        let inserted = sqlx::query(
            "INSERT INTO imap_taken (org_id, digest, message_id, taken_at) VALUES ($1, $2, $3, $4) ON CONFLICT (org_id, digest) DO NOTHING",
        )
        .bind(org_id)
        .bind(digest)
        .bind(message_id.map(|m| m.chars().take(500).collect::<String>()))
        .bind(to_ms(self.now()))
        .execute(&self.pool)
        .await?
        .rows_affected();
        if inserted == 1 {
            return Ok(ImapClaim::New);
        }
        let outcome: Option<String> =
            sqlx::query_scalar("SELECT outcome FROM imap_taken WHERE org_id = $1 AND digest = $2")
                .bind(org_id)
                .bind(digest)
                .fetch_one(&self.pool)
                .await?;
        Ok(outcome.map_or(ImapClaim::Unfinished, ImapClaim::Done))
    }

    /// Writes what became of a claimed message.
    pub async fn imap_taken(&self, org_id: i64, digest: &str, outcome: &str) -> Result<()> {
        sqlx::query(
            "UPDATE imap_taken SET outcome = $1, done_at = $2 WHERE org_id = $3 AND digest = $4",
        )
        .bind(outcome)
        .bind(to_ms(self.now()))
        .bind(org_id)
        .bind(digest)
        .execute(&self.pool)
        .await?;
        Ok(())
    }
}
