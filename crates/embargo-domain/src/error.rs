//! The error every parser of this crate returns: which field, and what to do about it.

use std::fmt;

/// A refused input value. `field` names the input (`cvss_vector`, `vulnerabilities[0].package.name`),
/// `message` says what is wrong in words a user can act on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }

    /// The same error, with its field placed under `prefix` (`vulnerabilities[0]` + `package.name`).
    #[must_use]
    pub fn within(mut self, prefix: &str) -> Self {
        self.field = if self.field.is_empty() {
            prefix.to_owned()
        } else if self.field.starts_with('[') {
            format!("{prefix}{}", self.field)
        } else {
            format!("{prefix}.{}", self.field)
        };
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.field.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.field, self.message)
        }
    }
}

impl std::error::Error for FieldError {}

/// Checks that `value` has at most `max` characters and no control characters other than
/// newlines and tabs (when `multiline`).
pub fn check_text(field: &str, value: &str, max: usize, multiline: bool) -> Result<(), FieldError> {
    let count = value.chars().count();
    if count > max {
        return Err(FieldError::new(
            field,
            format!("is {count} characters long; the limit is {max}"),
        ));
    }
    let bad = value
        .chars()
        .find(|c| c.is_control() && !(multiline && (*c == '\n' || *c == '\r' || *c == '\t')));
    if let Some(c) = bad {
        return Err(FieldError::new(
            field,
            format!(
                "contains the control character U+{:04X}; remove it",
                c as u32
            ),
        ));
    }
    Ok(())
}
