//! CVSS v3.0, v3.1 and v4.0: strict parsing with precise errors, and scores as FIRST computes
//! them. The arithmetic is RustSec's `cvss` crate (checked against FIRST's data in the tests
//! below); this module adds what that crate leaves lenient: every metric name and value is
//! checked (case-sensitive, as the specifications write them), mandatory metrics must be
//! there, none twice, and v4.0 metrics come in the specification's order.

use std::fmt;
use std::str::FromStr;

use serde_json::{Value, json};

/// Qualitative severity ratings (CVSS v3.1 section 5, v4.0 section 6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub enum Severity {
    None,
    Low,
    Medium,
    High,
    Critical,
}

impl Severity {
    /// The rating of a score.
    pub fn of(score: f64) -> Self {
        if score < 0.1 {
            Self::None
        } else if score < 4.0 {
            Self::Low
        } else if score < 7.0 {
            Self::Medium
        } else if score < 9.0 {
            Self::High
        } else {
            Self::Critical
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "None",
            Self::Low => "Low",
            Self::Medium => "Medium",
            Self::High => "High",
            Self::Critical => "Critical",
        }
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What is wrong with a vector, in words that name the problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CvssError {
    Empty,
    Prefix(String),
    Version(String),
    Malformed(String),
    UnknownMetric(String),
    UnknownValue { metric: String, value: String },
    Duplicate(String),
    Missing(String),
    Order { metric: String, after: String },
}

impl fmt::Display for CvssError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str(
                "is empty; give a vector such as CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            ),
            Self::Prefix(p) => write!(
                f,
                "starts with '{p}'; a vector starts with CVSS:3.0/, CVSS:3.1/ or CVSS:4.0/"
            ),
            Self::Version(v) => write!(
                f,
                "CVSS version '{v}' is not supported; use 3.0, 3.1 or 4.0"
            ),
            Self::Malformed(c) => write!(f, "'{c}' is not a METRIC:VALUE pair"),
            Self::UnknownMetric(m) => write!(f, "unknown metric '{m}'"),
            Self::UnknownValue { metric, value } => {
                write!(f, "unknown value '{value}' for metric '{metric}'")
            }
            Self::Duplicate(m) => write!(f, "metric '{m}' appears twice"),
            Self::Missing(m) => write!(f, "metric '{m}' is missing"),
            Self::Order { metric, after } => write!(
                f,
                "metric '{metric}' must come before '{after}' (CVSS v4.0 order)"
            ),
        }
    }
}

impl std::error::Error for CvssError {}

type Table = &'static [(&'static str, &'static [&'static str], bool)];

/// CVSS v3.x metrics: name, allowed values, mandatory.
const V3: Table = &[
    ("AV", &["N", "A", "L", "P"], true),
    ("AC", &["L", "H"], true),
    ("PR", &["N", "L", "H"], true),
    ("UI", &["N", "R"], true),
    ("S", &["U", "C"], true),
    ("C", &["H", "L", "N"], true),
    ("I", &["H", "L", "N"], true),
    ("A", &["H", "L", "N"], true),
    ("E", &["X", "H", "F", "P", "U"], false),
    ("RL", &["X", "U", "W", "T", "O"], false),
    ("RC", &["X", "C", "R", "U"], false),
    ("CR", &["X", "H", "M", "L"], false),
    ("IR", &["X", "H", "M", "L"], false),
    ("AR", &["X", "H", "M", "L"], false),
    ("MAV", &["X", "N", "A", "L", "P"], false),
    ("MAC", &["X", "L", "H"], false),
    ("MPR", &["X", "N", "L", "H"], false),
    ("MUI", &["X", "N", "R"], false),
    ("MS", &["X", "U", "C"], false),
    ("MC", &["X", "H", "L", "N"], false),
    ("MI", &["X", "H", "L", "N"], false),
    ("MA", &["X", "H", "L", "N"], false),
];

/// CVSS v4.0 metrics in the specification's order.
const V4: Table = &[
    ("AV", &["N", "A", "L", "P"], true),
    ("AC", &["L", "H"], true),
    ("AT", &["N", "P"], true),
    ("PR", &["N", "L", "H"], true),
    ("UI", &["N", "P", "A"], true),
    ("VC", &["H", "L", "N"], true),
    ("VI", &["H", "L", "N"], true),
    ("VA", &["H", "L", "N"], true),
    ("SC", &["H", "L", "N"], true),
    ("SI", &["H", "L", "N"], true),
    ("SA", &["H", "L", "N"], true),
    ("E", &["X", "A", "P", "U"], false),
    ("CR", &["X", "H", "M", "L"], false),
    ("IR", &["X", "H", "M", "L"], false),
    ("AR", &["X", "H", "M", "L"], false),
    ("MAV", &["X", "N", "A", "L", "P"], false),
    ("MAC", &["X", "L", "H"], false),
    ("MAT", &["X", "N", "P"], false),
    ("MPR", &["X", "N", "L", "H"], false),
    ("MUI", &["X", "N", "P", "A"], false),
    ("MVC", &["X", "H", "L", "N"], false),
    ("MVI", &["X", "H", "L", "N"], false),
    ("MVA", &["X", "H", "L", "N"], false),
    ("MSC", &["X", "H", "L", "N"], false),
    ("MSI", &["X", "S", "H", "L", "N"], false),
    ("MSA", &["X", "S", "H", "L", "N"], false),
    ("S", &["X", "N", "P"], false),
    ("AU", &["X", "N", "Y"], false),
    ("R", &["X", "A", "U", "I"], false),
    ("V", &["X", "D", "C"], false),
    ("RE", &["X", "L", "M", "H"], false),
    ("U", &["X", "Clear", "Green", "Amber", "Red"], false),
];

/// A checked vector with its scores.
#[derive(Debug, Clone)]
pub enum Cvss {
    V3 {
        text: String,
        vector: Box<cvss::v3::Vector>,
    },
    V4 {
        text: String,
        vector: Box<cvss::v4::Vector>,
    },
}

/// Rounds to one decimal the way the scores are printed (they already are multiples of 0.1;
/// this removes floating-point noise such as 7.500000000000001).
fn tenth(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

/// Parses and checks a vector.
pub fn parse(s: &str) -> Result<Cvss, CvssError> {
    let s = s.trim();
    if s.is_empty() {
        return Err(CvssError::Empty);
    }
    let mut parts = s.split('/');
    let head = parts.next().unwrap_or_default();
    let Some(version) = head.strip_prefix("CVSS:") else {
        return Err(CvssError::Prefix(head.chars().take(20).collect()));
    };
    let table = match version {
        "3.0" | "3.1" => V3,
        "4.0" => V4,
        other => return Err(CvssError::Version(other.chars().take(10).collect())),
    };
    let mut seen: Vec<usize> = Vec::new();
    for part in parts {
        let (m, v) = part
            .split_once(':')
            .filter(|(m, v)| !m.is_empty() && !v.is_empty())
            .ok_or_else(|| CvssError::Malformed(part.chars().take(20).collect()))?;
        let Some(index) = table.iter().position(|(name, _, _)| *name == m) else {
            return Err(CvssError::UnknownMetric(m.chars().take(10).collect()));
        };
        let (name, values, _) = table.get(index).copied().unwrap_or(("", &[], false));
        if !values.contains(&v) {
            return Err(CvssError::UnknownValue {
                metric: name.into(),
                value: v.chars().take(10).collect(),
            });
        }
        if seen.contains(&index) {
            return Err(CvssError::Duplicate(name.into()));
        }
        if let Some(&last) = seen.last()
            && version == "4.0"
            && last > index
        {
            let after = table.get(last).map(|t| t.0).unwrap_or_default();
            return Err(CvssError::Order {
                metric: name.into(),
                after: after.into(),
            });
        }
        seen.push(index);
    }
    for (i, (name, _, mandatory)) in table.iter().enumerate() {
        if *mandatory && !seen.contains(&i) {
            return Err(CvssError::Missing((*name).into()));
        }
    }
    let crate_err = |e: cvss::Error| CvssError::Malformed(e.to_string());
    if version == "4.0" {
        let vector = cvss::v4::Vector::from_str(s).map_err(crate_err)?;
        Ok(Cvss::V4 {
            text: s.to_owned(),
            vector: Box::new(vector),
        })
    } else {
        let vector = cvss::v3::Vector::from_str(s).map_err(crate_err)?;
        Ok(Cvss::V3 {
            text: s.to_owned(),
            vector: Box::new(vector),
        })
    }
}

impl Cvss {
    /// `3.0`, `3.1` or `4.0`.
    pub fn version(&self) -> &str {
        let text = match self {
            Self::V3 { text, .. } | Self::V4 { text, .. } => text,
        };
        text.get(5..8).unwrap_or_default()
    }

    /// For v3.x the base score; for v4.0 the score of the whole vector as given.
    pub fn base_score(&self) -> f64 {
        match self {
            Self::V3 { vector, .. } => tenth(vector.base_score().value()),
            Self::V4 { vector, .. } => tenth(vector.score().value()),
        }
    }

    /// v3.x only.
    pub fn temporal_score(&self) -> Option<f64> {
        match self {
            Self::V3 { vector, .. } => Some(tenth(vector.temporal_score().value())),
            Self::V4 { .. } => None,
        }
    }

    /// v3.x only.
    pub fn environmental_score(&self) -> Option<f64> {
        match self {
            Self::V3 { vector, .. } => Some(tenth(vector.environmental_score().value())),
            Self::V4 { .. } => None,
        }
    }

    pub fn severity(&self) -> Severity {
        Severity::of(self.base_score())
    }
}

impl fmt::Display for Cvss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::V3 { text, .. } | Self::V4 { text, .. } => f.write_str(text),
        }
    }
}

/// Metric abbreviations, the property FIRST's JSON schemas name them by, and each value's
/// spelling there (CVSS v3.x).
/// A metric: its abbreviation, its JSON property, and its values (short, long).
type JsonMetric = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const V3_JSON: &[JsonMetric] = &[
    (
        "AV",
        "attackVector",
        &[
            ("N", "NETWORK"),
            ("A", "ADJACENT_NETWORK"),
            ("L", "LOCAL"),
            ("P", "PHYSICAL"),
        ],
    ),
    ("AC", "attackComplexity", &[("L", "LOW"), ("H", "HIGH")]),
    (
        "PR",
        "privilegesRequired",
        &[("N", "NONE"), ("L", "LOW"), ("H", "HIGH")],
    ),
    ("UI", "userInteraction", &[("N", "NONE"), ("R", "REQUIRED")]),
    ("S", "scope", &[("U", "UNCHANGED"), ("C", "CHANGED")]),
    ("C", "confidentialityImpact", CIA),
    ("I", "integrityImpact", CIA),
    ("A", "availabilityImpact", CIA),
    (
        "E",
        "exploitCodeMaturity",
        &[
            ("X", "NOT_DEFINED"),
            ("U", "UNPROVEN"),
            ("P", "PROOF_OF_CONCEPT"),
            ("F", "FUNCTIONAL"),
            ("H", "HIGH"),
        ],
    ),
    (
        "RL",
        "remediationLevel",
        &[
            ("X", "NOT_DEFINED"),
            ("O", "OFFICIAL_FIX"),
            ("T", "TEMPORARY_FIX"),
            ("W", "WORKAROUND"),
            ("U", "UNAVAILABLE"),
        ],
    ),
    (
        "RC",
        "reportConfidence",
        &[
            ("X", "NOT_DEFINED"),
            ("U", "UNKNOWN"),
            ("R", "REASONABLE"),
            ("C", "CONFIRMED"),
        ],
    ),
    ("CR", "confidentialityRequirement", REQ),
    ("IR", "integrityRequirement", REQ),
    ("AR", "availabilityRequirement", REQ),
    (
        "MAV",
        "modifiedAttackVector",
        &[
            ("X", "NOT_DEFINED"),
            ("N", "NETWORK"),
            ("A", "ADJACENT_NETWORK"),
            ("L", "LOCAL"),
            ("P", "PHYSICAL"),
        ],
    ),
    (
        "MAC",
        "modifiedAttackComplexity",
        &[("X", "NOT_DEFINED"), ("L", "LOW"), ("H", "HIGH")],
    ),
    (
        "MPR",
        "modifiedPrivilegesRequired",
        &[
            ("X", "NOT_DEFINED"),
            ("N", "NONE"),
            ("L", "LOW"),
            ("H", "HIGH"),
        ],
    ),
    (
        "MUI",
        "modifiedUserInteraction",
        &[("X", "NOT_DEFINED"), ("N", "NONE"), ("R", "REQUIRED")],
    ),
    (
        "MS",
        "modifiedScope",
        &[("X", "NOT_DEFINED"), ("U", "UNCHANGED"), ("C", "CHANGED")],
    ),
    ("MC", "modifiedConfidentialityImpact", MCIA),
    ("MI", "modifiedIntegrityImpact", MCIA),
    ("MA", "modifiedAvailabilityImpact", MCIA),
];

const CIA: &[(&str, &str)] = &[("N", "NONE"), ("L", "LOW"), ("H", "HIGH")];
const MCIA: &[(&str, &str)] = &[
    ("X", "NOT_DEFINED"),
    ("N", "NONE"),
    ("L", "LOW"),
    ("H", "HIGH"),
];
const REQ: &[(&str, &str)] = &[
    ("X", "NOT_DEFINED"),
    ("L", "LOW"),
    ("M", "MEDIUM"),
    ("H", "HIGH"),
];

/// The same for CVSS v4.0.
const V4_JSON: &[JsonMetric] = &[
    (
        "AV",
        "attackVector",
        &[
            ("N", "NETWORK"),
            ("A", "ADJACENT"),
            ("L", "LOCAL"),
            ("P", "PHYSICAL"),
        ],
    ),
    ("AC", "attackComplexity", &[("L", "LOW"), ("H", "HIGH")]),
    (
        "AT",
        "attackRequirements",
        &[("N", "NONE"), ("P", "PRESENT")],
    ),
    (
        "PR",
        "privilegesRequired",
        &[("N", "NONE"), ("L", "LOW"), ("H", "HIGH")],
    ),
    (
        "UI",
        "userInteraction",
        &[("N", "NONE"), ("P", "PASSIVE"), ("A", "ACTIVE")],
    ),
    ("VC", "vulnConfidentialityImpact", CIA),
    ("VI", "vulnIntegrityImpact", CIA),
    ("VA", "vulnAvailabilityImpact", CIA),
    ("SC", "subConfidentialityImpact", CIA),
    ("SI", "subIntegrityImpact", CIA),
    ("SA", "subAvailabilityImpact", CIA),
    (
        "E",
        "exploitMaturity",
        &[
            ("X", "NOT_DEFINED"),
            ("A", "ATTACKED"),
            ("P", "PROOF_OF_CONCEPT"),
            ("U", "UNREPORTED"),
        ],
    ),
    ("CR", "confidentialityRequirement", REQ),
    ("IR", "integrityRequirement", REQ),
    ("AR", "availabilityRequirement", REQ),
    (
        "MAV",
        "modifiedAttackVector",
        &[
            ("X", "NOT_DEFINED"),
            ("N", "NETWORK"),
            ("A", "ADJACENT"),
            ("L", "LOCAL"),
            ("P", "PHYSICAL"),
        ],
    ),
    (
        "MAC",
        "modifiedAttackComplexity",
        &[("X", "NOT_DEFINED"), ("L", "LOW"), ("H", "HIGH")],
    ),
    (
        "MAT",
        "modifiedAttackRequirements",
        &[("X", "NOT_DEFINED"), ("N", "NONE"), ("P", "PRESENT")],
    ),
    (
        "MPR",
        "modifiedPrivilegesRequired",
        &[
            ("X", "NOT_DEFINED"),
            ("N", "NONE"),
            ("L", "LOW"),
            ("H", "HIGH"),
        ],
    ),
    (
        "MUI",
        "modifiedUserInteraction",
        &[
            ("X", "NOT_DEFINED"),
            ("N", "NONE"),
            ("P", "PASSIVE"),
            ("A", "ACTIVE"),
        ],
    ),
    ("MVC", "modifiedVulnConfidentialityImpact", MCIA),
    ("MVI", "modifiedVulnIntegrityImpact", MCIA),
    ("MVA", "modifiedVulnAvailabilityImpact", MCIA),
    ("MSC", "modifiedSubConfidentialityImpact", MCIA),
    (
        "MSI",
        "modifiedSubIntegrityImpact",
        &[
            ("X", "NOT_DEFINED"),
            ("N", "NONE"),
            ("L", "LOW"),
            ("H", "HIGH"),
            ("S", "SAFETY"),
        ],
    ),
    (
        "MSA",
        "modifiedSubAvailabilityImpact",
        &[
            ("X", "NOT_DEFINED"),
            ("N", "NONE"),
            ("L", "LOW"),
            ("H", "HIGH"),
            ("S", "SAFETY"),
        ],
    ),
    (
        "S",
        "Safety",
        &[("X", "NOT_DEFINED"), ("N", "NEGLIGIBLE"), ("P", "PRESENT")],
    ),
    (
        "AU",
        "Automatable",
        &[("X", "NOT_DEFINED"), ("N", "NO"), ("Y", "YES")],
    ),
    (
        "R",
        "Recovery",
        &[
            ("X", "NOT_DEFINED"),
            ("A", "AUTOMATIC"),
            ("U", "USER"),
            ("I", "IRRECOVERABLE"),
        ],
    ),
    (
        "V",
        "valueDensity",
        &[
            ("X", "NOT_DEFINED"),
            ("D", "DIFFUSE"),
            ("C", "CONCENTRATED"),
        ],
    ),
    (
        "RE",
        "vulnerabilityResponseEffort",
        &[
            ("X", "NOT_DEFINED"),
            ("L", "LOW"),
            ("M", "MODERATE"),
            ("H", "HIGH"),
        ],
    ),
    (
        "U",
        "providerUrgency",
        &[
            ("X", "NOT_DEFINED"),
            ("Clear", "CLEAR"),
            ("Green", "GREEN"),
            ("Amber", "AMBER"),
            ("Red", "RED"),
        ],
    ),
];

/// The vector as the object FIRST's JSON schemas describe (`cvss-v3.x.json`,
/// `cvss-v4.0.json`), which CVE records (`cvssV3_1`, `cvssV4_0`) and CSAF (`cvss_v3`)
/// embed: every metric the vector gives in its long form, and the scores with severities.
/// v3.x temporal and environmental scores appear when the vector has such metrics.
pub fn first_json(c: &Cvss) -> Value {
    let (text, table) = match c {
        Cvss::V3 { text, .. } => (text, V3_JSON),
        Cvss::V4 { text, .. } => (text, V4_JSON),
    };
    let mut out = serde_json::Map::new();
    out.insert("version".into(), json!(c.version()));
    out.insert("vectorString".into(), json!(text));
    let mut temporal = false;
    let mut environmental = false;
    for part in text.split('/').skip(1) {
        let Some((m, v)) = part.split_once(':') else {
            continue;
        };
        let Some((_, name, values)) = table.iter().find(|(abbr, ..)| *abbr == m) else {
            continue;
        };
        let Some((_, long)) = values.iter().find(|(short, _)| *short == v) else {
            continue;
        };
        if matches!(c, Cvss::V3 { .. }) && v != "X" {
            temporal |= ["E", "RL", "RC"].contains(&m);
            environmental |= ["CR", "IR", "AR"].contains(&m) || m.starts_with('M');
        }
        out.insert((*name).into(), json!(long));
    }
    let base = c.base_score();
    out.insert("baseScore".into(), json!(base));
    out.insert(
        "baseSeverity".into(),
        json!(c.severity().as_str().to_uppercase()),
    );
    if temporal && let Some(t) = c.temporal_score() {
        out.insert("temporalScore".into(), json!(t));
        out.insert(
            "temporalSeverity".into(),
            json!(Severity::of(t).as_str().to_uppercase()),
        );
    }
    if environmental && let Some(e) = c.environmental_score() {
        out.insert("environmentalScore".into(), json!(e));
        out.insert(
            "environmentalSeverity".into(),
            json!(Severity::of(e).as_str().to_uppercase()),
        );
    }
    Value::Object(out)
}

/// The JSON object `embargo cvss --json` prints for one vector.
pub fn score_line(vector: &str) -> Result<Value, CvssError> {
    let c = parse(vector)?;
    let mut out = json!({
        "vector": c.to_string(),
        "version": c.version(),
        "base_score": c.base_score(),
        "severity": c.severity().as_str(),
    });
    if let (Some(t), Some(e), Some(o)) = (
        c.temporal_score(),
        c.environmental_score(),
        out.as_object_mut(),
    ) {
        o.insert("temporal_score".into(), json!(t));
        o.insert("environmental_score".into(), json!(e));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn data() -> Option<std::path::PathBuf> {
        let dir = std::env::var("EMBARGO_TEST_DATA")
            .map(std::path::PathBuf::from)
            .unwrap_or_else(|_| {
                std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
            });
        if dir.is_dir() {
            return Some(dir);
        }
        assert!(
            std::env::var("CI").map_or(true, |v| v != "true"),
            "test data {} is missing; CI requires it",
            dir.display()
        );
        eprintln!(
            "!!! SKIPPING: test data {} is missing (set EMBARGO_TEST_DATA)",
            dir.display()
        );
        None
    }

    fn numbers(s: &str) -> Vec<f64> {
        s.trim_matches(|c| c == '(' || c == ')')
            .split(',')
            .filter(|x| !x.trim().is_empty())
            .map(|x| x.trim().parse().unwrap())
            .collect()
    }

    /// Every CVSS v3.1 base vector, with FIRST's base, temporal and environmental scores.
    #[test]
    fn every_v31_base_vector_agrees_with_first() {
        let Some(dir) = data() else { return };
        let text = std::fs::read_to_string(dir.join("cvss/v31-base-all.txt")).unwrap();
        let mut n = 0;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let (vector, scores) = line.split_once(" - ").unwrap();
            let expected = numbers(scores);
            let c = parse(vector).unwrap_or_else(|e| panic!("{vector}: {e}"));
            let got = [
                c.base_score(),
                c.temporal_score().unwrap(),
                c.environmental_score().unwrap(),
            ];
            assert_eq!(got.as_slice(), expected.as_slice(), "{vector}");
            n += 1;
        }
        assert_eq!(n, 2592);
    }

    #[test]
    fn every_v40_sample_agrees_with_first() {
        let Some(dir) = data() else { return };
        let text = std::fs::read_to_string(dir.join("cvss/v40-base-sample.txt")).unwrap();
        let mut n = 0;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let (vector, scores) = line.split_once(" - ").unwrap();
            let c = parse(vector).unwrap_or_else(|e| panic!("{vector}: {e}"));
            assert_eq!(vec![c.base_score()], numbers(scores), "{vector}");
            n += 1;
        }
        assert_eq!(n, 1058);
    }

    /// The FIRST JSON object of every sample vector validates against FIRST's schema of its
    /// version, and names each metric in its long form.
    #[test]
    fn first_json_objects_are_valid() {
        use crate::schemas::{Schema, validator};
        let Some(dir) = data() else { return };
        let (Some(v31), Some(v40), Some(_)) = (
            validator(Schema::CvssV31),
            validator(Schema::CvssV40),
            validator(Schema::CvssV30),
        ) else {
            return;
        };
        let mut n = 0;
        for file in ["cvss/v31-base-all.txt", "cvss/v40-base-sample.txt"] {
            let text = std::fs::read_to_string(dir.join(file)).unwrap();
            for line in text.lines().filter(|l| !l.trim().is_empty()) {
                let (vector, _) = line.split_once(" - ").unwrap();
                let c = parse(vector).unwrap();
                let doc = first_json(&c);
                let v = if c.version() == "4.0" { &v40 } else { &v31 };
                let errors: Vec<String> = v.iter_errors(&doc).map(|e| e.to_string()).collect();
                assert!(errors.is_empty(), "{vector}: {errors:?}\n{doc}");
                n += 1;
            }
        }
        assert_eq!(n, 2592 + 1058);
        // Threat, environmental and supplemental metrics, and the v3 scores they bring.
        let full =
            parse("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O/RC:C/CR:H/MAV:L").unwrap();
        let doc = first_json(&full);
        assert!(v31.is_valid(&doc), "{doc}");
        assert_eq!(doc["exploitCodeMaturity"], "PROOF_OF_CONCEPT");
        assert_eq!(doc["modifiedAttackVector"], "LOCAL");
        assert_eq!(doc["temporalScore"], json!(full.temporal_score().unwrap()));
        assert_eq!(
            doc["environmentalScore"],
            json!(full.environmental_score().unwrap())
        );
        let base_only = first_json(&parse("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H").unwrap());
        assert!(
            base_only.get("temporalScore").is_none()
                && base_only.get("environmentalScore").is_none()
        );
        let v30 = parse("CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N").unwrap();
        assert!(
            v30.version() == "3.0"
                && validator(Schema::CvssV30)
                    .unwrap()
                    .is_valid(&first_json(&v30))
        );
        let v4 = parse("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/E:A/CR:H/MSI:S/S:P/AU:Y/R:I/V:C/RE:H/U:Amber").unwrap();
        let doc = first_json(&v4);
        assert!(v40.is_valid(&doc), "{doc}");
        assert_eq!(
            (
                doc["providerUrgency"].as_str(),
                doc["modifiedSubIntegrityImpact"].as_str()
            ),
            (Some("AMBER"), Some("SAFETY"))
        );
        // The schema bites: a value outside its list is refused.
        let mut bad = doc.clone();
        bad["attackVector"] = json!("NETWORK_ADJACENT");
        assert!(!v40.is_valid(&bad));
    }

    /// FIRST's 270 macro-vector scores, with severities.
    #[test]
    fn firsts_macro_vector_scores() {
        let Some(dir) = data() else { return };
        let text = std::fs::read_to_string(dir.join("cvss/first-v4-macro-scores.txt")).unwrap();
        let mut n = 0;
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            // Python dict syntax: {'vector': '...', 'score': 9.8, 'severity': 'Critical'}
            let json_line = line.replace('\'', "\"");
            let v: Value = serde_json::from_str(&json_line).unwrap();
            let vector = v["vector"].as_str().unwrap();
            let c = parse(vector).unwrap_or_else(|e| panic!("{vector}: {e}"));
            assert_eq!(c.base_score(), v["score"].as_f64().unwrap(), "{vector}");
            assert_eq!(
                c.severity().as_str(),
                v["severity"].as_str().unwrap(),
                "{vector}"
            );
            n += 1;
        }
        assert_eq!(n, 270);
    }

    #[test]
    fn errors_name_the_problem() {
        let cases = [
            ("", "is empty"),
            ("AV:N/AC:L", "starts with 'AV:N'"),
            ("CVSS:2.0/AV:N", "version '2.0'"),
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H",
                "metric 'A' is missing",
            ),
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/XX:Y",
                "unknown metric 'XX'",
            ),
            (
                "CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                "unknown value 'Q' for metric 'AV'",
            ),
            (
                "CVSS:3.1/AV:n/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                "unknown value 'n' for metric 'AV'",
            ),
            (
                "CVSS:3.1/AV:N/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
                "'AV' appears twice",
            ),
            (
                "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/",
                "is not a METRIC:VALUE pair",
            ),
            (
                "CVSS:4.0/AC:L/AV:N/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N",
                "'AV' must come before 'AC'",
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N",
                "metric 'SA' is missing",
            ),
            (
                "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N/MSI:S/E:A",
                "'E' must come before 'MSI'",
            ),
        ];
        for (vector, expected) in cases {
            let e = parse(vector)
                .map(|c| c.to_string())
                .unwrap_err()
                .to_string();
            assert!(e.contains(expected), "{vector}: {e}");
        }
        // v3.x metrics may come in any order.
        let shuffled = parse("CVSS:3.1/C:H/I:H/A:H/AV:N/AC:L/PR:N/UI:N/S:U").unwrap();
        assert_eq!(shuffled.base_score(), 9.8);
    }

    #[test]
    fn score_lines_for_the_cli() {
        let v = score_line("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O/RC:C").unwrap();
        assert_eq!(
            v,
            json!({"vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P/RL:O/RC:C", "version": "3.1", "base_score": 9.8, "severity": "Critical", "temporal_score": 8.8, "environmental_score": 8.8})
        );
        let v =
            score_line("CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N").unwrap();
        assert_eq!(
            v,
            json!({"vector": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "version": "4.0", "base_score": 9.3, "severity": "Critical"})
        );
    }

    fn pick(values: &'static [&'static str], i: usize) -> &'static str {
        values.get(i % values.len()).copied().unwrap_or("X")
    }

    /// A random valid vector: every mandatory metric, each optional one present or not.
    fn vector(table: Table, prefix: &str) -> impl Strategy<Value = String> {
        let prefix = prefix.to_owned();
        proptest::collection::vec((any::<usize>(), any::<bool>()), table.len()).prop_map(
            move |choices| {
                let mut s = prefix.clone();
                for ((name, values, mandatory), (i, present)) in table.iter().zip(choices) {
                    if *mandatory || present {
                        s.push_str(&format!("/{name}:{}", pick(values, i)));
                    }
                }
                s
            },
        )
    }

    proptest! {
        #[test]
        fn v3_round_trips_and_scores_in_range(v in vector(V3, "CVSS:3.1")) {
            let c = parse(&v).unwrap();
            prop_assert_eq!(c.to_string(), v.clone());
            prop_assert_eq!(parse(&c.to_string()).unwrap().to_string(), v);
            for s in [c.base_score(), c.temporal_score().unwrap(), c.environmental_score().unwrap()] {
                prop_assert!((0.0..=10.0).contains(&s));
                prop_assert!(((s * 10.0).round() - s * 10.0).abs() < 1e-9, "one decimal: {}", s);
            }
            prop_assert_eq!(c.severity(), Severity::of(c.base_score()));
        }

        #[test]
        fn v4_round_trips_and_scores_in_range(v in vector(V4, "CVSS:4.0")) {
            let c = parse(&v).unwrap();
            prop_assert_eq!(c.to_string(), v);
            let s = c.base_score();
            prop_assert!((0.0..=10.0).contains(&s));
            prop_assert!(((s * 10.0).round() - s * 10.0).abs() < 1e-9);
            prop_assert_eq!(c.severity(), Severity::of(s));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,120}") {
            let _ = parse(&s);
        }
    }

    /// A small deterministic generator (xorshift64*), so a failure can be replayed.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn vector(&mut self, table: Table, prefix: &str) -> String {
            let mut s = prefix.to_owned();
            for (name, values, mandatory) in table {
                if *mandatory || self.next().is_multiple_of(2) {
                    let i = usize::try_from(self.next() % values.len() as u64).unwrap();
                    s.push_str(&format!("/{name}:{}", values[i]));
                }
            }
            s
        }
    }

    /// Embargo against the PyPI `cvss` package (somebody else's implementation) on 20,000
    /// random v3.1 and 20,000 random v4.0 vectors, with threat, environmental and
    /// supplemental metrics: zero disagreements. `scripts/tools-venv` installs the package.
    #[test]
    fn differential_against_pypi_cvss() {
        use std::io::Write;
        let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
        let python = root.join("target/tools/venv/bin/python");
        if !python.exists() {
            assert!(
                std::env::var("CI").map_or(true, |v| v != "true"),
                "{} is missing; CI requires the oracle (scripts/tools-venv)",
                python.display()
            );
            eprintln!(
                "!!! SKIPPING: the PyPI cvss oracle is not installed (run scripts/tools-venv)"
            );
            return;
        }
        let mut rng = Rng(0x5eed_cafe_f00d_0001);
        let mut vectors: Vec<String> = (0..20_000).map(|_| rng.vector(V3, "CVSS:3.1")).collect();
        vectors.extend((0..20_000).map(|_| rng.vector(V4, "CVSS:4.0")));
        let mut child = std::process::Command::new(&python)
            .arg(root.join("scripts/cvss-oracle.py"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut stdin = child.stdin.take().unwrap();
        let input = vectors.join("\n");
        let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()).unwrap());
        let out = child.wait_with_output().unwrap();
        writer.join().unwrap();
        assert!(out.status.success());
        let answers: Vec<Value> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(answers.len(), vectors.len());
        let mut disagreements = Vec::new();
        for (v, theirs) in vectors.iter().zip(&answers) {
            let c = parse(v).unwrap_or_else(|e| panic!("{v}: {e}"));
            let ours: Vec<f64> = match (c.temporal_score(), c.environmental_score()) {
                (Some(t), Some(e)) => vec![c.base_score(), t, e],
                _ => vec![c.base_score()],
            };
            let same = theirs.as_array().is_some_and(|a| {
                a.len() == ours.len()
                    && a.iter()
                        .zip(&ours)
                        .all(|(x, y)| x.as_f64().is_some_and(|x| (x - y).abs() < 1e-9))
            });
            if !same {
                disagreements.push(format!("{v}: ours {ours:?}, theirs {theirs}"));
            }
        }
        assert!(
            disagreements.is_empty(),
            "{} disagreements, first: {:?}",
            disagreements.len(),
            disagreements.iter().take(5).collect::<Vec<_>>()
        );
    }

    #[test]
    fn severity_bands() {
        for (s, sev) in [
            (0.0, Severity::None),
            (0.1, Severity::Low),
            (3.9, Severity::Low),
            (4.0, Severity::Medium),
            (6.9, Severity::Medium),
            (7.0, Severity::High),
            (8.9, Severity::High),
            (9.0, Severity::Critical),
            (10.0, Severity::Critical),
        ] {
            assert_eq!(Severity::of(s), sev, "{s}");
        }
    }
}
