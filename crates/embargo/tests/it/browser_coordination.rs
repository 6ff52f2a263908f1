//! Coordination in real headless Chromium (issue 16): a security manager invites a
//! collaborator (who may push to the fix repository) from the advisory page, the collaborator
//! accepts in their own browser, proposes an embargo end through the page's form, the
//! security manager accepts it, and requests a CVE id (the organisation numbering by hand)
//! from the page. Every page visited is checked at desktop and phone width: screenshots, no
//! sideways scrolling, no serious or critical axe-core violation.

use serde_json::{Value, json};

use crate::driver::Driver;
use crate::support::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invite_embargo_and_cve_in_the_browser() {
    let server = Server::start(&[]);
    let base = server.base.clone();
    let admin = server.user("admin@example.org", true, &[]);
    server.user("sam@example.org", false, &[]);
    server.user("dana@example.org", false, &[]);
    let rita = server.user("rita@example.org", false, &[]);
    crate::support::coco_over_http(&base, &admin, "sam@example.org").await;
    let client = reqwest::Client::new();
    // The organisation numbers CVE ids by hand (README "CVE ids").
    let r = client
        .put(format!("{base}/api/v1/orgs/coco/cve"))
        .bearer_auth(&admin)
        .json(&json!({"backend": "manual"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let r: Value = client
        .post(format!("{base}/api/v1/orgs/coco/repos/guest/advisories"))
        .bearer_auth(&rita)
        .json(&json!({
            "title": "Guest agent leaks the sealing key",
            "description": "The key is logged at debug level.",
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = r["id"].as_str().unwrap_or_else(|| panic!("{r}")).to_owned();
    let page = format!("{base}/advisories/{id}");

    // The security manager accepts the report and invites a downstream collaborator.
    let sam = Driver::start().await;
    sam.sign_in(&base, "sam@example.org").await;
    sam.go(&page).await;
    sam.click("aside input[name=action][value=accept] ~ button[type=submit]")
        .await;
    sam.wait_source("accepted as a draft", "state-draft").await;
    sam.click("section.collaborators details > summary").await;
    sam.type_into(
        "form[action$='/collaborators'] input[name=email]",
        "dana@example.org",
    )
    .await;
    sam.type_into(
        "form[action$='/collaborators'] input[name=organisation]",
        "Downstream Linux",
    )
    .await;
    sam.click("form[action$='/collaborators'] input[name=write]")
        .await;
    sam.click("form[action$='/collaborators'] button[type=submit]")
        .await;
    let html = sam
        .wait_source("the invitation listed", "dana@example.org")
        .await;
    assert!(html.contains("may push to the fix"), "{html}");
    sam.check_page("coordination-invited").await;

    // The collaborator accepts in their own browser, and reads the advisory.
    let dana = Driver::start().await;
    dana.sign_in(&base, "dana@example.org").await;
    dana.go(&format!("{base}/invitations")).await;
    dana.wait_text("main", &id).await;
    dana.check_page("coordination-invitations").await;
    dana.click("form[action^='/invitations/'] button[type=submit]")
        .await;
    dana.wait_url("the advisory, accepted", |u| u.contains(&id))
        .await;
    dana.go(&page).await;
    dana.wait_source("the advisory as a collaborator", "Guest agent leaks")
        .await;
    dana.check_page("coordination-collaborator").await;

    // The collaborator proposes an embargo end through the form.
    let end = time::OffsetDateTime::now_utc() + time::Duration::days(20);
    let local = format!("{}T{:02}:{:02}", end.date(), end.hour(), end.minute());
    dana.click("section.embargo details > summary").await;
    // A datetime-local input takes its value from the page's script, not typed keys.
    dana.run(&format!(
        "document.querySelector(\"section.embargo input[name=ends_at]\").value = '{local}'"
    ))
    .await;
    dana.click("section.embargo button[name=action][value=propose]")
        .await;
    dana.wait_source("the proposal shown", "Proposed end").await;
    dana.check_page("coordination-proposed").await;

    // The security manager accepts it: the embargo is in force.
    sam.go(&page).await;
    sam.click("section.embargo button[name=action][value=accept]")
        .await;
    let html = sam.wait_text("section.embargo", "active").await;
    assert!(html.contains("Downstream Linux"), "{html}");
    sam.check_page("coordination-embargo").await;

    // A CVE id, entered by hand on the advisory page.
    sam.type_into("section.cve input[name=cve_id]", "CVE-2026-31337")
        .await;
    sam.click("section.cve button[type=submit]").await;
    sam.wait_source("the CVE id", "CVE-2026-31337").await;
    sam.go(&format!("{page}/cve")).await;
    let html = sam.wait_text("main", "CVE-2026-31337").await;
    assert!(html.contains("entered by hand"), "{html}");
    sam.check_page("coordination-cve").await;

    // Over the API, the same state.
    let a: Value = client
        .get(format!("{base}/api/v1/advisories/{id}"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(a["embargo"]["state"], "active", "{a}");
    assert_eq!(a["cve_id"], "CVE-2026-31337", "{a}");
}
