//! Closing with a reason: duplicates name an original the closer can see, "not a
//! vulnerability" offers a public issue, spam hides the report and blocks its sender for a
//! while, and filing is limited per hour.

use axum::http::{Method, StatusCode, header};
use serde_json::json;

use crate::support::{TestApp, World, on_both_backends};

async fn duplicates_name_a_visible_original(app: TestApp) {
    let w = World::new(&app).await;
    let original = w.file(&app, "The original").await;
    let dup = w.file(&app, "The same again").await;
    let elsewhere = app
        .post(
            "/api/v1/orgs/coco/repos/operator/advisories",
            Some(&w.other_reporter),
            json!({"title": "Operator bug", "description": "d"}),
        )
        .await
        .json["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let close = format!("/api/v1/advisories/{dup}/close");
    let missing = "EMB-2222-3333-4444";
    let cases = [
        (json!({"reason": "duplicate"}), "duplicate_of"),
        (
            json!({"reason": "duplicate", "duplicate_of": dup}),
            "duplicate_of",
        ),
        (
            json!({"reason": "duplicate", "duplicate_of": missing}),
            "duplicate_of",
        ),
        (
            json!({"reason": "duplicate", "duplicate_of": "not an id"}),
            "duplicate_of",
        ),
        (
            json!({"reason": "wont_fix", "duplicate_of": original}),
            "duplicate_of",
        ),
    ];
    for (body, field) in cases {
        let r = app.post(&close, Some(&w.maintainer), body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.text
        );
        assert_eq!(r.json["error"]["field"], field, "{body}");
    }
    // An advisory the closer cannot see is described exactly like one that does not exist.
    let hidden = app
        .post(
            &close,
            Some(&w.maintainer),
            json!({"reason": "duplicate", "duplicate_of": elsewhere}),
        )
        .await;
    let nothing = app
        .post(
            &close,
            Some(&w.maintainer),
            json!({"reason": "duplicate", "duplicate_of": missing}),
        )
        .await;
    assert_eq!(
        hidden.text.replace(&elsewhere, "X"),
        nothing.text.replace(missing, "X")
    );
    assert_eq!(
        app.get(&format!("/api/v1/advisories/{dup}"), Some(&w.sm))
            .await
            .json["state"],
        "triage",
        "nothing changed"
    );

    let r = app.post(&close, Some(&w.maintainer), json!({"reason": "duplicate", "duplicate_of": original, "message": "Reported already; we will credit you."})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["tracking"]["duplicate_of"], original.as_str());
    let seen = app
        .get(&format!("/api/v1/advisories/{dup}"), Some(&w.reporter))
        .await;
    assert_eq!(seen.json["tracking"]["close_reason"], "duplicate");
    assert_eq!(
        seen.json["tracking"]["close_message"],
        "Reported already; we will credit you."
    );
    assert!(
        seen.json["tracking"].get("duplicate_of").is_none(),
        "the reporter is told, not shown the original"
    );
    // Reopened by a security manager, it is a report again.
    assert_eq!(
        app.post(
            &format!("/api/v1/advisories/{dup}/reopen"),
            Some(&w.sm),
            json!({})
        )
        .await
        .json["state"],
        "triage"
    );
}

async fn not_a_vulnerability_offers_a_public_issue(app: TestApp) {
    let w = World::new(&app).await;
    app.call(
        Method::PATCH,
        "/api/v1/orgs/coco/repos/guest",
        Some(&w.sm),
        Some(
            json!({"upstream": "https://github.com/confidential-containers/guest-components.git"}),
        ),
    )
    .await;
    let id = w.file(&app, "Crash on bad config").await;
    let r = app.post(&format!("/api/v1/advisories/{id}/close"), Some(&w.maintainer), json!({"reason": "not_a_vulnerability", "message": "A bug, not a vulnerability: please open an issue."})).await;
    assert_eq!(r.status, StatusCode::OK);
    let seen = app
        .get(&format!("/api/v1/advisories/{id}"), Some(&w.reporter))
        .await;
    let url = seen.json["tracking"]["public_issue_url"].as_str().unwrap();
    assert!(url.starts_with("https://github.com/confidential-containers/guest-components/issues/new?title=Crash+on+bad+config&body="), "{url}");
}

async fn spam_is_hidden_and_its_sender_blocked(app: TestApp) {
    let w = World::new(&app).await;
    let spam = w.file(&app, "BUY NOW").await;
    let r = app
        .post(
            &format!("/api/v1/advisories/{spam}/close"),
            Some(&w.sm),
            json!({"reason": "spam"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let ids = |r: &crate::support::Resp| {
        r.json
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };
    assert!(
        !ids(&app.get("/api/v1/advisories", Some(&w.sm)).await).contains(&spam),
        "hidden from lists"
    );
    assert!(
        !ids(&app
            .get("/api/v1/advisories?state=closed", Some(&w.sm))
            .await)
        .contains(&spam)
    );
    assert_eq!(
        ids(&app.get("/api/v1/advisories?reason=spam", Some(&w.sm)).await),
        std::slice::from_ref(&spam)
    );

    // The sender cannot file to the organisation for the policy's 30 days, and is told until when.
    let again = app
        .post(
            "/api/v1/orgs/coco/repos/guest/advisories",
            Some(&w.reporter),
            json!({"title": "t", "description": "d"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::FORBIDDEN);
    assert!(
        again.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("2026-12-25"),
        "{}",
        again.text
    );
    assert_eq!(
        app.post(
            "/api/v1/orgs/coco/advisories",
            Some(&w.reporter),
            json!({"title": "t", "description": "d"})
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post(
            "/api/v1/orgs/kata/advisories",
            Some(&w.reporter),
            json!({"title": "t", "description": "d"})
        )
        .await
        .status,
        StatusCode::CREATED,
        "other organisations are not concerned"
    );

    // A security manager sees and lifts the block; maintainers cannot.
    assert_eq!(
        app.get("/api/v1/orgs/coco/blocks", Some(&w.maintainer))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let blocks = app.get("/api/v1/orgs/coco/blocks", Some(&w.sm)).await;
    assert_eq!(blocks.json[0]["email"], "reporter@example.org");
    let block = blocks.json[0]["id"].as_i64().unwrap();
    assert_eq!(
        app.call(
            Method::DELETE,
            &format!("/api/v1/orgs/coco/blocks/{block}"),
            Some(&w.sm),
            None
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.post(
            "/api/v1/orgs/coco/repos/guest/advisories",
            Some(&w.reporter),
            json!({"title": "t", "description": "d"})
        )
        .await
        .status,
        StatusCode::CREATED
    );

    // Spam again, then reopened as a mistake: the block goes with it.
    let other = w.file(&app, "Real report").await;
    app.post(
        &format!("/api/v1/advisories/{other}/close"),
        Some(&w.sm),
        json!({"reason": "spam"}),
    )
    .await;
    assert_eq!(
        app.post(
            "/api/v1/orgs/coco/advisories",
            Some(&w.reporter),
            json!({"title": "t", "description": "d"})
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    app.post(
        &format!("/api/v1/advisories/{other}/reopen"),
        Some(&w.sm),
        json!({}),
    )
    .await;
    assert_eq!(
        app.post(
            "/api/v1/orgs/coco/advisories",
            Some(&w.reporter),
            json!({"title": "t", "description": "d"})
        )
        .await
        .status,
        StatusCode::CREATED
    );
}

async fn filing_is_rate_limited(app: TestApp) {
    let w = World::new(&app).await;
    let r = app
        .call(
            Method::PATCH,
            "/api/v1/orgs/coco",
            Some(&w.sm),
            Some(json!({"reports_per_hour": 3})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    for _ in 0..3 {
        w.file(&app, "One of many").await;
        app.clock.advance(time::Duration::minutes(10));
    }
    let r = app
        .post(
            "/api/v1/orgs/coco/repos/guest/advisories",
            Some(&w.reporter),
            json!({"title": "t", "description": "d"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert_eq!(
        r.headers[header::RETRY_AFTER],
        "1800",
        "the oldest of the hour drops out in 30 minutes"
    );
    assert_eq!(
        app.post(
            "/api/v1/orgs/coco/repos/guest/advisories",
            Some(&w.other_reporter),
            json!({"title": "t", "description": "d"})
        )
        .await
        .status,
        StatusCode::CREATED,
        "per account"
    );
    app.clock.advance(time::Duration::minutes(31));
    assert_eq!(
        app.post(
            "/api/v1/orgs/coco/repos/guest/advisories",
            Some(&w.reporter),
            json!({"title": "t", "description": "d"})
        )
        .await
        .status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.call(
            Method::PATCH,
            "/api/v1/orgs/coco",
            Some(&w.sm),
            Some(json!({"reports_per_hour": 0}))
        )
        .await
        .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

on_both_backends!(
    duplicates_name_a_visible_original,
    not_a_vulnerability_offers_a_public_issue,
    spam_is_hidden_and_its_sender_blocked,
    filing_is_rate_limited,
);
