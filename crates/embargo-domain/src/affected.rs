//! Affected versions as OSV states them: ranges of events (`introduced`, `fixed`,
//! `last_affected`, `limit`) of one kind (`SEMVER`, `ECOSYSTEM`, `GIT`), and lists of versions.
//!
//! A package's affected versions are either written in the forge syntax of
//! [`crate::version_range`] (what people type) or kept as events (what imported records and
//! GIT ranges carry). [`crate::advisory::Vulnerability::effective_ranges`] gives both as events,
//! so every published format derives from one place.

use serde::{Deserialize, Serialize};

use crate::FieldError;
use crate::error::check_text;
use crate::types::truncate;

/// Limits on affected-version data.
pub mod limits {
    pub const RANGES: usize = 16;
    pub const EVENTS: usize = 256;
    pub const VERSIONS: usize = 4_096;
    pub const VERSION: usize = 100;
    pub const REPO: usize = 512;
}

/// How the versions of a range are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum RangeKind {
    Semver,
    Ecosystem,
    Git,
}

impl RangeKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Semver => "SEMVER",
            Self::Ecosystem => "ECOSYSTEM",
            Self::Git => "GIT",
        }
    }
}

/// One event of a range, written as OSV writes it (`{"fixed": "1.2.3"}`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RangeEvent {
    Introduced(String),
    Fixed(String),
    LastAffected(String),
    Limit(String),
}

impl RangeEvent {
    pub fn version(&self) -> &str {
        match self {
            Self::Introduced(v) | Self::Fixed(v) | Self::LastAffected(v) | Self::Limit(v) => v,
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Self::Introduced(_) => "introduced",
            Self::Fixed(_) => "fixed",
            Self::LastAffected(_) => "last_affected",
            Self::Limit(_) => "limit",
        }
    }
}

/// A range of affected versions.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AffectedRange {
    #[serde(rename = "type")]
    pub kind: RangeKind,
    /// The repository a `GIT` range's commits belong to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
    pub events: Vec<RangeEvent>,
}

/// A stretch of affected versions: from `introduced` (`"0"`: from the start) up to an end.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interval<'a> {
    pub introduced: &'a str,
    pub end: Option<End<'a>>,
}

/// How an [`Interval`] ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End<'a> {
    /// The first version that is no longer affected.
    Fixed(&'a str),
    /// The last version known to be affected (no fix known).
    LastAffected(&'a str),
}

impl AffectedRange {
    /// The stretches the events describe, in the order written: each `introduced` up to the
    /// next `fixed` or `last_affected`. `limit` events only bound where a search stops and do
    /// not end a stretch.
    pub fn intervals(&self) -> Vec<Interval<'_>> {
        let mut out: Vec<Interval<'_>> = Vec::new();
        let mut open: Vec<&str> = Vec::new();
        for e in &self.events {
            match e {
                RangeEvent::Introduced(v) => open.push(v),
                RangeEvent::Fixed(v) | RangeEvent::LastAffected(v) => {
                    let end = if matches!(e, RangeEvent::Fixed(_)) {
                        End::Fixed(v)
                    } else {
                        End::LastAffected(v)
                    };
                    if open.is_empty() {
                        continue;
                    }
                    let introduced = open.remove(0);
                    out.push(Interval {
                        introduced,
                        end: Some(end),
                    });
                }
                RangeEvent::Limit(_) => {}
            }
        }
        out.extend(open.into_iter().map(|introduced| Interval {
            introduced,
            end: None,
        }));
        out
    }

    /// Checks the rules OSV's linter applies: a range has an `introduced` event, no version
    /// appears twice, `GIT` ranges name their repository and give commit hashes.
    pub fn check(&self) -> Result<(), FieldError> {
        if self.events.is_empty() {
            return Err(FieldError::new(
                "events",
                "is empty; give at least an introduced event",
            ));
        }
        if self.events.len() > limits::EVENTS {
            return Err(FieldError::new(
                "events",
                format!(
                    "has {} entries; the limit is {}",
                    self.events.len(),
                    limits::EVENTS
                ),
            ));
        }
        if !self
            .events
            .iter()
            .any(|e| matches!(e, RangeEvent::Introduced(_)))
        {
            return Err(FieldError::new(
                "events",
                "has no introduced event; say where the affected versions start (\"0\" for all)",
            ));
        }
        for (i, e) in self.events.iter().enumerate() {
            let field = format!("events[{i}].{}", e.name());
            let v = e.version();
            if self.kind == RangeKind::Git {
                let hex = v
                    .chars()
                    .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase());
                let ok = v == "0" || (hex && (v.len() == 40 || v.len() == 64));
                if !ok {
                    return Err(FieldError::new(
                        field,
                        format!(
                            "'{}' is not a full commit hash (40 or 64 hex digits)",
                            truncate(v, 70)
                        ),
                    ));
                }
            } else {
                check_version(&field, v)?;
            }
            if self.events.iter().take(i).any(|o| o.version() == v) {
                return Err(FieldError::new(
                    field,
                    format!(
                        "'{}' appears twice in the range; each event needs its own version",
                        truncate(v, 70)
                    ),
                ));
            }
        }
        match (&self.kind, &self.repo) {
            (RangeKind::Git, None) => {
                Err(FieldError::new("repo", "a GIT range names its repository"))
            }
            (_, Some(r)) => {
                check_text("repo", r, limits::REPO, false)?;
                if r.trim().is_empty() || r.contains(char::is_whitespace) {
                    return Err(FieldError::new("repo", "is not a repository address"));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }
}

/// A version as ecosystems write them: printable, no spaces, at most 100 characters.
pub fn check_version(field: &str, v: &str) -> Result<(), FieldError> {
    if v.is_empty() {
        return Err(FieldError::new(field, "is empty"));
    }
    check_text(field, v, limits::VERSION, false)?;
    if v.contains(char::is_whitespace) {
        return Err(FieldError::new(
            field,
            format!("'{}' is not a version: it has a space", truncate(v, 40)),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(events: Vec<RangeEvent>) -> AffectedRange {
        AffectedRange {
            kind: RangeKind::Semver,
            repo: None,
            events,
        }
    }

    #[test]
    fn events_read_and_write_as_osv() {
        let r: AffectedRange = serde_json::from_str(
            r#"{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.2.3"}]}"#,
        )
        .unwrap();
        assert_eq!(
            r.events,
            vec![
                RangeEvent::Introduced("0".into()),
                RangeEvent::Fixed("1.2.3".into())
            ]
        );
        assert_eq!(
            serde_json::to_string(&r).unwrap(),
            r#"{"type":"SEMVER","events":[{"introduced":"0"},{"fixed":"1.2.3"}]}"#
        );
    }

    #[test]
    fn intervals_pair_starts_with_ends() {
        use RangeEvent::*;
        let r = range(vec![
            Introduced("0".into()),
            Fixed("1.0.1".into()),
            Introduced("2.0.0".into()),
            LastAffected("2.3.0".into()),
            Introduced("3.0.0".into()),
        ]);
        assert_eq!(
            r.intervals(),
            vec![
                Interval {
                    introduced: "0",
                    end: Some(End::Fixed("1.0.1"))
                },
                Interval {
                    introduced: "2.0.0",
                    end: Some(End::LastAffected("2.3.0"))
                },
                Interval {
                    introduced: "3.0.0",
                    end: None
                },
            ]
        );
    }

    #[test]
    fn linter_rules() {
        use RangeEvent::*;
        assert!(
            range(vec![Introduced("0".into()), Fixed("1".into())])
                .check()
                .is_ok()
        );
        let e = range(vec![Fixed("1".into())]).check().unwrap_err();
        assert!(e.message.contains("no introduced"), "{e}");
        let e = range(vec![Introduced("1".into()), Fixed("1".into())])
            .check()
            .unwrap_err();
        assert_eq!(e.field, "events[1].fixed");
        let git = AffectedRange {
            kind: RangeKind::Git,
            repo: None,
            events: vec![Introduced("0".into())],
        };
        assert_eq!(git.check().unwrap_err().field, "repo");
        let git = AffectedRange {
            repo: Some("https://github.com/o/r".into()),
            events: vec![Introduced("abc".into())],
            ..git
        };
        assert_eq!(git.check().unwrap_err().field, "events[0].introduced");
        let e = range(vec![Introduced("1 0".into())]).check().unwrap_err();
        assert!(e.message.contains("space"));
    }
}
