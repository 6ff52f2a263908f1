//! The public documents of published advisories: each format, valid against its official
//! schema, served only for published (and withdrawn) advisories; the OSV query API.

use axum::http::StatusCode;
use embargo_formats::schemas::{Schema, assert_valid};
use serde_json::{Value, json};

use crate::support::{TestApp, World, on_both_backends};

/// Every public document of one advisory, by path template.
pub const DOCUMENTS: &[&str] = &["/advisories/{id}/osv.json", "/osv/v1/vulns/x_{id}"];

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

on_both_backends!(
    documents_only_when_public,
    osv_query_answers_as_the_public_api
);
