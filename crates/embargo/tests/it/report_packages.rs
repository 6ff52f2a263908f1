//! The report form's affected packages as structured rows (ecosystem from the list,
//! package, affected-from and fixed-in versions), sent as a plain form: they become the
//! report's affected packages, checked by the domain's types, with errors that name the
//! row; for reporters with and without an account.

use axum::body::Body;
use axum::http::{Request, StatusCode, header};

use crate::support::{Resp, TestApp, World, on_both_backends};
use crate::web::{csrf_in, form};

async fn get(app: &TestApp, path: &str, cookie: Option<&str>) -> Resp {
    let mut b = Request::get(path);
    if let Some(c) = cookie {
        b = b.header(header::COOKIE, c);
    }
    app.request(b.body(Body::empty()).unwrap()).await
}

/// Three package rows: the first and third filled, the second left empty.
fn rows<'a>(first_ecosystem: &'a str, first_fixed: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("pkg_ecosystem", first_ecosystem),
        ("pkg_name", "guest-components"),
        ("pkg_introduced", "0.9.0"),
        ("pkg_fixed", first_fixed),
        ("pkg_ecosystem", ""),
        ("pkg_name", ""),
        ("pkg_introduced", ""),
        ("pkg_fixed", ""),
        ("pkg_ecosystem", "npm"),
        ("pkg_name", "coco-sdk"),
        ("pkg_introduced", ""),
        ("pkg_fixed", "2.0.1"),
    ]
}

async fn report_form_takes_packages(app: TestApp) {
    let w = World::new(&app).await;
    let cookie = app.session_cookie(&w.reporter).await;
    let page = get(&app, "/report", Some(&cookie)).await;
    assert_eq!(page.status, StatusCode::OK);
    assert_eq!(page.text.matches("name=\"pkg_ecosystem\"").count(), 3);
    assert!(
        page.text
            .contains("<option value=\"crates.io\">crates.io</option>")
    );
    let csrf = csrf_in(&page.text);
    let count = || async {
        app.get("/api/v1/advisories", Some(&w.sm))
            .await
            .json
            .as_array()
            .unwrap()
            .len()
    };
    let before = count().await;
    let base = vec![
        ("csrf", csrf.as_str()),
        ("repo", "coco/guest"),
        ("title", "Packages"),
        ("description", "Steps."),
    ];

    // A wrong row: refused, the row named in words, what was typed kept, nothing filed.
    let mut bad = base.clone();
    bad.extend(rows("nonsense", "1.2.0"));
    let r = app.request(form("/report", Some(&cookie), &bad)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(
        r.text.contains("Affected package 1: ecosystem: "),
        "{}",
        r.text
    );
    assert!(!r.text.contains("package.0"), "no internal field path");
    assert!(r.text.contains("value=\"guest-components\""));
    assert!(r.text.contains("value=\"2.0.1\""));
    let mut bad = base.clone();
    bad.extend(rows("crates.io", "1.2.0, 1.3.0"));
    let r = app.request(form("/report", Some(&cookie), &bad)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(
        r.text
            .contains("Affected package 1: fixed version: give one version"),
        "{}",
        r.text
    );
    assert_eq!(count().await, before);

    let mut good = base.clone();
    good.extend(rows("crates.io", "1.2.0"));
    let r = app.request(form("/report", Some(&cookie), &good)).await;
    assert_eq!(r.status, StatusCode::SEE_OTHER, "{}", r.text);
    let id = r.headers[header::LOCATION]
        .to_str()
        .unwrap()
        .trim_start_matches("/advisories/")
        .to_owned();
    let a = app
        .get(&format!("/api/v1/advisories/{id}"), Some(&w.sm))
        .await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text);
    let v = &a.json["vulnerabilities"];
    assert_eq!(v.as_array().unwrap().len(), 2, "{v}");
    assert_eq!(v[0]["package"]["ecosystem"], "crates.io");
    assert_eq!(v[0]["package"]["name"], "guest-components");
    assert_eq!(v[0]["vulnerable_version_range"], ">= 0.9.0, < 1.2.0");
    assert_eq!(v[0]["patched_versions"], "1.2.0");
    assert_eq!(v[1]["package"]["ecosystem"], "npm");
    assert_eq!(v[1]["vulnerable_version_range"], "< 2.0.1");
    // The reporter's page shows them as affected packages.
    let page = get(&app, &format!("/advisories/{id}"), Some(&cookie)).await;
    assert!(page.text.contains("guest-components"), "{}", page.text);
    assert!(
        page.text.contains("&#62;= 0.9.0, &#60; 1.2.0"),
        "{}",
        page.text
    );

    // Without an account, the same rows go with the held report.
    let page = get(&app, "/report", None).await;
    let anon_cookie = page
        .headers
        .get_all(header::SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("embargo_csrf="))
        .expect("the form cookie");
    let anon_csrf = csrf_in(&page.text);
    let mut anon = vec![
        ("csrf", anon_csrf.as_str()),
        ("repo", "coco/guest"),
        ("email", "rita@example.org"),
        ("title", "Packages, no account"),
        ("description", "Steps."),
    ];
    anon.extend(rows("Go", "1.2.0"));
    let r = app
        .request(form("/report", Some(&anon_cookie), &anon))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let mails = app.store.claim_mail(100).await.unwrap();
    let m = mails
        .iter()
        .find(|m| m.to == "rita@example.org" && m.body.contains("/confirm/"))
        .expect("a confirmation mail");
    let at = m.body.find("/confirm/").unwrap() + "/confirm/".len();
    let token = m.body[at..].split_whitespace().next().unwrap();
    let c = app
        .store
        .confirm_report(token, |t| t.to_owned())
        .await
        .unwrap();
    let a = app
        .get(&format!("/api/v1/advisories/{}", c.id), Some(&w.sm))
        .await;
    assert_eq!(
        a.json["vulnerabilities"][0]["package"]["ecosystem"], "Go",
        "{}",
        a.text
    );
    assert_eq!(a.json["vulnerabilities"][1]["patched_versions"], "2.0.1");
}

on_both_backends!(report_form_takes_packages);
