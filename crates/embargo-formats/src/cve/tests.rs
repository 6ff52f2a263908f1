use embargo_domain::advisory::{Change, Content};
use embargo_domain::types::{CveId, CvssVector, CweId, ReferenceUrl};
use serde_json::{Value, json};
use time::macros::datetime;

use super::*;
use crate::schemas::{Schema, assert_valid, errors, test_data};
use crate::testing::{full, published, vuln};

const OPTS: CveOptions<'static> = CveOptions {
    assigner_org_id: "00000000-0000-4000-8000-000000000000",
    assigner_short_name: "embargo",
    vendor: "Confidential Containers",
    base_url: "https://embargo.example",
};

#[test]
fn full_record_is_valid_and_keeps_the_facts() {
    let a = full();
    let rec = record(&a, &OPTS).unwrap();
    assert_valid(Schema::Cve, &rec);
    assert_eq!(rec["cveMetadata"]["cveId"], "CVE-2026-12345");
    assert_eq!(rec["cveMetadata"]["state"], "PUBLISHED");
    assert_eq!(rec["cveMetadata"]["datePublished"], "2026-03-01T12:00:00Z");
    let cna = &rec["containers"]["cna"];
    assert_eq!(
        cna["title"],
        "Forged evidence accepted by the attestation agent"
    );
    assert_eq!(cna["descriptions"][0]["value"], a.content.description);
    // CWE: the known one named, the unknown one by id alone.
    let pt = &cna["problemTypes"][0]["descriptions"];
    assert_eq!(
        pt[0]["description"],
        "CWE-347: Improper Verification of Cryptographic Signature"
    );
    assert_eq!(
        pt[1],
        json!({"lang": "en", "cweId": "CWE-99999", "description": "CWE-99999", "type": "CWE"})
    );
    // Metrics: every metric of the vector, scores computed.
    let v31 = &cna["metrics"][0]["cvssV3_1"];
    let s31 = crate::cvss::parse(a.content.cvss_vectors[0].as_str()).unwrap();
    assert_eq!(v31["baseScore"], json!(s31.base_score()));
    assert_eq!(v31["temporalScore"], json!(s31.temporal_score().unwrap()));
    assert_eq!(
        v31["environmentalScore"],
        json!(s31.environmental_score().unwrap())
    );
    assert_eq!(v31["exploitCodeMaturity"], "PROOF_OF_CONCEPT");
    assert_eq!(v31["confidentialityRequirement"], "HIGH");
    let v40 = &cna["metrics"][1]["cvssV4_0"];
    assert_eq!(v40["exploitMaturity"], "PROOF_OF_CONCEPT");
    assert_eq!(
        v40["baseSeverity"],
        crate::cvss::parse(a.content.cvss_vectors[1].as_str())
            .unwrap()
            .severity()
            .as_str()
            .to_uppercase()
    );
    // Affected: structured versions.
    let npm = &cna["affected"][0];
    assert_eq!(
        (
            npm["vendor"].as_str(),
            npm["packageName"].as_str(),
            npm["collectionURL"].as_str()
        ),
        (
            Some("Confidential Containers"),
            Some("@coco/attester"),
            Some("https://www.npmjs.com")
        )
    );
    assert_eq!(
        npm["versions"],
        json!([{"version": "1.0.0", "status": "affected", "versionType": "semver", "lessThan": "1.2.3"}])
    );
    let gc = &cna["affected"][1];
    assert_eq!(
        gc["repo"],
        "https://github.com/confidential-containers/guest-components"
    );
    assert_eq!(
        gc["versions"],
        json!([
            {"version": "0", "status": "affected", "versionType": "git", "lessThan": "0123456789abcdef0123456789abcdef01234567"},
            {"version": "0.8.0", "status": "affected", "versionType": "semver", "lessThan": "0.8.3"},
            {"version": "0.9.0", "status": "affected", "versionType": "semver", "lessThan": "*"},
            {"version": "0.7.9", "status": "affected"},
        ])
    );
    assert_eq!(
        cna["references"][0],
        json!({"url": format!("https://embargo.example/advisories/{}", a.id), "tags": ["vendor-advisory"]})
    );
    assert_eq!(cna["references"][1]["tags"], json!(["patch"]));
    assert_eq!(
        cna["credits"][1],
        json!({"lang": "en", "value": "Bob Fixer", "type": "remediation developer"})
    );
    assert_eq!(cna["source"]["advisory"], a.id.as_str());
}

#[test]
fn only_public_advisories_with_a_cve_id() {
    let mut a = full();
    a.state = embargo_domain::advisory::State::Draft;
    assert!(record(&a, &OPTS).is_none());
    a.state = embargo_domain::advisory::State::Closed;
    assert!(record(&a, &OPTS).is_none());
    let mut a = full();
    a.content.cve_id = None;
    assert!(record(&a, &OPTS).is_none());
    // Withdrawn: a REJECTED record.
    let mut a = full();
    a.apply(
        &Change::Withdrawn { reason: None },
        datetime!(2026-04-01 0:00 UTC),
    );
    let rec = record(&a, &OPTS).unwrap();
    assert_valid(Schema::Cve, &rec);
    assert_eq!(rec["cveMetadata"]["state"], "REJECTED");
    assert_eq!(rec["cveMetadata"]["dateRejected"], "2026-04-01T00:00:00Z");
    assert!(rec["containers"]["cna"].get("affected").is_none());
}

#[test]
fn the_schema_bites() {
    if test_data().is_none() {
        return;
    }
    let mut rec = record(&full(), &OPTS).unwrap();
    rec["cveMetadata"].as_object_mut().unwrap().remove("cveId");
    assert!(!errors(Schema::Cve, &rec).is_empty());
    let mut rec = record(&full(), &OPTS).unwrap();
    rec["containers"]["cna"]["affected"][0]["versions"][0]["status"] = json!("maybe");
    assert!(!errors(Schema::Cve, &rec).is_empty());
    // Without packages the repository is the product.
    let a = published(Content {
        cve_id: Some(CveId::parse("CVE-2026-1001").unwrap()),
        title: "t".into(),
        description: "d".into(),
        ..Content::default()
    });
    let rec = record(&a, &OPTS).unwrap();
    assert_valid(Schema::Cve, &rec);
    assert_eq!(rec["containers"]["cna"]["affected"][0]["product"], "guest");
}

/// The facts of a real CVE record: id, description, CWE ids, CVSS vectors with scores,
/// reference URLs, and the affected packages' names.
struct Facts {
    cve: String,
    title: Option<String>,
    description: String,
    cwes: Vec<String>,
    vectors: Vec<(String, Option<f64>)>,
    references: Vec<String>,
}

fn facts(v: &Value) -> Facts {
    let cna = v.get("containers").map_or(v, |c| &c["cna"]);
    let cve = v["cveMetadata"]["cveId"]
        .as_str()
        .unwrap_or("CVE-2026-0001")
        .to_owned();
    let description = cna["descriptions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["lang"].as_str().is_some_and(|l| l.starts_with("en")))
        .unwrap()["value"]
        .as_str()
        .unwrap()
        .to_owned();
    let mut cwes = Vec::new();
    for pt in cna["problemTypes"].as_array().into_iter().flatten() {
        for d in pt["descriptions"].as_array().into_iter().flatten() {
            let id = d["cweId"].as_str().map(str::to_owned).or_else(|| {
                let t = d["description"].as_str()?;
                let id: String = t.split([':', ' ']).next()?.to_owned();
                id.starts_with("CWE-").then_some(id)
            });
            cwes.extend(id);
        }
    }
    let mut vectors = Vec::new();
    for m in cna["metrics"].as_array().into_iter().flatten() {
        for key in ["cvssV3_1", "cvssV3_0", "cvssV4_0"] {
            if let Some(c) = m.get(key) {
                vectors.push((
                    c["vectorString"].as_str().unwrap().to_owned(),
                    c["baseScore"].as_f64(),
                ));
            }
        }
    }
    let references = cna["references"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["url"].as_str().unwrap().to_owned())
        .collect();
    Facts {
        cve,
        title: cna["title"].as_str().map(str::to_owned),
        description,
        cwes,
        vectors,
        references,
    }
}

/// A record built from the facts of each sample CVE record validates and keeps them.
#[test]
fn sample_records_facts_survive() {
    let Some(dir) = test_data() else { return };
    let mut n = 0;
    let mut dirs: Vec<_> = std::fs::read_dir(dir.join("samples/cve"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    dirs.sort();
    for path in dirs {
        let name = path.display().to_string();
        let v: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let f = facts(&v);
        // Two vectors of one version (the advanced example scores one vector per scenario)
        // cannot both be kept: Embargo keeps one v3.x and one v4.0 vector.
        let mut vectors: Vec<(String, Option<f64>)> = Vec::new();
        for (vec, score) in &f.vectors {
            if !vectors.iter().any(|(o, _)| o[..6] == vec[..6]) {
                vectors.push((vec.clone(), *score));
            }
        }
        let content = Content {
            title: f.title.clone().unwrap_or_else(|| {
                f.description
                    .lines()
                    .next()
                    .unwrap()
                    .chars()
                    .take(200)
                    .collect()
            }),
            summary: None,
            description: f.description.clone(),
            cve_id: Some(CveId::parse(&f.cve).unwrap()),
            cvss_vectors: vectors
                .iter()
                .map(|(s, _)| CvssVector::parse(s).unwrap())
                .collect(),
            cwe_ids: f.cwes.iter().map(|c| CweId::parse(c).unwrap()).collect(),
            references: f
                .references
                .iter()
                .map(|r| ReferenceUrl::parse(r).unwrap())
                .collect(),
            credits: Vec::new(),
            vulnerabilities: vec![vuln(
                "Go",
                "example.com/pkg",
                Some("< 1.2.3"),
                Some("1.2.3"),
            )],
            aliases: Vec::new(),
        };
        content.check().unwrap_or_else(|e| panic!("{name}: {e}"));
        let rec = record(&published(content), &OPTS).unwrap();
        assert_valid(Schema::Cve, &rec);
        let back = facts(&rec);
        assert_eq!(back.cve, f.cve, "{name}");
        assert_eq!(back.description, f.description, "{name}");
        assert_eq!(back.cwes, f.cwes, "{name}");
        for (vec, score) in &vectors {
            let ours = back
                .vectors
                .iter()
                .find(|(v, _)| v == vec)
                .unwrap_or_else(|| panic!("{name}: {vec} lost"));
            if let Some(s) = score {
                assert_eq!(ours.1, Some(*s), "{name}: score of {vec}");
            }
        }
        for r in &f.references {
            let normalised = ReferenceUrl::parse(r).unwrap().to_string();
            assert!(back.references.contains(&normalised), "{name}: {r}");
        }
        n += 1;
    }
    assert_eq!(n, 9);
}

#[test]
fn long_descriptions_are_cut_to_the_schema_limit() {
    let mut a = full();
    a.content.description = "word ".repeat(3000);
    let rec = record(&a, &OPTS).unwrap();
    assert_valid(Schema::Cve, &rec);
    let d = rec["containers"]["cna"]["descriptions"][0]["value"]
        .as_str()
        .unwrap();
    assert!(d.chars().count() <= 4096);
    assert!(d.ends_with(&format!(
        "The full description: https://embargo.example/advisories/{}",
        a.id
    )));
}
