//! Each user's choice of mail: new reports, replies, reminders. Security-critical messages
//! (sign-in links, escalations, embargo warnings, invitations, what happens to one's own
//! report) are always sent.

use serde::{Deserialize, Serialize};

use crate::{Result, Store};

/// What a user wants by mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MailPreferences {
    /// New reports (and reports moved in) where one is a triager.
    #[serde(default = "yes")]
    pub new_reports: bool,
    /// Replies and internal notes in threads one is part of.
    #[serde(default = "yes")]
    pub replies: bool,
    /// Reminders before a report's response deadline.
    #[serde(default = "yes")]
    pub reminders: bool,
    /// New reports and replies once a day (at 07:00 UTC), in one message, instead of each.
    #[serde(default)]
    pub daily_digest: bool,
}

fn yes() -> bool {
    true
}

impl Default for MailPreferences {
    fn default() -> Self {
        Self {
            new_reports: true,
            replies: true,
            reminders: true,
            daily_digest: false,
        }
    }
}

/// The kinds of mail a preference can turn off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Optional {
    NewReports,
    Replies,
    Reminders,
}

impl MailPreferences {
    pub(crate) fn wants(&self, kind: Optional) -> bool {
        match kind {
            Optional::NewReports => self.new_reports,
            Optional::Replies => self.replies,
            Optional::Reminders => self.reminders,
        }
    }
}

impl Store {
    pub async fn mail_preferences(&self, user: i64) -> Result<MailPreferences> {
        let v: Option<Option<String>> =
            sqlx::query_scalar("SELECT mail_preferences FROM users WHERE id = $1")
                .bind(user)
                .fetch_optional(&self.pool)
                .await?;
        Ok(v.flatten()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default())
    }

    pub async fn set_mail_preferences(&self, user: i64, p: MailPreferences) -> Result<()> {
        sqlx::query("UPDATE users SET mail_preferences = $1 WHERE id = $2")
            .bind(
                serde_json::to_string(&p)
                    .map_err(|e| crate::StoreError::Internal(e.to_string()))?,
            )
            .bind(user)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// A user's preferences, in a transaction of the notifier's.
    pub(crate) async fn preferences_in(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        user: i64,
    ) -> Result<MailPreferences> {
        let v: Option<Option<String>> =
            sqlx::query_scalar("SELECT mail_preferences FROM users WHERE id = $1")
                .bind(user)
                .fetch_optional(&mut **tx)
                .await?;
        Ok(v.flatten()
            .and_then(|t| serde_json::from_str(&t).ok())
            .unwrap_or_default())
    }

    /// Whether `user` takes new reports and replies as a daily digest.
    pub(crate) async fn wants_digest(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        user: i64,
    ) -> Result<bool> {
        Ok(Self::preferences_in(tx, user).await?.daily_digest)
    }

    /// Whether `user` wants mail of `kind`.
    pub(crate) async fn wants_mail(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        user: i64,
        kind: Optional,
    ) -> Result<bool> {
        Ok(Self::preferences_in(tx, user).await?.wants(kind))
    }
}
