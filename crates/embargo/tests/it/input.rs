//! Bad input gets a clear error naming the field, with the right status, and stores nothing.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::{Value, json};

use crate::support::{TestApp, World, on_both_backends};

/// Everything the security manager can see, to compare before and after refused requests.
async fn everything(app: &TestApp, w: &World) -> Value {
    let list = app
        .get("/api/v1/advisories?limit=500", Some(&w.sm))
        .await
        .json;
    let repos = app.get("/api/v1/orgs/coco/repos", None).await.json;
    let orgs = app.get("/api/v1/orgs", None).await.json;
    json!({"advisories": list, "repos": repos, "orgs": orgs})
}

async fn refused_input_names_the_field_and_stores_nothing(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.advisory_in(&app, "draft").await;
    let file = "/api/v1/orgs/coco/repos/guest/advisories";
    let edit = format!("/api/v1/advisories/{id}");
    let long = "x".repeat(257);
    let huge = "y".repeat(70_000);
    // (what, method, path, body, status, field)
    let cases: Vec<(&str, Method, String, Value, u16, &str)> = vec![
        (
            "unknown field",
            Method::POST,
            file.into(),
            json!({"title": "t", "description": "d", "severity": "high"}),
            422,
            "severity",
        ),
        (
            "missing title",
            Method::POST,
            file.into(),
            json!({"description": "d"}),
            422,
            "",
        ),
        (
            "empty title",
            Method::POST,
            file.into(),
            json!({"title": "  ", "description": "d"}),
            422,
            "title",
        ),
        (
            "title too long",
            Method::POST,
            file.into(),
            json!({"title": long, "description": "d"}),
            422,
            "title",
        ),
        (
            "description too long",
            Method::POST,
            file.into(),
            json!({"title": "t", "description": huge}),
            422,
            "description",
        ),
        (
            "control character",
            Method::POST,
            file.into(),
            json!({"title": "a\u{7}b", "description": "d"}),
            422,
            "title",
        ),
        (
            "wrong type",
            Method::POST,
            file.into(),
            json!({"title": 5, "description": "d"}),
            422,
            "title",
        ),
        (
            "bad ecosystem",
            Method::POST,
            file.into(),
            json!({"title": "t", "description": "d", "vulnerabilities": [{"package": {"ecosystem": "nonsense", "name": "p"}}]}),
            422,
            "vulnerabilities[0].package.ecosystem",
        ),
        (
            "bad range",
            Method::PATCH,
            edit.clone(),
            json!({"vulnerabilities": [{"package": {"ecosystem": "npm", "name": "p"}, "vulnerable_version_range": "1.0"}]}),
            422,
            "vulnerabilities[0].vulnerable_version_range",
        ),
        (
            "bad patched version",
            Method::PATCH,
            edit.clone(),
            json!({"vulnerabilities": [{"package": {"ecosystem": "npm", "name": "p"}, "patched_versions": "1.0 or later"}]}),
            422,
            "vulnerabilities[0].patched_versions",
        ),
        (
            "bad cve",
            Method::PATCH,
            edit.clone(),
            json!({"cve_id": "CVE-26-1"}),
            422,
            "cve_id",
        ),
        (
            "bad cwe",
            Method::PATCH,
            edit.clone(),
            json!({"cwe_ids": ["CWE-79", "XSS"]}),
            422,
            "cwe_ids[1]",
        ),
        (
            "bad cvss",
            Method::PATCH,
            edit.clone(),
            json!({"cvss_vector": "AV:N/AC:L"}),
            422,
            "cvss_vector",
        ),
        (
            "two v3 vectors",
            Method::PATCH,
            edit.clone(),
            json!({"cvss_vectors": ["CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H", "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"]}),
            422,
            "cvss_vectors",
        ),
        (
            "vector twice",
            Method::PATCH,
            edit.clone(),
            json!({"cvss_vector": null, "cvss_vectors": []}),
            422,
            "cvss_vector",
        ),
        (
            "bad reference",
            Method::PATCH,
            edit.clone(),
            json!({"references": ["javascript:alert(1)"]}),
            422,
            "references[0]",
        ),
        (
            "bad credit type",
            Method::PATCH,
            edit.clone(),
            json!({"credits": [{"name": "A", "type": "hero"}]}),
            422,
            "credits[0].type",
        ),
        (
            "too many cwes",
            Method::PATCH,
            edit.clone(),
            json!({"cwe_ids": (1..=21).map(|i| format!("CWE-{i}")).collect::<Vec<_>>()}),
            422,
            "cwe_ids",
        ),
        (
            "empty edit",
            Method::PATCH,
            edit.clone(),
            json!({}),
            422,
            "",
        ),
        (
            "unknown edit field",
            Method::PATCH,
            edit.clone(),
            json!({"state": "published"}),
            422,
            "state",
        ),
        (
            "bad close reason",
            Method::POST,
            format!("{edit}/close"),
            json!({"reason": "bored"}),
            422,
            "reason",
        ),
        (
            "empty comment",
            Method::POST,
            format!("{edit}/comments"),
            json!({"body": ""}),
            422,
            "body",
        ),
        (
            "bad org slug",
            Method::POST,
            "/api/v1/orgs".into(),
            json!({"slug": "Bad Slug", "name": "x"}),
            422,
            "slug",
        ),
        (
            "bad repo slug",
            Method::POST,
            "/api/v1/orgs/coco/repos".into(),
            json!({"slug": "-x", "name": "x"}),
            422,
            "slug",
        ),
        (
            "bad role",
            Method::PUT,
            "/api/v1/orgs/coco/members/outsider@example.org".into(),
            json!({"role": "owner"}),
            422,
            "role",
        ),
        (
            "bad email",
            Method::PUT,
            "/api/v1/orgs/coco/members/not-an-address".into(),
            json!({"role": "security_manager"}),
            422,
            "email",
        ),
        (
            "transition not allowed",
            Method::POST,
            format!("{edit}/accept"),
            json!({}),
            409,
            "",
        ),
    ];
    for (what, method, path, body, status, field) in cases {
        let before = everything(&app, &w).await;
        let token = if path.starts_with("/api/v1/orgs")
            && !path.contains("/advisories")
            && method == Method::POST
            && path == "/api/v1/orgs"
        {
            &w.admin
        } else if path.contains("/advisories")
            && method == Method::POST
            && path.ends_with("/advisories")
        {
            &w.reporter
        } else {
            &w.sm
        };
        let r = app.call(method, &path, Some(token), Some(body)).await;
        assert_eq!(r.status.as_u16(), status, "{what}: {}", r.text);
        let err = &r.json["error"];
        assert!(
            err["code"].is_string() && err["message"].as_str().is_some_and(|m| !m.is_empty()),
            "{what}: {}",
            r.text
        );
        if !field.is_empty() {
            assert_eq!(err["field"], field, "{what}: {}", r.text);
            assert!(
                err["message"].as_str().unwrap().contains(field),
                "{what}: the message names the field: {}",
                r.text
            );
        }
        assert_eq!(
            everything(&app, &w).await,
            before,
            "{what}: a refused request changed something"
        );
    }
}

async fn raw(
    app: &TestApp,
    token: &str,
    content_type: Option<&str>,
    body: Vec<u8>,
) -> crate::support::Resp {
    let mut b = Request::builder()
        .method(Method::POST)
        .uri("/api/v1/orgs/coco/repos/guest/advisories")
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    if let Some(ct) = content_type {
        b = b.header(header::CONTENT_TYPE, ct);
    }
    app.request(b.body(Body::from(body)).unwrap()).await
}

async fn malformed_bodies_and_credentials(app: TestApp) {
    let w = World::new(&app).await;
    let before = everything(&app, &w).await;
    let r = raw(
        &app,
        &w.reporter,
        Some("application/json"),
        b"{\"title\": ".to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert_eq!(r.json["error"]["code"], "bad_request");
    let r = raw(
        &app,
        &w.reporter,
        Some("application/json"),
        b"{\"title\": \"t\", \"description\": \"d\"} trailing".to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    let r = raw(&app, &w.reporter, Some("text/plain"), b"{}".to_vec()).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let r = raw(&app, &w.reporter, None, b"{}".to_vec()).await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let big = format!(
        "{{\"title\": \"t\", \"description\": \"{}\"}}",
        "z".repeat(2 * 1024 * 1024)
    );
    let r = raw(
        &app,
        &w.reporter,
        Some("application/json"),
        big.into_bytes(),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    assert_eq!(r.json["error"]["code"], "payload_too_large");
    // A wrong token is refused, never taken for anonymous.
    let r = app.get("/api/v1/advisories", Some("emb_0000")).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let req = Request::builder()
        .uri("/api/v1/advisories")
        .header(header::AUTHORIZATION, "Basic YTpi")
        .body(Body::empty())
        .unwrap();
    assert_eq!(app.request(req).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(
        app.get("/api/v1/user", None).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.get("/api/v1/user", Some(&w.sm)).await.json["email"],
        "sm@example.org"
    );
    // Unknown endpoints and malformed ids answer in JSON too.
    let r = app.get("/api/v1/nothing-here", Some(&w.sm)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.json["error"]["code"], "not_found");
    assert_eq!(
        app.get("/api/v1/advisories/not-an-id", Some(&w.sm))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(everything(&app, &w).await, before);
}

on_both_backends!(
    refused_input_names_the_field_and_stores_nothing,
    malformed_bodies_and_credentials
);
