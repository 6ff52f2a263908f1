//! Regression tests for the defects a security review and a new user's first try found
//! (issue 10): each fails against the code before its fix.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, on_both_backends};

/// An administrator who creates an organisation sets it up without making themselves its
/// security manager: repositories, maintainers, members; its advisories stay need-to-know.
async fn administrators_manage_every_organisation(app: TestApp) {
    let admin = app.user("admin@example.org", true).await;
    let a = Some(admin.as_str());
    app.user("maintainer@example.org", false).await;
    let r = app
        .post("/api/v1/orgs", a, json!({"slug": "acme", "name": "Acme"}))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app
        .post(
            "/api/v1/orgs/acme/repos",
            a,
            json!({"slug": "widget", "name": "Widget"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app
        .call(
            Method::PUT,
            "/api/v1/orgs/acme/repos/widget/maintainers/maintainer@example.org",
            a,
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .call(
            Method::PATCH,
            "/api/v1/orgs/acme",
            a,
            Some(json!({"response_days": 10})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // A user who is nobody in the organisation still may not.
    let stranger = app.user("stranger@example.org", false).await;
    let r = app
        .post(
            "/api/v1/orgs/acme/repos",
            Some(&stranger),
            json!({"slug": "other", "name": "Other"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
}

on_both_backends!(administrators_manage_every_organisation);

/// `embargo admin user add` prints its link at `server.public_url`, else at the configured
/// listen address; with neither set it says the address is assumed.
#[test]
fn printed_links_use_the_configured_address() {
    let run = |env: &[(&str, &str)]| {
        let data = tempfile::tempdir().unwrap();
        let mut cmd = std::process::Command::new(crate::support::embargo_bin());
        cmd.args(["admin", "user", "add", "someone@example.org", "--data"])
            .arg(data.path())
            .env_remove("EMBARGO_DATABASE_URL")
            .env_remove("EMBARGO_SERVER_PUBLIC_URL")
            .env_remove("EMBARGO_SERVER_LISTEN");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let out = cmd.output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (out, err) = run(&[("EMBARGO_SERVER_PUBLIC_URL", "https://security.example.org/")]);
    assert!(out.contains("https://security.example.org/reset/"), "{out}");
    assert!(!err.contains("assumes"), "{err}");
    let (out, err) = run(&[("EMBARGO_SERVER_LISTEN", "127.0.0.1:9311")]);
    assert!(out.contains("http://127.0.0.1:9311/reset/"), "{out}");
    assert!(!err.contains("assumes"), "{err}");
    let (out, err) = run(&[]);
    assert!(out.contains("http://127.0.0.1:8080/reset/"), "{out}");
    assert!(
        err.contains("neither server.public_url nor server.listen is set")
            && err.contains("assumes the server is at http://127.0.0.1:8080"),
        "{err}"
    );
}

/// Comments and internal notes on a published advisory are for its audience: its public
/// documents (OSV `modified`, Atom `<updated>`, CSAF `changes.csv`, the public API's
/// `updated_at` and `revision`) stay exactly as they were; a public change moves them.
async fn invisible_changes_keep_public_dates(app: TestApp) {
    let w = crate::support::World::new(&app).await;
    let id = w.advisory_in(&app, "published").await;
    async fn public(
        app: &TestApp,
        id: &str,
    ) -> (
        String,
        (serde_json::Value, serde_json::Value),
        String,
        String,
        String,
    ) {
        {
            let osv = app.get(&format!("/advisories/{id}/osv.json"), None).await;
            assert_eq!(osv.status, StatusCode::OK, "{}", osv.text);
            let api = app.get(&format!("/api/v1/advisories/{id}"), None).await;
            assert_eq!(api.status, StatusCode::OK, "{}", api.text);
            let feed = app.get("/feeds/advisories.atom", None).await;
            let org_feed = app.get("/orgs/coco/advisories.atom", None).await;
            let changes = app.get("/.well-known/csaf/white/changes.csv", None).await;
            (
                osv.text,
                (api.json["updated_at"].clone(), api.json["revision"].clone()),
                feed.text,
                org_feed.text,
                changes.text,
            )
        }
    }
    let before = public(&app, &id).await;
    let audience_rev = app
        .get(&format!("/api/v1/advisories/{id}"), Some(&w.sm))
        .await
        .json["revision"]
        .clone();
    app.clock.advance(time::Duration::hours(3));
    for (token, body) in [
        (
            &w.sm,
            json!({"body": "internal: the fix needs a backport", "internal": true}),
        ),
        (&w.maintainer, json!({"body": "a reply in the thread"})),
        (&w.reporter, json!({"body": "thanks"})),
    ] {
        let r = app
            .post(
                &format!("/api/v1/advisories/{id}/comments"),
                Some(token),
                body,
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let after = public(&app, &id).await;
    assert_eq!(before.0, after.0, "OSV record");
    assert_eq!(before.1, after.1, "public API updated_at and revision");
    assert_eq!(before.2, after.2, "site feed");
    assert_eq!(before.3, after.3, "organisation feed");
    assert_eq!(before.4, after.4, "CSAF changes.csv");
    // The audience still sees every event counted.
    let audience = app
        .get(&format!("/api/v1/advisories/{id}"), Some(&w.sm))
        .await;
    assert_ne!(audience.json["revision"], audience_rev);
    // A public change (withdrawal) moves the public dates.
    let r = app
        .post(
            &format!("/api/v1/advisories/{id}/withdraw"),
            Some(&w.sm),
            json!({"reason": "published by mistake"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let withdrawn = public(&app, &id).await;
    assert_ne!(before.0, withdrawn.0);
    assert_ne!(before.1, withdrawn.1);
    assert_ne!(before.2, withdrawn.2);
}

on_both_backends!(invisible_changes_keep_public_dates);

/// The private link acts as "the reporter of this one report", nothing more: a triager who
/// files through the account-less form gets, through the link, no internal notes, no
/// triager reply, no other advisory and no triage action.
async fn the_private_link_is_only_the_reporter_of_one_report(app: TestApp) {
    let w = crate::support::World::new(&app).await;
    let other = w
        .file(&app, "Another report the security manager may read")
        .await;
    let r = app
        .post(
            "/api/v1/orgs/coco/repos/guest/advisories",
            None,
            json!({"title": "Filed without signing in", "description": "steps", "reporter_email": "sm@example.org"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    let mails = app.store.claim_mail(100).await.unwrap();
    let confirm = mails
        .iter()
        .rev()
        .find_map(|m| {
            let at = m.body.find("/confirm/")? + "/confirm/".len();
            Some(m.body[at..].split_whitespace().next()?.to_owned())
        })
        .expect("a confirmation mail");
    let c = app
        .store
        .confirm_report(&confirm, |t| t.to_owned())
        .await
        .unwrap();
    let (id, link) = app.store.reporter_link(&c.link_token).await.unwrap();
    let note = "INTERNAL: triagers only";
    let r = app
        .post(
            &format!("/api/v1/advisories/{id}/comments"),
            Some(&w.sm),
            json!({"body": note, "internal": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    // The page behind the link and the store both leave the note out.
    let page = app.page(&format!("/r/{}", c.link_token), None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(!page.text.contains(note), "{}", page.text);
    let thread = app.store.comments(link, &id).await.unwrap();
    assert!(thread.iter().all(|c| !c.internal && c.body != note));
    // A reply through the link is the reporter's: it does not stop the response clock.
    app.store
        .comment(link, &id, "more details", false)
        .await
        .unwrap();
    assert!(app.store.comment(link, &id, "a note", true).await.is_err());
    let a = app
        .get(&format!("/api/v1/advisories/{id}"), Some(&w.sm))
        .await;
    assert!(
        a.json["tracking"]["first_response_at"].is_null(),
        "{}",
        a.text
    );
    // Nothing but this report, and no triage.
    let other = embargo_domain::ids::AdvisoryId::parse(&other).unwrap();
    assert!(matches!(
        app.store.advisory(link, &other).await,
        Err(embargo_store::StoreError::NotFound(_))
    ));
    assert!(
        app.store
            .transition(link, &id, embargo_store::Transition::Accept)
            .await
            .is_err()
    );
    let p = app.store.advisory(link, &id).await.unwrap().permissions();
    assert!(p.can_comment && !p.can_read_internal_notes && !p.can_accept && !p.can_edit);
}

on_both_backends!(the_private_link_is_only_the_reporter_of_one_report);

/// Mail recipients follow the access rule: where the organisation requires two-factor
/// sign-in, a security manager or steering committee member without it is told nothing
/// (titles are in mail here), as they could read nothing; a maintainer is told.
async fn mail_recipients_follow_the_access_rule(app: TestApp) {
    let w = crate::support::World::new(&app).await;
    let r = app
        .call(
            Method::PATCH,
            "/api/v1/orgs/coco",
            Some(&w.admin),
            Some(json!({"require_two_factor": true, "mail_titles": true})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    app.store.notify(crate::support::BASE_URL).await.unwrap();
    for m in app.store.claim_mail(1000).await.unwrap() {
        app.store.mail_sent(m.id).await.unwrap();
    }
    let id = w.file(&app, "Title only triagers may read").await;
    let r = app
        .post(
            &format!("/api/v1/advisories/{id}/comments"),
            Some(&w.maintainer),
            json!({"body": "note", "internal": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    app.store.notify(crate::support::BASE_URL).await.unwrap();
    let mails = app.store.claim_mail(1000).await.unwrap();
    let to = |who: &str| mails.iter().filter(|m| m.to == who).count();
    assert_eq!(to("sm@example.org"), 0, "{mails:#?}");
    assert_eq!(to("sc@example.org"), 0, "{mails:#?}");
    assert!(
        mails.iter().any(|m| m.to == "maintainer@example.org"
            && m.subject.starts_with("[Embargo] New report")
            && m.subject.contains("Title only")),
        "the repository's maintainer is told: {mails:#?}"
    );
}

on_both_backends!(mail_recipients_follow_the_access_rule);

/// An account-less filing from client address `client` for `email`; returns the response.
async fn file_without_account(app: &TestApp, client: [u8; 4], email: &str) -> crate::support::Resp {
    let body = json!({"title": "Held", "description": "steps", "reporter_email": email});
    let mut req = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/api/v1/orgs/coco/repos/guest/advisories")
        .header(axum::http::header::CONTENT_TYPE, "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    req.extensions_mut()
        .insert(axum::extract::ConnectInfo(std::net::SocketAddr::from((
            client, 40000,
        ))));
    app.request(req).await
}

/// One client address cannot make the server mail 30 strangers: account-less filings are
/// limited per client address (and per organisation), atomically, with 429 and
/// `Retry-After`; another client is not affected.
async fn account_less_filing_is_limited_per_client_and_organisation(app: TestApp) {
    let app = std::sync::Arc::new(app);
    let _w = crate::support::World::new(&app).await;
    let queued = |app: std::sync::Arc<TestApp>| async move {
        let n = app.store.claim_mail(1000).await.unwrap();
        for m in &n {
            app.store.mail_sent(m.id).await.unwrap();
        }
        n.len()
    };
    queued(app.clone()).await;
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..30 {
        let app = app.clone();
        tasks.spawn(async move {
            file_without_account(&app, [198, 51, 100, 7], &format!("victim{i}@example.net")).await
        });
    }
    let answers = tasks.join_all().await;
    let accepted = answers
        .iter()
        .filter(|r| r.status == StatusCode::ACCEPTED)
        .count();
    assert_eq!(
        accepted,
        5,
        "{:?}",
        answers.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    for r in answers.iter().filter(|r| r.status != StatusCode::ACCEPTED) {
        assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.text);
        assert!(r.headers.get("retry-after").is_some());
        assert!(r.text.contains("from your network"), "{}", r.text);
    }
    assert_eq!(queued(app.clone()).await, 5, "only five confirmation mails");
    // Another client files as usual.
    let r = file_without_account(&app, [203, 0, 113, 9], "someone@example.net").await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);

    // The organisation as a whole takes at most 60 an hour, however many clients.
    let mut tasks = tokio::task::JoinSet::new();
    for client in 0..14u8 {
        for i in 0..5 {
            let app = app.clone();
            tasks.spawn(async move {
                file_without_account(
                    &app,
                    [10, 9, client, 1],
                    &format!("r{client}-{i}@example.net"),
                )
                .await
                .status
            });
        }
    }
    let statuses = tasks.join_all().await;
    let accepted = statuses
        .iter()
        .filter(|s| **s == StatusCode::ACCEPTED)
        .count();
    // 6 held already this hour: 54 more.
    assert_eq!(accepted, 54, "{statuses:?}");
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::ACCEPTED || *s == StatusCode::TOO_MANY_REQUESTS)
    );
    // An hour later the limits are open again.
    app.clock.advance(time::Duration::minutes(61));
    let r = file_without_account(&app, [198, 51, 100, 7], "later@example.net").await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
}

on_both_backends!(account_less_filing_is_limited_per_client_and_organisation);
