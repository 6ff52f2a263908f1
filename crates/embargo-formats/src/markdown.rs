//! Markdown documents: the "Security bulletins" entries for release notes, and the
//! organisation's SECURITY.md.
//!
//! Text from advisories (titles, package names, credits) is escaped, so a title cannot turn
//! into a link, an image, HTML or a heading in someone's release notes.

use std::fmt::Write as _;

use embargo_domain::advisory::{Advisory, Vulnerability};
use embargo_domain::affected::{End, RangeKind};
use embargo_domain::policy::Policy;

use crate::affects::compare;
use crate::cvss;

/// Escapes Markdown's inline syntax and raw HTML; line breaks become spaces.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '{' | '}' | '[' | ']' | '(' | ')' | '#' | '+' | '-' | '!'
            | '|' | '~' | '>' => {
                out.push('\\');
                out.push(c);
            }
            '<' => out.push_str("&lt;"),
            '&' => out.push_str("&amp;"),
            '\n' | '\r' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// A version or package name as inline code (backticks inside are not possible in versions
/// or package names Embargo accepts; any are dropped).
fn code(s: &str) -> String {
    format!("`{}`", s.replace('`', ""))
}

/// The versions that fix a vulnerability: `fixed` events and the patched versions.
pub fn fixed_versions(v: &Vulnerability) -> Vec<String> {
    let (ranges, _) = v.effective_ranges();
    let mut out: Vec<String> = Vec::new();
    for r in ranges.iter().filter(|r| r.kind != RangeKind::Git) {
        for i in r.intervals() {
            if let Some(End::Fixed(f)) = i.end
                && !out.iter().any(|o| o == f)
            {
                out.push(f.to_owned());
            }
        }
    }
    out
}

/// Whether `release` (`v0.8.1` or `0.8.1`) fixes this advisory.
pub fn fixed_in(a: &Advisory, release: &str) -> bool {
    let want = release.strip_prefix('v').unwrap_or(release);
    a.content.vulnerabilities.iter().any(|v| {
        fixed_versions(v).iter().any(|f| {
            let f = f.strip_prefix('v').unwrap_or(f);
            compare(RangeKind::Semver, f, want).is_eq()
        })
    })
}

/// The affected versions in words: `< 0.15.0`, `>= 1.0.0, < 1.2.3`, `1.1.6`.
fn affected_text(v: &Vulnerability) -> String {
    let (ranges, versions) = v.effective_ranges();
    let mut parts: Vec<String> = Vec::new();
    for r in ranges.iter().filter(|r| r.kind != RangeKind::Git) {
        for i in r.intervals() {
            let lower = (i.introduced != "0").then(|| format!(">= {}", i.introduced));
            let upper = match i.end {
                Some(End::Fixed(f)) => Some(format!("< {f}")),
                Some(End::LastAffected(l)) => Some(format!("<= {l}")),
                None => None,
            };
            let text = match (lower, upper) {
                (Some(l), Some(u)) => format!("{l}, {u}"),
                (Some(l), None) => l,
                (None, Some(u)) => u,
                (None, None) => "all versions".to_owned(),
            };
            parts.push(code(&text));
        }
    }
    parts.extend(versions.iter().map(|v| code(v)));
    if parts.is_empty() {
        "all versions".to_owned()
    } else {
        parts.join(", ")
    }
}

/// The severity line: `High (CVSS 3.1: 8.1, vector)`; one per vector.
fn severity_lines(a: &Advisory) -> Vec<String> {
    a.content
        .cvss_vectors
        .iter()
        .filter_map(|v| cvss::parse(v.as_str()).ok())
        .map(|c| {
            format!(
                "{} (CVSS {} base score {:.1}, {})",
                c.severity(),
                c.version(),
                c.base_score(),
                code(&c.to_string())
            )
        })
        .collect()
}

/// One entry of a release's "Security bulletins" section.
pub fn bulletin_entry(a: &Advisory, base_url: &str) -> String {
    let c = &a.content;
    let mut out = String::new();
    let ids = match &c.cve_id {
        Some(cve) => format!("{cve} / {}", a.id),
        None => a.id.to_string(),
    };
    let _ = writeln!(out, "### {ids}: {}\n", escape(c.headline()));
    let _ = writeln!(out, "- **Advisory:** <{base_url}/advisories/{}>", a.id);
    for s in severity_lines(a) {
        let _ = writeln!(out, "- **Severity:** {s}");
    }
    for v in &c.vulnerabilities {
        let fixed = fixed_versions(v);
        let fixed = if fixed.is_empty() {
            "no fixed version yet".to_owned()
        } else {
            fixed.iter().map(|f| code(f)).collect::<Vec<_>>().join(", ")
        };
        let _ = writeln!(
            out,
            "- **Affected:** {} ({}) {}; **fixed in** {fixed}",
            code(v.package.name.as_str()),
            escape(v.package.ecosystem.as_str()),
            affected_text(v)
        );
    }
    if !c.cwe_ids.is_empty() {
        let cwes: Vec<&str> = c.cwe_ids.iter().map(|w| w.as_str()).collect();
        let _ = writeln!(out, "- **Weakness:** {}", cwes.join(", "));
    }
    if !c.credits.is_empty() {
        let credits: Vec<String> = c
            .credits
            .iter()
            .map(|cr| {
                format!(
                    "{} ({})",
                    escape(&cr.name),
                    cr.kind.osv().to_lowercase().replace('_', " ")
                )
            })
            .collect();
        let _ = writeln!(out, "- **Credits:** {}", credits.join(", "));
    }
    if a.state == embargo_domain::advisory::State::Withdrawn {
        let _ = writeln!(out, "- **Withdrawn:** this advisory has been withdrawn.");
    }
    out.push('\n');
    out
}

/// The "Security bulletins" section of one release's notes: every entry fixed in it.
pub fn bulletins(advisories: &[&Advisory], release: &str, base_url: &str) -> String {
    let mut out = String::from("## Security bulletins\n\n");
    if advisories.is_empty() {
        let _ = writeln!(
            out,
            "No security advisories are fixed in {}.",
            code(release)
        );
        return out;
    }
    let _ = writeln!(
        out,
        "This release fixes the following vulnerabilities. Upgrade to {} or later.\n",
        code(release)
    );
    for a in advisories {
        out.push_str(&bulletin_entry(a, base_url));
    }
    out
}

/// What SECURITY.md says about an organisation.
pub struct SecurityMd<'a> {
    pub org_name: &'a str,
    pub org_slug: &'a str,
    pub policy: &'a Policy,
    pub base_url: &'a str,
    /// Where the organisation's OpenPGP key is, when reports may be sent encrypted by mail.
    pub openpgp_key_url: Option<&'a str>,
    /// The organisation's own words on its policy (Markdown written by its security managers
    /// or administrators), under a heading of its own; empty for none.
    pub policy_text: &'a str,
}

/// The organisation's SECURITY.md, from its policy settings, in the spirit of the seed
/// policy of the projects Embargo was built for.
pub fn security_md(s: &SecurityMd<'_>) -> String {
    let name = escape(s.org_name);
    let base = s.base_url;
    let org = s.org_slug;
    let mut out = String::new();
    let _ = write!(
        out,
        "# Security Policy

## Reporting a Vulnerability

Please do not use public issues to report security vulnerabilities.

Report a vulnerability privately at <{base}/report>. If you know which repository
is affected, choose it there; otherwise the report goes to the {name} security managers, who
assign it.

Only the repository's maintainers, the security managers and the steering committee can read
a report, together with its author. They triage it with you in a private thread, agree on a
severity score (CVSS), request a CVE id when the report is accepted, and may develop the fix
in a private branch. Until the advisory is published the vulnerability is under embargo:
information about it is shared on a need-to-know basis only, with people the security
managers invite to that one report.

The {name} community aims to respond to every report within {days} days.
",
        days = s.policy.response_days,
    );
    if let Some(key) = s.openpgp_key_url {
        let _ = write!(
            out,
            "\nReports sent by e-mail may be encrypted with OpenPGP to our key: <{key}>.\n"
        );
    }
    if s.policy.require_two_factor {
        out.push_str(
            "\nSecurity managers and steering committee members sign in with a second factor \
             before they can read reports.\n",
        );
    }
    let text = s.policy_text.trim();
    if !text.is_empty() {
        let _ = write!(out, "\n## Our Policy\n\n{text}\n");
    }
    let _ = write!(
        out,
        "
## Security Bulletins

{name} announces security issues and their fixes in the release notes of the patching
version, in a \"Security bulletins\" section (<{base}/orgs/{org}/bulletins.md?release=vX.Y.Z>).

Published advisories are also available as:

- an Atom feed: <{base}/orgs/{org}/advisories.atom>
- OSV records, with a query API for scanners: <{base}/osv/v1/query>
- CSAF 2.0 documents: <{base}/.well-known/csaf/provider-metadata.json>
"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_keeps_text_inert() {
        assert_eq!(
            escape("[x](javascript:alert(1)) <img src=x> # _a_ *b*\nc"),
            "\\[x\\]\\(javascript:alert\\(1\\)\\) &lt;img src=x\\> \\# \\_a\\_ \\*b\\* c"
        );
    }

    #[test]
    fn security_md_follows_the_policy() {
        let policy = Policy {
            response_days: 7,
            require_two_factor: true,
            ..Policy::default()
        };
        let md = security_md(&SecurityMd {
            org_name: "Confidential Containers",
            org_slug: "coco",
            policy: &policy,
            base_url: "https://embargo.example",
            openpgp_key_url: Some("https://embargo.example/orgs/coco/openpgp.asc"),
            policy_text: "  We credit every reporter.\n",
        });
        assert!(
            md.contains("\n## Our Policy\n\nWe credit every reporter.\n\n## Security Bulletins")
        );
        assert!(md.contains("OpenPGP to our key: <https://embargo.example/orgs/coco/openpgp.asc>"));
        assert!(md.starts_with("# Security Policy\n"));
        assert!(md.contains("within 7 days"));
        assert!(md.contains("second factor"));
        assert!(md.contains("<https://embargo.example/report>"));
        assert!(
            !security_md(&SecurityMd {
                policy: &Policy::default(),
                ..SecurityMd {
                    org_name: "x",
                    org_slug: "x",
                    policy: &policy,
                    base_url: "b",
                    openpgp_key_url: None,
                    policy_text: "",
                }
            })
            .contains("second factor")
        );
    }
}
