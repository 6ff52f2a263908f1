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
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            response_days: 14,
            require_two_factor: false,
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
            require_two_factor: false,
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
