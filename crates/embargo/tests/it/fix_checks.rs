//! Checks on an advisory's private fix, on both backends, with the real `git`: statuses
//! from a CI posting with a token, the check command's output (passing, failing, timing
//! out, over its memory, trying the network), the signed `fix.pushed` webhook, publication
//! warning about checks that are not green and pushing the fix branch to a local
//! "upstream", and the retention job removing the fix repository.
//!
//! The fix repository is made here as the repository helper's endpoint makes it (a bare
//! repository at `{data_dir}/fix/{id}.git`), and pushes are announced to
//! `fix_checks::after_push` as its git endpoint does after an accepted push.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, Method, StatusCode};
use embargo_server::AppState;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};

use crate::codeowners::git;
use crate::support::{Resp, TestApp, World, on_both_backends};

const ZERO: &str = "0000000000000000000000000000000000000000";
const SETTINGS: &str = "/api/v1/orgs/coco/repos/guest/fix-settings";
const SECRET: &str = "a-long-random-webhook-secret";

fn state(app: &TestApp) -> AppState {
    AppState {
        store: app.store.clone(),
        config: app.config.clone(),
        signer: None,
        public_cache: Arc::default(),
    }
}

fn git_out(dir: &Path, args: &[&str]) -> String {
    let out = std::process::Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// A working copy with one commit on `main` (a README), in `dir/work`.
fn work_tree(dir: &Path) -> PathBuf {
    let work = dir.join("work");
    std::fs::create_dir_all(&work).unwrap();
    git(&work, &["init", "-q"]);
    std::fs::write(work.join("README"), "guest\n").unwrap();
    git(&work, &["add", "README"]);
    git(&work, &["commit", "-q", "-m", "first"]);
    work
}

/// Commits `file` on a new branch `branch` in `work`; returns the commit.
fn commit_on(work: &Path, branch: &str, file: &str) -> String {
    git(work, &["checkout", "-q", "-B", branch, "main"]);
    std::fs::write(work.join(file), format!("{branch}\n")).unwrap();
    git(work, &["add", file]);
    git(work, &["commit", "-q", "-m", branch]);
    git_out(work, &["rev-parse", "HEAD"])
}

/// The fix repository of `id`, as a bare clone of `work` under the data folder.
fn fix_repo(app: &TestApp, id: &str, work: &Path) -> PathBuf {
    let bare = app.config.data_dir.join("fix").join(format!("{id}.git"));
    std::fs::create_dir_all(bare.parent().unwrap()).unwrap();
    git(
        work,
        &["clone", "-q", "--bare", ".", bare.to_str().unwrap()],
    );
    bare
}

/// Pushes `branch` of `work` to the fix repository and tells Embargo, as the git endpoint
/// does after an accepted push.
async fn push(app: &TestApp, id: &str, work: &Path, bare: &Path, branch: &str) -> String {
    let sha = git_out(work, &["rev-parse", branch]);
    git(
        work,
        &[
            "push",
            "-q",
            bare.to_str().unwrap(),
            &format!("{branch}:{branch}"),
        ],
    );
    embargo_server::fix_checks::after_push(
        &state(app),
        id,
        &[(format!("refs/heads/{branch}"), ZERO.to_owned(), sha.clone())],
    )
    .await
    .unwrap();
    sha
}

async fn put_settings(app: &TestApp, token: &str, body: Value) -> Resp {
    app.call(Method::PUT, SETTINGS, Some(token), Some(body))
        .await
}

async fn statuses_from_a_receiver(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.advisory_in(&app, "draft").await;
    let dir = tempfile::tempdir().unwrap();
    let work = work_tree(dir.path());
    let bare = fix_repo(&app, &id, &work);
    commit_on(&work, "fix", "fix.rs");
    let sha = push(&app, &id, &work, &bare, "fix").await;
    let path = format!("/api/v1/advisories/{id}/fix/statuses");
    let status = |state: &str| {
        json!({"sha": sha, "context": "ci/build", "state": state,
               "target_url": "https://ci.example.org/runs/7", "description": "build and tests"})
    };

    // A CI with the maintainer's token reports; the audience reads it.
    let r = app
        .post(&path, Some(&w.maintainer), status("pending"))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app
        .post(&path, Some(&w.maintainer), status("success"))
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.json["state"], "success");
    assert_eq!(r.json["creator"], "maintainer");
    let r = app
        .get(&format!("{path}?sha={sha}"), Some(&w.reporter))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let list = r.json.as_array().unwrap();
    assert_eq!(
        list.len(),
        1,
        "the latest status of a context replaces the earlier: {}",
        r.text
    );
    assert_eq!(list[0]["description"], "build and tests");
    assert_eq!(list[0]["target_url"], "https://ci.example.org/runs/7");
    // What the repository helper's answer shows for a branch head.
    let v = embargo_server::fix_checks::statuses_for(&state(&app), &id, std::slice::from_ref(&sha))
        .await
        .unwrap();
    assert_eq!(v[0]["context"], "ci/build");
    assert_eq!(v[0]["sha"], sha.as_str());

    // Everyone who may not push statuses hears what a missing advisory answers.
    let missing =
        embargo_domain::ids::AdvisoryId::from_random([0u8; embargo_domain::ids::RANDOM_BYTES]);
    let none = app
        .post(
            &format!("/api/v1/advisories/{missing}/fix/statuses"),
            Some(&w.outsider),
            status("failure"),
        )
        .await;
    assert_eq!(none.status, StatusCode::NOT_FOUND, "{}", none.text);
    for who in [
        &w.outsider,
        &w.reporter,
        &w.other_maintainer,
        &w.collaborator,
    ] {
        let r = app.post(&path, Some(who), status("failure")).await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
        assert_eq!(r.json, none.json);
    }
    let r = app.get(&path, Some(&w.outsider)).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert!(!r.text.contains(&sha));

    // Every field has its limit and a readable refusal.
    let unknown = "f".repeat(40);
    for (body, field) in [
        (
            json!({"sha": sha, "state": "success", "target_url": "http://ci.example.org/"}),
            "target_url",
        ),
        (
            json!({"sha": sha, "state": "success", "target_url": "javascript:alert(1)"}),
            "target_url",
        ),
        (
            json!({"sha": sha, "state": "success", "description": "x".repeat(141)}),
            "description",
        ),
        (
            json!({"sha": sha, "state": "success", "context": "c".repeat(101)}),
            "context",
        ),
        (
            json!({"sha": sha, "state": "success", "context": "embargo/check"}),
            "context",
        ),
        (json!({"sha": "main", "state": "success"}), "sha"),
        (json!({"sha": unknown, "state": "success"}), "sha"),
    ] {
        let r = app.post(&path, Some(&w.sm), body.clone()).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{body}: {}",
            r.text
        );
        assert_eq!(r.json["error"]["field"], field, "{body}: {}", r.text);
    }
    let r = app
        .post(&path, Some(&w.sm), json!({"sha": sha, "state": "green"}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);

    // Publication warns about checks that are not green, and does not block.
    let r = app.post(&path, Some(&w.sm), status("failure")).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = app
        .post(
            &format!("/api/v1/advisories/{id}/publish"),
            Some(&w.sm),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["state"], "published");
    let warnings = r.json["fix_checks"]["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 1, "{}", r.text);
    assert!(
        warnings[0].as_str().unwrap().contains("fix")
            && warnings[0]
                .as_str()
                .unwrap()
                .contains("ci/build is failure"),
        "{}",
        r.text
    );
    // Read-only once published.
    let r = app.post(&path, Some(&w.sm), status("success")).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    drop(bare);
}

/// Sets the check command and its limits (network off unless `network`).
async fn set_check(app: &TestApp, w: &World, command: &str, seconds: i64, network: bool) {
    let r = put_settings(
        app,
        &w.sm,
        json!({"check_command": command, "check_time_limit_seconds": seconds,
               "check_memory_limit_mb": 256, "check_network": network}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

/// Pushes a new branch, runs the jobs, and returns the newest check run and the commit's
/// `embargo/check` status.
async fn checked(
    app: &TestApp,
    w: &World,
    id: &str,
    work: &Path,
    bare: &Path,
    branch: &str,
) -> (Value, Value) {
    commit_on(work, branch, &format!("{branch}.txt"));
    let sha = push(app, id, work, bare, branch).await;
    // Queued at once: the run and its pending status.
    let r = app
        .get(
            &format!("/api/v1/advisories/{id}/fix/checks"),
            Some(&w.maintainer),
        )
        .await;
    assert_eq!(r.json["check_runs"][0]["state"], "pending", "{}", r.text);
    app.run_jobs().await;
    let r = app
        .get(
            &format!("/api/v1/advisories/{id}/fix/checks"),
            Some(&w.reporter),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let run = r.json["check_runs"][0].clone();
    assert_eq!(run["sha"], sha.as_str());
    assert_eq!(run["ref"], format!("refs/heads/{branch}"));
    let s = app
        .get(
            &format!("/api/v1/advisories/{id}/fix/statuses?sha={sha}"),
            Some(&w.reporter),
        )
        .await;
    let status = s
        .json
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["context"] == "embargo/check")
        .cloned()
        .unwrap();
    (run, status)
}

async fn check_command_output(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.advisory_in(&app, "draft").await;
    let dir = tempfile::tempdir().unwrap();
    let work = work_tree(dir.path());
    let bare = fix_repo(&app, &id, &work);

    // Only security managers set it; every limit is checked.
    let r = put_settings(&app, &w.maintainer, json!({"check_command": "true"})).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    for (body, field) in [
        (
            json!({"check_time_limit_seconds": 0}),
            "check_time_limit_seconds",
        ),
        (json!({"check_memory_limit_mb": 1}), "check_memory_limit_mb"),
        (json!({"check_command": "x".repeat(2001)}), "check_command"),
        (json!({"retention_days": -1}), "retention_days"),
    ] {
        let r = put_settings(&app, &w.sm, body).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert_eq!(r.json["error"]["field"], field, "{}", r.text);
    }

    // Passing: it sees the pushed commit's files, an empty environment but PATH and HOME.
    set_check(
        &app,
        &w,
        "cat README pass.txt; env | sort; echo uid=$(id -u); echo checked-ok",
        60,
        false,
    )
    .await;
    let (run, status) = checked(&app, &w, &id, &work, &bare, "pass").await;
    let out = run["output"].as_str().unwrap();
    assert_eq!(run["state"], "success", "{out}");
    assert_eq!(run["exit_status"], 0);
    assert!(
        out.contains("guest\npass\n") && out.contains("checked-ok"),
        "{out}"
    );
    assert!(out.contains("HOME=") && out.contains("PATH="), "{out}");
    // Embargo runs as root here: the check runs as nobody.
    assert!(out.contains("uid=65534"), "{out}");
    assert!(
        !out.contains("DATABASE_URL") && !out.contains("CARGO"),
        "no inherited environment: {out}"
    );
    assert_eq!(status["state"], "success");

    // Failing: its exit status and output, stderr too.
    set_check(&app, &w, "echo to-stderr >&2; exit 3", 60, false).await;
    let (run, status) = checked(&app, &w, &id, &work, &bare, "fail").await;
    assert_eq!(run["state"], "failure");
    assert_eq!(run["exit_status"], 3);
    assert!(
        run["output"].as_str().unwrap().contains("to-stderr"),
        "{run}"
    );
    assert_eq!(status["state"], "failure");
    assert!(
        status["description"]
            .as_str()
            .unwrap()
            .contains("exit status 3"),
        "{status}"
    );

    // Timing out: stopped (with what it started) at the limit.
    set_check(
        &app,
        &w,
        "echo started; sleep 60 & sleep 60; echo never",
        1,
        false,
    )
    .await;
    let started = std::time::Instant::now();
    let (run, status) = checked(&app, &w, &id, &work, &bare, "slow").await;
    assert!(
        started.elapsed() < std::time::Duration::from_secs(30),
        "stopped at its limit"
    );
    let out = run["output"].as_str().unwrap();
    assert_eq!(run["state"], "failure", "{out}");
    assert!(
        out.contains("started") && !out.contains("never") && out.contains("time limit"),
        "{out}"
    );
    assert_eq!(status["state"], "failure");

    // Over its memory: the allocation fails.
    set_check(
        &app,
        &w,
        "python3 -c 'b = bytearray(1024 * 1024 * 1024); print(\"allocated\")'",
        60,
        false,
    )
    .await;
    let (run, _) = checked(&app, &w, &id, &work, &bare, "memory").await;
    let out = run["output"].as_str().unwrap();
    assert_eq!(run["state"], "failure", "{out}");
    assert!(
        out.contains("MemoryError") && !out.contains("allocated"),
        "{out}"
    );

    // The network: unreachable by default, reachable where the settings allow it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let dial = format!(
        "python3 -c 'import socket; socket.create_connection((\"127.0.0.1\", {port}), 3); print(\"reached\")'"
    );
    set_check(&app, &w, &dial, 60, false).await;
    let (run, _) = checked(&app, &w, &id, &work, &bare, "offline").await;
    let out = run["output"].as_str().unwrap();
    assert_eq!(run["state"], "failure", "{out}");
    assert!(!out.contains("reached") && out.contains("Error"), "{out}");
    set_check(&app, &w, &dial, 60, true).await;
    let (run, _) = checked(&app, &w, &id, &work, &bare, "online").await;
    let out = run["output"].as_str().unwrap();
    assert_eq!(run["state"], "success", "{out}");
    assert!(out.contains("reached"), "{out}");
    drop(listener);

    // Outside the audience: not found, and no output.
    let r = app
        .get(
            &format!("/api/v1/advisories/{id}/fix/checks"),
            Some(&w.outsider),
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    assert!(!r.text.contains("checked-ok"));
    // The checkouts were thrown away; the bare repository holds no work tree.
    assert!(!bare.join("README").exists());
}

/// A receiver checking signatures as `it/webhooks.rs` does.
fn verify(headers: &HeaderMap, body: &str) -> bool {
    let sig = headers
        .get("x-embargo-signature")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let Some((t, v1)) = sig
        .split_once(',')
        .and_then(|(t, v)| Some((t.strip_prefix("t=")?, v.strip_prefix("v1=")?)))
    else {
        return false;
    };
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    expected == v1
}

async fn fix_pushed_webhook_is_signed(mut app: TestApp) {
    let got: Arc<Mutex<Vec<(HeaderMap, String)>>> = Arc::default();
    let g = got.clone();
    let receiver = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let g = g.clone();
            async move {
                g.lock().unwrap().push((headers, body));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, receiver).await.unwrap() });
    app.configure(|c| c.network.allow = vec![format!("127.0.0.1:{port}")]);
    let w = World::new(&app).await;
    let r = app
        .post(
            "/api/v1/orgs/coco/webhooks",
            Some(&w.sm),
            json!({"url": format!("http://127.0.0.1:{port}/hook"), "events": ["fix.pushed"], "secret": SECRET}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = w.advisory_in(&app, "draft").await;
    app.run_jobs().await;
    got.lock().unwrap().clear();
    let dir = tempfile::tempdir().unwrap();
    let work = work_tree(dir.path());
    commit_on(&work, "fix", "fix.rs");
    let bare = fix_repo(&app, &id, &work);
    std::fs::write(work.join("more.rs"), "more\n").unwrap();
    git(&work, &["add", "more.rs"]);
    git(&work, &["commit", "-q", "-m", "more"]);
    let sha = push(&app, &id, &work, &bare, "fix").await;
    // The delivery sweep runs every two seconds.
    app.clock.advance(time::Duration::seconds(5));
    app.run_jobs().await;
    let got = std::mem::take(&mut *got.lock().unwrap());
    assert_eq!(got.len(), 1, "one delivery for one ref");
    let (headers, body) = &got[0];
    assert!(verify(headers, body), "signed with the hook's secret");
    assert!(
        !verify(headers, &body.replace("fix", "fox")),
        "a changed body does not verify"
    );
    assert_eq!(headers["x-embargo-event"], "fix.pushed");
    let v: Value = serde_json::from_str(body).unwrap();
    assert_eq!(v["event"], "fix.pushed");
    assert_eq!(v["advisory"]["id"], id.as_str());
    assert_eq!(v["fix"]["ref"], "refs/heads/fix");
    assert_eq!(v["fix"]["after"], sha.as_str());
    assert_eq!(v["fix"]["before"], ZERO);
    assert_eq!(
        v["fix"]["clone_url"],
        format!("{}/git/{id}.git", crate::support::BASE_URL)
    );
    // Ids, refs and links only: never the report's title or text.
    assert!(
        !body.contains("A report to be") && !body.contains("steps to reproduce"),
        "{body}"
    );
}

async fn publication_pushes_the_fix_upstream(mut app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let work = work_tree(dir.path());
    let upstream = dir.path().join("upstream.git");
    git(
        &work,
        &["clone", "-q", "--bare", ".", upstream.to_str().unwrap()],
    );
    let allowed = dir.path().to_str().unwrap().to_owned();
    app.configure(|c| c.network.allow = vec![allowed]);
    let w = World::new(&app).await;
    let id = w.advisory_in(&app, "draft").await;
    let bare = fix_repo(&app, &id, &work);
    let sha = commit_on(&work, "fix-cve", "fix.rs");
    push(&app, &id, &work, &bare, "fix-cve").await;
    let publish = format!("/api/v1/advisories/{id}/publish");

    // Asked for while the settings do not push: refused, and nothing is published.
    let r = app
        .post(&publish, Some(&w.sm), json!({"push_fix": true}))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.json["error"]["field"], "push_fix");
    assert_eq!(
        app.get(&format!("/api/v1/advisories/{id}"), Some(&w.sm))
            .await
            .json["state"],
        "draft"
    );

    // An address outside the network rule is refused when set.
    let r = put_settings(
        &app,
        &w.sm,
        json!({"push_on_publication": true, "push_url": "https://10.1.2.3/guest.git"}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.json["error"]["field"], "push_url");
    // Credentials are sealed, never shown, and never follow the address elsewhere.
    let url = url::Url::from_file_path(&upstream).unwrap().to_string();
    let r = put_settings(
        &app,
        &w.sm,
        json!({"push_on_publication": true, "push_url": url,
               "push_credentials": {"username": "bot", "password": "s3cret-push-token"}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["push_credentials_set"], true);
    assert!(!r.text.contains("s3cret-push-token"));
    let r = app.get(SETTINGS, Some(&w.sm)).await;
    assert!(
        !r.text.contains("s3cret-push-token") && r.json["push_credentials_set"] == true,
        "{}",
        r.text
    );
    let elsewhere = url::Url::from_file_path(dir.path().join("other.git"))
        .unwrap()
        .to_string();
    let r = put_settings(
        &app,
        &w.sm,
        json!({"push_on_publication": true, "push_url": elsewhere}),
    )
    .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert_eq!(r.json["error"]["field"], "push_credentials");

    // Published with push_fix: a warning (no check reported), then the job pushes the branch.
    let r = app
        .post(&publish, Some(&w.sm), json!({"push_fix": true}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["state"], "published");
    assert_eq!(
        r.json["fix_checks"]["upstream_push"]["state"], "pending",
        "{}",
        r.text
    );
    let warnings = r.json["fix_checks"]["warnings"].to_string();
    assert!(
        warnings.contains("fix-cve") && warnings.contains("no check has reported"),
        "{warnings}"
    );
    assert!(!git_out(dir.path(), &["ls-remote", upstream.to_str().unwrap()]).contains("fix-cve"));
    app.run_jobs().await;
    let remote = git_out(dir.path(), &["ls-remote", upstream.to_str().unwrap()]);
    assert!(
        remote.contains(&format!("{sha}\trefs/heads/fix-cve")),
        "{remote}"
    );
    let r = app
        .get(
            &format!("/api/v1/advisories/{id}/fix/checks"),
            Some(&w.maintainer),
        )
        .await;
    let pushed = &r.json["upstream_pushes"][0];
    assert_eq!(pushed["state"], "ok", "{}", r.text);
    assert_eq!(pushed["refs"], json!(["refs/heads/fix-cve"]));
    assert!(!r.text.contains("s3cret"));
    // The page's section shows the result.
    let html = embargo_server::fix_checks::section_html(
        &state(&app),
        app.store
            .user_for_api_token(&w.maintainer)
            .await
            .unwrap()
            .unwrap()
            .actor(),
        &embargo_domain::ids::AdvisoryId::parse(&id).unwrap(),
    )
    .await
    .unwrap();
    assert!(html.contains("pushed fix-cve to the upstream"), "{html}");
}

async fn failed_upstream_push_is_recorded_without_credentials(mut app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let work = work_tree(dir.path());
    // The upstream has moved on: the fix branch exists there with other commits.
    let upstream = dir.path().join("upstream.git");
    git(
        &work,
        &["clone", "-q", "--bare", ".", upstream.to_str().unwrap()],
    );
    let w2 = dir.path().join("other");
    git(
        dir.path(),
        &[
            "clone",
            "-q",
            upstream.to_str().unwrap(),
            w2.to_str().unwrap(),
        ],
    );
    commit_on(&w2, "fix-cve", "theirs.rs");
    git(&w2, &["push", "-q", "origin", "fix-cve"]);
    let allowed = dir.path().to_str().unwrap().to_owned();
    app.configure(|c| c.network.allow = vec![allowed]);
    let w = World::new(&app).await;
    let id = w.advisory_in(&app, "draft").await;
    let bare = fix_repo(&app, &id, &work);
    commit_on(&work, "fix-cve", "fix.rs");
    push(&app, &id, &work, &bare, "fix-cve").await;
    let url = url::Url::from_file_path(&upstream).unwrap().to_string();
    let r = put_settings(
        &app,
        &w.sm,
        json!({"push_on_publication": true, "push_url": url,
               "push_credentials": {"username": "bot", "password": "s3cret-push-token"}}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .post(
            &format!("/api/v1/advisories/{id}/publish"),
            Some(&w.sm),
            json!({"push_fix": true}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    app.run_jobs().await;
    let r = app
        .get(&format!("/api/v1/advisories/{id}/fix/checks"), Some(&w.sm))
        .await;
    let pushed = &r.json["upstream_pushes"][0];
    assert_eq!(pushed["state"], "error", "{}", r.text);
    let detail = pushed["detail"].as_str().unwrap();
    assert!(
        detail.contains("fix-cve") && detail.contains("rejected"),
        "{detail}"
    );
    assert!(
        !r.text.contains("s3cret") && !r.text.contains("bot"),
        "{}",
        r.text
    );
}

async fn retention_removes_the_fix_repository(app: TestApp) {
    let w = World::new(&app).await;
    let published = w.advisory_in(&app, "published").await;
    let open = w.advisory_in(&app, "draft").await;
    let dir = tempfile::tempdir().unwrap();
    let work = work_tree(dir.path());
    let gone = fix_repo(&app, &published, &work);
    let kept = fix_repo(&app, &open, &work);
    let r = put_settings(&app, &w.sm, json!({"retention_days": 10})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    app.run_jobs().await;
    assert!(
        gone.is_dir() && kept.is_dir(),
        "kept within the retention period"
    );
    app.clock.advance(time::Duration::days(11));
    app.run_jobs().await;
    assert!(!gone.exists(), "removed after the retention period");
    assert!(kept.is_dir(), "an open advisory's fix repository stays");
    let r = app
        .get(
            &format!("/api/v1/advisories/{published}/fix/checks"),
            Some(&w.sm),
        )
        .await;
    assert!(r.json["removed_at"].is_string(), "{}", r.text);
    let r = app
        .get(
            &format!("/api/v1/advisories/{open}/fix/checks"),
            Some(&w.sm),
        )
        .await;
    assert!(r.json["removed_at"].is_null(), "{}", r.text);
}

/// The advisory page: the section with statuses and escaped check output for the
/// audience, the publish form's warning and checkbox, and publishing with the push.
async fn page_shows_checks_and_publishes_with_the_push(mut app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let work = work_tree(dir.path());
    let upstream = dir.path().join("upstream.git");
    git(
        &work,
        &["clone", "-q", "--bare", ".", upstream.to_str().unwrap()],
    );
    let allowed = dir.path().to_str().unwrap().to_owned();
    app.configure(|c| c.network.allow = vec![allowed]);
    let w = World::new(&app).await;
    let id = w.advisory_in(&app, "draft").await;
    let page = format!("/advisories/{id}");
    let r = app.page(&page, Some(&w.sm)).await;
    assert!(
        !r.text.contains("Checks on the fix"),
        "nothing without a fix repository"
    );
    let bare = fix_repo(&app, &id, &work);
    let url = url::Url::from_file_path(&upstream).unwrap().to_string();
    let r = put_settings(
        &app,
        &w.sm,
        json!({"check_command": "echo '<b>bold</b>'; exit 1", "push_on_publication": true, "push_url": url}),
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let sha = commit_on(&work, "fix-cve", "fix.rs");
    push(&app, &id, &work, &bare, "fix-cve").await;
    app.run_jobs().await;

    let r = app.page(&page, Some(&w.reporter)).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(
        r.text.contains("Checks on the fix") && r.text.contains(&sha),
        "{}",
        r.text
    );
    assert!(
        r.text.contains("&#60;b&#62;bold&#60;/b&#62;") && !r.text.contains("<b>bold</b>"),
        "output escaped: {}",
        &r.text[r.text.find("Checks on the fix").unwrap_or(0)..]
    );
    assert!(
        !r.text.contains("name=\"push_fix\""),
        "the reporter may not publish"
    );
    let r = app.page(&page, Some(&w.sm)).await;
    assert!(
        r.text.contains("embargo/check is failure"),
        "the publish form warns: {}",
        r.text
    );
    assert!(r.text.contains("name=\"push_fix\""), "and offers the push");

    // The form, posted with the session whose page it came from.
    let cookie = app.session_cookie(&w.sm).await;
    let r = app
        .request(
            axum::http::Request::builder()
                .uri(&page)
                .header(axum::http::header::COOKIE, &cookie)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    let csrf = crate::web::csrf_in(&r.text);
    let r = app
        .request(crate::web::form(
            &format!("{page}/state"),
            Some(&cookie),
            &[("csrf", &csrf), ("action", "publish"), ("push_fix", "on")],
        ))
        .await;
    assert!(r.status.is_redirection(), "{} {}", r.status, r.text);
    app.run_jobs().await;
    let remote = git_out(dir.path(), &["ls-remote", upstream.to_str().unwrap()]);
    assert!(
        remote.contains(&format!("{sha}\trefs/heads/fix-cve")),
        "{remote}"
    );
    let r = app.page(&page, Some(&w.maintainer)).await;
    assert!(
        r.text.contains("pushed fix-cve to the upstream"),
        "{}",
        r.text
    );
}

on_both_backends!(
    page_shows_checks_and_publishes_with_the_push,
    statuses_from_a_receiver,
    check_command_output,
    fix_pushed_webhook_is_signed,
    publication_pushes_the_fix_upstream,
    failed_upstream_push_is_recorded_without_credentials,
    retention_removes_the_fix_repository,
);
