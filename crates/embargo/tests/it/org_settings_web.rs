//! The organisation's settings pages, on both backends, through forms as a browser sends
//! them: webhooks (added with a secret shown once, which then signs the deliveries; removed),
//! each webhook's delivery page with "Redeliver", the IMAP mailbox (its password never shown,
//! kept only for the same server and user), and the subscribers counted on the
//! organisation's page. Everyone but the organisation's security managers (and the
//! administrators, who manage every organisation) gets the answer of a missing page.

use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use serde_json::{Value, json};

use crate::support::{BASE_URL, Resp, TestApp, World, on_both_backends};
use crate::web::{csrf_in, form};

/// A signed-in browser: one session, its cookie and its form token.
struct Browser<'a> {
    app: &'a TestApp,
    cookie: String,
    csrf: String,
}

impl<'a> Browser<'a> {
    async fn new(app: &'a TestApp, token: &str) -> Self {
        let cookie = app.session_cookie(token).await;
        let mut b = Self {
            app,
            cookie,
            csrf: String::new(),
        };
        // Every signed-in page carries the session's token (the sign-out form).
        let home = b.get("/").await;
        b.csrf = csrf_in(&home.text);
        b
    }

    async fn get(&self, path: &str) -> Resp {
        self.app
            .request(
                Request::builder()
                    .uri(path)
                    .header(header::COOKIE, &self.cookie)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
    }

    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Resp {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.app.request(form(path, Some(&self.cookie), &all)).await
    }
}

/// Whether `headers` carry a valid signature of `body` under `secret`, fresh at the app's
/// clock.
fn signed_with(app: &TestApp, secret: &str, headers: &HeaderMap, body: &str) -> bool {
    let now = app.store.now().unix_timestamp();
    crate::webhooks::verify_with(secret, headers, body, now).is_ok()
}

/// The secret a page shows (`<code id="webhook-secret">`), if any.
fn shown_secret(html: &str) -> Option<String> {
    let i = html.find("id=\"webhook-secret\">")? + "id=\"webhook-secret\">".len();
    Some(html[i..].split('<').next()?.to_owned())
}

async fn only_managers_see_the_settings(app: TestApp) {
    let w = World::new(&app).await;
    let pages = [
        "/orgs/coco/webhooks",
        "/orgs/coco/webhooks/1/deliveries",
        "/orgs/coco/mail-intake",
    ];
    // Not signed in: sent to sign in, and back.
    for p in pages {
        let r = app.page(p, None).await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{p}");
        assert!(
            r.headers[header::LOCATION]
                .to_str()
                .unwrap()
                .starts_with("/login?next=%2Forgs%2Fcoco%2F"),
            "{p}"
        );
    }
    // A page that does not exist, for comparison.
    let missing = Browser::new(&app, &w.sm)
        .await
        .get("/orgs/nope/webhooks")
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    for who in [
        &w.maintainer,
        &w.reporter,
        &w.outsider,
        &w.sc,
        &w.other_org_sm,
        &w.collaborator,
    ] {
        let b = Browser::new(&app, who).await;
        for p in pages {
            let r = b.get(p).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{p}");
            assert_eq!(r.text, missing.text, "{p}: as a missing page");
        }
        // Nor can they change anything with a form.
        for (p, fields) in [
            (
                "/orgs/coco/webhooks",
                vec![
                    ("url", "https://hooks.example.org/x"),
                    ("events", "advisory.filed"),
                ],
            ),
            ("/orgs/coco/webhooks/1/remove", vec![]),
            ("/orgs/coco/webhooks/1/deliveries/1/redeliver", vec![]),
            (
                "/orgs/coco/mail-intake",
                vec![
                    ("host", "imap.example.org"),
                    ("user", "u"),
                    ("password", "p"),
                ],
            ),
            ("/orgs/coco/mail-intake/remove", vec![]),
        ] {
            let r = b.post(p, &fields).await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{p}: {}", r.text);
        }
        // The organisation's page links to none of it, and counts no subscribers.
        let org = b.get("/orgs/coco").await;
        assert_eq!(org.status, StatusCode::OK);
        assert!(
            !org.text.contains("/orgs/coco/webhooks") && !org.text.contains("Subscribers"),
            "{}",
            org.text
        );
    }
    let listed = app.get("/api/v1/orgs/coco/webhooks", Some(&w.sm)).await;
    assert_eq!(listed.json, json!([]), "nothing was added");
    assert_eq!(
        app.get("/api/v1/orgs/coco/mail-intake", Some(&w.sm))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // A form without the session's token is refused, even from a security manager.
    let sm = Browser::new(&app, &w.sm).await;
    let r = app
        .request(form(
            "/orgs/coco/webhooks",
            Some(&sm.cookie),
            &[("csrf", "forged"), ("url", "https://hooks.example.org/x")],
        ))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    // Security managers and administrators see the pages.
    for who in [&w.sm, &w.admin] {
        let b = Browser::new(&app, who).await;
        for p in ["/orgs/coco/webhooks", "/orgs/coco/mail-intake"] {
            assert_eq!(b.get(p).await.status, StatusCode::OK, "{p}");
        }
    }
}

async fn webhooks_and_their_deliveries(mut app: TestApp) {
    let (rx, port) = crate::webhooks::start_receiver().await;
    app.configure(|c| c.network.allow = vec![format!("127.0.0.1:{port}")]);
    let w = World::new(&app).await;
    let sm = Browser::new(&app, &w.sm).await;
    let url = format!("http://127.0.0.1:{port}/hook");

    let page = sm.get("/orgs/coco").await;
    assert!(
        page.text.contains("href=\"/orgs/coco/webhooks\"")
            && page.text.contains("href=\"/orgs/coco/mail-intake\""),
        "{}",
        page.text
    );
    let page = sm.get("/orgs/coco/webhooks").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("No webhooks yet."));
    for e in ["advisory.filed", "advisory.embargo_changed", "job.failed"] {
        assert!(
            page.text.contains(&format!("value=\"{e}\"")),
            "a box for {e}"
        );
    }

    // Refused: no event, an address outside the network rule. The form keeps what was typed.
    let r = sm.post("/orgs/coco/webhooks", &[("url", &url)]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(
        r.text.contains("events: must name one or more of"),
        "{}",
        r.text
    );
    assert!(r.text.contains(&format!("value=\"{url}\"")), "{}", r.text);
    assert_eq!(shown_secret(&r.text), None);
    let r = sm
        .post(
            "/orgs/coco/webhooks",
            &[
                ("url", "http://10.0.0.1/hook"),
                ("events", "advisory.filed"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("url:"), "{}", r.text);
    assert!(
        r.text.contains("value=\"advisory.filed\" checked"),
        "{}",
        r.text
    );
    assert_eq!(
        app.get("/api/v1/orgs/coco/webhooks", Some(&w.sm))
            .await
            .json,
        json!([])
    );

    // Added: the secret is shown on this answer only (and not kept by caches).
    let r = sm
        .post(
            "/orgs/coco/webhooks",
            &[
                ("url", &url),
                ("events", "advisory.filed"),
                ("events", "advisory.accepted"),
                ("inside_audience", "on"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.headers[header::CACHE_CONTROL], "no-store");
    let secret = shown_secret(&r.text).expect("the secret, once");
    assert!(secret.len() >= 32, "{secret}");
    let listed = app.get("/api/v1/orgs/coco/webhooks", Some(&w.sm)).await;
    let hook = &listed.json[0];
    assert_eq!(hook["url"], url.as_str());
    assert_eq!(
        hook["events"],
        json!(["advisory.accepted", "advisory.filed"])
    );
    assert_eq!(hook["inside_audience"], true);
    let id = hook["id"].as_i64().unwrap();
    let again = sm.get("/orgs/coco/webhooks").await;
    assert!(!again.text.contains(&secret), "shown once only");
    assert_eq!(shown_secret(&again.text), None);
    assert!(again.text.contains(&url) && again.text.contains("advisory.accepted, advisory.filed"));
    let log = format!("/orgs/coco/webhooks/{id}/deliveries");
    assert!(again.text.contains(&format!("href=\"{log}\"")));

    // The secret shown is the one that signs; the hook is inside the audience: the title.
    let advisory = w.file(&app, "Title for the inside hook").await;
    app.run_jobs().await;
    app.run_jobs().await;
    let got = std::mem::take(&mut rx.lock().unwrap().got);
    assert_eq!(got.len(), 1);
    let (h, body) = &got[0];
    assert!(
        signed_with(&app, &secret, h, body),
        "signed with the shown secret"
    );
    assert!(!signed_with(&app, "some-other-secret-0000", h, body));
    let v: Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["advisory"]["id"], advisory.as_str());
    assert_eq!(v["advisory"]["title"], "Title for the inside hook");

    // The delivery page: state, time, attempts, the receiver's answer.
    let page = sm.get(&log).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let deliveries = app.get(&format!("/api/v1{log}"), Some(&w.sm)).await.json;
    let d = deliveries[0]["id"].as_i64().unwrap();
    for needle in [
        "advisory.filed",
        "delivered",
        "<td>204",
        "2026-11-25",
        &format!("/deliveries/{d}/redeliver"),
        "Redeliver",
    ] {
        assert!(page.text.contains(needle), "{needle}: {}", page.text);
    }
    assert!(!page.text.contains(&secret));

    // Redeliver, to a receiver that fails now: sent again, the page shows the failure.
    rx.lock().unwrap().fail = true;
    let r = sm.post(&format!("{log}/{d}/redeliver"), &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(r.headers[header::LOCATION], log.as_str());
    app.clock.advance(time::Duration::seconds(3));
    app.run_jobs().await;
    let got = std::mem::take(&mut rx.lock().unwrap().got);
    assert_eq!(got.len(), 1, "sent again");
    assert!(signed_with(&app, &secret, &got[0].0, &got[0].1));
    let page = sm.get(&log).await;
    assert!(
        page.text.contains("pending") && page.text.contains("<td>500"),
        "{}",
        page.text
    );
    // A delivery or hook that is not there: missing.
    assert_eq!(
        sm.post(&format!("{log}/999999/redeliver"), &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        sm.get("/orgs/coco/webhooks/999999/deliveries").await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        sm.get("/orgs/coco/webhooks/x/deliveries").await.status,
        StatusCode::NOT_FOUND
    );
    // Another organisation's security manager cannot reach this hook through theirs.
    let other = Browser::new(&app, &w.other_org_sm).await;
    assert_eq!(
        other
            .get(&format!("/orgs/kata/webhooks/{id}/deliveries"))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        other
            .post(&format!("/orgs/kata/webhooks/{id}/remove"), &[])
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // Removed.
    let r = sm
        .post(&format!("/orgs/coco/webhooks/{id}/remove"), &[])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(
        app.get("/api/v1/orgs/coco/webhooks", Some(&w.sm))
            .await
            .json,
        json!([])
    );
    assert_eq!(sm.get(&log).await.status, StatusCode::NOT_FOUND);
}

async fn the_mailbox_page(mut app: TestApp) {
    const PASSWORD: &str = "mailbox-password-4711";
    let w = World::new(&app).await;
    let sm = Browser::new(&app, &w.sm).await;
    let page = sm.get("/orgs/coco/mail-intake").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("No mailbox is read"), "{}", page.text);
    let fields =
        |host: &'static str, port: &'static str, user: &'static str, password: &'static str| {
            vec![
                ("host", host),
                ("port", port),
                ("tls", "none"),
                ("user", user),
                ("password", password),
                ("folder", "Reports"),
                ("repo", "guest"),
            ]
        };
    // Outside the network rule: refused, saying how to allow it; the password not echoed.
    let r = sm
        .post(
            "/orgs/coco/mail-intake",
            &fields("127.0.0.1", "1143", "intake", PASSWORD),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("[network] allow"), "{}", r.text);
    assert!(r.text.contains("value=\"127.0.0.1\""), "kept: {}", r.text);
    assert!(!r.text.contains(PASSWORD));
    // Malformed fields are named.
    for (f, field) in [
        (
            fields("imap.example.org/x", "993", "intake", PASSWORD),
            "host",
        ),
        (
            fields("imap.example.org", "70000", "intake", PASSWORD),
            "port",
        ),
        (fields("imap.example.org", "", "intake", ""), "password"),
    ] {
        let r = sm.post("/orgs/coco/mail-intake", &f).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{field}: {}",
            r.text
        );
        assert!(r.text.contains(&format!("{field}:")), "{field}: {}", r.text);
    }

    app.configure(|c| c.network.allow = vec!["127.0.0.1:1143".into()]);
    let sm = Browser::new(&app, &w.sm).await;
    let r = sm
        .post(
            "/orgs/coco/mail-intake",
            &fields("127.0.0.1", "1143", "intake", PASSWORD),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let page = sm.get("/orgs/coco/mail-intake").await;
    assert_eq!(page.headers[header::CACHE_CONTROL], "no-store");
    for needle in [
        "imap://127.0.0.1:1143",
        "intake",
        "Reports",
        "coco/guest",
        "set (never shown)",
        "value=\"1143\"",
        "<option value=\"none\" selected>",
    ] {
        assert!(page.text.contains(needle), "{needle}: {}", page.text);
    }
    assert!(!page.text.contains(PASSWORD), "never shown");
    let stored = || async {
        let all = app.store.imap_intakes().await.unwrap();
        assert_eq!(all.len(), 1);
        all[0].2.clone()
    };
    assert_eq!(stored().await.password, PASSWORD);

    // Changed without the password: kept, for the same server and user.
    let mut same = fields("127.0.0.1", "1143", "intake", "");
    same[5] = ("folder", "INBOX");
    let r = sm.post("/orgs/coco/mail-intake", &same).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let s = stored().await;
    assert_eq!(
        (s.folder.as_str(), s.password.as_str()),
        ("INBOX", PASSWORD)
    );
    // Another user (or server) needs the password again: the stored one never goes elsewhere.
    let r = sm
        .post(
            "/orgs/coco/mail-intake",
            &fields("127.0.0.1", "1143", "someone-else", ""),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("password:"), "{}", r.text);
    assert_eq!(stored().await.user, "intake");
    // The API takes the same rule.
    let r = app
        .call(
            Method::PUT,
            "/api/v1/orgs/coco/mail-intake",
            Some(&w.sm),
            Some(json!({"url": "imap://127.0.0.1:1143", "user": "someone-else", "password": "", "tls": "none"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.json["error"]["field"], "password");

    // Turned off.
    let r = sm.post("/orgs/coco/mail-intake/remove", &[]).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert!(app.store.imap_intakes().await.unwrap().is_empty());
    assert!(
        sm.get("/orgs/coco/mail-intake")
            .await
            .text
            .contains("No mailbox is read")
    );
}

async fn subscribers_are_counted(app: TestApp) {
    let w = World::new(&app).await;
    let sm = Browser::new(&app, &w.sm).await;
    let count = || async {
        let page = sm.get("/orgs/coco").await;
        let i = page.text.find("Subscribers by e-mail: ").expect("a count") + 23;
        page.text[i..].split('<').next().unwrap().trim().to_owned()
    };
    assert_eq!(count().await, "0");
    for who in ["a@example.net", "b@example.net"] {
        let r = app
            .post("/api/v1/orgs/coco/subscribers", None, json!({"email": who}))
            .await;
        assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    }
    assert_eq!(count().await, "0 (2 more waiting for their confirmation)");
    app.store.notify(BASE_URL).await.unwrap();
    let mail = app.store.claim_mail(100).await.unwrap();
    let to_a = mail.iter().find(|m| m.to == "a@example.net").unwrap();
    let at = to_a.body.find("/subscriptions/").unwrap() + "/subscriptions/".len();
    let token = to_a.body[at..].split_whitespace().next().unwrap();
    let r = app
        .request(
            Request::builder()
                .method(Method::POST)
                .uri(format!("/subscriptions/{token}/confirm"))
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(count().await, "1 (1 more waiting for their confirmation)");
    // Counts only: no address on the page.
    assert!(!sm.get("/orgs/coco").await.text.contains("a@example.net"));
}

on_both_backends!(
    only_managers_see_the_settings,
    webhooks_and_their_deliveries,
    the_mailbox_page,
    subscribers_are_counted
);
