//! The pages of issue 16's setup, triage and invitation journeys, on both backends, through
//! forms as a browser sends them: administrators set up organisations, repositories, members,
//! maintainers, the policy's free text and accounts without the API; triagers filter their
//! inbox; security managers read their dashboard; inviting someone without an account, or
//! the reporter, answers properly. Who may not use a page gets the answer of a missing one.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::json;

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
        b.csrf = csrf_in(&b.get("/").await.text);
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

fn email(s: &str) -> embargo_domain::types::Email {
    embargo_domain::types::Email::parse(s).unwrap()
}

fn location(r: &Resp) -> &str {
    r.headers[header::LOCATION].to_str().unwrap()
}

async fn pages_answer_only_those_who_may_use_them(app: TestApp) {
    let w = World::new(&app).await;
    // (page, who may use it)
    let cases: [(&str, &[&str]); 4] = [
        ("/admin", &["admin"]),
        ("/admin/users", &["admin"]),
        // Administrators manage every organisation; security managers their own.
        ("/admin/orgs/coco", &["admin", "sm"]),
        // Aggregates over private reports: its triagers of record, not administrators.
        ("/orgs/coco/dashboard", &["sm", "sc"]),
    ];
    let people = [
        ("admin", &w.admin),
        ("sm", &w.sm),
        ("sc", &w.sc),
        ("maintainer", &w.maintainer),
        ("reporter", &w.reporter),
        ("outsider", &w.outsider),
        ("other_org_sm", &w.other_org_sm),
    ];
    for (page, allowed) in cases {
        let anonymous = app.page(page, None).await;
        assert_eq!(anonymous.status, StatusCode::SEE_OTHER, "{page}");
        assert!(location(&anonymous).starts_with("/login?next="), "{page}");
        for (who, token) in people {
            let r = Browser::new(&app, token).await.get(page).await;
            if allowed.contains(&who) {
                assert_eq!(r.status, StatusCode::OK, "{page} as {who}: {}", r.text);
            } else {
                assert_eq!(r.status, StatusCode::NOT_FOUND, "{page} as {who}");
                assert!(
                    !r.text.contains("<h1>Administration") && !r.text.contains("dashboard</h1>")
                );
            }
        }
    }
    // Forms of the administration pages refuse those who may not use them.
    let outsider = Browser::new(&app, &w.outsider).await;
    let r = outsider
        .post("/admin/orgs", &[("slug", "mine"), ("name", "Mine")])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = outsider
        .post("/admin/users", &[("email", "new@example.org")])
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = outsider
        .post(
            "/admin/orgs/coco/members",
            &[
                ("email", "outsider@example.org"),
                ("role", "security_manager"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let sm_page = Browser::new(&app, &w.sm)
        .await
        .get("/admin/orgs/coco")
        .await;
    assert!(!sm_page.text.contains("outsider@example.org"), "not named");
    assert!(
        app.store
            .user_by_email(&email("new@example.org"))
            .await
            .unwrap()
            .is_none()
    );
}

async fn an_administrator_sets_up_an_organisation_with_pages_only(app: TestApp) {
    let admin = app.user("root@example.org", true).await;
    let b = Browser::new(&app, &admin).await;
    // The first sign-in of an administrator with no organisation says what to do next.
    let home = b.get("/").await;
    assert!(home.text.contains("what to do next"), "{}", home.text);
    assert!(home.text.contains("href=\"/admin\""));

    // An organisation: a bad short name is explained on the form, which keeps what was typed.
    let r = b
        .post("/admin/orgs", &[("slug", "Acme Corp"), ("name", "Acme")])
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text.contains("may hold only lower-case letters"),
        "{}",
        r.text
    );
    assert!(r.text.contains("value=\"Acme\""));
    let r = b
        .post("/admin/orgs", &[("slug", "acme"), ("name", "Acme Corp")])
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(location(&r), "/admin/orgs/acme");
    let again = b
        .post("/admin/orgs", &[("slug", "acme"), ("name", "Acme again")])
        .await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(again.text.contains("exists already"));
    assert!(!b.get("/").await.text.contains("what to do next"));

    // Accounts: created with a one-time link where their owner chooses a password.
    let mut links = Vec::new();
    for who in ["lead@example.org", "dev@example.org"] {
        let r = b
            .post("/admin/users", &[("email", who), ("name", "Someone")])
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let at = r
            .text
            .find(&format!("{BASE_URL}/reset/"))
            .expect("the link");
        let link = r.text[at + BASE_URL.len()..]
            .split('<')
            .next()
            .unwrap()
            .to_owned();
        links.push(link);
    }
    let reset = app.page(&links[0], None).await;
    assert_eq!(reset.status, StatusCode::OK);
    assert!(reset.text.contains("lead@example.org"));
    let dup = b
        .post("/admin/users", &[("email", "lead@example.org")])
        .await;
    assert_eq!(dup.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(dup.text.contains("exists already"));
    let users = b.get("/admin/users").await;
    assert!(users.text.contains("dev@example.org") && users.text.contains("no password yet"));

    // Members, repositories and maintainers.
    let page = b.get("/admin/orgs/acme").await;
    assert!(page.text.contains("Name at least one security manager"));
    let r = b
        .post(
            "/admin/orgs/acme/members",
            &[
                ("email", "nobody@example.org"),
                ("role", "security_manager"),
            ],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text
            .contains("no account has the address nobody@example.org")
    );
    let r = b
        .post(
            "/admin/orgs/acme/members",
            &[("email", "lead@example.org"), ("role", "security_manager")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let r = b
        .post(
            "/admin/orgs/acme/repos",
            &[("slug", "widget"), ("name", "Widget")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let r = b
        .post(
            "/admin/orgs/acme/repos/widget/maintainers",
            &[("email", "dev@example.org")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let page = b.get("/admin/orgs/acme").await;
    assert!(!page.text.contains("Name at least one security manager"));
    assert!(page.text.contains("lead@example.org") && page.text.contains("Security manager"));
    assert!(page.text.contains("dev@example.org"));
    // The store agrees: the new security manager manages acme, the maintainer triages widget.
    let lead = app
        .store
        .user_by_email(&email("lead@example.org"))
        .await
        .unwrap()
        .unwrap();
    let acme = app
        .store
        .org(&embargo_domain::types::Slug::parse("acme").unwrap())
        .await
        .unwrap();
    let p = app
        .store
        .org_permissions(lead.actor(), &acme)
        .await
        .unwrap();
    assert!(p.can_manage_policy && p.can_read_record);
    let repos = app.store.repos(Some(&acme.slug)).await.unwrap();
    assert_eq!(repos.len(), 1);
    // Removing asks first (the page behind the dialog), then takes them off.
    let ask = b
        .get("/admin/orgs/acme/repos/widget/maintainers/remove?email=dev%40example.org")
        .await;
    assert_eq!(ask.status, StatusCode::OK, "{}", ask.text);
    assert!(
        ask.text.contains("will no longer maintain acme/widget"),
        "{}",
        ask.text
    );
    assert!(
        ask.text
            .contains("action=\"/admin/orgs/acme/repos/widget/maintainers/remove\"")
    );
    let page = b.get("/admin/orgs/acme").await;
    assert!(page.text.contains("data-dialog=\"remove-widget-1\""));
    assert!(page.text.contains("<dialog id=\"remove-widget-1\""));
    let nobody = b
        .get("/admin/orgs/acme/repos/widget/maintainers/remove?email=lead%40example.org")
        .await;
    assert_eq!(nobody.status, StatusCode::NOT_FOUND);
    let lead_token = app.store.create_api_token(lead.id, "t").await.unwrap();
    let not_theirs = Browser::new(&app, &lead_token).await;
    let sm_ask = not_theirs
        .get("/admin/orgs/acme/members/remove?email=lead%40example.org")
        .await;
    assert_eq!(
        sm_ask.status,
        StatusCode::OK,
        "a security manager manages the members"
    );
    assert!(
        sm_ask
            .text
            .contains("will no longer be security manager of Acme Corp")
    );
    let outsider = app.user("out@example.org", false).await;
    let out = Browser::new(&app, &outsider).await;
    for p in [
        "/admin/orgs/acme/members/remove?email=lead%40example.org",
        "/admin/orgs/acme/repos/widget/maintainers/remove?email=dev%40example.org",
    ] {
        assert_eq!(out.get(p).await.status, StatusCode::NOT_FOUND, "{p}");
    }
    let r = b
        .post(
            "/admin/orgs/acme/repos/widget/maintainers/remove",
            &[("email", "dev@example.org")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    let page = b.get("/admin/orgs/acme").await;
    assert!(!page.text.contains("dev@example.org"));
    // An upstream the network rule refuses is explained at its repository.
    let r = b
        .post(
            "/admin/orgs/acme/repos/widget/upstream",
            &[("upstream", "ftp://example.org/widget")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("class=\"error\""));

    // The policy, with its free text shown in SECURITY.md.
    let policy = |text: &'static str| {
        vec![
            ("response_days", "10"),
            ("spam_block_days", "30"),
            ("reports_per_hour", "10"),
            ("disclose_closed_days", "0"),
            ("policy_text", text),
        ]
    };
    let r = b
        .post(
            "/admin/orgs/acme/policy",
            &policy("We credit every reporter.\r\nOnly the latest release is supported."),
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let md = app.get("/orgs/acme/SECURITY.md", None).await;
    assert!(
        md.text.contains(
            "## Our Policy\n\nWe credit every reporter.\nOnly the latest release is supported.\n"
        ),
        "{}",
        md.text
    );
    assert!(md.text.contains("within 10 days"));
    let long = "x".repeat(20_001);
    let mut fields = policy("");
    fields.retain(|(k, _)| *k != "policy_text");
    fields.push(("policy_text", &long));
    let r = b.post("/admin/orgs/acme/policy", &fields).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.text.contains("policy_text: must be at most 20000 bytes"),
        "{}",
        r.text
    );
    let page = b.get("/admin/orgs/acme").await;
    assert!(page.text.contains("We credit every reporter."));
}

async fn triagers_filter_their_inbox(app: TestApp) {
    let w = World::new(&app).await;
    let guest = w.file(&app, "Guest escape through the agent").await;
    let r = app
        .post(
            "/api/v1/orgs/coco/repos/operator/advisories",
            Some(&w.other_reporter),
            json!({"title": "Operator leaks tokens", "description": "steps"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let operator = r.json["id"].as_str().unwrap().to_owned();
    let r = app
        .call(
            axum::http::Method::PATCH,
            &format!("/api/v1/advisories/{operator}"),
            Some(&w.sm),
            Some(json!({"cvss_vector": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let sm = Browser::new(&app, &w.sm).await;
    let both = sm.get("/inbox").await;
    assert_eq!(both.status, StatusCode::OK);
    assert!(both.text.contains(&guest) && both.text.contains(&operator));
    let shows = |r: &Resp| (r.text.contains(&guest), r.text.contains(&operator));
    assert_eq!(
        shows(&sm.get("/inbox?repo=coco/guest").await),
        (true, false)
    );
    assert_eq!(
        shows(&sm.get("/inbox?severity=critical").await),
        (false, true)
    );
    assert_eq!(
        shows(&sm.get("/inbox?severity=unscored").await),
        (true, false)
    );
    assert_eq!(shows(&sm.get("/inbox?q=leaks").await), (false, true));
    assert_eq!(shows(&sm.get("/inbox?state=draft").await), (false, false));
    assert_eq!(shows(&sm.get("/inbox?due=overdue").await), (false, false));
    assert_eq!(shows(&sm.get("/inbox?embargo=any").await), (false, false));
    // The deadline passes: both are overdue (no reply yet); one reply takes one off.
    app.clock.advance(time::Duration::days(15));
    // (A new session: the first one ran out with the days.)
    let sm = Browser::new(&app, &w.sm).await;
    assert_eq!(shows(&sm.get("/inbox?due=overdue").await), (true, true));
    let r = app
        .post(
            &format!("/api/v1/advisories/{guest}/comments"),
            Some(&w.sm),
            json!({"body": "Thanks, we are looking."}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    assert_eq!(shows(&sm.get("/inbox?due=overdue").await), (false, true));
    // A maintainer sees their repository's report only; an outsider none.
    let m = Browser::new(&app, &w.maintainer).await.get("/inbox").await;
    assert_eq!(shows(&m), (true, false));
    let o = Browser::new(&app, &w.outsider).await.get("/inbox").await;
    assert_eq!(o.status, StatusCode::OK);
    assert_eq!(shows(&o), (false, false));
    // Filters are checked.
    for bad in [
        "/inbox?severity=dire",
        "/inbox?due=soon",
        "/inbox?repo=nope",
        "/inbox?state=x",
    ] {
        let r = sm.get(bad).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    }
}

async fn security_managers_read_their_dashboard(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.file(&app, "Dashboard report").await;
    let sm = Browser::new(&app, &w.sm).await;
    let d = sm.get("/orgs/coco/dashboard").await;
    assert_eq!(d.status, StatusCode::OK);
    assert!(d.text.contains("Open advisories: 1"), "{}", d.text);
    // Not at risk yet (14 days to reply).
    let risk = |t: &str| {
        let at = t.find("id=\"risk-h\"").unwrap();
        let end = t.find("id=\"ending-h\"").unwrap();
        t[at..end].contains(&id)
    };
    assert!(!risk(&d.text));
    app.clock.advance(time::Duration::days(12));
    let d = sm.get("/orgs/coco/dashboard").await;
    assert!(risk(&d.text), "{}", d.text);
    assert!(d.text.contains("<svg"), "the response chart");
    // The other organisation's security manager sees nothing of it.
    let other = Browser::new(&app, &w.other_org_sm).await;
    assert_eq!(
        other.get("/orgs/coco/dashboard").await.status,
        StatusCode::NOT_FOUND
    );
    let kata = other.get("/orgs/kata/dashboard").await;
    assert_eq!(kata.status, StatusCode::OK);
    assert!(!kata.text.contains(&id));
}

async fn invitations_answer_properly(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.file(&app, "Secret title of the invitation").await;
    let sm = Browser::new(&app, &w.sm).await;
    app.store.notify(BASE_URL).await.unwrap();
    app.store.claim_mail(1000).await.unwrap();

    // Someone without an account: a page that says it worked, with the link, and a mail
    // that carries the same link.
    let r = sm
        .post(
            &format!("/advisories/{id}/collaborators"),
            &[("email", "newcomer@example.net")],
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert!(r.text.contains("Invitation sent"), "{}", r.text);
    assert!(!r.text.contains("class=\"error\""));
    let at = r
        .text
        .find(&format!("{BASE_URL}/invite/"))
        .expect("the link");
    let link = r.text[at..].split('<').next().unwrap().to_owned();
    app.store.notify(BASE_URL).await.unwrap();
    let mails: Vec<_> = app
        .store
        .claim_mail(1000)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.to == "newcomer@example.net")
        .collect();
    assert_eq!(mails.len(), 1, "one message, with the sign-up link");
    assert!(mails[0].body.contains(&link), "{}", mails[0].body);

    // The sign-up page says who invited them to what, without the title.
    let path = link.trim_start_matches(BASE_URL);
    let page = app.page(path, None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text.contains("sm invited newcomer@example.net"),
        "{}",
        page.text
    );
    assert!(page.text.contains(&id) && page.text.contains("coco/guest"));
    assert!(!page.text.contains("Secret title"));
    let stale = app.page("/invite/not-a-token", None).await;
    assert_eq!(stale.status, StatusCode::NOT_FOUND);
    assert!(stale.text.contains("ask the person who invited you"));

    // The reporter reads it already: refused, and nobody is added.
    let r = sm
        .post(
            &format!("/advisories/{id}/collaborators"),
            &[("email", "reporter@example.org")],
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(
        r.text
            .contains("reported this advisory and reads it already")
    );
    let list = app
        .get(
            &format!("/api/v1/advisories/{id}/collaborators"),
            Some(&w.sm),
        )
        .await;
    let emails: Vec<&str> = list
        .json
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["email"].as_str())
        .collect();
    assert_eq!(emails, ["newcomer@example.net"], "{}", list.text);

    // Someone with an account: back to the advisory, where they are listed.
    let r = sm
        .post(
            &format!("/advisories/{id}/collaborators"),
            &[("email", "outsider@example.org")],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(location(&r), format!("/advisories/{id}#collaborators"));
    let again = sm
        .post(
            &format!("/advisories/{id}/collaborators"),
            &[("email", "outsider@example.org")],
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert!(again.text.contains("invited to this advisory already"));
}

async fn reporters_give_versions_and_a_severity(app: TestApp) {
    let w = World::new(&app).await;
    let b = Browser::new(&app, &w.reporter).await;
    let form = b.get("/report?repo=coco/operator").await;
    assert_eq!(form.status, StatusCode::OK);
    // Organisation, then repository; the one asked for is chosen.
    assert!(
        form.text.contains("<optgroup label=\"coco\">"),
        "{}",
        form.text
    );
    assert!(
        form.text
            .contains("<option value=\"coco/operator\" selected>")
    );
    assert!(form.text.contains("<option value=\"kata/\""));
    assert!(form.text.contains("What to include"));
    assert!(form.text.contains("id=\"cvss-calculator\""));
    const CRITICAL: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";
    let fields = |vector: &'static str| {
        vec![
            ("repo", "coco/guest"),
            ("title", "Versions and severity"),
            ("description", "Steps to reproduce."),
            ("versions", "0.9 to 1.2"),
            ("cvss_vector", vector),
        ]
    };
    let bad = b.post("/report", &fields("CVSS:3.1/AV:N")).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text.contains("cvss_vector: "), "{}", bad.text);
    assert!(
        bad.text.contains("value=\"0.9 to 1.2\""),
        "what was typed stays"
    );
    let r = b.post("/report", &fields(CRITICAL)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let id = location(&r).trim_start_matches("/advisories/").to_owned();
    let a = app
        .get(&format!("/api/v1/advisories/{id}"), Some(&w.sm))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    assert_eq!(
        a.json["description"], "Steps to reproduce.\n\nAffected versions: 0.9 to 1.2",
        "{}",
        a.text
    );
    assert_eq!(a.json["cvss_vectors"], json!([CRITICAL]), "{}", a.text);
}

async fn maintainers_sync_from_codeowners_on_the_admin_page(mut app: TestApp) {
    let w = World::new(&app).await;
    let upstream = tempfile::tempdir().unwrap();
    let path = upstream.path().to_str().unwrap().to_owned();
    app.configure(|c| c.network.allow = vec![path.clone()]);
    crate::codeowners::git(upstream.path(), &["init", "-q"]);
    crate::codeowners::commit_codeowners(
        upstream.path(),
        "CODEOWNERS",
        "* alice@example.org @nobody-here\n",
    );
    app.user("alice@example.org", false).await;
    let b = Browser::new(&app, &w.admin).await;
    // No sync without an upstream.
    let page = b.get("/admin/orgs/coco").await;
    assert!(!page.text.contains("/repos/guest/sync"));
    let r = b
        .post(
            "/admin/orgs/coco/repos/guest/upstream",
            &[("upstream", &path)],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    assert_eq!(location(&r), "/admin/orgs/coco#repo-guest");
    let page = b.get("/admin/orgs/coco").await;
    assert!(page.text.contains("/repos/guest/sync"));
    let r = b.post("/admin/orgs/coco/repos/guest/sync", &[]).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let at = r.text.find("Synced from CODEOWNERS").expect("the report");
    let report = &r.text[at..];
    assert!(
        report.contains("<dt>Added</dt><dd>alice@example.org</dd>"),
        "{report}"
    );
    assert!(report.contains("@nobody-here"), "{report}");
    assert!(
        b.get("/admin/orgs/coco")
            .await
            .text
            .contains("alice@example.org")
    );
    // A broken upstream is explained at its repository, and changes nothing.
    let r = b
        .post(
            "/admin/orgs/coco/repos/guest/upstream",
            &[("upstream", &format!("{path}/missing.git"))],
        )
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let r = b.post("/admin/orgs/coco/repos/guest/sync", &[]).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("could not read the upstream"), "{}", r.text);
    assert!(r.text.contains("alice@example.org"));
}

async fn embargoes_and_cve_ids_on_the_dashboard_and_inbox(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.advisory_in(&app, "draft").await;
    let ends = app.store.now() + time::Duration::days(10);
    let path = format!("/api/v1/advisories/{id}/embargo");
    let propose = json!({"action": "propose", "ends_at": embargo_domain::rfc3339(ends)});
    let r = app.post(&path, Some(&w.sm), propose).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .post(&path, Some(&w.sm), json!({"action": "accept"}))
        .await;
    assert_eq!(r.json["embargo"]["state"], "active", "{}", r.text);
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let sm = Browser::new(&app, &w.sm).await;
    let d = sm.get("/orgs/coco/dashboard").await;
    let at = d.text.find("id=\"ending-h\"").unwrap();
    // Ten days away: soon (14 days), not yet within the policy's warning (7 days).
    assert!(d.text[at..].contains(&id), "{}", d.text);
    assert!(!d.text[at..].contains("not marked ready"));
    let shows = |r: &Resp| r.text.contains(&id);
    assert!(!shows(&sm.get("/inbox?embargo=week").await));
    assert!(shows(&sm.get("/inbox?embargo=month").await));
    assert!(shows(&sm.get("/inbox?embargo=any").await));
    app.clock.advance(time::Duration::days(4));
    let sm = Browser::new(&app, &w.sm).await;
    let d = sm.get("/orgs/coco/dashboard").await;
    let at = d.text.find("id=\"ending-h\"").unwrap();
    assert!(d.text[at..].contains("not marked ready"), "{}", d.text);
    assert!(shows(&sm.get("/inbox?embargo=week").await));
    // No block of CVE ids: nothing said; a short one: how many are left, and a warning.
    assert!(!d.text.contains("ids left in the block"));
    let r = app
        .call(
            axum::http::Method::PUT,
            "/api/v1/orgs/coco/cve",
            Some(&w.sm),
            Some(json!({"backend": "block", "ids": ["CVE-2026-1001", "CVE-2026-1002"]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let d = sm.get("/orgs/coco/dashboard").await;
    assert!(d.text.contains("2 ids left in the block."), "{}", d.text);
    assert!(d.text.contains("class=\"warning\""));
    // The steering committee reads the dashboard, but not the CVE settings.
    let sc = Browser::new(&app, &w.sc)
        .await
        .get("/orgs/coco/dashboard")
        .await;
    assert_eq!(sc.status, StatusCode::OK);
    assert!(sc.text.contains(&id) && !sc.text.contains("ids left in the block"));
}

on_both_backends!(
    embargoes_and_cve_ids_on_the_dashboard_and_inbox,
    maintainers_sync_from_codeowners_on_the_admin_page,
    reporters_give_versions_and_a_severity,
    pages_answer_only_those_who_may_use_them,
    an_administrator_sets_up_an_organisation_with_pages_only,
    triagers_filter_their_inbox,
    security_managers_read_their_dashboard,
    invitations_answer_properly,
);
