//! Backup and restore with the real binary: a populated installation (advisories in several
//! states, comments, attachments, a fix repository, the access log) is backed up while its
//! server runs and takes comments, restored into an empty data folder (and, on PostgreSQL, a
//! fresh database), and compared row by row and answer by answer. Without the key the
//! restore works and the server says where the key must go; with `--with-key` everything
//! opens at once. A folder that has a database is refused untouched.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use reqwest::Method;
use serde_json::{Value, json};
use sha2::Digest;
use sqlx::Connection;

use crate::codeowners::{commit_codeowners, git};
use embargo_store::secrets::hex;

use crate::support::{
    Server, api_steps, coco_over_http, embargo_bin, postgres_database_for_binary,
};

/// Runs `embargo ARGS --data DATA` with `env`, apart from any server.
fn embargo(args: &[&str], data: &Path, env: &[(String, String)]) -> Output {
    let mut cmd = std::process::Command::new(embargo_bin());
    cmd.args(args)
        .arg("--data")
        .arg(data)
        .env_remove("EMBARGO_DATABASE_URL")
        .env("EMBARGO_LOG", "warn");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "status {:?}\nstdout: {}\nstderr: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn env_refs(env: &[(String, String)]) -> Vec<(&str, &str)> {
    env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
}

struct Client {
    http: reqwest::Client,
    base: String,
}

impl Client {
    async fn call(&self, method: Method, path: &str, token: &str, body: Option<Value>) -> Value {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.unwrap();
        let status = r.status();
        let body = r.text().await.unwrap();
        assert!(status.is_success(), "{path}: {status} {body}");
        serde_json::from_str(&body).unwrap_or(Value::Null)
    }

    async fn get(&self, path: &str, token: &str) -> Value {
        self.call(Method::GET, path, token, None).await
    }

    async fn bytes(&self, path: &str, token: &str) -> Vec<u8> {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}: {}", r.status());
        r.bytes().await.unwrap().to_vec()
    }

    async fn upload(&self, id: &str, token: &str, name: &str, bytes: Vec<u8>) {
        let r = self
            .http
            .post(format!(
                "{}/api/v1/advisories/{id}/attachments?filename={name}",
                self.base
            ))
            .bearer_auth(token)
            .body(bytes)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    }
}

/// The installation under test: its server, tokens and advisories.
struct Installation {
    server: Server,
    env: Vec<(String, String)>,
    sm: String,
    /// Advisories by the state they were left in.
    advisories: Vec<(&'static str, String)>,
    /// The advisory comments keep arriving on while the backup runs.
    busy: String,
    /// The advisory with a fix repository.
    fixed: String,
    _upstream: tempfile::TempDir,
}

impl Installation {
    async fn new(database_url: Option<String>) -> Self {
        let upstream = tempfile::tempdir().unwrap();
        let up = upstream.path();
        git(up, &["init", "-q"]);
        commit_codeowners(up, "src/lib.rs", "pub fn parse() {}\n");
        git(up, &["tag", "v1.0"]);
        commit_codeowners(up, "README", "guest\n");
        let allowed = up.to_str().unwrap().to_owned();
        let mut env = vec![("EMBARGO_NETWORK_ALLOW".to_owned(), allowed.clone())];
        if let Some(url) = database_url {
            env.push(("EMBARGO_DATABASE_URL".to_owned(), url));
        }
        let server = Server::start(&env_refs(&env));
        let admin = server.user("admin@example.org", true, &env_refs(&env));
        let sm = server.user("sm@example.org", false, &env_refs(&env));
        let reporter = server.user("reporter@example.org", false, &env_refs(&env));
        coco_over_http(&server.base, &admin, "sm@example.org").await;
        let c = Client {
            http: reqwest::Client::new(),
            base: server.base.clone(),
        };
        c.call(
            Method::PATCH,
            "/api/v1/orgs/coco/repos/guest",
            &sm,
            Some(json!({ "upstream": allowed })),
        )
        .await;
        let mut advisories = Vec::new();
        for state in ["triage", "draft", "published", "closed", "busy"] {
            let r = c
                .call(
                    Method::POST,
                    "/api/v1/orgs/coco/repos/guest/advisories",
                    &reporter,
                    Some(json!({"title": format!("A report left {state}"), "description": format!("Steps for {state}: run it")})),
                )
                .await;
            let id = r["id"].as_str().unwrap().to_owned();
            c.call(
                Method::POST,
                &format!("/api/v1/advisories/{id}/comments"),
                &sm,
                Some(json!({"body": format!("Looking at {state}")})),
            )
            .await;
            c.upload(
                &id,
                &reporter,
                "poc.bin",
                format!("\x00\x01 proof for {state} \u{fe0f}").into_bytes(),
            )
            .await;
            c.upload(&id, &sm, "notes.txt", vec![b'x'; 70_000]).await;
            let steps: Vec<(Method, String, Value)> = match state {
                "closed" => vec![(
                    Method::POST,
                    format!("/api/v1/advisories/{id}/close"),
                    json!({"reason": "other"}),
                )],
                "draft" | "published" => {
                    let mut s = vec![
                        (
                            Method::POST,
                            format!("/api/v1/advisories/{id}/accept"),
                            json!({}),
                        ),
                        (
                            Method::PATCH,
                            format!("/api/v1/advisories/{id}"),
                            json!({"vulnerabilities": [{"package": {"ecosystem": "crates.io", "name": "guest"}, "vulnerable_version_range": "< 0.15.0", "patched_versions": "0.15.0"}]}),
                        ),
                    ];
                    if state == "published" {
                        s.push((
                            Method::POST,
                            format!("/api/v1/advisories/{id}/publish"),
                            json!({}),
                        ));
                    }
                    s
                }
                _ => Vec::new(),
            };
            let steps: Vec<(Method, &str, Value)> = steps
                .iter()
                .map(|(m, p, b)| (m.clone(), p.as_str(), b.clone()))
                .collect();
            api_steps(&server.base, &sm, &steps).await;
            advisories.push((state, id));
        }
        let fixed = advisories[1].1.clone();
        c.call(
            Method::POST,
            &format!("/api/v1/advisories/{fixed}/fix-repository"),
            &sm,
            Some(json!({})),
        )
        .await;
        let busy = advisories.pop().unwrap().1;
        Self {
            server,
            env,
            sm,
            advisories,
            busy,
            fixed,
            _upstream: upstream,
        }
    }

    fn client(&self) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: self.server.base.clone(),
        }
    }

    fn data(&self) -> &Path {
        self.server.data.path()
    }

    fn database_url(&self) -> String {
        self.env
            .iter()
            .find(|(k, _)| k == "EMBARGO_DATABASE_URL")
            .map_or_else(
                || format!("sqlite://{}", self.data().join("embargo.db").display()),
                |(_, v)| v.clone(),
            )
    }
}

/// Rows of the tables a backup must carry, each as one line, in a stable order.
async fn rows(url: &str) -> Vec<(&'static str, Vec<String>)> {
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(url).await.unwrap();
    let mut out = Vec::new();
    for (table, query) in [
        (
            "advisories",
            "SELECT id || ' ' || doc FROM advisories ORDER BY id",
        ),
        (
            "comments",
            "SELECT CAST(id AS TEXT) || ' ' || advisory_id || ' ' || body FROM comments ORDER BY id",
        ),
        (
            "attachments",
            "SELECT id || ' ' || meta || ' ' || data FROM attachments ORDER BY created_at, id",
        ),
        (
            "events",
            "SELECT CAST(id AS TEXT) || ' ' || kind || ' ' || data FROM events ORDER BY id",
        ),
        (
            "audit_log",
            "SELECT CAST(seq AS TEXT) || ' ' || action || ' ' || detail || ' ' || hash FROM audit_log ORDER BY seq",
        ),
    ] {
        let r: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(query))
            .fetch_all(&mut c)
            .await
            .unwrap();
        out.push((table, r));
    }
    c.close().await.ok();
    out
}

/// The restored rows are the original's as of one moment: equal, except that the
/// original may have gone on appending (comments, events, audit entries) after it.
fn assert_restored_rows(
    original: &[(&str, Vec<String>)],
    restored: &[(&str, Vec<String>)],
    at_start: &[(&str, Vec<String>)],
) {
    for (((table, o), (_, r)), (_, s)) in original.iter().zip(restored).zip(at_start) {
        assert!(
            r.len() >= s.len(),
            "{table}: the backup lost rows written before it began"
        );
        assert!(!r.is_empty(), "{table}: nothing restored");
        match *table {
            "comments" | "events" | "audit_log" => assert_eq!(
                &o[..r.len()],
                r.as_slice(),
                "{table}: the restored rows are not the original's first ones"
            ),
            // The busy advisory's document changes with its comments; others do not.
            _ => assert_eq!(o.len(), r.len(), "{table}"),
        }
    }
}

/// What an advisory's audience sees of it through the API, with the server's own address
/// taken out (the restored server listens elsewhere).
async fn answers(c: &Client, token: &str, ids: &[(&str, String)]) -> String {
    let mut out = Vec::new();
    for (_, id) in ids {
        let mut doc = c.get(&format!("/api/v1/advisories/{id}"), token).await;
        // Derived from the clock at answer time, not from stored data.
        strip_clock_fields(&mut doc);
        out.push(doc);
        out.push(
            c.get(&format!("/api/v1/advisories/{id}/comments"), token)
                .await,
        );
        let list = c
            .get(&format!("/api/v1/advisories/{id}/attachments"), token)
            .await;
        for a in list.as_array().unwrap() {
            let aid = a["id"].as_str().unwrap();
            let bytes = c
                .bytes(&format!("/api/v1/advisories/{id}/attachments/{aid}"), token)
                .await;
            let digest = hex(&sha2::Sha256::digest(&bytes));
            assert_eq!(a["sha256"], digest.as_str(), "the bytes are the upload's");
            out.push(json!({"attachment": aid, "bytes": bytes.len(), "sha256": digest}));
        }
        out.push(list);
    }
    serde_json::to_string_pretty(&out)
        .unwrap()
        .replace(&c.base, "BASE")
}

fn strip_clock_fields(v: &mut Value) {
    match v {
        Value::Object(m) => {
            m.retain(|k, _| !k.contains("remaining") && !k.ends_with("_in") && k != "overdue");
            m.values_mut().for_each(strip_clock_fields);
        }
        Value::Array(a) => a.iter_mut().for_each(strip_clock_fields),
        _ => {}
    }
}

/// A fix repository's refs and HEAD.
fn refs(repo: &Path) -> String {
    let out = std::process::Command::new("git")
        .args(["-c", "safe.directory=*", "--git-dir"])
        .arg(repo)
        .args(["for-each-ref", "--format=%(objectname) %(refname)"])
        .output()
        .unwrap();
    let head = std::process::Command::new("git")
        .args(["-c", "safe.directory=*", "--git-dir"])
        .arg(repo)
        .args(["symbolic-ref", "HEAD"])
        .output()
        .unwrap();
    format!(
        "{}HEAD -> {}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&head.stdout)
    )
}

/// A fresh target: an empty data folder, and on PostgreSQL a fresh database.
async fn target(postgres: bool) -> (tempfile::TempDir, PathBuf, Vec<(String, String)>) {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_owned();
    let env = if postgres {
        vec![(
            "EMBARGO_DATABASE_URL".to_owned(),
            postgres_database_for_binary().await,
        )]
    } else {
        Vec::new()
    };
    (dir, data, env)
}

async fn backup_and_restore(postgres: bool) {
    let url = if postgres {
        Some(postgres_database_for_binary().await)
    } else {
        None
    };
    let inst = Installation::new(url).await;
    let c = inst.client();
    let at_start = rows(&inst.database_url()).await;

    // Comments keep arriving while the backup runs.
    let stop = Arc::new(AtomicBool::new(false));
    let written = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (stop, written) = (stop.clone(), written.clone());
        let (http, base, sm, busy) = (
            reqwest::Client::new(),
            inst.server.base.clone(),
            inst.sm.clone(),
            inst.busy.clone(),
        );
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let n = written.load(Ordering::Relaxed);
                let r = http
                    .post(format!("{base}/api/v1/advisories/{busy}/comments"))
                    .bearer_auth(&sm)
                    .json(&json!({"body": format!("comment {n} during the backup")}))
                    .send()
                    .await
                    .unwrap();
                assert!(r.status().is_success(), "{}", r.status());
                written.fetch_add(1, Ordering::Relaxed);
            }
        })
    };
    while written.load(Ordering::Relaxed) < 3 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("embargo.backup.tar.gz");
    let out = {
        let (data, archive, env) = (inst.data().to_owned(), archive.clone(), inst.env.clone());
        tokio::task::spawn_blocking(move || {
            embargo(&["backup", archive.to_str().unwrap()], &data, &env)
        })
        .await
        .unwrap()
    };
    stop.store(true, Ordering::Relaxed);
    writer.await.unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(said.contains("1 fix repository"), "{said}");
    assert!(
        said.contains("the key file") && said.contains("is not in it"),
        "{said}"
    );
    let original = rows(&inst.database_url()).await;

    // Never over an existing file.
    let again = embargo(
        &["backup", archive.to_str().unwrap()],
        inst.data(),
        &inst.env,
    );
    assert!(!again.status.success());
    assert!(text(&again).contains("exists already"), "{}", text(&again));

    // The archive: a manifest first, no key file, a database and a bundle.
    let listing = tar_listing(&archive);
    assert_eq!(listing[0], "manifest.json");
    assert!(!listing.iter().any(|p| p.ends_with(".key")), "{listing:?}");
    assert!(
        listing.iter().any(|p| p.starts_with("database/")),
        "{listing:?}"
    );
    assert!(
        listing.contains(&format!("fix/{}.git.bundle", inst.fixed)),
        "{listing:?}"
    );

    // Restore without the key: it works, and says where the key goes.
    let (t1, data1, env1) = target(postgres).await;
    let out = embargo(&["restore", archive.to_str().unwrap()], &data1, &env1);
    assert!(out.status.success(), "{}", text(&out));
    let key1 = data1.join("embargo.key");
    assert!(
        text(&out).contains(&key1.display().to_string()),
        "{}",
        text(&out)
    );
    assert!(!key1.exists());
    // The server refuses to start without it, naming the place.
    let serve = embargo(&["serve", "--listen", "127.0.0.1:0"], &data1, &env1);
    assert!(!serve.status.success());
    assert!(
        text(&serve).contains(&format!("the key file {} is missing", key1.display())),
        "{}",
        text(&serve)
    );

    // Restoring over it is refused, and leaves it as it was.
    let restored_url = env1.first().map_or_else(
        || format!("sqlite://{}", data1.join("embargo.db").display()),
        |(_, v)| v.clone(),
    );
    let before = rows(&restored_url).await;
    let files_before = listing_of(&data1);
    let out = embargo(&["restore", archive.to_str().unwrap()], &data1, &env1);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("already holds a database")
            && text(&out).contains("nothing was changed"),
        "{}",
        text(&out)
    );
    assert_eq!(listing_of(&data1), files_before);
    assert_eq!(rows(&restored_url).await, before);

    // The key put in place by hand: every row is there, the chain verifies.
    std::fs::copy(inst.data().join("embargo.key"), &key1).unwrap();
    let verify = embargo(&["audit", "verify"], &data1, &env1);
    assert!(verify.status.success(), "{}", text(&verify));
    assert!(text(&verify).contains("intact"), "{}", text(&verify));
    let restored = rows(&restored_url).await;
    assert_restored_rows(&original, &restored, &at_start);
    let busy_comments = restored[1]
        .1
        .iter()
        .filter(|r| r.contains(&inst.busy))
        .count();
    assert!(
        busy_comments > 3,
        "the comments before the backup: {busy_comments}"
    );
    assert_eq!(
        refs(&inst.data().join("fix").join(format!("{}.git", inst.fixed))),
        refs(&data1.join("fix").join(format!("{}.git", inst.fixed)))
    );

    // The restored server serves the same advisories, comments and attachments.
    let expected = answers(&c, &inst.sm, &inst.advisories).await;
    let fix_expected = c
        .get(
            &format!("/api/v1/advisories/{}/fix-repository", inst.fixed),
            &inst.sm,
        )
        .await
        .to_string()
        .replace(&c.base, "BASE");
    let s1 = Server::start_in(t1, &env_refs(&env1));
    let c1 = Client {
        http: reqwest::Client::new(),
        base: s1.base.clone(),
    };
    assert_eq!(answers(&c1, &inst.sm, &inst.advisories).await, expected);
    assert_eq!(
        c1.get(
            &format!("/api/v1/advisories/{}/fix-repository", inst.fixed),
            &inst.sm
        )
        .await
        .to_string()
        .replace(&c1.base, "BASE"),
        fix_expected
    );
    drop(s1);

    // With --with-key: a warning, and the restore opens everything at once.
    let archive2 = work.path().join("with-key.tar.gz");
    let out = embargo(
        &["backup", "--with-key", archive2.to_str().unwrap()],
        inst.data(),
        &inst.env,
    );
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("warning: this archive holds the key file"),
        "{}",
        text(&out)
    );
    assert!(tar_listing(&archive2).contains(&"key/embargo.key".to_owned()));
    let (t2, data2, env2) = target(postgres).await;
    let out = embargo(&["restore", archive2.to_str().unwrap()], &data2, &env2);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("entries verify"), "{}", text(&out));
    let expected = answers(&c, &inst.sm, &inst.advisories).await;
    let s2 = Server::start_in(t2, &env_refs(&env2));
    let c2 = Client {
        http: reqwest::Client::new(),
        base: s2.base.clone(),
    };
    assert_eq!(answers(&c2, &inst.sm, &inst.advisories).await, expected);
}

/// Every file under `dir` with its size and modification time.
fn listing_of(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let m = e.metadata().unwrap();
            if m.is_dir() {
                stack.push(e.path());
            } else {
                out.push(format!(
                    "{} {} {:?}",
                    e.path().display(),
                    m.len(),
                    m.modified().ok()
                ));
            }
        }
    }
    out.sort();
    out
}

/// The entry names of a gzipped tar archive, in order.
fn tar_listing(archive: &Path) -> Vec<String> {
    let out = std::process::Command::new("tar")
        .arg("-tzf")
        .arg(archive)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

/// A damaged or altered archive is refused before anything is written.
async fn altered_archives_are_refused(postgres: bool) {
    let url = if postgres {
        Some(postgres_database_for_binary().await)
    } else {
        None
    };
    let server_env: Vec<(String, String)> = url
        .map(|u| vec![("EMBARGO_DATABASE_URL".to_owned(), u)])
        .unwrap_or_default();
    let server = Server::start(&env_refs(&server_env));
    server.user("admin@example.org", true, &env_refs(&server_env));
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("b.tar.gz");
    let out = embargo(
        &["backup", archive.to_str().unwrap()],
        server.data.path(),
        &server_env,
    );
    assert!(out.status.success(), "{}", text(&out));
    // Unpack, change one byte of the database, pack again (manifest unchanged).
    let x = work.path().join("x");
    std::fs::create_dir(&x).unwrap();
    let run = |args: &[&str]| {
        let o = std::process::Command::new("tar")
            .args(args)
            .current_dir(&x)
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", text(&o));
    };
    run(&["-xzf", archive.to_str().unwrap()]);
    let db = std::fs::read_dir(x.join("database"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let mut bytes = std::fs::read(&db).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&db, bytes).unwrap();
    let altered = work.path().join("altered.tar.gz");
    run(&[
        "-czf",
        altered.to_str().unwrap(),
        "manifest.json",
        "database",
    ]);
    let (_t, data, env) = target(postgres).await;
    let out = embargo(&["restore", altered.to_str().unwrap()], &data, &env);
    assert!(!out.status.success());
    assert!(
        text(&out).contains("does not match its checksum"),
        "{}",
        text(&out)
    );
    assert_eq!(listing_of(&data), Vec::<String>::new(), "nothing written");
    if let Some((_, url)) = env.first() {
        sqlx::any::install_default_drivers();
        let mut c = sqlx::AnyConnection::connect(url).await.unwrap();
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = 'public'",
        )
        .fetch_one(&mut c)
        .await
        .unwrap();
        assert_eq!(n, 0, "nothing written to the database");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_backup_and_restore() {
    backup_and_restore(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_backup_and_restore() {
    backup_and_restore(true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_altered_archives_are_refused() {
    altered_archives_are_refused(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_altered_archives_are_refused() {
    altered_archives_are_refused(true).await;
}
