//! A user's browser sessions: listed on the account page and in the API (with when they were
//! made and last used, from where and in which browser, this one marked), never showing a
//! cookie; any one can be ended, or every other one; nobody can end another user's; and a new
//! password ends them all.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use embargo_domain::types::Email;
use serde_json::Value;

use crate::support::{Resp, TestApp, on_both_backends};

const PASSWORD: &str = "rita's long password";

fn set_cookies(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect()
}

fn csrf_in(html: &str) -> String {
    let i = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[i..].split('"').next().unwrap().to_owned()
}

fn from(n: u8) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, n], 40_000))
}

/// A page or form request from browser `agent` at `addr` with `cookies`.
fn browser(
    method: Method,
    path: &str,
    cookies: &[String],
    agent: &str,
    addr: SocketAddr,
    fields: &[(&str, &str)],
) -> Request<Body> {
    let b = Request::builder()
        .method(method)
        .uri(path)
        .header(header::COOKIE, cookies.join("; "))
        .header(header::USER_AGENT, agent)
        .extension(ConnectInfo(addr));
    if fields.is_empty() {
        return b.body(Body::empty()).unwrap();
    }
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    b.header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(body))
        .unwrap()
}

/// Signs in through the form, as browser `agent` from `addr`; the session cookie
/// (`embargo_session=...`).
async fn sign_in(app: &TestApp, email: &str, agent: &str, addr: SocketAddr) -> String {
    let page = app
        .request(browser(Method::GET, "/login", &[], agent, addr, &[]))
        .await;
    let jar = set_cookies(&page.headers);
    let csrf = csrf_in(&page.text);
    let r = app
        .request(browser(
            Method::POST,
            "/login",
            &jar,
            agent,
            addr,
            &[
                ("csrf", &csrf),
                ("email", email),
                ("password", PASSWORD),
                ("next", "/"),
            ],
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    set_cookies(&r.headers)
        .into_iter()
        .find(|c| c.starts_with("embargo_session=") && c.len() > 16)
        .expect("a session cookie")
}

/// The account page as that browser sees it.
async fn account(app: &TestApp, cookie: &str, agent: &str, addr: SocketAddr) -> Resp {
    app.request(browser(
        Method::GET,
        "/account",
        &[cookie.to_owned()],
        agent,
        addr,
        &[],
    ))
    .await
}

fn signed_in(r: &Resp) -> bool {
    r.status == StatusCode::OK && r.text.contains("Signed-in browsers")
}

async fn rita(app: &TestApp) -> (i64, String) {
    let e = Email::parse("rita@example.org").unwrap();
    let u = app
        .store
        .create_user(&e, Some("Rita"), Some(PASSWORD), false)
        .await
        .unwrap();
    let token = app.store.create_api_token(u.id, "t").await.unwrap();
    (u.id, token)
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_user_sees_and_ends_their_sessions(app: TestApp) {
    let (_, token) = rita(&app).await;
    let outsider = app.user("outsider@example.org", false).await;
    let laptop = sign_in(&app, "rita@example.org", "Laptop Browser/1.0", from(1)).await;
    app.clock.advance(time::Duration::minutes(1));
    let phone = sign_in(&app, "rita@example.org", "Phone Browser/2.0", from(2)).await;
    assert_ne!(laptop, phone);

    // Both are listed, newest use first, this one marked, with address and browser.
    let page = account(&app, &laptop, "Laptop Browser/1.0", from(1)).await;
    assert!(signed_in(&page), "{}", page.text);
    assert_eq!(page.text.matches("This browser").count(), 1);
    for needle in ["192.0.2.1", "192.0.2.2", "Laptop Browser/1.0"] {
        assert!(
            page.text.contains(needle),
            "{needle} missing: {}",
            page.text
        );
    }
    let listed = app.get("/api/v1/user/sessions", Some(&token)).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    let list = listed.json.as_array().unwrap().clone();
    assert_eq!(list.len(), 2, "{list:?}");
    let phone_entry = list
        .iter()
        .find(|s| s["client_addr"] == "192.0.2.2")
        .expect("the phone's session");
    let laptop_entry = list
        .iter()
        .find(|s| s["client_addr"] == "192.0.2.1")
        .expect("the laptop's session");
    assert_eq!(laptop_entry["user_agent"], "Laptop Browser/1.0");
    assert!(
        list.iter().all(|s| s["current"] == false),
        "an API token is no session"
    );
    assert!(
        laptop_entry["created_at"]
            .as_str()
            .unwrap()
            .starts_with("2026-")
    );
    assert!(laptop_entry["last_seen_at"].is_string());
    let phone_id = phone_entry["id"].as_str().unwrap().to_owned();
    let laptop_id = laptop_entry["id"].as_str().unwrap().to_owned();

    // No cookie (nor its hash) shows, in the page or the API.
    for cookie in [&laptop, &phone] {
        let secret = cookie.trim_start_matches("embargo_session=");
        let hash = embargo_store::secrets::token_hash(secret);
        for text in [&page.text, &listed.text] {
            assert!(!text.contains(secret) && !text.contains(&hash));
        }
        assert!(!ids(&listed.json).contains(&secret.to_owned()));
    }

    // Another user can end neither (404, as for no session at all), in the API or the page.
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/user/sessions/{phone_id}"),
            Some(&outsider),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    let stranger = app
        .store
        .user_for_api_token(&outsider)
        .await
        .unwrap()
        .unwrap();
    let (stranger_cookie, stranger_csrf) = app.store.create_session(stranger.id).await.unwrap();
    let r = app
        .request(browser(
            Method::POST,
            &format!("/account/sessions/{phone_id}/end"),
            &[format!("embargo_session={stranger_cookie}")],
            "Stranger/1",
            from(9),
            &[("csrf", &stranger_csrf)],
        ))
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    for bad in ["not-an-id", "zz", &"a".repeat(65)] {
        let r = app
            .call(
                Method::DELETE,
                &format!("/api/v1/user/sessions/{bad}"),
                Some(&token),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{bad}: {}", r.text);
    }
    assert!(signed_in(
        &account(&app, &phone, "Phone Browser/2.0", from(2)).await
    ));

    // The phone's browser name is recorded once it is used.
    let listed = app.get("/api/v1/user/sessions", Some(&token)).await;
    assert!(
        listed
            .json
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["user_agent"] == "Phone Browser/2.0"),
        "{}",
        listed.text
    );

    // Ending the phone's session from the laptop signs the phone out, and only it.
    let csrf = csrf_in(&page.text);
    let r = app
        .request(browser(
            Method::POST,
            &format!("/account/sessions/{phone_id}/end"),
            std::slice::from_ref(&laptop),
            "Laptop Browser/1.0",
            from(1),
            &[("csrf", &csrf)],
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let gone = account(&app, &phone, "Phone Browser/2.0", from(2)).await;
    assert!(!signed_in(&gone));
    assert_eq!(gone.status, StatusCode::SEE_OTHER);
    assert!(signed_in(
        &account(&app, &laptop, "Laptop Browser/1.0", from(1)).await
    ));
    let listed = app.get("/api/v1/user/sessions", Some(&token)).await;
    assert_eq!(ids(&listed.json), std::slice::from_ref(&laptop_id));
    // A form without the CSRF token ends nothing.
    let r = app
        .request(browser(
            Method::POST,
            &format!("/account/sessions/{laptop_id}/end"),
            std::slice::from_ref(&laptop),
            "Laptop Browser/1.0",
            from(1),
            &[("csrf", "wrong")],
        ))
        .await;
    assert_ne!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert!(signed_in(
        &account(&app, &laptop, "Laptop Browser/1.0", from(1)).await
    ));

    // Through the API, with the user's token.
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/user/sessions/{laptop_id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert!(!signed_in(
        &account(&app, &laptop, "Laptop Browser/1.0", from(1)).await
    ));
    let r = app
        .call(
            Method::DELETE,
            &format!("/api/v1/user/sessions/{laptop_id}"),
            Some(&token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "ended once only");
    let listed = app.get("/api/v1/user/sessions", Some(&token)).await;
    assert_eq!(listed.json, serde_json::json!([]));
    // The stranger's own session was never touched.
    assert!(signed_in(
        &account(
            &app,
            &format!("embargo_session={stranger_cookie}"),
            "Stranger/1",
            from(9)
        )
        .await
    ));
    let anonymous = app.get("/api/v1/user/sessions", None).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

async fn signing_out_every_other_browser(app: TestApp) {
    let (_, token) = rita(&app).await;
    let mut cookies = Vec::new();
    for n in 1..=3 {
        cookies.push(sign_in(&app, "rita@example.org", &format!("Browser/{n}"), from(n)).await);
    }
    let page = account(&app, &cookies[0], "Browser/1", from(1)).await;
    assert!(page.text.contains("Sign out every other browser"));
    let r = app
        .request(browser(
            Method::POST,
            "/account/sessions/end-others",
            std::slice::from_ref(&cookies[0]),
            "Browser/1",
            from(1),
            &[("csrf", &csrf_in(&page.text))],
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert!(signed_in(
        &account(&app, &cookies[0], "Browser/1", from(1)).await
    ));
    for (n, c) in cookies.iter().enumerate().skip(1) {
        assert!(
            !signed_in(&account(&app, c, "Browser/x", from(1)).await),
            "{n}"
        );
    }
    let listed = app.get("/api/v1/user/sessions", Some(&token)).await;
    assert_eq!(listed.json.as_array().unwrap().len(), 1);
    let page = account(&app, &cookies[0], "Browser/1", from(1)).await;
    assert!(!page.text.contains("Sign out every other browser"));

    // Ending this browser's own session from the list signs it out here.
    let id = ids(&listed.json).remove(0);
    let r = app
        .request(browser(
            Method::POST,
            &format!("/account/sessions/{id}/end"),
            std::slice::from_ref(&cookies[0]),
            "Browser/1",
            from(1),
            &[("csrf", &csrf_in(&page.text))],
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        r.headers
            .get_all(header::SET_COOKIE)
            .iter()
            .any(|c| c.to_str().unwrap().starts_with("embargo_session=;")),
        "the cookie is cleared"
    );
    assert!(!signed_in(
        &account(&app, &cookies[0], "Browser/1", from(1)).await
    ));
}

/// Kept from before the list existed: a new password ends every session.
async fn a_new_password_ends_every_session(app: TestApp) {
    let (user, token) = rita(&app).await;
    let a = sign_in(&app, "rita@example.org", "A/1", from(1)).await;
    let b = sign_in(&app, "rita@example.org", "B/1", from(2)).await;
    app.store
        .set_password(user, "an entirely new password")
        .await
        .unwrap();
    for c in [&a, &b] {
        assert!(!signed_in(&account(&app, c, "A/1", from(1)).await));
    }
    let listed = app.get("/api/v1/user/sessions", Some(&token)).await;
    assert_eq!(listed.json, serde_json::json!([]));
}

on_both_backends!(
    a_user_sees_and_ends_their_sessions,
    signing_out_every_other_browser,
    a_new_password_ends_every_session,
);
