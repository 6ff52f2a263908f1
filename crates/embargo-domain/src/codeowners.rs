//! Reading a repository's `CODEOWNERS` file: who owns what. Embargo takes every owner named
//! in it as a maintainer of the repository; owners it cannot map to an account are listed,
//! never guessed.

use std::collections::BTreeSet;

/// One owner as written in the file.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Owner {
    /// `@handle`: a person on the forge.
    Handle(String),
    /// `@org/team`: a team, which Embargo does not expand.
    Team(String),
    /// `name@example.org`.
    Email(String),
}

impl Owner {
    pub fn as_written(&self) -> String {
        match self {
            Self::Handle(h) => format!("@{h}"),
            Self::Team(t) => format!("@{t}"),
            Self::Email(e) => e.clone(),
        }
    }
}

/// The owners named anywhere in a `CODEOWNERS` file, each once, in order; and the tokens in
/// owner position that are none of the three forms.
pub fn owners(text: &str) -> (Vec<Owner>, Vec<String>) {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    let mut invalid = Vec::new();
    for line in text.lines().take(10_000) {
        // A '#' starts a comment unless escaped (`\#` in a pattern).
        let mut content = String::new();
        let mut escaped = false;
        for c in line.chars() {
            if c == '#' && !escaped {
                break;
            }
            escaped = c == '\\' && !escaped;
            content.push(c);
        }
        let mut tokens = content.split_whitespace();
        if tokens.next().is_none() {
            continue;
        }
        for token in tokens {
            let owner = if let Some(h) = token.strip_prefix('@') {
                let ok = !h.is_empty()
                    && h.chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_./".contains(c));
                match (ok, h.contains('/')) {
                    (false, _) => None,
                    (true, true) => Some(Owner::Team(h.to_owned())),
                    (true, false) => Some(Owner::Handle(h.to_ascii_lowercase())),
                }
            } else if crate::types::Email::parse(token).is_ok() {
                Some(Owner::Email(token.to_ascii_lowercase()))
            } else {
                None
            };
            match owner {
                Some(o) => {
                    if seen.insert(o.clone()) {
                        out.push(o);
                    }
                }
                None => invalid.push(token.to_owned()),
            }
        }
    }
    (out, invalid)
}

/// Where a repository keeps the file, in the order forges look for it.
pub const LOCATIONS: [&str; 3] = [".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_owners_of_every_rule() {
        let text = "# Owners\n* @Alice bob@example.org\n/docs/ @org/docs-team @alice  # again\n\\#file @carol\n*.rs not-an-owner\n\n";
        let (owners, invalid) = owners(text);
        assert_eq!(
            owners,
            [
                Owner::Handle("alice".into()),
                Owner::Email("bob@example.org".into()),
                Owner::Team("org/docs-team".into()),
                Owner::Handle("carol".into()),
            ]
        );
        assert_eq!(invalid, ["not-an-owner"]);
    }
}
