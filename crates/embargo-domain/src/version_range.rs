//! Vulnerable version ranges in the syntax forge advisories use:
//! `< 0.15.0`, `<= 1.2`, `>= 1.0.0, < 1.2.3`, `> 2.0`, `= 1.4.2`.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::FieldError;
use crate::types::truncate;

/// One end of a range.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Bound {
    pub version: String,
    pub inclusive: bool,
}

/// A parsed range: either one exact version, or an optional lower and an optional upper bound
/// (at least one of them).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum VersionRange {
    Exact(String),
    Between {
        lower: Option<Bound>,
        upper: Option<Bound>,
    },
}

/// Described as the string it is written as.
impl utoipa::PartialSchema for VersionRange {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        utoipa::openapi::ObjectBuilder::new()
            .schema_type(utoipa::openapi::schema::Type::String)
            .description(Some(
                "A range in the forge syntax: `< 1.2.3`, `>= 1.0, < 1.2.3`, `= 1.4.2`",
            ))
            .max_length(Some(256))
            .into()
    }
}

impl utoipa::ToSchema for VersionRange {}

const FIELD: &str = "vulnerable_version_range";

fn check_version(v: &str) -> Result<(), FieldError> {
    let ok = !v.is_empty()
        && v.len() <= 100
        && v.chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-+~:".contains(c));
    if ok {
        Ok(())
    } else {
        Err(FieldError::new(
            FIELD,
            format!(
                "'{}' is not a version (letters, digits and . _ - + ~ :)",
                truncate(v, 40)
            ),
        ))
    }
}

impl VersionRange {
    pub fn parse(s: &str) -> Result<Self, FieldError> {
        let s = s.trim();
        if s.is_empty() {
            return Err(FieldError::new(
                FIELD,
                "is empty; write a range such as '< 1.2.3' or '>= 1.0, < 1.2.3'",
            ));
        }
        if s.len() > 256 {
            return Err(FieldError::new(FIELD, "is longer than 256 characters"));
        }
        let mut lower: Option<Bound> = None;
        let mut upper: Option<Bound> = None;
        let mut exact: Option<String> = None;
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        for part in &parts {
            let (op, version) = if let Some(v) = part.strip_prefix(">=") {
                (">=", v)
            } else if let Some(v) = part.strip_prefix("<=") {
                ("<=", v)
            } else if let Some(v) = part.strip_prefix('>') {
                (">", v)
            } else if let Some(v) = part.strip_prefix('<') {
                ("<", v)
            } else if let Some(v) = part.strip_prefix('=') {
                ("=", v)
            } else {
                return Err(FieldError::new(
                    FIELD,
                    format!(
                        "'{}' needs an operator: <, <=, >, >= or =",
                        truncate(part, 40)
                    ),
                ));
            };
            let version = version.trim();
            check_version(version)?;
            let bound = Bound {
                version: version.to_owned(),
                inclusive: op.len() == 2,
            };
            let slot = match op {
                ">=" | ">" => &mut lower,
                "<=" | "<" => &mut upper,
                _ => {
                    if parts.len() > 1 {
                        return Err(FieldError::new(
                            FIELD,
                            "an exact version '= V' stands alone",
                        ));
                    }
                    exact = Some(version.to_owned());
                    continue;
                }
            };
            if slot.is_some() {
                return Err(FieldError::new(
                    FIELD,
                    "has two lower or two upper bounds; give at most one of each",
                ));
            }
            *slot = Some(bound);
        }
        if let Some(v) = exact {
            return Ok(Self::Exact(v));
        }
        Ok(Self::Between { lower, upper })
    }
}

impl fmt::Display for VersionRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Exact(v) => write!(f, "= {v}"),
            Self::Between { lower, upper } => {
                if let Some(b) = lower {
                    write!(f, "{} {}", if b.inclusive { ">=" } else { ">" }, b.version)?;
                    if upper.is_some() {
                        f.write_str(", ")?;
                    }
                }
                if let Some(b) = upper {
                    write!(f, "{} {}", if b.inclusive { "<=" } else { "<" }, b.version)?;
                }
                Ok(())
            }
        }
    }
}

impl TryFrom<String> for VersionRange {
    /// The message alone: serde reports the field's path itself.
    type Error = String;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::parse(&s).map_err(|e| e.message)
    }
}

impl From<VersionRange> for String {
    fn from(r: VersionRange) -> Self {
        r.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn forge_syntax() {
        let r = VersionRange::parse("< 0.15.0");
        assert_eq!(
            r,
            Ok(VersionRange::Between {
                lower: None,
                upper: Some(Bound {
                    version: "0.15.0".into(),
                    inclusive: false
                })
            })
        );
        assert_eq!(
            VersionRange::parse(">=1.0,<1.2.3").map(|r| r.to_string()),
            Ok(">= 1.0, < 1.2.3".into())
        );
        assert_eq!(
            VersionRange::parse("= 1.4.2"),
            Ok(VersionRange::Exact("1.4.2".into()))
        );
        for bad in ["", "1.0", "< ", "<1, <2", "= 1, < 2", "< 1 2", "~> 1.0"] {
            assert!(VersionRange::parse(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn display_parses_back(s in "[<>=]{1,2} ?[0-9a-z.]{1,8}(, ?[<>=]{1,2} ?[0-9a-z.]{1,8})?") {
            if let Ok(r) = VersionRange::parse(&s) {
                prop_assert_eq!(VersionRange::parse(&r.to_string()), Ok(r.clone()));
            }
        }
    }
}
