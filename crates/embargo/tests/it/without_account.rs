//! Reporters without an account, on both backends: held reports are invisible until
//! confirmed, the private link opens that one report as its reporter (and nothing else),
//! a wrong or revoked token answers like a missing report, bad input is refused clearly.

use axum::http::StatusCode;
use serde_json::json;

use crate::support::{TestApp, World, on_both_backends};

/// The token of the newest queued message's link of `kind` (`confirm`, `r`).
async fn token_from_mail(app: &TestApp, to: &str, kind: &str) -> String {
    let mails = app.store.claim_mail(100).await.unwrap();
    let m = mails
        .iter()
        .rev()
        .find(|m| m.to == to && m.body.contains(&format!("/{kind}/")))
        .unwrap_or_else(|| panic!("no /{kind}/ message to {to}: {mails:#?}"));
    for q in &mails {
        app.store.mail_sent(q.id).await.unwrap();
    }
    let at = m.body.find(&format!("/{kind}/")).unwrap() + kind.len() + 2;
    m.body[at..].split_whitespace().next().unwrap().to_owned()
}

async fn held_confirmed_and_linked(app: TestApp) {
    let w = World::new(&app).await;
    let list = |who: String| {
        let app = &app;
        async move {
            app.get("/api/v1/advisories", Some(&who))
                .await
                .json
                .as_array()
                .unwrap()
                .len()
        }
    };
    let triagers = [
        w.sm.clone(),
        w.sc.clone(),
        w.maintainer.clone(),
        w.admin.clone(),
    ];
    let mut counts = Vec::new();
    for who in &triagers {
        counts.push(list(who.clone()).await);
    }
    let before = counts[0];
    let r = app
        .post(
            "/api/v1/orgs/coco/repos/guest/advisories",
            None,
            json!({"title": "Held", "description": "secret steps", "reporter_email": "Rita@Example.org"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    assert_eq!(r.json["status"], "unconfirmed");
    assert!(!r.text.contains("secret steps"));
    // Invisible to every triager (and the site administrator), not counted anywhere.
    for (who, n) in triagers.iter().zip(&counts) {
        assert_eq!(list(who.clone()).await, *n);
    }
    let token = token_from_mail(&app, "rita@example.org", "confirm").await;

    let base = crate::support::BASE_URL;
    let c = app
        .store
        .confirm_report(&token, |t| format!("{base}/r/{t}"))
        .await
        .unwrap();
    assert_eq!(list(w.sm.clone()).await, before + 1);
    // Confirming twice finds nothing.
    assert!(
        app.store
            .confirm_report(&token, |t| t.to_owned())
            .await
            .is_err()
    );
    let link = token_from_mail(&app, "rita@example.org", "r").await;
    assert_eq!(link, c.link_token);

    // The private link opens this report; internal notes stay out of it.
    let r = app
        .post(
            &format!("/api/v1/advisories/{}/comments", c.id),
            Some(&w.sm),
            json!({"body": "triager-only", "internal": true}),
        )
        .await;
    assert!(r.status.is_success());
    let page = app.page(&format!("/r/{link}"), None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("secret steps") && !page.text.contains("triager-only"));
    assert_eq!(page.headers["referrer-policy"], "same-origin");
    // A wrong token answers exactly as a missing report does; so does a revoked one.
    let wrong = app.page(&format!("/r/{}", "f".repeat(64)), None).await;
    let missing = app.page("/advisories/EMB-2222-2222-2222", None).await;
    assert_eq!(
        (wrong.status, &wrong.text),
        (StatusCode::NOT_FOUND, &missing.text)
    );
    // Later the reporter makes it an account: a set-password link, then every report
    // filed under the address is theirs when signed in.
    app.store
        .offer_account(&link, |t| format!("{base}/reset/{t}"))
        .await
        .unwrap();
    let reset = token_from_mail(&app, "rita@example.org", "reset").await;
    let Some(Some(uid)) = app.store.check_link_token("reset", &reset).await.unwrap() else {
        panic!("the reset link names the reporter's account")
    };
    assert!(app.store.use_link_token("reset", &reset).await.unwrap());
    app.store
        .set_password(uid, "a long enough password")
        .await
        .unwrap();
    let user = app
        .store
        .authenticate("rita@example.org", "a long enough password")
        .await
        .unwrap()
        .expect("signs in");
    let api = app.store.create_api_token(user.id, "mine").await.unwrap();
    let mine = app
        .get(&format!("/api/v1/advisories/{}", c.id), Some(&api))
        .await;
    assert_eq!(mine.status, StatusCode::OK);
    assert!(
        app.store
            .offer_account(&link, |t| t.to_owned())
            .await
            .is_err(),
        "an account already"
    );
    app.store.revoke_reporter_link(&link).await.unwrap();
    let revoked = app.page(&format!("/r/{link}"), None).await;
    assert_eq!(
        (revoked.status, &revoked.text),
        (StatusCode::NOT_FOUND, &missing.text)
    );
    // The reporter's account has no password: nobody signs in as it.
    assert!(
        app.store
            .authenticate("rita@example.org", "")
            .await
            .unwrap()
            .is_none()
    );
    // Closed as spam: the address is blocked from filing again, and is told until when.
    let r = app
        .post(
            &format!("/api/v1/advisories/{}/close", c.id),
            Some(&w.sm),
            json!({"reason": "spam"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .post(
            "/api/v1/orgs/coco/advisories",
            None,
            json!({"title": "again", "description": "d", "reporter_email": "rita@example.org"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    assert!(r.text.contains("can be filed again from"), "{}", r.text);
}

async fn held_reports_expire(app: TestApp) {
    World::new(&app).await;
    let r = app
        .post(
            "/api/v1/orgs/coco/advisories",
            None,
            json!({"title": "t", "description": "d", "reporter_email": "late@example.org"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let token = token_from_mail(&app, "late@example.org", "confirm").await;
    app.clock.advance(time::Duration::days(8));
    assert_eq!(app.store.expire_pending_reports().await.unwrap(), 1);
    assert!(
        app.store
            .confirm_report(&token, |t| t.to_owned())
            .await
            .is_err()
    );
}

async fn bad_input_without_account(app: TestApp) {
    let w = World::new(&app).await;
    let path = "/api/v1/orgs/coco/repos/guest/advisories";
    for (token, body, status, field) in [
        (
            None,
            json!({"title": "t", "description": "d", "reporter_email": "not-an-address"}),
            422,
            Some("reporter_email"),
        ),
        (
            None,
            json!({"title": "t", "description": "d", "reporter_email": 7}),
            422,
            Some("reporter_email"),
        ),
        (
            Some(w.reporter.as_str()),
            json!({"title": "t", "description": "d", "reporter_email": "a@example.org"}),
            422,
            Some("reporter_email"),
        ),
        (None, json!({"title": "t", "description": "d"}), 401, None),
        (
            None,
            json!({"title": "", "description": "d", "reporter_email": "a@example.org"}),
            422,
            Some("title"),
        ),
        (
            None,
            json!({"title": "t", "description": "d", "reporter_emial": "a@example.org"}),
            422,
            Some("reporter_emial"),
        ),
    ] {
        let r = app.post(path, token, body.clone()).await;
        assert_eq!(r.status.as_u16(), status, "{body}: {}", r.text);
        if let Some(f) = field {
            assert!(r.text.contains(f), "{body}: {}", r.text);
        }
    }
    // Nothing was held: no confirmation went out.
    assert!(
        app.store
            .claim_mail(100)
            .await
            .unwrap()
            .iter()
            .all(|m| !m.subject.contains("Confirm"))
    );
    // One address gets at most three confirmations an hour.
    for i in 0..4 {
        let r = app
            .post(path, None, json!({"title": format!("t{i}"), "description": "d", "reporter_email": "flood@example.org"}))
            .await;
        assert_eq!(
            r.status.as_u16(),
            if i < 3 { 202 } else { 429 },
            "{}",
            r.text
        );
    }
}

on_both_backends!(
    held_confirmed_and_linked,
    held_reports_expire,
    bad_input_without_account
);
