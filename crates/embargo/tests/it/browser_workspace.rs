//! The advisory workspace in real headless Chromium (issue 16, UI-2): a security manager
//! takes a report from triage to publication — accept, edit the draft with two affected
//! packages added without saving first, score it with the calculator, publish through the
//! confirmation dialog — and the public reads the result. Every page visited is checked at
//! desktop and phone width: screenshots, no sideways scrolling, no serious or critical
//! axe-core violation.

use serde_json::{Value, json};

use crate::driver::Driver;
use crate::support::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triage_to_publication_in_the_workspace() {
    let server = Server::start(&[]);
    let base = server.base.clone();
    let admin = server.user("admin@example.org", true, &[]);
    let rita = server.user("rita@example.org", false, &[]);
    crate::support::coco_over_http(&base, &admin, "admin@example.org").await;
    let client = reqwest::Client::new();
    let r: Value = client
        .post(format!("{base}/api/v1/orgs/coco/repos/guest/advisories"))
        .bearer_auth(&rita)
        .json(&json!({
            "title": "Token leak in the guest agent",
            "description": "## Steps\n\n1. Start the agent with `--debug`.\n2. Read the log: the **token** is in it.\n\n<script>alert(1)</script>",
        }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = r["id"].as_str().unwrap_or_else(|| panic!("{r}")).to_owned();
    let page = format!("{base}/advisories/{id}");

    let d = Driver::start().await;
    d.sign_in(&base, "admin@example.org").await;

    // Triage: the report's Markdown is rendered, its raw HTML shown as text; the side panel
    // offers what a security manager may do now, and the timeline starts with the report.
    d.go(&page).await;
    let html = d.source().await;
    assert!(
        html.contains("<h2>Steps</h2>") && html.contains("<code>--debug</code>"),
        "{html}"
    );
    assert!(!html.contains("<script>alert(1)"), "{html}");
    assert_eq!(d.text("aside.workspace-actions h2").await.trim(), "Actions");
    d.wait_text("#timeline", "Reported").await;
    d.check_page("workspace-triage").await;
    d.click("aside input[name=action][value=accept] ~ button[type=submit]")
        .await;
    d.wait_source("accepted as a draft", "state-draft").await;

    // The draft form: two packages (the second added by the page's script, nothing saved),
    // the ecosystem chosen from the list, and a score from the calculator.
    d.click(&format!("a[href='/advisories/{id}/edit']")).await;
    d.wait_url("the draft form", |u| u.ends_with("/edit")).await;
    d.click("[id='field-package.0'] select[name=ecosystem] option[value='crates.io']")
        .await;
    d.type_into("[id='field-package.0'] input[name=package]", "guest")
        .await;
    d.type_into("[id='field-package.0'] input[name=range]", "< 0.15.0")
        .await;
    d.type_into("[id='field-package.0'] input[name=patched]", "0.15.0")
        .await;
    d.click("button[name=add][value=package]").await;
    d.find("[id='field-package.1'] select[name=ecosystem]")
        .await;
    assert!(
        d.url().await.ends_with("/edit"),
        "the row was added in the page"
    );
    d.click("[id='field-package.1'] select[name=ecosystem] option[value=npm]")
        .await;
    d.type_into(
        "[id='field-package.1'] input[name=package]",
        "guest-agent-ui",
    )
    .await;
    d.type_into("[id='field-package.1'] input[name=range]", "< 2.1.0")
        .await;
    for (metric, value) in [
        ("AV", "N"),
        ("AC", "L"),
        ("PR", "N"),
        ("UI", "N"),
        ("S", "U"),
        ("C", "H"),
        ("I", "H"),
        ("A", "N"),
    ] {
        d.click(&format!(
            "#cvss-calculator select[data-version='3.1'][data-metric='{metric}'] option[value='{value}']"
        ))
        .await;
    }
    d.wait_text(
        "#cvss-calculator output[data-version='3.1']",
        "9.1 Critical",
    )
    .await;
    d.click(".cwe-picker summary").await;
    d.click("input[name=cwe][value='CWE-532']").await;
    d.type_into("input[name=credit_name]", "Rita Reporter")
        .await;
    d.check_page("workspace-draft-form").await;
    d.click(&format!(
        "form[action='/advisories/{id}/edit'] button[type=submit]"
    ))
    .await;
    d.wait_url("saved", |u| u.ends_with(&format!("/advisories/{id}")))
        .await;
    let saved: Value = client
        .get(format!("{base}/api/v1/advisories/{id}"))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let packages: Vec<(&str, &str)> = saved["vulnerabilities"]
        .as_array()
        .unwrap_or_else(|| panic!("{saved}"))
        .iter()
        .map(|v| {
            (
                v["package"]["ecosystem"].as_str().unwrap(),
                v["package"]["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        packages,
        [("crates.io", "guest"), ("npm", "guest-agent-ui")],
        "{saved}"
    );
    assert_eq!(saved["cwe_ids"], json!(["CWE-532"]), "{saved}");
    // The severity shows as score and rating beside the vector, and as the page's badge.
    assert_eq!(d.text("h1 .badge").await.trim(), "9.1 Critical");
    d.check_page("workspace-draft").await;

    // The plain-form confirmation: what publishing does, the public page as it will be.
    d.go(&format!("{page}/confirm/publish")).await;
    d.wait_source("the confirmation page", "Preview of the public page")
        .await;
    d.check_page("workspace-confirm-publish").await;

    // Publishing through the dialog the page's script opens.
    d.go(&page).await;
    d.click("a[data-dialog='confirm-publish']").await;
    assert_eq!(
        d.run("return document.getElementById('confirm-publish').open;")
            .await,
        json!(true)
    );
    assert!(
        d.url().await.ends_with(&format!("/advisories/{id}")),
        "the dialog, not the confirmation page"
    );
    d.check_page("workspace-publish-dialog").await;
    d.click("#confirm-publish button[type=submit]").await;
    d.wait_source("published", "state-published").await;

    // The public reads it: headline, badge, every format, the change log; no workspace.
    d.cmd(reqwest::Method::DELETE, "/cookie", json!({})).await;
    d.go(&page).await;
    let public = d.source().await;
    for needle in [
        "Token leak in the guest agent",
        "9.1 Critical",
        "osv.json",
        "csaf.json",
        "vex.json",
        "bulletin.md",
        "Change log",
        "guest-agent-ui",
    ] {
        assert!(public.contains(needle), "{needle} in {public}");
    }
    for private in [
        "workspace-actions",
        "Timeline and discussion",
        "Reported by",
    ] {
        assert!(!public.contains(private), "{private} in {public}");
    }
    d.check_page("workspace-public").await;
}
