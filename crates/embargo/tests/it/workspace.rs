//! The advisory page as a workspace (issue 16, UI-2), in-process on both backends: risky
//! actions confirmed on a page of their own with previews of what becomes public, the draft
//! form's errors all at once and in words, "add another" without saving, Markdown rendered
//! and sanitised, the timeline with the close message, and one access-log entry per view.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use serde_json::{Value, json};

use crate::support::{Resp, TestApp, World, on_both_backends};
use crate::web::{csrf_in, form};

on_both_backends!(
    publishing_is_confirmed_with_previews,
    previews_follow_the_access_rule,
    close_and_withdraw_are_confirmed,
    draft_form_shows_every_error_in_words,
    another_package_without_saving,
    markdown_is_rendered_and_sanitised,
    close_message_and_original_in_the_timeline,
    one_access_log_entry_per_page_view,
);

async fn get(app: &TestApp, path: &str, cookie: &str) -> Resp {
    app.request(
        Request::get(path)
            .header(header::COOKIE, cookie)
            .body(Body::empty())
            .unwrap(),
    )
    .await
}

async fn publishing_is_confirmed_with_previews(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.advisory_in(&app, "draft").await;
    let sm = app.session_cookie(&w.sm).await;
    let page = get(&app, &format!("/advisories/{id}"), &sm).await;
    assert_eq!(page.status, StatusCode::OK);
    // The panel links to the confirmation page; the dialog holds the same form.
    assert!(
        page.text.contains(&format!(
            "href=\"/advisories/{id}/confirm/publish\" data-dialog=\"confirm-publish\""
        )) && page.text.contains("<dialog id=\"confirm-publish\""),
        "{}",
        page.text
    );
    assert!(page.text.contains("/static/workspace.js"));

    let confirm = get(&app, &format!("/advisories/{id}/confirm/publish"), &sm).await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.text);
    for needle in [
        "Preview of the public page",
        "A report to be draft",
        "guest",
        "&#60; 0.15.0",
        &format!("/advisories/{id}/preview/osv.json"),
        &format!("/advisories/{id}/preview/csaf.json"),
        "name=\"action\" value=\"publish\"",
    ] {
        assert!(
            confirm.text.contains(needle),
            "{needle} in {}",
            confirm.text
        );
    }
    // Still a draft: looking is not publishing.
    assert_eq!(
        app.get(&format!("/api/v1/advisories/{id}"), Some(&w.sm))
            .await
            .json["state"],
        "draft"
    );
    // The documents as they would be published.
    let osv = get(&app, &format!("/advisories/{id}/preview/osv.json"), &sm).await;
    assert_eq!(osv.status, StatusCode::OK, "{}", osv.text);
    assert_eq!(osv.headers["cache-control"], "private, no-store");
    assert_eq!(osv.json["affected"][0]["package"]["name"], "guest");
    assert!(osv.json["published"].is_string(), "{}", osv.text);
    let csaf = get(&app, &format!("/advisories/{id}/preview/csaf.json"), &sm).await;
    assert_eq!(csaf.status, StatusCode::OK, "{}", csaf.text);
    assert_eq!(csaf.json["document"]["category"], "csaf_security_advisory");
    assert_eq!(
        get(&app, &format!("/advisories/{id}/preview/cve.json"), &sm)
            .await
            .status,
        StatusCode::NOT_FOUND,
        "no CVE id, no CVE record"
    );
    // The public documents do not exist yet.
    assert_eq!(
        app.get(&format!("/advisories/{id}/osv.json"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // The confirmation's form publishes.
    let csrf = csrf_in(&confirm.text);
    let r = app
        .request(form(
            &format!("/advisories/{id}/state"),
            Some(&sm),
            &[("csrf", &csrf), ("action", "publish")],
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let public = app.page(&format!("/advisories/{id}"), None).await;
    for needle in [
        "osv.json",
        "csaf.json",
        "vex.json",
        "bulletin.md",
        "Change log",
        "Initial publication",
    ] {
        assert!(public.text.contains(needle), "{needle} in {}", public.text);
    }
    // Once public, a preview is the document itself.
    let r = get(&app, &format!("/advisories/{id}/preview/osv.json"), &sm).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER);
    assert_eq!(r.headers["location"], format!("/advisories/{id}/osv.json"));
}

async fn previews_follow_the_access_rule(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.advisory_in(&app, "draft").await;
    for (who, preview, confirm) in [
        (&w.outsider, StatusCode::NOT_FOUND, StatusCode::NOT_FOUND),
        // In the audience, the reporter may see the draft's documents, not publish it.
        (&w.reporter, StatusCode::OK, StatusCode::FORBIDDEN),
        (&w.maintainer, StatusCode::OK, StatusCode::FORBIDDEN),
    ] {
        let cookie = app.session_cookie(who).await;
        let r = get(&app, &format!("/advisories/{id}/preview/osv.json"), &cookie).await;
        assert_eq!(r.status, preview, "{who}: {}", r.text);
        if preview != StatusCode::OK {
            assert!(!r.text.contains("A report to be draft"), "{}", r.text);
        }
        let r = get(&app, &format!("/advisories/{id}/confirm/publish"), &cookie).await;
        assert_eq!(r.status, confirm, "{who}: {}", r.text);
        assert!(!r.text.contains("Publish now"));
    }
    // Anonymous: nothing, not even that it exists.
    let r = app
        .page(&format!("/advisories/{id}/preview/csaf.json"), None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert!(!r.text.contains("A report to be draft"));
    let sm = app.session_cookie(&w.sm).await;
    assert_eq!(
        get(&app, &format!("/advisories/{id}/preview/secrets.txt"), &sm)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        get(&app, &format!("/advisories/{id}/confirm/delete"), &sm)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    // Previews are reads of the unpublished advisory, in its access log.
    let log = app
        .get(&format!("/api/v1/advisories/{id}/audit"), Some(&w.sm))
        .await;
    let reads_by_reporter = log
        .json
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "read" && e["actor"] == "reporter@example.org")
        .count();
    assert_eq!(reads_by_reporter, 2, "{}", log.text);
}

async fn close_and_withdraw_are_confirmed(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.advisory_in(&app, "triage").await;
    let sm = app.session_cookie(&w.sm).await;
    let page = get(&app, &format!("/advisories/{id}"), &sm).await;
    // The close form preselects no reason: the first option is the empty "Choose".
    let close = &page.text[page.text.find("<dialog id=\"confirm-close\"").unwrap()..];
    let select = &close[close.find("<select name=\"reason\" required>").unwrap()..];
    assert!(
        select.starts_with(
            "<select name=\"reason\" required><option value=\"\">Choose a reason…</option>"
        ),
        "{select}"
    );
    assert!(!select[..select.find("</select>").unwrap()].contains("selected"));
    let confirm = get(&app, &format!("/advisories/{id}/confirm/close"), &sm).await;
    assert_eq!(confirm.status, StatusCode::OK);
    assert!(
        confirm.text.contains("the reporter is told")
            && !confirm.text.contains("Preview of the public page"),
        "closing makes nothing public: {}",
        confirm.text
    );
    // Without a reason, refused with words.
    let csrf = csrf_in(&confirm.text);
    let state = format!("/advisories/{id}/state");
    let r = app
        .request(form(
            &state,
            Some(&sm),
            &[("csrf", &csrf), ("action", "close"), ("reason", "")],
        ))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(
        app.get(&format!("/api/v1/advisories/{id}"), Some(&w.sm))
            .await
            .json["state"],
        "triage"
    );
    // Transferring offers the organisation's other repositories, not its own.
    let transfer = get(&app, &format!("/advisories/{id}/confirm/transfer"), &sm).await;
    assert_eq!(transfer.status, StatusCode::OK);
    assert!(
        transfer.text.contains("name=\"action\" value=\"transfer\"")
            && !transfer.text.contains("<option value=\"guest\">"),
        "{}",
        transfer.text
    );
    // A triage advisory cannot be withdrawn: no confirmation for it.
    assert_eq!(
        get(&app, &format!("/advisories/{id}/confirm/withdraw"), &sm)
            .await
            .status,
        StatusCode::FORBIDDEN
    );

    let published = w.advisory_in(&app, "published").await;
    let confirm = get(
        &app,
        &format!("/advisories/{published}/confirm/withdraw"),
        &sm,
    )
    .await;
    assert_eq!(confirm.status, StatusCode::OK, "{}", confirm.text);
    assert!(
        confirm.text.contains("Preview of the public page")
            && confirm.text.contains("withdrawn")
            && confirm.text.contains("name=\"reason\""),
        "{}",
        confirm.text
    );
    let r = app
        .request(form(
            &format!("/advisories/{published}/state"),
            Some(&sm),
            &[
                ("csrf", &csrf_in(&confirm.text)),
                ("action", "withdraw"),
                ("reason", "Not exploitable"),
            ],
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let public = app.page(&format!("/advisories/{published}"), None).await;
    assert!(public.text.contains("Not exploitable"), "{}", public.text);
}

/// The draft form's fields, with two packages.
fn draft_fields<'a>(csrf: &'a str, second_ecosystem: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("csrf", csrf),
        ("title", "Token leak"),
        ("summary", "Token leak in guest"),
        ("description", "Details."),
        ("cve_id", ""),
        (
            "cvss_vector",
            "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N",
        ),
        ("cwe", "CWE-200"),
        ("cwe_ids", ""),
        ("ecosystem", "crates.io"),
        ("package", "guest"),
        ("range", "< 0.15.0"),
        ("patched", "0.15.0"),
        ("ecosystem", second_ecosystem),
        ("package", "guest-agent"),
        ("range", "< 1.2.0"),
        ("patched", "1.2.0"),
        ("references", "https://example.org/fix"),
        ("credit_type", "finder"),
        ("credit_name", "Rita Reporter"),
        ("credit_type", "remediation_developer"),
        ("credit_name", "Max Maintainer"),
    ]
}

async fn draft_form_shows_every_error_in_words(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.advisory_in(&app, "draft").await;
    let sm = app.session_cookie(&w.sm).await;
    let page = get(&app, &format!("/advisories/{id}/edit"), &sm).await;
    assert_eq!(page.status, StatusCode::OK);
    // The ecosystem is a choice among the accepted ones; weaknesses are picked by name.
    assert!(
        page.text.contains("<select name=\"ecosystem\"")
            && page
                .text
                .contains("<option value=\"crates.io\" selected>crates.io</option>")
            && page.text.contains("<option value=\"PyPI\">PyPI</option>"),
        "{}",
        page.text
    );
    assert!(page.text.contains("value=\"CWE-79\""));
    assert!(page.text.contains("Cross-site Scripting"));
    let csrf = csrf_in(&page.text);
    let mut bad = draft_fields(&csrf, "Nonsense");
    for (k, v) in &mut bad {
        match *k {
            "cwe_ids" => *v = "XSS",
            "references" => *v = "not a url",
            "cvss_vector" => *v = "CVSS:3.1/AV:N",
            _ => {}
        }
    }
    let r = app
        .request(form(&format!("/advisories/{id}/edit"), Some(&sm), &bad))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    // All four at once, each next to its field, in words.
    for (field, words) in [
        ("err-cvss_vector", "CVSS vectors"),
        ("err-cwe_ids", "Other CWE ids, item 1: "),
        ("err-references", "References, item 1: "),
        (
            "err-package-1",
            "Affected package 2: ecosystem: &#39;Nonsense&#39; is not a known ecosystem",
        ),
    ] {
        let at = r
            .text
            .find(&format!("<p class=\"field-error\" id=\"{field}\">"))
            .unwrap_or_else(|| panic!("{field} in {}", r.text));
        let para = &r.text[at..at + r.text[at..].find("</p>").unwrap()];
        let words_alt = words.replace("&#39;", "&#x27;");
        assert!(
            para.contains(words) || para.contains(&words_alt),
            "{field}: {words} in {para}"
        );
    }
    assert!(r.text.contains("4 fields need a change"), "{}", r.text);
    for internal in ["vulnerabilities[", "cwe_ids[", "references["] {
        assert!(!r.text.contains(internal), "{internal} in {}", r.text);
    }
    // What was typed stays, both rows included.
    assert!(
        r.text.contains("value=\"guest-agent\"") && r.text.contains("value=\"Max Maintainer\"")
    );
    // Nothing was saved.
    let saved = app
        .get(&format!("/api/v1/advisories/{id}"), Some(&w.sm))
        .await;
    assert_eq!(saved.json["vulnerabilities"].as_array().unwrap().len(), 1);

    // Corrected: saved with two packages, the picked weakness and typed credits.
    let good = draft_fields(&csrf, "npm");
    let r = app
        .request(form(&format!("/advisories/{id}/edit"), Some(&sm), &good))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let saved = app
        .get(&format!("/api/v1/advisories/{id}"), Some(&w.sm))
        .await;
    assert_eq!(
        saved.json["vulnerabilities"][1]["package"]["ecosystem"],
        "npm"
    );
    assert_eq!(saved.json["cwe_ids"], json!(["CWE-200"]));
    let credits: Vec<(&str, &str)> = saved.json["credits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["type"].as_str().unwrap(), c["name"].as_str().unwrap()))
        .collect();
    assert_eq!(
        credits,
        [
            ("finder", "Rita Reporter"),
            ("remediation_developer", "Max Maintainer")
        ]
    );
    // The page shows the score and rating with the vector, and the weakness's name.
    let page = get(&app, &format!("/advisories/{id}"), &sm).await;
    assert!(
        page.text.contains("<span class=\"badge sev-high\"") && page.text.contains("7.5 High"),
        "{}",
        page.text
    );
    assert!(
        page.text
            .contains("CWE-200: Exposure of Sensitive Information")
    );
    let form_again = get(&app, &format!("/advisories/{id}/edit"), &sm).await;
    assert!(
        form_again.text.contains("CVSS 3.1: 7.5 High"),
        "{}",
        form_again.text
    );
    assert!(form_again.text.contains("value=\"CWE-200\" checked"));
}

async fn another_package_without_saving(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.advisory_in(&app, "draft").await;
    let sm = app.session_cookie(&w.sm).await;
    let page = get(&app, &format!("/advisories/{id}/edit"), &sm).await;
    let rows = |t: &str| t.matches("class=\"row package-row\"").count();
    assert_eq!(rows(&page.text), 1);
    let csrf = csrf_in(&page.text);
    let mut fields = draft_fields(&csrf, "npm");
    fields.push(("add", "package"));
    let r = app
        .request(form(&format!("/advisories/{id}/edit"), Some(&sm), &fields))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(rows(&r.text), 3, "two typed, one empty");
    assert!(r.text.contains("value=\"guest-agent\""));
    let saved = app
        .get(&format!("/api/v1/advisories/{id}"), Some(&w.sm))
        .await;
    assert_eq!(
        saved.json["vulnerabilities"].as_array().unwrap().len(),
        1,
        "adding a row saves nothing"
    );
    // Only who may edit gets the form back.
    let reporter = app.session_cookie(&w.reporter).await;
    let page = get(&app, &format!("/advisories/{id}"), &reporter).await;
    let r = app
        .request(form(
            &format!("/advisories/{id}/edit"),
            Some(&reporter),
            &[("csrf", &csrf_in(&page.text)), ("add", "package")],
        ))
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN);
}

async fn markdown_is_rendered_and_sanitised(app: TestApp) {
    let w = World::new(&app).await;
    let r = app
        .post(
            "/api/v1/orgs/coco/repos/guest/advisories",
            Some(&w.reporter),
            json!({"title": "Markdown", "description": "## Steps\n\n1. run **this**\n\n<script>alert(1)</script>\n\n[site](https://example.org) [x](javascript:alert(2)) ![i](https://evil.example/p.png)"}),
        )
        .await;
    let id = r.json["id"].as_str().unwrap().to_owned();
    app.post(
        &format!("/api/v1/advisories/{id}/comments"),
        Some(&w.sm),
        json!({"body": "Confirmed, see `parse()` <img src=x onerror=alert(3)>"}),
    )
    .await;
    let page = app
        .page(&format!("/advisories/{id}"), Some(&w.maintainer))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    let t = &page.text;
    assert!(
        t.contains("<h2>Steps</h2>") && t.contains("<strong>this</strong>"),
        "{t}"
    );
    assert!(t.contains("<code>parse()</code>"), "{t}");
    assert!(
        t.contains("<a href=\"https://example.org\" rel=\"nofollow noopener noreferrer\">site</a>"),
        "{t}"
    );
    for raw in ["<script>alert", "javascript:", "<img", "evil.example"] {
        assert!(!t.contains(raw), "{raw} passed: {t}");
    }
    assert!(
        t.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "shown as text: {t}"
    );
}

async fn close_message_and_original_in_the_timeline(app: TestApp) {
    let w = World::new(&app).await;
    let original = w.file(&app, "The original").await;
    let dup = w.file(&app, "The duplicate").await;
    let sm = app.session_cookie(&w.sm).await;
    let page = get(&app, &format!("/advisories/{dup}"), &sm).await;
    let r = app
        .request(form(
            &format!("/advisories/{dup}/state"),
            Some(&sm),
            &[
                ("csrf", &csrf_in(&page.text)),
                ("action", "close"),
                ("reason", "duplicate"),
                ("duplicate_of", &original),
                ("message", "Same bug as the **other** report."),
            ],
        ))
        .await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    // The reporter (no trail) and the security manager (the trail) both see it in order.
    for who in [&w.reporter, &w.sm] {
        let page = app.page(&format!("/advisories/{dup}"), Some(who)).await;
        let t = &page.text;
        let timeline = &t[t.find("<ol class=\"timeline\">").unwrap()..];
        let reported = timeline.find("Reported").unwrap();
        let closed = timeline
            .find("Closed: Duplicate")
            .unwrap_or_else(|| panic!("{timeline}"));
        assert!(reported < closed);
        assert!(
            timeline[closed..].contains(&format!("original: <a href=\"/advisories/{original}\">"))
                && timeline[closed..].contains("Same bug as the <strong>other</strong> report."),
            "{timeline}"
        );
    }
}

fn reads_of(log: &Value, who: &str) -> Vec<Value> {
    log.as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"] == who && e["action"].as_str().unwrap().starts_with("read"))
        .cloned()
        .collect()
}

async fn one_access_log_entry_per_page_view(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.advisory_in(&app, "draft").await;
    let log_before = app
        .get(&format!("/api/v1/advisories/{id}/audit"), Some(&w.sm))
        .await;
    let before = reads_of(&log_before.json, "sm@example.org").len();
    // A security manager's view reads the advisory, its thread and its trail: one entry.
    assert_eq!(
        app.page(&format!("/advisories/{id}"), Some(&w.sm))
            .await
            .status,
        StatusCode::OK
    );
    app.page(&format!("/advisories/{id}"), Some(&w.maintainer))
        .await;
    let log = app
        .get(&format!("/api/v1/advisories/{id}/audit"), Some(&w.sm))
        .await;
    let sm_reads = reads_of(&log.json, "sm@example.org");
    // The two audit reads made by this test are `read_access_log`; the page view is one `read`.
    let views: Vec<&Value> = sm_reads[before..]
        .iter()
        .filter(|e| e["action"] == "read")
        .collect();
    assert_eq!(views.len(), 1, "{}", log.text);
    assert_eq!(views[0]["detail"], json!({"with": ["thread", "events"]}));
    assert!(
        !sm_reads[before..]
            .iter()
            .any(|e| e["action"] == "read_thread" || e["action"] == "read_events"),
        "{}",
        log.text
    );
    let m = reads_of(&log.json, "maintainer@example.org");
    assert_eq!(m.len(), 1, "{}", log.text);
    assert_eq!(m[0]["detail"], json!({"with": ["thread"]}));
    // An outsider's attempt reads nothing and is no entry.
    assert_eq!(
        app.page(&format!("/advisories/{id}"), Some(&w.outsider))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    let log = app
        .get(&format!("/api/v1/advisories/{id}/audit"), Some(&w.sm))
        .await;
    assert!(reads_of(&log.json, "outsider@example.org").is_empty());
}
