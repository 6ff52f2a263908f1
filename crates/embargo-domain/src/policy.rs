//! An organisation's disclosure policy. Defaults follow the seed policy: respond within 14
//! days, support only the most recent release, fix in point releases.

use serde::{Deserialize, Serialize};
use time::{Duration, OffsetDateTime};

use crate::FieldError;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Policy {
    /// Days within which a report gets its first reply from a triager (the deadline in
    /// whole days, rounded up; kept for clients that know only days).
    pub response_days: u32,
    /// The time within which a report gets its first reply from a triager.
    #[serde(default = "default_response_deadline")]
    pub response_deadline: Span,
    /// Reminders to the maintainers and security managers, this long before the deadline.
    #[serde(default = "default_reminders")]
    pub reminders: Vec<Span>,
    /// The longest embargo that may be agreed, from the moment it is proposed.
    #[serde(default = "default_embargo_max")]
    pub embargo_max: Span,
    /// Warnings to the security managers this long before an embargo ends while the
    /// advisory is not ready.
    #[serde(default = "default_embargo_warnings")]
    pub embargo_warnings: Vec<Span>,
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
    /// How many of the most recent release lines (`MAJOR.MINOR`) get fixes; 1, the seed's
    /// rule, supports only the current release: no backports.
    #[serde(default = "default_supported_releases")]
    pub supported_releases: u32,
}

fn default_supported_releases() -> u32 {
    1
}

fn default_response_deadline() -> Span {
    Span(Duration::days(14))
}

fn default_reminders() -> Vec<Span> {
    vec![Span(Duration::days(7)), Span(Duration::days(2))]
}

fn default_embargo_max() -> Span {
    Span(Duration::days(90))
}

fn default_embargo_warnings() -> Vec<Span> {
    vec![Span(Duration::days(7)), Span(Duration::days(1))]
}

/// A length of time, written as text (`14d`, `36h`, `90m`, `5s`).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(try_from = "String", into = "String")]
#[schema(value_type = String)]
pub struct Span(pub Duration);

impl Span {
    pub fn parse(field: &str, s: &str) -> Result<Self, FieldError> {
        crate::embargo::parse_duration(field, s).map(Span)
    }
}

impl TryFrom<String> for Span {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Self::parse("duration", &s).map_err(|e| e.message)
    }
}

impl From<Span> for String {
    fn from(s: Span) -> String {
        crate::embargo::format_duration(s.0)
    }
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
            response_deadline: default_response_deadline(),
            reminders: default_reminders(),
            embargo_max: default_embargo_max(),
            embargo_warnings: default_embargo_warnings(),
            require_two_factor: false,
            spam_block_days: default_spam_block_days(),
            reports_per_hour: default_reports_per_hour(),
            mail_titles: false,
            disclose_closed_days: 0,
            supported_releases: default_supported_releases(),
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
            response_deadline: Span(Duration::days(i64::from(response_days))),
            ..Self::default()
        })
    }

    /// Sets the response deadline as a duration (from one second to a year).
    pub fn set_response_deadline(&mut self, d: Span) -> Result<(), FieldError> {
        if d.0 < Duration::seconds(1) || d.0 > Duration::days(365) {
            return Err(FieldError::new(
                "response_deadline",
                "must be between 1s and 365d",
            ));
        }
        self.response_deadline = d;
        let days = (d.0.whole_seconds() + 86_399) / 86_400;
        self.response_days = u32::try_from(days.max(1)).unwrap_or(1);
        Ok(())
    }

    /// Checks a list of times before a deadline or an end: each positive, at most a year,
    /// at most ten of them; returned longest first.
    pub fn check_offsets(field: &str, list: Vec<Span>) -> Result<Vec<Span>, FieldError> {
        if list.len() > 10 {
            return Err(FieldError::new(field, "has more than 10 entries"));
        }
        if list
            .iter()
            .any(|d| d.0 < Duration::seconds(1) || d.0 > Duration::days(365))
        {
            return Err(FieldError::new(
                field,
                "each entry must be between 1s and 365d",
            ));
        }
        let mut list = list;
        list.sort_unstable_by(|a, b| b.cmp(a));
        list.dedup();
        Ok(list)
    }

    /// When the first reply to a report filed at `filed_at` is due.
    pub fn response_due(&self, filed_at: OffsetDateTime) -> OffsetDateTime {
        filed_at + self.response_deadline.0
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
        let mut p = Policy::default();
        p.set_response_deadline(Span(Duration::hours(36))).unwrap();
        assert_eq!(p.response_days, 2);
        assert_eq!(
            p.response_due(datetime!(2026-11-25 10:00 UTC)),
            datetime!(2026-11-26 22:00 UTC)
        );
        assert_eq!(
            serde_json::to_value(&p).unwrap()["reminders"],
            serde_json::json!(["7d", "2d"])
        );
        assert!(Policy::check_offsets("reminders", vec![Span(Duration::ZERO)]).is_err());
    }
}
