//! Files sent with the report form (a signed-in reporter's multipart form): they are stored
//! with the report; a file that fails (too large, too many, over the body limit) never loses
//! the report, and the result page names it; anonymous reporters send none. Also: the private
//! link of a reporter without an account shows the description and thread as sanitised
//! Markdown.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;

use crate::support::{Resp, TestApp, World, on_both_backends};
use crate::web::csrf_in;

const BOUNDARY: &str = "embargo-test-boundary";

/// A `multipart/form-data` body: the text fields first, then each file as a `file` part (as
/// a browser sends the form, whose file input is last).
fn multipart(fields: &[(&str, &str)], files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut body = Vec::new();
    for (name, value) in fields {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    for (filename, bytes) in files {
        body.extend_from_slice(
            format!(
                "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            )
            .as_bytes(),
        );
        body.extend_from_slice(bytes);
        body.extend_from_slice(b"\r\n");
    }
    body.extend_from_slice(format!("--{BOUNDARY}--\r\n").as_bytes());
    body
}

async fn send(app: &TestApp, cookie: &str, body: Vec<u8>) -> Resp {
    app.request(
        Request::builder()
            .method(Method::POST)
            .uri("/report")
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

/// The report form as `cookie` sees it, and its CSRF token.
async fn form_page(app: &TestApp, cookie: &str) -> (String, String) {
    let page = app
        .request(
            Request::builder()
                .uri("/report")
                .header(header::COOKIE, cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = csrf_in(&page.text);
    (page.text, csrf)
}

fn report_fields<'a>(csrf: &'a str, title: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("repo", "coco/guest"),
        ("title", title),
        ("description", "Steps to reproduce."),
        ("versions", ""),
        ("cvss_vector", ""),
    ]
}

/// The names of an advisory's attachments, as a security manager lists them.
async fn attached(app: &TestApp, w: &World, id: &str) -> Vec<String> {
    let list = app
        .get(&format!("/api/v1/advisories/{id}/attachments"), Some(&w.sm))
        .await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    let mut names: Vec<String> = list
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["filename"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

/// The ids of the advisories the reporter can see, by title.
async fn reported(app: &TestApp, w: &World, title: &str) -> Vec<String> {
    app.get("/api/v1/advisories", Some(&w.reporter))
        .await
        .json
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["title"] == title)
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn files_arrive_with_the_report(app: TestApp) {
    let w = World::new(&app).await;
    let cookie = app.session_cookie(&w.reporter).await;
    let (page, csrf) = form_page(&app, &cookie).await;
    assert!(
        page.contains("enctype=\"multipart/form-data\"")
            && page.contains("type=\"file\" name=\"file\" multiple"),
        "{page}"
    );
    assert!(page.contains("up to 5 files of at most 10 MiB each"));

    // A forged form files nothing.
    let forged = send(
        &app,
        &cookie,
        multipart(
            &report_fields("forged", "Forged"),
            &[("crash.txt", b"x".as_slice())],
        ),
    )
    .await;
    assert_eq!(forged.status, StatusCode::FORBIDDEN);
    assert!(reported(&app, &w, "Forged").await.is_empty());

    let r = send(
        &app,
        &cookie,
        multipart(
            &report_fields(&csrf, "Overflow with files"),
            &[
                ("crash.txt", b"segfault at 0x0".as_slice()),
                ("poc.py", b"print('overflow')".as_slice()),
                // What a browser sends for a file input left empty: skipped.
                ("", b"".as_slice()),
            ],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let id = r.headers[header::LOCATION]
        .to_str()
        .unwrap()
        .trim_start_matches("/advisories/")
        .to_owned();
    assert_eq!(
        reported(&app, &w, "Overflow with files").await,
        vec![id.clone()]
    );
    assert_eq!(attached(&app, &w, &id).await, ["crash.txt", "poc.py"]);
    let list = app
        .get(&format!("/api/v1/advisories/{id}/attachments"), Some(&w.sm))
        .await;
    let crash = list
        .json
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["filename"] == "crash.txt")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let d = app
        .get(
            &format!("/api/v1/advisories/{id}/attachments/{crash}"),
            Some(&w.sm),
        )
        .await;
    assert_eq!(d.text, "segfault at 0x0");
    // The report's page lists them for the reporter.
    let own = app
        .page(&format!("/advisories/{id}"), Some(&w.reporter))
        .await;
    assert!(own.text.contains("crash.txt") && own.text.contains("poc.py"));

    // The plain (urlencoded) form still files a report without files.
    let plain = app
        .request(crate::web::form(
            "/report",
            Some(&cookie),
            &report_fields(&csrf, "No files"),
        ))
        .await;
    assert_eq!(plain.status, StatusCode::SEE_OTHER, "{}", plain.text);
}

async fn a_failed_file_never_loses_the_report(mut app: TestApp) {
    app.configure(|c| c.attachments.max_bytes = 1000);
    let w = World::new(&app).await;
    let cookie = app.session_cookie(&w.reporter).await;
    let (page, csrf) = form_page(&app, &cookie).await;
    assert!(page.contains("of at most 1000 bytes each"), "{page}");

    // One file over the limit: the report and the other file are kept, the page says which
    // file was not.
    let big = vec![7u8; 2000];
    let r = send(
        &app,
        &cookie,
        multipart(
            &report_fields(&csrf, "One too big"),
            &[("ok.txt", b"fine".as_slice()), ("big.bin", &big)],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        r.text.contains("some files were not attached")
            && r.text
                .contains("big.bin (is larger than the limit of 1000 bytes)")
            && !r.text.contains("ok.txt"),
        "{}",
        r.text
    );
    let ids = reported(&app, &w, "One too big").await;
    assert_eq!(ids.len(), 1, "filed once");
    assert!(r.text.contains(&format!("href=\"/advisories/{}\"", ids[0])));
    assert_eq!(attached(&app, &w, &ids[0]).await, ["ok.txt"]);

    // A form past the request's own size limit, read in one piece: nothing of the report
    // arrived, and the answer says so (rather than "the form has expired").
    let huge = vec![1u8; 5 * (1000 + 64 * 1024) + 512 * 1024 + 1];
    let r = send(
        &app,
        &cookie,
        multipart(
            &report_fields(&csrf, "Past the body limit"),
            &[("huge.bin", &huge)],
        ),
    )
    .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    assert!(
        r.text
            .contains("nothing was filed: the form is larger than 5 files of 1000 bytes"),
        "{}",
        r.text
    );
    assert!(reported(&app, &w, "Past the body limit").await.is_empty());

    // More files than a report takes: the first five are attached, the rest named.
    let names = ["1.txt", "2.txt", "3.txt", "4.txt", "5.txt", "6.txt"];
    let files: Vec<(&str, &[u8])> = names.iter().map(|n| (*n, b"x".as_slice())).collect();
    let r = send(
        &app,
        &cookie,
        multipart(&report_fields(&csrf, "Six files"), &files),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        r.text
            .contains("6.txt (only 5 files can be sent with a report"),
        "{}",
        r.text
    );
    let ids = reported(&app, &w, "Six files").await;
    assert_eq!(attached(&app, &w, &ids[0]).await, names[..5]);

    // A report refused for its fields is refused whole, files and all, and keeps what was
    // typed.
    let mut fields = report_fields(&csrf, "Refused");
    fields[3] = ("description", " ");
    let r = send(
        &app,
        &cookie,
        multipart(&fields, &[("ok.txt", b"fine".as_slice())]),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("description: is empty") && r.text.contains("Refused"));
    assert!(reported(&app, &w, "Refused").await.is_empty());
}

async fn anonymous_reporters_send_no_files(app: TestApp) {
    let _w = World::new(&app).await;
    let page = app.page("/report", None).await;
    assert!(
        !page.text.contains("type=\"file\"") && !page.text.contains("multipart"),
        "{}",
        page.text
    );
    let anon = page.headers[header::SET_COOKIE]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let csrf = csrf_in(&page.text);
    for m in app.store.claim_mail(100).await.unwrap() {
        app.store.mail_sent(m.id).await.unwrap();
    }
    let mut fields = report_fields(&csrf, "Anonymous with a file");
    fields.push(("email", "rita@example.org"));
    let r = send(
        &app,
        &anon,
        multipart(&fields, &[("crash.txt", b"segfault".as_slice())]),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(
        r.text.contains("file: sign in to send files with a report")
            && r.text.contains("Anonymous with a file"),
        "{}",
        r.text
    );
    assert!(
        app.store.claim_mail(100).await.unwrap().is_empty(),
        "no confirmation sent for a refused report"
    );
    // Without files, the form keeps the usual size limit of a text form.
    let long = "x".repeat(3 * 1024 * 1024);
    let mut fields = report_fields(&csrf, "Too long");
    fields.push(("email", "rita@example.org"));
    fields[3] = ("description", &long);
    let r = app
        .request(crate::web::form("/report", Some(&anon), &fields))
        .await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.text);
    assert!(r.text.contains("the form is larger than 2097152 bytes"));
}

/// The token of the newest queued message's link of `kind` to `to`.
async fn token_from_mail(app: &TestApp, to: &str, kind: &str) -> String {
    let mails = app.store.claim_mail(100).await.unwrap();
    let m = mails
        .iter()
        .rev()
        .find(|m| m.to == to && m.body.contains(&format!("/{kind}/")))
        .unwrap_or_else(|| panic!("no /{kind}/ message to {to}"));
    for q in &mails {
        app.store.mail_sent(q.id).await.unwrap();
    }
    let at = m.body.find(&format!("/{kind}/")).unwrap() + kind.len() + 2;
    m.body[at..].split_whitespace().next().unwrap().to_owned()
}

async fn the_private_link_shows_markdown(app: TestApp) {
    let w = World::new(&app).await;
    let r = app
        .post(
            "/api/v1/orgs/coco/repos/guest/advisories",
            None,
            json!({
                "title": "Markdown",
                "description": "Run **this**:\n\n```\nmake crash\n```\n\n[x](javascript:alert(2)) and [docs](https://example.org/)\n\n<script>alert(1)</script>",
                "reporter_email": "rita@example.org"
            }),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let token = token_from_mail(&app, "rita@example.org", "confirm").await;
    let base = crate::support::BASE_URL;
    let c = app
        .store
        .confirm_report(&token, |t| format!("{base}/r/{t}"))
        .await
        .unwrap();
    let r = app
        .post(
            &format!("/api/v1/advisories/{}/comments", c.id),
            Some(&w.sm),
            json!({"body": "Thanks: _confirmed_ with `gdb`. <img src=x onerror=alert(3)>"}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let page = app.page(&format!("/r/{}", c.link_token), None).await;
    assert_eq!(page.status, StatusCode::OK);
    let t = &page.text;
    assert!(
        t.contains("<strong>this</strong>")
            && t.contains("<pre><code>make crash\n</code></pre>")
            && t.contains("<em>confirmed</em>")
            && t.contains("<code>gdb</code>"),
        "{t}"
    );
    // Raw HTML is shown as text; script links lose their target.
    assert!(
        !t.contains("<script>alert")
            && t.contains("&lt;script&gt;alert(1)")
            && !t.contains("<img")
            && !t.contains("href=\"javascript:")
            && t.contains("<a href=\"https://example.org/\""),
        "{t}"
    );
}

/// In real Chromium: a signed-in reporter picks two files (one over the limit) in the form;
/// the report is filed with the one that fits, and the result page names the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_chosen_in_the_browser() {
    let server = crate::support::Server::start(&[("EMBARGO_ATTACHMENTS_MAX_BYTES", "1000")]);
    let base = server.base.clone();
    let admin = server.user("admin@example.org", true, &[]);
    server.user("sam@example.org", false, &[]);
    server.user("rita@example.org", false, &[]);
    crate::support::coco_over_http(&base, &admin, "sam@example.org").await;
    let dir = tempfile::tempdir().unwrap();
    let small = dir.path().join("crash.txt");
    let big = dir.path().join("core.bin");
    std::fs::write(&small, "segfault at 0x0").unwrap();
    std::fs::write(&big, vec![0u8; 4000]).unwrap();

    let d = crate::driver::Driver::start().await;
    d.sign_in(&base, "rita@example.org").await;
    d.go(&format!("{base}/report")).await;
    d.check_page("report-form-files").await;
    d.run("const s = document.querySelector('select[name=repo]'); s.value = 'coco/guest';")
        .await;
    d.type_into("input[name=title]", "Crash with a core file")
        .await;
    d.type_into("textarea[name=description]", "See the attached files.")
        .await;
    // WebDriver sends a file input its files as newline-separated paths.
    d.type_into(
        "input[type=file][name=file]",
        &format!("{}\n{}", small.display(), big.display()),
    )
    .await;
    d.click("form[action='/report'] button[type=submit]").await;
    let html = d
        .wait_source("the result page", "some files were not attached")
        .await;
    assert!(
        html.contains("core.bin (is larger than the limit of 1000 bytes)")
            && !html.contains("crash.txt ("),
        "{html}"
    );
    d.check_page("report-files-partly-attached").await;
    d.click("main a[href^='/advisories/']").await;
    d.wait_source("the report's page", "crash.txt").await;
}

on_both_backends!(
    files_arrive_with_the_report,
    a_failed_file_never_loses_the_report,
    anonymous_reporters_send_no_files,
    the_private_link_shows_markdown
);
