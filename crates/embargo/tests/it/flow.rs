//! The whole road: a report filed, discussed, accepted, edited, published, and its OSV record
//! valid against the official schema; the response clock; the audit trail; and the read
//! model equal to the fold of the events.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, World, assert_valid_osv, on_both_backends};

async fn report_to_publication(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.file(&app, "Heap overflow in the attestation agent").await;
    let api = format!("/api/v1/advisories/{id}");

    // Filed: in triage, the response due 14 days later (the organisation's policy).
    let r = app.get(&api, Some(&w.reporter)).await;
    assert_eq!(r.json["state"], "triage");
    assert_eq!(r.json["tracking"]["created_at"], "2026-11-25T09:00:00Z");
    assert_eq!(
        r.json["tracking"]["response_due_at"],
        "2026-12-09T09:00:00Z"
    );
    assert_eq!(r.json["tracking"]["first_response_at"], json!(null));
    assert_eq!(r.json["tracking"]["reporter"], "reporter");

    // The reporter's own comment does not stop the clock; the maintainer's reply does.
    app.clock.advance(time::Duration::hours(1));
    let c = app
        .post(
            &format!("{api}/comments"),
            Some(&w.reporter),
            json!({"body": "More details: ..."}),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED, "{}", c.text);
    assert_eq!(
        app.get(&api, Some(&w.sm)).await.json["tracking"]["first_response_at"],
        json!(null)
    );
    app.clock.advance(time::Duration::days(2));
    let c = app
        .post(
            &format!("{api}/comments"),
            Some(&w.maintainer),
            json!({"body": "Confirmed, looking into it."}),
        )
        .await;
    assert_eq!(c.status, StatusCode::CREATED);
    let r = app.get(&api, Some(&w.sm)).await;
    assert_eq!(
        r.json["tracking"]["first_response_at"],
        "2026-11-27T10:00:00Z"
    );
    assert_eq!(r.json["tracking"]["response_overdue"], false);

    // Everyone in the audience sees the thread, in order.
    let thread = app.get(&format!("{api}/comments"), Some(&w.sc)).await;
    let bodies: Vec<&str> = thread
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["More details: ...", "Confirmed, looking into it."]);

    // Accepted, edited into a draft advisory, published.
    assert_eq!(
        app.post(&format!("{api}/accept"), Some(&w.maintainer), json!({}))
            .await
            .status,
        StatusCode::OK
    );
    let edit = json!({
        "summary": "Heap overflow in attestation-agent's evidence parser",
        "description": "A crafted evidence blob overflows a heap buffer.\n\nUpgrade to 0.15.0.",
        "cve_id": "CVE-2026-12345",
        "cvss_vectors": ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"],
        "cwe_ids": ["CWE-787"],
        "references": ["https://github.com/confidential-containers/guest-components/pull/1"],
        "credits": [{"name": "Rita Reporter", "type": "finder"}, {"name": "Max Maintainer", "type": "remediation_developer"}],
        "vulnerabilities": [
            {"package": {"ecosystem": "crates.io", "name": "attestation-agent"}, "vulnerable_version_range": "< 0.15.0", "patched_versions": "0.15.0"},
            {"package": {"ecosystem": "Go", "name": "github.com/confidential-containers/cloud-api-adaptor"}, "vulnerable_version_range": ">= 0.8.0, <= 0.8.2", "patched_versions": "0.8.3"},
            {"package": {"ecosystem": "PyPI", "name": "coco-tools"}, "vulnerable_version_range": "= 1.0.0"}
        ]
    });
    let r = app
        .call(Method::PATCH, &api, Some(&w.maintainer), Some(edit))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["cve_id"], "CVE-2026-12345");

    // Before publication the public sees nothing, not even the OSV record.
    assert_eq!(
        app.get(&format!("/osv/v1/vulns/x_{id}"), None).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post(&format!("{api}/publish"), Some(&w.maintainer), json!({}))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    app.clock.advance(time::Duration::days(10));
    let r = app
        .post(&format!("{api}/publish"), Some(&w.sm), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["published_at"], "2026-12-07T10:00:00Z");

    // Public now: the page, the API (without the private tracking), and OSV.
    let public = app.get(&api, None).await;
    assert_eq!(public.status, StatusCode::OK);
    assert!(
        public.json.get("tracking").is_none() && public.json.get("title").is_none(),
        "{}",
        public.text
    );
    assert_eq!(
        app.get(&format!("{api}/comments"), None).await.status,
        StatusCode::FORBIDDEN,
        "the thread stays private"
    );
    let page = app.page(&format!("/advisories/{id}"), None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text
            .contains("Heap overflow in attestation-agent&#39;s evidence parser")
            || page
                .text
                .contains("Heap overflow in attestation-agent&#x27;s evidence parser"),
        "{}",
        page.text
    );
    assert!(
        !page.text.contains("Confirmed, looking into it"),
        "the thread is not on the public page"
    );

    let osv = app.get(&format!("/osv/v1/vulns/x_{id}"), None).await;
    assert_eq!(osv.status, StatusCode::OK);
    assert_valid_osv(&osv.json);
    let o = &osv.json;
    assert_eq!(o["id"], format!("x_{id}"));
    assert_eq!(o["aliases"], json!([id, "CVE-2026-12345"]));
    assert_eq!(o["published"], "2026-12-07T10:00:00Z");
    assert_eq!(
        o["severity"],
        json!([
            {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"},
            {"type": "CVSS_V4", "score": "CVSS:4.0/AV:N/AC:L/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"}
        ])
    );
    assert_eq!(
        o["affected"][0],
        json!({"package": {"ecosystem": "crates.io", "name": "attestation-agent"},
               "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "0.15.0"}]}]})
    );
    assert_eq!(
        o["affected"][1]["ranges"][0]["events"],
        json!([{"introduced": "0.8.0"}, {"fixed": "0.8.3"}])
    );
    assert_eq!(
        o["affected"][2],
        json!({"package": {"ecosystem": "PyPI", "name": "coco-tools"}, "versions": ["1.0.0"]})
    );
    assert_eq!(
        o["credits"][1],
        json!({"name": "Max Maintainer", "type": "REMEDIATION_DEVELOPER"})
    );
    assert_eq!(o["database_specific"]["cwe_ids"], json!(["CWE-787"]));
    // The record is also reachable by the plain advisory id.
    assert_eq!(
        app.get(&format!("/osv/v1/vulns/{id}"), None).await.json,
        osv.json
    );

    // The audit trail, for security managers: every change with its actor and time.
    let events = app.get(&format!("{api}/events"), Some(&w.sm)).await;
    let kinds: Vec<(&str, &str)> = events
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["kind"].as_str().unwrap(), e["actor"].as_str().unwrap()))
        .collect();
    assert_eq!(
        kinds,
        [
            ("reported", "reporter@example.org"),
            ("commented", "reporter@example.org"),
            ("commented", "maintainer@example.org"),
            ("accepted", "maintainer@example.org"),
            ("edited", "maintainer@example.org"),
            ("published", "sm@example.org"),
        ]
    );
    let id = embargo_domain::ids::AdvisoryId::parse(&id).unwrap();
    assert!(
        app.store.replay_matches(&id).await.unwrap(),
        "the read model is the fold of the events"
    );

    // Withdrawn advisories stay public and say so in OSV.
    app.clock.advance(time::Duration::days(1));
    assert_eq!(
        app.post(
            &format!("{api}/withdraw"),
            Some(&w.sm),
            json!({"reason": "not exploitable"})
        )
        .await
        .status,
        StatusCode::OK
    );
    let osv = app.get(&format!("/osv/v1/vulns/x_{id}"), None).await;
    assert_valid_osv(&osv.json);
    assert_eq!(osv.json["withdrawn"], "2026-12-08T10:00:00Z");
    assert!(app.store.replay_matches(&id).await.unwrap());
}

async fn overdue_reports_are_flagged(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.file(&app, "Unanswered").await;
    let api = format!("/api/v1/advisories/{id}");
    app.clock
        .advance(time::Duration::days(14) - time::Duration::seconds(1));
    assert_eq!(
        app.get(&api, Some(&w.sm)).await.json["tracking"]["response_overdue"],
        false
    );
    app.clock.advance(time::Duration::seconds(2));
    assert_eq!(
        app.get(&api, Some(&w.sm)).await.json["tracking"]["response_overdue"],
        true
    );
    // Closing with a reason is a response too; the reporter sees the reason and message.
    let r = app
        .post(
            &format!("{api}/close"),
            Some(&w.maintainer),
            json!({"reason": "not_a_vulnerability", "message": "Works as documented."}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app.get(&api, Some(&w.reporter)).await;
    assert_eq!(r.json["state"], "closed");
    assert_eq!(r.json["tracking"]["close_reason"], "not_a_vulnerability");
    assert_eq!(r.json["tracking"]["close_message"], "Works as documented.");
    assert_eq!(r.json["tracking"]["response_overdue"], false);
    // Reopened by a security manager, it is in triage again.
    assert_eq!(
        app.post(&format!("{api}/reopen"), Some(&w.sm), json!({}))
            .await
            .json["state"],
        "triage"
    );
}

/// Publishing needs an affected package; nothing changes when it is refused.
async fn publication_needs_an_affected_package(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.file(&app, "Incomplete").await;
    let api = format!("/api/v1/advisories/{id}");
    app.post(&format!("{api}/accept"), Some(&w.sm), json!({}))
        .await;
    let r = app
        .post(&format!("{api}/publish"), Some(&w.sm), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.json["error"]["field"], "vulnerabilities");
    assert_eq!(app.get(&api, Some(&w.sm)).await.json["state"], "draft");
}

/// Lists filter by state, organisation and audience, and page.
async fn lists_filter_and_page(app: TestApp) {
    let w = World::new(&app).await;
    let triage = w.advisory_in(&app, "triage").await;
    let published = w.advisory_in(&app, "published").await;
    let ids = |r: &crate::support::Resp| -> Vec<String> {
        r.json
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect()
    };
    let r = app
        .get("/api/v1/advisories?state=triage", Some(&w.sm))
        .await;
    assert_eq!(ids(&r), std::slice::from_ref(&triage));
    let r = app
        .get("/api/v1/advisories?audience=true", Some(&w.outsider))
        .await;
    assert!(ids(&r).is_empty());
    let r = app.get("/api/v1/advisories", Some(&w.outsider)).await;
    assert_eq!(ids(&r), std::slice::from_ref(&published));
    let r = app.get("/api/v1/advisories?org=kata", Some(&w.sm)).await;
    assert!(ids(&r).is_empty());
    let first = app.get("/api/v1/advisories?limit=1", Some(&w.sm)).await;
    let second = app
        .get("/api/v1/advisories?limit=1&offset=1", Some(&w.sm))
        .await;
    let mut both = [ids(&first), ids(&second)].concat();
    both.sort();
    let mut expected = vec![triage, published];
    expected.sort();
    assert_eq!(both, expected);
    assert_eq!(
        app.get("/api/v1/advisories?state=nope", Some(&w.sm))
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.get("/api/v1/advisories?limit=0", Some(&w.sm))
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.get("/api/v1/advisories?bogus=1", Some(&w.sm))
            .await
            .status,
        StatusCode::BAD_REQUEST
    );
}

on_both_backends!(
    report_to_publication,
    overdue_reports_are_flagged,
    publication_needs_an_affected_package,
    lists_filter_and_page,
);

/// The schema check itself can fail: a record without `modified` is refused. Without the
/// test data it says so and checks nothing (never a pass by accident); under `CI=true` the
/// data is required and its absence fails the test.
#[test]
fn the_osv_schema_check_catches_a_bad_record() {
    use embargo_formats::schemas::{Schema, errors, validator};
    if validator(Schema::Osv).is_none() {
        eprintln!("SKIPPED: no test data, the OSV schema check was not exercised");
        return;
    }
    let bad = json!({"id": "x_EMB-2222-2222-2222", "schema_version": "1.7.0"});
    let errs = errors(Schema::Osv, &bad);
    assert!(
        errs.iter().any(|e| e.contains("modified")),
        "a record without `modified` is refused: {errs:?}"
    );
    let panicked = std::panic::catch_unwind(|| assert_valid_osv(&bad));
    assert!(panicked.is_err(), "assert_valid_osv refuses it too");
}

/// Writers racing on one advisory: no update is lost, no state is entered twice, and the
/// read model stays the fold of the events.
async fn concurrent_changes_lose_nothing(app: TestApp) {
    let app = std::sync::Arc::new(app);
    let w = World::new(&app).await;
    let id = w.file(&app, "Racy").await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..12 {
        let (app, token) = (
            app.clone(),
            [&w.reporter, &w.sm, &w.maintainer][i % 3].clone(),
        );
        let path = format!("/api/v1/advisories/{id}/comments");
        tasks.spawn(async move {
            app.post(&path, Some(&token), json!({"body": format!("comment {i}")}))
                .await
                .status
        });
    }
    let statuses: Vec<StatusCode> = tasks.join_all().await;
    let created = statuses
        .iter()
        .filter(|s| **s == StatusCode::CREATED)
        .count();
    assert!(
        statuses.iter().all(|s| *s == StatusCode::CREATED),
        "comments retry until stored: {statuses:?}"
    );
    let thread = app
        .get(&format!("/api/v1/advisories/{id}/comments"), Some(&w.sm))
        .await;
    assert_eq!(thread.json.as_array().unwrap().len(), created);
    let a = app
        .get(&format!("/api/v1/advisories/{id}"), Some(&w.sm))
        .await;
    assert_eq!(a.json["revision"], 1 + created as i64);

    // Two triagers accept at once: exactly one wins, the other is told the state moved on.
    let mut tasks = tokio::task::JoinSet::new();
    for (action, body, token) in [
        ("accept", json!({}), &w.sm),
        ("accept", json!({}), &w.maintainer),
    ] {
        let (app, token) = (app.clone(), token.clone());
        let path = format!("/api/v1/advisories/{id}/{action}");
        tasks.spawn(async move { app.post(&path, Some(&token), body).await.status });
    }
    let mut statuses: Vec<u16> = tasks
        .join_all()
        .await
        .iter()
        .map(StatusCode::as_u16)
        .collect();
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 409]);
    let aid = embargo_domain::ids::AdvisoryId::parse(&id).unwrap();
    assert!(app.store.replay_matches(&aid).await.unwrap());
}

on_both_backends!(concurrent_changes_lose_nothing);
