//! Embargo computes every score from its vector: on save, in API answers, and on the command
//! line; a score that disagrees with its vector is refused.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, World, embargo_bin, on_both_backends};

async fn scores_come_from_vectors(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.advisory_in(&app, "draft").await;
    let api = format!("/api/v1/advisories/{id}");
    let both = json!({"cvss_vectors": ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"]});
    let r = app.call(Method::PATCH, &api, Some(&w.sm), Some(both)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.json["cvss"],
        json!([
            {"vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H/E:P", "version": "3.1", "base_score": 9.8, "temporal_score": 9.3, "environmental_score": 9.3, "severity": "Critical"},
            {"vector": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N", "version": "4.0", "base_score": 9.3, "severity": "Critical"}
        ])
    );
    let before = app.get(&api, Some(&w.sm)).await.json;
    let refused = [
        (
            json!({"cvss_vector": "CVSS:3.1/AV:Q/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}),
            "cvss_vector",
            "unknown value 'Q' for metric 'AV'",
        ),
        (
            json!({"cvss_vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H"}),
            "cvss_vector",
            "metric 'A' is missing",
        ),
        (
            json!({"cvss_vectors": ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:4.0/AV:N/AC:L"]}),
            "cvss_vectors[1]",
            "is missing",
        ),
        (
            json!({"cvss_vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "cvss_score": 7.5}),
            "cvss_score",
            "disagrees with the vector, which scores 9.8",
        ),
    ];
    for (body, field, message) in refused {
        let r = app
            .call(Method::PATCH, &api, Some(&w.sm), Some(body.clone()))
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.text
        );
        assert_eq!(r.json["error"]["field"], field, "{body}");
        assert!(
            r.json["error"]["message"]
                .as_str()
                .unwrap()
                .contains(message),
            "{body}: {}",
            r.text
        );
    }
    assert_eq!(
        app.get(&api, Some(&w.sm)).await.json,
        before,
        "refused edits change nothing"
    );
    let r = app.call(Method::PATCH, &api, Some(&w.sm), Some(json!({"cvss_vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "cvss_score": 9.8}))).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "a score that agrees is fine: {}",
        r.text
    );
    // The draft page's calculator asks the server for the score.
    let s = app
        .get(
            "/cvss/score?vector=CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            None,
        )
        .await;
    assert_eq!(s.json["base_score"], 9.8);
    let s = app.get("/cvss/score?vector=CVSS:3.1/AV:N", None).await;
    assert_eq!(s.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        app.page(&format!("/advisories/{id}/edit"), Some(&w.sm))
            .await
            .text
            .contains("/static/cvss.js")
    );
    // Reporters' vectors are checked when they file, too.
    let r = app
        .post("/api/v1/orgs/coco/repos/guest/advisories", Some(&w.reporter), json!({"title": "t", "description": "d", "cvss_vector": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SA:N/SI:N"}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("must come before"), "{}", r.text);
}

on_both_backends!(scores_come_from_vectors);

#[test]
fn the_cvss_command() {
    use std::io::Write;
    let mut child = std::process::Command::new(embargo_bin())
        .args(["cvss", "--json", "-"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H\nCVSS:3.1/AV:N/XX:Y\nCVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success(), "an invalid line fails the run");
    let lines: Vec<serde_json::Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 2, "the valid lines are still scored");
    assert_eq!(lines[0]["base_score"], 9.8);
    assert_eq!(lines[1]["base_score"], 9.3);
    let err = String::from_utf8(out.stderr).unwrap();
    assert_eq!(err.lines().count(), 1);
    assert!(err.contains("unknown metric 'XX'"), "{err}");
    let out = std::process::Command::new(embargo_bin())
        .args(["cvss", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N"])
        .output()
        .unwrap();
    assert!(out.status.success());
    assert_eq!(
        String::from_utf8(out.stdout).unwrap().trim(),
        "9.1 Critical CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N"
    );
}
