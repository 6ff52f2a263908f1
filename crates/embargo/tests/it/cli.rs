//! The real binary: `serve` on a free port, the admin commands beside it, on SQLite and on
//! PostgreSQL; help everywhere; clear errors.

use serde_json::{Value, json};

use crate::support::{Server, embargo_bin, postgres_database_for_binary};

fn run(args: &[&str]) -> std::process::Output {
    std::process::Command::new(embargo_bin())
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn every_command_has_help() {
    for args in [
        vec!["--help"],
        vec!["serve", "--help"],
        vec!["admin", "--help"],
        vec!["admin", "user", "--help"],
        vec!["admin", "user", "add", "--help"],
        vec!["admin", "user", "reset", "--help"],
        vec!["admin", "token", "create", "--help"],
        vec!["admin", "user", "handle", "--help"],
        vec!["repo", "sync-maintainers", "--help"],
        vec!["keys", "rotate", "--help"],
        vec!["audit", "verify", "--help"],
        vec!["cvss", "--help"],
        vec!["init", "--help"],
    ] {
        let out = run(&args);
        assert!(out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stdout).contains("Usage:"),
            "{args:?}"
        );
    }
}

async fn api(
    client: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    token: &str,
    body: Value,
) -> (u16, Value) {
    let r = client
        .request(method, url)
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The README's road on the real binary: start, create the first administrator from the
/// command line while it runs, get a token, and take a report to publication over HTTP.
async fn serve_and_administer(env: &[(&str, &str)]) {
    let mut server = Server::start(env);
    let base = server.base.clone();
    let client = reqwest::Client::new();
    let health = client.get(format!("{base}/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    assert!(
        server.stderr.lock().unwrap().contains("/setup/"),
        "first start prints the setup link"
    );

    let admin = server.user("admin@example.org", true, env);
    let reporter = server.user("reporter@example.org", false, env);
    assert!(admin.starts_with("emb_") && admin.len() > 40);
    let post = reqwest::Method::POST;
    let (s, _) = api(
        &client,
        post.clone(),
        format!("{base}/api/v1/orgs"),
        &admin,
        json!({"slug": "coco", "name": "CoCo"}),
    )
    .await;
    assert_eq!(s, 201);
    let (s, _) = api(
        &client,
        reqwest::Method::PUT,
        format!("{base}/api/v1/orgs/coco/members/admin@example.org"),
        &admin,
        json!({"role": "security_manager"}),
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = api(
        &client,
        post.clone(),
        format!("{base}/api/v1/orgs/coco/repos"),
        &admin,
        json!({"slug": "guest", "name": "Guest"}),
    )
    .await;
    assert_eq!(s, 201);
    let (s, a) = api(
        &client,
        post.clone(),
        format!("{base}/api/v1/orgs/coco/repos/guest/advisories"),
        &reporter,
        json!({"title": "t", "description": "d"}),
    )
    .await;
    assert_eq!(s, 201, "{a}");
    let id = a["id"].as_str().unwrap().to_owned();
    assert_eq!(a["html_url"], format!("{base}/advisories/{id}"));
    assert_eq!(
        client
            .get(format!("{base}/api/v1/advisories/{id}"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let (s, _) = api(
        &client,
        post.clone(),
        format!("{base}/api/v1/advisories/{id}/accept"),
        &admin,
        json!({}),
    )
    .await;
    assert_eq!(s, 200);
    let vulns = json!({"vulnerabilities": [{"package": {"ecosystem": "npm", "name": "guest"}, "vulnerable_version_range": "< 2.0.0"}]});
    let (s, _) = api(
        &client,
        reqwest::Method::PATCH,
        format!("{base}/api/v1/advisories/{id}"),
        &admin,
        vulns,
    )
    .await;
    assert_eq!(s, 200);
    let (s, _) = api(
        &client,
        post,
        format!("{base}/api/v1/advisories/{id}/publish"),
        &admin,
        json!({}),
    )
    .await;
    assert_eq!(s, 200);
    let osv: Value = client
        .get(format!("{base}/osv/v1/vulns/x_{id}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    crate::support::assert_valid_osv(&osv);
    assert_eq!(
        osv["affected"][0]["ranges"][0]["events"],
        json!([{"introduced": "0"}, {"fixed": "2.0.0"}])
    );

    // Logs carry the route template and a request id, never advisory ids or text.
    let log = server.log_containing("route=\"/osv/v1/vulns/{id}\"");
    assert!(
        log.contains("route=\"/api/v1/advisories/{id}/publish\"") && log.contains("request_id="),
        "{log}"
    );
    assert!(!log.contains(&id), "advisory ids are not logged: {log}");

    // A password reset link, and errors that say what is wrong.
    let out = server.command(
        &["admin", "user", "reset", "reporter@example.org"],
        None,
        env,
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("/reset/"));
    let out = server.command(
        &["admin", "token", "create", "nobody@example.org"],
        None,
        env,
    );
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("no account has the address nobody@example.org")
    );
    let out = server.command(&["admin", "user", "add", "admin@example.org"], None, env);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists already"));
    // The access log records the client's address; the chain verifies, and a changed entry
    // is named by `embargo audit verify`.
    let log: Value = client
        .get(format!("{base}/api/v1/advisories/{id}/audit"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(log[0]["action"], "reported");
    assert_eq!(log[0]["origin"], "127.0.0.1");
    // The server and the commands beside it (the accounts above) append to one keyed chain,
    // and both keep the head file beside the key file.
    let head_file = server.data.path().join("audit.head");
    let verify_intact = |what: &str| {
        let out = server.command(&["audit", "verify"], None, env);
        assert!(
            out.status.success(),
            "{what}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            said.contains("intact") && said.contains("head file names an entry"),
            "{what}: {said}"
        );
    };
    assert!(head_file.exists());
    verify_intact("server and commands");
    // Rotating the sealing key beside the running server keeps the chain verifying.
    let out = server.command(&["keys", "rotate"], None, env);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    server.user("after-rotation@example.org", false, env);
    let read = client
        .get(format!("{base}/api/v1/advisories/{id}"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    verify_intact("after the rotation");
    // Without the head file the end of the log cannot be checked: said, and not a pass.
    let kept = std::fs::read(&head_file).unwrap();
    std::fs::remove_file(&head_file).unwrap();
    let out = server.command(&["audit", "verify"], None, env);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no head file"), "{err}");
    std::fs::write(&head_file, kept).unwrap();
    let url = env
        .iter()
        .find(|(k, _)| *k == "EMBARGO_DATABASE_URL")
        .map_or_else(
            || format!("sqlite://{}/embargo.db", server.data.path().display()),
            |(_, v)| (*v).to_owned(),
        );
    sqlx::any::install_default_drivers();
    let mut c = <sqlx::AnyConnection as sqlx::Connection>::connect(&url)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_log SET origin = '203.0.113.7' WHERE seq = 3")
        .execute(&mut c)
        .await
        .unwrap();
    let out = server.command(&["audit", "verify"], None, env);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("broken at entry 3") && err.contains("was changed"),
        "{err}"
    );
    assert!(server.stop(), "SIGTERM stops the server cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_and_administer_on_sqlite() {
    serve_and_administer(&[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_and_administer_on_postgres() {
    let url = postgres_database_for_binary().await;
    serve_and_administer(&[("EMBARGO_DATABASE_URL", &url)]).await;
}

#[test]
fn bad_settings_are_refused_clearly() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("embargo.toml");
    std::fs::write(&config, "[server]\nlisen = \"127.0.0.1:1\"\n").unwrap();
    let out = std::process::Command::new(embargo_bin())
        .args(["serve", "--config"])
        .arg(&config)
        .arg("--data")
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("embargo.toml") && err.contains("lisen"),
        "{err}"
    );
    let out = std::process::Command::new(embargo_bin())
        .args(["admin", "token", "create", "x@example.org", "--data"])
        .arg(dir.path())
        .env("EMBARGO_DATABASE_URL", "mysql://nope")
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("sqlite:// or postgres://"));
}

#[test]
fn init_prepares_an_installation() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("embargo.toml");
    let data = dir.path().join("data");
    let run = || {
        std::process::Command::new(embargo_bin())
            .args(["init", "--write-config"])
            .arg(&config)
            .arg("--data")
            .arg(&data)
            .env_remove("EMBARGO_DATABASE_URL")
            .output()
            .unwrap()
    };
    let out = run();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(data.join("embargo.db").exists() && data.join("embargo.key").exists());
    // The commented file is valid settings as written.
    let loaded = embargo_server::Config::load(Some(&config), &data).unwrap();
    assert_eq!(loaded.server.listen.to_string(), "127.0.0.1:8080");
    let out = run();
    assert!(!out.status.success(), "never overwrites");
    assert!(String::from_utf8_lossy(&out.stderr).contains("exists already"));
}
