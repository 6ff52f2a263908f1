//! Secrets stay secret: a marker placed in an unpublished advisory's title, description and
//! comments appears in no answer to anyone outside its audience, and nowhere in the database
//! in the clear. Key files: created private, rotated under a running server, required.

use axum::body::Body;
use axum::http::{Method, Request, header};
use serde_json::json;
use sqlx::Connection;

use crate::support::{Server, TestApp, World, on_both_backends};

const MARKER: &str = "ZEBRA-5c1e2-SECRET";

/// Every stored text column, as one string per row, for the at-rest check on PostgreSQL.
async fn database_text(app: &TestApp) -> String {
    if app.url.starts_with("sqlite:") {
        let path = app.url.trim_start_matches("sqlite://");
        let mut all = Vec::new();
        for suffix in ["", "-wal", "-shm"] {
            if let Ok(bytes) = std::fs::read(format!("{path}{suffix}")) {
                all.extend(bytes);
            }
        }
        return String::from_utf8_lossy(&all).into_owned();
    }
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(&app.url).await.unwrap();
    let mut out = String::new();
    for (table, cols) in [
        ("advisories", "id || ' ' || doc"),
        ("comments", "body"),
        ("events", "kind || ' ' || data"),
        ("audit_log", "action || ' ' || detail"),
        ("settings", "value"),
        ("attachments", "meta || ' ' || data"),
    ] {
        let rows: Vec<String> =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT {cols} FROM {table}")))
                .fetch_all(&mut c)
                .await
                .unwrap();
        out.push_str(&rows.join("\n"));
    }
    out
}

async fn unpublished_text_leaks_nowhere(app: TestApp) {
    let w = World::new(&app).await;
    let r = app
        .post(
            "/api/v1/orgs/coco/repos/guest/advisories",
            Some(&w.reporter),
            json!({"title": format!("{MARKER} in the title"), "description": format!("{MARKER} in the description")}),
        )
        .await;
    let id = r.json["id"].as_str().unwrap().to_owned();
    app.post(
        &format!("/api/v1/advisories/{id}/comments"),
        Some(&w.maintainer),
        json!({"body": format!("{MARKER} in a comment")}),
    )
    .await;
    let upload = Request::builder()
        .method(Method::POST)
        .uri(format!(
            "/api/v1/advisories/{id}/attachments?filename={MARKER}.txt"
        ))
        .header(header::AUTHORIZATION, format!("Bearer {}", w.reporter))
        .body(Body::from(format!("{MARKER} in an attachment")))
        .unwrap();
    assert_eq!(app.request(upload).await.status, 201);
    app.post(
        &format!("/api/v1/advisories/{id}/accept"),
        Some(&w.sm),
        json!({}),
    )
    .await;
    app.call(
        Method::PATCH,
        &format!("/api/v1/advisories/{id}"),
        Some(&w.sm),
        Some(json!({
            "summary": format!("{MARKER} in the summary"),
            "vulnerabilities": [{"package": {"ecosystem": "crates.io", "name": "guest"}, "vulnerable_version_range": "< 0.15.0", "patched_versions": "0.15.0"}],
        })),
    )
    .await;
    // The audience sees it: the marker is really there to be found.
    assert!(
        app.get(&format!("/api/v1/advisories/{id}"), Some(&w.sc))
            .await
            .text
            .contains(MARKER)
    );

    let outsiders = [
        None,
        Some(w.outsider.clone()),
        Some(w.other_maintainer.clone()),
        Some(w.other_reporter.clone()),
        Some(w.admin.clone()),
        Some(w.other_org_sm.clone()),
    ];
    let paths = [
        format!("/api/v1/advisories/{id}"),
        format!("/api/v1/advisories/{id}/comments"),
        format!("/api/v1/advisories/{id}/events"),
        format!("/api/v1/advisories/{id}/audit"),
        format!("/api/v1/advisories/{id}/attachments"),
        "/api/v1/advisories".to_owned(),
        "/api/v1/advisories?audience=true".to_owned(),
        "/api/v1/advisories?state=draft".to_owned(),
        format!("/osv/v1/vulns/x_{id}"),
        format!("/osv/v1/vulns/{id}"),
        "/api/v1/orgs/coco".to_owned(),
        "/api/v1/orgs/coco/repos".to_owned(),
    ];
    // The published documents, feeds and directories: not even the audience finds an
    // unpublished advisory there.
    let documents = [
        format!("/advisories/{id}/osv.json"),
        format!("/advisories/{id}/csaf.json"),
        format!("/advisories/{id}/vex.json"),
        format!("/advisories/{id}/cve.json"),
        format!("/advisories/{id}/bulletin.md"),
        "/orgs/coco/bulletins.md?release=0.15.0".to_owned(),
        "/feeds/advisories.atom".to_owned(),
        "/orgs/coco/advisories.atom".to_owned(),
        "/.well-known/csaf/provider-metadata.json".to_owned(),
        "/.well-known/csaf/white/index.txt".to_owned(),
        "/.well-known/csaf/white/changes.csv".to_owned(),
        "/.well-known/security.txt".to_owned(),
        "/orgs/coco/SECURITY.md".to_owned(),
    ];
    for who in outsiders.iter().cloned().chain([Some(w.sm.clone())]) {
        for p in &documents {
            let r = app.get(p, who.as_deref()).await;
            assert!(
                !r.text.contains(MARKER) && !r.text.contains(&id),
                "{p} as {who:?} leaks: {}",
                r.text
            );
        }
        let q = app
            .post(
                "/osv/v1/query",
                who.as_deref(),
                json!({"package": {"name": "guest", "ecosystem": "crates.io"}}),
            )
            .await;
        assert!(
            !q.text.contains(MARKER) && !q.text.contains(&id),
            "OSV query leaks: {}",
            q.text
        );
    }
    let pages = [
        "/".to_owned(),
        "/advisories".to_owned(),
        format!("/advisories/{id}"),
        format!("/advisories/{id}/edit"),
        format!("/advisories/{id}/audit"),
        format!("/advisories/{id}/audit.jsonl"),
    ];
    for who in &outsiders {
        for p in &paths {
            let r = app.get(p, who.as_deref()).await;
            assert!(!r.text.contains(MARKER), "{p} as {who:?} leaks: {}", r.text);
        }
        for p in &pages {
            let r = app.page(p, who.as_deref()).await;
            assert!(!r.text.contains(MARKER), "page {p} as {who:?} leaks");
        }
        // Writes refused as "not found" say nothing either.
        for (m, p, body) in [
            (
                Method::POST,
                format!("/api/v1/advisories/{id}/comments"),
                json!({"body": "x"}),
            ),
            (
                Method::PATCH,
                format!("/api/v1/advisories/{id}"),
                json!({"summary": "x"}),
            ),
            (
                Method::POST,
                format!("/api/v1/advisories/{id}/publish"),
                json!({}),
            ),
        ] {
            let r = app.call(m, &p, who.as_deref(), Some(body)).await;
            assert!(!r.text.contains(MARKER), "{p} leaks in its error");
        }
    }
    // Nothing in the database in the clear: not in the file, not in the WAL.
    let at_rest = database_text(&app).await;
    assert!(!at_rest.is_empty());
    assert!(
        !at_rest.contains(MARKER),
        "the marker is stored in the clear"
    );

    // Published: the advisory's public text is in the clear; the thread stays sealed.
    app.call(
        Method::PATCH,
        &format!("/api/v1/advisories/{id}"),
        Some(&w.sm),
        Some(json!({"vulnerabilities": [{"package": {"ecosystem": "npm", "name": "x"}}]})),
    )
    .await;
    assert_eq!(
        app.post(
            &format!("/api/v1/advisories/{id}/publish"),
            Some(&w.sm),
            json!({})
        )
        .await
        .status,
        200
    );
    // The checks above could find it: once published it is in the feed and the query API.
    assert!(
        app.get("/feeds/advisories.atom", None)
            .await
            .text
            .contains(&id)
    );
    let q = app
        .post(
            "/osv/v1/query",
            None,
            json!({"package": {"name": "x", "ecosystem": "npm"}, "version": "1.0.0"}),
        )
        .await;
    assert!(q.text.contains(&id), "{}", q.text);
    assert!(
        app.get(&format!("/api/v1/advisories/{id}"), None)
            .await
            .text
            .contains(&format!("{MARKER} in the summary"))
    );
    let at_rest = database_text(&app).await;
    assert!(
        !at_rest.contains(&format!("{MARKER} in a comment")),
        "comments stay sealed after publication"
    );
    let thread = app
        .get(
            &format!("/api/v1/advisories/{id}/comments"),
            Some(&w.reporter),
        )
        .await;
    assert!(
        thread.text.contains(&format!("{MARKER} in a comment")),
        "and still read back for the audience"
    );
}

on_both_backends!(unpublished_text_leaks_nowhere);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn key_file_is_private_rotates_under_a_running_server_and_is_required() {
    let mut server = Server::start(&[]);
    let key = server.data.path().join("embargo.key");
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&key).unwrap().permissions().mode() & 0o777,
            0o600,
            "created owner-only"
        );
    }
    let before = std::fs::read_to_string(&key).unwrap();
    assert!(before.lines().any(|l| l.starts_with("v1 k1 ")));
    let admin = server.user("admin@example.org", true, &[]);
    let client = reqwest::Client::new();
    let base = server.base.clone();
    for (m, p, b) in [
        (
            reqwest::Method::POST,
            "/api/v1/orgs",
            json!({"slug": "coco", "name": "CoCo"}),
        ),
        (
            reqwest::Method::PUT,
            "/api/v1/orgs/coco/members/admin@example.org",
            json!({"role": "security_manager"}),
        ),
        (
            reqwest::Method::POST,
            "/api/v1/orgs/coco/repos",
            json!({"slug": "guest", "name": "Guest"}),
        ),
    ] {
        assert!(
            client
                .request(m, format!("{base}{p}"))
                .bearer_auth(&admin)
                .json(&b)
                .send()
                .await
                .unwrap()
                .status()
                .is_success()
        );
    }
    let r: serde_json::Value = client
        .post(format!("{base}/api/v1/orgs/coco/repos/guest/advisories"))
        .bearer_auth(&admin)
        .json(&json!({"title": "Sealed", "description": format!("{MARKER} before rotation")}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = r["id"].as_str().unwrap().to_owned();

    let up = client
        .post(format!(
            "{base}/api/v1/advisories/{id}/attachments?filename=poc.bin"
        ))
        .bearer_auth(&admin)
        .body(vec![1u8, 2, 3, 255])
        .send()
        .await
        .unwrap();
    assert_eq!(up.status(), 201);
    let aid = up.json::<serde_json::Value>().await.unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let out = server.command(&["keys", "rotate"], None, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("new key k2"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let after = std::fs::read_to_string(&key).unwrap();
    assert!(
        after.lines().any(|l| l.starts_with("v1 k2 ")) && !after.contains("v1 k1 "),
        "the old key is retired"
    );
    // The running server reads what was sealed before, and seals new text with the new key.
    let read = |path: String| {
        let (client, admin) = (client.clone(), admin.clone());
        async move {
            client
                .get(path)
                .bearer_auth(admin)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
    };
    assert!(
        read(format!("{base}/api/v1/advisories/{id}"))
            .await
            .contains("before rotation")
    );
    let c = client
        .post(format!("{base}/api/v1/advisories/{id}/comments"))
        .bearer_auth(&admin)
        .json(&json!({"body": "after rotation"}))
        .send()
        .await
        .unwrap();
    assert_eq!(c.status(), 201);
    assert!(
        read(format!("{base}/api/v1/advisories/{id}/comments"))
            .await
            .contains("after rotation")
    );
    let file = client
        .get(format!("{base}/api/v1/advisories/{id}/attachments/{aid}"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        file.as_ref(),
        [1u8, 2, 3, 255],
        "attachments are sealed again too"
    );
    assert!(server.stop());

    // Without its key file, or with another one, the store refuses to start, saying why.
    let moved = server.data.path().join("elsewhere.key");
    std::fs::rename(&key, &moved).unwrap();
    let out = server.command(
        &["admin", "token", "create", "admin@example.org"],
        None,
        &[],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("key file") && err.contains("missing") && err.contains("restore"),
        "{err}"
    );
    assert!(
        !key.exists(),
        "no new key is made up for a database that has one"
    );
    let other = tempfile::tempdir().unwrap();
    let stranger = other.path().join("other.key");
    let out = std::process::Command::new(crate::support::embargo_bin())
        .args(["admin", "user", "add", "x@example.org", "--data"])
        .arg(other.path())
        .output()
        .unwrap();
    assert!(out.status.success(), "a new database gets a new key file");
    std::fs::rename(other.path().join("embargo.key"), &stranger).unwrap();
    let out = server.command(
        &["admin", "token", "create", "admin@example.org"],
        None,
        &[("EMBARGO_KEYS_FILE", stranger.to_str().unwrap())],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("wrong key file"));
    std::fs::rename(&moved, &key).unwrap();
    let out = server.command(
        &["admin", "token", "create", "admin@example.org"],
        None,
        &[],
    );
    assert!(
        out.status.success(),
        "back with its key: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}
