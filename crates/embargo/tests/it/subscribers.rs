//! Subscribers, on both backends: double opt-in, exactly one message per published or
//! withdrawn advisory, one-click unsubscribe, limits per client, no address enumeration.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use serde_json::json;

use crate::support::{BASE_URL, TestApp, World, on_both_backends};

async fn subscribe(app: &TestApp, email: &str, client: [u8; 4]) -> crate::support::Resp {
    let mut req = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/orgs/coco/subscribers")
        .header("content-type", "application/json")
        .body(Body::from(json!({ "email": email }).to_string()))
        .unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            client, 5555,
        ))));
    app.request(req).await
}

async fn queued(app: &TestApp) -> Vec<embargo_store::QueuedMail> {
    app.store.notify(BASE_URL).await.unwrap();
    let m = app.store.claim_mail(10_000).await.unwrap();
    for q in &m {
        app.store.mail_sent(q.id).await.unwrap();
    }
    m
}

async fn post_empty(app: &TestApp, path: &str, body: &'static str) -> crate::support::Resp {
    app.request(
        Request::builder()
            .method(Method::POST)
            .uri(path)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

async fn one_message_per_advisory_after_opt_in(app: TestApp) {
    let w = World::new(&app).await;
    queued(&app).await;
    let r = subscribe(&app, "Fan@Example.net", [192, 0, 2, 1]).await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let m = queued(&app).await;
    assert_eq!(m.len(), 1, "{m:#?}");
    assert_eq!(m[0].to, "fan@example.net");
    let at = m[0].body.find("/subscriptions/").unwrap() + "/subscriptions/".len();
    let token = m[0].body[at..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();

    // Not confirmed yet: a publication sends nothing to the address.
    w.advisory_in(&app, "published").await;
    assert!(queued(&app).await.iter().all(|m| m.to != "fan@example.net"));

    let page = app.page(&format!("/subscriptions/{token}"), None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("not confirmed yet"), "{}", page.text);
    let r = post_empty(&app, &format!("/subscriptions/{token}/confirm"), "").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.text.contains("Subscribed."));
    // Asking again while subscribed: the same answer, no mail.
    let r = subscribe(&app, "fan@example.net", [192, 0, 2, 1]).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    assert!(queued(&app).await.is_empty());

    let id = w.advisory_in(&app, "published").await;
    let m: Vec<_> = queued(&app)
        .await
        .into_iter()
        .filter(|m| m.to == "fan@example.net")
        .collect();
    assert_eq!(m.len(), 1, "exactly one: {m:#?}");
    assert!(m[0].subject.contains(&id), "{}", m[0].subject);
    assert!(m[0].body.contains(&format!("{BASE_URL}/advisories/{id}")));
    let unsubscribe = m[0].unsubscribe_url.clone().expect("List-Unsubscribe");
    assert_eq!(
        unsubscribe,
        format!("{BASE_URL}/subscriptions/{token}/unsubscribe")
    );
    assert!(queued(&app).await.is_empty(), "never twice");
    let r = app
        .post(
            &format!("/api/v1/advisories/{id}/withdraw"),
            Some(&w.sm),
            json!({"reason": "duplicate"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let m = queued(&app).await;
    assert_eq!(
        m.iter()
            .filter(|m| m.to == "fan@example.net" && m.subject.contains("Withdrawn"))
            .count(),
        1,
        "{m:#?}"
    );
    // Drafts and private reports never reach subscribers.
    w.advisory_in(&app, "draft").await;
    assert!(queued(&app).await.iter().all(|m| m.to != "fan@example.net"));

    // One-click unsubscribe (RFC 8058: a POST from the mail client, no cookie, no form token).
    let path = unsubscribe.strip_prefix(BASE_URL).unwrap();
    let r = post_empty(&app, path, "List-Unsubscribe=One-Click").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    w.advisory_in(&app, "published").await;
    assert!(queued(&app).await.iter().all(|m| m.to != "fan@example.net"));
    let r = post_empty(&app, "/subscriptions/nope/unsubscribe", "").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

async fn subscribing_is_limited(app: TestApp) {
    World::new(&app).await;
    for i in 0..10 {
        let r = subscribe(&app, &format!("s{i}@example.net"), [198, 51, 100, 2]).await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    }
    let r = subscribe(&app, "s10@example.net", [198, 51, 100, 2]).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    assert!(r.headers.get("retry-after").is_some());
    let r = subscribe(&app, "other@example.net", [203, 0, 113, 3]).await;
    assert_eq!(r.status, StatusCode::ACCEPTED);
    let r = subscribe(&app, "not an address", [203, 0, 113, 3]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    let r = app
        .post(
            "/api/v1/orgs/nope/subscribers",
            None,
            json!({"email": "a@example.net"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
}

on_both_backends!(
    one_message_per_advisory_after_opt_in,
    subscribing_is_limited
);
