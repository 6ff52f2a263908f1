//! Reading advisories published elsewhere into Embargo's model: OSV (JSON or YAML), the
//! forge's advisory JSON (GraphQL and REST shapes), and RustSec's Markdown advisories with
//! TOML front matter. The format is recognised from the content.
//!
//! Nothing is accepted half: a record either becomes a [`Content`] that passes every check,
//! or is refused with a message naming the field. What is dropped on the way (a CVSS v2
//! vector, a reference that is not a web address) is listed in [`Imported::warnings`].

use std::cmp::Ordering;

use embargo_domain::FieldError;
use embargo_domain::advisory::{Content, Credit, CreditType, Package, Vulnerability, limits};
use embargo_domain::affected::{AffectedRange, RangeEvent, RangeKind};
use embargo_domain::types::{CveId, CvssVector, CweId, Ecosystem, PackageName, ReferenceUrl};
use embargo_domain::version_range::VersionRange;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// The largest document read.
pub const MAX_BYTES: usize = 4 << 20;

/// The formats read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceFormat {
    OsvJson,
    OsvYaml,
    Ghsa,
    RustSec,
}

impl SourceFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::OsvJson => "OSV JSON",
            Self::OsvYaml => "OSV YAML",
            Self::Ghsa => "GHSA JSON",
            Self::RustSec => "RustSec Markdown",
        }
    }
}

/// One record read.
#[derive(Debug, Clone)]
pub struct Imported {
    /// Its id where it was published: `RUSTSEC-2024-0001`, `GHSA-…`, `GO-…`.
    pub source_id: String,
    pub format: SourceFormat,
    pub content: Content,
    pub published: Option<OffsetDateTime>,
    pub modified: OffsetDateTime,
    pub withdrawn: Option<OffsetDateTime>,
    /// What was left out, and why.
    pub warnings: Vec<String>,
}

/// Why a document was not read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportError {
    pub message: String,
}

impl std::fmt::Display for ImportError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ImportError {}

fn err(message: impl Into<String>) -> ImportError {
    ImportError {
        message: message.into(),
    }
}

impl From<FieldError> for ImportError {
    fn from(e: FieldError) -> Self {
        err(e.to_string())
    }
}

/// Reads one document, recognising its format.
pub fn parse(bytes: &[u8]) -> Result<Imported, ImportError> {
    if bytes.len() > MAX_BYTES {
        return Err(err(format!(
            "is {} bytes; the limit is {MAX_BYTES} bytes (4 MiB)",
            bytes.len()
        )));
    }
    let text = std::str::from_utf8(bytes).map_err(|e| err(format!("is not UTF-8 text ({e})")))?;
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with("```toml") {
        return rustsec(trimmed);
    }
    if trimmed.starts_with('{') {
        let v: Value =
            serde_json::from_str(trimmed).map_err(|e| err(format!("is not valid JSON ({e})")))?;
        if v.get("ghsaId").is_some() || v.get("ghsa_id").is_some() {
            return ghsa(&v);
        }
        return osv(&v, SourceFormat::OsvJson);
    }
    let v: Value = serde_norway::from_str(trimmed).map_err(|_| {
        err("is not a format Embargo reads: OSV (JSON or YAML), GHSA JSON or a RustSec advisory")
    })?;
    if !v.is_object() {
        return Err(err(
            "is not a format Embargo reads: OSV (JSON or YAML), GHSA JSON or a RustSec advisory",
        ));
    }
    osv(&v, SourceFormat::OsvYaml)
}

fn str_at<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
}

fn array_at<'a>(v: &'a Value, key: &str) -> &'a [Value] {
    v.get(key)
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

fn time_at(v: &Value, key: &str) -> Result<Option<OffsetDateTime>, ImportError> {
    match v.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => parse_time(s)
            .map(Some)
            .ok_or_else(|| err(format!("{key}: '{}' is not an RFC 3339 time", cut(s, 40)))),
        Some(_) => Err(err(format!("{key}: is not a time"))),
    }
}

/// RFC 3339, or a plain date (`2024-04-24`, as RustSec writes) at midnight UTC.
fn parse_time(s: &str) -> Option<OffsetDateTime> {
    let s = s.trim();
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Some(t.to_offset(time::UtcOffset::UTC));
    }
    let d = time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).ok()?;
    Some(d.midnight().assume_utc())
}

fn cut(s: &str, n: usize) -> String {
    embargo_domain::types::truncate(s, n)
}

/// The first line of `s`, shortened to the title limit at a character boundary.
fn one_line(s: &str, max: usize) -> String {
    let line = s
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or_default()
        .trim_start_matches('#')
        .trim();
    if line.chars().count() <= max {
        return line.to_owned();
    }
    let mut out: String = line.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

/// What every format contributes, gathered before the checks.
#[derive(Default)]
struct Draft {
    id: String,
    summary: Option<String>,
    details: String,
    aliases: Vec<String>,
    vectors: Vec<String>,
    cwes: Vec<String>,
    references: Vec<String>,
    credits: Vec<Credit>,
    vulnerabilities: Vec<Vulnerability>,
    warnings: Vec<String>,
}

impl Draft {
    /// Related ids are other vulnerabilities, not this one: they may not become aliases, and
    /// the model has no place for them.
    fn left_out_related<'a>(&mut self, related: impl Iterator<Item = &'a str>) {
        let related: Vec<&str> = related.filter(|r| !r.trim().is_empty()).collect();
        if !related.is_empty() {
            self.warnings.push(format!(
                "related: left out {} (Embargo records no related advisories)",
                related.join(", ")
            ));
        }
    }

    fn finish(
        mut self,
        format: SourceFormat,
        published: Option<OffsetDateTime>,
        modified: OffsetDateTime,
        withdrawn: Option<OffsetDateTime>,
    ) -> Result<Imported, ImportError> {
        let summary = self
            .summary
            .as_deref()
            .map(|s| one_line(s, limits::SUMMARY));
        let title = summary
            .clone()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| one_line(&self.details, limits::TITLE));
        let title = if title.is_empty() {
            self.id.clone()
        } else {
            title
        };
        let description = if self.details.trim().is_empty() {
            format!(
                "Imported from {} ({}), which gives no details.",
                self.id,
                format.as_str()
            )
        } else {
            self.details.clone()
        };
        // The CVE id has its own field; the source id and every other alias stay aliases.
        let mut cve_id: Option<CveId> = None;
        let mut aliases = vec![self.id.clone()];
        for a in std::mem::take(&mut self.aliases) {
            let a = a.trim().to_owned();
            let is_the_cve = cve_id.as_ref().is_some_and(|c| c.as_str() == a);
            if a.is_empty() || is_the_cve || aliases.contains(&a) {
                continue;
            }
            if cve_id.is_none()
                && let Ok(c) = CveId::parse(&a)
            {
                cve_id = Some(c);
                continue;
            }
            aliases.push(a);
        }
        let mut cvss_vectors: Vec<CvssVector> = Vec::new();
        for v in &self.vectors {
            match CvssVector::parse(v).and_then(|p| {
                crate::cvss::parse(p.as_str())
                    .map(|_| p)
                    .map_err(|e| FieldError::new("cvss_vector", e.to_string()))
            }) {
                Ok(p)
                    if cvss_vectors
                        .iter()
                        .any(|o| o.version().chars().next() == p.version().chars().next()) =>
                {
                    self.warnings.push(format!(
                        "left out a second CVSS v{} vector {v}",
                        p.version()
                    ));
                }
                Ok(p) => cvss_vectors.push(p),
                Err(e) => self.warnings.push(format!(
                    "left out the severity '{}': {}",
                    cut(v, 60),
                    e.message
                )),
            }
        }
        let mut cwe_ids: Vec<CweId> = Vec::new();
        for c in &self.cwes {
            match CweId::parse(c) {
                Ok(w) if !cwe_ids.contains(&w) => cwe_ids.push(w),
                Ok(_) => {}
                Err(e) => self.warnings.push(e.message),
            }
        }
        let mut references: Vec<ReferenceUrl> = Vec::new();
        for r in &self.references {
            match ReferenceUrl::parse(r) {
                Ok(u) if !references.contains(&u) => references.push(u),
                Ok(_) => {}
                Err(e) => self
                    .warnings
                    .push(format!("left out a reference: {}", e.message)),
            }
        }
        let content = Content {
            title,
            summary: summary.filter(|s| !s.is_empty()),
            description,
            cve_id,
            cvss_vectors,
            cwe_ids,
            references,
            credits: self.credits,
            vulnerabilities: self.vulnerabilities,
            aliases,
        };
        content.check()?;
        Ok(Imported {
            source_id: self.id,
            format,
            content,
            published,
            modified,
            withdrawn,
            warnings: self.warnings,
        })
    }
}

fn check_id(id: &str) -> Result<(), ImportError> {
    let ok = !id.is_empty()
        && id.len() <= 100
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c));
    if ok {
        Ok(())
    } else {
        Err(err(format!(
            "id: '{}' is not an advisory id (letters, digits, - _ . :)",
            cut(id, 40)
        )))
    }
}

fn credit_type(s: Option<&str>) -> CreditType {
    match s
        .unwrap_or_default()
        .to_ascii_uppercase()
        .replace(' ', "_")
        .as_str()
    {
        "FINDER" => CreditType::Finder,
        "REPORTER" => CreditType::Reporter,
        "ANALYST" => CreditType::Analyst,
        "COORDINATOR" => CreditType::Coordinator,
        "REMEDIATION_DEVELOPER" => CreditType::RemediationDeveloper,
        "REMEDIATION_REVIEWER" => CreditType::RemediationReviewer,
        "REMEDIATION_VERIFIER" => CreditType::RemediationVerifier,
        "TOOL" => CreditType::Tool,
        "SPONSOR" => CreditType::Sponsor,
        _ => CreditType::Other,
    }
}

/// An OSV record.
fn osv(v: &Value, format: SourceFormat) -> Result<Imported, ImportError> {
    let id = str_at(v, "id").ok_or_else(|| err("id: is missing; an OSV record has an id"))?;
    check_id(id)?;
    let modified = time_at(v, "modified")?
        .ok_or_else(|| err("modified: is missing; an OSV record says when it last changed"))?;
    let mut d = Draft {
        id: id.to_owned(),
        summary: str_at(v, "summary").map(str::to_owned),
        details: str_at(v, "details").unwrap_or_default().to_owned(),
        ..Draft::default()
    };
    d.aliases = array_at(v, "aliases")
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_owned)
        .collect();
    d.left_out_related(array_at(v, "related").iter().filter_map(Value::as_str));
    for s in array_at(v, "severity") {
        match (str_at(s, "type"), str_at(s, "score")) {
            (Some("CVSS_V3" | "CVSS_V4"), Some(score)) => d.vectors.push(score.to_owned()),
            (kind, score) => d.warnings.push(format!(
                "left out a {} severity {}: Embargo scores CVSS v3.x and v4.0",
                kind.unwrap_or("typeless"),
                score.unwrap_or_default()
            )),
        }
    }
    if let Some(ds) = v.get("database_specific") {
        d.cwes = array_at(ds, "cwe_ids")
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect();
    }
    d.references = array_at(v, "references")
        .iter()
        .filter_map(|r| str_at(r, "url"))
        .map(str::to_owned)
        .collect();
    for c in array_at(v, "credits") {
        if let Some(name) = str_at(c, "name") {
            d.credits.push(Credit {
                name: name.trim().to_owned(),
                kind: credit_type(str_at(c, "type")),
            });
        }
    }
    for (i, a) in array_at(v, "affected").iter().enumerate() {
        let field = format!("affected[{i}]");
        let ranges: Vec<AffectedRange> = match a.get("ranges") {
            None | Some(Value::Null) => Vec::new(),
            Some(r) => serde_json::from_value(r.clone())
                .map_err(|e| err(format!("{field}.ranges: {e}")))?,
        };
        // The linter's rules hold for every range, also those of entries left out below.
        for (j, r) in ranges.iter().enumerate() {
            r.check()
                .map_err(|e| err(e.within(&format!("{field}.ranges[{j}]")).to_string()))?;
        }
        let versions: Vec<String> = match a.get("versions") {
            None | Some(Value::Null) => Vec::new(),
            Some(r) => serde_json::from_value(r.clone())
                .map_err(|e| err(format!("{field}.versions: {e}")))?,
        };
        let Some(pkg) = a.get("package").filter(|p| p.is_object()) else {
            d.warnings.push(format!(
                "{field}: left out an entry without a package (Embargo records affected packages)"
            ));
            continue;
        };
        let ecosystem = Ecosystem::parse(str_at(pkg, "ecosystem").unwrap_or_default())
            .map_err(|e| err(format!("{field}.package.{e}")))?;
        let name = PackageName::parse(str_at(pkg, "name").unwrap_or_default())
            .map_err(|e| err(format!("{field}.package.{e}")))?;
        let vuln = Vulnerability {
            package: Package { ecosystem, name },
            vulnerable_version_range: None,
            patched_versions: None,
            ranges,
            versions,
        };
        vuln.check()
            .map_err(|e| err(e.within(&field).to_string()))?;
        d.vulnerabilities.push(vuln);
    }
    let published = time_at(v, "published")?;
    let withdrawn = time_at(v, "withdrawn")?;
    d.finish(format, published, modified, withdrawn)
}

/// The forge's ecosystem names (upper case in its API) as OSV names them.
fn ghsa_ecosystem(s: &str) -> Result<Ecosystem, FieldError> {
    let name = match s.to_ascii_uppercase().as_str() {
        "MAVEN" => "Maven",
        "NPM" => "npm",
        "PIP" | "PYPI" => "PyPI",
        "RUBYGEMS" => "RubyGems",
        "COMPOSER" => "Packagist",
        "NUGET" => "NuGet",
        "GO" => "Go",
        "RUST" | "CARGO" => "crates.io",
        "ERLANG" | "HEX" => "Hex",
        "PUB" => "Pub",
        "SWIFT" => "SwiftURL",
        "ACTIONS" => "GitHub Actions",
        _ => s,
    };
    Ecosystem::parse(name)
}

/// An advisory of the forge's database, in its GraphQL (`ghsaId`) or REST (`ghsa_id`) shape.
fn ghsa(v: &Value) -> Result<Imported, ImportError> {
    let id = str_at(v, "ghsaId")
        .or_else(|| str_at(v, "ghsa_id"))
        .ok_or_else(|| err("ghsaId: is empty"))?;
    check_id(id)?;
    let modified = time_at(v, "updatedAt")?
        .or(time_at(v, "updated_at")?)
        .ok_or_else(|| err("updatedAt: is missing; the advisory says when it last changed"))?;
    let published = time_at(v, "publishedAt")?.or(time_at(v, "published_at")?);
    let withdrawn = time_at(v, "withdrawnAt")?.or(time_at(v, "withdrawn_at")?);
    let mut d = Draft {
        id: id.to_owned(),
        summary: str_at(v, "summary").map(str::to_owned),
        details: str_at(v, "description").unwrap_or_default().to_owned(),
        ..Draft::default()
    };
    for i in array_at(v, "identifiers") {
        if let Some(val) = str_at(i, "value") {
            d.aliases.push(val.to_owned());
        }
    }
    if let Some(c) = str_at(v, "cve_id") {
        d.aliases.push(c.to_owned());
    }
    for r in array_at(v, "references") {
        if let Some(u) = r.as_str().or_else(|| str_at(r, "url")) {
            d.references.push(u.to_owned());
        }
    }
    for key in ["cvss", "cvss_v3", "cvss_v4"] {
        if let Some(c) = v.get(key)
            && let Some(vs) = str_at(c, "vectorString").or_else(|| str_at(c, "vector_string"))
        {
            d.vectors.push(vs.to_owned());
        }
    }
    if let Some(sev) = v.get("cvss_severities") {
        for key in ["cvss_v3", "cvss_v4"] {
            if let Some(vs) = sev.get(key).and_then(|c| str_at(c, "vector_string")) {
                d.vectors.push(vs.to_owned());
            }
        }
    }
    d.vectors.dedup();
    let cwes = v
        .get("cwes")
        .map(|c| c.get("nodes").unwrap_or(c))
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    for c in cwes {
        if let Some(id) = str_at(c, "cweId").or_else(|| str_at(c, "cwe_id")) {
            d.cwes.push(id.to_owned());
        }
    }
    for c in array_at(v, "credits") {
        let name = c
            .get("user")
            .and_then(|u| str_at(u, "login"))
            .or_else(|| str_at(c, "login"))
            .or_else(|| str_at(c, "name"));
        if let Some(name) = name {
            d.credits.push(Credit {
                name: name.to_owned(),
                kind: credit_type(str_at(c, "type")),
            });
        }
    }
    let nodes = v
        .get("vulnerabilities")
        .map(|n| n.get("nodes").unwrap_or(n))
        .and_then(Value::as_array)
        .map_or(&[][..], Vec::as_slice);
    for (i, n) in nodes.iter().enumerate() {
        let field = format!("vulnerabilities[{i}]");
        let pkg = n
            .get("package")
            .ok_or_else(|| err(format!("{field}.package: is missing")))?;
        let ecosystem = ghsa_ecosystem(str_at(pkg, "ecosystem").unwrap_or_default())
            .map_err(|e| err(format!("{field}.package.{e}")))?;
        let raw_name = str_at(pkg, "name").unwrap_or_default();
        let name = if ecosystem.as_str() == "PyPI" {
            crate::purl::pep503(raw_name)
        } else {
            raw_name.to_owned()
        };
        let name = PackageName::parse(&name).map_err(|e| err(format!("{field}.package.{e}")))?;
        let range = str_at(n, "vulnerableVersionRange")
            .or_else(|| str_at(n, "vulnerable_version_range"))
            .map(VersionRange::parse)
            .transpose()
            .map_err(|e| err(format!("{field}.{e}")))?;
        let patched = n
            .get("firstPatchedVersion")
            .or_else(|| n.get("first_patched_version"))
            .and_then(|p| p.as_str().or_else(|| str_at(p, "identifier")))
            .map(str::to_owned);
        let vuln = Vulnerability {
            package: Package { ecosystem, name },
            vulnerable_version_range: range,
            patched_versions: patched,
            ranges: Vec::new(),
            versions: Vec::new(),
        };
        vuln.check()
            .map_err(|e| err(e.within(&field).to_string()))?;
        d.vulnerabilities.push(vuln);
    }
    d.finish(SourceFormat::Ghsa, published, modified, withdrawn)
}

/// The TOML front matter of a RustSec advisory.
#[derive(Debug, serde::Deserialize)]
struct RustSecDoc {
    advisory: RustSecAdvisory,
    #[serde(default)]
    versions: RustSecVersions,
    /// Affected functions, operating systems and architectures: the model has no place.
    #[serde(default)]
    affected: Option<toml::Table>,
}

#[derive(Debug, serde::Deserialize)]
struct RustSecAdvisory {
    id: String,
    package: String,
    date: String,
    #[serde(default)]
    url: Option<String>,
    #[serde(default)]
    aliases: Vec<String>,
    #[serde(default)]
    related: Vec<String>,
    #[serde(default)]
    cvss: Option<String>,
    #[serde(default)]
    withdrawn: Option<String>,
    #[serde(default)]
    references: Vec<String>,
    /// `notice`, `unmaintained`, `unsound`: RustSec's OSV export keeps these as records too.
    #[serde(default)]
    informational: Option<String>,
}

#[derive(Debug, Default, serde::Deserialize)]
struct RustSecVersions {
    #[serde(default)]
    patched: Vec<String>,
    #[serde(default)]
    unaffected: Vec<String>,
}

/// A RustSec advisory: ```` ```toml ```` front matter, then `# Title` and the description.
fn rustsec(text: &str) -> Result<Imported, ImportError> {
    let body = text.strip_prefix("```toml").unwrap_or(text);
    let Some(end) = body.find("\n```") else {
        return Err(err("the ```toml front matter is not closed with ```"));
    };
    let (front, rest) = body.split_at(end);
    let rest = rest.get(4..).unwrap_or_default();
    let doc: RustSecDoc =
        toml::from_str(front).map_err(|e| err(format!("front matter: {}", e.message())))?;
    let a = doc.advisory;
    check_id(&a.id)?;
    let date = parse_time(&a.date).ok_or_else(|| {
        err(format!(
            "advisory.date: '{}' is not a date",
            cut(&a.date, 40)
        ))
    })?;
    let withdrawn = a
        .withdrawn
        .as_deref()
        .map(|w| parse_time(w).ok_or_else(|| err("advisory.withdrawn: is not a date")))
        .transpose()?;
    let rest = rest.trim_start();
    let (title, details) = match rest.strip_prefix("# ") {
        Some(r) => match r.split_once('\n') {
            Some((t, d)) => (t.trim().to_owned(), d.trim().to_owned()),
            None => (r.trim().to_owned(), String::new()),
        },
        None => (String::new(), rest.trim().to_owned()),
    };
    let mut d = Draft {
        id: a.id.clone(),
        summary: (!title.is_empty()).then_some(title),
        details,
        aliases: a.aliases,
        ..Draft::default()
    };
    d.left_out_related(a.related.iter().map(String::as_str));
    if let Some(kind) = a.informational.as_deref() {
        d.warnings.push(format!(
            "advisory.informational: '{}' is imported as an advisory like any other",
            cut(kind, 40)
        ));
    }
    if let Some(affected) = doc.affected.filter(|t| !t.is_empty()) {
        let keys: Vec<&str> = affected.keys().map(String::as_str).collect();
        d.warnings.push(format!(
            "affected: left out {} (Embargo records affected versions only)",
            keys.join(", ")
        ));
    }
    if let Some(c) = a.cvss {
        d.vectors.push(c);
    }
    d.references = a.url.into_iter().chain(a.references).collect();
    let name = PackageName::parse(&a.package)
        .map_err(|e| err(format!("advisory.package: {}", e.message)))?;
    let events = rustsec_events(&doc.versions.patched, &doc.versions.unaffected)?;
    d.vulnerabilities.push(Vulnerability {
        package: Package {
            ecosystem: Ecosystem::parse("crates.io")?,
            name,
        },
        vulnerable_version_range: None,
        patched_versions: None,
        ranges: vec![AffectedRange {
            kind: RangeKind::Semver,
            repo: None,
            events,
        }],
        versions: Vec::new(),
    });
    d.finish(SourceFormat::RustSec, Some(date), date, withdrawn)
}

/// A stretch of versions `[lo, hi)`; `None` is unbounded.
type Span = (Option<semver::Version>, Option<semver::Version>);

/// A Cargo version requirement as the stretch of versions it matches.
fn req_span(req: &str) -> Result<Span, ImportError> {
    let parsed = semver::VersionReq::parse(req).map_err(|e| {
        err(format!(
            "versions: '{}' is not a version requirement ({e})",
            cut(req, 40)
        ))
    })?;
    let mut lo: Option<semver::Version> = None;
    let mut hi: Option<semver::Version> = None;
    let raise = |cur: &mut Option<semver::Version>, v: semver::Version| {
        if cur.as_ref().is_none_or(|c| v > *c) {
            *cur = Some(v);
        }
    };
    let lower = |cur: &mut Option<semver::Version>, v: semver::Version| {
        if cur.as_ref().is_none_or(|c| v < *c) {
            *cur = Some(v);
        }
    };
    for c in &parsed.comparators {
        let (maj, min, pat) = (c.major, c.minor, c.patch);
        let at = semver::Version {
            major: maj,
            minor: min.unwrap_or(0),
            patch: pat.unwrap_or(0),
            pre: c.pre.clone(),
            build: semver::BuildMetadata::EMPTY,
        };
        let bump = |major: u64, minor: u64, patch: u64| semver::Version::new(major, minor, patch);
        // The version after every one that matches `c`'s given parts.
        let after_given = match (min, pat) {
            (None, _) => bump(maj + 1, 0, 0),
            (Some(m), None) => bump(maj, m + 1, 0),
            (Some(m), Some(p)) => bump(maj, m, p + 1),
        };
        match c.op {
            semver::Op::GreaterEq => raise(&mut lo, at),
            semver::Op::Greater => raise(&mut lo, after_given),
            semver::Op::Less => lower(&mut hi, at),
            semver::Op::LessEq => lower(&mut hi, after_given),
            semver::Op::Exact | semver::Op::Wildcard => {
                raise(&mut lo, at);
                lower(&mut hi, after_given);
            }
            semver::Op::Tilde => {
                raise(&mut lo, at);
                lower(
                    &mut hi,
                    match min {
                        None => bump(maj + 1, 0, 0),
                        Some(m) => bump(maj, m + 1, 0),
                    },
                );
            }
            semver::Op::Caret | _ => {
                raise(&mut lo, at);
                let next = match (maj, min, pat) {
                    (0, None, _) => bump(1, 0, 0),
                    (0, Some(0), None) => bump(0, 1, 0),
                    (0, Some(0), Some(p)) => bump(0, 0, p + 1),
                    (0, Some(m), _) => bump(0, m + 1, 0),
                    (m, _, _) => bump(m + 1, 0, 0),
                };
                lower(&mut hi, next);
            }
        }
    }
    Ok((lo, hi))
}

/// The affected ranges of a RustSec advisory: every version that no `patched` or
/// `unaffected` requirement matches, as RustSec's own OSV export writes them.
fn rustsec_events(
    patched: &[String],
    unaffected: &[String],
) -> Result<Vec<RangeEvent>, ImportError> {
    let mut safe: Vec<Span> = Vec::new();
    for r in patched.iter().chain(unaffected) {
        safe.push(req_span(r)?);
    }
    // Sort the safe stretches by their start (unbounded first) and walk the gaps.
    safe.sort_by(|a, b| match (&a.0, &b.0) {
        (None, None) => Ordering::Equal,
        (None, Some(_)) => Ordering::Less,
        (Some(_), None) => Ordering::Greater,
        (Some(x), Some(y)) => x.cmp(y),
    });
    let mut events = Vec::new();
    // Where the affected stretch being walked starts: `Some(None)` is from the very start.
    let mut cursor: Option<Option<semver::Version>> = Some(None);
    for (lo, hi) in safe {
        if let Some(start) = cursor.clone() {
            let gap = match (&start, &lo) {
                (_, None) => false,
                (None, Some(_)) => true,
                (Some(s), Some(l)) => s < l,
            };
            if gap {
                events.push(RangeEvent::Introduced(
                    start.map_or_else(|| "0".to_owned(), |s| s.to_string()),
                ));
                events.push(RangeEvent::Fixed(
                    lo.as_ref().map(ToString::to_string).unwrap_or_default(),
                ));
            }
        }
        cursor = match (cursor, hi) {
            (None, _) | (_, None) => None,
            (Some(start), Some(h)) => Some(Some(match start {
                Some(s) if s > h => s,
                _ => h,
            })),
        };
    }
    if let Some(start) = cursor {
        events.push(RangeEvent::Introduced(
            start.map_or_else(|| "0".to_owned(), |s| s.to_string()),
        ));
    }
    Ok(events)
}

#[cfg(test)]
mod tests;
