//! The API's own description, held to account by somebody else's fuzzer: schemathesis reads
//! `/api/v1/openapi.json` from a real server (over TCP) with a seeded world, generates
//! thousands of requests from it, and checks that none is answered with a 5xx and that every
//! answer matches the document (status, content type, headers, schema). Once as the
//! security manager, once anonymously.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::{Backend, TestApp, World, on_both_backends, oracle};

/// Test cases per operation and run; with ~80 operations and two runs (plus the coverage
/// phase's own cases) several thousand requests in all, in about a minute.
const MAX_EXAMPLES: &str = "20";

const CHECKS: &str = "not_a_server_error,status_code_conformance,content_type_conformance,\
                      response_headers_conformance,response_schema_conformance";

async fn schemathesis_finds_nothing(app: TestApp) {
    let Some(st) = oracle("target/tools/venv/bin/schemathesis", "schemathesis (PyPI)") else {
        return;
    };
    let w = World::new(&app).await;
    // Something to find: advisories in each state, with a thread.
    // The security manager signs in with a second factor, so that the run setting the
    // organisation's `require_two_factor` does not take their role away halfway.
    let r = app
        .post("/api/v1/user/two-factor", Some(&w.sm), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let secret = totp_rs::Secret::Encoded(r.json["secret"].as_str().unwrap().to_owned());
    let code = totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        secret.to_bytes().unwrap(),
        None,
        String::new(),
    )
    .generate(u64::try_from(app.store.now().unix_timestamp()).unwrap());
    let r = app
        .post(
            "/api/v1/user/two-factor/confirm",
            Some(&w.sm),
            json!({"code": code}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let mut ids = Vec::new();
    for state in ["triage", "draft", "published", "closed", "withdrawn"] {
        ids.push(w.advisory_in(&app, state).await);
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let router = app.router.clone();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });

    // Attachments of two types on the report in triage, over HTTP as a client sends them.
    let mut aids = Vec::new();
    for (name, bytes) in [
        ("poc.txt", b"steps to reproduce\n".to_vec()),
        ("shot.png", b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec()),
    ] {
        let r = reqwest::Client::new()
            .post(format!(
                "{base}/api/v1/advisories/{}/attachments?filename={name}",
                ids[0]
            ))
            .bearer_auth(&w.sm)
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let a: serde_json::Value = r.json().await.unwrap();
        aids.push(a["id"].as_str().unwrap().to_owned());
    }

    // Path parameters are often real names (else nearly everything would be "not found"):
    // the seeded organisations, repositories, advisories and people.
    let quoted = |v: &[String]| {
        v.iter()
            .map(|s| format!("{s:?}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let config = format!(
        "[dictionaries.ids]\nvalues = [{ids}]\n\
         [dictionaries.aids]\nvalues = [{aids}]\n\
         [dictionaries.orgs]\nvalues = [\"coco\", \"kata\"]\n\
         [dictionaries.repos]\nvalues = [\"guest\", \"operator\"]\n\
         [dictionaries.emails]\nvalues = [\"maintainer@example.org\", \"outsider@example.org\"]\n\
         [parameters]\n\
         \"path.id\" = {{ dictionary = \"ids\", probability = 0.6 }}\n\
         \"path.aid\" = {{ dictionary = \"aids\", probability = 0.7 }}\n\
         \"path.org\" = {{ dictionary = \"orgs\", probability = 0.7 }}\n\
         \"path.repo\" = {{ dictionary = \"repos\", probability = 0.7 }}\n\
         \"path.email\" = {{ dictionary = \"emails\", probability = 0.5 }}\n",
        ids = quoted(&ids),
        aids = quoted(&aids),
    );

    let doc = reqwest::get(format!("{base}/api/v1/openapi.json"))
        .await
        .unwrap();
    assert_eq!(doc.status(), 200);
    let doc: serde_json::Value = doc.json().await.unwrap();
    assert_eq!(doc["openapi"], "3.1.0");

    let reports = tempfile::tempdir().unwrap();
    let config_file = reports.path().join("schemathesis.toml");
    std::fs::write(&config_file, config).unwrap();
    let mut total = 0;
    for (who, token) in [("security manager", Some(&w.sm)), ("anonymous", None)] {
        let mut cmd = tokio::process::Command::new(&st);
        cmd.arg("--no-color")
            .arg("--config-file")
            .arg(&config_file)
            .arg("run")
            .arg(format!("{base}/api/v1/openapi.json"))
            .args(["--url", &base, "--checks", CHECKS])
            .args([
                "--max-examples",
                MAX_EXAMPLES,
                "--seed",
                "17",
                "--workers",
                "2",
            ])
            .args(["--suppress-health-check", "all"])
            .args(["--report", "junit", "--report-dir"])
            .arg(reports.path().join(who.replace(' ', "-")))
            .env("NO_COLOR", "1")
            // Its cache of examples goes to the temporary folder, not into the checkout.
            .current_dir(reports.path());
        if let Some(t) = token {
            cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
        }
        let out = cmd.output().await.unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "schemathesis as {who} found problems:\n{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        // The report is `junit-TIMESTAMP.xml`.
        let junit: String = std::fs::read_dir(reports.path().join(who.replace(' ', "-")))
            .map(|d| {
                d.flatten()
                    .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
                    .collect()
            })
            .unwrap_or_default();
        assert!(
            junit.contains("<testcase"),
            "no report from the run as {who}:\n{stdout}"
        );
        total += cases(&stdout);
        eprintln!("schemathesis as {who}:\n{stdout}");
    }
    assert!(total >= 2000, "only {total} generated requests");
}

/// The number of test cases a run reports (`Test cases:` then `  N generated, ...`).
fn cases(stdout: &str) -> u64 {
    stdout
        .split("Test cases:")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// What schemathesis found, kept: a NUL in an OSV query reached PostgreSQL (500).
async fn osv_query_refuses_control_characters(app: TestApp) {
    for body in [
        json!({"commit": "ab\u{0}cd"}),
        json!({"package": {"name": "guest\u{0}", "ecosystem": "crates.io"}, "version": "1.0"}),
        json!({"package": {"name": "guest", "ecosystem": "crates.io"}, "version": "1\u{0}"}),
        json!({"package": {"purl": "pkg:cargo/guest\u{0}"}}),
    ] {
        let r = app.post("/osv/v1/query", None, body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.text
        );
        assert!(r.text.contains("control characters"), "{}", r.text);
    }
}

on_both_backends!(osv_query_refuses_control_characters);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    schemathesis_finds_nothing(TestApp::new(Backend::Sqlite).await).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    schemathesis_finds_nothing(TestApp::new(Backend::Postgres).await).await
}
