//! Maintainers from CODEOWNERS, read from a real git repository with the real `git` client.

use std::path::Path;

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, World, on_both_backends};

pub(crate) fn git(dir: &Path, args: &[&str]) {
    let out = std::process::Command::new("git")
        .args([
            "-c",
            "user.name=Test",
            "-c",
            "user.email=test@example.org",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub(crate) fn commit_codeowners(dir: &Path, path: &str, text: &str) {
    let file = dir.join(path);
    std::fs::create_dir_all(file.parent().unwrap()).unwrap();
    std::fs::write(&file, text).unwrap();
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-q", "-m", "owners"]);
}

async fn maintainers_follow_codeowners(mut app: TestApp) {
    let w = World::new(&app).await;
    let upstream = tempfile::tempdir().unwrap();
    // A local upstream is read only where the settings allow its folder.
    let allowed = upstream.path().to_str().unwrap().to_owned();
    app.configure(|c| c.network.allow = vec![allowed]);
    git(upstream.path(), &["init", "-q"]);
    commit_codeowners(
        upstream.path(),
        ".github/CODEOWNERS",
        "# guest-components\n* @Alice bob@example.org @confidential-containers/security\n/docs/ @nobody-here\n",
    );
    let alice = app.user("alice@example.org", false).await;
    let bob = app.user("bob@example.org", false).await;
    let email = embargo_domain::types::Email::parse("alice@example.org").unwrap();
    app.store
        .set_forge_handle(
            &email,
            Some(&embargo_domain::types::ForgeHandle::parse("@alice").unwrap()),
        )
        .await
        .unwrap();
    let id = w.advisory_in(&app, "triage").await;
    assert_eq!(
        app.get(&format!("/api/v1/advisories/{id}"), Some(&alice))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    let repo = "/api/v1/orgs/coco/repos/guest";
    let sync = format!("{repo}/sync-maintainers");
    // Without an upstream, the sync says what to do; only security managers may set it or sync.
    let r = app.post(&sync, Some(&w.sm), json!({})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(r.json["error"]["field"], "upstream");
    let path = upstream.path().to_str().unwrap();
    assert_eq!(
        app.call(
            Method::PATCH,
            repo,
            Some(&w.maintainer),
            Some(json!({"upstream": path}))
        )
        .await
        .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.call(
            Method::PATCH,
            repo,
            Some(&w.sm),
            Some(json!({"upstream": "ext::sh -c id"}))
        )
        .await
        .status,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    assert_eq!(
        app.call(
            Method::PATCH,
            repo,
            Some(&w.sm),
            Some(json!({"upstream": path}))
        )
        .await
        .status,
        StatusCode::OK
    );
    assert_eq!(
        app.post(&sync, Some(&w.maintainer), json!({})).await.status,
        StatusCode::FORBIDDEN
    );

    let r = app.post(&sync, Some(&w.sm), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.json["added"],
        json!(["alice@example.org", "bob@example.org"])
    );
    assert_eq!(
        r.json["unknown"],
        json!(["@confidential-containers/security", "@nobody-here"]),
        "listed, not guessed"
    );
    assert_eq!(
        app.get(&format!("/api/v1/advisories/{id}"), Some(&alice))
            .await
            .status,
        StatusCode::OK
    );
    assert_eq!(
        app.get(&format!("/api/v1/advisories/{id}"), Some(&bob))
            .await
            .status,
        StatusCode::OK
    );

    // Bob leaves CODEOWNERS: he loses access at the next sync; the maintainer named by hand stays.
    commit_codeowners(upstream.path(), ".github/CODEOWNERS", "* @alice\n");
    let r = app.post(&sync, Some(&w.sm), json!({})).await;
    assert_eq!(r.json["removed"], json!(["bob@example.org"]));
    assert_eq!(r.json["kept"], json!(["alice@example.org"]));
    assert_eq!(
        app.get(&format!("/api/v1/advisories/{id}"), Some(&bob))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("/api/v1/advisories/{id}"), Some(&w.maintainer))
            .await
            .status,
        StatusCode::OK
    );

    // The organisation's settings page has the same sync as a button, for its security
    // managers only.
    let sm = app.session_cookie(&w.sm).await;
    let page = app
        .request(
            axum::http::Request::builder()
                .uri("/admin/orgs/coco")
                .header(axum::http::header::COOKIE, &sm)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    assert!(page.text.contains("Sync maintainers from CODEOWNERS"));
    assert!(
        !app.page("/admin/orgs/coco", Some(&w.maintainer))
            .await
            .text
            .contains("Sync maintainers")
    );
    let i = page.text.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = page.text[i..].split('"').next().unwrap().to_owned();
    let form = axum::http::Request::builder()
        .method(Method::POST)
        .uri("/orgs/coco/repos/guest/sync")
        .header(axum::http::header::COOKIE, &sm)
        .header(
            axum::http::header::CONTENT_TYPE,
            "application/x-www-form-urlencoded",
        )
        .body(axum::body::Body::from(format!("csrf={csrf}")))
        .unwrap();
    let r = app.request(form).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.text.contains("Maintainers synced from CODEOWNERS")
            && r.text.contains("alice@example.org")
    );

    // A broken upstream is reported with what to check, and changes nothing.
    let missing = format!("{path}/missing.git");
    let r = app
        .call(
            Method::PATCH,
            repo,
            Some(&w.sm),
            Some(json!({"upstream": missing})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app.post(&sync, Some(&w.sm), json!({})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        r.json["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("could not read the upstream: check the address"),
        "{}",
        r.text
    );
    assert_eq!(
        app.get(&format!("/api/v1/advisories/{id}"), Some(&alice))
            .await
            .status,
        StatusCode::OK
    );
}

on_both_backends!(maintainers_follow_codeowners);
