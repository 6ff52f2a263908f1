use std::collections::BTreeSet;

use embargo_domain::advisory::{Change, State};
use serde_json::{Value, json};
use time::macros::datetime;

use super::*;
use crate::schemas::{Schema, assert_valid, errors, test_data};
use crate::testing::full;

const OPTS: CsafOptions<'static> = CsafOptions {
    publisher_name: "Example Foundation",
    base_url: "https://embargo.example",
    vendor: "Confidential Containers",
};

/// Every product id defined in the product tree.
fn defined(doc: &Value) -> Vec<String> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        if let Some(id) = v.get("product").and_then(|p| p["product_id"].as_str()) {
            out.push(id.to_owned());
        }
        for b in v["branches"].as_array().into_iter().flatten() {
            walk(b, out);
        }
    }
    let mut out = Vec::new();
    walk(&doc["product_tree"], &mut out);
    out
}

/// Every product id referenced in the vulnerabilities.
fn referenced(doc: &Value) -> Vec<String> {
    let mut out = Vec::new();
    for v in doc["vulnerabilities"].as_array().unwrap() {
        for (_, ids) in v["product_status"].as_object().into_iter().flatten() {
            out.extend(
                ids.as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i.as_str().unwrap().to_owned()),
            );
        }
        for s in v["scores"].as_array().into_iter().flatten() {
            out.extend(
                s["products"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i.as_str().unwrap().to_owned()),
            );
        }
        for r in v["remediations"].as_array().into_iter().flatten() {
            out.extend(
                r["product_ids"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|i| i.as_str().unwrap().to_owned()),
            );
        }
    }
    out
}

/// The mandatory tests that concern what this generator writes, as code over its output.
fn mandatory(doc: &Value) {
    let d = defined(doc);
    let unique: BTreeSet<&String> = d.iter().collect();
    assert_eq!(unique.len(), d.len(), "6.1.2 multiple definitions: {d:?}");
    for r in referenced(doc) {
        assert!(d.contains(&r), "6.1.1 {r} is not defined");
    }
    let tracking = &doc["document"]["tracking"];
    let revs = tracking["revision_history"].as_array().unwrap();
    assert_eq!(
        tracking["version"],
        revs.last().unwrap()["number"],
        "6.1.16"
    );
    for (i, r) in revs.iter().enumerate() {
        assert_eq!(r["number"], (i + 1).to_string(), "6.1.21/6.1.22");
        if i > 0 {
            assert!(r["date"].as_str() >= revs[i - 1]["date"].as_str(), "6.1.14");
        }
    }
    assert_eq!(
        tracking["current_release_date"],
        revs.last().unwrap()["date"]
    );
    for v in doc["vulnerabilities"].as_array().unwrap() {
        let st = v["product_status"].as_object().unwrap();
        let affected: BTreeSet<&str> = st
            .get("known_affected")
            .into_iter()
            .flat_map(|a| a.as_array().unwrap())
            .map(|x| x.as_str().unwrap())
            .collect();
        let fixed: BTreeSet<&str> = st
            .get("fixed")
            .into_iter()
            .flat_map(|a| a.as_array().unwrap())
            .map(|x| x.as_str().unwrap())
            .collect();
        assert!(affected.is_disjoint(&fixed), "6.1.6 contradicting status");
        assert!(
            !v["notes"].as_array().unwrap().is_empty(),
            "6.1.27.5 vulnerability notes"
        );
        // 6.1.27.10: every known_affected product has an action statement.
        let remediated: BTreeSet<&str> = v["remediations"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|r| r["product_ids"].as_array().unwrap())
            .map(|x| x.as_str().unwrap())
            .collect();
        assert!(
            affected.is_subset(&remediated),
            "6.1.27.10 action statement"
        );
        if let Some(c) = v.get("cwe") {
            assert_eq!(
                c["name"].as_str(),
                crate::cwe::name(c["id"].as_str().unwrap()),
                "6.1.11"
            );
        }
        // 6.1.7: one v3 score per product.
        let mut seen = BTreeSet::new();
        for s in v["scores"].as_array().into_iter().flatten() {
            for p in s["products"].as_array().unwrap() {
                assert!(seen.insert(p.as_str().unwrap().to_owned()), "6.1.7");
            }
        }
    }
    // 6.1.31: a product_version never holds a range.
    fn versions(v: &Value, out: &mut Vec<String>) {
        if v["category"] == "product_version" {
            out.push(v["name"].as_str().unwrap().to_owned());
        }
        for b in v["branches"].as_array().into_iter().flatten() {
            versions(b, out);
        }
    }
    let mut vs = Vec::new();
    versions(&doc["product_tree"], &mut vs);
    for v in vs {
        assert!(
            !v.contains(['<', '>', '*']) && !v.starts_with("vers:"),
            "6.1.31 {v}"
        );
    }
}

#[test]
fn both_documents_are_valid() {
    let a = full();
    for (doc, category) in [
        (advisory(&a, &OPTS).unwrap(), "csaf_security_advisory"),
        (vex(&a, &OPTS).unwrap(), "csaf_vex"),
    ] {
        assert_valid(Schema::Csaf, &doc);
        mandatory(&doc);
        assert_eq!(doc["document"]["category"], category);
        if let Ok(dir) = std::env::var("EMBARGO_CSAF_OUT") {
            let name = file_name_of(doc["document"]["tracking"]["id"].as_str().unwrap());
            std::fs::write(
                std::path::Path::new(&dir).join(name),
                serde_json::to_vec_pretty(&doc).unwrap(),
            )
            .unwrap();
        }
    }
    let doc = advisory(&a, &OPTS).unwrap();
    let v = &doc["vulnerabilities"][0];
    assert_eq!(v["cve"], "CVE-2026-12345");
    assert_eq!(
        v["cwe"],
        json!({"id": "CWE-347", "name": "Improper Verification of Cryptographic Signature"})
    );
    assert_eq!(
        v["ids"][1],
        json!({"system_name": "GHSA", "text": "GHSA-abcd-efgh-ijkl"})
    );
    assert_eq!(
        v["acknowledgments"][1],
        json!({"names": ["Bob Fixer"], "summary": "remediation developer"})
    );
    // The v3.1 score with its computed values; v4.0 as a note.
    let s = crate::cvss::parse(a.content.cvss_vectors[0].as_str()).unwrap();
    assert_eq!(
        v["scores"][0]["cvss_v3"]["baseScore"],
        json!(s.base_score())
    );
    assert!(
        v["notes"][1]["text"]
            .as_str()
            .unwrap()
            .starts_with("CVSS:4.0/")
    );
    // Products: the npm range with its fix; the SemVer ranges and the listed version of the
    // crate; GIT commits are not products.
    let names: Vec<String> = {
        fn walk(v: &Value, out: &mut Vec<String>) {
            if let Some(p) = v.get("product") {
                out.push(format!(
                    "{} {}",
                    p["name"].as_str().unwrap(),
                    p["product_identification_helper"]["purl"]
                        .as_str()
                        .unwrap_or("-")
                ));
            }
            for b in v["branches"].as_array().into_iter().flatten() {
                walk(b, out);
            }
        }
        let mut out = Vec::new();
        walk(&doc["product_tree"], &mut out);
        out
    };
    assert_eq!(
        names,
        [
            "Confidential Containers @coco/attester vers:semver/>=1.0.0|<1.2.3 pkg:npm/%40coco/attester",
            "Confidential Containers @coco/attester 1.2.3 pkg:npm/%40coco/attester@1.2.3",
            "Confidential Containers guest-components vers:semver/>=0.8.0|<0.8.3 pkg:cargo/guest-components",
            "Confidential Containers guest-components vers:semver/>=0.9.0 pkg:cargo/guest-components",
            "Confidential Containers guest-components 0.7.9 pkg:cargo/guest-components@0.7.9",
            "Confidential Containers guest-components 0.8.3 pkg:cargo/guest-components@0.8.3",
        ]
    );
    let rem = v["remediations"].as_array().unwrap();
    assert_eq!(rem[0]["category"], "vendor_fix");
    assert_eq!(rem[0]["details"], "Upgrade to 1.2.3 or later.");
    assert!(rem.iter().any(|r| r["category"] == "none_available"));
    assert_eq!(
        doc["document"]["aggregate_severity"]["text"],
        s.severity().as_str()
    );
    assert_eq!(doc["document"]["tracking"]["version"], "1");
    assert_eq!(
        doc["document"]["references"][0]["url"],
        format!(
            "https://embargo.example/.well-known/csaf/white/2026/{}",
            file_name_of(a.id.as_str())
        )
    );
}

#[test]
fn revisions_follow_the_public_history() {
    let mut a = full();
    let edit: embargo_domain::advisory::Edit =
        serde_json::from_value(json!({"summary": "Better summary"})).unwrap();
    a.apply(&Change::Edited { edit }, datetime!(2026-03-05 0:00 UTC));
    a.apply(
        &Change::Withdrawn { reason: None },
        datetime!(2026-04-01 0:00 UTC),
    );
    assert_eq!(a.state, State::Withdrawn);
    let doc = advisory(&a, &OPTS).unwrap();
    assert_valid(Schema::Csaf, &doc);
    mandatory(&doc);
    let t = &doc["document"]["tracking"];
    assert_eq!(t["version"], "3");
    assert_eq!(
        t["revision_history"][2],
        json!({"number": "3", "date": "2026-04-01T00:00:00Z", "summary": "Withdrawn"})
    );
    assert_eq!(t["current_release_date"], "2026-04-01T00:00:00Z");
    assert!(
        doc["document"]["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["title"] == "Withdrawn")
    );
    let mut draft = full();
    draft.state = State::Draft;
    assert!(advisory(&draft, &OPTS).is_none() && vex(&draft, &OPTS).is_none());
}

#[test]
fn names_and_the_schema_bites() {
    assert_eq!(
        file_name_of("EMB-abcd-EFGH-1234"),
        "emb-abcd-efgh-1234.json"
    );
    assert_eq!(
        file_name_of("Example Company - 2019-YH3234"),
        "example_company_-_2019-yh3234.json"
    );
    if test_data().is_none() {
        return;
    }
    let mut doc = advisory(&full(), &OPTS).unwrap();
    doc["document"]["tracking"]["status"] = json!("published");
    assert!(!errors(Schema::Csaf, &doc).is_empty());
}
