//! Need-to-know sharing: a collaborator sees the advisory they were invited to and nothing
//! else, from acceptance until revocation or expiry, and every step is on the record.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, World, on_both_backends};

async fn invited_sees_one_advisory_until_revoked(app: TestApp) {
    let w = World::new(&app).await;
    let shared = w.file(&app, "Shared with a distributor").await;
    let other = w.file(&app, "Not shared").await;
    let distro = app.user("security@distro.example", false).await;
    let path = format!("/api/v1/advisories/{shared}/collaborators");

    let r = app
        .post(
            &path,
            Some(&w.maintainer),
            json!({"email": "security@distro.example", "organisation": "Distro Linux"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(
        r.json.get("signup_url").is_none(),
        "the address has an account"
    );
    let cid = r.json["id"].as_i64().unwrap();

    // Before accepting: the invitation says where, not what; the advisory is not theirs yet.
    let inv = app.get("/api/v1/invitations", Some(&distro)).await;
    assert_eq!(inv.json[0]["advisory_id"], shared.as_str());
    assert!(
        !inv.text.contains("Shared with a distributor"),
        "{}",
        inv.text
    );
    assert_eq!(
        app.get(&format!("/api/v1/advisories/{shared}"), Some(&distro))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Only the invited account can accept it.
    assert_eq!(
        app.post(
            &format!("/api/v1/invitations/{cid}/accept"),
            Some(&w.outsider),
            json!({})
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post(
            &format!("/api/v1/invitations/{cid}/accept"),
            Some(&distro),
            json!({})
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        app.post(
            &format!("/api/v1/invitations/{cid}/accept"),
            Some(&distro),
            json!({})
        )
        .await
        .status,
        StatusCode::CONFLICT
    );

    // Accepted: that advisory, its thread, a comment; nothing else of the organisation.
    assert_eq!(
        app.get(&format!("/api/v1/advisories/{shared}"), Some(&distro))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.post(
            &format!("/api/v1/advisories/{shared}/comments"),
            Some(&distro),
            json!({"body": "We ship it in 3 releases."})
        )
        .await
        .status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.get(&format!("/api/v1/advisories/{other}"), Some(&distro))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let list = app.get("/api/v1/advisories", Some(&distro)).await;
    let ids: Vec<&str> = list
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [shared.as_str()]);
    // They can neither edit nor invite further.
    assert_eq!(
        app.call(
            Method::PATCH,
            &format!("/api/v1/advisories/{shared}"),
            Some(&distro),
            Some(json!({"summary": "x"}))
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.post(
            &path,
            Some(&distro),
            json!({"email": "friend@distro.example"})
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    let listed = app.get(&path, Some(&w.reporter)).await;
    assert_eq!(listed.json[0]["status"], "active");
    assert_eq!(listed.json[0]["organisation"], "Distro Linux");

    // Revoked: the very next request is refused like a missing advisory.
    assert_eq!(
        app.call(Method::DELETE, &format!("{path}/{cid}"), Some(&w.sm), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        app.get(&format!("/api/v1/advisories/{shared}"), Some(&distro))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert!(
        app.get("/api/v1/advisories", Some(&distro))
            .await
            .json
            .as_array()
            .unwrap()
            .is_empty()
    );

    let events = app
        .get(&format!("/api/v1/advisories/{shared}/events"), Some(&w.sm))
        .await;
    let kinds: Vec<&str> = events
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "reported",
            "collaborator_invited",
            "collaborator_accepted",
            "commented",
            "collaborator_revoked"
        ]
    );
    let id = embargo_domain::ids::AdvisoryId::parse(&shared).unwrap();
    assert!(app.store.replay_matches(&id).await.unwrap());
}

async fn invitations_expire(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.file(&app, "Short embargo").await;
    let distro = app.user("security@distro.example", false).await;
    let r = app
        .post(
            &format!("/api/v1/advisories/{id}/collaborators"),
            Some(&w.sm),
            json!({"email": "security@distro.example", "expires_at": "2026-11-26T09:00:00Z"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let cid = r.json["id"].as_i64().unwrap();
    app.post(
        &format!("/api/v1/invitations/{cid}/accept"),
        Some(&distro),
        json!({}),
    )
    .await;
    assert_eq!(
        app.get(&format!("/api/v1/advisories/{id}"), Some(&distro))
            .await
            .status,
        StatusCode::OK
    );
    app.clock.advance(time::Duration::hours(24));
    assert_eq!(
        app.get(&format!("/api/v1/advisories/{id}"), Some(&distro))
            .await
            .status,
        StatusCode::NOT_FOUND,
        "expired at the stroke of its time"
    );
    // The expiry is recorded once, however many instances run the scheduler.
    assert_eq!(app.store.record_expiries().await.unwrap(), 1);
    assert_eq!(app.store.record_expiries().await.unwrap(), 0);
    let events = app
        .get(&format!("/api/v1/advisories/{id}/events"), Some(&w.sm))
        .await;
    assert_eq!(
        events.json.as_array().unwrap().last().unwrap()["kind"],
        "collaborator_expired"
    );
    assert_eq!(
        app.get(
            &format!("/api/v1/advisories/{id}/collaborators"),
            Some(&w.sm)
        )
        .await
        .json[0]["status"],
        "expired"
    );
}

async fn people_without_an_account_sign_up_from_the_link(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.file(&app, "For a vendor").await;
    let r = app
        .post(
            &format!("/api/v1/advisories/{id}/collaborators"),
            Some(&w.sm),
            json!({"email": "psirt@vendor.example"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let url = r.json["signup_url"].as_str().unwrap().to_owned();
    assert!(url.starts_with("http://embargo.test/invite/"));
    let path = url.trim_start_matches("http://embargo.test");
    let page = app.page(path, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("psirt@vendor.example"));
    let user = app
        .store
        .accept_with_signup(
            path.trim_start_matches("/invite/"),
            "Vendor PSIRT",
            "a long enough password",
        )
        .await
        .unwrap();
    let token = app.store.create_api_token(user.id, "t").await.unwrap();
    assert_eq!(
        app.get(&format!("/api/v1/advisories/{id}"), Some(&token))
            .await
            .status,
        StatusCode::OK
    );
    // The link worked once.
    assert_eq!(app.page(path, None).await.status, StatusCode::NOT_FOUND);
    assert!(
        app.store
            .accept_with_signup(
                path.trim_start_matches("/invite/"),
                "Again",
                "a long enough password"
            )
            .await
            .is_err()
    );
}

async fn bad_invitations_are_refused(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.file(&app, "Guarded").await;
    let path = format!("/api/v1/advisories/{id}/collaborators");
    let cases = [
        (json!({"email": "not-an-address"}), 422, "email"),
        (
            json!({"email": "a@example.org", "expires_at": "2020-01-01T00:00:00Z"}),
            422,
            "expires_at",
        ),
        (
            json!({"email": "a@example.org", "expires_at": "2030-01-01T00:00:00Z"}),
            422,
            "expires_at",
        ),
        (
            json!({"email": "a@example.org", "expires_at": "tomorrow"}),
            422,
            "expires_at",
        ),
        (
            json!({"email": "a@example.org", "role": "admin"}),
            422,
            "role",
        ),
    ];
    for (body, status, field) in cases {
        let r = app.post(&path, Some(&w.sm), body.clone()).await;
        assert_eq!(r.status.as_u16(), status, "{body}: {}", r.text);
        assert_eq!(r.json["error"]["field"], field, "{body}: {}", r.text);
    }
    assert_eq!(
        app.post(&path, Some(&w.sm), json!({"email": "a@example.org"}))
            .await
            .status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.post(&path, Some(&w.sm), json!({"email": "A@example.org"}))
            .await
            .status,
        StatusCode::CONFLICT,
        "invited already"
    );
    assert_eq!(
        app.get(&path, Some(&w.sm))
            .await
            .json
            .as_array()
            .unwrap()
            .len(),
        1,
        "nothing else was stored"
    );
    assert_eq!(
        app.call(Method::DELETE, &format!("{path}/999999"), Some(&w.sm), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

on_both_backends!(
    invited_sees_one_advisory_until_revoked,
    invitations_expire,
    people_without_an_account_sign_up_from_the_link,
    bad_invitations_are_refused,
);
