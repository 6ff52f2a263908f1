//! The public read model (issue 15), on both backends: the OSV query through the package
//! index finds exactly what a brute-force match over every published advisory finds, after
//! publication, a public revision, withdrawal, disclosure, import and a rebuild of the index;
//! the cached public documents (feeds, CSAF directory, bulletins) change their `ETag` after a
//! public change and not after a private one, answer 304 to `If-None-Match`, are gzipped when
//! asked, and never show a private change.

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use embargo_domain::advisory::{Advisory, ImportFacts, State};
use embargo_domain::types::{Ecosystem, Slug};
use embargo_formats::affects::{commit_affected, version_affected};
use embargo_formats::purl::same_package;
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use crate::support::{TestApp, World, on_both_backends};

const NAMES: &[&str] = &[
    "foo_bar",
    "Foo-Bar",
    "FOO.BAR",
    "guest",
    "Guest",
    "guest-two",
    "left-pad",
    "nothing",
];
const ECOSYSTEMS: &[Option<&str>] = &[None, Some("PyPI"), Some("crates.io"), Some("npm")];
const VERSIONS: &[Option<&str>] = &[
    None,
    Some("0.1.0"),
    Some("1.4.0"),
    Some("1.9"),
    Some("2.0.0"),
];
const COMMITS: &[&str] = &[
    "abcdef0123456789abcdef0123456789abcdef01",
    "ABCDEF0123456789ABCDEF0123456789ABCDEF01",
    "0123456789abcdef0123456789abcdef01234567",
    "feedface99",
];

/// One query of the grid, as JSON for the API.
fn queries() -> Vec<Value> {
    let mut out = Vec::new();
    for name in NAMES {
        for eco in ECOSYSTEMS {
            for version in VERSIONS {
                let mut package = json!({"name": name});
                if let Some(e) = eco {
                    package["ecosystem"] = json!(e);
                }
                let mut q = json!({"package": package});
                if let Some(v) = version {
                    q["version"] = json!(v);
                }
                out.push(q);
            }
        }
    }
    for c in COMMITS {
        out.push(json!({"commit": c}));
    }
    out
}

/// The advisories a query must find: every published advisory, matched one by one.
fn brute_force(all: &[Advisory], q: &Value) -> BTreeSet<String> {
    all.iter()
        .filter(|a| a.state == State::Published)
        .filter(|a| {
            a.content.vulnerabilities.iter().any(|v| {
                if let Some(c) = q["commit"].as_str() {
                    return commit_affected(v, c);
                }
                let name = q["package"]["name"].as_str().unwrap();
                let eco_ok = q["package"]["ecosystem"]
                    .as_str()
                    .is_none_or(|e| Ecosystem::parse(e).unwrap() == v.package.ecosystem);
                eco_ok
                    && same_package(&v.package.ecosystem, v.package.name.as_str(), name)
                    && q["version"]
                        .as_str()
                        .is_none_or(|ver| version_affected(v, ver))
            })
        })
        .map(|a| a.id.to_string())
        .collect()
}

fn ids_of(answer: &Value, prefix: &str) -> BTreeSet<String> {
    answer["vulns"]
        .as_array()
        .map(|v| {
            v.iter()
                .map(|r| {
                    let id = r["id"].as_str().unwrap();
                    id.strip_prefix(prefix).unwrap_or(id).to_owned()
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Asks every query of the grid, one by one and in one batch, and compares each answer
/// with the brute-force match; returns how many queries found something.
async fn agree(app: &TestApp, step: &str) -> usize {
    let all = app.store.public_advisories(None).await.unwrap();
    let prefix = app.config.osv.id_prefix.clone();
    let qs = queries();
    let mut found = 0;
    for q in &qs {
        let r = app.post("/osv/v1/query", None, q.clone()).await;
        assert_eq!(r.status, StatusCode::OK, "{step}: {q}: {}", r.text);
        let want = brute_force(&all, q);
        assert_eq!(ids_of(&r.json, &prefix), want, "{step}: {q}");
        found += usize::from(!want.is_empty());
    }
    let r = app
        .post("/osv/v1/querybatch", None, json!({"queries": qs}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{step}: {}", r.text);
    for (q, answer) in qs.iter().zip(r.json["results"].as_array().unwrap()) {
        assert_eq!(
            ids_of(answer, &prefix),
            brute_force(&all, q),
            "{step}: batch {q}"
        );
    }
    found
}

/// A report moved to draft with these affected packages, by the security manager.
async fn draft(app: &TestApp, w: &World, title: &str, vulnerabilities: Value) -> String {
    let id = w.file(app, title).await;
    let sm = Some(w.sm.as_str());
    let r = app
        .post(&format!("/api/v1/advisories/{id}/accept"), sm, json!({}))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/advisories/{id}"),
            sm,
            Some(json!({ "vulnerabilities": vulnerabilities })),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    id
}

async fn step(app: &TestApp, w: &World, id: &str, action: &str, body: Value) {
    let r = app
        .post(
            &format!("/api/v1/advisories/{id}/{action}"),
            Some(&w.sm),
            body,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{action}: {}", r.text);
}

fn vuln(eco: &str, name: &str, range: &str, patched: &str) -> Value {
    json!({"package": {"ecosystem": eco, "name": name}, "vulnerable_version_range": range, "patched_versions": patched})
}

async fn import(app: &TestApp, osv: Value) {
    let imported = embargo_formats::import::parse(osv.to_string().as_bytes()).unwrap();
    let facts = ImportFacts {
        source_id: imported.source_id.clone(),
        published_at: imported.published.unwrap_or(imported.modified),
        modified_at: imported.modified,
        withdrawn_at: imported.withdrawn,
    };
    app.store
        .import_advisory(
            &Slug::parse("coco").unwrap(),
            &Slug::parse("guest").unwrap(),
            imported.content,
            facts,
        )
        .await
        .unwrap();
}

async fn osv_query_follows_every_public_change(app: TestApp) {
    let w = World::new(&app).await;
    let prefix = app.config.osv.id_prefix.clone();
    let one = |eco: &str, name: &str, version: &str| json!({"package": {"ecosystem": eco, "name": name}, "version": version});
    let ask = |q: Value| {
        let app = &app;
        async move { app.post("/osv/v1/query", None, q).await.json }
    };

    // Publication, and a draft naming the same package (never found).
    let pypi = draft(
        &app,
        &w,
        "PyPI one",
        json!([vuln("PyPI", "Foo_Bar", "< 2.0.0", "2.0.0")]),
    )
    .await;
    let hidden = draft(
        &app,
        &w,
        "Hidden one",
        json!([vuln("PyPI", "foo-bar", "< 9.0.0", "9.0.0")]),
    )
    .await;
    assert_eq!(agree(&app, "nothing published").await, 0);
    step(&app, &w, &pypi, "publish", json!({})).await;
    let crates = draft(
        &app,
        &w,
        "Crate one",
        json!([vuln("crates.io", "guest", "< 1.5.0", "1.5.0")]),
    )
    .await;
    step(&app, &w, &crates, "publish", json!({})).await;
    let npm = draft(
        &app,
        &w,
        "npm one",
        json!([vuln("npm", "left-pad", "< 1.9.0", "1.9.0")]),
    )
    .await;
    step(&app, &w, &npm, "publish", json!({})).await;
    assert!(agree(&app, "published").await > 0);
    assert_eq!(
        ids_of(&ask(one("PyPI", "FOO.BAR", "1.4.0")).await, &prefix),
        BTreeSet::from([pypi.clone()]),
        "PEP 503 names, the draft left out"
    );

    // A public revision moves the crate to another name.
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/advisories/{crates}"),
            Some(&w.sm),
            Some(json!({"vulnerabilities": [vuln("crates.io", "guest-two", "< 1.5.0", "1.5.0")], "revision_summary": "The package was renamed"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    agree(&app, "revised").await;
    assert_eq!(ask(one("crates.io", "guest", "1.4.0")).await, json!({}));
    assert_eq!(
        ids_of(&ask(one("crates.io", "guest-two", "1.4.0")).await, &prefix),
        BTreeSet::from([crates.clone()])
    );

    // Withdrawal leaves it out.
    step(
        &app,
        &w,
        &npm,
        "withdraw",
        json!({"reason": "not a vulnerability after all"}),
    )
    .await;
    agree(&app, "withdrawn").await;
    assert_eq!(ask(one("npm", "left-pad", "1.4.0")).await, json!({}));

    // Disclosure makes a closed report public, but not an advisory: never an OSV answer.
    let r = app
        .call(
            Method::PATCH,
            "/api/v1/orgs/coco",
            Some(&w.sm),
            Some(json!({"disclose_closed_days": 30})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let closed = draft(
        &app,
        &w,
        "Closed one",
        json!([vuln("PyPI", "foo.bar", "< 1.0.0", "1.0.0")]),
    )
    .await;
    step(&app, &w, &closed, "close", json!({"reason": "wont_fix"})).await;
    app.clock.advance(time::Duration::days(23));
    app.run_jobs().await;
    app.clock.advance(time::Duration::days(8));
    app.run_jobs().await;
    let r = app.get(&format!("/api/v1/advisories/{closed}"), None).await;
    assert_eq!(r.json["state"], "disclosed", "{}", r.text);
    agree(&app, "disclosed").await;

    // Imports: one published with an ECOSYSTEM and a GIT range, one withdrawn.
    import(
        &app,
        json!({"schema_version": "1.6.0", "id": "OSV-2026-101", "modified": "2026-01-02T03:04:05Z",
            "published": "2026-01-01T00:00:00Z", "summary": "Overflow in foo-bar", "details": "Long text.",
            "affected": [
                {"package": {"ecosystem": "PyPI", "name": "foo-bar"},
                 "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.5"}]}]},
                {"package": {"ecosystem": "npm", "name": "left-pad"},
                 "ranges": [{"type": "GIT", "repo": "https://example.org/left-pad.git",
                             "events": [{"introduced": "abcdef0123456789abcdef0123456789abcdef01"}, {"fixed": "0123456789abcdef0123456789abcdef01234567"}]}]}
            ]}),
    )
    .await;
    import(
        &app,
        json!({"schema_version": "1.6.0", "id": "OSV-2026-102", "modified": "2026-01-03T00:00:00Z",
            "published": "2026-01-01T00:00:00Z", "withdrawn": "2026-01-03T00:00:00Z",
            "summary": "Not real", "details": "Withdrawn.",
            "affected": [{"package": {"ecosystem": "crates.io", "name": "guest-two"},
                          "ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}]}]}]}),
    )
    .await;
    agree(&app, "imported").await;
    let commit = ask(json!({"commit": "abcdef0123456789abcdef0123456789abcdef01"})).await;
    assert_eq!(
        commit["vulns"].as_array().map(Vec::len),
        Some(1),
        "{commit}"
    );
    assert_eq!(
        ids_of(&ask(one("PyPI", "Foo_Bar", "1.4.0")).await, &prefix).len(),
        2,
        "the published one and the imported one"
    );

    // A rebuilt index (as after migration 27 on an existing database) answers the same.
    sqlx::any::install_default_drivers();
    let pool = sqlx::AnyPool::connect(&app.url).await.unwrap();
    for sql in [
        "DELETE FROM public_packages",
        "DELETE FROM public_entries",
        "UPDATE public_state SET indexed = 0",
    ] {
        sqlx::query(sql).execute(&pool).await.unwrap();
    }
    pool.close().await;
    assert_eq!(
        ask(one("PyPI", "Foo_Bar", "1.4.0")).await,
        json!({}),
        "the index is what answers"
    );
    app.store.ensure_public_index().await.unwrap();
    agree(&app, "rebuilt").await;
    assert!(
        !ask(json!({"package": {"name": "foo-bar"}}))
            .await
            .to_string()
            .contains(&hidden),
        "a draft is never a candidate"
    );
}

/// A raw answer: status, headers, bytes.
async fn raw(
    app: &TestApp,
    path: &str,
    headers: &[(header::HeaderName, &str)],
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let mut b = Request::builder().uri(path);
    for (k, v) in headers {
        b = b.header(k, *v);
    }
    let resp = app
        .router
        .clone()
        .oneshot(b.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = resp.status();
    let h = resp.headers().clone();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .unwrap()
        .to_bytes()
        .to_vec();
    (status, h, bytes)
}

const DOCUMENTS: &[&str] = &[
    "/feeds/advisories.atom",
    "/orgs/coco/advisories.atom",
    "/.well-known/csaf/white/index.txt",
    "/.well-known/csaf/white/changes.csv",
    "/.well-known/csaf/provider-metadata.json",
    "/orgs/coco/bulletins.md?release=v0.15.0",
];

/// Each document's ETag and text.
async fn snapshot(app: &TestApp) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for d in DOCUMENTS {
        let (status, h, body) = raw(app, d, &[]).await;
        assert_eq!(status, StatusCode::OK, "{d}");
        let etag = h[header::ETAG].to_str().unwrap().to_owned();
        assert_eq!(h[header::CACHE_CONTROL], "public, no-cache", "{d}");
        assert_eq!(h[header::VARY], "accept-encoding", "{d}");
        out.push((etag, String::from_utf8(body).unwrap()));
    }
    out
}

async fn documents_are_cached_by_public_revision(app: TestApp) {
    let w = World::new(&app).await;
    let sm = Some(w.sm.as_str());
    let first = w.advisory_in(&app, "published").await;
    let before = snapshot(&app).await;
    for (d, (_, text)) in DOCUMENTS.iter().zip(&before) {
        if !d.contains("provider-metadata") {
            assert!(
                text.to_lowercase().contains(&first.to_lowercase()),
                "{d} lists the published advisory: {text}"
            );
        }
    }

    // Private changes: a new report, a draft with a secret title, an internal note and a
    // comment on the published advisory.
    let (title, secret) = ("DRAFT-TITLE-0815", "SECRET-TEXT-4711");
    let draft_id = w.advisory_in(&app, "draft").await;
    let r = app
        .call(
            Method::PATCH,
            &format!("/api/v1/advisories/{draft_id}"),
            sm,
            Some(json!({"title": title, "summary": title})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    w.file(&app, secret).await;
    for internal in [true, false] {
        let r = app
            .post(
                &format!("/api/v1/advisories/{first}/comments"),
                sm,
                json!({"body": secret, "internal": internal}),
            )
            .await;
        assert!(r.status.is_success(), "{}", r.text);
    }
    app.clock.advance(time::Duration::hours(1));
    let after_private = snapshot(&app).await;
    for (d, ((etag, text), (etag2, text2))) in
        DOCUMENTS.iter().zip(before.iter().zip(&after_private))
    {
        assert_eq!(etag, etag2, "{d}: a private change keeps the tag");
        assert_eq!(text, text2, "{d}");
        for hidden in [secret, title, draft_id.as_str()] {
            assert!(
                !text2.to_lowercase().contains(&hidden.to_lowercase()),
                "{d} shows {hidden}"
            );
        }
    }

    // 304 while unchanged, for the tag sent, in a list, or weak.
    for (d, (etag, _)) in DOCUMENTS.iter().zip(&before) {
        for sent in [etag.clone(), format!("\"x\", W/{etag}")] {
            let (status, h, body) = raw(&app, d, &[(header::IF_NONE_MATCH, &sent)]).await;
            assert_eq!(status, StatusCode::NOT_MODIFIED, "{d}");
            assert!(body.is_empty(), "{d}");
            assert_eq!(h[header::ETAG], etag.as_str(), "{d}");
        }
        let (status, _, _) = raw(&app, d, &[(header::IF_NONE_MATCH, "\"stale\"")]).await;
        assert_eq!(status, StatusCode::OK, "{d}");
    }

    // gzip when asked: the same bytes, under their own tag.
    for (d, (etag, text)) in DOCUMENTS.iter().zip(&before) {
        let (status, h, body) = raw(&app, d, &[(header::ACCEPT_ENCODING, "br, gzip")]).await;
        assert_eq!(status, StatusCode::OK, "{d}");
        assert_eq!(h[header::CONTENT_ENCODING], "gzip", "{d}");
        assert_ne!(h[header::ETAG], etag.as_str(), "{d}");
        let mut plain = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body[..]), &mut plain)
            .unwrap();
        assert_eq!(&plain, text, "{d}");
        let gz_tag = h[header::ETAG].to_str().unwrap();
        let (status, _, _) = raw(
            &app,
            d,
            &[
                (header::ACCEPT_ENCODING, "gzip"),
                (header::IF_NONE_MATCH, gz_tag),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "{d}");
        let (_, h, _) = raw(&app, d, &[(header::ACCEPT_ENCODING, "gzip;q=0")]).await;
        assert!(h.get(header::CONTENT_ENCODING).is_none(), "{d}");
    }

    // A public change: the draft is published (fixed in v0.15.0 too) and shows everywhere.
    step(&app, &w, &draft_id, "publish", json!({})).await;
    let after_public = snapshot(&app).await;
    for (d, ((etag, _), (etag2, text2))) in DOCUMENTS.iter().zip(before.iter().zip(&after_public)) {
        assert_ne!(etag, etag2, "{d}: a public change changes the tag");
        if !d.contains("provider-metadata") {
            assert!(
                text2.to_lowercase().contains(&draft_id.to_lowercase()),
                "{d}: {text2}"
            );
        }
        let (status, _, _) = raw(&app, d, &[(header::IF_NONE_MATCH, etag)]).await;
        assert_eq!(status, StatusCode::OK, "{d}: the old tag is stale");
    }
    // The cached documents hold only public text: the comments and the report never show.
    for (d, (_, text)) in DOCUMENTS.iter().zip(&after_public) {
        assert!(!text.contains(secret), "{d}");
    }

    // Withdrawal is a public change too; an unknown organisation is still a 404.
    step(
        &app,
        &w,
        &first,
        "withdraw",
        json!({"reason": "not a vulnerability after all"}),
    )
    .await;
    let withdrawn = snapshot(&app).await;
    assert_ne!(withdrawn[0].0, after_public[0].0);
    assert!(withdrawn[0].1.contains("[Withdrawn]"), "{}", withdrawn[0].1);
    let (status, _, _) = raw(&app, "/orgs/nope/advisories.atom", &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

/// An import tells nobody, and the notifier passes over its records at once: a report filed
/// after an import larger than one run of the notifier (200 events) is told in the next run.
async fn an_import_does_not_delay_the_next_notice(app: TestApp) {
    let w = World::new(&app).await;
    app.store.notify(crate::support::BASE_URL).await.unwrap();
    let before = app.store.claim_mail(10_000).await.unwrap();
    for q in &before {
        app.store.mail_sent(q.id).await.unwrap();
    }
    for i in 0..250 {
        import(
            &app,
            json!({
                "schema_version": "1.6.0",
                "id": format!("GHSA-imp{i:03}-xxxx-xxxx"),
                "modified": "2024-01-02T00:00:00Z",
                "published": "2024-01-01T00:00:00Z",
                "summary": format!("Imported {i}"),
                "details": "An imported record.",
                "affected": [{"package": {"ecosystem": "PyPI", "name": format!("imp{i}")},
                    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0"}]}]}]
            }),
        )
        .await;
    }
    let id = w.file(&app, "Filed after the import").await;
    app.store.notify(crate::support::BASE_URL).await.unwrap();
    let mails = app.store.claim_mail(10_000).await.unwrap();
    let subjects: Vec<&str> = mails.iter().map(|m| m.subject.as_str()).collect();
    assert!(
        subjects
            .iter()
            .any(|s| s.contains("New report") && s.contains(&id)),
        "one run of the notifier after the import tells of {id}: {subjects:?}"
    );
    assert!(
        !subjects.iter().any(|s| s.contains("Imported")),
        "an import tells nobody: {subjects:?}"
    );
}

on_both_backends!(
    osv_query_follows_every_public_change,
    documents_are_cached_by_public_revision,
    an_import_does_not_delay_the_next_notice
);
