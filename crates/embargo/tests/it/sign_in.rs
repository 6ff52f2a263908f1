//! Signing in against guessing: `next` leads only to this site; every password and code is
//! counted before it is checked, so a burst of parallel requests cannot pass a limit; a
//! stranger's guesses from one address do not lock the owner out from another; the ceilings
//! per account (across addresses, with growing pauses) and per address (across accounts)
//! hold; the owner hears of it once; and a sign-in link by mail gets them in during a lock,
//! once, without telling anyone which accounts exist.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use embargo_domain::types::Email;
use embargo_store::QueuedMail;
use serde_json::json;
use tokio::task::JoinSet;
use tower::ServiceExt;

use crate::support::{Resp, TestApp, on_both_backends};

const PASSWORD: &str = "the owner's right password";
const WRONG: &str = "a wrong password, guessed";
const GUESSING: &str = "Someone is trying to sign in";

/// A client address, `192.0.2.N` (documentation range); the server reads it from the
/// connection, as `into_make_service_with_connect_info` gives it.
fn addr(n: u8) -> SocketAddr {
    SocketAddr::from(([192, 0, 2, n], 40_000))
}

/// An account with a password.
async fn owner(app: &TestApp, email: &str) -> i64 {
    let e = Email::parse(email).unwrap();
    app.store
        .create_user(&e, None, Some(PASSWORD), false)
        .await
        .unwrap()
        .id
}

/// The anonymous CSRF cookie and token a page hands out.
struct Csrf {
    cookie: String,
    token: String,
}

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

async fn login_page(app: &TestApp) -> Csrf {
    let page = app.page("/login", None).await;
    assert_eq!(page.status, StatusCode::OK);
    Csrf {
        cookie: set_cookies(&page.headers)
            .into_iter()
            .find(|c| c.starts_with("embargo_csrf="))
            .expect("the CSRF cookie"),
        token: csrf_in(&page.text),
    }
}

/// A form post from `from`, with the CSRF pair and `cookies`.
fn form(
    path: &str,
    csrf: &Csrf,
    cookies: &[String],
    fields: &[(&str, &str)],
    from: SocketAddr,
) -> Request<Body> {
    let body: String = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("csrf", &csrf.token)
        .extend_pairs(fields)
        .finish();
    let mut jar = vec![csrf.cookie.clone()];
    jar.extend_from_slice(cookies);
    Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(header::COOKIE, jar.join("; "))
        .extension(ConnectInfo(from))
        .body(Body::from(body))
        .unwrap()
}

fn login_req(
    csrf: &Csrf,
    from: SocketAddr,
    email: &str,
    password: &str,
    next: &str,
) -> Request<Body> {
    form(
        "/login",
        csrf,
        &[],
        &[("email", email), ("password", password), ("next", next)],
        from,
    )
}

async fn login(app: &TestApp, csrf: &Csrf, from: SocketAddr, email: &str, password: &str) -> Resp {
    app.request(login_req(csrf, from, email, password, "/"))
        .await
}

/// Sends the requests all at once; their answers' statuses and headers.
async fn at_once(app: &TestApp, requests: Vec<Request<Body>>) -> Vec<(StatusCode, HeaderMap)> {
    let mut set = JoinSet::new();
    for req in requests {
        let router = app.router.clone();
        set.spawn(async move {
            let resp = router.oneshot(req).await.unwrap();
            (resp.status(), resp.headers().clone())
        });
    }
    set.join_all().await
}

fn count(answers: &[(StatusCode, HeaderMap)], status: StatusCode) -> usize {
    answers.iter().filter(|(s, _)| *s == status).count()
}

fn retry_after(r: &Resp) -> &str {
    r.headers
        .get(header::RETRY_AFTER)
        .expect("a Retry-After")
        .to_str()
        .unwrap()
}

fn signed_in(r: &Resp) -> bool {
    set_cookies(&r.headers)
        .iter()
        .any(|c| c.starts_with("embargo_session=") && c.len() > 30)
}

/// The messages queued so far (each taken off the queue).
async fn mail(app: &TestApp) -> Vec<QueuedMail> {
    let mails = app.store.claim_mail(1000).await.unwrap();
    for m in &mails {
        app.store.mail_sent(m.id).await.unwrap();
    }
    mails
}

/// 100 wrong passwords for `email`, 10 at once from each of 10 addresses; all are checked.
async fn guess_from_everywhere(app: &TestApp, csrf: &Csrf, email: &str) {
    for a in 1..=10u8 {
        let requests = (0..10)
            .map(|i| login_req(csrf, addr(100 + a), email, &format!("{WRONG} {i}"), "/"))
            .collect();
        let answers = at_once(app, requests).await;
        assert_eq!(count(&answers, StatusCode::UNAUTHORIZED), 10, "{answers:?}");
    }
}

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

/// An account with a password and two-factor sign-in on; its TOTP secret.
async fn owner_with_second_factor(app: &TestApp, email: &str) -> String {
    let id = owner(app, email).await;
    let token = app.store.create_api_token(id, "t").await.unwrap();
    let r = app
        .post("/api/v1/user/two-factor", Some(&token), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let secret = r.json["secret"].as_str().unwrap().to_owned();
    let r = app
        .post(
            "/api/v1/user/two-factor/confirm",
            Some(&token),
            json!({"code": code_at(&secret, app, 0)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // The enrolment's code is used up; the next sign-in needs a later one.
    app.clock.advance(time::Duration::seconds(90));
    secret
}

/// The second step's form: `code` and `next`, with the cookies of the password step.
fn second_step(
    csrf: &Csrf,
    jar: &[String],
    code: &str,
    next: &str,
    from: SocketAddr,
) -> Request<Body> {
    form(
        "/login/two-factor",
        csrf,
        jar,
        &[("code", code), ("next", next)],
        from,
    )
}

async fn next_leads_to_this_site_only(app: TestApp) {
    owner(&app, "rita@example.org").await;
    let csrf = login_page(&app).await;
    for (next, to) in [
        ("/\t/evil.example", "/"),
        ("/\n/evil.example", "/"),
        ("/\r\n/evil.example", "/"),
        ("\u{1}//evil.example", "/"),
        ("/\\evil.example", "/"),
        ("/%2F/evil.example", "/"),
        ("https://evil.example/", "/"),
        ("javascript:alert(1)", "/"),
        ("", "/"),
        // What stays on this site is kept, as the browser would read it, and always a
        // valid header.
        ("/advisories\n", "/advisories"),
        ("/adv\tisories", "/advisories"),
        ("/adv\u{0}isories", "/adv%00isories"),
        ("/advisories?q=a b", "/advisories?q=a%20b"),
    ] {
        let r = app
            .request(login_req(
                &csrf,
                addr(1),
                "rita@example.org",
                PASSWORD,
                next,
            ))
            .await;
        assert_eq!(r.status, StatusCode::SEE_OTHER, "{next:?}: {}", r.text);
        assert_eq!(
            r.headers.get(header::LOCATION).map(|v| v.to_str().unwrap()),
            Some(to),
            "next = {next:?}"
        );
    }
    // The login page carries no foreign `next` into its form.
    for query in [
        "/%09/evil.example",
        "/%0A/evil.example",
        "%20//evil.example",
    ] {
        let page = app.page(&format!("/login?next={query}"), None).await;
        assert!(
            page.text.contains("name=\"next\" value=\"/\""),
            "{query}: {}",
            page.text
        );
    }

    // The second step of a two-factor sign-in follows the same rule, whatever its form says.
    let secret = owner_with_second_factor(&app, "tess@example.org").await;
    let r = app
        .request(login_req(
            &csrf,
            addr(1),
            "tess@example.org",
            PASSWORD,
            "/\t/evil.example",
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers[header::LOCATION], "/login/two-factor?next=%2F");
    let page = app
        .request(
            Request::builder()
                .uri("/login/two-factor?next=/%09/evil.example")
                .header(header::COOKIE, set_cookies(&r.headers).join("; "))
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(
        page.text.contains("name=\"next\" value=\"/\""),
        "{}",
        page.text
    );
    let r = app
        .request(second_step(
            &csrf,
            &set_cookies(&r.headers),
            &code_at(&secret, &app, 0),
            "/\t/evil.example",
            addr(1),
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(r.headers[header::LOCATION], "/");
    assert!(signed_in(&r));
}

/// 40 wrong passwords sent at once from one address: exactly the limit (10) are checked.
async fn parallel_passwords_cannot_pass_the_limit(app: TestApp) {
    owner(&app, "rita@example.org").await;
    let csrf = login_page(&app).await;
    let requests = (0..40)
        .map(|i| {
            login_req(
                &csrf,
                addr(1),
                "rita@example.org",
                &format!("{WRONG} {i}"),
                "/",
            )
        })
        .collect();
    let answers = at_once(&app, requests).await;
    assert_eq!(
        count(&answers, StatusCode::UNAUTHORIZED),
        10,
        "only the limit is checked: {answers:?}"
    );
    assert_eq!(count(&answers, StatusCode::TOO_MANY_REQUESTS), 30);
    assert!(
        answers
            .iter()
            .filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS)
            .all(|(_, h)| h[header::RETRY_AFTER] == "900")
    );
    // From there even the right password waits; the owner elsewhere signs in.
    let r = login(&app, &csrf, addr(1), "rita@example.org", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    let r = login(&app, &csrf, addr(2), "rita@example.org", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert!(signed_in(&r));
}

/// 60 wrong codes sent at once on one pending sign-in: exactly the limit (5) are checked.
async fn parallel_codes_cannot_pass_the_limit(app: TestApp) {
    let secret = owner_with_second_factor(&app, "tess@example.org").await;
    let csrf = login_page(&app).await;
    let r = login(&app, &csrf, addr(1), "tess@example.org", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let jar = set_cookies(&r.headers);
    let right: Vec<String> = (-1..=1).map(|o| code_at(&secret, &app, o)).collect();
    let requests = (0..200)
        .map(|i| format!("{:06}", 100_000 + i * 7))
        .filter(|c| !right.contains(c))
        .take(60)
        .map(|c| second_step(&csrf, &jar, &c, "/", addr(1)))
        .collect();
    let answers = at_once(&app, requests).await;
    assert_eq!(
        count(&answers, StatusCode::UNAUTHORIZED),
        5,
        "only the limit is checked: {answers:?}"
    );
    assert_eq!(count(&answers, StatusCode::TOO_MANY_REQUESTS), 55);
    let r = app
        .request(second_step(&csrf, &jar, &right[1], "/", addr(1)))
        .await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
    // The owner hears of it (their password is known), once.
    let told: Vec<_> = mail(&app)
        .await
        .into_iter()
        .filter(|m| m.to == "tess@example.org" && m.subject.contains(GUESSING))
        .collect();
    assert_eq!(told.len(), 1, "{told:#?}");
    assert!(told[0].body.contains("two-factor codes"));
}

/// Twelve wrong passwords for `email` from `from`: ten are checked, then that address waits
/// out the window; the last answer.
async fn twelve_guesses(app: &TestApp, csrf: &Csrf, from: SocketAddr, email: &str) -> Resp {
    let mut statuses = Vec::new();
    let mut last = None;
    for _ in 0..12 {
        let r = login(app, csrf, from, email, WRONG).await;
        statuses.push(r.status);
        last = Some(r);
    }
    assert_eq!(
        statuses,
        [
            vec![StatusCode::UNAUTHORIZED; 10],
            vec![StatusCode::TOO_MANY_REQUESTS; 2]
        ]
        .concat(),
        "{email}"
    );
    let last = last.unwrap();
    assert_eq!(retry_after(&last), "900");
    last
}

/// A stranger's wrong passwords from one address shut that address out, not the owner at
/// another; an address without an account answers the same; the owner is told once.
async fn a_strangers_guesses_do_not_lock_the_owner_out(app: TestApp) {
    owner(&app, "rita@example.org").await;
    let csrf = login_page(&app).await;
    let stranger = addr(66);
    let refused = twelve_guesses(&app, &csrf, stranger, "rita@example.org").await;
    // The owner, from their own address, signs in as usual.
    let r = login(&app, &csrf, addr(7), "rita@example.org", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert!(signed_in(&r));
    // The stranger's right guess is refused too: the lock tells nothing; the page offers
    // the link by mail.
    let r = login(&app, &csrf, stranger, "rita@example.org", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(
        refused.text.contains("Send me a sign-in link") && refused.text.contains("<details open>"),
        "{}",
        refused.text
    );
    // An address without an account answers the same.
    twelve_guesses(&app, &csrf, stranger, "nobody@example.org").await;

    // The owner hears of it once, with no link in the message; nobody else is written to.
    let sent = mail(&app).await;
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert_eq!(sent[0].to, "rita@example.org");
    assert!(sent[0].subject.contains(GUESSING));
    assert!(!sent[0].body.contains("http"), "{}", sent[0].body);
    // Past the window the stranger may try again, and the owner hears of it again.
    app.clock.advance(time::Duration::minutes(61));
    for _ in 0..10 {
        let r = login(&app, &csrf, stranger, "rita@example.org", WRONG).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    }
    assert_eq!(mail(&app).await.len(), 1);
}

/// One address guessing at many accounts stops at its own ceiling (30), for every account,
/// while the same accounts from elsewhere are not concerned.
async fn one_address_cannot_guess_at_many_accounts(app: TestApp) {
    owner(&app, "rita@example.org").await;
    let csrf = login_page(&app).await;
    let stranger = addr(66);
    for email in ["a@example.org", "b@example.org", "rita@example.org"] {
        let requests = (0..10)
            .map(|i| login_req(&csrf, stranger, email, &format!("{WRONG} {i}"), "/"))
            .collect();
        let answers = at_once(&app, requests).await;
        assert_eq!(count(&answers, StatusCode::UNAUTHORIZED), 10, "{email}");
    }
    for email in ["c@example.org", "d@example.org"] {
        let r = login(&app, &csrf, stranger, email, WRONG).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{email}");
    }
    let r = login(&app, &csrf, addr(7), "rita@example.org", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
}

/// Guesses spread over addresses stop at the account's ceiling (100 per hour), for the right
/// password too; then one more try after pauses that double.
async fn the_account_ceiling_holds_across_addresses(app: TestApp) {
    owner(&app, "rita@example.org").await;
    let csrf = login_page(&app).await;
    guess_from_everywhere(&app, &csrf, "rita@example.org").await;
    let r = login(&app, &csrf, addr(7), "rita@example.org", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after(&r), "60");
    let r = login(&app, &csrf, addr(8), "rita@example.org", WRONG).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "a new address too");
    app.clock.advance(time::Duration::seconds(61));
    let r = login(&app, &csrf, addr(200), "rita@example.org", WRONG).await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "one more try after the pause"
    );
    let r = login(&app, &csrf, addr(7), "rita@example.org", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(retry_after(&r), "120", "the pause doubles");
    app.clock.advance(time::Duration::seconds(121));
    let r = login(&app, &csrf, addr(7), "rita@example.org", PASSWORD).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    // Ten addresses locked out, the account at its ceiling: one message.
    let sent = mail(&app).await;
    assert_eq!(sent.len(), 1, "{sent:#?}");
    assert!(sent[0].subject.contains(GUESSING));
}

/// The sign-in link by mail: works during a lock, once; answered the same for an unknown
/// address; limited per address.
async fn a_sign_in_link_gets_the_owner_in_during_a_lock(app: TestApp) {
    owner(&app, "rita@example.org").await;
    let nobody_but_reporter = Email::parse("reporter@example.org").unwrap();
    app.store
        .create_user(&nobody_but_reporter, None, None, false)
        .await
        .unwrap();
    let csrf = login_page(&app).await;
    guess_from_everywhere(&app, &csrf, "rita@example.org").await;
    let r = login(&app, &csrf, addr(7), "rita@example.org", PASSWORD).await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS);
    mail(&app).await;

    let ask = |email: &'static str, from: SocketAddr| {
        app.request(form("/login/link", &csrf, &[], &[("email", email)], from))
    };
    let known = ask("rita@example.org", addr(7)).await;
    assert_eq!(known.status, StatusCode::OK, "{}", known.text);
    for other in [
        "nobody@example.org",
        "reporter@example.org",
        "not an address",
    ] {
        let r = ask(other, addr(7)).await;
        assert_eq!((r.status, &r.text), (known.status, &known.text), "{other}");
    }
    let sent = mail(&app).await;
    assert_eq!(
        sent.len(),
        1,
        "only the account with a password gets one: {sent:#?}"
    );
    assert_eq!(sent[0].to, "rita@example.org");
    let needle = format!("{}/login/link/", crate::support::BASE_URL);
    let at = sent[0].body.find(&needle).expect("a link") + needle.len();
    let token = sent[0].body[at..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let path = format!("/login/link/{token}");

    // Opening the link does not use it (mail scanners open links); the button does.
    let page = app.page(&path, None).await;
    assert_eq!(page.status, StatusCode::OK);
    let page = app.page(&path, None).await;
    assert_eq!(page.status, StatusCode::OK);
    let r = app.request(form(&path, &csrf, &[], &[], addr(7))).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(r.headers[header::LOCATION], "/");
    assert!(signed_in(&r));
    let session = set_cookies(&r.headers)
        .into_iter()
        .find(|c| c.starts_with("embargo_session="))
        .unwrap();
    let home = app
        .request(
            Request::builder()
                .uri("/")
                .header(header::COOKIE, session)
                .body(Body::empty())
                .unwrap(),
        )
        .await;
    assert!(home.text.contains("Sign out"));
    // Once.
    let again = app.request(form(&path, &csrf, &[], &[], addr(7))).await;
    assert_eq!(again.status, StatusCode::NOT_FOUND);
    assert!(!signed_in(&again));
    assert_eq!(app.page(&path, None).await.status, StatusCode::NOT_FOUND);

    // A few links per hour to one account; beyond, none is sent, and the answer is the same.
    for n in 0..4 {
        let r = ask("rita@example.org", addr(20 + n)).await;
        assert_eq!((r.status, &r.text), (known.status, &known.text));
    }
    let links = mail(&app).await;
    assert_eq!(links.len(), 2, "three in the hour: {links:#?}");
    // A few asks per hour from one address (5), whether the accounts exist or not.
    for email in [
        "v@example.org",
        "w@example.org",
        "x@example.org",
        "y@example.org",
        "rita@example.org",
    ] {
        assert_eq!(ask(email, addr(9)).await.status, StatusCode::OK);
    }
    for email in ["rita@example.org", "z@example.org"] {
        let r = ask(email, addr(9)).await;
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{email}");
        assert!(retry_after(&r).parse::<u64>().unwrap() > 0);
    }
}

/// A sign-in link leads to the second step when the account has two-factor sign-in on.
async fn a_sign_in_link_still_asks_for_the_second_factor(app: TestApp) {
    let secret = owner_with_second_factor(&app, "tess@example.org").await;
    let csrf = login_page(&app).await;
    let r = app
        .request(form(
            "/login/link",
            &csrf,
            &[],
            &[("email", "tess@example.org")],
            addr(7),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let sent = mail(&app).await;
    assert!(sent[0].body.contains("second factor"), "{}", sent[0].body);
    let at = sent[0].body.find("/login/link/").unwrap();
    let path = sent[0].body[at..]
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let r = app.request(form(&path, &csrf, &[], &[], addr(7))).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert!(
        r.headers[header::LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/login/two-factor")
    );
    assert!(!signed_in(&r), "no session before the second factor");
    let r = app
        .request(second_step(
            &csrf,
            &set_cookies(&r.headers),
            &code_at(&secret, &app, 0),
            "/",
            addr(7),
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert!(signed_in(&r));
}

on_both_backends!(
    next_leads_to_this_site_only,
    parallel_passwords_cannot_pass_the_limit,
    parallel_codes_cannot_pass_the_limit,
    a_strangers_guesses_do_not_lock_the_owner_out,
    one_address_cannot_guess_at_many_accounts,
    the_account_ceiling_holds_across_addresses,
    a_sign_in_link_gets_the_owner_in_during_a_lock,
    a_sign_in_link_still_asks_for_the_second_factor,
);
