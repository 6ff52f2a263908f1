//! `embargo import` on the real binary: every format, a failing file reported by name while
//! the others are imported, importing twice, and the imported advisories served again.

use serde_json::Value;

use crate::support::{Server, test_data};

#[tokio::test]
async fn import_command() {
    let Some(data) = test_data() else { return };
    let mut server = Server::start(&[]);
    let base = server.base.clone();
    let admin = server.user("admin@example.org", true, &[]);
    crate::support::coco_over_http(&base, &admin, "admin@example.org").await;
    let client = reqwest::Client::new();
    let dir = tempfile::tempdir().unwrap();
    let yaml = dir.path().join("osv.yaml");
    std::fs::write(
        &yaml,
        "id: OSV-2026-7\nmodified: 2026-01-02T03:04:05Z\npublished: 2026-01-01T00:00:00Z\nsummary: Overflow in foo\ndetails: Long text.\naffected:\n  - package: {ecosystem: PyPI, name: foo}\n    ranges:\n      - type: ECOSYSTEM\n        events: [{introduced: '0'}, {fixed: '1.2'}]\n",
    )
    .unwrap();
    let rustsec = dir.path().join("RUSTSEC-2026-9999.md");
    std::fs::write(
        &rustsec,
        "```toml\n[advisory]\nid = \"RUSTSEC-2026-9999\"\npackage = \"guest\"\ndate = \"2026-03-04\"\n\n[versions]\npatched = [\">= 0.15.0\"]\n```\n\n# Guest panics on long input\n\nA long input makes it panic.\n",
    )
    .unwrap();
    let broken = dir.path().join("broken.json");
    std::fs::write(&broken, "{\"id\": \"X-1\"}").unwrap();
    let samples = data.join("samples");
    let rustsec_osv = samples.join("osv-rustsec/RUSTSEC-2024-0338.json");
    let go = samples.join("osv-go/GO-2022-0345.json");
    let ghsa = samples.join("osv-schema-testdata/ghsa/full_ranges.json");
    let linter = samples.join("osv-schema-testdata/osv-linter/nointroduced-CVE-2023-41045.json");
    let missing = dir.path().join("missing.json");
    let args: Vec<String> = [
        rustsec_osv.as_path(),
        go.as_path(),
        ghsa.as_path(),
        yaml.as_path(),
        rustsec.as_path(),
        broken.as_path(),
        linter.as_path(),
        missing.as_path(),
    ]
    .iter()
    .map(|p| p.display().to_string())
    .collect();
    let mut cmd: Vec<&str> = vec!["import", "--org", "coco", "--repo", "guest", "--json"];
    cmd.extend(args.iter().map(String::as_str));
    let out = server.command(&cmd, None, &[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success(),
        "three files fail, so the command does"
    );
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let sources: Vec<&str> = lines
        .iter()
        .map(|l| l["source_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        sources,
        [
            "RUSTSEC-2024-0338",
            "GO-2022-0345",
            "GHSA-mr95-9rr4-668f",
            "OSV-2026-7",
            "RUSTSEC-2026-9999"
        ],
        "{stderr}"
    );
    for l in &lines {
        assert_eq!(l.as_object().unwrap().len(), 2, "{l}");
    }
    // Failures: each named, with its reason.
    assert!(
        stderr.contains(&format!(
            "{}: not imported: modified: is missing",
            broken.display()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("nointroduced-CVE-2023-41045.json: not imported: affected[0].ranges[0].events: has no introduced event"), "{stderr}");
    assert!(
        stderr.contains("missing.json: not imported: No such file"),
        "{stderr}"
    );

    // The imported advisories are public with their original facts.
    let id = lines[0]["id"].as_str().unwrap();
    let osv: Value = client
        .get(format!("{base}/advisories/{id}/osv.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    embargo_formats::schemas::assert_valid(embargo_formats::schemas::Schema::Osv, &osv);
    let original: Value = serde_json::from_slice(&std::fs::read(&rustsec_osv).unwrap()).unwrap();
    assert!(
        osv["aliases"]
            .as_array()
            .unwrap()
            .contains(&Value::from("RUSTSEC-2024-0338"))
    );
    assert_eq!(osv["published"], original["published"]);
    assert_eq!(osv["modified"], original["modified"]);
    assert_eq!(
        osv["affected"][0]["ranges"],
        original["affected"][0]["ranges"]
    );
    let ours = lines[4]["id"].as_str().unwrap();
    let q: Value = client
        .post(format!("{base}/osv/v1/query"))
        .json(&serde_json::json!({"package": {"name": "guest", "ecosystem": "crates.io"}, "version": "0.14.9"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(q["vulns"][0]["id"], format!("x_{ours}"), "{q}");

    // Importing again finds the same advisories and changes nothing.
    let out = server.command(
        &[
            "import", "--org", "coco", "--repo", "guest", "--json", &args[0],
        ],
        None,
        &[],
    );
    assert!(out.status.success());
    let again: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(again["id"], lines[0]["id"]);

    // A place that does not exist stops before reading anything.
    let out = server.command(
        &["import", "--org", "coco", "--repo", "nosuch", &args[0]],
        None,
        &[],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("repository not found"));
    server.stop();
}
