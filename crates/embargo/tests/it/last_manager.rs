//! An organisation keeps at least one security manager: the only one cannot remove or demote
//! themselves (nor be removed by a site administrator) until another is named, on both
//! backends, through the API.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, World, on_both_backends};

async fn the_only_security_manager_stays_until_another_is_named(app: TestApp) {
    let w = World::new(&app).await;
    let member = |who: &str| format!("/api/v1/orgs/coco/members/{who}");
    let sm = Some(w.sm.as_str());
    let admin = Some(w.admin.as_str());

    for (caller, what) in [(sm, "themselves"), (admin, "a site administrator")] {
        let r = app
            .call(Method::DELETE, &member("sm@example.org"), caller, None)
            .await;
        assert_eq!(
            r.status,
            StatusCode::CONFLICT,
            "removed by {what}: {}",
            r.text
        );
        assert!(r.text.contains("only security manager"), "{}", r.text);
        let r = app
            .call(
                Method::PUT,
                &member("sm@example.org"),
                caller,
                Some(json!({"role": "steering_committee"})),
            )
            .await;
        assert_eq!(
            r.status,
            StatusCode::CONFLICT,
            "demoted by {what}: {}",
            r.text
        );
    }
    // Still the manager: may set the policy.
    let r = app
        .call(
            Method::PATCH,
            "/api/v1/orgs/coco",
            sm,
            Some(json!({"reports_per_hour": 500})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // Another member may lose their role freely; a second manager lets the first step down.
    let r = app
        .call(Method::DELETE, &member("sc@example.org"), sm, None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = app
        .call(
            Method::PUT,
            &member("sc@example.org"),
            sm,
            Some(json!({"role": "security_manager"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .call(Method::DELETE, &member("sm@example.org"), sm, None)
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    // Now sc is the only one.
    let r = app
        .call(Method::DELETE, &member("sc@example.org"), admin, None)
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
}

on_both_backends!(the_only_security_manager_stays_until_another_is_named);

/// Naming and removing the same member at once, many times over: each answer is a success or
/// a clear refusal, never a server error. On PostgreSQL the check above once locked the
/// organisation's row so strongly that the event row another request was adding (whose key
/// points at that organisation) had to wait for it while it waited for theirs: a deadlock.
async fn naming_and_removing_at_once_never_fails(app: TestApp) {
    let w = World::new(&app).await;
    let member = "/api/v1/orgs/coco/members/sc@example.org";
    let sm = Some(w.sm.as_str());
    for round in 0..40 {
        let role = if round % 2 == 0 {
            "security_manager"
        } else {
            "steering_committee"
        };
        let body = Some(json!({ "role": role }));
        let (set, removed) = tokio::join!(
            app.call(Method::PUT, member, sm, body.clone()),
            app.call(Method::DELETE, member, sm, None),
        );
        assert_eq!(set.status, StatusCode::OK, "round {round}: {}", set.text);
        assert!(
            [StatusCode::NO_CONTENT, StatusCode::NOT_FOUND].contains(&removed.status),
            "round {round}: {} {}",
            removed.status,
            removed.text
        );
    }
}

on_both_backends!(naming_and_removing_at_once_never_fails);
