//! The access log: reads of unpublished advisories and every change are recorded with who,
//! what, when and from where, without the advisory's text, in a keyed hash chain that
//! tampering breaks visibly, even when the tamperer recomputes the hashes or cuts the end.

use std::path::Path;
use std::sync::Arc;

use axum::http::{Method, StatusCode};
use embargo_domain::types::Email;
use embargo_store::{AuditCheck, KeySource, Store, SystemClock};
use serde_json::{Value, json};
use sqlx::Connection;

use crate::support::{TestApp, World, on_both_backends};

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

const MARKER: &str = "MARKER-7f3a9c-unpublished";

fn actions(log: &Value) -> Vec<(String, String)> {
    log.as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["action"].as_str().unwrap().to_owned(),
                e["actor"].as_str().unwrap_or("anonymous").to_owned(),
            )
        })
        .collect()
}

async fn reads_and_changes_are_logged_without_content(app: TestApp) {
    let w = World::new(&app).await;
    let r = app
        .post("/api/v1/orgs/coco/repos/guest/advisories", Some(&w.reporter), json!({"title": format!("{MARKER} title"), "description": format!("{MARKER} description")}))
        .await;
    let id = r.json["id"].as_str().unwrap().to_owned();
    let api = format!("/api/v1/advisories/{id}");
    app.get(&api, Some(&w.reporter)).await;
    app.page(&format!("/advisories/{id}"), Some(&w.maintainer))
        .await;
    app.post(
        &format!("{api}/comments"),
        Some(&w.sc),
        json!({"body": format!("{MARKER} comment")}),
    )
    .await;
    app.get("/api/v1/advisories", Some(&w.sc)).await;
    // Refused attempts by outsiders are not reads of the advisory.
    assert_eq!(
        app.get(&api, Some(&w.outsider)).await.status,
        StatusCode::NOT_FOUND
    );

    let log = app.get(&format!("{api}/audit"), Some(&w.sm)).await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text);
    assert_eq!(
        actions(&log.json),
        [
            ("reported", "reporter@example.org"),
            ("read", "reporter@example.org"),
            // The page view: one entry, naming the thread it showed too.
            ("read", "maintainer@example.org"),
            ("commented", "sc@example.org"),
            ("list", "sc@example.org"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );
    let view = &log.json[2];
    assert_eq!(
        (view["action"].as_str(), &view["detail"]),
        (Some("read"), &json!({"with": ["thread"]})),
        "{}",
        log.text
    );
    assert!(
        !log.text.contains(MARKER),
        "the access log holds no advisory text: {}",
        log.text
    );
    // Each entry links to the one before it.
    let entries = log.json.as_array().unwrap();
    assert!(
        entries
            .iter()
            .all(|e| e["hash"].as_str().unwrap().len() == 64)
    );

    // Reading the log is an access too; the export is JSON lines.
    let jsonl = app
        .get(&format!("{api}/audit?format=jsonl"), Some(&w.sm))
        .await;
    assert_eq!(jsonl.headers["content-type"], "application/x-ndjson");
    let lines: Vec<Value> = jsonl
        .text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), entries.len() + 1);
    assert_eq!(lines.last().unwrap()["action"], "read_access_log");

    // Only security managers read it.
    assert_eq!(
        app.get(&format!("{api}/audit"), Some(&w.maintainer))
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&format!("{api}/audit"), Some(&w.sc)).await.status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        app.get(&format!("{api}/audit"), Some(&w.outsider))
            .await
            .status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.get(&format!("{api}/audit"), None).await.status,
        StatusCode::NOT_FOUND
    );

    // Once published, public reads are not logged; changes still are.
    let id2 = w.advisory_in(&app, "published").await;
    let before = app
        .get(&format!("/api/v1/advisories/{id2}/audit"), Some(&w.sm))
        .await
        .json
        .as_array()
        .unwrap()
        .len();
    app.get(&format!("/api/v1/advisories/{id2}"), None).await;
    app.get(&format!("/api/v1/advisories/{id2}"), Some(&w.outsider))
        .await;
    let after = app
        .get(&format!("/api/v1/advisories/{id2}/audit"), Some(&w.sm))
        .await
        .json
        .as_array()
        .unwrap()
        .len();
    assert_eq!(
        after,
        before + 1,
        "only the security manager's read of the log was added"
    );
    assert_eq!(
        app.store.verify_audit().await.unwrap(),
        AuditCheck::Intact {
            entries: last_seq(&app).await,
            legacy: 0
        }
    );
}

async fn last_seq(app: &TestApp) -> i64 {
    let mut c = sqlx::AnyConnection::connect(&app.url).await.unwrap();
    sqlx::query_scalar("SELECT seq FROM audit_head")
        .fetch_one(&mut c)
        .await
        .unwrap()
}

async fn tampering_is_detected(app: TestApp) {
    sqlx::any::install_default_drivers();
    let w = World::new(&app).await;
    let id = w.advisory_in(&app, "draft").await;
    app.get(&format!("/api/v1/advisories/{id}"), Some(&w.maintainer))
        .await;
    let n = last_seq(&app).await;
    assert!(n > 10);
    assert_eq!(
        app.store.verify_audit().await.unwrap(),
        AuditCheck::Intact {
            entries: n,
            legacy: 0
        }
    );
    let mut c = sqlx::AnyConnection::connect(&app.url).await.unwrap();

    // Any one entry changed, in any column: found, and named.
    for (column, value) in [
        ("actor_id", "NULL"),
        ("origin", "'10.9.9.9'"),
        ("action", "'read'"),
        ("detail", "'{}'"),
        ("at", "at + 1"),
        ("advisory_id", "NULL"),
    ] {
        for seq in [1, n / 2, n] {
            let original: Value = row(&mut c, seq).await;
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "UPDATE audit_log SET {column} = {value} WHERE seq = {seq}"
            )))
            .execute(&mut c)
            .await
            .unwrap();
            if row(&mut c, seq).await == original {
                continue; // the value happened to be the same
            }
            match app.store.verify_audit().await.unwrap() {
                AuditCheck::Broken { seq: s, .. } => assert_eq!(s, seq, "{column} of entry {seq}"),
                other => panic!("changing {column} of entry {seq} went unnoticed: {other:?}"),
            }
            restore(&mut c, seq, &original).await;
            assert_eq!(
                app.store.verify_audit().await.unwrap(),
                AuditCheck::Intact {
                    entries: n,
                    legacy: 0
                }
            );
        }
    }
    // Recomputing one entry's own hash does not help: the next entry's link breaks.
    let k = n / 2;
    let original = row(&mut c, k).await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE audit_log SET action = 'forged', hash = '{}' WHERE seq = {k}",
        "ab".repeat(32)
    )))
    .execute(&mut c)
    .await
    .unwrap();
    assert!(
        matches!(app.store.verify_audit().await.unwrap(), AuditCheck::Broken { seq, .. } if seq == k || seq == k + 1)
    );
    restore(&mut c, k, &original).await;
    // A removed entry, and entries cut from the end.
    let removed = row(&mut c, k).await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM audit_log WHERE seq = {k}"
    )))
    .execute(&mut c)
    .await
    .unwrap();
    match app.store.verify_audit().await.unwrap() {
        AuditCheck::Broken { seq, reason } => {
            assert!(seq == k && reason.contains("missing"), "{seq} {reason}")
        }
        other => panic!("{other:?}"),
    }
    insert(&mut c, &removed).await;
    assert_eq!(
        app.store.verify_audit().await.unwrap(),
        AuditCheck::Intact {
            entries: n,
            legacy: 0
        }
    );
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM audit_log WHERE seq = {n}"
    )))
    .execute(&mut c)
    .await
    .unwrap();
    match app.store.verify_audit().await.unwrap() {
        AuditCheck::Broken { reason, .. } => {
            assert!(reason.contains("removed from the end"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

async fn row(c: &mut sqlx::AnyConnection, seq: i64) -> Value {
    use sqlx::Row;
    let r = sqlx::query("SELECT seq, at, actor_id, origin, action, advisory_id, detail, prev_hash, hash FROM audit_log WHERE seq = $1")
        .bind(seq)
        .fetch_one(&mut *c)
        .await
        .unwrap();
    json!([
        r.get::<i64, _>("seq"),
        r.get::<i64, _>("at"),
        r.get::<Option<i64>, _>("actor_id"),
        r.get::<Option<String>, _>("origin"),
        r.get::<String, _>("action"),
        r.get::<Option<String>, _>("advisory_id"),
        r.get::<String, _>("detail"),
        r.get::<String, _>("prev_hash"),
        r.get::<String, _>("hash")
    ])
}

async fn restore(c: &mut sqlx::AnyConnection, seq: i64, original: &Value) {
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM audit_log WHERE seq = {seq}"
    )))
    .execute(&mut *c)
    .await
    .unwrap();
    insert(c, original).await;
}

async fn insert(c: &mut sqlx::AnyConnection, v: &Value) {
    sqlx::query("INSERT INTO audit_log (seq, at, actor_id, origin, action, advisory_id, detail, prev_hash, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(v[0].as_i64().unwrap())
        .bind(v[1].as_i64().unwrap())
        .bind(v[2].as_i64())
        .bind(v[3].as_str().map(str::to_owned))
        .bind(v[4].as_str().unwrap().to_owned())
        .bind(v[5].as_str().map(str::to_owned))
        .bind(v[6].as_str().unwrap().to_owned())
        .bind(v[7].as_str().unwrap().to_owned())
        .bind(v[8].as_str().unwrap().to_owned())
        .execute(&mut *c)
        .await
        .unwrap();
}

/// Rewrites entries `from..=to` as the old code hashed them (plain SHA-256 of the same
/// fields), first giving entry `from` a new detail when `forge`, and moves the head to match:
/// what anyone able to write the database could do to the old chain.
async fn rewrite_plainly(c: &mut sqlx::AnyConnection, from: i64, to: i64, forge: bool) {
    if forge {
        sqlx::query("UPDATE audit_log SET detail = '{\"forged\":true}' WHERE seq = $1")
            .bind(from)
            .execute(&mut *c)
            .await
            .unwrap();
    }
    let mut prev = if from == 1 {
        GENESIS.to_owned()
    } else {
        row(c, from - 1).await[8].as_str().unwrap().to_owned()
    };
    for seq in from..=to {
        let v = row(c, seq).await;
        let canonical = json!([v[0], v[1], v[2], v[3], v[4], v[5], v[6], prev]).to_string();
        let hash = embargo_store::secrets::token_hash(&canonical);
        sqlx::query("UPDATE audit_log SET prev_hash = $1, hash = $2 WHERE seq = $3")
            .bind(&prev)
            .bind(&hash)
            .bind(seq)
            .execute(&mut *c)
            .await
            .unwrap();
        prev = hash;
    }
    let head: i64 = sqlx::query_scalar("SELECT seq FROM audit_head")
        .fetch_one(&mut *c)
        .await
        .unwrap();
    if head == to {
        sqlx::query("UPDATE audit_head SET hash = $1")
            .bind(&prev)
            .execute(&mut *c)
            .await
            .unwrap();
    }
}

async fn head_hash(c: &mut sqlx::AnyConnection) -> String {
    sqlx::query_scalar("SELECT hash FROM audit_head")
        .fetch_one(&mut *c)
        .await
        .unwrap()
}

/// The finding: anyone who could write the database could change an entry and recompute
/// every hash after it and the head, and the old check said intact. The hashes are keyed now.
async fn a_chain_rewritten_without_the_key_is_found(app: TestApp) {
    sqlx::any::install_default_drivers();
    let w = World::new(&app).await;
    let id = w.advisory_in(&app, "draft").await;
    app.get(&format!("/api/v1/advisories/{id}"), Some(&w.maintainer))
        .await;
    let n = last_seq(&app).await;
    let mut c = sqlx::AnyConnection::connect(&app.url).await.unwrap();
    for j in [1, n / 2, n] {
        let saved = saved_rows(&mut c, j, n).await;
        let saved_head = head_hash(&mut c).await;
        rewrite_plainly(&mut c, j, n, true).await;
        match app.store.verify_audit().await.unwrap() {
            AuditCheck::Broken { seq, reason } => {
                assert_eq!(seq, j, "{reason}");
                assert!(reason.contains("plain SHA-256"), "{reason}");
            }
            other => panic!("a rewrite from entry {j} went unnoticed: {other:?}"),
        }
        for (seq, v) in (j..).zip(&saved) {
            restore(&mut c, seq, v).await;
        }
        sqlx::query("UPDATE audit_head SET hash = $1")
            .bind(saved_head)
            .execute(&mut c)
            .await
            .unwrap();
        assert_eq!(
            app.store.verify_audit().await.unwrap(),
            AuditCheck::Intact {
                entries: n,
                legacy: 0
            }
        );
    }
}

async fn saved_rows(c: &mut sqlx::AnyConnection, from: i64, to: i64) -> Vec<Value> {
    let mut rows = Vec::new();
    for seq in from..=to {
        rows.push(row(c, seq).await);
    }
    rows
}

/// The finding's other half: entries cut from the end with the database's head moved back
/// looked intact. The head file outside the database still names the last entry.
async fn entries_cut_from_the_end_are_found(app: TestApp) {
    sqlx::any::install_default_drivers();
    let w = World::new(&app).await;
    let id = w.advisory_in(&app, "draft").await;
    let path = format!("/api/v1/advisories/{id}");
    let read = || app.get(&path, Some(&w.maintainer));
    read().await;
    let n = last_seq(&app).await;
    let head_file = app.store.audit_head_file().unwrap().to_owned();
    assert!(head_file.exists());
    assert_eq!(
        app.store.verify_audit().await.unwrap(),
        AuditCheck::Intact {
            entries: n,
            legacy: 0
        }
    );
    let mut c = sqlx::AnyConnection::connect(&app.url).await.unwrap();
    let keep = n - 3;
    let kept_hash = row(&mut c, keep).await[8].as_str().unwrap().to_owned();
    sqlx::query("DELETE FROM audit_log WHERE seq > $1")
        .bind(keep)
        .execute(&mut c)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2")
        .bind(keep)
        .bind(&kept_hash)
        .execute(&mut c)
        .await
        .unwrap();
    let truncated = app.store.verify_audit().await.unwrap();
    match &truncated {
        AuditCheck::Broken { seq, reason } => {
            assert_eq!(*seq, keep + 1, "{reason}");
            assert!(reason.contains("removed from the end"), "{reason}");
        }
        other => panic!("cutting the end went unnoticed: {other:?}"),
    }

    // The head file is evidence: it is not removed, forged or moved back quietly.
    let text = std::fs::read_to_string(&head_file).unwrap();
    std::fs::remove_file(&head_file).unwrap();
    match app.store.verify_audit().await.unwrap() {
        AuditCheck::Unanchored { reason, .. } => {
            assert!(reason.contains("no head file"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    let forged = text.replace(&format!(" {n} "), &format!(" {keep} "));
    assert_ne!(forged, text);
    std::fs::write(&head_file, &forged).unwrap();
    match app.store.verify_audit().await.unwrap() {
        AuditCheck::Broken { reason, .. } => {
            assert!(reason.contains("not signed with the audit key"), "{reason}")
        }
        other => panic!("a forged head file went unnoticed: {other:?}"),
    }
    std::fs::write(&head_file, &text).unwrap();
    assert_eq!(app.store.verify_audit().await.unwrap(), truncated);

    // Writing on past the cut neither moves the head file nor hides the cut.
    app.clock.advance(time::Duration::minutes(1));
    for _ in 0..5 {
        read().await;
    }
    assert!(last_seq(&app).await > n);
    assert_eq!(std::fs::read_to_string(&head_file).unwrap(), text);
    match app.store.verify_audit().await.unwrap() {
        AuditCheck::Broken { seq, reason } => {
            assert_eq!(seq, n, "{reason}");
            assert!(reason.contains("head file names this entry"), "{reason}");
        }
        other => panic!("entries written over a cut hid it: {other:?}"),
    }
}

/// A store with a key file in `dir`, on a new database of `app`'s backend.
async fn store_with_key_file(app: &TestApp, dir: &Path) -> (String, Store) {
    let url = match app.store.backend() {
        embargo_store::Backend::Sqlite => format!("sqlite://{}", dir.join("embargo.db").display()),
        embargo_store::Backend::Postgres => crate::support::postgres_database_for_binary().await,
    };
    (url.clone(), open_with_key_file(&url, dir).await)
}

async fn open_with_key_file(url: &str, dir: &Path) -> Store {
    Store::open(
        url,
        Arc::new(SystemClock),
        KeySource::File(dir.join("embargo.key")),
    )
    .await
    .unwrap()
}

async fn add_users(store: &Store, names: &[&str]) {
    for name in names {
        let email = Email::parse(&format!("{name}@example.org")).unwrap();
        store.create_user(&email, None, None, false).await.unwrap();
    }
}

fn audit_line(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("embargo.key"))
        .unwrap()
        .lines()
        .find(|l| l.starts_with("audit "))
        .expect("the key file holds the audit key")
        .to_owned()
}

/// The audit key sits beside the sealing key but does not rotate with it: the chain written
/// before a rotation verifies after it, in this process and in the next.
async fn rotating_the_sealing_key_keeps_the_chain_verifying(app: TestApp) {
    let dir = tempfile::tempdir().unwrap();
    let (url, store) = store_with_key_file(&app, dir.path()).await;
    assert_eq!(
        store.audit_head_file(),
        Some(dir.path().join("audit.head").as_path()),
        "beside the key file"
    );
    add_users(&store, &["a", "b", "c"]).await;
    assert_eq!(
        store.verify_audit().await.unwrap(),
        AuditCheck::Intact {
            entries: 3,
            legacy: 0
        }
    );
    let audit = audit_line(dir.path());
    let rotation = store.rotate_keys().await.unwrap();
    assert_eq!(rotation.retired_keys, 1);
    assert_eq!(
        audit_line(dir.path()),
        audit,
        "the audit key did not rotate"
    );
    add_users(&store, &["d", "e"]).await;
    assert_eq!(
        store.verify_audit().await.unwrap(),
        AuditCheck::Intact {
            entries: 5,
            legacy: 0
        }
    );
    store.close().await;
    drop(store);
    let again = open_with_key_file(&url, dir.path()).await;
    assert_eq!(
        again.verify_audit().await.unwrap(),
        AuditCheck::Intact {
            entries: 5,
            legacy: 0
        }
    );
    // Still keyed after the rotation: a plain rewrite is found.
    let mut c = sqlx::AnyConnection::connect(&url).await.unwrap();
    rewrite_plainly(&mut c, 2, 5, true).await;
    assert!(matches!(
        again.verify_audit().await.unwrap(),
        AuditCheck::Broken { seq: 2, .. }
    ));
    again.close().await;
}

/// A log written by an older embargo (plain SHA-256) keeps verifying after the upgrade:
/// plain hashes are accepted before the first entry written since, and nowhere after it.
async fn entries_from_before_keyed_hashes_are_accepted_only_before_them(app: TestApp) {
    sqlx::any::install_default_drivers();
    let dir = tempfile::tempdir().unwrap();
    let (url, store) = store_with_key_file(&app, dir.path()).await;
    add_users(&store, &["a", "b", "c"]).await;
    store.close().await;
    drop(store);
    // What an upgrade finds: a plain chain, no key named, no head file; migration 16 sets
    // keyed_from to the entry after the last.
    let mut c = sqlx::AnyConnection::connect(&url).await.unwrap();
    rewrite_plainly(&mut c, 1, 3, false).await;
    sqlx::query("UPDATE audit_head SET key_id = NULL, keyed_from = 4")
        .execute(&mut c)
        .await
        .unwrap();
    std::fs::remove_file(dir.path().join("audit.head")).unwrap();

    let store = open_with_key_file(&url, dir.path()).await;
    match store.verify_audit().await.unwrap() {
        AuditCheck::Unanchored {
            entries: 3,
            legacy: 3,
            reason,
        } => assert!(
            reason.contains("no head file") && reason.contains("no entry is keyed yet"),
            "{reason}"
        ),
        other => panic!("{other:?}"),
    }
    add_users(&store, &["d"]).await;
    assert_eq!(
        store.verify_audit().await.unwrap(),
        AuditCheck::Intact {
            entries: 4,
            legacy: 3
        }
    );

    // The keyed entry covers the plain ones before it.
    let saved = saved_rows(&mut c, 2, 3).await;
    rewrite_plainly(&mut c, 2, 3, true).await;
    assert!(
        matches!(store.verify_audit().await.unwrap(), AuditCheck::Broken { seq, .. } if seq == 3 || seq == 4)
    );
    for (seq, v) in (2..).zip(&saved) {
        restore(&mut c, seq, v).await;
    }
    // No plain hash after them, and the boundary is not the database's to move.
    let saved = row(&mut c, 4).await;
    let saved_head = head_hash(&mut c).await;
    rewrite_plainly(&mut c, 4, 4, true).await;
    match store.verify_audit().await.unwrap() {
        AuditCheck::Broken { seq: 4, reason } => {
            assert!(reason.contains("plain SHA-256"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    restore(&mut c, 4, &saved).await;
    sqlx::query("UPDATE audit_head SET hash = $1")
        .bind(saved_head)
        .execute(&mut c)
        .await
        .unwrap();
    sqlx::query("UPDATE audit_head SET keyed_from = 100")
        .execute(&mut c)
        .await
        .unwrap();
    match store.verify_audit().await.unwrap() {
        AuditCheck::Broken { reason, .. } => {
            assert!(reason.contains("audit_head was changed"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
    sqlx::query("UPDATE audit_head SET keyed_from = 4")
        .execute(&mut c)
        .await
        .unwrap();
    assert_eq!(
        store.verify_audit().await.unwrap(),
        AuditCheck::Intact {
            entries: 4,
            legacy: 3
        }
    );
    store.close().await;
}

/// Concurrent reads share commits (group commit): every read is logged once, each answer
/// comes after its entry, the chain holds, and the head file follows to the last entry.
async fn concurrent_reads_are_each_logged_in_one_chain(app: TestApp) {
    const READS: usize = 64;
    let w = World::new(&app).await;
    let id = w.file(&app, "read by many at once").await;
    let before = last_seq(&app).await;
    let mut set = tokio::task::JoinSet::new();
    for i in 0..READS {
        let router = app.router.clone();
        let token = if i % 2 == 0 {
            w.sm.clone()
        } else {
            w.maintainer.clone()
        };
        let path = format!("/api/v1/advisories/{id}");
        set.spawn(async move {
            use tower::ServiceExt;
            let req = axum::http::Request::get(path)
                .header("authorization", format!("Bearer {token}"))
                .body(axum::body::Body::empty())
                .unwrap();
            router.oneshot(req).await.unwrap().status()
        });
    }
    for status in set.join_all().await {
        assert_eq!(status, StatusCode::OK);
    }
    let n = last_seq(&app).await;
    assert_eq!(n - before, READS as i64, "one entry per read");
    let log = app
        .get(&format!("/api/v1/advisories/{id}/audit"), Some(&w.sm))
        .await;
    let reads = actions(&log.json)
        .into_iter()
        .filter(|(a, _)| a == "read")
        .count();
    assert_eq!(reads, READS, "{}", log.text);
    assert_eq!(
        app.store.verify_audit().await.unwrap(),
        AuditCheck::Intact {
            entries: n + 1,
            legacy: 0
        },
        "the chain after concurrent reads (the audit log read is an entry too)"
    );
    // The head file names the last entry: cutting it is found.
    let mut c = sqlx::AnyConnection::connect(&app.url).await.unwrap();
    let last = last_seq(&app).await;
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "DELETE FROM audit_log WHERE seq = {last}"
    )))
    .execute(&mut c)
    .await
    .unwrap();
    match app.store.verify_audit().await.unwrap() {
        AuditCheck::Broken { reason, .. } => {
            assert!(reason.contains("removed from the end"), "{reason}")
        }
        other => panic!("{other:?}"),
    }
}

on_both_backends!(
    concurrent_reads_are_each_logged_in_one_chain,
    reads_and_changes_are_logged_without_content,
    tampering_is_detected,
    a_chain_rewritten_without_the_key_is_found,
    entries_cut_from_the_end_are_found,
    rotating_the_sealing_key_keeps_the_chain_verifying,
    entries_from_before_keyed_hashes_are_accepted_only_before_them
);

#[allow(dead_code)]
const _: Method = Method::GET;
