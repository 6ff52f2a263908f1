//! Setting Embargo up and using it by pages only, in headless Chromium against the real
//! binary: an administrator creates an organisation, an account, a repository, a security
//! manager and a maintainer, and writes the policy SECURITY.md shows; a reporter files
//! through "Report a vulnerability"; the maintainer finds the report in the inbox with a
//! filter; the security manager reads the dashboard. Every page visited is checked at desktop
//! and phone width (screenshots in `target/screenshots/`, no sideways scrolling, axe-core).

use serde_json::{Value, json};

use crate::driver::Driver;
use crate::support::Server;

/// Signs out from whatever page is open.
async fn sign_out(d: &Driver) {
    d.click("form[action='/logout'] button[type=submit]").await;
    d.wait_source("signed out", "href=\"/login\"").await;
}

/// Chooses `value` in the `select` named `name` of the page.
async fn choose(d: &Driver, name: &str, value: &str) {
    d.click(&format!("select[name={name}] option[value='{value}']"))
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_organisation_is_set_up_and_used_by_pages_only() {
    let server = Server::start(&[]);
    let base = server.base.clone();
    server.user("root@example.org", true, &[]);
    for who in ["lead@example.org", "dev@example.org", "finder@example.net"] {
        server.user(who, false, &[]);
    }
    let d = Driver::start().await;

    // The administrator's first sign-in says what to do next.
    d.sign_in(&base, "root@example.org").await;
    d.go(&format!("{base}/")).await;
    d.wait_text("main", "what to do next").await;
    d.check_page("setup-home").await;
    d.click("main a.button[href='/admin']").await;
    d.wait_url("the administration page", |u| u.ends_with("/admin"))
        .await;
    d.check_page("setup-admin").await;

    // An organisation.
    d.type_into("input[name=name]", "Confidential Containers")
        .await;
    d.type_into("input[name=slug]", "coco").await;
    d.click("form[action='/admin/orgs'] button[type=submit]")
        .await;
    d.wait_url("the organisation's setup page", |u| {
        u.ends_with("/admin/orgs/coco")
    })
    .await;
    d.check_page("setup-org-empty").await;

    // A repository, its security manager and its maintainer.
    d.type_into(
        "form[action='/admin/orgs/coco/repos'] input[name=name]",
        "Guest components",
    )
    .await;
    d.type_into(
        "form[action='/admin/orgs/coco/repos'] input[name=slug]",
        "guest",
    )
    .await;
    d.click("form[action='/admin/orgs/coco/repos'] button[type=submit]")
        .await;
    d.wait_url("the repository added", |u| u.ends_with("#repos"))
        .await;
    assert!(d.source().await.contains("id=\"repo-guest\""));
    d.type_into(
        "form[action='/admin/orgs/coco/members'] input[name=email]",
        "lead@example.org",
    )
    .await;
    choose(&d, "role", "security_manager").await;
    d.click("form[action='/admin/orgs/coco/members'] button[type=submit]")
        .await;
    d.wait_url("the member named", |u| u.ends_with("#members"))
        .await;
    assert!(d.text("#members").await.contains("lead@example.org"));
    d.type_into(
        "form[action='/admin/orgs/coco/repos/guest/maintainers'] input[name=email]",
        "dev@example.org",
    )
    .await;
    d.click("form[action='/admin/orgs/coco/repos/guest/maintainers'] button[type=submit]")
        .await;
    d.wait_url("the maintainer added", |u| u.ends_with("#repo-guest"))
        .await;
    assert!(d.text("#repo-guest").await.contains("dev@example.org"));

    // Removing a maintainer asks first, in a dialog.
    d.type_into(
        "form[action='/admin/orgs/coco/repos/guest/maintainers'] input[name=email]",
        "lead@example.org",
    )
    .await;
    d.click("form[action='/admin/orgs/coco/repos/guest/maintainers'] button[type=submit]")
        .await;
    d.wait_source("two maintainers", "remove-guest-2").await;
    d.click("#repo-guest a[data-dialog='remove-guest-2']").await;
    let open = d
        .run("return document.getElementById('remove-guest-2').open;")
        .await;
    assert_eq!(open, json!(true), "the dialog opens instead of the page");
    if let Some(found) = d.axe().await {
        assert!(found.is_empty(), "the open dialog: {found:?}");
    }
    d.screenshot("setup-remove-dialog").await;
    d.click("#remove-guest-2 button[type=submit]").await;
    d.wait_source("removed", "remove-guest-1").await;
    for _ in 0..100 {
        if !d.source().await.contains("remove-guest-2") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let guest = d.text("#repo-guest").await;
    assert!(
        guest.contains("dev@example.org") && !guest.contains("lead@example.org"),
        "{guest}"
    );

    // The policy's own words, shown in SECURITY.md.
    d.type_into(
        "textarea[name=policy_text]",
        "We credit every reporter in the advisory.",
    )
    .await;
    d.click("form[action='/admin/orgs/coco/policy'] button[type=submit]")
        .await;
    d.wait_url("saved", |u| u.ends_with("#policy")).await;
    d.check_page("setup-org").await;
    d.go(&format!("{base}/orgs/coco/SECURITY.md")).await;
    d.wait_source("SECURITY.md", "We credit every reporter in the advisory.")
        .await;

    // An account, with the link its owner opens to choose a password.
    d.go(&format!("{base}/admin/users")).await;
    d.type_into(
        "form[action='/admin/users'] input[name=email]",
        "helper@example.org",
    )
    .await;
    d.click("form[action='/admin/users'] button[type=submit]")
        .await;
    d.wait_source("the account", "Account created for helper@example.org")
        .await;
    assert!(d.source().await.contains(&format!("{base}/reset/")));
    d.check_page("setup-users").await;
    sign_out(&d).await;

    // The reporter files through "Report a vulnerability".
    d.sign_in(&base, "finder@example.net").await;
    d.go(&format!("{base}/")).await;
    d.click("header a[href='/report']").await;
    d.wait_url("the report form", |u| u.contains("/report"))
        .await;
    d.check_page("setup-report-form").await;
    choose(&d, "repo", "coco/guest").await;
    d.type_into("input[name=title]", "Token leak in the guest agent")
        .await;
    d.type_into(
        "textarea[name=description]",
        "The agent logs the attestation token at debug level.",
    )
    .await;
    d.click("form[action='/report'] button[type=submit]").await;
    let page = d
        .wait_url("the new report's page", |u| u.contains("/advisories/EMB-"))
        .await;
    let id = page.rsplit('/').next().unwrap().to_owned();
    sign_out(&d).await;

    // The maintainer finds it in the inbox with a filter.
    d.sign_in(&base, "dev@example.org").await;
    d.go(&format!("{base}/")).await;
    d.click("header a[href='/inbox']").await;
    d.wait_url("the inbox", |u| u.ends_with("/inbox")).await;
    choose(&d, "repo", "coco/guest").await;
    choose(&d, "severity", "unscored").await;
    d.click("form[action='/inbox'] button[type=submit]").await;
    d.wait_url("filtered", |u| u.contains("repo=coco%2Fguest"))
        .await;
    let inbox = d.source().await;
    assert!(
        inbox.contains(&id) && inbox.contains("Token leak in the guest agent"),
        "{inbox}"
    );
    d.check_page("setup-inbox").await;
    // A filter that does not match hides it.
    choose(&d, "severity", "critical").await;
    d.click("form[action='/inbox'] button[type=submit]").await;
    d.wait_url("filtered again", |u| u.contains("severity=critical"))
        .await;
    assert!(!d.source().await.contains(&id));
    sign_out(&d).await;

    // The security manager's dashboard shows it open, in triage.
    d.sign_in(&base, "lead@example.org").await;
    d.go(&format!("{base}/")).await;
    d.click("header a[href='/orgs/coco/dashboard']").await;
    d.wait_url("the dashboard", |u| u.ends_with("/orgs/coco/dashboard"))
        .await;
    d.wait_text("main", "Open advisories: 1").await;
    d.check_page("setup-dashboard").await;
    let open = d
        .run("return document.querySelector('#open-h').textContent;")
        .await;
    assert_eq!(open, json!("Open advisories: 1"));
    d.cmd(reqwest::Method::DELETE, "", Value::Null).await;
}
