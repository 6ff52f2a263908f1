//! Many reports filed at once share commits (group commit): every one is answered after it
//! is stored, each is stored once, and the access log's chain holds.

use axum::http::StatusCode;
use embargo_store::AuditCheck;
use serde_json::json;

use crate::support::{TestApp, World, on_both_backends};

async fn reports_filed_at_once_are_each_stored_once(app: TestApp) {
    const N: usize = 80;
    let w = World::new(&app).await;
    let r = app
        .call(
            axum::http::Method::PATCH,
            "/api/v1/orgs/coco",
            Some(&w.sm),
            Some(json!({"reports_per_hour": 10000})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let mut set = tokio::task::JoinSet::new();
    for i in 0..N {
        let router = app.router.clone();
        let token = if i % 2 == 0 {
            w.reporter.clone()
        } else {
            w.other_reporter.clone()
        };
        set.spawn(async move {
            use http_body_util::BodyExt;
            use tower::ServiceExt;
            let req = axum::http::Request::post("/api/v1/orgs/coco/repos/guest/advisories")
                .header("authorization", format!("Bearer {token}"))
                .header("content-type", "application/json")
                .body(axum::body::Body::from(
                    json!({"title": format!("Load report {i}"), "description": "steps"})
                        .to_string(),
                ))
                .unwrap();
            let resp = router.oneshot(req).await.unwrap();
            let status = resp.status();
            let body = resp.into_body().collect().await.unwrap().to_bytes();
            let v: serde_json::Value = serde_json::from_slice(&body).unwrap_or_default();
            (i, status, v["id"].as_str().map(str::to_owned))
        });
    }
    let mut ids = std::collections::BTreeSet::new();
    for (i, status, id) in set.join_all().await {
        assert_eq!(status, StatusCode::CREATED, "report {i}");
        let id = id.expect("an id");
        // Answered only once stored: readable at once.
        let got = app
            .get(&format!("/api/v1/advisories/{id}"), Some(&w.sm))
            .await;
        assert_eq!(got.status, StatusCode::OK, "{id}: {}", got.text);
        assert!(ids.insert(id));
    }
    assert_eq!(ids.len(), N);
    let mut titles = std::collections::BTreeSet::new();
    for id in &ids {
        let got = app
            .get(&format!("/api/v1/advisories/{id}"), Some(&w.sm))
            .await;
        titles.insert(got.json["title"].as_str().unwrap().to_owned());
    }
    assert_eq!(titles.len(), N, "each report keeps its own text");
    assert!(matches!(
        app.store.verify_audit().await.unwrap(),
        AuditCheck::Intact { .. }
    ));
}

on_both_backends!(reports_filed_at_once_are_each_stored_once);
