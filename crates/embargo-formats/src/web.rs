//! Small public documents of the web: the Atom feed of published advisories and
//! `security.txt` (RFC 9116).

use std::fmt::Write as _;

use embargo_domain::advisory::{Advisory, State};
use time::OffsetDateTime;

use crate::cvss;

/// Escapes text for XML content and attribute values; drops characters XML 1.0 forbids.
pub fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 || c == '\u{fffe}' || c == '\u{ffff}' => {}
            c => out.push(c),
        }
    }
    out
}

/// What the feed says about itself.
pub struct FeedOptions<'a> {
    pub title: &'a str,
    /// The feed's own address (its `id` and `self` link).
    pub self_url: &'a str,
    pub base_url: &'a str,
    pub author: &'a str,
    /// When the feed is empty, its `updated` time.
    pub now: OffsetDateTime,
}

/// An Atom feed (RFC 4287) of public advisories, most recently changed first.
pub fn atom(advisories: &[Advisory], o: &FeedOptions<'_>) -> String {
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n",
    );
    let updated = advisories
        .iter()
        .map(Advisory::public_modified_at)
        .max()
        .unwrap_or(o.now);
    let _ = writeln!(out, "  <id>{}</id>", xml_escape(o.self_url));
    let _ = writeln!(out, "  <title>{}</title>", xml_escape(o.title));
    let _ = writeln!(out, "  <updated>{}</updated>", crate::utc(updated));
    let _ = writeln!(
        out,
        "  <link rel=\"self\" type=\"application/atom+xml\" href=\"{}\"/>",
        xml_escape(o.self_url)
    );
    let _ = writeln!(
        out,
        "  <link rel=\"alternate\" type=\"text/html\" href=\"{}/advisories\"/>",
        xml_escape(o.base_url)
    );
    let _ = writeln!(
        out,
        "  <author><name>{}</name></author>",
        xml_escape(o.author)
    );
    let _ = writeln!(
        out,
        "  <generator version=\"{}\">Embargo</generator>",
        env!("CARGO_PKG_VERSION")
    );
    for a in advisories.iter().filter(|a| a.state.is_advisory()) {
        let page = format!("{}/advisories/{}", o.base_url, a.id);
        let c = &a.content;
        let mut title = c.headline().to_owned();
        if let Some(cve) = &c.cve_id {
            title = format!("{cve}: {title}");
        }
        if a.state == State::Withdrawn {
            title = format!("[Withdrawn] {title}");
        }
        let severity: Vec<String> = c
            .cvss_vectors
            .iter()
            .filter_map(|v| cvss::parse(v.as_str()).ok())
            .map(|s| {
                format!(
                    "{} ({:.1}, CVSS {})",
                    s.severity(),
                    s.base_score(),
                    s.version()
                )
            })
            .collect();
        let mut summary = c.headline().to_owned();
        if !severity.is_empty() {
            summary = format!("{summary} Severity: {}.", severity.join("; "));
        }
        out.push_str("  <entry>\n");
        let _ = writeln!(out, "    <id>{}</id>", xml_escape(&page));
        let _ = writeln!(out, "    <title>{}</title>", xml_escape(&title));
        let _ = writeln!(
            out,
            "    <updated>{}</updated>",
            crate::utc(a.public_modified_at())
        );
        if let Some(p) = a.published_at {
            let _ = writeln!(out, "    <published>{}</published>", crate::utc(p));
        }
        let _ = writeln!(
            out,
            "    <link rel=\"alternate\" type=\"text/html\" href=\"{}\"/>",
            xml_escape(&page)
        );
        let _ = writeln!(
            out,
            "    <link rel=\"alternate\" type=\"application/json\" href=\"{}/osv.json\"/>",
            xml_escape(&page)
        );
        for id in c
            .cve_id
            .iter()
            .map(|c| c.as_str())
            .chain(c.aliases.iter().map(String::as_str))
        {
            let _ = writeln!(out, "    <category term=\"{}\"/>", xml_escape(id));
        }
        let _ = writeln!(out, "    <summary>{}</summary>", xml_escape(&summary));
        let _ = writeln!(
            out,
            "    <content type=\"text\">{}</content>",
            xml_escape(&c.description)
        );
        out.push_str("  </entry>\n");
    }
    out.push_str("</feed>\n");
    out
}

/// The fields of `security.txt`.
pub struct SecurityTxt<'a> {
    /// `mailto:` or `https:` addresses, most preferred first (at least one).
    pub contacts: &'a [String],
    pub expires: OffsetDateTime,
    pub encryption: Option<&'a str>,
    pub policy: Option<&'a str>,
    pub acknowledgments: Option<&'a str>,
    pub preferred_languages: &'a [String],
    pub canonical: &'a str,
    pub csaf: Option<&'a str>,
}

/// `security.txt` as RFC 9116 writes it (CSAF's field from CSAF 2.0 section 7.1.8).
pub fn security_txt(s: &SecurityTxt<'_>) -> String {
    let mut out = String::from(
        "# Security contact of this Embargo server (RFC 9116).\n# Report vulnerabilities privately; see Policy.\n",
    );
    // Field values are single lines: anything after a line break is dropped.
    let line = |v: &str| v.lines().next().unwrap_or_default().trim().to_owned();
    for c in s.contacts {
        let _ = writeln!(out, "Contact: {}", line(c));
    }
    let _ = writeln!(
        out,
        "Expires: {}",
        crate::utc(s.expires.replace_nanosecond(0).unwrap_or(s.expires))
    );
    if let Some(e) = s.encryption {
        let _ = writeln!(out, "Encryption: {}", line(e));
    }
    if let Some(a) = s.acknowledgments {
        let _ = writeln!(out, "Acknowledgments: {}", line(a));
    }
    if !s.preferred_languages.is_empty() {
        let langs: Vec<String> = s.preferred_languages.iter().map(|l| line(l)).collect();
        let _ = writeln!(out, "Preferred-Languages: {}", langs.join(", "));
    }
    let _ = writeln!(out, "Canonical: {}", line(s.canonical));
    if let Some(p) = s.policy {
        let _ = writeln!(out, "Policy: {}", line(p));
    }
    if let Some(c) = s.csaf {
        let _ = writeln!(out, "CSAF: {}", line(c));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn xml_text_is_escaped() {
        assert_eq!(
            xml_escape("<a href=\"x\">&'\u{1}"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;"
        );
    }

    #[test]
    fn security_txt_fields() {
        let txt = security_txt(&SecurityTxt {
            contacts: &[
                "https://e.example/report".into(),
                "mailto:security@e.example\nInjected: x".into(),
            ],
            expires: datetime!(2027-02-23 10:00:00.5 UTC),
            encryption: None,
            policy: Some("https://e.example/orgs/coco/SECURITY.md"),
            acknowledgments: None,
            preferred_languages: &["en".into()],
            canonical: "https://e.example/.well-known/security.txt",
            csaf: Some("https://e.example/.well-known/csaf/provider-metadata.json"),
        });
        assert!(
            txt.contains("Contact: https://e.example/report\nContact: mailto:security@e.example\n")
        );
        assert!(!txt.contains("Injected"));
        assert!(txt.contains("Expires: 2027-02-23T10:00:00Z\n"));
        assert!(txt.contains("Preferred-Languages: en\n"));
        assert!(txt.contains("CSAF: https://e.example/.well-known/csaf/provider-metadata.json\n"));
    }

    #[test]
    fn empty_feed_is_well_formed() {
        let feed = atom(
            &[],
            &FeedOptions {
                title: "A & B",
                self_url: "https://e.example/feeds/advisories.atom",
                base_url: "https://e.example",
                author: "Org <x>",
                now: datetime!(2026-11-25 0:00 UTC),
            },
        );
        assert!(feed.contains("<title>A &amp; B</title>"));
        assert!(feed.contains("<updated>2026-11-25T00:00:00Z</updated>"));
        assert!(feed.ends_with("</feed>\n"));
    }
}
