//! The pages: signing in, cookies and CSRF, first-run setup, password links, filing and
//! triaging through forms.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};

use crate::support::{Resp, TestApp, World, on_both_backends};

pub fn form(path: &str, cookie: Option<&str>, fields: &[(&str, &str)]) -> Request<Body> {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    let mut b = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    b.body(Body::from(body)).unwrap()
}

fn set_cookies(r: &Resp) -> Vec<String> {
    r.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .collect()
}

/// The value of `name="csrf"` in a page.
pub fn csrf_in(html: &str) -> String {
    let i = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[i..].split('"').next().unwrap().to_owned()
}

fn cookie_pair(set_cookie: &str) -> String {
    set_cookie.split(';').next().unwrap().to_owned()
}

/// Signs in through the login form; returns the session cookie.
async fn sign_in(app: &TestApp, email: &str, password: &str) -> Resp {
    let page = app.page("/login", None).await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf_cookie = cookie_pair(&set_cookies(&page)[0]);
    let csrf = csrf_in(&page.text);
    app.request(form(
        "/login",
        Some(&csrf_cookie),
        &[
            ("csrf", &csrf),
            ("email", email),
            ("password", password),
            ("next", "/report"),
        ],
    ))
    .await
}

async fn signing_in_sets_a_safe_cookie(app: TestApp) {
    let email = embargo_domain::types::Email::parse("rita@example.org").unwrap();
    app.store
        .create_user(&email, Some("Rita"), Some("a long enough password"), false)
        .await
        .unwrap();
    let bad = sign_in(&app, "rita@example.org", "wrong password!!").await;
    assert_eq!(bad.status, StatusCode::UNAUTHORIZED);
    assert!(bad.text.contains("Wrong e-mail address or password."));
    let unknown = sign_in(&app, "nobody@example.org", "a long enough password").await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    let normal = |r: &Resp, email: &str| r.text.replace(email, "X").replace(&csrf_in(&r.text), "T");
    assert_eq!(
        normal(&unknown, "nobody@example.org"),
        normal(&bad, "rita@example.org"),
        "the same answer for an unknown address"
    );

    let ok = sign_in(&app, "rita@example.org", "a long enough password").await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    assert_eq!(ok.headers[header::LOCATION], "/report");
    let cookie = set_cookies(&ok)
        .into_iter()
        .find(|c| c.starts_with("embargo_session="))
        .expect("a session cookie");
    for flag in ["HttpOnly", "SameSite=Lax", "Path=/"] {
        assert!(cookie.contains(flag), "{cookie} lacks {flag}");
    }
    assert!(!cookie.contains("Secure"), "not Secure over plain http");
    let session = cookie_pair(&cookie);
    let home = app
        .request(
            Request::builder()
                .uri("/")
                .header(header::COOKIE, &session)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(home.text.contains("Rita") && home.text.contains("Sign out"));
    // The security headers are on every page.
    assert_eq!(home.headers["x-content-type-options"], "nosniff");
    assert_eq!(home.headers["x-frame-options"], "DENY");
    assert!(
        home.headers["content-security-policy"]
            .to_str()
            .unwrap()
            .contains("frame-ancestors 'none'")
    );
    assert_eq!(home.headers[header::CACHE_CONTROL], "no-store");
    assert!(home.headers.contains_key("x-request-id"));

    // Signing out ends the session on the server, not just in the browser.
    let csrf = csrf_in(&home.text);
    let out = app
        .request(form("/logout", Some(&session), &[("csrf", &csrf)]))
        .await;
    assert_eq!(out.status, StatusCode::SEE_OTHER);
    let home = app
        .request(
            Request::builder()
                .uri("/")
                .header(header::COOKIE, &session)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(!home.text.contains("Sign out"));

    // Only local paths are followed after signing in.
    let page = app.page("/login?next=https://evil.example/", None).await;
    assert!(
        page.text.contains("name=\"next\" value=\"/\""),
        "{}",
        page.text
    );
}

async fn forms_refuse_cross_site_posts(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.advisory_in(&app, "triage").await;
    let session = app.session_cookie(&w.sm).await;
    let page = app
        .request(
            Request::builder()
                .uri(format!("/advisories/{id}"))
                .header(header::COOKIE, &session)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    let csrf = csrf_in(&page.text);
    let path = format!("/advisories/{id}/comments");
    // No token, a wrong token, or another site's origin: refused, and nothing is stored.
    for (token, origin) in [
        ("", None),
        ("0".repeat(64).as_str(), None),
        (csrf.as_str(), Some("https://evil.example")),
    ] {
        let mut req = form(
            &path,
            Some(&session),
            &[("csrf", token), ("body", "forged")],
        );
        if let Some(o) = origin {
            req.headers_mut().insert(header::ORIGIN, o.parse().unwrap());
        }
        assert_eq!(app.request(req).await.status, StatusCode::FORBIDDEN);
    }
    let thread = app
        .get(&format!("/api/v1/advisories/{id}/comments"), Some(&w.sm))
        .await;
    assert_eq!(thread.json.as_array().unwrap().len(), 0);
    // The real form works.
    let ok = app
        .request(form(
            &path,
            Some(&session),
            &[("csrf", &csrf), ("body", "Looking at it")],
        ))
        .await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER);
    let thread = app
        .get(&format!("/api/v1/advisories/{id}/comments"), Some(&w.sm))
        .await;
    assert_eq!(thread.json[0]["body"], "Looking at it");
    // A login form without its cookie is refused.
    let r = app
        .request(form(
            "/login",
            None,
            &[
                ("csrf", "x"),
                ("email", "sm@example.org"),
                ("password", "whatever whatever"),
            ],
        ))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

async fn file_triage_and_publish_through_forms(app: TestApp) {
    let w = World::new(&app).await;
    let reporter = app.session_cookie(&w.reporter).await;
    let page = app
        .request(
            Request::builder()
                .uri("/report")
                .header(header::COOKIE, &reporter)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(page.text.contains("coco/guest"));
    let csrf = csrf_in(&page.text);
    // A refused report keeps what was typed and says why.
    let r = app
        .request(form(
            "/report",
            Some(&reporter),
            &[
                ("csrf", &csrf),
                ("repo", "coco/guest"),
                ("title", "Secret title"),
                ("description", "  "),
            ],
        ))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text.contains("description: is empty") && r.text.contains("Secret title"),
        "{}",
        r.text
    );
    let r = app
        .request(form(
            "/report",
            Some(&reporter),
            &[
                ("csrf", &csrf),
                ("repo", "coco/guest"),
                ("title", "Secret <b>title</b>"),
                ("description", "Steps"),
            ],
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let location = r.headers[header::LOCATION].to_str().unwrap().to_owned();
    let id = location.trim_start_matches("/advisories/").to_owned();
    let mine = app
        .request(
            Request::builder()
                .uri("/advisories")
                .header(header::COOKIE, &reporter)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(
        mine.text.contains(&id) && mine.text.contains("Secret &#60;b&#62;title&#60;/b&#62;"),
        "escaped and listed: {}",
        mine.text
    );
    // Anonymous: the same page is "not found", and the report form asks for an address.
    assert_eq!(
        app.page(&location, None).await.status,
        StatusCode::NOT_FOUND
    );
    let report_form = app.page("/report", None).await;
    assert_eq!(report_form.status, StatusCode::OK);
    assert!(
        report_form.text.contains("name=\"email\"")
            && report_form.text.contains("/login?next=/report")
    );

    // The security manager accepts, fills the draft and publishes, all with forms.
    let sm = app.session_cookie(&w.sm).await;
    let get = |path: String, cookie: String| {
        Request::builder()
            .uri(path)
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .unwrap()
    };
    let page = app.request(get(location.clone(), sm.clone())).await;
    assert!(page.text.contains("Accept as a draft advisory") && !page.text.contains("Publish"));
    let csrf = csrf_in(&page.text);
    let state = format!("/advisories/{id}/state");
    assert_eq!(
        app.request(form(
            &state,
            Some(&sm),
            &[("csrf", &csrf), ("action", "accept")]
        ))
        .await
        .status,
        StatusCode::SEE_OTHER
    );
    let edit = app
        .request(get(format!("/advisories/{id}/edit"), sm.clone()))
        .await;
    assert_eq!(edit.status, StatusCode::OK);
    let fields = [
        ("csrf", csrf.as_str()),
        ("title", "Secret title"),
        ("summary", "Path traversal in guest"),
        ("description", "Details for everyone."),
        ("cve_id", ""),
        (
            "cvss_vector",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
        ),
        ("cwe_ids", "CWE-22"),
        ("ecosystem", "cargo"),
        ("package", "guest"),
        ("range", ">= 0.1.0, < 0.2.0"),
        ("patched", "0.2.0"),
        ("ecosystem", ""),
        ("package", ""),
        ("range", ""),
        ("patched", ""),
        ("references", "https://example.org/fix"),
        ("credit_type", "finder"),
        ("credit_name", "Rita Reporter"),
    ];
    let bad: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| {
            if *k == "cwe_ids" {
                (*k, "XSS")
            } else {
                (*k, *v)
            }
        })
        .collect();
    let r = app
        .request(form(&format!("/advisories/{id}/edit"), Some(&sm), &bad))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // Named in words, next to its field, not by its internal path (`cwe_ids[0]`).
    assert!(
        r.text.contains("Other CWE ids, item 1: ") && !r.text.contains("cwe_ids[0]"),
        "{}",
        r.text
    );
    let r = app
        .request(form(&format!("/advisories/{id}/edit"), Some(&sm), &fields))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(
        app.request(form(
            &state,
            Some(&sm),
            &[("csrf", &csrf), ("action", "publish")]
        ))
        .await
        .status,
        StatusCode::SEE_OTHER
    );
    let public = app.page(&location, None).await;
    assert_eq!(public.status, StatusCode::OK);
    assert!(
        public.text.contains("Path traversal in guest")
            && public.text.contains("&#62;= 0.1.0, &#60; 0.2.0")
            && public.text.contains("Rita Reporter")
    );
    assert!(
        !public.text.contains("Secret"),
        "the report's title stays with its audience"
    );
    let osv = app.get(&format!("/osv/v1/vulns/x_{id}"), None).await;
    assert_eq!(osv.json["affected"][0]["package"]["ecosystem"], "crates.io");
    crate::support::assert_valid_osv(&osv.json);
}

async fn first_run_setup_link(app: TestApp) {
    assert!(app.store.needs_setup().await.unwrap());
    let token = app
        .store
        .create_link_token("setup", None, time::Duration::hours(24))
        .await
        .unwrap();
    let path = format!("/setup/{token}");
    let page = app.page(&path, None).await;
    assert_eq!(page.status, StatusCode::OK);
    let cookie = cookie_pair(&set_cookies(&page)[0]);
    let csrf = csrf_in(&page.text);
    let fields = [
        ("csrf", csrf.as_str()),
        ("email", "root@example.org"),
        ("name", "Root"),
        ("password", "short"),
        ("password2", "short"),
    ];
    let r = app.request(form(&path, Some(&cookie), &fields)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("at least 12 characters"));
    let fields = [
        ("csrf", csrf.as_str()),
        ("email", "root@example.org"),
        ("name", "Root"),
        ("password", "a long enough password"),
        ("password2", "a long enough password"),
    ];
    let r = app.request(form(&path, Some(&cookie), &fields)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert!(!app.store.needs_setup().await.unwrap());
    let user = app
        .store
        .authenticate("root@example.org", "a long enough password")
        .await
        .unwrap()
        .unwrap();
    assert!(user.is_admin);
    // The link works once.
    assert_eq!(app.page(&path, None).await.status, StatusCode::NOT_FOUND);
    assert_eq!(
        app.request(form(&path, Some(&cookie), &fields))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn password_reset_link(app: TestApp) {
    let email = embargo_domain::types::Email::parse("new@example.org").unwrap();
    let user = app
        .store
        .create_user(&email, None, None, false)
        .await
        .unwrap();
    let token = app
        .store
        .create_link_token("reset", Some(user.id), time::Duration::days(7))
        .await
        .unwrap();
    let path = format!("/reset/{token}");
    let page = app.page(&path, None).await;
    assert!(page.text.contains("new@example.org"));
    let cookie = cookie_pair(&set_cookies(&page)[0]);
    let csrf = csrf_in(&page.text);
    let r = app
        .request(form(
            &path,
            Some(&cookie),
            &[
                ("csrf", &csrf),
                ("password", "a brand new password"),
                ("password2", "a brand new password"),
            ],
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        app.store
            .authenticate("new@example.org", "a brand new password")
            .await
            .unwrap()
            .is_some()
    );
    assert_eq!(
        app.page(&path, None).await.status,
        StatusCode::NOT_FOUND,
        "used up"
    );
    // An expired link is refused.
    let token = app
        .store
        .create_link_token("reset", Some(user.id), time::Duration::days(7))
        .await
        .unwrap();
    app.clock.advance(time::Duration::days(8));
    assert_eq!(
        app.page(&format!("/reset/{token}"), None).await.status,
        StatusCode::NOT_FOUND
    );
}

on_both_backends!(
    signing_in_sets_a_safe_cookie,
    forms_refuse_cross_site_posts,
    file_triage_and_publish_through_forms,
    first_run_setup_link,
    password_reset_link,
);

/// The text of a page without its tags, spaces collapsed.
fn words(html: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' => in_tag = false,
            c if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.split_whitespace().collect::<Vec<_>>().join(" ")
}

async fn home_page_invites_reporters_without_an_account(app: TestApp) {
    let w = World::new(&app).await;
    let home = app.page("/", None).await;
    assert_eq!(home.status, StatusCode::OK);
    assert!(
        !words(&home.text).contains("Sign in to report"),
        "{}",
        home.text
    );
    let (nav, main) = home.text.split_once("<main ").expect("a main element");
    assert!(
        main.contains("href=\"/report\""),
        "the page links the form: {main}"
    );
    assert!(
        nav.contains("href=\"/report\""),
        "the navigation links the form: {nav}"
    );
    // Signed in, the navigation keeps its link too.
    let signed_in = app.page("/", Some(&w.reporter)).await;
    let (nav, _) = signed_in.text.split_once("<main ").unwrap();
    assert!(nav.contains("href=\"/report\"") && nav.contains("Sign out"));
}

/// The newest link `/{kind}/TOKEN` queued for `to`.
async fn queued_link(app: &TestApp, to: &str, kind: &str) -> String {
    let mails = app.store.claim_mail(100).await.unwrap();
    for m in &mails {
        app.store.mail_sent(m.id).await.unwrap();
    }
    let needle = format!("/{kind}/");
    let m = mails
        .iter()
        .rev()
        .find(|m| m.to == to && m.body.contains(&needle))
        .unwrap_or_else(|| panic!("no {needle} message to {to}: {mails:#?}"));
    let at = m.body.find(&needle).unwrap() + needle.len();
    m.body[at..].split_whitespace().next().unwrap().to_owned()
}

/// The reporter's private page lets the browser send its real origin (Chromium sends
/// `Origin: null` under `no-referrer`), keeps the token out of other sites' Referer, and its
/// forms keep the cross-site and token checks.
async fn private_link_forms_work_from_the_page_itself(app: TestApp) {
    World::new(&app).await;
    let r = app
        .post(
            "/api/v1/orgs/coco/repos/guest/advisories",
            None,
            serde_json::json!({"title": "Held", "description": "steps", "reporter_email": "rita@example.org"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let confirm = queued_link(&app, "rita@example.org", "confirm").await;
    let base = crate::support::BASE_URL;
    app.store
        .confirm_report(&confirm, |t| format!("{base}/r/{t}"))
        .await
        .unwrap();
    let token = queued_link(&app, "rita@example.org", "r").await;
    let path = format!("/r/{token}");

    let page = app.page(&path, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(
        page.headers["referrer-policy"], "same-origin",
        "Referer and a real Origin within the site, nothing to other sites"
    );
    let cookie = set_cookies(&page)
        .iter()
        .map(|c| cookie_pair(c))
        .find(|c| c.starts_with("embargo_csrf="))
        .expect("the anonymous form cookie");
    let csrf = csrf_in(&page.text);
    let reply = |token: &str, origin: &str, body: &str| {
        let mut req = form(
            &format!("{path}/comments"),
            Some(&cookie),
            &[("csrf", token), ("body", body)],
        );
        req.headers_mut()
            .insert(header::ORIGIN, origin.parse().unwrap());
        req.headers_mut()
            .insert("sec-fetch-site", "same-origin".parse().unwrap());
        req
    };
    // What a browser sends from the page: its origin, the cookie, the form's token.
    let ok = app.request(reply(&csrf, base, "From the page")).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text);
    assert_eq!(ok.headers[header::LOCATION], path.as_str());
    // An opaque origin, another site, or a wrong token: refused, nothing stored.
    for (t, origin) in [
        (csrf.as_str(), "null"),
        (csrf.as_str(), "https://evil.example"),
        ("0".repeat(64).as_str(), base),
    ] {
        let r = app.request(reply(t, origin, "forged")).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{origin}");
    }
    let thread = app.page(&path, None).await;
    assert!(thread.text.contains("From the page") && !thread.text.contains("forged"));
    // Nothing on the page points at another site.
    for attr in ["href=\"http", "src=\"http", "action=\"http", "<img"] {
        assert!(!thread.text.contains(attr), "{attr} on the private page");
    }
}

on_both_backends!(
    home_page_invites_reporters_without_an_account,
    private_link_forms_work_from_the_page_itself,
);
