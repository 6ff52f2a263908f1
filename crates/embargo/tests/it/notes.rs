//! Internal notes: the triagers think aloud; the reporter (and collaborators) never see it,
//! and a note does not count as a reply.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::{TestApp, World, on_both_backends};

const NOTE: &str = "NOTE-9d1 probably a duplicate of the October report";

async fn reporters_never_see_internal_notes(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.file(&app, "Thought about").await;
    w.share(&app, &id).await;
    let api = format!("/api/v1/advisories/{id}");
    let r = app
        .post(
            &format!("{api}/comments"),
            Some(&w.maintainer),
            json!({"body": NOTE, "internal": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["internal"], true);
    assert_eq!(
        app.get(&api, Some(&w.sm)).await.json["tracking"]["first_response_at"],
        json!(null),
        "a note is not a reply"
    );
    app.post(
        &format!("{api}/comments"),
        Some(&w.sc),
        json!({"body": "Thanks, we are looking at it."}),
    )
    .await;

    for triager in [&w.maintainer, &w.sm, &w.sc] {
        let t = app.get(&format!("{api}/comments"), Some(triager)).await;
        assert_eq!(t.json.as_array().unwrap().len(), 2);
        assert!(t.text.contains(NOTE));
        assert!(
            app.page(&format!("/advisories/{id}"), Some(triager))
                .await
                .text
                .contains(NOTE)
        );
    }
    for other in [&w.reporter, &w.collaborator] {
        let t = app.get(&format!("{api}/comments"), Some(other)).await;
        assert_eq!(t.json.as_array().unwrap().len(), 1, "{}", t.text);
        assert!(!t.text.contains(NOTE));
        assert!(
            !app.page(&format!("/advisories/{id}"), Some(other))
                .await
                .text
                .contains(NOTE)
        );
        assert!(!app.get(&api, Some(other)).await.text.contains(NOTE));
        assert_eq!(
            app.post(
                &format!("{api}/comments"),
                Some(other),
                json!({"body": "x", "internal": true})
            )
            .await
            .status,
            StatusCode::FORBIDDEN
        );
    }
    // A reply the reporter can see stops the clock.
    assert!(app.get(&api, Some(&w.sm)).await.json["tracking"]["first_response_at"].is_string());
}

on_both_backends!(reporters_never_see_internal_notes);
