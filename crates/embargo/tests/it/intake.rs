//! One intake per organisation, and transfers: a report filed to the organisation waits for
//! its security managers and steering committee; moving it changes its audience at once.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::{TestApp, World, on_both_backends};

async fn organisation_reports_and_transfers(app: TestApp) {
    let w = World::new(&app).await;
    let r = app
        .post(
            "/api/v1/orgs/coco/advisories",
            Some(&w.reporter),
            json!({"title": "Not sure where", "description": "Somewhere in the stack"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["repository"], json!(null));
    let id = r.json["id"].as_str().unwrap().to_owned();
    let api = format!("/api/v1/advisories/{id}");

    // In the inbox: the security managers and steering committee, not any repository's maintainers.
    for (who, status) in [
        (&w.sm, 200),
        (&w.sc, 200),
        (&w.reporter, 200),
        (&w.maintainer, 404),
        (&w.other_maintainer, 404),
        (&w.other_org_sm, 404),
    ] {
        assert_eq!(app.get(&api, Some(who)).await.status.as_u16(), status);
    }
    let inbox = app
        .get("/api/v1/advisories?org=coco&state=triage", Some(&w.sm))
        .await;
    assert!(inbox.text.contains(&id));
    assert_eq!(
        app.post(
            &format!("{api}/transfer"),
            Some(&w.maintainer),
            json!({"repo": "guest"})
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post(
            &format!("{api}/transfer"),
            Some(&w.reporter),
            json!({"repo": "guest"})
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post(
            &format!("{api}/transfer"),
            Some(&w.sc),
            json!({"repo": "guest"})
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );

    // Assigned to guest: its maintainer gets it.
    let r = app
        .post(
            &format!("{api}/transfer"),
            Some(&w.sm),
            json!({"repo": "guest"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["repository"], "guest");
    assert_eq!(
        app.get(&api, Some(&w.maintainer)).await.status,
        StatusCode::OK
    );
    app.post(
        &format!("{api}/comments"),
        Some(&w.maintainer),
        json!({"body": "This is operator code, moving it."}),
    )
    .await;

    // Moved on by guest's maintainer: they lose it at once, operator's maintainer gains it;
    // the thread, deadline and reporter go with it.
    let before = app.get(&api, Some(&w.sm)).await.json;
    let r = app
        .post(
            &format!("{api}/transfer"),
            Some(&w.maintainer),
            json!({"repo": "operator"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        r.json.get("tracking").is_none(),
        "the mover no longer sees the private tracking"
    );
    assert_eq!(
        app.get(&api, Some(&w.maintainer)).await.status,
        StatusCode::NOT_FOUND
    );
    let moved = app.get(&api, Some(&w.other_maintainer)).await;
    assert_eq!(moved.status, StatusCode::OK);
    assert_eq!(
        moved.json["tracking"]["response_due_at"],
        before["tracking"]["response_due_at"]
    );
    assert_eq!(
        app.get(&format!("{api}/comments"), Some(&w.other_maintainer))
            .await
            .json
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Refused transfers change nothing.
    for (body, field) in [
        (json!({"repo": "nope"}), "repo"),
        (json!({"repo": "Bad Slug"}), "repo"),
        (json!({"repo": "operator"}), "repo"),
        (json!({"to": "guest"}), "to"),
    ] {
        let r = app
            .post(&format!("{api}/transfer"), Some(&w.sm), body.clone())
            .await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.text
        );
        assert_eq!(r.json["error"]["field"], field, "{body}");
    }
    assert_eq!(
        app.get(&api, Some(&w.sm)).await.json["repository"],
        "operator"
    );

    let events = app.get(&format!("{api}/events"), Some(&w.sm)).await;
    let kinds: Vec<&str> = events
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        ["reported", "transferred", "commented", "transferred"]
    );
    let aid = embargo_domain::ids::AdvisoryId::parse(&id).unwrap();
    assert!(app.store.replay_matches(&aid).await.unwrap());

    // Published advisories stay where they were published.
    let done = w.advisory_in(&app, "published").await;
    assert_eq!(
        app.post(
            &format!("/api/v1/advisories/{done}/transfer"),
            Some(&w.sm),
            json!({"repo": "operator"})
        )
        .await
        .status,
        StatusCode::CONFLICT
    );
}

on_both_backends!(organisation_reports_and_transfers);
