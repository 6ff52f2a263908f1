//! The public side, read as a visitor would: the home page, the list of published advisories,
//! an organisation's page with its filters and report links, a published advisory, and the
//! SECURITY.md and security.txt it links. In headless Chromium at desktop and phone width
//! (screenshots in `target/screenshots/`, no sideways scrolling, axe-core clean), and, for
//! the markup rules, in-process on both backends.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::driver::Driver;
use crate::support::{Server, TestApp, World, on_both_backends};

const CRITICAL: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";
const HIGH_V4: &str = "CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:L/VA:N/SC:N/SI:N/SA:N";
const MEDIUM: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N";

/// The advisory as filed, made a draft with `vectors` and a long unbroken package name (which
/// must not push a phone's page sideways), then published.
fn publish_steps(
    id: &str,
    vectors: &[&str],
    summary: &str,
) -> Vec<(reqwest::Method, String, Value)> {
    vec![
        (
            reqwest::Method::POST,
            format!("/api/v1/advisories/{id}/accept"),
            json!({}),
        ),
        (
            reqwest::Method::PATCH,
            format!("/api/v1/advisories/{id}"),
            json!({
                "summary": summary,
                "cvss_vectors": vectors,
                "vulnerabilities": [{
                    "package": {"ecosystem": "crates.io", "name": "guest-attestation-agent-with-a-rather-long-name"},
                    "vulnerable_version_range": "< 0.15.0",
                    "patched_versions": "0.15.0"
                }]
            }),
        ),
        (
            reqwest::Method::POST,
            format!("/api/v1/advisories/{id}/publish"),
            json!({}),
        ),
    ]
}

async fn file_over_http(base: &str, token: &str, repo: &str, title: &str) -> String {
    let r: Value = reqwest::Client::new()
        .post(format!("{base}/api/v1/orgs/coco/repos/{repo}/advisories"))
        .bearer_auth(token)
        .json(&json!({"title": title, "description": format!("{title}: how to reproduce it.")}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    r["id"].as_str().unwrap_or_else(|| panic!("{r}")).to_owned()
}

async fn steps(base: &str, token: &str, steps: Vec<(reqwest::Method, String, Value)>) {
    let steps: Vec<_> = steps
        .iter()
        .map(|(m, p, b)| (m.clone(), p.as_str(), b.clone()))
        .collect();
    crate::support::api_steps(base, token, &steps).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_side_reads_well_on_a_desktop_and_a_phone() {
    let server = Server::start(&[]);
    let base = server.base.clone();
    let admin = server.user("admin@example.org", true, &[]);
    crate::support::coco_over_http(&base, &admin, "admin@example.org").await;
    crate::support::api_steps(
        &base,
        &admin,
        &[(
            reqwest::Method::POST,
            "/api/v1/orgs/coco/repos",
            json!({"slug": "host", "name": "Host tools"}),
        )],
    )
    .await;
    let critical = file_over_http(&base, &admin, "guest", "Token leak in the guest agent").await;
    steps(
        &base,
        &admin,
        publish_steps(
            &critical,
            &[CRITICAL, HIGH_V4],
            "The guest agent logs the attestation token",
        ),
    )
    .await;
    let medium = file_over_http(&base, &admin, "host", "Host tool trusts any image").await;
    let mut withdraw = publish_steps(&medium, &[MEDIUM], "The host tool skips a signature check");
    withdraw.push((
        reqwest::Method::POST,
        format!("/api/v1/advisories/{medium}/withdraw"),
        json!({"reason": "not a vulnerability after all"}),
    ));
    steps(&base, &admin, withdraw).await;
    let hidden = file_over_http(&base, &admin, "guest", "Secret still in triage").await;

    let d = Driver::start().await;

    // The home page: the way to report, the organisations, the published advisories.
    d.go(&format!("{base}/")).await;
    let home = d.source().await;
    assert!(
        home.contains(&critical) && !home.contains(&hidden) && !home.contains("Secret still"),
        "{home}"
    );
    d.check_page("public-home").await;

    // The public list: severity badges, only public states to ask for, no reply deadlines.
    d.go(&format!("{base}/advisories")).await;
    let list = d.source().await;
    assert!(
        list.contains("9.8 Critical") && list.contains("7.1 High"),
        "{list}"
    );
    assert!(
        !list.contains("Reply due") && !list.contains(&hidden),
        "{list}"
    );
    let states = d
        .run("return Array.from(document.querySelectorAll('select[name=state] option')).map(o => o.textContent);")
        .await;
    assert_eq!(
        states,
        json!(["any", "published", "withdrawn", "disclosed"])
    );
    d.check_page("public-list").await;
    // The severity filter, from the form.
    d.click("select[name=severity] option[value=medium]").await;
    d.click("form[action='/advisories'] button[type=submit]")
        .await;
    d.wait_url("filtered", |u| u.contains("severity=medium"))
        .await;
    let medium_only = d.source().await;
    assert!(
        medium_only.contains(&medium) && !medium_only.contains(&critical),
        "{medium_only}"
    );
    if let Some(found) = d.axe().await {
        assert!(found.is_empty(), "the filtered list: {found:?}");
    }

    // The organisation's page: its advisories with badges, filters, a report link per repository.
    d.go(&format!("{base}/orgs/coco")).await;
    let org = d.source().await;
    assert!(
        org.contains(&critical) && org.contains(&medium) && !org.contains(&hidden),
        "{org}"
    );
    for repo in ["guest", "host"] {
        let link = d.find(&format!("a[href='/report?repo=coco/{repo}']")).await;
        assert!(!link.is_empty());
    }
    d.check_page("public-org").await;
    for (query, shown, not_shown) in [
        ("severity=critical", &critical, &medium),
        ("state=withdrawn", &medium, &critical),
        ("repo=guest", &critical, &medium),
        ("q=signature", &medium, &critical),
    ] {
        d.go(&format!("{base}/orgs/coco?{query}")).await;
        let page = d.source().await;
        assert!(
            page.contains(shown.as_str()) && !page.contains(not_shown.as_str()),
            "{query}: {page}"
        );
    }
    // A repository's report link opens the form with that repository chosen.
    d.click("main a[href='/report?repo=coco/host']").await;
    d.wait_url("the report form", |u| u.contains("/report?repo="))
        .await;
    let chosen = d
        .run("return document.querySelector('select[name=repo]').value;")
        .await;
    assert_eq!(chosen, json!("coco/host"));
    d.screenshot("public-report-link").await;
    // The filter form keeps what was asked.
    d.go(&format!("{base}/orgs/coco?severity=critical&q=token"))
        .await;
    let kept = d
        .run("return [document.querySelector('select[name=severity]').value, document.querySelector('input[name=q]').value];")
        .await;
    assert_eq!(kept, json!(["critical", "token"]));

    // A published advisory, reached from the organisation's page.
    d.go(&format!("{base}/orgs/coco")).await;
    d.click(&format!("main a[href='/advisories/{critical}']"))
        .await;
    d.wait_url("the advisory", |u| u.ends_with(&critical)).await;
    d.wait_source(
        "the advisory's text",
        "The guest agent logs the attestation token",
    )
    .await;
    d.check_page("public-advisory").await;
    // The dark theme keeps its contrast too.
    d.set_dark(true).await;
    assert_eq!(
        d.run("return matchMedia('(prefers-color-scheme: dark)').matches;")
            .await,
        json!(true)
    );
    d.check_page("public-advisory-dark").await;
    d.go(&format!("{base}/orgs/coco")).await;
    d.check_page("public-org-dark").await;
    d.set_dark(false).await;

    // The policy it links, and security.txt: plain text that wraps on a phone.
    d.go(&format!("{base}/orgs/coco")).await;
    d.click("main a[href='/orgs/coco/SECURITY.md']").await;
    d.wait_url("SECURITY.md", |u| u.ends_with("/SECURITY.md"))
        .await;
    let policy = d.text("body").await;
    assert!(policy.contains("CoCo"), "{policy}");
    d.check_text("public-security-md").await;
    d.go(&format!("{base}/.well-known/security.txt")).await;
    assert!(d.text("body").await.contains("Contact:"));
    d.check_text("public-security-txt").await;
    d.cmd(reqwest::Method::DELETE, "", Value::Null).await;
}

/// The checks themselves can fail: a page made too wide scrolls sideways, and an image
/// without a text alternative is a critical axe-core finding.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_checks_catch_what_they_look_for() {
    let server = Server::start(&[]);
    let d = Driver::start().await;
    d.go(&format!("{}/", server.base)).await;
    d.set_width(390).await;
    assert!(d.sideways().await.is_empty());
    d.run("const e = document.createElement('div'); e.style.width = '2000px'; e.style.height = '1px'; document.querySelector('main').append(e); return null;")
        .await;
    let wide = d.sideways().await;
    assert!(
        wide.first().is_some_and(|w| w.ends_with("> 390")),
        "{wide:?}"
    );
    d.run("const i = document.createElement('img'); i.src = '/static/style.css'; document.querySelector('main').append(i); return null;")
        .await;
    if let Some(found) = d.axe().await {
        assert!(
            found.iter().any(|f| f.starts_with("image-alt (critical)")),
            "{found:?}"
        );
    }
    d.cmd(reqwest::Method::DELETE, "", Value::Null).await;
}

/// The id in a JSON answer.
fn id_of(r: &crate::support::Resp) -> String {
    r.json["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", r.text))
        .to_owned()
}

async fn score(app: &TestApp, sm: &str, id: &str, vectors: &[&str]) {
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/advisories/{id}"),
            Some(sm),
            Some(json!({"cvss_vectors": vectors})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

/// Signed out, the list offers only the public states and no reply deadlines; signed in, the
/// audience sees both. Severity shows as a badge and narrows the list.
async fn public_list_states_columns_and_severity(app: TestApp) {
    let w = World::new(&app).await;
    let published = w.advisory_in(&app, "published").await;
    let triage = w.advisory_in(&app, "triage").await;
    score(&app, &w.sm, &triage, &[CRITICAL]).await;
    let r = app
        .post(
            &format!("/api/v1/advisories/{published}/withdraw"),
            Some(&w.sm),
            json!({"reason": "a duplicate after all"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let scored = w.advisory_in(&app, "draft").await;
    score(&app, &w.sm, &scored, &[CRITICAL, HIGH_V4]).await;
    let r = app
        .post(
            &format!("/api/v1/advisories/{scored}/publish"),
            Some(&w.sm),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    let public = app.page("/advisories", None).await;
    assert_eq!(public.status, StatusCode::OK);
    let select = &public.text[public.text.find("name=\"state\"").unwrap()..];
    let select = &select[..select.find("</select>").unwrap()];
    for s in ["triage", "draft", "closed"] {
        assert!(!select.contains(&format!(">{s}<")), "{s}: {select}");
    }
    for s in ["published", "withdrawn", "disclosed"] {
        assert!(select.contains(&format!(">{s}<")), "{s}: {select}");
    }
    assert!(!public.text.contains("Reply due"), "{}", public.text);
    assert!(!public.text.contains(&triage));
    assert!(
        public.text.contains(
            "<span class=\"badge sev-high\">7.1 High <small>CVSS 4.0</small></span> \
             <span class=\"badge sev-critical\">9.8 Critical <small>CVSS 3.1</small></span>"
        ),
        "{}",
        public.text
    );
    // Every instant in one format, machine-readable too.
    assert!(
        public.text.contains("<time datetime=\"2026-") && public.text.contains(" UTC</time>"),
        "{}",
        public.text
    );
    let critical = app.page("/advisories?severity=critical", None).await;
    assert!(critical.text.contains(&scored) && !critical.text.contains(&published));
    let unknown = app.page("/advisories?severity=urgent", None).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unknown.text.contains("severity"), "{}", unknown.text);

    // The audience: every state, the deadline column, and the triage report with its badge.
    let inbox = app.page("/advisories", Some(&w.sm)).await;
    assert!(inbox.text.contains("Reply due") && inbox.text.contains(&triage));
    assert!(inbox.text.contains(">triage<") && inbox.text.contains(">draft<"));
    let severe = app.page("/advisories?severity=critical", Some(&w.sm)).await;
    assert!(severe.text.contains(&triage) && severe.text.contains(&scored));
}

/// The organisation's page lists its public advisories only, with filters and a report link
/// per repository; everyone sees the same list.
async fn organisation_page_filters_its_public_advisories(app: TestApp) {
    let w = World::new(&app).await;
    let published = w.advisory_in(&app, "published").await;
    score(&app, &w.sm, &published, &[MEDIUM]).await;
    let withdrawn = w.advisory_in(&app, "withdrawn").await;
    let draft = w.advisory_in(&app, "draft").await;
    let other = app
        .post(
            "/api/v1/orgs/coco/repos/operator/advisories",
            Some(&w.reporter),
            json!({"title": "Operator leaks keys", "description": "In the logs."}),
        )
        .await;
    let in_triage = id_of(&other);

    for who in [None, Some(w.sm.as_str()), Some(w.outsider.as_str())] {
        let page = app.page("/orgs/coco", who).await;
        assert_eq!(page.status, StatusCode::OK);
        assert!(
            page.text.contains(&published) && page.text.contains(&withdrawn),
            "{who:?}: {}",
            page.text
        );
        assert!(
            !page.text.contains(&draft) && !page.text.contains(&in_triage),
            "{who:?}: the organisation's page lists only public advisories"
        );
        for repo in ["guest", "operator"] {
            assert!(
                page.text
                    .contains(&format!("href=\"/report?repo=coco/{repo}\"")),
                "{repo}"
            );
        }
    }
    let page = app.page("/orgs/coco", None).await;
    assert!(page.text.contains("6.1 Medium"), "{}", page.text);
    // The report link is stable: it opens the form with the repository chosen.
    let form = app.page("/report?repo=coco/operator", None).await;
    assert!(
        form.text
            .contains("<option value=\"coco/operator\" selected>"),
        "{}",
        form.text
    );
    let unknown = app.page("/report?repo=coco/nothing", None).await;
    assert_eq!(unknown.status, StatusCode::OK);
    assert!(!unknown.text.contains(" selected>"), "{}", unknown.text);
    for (query, shown, hidden) in [
        ("?severity=medium", &published, &withdrawn),
        ("?state=withdrawn", &withdrawn, &published),
        ("?state=published", &published, &withdrawn),
    ] {
        let page = app.page(&format!("/orgs/coco{query}"), None).await;
        assert_eq!(page.status, StatusCode::OK, "{query}");
        assert!(
            page.text.contains(shown.as_str()) && !page.text.contains(hidden.as_str()),
            "{query}: {}",
            page.text
        );
    }
    let none = app.page("/orgs/coco?repo=operator", None).await;
    assert!(!none.text.contains(&published) && none.text.contains("No advisory matches"));
    // A state outside the public ones is refused, not quietly widened or narrowed.
    let r = app.page("/orgs/coco?state=draft", Some(&w.sm)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(!r.text.contains(&draft));
    let long = "x".repeat(201);
    let r = app.page(&format!("/orgs/coco?q={long}"), None).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
}

/// The navigation shows each role its way in.
async fn navigation_by_role(app: TestApp) {
    let w = World::new(&app).await;
    let nav = |page: &str| {
        let end = page.find("<main ").expect("a main element");
        page[..end].to_owned()
    };
    let anon = nav(&app.page("/", None).await.text);
    assert!(anon.contains("href=\"/report\"") && anon.contains("href=\"/login\""));
    assert!(!anon.contains("href=\"/inbox\"") && !anon.contains("href=\"/admin\""));
    assert!(anon.contains("class=\"skip\" href=\"#main\""));

    let reporter = nav(&app.page("/", Some(&w.reporter)).await.text);
    assert!(reporter.contains("href=\"/report\"") && reporter.contains("My reports"));
    assert!(!reporter.contains("href=\"/inbox\"") && !reporter.contains("/dashboard"));

    let maintainer = nav(&app.page("/", Some(&w.maintainer)).await.text);
    assert!(maintainer.contains("href=\"/inbox\"") && !maintainer.contains("/dashboard"));

    let sm = nav(&app.page("/", Some(&w.sm)).await.text);
    assert!(sm.contains("href=\"/inbox\"") && sm.contains("href=\"/orgs/coco/dashboard\""));
    assert!(!sm.contains("href=\"/admin\""));

    let admin = nav(&app.page("/", Some(&w.admin)).await.text);
    assert!(admin.contains("href=\"/admin\""), "{admin}");
}

on_both_backends!(
    public_list_states_columns_and_severity,
    organisation_page_filters_its_public_advisories,
    navigation_by_role,
);
