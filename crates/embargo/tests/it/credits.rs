//! Credits need the credited person's consent: a credit naming an account by its e-mail is
//! public (under the account's name, never the address) only once accepted; the credited
//! person answers from the advisory's page or the API; the audience sees every answer.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};

use crate::support::{TestApp, World, on_both_backends};
use crate::web::{csrf_in, form};

const CREDITS: &str = r#"[
    {"name": "reporter@example.org", "type": "finder"},
    {"name": "outsider@example.org", "type": "analyst"},
    {"name": "nobody-yet@example.org", "type": "coordinator"},
    {"name": "The Fuzzing Team", "type": "tool"}
]"#;

/// The public credits of `id` as OSV lists them: (name, type).
async fn osv_credits(app: &TestApp, id: &str) -> Vec<(String, String)> {
    let r = app.get(&format!("/advisories/{id}/osv.json"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json["credits"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["type"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

/// No public document of `id` names any of the credited addresses.
async fn no_address_in_public(app: &TestApp, id: &str) {
    for path in [
        format!("/advisories/{id}"),
        format!("/advisories/{id}/osv.json"),
        format!("/advisories/{id}/csaf.json"),
        format!("/advisories/{id}/bulletin.md"),
        "/feeds/advisories.atom".to_owned(),
    ] {
        let r = app.page(&path, None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        for address in [
            "reporter@example.org",
            "outsider@example.org",
            "nobody-yet@",
        ] {
            assert!(!r.text.contains(address), "{path} shows {address}");
        }
    }
}

async fn credits_need_consent(app: TestApp) {
    let w = World::new(&app).await;
    let sm = Some(w.sm.as_str());
    let id = w.advisory_in(&app, "draft").await;
    let credits: Value = serde_json::from_str(CREDITS).unwrap();
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/advisories/{id}"),
            sm,
            Some(json!({ "credits": credits })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // Before publication the preview shows what would be published: no pending credit.
    let preview = app
        .page(&format!("/advisories/{id}/preview/osv.json"), Some(&w.sm))
        .await;
    assert_eq!(preview.status, StatusCode::OK, "{}", preview.text);
    assert_eq!(
        preview.json["credits"],
        json!([{"name": "The Fuzzing Team", "type": "TOOL"}])
    );
    // An unpublished advisory's credits stay with its audience.
    let api = |path: String| format!("/api/v1/advisories/{id}/{path}");
    let r = app.get(&api("credits".into()), Some(&w.outsider)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = app
        .post(
            &api("credit".into()),
            Some(&w.outsider),
            json!({"accept": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);

    let r = app.post(&api("publish".into()), sm, json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // Published: only the credit in words is public.
    assert_eq!(
        osv_credits(&app, &id).await,
        vec![("The Fuzzing Team".into(), "TOOL".into())]
    );
    no_address_in_public(&app, &id).await;

    // The security manager sees every credit and where it stands, and answers none.
    let r = app.get(&api("credits".into()), sm).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let states: Vec<(&str, &str, bool)> = r
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["name"].as_str().unwrap(),
                c["consent"].as_str().unwrap(),
                c["mine"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        states,
        vec![
            ("reporter@example.org", "pending", false),
            ("outsider@example.org", "pending", false),
            ("nobody-yet@example.org", "pending", false),
            ("The Fuzzing Team", "not_needed", false),
        ]
    );
    let page = app.page(&format!("/advisories/{id}"), Some(&w.sm)).await;
    assert!(page.text.contains("Credits and consent"), "{}", page.text);
    assert!(!page.text.contains("Accept the credit"));
    // The editor says how to ask for consent.
    let edit = app
        .page(&format!("/advisories/{id}/edit"), Some(&w.sm))
        .await;
    assert!(
        edit.text
            .contains("by their e-mail address to ask for their consent"),
        "{}",
        edit.text
    );
    // Someone the advisory does not credit has nothing to answer.
    let r = app
        .post(
            &api("credit".into()),
            Some(&w.maintainer),
            json!({"accept": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = app
        .post(&api("credit".into()), None, json!({"accept": true}))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{}", r.text);

    // The reporter (the audience) accepts from the advisory's page.
    let cookie = app.session_cookie(&w.reporter).await;
    let page = app
        .request(
            Request::get(format!("/advisories/{id}"))
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(page.text.contains("Accept the credit"), "{}", page.text);
    let before = app.store.public_revision().await.unwrap();
    let r = app
        .request(form(
            &format!("/advisories/{id}/credit"),
            Some(&cookie),
            &[("csrf", &csrf_in(&page.text)), ("answer", "accept")],
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert!(app.store.public_revision().await.unwrap() > before);
    // Public now, under the account's name; the address never.
    assert_eq!(
        osv_credits(&app, &id).await,
        vec![
            ("reporter".into(), "FINDER".into()),
            ("The Fuzzing Team".into(), "TOOL".into())
        ]
    );
    no_address_in_public(&app, &id).await;
    let public = app.page(&format!("/advisories/{id}"), None).await;
    assert!(public.text.contains("reporter (finder)"), "{}", public.text);

    // The outsider, credited on a public advisory, sees only their own credit, and declines.
    let page = app
        .page(&format!("/advisories/{id}"), Some(&w.outsider))
        .await;
    assert!(page.text.contains("You are credited"), "{}", page.text);
    assert!(!page.text.contains("reporter@example.org"));
    let r = app.get(&api("credits".into()), Some(&w.outsider)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json.as_array().unwrap().len(), 1, "{}", r.json);
    assert_eq!(r.json[0]["mine"], true);
    let r = app
        .post(
            &api("credit".into()),
            Some(&w.outsider),
            json!({"accept": false}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let r = app.get(&api("credits".into()), sm).await;
    assert_eq!(r.json[1]["consent"], "declined", "{}", r.json);
    assert_eq!(osv_credits(&app, &id).await.len(), 2);

    // Answers are checked: a form with anything else is refused.
    let r = app
        .post(
            &api("credit".into()),
            Some(&w.reporter),
            json!({"accept": "yes"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    // Whoever signs up later with the pending address can accept; until then, nothing.
    let nobody = app.user("nobody-yet@example.org", false).await;
    assert_eq!(osv_credits(&app, &id).await.len(), 2);
    let r = app
        .post(
            &api("credit".into()),
            Some(&nobody),
            json!({"accept": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert!(
        osv_credits(&app, &id)
            .await
            .contains(&("nobody-yet".into(), "COORDINATOR".into()))
    );
}

on_both_backends!(credits_need_consent);
