//! Upgrades (issue 17): a database made by the previous release (commit 0e06849, with data
//! in it, made by `scripts/make-upgrade-fixture` with that release's own binary) migrates to
//! this one on SQLite and on PostgreSQL, keeps every advisory, comment, attachment, state,
//! score and audit entry as the old version showed them, works with the new features, and
//! migrating it again changes nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use embargo_server::{AppState, Config};
use embargo_store::{AuditCheck, KeySource, ManualClock, Store};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sqlx::Connection;
use tower::ServiceExt;

use crate::support::{BASE_URL, postgres_database_for_binary};

/// The schema version of the previous release (its last migration).
const PREVIOUS_SCHEMA: i64 = 24;

fn fixture() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/upgrade-0e06849")
}

/// What the old version's API showed, saved beside the database by the fixture script.
fn expected(backend: &str) -> Value {
    let text = std::fs::read_to_string(fixture().join(backend).join("expected.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

/// The current code over a migrated database: its router, store and clock.
struct Migrated {
    router: Router,
    store: Store,
    url: String,
    key: PathBuf,
    clock: Arc<ManualClock>,
    config: Arc<Config>,
    _dir: tempfile::TempDir,
}

struct Resp {
    status: StatusCode,
    bytes: Vec<u8>,
    json: Value,
}

impl Resp {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.bytes).into_owned()
    }
}

impl Migrated {
    /// A data folder holding the fixture's key file and `backend`'s audit head file.
    fn data_dir(backend: &str) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        std::fs::copy(
            fixture().join("embargo.key"),
            dir.path().join("embargo.key"),
        )
        .unwrap();
        std::fs::copy(
            fixture().join(backend).join("audit.head"),
            dir.path().join("audit.head"),
        )
        .unwrap();
        dir
    }

    /// Opens the store on `url` (which migrates it), at a time just after the fixture was made.
    async fn open(dir: tempfile::TempDir, url: String, made_at: time::OffsetDateTime) -> Self {
        let clock = Arc::new(ManualClock::new(made_at + time::Duration::hours(1)));
        let key = dir.path().join("embargo.key");
        let store = Store::open(&url, clock.clone(), KeySource::File(key.clone()))
            .await
            .expect("the current code opens (and migrates) the previous release's database");
        let mut config = Config {
            data_dir: dir.path().to_owned(),
            ..Config::default()
        };
        config.server.public_url = BASE_URL.into();
        let config = Arc::new(config);
        let router = embargo_server::router(AppState {
            store: store.clone(),
            config: config.clone(),
            signer: None,
            public_cache: Arc::default(),
        });
        Self {
            router,
            store,
            url,
            key,
            clock,
            config,
            _dir: dir,
        }
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some(v) => b
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(v.to_string())),
            None => b.body(Body::empty()),
        };
        let resp = self.router.clone().oneshot(req.unwrap()).await.unwrap();
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp {
            status,
            bytes,
            json,
        }
    }

    /// A page as a browser holding session cookie `session`.
    async fn page(&self, path: &str, session: &str) -> Resp {
        let req = Request::builder()
            .uri(path)
            .header(header::COOKIE, format!("embargo_session={session}"))
            .body(Body::empty())
            .unwrap();
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .unwrap()
            .to_bytes()
            .to_vec();
        Resp {
            status,
            bytes,
            json: Value::Null,
        }
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.call(Method::GET, path, token, None).await
    }

    /// A call that must answer `want`.
    async fn ok(
        &self,
        method: Method,
        path: &str,
        token: &str,
        body: Value,
        want: StatusCode,
    ) -> Value {
        let r = self
            .call(method.clone(), path, Some(token), Some(body))
            .await;
        assert_eq!(r.status, want, "{method} {path}: {}", r.text());
        r.json
    }

    async fn run_jobs(&self) -> usize {
        embargo_server::jobs::ensure_recurring(&self.store)
            .await
            .unwrap();
        let network = self.config.network_policy().unwrap();
        embargo_server::jobs::run_due(embargo_server::jobs::Context {
            store: &self.store,
            mailer: None,
            base_url: BASE_URL,
            network: &network,
            config: Some(&self.config),
        })
        .await
    }
}

fn made_at(exp: &Value) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(
        exp["made_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap()
}

/// The schema versions the database records as applied.
async fn versions(url: &str) -> Vec<i64> {
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(url).await.unwrap();
    let v = sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
        .fetch_all(&mut c)
        .await
        .unwrap();
    c.close().await.unwrap();
    v
}

/// Every table's row count, the applied migrations and the audit head: what a second
/// migration must leave exactly as it was.
async fn snapshot(url: &str, backend: &str) -> BTreeMap<String, String> {
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(url).await.unwrap();
    let tables: Vec<String> = sqlx::query_scalar(if backend == "sqlite" {
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
    } else {
        "SELECT CAST(tablename AS TEXT) FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename"
    })
    .fetch_all(&mut c)
    .await
    .unwrap();
    let mut out = BTreeMap::new();
    for t in tables {
        let n: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM {t}")))
            .fetch_one(&mut c)
            .await
            .unwrap();
        out.insert(t, n.to_string());
    }
    let migrations: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM schema_migrations ORDER BY version")
            .fetch_all(&mut c)
            .await
            .unwrap();
    out.insert("(migrations)".into(), format!("{migrations:?}"));
    let (seq, hash): (i64, String) = sqlx::query_as("SELECT seq, hash FROM audit_head")
        .fetch_one(&mut c)
        .await
        .unwrap();
    out.insert("(audit head)".into(), format!("{seq} {hash}"));
    c.close().await.unwrap();
    out
}

/// Timestamps as instants (the same instant may be written with other digits), everything
/// else as it is.
fn normalised(v: &Value) -> Value {
    match v {
        Value::String(s) => {
            match time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339) {
                Ok(t) => json!({"instant": t.unix_timestamp_nanos().to_string()}),
                Err(_) => v.clone(),
            }
        }
        Value::Array(a) => Value::Array(a.iter().map(normalised).collect()),
        Value::Object(o) => {
            Value::Object(o.iter().map(|(k, v)| (k.clone(), normalised(v))).collect())
        }
        other => other.clone(),
    }
}

/// `now[key]` is `old[key]` for each key (a key neither shows counts as the same; one that
/// only one of them shows does not).
fn assert_same(what: &str, old: &Value, now: &Value, keys: &[&str]) {
    for k in keys {
        let (o, n) = (&old[*k], &now[*k]);
        assert_eq!(
            normalised(n),
            normalised(o),
            "{what}: {k} changed in the upgrade"
        );
    }
}

const ADVISORY_FIELDS: &[&str] = &[
    "id",
    "state",
    "organisation",
    "repository",
    "title",
    "summary",
    "description",
    "cve_id",
    "cvss_vector",
    "cvss_vectors",
    "cvss",
    "cwe_ids",
    "references",
    "credits",
    "vulnerabilities",
    "published_at",
    "revision",
    "updated_at",
    "embargo",
    "case",
    "ready",
];
const TRACKING_FIELDS: &[&str] = &[
    "reporter",
    "created_at",
    "first_response_at",
    "response_due_at",
    "close_reason",
    "close_message",
    "duplicate_of",
];

/// Everything the old version showed is there and the same, and the audit chain verifies.
async fn check_kept(app: &Migrated, exp: &Value) {
    let audit_before = app.store.verify_audit().await.unwrap();
    let AuditCheck::Intact { entries, .. } = audit_before else {
        panic!("the migrated audit log does not verify: {audit_before:?}");
    };
    let tokens = &exp["tokens"];
    let sm = tokens["sm"].as_str().unwrap();
    let labels = exp["labels"].as_object().unwrap();
    // Every state of the old version is represented, so each is checked below.
    let states: std::collections::BTreeSet<&str> = exp["advisories"]
        .as_object()
        .unwrap()
        .values()
        .map(|a| a["advisory"]["state"].as_str().unwrap())
        .collect();
    assert_eq!(
        states,
        ["closed", "draft", "published", "triage", "withdrawn"].into(),
        "the fixture covers every state"
    );

    // The old API tokens still authenticate, as the same people.
    for (who, token) in tokens.as_object().unwrap() {
        let r = app.get("/api/v1/user", token.as_str()).await;
        assert_eq!(r.status, StatusCode::OK, "{who}'s token: {}", r.text());
        assert_eq!(
            r.json["email"].as_str(),
            Some(format!("{who}@example.org").as_str()),
            "{}",
            r.text()
        );
    }

    // The old browser session is still signed in (and a made-up one is not).
    let session = exp["sessions"]["sm"].as_str().unwrap();
    let r = app.page("/account", session).await;
    assert_eq!(r.status, StatusCode::OK, "the old session: {}", r.text());
    assert!(r.text().contains("Sign out"), "{}", r.text());
    let r = app.page("/account", &"0".repeat(session.len())).await;
    assert!(
        r.status != StatusCode::OK || !r.text().contains("Sign out"),
        "{}",
        r.text()
    );

    let mut audit_entries = 0;
    for (id, old) in exp["advisories"].as_object().unwrap() {
        let r = app.get(&format!("/api/v1/advisories/{id}"), Some(sm)).await;
        assert_eq!(r.status, StatusCode::OK, "{id}: {}", r.text());
        assert_same(id, &old["advisory"], &r.json, ADVISORY_FIELDS);
        assert_same(
            &format!("{id} tracking"),
            &old["advisory"]["tracking"],
            &r.json["tracking"],
            TRACKING_FIELDS,
        );
        assert_eq!(
            r.json["cve"]["cve_id"], old["advisory"]["cve"]["cve_id"],
            "{id}: the CVE record"
        );

        let r = app
            .get(&format!("/api/v1/advisories/{id}/comments"), Some(sm))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{id}: {}", r.text());
        let (old_c, new_c) = (
            old["comments"].as_array().unwrap(),
            r.json.as_array().unwrap(),
        );
        assert_eq!(new_c.len(), old_c.len(), "{id}: comments {}", r.text());
        for (o, n) in old_c.iter().zip(new_c) {
            assert_same(
                &format!("{id} comment"),
                o,
                n,
                &["id", "author", "body", "internal", "created_at"],
            );
        }

        let r = app
            .get(&format!("/api/v1/advisories/{id}/attachments"), Some(sm))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{id}: {}", r.text());
        let (old_a, new_a) = (
            old["attachments"].as_array().unwrap(),
            r.json.as_array().unwrap(),
        );
        assert_eq!(new_a.len(), old_a.len(), "{id}: attachments {}", r.text());
        for (o, n) in old_a.iter().zip(new_a) {
            assert_same(
                &format!("{id} attachment"),
                o,
                n,
                &["id", "filename", "size", "sha256", "uploader", "created_at"],
            );
            let aid = o["id"].as_str().unwrap();
            let r = app
                .get(
                    &format!("/api/v1/advisories/{id}/attachments/{aid}"),
                    Some(sm),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{id}/{aid}: {}", r.text());
            assert_eq!(
                r.bytes,
                std::fs::read(fixture().join("poc.py")).unwrap(),
                "the attachment's bytes, unsealed with the old key"
            );
        }

        // The old entries are all there, unchanged (reading an unpublished advisory adds
        // entries after them).
        let r = app
            .get(&format!("/api/v1/advisories/{id}/audit"), Some(sm))
            .await;
        assert_eq!(r.status, StatusCode::OK, "{id}: {}", r.text());
        let new_audit: BTreeMap<i64, &Value> = r
            .json
            .as_array()
            .unwrap()
            .iter()
            .map(|e| (e["seq"].as_i64().unwrap(), e))
            .collect();
        for o in old["audit"].as_array().unwrap() {
            let seq = o["seq"].as_i64().unwrap();
            let n = new_audit
                .get(&seq)
                .unwrap_or_else(|| panic!("{id}: audit entry {seq} is gone"));
            assert_same(
                &format!("{id} audit entry {seq}"),
                o,
                n,
                &[
                    "seq",
                    "action",
                    "actor",
                    "advisory_id",
                    "at",
                    "detail",
                    "hash",
                    "prev_hash",
                    "origin",
                ],
            );
            audit_entries += 1;
        }
    }
    assert!(
        audit_entries > 30,
        "the fixture has audit entries ({audit_entries})"
    );
    assert!(entries > audit_entries, "{entries} entries verified");

    // The advisories were made in the states their names say.
    for (label, id) in labels {
        let state = match label.as_str() {
            "inbox" => "triage",
            "duplicate" => "closed",
            s => s,
        };
        assert_eq!(
            exp["advisories"][id.as_str().unwrap()]["advisory"]["state"].as_str(),
            Some(state),
            "{label}"
        );
    }
    let draft = labels["draft"].as_str().unwrap();
    let old_draft = &exp["advisories"][draft]["advisory"];
    assert_eq!(old_draft["embargo"]["state"], "active");
    assert_eq!(old_draft["cve_id"], "CVE-2026-50001");
    assert_eq!(old_draft["cvss"][1]["base_score"], 9.3);
    assert_eq!(old_draft["vulnerabilities"].as_array().unwrap().len(), 2);
    assert_eq!(old_draft["credits"].as_array().unwrap().len(), 2);

    // The public sees the same advisories, and nothing unpublished.
    let r = app.get("/api/v1/advisories", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let ids = |v: &Value| -> std::collections::BTreeSet<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|a| a["id"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(ids(&r.json), ids(&exp["public"]), "the public list");
    for label in ["triage", "draft", "closed", "inbox"] {
        let id = labels[label].as_str().unwrap();
        let r = app.get(&format!("/api/v1/advisories/{id}"), None).await;
        assert_eq!(
            r.status,
            StatusCode::NOT_FOUND,
            "{label} is not public: {}",
            r.text()
        );
    }

    // The organisation's policy and people came along.
    let r = app.get("/api/v1/orgs/coco", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json["policy"]["response_days"], 7, "{}", r.text());
    assert_eq!(r.json["policy"]["supported_releases"], 2, "{}", r.text());
    let r = app.get("/api/v1/orgs/coco/repos", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json.as_array().unwrap().len(), 2, "{}", r.text());
    assert!(
        r.text().contains("guest-components"),
        "the upstream: {}",
        r.text()
    );
    let r = app
        .get("/api/v1/orgs/coco/repos/guest/releases", Some(sm))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(r.text().contains("v0.8.0"), "the release: {}", r.text());
    let r = app.get("/api/v1/orgs/coco/cve", Some(sm)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(
        r.text().contains("CVE-2026-50002") && !r.text().contains("CVE-2026-50001"),
        "the block's one id left: {}",
        r.text()
    );
    let r = app
        .get(
            "/api/v1/user/mail-preferences",
            tokens["maintainer"].as_str(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json["daily_digest"], true, "{}", r.text());
    assert_eq!(r.json["replies"], false, "{}", r.text());
}

/// The new version's features work on the migrated data.
async fn check_new_work(app: &Migrated, exp: &Value) {
    let tokens = &exp["tokens"];
    let (sm, reporter) = (
        tokens["sm"].as_str().unwrap(),
        tokens["reporter"].as_str().unwrap(),
    );
    let published = exp["labels"]["published"].as_str().unwrap();

    // The public index (migration 27) was built from the migrated advisories.
    let r = app
        .call(
            Method::POST,
            "/osv/v1/query",
            None,
            Some(json!({"package": {"ecosystem": "crates.io", "name": "image-rs"}, "version": "0.8.0"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(
        r.text().contains(published),
        "the OSV query finds {published}: {}",
        r.text()
    );
    let r = app
        .get(&format!("/advisories/{published}/osv.json"), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    crate::support::assert_valid_osv(&r.json);
    assert!(r.text().contains("image-rs"), "{}", r.text());
    let r = app.get("/feeds/advisories.atom", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(r.text().contains(published), "{}", r.text());

    // A new report, a thread, and its publication.
    let id = app
        .ok(
            Method::POST,
            "/api/v1/orgs/coco/repos/guest/advisories",
            reporter,
            json!({"title": "Filed after the upgrade", "description": "Still works.",
                   "cvss_vector": "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N"}),
            StatusCode::CREATED,
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let adv = format!("/api/v1/advisories/{id}");
    app.ok(
        Method::POST,
        &format!("{adv}/comments"),
        sm,
        json!({"body": "Confirmed."}),
        StatusCode::CREATED,
    )
    .await;
    app.ok(
        Method::POST,
        &format!("{adv}/accept"),
        sm,
        json!({}),
        StatusCode::OK,
    )
    .await;
    app.ok(
        Method::PATCH,
        &adv,
        sm,
        json!({"vulnerabilities": [{"package": {"ecosystem": "crates.io", "name": "image-rs"},
               "vulnerable_version_range": "< 0.8.2", "patched_versions": "0.8.2"}]}),
        StatusCode::OK,
    )
    .await;
    let v = app
        .ok(
            Method::POST,
            &format!("{adv}/publish"),
            sm,
            json!({}),
            StatusCode::OK,
        )
        .await;
    assert_eq!(v["state"], "published");
    let r = app.get(&adv, None).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "published after the upgrade: {}",
        r.text()
    );

    // The migrated draft waits for its migrated embargo, marked ready: when the embargo
    // ends, the scheduler publishes it.
    let draft = exp["labels"]["draft"].as_str().unwrap();
    let r = app
        .call(
            Method::POST,
            &format!("/api/v1/advisories/{draft}/publish"),
            Some(sm),
            Some(json!({})),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::CONFLICT,
        "the embargo holds: {}",
        r.text()
    );
    app.ok(
        Method::POST,
        &format!("/api/v1/advisories/{draft}/ready"),
        sm,
        json!({"ready": true}),
        StatusCode::OK,
    )
    .await;

    // A migrated report in triage takes new comments and is closed.
    let triage = exp["labels"]["triage"].as_str().unwrap();
    app.ok(
        Method::POST,
        &format!("/api/v1/advisories/{triage}/comments"),
        reporter,
        json!({"body": "Any news?"}),
        StatusCode::CREATED,
    )
    .await;

    // A policy field added after the previous release, on the migrated organisation.
    app.ok(
        Method::PATCH,
        "/api/v1/orgs/coco",
        sm,
        json!({"policy_text": "We answer within a week."}),
        StatusCode::OK,
    )
    .await;
    let r = app.get("/orgs/coco/SECURITY.md", None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert!(
        r.text().contains("We answer within a week."),
        "{}",
        r.text()
    );

    // The queue the old version left runs under the new code, until past the embargo's end.
    app.run_jobs().await;
    let ends_at = time::OffsetDateTime::parse(
        exp["advisories"][draft]["advisory"]["embargo"]["ends_at"]
            .as_str()
            .unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    app.clock
        .advance(ends_at - app.store.now() + time::Duration::minutes(1));
    app.run_jobs().await;
    let failed: Vec<_> = app
        .store
        .jobs()
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.last_error.is_some())
        .collect();
    assert!(
        failed.is_empty(),
        "jobs failed on the migrated data: {failed:?}"
    );
    let v = app.get(&format!("/api/v1/advisories/{draft}"), None).await;
    assert_eq!(
        v.status,
        StatusCode::OK,
        "published at the embargo's end: {}",
        v.text()
    );
    assert_eq!(v.json["state"], "published");
    assert_eq!(v.json["cve_id"], "CVE-2026-50001");
    let r = app.get("/api/v1/advisories", None).await;
    assert!(
        r.text().contains(&id) && r.text().contains(draft),
        "{}",
        r.text()
    );

    let check = app.store.verify_audit().await.unwrap();
    assert!(matches!(check, AuditCheck::Intact { .. }), "{check:?}");
}

/// Opening the migrated database again applies nothing and changes nothing.
async fn check_migrating_again(app: Migrated, backend: &str) {
    let Migrated {
        store,
        url,
        key,
        clock,
        _dir: dir,
        ..
    } = app;
    store.close().await;
    let before = snapshot(&url, backend).await;
    let store = Store::open(&url, clock, KeySource::File(key))
        .await
        .expect("a second start opens the migrated database");
    store.close().await;
    assert_eq!(
        snapshot(&url, backend).await,
        before,
        "a second migration is a no-op"
    );
    drop(dir);
}

async fn upgrade(backend: &str, url: String, dir: tempfile::TempDir) {
    let exp = expected(backend);
    assert_eq!(
        versions(&url).await,
        (1..=PREVIOUS_SCHEMA).collect::<Vec<_>>(),
        "the fixture is at the previous release's schema"
    );
    let app = Migrated::open(dir, url, made_at(&exp)).await;
    let now = versions(&app.url).await;
    assert!(
        now.len() as i64 > PREVIOUS_SCHEMA,
        "migrations ran: {now:?}"
    );
    assert_eq!(
        now,
        (1..=now.len() as i64).collect::<Vec<_>>(),
        "every migration once"
    );
    check_kept(&app, &exp).await;
    check_new_work(&app, &exp).await;
    check_migrating_again(app, backend).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite() {
    let dir = Migrated::data_dir("sqlite");
    let db = dir.path().join("embargo.db");
    std::fs::copy(fixture().join("sqlite/embargo.db"), &db).unwrap();
    let url = format!("sqlite://{}", db.display());
    upgrade("sqlite", url, dir).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres() {
    let dir = Migrated::data_dir("postgres");
    let url = postgres_database_for_binary().await;
    let out = std::process::Command::new("psql")
        .args(["-X", "-q", "-v", "ON_ERROR_STOP=1", "-f"])
        .arg(fixture().join("postgres/dump.sql"))
        .arg(&url)
        .output()
        .expect("psql (PostgreSQL's client) on PATH");
    assert!(
        out.status.success(),
        "loading the dump: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    upgrade("postgres", url, dir).await;
}

#[test]
fn the_fixture_is_small_and_its_key_is_marked_test_only() {
    let mut total = 0;
    for entry in walk(&fixture()) {
        total += std::fs::metadata(&entry).unwrap().len();
    }
    assert!(total < 1024 * 1024, "the upgrade fixture is {total} bytes");
    let readme = std::fs::read_to_string(fixture().join("README.txt")).unwrap();
    assert!(readme.contains("test-only key"), "{readme}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
