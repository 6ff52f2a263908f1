//! The advisory: one entity from report to publication. Its state is derived from its
//! events ([`Change`]); [`Advisory::apply`] is the only way it changes.

use serde::{Deserialize, Deserializer, Serialize};
use time::OffsetDateTime;

use crate::FieldError;
use crate::affected::{self, AffectedRange, RangeEvent, RangeKind};
use crate::embargo::{CaseFlag, CaseState, Embargo, EmbargoAction};
use crate::error::check_text;
use crate::ids::AdvisoryId;
use crate::types::{
    CveId, CvssVector, CweId, Ecosystem, PackageName, ReferenceUrl, Slug, truncate,
};
use crate::version_range::VersionRange;

/// Limits on advisory fields (characters or entries).
pub mod limits {
    pub const TITLE: usize = 256;
    pub const SUMMARY: usize = 256;
    pub const DESCRIPTION: usize = 65_536;
    pub const COMMENT: usize = 65_536;
    pub const CLOSE_MESSAGE: usize = 8_192;
    pub const CWE_IDS: usize = 20;
    pub const REFERENCES: usize = 512;
    pub const CREDITS: usize = 64;
    pub const VULNERABILITIES: usize = 64;
    pub const CREDIT_NAME: usize = 200;
    pub const PATCHED_VERSIONS: usize = 256;
    pub const REVISION_SUMMARY: usize = 200;
    pub const WITHDRAW_REASON: usize = 2_000;
}

/// Where an advisory is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
#[schema(as = AdvisoryState)]
pub enum State {
    Triage,
    Draft,
    Published,
    Closed,
    Withdrawn,
    /// Closed, then made public with its thread (without internal notes) under the
    /// organisation's disclosure policy.
    Disclosed,
}

impl State {
    pub const ALL: [State; 6] = [
        State::Triage,
        State::Draft,
        State::Published,
        State::Closed,
        State::Withdrawn,
        State::Disclosed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Triage => "triage",
            Self::Draft => "draft",
            Self::Published => "published",
            Self::Closed => "closed",
            Self::Withdrawn => "withdrawn",
            Self::Disclosed => "disclosed",
        }
    }

    pub fn parse(s: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|st| st.as_str() == s)
            .ok_or_else(|| {
                FieldError::new(
                    "state",
                    "must be triage, draft, published, closed, withdrawn or disclosed",
                )
            })
    }

    /// Published, withdrawn and disclosed ones are public; the rest only for their audience.
    pub fn is_public(self) -> bool {
        matches!(self, Self::Published | Self::Withdrawn | Self::Disclosed)
    }

    /// Whether it is a published security advisory (or a withdrawn one): what the published
    /// formats (OSV, CVE, CSAF, feeds) are made of. A disclosed report is public, but not an
    /// advisory.
    pub fn is_advisory(self) -> bool {
        matches!(self, Self::Published | Self::Withdrawn)
    }
}

/// Why a report was closed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CloseReason {
    Duplicate,
    NotAVulnerability,
    OutOfScope,
    WontFix,
    Spam,
    Other,
}

impl CloseReason {
    /// Checks that a duplicate names its original, and nothing else does.
    pub fn check_duplicate_of(self, duplicate_of: Option<&AdvisoryId>) -> Result<(), FieldError> {
        match (self, duplicate_of) {
            (Self::Duplicate, None) => Err(FieldError::new(
                "duplicate_of",
                "name the original advisory of this duplicate",
            )),
            (Self::Duplicate, Some(_)) | (_, None) => Ok(()),
            (_, Some(_)) => Err(FieldError::new(
                "duplicate_of",
                "is only for reports closed as duplicate",
            )),
        }
    }

    pub const ALL: [CloseReason; 6] = [
        CloseReason::Duplicate,
        CloseReason::NotAVulnerability,
        CloseReason::OutOfScope,
        CloseReason::WontFix,
        CloseReason::Spam,
        CloseReason::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Duplicate => "duplicate",
            Self::NotAVulnerability => "not_a_vulnerability",
            Self::OutOfScope => "out_of_scope",
            Self::WontFix => "wont_fix",
            Self::Spam => "spam",
            Self::Other => "other",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Duplicate => "Duplicate",
            Self::NotAVulnerability => "Not a vulnerability",
            Self::OutOfScope => "Out of scope",
            Self::WontFix => "Won't fix",
            Self::Spam => "Spam",
            Self::Other => "Other",
        }
    }

    pub fn parse(s: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                FieldError::new(
                    "reason",
                    "must be duplicate, not_a_vulnerability, out_of_scope, wont_fix, spam or other",
                )
            })
    }
}

/// A package in an ecosystem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Package {
    pub ecosystem: Ecosystem,
    pub name: PackageName,
}

/// One affected package with its vulnerable range and the versions that fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Vulnerability {
    pub package: Package,
    #[serde(default)]
    pub vulnerable_version_range: Option<VersionRange>,
    /// The first patched version(s), comma-separated, as forge advisories write them.
    #[serde(default)]
    pub patched_versions: Option<String>,
    /// Ranges as OSV events (kept from imported records; `GIT` ranges of commits). When
    /// present they state the affected versions; otherwise the forge syntax above does.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ranges: Vec<AffectedRange>,
    /// Affected versions listed one by one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<String>,
}

impl Vulnerability {
    /// The affected versions as OSV ranges and versions, whichever way they were given.
    ///
    /// The forge syntax becomes events the way the forge's own OSV converter writes them:
    /// `< 1.2` → introduced 0, fixed 1.2; `> 2.1.0` (SemVer) → introduced `2.1.1-0`; an upper
    /// bound `<= V` closes the range only with a patched version (without one no fix is known,
    /// so later versions stay affected); `= V` is one affected version, or introduced V and
    /// fixed at the patch.
    pub fn effective_ranges(&self) -> (Vec<AffectedRange>, Vec<String>) {
        if !self.ranges.is_empty() || !self.versions.is_empty() {
            return (self.ranges.clone(), self.versions.clone());
        }
        let patched: Option<&str> = self
            .patched_versions
            .as_deref()
            .and_then(|p| p.split(',').map(str::trim).find(|s| !s.is_empty()));
        let semver = self.package.ecosystem.is_semver();
        let kind = if semver {
            RangeKind::Semver
        } else {
            RangeKind::Ecosystem
        };
        let mut events = Vec::new();
        let mut versions = Vec::new();
        match &self.vulnerable_version_range {
            Some(VersionRange::Exact(x)) => match patched {
                Some(p) => events.extend([
                    RangeEvent::Introduced(x.clone()),
                    RangeEvent::Fixed(p.to_owned()),
                ]),
                None => versions.push(x.clone()),
            },
            Some(VersionRange::Between { lower, upper }) => {
                let introduced = match lower {
                    None => "0".to_owned(),
                    Some(b) if b.inclusive => b.version.clone(),
                    Some(b) => next_after(&b.version, semver),
                };
                events.push(RangeEvent::Introduced(introduced));
                match (upper, patched) {
                    (Some(b), _) if !b.inclusive => {
                        events.push(RangeEvent::Fixed(b.version.clone()))
                    }
                    (_, Some(p)) => events.push(RangeEvent::Fixed(p.to_owned())),
                    (_, None) => {}
                }
            }
            None => {
                events.push(RangeEvent::Introduced("0".into()));
                if let Some(p) = patched {
                    events.push(RangeEvent::Fixed(p.to_owned()));
                }
            }
        }
        let ranges = if events.is_empty() {
            Vec::new()
        } else {
            vec![AffectedRange {
                kind,
                repo: None,
                events,
            }]
        };
        (ranges, versions)
    }

    /// Checks the OSV-style ranges and versions; the error names the field.
    pub fn check(&self) -> Result<(), FieldError> {
        if let Some(p) = &self.patched_versions {
            check_patched(p)?;
        }
        check_count("ranges", self.ranges.len(), affected::limits::RANGES)?;
        check_count("versions", self.versions.len(), affected::limits::VERSIONS)?;
        for (i, r) in self.ranges.iter().enumerate() {
            r.check().map_err(|e| e.within(&format!("ranges[{i}]")))?;
        }
        for (i, v) in self.versions.iter().enumerate() {
            affected::check_version(&format!("versions[{i}]"), v)?;
        }
        Ok(())
    }
}

/// The first version after `v` for an exclusive lower bound (`> 2.1.0`). For SemVer it is the
/// lowest pre-release of the next patch (`2.1.1-0`), as the forge-to-OSV converter writes it;
/// elsewhere the converter appends `.1`-style successors only where it can, so the bound's
/// own version stands, except for dotted numbers, whose next patch it uses (`11.6` → `11.6.1`).
fn next_after(v: &str, semver: bool) -> String {
    let parts: Vec<&str> = v.split('.').collect();
    if semver
        && let [maj, min, patch] = parts.as_slice()
        && let Ok(patch) = patch.parse::<u64>()
    {
        return format!("{maj}.{min}.{}-0", patch + 1);
    }
    if !semver
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    {
        return match parts.as_slice() {
            [maj, min] => format!("{maj}.{min}.1"),
            _ => v.to_owned(),
        };
    }
    v.to_owned()
}

/// The kind of a credit, as OSV and CVE records know them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CreditType {
    Finder,
    Reporter,
    Analyst,
    Coordinator,
    RemediationDeveloper,
    RemediationReviewer,
    RemediationVerifier,
    Tool,
    Sponsor,
    Other,
}

impl CreditType {
    /// OSV's spelling (`REMEDIATION_DEVELOPER`).
    pub fn osv(self) -> &'static str {
        match self {
            Self::Finder => "FINDER",
            Self::Reporter => "REPORTER",
            Self::Analyst => "ANALYST",
            Self::Coordinator => "COORDINATOR",
            Self::RemediationDeveloper => "REMEDIATION_DEVELOPER",
            Self::RemediationReviewer => "REMEDIATION_REVIEWER",
            Self::RemediationVerifier => "REMEDIATION_VERIFIER",
            Self::Tool => "TOOL",
            Self::Sponsor => "SPONSOR",
            Self::Other => "OTHER",
        }
    }
}

/// A person or organisation credited on the advisory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Credit {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: CreditType,
}

/// The advisory's text and facts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    pub title: String,
    pub summary: Option<String>,
    pub description: String,
    pub cve_id: Option<CveId>,
    /// Severity vectors: at most one CVSS v3.x and one CVSS v4.0.
    pub cvss_vectors: Vec<CvssVector>,
    pub cwe_ids: Vec<CweId>,
    pub references: Vec<ReferenceUrl>,
    pub credits: Vec<Credit>,
    pub vulnerabilities: Vec<Vulnerability>,
    /// Other ids of the same vulnerability (an imported advisory's original id, GHSA ids).
    #[serde(default)]
    pub aliases: Vec<String>,
}

impl Content {
    /// The CVSS v3.x vector, if any.
    pub fn cvss_v3(&self) -> Option<&CvssVector> {
        self.cvss_vectors
            .iter()
            .find(|v| v.version().starts_with('3'))
    }

    /// The CVSS v4.0 vector, if any.
    pub fn cvss_v4(&self) -> Option<&CvssVector> {
        self.cvss_vectors.iter().find(|v| v.version() == "4.0")
    }

    /// The one-line summary, falling back to the report's title.
    pub fn headline(&self) -> &str {
        self.summary.as_deref().unwrap_or(&self.title)
    }

    /// Checks every limit; the error names the field.
    pub fn check(&self) -> Result<(), FieldError> {
        if self.title.trim().is_empty() {
            return Err(FieldError::new(
                "title",
                "is empty; say in a line what is wrong",
            ));
        }
        check_text("title", &self.title, limits::TITLE, false)?;
        if let Some(s) = &self.summary {
            if s.trim().is_empty() {
                return Err(FieldError::new(
                    "summary",
                    "is empty; leave it out or say in a line what is wrong",
                ));
            }
            check_text("summary", s, limits::SUMMARY, false)?;
        }
        if self.description.trim().is_empty() {
            return Err(FieldError::new(
                "description",
                "is empty; describe the vulnerability",
            ));
        }
        check_text("description", &self.description, limits::DESCRIPTION, true)?;
        check_cvss_vectors(&self.cvss_vectors)?;
        check_count("cwe_ids", self.cwe_ids.len(), limits::CWE_IDS)?;
        check_count("aliases", self.aliases.len(), limits::REFERENCES)?;
        check_count("references", self.references.len(), limits::REFERENCES)?;
        check_count("credits", self.credits.len(), limits::CREDITS)?;
        check_count(
            "vulnerabilities",
            self.vulnerabilities.len(),
            limits::VULNERABILITIES,
        )?;
        for (i, c) in self.credits.iter().enumerate() {
            let field = format!("credits[{i}].name");
            if c.name.trim().is_empty() {
                return Err(FieldError::new(field, "is empty"));
            }
            check_text(&field, &c.name, limits::CREDIT_NAME, false)?;
        }
        for (i, v) in self.vulnerabilities.iter().enumerate() {
            v.check()
                .map_err(|e| e.within(&format!("vulnerabilities[{i}]")))?;
        }
        Ok(())
    }
}

fn check_cvss_vectors(vectors: &[CvssVector]) -> Result<(), FieldError> {
    let v3 = vectors
        .iter()
        .filter(|v| v.version().starts_with('3'))
        .count();
    let v4 = vectors.len() - v3;
    if v3 > 1 || v4 > 1 {
        return Err(FieldError::new(
            "cvss_vectors",
            "give at most one CVSS v3.x vector and one CVSS v4.0 vector",
        ));
    }
    Ok(())
}

fn check_count(field: &str, n: usize, max: usize) -> Result<(), FieldError> {
    if n > max {
        return Err(FieldError::new(
            field,
            format!("has {n} entries; the limit is {max}"),
        ));
    }
    Ok(())
}

fn check_patched(p: &str) -> Result<(), FieldError> {
    let field = "patched_versions";
    check_text(field, p, limits::PATCHED_VERSIONS, false)?;
    for v in p.split(',').map(str::trim) {
        let ok = !v.is_empty()
            && v.chars()
                .all(|c| c.is_ascii_alphanumeric() || "._-+~:".contains(c));
        if !ok {
            return Err(FieldError::new(
                field,
                format!(
                    "'{}' is not a version; give versions separated by commas",
                    truncate(v, 40)
                ),
            ));
        }
    }
    Ok(())
}

/// A new report, as a reporter files it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReport {
    pub title: String,
    pub description: String,
    /// One vector (either version); `cvss_vectors` takes a v3.x and a v4.0 vector together.
    #[serde(default)]
    pub cvss_vector: Option<CvssVector>,
    #[serde(default)]
    pub cvss_vectors: Vec<CvssVector>,
    /// A score the reporter computed; refused unless it is the vector's own.
    #[serde(default)]
    #[schema(value_type = Option<f64>)]
    pub cvss_score: Option<serde_json::Number>,
    #[serde(default)]
    pub cwe_ids: Vec<CweId>,
    #[serde(default)]
    pub vulnerabilities: Vec<Vulnerability>,
}

impl NewReport {
    /// The content the advisory starts with; refuses what breaks a limit.
    pub fn into_content(self) -> Result<Content, FieldError> {
        if self.cvss_vector.is_some() && !self.cvss_vectors.is_empty() {
            return Err(FieldError::new(
                "cvss_vector",
                "give cvss_vector or cvss_vectors, not both",
            ));
        }
        let content = Content {
            title: self.title.trim().to_owned(),
            description: self.description,
            cvss_vectors: self
                .cvss_vector
                .into_iter()
                .chain(self.cvss_vectors)
                .collect(),
            cwe_ids: self.cwe_ids,
            vulnerabilities: self.vulnerabilities,
            ..Content::default()
        };
        content.check()?;
        Ok(content)
    }
}

fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// Changes to a report or draft: absent fields stay as they are; `null` clears a field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Edit {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub summary: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub cve_id: Option<Option<CveId>>,
    #[serde(
        default,
        deserialize_with = "nullable",
        skip_serializing_if = "Option::is_none"
    )]
    pub cvss_vector: Option<Option<CvssVector>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cvss_vectors: Option<Vec<CvssVector>>,
    /// A score computed elsewhere; refused unless it is the (single) vector's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<f64>)]
    pub cvss_score: Option<serde_json::Number>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwe_ids: Option<Vec<CweId>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub references: Option<Vec<ReferenceUrl>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub credits: Option<Vec<Credit>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vulnerabilities: Option<Vec<Vulnerability>>,
    /// The change-log line of a change to a public advisory (written by Embargo from the
    /// fields that changed when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision_summary: Option<String>,
}

impl Edit {
    /// Whether the edit changes no field (a change-log line alone changes nothing).
    pub fn is_empty(&self) -> bool {
        Self {
            revision_summary: None,
            ..self.clone()
        } == Self::default()
    }

    /// A change-log line naming the fields the edit changes.
    pub fn describe(&self) -> String {
        let fields: Vec<&str> = [
            (self.title.is_some(), "title"),
            (self.summary.is_some(), "summary"),
            (self.description.is_some(), "description"),
            (self.cve_id.is_some(), "CVE id"),
            (
                self.cvss_vector.is_some() || self.cvss_vectors.is_some(),
                "severity",
            ),
            (self.cwe_ids.is_some(), "weaknesses"),
            (self.references.is_some(), "references"),
            (self.credits.is_some(), "credits"),
            (self.vulnerabilities.is_some(), "affected packages"),
        ]
        .into_iter()
        .filter_map(|(set, name)| set.then_some(name))
        .collect();
        format!("Updated {}", fields.join(", "))
    }

    /// Refuses an edit that says two things about one field, or a change-log line that is
    /// not one short line.
    pub fn check(&self) -> Result<(), FieldError> {
        if let Some(line) = &self.revision_summary {
            check_text("revision_summary", line, limits::REVISION_SUMMARY, false)?;
            if line.trim().is_empty() || line.contains(['\n', '\r']) {
                return Err(FieldError::new(
                    "revision_summary",
                    "must be one line of text, such as \"Fixed versions corrected\"",
                ));
            }
        }
        if self.cvss_vector.is_some() && self.cvss_vectors.is_some() {
            return Err(FieldError::new(
                "cvss_vector",
                "give cvss_vector or cvss_vectors, not both",
            ));
        }
        Ok(())
    }

    /// The content after this edit.
    pub fn applied_to(&self, content: &Content) -> Content {
        let mut c = content.clone();
        if let Some(v) = &self.title {
            c.title = v.trim().to_owned();
        }
        if let Some(v) = &self.summary {
            c.summary = v.as_ref().map(|s| s.trim().to_owned());
        }
        if let Some(v) = &self.description {
            c.description.clone_from(v);
        }
        if let Some(v) = &self.cve_id {
            c.cve_id.clone_from(v);
        }
        if let Some(v) = &self.cvss_vector {
            c.cvss_vectors = v.iter().cloned().collect();
        }
        if let Some(v) = &self.cvss_vectors {
            c.cvss_vectors.clone_from(v);
        }
        if let Some(v) = &self.cwe_ids {
            c.cwe_ids.clone_from(v);
        }
        if let Some(v) = &self.references {
            c.references.clone_from(v);
        }
        if let Some(v) = &self.credits {
            c.credits.clone_from(v);
        }
        if let Some(v) = &self.vulnerabilities {
            c.vulnerabilities.clone_from(v);
        }
        c
    }
}

/// One event in an advisory's life. Stored as JSON with its actor and time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Change {
    Reported {
        content: Content,
    },
    /// An advisory published elsewhere, brought in by an operator: it starts published
    /// (or withdrawn) with its original dates.
    Imported {
        content: Content,
        facts: ImportFacts,
    },
    Commented {
        comment_id: i64,
        by_triager: bool,
        /// An internal note of the triagers, which the reporter never sees.
        #[serde(default)]
        internal: bool,
    },
    Edited {
        edit: Edit,
    },
    Accepted,
    Closed {
        reason: CloseReason,
        message: Option<String>,
        /// The original, when closed as a duplicate.
        #[serde(default)]
        duplicate_of: Option<AdvisoryId>,
    },
    Reopened,
    Published,
    Withdrawn {
        /// Why, shown publicly.
        #[serde(default)]
        reason: Option<String>,
    },
    /// Someone was invited to this advisory on a need-to-know basis.
    CollaboratorInvited {
        collaborator_id: i64,
        email: String,
        organisation: Option<String>,
        #[serde(with = "time::serde::rfc3339::option", default)]
        expires_at: Option<OffsetDateTime>,
    },
    CollaboratorAccepted {
        collaborator_id: i64,
    },
    CollaboratorRevoked {
        collaborator_id: i64,
    },
    CollaboratorExpired {
        collaborator_id: i64,
    },
    /// Moved to another repository of the organisation (or assigned one, from the
    /// organisation's inbox).
    Transferred {
        from: Option<Slug>,
        to: Slug,
    },
    /// A file was attached to the thread.
    Attached {
        attachment_id: String,
        size: i64,
    },
    /// The reporter was told the closed report will be disclosed on this date.
    DisclosureAnnounced {
        #[serde(with = "time::serde::rfc3339")]
        on: OffsetDateTime,
    },
    /// A security manager kept the closed report from being disclosed.
    DisclosureExempted {
        reason: String,
    },
    /// The closed report became public under the disclosure policy.
    Disclosed,
    /// A participant proposed, accepted, rejected or ended an embargo: the embargo after it.
    EmbargoChanged {
        action: EmbargoAction,
        party: String,
        embargo: Embargo,
    },
    /// One of the case's flags was set.
    CaseFlagSet {
        flag: CaseFlag,
    },
    /// Marked ready (or not) to publish itself when its embargo ends.
    ReadyChanged {
        ready: bool,
    },
    /// A security manager gave it a CVE id from the organisation's numbering.
    CveAssigned {
        cve_id: CveId,
        backend: CveBackend,
    },
}

/// Where an organisation's CVE ids come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CveBackend {
    /// Reserved from the CVE Services API, which also receives the record.
    CveServices,
    /// The next of a block of ids reserved in advance.
    Block,
    /// Issued elsewhere and entered by a security manager.
    Manual,
}

impl CveBackend {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::CveServices => "cve_services",
            Self::Block => "block",
            Self::Manual => "manual",
        }
    }

    pub fn parse(s: &str) -> Result<Self, FieldError> {
        [Self::CveServices, Self::Block, Self::Manual]
            .into_iter()
            .find(|b| b.as_str() == s)
            .ok_or_else(|| FieldError::new("backend", "must be cve_services, block or manual"))
    }
}

impl Change {
    /// Whether the change alters the advisory itself (and so makes a new revision), as
    /// opposed to who may see it.
    pub fn changes_advisory(&self) -> bool {
        !matches!(
            self,
            Self::CollaboratorInvited { .. }
                | Self::CollaboratorAccepted { .. }
                | Self::CollaboratorRevoked { .. }
                | Self::CollaboratorExpired { .. }
                | Self::Attached { .. }
                | Self::DisclosureAnnounced { .. }
        )
    }

    pub fn kind(&self) -> &'static str {
        match self {
            Self::Reported { .. } => "reported",
            Self::Imported { .. } => "imported",
            Self::Commented { .. } => "commented",
            Self::Edited { .. } => "edited",
            Self::Accepted => "accepted",
            Self::Closed { .. } => "closed",
            Self::Reopened => "reopened",
            Self::Published => "published",
            Self::Withdrawn { .. } => "withdrawn",
            Self::CollaboratorInvited { .. } => "collaborator_invited",
            Self::CollaboratorAccepted { .. } => "collaborator_accepted",
            Self::CollaboratorRevoked { .. } => "collaborator_revoked",
            Self::CollaboratorExpired { .. } => "collaborator_expired",
            Self::Attached { .. } => "attached",
            Self::Transferred { .. } => "transferred",
            Self::DisclosureAnnounced { .. } => "disclosure_announced",
            Self::DisclosureExempted { .. } => "disclosure_exempted",
            Self::Disclosed => "disclosed",
            Self::EmbargoChanged { .. } => "embargo_changed",
            Self::CaseFlagSet { .. } => "case_flag_set",
            Self::ReadyChanged { .. } => "ready_changed",
            Self::CveAssigned { .. } => "cve_assigned",
        }
    }
}

/// The current state of an advisory: the fold of its events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advisory {
    pub id: AdvisoryId,
    pub org: Slug,
    /// `None` while a report filed to the organisation waits for a triager to assign it.
    pub repo: Option<Slug>,
    pub reporter_id: i64,
    pub state: State,
    pub close_reason: Option<CloseReason>,
    pub close_message: Option<String>,
    /// The original advisory, when closed as its duplicate.
    #[serde(default)]
    pub duplicate_of: Option<AdvisoryId>,
    pub content: Content,
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub updated_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option")]
    pub published_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339::option")]
    pub first_response_at: Option<OffsetDateTime>,
    #[serde(with = "time::serde::rfc3339")]
    pub response_due_at: OffsetDateTime,
    /// When it was withdrawn, if it was.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub withdrawn_at: Option<OffsetDateTime>,
    /// Why it was withdrawn (public).
    #[serde(default)]
    pub withdrawn_reason: Option<String>,
    /// When it was last closed (while closed).
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub closed_at: Option<OffsetDateTime>,
    /// The date its reporter was told it would be disclosed on.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub disclosure_announced_for: Option<OffsetDateTime>,
    /// Why a security manager kept it from being disclosed.
    #[serde(default)]
    pub disclosure_exempt: Option<String>,
    /// Its public revisions, oldest first: publication, each change made while public, and
    /// withdrawal. Published documents number their versions by it (CSAF `tracking`).
    #[serde(default)]
    pub public_history: Vec<PublicRevision>,
    /// Counts the events applied; every change makes a new revision.
    pub revision: i64,
    /// When its public content last changed (publication, a public edit, withdrawal; for an
    /// import, the source's `modified`). `None` before publication.
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub public_updated_at: Option<OffsetDateTime>,
    /// The embargo negotiated for it.
    #[serde(default)]
    pub embargo: Embargo,
    /// Vultron's case flags set so far.
    #[serde(default)]
    pub case: CaseState,
    /// The fix is released: publish when the embargo ends.
    #[serde(default)]
    pub ready: bool,
}

/// One public revision of an advisory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicRevision {
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub summary: String,
}

/// What an imported advisory brings from the database it was published in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportFacts {
    /// Its id there (`RUSTSEC-2024-0001`, `GHSA-…`); also kept among the aliases.
    pub source_id: String,
    #[serde(with = "time::serde::rfc3339")]
    pub published_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    pub modified_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339::option", default)]
    pub withdrawn_at: Option<OffsetDateTime>,
}

/// The facts of a new advisory that do not come from its content.
#[derive(Debug, Clone)]
pub struct Filing {
    pub id: AdvisoryId,
    pub org: Slug,
    /// `None` while a report filed to the organisation waits for a triager to assign it.
    pub repo: Option<Slug>,
    pub reporter_id: i64,
    pub response_due_at: OffsetDateTime,
}

impl Advisory {
    /// Where it is: `org/repo`, or `org` while it waits in the organisation's inbox.
    pub fn place(&self) -> String {
        match &self.repo {
            Some(r) => format!("{}/{r}", self.org),
            None => format!("{} (no repository yet)", self.org),
        }
    }

    /// When the public content last changed: the last public revision (publication, a change
    /// made while public, withdrawal). What only the audience sees (comments, internal notes,
    /// invitations) never moves it, so public documents do not betray that triagers wrote
    /// something. Before publication, the last change of any kind.
    pub fn public_modified_at(&self) -> OffsetDateTime {
        self.public_updated_at.unwrap_or_else(|| {
            // Stored before the field existed: the latest public revision.
            self.public_history
                .iter()
                .map(|r| r.at)
                .max()
                .unwrap_or(self.updated_at)
        })
    }

    /// The public revision number: how many public revisions there are (0 before
    /// publication). `revision` counts every event and is for the audience.
    pub fn public_revision(&self) -> i64 {
        i64::try_from(self.public_history.len()).unwrap_or(i64::MAX)
    }

    /// The advisory a `Reported` event creates.
    pub fn reported(filing: Filing, content: Content, at: OffsetDateTime) -> Self {
        Self {
            id: filing.id,
            org: filing.org,
            repo: filing.repo,
            reporter_id: filing.reporter_id,
            state: State::Triage,
            close_reason: None,
            close_message: None,
            duplicate_of: None,
            content,
            created_at: at,
            updated_at: at,
            published_at: None,
            withdrawn_at: None,
            withdrawn_reason: None,
            closed_at: None,
            disclosure_announced_for: None,
            disclosure_exempt: None,
            public_history: Vec::new(),
            first_response_at: None,
            response_due_at: filing.response_due_at,
            revision: 1,
            public_updated_at: None,
            embargo: Embargo::default(),
            case: CaseState::default(),
            ready: false,
        }
    }

    /// The advisory an `Imported` event creates.
    pub fn imported(filing: Filing, content: Content, facts: &ImportFacts) -> Self {
        let mut a = Self::reported(filing, content, facts.published_at);
        a.state = if facts.withdrawn_at.is_some() {
            State::Withdrawn
        } else {
            State::Published
        };
        a.summary_from_title();
        a.published_at = Some(facts.published_at);
        a.first_response_at = Some(facts.published_at);
        a.updated_at = facts.modified_at;
        a.public_updated_at = Some(facts.modified_at);
        a.withdrawn_at = facts.withdrawn_at;
        a.public_history.push(PublicRevision {
            at: facts.published_at,
            summary: format!("Initial publication (as {})", facts.source_id),
        });
        if facts.modified_at > facts.published_at {
            a.public_history.push(PublicRevision {
                at: facts.modified_at,
                summary: format!("Updated (as {})", facts.source_id),
            });
        }
        if let Some(w) = facts.withdrawn_at {
            a.public_history.push(PublicRevision {
                at: w,
                summary: "Withdrawn".into(),
            });
        }
        a
    }

    fn summary_from_title(&mut self) {
        if self.content.summary.is_none() {
            self.content.summary = Some(self.content.title.clone());
        }
    }

    /// Applies one later event. The caller has taken the access decision, which includes the
    /// state check ([`crate::access::Action::allowed_in`]).
    pub fn apply(&mut self, change: &Change, at: OffsetDateTime) {
        match change {
            Change::Reported { content } | Change::Imported { content, .. } => {
                self.content = content.clone();
            }
            Change::Commented {
                by_triager,
                internal,
                ..
            } => {
                // Only a reply the reporter can see stops the response clock.
                if *by_triager && !*internal {
                    self.respond(at);
                }
            }
            Change::Edited { edit } => {
                self.content = edit.applied_to(&self.content);
                if self.state.is_public() {
                    self.public_history.push(PublicRevision {
                        at,
                        summary: edit
                            .revision_summary
                            .as_deref()
                            .map(str::trim)
                            .unwrap_or("Updated")
                            .to_owned(),
                    });
                }
            }
            Change::Accepted => {
                self.state = State::Draft;
                self.summary_from_title();
                self.respond(at);
            }
            Change::Closed {
                reason,
                message,
                duplicate_of,
            } => {
                self.state = State::Closed;
                self.closed_at = Some(at);
                self.close_reason = Some(*reason);
                self.close_message.clone_from(message);
                self.duplicate_of.clone_from(duplicate_of);
                self.respond(at);
            }
            Change::Reopened => {
                self.state = State::Triage;
                self.closed_at = None;
                self.disclosure_announced_for = None;
                self.disclosure_exempt = None;
                self.close_reason = None;
                self.close_message = None;
                self.duplicate_of = None;
            }
            Change::Published => {
                self.state = State::Published;
                self.published_at = Some(at);
                let summary = if self.public_history.is_empty() {
                    "Initial publication"
                } else {
                    "Published again"
                };
                self.public_history.push(PublicRevision {
                    at,
                    summary: summary.into(),
                });
            }
            Change::Withdrawn { reason } => {
                self.state = State::Withdrawn;
                self.withdrawn_at = Some(at);
                self.withdrawn_reason.clone_from(reason);
                self.public_history.push(PublicRevision {
                    at,
                    summary: match reason {
                        Some(r) => format!("Withdrawn: {r}"),
                        None => "Withdrawn".into(),
                    },
                });
            }
            Change::CollaboratorInvited { .. }
            | Change::CollaboratorAccepted { .. }
            | Change::CollaboratorRevoked { .. }
            | Change::CollaboratorExpired { .. }
            | Change::Attached { .. } => {}
            Change::DisclosureAnnounced { on } => self.disclosure_announced_for = Some(*on),
            Change::DisclosureExempted { reason } => self.disclosure_exempt = Some(reason.clone()),
            Change::Disclosed => self.state = State::Disclosed,
            Change::EmbargoChanged { embargo, .. } => self.embargo = embargo.clone(),
            Change::CaseFlagSet { flag } => self.case.set(*flag, &crate::rfc3339(at)),
            Change::ReadyChanged { ready } => self.ready = *ready,
            Change::Transferred { to, .. } => self.repo = Some(to.clone()),
            Change::CveAssigned { cve_id, .. } => {
                self.content.cve_id = Some(cve_id.clone());
                if self.state.is_public() {
                    self.public_history.push(PublicRevision {
                        at,
                        summary: format!("{cve_id} assigned"),
                    });
                }
            }
        }
        if change.changes_advisory() {
            self.updated_at = at;
            self.revision += 1;
        }
        let public_change = match change {
            Change::Published | Change::Withdrawn { .. } => true,
            Change::Edited { .. } | Change::CveAssigned { .. } => self.state.is_public(),
            _ => false,
        };
        if public_change {
            self.public_updated_at = Some(at);
        }
    }

    fn respond(&mut self, at: OffsetDateTime) {
        if self.first_response_at.is_none() {
            self.first_response_at = Some(at);
        }
    }

    /// What must hold before publication, beyond the state.
    pub fn check_publishable(&self) -> Result<(), FieldError> {
        if self.content.vulnerabilities.is_empty() {
            return Err(FieldError::new(
                "vulnerabilities",
                "name at least one affected package before publishing",
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn report() -> Advisory {
        let filing = Filing {
            id: AdvisoryId::from_random([7; 12]),
            org: Slug::parse("coco").unwrap_or_else(|_| unreachable!()),
            repo: Some(Slug::parse("guest").unwrap_or_else(|_| unreachable!())),
            reporter_id: 1,
            response_due_at: datetime!(2026-12-09 00:00 UTC),
        };
        let content = Content {
            title: "t".into(),
            description: "d".into(),
            ..Content::default()
        };
        Advisory::reported(filing, content, datetime!(2026-11-25 00:00 UTC))
    }

    #[test]
    fn first_triager_reply_is_recorded_once() {
        let mut a = report();
        a.apply(
            &Change::Commented {
                comment_id: 1,
                by_triager: false,
                internal: false,
            },
            datetime!(2026-11-26 00:00 UTC),
        );
        assert_eq!(a.first_response_at, None);
        a.apply(
            &Change::Commented {
                comment_id: 2,
                by_triager: true,
                internal: false,
            },
            datetime!(2026-11-27 00:00 UTC),
        );
        a.apply(&Change::Accepted, datetime!(2026-11-28 00:00 UTC));
        assert_eq!(a.first_response_at, Some(datetime!(2026-11-27 00:00 UTC)));
        assert_eq!(a.state, State::Draft);
        assert_eq!(a.content.summary.as_deref(), Some("t"));
        assert_eq!(a.revision, 4);
    }

    #[test]
    fn edit_distinguishes_absent_from_null() {
        let e: Edit = serde_json::from_str(r#"{"cve_id": null}"#).unwrap_or_default();
        assert_eq!(e.cve_id, Some(None));
        let e: Edit = serde_json::from_str("{}").unwrap_or_default();
        assert!(e.is_empty());
        assert!(serde_json::from_str::<Edit>(r#"{"sumary": "x"}"#).is_err());
    }

    #[test]
    fn limits_name_the_field() {
        let c = Content {
            title: "x".repeat(300),
            description: "d".into(),
            ..Content::default()
        };
        assert_eq!(c.check().map_err(|e| e.field), Err("title".to_owned()));
    }
}
