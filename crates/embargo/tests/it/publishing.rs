//! The public documents of published advisories: each format, valid against its official
//! schema, served only for published (and withdrawn) advisories; the OSV query API.

use axum::http::StatusCode;
use embargo_formats::schemas::{Schema, assert_valid};
use serde_json::{Value, json};

use crate::support::{TestApp, World, on_both_backends};

/// Every public document of one advisory, by path template.
pub const DOCUMENTS: &[&str] = &[
    "/advisories/{id}/osv.json",
    "/osv/v1/vulns/x_{id}",
    "/advisories/{id}/bulletin.md",
    "/advisories/{id}/csaf.json",
    "/advisories/{id}/vex.json",
];

async fn documents_only_when_public(app: TestApp) {
    let w = World::new(&app).await;
    for state in ["triage", "draft", "closed", "published", "withdrawn"] {
        let id = w.advisory_in(&app, state).await;
        for doc in DOCUMENTS {
            let path = doc.replace("{id}", &id);
            // The security manager is in the audience: public documents still wait for
            // publication, for everyone.
            for token in [None, Some(w.sm.as_str())] {
                let r = app.get(&path, token).await;
                let public = matches!(state, "published" | "withdrawn");
                let want = if public {
                    StatusCode::OK
                } else {
                    StatusCode::NOT_FOUND
                };
                assert_eq!(r.status, want, "{path} in {state}: {}", r.text);
                if public && path.contains("osv") {
                    assert_valid(Schema::Osv, &r.json);
                    assert_eq!(r.json["id"], format!("x_{id}"));
                }
                if public && path.ends_with("csaf.json") | path.ends_with("vex.json") {
                    assert_valid(Schema::Csaf, &r.json);
                }
            }
        }
    }
}

async fn osv_query_answers_as_the_public_api(app: TestApp) {
    let w = World::new(&app).await;
    // `advisory_in` publishes guest (crates.io) < 0.15.0, fixed in 0.15.0.
    let published = w.advisory_in(&app, "published").await;
    let draft = w.advisory_in(&app, "draft").await;
    let withdrawn = w.advisory_in(&app, "withdrawn").await;
    let q = |v: Value| {
        let app = &app;
        async move { app.post("/osv/v1/query", None, v).await }
    };
    let r = q(json!({"package": {"name": "guest", "ecosystem": "crates.io"}, "version": "0.14.2"}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let ids: Vec<&str> = r.json["vulns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [format!("x_{published}")],
        "only the published one; not the draft {draft}, not the withdrawn {withdrawn}"
    );
    for v in r.json["vulns"].as_array().unwrap() {
        assert_valid(Schema::Osv, v);
    }
    // Fixed version, other package, other ecosystem: nothing, answered as `{}`.
    for miss in [
        json!({"package": {"name": "guest", "ecosystem": "crates.io"}, "version": "0.15.0"}),
        json!({"package": {"name": "other", "ecosystem": "crates.io"}, "version": "0.1.0"}),
        json!({"package": {"name": "guest", "ecosystem": "npm"}, "version": "0.1.0"}),
    ] {
        let r = q(miss.clone()).await;
        assert_eq!((r.status, &r.json), (StatusCode::OK, &json!({})), "{miss}");
    }
    // A purl with its version; a package without version lists every advisory of it.
    let r = q(json!({"package": {"purl": "pkg:cargo/guest@0.1.0"}})).await;
    assert_eq!(r.json["vulns"][0]["id"], format!("x_{published}"));
    let r = q(json!({"package": {"name": "guest", "ecosystem": "crates.io"}})).await;
    assert_eq!(r.json["vulns"].as_array().unwrap().len(), 1);
    // Batch: ids and modification times, in the order asked.
    let r = app
        .post(
            "/osv/v1/querybatch",
            None,
            json!({"queries": [
                {"package": {"name": "guest", "ecosystem": "crates.io"}, "version": "0.15.0"},
                {"package": {"purl": "pkg:cargo/guest"}, "version": "0.0.1"},
            ]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["results"][0], json!({}));
    let hit = &r.json["results"][1]["vulns"][0];
    assert_eq!(hit["id"], format!("x_{published}"));
    assert!(hit["modified"].as_str().unwrap().ends_with('Z'));
    assert_eq!(hit.as_object().unwrap().len(), 2);
    // Bad queries: named, 422.
    for (bad, field) in [
        (json!({"version": "1.0"}), "package"),
        (json!({"commit": "abc", "version": "1"}), "commit"),
        (json!({"package": {"purl": "cargo/x"}}), "package.purl"),
        (
            json!({"package": {"name": "x", "ecosystem": "Nonsense"}}),
            "package.ecosystem",
        ),
        (
            json!({"package": {"name": "x"}, "versions": "1"}),
            "versions",
        ),
    ] {
        let r = q(bad.clone()).await;
        assert!(r.status.is_client_error(), "{bad}: {}", r.status);
        assert!(r.text.contains(field), "{bad}: {}", r.text);
    }
    let many: Vec<Value> = (0..1001).map(|_| json!({"commit": "0"})).collect();
    let r = app
        .post("/osv/v1/querybatch", None, json!({"queries": many}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("limit is 1000"), "{}", r.text);
    let r = app
        .post(
            "/osv/v1/querybatch",
            None,
            json!({"queries": [{"commit": "0"}, {"version": "1"}]}),
        )
        .await;
    assert_eq!(r.json["error"]["field"], "queries[1].package", "{}", r.text);
}

/// Parses XML with Python's standard library (a real XML parser), returning the entry titles.
fn atom_titles(xml: &str) -> Vec<String> {
    let script = "import sys, xml.etree.ElementTree as E\n\
ns = {'a': 'http://www.w3.org/2005/Atom'}\n\
r = E.fromstring(sys.stdin.buffer.read())\n\
assert r.tag == '{http://www.w3.org/2005/Atom}feed', r.tag\n\
for t in r.findall('a:entry/a:title', ns): print(t.text)\n";
    let out = std::process::Command::new("python3")
        .args(["-c", script])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(xml.as_bytes())?;
            c.wait_with_output()
        })
        .unwrap();
    assert!(
        out.status.success(),
        "not well-formed Atom: {}\n{xml}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

async fn text_documents(app: TestApp) {
    let w = World::new(&app).await;
    let published = w.advisory_in(&app, "published").await;
    w.advisory_in(&app, "draft").await;
    w.advisory_in(&app, "triage").await;
    let withdrawn = w.advisory_in(&app, "withdrawn").await;

    let r = app
        .get(&format!("/advisories/{published}/bulletin.md"), None)
        .await;
    assert_eq!(r.headers["content-type"], "text/markdown; charset=utf-8");
    assert!(
        r.text
            .starts_with(&format!("### {published}: A report to be published\n")),
        "{}",
        r.text
    );
    assert!(
        r.text
            .contains("`guest` (crates.io) `< 0.15.0`; **fixed in** `0.15.0`"),
        "{}",
        r.text
    );

    // The release that fixes it gathers it; another release does not; the withdrawn one is
    // left out of release notes.
    let r = app
        .get("/orgs/coco/bulletins.md?release=v0.15.0", None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.starts_with("## Security bulletins\n"));
    assert!(r.text.contains(&format!("### {published}:")), "{}", r.text);
    assert!(!r.text.contains(&withdrawn));
    assert!(!r.text.contains("to be draft") && !r.text.contains("to be triage"));
    let r = app
        .get("/orgs/coco/bulletins.md?release=v0.16.0", None)
        .await;
    assert!(
        r.text
            .contains("No security advisories are fixed in `v0.16.0`."),
        "{}",
        r.text
    );
    let r = app.get("/orgs/coco/bulletins.md", None).await;
    assert_eq!(
        (r.status, r.json["error"]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("release"))
    );
    let r = app.get("/orgs/nosuch/bulletins.md?release=1.0", None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);

    // Feeds: well-formed Atom with the public advisories only.
    for path in ["/feeds/advisories.atom", "/orgs/coco/advisories.atom"] {
        let r = app.get(path, None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(r.headers["content-type"], "application/atom+xml");
        let mut titles = atom_titles(&r.text);
        titles.sort();
        assert_eq!(
            titles,
            [
                "A report to be published",
                "[Withdrawn] A report to be withdrawn"
            ],
            "{path}"
        );
    }
    let r = app.get("/orgs/kata/advisories.atom", None).await;
    assert!(atom_titles(&r.text).is_empty());

    let r = app.get("/orgs/coco/SECURITY.md", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.text.starts_with("# Security Policy\n"));
    assert!(r.text.contains("within 14 days"), "{}", r.text);
    assert!(r.text.contains("Confidential Containers"));

    let r = app.get("/.well-known/security.txt", None).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.text.contains("Contact: http://embargo.test/report\n"),
        "{}",
        r.text
    );
    assert!(
        r.text
            .contains("Canonical: http://embargo.test/.well-known/security.txt\n")
    );
    // Two organisations: no single policy to point at.
    assert!(!r.text.contains("Policy:"));
}

/// Runs BSI's CSAF validator library (strict schema and every mandatory test) on `docs`;
/// `scripts/tools-node` installs it.
pub(crate) fn bsi_csaf_validator(docs: &[(&str, &str)]) {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    if crate::support::oracle(
        "target/tools/node/.installed",
        "BSI's CSAF validator library",
    )
    .is_none()
    {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut args = vec![root.join("scripts/csaf-validate.mjs").display().to_string()];
    for (name, body) in docs {
        let p = dir.path().join(name);
        std::fs::write(&p, body).unwrap();
        args.push(p.display().to_string());
    }
    let out = std::process::Command::new("node")
        .args(&args)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "the BSI validator refuses: {report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(report.matches(": valid (").count(), docs.len(), "{report}");
}

async fn csaf_cve_and_the_provider_directory(app: TestApp) {
    let w = World::new(&app).await;
    let sm = Some(w.sm.as_str());
    let id = w.advisory_in(&app, "draft").await;
    let r = app
        .call(
            axum::http::Method::PATCH,
            &format!("/api/v1/advisories/{id}"),
            sm,
            Some(json!({
                "cve_id": "CVE-2026-31337",
                "summary": "Forged evidence is accepted",
                "cvss_vectors": ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:N/SC:N/SI:N/SA:N"],
                "cwe_ids": ["CWE-347"],
                "credits": [{"name": "Alice", "type": "finder"}],
                "references": ["https://github.com/coco/guest/commit/0123456789abcdef0123456789abcdef01234567"],
            })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Before publication: nothing, not even the CVE record.
    for doc in ["cve.json", "csaf.json"] {
        assert_eq!(
            app.get(&format!("/advisories/{id}/{doc}"), sm).await.status,
            StatusCode::NOT_FOUND
        );
    }
    let r = app
        .post(&format!("/api/v1/advisories/{id}/publish"), sm, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let other = w.advisory_in(&app, "withdrawn").await;
    w.advisory_in(&app, "triage").await;

    let cve = app.get(&format!("/advisories/{id}/cve.json"), None).await;
    assert_eq!(cve.status, StatusCode::OK, "{}", cve.text);
    assert_valid(Schema::Cve, &cve.json);
    let cna = &cve.json["containers"]["cna"];
    assert_eq!(cve.json["cveMetadata"]["cveId"], "CVE-2026-31337");
    assert_eq!(cna["affected"][0]["vendor"], "Confidential Containers");
    assert_eq!(
        cna["affected"][0]["versions"][0],
        json!({"version": "0", "lessThan": "0.15.0", "status": "affected", "versionType": "semver"})
    );
    assert_eq!(cna["metrics"][0]["cvssV3_1"]["baseScore"], json!(9.1));
    assert_eq!(
        cna["problemTypes"][0]["descriptions"][0]["description"],
        "CWE-347: Improper Verification of Cryptographic Signature"
    );
    // No CVE id: no record.
    assert_eq!(
        app.get(&format!("/advisories/{other}/cve.json"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let csaf = app.get(&format!("/advisories/{id}/csaf.json"), None).await;
    let vex = app.get(&format!("/advisories/{id}/vex.json"), None).await;
    assert_valid(Schema::Csaf, &csaf.json);
    assert_valid(Schema::Csaf, &vex.json);
    assert_eq!(csaf.json["vulnerabilities"][0]["cve"], "CVE-2026-31337");
    let withdrawn_csaf = app
        .get(&format!("/advisories/{other}/csaf.json"), None)
        .await;
    bsi_csaf_validator(&[
        ("a.json", &csaf.text),
        ("v.json", &vex.text),
        ("w.json", &withdrawn_csaf.text),
    ]);

    // The provider: metadata, index, changes, each document and its hashes.
    let meta = app
        .get("/.well-known/csaf/provider-metadata.json", None)
        .await;
    assert_eq!(meta.status, StatusCode::OK);
    assert_valid(Schema::CsafProvider, &meta.json);
    assert_eq!(
        meta.json["distributions"][0]["directory_url"],
        "http://embargo.test/.well-known/csaf/white"
    );
    let index = app.get("/.well-known/csaf/white/index.txt", None).await;
    let mut lines: Vec<&str> = index.text.lines().collect();
    lines.sort();
    let year = csaf.json["document"]["tracking"]["initial_release_date"]
        .as_str()
        .unwrap()[..4]
        .to_owned();
    let lower = |s: &str| s.to_lowercase();
    let mut want = vec![
        format!("{year}/{}.json", lower(&id)),
        format!("{year}/{}-vex.json", lower(&id)),
        format!("{year}/{}.json", lower(&other)),
        format!("{year}/{}-vex.json", lower(&other)),
    ];
    want.sort();
    assert_eq!(
        lines, want,
        "published and withdrawn documents, nothing else"
    );
    let changes = app.get("/.well-known/csaf/white/changes.csv", None).await;
    assert_eq!(changes.text.lines().count(), 4);
    assert!(
        changes
            .text
            .lines()
            .all(|l| l.starts_with('"') && l.ends_with("Z\"")),
        "{}",
        changes.text
    );
    for path in &want {
        let doc = app
            .get(&format!("/.well-known/csaf/white/{path}"), None)
            .await;
        assert_eq!(doc.status, StatusCode::OK, "{path}");
        assert_valid(Schema::Csaf, &doc.json);
        // The hash files agree with `sha256sum`/`sha512sum` of the served bytes.
        let dir = tempfile::tempdir().unwrap();
        let file = path.rsplit('/').next().unwrap();
        std::fs::write(dir.path().join(file), &doc.text).unwrap();
        for (ext, tool) in [("sha256", "sha256sum"), ("sha512", "sha512sum")] {
            let hash = app
                .get(&format!("/.well-known/csaf/white/{path}.{ext}"), None)
                .await;
            let out = std::process::Command::new(tool)
                .arg(file)
                .current_dir(dir.path())
                .output()
                .unwrap();
            assert_eq!(
                hash.text,
                String::from_utf8(out.stdout).unwrap(),
                "{path}.{ext}"
            );
        }
    }
    // Without a signing key: no signatures, and the metadata names no key.
    assert!(meta.json.get("public_openpgp_keys").is_none());
    assert_eq!(
        app.get(&format!("/.well-known/csaf/white/{}.asc", want[0]), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Unpublished, wrong year, wrong name: missing.
    for bad in [
        format!("{year}/{}.json", lower(&id).replace("emb", "xyz")),
        format!("1999/{}.json", lower(&id)),
        format!("{year}/{}.txt", lower(&id)),
    ] {
        assert_eq!(
            app.get(&format!("/.well-known/csaf/white/{bad}"), None)
                .await
                .status,
            StatusCode::NOT_FOUND,
            "{bad}"
        );
    }
    let txt = app.get("/.well-known/security.txt", None).await;
    assert!(
        txt.text
            .contains("CSAF: http://embargo.test/.well-known/csaf/provider-metadata.json\n")
    );
}

/// OSV clients in the wild post the query without `Content-Type: application/json` (or with
/// `text/plain`, or a form type); the public OSV API takes the body as JSON all the same.
async fn osv_query_takes_json_whatever_the_content_type(app: TestApp) {
    let w = World::new(&app).await;
    let published = w.advisory_in(&app, "published").await;
    let body = json!({"package": {"name": "guest", "ecosystem": "crates.io"}, "version": "0.14.2"});
    let batch = json!({"queries": [body.clone()]});
    for content_type in [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
    ] {
        for (path, body) in [("/osv/v1/query", &body), ("/osv/v1/querybatch", &batch)] {
            let mut b = axum::http::Request::builder()
                .method(axum::http::Method::POST)
                .uri(path);
            if let Some(ct) = content_type {
                b = b.header(axum::http::header::CONTENT_TYPE, ct);
            }
            let r = app
                .request(b.body(axum::body::Body::from(body.to_string())).unwrap())
                .await;
            assert_eq!(
                r.status,
                StatusCode::OK,
                "{path} {content_type:?}: {}",
                r.text
            );
            assert!(
                r.text.contains(&format!("x_{published}")),
                "{path} {content_type:?}: {}",
                r.text
            );
        }
    }
    // Not JSON is still a clear 400, whatever the type.
    let r = app
        .request(
            axum::http::Request::builder()
                .method(axum::http::Method::POST)
                .uri("/osv/v1/query")
                .body(axum::body::Body::from("package=guest"))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
}

on_both_backends!(
    documents_only_when_public,
    osv_query_answers_as_the_public_api,
    osv_query_takes_json_whatever_the_content_type,
    text_documents,
    csaf_cve_and_the_provider_directory
);

/// The real binary's security.txt, checked by the PyPI `sectxt` validator (scripts/tools-venv
/// installs it); `Expires` must lie ahead, within a year.
#[tokio::test]
async fn security_txt_passes_the_sectxt_validator() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let Some(python) = crate::support::oracle("target/tools/venv/bin/python", "PyPI sectxt") else {
        return;
    };
    let mut server = crate::support::Server::start(&[
        ("EMBARGO_SERVER_PUBLIC_URL", "https://embargo.test"),
        (
            "EMBARGO_PUBLISHING_CONTACTS",
            "mailto:security@embargo.test",
        ),
    ]);
    let body = reqwest::get(format!("{}/.well-known/security.txt", server.base))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    server.stop();
    assert!(
        body.contains(
            "Contact: https://embargo.test/report\nContact: mailto:security@embargo.test\n"
        ),
        "{body}"
    );
    let file = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(file.path(), &body).unwrap();
    let out = std::process::Command::new(&python)
        .arg(root.join("scripts/sectxt-check.py"))
        .arg(file.path())
        .arg("https://embargo.test/.well-known/security.txt")
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "sectxt refuses it: {report}\n{body}");
    let v: Value = serde_json::from_str(&report).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["errors"], json!([]), "{report}");
}

/// Runs `gpg` in its own home folder.
pub(crate) fn gpg(home: &std::path::Path, args: &[&str]) -> std::process::Output {
    std::process::Command::new("gpg")
        .env("GNUPGHOME", home)
        .args([
            "--batch",
            "--no-tty",
            "--pinentry-mode",
            "loopback",
            "--passphrase",
            "",
        ])
        .args(args)
        .output()
        .expect("gpg runs (scripts/test installs gnupg)")
}

/// With a signing key configured, each CSAF document of the directory has a `.asc` that
/// GnuPG verifies with the key the provider metadata names, fetched from the server.
#[tokio::test]
async fn csaf_documents_are_signed_with_openpgp() {
    let Some(data) = crate::support::test_data() else {
        return;
    };
    let signer_home = tempfile::tempdir().unwrap();
    let out = gpg(
        signer_home.path(),
        &[
            "--quick-gen-key",
            "Embargo CSAF <csaf@embargo.test>",
            "ed25519",
            "sign",
            "1y",
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key = gpg(
        signer_home.path(),
        &["--armor", "--export-secret-keys", "csaf@embargo.test"],
    );
    assert!(key.status.success());
    let key_file = signer_home.path().join("csaf-key.asc");
    std::fs::write(&key_file, &key.stdout).unwrap();

    let key_path = key_file.display().to_string();
    let env = [("EMBARGO_PUBLISHING_OPENPGP_KEY_FILE", key_path.as_str())];
    let mut server = crate::support::Server::start(&env);
    let base = server.base.clone();
    let admin = server.user("admin@example.org", true, &env);
    crate::support::coco_over_http(&base, &admin, "admin@example.org").await;
    let client = reqwest::Client::new();
    let sample = data
        .join("samples/osv-rustsec/RUSTSEC-2024-0338.json")
        .display()
        .to_string();
    let out = server.command(
        &["import", "--org", "coco", "--repo", "guest", &sample],
        None,
        &env,
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let get = |path: String| {
        let client = client.clone();
        async move {
            let r = client.get(path).send().await.unwrap();
            assert_eq!(r.status(), 200, "{}", r.url());
            r.text().await.unwrap()
        }
    };
    let meta: Value =
        serde_json::from_str(&get(format!("{base}/.well-known/csaf/provider-metadata.json")).await)
            .unwrap();
    assert_valid(Schema::CsafProvider, &meta);
    let key_url = meta["public_openpgp_keys"][0]["url"]
        .as_str()
        .unwrap()
        .to_owned();
    let fingerprint = meta["public_openpgp_keys"][0]["fingerprint"]
        .as_str()
        .unwrap()
        .to_owned();
    let listed = gpg(
        signer_home.path(),
        &["--with-colons", "--fingerprint", "csaf@embargo.test"],
    );
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains(&fingerprint),
        "the metadata names the key's fingerprint"
    );

    // A verifier that knows only the served public key.
    let verifier = tempfile::tempdir().unwrap();
    let public = verifier.path().join("key.asc");
    std::fs::write(&public, get(key_url).await).unwrap();
    assert!(
        gpg(verifier.path(), &["--import", public.to_str().unwrap()])
            .status
            .success()
    );
    let index = get(format!("{base}/.well-known/csaf/white/index.txt")).await;
    let paths: Vec<&str> = index.lines().collect();
    assert_eq!(paths.len(), 2, "{index}");
    for path in paths {
        let doc = verifier.path().join("doc.json");
        let sig = verifier.path().join("doc.json.asc");
        std::fs::write(
            &doc,
            get(format!("{base}/.well-known/csaf/white/{path}")).await,
        )
        .unwrap();
        std::fs::write(
            &sig,
            get(format!("{base}/.well-known/csaf/white/{path}.asc")).await,
        )
        .unwrap();
        let v = gpg(
            verifier.path(),
            &["--verify", sig.to_str().unwrap(), doc.to_str().unwrap()],
        );
        assert!(
            v.status.success(),
            "{path}: {}",
            String::from_utf8_lossy(&v.stderr)
        );
        // A changed document no longer verifies.
        std::fs::write(&doc, b"{}").unwrap();
        assert!(
            !gpg(
                verifier.path(),
                &["--verify", sig.to_str().unwrap(), doc.to_str().unwrap()]
            )
            .status
            .success()
        );
    }
    server.stop();
}
