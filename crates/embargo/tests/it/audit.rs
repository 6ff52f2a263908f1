//! The access log: reads of unpublished advisories and every change are recorded with who,
//! what, when and from where, without the advisory's text, in a hash chain that tampering
//! breaks visibly.

use axum::http::{Method, StatusCode};
use embargo_store::AuditCheck;
use serde_json::{Value, json};
use sqlx::Connection;

use crate::support::{TestApp, World, on_both_backends};

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
            ("read", "maintainer@example.org"),
            ("read_thread", "maintainer@example.org"),
            ("commented", "sc@example.org"),
            ("list", "sc@example.org"),
        ]
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
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
            entries: last_seq(&app).await
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
        AuditCheck::Intact { entries: n }
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
                AuditCheck::Intact { .. } => {
                    panic!("changing {column} of entry {seq} went unnoticed")
                }
            }
            restore(&mut c, seq, &original).await;
            assert_eq!(
                app.store.verify_audit().await.unwrap(),
                AuditCheck::Intact { entries: n }
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
        AuditCheck::Intact { entries: n }
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

on_both_backends!(
    reads_and_changes_are_logged_without_content,
    tampering_is_detected
);

#[allow(dead_code)]
const _: Method = Method::GET;
