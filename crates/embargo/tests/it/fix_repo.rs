//! Private fix repositories, with the real `git` client against a real listener: seeded from
//! a local upstream (allowed by the network rule), cloned, pushed and fetched as each role;
//! refusals say why on the client; whoever may not see it gets "not found"; every fetch and
//! push is in the access log.

use std::path::{Path, PathBuf};

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::codeowners::{commit_codeowners, git};
use crate::support::{TestApp, World, on_both_backends};

/// A git client run: whether it succeeded, and what it printed.
struct Run {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// The real `git` client, with no user or system settings and no way to prompt.
async fn client(dir: &Path, home: &Path, args: &[&str]) -> Run {
    let out = tokio::process::Command::new("git")
        .args([
            "-c",
            "user.name=Dev",
            "-c",
            "user.email=dev@example.org",
            "-c",
            "init.defaultBranch=main",
            "-c",
            "commit.gpgsign=false",
            "-c",
            "credential.helper=",
            "-c",
            "protocol.version=2",
        ])
        .args(args)
        .current_dir(dir)
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_ASKPASS")
        .env_remove("SSH_ASKPASS")
        .output()
        .await
        .expect("git runs");
    Run {
        ok: out.status.success(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Everything one test needs: the app served on a real port, an upstream, a draft advisory
/// shared with the collaborators, a collaborator with write access, and a scratch folder.
struct Fix {
    app: TestApp,
    w: World,
    id: String,
    base: String,
    writer: String,
    upstream: tempfile::TempDir,
    scratch: tempfile::TempDir,
}

impl Fix {
    async fn new(app: TestApp) -> Self {
        Self::with(app, 100 * 1024 * 1024).await
    }

    /// With pushes limited to `max_push` bytes.
    async fn with(mut app: TestApp, max_push: u64) -> Self {
        let w = World::new(&app).await;
        let upstream = tempfile::tempdir().unwrap();
        let up = upstream.path();
        git(up, &["init", "-q"]);
        commit_codeowners(up, "src/lib.rs", "pub fn parse() {}\n");
        git(up, &["tag", "v1.0"]);
        commit_codeowners(up, "README", "guest\n");
        git(up, &["tag", "-a", "-m", "1.1", "v1.1"]);
        git(up, &["branch", "release-1"]);
        let allowed = up.to_str().unwrap().to_owned();
        app.configure(|c| {
            c.network.allow = vec![allowed.clone()];
            c.fix_repository.max_push_bytes = max_push;
        });
        let r = app
            .call(
                Method::PATCH,
                "/api/v1/orgs/coco/repos/guest",
                Some(&w.sm),
                Some(json!({ "upstream": allowed })),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let id = w.advisory_in(&app, "draft").await;
        // A collaborator invited with write access, by the maintainer.
        let writer = app.user("writer@example.org", false).await;
        let r = app
            .post(
                &format!("/api/v1/advisories/{id}/collaborators"),
                Some(&w.maintainer),
                json!({"email": "writer@example.org", "write": true}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        assert_eq!(r.json["write"], true);
        let cid = r.json["id"].as_i64().unwrap();
        let r = app
            .post(
                &format!("/api/v1/invitations/{cid}/accept"),
                Some(&writer),
                json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let router = app.router.clone();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        let scratch = tempfile::tempdir().unwrap();
        std::fs::create_dir(scratch.path().join("home")).unwrap();
        Self {
            app,
            w,
            id,
            base,
            writer,
            upstream,
            scratch,
        }
    }

    fn url(&self, token: &str) -> String {
        self.url_of(&self.id, token)
    }

    fn url_of(&self, id: &str, token: &str) -> String {
        let host = self.base.trim_start_matches("http://");
        format!("http://x:{token}@{host}/git/{id}.git")
    }

    fn home(&self) -> PathBuf {
        self.scratch.path().join("home")
    }

    async fn git(&self, dir: &Path, args: &[&str]) -> Run {
        client(dir, &self.home(), args).await
    }

    /// Clones as `token` into a new folder `name`.
    async fn clone(&self, token: &str, name: &str) -> (Run, PathBuf) {
        let dir = self.scratch.path().join(name);
        let run = self
            .git(
                self.scratch.path(),
                &["clone", "-q", &self.url(token), dir.to_str().unwrap()],
            )
            .await;
        (run, dir)
    }

    async fn create(&self) -> Value {
        let r = self
            .app
            .post(
                &format!("/api/v1/advisories/{}/fix-repository", self.id),
                Some(&self.w.sm),
                json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.json
    }

    /// Commits a file in a clone.
    async fn commit(&self, dir: &Path, file: &str, text: &str, message: &str) {
        std::fs::write(dir.join(file), text).unwrap();
        let r = self.git(dir, &["add", "-A"]).await;
        assert!(r.ok, "{}", r.stderr);
        let r = self.git(dir, &["commit", "-q", "-m", message]).await;
        assert!(r.ok, "{}", r.stderr);
    }

    async fn audit_actions(&self) -> Vec<String> {
        let r = self
            .app
            .get(
                &format!("/api/v1/advisories/{}/audit", self.id),
                Some(&self.w.sm),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        let entries = r
            .json
            .as_array()
            .cloned()
            .unwrap_or_else(|| r.json["entries"].as_array().cloned().unwrap_or_default());
        entries
            .iter()
            .map(|e| e["action"].as_str().unwrap_or_default().to_owned())
            .collect()
    }
}

fn sorted_lines(s: &str) -> Vec<String> {
    let mut v: Vec<String> = s.lines().map(str::to_owned).collect();
    v.sort();
    v
}

async fn roles_clone_push_and_fetch(app: TestApp) {
    let f = Fix::new(app).await;
    // Only maintainers and security managers create it.
    for token in [&f.w.reporter, &f.w.collaborator, &f.writer] {
        let r = f
            .app
            .post(
                &format!("/api/v1/advisories/{}/fix-repository", f.id),
                Some(token),
                json!({}),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    }
    // The page offers the button to who may create it, and to nobody else.
    let page = f
        .app
        .page(&format!("/advisories/{}", f.id), Some(&f.w.maintainer))
        .await;
    assert!(page.text.contains("Create fix repository"), "{}", page.text);
    let page = f
        .app
        .page(&format!("/advisories/{}", f.id), Some(&f.w.reporter))
        .await;
    assert!(!page.text.contains("Create fix repository"));
    assert!(!page.text.contains("id=\"fix\""));
    let created = f.create().await;
    assert_eq!(
        created["clone_url"],
        format!("http://embargo.test/git/{}.git", f.id)
    );
    let names: Vec<&str> = created["branches"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["main", "release-1"]);
    assert!(
        created["branches"]
            .as_array()
            .unwrap()
            .iter()
            .all(|b| b["ahead_of_upstream"] == 0)
    );
    // Again: refused, it exists.
    let r = f
        .app
        .post(
            &format!("/api/v1/advisories/{}/fix-repository", f.id),
            Some(&f.w.maintainer),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);

    // Seeded refs are the upstream's, every branch and tag (peeled tags too).
    let ours = f
        .git(f.scratch.path(), &["ls-remote", &f.url(&f.w.sm)])
        .await;
    assert!(ours.ok, "{}", ours.stderr);
    let theirs = f
        .git(
            f.scratch.path(),
            &["ls-remote", f.upstream.path().to_str().unwrap()],
        )
        .await;
    assert!(theirs.ok, "{}", theirs.stderr);
    assert_eq!(sorted_lines(&ours.stdout), sorted_lines(&theirs.stdout));
    assert!(ours.stdout.contains("refs/tags/v1.1^{}"));
    assert!(!ours.stdout.contains("refs/embargo"));

    // The whole audience clones.
    for (token, name) in [
        (&f.w.sm, "sm"),
        (&f.w.maintainer, "maintainer"),
        (&f.w.reporter, "reporter"),
        (&f.w.collaborator, "collaborator"),
        (&f.writer, "writer"),
    ] {
        let (run, dir) = f.clone(token, name).await;
        assert!(run.ok, "{name}: {}", run.stderr);
        assert!(dir.join("src/lib.rs").exists(), "{name}");
    }
    // Outside the audience: exactly "not found", as for an advisory that does not exist.
    for (token, name) in [
        (&f.w.outsider, "outsider"),
        (&f.w.other_org_sm, "other-sm"),
        (&f.w.revoked_collaborator, "revoked"),
        (&f.w.expired_collaborator, "expired"),
        (&f.w.other_maintainer, "other-maintainer"),
        (&"emb_not-a-token".to_owned(), "bad-token"),
    ] {
        let (run, _) = f.clone(token, name).await;
        assert!(!run.ok, "{name} cloned");
        assert!(run.stderr.contains("not found"), "{name}: {}", run.stderr);
    }
    let missing = f
        .git(
            f.scratch.path(),
            &["ls-remote", &f.url_of("EMB-2345-6789-cfgh", &f.w.sm)],
        )
        .await;
    assert!(
        !missing.ok && missing.stderr.contains("not found"),
        "{}",
        missing.stderr
    );
    // Anonymous: git is asked for credentials (and cannot prompt here).
    let host = f.base.trim_start_matches("http://");
    let anon = f
        .git(
            f.scratch.path(),
            &["ls-remote", &format!("http://{host}/git/{}.git", f.id)],
        )
        .await;
    assert!(!anon.ok);
    assert!(
        anon.stderr.contains("could not read Username"),
        "{}",
        anon.stderr
    );

    // The maintainer pushes a fix branch; the collaborator with write access adds to it.
    let m = f.scratch.path().join("maintainer");
    assert!(f.git(&m, &["checkout", "-q", "-b", "fix-parse"]).await.ok);
    f.commit(
        &m,
        "src/lib.rs",
        "pub fn parse() { /* <script>alert(1)</script> bounds checked */ }\n",
        "Check bounds in parse",
    )
    .await;
    let push = f.git(&m, &["push", "-q", "origin", "fix-parse"]).await;
    assert!(push.ok, "{}", push.stderr);
    let wdir = f.scratch.path().join("writer");
    let r = f.git(&wdir, &["fetch", "-q", "origin"]).await;
    assert!(r.ok, "{}", r.stderr);
    assert!(
        f.git(
            &wdir,
            &["checkout", "-q", "-b", "fix-parse", "origin/fix-parse"]
        )
        .await
        .ok
    );
    f.commit(&wdir, "NEWS", "fixed parse\n", "News entry").await;
    let push = f.git(&wdir, &["push", "-q", "origin", "fix-parse"]).await;
    assert!(push.ok, "{}", push.stderr);
    // Read-only members of the audience are told why they cannot push.
    for (token, name) in [
        (&f.w.collaborator, "collaborator"),
        (&f.w.reporter, "reporter"),
    ] {
        let dir = f.scratch.path().join(name);
        f.commit(&dir, "mine", name, "mine").await;
        let push = f
            .git(&dir, &["push", &f.url(token), "HEAD:refs/heads/mine"])
            .await;
        assert!(!push.ok, "{name} pushed");
        assert!(
            push.stderr
                .contains("may fetch from this fix repository but not push"),
            "{name}: {}",
            push.stderr
        );
    }
    // What was pushed is there for the others.
    let r = f
        .git(
            &f.scratch.path().join("collaborator"),
            &["fetch", "-q", "origin"],
        )
        .await;
    assert!(r.ok, "{}", r.stderr);
    let log = f
        .git(
            &f.scratch.path().join("collaborator"),
            &["log", "--format=%s", "origin/fix-parse"],
        )
        .await;
    assert!(
        log.stdout
            .starts_with("News entry\nCheck bounds in parse\n"),
        "{}",
        log.stdout
    );

    // The API: the branch is two commits ahead of the upstream.
    let r = f
        .app
        .get(
            &format!("/api/v1/advisories/{}/fix-repository", f.id),
            Some(&f.w.reporter),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let branch = r.json["branches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "fix-parse")
        .cloned()
        .unwrap();
    assert_eq!(branch["ahead_of_upstream"], 2);
    let head = branch["head"].as_str().unwrap().to_owned();
    assert_eq!(head.len(), 40);
    assert_eq!(branch["statuses"], json!([]));
    // A status from the organisation's CI shows with its commit, in the API and on the page.
    let r = f
        .app
        .post(
            &format!("/api/v1/advisories/{}/fix/statuses", f.id),
            Some(&f.w.maintainer),
            json!({"sha": head, "context": "ci/build", "state": "success", "description": "all green"}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    let r = f
        .app
        .get(
            &format!("/api/v1/advisories/{}/fix-repository", f.id),
            Some(&f.w.collaborator),
        )
        .await;
    let statuses = r.json["branches"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["name"] == "fix-parse")
        .unwrap()["statuses"]
        .clone();
    assert_eq!(statuses[0]["context"], "ci/build", "{statuses}");
    assert_eq!(statuses[0]["state"], "success");
    for token in [&f.w.outsider, &f.w.revoked_collaborator] {
        let r = f
            .app
            .get(
                &format!("/api/v1/advisories/{}/fix-repository", f.id),
                Some(token),
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{}", r.text);
    }

    // The page: the branch, its commits and their diffs as escaped text.
    let page = f
        .app
        .page(&format!("/advisories/{}", f.id), Some(&f.w.reporter))
        .await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("fix-parse"), "{}", page.text);
    assert!(page.text.contains("Check bounds in parse"));
    assert!(page.text.contains("ci/build: success"), "{}", page.text);
    assert!(
        page.text
            .contains("&#60;script&#62;alert(1)&#60;/script&#62;")
            || page.text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{}",
        page.text
    );
    assert!(!page.text.contains("<script>alert(1)"));
    assert!(!page.text.contains("Create fix repository"));

    // The access log has the creation, fetches and pushes.
    let actions = f.audit_actions().await;
    for a in [
        "fix_create",
        "fix_read_refs",
        "fix_fetch",
        "fix_push",
        "fix_write_granted",
    ] {
        assert!(
            actions.iter().any(|x| x == a),
            "{a} missing from {actions:?}"
        );
    }
    assert!(actions.iter().filter(|a| *a == "fix_push").count() >= 2);
}

async fn refusals_say_why(app: TestApp) {
    let f = Fix::with(app, 200 * 1024).await;
    f.create().await;
    let (run, m) = f.clone(&f.w.maintainer, "maintainer").await;
    assert!(run.ok, "{}", run.stderr);

    // A tag the upstream has stays as it is; a new tag is fine.
    f.commit(&m, "fix.txt", "fixed\n", "Fix").await;
    let push = f
        .git(&m, &["push", "--force", "origin", "HEAD:refs/tags/v1.0"])
        .await;
    assert!(!push.ok);
    assert!(
        push.stderr
            .contains("remote: Embargo refused refs/tags/v1.0: the upstream has this tag"),
        "{}",
        push.stderr
    );
    let push = f
        .git(&m, &["push", "-q", "origin", "HEAD:refs/tags/v1.0.1-rc"])
        .await;
    assert!(push.ok, "{}", push.stderr);

    // A force-push over a branch another user fetched is refused, except for a security
    // manager; over a branch only the pusher fetched, it goes through.
    let push = f
        .git(&m, &["push", "-q", "origin", "HEAD:refs/heads/fix-1"])
        .await;
    assert!(push.ok, "{}", push.stderr);
    let (run, _) = f.clone(&f.w.collaborator, "collaborator").await;
    assert!(run.ok, "{}", run.stderr);
    assert!(
        f.git(&m, &["commit", "-q", "--amend", "-m", "Fix, reworded"])
            .await
            .ok
    );
    let push = f
        .git(&m, &["push", "--force", "origin", "HEAD:refs/heads/fix-1"])
        .await;
    assert!(!push.ok, "force-push went through");
    assert!(
        push.stderr.contains("another user has fetched"),
        "{}",
        push.stderr
    );
    let push = f
        .git(
            &m,
            &["push", "--force", &f.url(&f.w.sm), "HEAD:refs/heads/fix-1"],
        )
        .await;
    assert!(push.ok, "{}", push.stderr);
    let push = f
        .git(&m, &["push", "-q", "origin", "HEAD:refs/heads/fix-2"])
        .await;
    assert!(push.ok, "{}", push.stderr);
    assert!(f.git(&m, &["fetch", "-q", "origin"]).await.ok);
    assert!(
        f.git(&m, &["commit", "-q", "--amend", "-m", "Fix, again"])
            .await
            .ok
    );
    let push = f
        .git(
            &m,
            &["push", "-q", "--force", "origin", "HEAD:refs/heads/fix-2"],
        )
        .await;
    assert!(push.ok, "{}", push.stderr);
    // Only branches and tags.
    let push = f.git(&m, &["push", "origin", "HEAD:refs/notes/x"]).await;
    assert!(!push.ok);
    assert!(push.stderr.contains("only branches"), "{}", push.stderr);

    // Too large: an incompressible file over the limit.
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let noise: Vec<u8> = (0..400_000)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect();
    std::fs::write(m.join("big.bin"), noise).unwrap();
    assert!(f.git(&m, &["add", "big.bin"]).await.ok);
    assert!(f.git(&m, &["commit", "-q", "-m", "big"]).await.ok);
    let push = f.git(&m, &["push", "origin", "HEAD:refs/heads/big"]).await;
    assert!(!push.ok, "a push over the limit went through");
    assert!(
        push.stderr.contains("maximum allowed size"),
        "{}",
        push.stderr
    );
    let heads = f.git(&m, &["ls-remote", "origin", "refs/heads/big"]).await;
    assert!(heads.stdout.trim().is_empty(), "{}", heads.stdout);

    // Refused pushes are in the access log too, with why.
    let r = f
        .app
        .get(&format!("/api/v1/advisories/{}/audit", f.id), Some(&f.w.sm))
        .await;
    assert!(r.text.contains("another user has fetched"), "{}", r.text);
}

async fn revoked_and_published(app: TestApp) {
    let f = Fix::new(app).await;
    f.create().await;
    let (run, wdir) = f.clone(&f.writer, "writer").await;
    assert!(run.ok, "{}", run.stderr);
    // Revoked: the next fetch and push find nothing.
    let r = f
        .app
        .get(
            &format!("/api/v1/advisories/{}/collaborators", f.id),
            Some(&f.w.sm),
        )
        .await;
    let cid = r
        .json
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["email"] == "writer@example.org")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    let r = f
        .app
        .call(
            Method::DELETE,
            &format!("/api/v1/advisories/{}/collaborators/{cid}", f.id),
            Some(&f.w.sm),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    let fetch = f.git(&wdir, &["fetch", "origin"]).await;
    assert!(
        !fetch.ok && fetch.stderr.contains("not found"),
        "{}",
        fetch.stderr
    );
    f.commit(&wdir, "x", "x", "x").await;
    let push = f.git(&wdir, &["push", "origin", "HEAD:refs/heads/x"]).await;
    assert!(
        !push.ok && push.stderr.contains("not found"),
        "{}",
        push.stderr
    );

    // Published: read-only, still fetched by the audience.
    let (run, m) = f.clone(&f.w.maintainer, "maintainer").await;
    assert!(run.ok, "{}", run.stderr);
    let r = f
        .app
        .post(
            &format!("/api/v1/advisories/{}/publish", f.id),
            Some(&f.w.sm),
            json!({}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    f.commit(&m, "late", "late", "late").await;
    for token in [&f.w.maintainer, &f.w.sm] {
        let push = f
            .git(&m, &["push", &f.url(token), "HEAD:refs/heads/late"])
            .await;
        assert!(!push.ok, "pushed after publication");
        assert!(push.stderr.contains("read-only"), "{}", push.stderr);
    }
    let fetch = f.git(&m, &["fetch", "origin"]).await;
    assert!(fetch.ok, "{}", fetch.stderr);
    // Anyone else still gets nothing, published or not.
    let (run, _) = f.clone(&f.w.outsider, "outsider").await;
    assert!(
        !run.ok && run.stderr.contains("not found"),
        "{}",
        run.stderr
    );
}

/// Without credentials, an existing repository and a missing one answer alike (401 asking
/// for them); with credentials that may not see it, alike again (404).
async fn unknown_and_hidden_answer_alike(app: TestApp) {
    let f = Fix::new(app).await;
    f.create().await;
    let client = reqwest::Client::new();
    let get = |path: String, auth: Option<String>| {
        let client = client.clone();
        let base = f.base.clone();
        async move {
            let mut b = client.get(format!("{base}{path}"));
            if let Some(a) = auth {
                b = b.basic_auth("x", Some(a));
            }
            let r = b.send().await.unwrap();
            let status = r.status();
            let auth = r
                .headers()
                .get("www-authenticate")
                .map(|v| v.to_str().unwrap().to_owned());
            (status, auth, r.text().await.unwrap())
        }
    };
    let refs = |id: &str| format!("/git/{id}.git/info/refs?service=git-upload-pack");
    let existing = get(refs(&f.id), None).await;
    let missing = get(refs("EMB-2345-6789-cfgh"), None).await;
    let malformed = get(
        "/git/nothing/info/refs?service=git-upload-pack".into(),
        None,
    )
    .await;
    assert_eq!(existing.0, 401);
    assert_eq!(existing.1.as_deref(), Some("Basic realm=\"Embargo\""));
    assert_eq!(existing, missing);
    assert_eq!(existing, malformed);
    let hidden = get(refs(&f.id), Some(f.w.outsider.clone())).await;
    let missing = get(refs("EMB-2345-6789-cfgh"), Some(f.w.sm.clone())).await;
    let wrong = get(refs(&f.id), Some("emb_wrong".into())).await;
    assert_eq!(hidden.0, 404);
    assert_eq!(hidden, missing);
    assert_eq!(hidden, wrong);
    // An advisory in the audience's reach without a fix repository: the same.
    let other = f.w.advisory_in(&f.app, "triage").await;
    let none = get(refs(&other), Some(f.w.sm.clone())).await;
    assert_eq!(hidden, none);
}

on_both_backends!(
    roles_clone_push_and_fetch,
    refusals_say_why,
    revoked_and_published,
    unknown_and_hidden_answer_alike,
);
