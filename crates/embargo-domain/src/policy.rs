//! An organisation's disclosure policy. Defaults follow the seed policy: respond within 14
//! days, support only the most recent release, fix in point releases.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::FieldError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    /// Days within which a report gets its first reply from a triager.
    pub response_days: u32,
    /// Whether security managers and steering committee members must use two-factor
    /// sign-in before their role counts.
    #[serde(default)]
    pub require_two_factor: bool,
    /// Days a sender whose report was closed as spam may not file again.
    #[serde(default = "default_spam_block_days")]
    pub spam_block_days: u32,
    /// Reports one account, or one address, may file in an hour.
    #[serde(default = "default_reports_per_hour")]
    pub reports_per_hour: u32,
    /// Whether e-mail may carry advisory titles (otherwise ids and links only).
    #[serde(default)]
    pub mail_titles: bool,
    /// Days after which closed reports (except spam) become public with their thread,
    /// without internal notes, as curl does; 0 keeps them private.
    #[serde(default)]
    pub disclose_closed_days: u32,
}

fn default_spam_block_days() -> u32 {
    30
}

fn default_reports_per_hour() -> u32 {
    10
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            response_days: 14,
            require_two_factor: false,
            spam_block_days: default_spam_block_days(),
            reports_per_hour: default_reports_per_hour(),
            mail_titles: false,
            disclose_closed_days: 0,
        }
    }
}

impl Policy {
    pub fn new(response_days: u32) -> Result<Self, FieldError> {
        if !(1..=365).contains(&response_days) {
            return Err(FieldError::new(
                "response_days",
                "must be between 1 and 365",
            ));
        }
        Ok(Self {
            response_days,
            ..Self::default()
        })
    }

    /// When the first reply to a report filed at `filed_at` is due.
    pub fn response_due(&self, filed_at: OffsetDateTime) -> OffsetDateTime {
        filed_at + Duration::days(i64::from(self.response_days))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn seed_policy_gives_fourteen_days() {
        let due = Policy::default().response_due(datetime!(2026-11-25 10:00 UTC));
        assert_eq!(due, datetime!(2026-12-09 10:00 UTC));
        assert!(Policy::new(0).is_err());
    }
}
