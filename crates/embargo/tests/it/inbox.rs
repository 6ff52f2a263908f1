//! The inbox: filters by organisation, repository, state, reason and words; sorts by
//! deadline, creation or change; continues page by page with a cursor.

use axum::http::{StatusCode, header};
use serde_json::json;

use crate::support::{Resp, TestApp, World, on_both_backends};

fn ids(r: &Resp) -> Vec<String> {
    r.json
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

/// The `cursor` in a response's `Link` header, as a path.
fn next(r: &Resp) -> Option<String> {
    let link = r.headers.get(header::LINK)?.to_str().unwrap().to_owned();
    let url = link
        .trim_start_matches('<')
        .split('>')
        .next()
        .unwrap()
        .to_owned();
    Some(url.trim_start_matches("http://embargo.test").to_owned())
}

async fn inbox_filters_sorts_and_pages(app: TestApp) {
    let w = World::new(&app).await;
    let mut filed = Vec::new();
    for (i, title) in [
        "Heap overflow in parser",
        "Token leak",
        "Parser crash on input",
        "Race in agent",
        "Weak default",
    ]
    .iter()
    .enumerate()
    {
        let repo = if i % 2 == 0 { "guest" } else { "operator" };
        let r = app
            .post(
                &format!("/api/v1/orgs/coco/repos/{repo}/advisories"),
                Some(&w.reporter),
                json!({"title": title, "description": "d"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
        filed.push(r.json["id"].as_str().unwrap().to_owned());
        app.clock.advance(time::Duration::hours(1));
    }
    // A reply to the newest moves it forward in "updated", not in "created".
    app.post(
        &format!("/api/v1/advisories/{}/comments", filed[0]),
        Some(&w.sm),
        json!({"body": "seen"}),
    )
    .await;

    let created = app
        .get("/api/v1/advisories?sort=created", Some(&w.sm))
        .await;
    assert_eq!(
        ids(&created),
        filed.iter().rev().cloned().collect::<Vec<_>>()
    );
    let updated = app.get("/api/v1/advisories", Some(&w.sm)).await;
    assert_eq!(ids(&updated)[0], filed[0]);
    let deadline = app
        .get("/api/v1/advisories?sort=deadline", Some(&w.sm))
        .await;
    assert_eq!(
        ids(&deadline),
        filed,
        "the oldest report's deadline comes first"
    );

    let guest = app.get("/api/v1/advisories?repo=guest", Some(&w.sm)).await;
    assert_eq!(ids(&guest).len(), 3);
    let words = app.get("/api/v1/advisories?q=PARSER", Some(&w.sm)).await;
    let mut found = ids(&words);
    found.sort();
    let mut expected = vec![filed[0].clone(), filed[2].clone()];
    expected.sort();
    assert_eq!(found, expected);
    // Words match only what the caller may read.
    assert!(
        ids(&app
            .get("/api/v1/advisories?q=parser", Some(&w.outsider))
            .await)
        .is_empty()
    );

    // Page by page, nothing twice, nothing missed.
    let mut seen = Vec::new();
    let mut page = app
        .get("/api/v1/advisories?sort=created&limit=2", Some(&w.sm))
        .await;
    loop {
        seen.extend(ids(&page));
        match next(&page) {
            Some(path) => page = app.get(&path, Some(&w.sm)).await,
            None => break,
        }
    }
    assert_eq!(seen, filed.iter().rev().cloned().collect::<Vec<_>>());
    for (path, field) in [
        ("/api/v1/advisories?cursor=zz", "cursor"),
        ("/api/v1/advisories?sort=oldest", "sort"),
    ] {
        let r = app.get(path, Some(&w.sm)).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert_eq!(r.json["error"]["field"], field);
    }
}

/// The web inbox shows each open report's reply deadline, and marks the overdue ones.
async fn web_inbox_shows_deadlines(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.file(&app, "Waiting for a reply").await;
    let page = app
        .page("/advisories?sort=deadline&q=waiting", Some(&w.sm))
        .await;
    assert!(
        page.text.contains(&id)
            && page.text.contains("Reply due")
            && page.text.contains("2026-12-09")
    );
    assert!(!page.text.contains("class=\"overdue\""));
    app.clock.advance(time::Duration::days(15));
    let page = app.page("/advisories?sort=deadline", Some(&w.sm)).await;
    assert!(
        page.text
            .contains("<strong class=\"overdue\"><time datetime=\"2026-12-09T"),
        "{}",
        page.text
    );
    let page = app
        .page("/advisories?q=nothing-like-this", Some(&w.sm))
        .await;
    assert!(!page.text.contains(&id));
    assert_eq!(
        app.page("/advisories?sort=sideways", Some(&w.sm))
            .await
            .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

/// The filters the store has no column for (severity here) count matching rows: critical
/// reports filed before 520 unscored ones are found, though they are not among the first 500
/// rows of the list.
async fn web_inbox_filters_reach_past_the_first_rows(app: TestApp) {
    const CRITICAL: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";
    let w = World::new(&app).await;
    let mut critical = Vec::new();
    for i in 0..3 {
        let id = w.file(&app, &format!("Critical one {i}")).await;
        let r = app
            .call(
                axum::http::Method::PATCH,
                &format!("/api/v1/advisories/{id}"),
                Some(&w.sm),
                Some(json!({"cvss_vector": CRITICAL})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        critical.push(id);
    }
    // Filed later, so first in the "created" order: 520 reports without a score.
    app.clock.advance(time::Duration::minutes(5));
    let mut set = tokio::task::JoinSet::new();
    for chunk in 0..8 {
        let router = app.router.clone();
        let token = w.reporter.clone();
        set.spawn(async move {
            for i in 0..65 {
                let r = tower::ServiceExt::oneshot(
                    router.clone(),
                    axum::http::Request::post("/api/v1/orgs/coco/repos/guest/advisories")
                        .header(header::AUTHORIZATION, format!("Bearer {token}"))
                        .header(header::CONTENT_TYPE, "application/json")
                        .body(axum::body::Body::from(
                            json!({"title": format!("Unscored {chunk}-{i}"), "description": "steps"})
                                .to_string(),
                        ))
                        .unwrap(),
                )
                .await
                .unwrap();
                assert_eq!(r.status(), StatusCode::CREATED);
            }
        });
    }
    while let Some(done) = set.join_next().await {
        done.unwrap();
    }
    let page = app
        .page("/inbox?sort=created&severity=critical", Some(&w.sm))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    // Ids are links; one id can be the start of another (…-1 and …-10).
    let link = |id: &str| format!("/advisories/{id}\"");
    for id in &critical {
        assert!(
            page.text.contains(&link(id)),
            "{id} is found past the first rows"
        );
    }
    assert!(!page.text.contains("Unscored"));
    assert!(!page.text.contains("Only the first"), "nothing is cut");
    // Unfiltered, the list is cut at its limit and says so.
    let page = app.page("/inbox?sort=created", Some(&w.sm)).await;
    assert!(page.text.contains("Only the first 200"), "{}", page.text);
    assert!(page.text.contains("Unscored"));
    assert!(!page.text.contains(&link(&critical[0])));
}

on_both_backends!(
    inbox_filters_sorts_and_pages,
    web_inbox_shows_deadlines,
    web_inbox_filters_reach_past_the_first_rows
);
