//! Revisions and withdrawal, on both backends: every public change is a revision with its
//! time and a change-log line (written by the editor, or by Embargo from the fields), shown on
//! the public page; OSV `modified`, CSAF `revision_history` and the CVE record follow it.
//! Withdrawal takes a reason, shown publicly; the page stays, marked withdrawn.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, World, on_both_backends};

async fn public_changes_are_revisions_with_a_change_log(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.advisory_in(&app, "draft").await;
    let api = format!("/api/v1/advisories/{id}");
    let patch = |body: serde_json::Value| {
        let (app, api, sm) = (&app, api.clone(), w.sm.clone());
        async move { app.call(Method::PATCH, &api, Some(&sm), Some(body)).await }
    };
    // Before publication a change-log line is not kept (there is no public history yet).
    let r = patch(json!({"cve_id": "CVE-2026-12345", "revision_summary": "draft note"})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .post(&format!("{api}/publish"), Some(&w.sm), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let osv_before = app
        .get(&format!("/advisories/{id}/osv.json"), None)
        .await
        .json;

    app.clock.advance(time::Duration::hours(5));
    let r = patch(json!({
        "references": ["https://github.com/confidential-containers/guest/commit/0123456789abcdef0123456789abcdef01234567"],
        "revision_summary": "Added the upstream fix commit"
    }))
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    app.clock.advance(time::Duration::hours(1));
    let r = patch(json!({"cwe_ids": ["CWE-787"]})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let last = embargo_domain::rfc3339(app.store.now());
    // Later invalid attempts and reads change nothing public.
    app.clock.advance(time::Duration::hours(1));
    // A change-log line is one short line.
    for bad in ["two\nlines", " ", &"x".repeat(201)] {
        let r = patch(json!({"cwe_ids": ["CWE-787"], "revision_summary": bad})).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert_eq!(r.json["error"]["field"], "revision_summary", "{}", r.text);
    }
    // Nobody outside the audience edits.
    let r = app
        .call(
            Method::PATCH,
            &api,
            Some(&w.outsider),
            Some(json!({"cwe_ids": []})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);

    let page = app.page(&format!("/advisories/{id}"), None).await;
    assert!(page.text.contains("Change log"), "{}", page.text);
    for line in [
        "Initial publication",
        "Added the upstream fix commit",
        "Updated weaknesses",
    ] {
        assert!(page.text.contains(line), "{line}: {}", page.text);
    }
    assert!(!page.text.contains("draft note"));
    assert!(
        page.text.contains(" UTC: Added the upstream fix commit"),
        "{}",
        page.text
    );

    let osv = app
        .get(&format!("/advisories/{id}/osv.json"), None)
        .await
        .json;
    assert_ne!(osv["modified"], osv_before["modified"]);
    assert_eq!(
        osv["modified"].as_str().unwrap(),
        last.replace(".000", ""),
        "{osv}"
    );
    let csaf = app
        .get(&format!("/advisories/{id}/csaf.json"), None)
        .await
        .json;
    let history = csaf["document"]["tracking"]["revision_history"]
        .as_array()
        .unwrap();
    let summaries: Vec<&str> = history
        .iter()
        .map(|r| r["summary"].as_str().unwrap())
        .collect();
    assert_eq!(
        summaries,
        [
            "Initial publication",
            "Added the upstream fix commit",
            "Updated weaknesses"
        ]
    );
    assert_eq!(csaf["document"]["tracking"]["version"], "3");
    let cve = app
        .get(&format!("/advisories/{id}/cve.json"), None)
        .await
        .json;
    assert_eq!(
        cve["cveMetadata"]["dateUpdated"].as_str().unwrap(),
        last.replace(".000", ""),
        "{cve}"
    );
    embargo_formats::schemas::assert_valid(embargo_formats::schemas::Schema::Csaf, &csaf);
    crate::support::assert_valid_osv(&osv);

    // The edit page asks a security manager for the change-log line; a maintainer may no
    // longer change the public advisory.
    let r = app
        .call(
            Method::PATCH,
            &api,
            Some(&w.maintainer),
            Some(json!({"cwe_ids": []})),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let cookie = app.session_cookie(&w.sm).await;
    let form_page = app
        .request(
            axum::http::Request::get(format!("/advisories/{id}/edit"))
                .header(axum::http::header::COOKIE, cookie.clone())
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert!(
        form_page.text.contains("name=\"revision_summary\""),
        "{}",
        form_page.text
    );
    let csrf = crate::web::csrf_in(&form_page.text);
    let r = app
        .request(crate::web::form(
            &format!("/advisories/{id}/edit"),
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("public", "1"),
                ("title", "A report to be draft"),
                ("description", "A report to be draft: steps to reproduce"),
                ("ecosystem", "crates.io"),
                ("package", "guest"),
                ("range", "< 0.15.0"),
                ("patched", "0.15.0"),
                ("revision_summary", "Typo in the summary fixed"),
            ],
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let page = app.page(&format!("/advisories/{id}"), None).await;
    assert!(
        page.text.contains("Typo in the summary fixed"),
        "{}",
        page.text
    );
}

async fn withdrawal_takes_a_public_reason(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.advisory_in(&app, "published").await;
    let api = format!("/api/v1/advisories/{id}");
    let r = app
        .call(
            Method::PATCH,
            &api,
            Some(&w.sm),
            Some(json!({"cve_id": "CVE-2026-23456"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let withdraw = |body: serde_json::Value| {
        let (app, api, sm) = (&app, api.clone(), w.sm.clone());
        async move { app.post(&format!("{api}/withdraw"), Some(&sm), body).await }
    };
    let r = withdraw(json!({})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let r = withdraw(json!({"reason": "  "})).await;
    assert_eq!(r.json["error"]["field"], "reason", "{}", r.text);
    let reason = "Not a vulnerability: the input is trusted";
    let r = withdraw(json!({"reason": reason})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["state"], "withdrawn");

    let page = app.page(&format!("/advisories/{id}"), None).await;
    assert_eq!(page.status, StatusCode::OK, "the page stays");
    assert!(
        page.text
            .contains(&format!("<strong>Withdrawn</strong>: {reason}")),
        "{}",
        page.text
    );
    assert!(page.text.contains(&format!("Withdrawn: {reason}")));
    let csaf = app
        .get(&format!("/advisories/{id}/csaf.json"), None)
        .await
        .json;
    assert!(csaf.to_string().contains(reason), "{csaf}");
    let cve = app
        .get(&format!("/advisories/{id}/cve.json"), None)
        .await
        .json;
    assert_eq!(cve["cveMetadata"]["state"], "REJECTED");
    assert!(
        cve["containers"]["cna"]["rejectedReasons"][0]["value"]
            .as_str()
            .unwrap()
            .contains(reason),
        "{cve}"
    );
    let osv = app
        .get(&format!("/advisories/{id}/osv.json"), None)
        .await
        .json;
    assert!(osv["withdrawn"].is_string());
    let aid = embargo_domain::ids::AdvisoryId::parse(&id).unwrap();
    assert!(app.store.replay_matches(&aid).await.unwrap());
}

on_both_backends!(
    public_changes_are_revisions_with_a_change_log,
    withdrawal_takes_a_public_reason,
);
