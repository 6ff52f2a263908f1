//! The advisory's timeline by role: security managers read the whole trail and the access
//! log; the rest of the audience (reporter, collaborator, maintainer) the events of what the
//! same rule lets them read (never internal notes, never the access log); outsiders no
//! timeline at all.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::{TestApp, World, on_both_backends};

async fn timeline_follows_the_rule(app: TestApp) {
    let w = World::new(&app).await;
    let sm = Some(w.sm.as_str());
    let id = w.advisory_in(&app, "draft").await;
    let r = app
        .post(
            &format!("/api/v1/advisories/{id}/comments"),
            sm,
            json!({"body": "triager-only-note", "internal": true}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let r = app
        .post(
            &format!("/api/v1/advisories/{id}/comments"),
            sm,
            json!({"body": "a reply for everyone"}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let page = |who: String| {
        let app = &app;
        let id = id.clone();
        async move { app.page(&format!("/advisories/{id}"), Some(&who)).await }
    };
    let access_log = format!("href=\"/advisories/{id}/audit\"");

    for (role, token) in [
        ("reporter", w.reporter.clone()),
        ("collaborator", w.collaborator.clone()),
    ] {
        let p = page(token).await;
        assert_eq!(p.status, StatusCode::OK, "{role}");
        for seen in [
            "Accepted as a draft advisory",
            "Invited collaborator@example.org",
            "Edited",
            "a reply for everyone",
        ] {
            assert!(p.text.contains(seen), "{role} sees {seen:?}: {}", p.text);
        }
        for unseen in ["triager-only-note", "Internal note", access_log.as_str()] {
            assert!(!p.text.contains(unseen), "{role} must not see {unseen:?}");
        }
    }
    // A maintainer triages: internal notes, and the same events, but not the access log.
    let p = page(w.maintainer.clone()).await;
    assert!(p.text.contains("triager-only-note"));
    assert!(p.text.contains("Accepted as a draft advisory"));
    assert!(!p.text.contains(&access_log));
    // The security manager reads everything.
    let p = page(w.sm.clone()).await;
    assert!(p.text.contains("triager-only-note") && p.text.contains(&access_log));
    // Someone outside the audience finds nothing.
    let p = page(w.outsider.clone()).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);

    // A closed report kept private: the reporter's timeline says so (as the page does),
    // and still holds no internal note.
    let closed = w.advisory_in(&app, "closed").await;
    let r = app
        .post(
            &format!("/api/v1/advisories/{closed}/comments"),
            sm,
            json!({"body": "closing-note-internal", "internal": true}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let r = app
        .post(
            &format!("/api/v1/advisories/{closed}/disclosure-exemption"),
            sm,
            json!({"reason": "legal-hold-reason"}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let p = app
        .page(&format!("/advisories/{closed}"), Some(&w.reporter))
        .await;
    assert!(
        p.text.contains("<strong>Closed: Other</strong>"),
        "{}",
        p.text
    );
    assert!(
        p.text
            .contains("<strong>Kept private: legal-hold-reason</strong>"),
        "{}",
        p.text
    );
    assert!(!p.text.contains("closing-note-internal"));
}

on_both_backends!(timeline_follows_the_rule);
