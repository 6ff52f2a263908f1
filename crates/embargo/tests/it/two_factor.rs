//! Two-factor sign-in: enrolment with a confirmed code, the second step of signing in, no
//! code twice, recovery codes once each, and the organisation's requirement.

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use serde_json::json;

use crate::support::{Resp, TestApp, World, on_both_backends};

fn code_at(secret: &str, app: &TestApp, offset_steps: i64) -> String {
    let bytes = totp_rs::Secret::Encoded(secret.to_owned())
        .to_bytes()
        .unwrap();
    let t = totp_rs::TOTP::new_unchecked(
        totp_rs::Algorithm::SHA1,
        6,
        1,
        30,
        bytes,
        None,
        String::new(),
    );
    let now = app.store.now().unix_timestamp() + offset_steps * 30;
    t.generate(u64::try_from(now).unwrap())
}

async fn enrol(app: &TestApp, token: &str) -> (String, Vec<String>) {
    let r = app
        .post("/api/v1/user/two-factor", Some(token), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let secret = r.json["secret"].as_str().unwrap().to_owned();
    assert!(
        r.json["otpauth_url"]
            .as_str()
            .unwrap()
            .starts_with("otpauth://totp/Embargo")
    );
    let bad = app
        .post(
            "/api/v1/user/two-factor/confirm",
            Some(token),
            json!({"code": "000000"}),
        )
        .await;
    if code_at(&secret, app, 0) != "000000" {
        assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    }
    let r = app
        .post(
            "/api/v1/user/two-factor/confirm",
            Some(token),
            json!({"code": code_at(&secret, app, 0)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let codes: Vec<String> = r.json["recovery_codes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

fn form(path: &str, cookies: &[String], fields: &[(&str, &str)]) -> Request<Body> {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish();
    Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, cookies.join("; "))
        .body(Body::from(body))
        .unwrap()
}

fn cookies(r: &Resp) -> Vec<String> {
    r.headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .collect()
}

fn csrf_in(html: &str) -> String {
    let i = html.find("name=\"csrf\" value=\"").unwrap() + 19;
    html[i..].split('"').next().unwrap().to_owned()
}

/// Signs in with the password; returns the cookies for the second step.
async fn password_step(app: &TestApp, email: &str) -> (Resp, Vec<String>) {
    let page = app.page("/login", None).await;
    let mut jar = cookies(&page);
    let csrf = csrf_in(&page.text);
    let r = app
        .request(form(
            "/login",
            &jar,
            &[
                ("csrf", &csrf),
                ("email", email),
                ("password", "a long enough password"),
                ("next", "/advisories"),
            ],
        ))
        .await;
    jar.extend(cookies(&r));
    (r, jar)
}

async fn second_step(app: &TestApp, jar: &[String], code: &str) -> Resp {
    let page = app
        .request(
            Request::builder()
                .uri("/login/two-factor?next=/advisories")
                .header(header::COOKIE, jar.join("; "))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    let csrf = csrf_in(&page.text);
    app.request(form(
        "/login/two-factor",
        jar,
        &[("csrf", &csrf), ("code", code), ("next", "/advisories")],
    ))
    .await
}

async fn sign_in_asks_for_a_second_factor(app: TestApp) {
    let email = embargo_domain::types::Email::parse("rita@example.org").unwrap();
    let user = app
        .store
        .create_user(&email, Some("Rita"), Some("a long enough password"), false)
        .await
        .unwrap();
    let token = app.store.create_api_token(user.id, "t").await.unwrap();
    let (secret, recovery) = enrol(&app, &token).await;
    assert_eq!(
        app.post("/api/v1/user/two-factor", Some(&token), json!({}))
            .await
            .status,
        StatusCode::CONFLICT
    );

    // The password alone gives no session.
    app.clock.advance(time::Duration::seconds(60));
    let (r, jar) = password_step(&app, "rita@example.org").await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert!(
        r.headers[header::LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/login/two-factor")
    );
    assert!(
        !jar.iter().any(|c| c.starts_with("embargo_session=")),
        "no session before the second factor"
    );
    let r = second_step(&app, &jar, "123456").await;
    if code_at(&secret, &app, 0) != "123456" {
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    let code = code_at(&secret, &app, 0);
    let r = second_step(&app, &jar, &code).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(r.headers[header::LOCATION], "/advisories");
    assert!(
        cookies(&r)
            .iter()
            .any(|c| c.starts_with("embargo_session=") && c.len() > 30)
    );

    // The same code cannot be used again, even in another sign-in within its window.
    let (_, jar) = password_step(&app, "rita@example.org").await;
    assert_eq!(
        second_step(&app, &jar, &code).await.status,
        StatusCode::UNAUTHORIZED,
        "no replay"
    );
    // A recovery code works, once.
    assert_eq!(
        second_step(&app, &jar, &recovery[0]).await.status,
        StatusCode::SEE_OTHER
    );
    let (_, jar) = password_step(&app, "rita@example.org").await;
    assert_eq!(
        second_step(&app, &jar, &recovery[0]).await.status,
        StatusCode::UNAUTHORIZED
    );
    // Without the password step, the second step is not offered.
    let page = app.page("/login/two-factor", None).await;
    assert_eq!(page.status, StatusCode::SEE_OTHER);
    // Turning it off needs a factor too.
    app.clock.advance(time::Duration::seconds(60));
    assert_eq!(
        app.call(
            Method::DELETE,
            "/api/v1/user/two-factor",
            Some(&token),
            Some(json!({"code": "nope"}))
        )
        .await
        .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.call(
            Method::DELETE,
            "/api/v1/user/two-factor",
            Some(&token),
            Some(json!({"code": code_at(&secret, &app, 0)}))
        )
        .await
        .status,
        StatusCode::NO_CONTENT
    );
    let (r, _) = password_step(&app, "rita@example.org").await;
    assert_eq!(
        r.headers[header::LOCATION],
        "/advisories",
        "plain sign-in again"
    );
}

async fn organisations_can_require_it(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.advisory_in(&app, "draft").await;
    let api = format!("/api/v1/advisories/{id}");
    let r = app
        .call(
            Method::PATCH,
            "/api/v1/orgs/coco",
            Some(&w.maintainer),
            Some(json!({"require_two_factor": true})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::FORBIDDEN,
        "maintainers do not set policy"
    );
    let r = app
        .call(
            Method::PATCH,
            "/api/v1/orgs/coco",
            Some(&w.sm),
            Some(json!({"require_two_factor": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["policy"]["require_two_factor"], true);

    // Security managers and the steering committee cannot act until they turn it on...
    for who in [&w.sm, &w.sc] {
        let r = app.get(&api, Some(who)).await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        assert!(
            r.json["error"]["message"]
                .as_str()
                .unwrap()
                .contains("two-factor")
        );
    }
    let r = app
        .post(
            "/api/v1/orgs/coco/repos",
            Some(&w.sm),
            json!({"slug": "new", "name": "New"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
    assert!(r.text.contains("two-factor"));
    // ...while maintainers and reporters are not concerned, and outsiders still see nothing.
    assert_eq!(
        app.get(&api, Some(&w.maintainer)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get(&api, Some(&w.reporter)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get(&api, Some(&w.outsider)).await.status,
        StatusCode::NOT_FOUND
    );
    // Once on, the role counts again.
    enrol(&app, &w.sm).await;
    assert_eq!(app.get(&api, Some(&w.sm)).await.status, StatusCode::OK);
    assert_eq!(
        app.post(
            "/api/v1/orgs/coco/repos",
            Some(&w.sm),
            json!({"slug": "new", "name": "New"})
        )
        .await
        .status,
        StatusCode::CREATED
    );
    assert_eq!(
        app.get(&api, Some(&w.sc)).await.status,
        StatusCode::FORBIDDEN
    );
}

/// Whether a browser session still opens the account page (a redirect to sign in when not).
async fn signed_in(app: &TestApp, cookie: &str) -> bool {
    let r = app
        .request(
            Request::builder()
                .uri("/account")
                .header(header::COOKIE, cookie)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    r.status == StatusCode::OK
}

/// Turning the second factor on or off ends every other session of the account: a session
/// opened with the password alone (perhaps a thief's) does not outlive the change. The
/// browser making the change stays signed in.
async fn changing_the_second_factor_ends_other_sessions(app: TestApp) {
    let token = app.user("owner@example.org", false).await;
    let (a, b) = (
        app.session_cookie(&token).await,
        app.session_cookie(&token).await,
    );
    assert!(signed_in(&app, &a).await && signed_in(&app, &b).await);
    // On through the API: no browser session is the one asking, so all end.
    let (_secret, codes) = enrol(&app, &token).await;
    assert!(
        !signed_in(&app, &a).await,
        "a session outlived turning two-factor on"
    );
    assert!(
        !signed_in(&app, &b).await,
        "a session outlived turning two-factor on"
    );

    // Off from the account page in browser `a`: `a` stays, `b` ends.
    let (a, b) = (
        app.session_cookie(&token).await,
        app.session_cookie(&token).await,
    );
    let page = app
        .request(
            Request::builder()
                .uri("/account")
                .header(header::COOKIE, &a)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let csrf = csrf_in(&page.text);
    let r = app
        .request(form(
            "/account/two-factor/disable",
            std::slice::from_ref(&a),
            &[("csrf", &csrf), ("code", &codes[0])],
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(
        signed_in(&app, &a).await,
        "the browser that made the change was signed out"
    );
    assert!(
        !signed_in(&app, &b).await,
        "another session outlived turning two-factor off"
    );
}

on_both_backends!(
    sign_in_asks_for_a_second_factor,
    organisations_can_require_it,
    changing_the_second_factor_ends_other_sessions
);

/// Guessing is slowed: ten wrong passwords for an account from one address (here the calls
/// carry none, as one client) shut that door for the rest of the 15 minutes, even to the
/// right password; five wrong codes shut the second step of the account alike. Other
/// addresses are not concerned (`sign_in::a_strangers_guesses_do_not_lock_the_owner_out`).
async fn guessing_is_slowed(app: TestApp) {
    let email = embargo_domain::types::Email::parse("target@example.org").unwrap();
    let user = app
        .store
        .create_user(&email, None, Some("the right password!"), false)
        .await
        .unwrap();
    for _ in 0..10 {
        assert!(
            app.store
                .authenticate("TARGET@example.org", "a wrong password")
                .await
                .unwrap()
                .is_none()
        );
    }
    match app
        .store
        .authenticate("target@example.org", "the right password!")
        .await
    {
        Err(embargo_store::StoreError::RateLimited {
            retry_after_secs, ..
        }) => assert_eq!(retry_after_secs, 900),
        other => panic!("expected a refusal, got {other:?}"),
    }
    let (r, _) = password_step(&app, "target@example.org").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers[header::RETRY_AFTER], "900");
    app.clock.advance(time::Duration::minutes(16));
    assert!(
        app.store
            .authenticate("target@example.org", "the right password!")
            .await
            .unwrap()
            .is_some()
    );

    let token = app.store.create_api_token(user.id, "t").await.unwrap();
    let (secret, _) = enrol(&app, &token).await;
    app.clock.advance(time::Duration::seconds(90));
    for _ in 0..5 {
        assert!(
            !app.store
                .verify_second_factor(user.id, "000000x")
                .await
                .unwrap()
        );
    }
    let right = code_at(&secret, &app, 0);
    assert!(matches!(
        app.store.verify_second_factor(user.id, &right).await,
        Err(embargo_store::StoreError::RateLimited { .. })
    ));
}

on_both_backends!(guessing_is_slowed);
