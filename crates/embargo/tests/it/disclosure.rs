//! Disclosure of closed reports under the organisation's policy, on both backends: the
//! reporter is told a week ahead, the report then becomes public with its thread minus
//! internal notes; spam and exempted reports stay private; it never becomes an advisory.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::support::{TestApp, World, on_both_backends};

async fn closed_reports_are_disclosed_by_policy(app: TestApp) {
    let w = World::new(&app).await;
    let sm = Some(w.sm.as_str());
    let r = app
        .call(
            Method::PATCH,
            "/api/v1/orgs/coco",
            sm,
            Some(json!({"disclose_closed_days": 30})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app
        .call(
            Method::PATCH,
            "/api/v1/orgs/coco",
            sm,
            Some(json!({"disclose_closed_days": 9999})),
        )
        .await;
    assert_eq!(
        r.json["error"]["field"], "disclose_closed_days",
        "{}",
        r.text
    );

    let a = w.file(&app, "Disclosed one").await;
    let spam = w.file(&app, "Spam one").await;
    let kept = w.file(&app, "Kept one").await;
    for (id, body, internal) in [(&a, "public-answer", false), (&a, "internal-thought", true)] {
        let r = app
            .post(
                &format!("/api/v1/advisories/{id}/comments"),
                sm,
                json!({"body": body, "internal": internal}),
            )
            .await;
        assert!(r.status.is_success(), "{}", r.text);
    }
    // An exemption needs a closed report, a reason, and a security manager.
    let exempt = |id: String, who: Option<String>, reason: &'static str| {
        let app = &app;
        async move {
            app.post(
                &format!("/api/v1/advisories/{id}/disclosure-exemption"),
                who.as_deref(),
                json!({"reason": reason}),
            )
            .await
        }
    };
    assert_eq!(
        exempt(kept.clone(), Some(w.sm.clone()), "x").await.status,
        StatusCode::CONFLICT
    );
    for (id, reason) in [(&a, "wont_fix"), (&spam, "spam"), (&kept, "other")] {
        let r = app
            .post(
                &format!("/api/v1/advisories/{id}/close"),
                sm,
                json!({"reason": reason}),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    assert_eq!(
        exempt(kept.clone(), Some(w.sm.clone()), " ").await.json["error"]["field"],
        "reason"
    );
    assert_eq!(
        exempt(kept.clone(), Some(w.maintainer.clone()), "x")
            .await
            .status,
        StatusCode::FORBIDDEN
    );
    let r = exempt(
        kept.clone(),
        Some(w.sm.clone()),
        "the upstream fix is still under embargo",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // Three weeks and two days later: the reporter is told, nothing is public yet.
    app.clock.advance(time::Duration::days(23));
    let run = app.store.run_disclosures().await.unwrap();
    assert_eq!((run.announced, run.disclosed), (1, 0));
    assert_eq!(
        app.store.run_disclosures().await.unwrap().announced,
        0,
        "told once"
    );
    app.store.notify(crate::support::BASE_URL).await.unwrap();
    let mails = app.store.claim_mail(100).await.unwrap();
    let notice = mails
        .iter()
        .find(|m| m.to == "reporter@example.org" && m.subject.contains("To be disclosed on"))
        .unwrap_or_else(|| panic!("{mails:#?}"));
    assert!(notice.subject.contains(&a) && !notice.body.contains("public-answer"));
    assert_eq!(
        app.get(&format!("/api/v1/advisories/{a}"), None)
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    // A week later it is public, with the thread but not the internal note.
    app.clock.advance(time::Duration::days(7));
    assert_eq!(app.store.run_disclosures().await.unwrap().disclosed, 1);
    let r = app.get(&format!("/api/v1/advisories/{a}"), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["state"], "disclosed");
    let thread = app
        .get(&format!("/api/v1/advisories/{a}/comments"), None)
        .await;
    assert_eq!(thread.status, StatusCode::OK, "{}", thread.text);
    assert!(thread.text.contains("public-answer") && !thread.text.contains("internal-thought"));
    let page = app.page(&format!("/advisories/{a}"), None).await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("public-answer") && !page.text.contains("internal-thought"));
    // The triagers still read their notes; nobody writes in it any more.
    let notes = app
        .get(&format!("/api/v1/advisories/{a}/comments"), sm)
        .await;
    assert!(notes.text.contains("internal-thought"));
    let r = app
        .post(
            &format!("/api/v1/advisories/{a}/comments"),
            Some(&w.reporter),
            json!({"body": "late"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.text);
    // Spam and the exempted report stay private; a disclosed report is not an advisory.
    for id in [&spam, &kept] {
        assert_eq!(
            app.get(&format!("/api/v1/advisories/{id}"), None)
                .await
                .status,
            StatusCode::NOT_FOUND
        );
    }
    for doc in ["osv.json", "csaf.json", "bulletin.md"] {
        assert_eq!(
            app.get(&format!("/advisories/{a}/{doc}"), None)
                .await
                .status,
            StatusCode::NOT_FOUND,
            "{doc}"
        );
    }
    assert!(
        !app.get("/feeds/advisories.atom", None)
            .await
            .text
            .contains(&a)
    );
    assert!(
        app.store
            .replay_matches(&embargo_domain::ids::AdvisoryId::parse(&a).unwrap())
            .await
            .unwrap()
    );
}

on_both_backends!(closed_reports_are_disclosed_by_policy);

/// The same settings and the exemption through the pages' forms.
async fn policy_and_exemption_through_forms(app: TestApp) {
    use axum::body::Body;
    use axum::http::{Request, header};
    let w = World::new(&app).await;
    let cookie = app.session_cookie(&w.sm).await;
    let get = |path: String| {
        let (app, cookie) = (&app, cookie.clone());
        async move {
            app.request(
                Request::get(path)
                    .header(header::COOKIE, cookie)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
        }
    };
    let page = get("/admin/orgs/coco".into()).await;
    assert!(
        page.text.contains("action=\"/admin/orgs/coco/policy\""),
        "{}",
        page.text
    );
    let csrf = crate::web::csrf_in(&page.text);
    let fields = |disclose: &'static str| {
        vec![
            ("csrf", csrf.clone()),
            ("response_days", "10".to_owned()),
            ("spam_block_days", "30".to_owned()),
            ("reports_per_hour", "10".to_owned()),
            ("mail_titles", "on".to_owned()),
            ("disclose_closed_days", disclose.to_owned()),
        ]
    };
    let post = |path: &str, f: Vec<(&'static str, String)>| {
        let pairs: Vec<(&str, &str)> = f.iter().map(|(k, v)| (*k, v.as_str())).collect();
        crate::web::form(path, Some(&cookie), &pairs)
    };
    let bad = app.request(post("/orgs/coco/policy", fields("soon"))).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text.contains("disclose_closed_days"), "{}", bad.text);
    let ok = app.request(post("/orgs/coco/policy", fields("60"))).await;
    assert_eq!(ok.status, StatusCode::SEE_OTHER, "{}", ok.text);
    let org = app.get("/api/v1/orgs/coco", Some(&w.sm)).await;
    assert_eq!(
        org.json["policy"]["disclose_closed_days"], 60,
        "{}",
        org.text
    );
    assert_eq!(org.json["policy"]["mail_titles"], true);
    assert_eq!(org.json["policy"]["response_days"], 10);
    // A maintainer sees no policy form.
    assert!(
        !app.page("/admin/orgs/coco", Some(&w.maintainer))
            .await
            .text
            .contains("/policy\"")
    );

    let id = w.file(&app, "Closed and kept").await;
    let r = app
        .post(
            &format!("/api/v1/advisories/{id}/close"),
            Some(&w.sm),
            json!({"reason": "wont_fix"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    let page = get(format!("/advisories/{id}")).await;
    assert!(page.text.contains("Keep private"), "{}", page.text);
    let r = app
        .request(post(
            &format!("/advisories/{id}/disclosure-exemption"),
            vec![("csrf", csrf.clone()), ("reason", "vendor asked".into())],
        ))
        .await;
    assert!(
        r.status.is_redirection() || r.status.is_success(),
        "{}",
        r.status
    );
    let page = get(format!("/advisories/{id}")).await;
    assert!(
        page.text.contains("Kept private: vendor asked"),
        "{}",
        page.text
    );
}

on_both_backends!(policy_and_exemption_through_forms);
