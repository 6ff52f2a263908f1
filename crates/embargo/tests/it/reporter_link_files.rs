//! Files from a reporter without an account: the private link's page attaches them to its
//! one report as account holders do (same size limit, sniffed type, encrypted, logged),
//! lists them, and serves them back only through a live link.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;

use crate::support::{Resp, TestApp, World, on_both_backends};
use crate::web::csrf_in;

const BOUNDARY: &str = "embargo-link-boundary";

fn multipart(csrf: &str, file: Option<(&str, &[u8])>) -> Vec<u8> {
    let mut body =
        format!("--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{csrf}\r\n")
            .into_bytes();
    if let Some((name, bytes)) = file {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: text/html\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn get(app: &TestApp, path: &str, cookie: Option<&str>) -> Resp {
    let mut b = Request::get(path);
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    app.request(b.body(Body::empty()).unwrap()).await
}

async fn upload(app: &TestApp, link: &str, cookie: &str, body: Vec<u8>) -> Resp {
    app.request(
        Request::builder()
            .method(Method::POST)
            .uri(format!("/r/{link}/attachments"))
            .header(header::COOKIE, cookie)
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(Body::from(body))
            .unwrap(),
    )
    .await
}

/// Files a report without an account and confirms it; its id and private link token.
async fn linked_report(app: &TestApp) -> (String, String) {
    let r = app
        .post(
            "/api/v1/orgs/coco/repos/guest/advisories",
            None,
            json!({"title": "Held", "description": "steps", "reporter_email": "rita@example.org"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let mails = app.store.claim_mail(100).await.unwrap();
    let m = mails
        .iter()
        .find(|m| m.to == "rita@example.org" && m.body.contains("/confirm/"))
        .expect("a confirmation mail");
    let at = m.body.find("/confirm/").unwrap() + "/confirm/".len();
    let token = m.body[at..].split_whitespace().next().unwrap().to_owned();
    for q in &mails {
        app.store.mail_sent(q.id).await.unwrap();
    }
    let c = app
        .store
        .confirm_report(&token, |t| t.to_owned())
        .await
        .unwrap();
    (c.id.to_string(), c.link_token)
}

/// The page of the link with its anonymous form cookie and token.
async fn page_with_form(app: &TestApp, link: &str) -> (Resp, String, String) {
    let page = get(app, &format!("/r/{link}"), None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let cookie = page
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("embargo_csrf="))
        .expect("the form cookie");
    let csrf = csrf_in(&page.text);
    (page, cookie, csrf)
}

async fn link_attaches_files(mut app: TestApp) {
    let w = World::new(&app).await;
    let (id, link) = linked_report(&app).await;
    let (page, cookie, csrf) = page_with_form(&app, &link).await;
    assert!(page.text.contains("Attach a file"), "{}", page.text);
    assert!(page.text.contains("at most 10 MiB"), "{}", page.text);

    let poc: &[u8] = b"<html><script>alert(1)</script></html>";
    let r = upload(
        &app,
        &link,
        &cookie,
        multipart(&csrf, Some(("../poc.html", poc))),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(r.headers[header::LOCATION], format!("/r/{link}").as_str());

    // The triagers see it as the reporter's, with a sniffed type and a clean name.
    let list = app
        .get(&format!("/api/v1/advisories/{id}/attachments"), Some(&w.sm))
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let files = list.json.as_array().unwrap();
    assert_eq!(files.len(), 1, "{}", list.json);
    assert_eq!(files[0]["filename"], "poc.html");
    assert_ne!(files[0]["content_type"], "text/html", "{}", list.json);
    let aid = files[0]["id"].as_str().unwrap().to_owned();

    // The link lists it and serves it back, as a download.
    let page = get(&app, &format!("/r/{link}"), None).await;
    assert!(
        page.text.contains(&format!("/r/{link}/attachments/{aid}")),
        "{}",
        page.text
    );
    let down = get(&app, &format!("/r/{link}/attachments/{aid}"), None).await;
    assert_eq!(down.status, StatusCode::OK);
    assert_eq!(down.text.as_bytes(), poc);
    assert!(
        down.headers[header::CONTENT_DISPOSITION]
            .to_str()
            .unwrap()
            .starts_with("attachment")
    );

    // Refused: no form cookie, no file, an empty file; nothing stored by any of them.
    let r = upload(&app, &link, "", multipart(&csrf, Some(("a.txt", b"x")))).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = upload(&app, &link, &cookie, multipart(&csrf, None)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("choose a file"), "{}", r.text);
    let r = upload(&app, &link, &cookie, multipart(&csrf, Some(("e.txt", b"")))).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);

    // A wrong token answers as a missing report, for uploads and downloads alike.
    let wrong = "f".repeat(64);
    let r = upload(
        &app,
        &wrong,
        &cookie,
        multipart(&csrf, Some(("a.txt", b"x"))),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = get(&app, &format!("/r/{wrong}/attachments/{aid}"), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);

    // The size limit of every attachment holds here too.
    app.configure(|c| c.attachments.max_bytes = 16);
    let (_, cookie, csrf) = page_with_form(&app, &link).await;
    let r = upload(
        &app,
        &link,
        &cookie,
        multipart(&csrf, Some(("big.txt", &[b'a'; 64]))),
    )
    .await;
    assert!(
        r.status == StatusCode::PAYLOAD_TOO_LARGE || r.status == StatusCode::UNPROCESSABLE_ENTITY,
        "{}: {}",
        r.status,
        r.text
    );
    let list = app
        .get(&format!("/api/v1/advisories/{id}/attachments"), Some(&w.sm))
        .await;
    assert_eq!(list.json.as_array().unwrap().len(), 1, "{}", list.json);

    // A revoked link serves nothing and takes nothing.
    app.store.revoke_reporter_link(&link).await.unwrap();
    let r = get(&app, &format!("/r/{link}/attachments/{aid}"), None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let r = upload(
        &app,
        &link,
        &cookie,
        multipart(&csrf, Some(("a.txt", b"x"))),
    )
    .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
}

on_both_backends!(link_attaches_files);
