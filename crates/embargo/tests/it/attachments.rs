//! Attachments: uploaded by the audience, typed by their bytes, downloaded only by the
//! audience and only as downloads, limited in size, logged when read.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;

use crate::support::{Resp, TestApp, World, on_both_backends};

async fn upload(app: &TestApp, id: &str, token: Option<&str>, name: &str, bytes: Vec<u8>) -> Resp {
    let mut b = Request::builder().method(Method::POST).uri(format!(
        "/api/v1/advisories/{id}/attachments?filename={name}"
    ));
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    app.request(
        b.header(header::CONTENT_TYPE, "text/html")
            .body(Body::from(bytes))
            .unwrap(),
    )
    .await
}

async fn attachments_stay_with_the_audience(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.advisory_in(&app, "draft").await;
    let r = upload(
        &app,
        &id,
        Some(&w.reporter),
        "poc.html",
        b"<html><script>alert(document.cookie)</script></html>".to_vec(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(
        r.json["content_type"], "application/octet-stream",
        "the uploader's text/html is not believed"
    );
    let html_id = r.json["id"].as_str().unwrap().to_owned();
    let png = [b"\x89PNG\r\n\x1a\n".as_slice(), &[0u8; 32]].concat();
    let r = upload(
        &app,
        &id,
        Some(&w.maintainer),
        "../../screenshot.png",
        png.clone(),
    )
    .await;
    assert_eq!(r.status, StatusCode::CREATED);
    assert_eq!(r.json["content_type"], "image/png");
    assert_eq!(r.json["filename"], "screenshot.png", "no paths");
    let png_id = r.json["id"].as_str().unwrap().to_owned();

    // The audience lists and downloads; a download is never rendered by the browser.
    let list = app
        .get(&format!("/api/v1/advisories/{id}/attachments"), Some(&w.sc))
        .await;
    assert_eq!(list.json.as_array().unwrap().len(), 2);
    let d = app
        .get(
            &format!("/api/v1/advisories/{id}/attachments/{html_id}"),
            Some(&w.collaborator),
        )
        .await;
    assert_eq!(d.status, StatusCode::OK);
    assert_eq!(
        d.text,
        "<html><script>alert(document.cookie)</script></html>"
    );
    assert_eq!(d.headers[header::CONTENT_TYPE], "application/octet-stream");
    assert_eq!(
        d.headers[header::CONTENT_DISPOSITION],
        "attachment; filename=\"poc.html\"; filename*=UTF-8''poc.html"
    );
    assert_eq!(d.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
    let d = app
        .page(
            &format!("/advisories/{id}/attachments/{png_id}"),
            Some(&w.sm),
        )
        .await;
    assert_eq!(d.headers[header::CONTENT_TYPE], "image/png");
    assert!(
        d.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );

    // Outsiders see nothing, whatever they try; after publication too.
    for who in [
        None,
        Some(w.outsider.as_str()),
        Some(w.other_maintainer.as_str()),
        Some(w.revoked_collaborator.as_str()),
    ] {
        for p in [
            format!("/api/v1/advisories/{id}/attachments"),
            format!("/api/v1/advisories/{id}/attachments/{html_id}"),
        ] {
            assert_eq!(
                app.get(&p, who).await.status,
                StatusCode::NOT_FOUND,
                "{p} as {who:?}"
            );
        }
        assert_eq!(
            upload(&app, &id, who, "x.txt", b"x".to_vec()).await.status,
            StatusCode::NOT_FOUND
        );
    }
    assert_eq!(
        app.get(
            &format!("/api/v1/advisories/{id}/attachments/{}", "0".repeat(32)),
            Some(&w.sm)
        )
        .await
        .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.post(
            &format!("/api/v1/advisories/{id}/publish"),
            Some(&w.sm),
            json!({})
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        app.get(
            &format!("/api/v1/advisories/{id}/attachments/{html_id}"),
            None
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(
            &format!("/api/v1/advisories/{id}/attachments/{html_id}"),
            Some(&w.outsider)
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );

    // Downloads are in the access log.
    let log = app
        .get(&format!("/api/v1/advisories/{id}/audit"), Some(&w.sm))
        .await;
    let reads = log
        .json
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "read_attachment")
        .count();
    assert_eq!(reads, 2);
}

async fn bad_uploads_are_refused(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.advisory_in(&app, "triage").await;
    let r = upload(&app, &id, Some(&w.reporter), "empty.txt", Vec::new()).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json["error"]["field"], "file");
    let r = upload(&app, &id, Some(&w.reporter), "..", b"x".to_vec()).await;
    assert_eq!(r.json["error"]["field"], "filename");
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("/api/v1/advisories/{id}/attachments"))
        .header(header::AUTHORIZATION, format!("Bearer {}", w.reporter))
        .body(Body::from("x"))
        .unwrap();
    let r = app.request(req).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json["error"]["field"], "filename");
    let r = upload(
        &app,
        &id,
        Some(&w.reporter),
        "big.bin",
        vec![7u8; 10 * 1024 * 1024 + 1],
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    assert!(
        r.json["error"]["message"]
            .as_str()
            .unwrap()
            .contains("10485760")
    );
    assert!(
        app.get(&format!("/api/v1/advisories/{id}/attachments"), Some(&w.sm))
            .await
            .json
            .as_array()
            .unwrap()
            .is_empty()
    );
    // Exactly the limit is fine.
    assert_eq!(
        upload(
            &app,
            &id,
            Some(&w.reporter),
            "max.bin",
            vec![7u8; 10 * 1024 * 1024]
        )
        .await
        .status,
        StatusCode::CREATED
    );
}

async fn upload_through_the_form(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.advisory_in(&app, "triage").await;
    let cookie = app.session_cookie(&w.reporter).await;
    let page = app
        .request(
            Request::builder()
                .uri(format!("/advisories/{id}"))
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let i = page.text.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = page.text[i..].split('"').next().unwrap().to_owned();
    let multipart = |csrf: &str| {
        format!(
            "--XX\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n--XX\r\nContent-Disposition: form-data; name=\"file\"; filename=\"crash.txt\"\r\nContent-Type: text/plain\r\n\r\nsegfault at 0x0\r\n--XX--\r\n"
        )
    };
    let post = |body: String| {
        Request::builder()
            .method(Method::POST)
            .uri(format!("/advisories/{id}/attachments"))
            .header(header::COOKIE, &cookie)
            .header(header::CONTENT_TYPE, "multipart/form-data; boundary=XX")
            .body(Body::from(body))
            .unwrap()
    };
    assert_eq!(
        app.request(post(multipart("forged"))).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.request(post(multipart(&csrf))).await.status,
        StatusCode::SEE_OTHER
    );
    let page = app
        .request(
            Request::builder()
                .uri(format!("/advisories/{id}"))
                .header(header::COOKIE, &cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(page.text.contains("crash.txt"));
    let list = app
        .get(&format!("/api/v1/advisories/{id}/attachments"), Some(&w.sm))
        .await;
    assert_eq!(list.json.as_array().unwrap().len(), 1);
}

on_both_backends!(
    attachments_stay_with_the_audience,
    bad_uploads_are_refused,
    upload_through_the_form
);
