//! `embargo security-md FILE`: a project's own SECURITY.md from a policy settings file
//! (TOML), by the renderer of `/orgs/{org}/SECURITY.md`. Embargo's own settings are
//! `docs/security-policy.toml`; a test keeps the repository's SECURITY.md equal to them.

use std::fmt::Write as _;
use std::io::Read as _;
use std::path::Path;

use anyhow::{Context, Result, bail};
use embargo_domain::error::check_text;
use embargo_domain::policy::{Policy, Span};
use embargo_domain::types::{DisplayName, Email, Slug};
use embargo_formats::markdown::{SecurityMd, security_md};
use embargo_store::POLICY_TEXT_MAX;
use serde::Deserialize;
use time::Duration;

/// The largest settings file read: the free text's limit, and room for the rest.
const FILE_MAX: u64 = 64 * 1024;
const CONTACTS_MAX: usize = 10;
const URL_MAX: usize = 200;

/// What an organisation's SECURITY.md is rendered from, for a project without a database:
/// the organisation, where its Embargo runs, and the policy settings SECURITY.md shows.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Settings {
    name: DisplayName,
    slug: Slug,
    /// The public address of the Embargo that takes the project's reports.
    public_url: String,
    /// Private addresses besides the report form: `mailto:` or `https://` URIs.
    #[serde(default)]
    contacts: Vec<String>,
    #[serde(default)]
    openpgp_key_url: Option<String>,
    policy: PolicySettings,
}

/// The organisation policy's fields that SECURITY.md states, named as in the API.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicySettings {
    response_days: u32,
    embargo_max: Span,
    #[serde(default)]
    require_two_factor: bool,
    #[serde(default)]
    disclose_closed_days: u32,
    /// The organisation's own words (Markdown), as `policy_text` in the API.
    #[serde(default)]
    policy_text: String,
}

/// Reads `path` (at most 64 KiB) and renders it.
pub fn render_file(path: &Path) -> Result<String> {
    let file = std::fs::File::open(path).with_context(|| format!("{}", path.display()))?;
    let mut text = String::new();
    file.take(FILE_MAX + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("{}: not UTF-8 text", path.display()))?;
    if text.len() as u64 > FILE_MAX {
        bail!(
            "{}: larger than {} KiB; shorten policy.policy_text",
            path.display(),
            FILE_MAX / 1024
        );
    }
    render(&text).with_context(|| format!("{}", path.display()))
}

/// SECURITY.md for the settings in `toml_text`.
pub fn render(toml_text: &str) -> Result<String> {
    let s: Settings = toml::from_str(toml_text)?;
    let p = &s.policy;
    let mut policy = Policy::new(p.response_days).context("policy")?;
    if p.embargo_max.0 < Duration::seconds(1) || p.embargo_max.0 > Duration::days(3650) {
        bail!("policy.embargo_max: must be between 1s and 3650d");
    }
    policy.embargo_max = p.embargo_max;
    policy.require_two_factor = p.require_two_factor;
    if p.disclose_closed_days > 3650 {
        bail!("policy.disclose_closed_days: must be at most 3650");
    }
    policy.disclose_closed_days = p.disclose_closed_days;
    if p.policy_text.len() > POLICY_TEXT_MAX {
        bail!("policy.policy_text: longer than {POLICY_TEXT_MAX} bytes");
    }
    check_text("policy.policy_text", &p.policy_text, POLICY_TEXT_MAX, true)?;
    let public_url = web_url("public_url", &s.public_url)?;
    let key_url = match &s.openpgp_key_url {
        Some(u) => Some(web_url("openpgp_key_url", u)?),
        None => None,
    };
    if s.contacts.len() > CONTACTS_MAX {
        bail!("contacts: more than {CONTACTS_MAX} entries");
    }
    let contacts = s
        .contacts
        .iter()
        .map(|c| contact(c))
        .collect::<Result<Vec<_>>>()?;
    let text = policy_text(&contacts, &policy, &p.policy_text);
    Ok(security_md(&SecurityMd {
        org_name: s.name.as_str(),
        org_slug: s.slug.as_str(),
        policy: &policy,
        base_url: public_url,
        openpgp_key_url: key_url,
        policy_text: &text,
    }))
}

/// The "Our Policy" section: the settings the organisation renderer leaves to the
/// organisation's own words (contacts, embargo length, closed reports), then those words.
fn policy_text(contacts: &[String], policy: &Policy, own: &str) -> String {
    let mut out = String::new();
    match contacts {
        [] => {}
        [one] => {
            let _ = writeln!(out, "Reports may also be sent privately to {one}.\n");
        }
        many => {
            out.push_str("Reports may also be sent privately to:\n\n");
            for c in many {
                let _ = writeln!(out, "- {c}");
            }
            out.push('\n');
        }
    }
    let _ = writeln!(
        out,
        "An embargo lasts at most {} from the moment it is proposed.",
        human(policy.embargo_max.0)
    );
    match policy.disclose_closed_days {
        0 => out.push_str("Reports closed without an advisory stay private.\n"),
        n => {
            let _ = writeln!(
                out,
                "Reports closed without an advisory (except spam) become public with their \
                 thread, without internal notes, {} after they are closed.",
                human(Duration::days(i64::from(n)))
            );
        }
    }
    let own = own.trim();
    if !own.is_empty() {
        let _ = write!(out, "\n{own}\n");
    }
    out
}

/// An `http(s)` address that stays one Markdown autolink: no spaces, quotes or brackets.
fn web_url<'a>(field: &str, u: &'a str) -> Result<&'a str> {
    let u = u.trim_end_matches('/');
    let rest = u
        .strip_prefix("https://")
        .or_else(|| u.strip_prefix("http://"));
    let fine = rest.is_some_and(|r| {
        !r.is_empty()
            && r.chars()
                .all(|c| c.is_ascii_graphic() && !matches!(c, '<' | '>' | '"' | '\\' | '`'))
    });
    if !fine || u.len() > URL_MAX {
        bail!(
            "{field}: must be an http(s) address of at most {URL_MAX} characters, \
             without spaces or <>\"\\`"
        );
    }
    Ok(u)
}

/// A contact as a Markdown autolink: `mailto:ADDRESS` or an `https://` address.
fn contact(c: &str) -> Result<String> {
    if let Some(addr) = c.strip_prefix("mailto:") {
        let email = Email::parse(addr).map_err(|e| anyhow::anyhow!("contacts: {}", e.message))?;
        return Ok(format!("<{}>", email.as_str()));
    }
    if c.starts_with("https://") {
        return Ok(format!("<{}>", web_url("contacts", c)?));
    }
    bail!("contacts: {c:?} must start with mailto: or https://")
}

/// A length of time in words: "90 days", "36 hours", "1 minute".
fn human(d: Duration) -> String {
    let s = d.whole_seconds();
    let (n, unit) = if s % 86_400 == 0 {
        (s / 86_400, "day")
    } else if s % 3600 == 0 {
        (s / 3600, "hour")
    } else if s % 60 == 0 {
        (s / 60, "minute")
    } else {
        (s, "second")
    };
    if n == 1 {
        format!("1 {unit}")
    } else {
        format!("{n} {unit}s")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const MINIMAL: &str = r#"
name = "Example"
slug = "example"
public_url = "https://embargo.example/"
[policy]
response_days = 7
embargo_max = "36h"
"#;

    #[test]
    fn renders_with_the_organisation_renderer() {
        let md = render(MINIMAL).unwrap();
        assert!(md.starts_with("# Security Policy\n"));
        assert!(md.contains("<https://embargo.example/report>"));
        assert!(md.contains("within 7 days"));
        assert!(md.contains("\n## Our Policy\n\nAn embargo lasts at most 36 hours"));
        assert!(md.contains("closed without an advisory stay private"));
        assert!(!md.contains("second factor"));
    }

    #[test]
    fn contacts_and_closed_reports_follow_the_settings() {
        let one = MINIMAL.replace(
            "[policy]",
            "contacts = [\"mailto:sec@example.org\"]\n[policy]\ndisclose_closed_days = 30",
        );
        let md = render(&one).unwrap();
        assert!(md.contains("sent privately to <sec@example.org>."));
        assert!(md.contains("public with their thread, without internal notes, 30 days after"));
        let two = MINIMAL.replace(
            "[policy]",
            "contacts = [\"mailto:a@example.org\", \"https://example.org/sec\"]\n[policy]",
        );
        assert!(
            render(&two)
                .unwrap()
                .contains("to:\n\n- <a@example.org>\n- <https://example.org/sec>\n")
        );
    }

    #[test]
    fn mistakes_name_the_field() {
        let err = |t: &str| format!("{:#}", render(t).unwrap_err());
        assert!(
            err(&MINIMAL.replace("response_days = 7", "response_days = 0"))
                .contains("response_days: must be between 1 and 365")
        );
        assert!(err(&MINIMAL.replace("36h", "3651d")).contains("policy.embargo_max"));
        assert!(err(&MINIMAL.replace("36h", "soon")).contains("embargo_max"));
        assert!(err(&MINIMAL.replace("slug = ", "colour = \"red\"\nslug = ")).contains("colour"));
        assert!(
            err(&MINIMAL.replace("https://embargo.example/", "javascript:x"))
                .contains("public_url: must be an http(s) address")
        );
        assert!(
            err(&MINIMAL.replace("[policy]", "contacts = [\"sec@example.org\"]\n[policy]"))
                .contains("must start with mailto:")
        );
        let long = MINIMAL.replace(
            "embargo_max",
            &format!(
                "policy_text = \"{}\"\nembargo_max",
                "a".repeat(POLICY_TEXT_MAX + 1)
            ),
        );
        assert!(err(&long).contains("policy.policy_text: longer than 20000 bytes"));
    }

    #[test]
    fn lengths_in_words() {
        assert_eq!(human(Duration::days(90)), "90 days");
        assert_eq!(human(Duration::days(1)), "1 day");
        assert_eq!(human(Duration::hours(36)), "36 hours");
        assert_eq!(human(Duration::seconds(5)), "5 seconds");
    }
}
