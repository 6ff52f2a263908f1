//! Per-user mail preferences, on both backends: new reports, replies and reminders can be
//! turned off; escalations are always sent.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{BASE_URL, TestApp, World, on_both_backends};

async fn mails(app: &TestApp) -> Vec<embargo_store::QueuedMail> {
    app.store.notify(BASE_URL).await.unwrap();
    let m = app.store.claim_mail(10_000).await.unwrap();
    for q in &m {
        app.store.mail_sent(q.id).await.unwrap();
    }
    m
}

fn to<'a>(m: &'a [embargo_store::QueuedMail], who: &str, subject: &str) -> Vec<&'a str> {
    m.iter()
        .filter(|q| q.to == who && q.subject.contains(subject))
        .map(|q| q.subject.as_str())
        .collect()
}

async fn users_choose_their_mail(app: TestApp) {
    let w = World::new(&app).await;
    mails(&app).await;
    let prefs = "/api/v1/user/mail-preferences";
    let r = app.get(prefs, Some(&w.maintainer)).await;
    assert_eq!(
        r.json,
        json!({"new_reports": true, "replies": true, "reminders": true, "daily_digest": false})
    );
    let r = app
        .call(
            Method::PUT,
            prefs,
            Some(&w.maintainer),
            Some(json!({"new_reports": false, "reminders": false})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["replies"], true, "absent means on");
    let r = app
        .call(
            Method::PUT,
            prefs,
            Some(&w.sm),
            Some(json!({"digest": "daily"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let r = app
        .call(
            Method::PUT,
            prefs,
            Some(&w.sm),
            Some(json!({"replies": false})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);

    let r = app
        .call(
            Method::PATCH,
            "/api/v1/orgs/coco",
            Some(&w.sm),
            Some(json!({"response_deadline": "2d", "reminders": ["1d"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let id = w.file(&app, "Prefs").await;
    let m = mails(&app).await;
    assert!(to(&m, "maintainer@example.org", "New report").is_empty());
    assert_eq!(to(&m, "sm@example.org", "New report").len(), 1);
    // A reply by the reporter: the security manager turned replies off.
    app.post(
        &format!("/api/v1/advisories/{id}/comments"),
        Some(&w.reporter),
        json!({"body": "more"}),
    )
    .await;
    let m = mails(&app).await;
    assert!(to(&m, "sm@example.org", "reply").is_empty(), "{m:#?}");
    assert_eq!(to(&m, "maintainer@example.org", "reply").len(), 1, "{m:#?}");
    // Reminders: off for the maintainer; the escalation goes out whatever.
    app.clock
        .advance(time::Duration::days(1) + time::Duration::minutes(1));
    app.store.run_deadlines(BASE_URL).await.unwrap();
    let m = mails(&app).await;
    assert!(to(&m, "maintainer@example.org", "Reply due").is_empty());
    assert_eq!(to(&m, "sm@example.org", "Reply due").len(), 1);
    let r = app
        .call(
            Method::PUT,
            prefs,
            Some(&w.sc),
            Some(json!({"new_reports": false, "replies": false, "reminders": false})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    app.clock.advance(time::Duration::days(1));
    app.store.run_deadlines(BASE_URL).await.unwrap();
    let m = mails(&app).await;
    assert_eq!(
        to(&m, "sc@example.org", "Overdue").len(),
        1,
        "escalations are always sent"
    );

    // The account page's form.
    let cookie = app.session_cookie(&w.maintainer).await;
    let page = app
        .request(
            axum::http::Request::get("/account")
                .header(axum::http::header::COOKIE, cookie.clone())
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert!(
        page.text.contains("New reports where I triage"),
        "{}",
        page.text
    );
    let csrf = crate::web::csrf_in(&page.text);
    let r = app
        .request(crate::web::form(
            "/account/mail",
            Some(&cookie),
            &[("csrf", &csrf), ("new_reports", "on"), ("replies", "on")],
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let r = app.get(prefs, Some(&w.maintainer)).await;
    assert_eq!(
        r.json,
        json!({"new_reports": true, "replies": true, "reminders": false, "daily_digest": false})
    );
}

/// A daily digest: new reports and replies held, then one message at 07:00 UTC listing
/// them; other mail (escalations) still goes at once.
async fn a_daily_digest(app: TestApp) {
    let w = World::new(&app).await;
    mails(&app).await;
    let r = app
        .call(
            Method::PUT,
            "/api/v1/user/mail-preferences",
            Some(&w.sm),
            Some(json!({"daily_digest": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let a = w.file(&app, "First").await;
    let b = w.file(&app, "Second").await;
    let m = mails(&app).await;
    assert!(m.iter().all(|q| q.to != "sm@example.org"), "held: {m:#?}");
    assert!(!to(&m, "maintainer@example.org", "New report").is_empty());
    // The test clock starts at 09:00 UTC: the digest goes at 07:00 the next day.
    app.clock
        .advance(time::Duration::hours(21) + time::Duration::minutes(59));
    assert!(mails(&app).await.iter().all(|q| q.to != "sm@example.org"));
    app.clock.advance(time::Duration::minutes(2));
    let m = mails(&app).await;
    let digests: Vec<_> = m.iter().filter(|q| q.to == "sm@example.org").collect();
    assert_eq!(digests.len(), 1, "{m:#?}");
    assert!(digests[0].subject.contains("Daily digest: 2 messages"));
    assert!(digests[0].body.contains(&a) && digests[0].body.contains(&b));
    assert!(
        digests[0]
            .body
            .contains(&format!("{BASE_URL}/advisories/{a}"))
    );
    assert!(mails(&app).await.is_empty(), "once");
}

on_both_backends!(users_choose_their_mail, a_daily_digest);
