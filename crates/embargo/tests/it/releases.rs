//! Releases from the upstream's tags (a real git repository made here, read with the real
//! `git` under the network rule), the fix proposal on a draft and its unsupported-release
//! warning, and a release's bulletin with the flags for advisories still unpublished.

use std::path::Path;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::codeowners::{commit_codeowners, git};
use crate::support::{BASE_URL, Resp, TestApp, World, on_both_backends};

const RELEASES: &str = "/api/v1/orgs/coco/repos/guest/releases";
const SYNC: &str = "/api/v1/orgs/coco/repos/guest/releases/sync";

/// A repository tagged v0.7.0, v0.8.0 (annotated), v0.8.1-rc.1 and "nightly".
fn tagged_repo(dir: &Path) {
    git(dir, &["init", "-q"]);
    commit_codeowners(dir, "CODEOWNERS", "* @alice\n");
    git(dir, &["tag", "v0.7.0"]);
    commit_codeowners(dir, "README", "0.8\n");
    git(dir, &["tag", "-a", "-m", "0.8.0", "v0.8.0"]);
    commit_codeowners(dir, "NEWS", "rc\n");
    git(dir, &["tag", "v0.8.1-rc.1"]);
    git(dir, &["tag", "nightly"]);
}

/// `app` allowed to read `dir`, with coco/guest's upstream set to it.
async fn with_upstream(app: &mut TestApp, w: &World, dir: &Path) {
    let path = dir.to_str().unwrap().to_owned();
    app.configure(|c| c.network.allow = vec![path.clone()]);
    let r = app
        .call(
            Method::PATCH,
            "/api/v1/orgs/coco/repos/guest",
            Some(&w.sm),
            Some(json!({ "upstream": path })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

fn tags(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|r| r["tag"].as_str().unwrap().to_owned())
        .collect()
}

async fn enter(app: &TestApp, token: &str, tag: &str) -> Resp {
    app.post(RELEASES, Some(token), json!({ "tag": tag })).await
}

/// A draft on coco/`repo` fixed in `patched`, as the security manager writes it.
async fn draft_fixed_in(
    app: &TestApp,
    w: &World,
    repo: &str,
    title: &str,
    patched: &str,
) -> String {
    let r = app
        .post(
            &format!("/api/v1/orgs/coco/repos/{repo}/advisories"),
            Some(&w.reporter),
            json!({"title": title, "description": "steps to reproduce"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.json["id"].as_str().unwrap().to_owned();
    let r = app
        .post(
            &format!("/api/v1/advisories/{id}/accept"),
            Some(&w.sm),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    set_fix(app, w, &id, patched).await;
    id
}

async fn set_fix(app: &TestApp, w: &World, id: &str, patched: &str) {
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/advisories/{id}"),
            Some(&w.sm),
            Some(json!({"vulnerabilities": [{"package": {"ecosystem": "crates.io", "name": "guest"}, "vulnerable_version_range": format!("< {patched}"), "patched_versions": patched}]})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

/// Queued messages flagging an unpublished advisory at a release.
async fn flags(app: &TestApp) -> Vec<embargo_store::QueuedMail> {
    let all = app.store.claim_mail(10_000).await.unwrap();
    for m in &all {
        app.store.mail_sent(m.id).await.unwrap();
    }
    all.into_iter()
        .filter(|m| m.subject.contains("is not published"))
        .collect()
}

async fn releases_come_from_the_upstream_tags(mut app: TestApp) {
    let w = World::new(&app).await;
    let upstream = tempfile::tempdir().unwrap();
    tagged_repo(upstream.path());

    // Without an upstream the sync says what to do.
    let r = app.post(SYNC, Some(&w.sm), json!({})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.json["error"]["field"], "upstream");

    with_upstream(&mut app, &w, upstream.path()).await;
    assert_eq!(
        app.post(SYNC, Some(&w.maintainer), json!({})).await.status,
        StatusCode::FORBIDDEN,
        "the organisation's rule ManageRepos"
    );
    let r = app.post(SYNC, Some(&w.sm), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        tags(&r.json["added"]),
        ["v0.7.0", "v0.8.0", "v0.8.1-rc.1"],
        "semantic versions, annotated or not, in version order"
    );
    assert_eq!(r.json["ignored"][0]["tag"], "nightly");
    assert!(
        r.json["ignored"][0]["note"]
            .as_str()
            .unwrap()
            .contains("not a semantic version"),
        "{}",
        r.text
    );

    let list = app.get(RELEASES, None).await;
    assert_eq!(list.status, StatusCode::OK, "{}", list.text);
    assert_eq!(tags(&list.json), ["v0.7.0", "v0.8.0", "v0.8.1-rc.1"]);
    assert_eq!(list.json[2]["prerelease"], true);
    assert_eq!(list.json[1]["prerelease"], false);
    assert_eq!(list.json[1]["version"], "0.8.0");
    assert_eq!(list.json[1]["source"], "upstream");

    // Read again: nothing new. A new tag upstream is recorded.
    let r = app.post(SYNC, Some(&w.sm), json!({})).await;
    assert_eq!(r.json["added"], json!([]), "{}", r.text);
    git(upstream.path(), &["tag", "0.8.1"]);
    let r = app.post(SYNC, Some(&w.sm), json!({})).await;
    assert_eq!(tags(&r.json["added"]), ["0.8.1"], "a tag without v");

    // Outside the network rule: refused, with what to check and none of git's words.
    app.configure(|c| c.network.allow = vec![]);
    let r = app.post(SYNC, Some(&w.sm), json!({})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let msg = r.json["error"]["message"].as_str().unwrap();
    assert!(msg.starts_with("could not read the upstream"), "{msg}");
    assert!(!msg.contains("fatal") && !msg.contains(upstream.path().to_str().unwrap()));
}

async fn a_draft_gets_the_next_point_release_and_a_warning(app: TestApp) {
    let w = World::new(&app).await;
    // Entered by hand: security managers only, semantic versions only.
    for tag in ["v0.7.0", "v0.8.0", "v0.8.1-rc.1"] {
        let r = enter(&app, &w.sm, tag).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.json["added"][0]["source"], "manual");
    }
    assert_eq!(enter(&app, &w.sm, "v0.8.0").await.status, StatusCode::OK);
    let r = enter(&app, &w.sm, "nightly").await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json["error"]["field"], "tag");
    assert_eq!(
        enter(&app, &w.maintainer, "v0.9.0").await.status,
        StatusCode::FORBIDDEN
    );

    let id = draft_fixed_in(&app, &w, "guest", "Overflow in the parser", "0.8.1").await;
    let path = format!("/api/v1/advisories/{id}/release-proposal");
    let r = app.get(&path, Some(&w.maintainer)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.json,
        json!({
            "current_release": "v0.8.0",
            "proposed_patched_version": "0.8.1",
            "proposed_affected_range": "< 0.8.1",
            "supported": [{"line": "0.8", "latest": "v0.8.0"}],
            "warnings": []
        }),
        "the pre-release is not the current release"
    );
    // Who may not edit gets no proposal; who may not read learns nothing.
    assert_eq!(
        app.get(&path, Some(&w.reporter)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&path, Some(&w.outsider)).await.status,
        StatusCode::NOT_FOUND
    );

    // A fix planned for 0.7: not supported under the seed policy (no backports).
    set_fix(&app, &w, &id, "0.7.1").await;
    let r = app.get(&path, Some(&w.sm)).await;
    let warnings = r.json["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{}", r.text);
    assert!(
        warnings[0].as_str().unwrap().contains("0.7 release line"),
        "{}",
        r.text
    );
    let page = app
        .page(&format!("/advisories/{id}/edit"), Some(&w.sm))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.text.contains("0.8.1</code>"),
        "the proposal on the form: {}",
        page.text
    );
    assert!(
        page.text.contains("0.7 release line"),
        "the warning on the form"
    );

    // Two lines supported: the warning goes.
    let r = app
        .call(
            Method::PATCH,
            "/api/v1/orgs/coco",
            Some(&w.sm),
            Some(json!({"supported_releases": 2})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["policy"]["supported_releases"], 2);
    let r = app.get(&path, Some(&w.sm)).await;
    assert_eq!(r.json["warnings"], json!([]), "{}", r.text);
    assert_eq!(r.json["supported"][1]["line"], "0.7");
    let r = app
        .call(
            Method::PATCH,
            "/api/v1/orgs/coco",
            Some(&w.sm),
            Some(json!({"supported_releases": 0})),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json["error"]["field"], "supported_releases");
}

async fn a_release_gathers_its_bulletin_and_flags_the_unpublished(app: TestApp) {
    let w = World::new(&app).await;
    assert_eq!(
        enter(&app, &w.sm, "v0.8.0").await.status,
        StatusCode::CREATED
    );
    let published = draft_fixed_in(&app, &w, "guest", "Published overflow", "0.8.1").await;
    let r = app
        .post(
            &format!("/api/v1/advisories/{published}/publish"),
            Some(&w.sm),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let secret = draft_fixed_in(&app, &w, "guest", "Secret title of a draft", "v0.8.1").await;
    let elsewhere = draft_fixed_in(&app, &w, "operator", "Another repository", "0.8.1").await;
    let _ = flags(&app).await;

    let r = enter(&app, &w.sm, "v0.8.1").await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["flagged"], 1, "one security manager, one draft");
    let sent = flags(&app).await;
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].to, "sm@example.org");
    assert!(sent[0].subject.contains(&secret), "{}", sent[0].subject);
    assert!(
        !sent[0].body.contains("Secret title"),
        "no title without mail_titles"
    );
    assert!(
        !sent[0].body.contains(&elsewhere),
        "another repository's release"
    );
    // Once per release and advisory.
    assert_eq!(enter(&app, &w.sm, "v0.8.1").await.status, StatusCode::OK);
    assert!(flags(&app).await.is_empty());

    // The bulletin: published advisories only, the same Markdown as the public document.
    let coco = embargo_domain::types::Slug::parse("coco").unwrap();
    let md = embargo_server::releases::org_bulletin(&app.store, &coco, "v0.8.1", BASE_URL)
        .await
        .unwrap();
    let public = app
        .get("/orgs/coco/bulletins.md?release=v0.8.1", None)
        .await;
    assert_eq!(public.status, StatusCode::OK);
    assert_eq!(md, public.text);
    assert!(md.starts_with("## Security bulletins"), "{md}");
    assert!(md.contains(&published), "{md}");
    assert!(
        !md.contains(&secret) && !md.contains("Secret title"),
        "{md}"
    );

    // The page: the bulletin for everyone, escaped, with a copy button; the unpublished
    // advisory only for its audience.
    let page = app.page("/orgs/coco/releases/v0.8.1", None).await;
    assert_eq!(page.status, StatusCode::OK, "{}", page.text);
    assert!(page.text.contains(&published));
    assert!(page.text.contains("data-copy=\"bulletin\""));
    assert!(
        page.text
            .contains("<pre id=\"bulletin\">## Security bulletins")
    );
    assert!(!page.text.contains(&secret) && !page.text.contains("Secret title"));
    let page = app
        .page("/orgs/coco/releases/v0.8.1", Some(&w.outsider))
        .await;
    assert!(!page.text.contains(&secret) && !page.text.contains("Secret title"));
    let page = app.page("/orgs/coco/releases/v0.8.1", Some(&w.sm)).await;
    assert!(page.text.contains(&secret), "{}", page.text);
    assert!(page.text.contains("Secret title of a draft"));
    assert!(!page.text.contains(&elsewhere));
    let script = app.page("/static/copy.js", None).await;
    assert_eq!(script.status, StatusCode::OK);
    assert_eq!(
        app.page("/orgs/coco/releases/not%20a%20version", None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );
}

async fn the_watch_records_new_tags_and_flags_the_unpublished(mut app: TestApp) {
    let w = World::new(&app).await;
    let upstream = tempfile::tempdir().unwrap();
    tagged_repo(upstream.path());
    with_upstream(&mut app, &w, upstream.path()).await;
    let secret = draft_fixed_in(&app, &w, "guest", "Fixed in the next release", "0.8.1").await;
    let run = || app.run_jobs();
    run().await;
    assert_eq!(
        tags(&app.get(RELEASES, None).await.json),
        ["v0.7.0", "v0.8.0", "v0.8.1-rc.1"]
    );
    let _ = flags(&app).await;

    // The patching release's tag appears upstream: the next run records it and flags the draft.
    commit_codeowners(upstream.path(), "FIX", "fixed\n");
    git(upstream.path(), &["tag", "v0.8.1"]);
    app.clock.advance(time::Duration::minutes(11));
    run().await;
    let list = app.get(RELEASES, None).await;
    assert_eq!(list.json[3]["tag"], "v0.8.1", "{}", list.text);
    assert_eq!(list.json[3]["source"], "upstream");
    let sent = flags(&app).await;
    assert_eq!(sent.len(), 1, "{sent:?}");
    assert!(sent[0].subject.contains(&secret));
    let jobs = app.store.jobs().await.unwrap();
    let watch = jobs.iter().find(|j| j.kind == "release_watch").unwrap();
    assert_eq!(watch.last_error, None);
}

on_both_backends!(
    releases_come_from_the_upstream_tags,
    a_draft_gets_the_next_point_release_and_a_warning,
    a_release_gathers_its_bulletin_and_flags_the_unpublished,
    the_watch_records_new_tags_and_flags_the_unpublished,
);
