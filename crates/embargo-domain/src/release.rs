//! Releases and supported versions: a repository's releases are its upstream's tags that are
//! semantic versions (`v1.2.3` or `1.2.3`); the policy supports the most recent release lines
//! (`MAJOR.MINOR`), by default only the newest one, and fixes ship as the next point release of
//! the current release (0.8.0 → 0.8.1).
//!
//! Pre-releases (`v0.8.1-rc.1`) are releases, but never the current release. Which advisories a
//! release fixes is decided here only ([`fixed_in_release`]), so the bulletin, the flags to the
//! security managers and the pages agree.

use std::cmp::Ordering;
use std::fmt;

use serde::Serialize;

use crate::FieldError;
use crate::advisory::{Advisory, Vulnerability};
use crate::affected::{RangeEvent, RangeKind};
use crate::types::Slug;

/// The longest tag kept.
pub const TAG_MAX: usize = 100;

/// A tag that names a semantic version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Release {
    pub tag: String,
    pub version: semver::Version,
}

/// A tag that is not a release, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct IgnoredTag {
    pub tag: String,
    pub note: String,
}

/// A release line: every release sharing `MAJOR.MINOR`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Line {
    pub major: u64,
    pub minor: u64,
}

impl fmt::Display for Line {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl Release {
    /// Reads a tag: a semantic version with an optional `v` before it; the error is the note
    /// shown for an ignored tag.
    pub fn parse(tag: &str) -> Result<Self, String> {
        if tag.len() > TAG_MAX {
            return Err(format!("longer than {TAG_MAX} characters"));
        }
        let text = tag.strip_prefix('v').unwrap_or(tag);
        match semver::Version::parse(text) {
            Ok(version) => Ok(Self {
                tag: tag.to_owned(),
                version,
            }),
            Err(_) => Err(
                "not a semantic version (MAJOR.MINOR.PATCH, optionally with a v before it and a pre-release after it)"
                    .into(),
            ),
        }
    }

    /// A tag entered by hand, for a field of that name.
    pub fn parse_field(field: &str, tag: &str) -> Result<Self, FieldError> {
        Self::parse(tag.trim()).map_err(|note| {
            FieldError::new(
                field,
                format!("'{}' is {note}", crate::types::truncate(tag, 40)),
            )
        })
    }

    pub fn is_prerelease(&self) -> bool {
        !self.version.pre.is_empty()
    }

    pub fn line(&self) -> Line {
        Line {
            major: self.version.major,
            minor: self.version.minor,
        }
    }
}

/// Splits tags into releases (in version order, oldest first) and the others, each with a note.
pub fn read_tags<'a>(tags: impl IntoIterator<Item = &'a str>) -> (Vec<Release>, Vec<IgnoredTag>) {
    let mut releases = Vec::new();
    let mut ignored = Vec::new();
    for tag in tags {
        match Release::parse(tag) {
            Ok(r) => releases.push(r),
            Err(note) => ignored.push(IgnoredTag {
                tag: crate::types::truncate(tag, TAG_MAX),
                note,
            }),
        }
    }
    releases.sort_by(order);
    (releases, ignored)
}

/// Version order; the same version tagged twice (`v1.0.0`, `1.0.0`) by tag.
fn order(a: &Release, b: &Release) -> Ordering {
    a.version
        .cmp_precedence(&b.version)
        .then_with(|| a.tag.cmp(&b.tag))
}

/// The current release: the newest that is not a pre-release.
pub fn current(releases: &[Release]) -> Option<&Release> {
    releases
        .iter()
        .filter(|r| !r.is_prerelease())
        .max_by(|a, b| order(a, b))
}

/// A supported release line and its newest release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct SupportedLine {
    pub line: String,
    pub latest: String,
}

/// The `count` most recent release lines (pre-releases aside), newest first, with the newest
/// release of each.
pub fn supported(releases: &[Release], count: u32) -> Vec<(Line, &Release)> {
    let mut lines: Vec<(Line, &Release)> = Vec::new();
    let mut stable: Vec<&Release> = releases.iter().filter(|r| !r.is_prerelease()).collect();
    stable.sort_by(|a, b| order(b, a));
    for r in stable {
        if !lines.iter().any(|(l, _)| *l == r.line()) {
            lines.push((r.line(), r));
        }
    }
    lines.truncate(usize::try_from(count).unwrap_or(usize::MAX));
    lines
}

/// Whether a fix in `line` is in the policy: one of the supported lines, or a line newer than
/// all of them (a release still to come).
pub fn line_supported(line: Line, supported: &[Line]) -> bool {
    supported.contains(&line) || supported.iter().all(|s| line > *s)
}

/// The next point release of `v`: 0.8.0 → 0.8.1 (pre-release and build dropped).
pub fn next_point_release(v: &semver::Version) -> semver::Version {
    semver::Version::new(v.major, v.minor, v.patch.saturating_add(1))
}

/// What Embargo proposes for a draft: the affected range and patched version, from the
/// repository's releases and the policy.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Proposal {
    /// The current release's tag.
    pub current_release: Option<String>,
    /// The next point release of the current release (`0.8.1`).
    pub proposed_patched_version: Option<String>,
    /// In the forge syntax of `vulnerable_version_range`: `< 0.8.1`.
    pub proposed_affected_range: Option<String>,
    pub supported: Vec<SupportedLine>,
    pub warnings: Vec<String>,
}

/// The proposal for a draft whose packages are `vulnerabilities`, with `supported_releases`
/// lines supported. Warns when a patched version belongs to an unsupported line.
pub fn propose(
    releases: &[Release],
    supported_releases: u32,
    vulnerabilities: &[Vulnerability],
) -> Proposal {
    let lines = supported(releases, supported_releases);
    let current = current(releases);
    let next = current.map(|c| next_point_release(&c.version));
    let mut warnings = Vec::new();
    if releases.is_empty() {
        warnings.push(
            "no releases are known for this repository: set its upstream and sync its releases, or enter one by hand"
                .to_owned(),
        );
    } else if current.is_none() {
        warnings.push("the repository has only pre-releases: there is no current release".into());
    }
    let line_list: Vec<Line> = lines.iter().map(|(l, _)| *l).collect();
    let names: Vec<String> = line_list.iter().map(Line::to_string).collect();
    for v in vulnerabilities {
        for p in patched(v) {
            let Ok(version) = semver::Version::parse(p.strip_prefix('v').unwrap_or(p)) else {
                continue;
            };
            let line = Line {
                major: version.major,
                minor: version.minor,
            };
            if !line_list.is_empty() && !line_supported(line, &line_list) {
                warnings.push(format!(
                    "{}: the patched version {p} belongs to the {line} release line, which is not supported (supported: {}); the policy supports the {} most recent line{} and makes no backports",
                    v.package.name.as_str(),
                    names.join(", "),
                    supported_releases,
                    if supported_releases == 1 { "" } else { "s" }
                ));
            }
        }
    }
    Proposal {
        current_release: current.map(|c| c.tag.clone()),
        proposed_patched_version: next.as_ref().map(ToString::to_string),
        proposed_affected_range: next.as_ref().map(|n| format!("< {n}")),
        supported: lines
            .iter()
            .map(|(l, r)| SupportedLine {
                line: l.to_string(),
                latest: r.tag.clone(),
            })
            .collect(),
        warnings,
    }
}

/// The patched versions written for a package (comma-separated).
fn patched(v: &Vulnerability) -> impl Iterator<Item = &str> {
    v.patched_versions
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Whether two versions are the same release: `v0.8.1` and `0.8.1` are; build metadata aside.
pub fn same_version(a: &str, b: &str) -> bool {
    let (a, b) = (
        a.trim().strip_prefix('v').unwrap_or(a.trim()),
        b.trim().strip_prefix('v').unwrap_or(b.trim()),
    );
    match (semver::Version::parse(a), semver::Version::parse(b)) {
        (Ok(x), Ok(y)) => x.cmp_precedence(&y).is_eq(),
        _ => a == b,
    }
}

/// Whether `release` (`v0.8.1` or `0.8.1`) fixes one of the advisory's packages: a patched
/// version, or a `fixed` event of its (non-git) ranges, is that version.
pub fn fixes(a: &Advisory, release: &str) -> bool {
    a.content.vulnerabilities.iter().any(|v| {
        patched(v).any(|p| same_version(p, release)) || {
            let (ranges, _) = v.effective_ranges();
            ranges
                .iter()
                .filter(|r| r.kind != RangeKind::Git)
                .flat_map(|r| r.events.iter())
                .any(|e| matches!(e, RangeEvent::Fixed(f) if same_version(f, release)))
        }
    })
}

/// Whether the release `release` of repository `repo` fixes the advisory: the advisory is
/// filed in that repository and [`fixes`] holds.
pub fn fixed_in_release(a: &Advisory, repo: &Slug, release: &str) -> bool {
    a.repo.as_ref() == Some(repo) && fixes(a, release)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tags(list: &[&str]) -> Vec<Release> {
        read_tags(list.iter().copied()).0
    }

    fn vuln(patched: &str) -> Vulnerability {
        serde_json::from_value(serde_json::json!({
            "package": {"ecosystem": "crates.io", "name": "guest"},
            "vulnerable_version_range": "< 0.8.1",
            "patched_versions": patched,
        }))
        .unwrap_or_else(|e| unreachable!("{e}"))
    }

    #[test]
    fn tags_become_releases_or_notes() {
        let (releases, ignored) =
            read_tags(["nightly", "v0.8.0", "0.7.0", "v0.8.1-rc.1", "v1", "v0.10.0"]);
        let names: Vec<&str> = releases.iter().map(|r| r.tag.as_str()).collect();
        assert_eq!(names, ["0.7.0", "v0.8.0", "v0.8.1-rc.1", "v0.10.0"]);
        assert_eq!(
            ignored.iter().map(|i| i.tag.as_str()).collect::<Vec<_>>(),
            ["nightly", "v1"]
        );
        assert!(ignored.iter().all(|i| i.note.contains("semantic version")));
        assert!(Release::parse(&"1".repeat(101)).is_err());
        assert!(Release::parse_field("tag", "latest").is_err());
    }

    #[test]
    fn the_current_release_is_the_newest_stable_one() {
        let r = tags(&["v0.7.0", "v0.8.0", "v0.8.1-rc.1"]);
        assert_eq!(current(&r).map(|c| c.tag.as_str()), Some("v0.8.0"));
        assert_eq!(current(&tags(&["v1.0.0-alpha"])), None);
        let s = supported(&r, 1);
        assert_eq!(s.len(), 1);
        assert_eq!(s[0].0.to_string(), "0.8");
        let two = tags(&["v0.7.0", "v0.7.3", "v0.8.0"]);
        let s = supported(&two, 2);
        assert_eq!(s[1].1.tag, "v0.7.3");
    }

    #[test]
    fn the_proposal_is_the_next_point_release() {
        let r = tags(&["v0.7.0", "v0.8.0", "v0.8.1-rc.1", "nightly"]);
        let p = propose(&r, 1, &[vuln("0.8.1")]);
        assert_eq!(p.current_release.as_deref(), Some("v0.8.0"));
        assert_eq!(p.proposed_patched_version.as_deref(), Some("0.8.1"));
        assert_eq!(p.proposed_affected_range.as_deref(), Some("< 0.8.1"));
        assert!(p.warnings.is_empty(), "{:?}", p.warnings);
        // The proposed range is one the model accepts.
        assert!(
            crate::version_range::VersionRange::parse(&p.proposed_affected_range.unwrap()).is_ok()
        );
        assert_eq!(
            next_point_release(&semver::Version::parse("1.2.3-rc.1").unwrap()).to_string(),
            "1.2.4"
        );
    }

    #[test]
    fn a_fix_for_an_unsupported_line_is_warned() {
        let r = tags(&["v0.7.0", "v0.8.0"]);
        let p = propose(&r, 1, &[vuln("0.7.1")]);
        assert_eq!(p.warnings.len(), 1);
        assert!(
            p.warnings[0].contains("0.7 release line"),
            "{:?}",
            p.warnings
        );
        // Two lines supported: 0.7 is one of them.
        assert!(propose(&r, 2, &[vuln("0.7.1")]).warnings.is_empty());
        // A new line to come is fine.
        assert!(propose(&r, 1, &[vuln("v0.9.0")]).warnings.is_empty());
        assert!(!propose(&[], 1, &[]).warnings.is_empty());
        assert!(line_supported(
            Line { major: 1, minor: 0 },
            &[Line { major: 0, minor: 8 }]
        ));
    }

    #[test]
    fn a_release_fixes_what_names_its_version() {
        assert!(same_version("v0.8.1", "0.8.1"));
        assert!(same_version("0.8.1+build", "v0.8.1"));
        assert!(!same_version("0.8.1-rc.1", "0.8.1"));
        assert!(!same_version("0.8.10", "0.8.1"));
        let v = vuln("0.8.1, 0.7.5");
        assert!(patched(&v).any(|p| same_version(p, "v0.7.5")));
        let content = crate::advisory::NewReport {
            title: "Overflow".into(),
            description: "steps".into(),
            cvss_vector: None,
            cvss_vectors: vec![],
            cvss_score: None,
            cwe_ids: vec![],
            vulnerabilities: vec![v],
        }
        .into_content()
        .unwrap_or_else(|e| unreachable!("{e:?}"));
        let slug = |s: &str| Slug::parse(s).unwrap_or_else(|e| unreachable!("{e:?}"));
        let (guest, other) = (slug("guest"), slug("operator"));
        let a = Advisory::reported(
            crate::advisory::Filing {
                id: crate::ids::AdvisoryId::from_random([7; crate::ids::RANDOM_BYTES]),
                org: slug("coco"),
                repo: Some(guest.clone()),
                reporter_id: 1,
                response_due_at: time::OffsetDateTime::UNIX_EPOCH,
            },
            content,
            time::OffsetDateTime::UNIX_EPOCH,
        );
        assert!(fixed_in_release(&a, &guest, "v0.8.1"));
        assert!(fixed_in_release(&a, &guest, "0.7.5"));
        assert!(!fixed_in_release(&a, &guest, "v0.8.0"));
        assert!(
            !fixed_in_release(&a, &other, "v0.8.1"),
            "another repository's release"
        );
        let mut inbox = a.clone();
        inbox.repo = None;
        assert!(!fixed_in_release(&inbox, &guest, "v0.8.1"));
    }
}
