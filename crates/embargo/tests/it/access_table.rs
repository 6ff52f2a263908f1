//! The access rule, proven through the HTTP API: every role × every advisory endpoint ×
//! every state, against a table written out here by hand (not derived from the rule).
//! A refused write must leave the advisory exactly as it was.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{TestApp, World, on_both_backends};

const STATES: [&str; 6] = [
    "triage",
    "draft",
    "published",
    "closed",
    "withdrawn",
    "disclosed",
];

/// Expected status per state, in the order of `STATES`.
type Row = (&'static str, [u16; 6]);

const ANONYMOUS: &[Row] = &[
    ("read", [404, 404, 200, 404, 200, 200]),
    ("page", [404, 404, 200, 404, 200, 200]),
    ("osv", [404, 404, 200, 404, 200, 404]),
    ("thread", [404, 404, 403, 404, 403, 200]),
    ("events", [404, 404, 403, 404, 403, 403]),
    ("comment", [404, 404, 401, 404, 401, 401]),
    ("edit", [404, 404, 401, 404, 401, 401]),
    ("accept", [404, 404, 401, 404, 401, 401]),
    ("close", [404, 404, 401, 404, 401, 401]),
    ("reopen", [404, 404, 401, 404, 401, 401]),
    ("publish", [404, 404, 401, 404, 401, 401]),
    ("withdraw", [404, 404, 401, 404, 401, 401]),
    ("invite", [404, 404, 401, 404, 401, 401]),
    ("attachments", [404, 404, 403, 404, 403, 403]),
    ("collaborators", [404, 404, 403, 404, 403, 403]),
    ("audit", [404, 404, 403, 404, 403, 403]),
    ("attach", [404, 404, 401, 404, 401, 401]),
    ("note", [404, 404, 401, 404, 401, 401]),
];

/// Signed in, but not in the audience: outsiders, site administrators, the reporter of
/// another advisory, the maintainer of another repository, a security manager of another
/// organisation.
const NOT_IN_AUDIENCE: &[Row] = &[
    ("read", [404, 404, 200, 404, 200, 200]),
    ("page", [404, 404, 200, 404, 200, 200]),
    ("osv", [404, 404, 200, 404, 200, 404]),
    ("thread", [404, 404, 403, 404, 403, 200]),
    ("events", [404, 404, 403, 404, 403, 403]),
    ("comment", [404, 404, 403, 404, 403, 403]),
    ("edit", [404, 404, 403, 404, 403, 403]),
    ("accept", [404, 404, 403, 404, 403, 403]),
    ("close", [404, 404, 403, 404, 403, 403]),
    ("reopen", [404, 404, 403, 404, 403, 403]),
    ("publish", [404, 404, 403, 404, 403, 403]),
    ("withdraw", [404, 404, 403, 404, 403, 403]),
    ("invite", [404, 404, 403, 404, 403, 403]),
    ("attachments", [404, 404, 403, 404, 403, 403]),
    ("collaborators", [404, 404, 403, 404, 403, 403]),
    ("audit", [404, 404, 403, 404, 403, 403]),
    ("attach", [404, 404, 403, 404, 403, 403]),
    ("note", [404, 404, 403, 404, 403, 403]),
];

const REPORTER: &[Row] = &[
    ("read", [200; 6]),
    ("page", [200; 6]),
    ("osv", [404, 404, 200, 404, 200, 404]),
    ("thread", [200; 6]),
    ("events", [403; 6]),
    ("comment", [201, 201, 201, 201, 201, 409]),
    ("edit", [403; 6]),
    ("accept", [403; 6]),
    ("close", [403; 6]),
    ("reopen", [403; 6]),
    ("publish", [403; 6]),
    ("withdraw", [403; 6]),
    ("invite", [403; 6]),
    ("attachments", [200; 6]),
    ("collaborators", [200; 6]),
    ("audit", [403; 6]),
    ("attach", [201, 201, 201, 201, 201, 409]),
    ("note", [403; 6]),
];

/// The steering committee reads, comments and keeps internal notes; nothing more.
const STEERING_COMMITTEE: &[Row] = &[
    ("read", [200; 6]),
    ("page", [200; 6]),
    ("osv", [404, 404, 200, 404, 200, 404]),
    ("thread", [200; 6]),
    ("events", [403; 6]),
    ("comment", [201, 201, 201, 201, 201, 409]),
    ("edit", [403; 6]),
    ("accept", [403; 6]),
    ("close", [403; 6]),
    ("reopen", [403; 6]),
    ("publish", [403; 6]),
    ("withdraw", [403; 6]),
    ("invite", [403; 6]),
    ("attachments", [200; 6]),
    ("collaborators", [200; 6]),
    ("audit", [403; 6]),
    ("attach", [201, 201, 201, 201, 201, 409]),
    ("note", [201; 6]),
];

/// Collaborators read and talk on the one advisory they were invited to.
const COLLABORATOR: &[Row] = REPORTER;

const MAINTAINER: &[Row] = &[
    ("read", [200; 6]),
    ("page", [200; 6]),
    ("osv", [404, 404, 200, 404, 200, 404]),
    ("thread", [200; 6]),
    ("events", [403; 6]),
    ("comment", [201, 201, 201, 201, 201, 409]),
    ("edit", [200, 200, 403, 409, 403, 403]),
    ("accept", [200, 409, 409, 409, 409, 409]),
    ("close", [200, 200, 409, 409, 409, 409]),
    ("reopen", [403; 6]),
    ("publish", [403; 6]),
    ("withdraw", [403; 6]),
    ("invite", [201, 201, 409, 409, 409, 409]),
    ("attachments", [200; 6]),
    ("collaborators", [200; 6]),
    ("audit", [403; 6]),
    ("attach", [201, 201, 201, 201, 201, 409]),
    ("note", [201; 6]),
];

const SECURITY_MANAGER: &[Row] = &[
    ("read", [200; 6]),
    ("page", [200; 6]),
    ("osv", [404, 404, 200, 404, 200, 404]),
    ("thread", [200; 6]),
    ("events", [200; 6]),
    ("comment", [201, 201, 201, 201, 201, 409]),
    ("edit", [200, 200, 200, 409, 409, 409]),
    ("accept", [200, 409, 409, 409, 409, 409]),
    ("close", [200, 200, 409, 409, 409, 409]),
    ("reopen", [409, 409, 409, 200, 409, 409]),
    ("publish", [409, 200, 409, 409, 409, 409]),
    ("withdraw", [409, 409, 200, 409, 409, 409]),
    ("invite", [201, 201, 409, 409, 409, 409]),
    ("attachments", [200; 6]),
    ("collaborators", [200; 6]),
    ("audit", [200; 6]),
    ("attach", [201, 201, 201, 201, 201, 409]),
    ("note", [201; 6]),
];

fn is_write(action: &str) -> bool {
    !matches!(
        action,
        "read" | "page" | "osv" | "thread" | "events" | "attachments" | "collaborators" | "audit"
    )
}

/// Performs `action` on advisory `id` as `token`; returns the status.
async fn perform(
    app: &TestApp,
    action: &str,
    id: &str,
    token: Option<&str>,
) -> (StatusCode, String) {
    let api = format!("/api/v1/advisories/{id}");
    let r = match action {
        "read" => app.get(&api, token).await,
        "page" => app.page(&format!("/advisories/{id}"), token).await,
        "osv" => app.get(&format!("/osv/v1/vulns/x_{id}"), token).await,
        "thread" => app.get(&format!("{api}/comments"), token).await,
        "events" => app.get(&format!("{api}/events"), token).await,
        "comment" => {
            app.post(
                &format!("{api}/comments"),
                token,
                json!({"body": "a comment"}),
            )
            .await
        }
        "edit" => {
            app.call(
                Method::PATCH,
                &api,
                token,
                Some(json!({"summary": "An edited summary"})),
            )
            .await
        }
        "close" => {
            app.post(
                &format!("{api}/close"),
                token,
                json!({"reason": "wont_fix", "message": "no"}),
            )
            .await
        }
        "attachments" => app.get(&format!("{api}/attachments"), token).await,
        "collaborators" => app.get(&format!("{api}/collaborators"), token).await,
        "audit" => app.get(&format!("{api}/audit"), token).await,
        "attach" => {
            let mut b = axum::http::Request::builder()
                .method(Method::POST)
                .uri(format!("{api}/attachments?filename=poc.txt"));
            if let Some(t) = token {
                b = b.header(axum::http::header::AUTHORIZATION, format!("Bearer {t}"));
            }
            app.request(b.body(axum::body::Body::from("proof")).unwrap())
                .await
        }
        "note" => {
            app.post(
                &format!("{api}/comments"),
                token,
                json!({"body": "an internal note", "internal": true}),
            )
            .await
        }
        "invite" => {
            static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
            let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            app.post(
                &format!("{api}/collaborators"),
                token,
                json!({"email": format!("invitee-{n}@example.org")}),
            )
            .await
        }
        "withdraw" => {
            app.post(
                &format!("{api}/withdraw"),
                token,
                json!({"reason": "a duplicate of an older advisory"}),
            )
            .await
        }
        "accept" | "reopen" | "publish" => {
            app.call(Method::POST, &format!("{api}/{action}"), token, None)
                .await
        }
        other => panic!("unknown action {other}"),
    };
    (r.status, r.text)
}

/// The advisory as its security manager sees it, to prove a refused write changed nothing.
async fn snapshot(app: &TestApp, w: &World, id: &str) -> Value {
    let r = app
        .get(&format!("/api/v1/advisories/{id}"), Some(&w.sm))
        .await;
    let c = app
        .get(&format!("/api/v1/advisories/{id}/comments"), Some(&w.sm))
        .await;
    let p = app
        .get(
            &format!("/api/v1/advisories/{id}/collaborators"),
            Some(&w.sm),
        )
        .await;
    let f = app
        .get(&format!("/api/v1/advisories/{id}/attachments"), Some(&w.sm))
        .await;
    json!({"advisory": r.json, "comments": c.json, "collaborators": p.json, "attachments": f.json})
}

async fn check_role(
    app: &TestApp,
    w: &World,
    role: &str,
    token: Option<&str>,
    table: &[Row],
    disclosed: &str,
    failures: &mut Vec<String>,
) {
    let mut shared = Vec::new();
    for state in STATES {
        shared.push(if state == "disclosed" {
            disclosed.to_owned()
        } else {
            w.advisory_in(app, state).await
        });
    }
    for (action, expected) in table {
        for (i, state) in STATES.iter().enumerate() {
            // A write expected to succeed gets a fresh advisory; one expected to be refused
            // uses the shared one, and the snapshot below proves it changed nothing (if it
            // did, this cell and the following ones fail).
            // Disclosure takes the clock past the organisation's policy: one disclosed report
            // serves every role (the writes that succeed on it are internal notes).
            let id = if is_write(action) && expected[i] < 300 && *state != "disclosed" {
                w.advisory_in(app, state).await
            } else {
                shared[i].clone()
            };
            let before = snapshot(app, w, &id).await;
            let (status, body) = perform(app, action, &id, token).await;
            if status.as_u16() != expected[i] {
                failures.push(format!(
                    "{role} {action} {state}: expected {}, got {status}: {body}",
                    expected[i]
                ));
            }
            if !status.is_success() && snapshot(app, w, &id).await != before {
                failures.push(format!(
                    "{role} {action} {state}: refused with {status} but the advisory changed"
                ));
            }
            // The list shows exactly what a direct read allows.
            if *action == "read" {
                let list = app.get("/api/v1/advisories?limit=500", token).await;
                let listed = list
                    .json
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|a| a["id"] == id.as_str());
                if listed != (status == StatusCode::OK) {
                    failures.push(format!(
                        "{role} list {state}: listed={listed} but read gave {status}"
                    ));
                }
            }
        }
    }
}

/// A closed report (with collaborators and an attachment) disclosed under a one-day policy,
/// which is then turned off again so no other closed report follows it.
async fn disclosed_report(app: &TestApp, w: &World) -> String {
    let policy = |days: u32| async move {
        let r = app
            .call(
                Method::PATCH,
                "/api/v1/orgs/coco",
                Some(&w.sm),
                Some(json!({"disclose_closed_days": days})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    };
    let id = w.advisory_in(app, "triage").await;
    let (status, body) = perform(app, "attach", &id, Some(&w.reporter)).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, body) = perform(app, "close", &id, Some(&w.sm)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    policy(1).await;
    app.clock
        .advance(time::Duration::days(1) + time::Duration::minutes(1));
    assert_eq!(app.store.run_disclosures().await.unwrap().disclosed, 1);
    policy(0).await;
    let r = app.get(&format!("/api/v1/advisories/{id}"), None).await;
    assert_eq!(r.json["state"], "disclosed", "{}", r.text);
    id
}

async fn every_role_every_action_every_state(app: TestApp) {
    let w = World::new(&app).await;
    let mut failures = Vec::new();
    let roles: Vec<(&str, Option<&str>, &[Row])> = vec![
        ("anonymous", None, ANONYMOUS),
        ("outsider", Some(&w.outsider), NOT_IN_AUDIENCE),
        ("site administrator", Some(&w.admin), NOT_IN_AUDIENCE),
        (
            "reporter of another advisory",
            Some(&w.other_reporter),
            NOT_IN_AUDIENCE,
        ),
        (
            "maintainer of another repository",
            Some(&w.other_maintainer),
            NOT_IN_AUDIENCE,
        ),
        (
            "security manager of another organisation",
            Some(&w.other_org_sm),
            NOT_IN_AUDIENCE,
        ),
        ("reporter", Some(&w.reporter), REPORTER),
        ("maintainer", Some(&w.maintainer), MAINTAINER),
        ("security manager", Some(&w.sm), SECURITY_MANAGER),
        ("steering committee", Some(&w.sc), STEERING_COMMITTEE),
        ("collaborator", Some(&w.collaborator), COLLABORATOR),
        (
            "revoked collaborator",
            Some(&w.revoked_collaborator),
            NOT_IN_AUDIENCE,
        ),
        (
            "expired collaborator",
            Some(&w.expired_collaborator),
            NOT_IN_AUDIENCE,
        ),
    ];
    // The other reporter has a report of their own on the same repository.
    let r = app
        .post(
            "/api/v1/orgs/coco/repos/guest/advisories",
            Some(&w.other_reporter),
            json!({"title": "theirs", "description": "d"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED);
    let disclosed = disclosed_report(&app, &w).await;
    for (role, token, table) in roles {
        check_role(&app, &w, role, token, table, &disclosed, &mut failures).await;
    }
    assert!(
        failures.is_empty(),
        "{} cells disagree with the table:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// A hidden advisory and a missing one answer with the same bytes, on every endpoint.
async fn hidden_looks_exactly_like_missing(app: TestApp) {
    let w = World::new(&app).await;
    let hidden = w.advisory_in(&app, "draft").await;
    let missing = "EMB-2222-3333-4444";
    for action in [
        "read",
        "thread",
        "events",
        "comment",
        "edit",
        "accept",
        "close",
        "publish",
        "osv",
        "page",
        "attachments",
        "collaborators",
        "audit",
        "attach",
        "invite",
    ] {
        for token in [
            None,
            Some(w.outsider.as_str()),
            Some(w.other_maintainer.as_str()),
        ] {
            let (s1, b1) = perform(&app, action, &hidden, token).await;
            let (s2, b2) = perform(&app, action, missing, token).await;
            assert_eq!(
                (s1, &b1),
                (s2, &b2),
                "{action} differs between hidden and missing"
            );
            assert_eq!(s1, StatusCode::NOT_FOUND);
            assert!(
                !b1.contains(&hidden),
                "{action}: the error names the hidden advisory"
            );
        }
    }
}

/// Roles change access at once: a maintainer removed from the repository loses it.
async fn removing_a_maintainer_revokes_access(app: TestApp) {
    let w = World::new(&app).await;
    let id = w.advisory_in(&app, "triage").await;
    let path = format!("/api/v1/advisories/{id}");
    assert_eq!(
        app.get(&path, Some(&w.maintainer)).await.status,
        StatusCode::OK
    );
    let r = app
        .call(
            Method::DELETE,
            "/api/v1/orgs/coco/repos/guest/maintainers/maintainer@example.org",
            Some(&w.sm),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(
        app.get(&path, Some(&w.maintainer)).await.status,
        StatusCode::NOT_FOUND
    );
}

/// Organisation management follows its own rule.
async fn organisation_roles(app: TestApp) {
    let w = World::new(&app).await;
    type Case<'a> = (&'a str, Method, &'a str, Option<Value>, &'a str, u16);
    let cases: Vec<Case> = vec![
        (
            "outsider creates an org",
            Method::POST,
            "/api/v1/orgs",
            Some(json!({"slug": "x", "name": "X"})),
            &w.outsider,
            403,
        ),
        (
            "sm creates an org",
            Method::POST,
            "/api/v1/orgs",
            Some(json!({"slug": "x", "name": "X"})),
            &w.sm,
            403,
        ),
        (
            "admin adds a repo",
            Method::POST,
            "/api/v1/orgs/coco/repos",
            Some(json!({"slug": "admins", "name": "Admins"})),
            &w.admin,
            201,
        ),
        (
            "maintainer adds a repo",
            Method::POST,
            "/api/v1/orgs/coco/repos",
            Some(json!({"slug": "r", "name": "R"})),
            &w.maintainer,
            403,
        ),
        (
            "sc adds a repo",
            Method::POST,
            "/api/v1/orgs/coco/repos",
            Some(json!({"slug": "r", "name": "R"})),
            &w.sc,
            403,
        ),
        (
            "other org's sm adds a repo",
            Method::POST,
            "/api/v1/orgs/coco/repos",
            Some(json!({"slug": "r", "name": "R"})),
            &w.other_org_sm,
            403,
        ),
        (
            "maintainer names a maintainer",
            Method::PUT,
            "/api/v1/orgs/coco/repos/guest/maintainers/outsider@example.org",
            None,
            &w.maintainer,
            403,
        ),
        (
            "sc names a member",
            Method::PUT,
            "/api/v1/orgs/coco/members/outsider@example.org",
            Some(json!({"role": "security_manager"})),
            &w.sc,
            403,
        ),
        (
            "sm names a member",
            Method::PUT,
            "/api/v1/orgs/coco/members/outsider@example.org",
            Some(json!({"role": "steering_committee"})),
            &w.sm,
            200,
        ),
        (
            "sm adds a repo",
            Method::POST,
            "/api/v1/orgs/coco/repos",
            Some(json!({"slug": "r", "name": "R"})),
            &w.sm,
            201,
        ),
        (
            "duplicate repo",
            Method::POST,
            "/api/v1/orgs/coco/repos",
            Some(json!({"slug": "r", "name": "R"})),
            &w.sm,
            409,
        ),
        (
            "duplicate org",
            Method::POST,
            "/api/v1/orgs",
            Some(json!({"slug": "coco", "name": "C"})),
            &w.admin,
            409,
        ),
        (
            "unknown org",
            Method::POST,
            "/api/v1/orgs/nope/repos",
            Some(json!({"slug": "r", "name": "R"})),
            &w.sm,
            404,
        ),
        (
            "unknown user",
            Method::PUT,
            "/api/v1/orgs/coco/members/nobody@example.org",
            Some(json!({"role": "security_manager"})),
            &w.sm,
            422,
        ),
    ];
    for (what, method, path, body, token, expected) in cases {
        let r = app.call(method, path, Some(token), body).await;
        assert_eq!(r.status.as_u16(), expected, "{what}: {}", r.text);
    }
    let anon = app
        .post("/api/v1/orgs", None, json!({"slug": "y", "name": "Y"}))
        .await;
    assert_eq!(anon.status, StatusCode::UNAUTHORIZED);
    let r = app
        .post(
            "/api/v1/orgs/coco/repos/guest/advisories",
            None,
            json!({"title": "t", "description": "d"}),
        )
        .await;
    assert_eq!(
        r.status,
        StatusCode::UNAUTHORIZED,
        "filing needs an account (for now)"
    );
}

on_both_backends!(
    every_role_every_action_every_state,
    hidden_looks_exactly_like_missing,
    removing_a_maintainer_revokes_access,
    organisation_roles,
);
