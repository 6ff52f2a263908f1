//! Browser tests in real headless Chromium, driven over WebDriver (chromedriver): sign in,
//! file a report through the form, and see it listed; a reporter without an account goes from
//! the home page to a thread and an account; the CVSS calculator edits the saved vector. The
//! WebDriver calls are the W3C protocol's own endpoints, spoken directly with the suite's HTTP
//! client.

use serde_json::{Value, json};

use crate::driver::Driver;
use crate::support::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_a_report_in_chromium_and_see_it_listed() {
    let server = Server::start(&[]);
    let base = server.base.clone();
    let admin = server.user("admin@example.org", true, &[]);
    server.user("rita@example.org", false, &[]);
    let client = reqwest::Client::new();
    for (method, path, body) in [
        (
            reqwest::Method::POST,
            "/api/v1/orgs",
            json!({"slug": "coco", "name": "CoCo"}),
        ),
        (
            reqwest::Method::PUT,
            "/api/v1/orgs/coco/members/admin@example.org",
            json!({"role": "security_manager"}),
        ),
        (
            reqwest::Method::POST,
            "/api/v1/orgs/coco/repos",
            json!({"slug": "guest", "name": "Guest"}),
        ),
    ] {
        let r = client
            .request(method, format!("{base}{path}"))
            .bearer_auth(&admin)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{path}");
    }

    let d = Driver::start().await;
    d.go(&format!("{base}/report")).await;
    // The form with its affected-package rows: accessible, no sideways scroll.
    d.check_page("report-form").await;
    // Signed out, the form asks for an address (no account needed) and offers to sign in.
    assert!(
        d.source().await.contains("name=\"email\""),
        "the signed-out report form asks for an e-mail address"
    );
    d.click("a[href='/login?next=/report']").await;
    d.wait_url("at the sign-in page", |u| u.contains("/login?next="))
        .await;
    d.type_into("input[name=email]", "rita@example.org").await;
    d.type_into("input[name=password]", "a long enough password")
        .await;
    d.click("form[action='/login'] button[type=submit]").await;
    d.wait_url("back at the form after signing in", |u| {
        u.ends_with("/report")
    })
    .await;

    d.click("select[name=repo] option[value='coco/guest']")
        .await;
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
    assert!(d.source().await.contains("Token leak in the guest agent"));

    d.go(&format!("{base}/advisories")).await;
    let list = d.source().await;
    assert!(
        list.contains(&id)
            && list.contains("Token leak in the guest agent")
            && list.contains("triage"),
        "{list}"
    );

    // Signed out, the same browser sees nothing of it.
    d.click("form[action='/logout'] button[type=submit]").await;
    d.wait_url("signed out", |u| !u.contains("/advisories"))
        .await;
    d.go(&format!("{base}/advisories/{id}")).await;
    let hidden = d.source().await;
    assert!(
        hidden.contains("not found") && !hidden.contains("Token leak"),
        "{hidden}"
    );
    d.cmd(reqwest::Method::DELETE, "", Value::Null).await;
}

/// The text of an outbox message with quoted-printable undone (soft line breaks, `=XX`).
fn decoded(text: &str) -> String {
    if !text.contains("Content-Transfer-Encoding: quoted-printable") {
        return text.to_owned();
    }
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let b = joined.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'='
            && let Some(v) = joined
                .get(i + 1..i + 3)
                .and_then(|h| u8::from_str_radix(h, 16).ok())
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The `http…/{kind}/TOKEN` link of the newest message to `to` that has one, from the
/// server's outbox (no SMTP relay is configured); waits up to 30 s for the mail round.
async fn mailed_link(server: &Server, to: &str, kind: &str) -> String {
    let outbox = server.data.path().join("outbox");
    let needle = format!("/{kind}/");
    for _ in 0..300 {
        let mut files: Vec<_> = std::fs::read_dir(&outbox)
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.sort();
        let found = files.iter().rev().find_map(|p| {
            let text = decoded(&std::fs::read_to_string(p).ok()?);
            let to_line = format!("To: {to}");
            let at = text.find(&needle)?;
            if !text.lines().any(|l| l.trim() == to_line) {
                return None;
            }
            let start = text[..at].rfind("http")?;
            text[start..].split_whitespace().next().map(str::to_owned)
        });
        if let Some(link) = found {
            return link;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("no {needle} message to {to} in {}", outbox.display());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reporter_without_an_account_from_home_page_to_thread_and_account() {
    let server = Server::start(&[]);
    let base = server.base.clone();
    let admin = server.user("admin@example.org", true, &[]);
    crate::support::coco_over_http(&base, &admin, "admin@example.org").await;

    let d = Driver::start().await;
    d.go(&format!("{base}/")).await;
    // Signed out, the home page invites to report (no account needed), and so does the nav.
    let home = d.source().await;
    assert!(
        !home.contains("Sign in</a> to report"),
        "the home page sends reporters to sign in: {home}"
    );
    assert!(
        home.contains("<nav ") && home[home.find("<nav ").unwrap()..].contains("href=\"/report\""),
        "the navigation has a report link: {home}"
    );
    d.click("main a[href='/report']").await;
    d.wait_url("at the report form", |u| u.ends_with("/report"))
        .await;
    d.click("select[name=repo] option[value='coco/guest']")
        .await;
    d.type_into("input[name=email]", "rita@example.org").await;
    d.type_into("input[name=title]", "Guest agent trusts any image")
        .await;
    d.type_into(
        "textarea[name=description]",
        "The agent skips the signature check for unsigned layers.",
    )
    .await;
    d.click("form[action='/report'] button[type=submit]").await;
    d.wait_source("told to confirm by e-mail", "Check your e-mail")
        .await;

    // The confirmation link arrives; opening it asks for a click (mail scanners open links).
    let confirm = mailed_link(&server, "rita@example.org", "confirm").await;
    assert!(
        confirm.starts_with(&format!("{base}/confirm/")),
        "{confirm}"
    );
    d.go(&confirm).await;
    let path = confirm.trim_start_matches(&base).to_owned();
    d.click(&format!("form[action='{path}'] button[type=submit]"))
        .await;
    d.wait_url("at the private link", |u| u.contains("/r/"))
        .await;

    // The next message carries the private link; it opens the report as its reporter.
    let private = mailed_link(&server, "rita@example.org", "r").await;
    assert!(private.starts_with(&format!("{base}/r/")), "{private}");
    assert_eq!(d.url().await, private, "confirming opens the mailed link");
    d.go(&private).await;
    // The private link's page, with its file form: accessible, no sideways scroll.
    d.check_page("private-link").await;
    let page = d.source().await;
    assert!(page.contains("Guest agent trusts any image"), "{page}");
    assert!(
        page.contains("/attachments\" enctype=\"multipart/form-data\""),
        "{page}"
    );
    let id = page[page.find("EMB-").expect("the report's id")..]
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .next()
        .unwrap()
        .to_owned();
    // Nothing on the page loads from, or links to, another site with the token in Referer.
    let outside = d
        .run(
            "return Array.from(document.querySelectorAll('[href],[src],[action]'))\
             .map(e => e.href || e.src || e.action)\
             .filter(u => new URL(u, location.href).origin !== location.origin);",
        )
        .await;
    assert_eq!(outside, json!([]), "links out of the private page");

    // A reply, from the browser: it is accepted and shows in the thread.
    let token_path = private.trim_start_matches(&base).to_owned();
    d.type_into(
        &format!("form[action='{token_path}/comments'] textarea[name=body]"),
        "Here is a proof of concept image.",
    )
    .await;
    d.click(&format!(
        "form[action='{token_path}/comments'] button[type=submit]"
    ))
    .await;
    let thread = d
        .wait_source(
            "the reply in the thread",
            "Here is a proof of concept image.",
        )
        .await;
    assert!(thread.contains("Guest agent trusts any image"), "{thread}");
    assert_eq!(d.url().await, private);

    // Making an account: a set-password link by mail.
    d.click(&format!(
        "form[action='{token_path}/account'] button[type=submit]"
    ))
    .await;
    d.wait_source("told to check mail", "Check your e-mail")
        .await;
    let reset = mailed_link(&server, "rita@example.org", "reset").await;
    d.go(&reset).await;
    d.type_into("input[name=password]", "rita's long enough password")
        .await;
    d.type_into("input[name=password2]", "rita's long enough password")
        .await;
    d.click("main form button[type=submit]").await;
    d.wait_url("signed in after setting the password", |u| {
        !u.contains("/reset/")
    })
    .await;
    let signed_in = d.wait_source("signed in", "Sign out").await;
    assert!(
        signed_in.contains("Guest agent trusts any image"),
        "the home page lists the report: {signed_in}"
    );
    d.go(&format!("{base}/advisories/{id}")).await;
    let report = d.source().await;
    assert!(
        report.contains("Guest agent trusts any image")
            && report.contains("Here is a proof of concept image."),
        "{report}"
    );

    // The third form of the private page: revoking the link, which then opens nothing.
    d.go(&private).await;
    d.click(&format!(
        "form[action='{token_path}/revoke'] button[type=submit]"
    ))
    .await;
    d.wait_url("sent home after revoking", |u| !u.contains("/r/"))
        .await;
    d.go(&private).await;
    let gone = d.source().await;
    assert!(
        gone.contains("not found") && !gone.contains("Guest agent trusts any image"),
        "{gone}"
    );
    d.cmd(reqwest::Method::DELETE, "", Value::Null).await;
}

/// The calculator's choices for `version`, as `M:V/M:V/…`.
async fn chosen(d: &Driver, version: &str) -> String {
    d.run(&format!(
        "return Array.from(document.querySelectorAll(\"#cvss-calculator select[data-version='{version}']\"))\
         .map(s => s.dataset.metric + ':' + s.value).join('/');"
    ))
    .await
    .as_str()
    .unwrap_or_default()
    .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cvss_calculator_starts_from_the_saved_vector() {
    const V3: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:R/S:C/C:L/I:L/A:N";
    const V4: &str = "CVSS:4.0/AV:N/AC:L/AT:N/PR:L/UI:N/VC:H/VI:L/VA:N/SC:N/SI:N/SA:N";
    let server = Server::start(&[]);
    let base = server.base.clone();
    let admin = server.user("admin@example.org", true, &[]);
    crate::support::coco_over_http(&base, &admin, "admin@example.org").await;
    let client = reqwest::Client::new();
    let r: Value = client
        .post(format!("{base}/api/v1/orgs/coco/repos/guest/advisories"))
        .bearer_auth(&admin)
        .json(&json!({"title": "XSS in the dashboard", "description": "A reflected XSS."}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = r["id"].as_str().unwrap_or_else(|| panic!("{r}")).to_owned();
    crate::support::api_steps(
        &base,
        &admin,
        &[
            (
                reqwest::Method::POST,
                &format!("/api/v1/advisories/{id}/accept"),
                json!({}),
            ),
            (
                reqwest::Method::PATCH,
                &format!("/api/v1/advisories/{id}"),
                json!({"cvss_vectors": [V3, V4]}),
            ),
        ],
    )
    .await;
    let saved = |client: reqwest::Client, base: String, admin: String, id: String| async move {
        let a: Value = client
            .get(format!("{base}/api/v1/advisories/{id}"))
            .bearer_auth(&admin)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        a["cvss"]
            .as_array()
            .unwrap_or_else(|| panic!("{a}"))
            .iter()
            .map(|c| c["vector"].as_str().unwrap().to_owned())
            .collect::<Vec<_>>()
    };

    let d = Driver::start().await;
    d.sign_in(&base, "admin@example.org").await;
    d.go(&format!("{base}/advisories/{id}/edit")).await;
    // The calculator starts from the saved vectors, and scores them.
    assert_eq!(chosen(&d, "3.1").await, V3.trim_start_matches("CVSS:3.1/"));
    assert_eq!(chosen(&d, "4.0").await, V4.trim_start_matches("CVSS:4.0/"));
    d.wait_text("#cvss-calculator output[data-version='3.1']", "6.1 Medium")
        .await;
    d.wait_text("#cvss-calculator output[data-version='4.0']", "7.1 High")
        .await;
    // Each metric and value is named in words.
    let words = d
        .run(
            "return Array.from(document.querySelectorAll(\"#cvss-calculator select[data-version='3.1']\"))\
             .map(s => s.closest('label').firstChild.textContent.trim() + ': ' + s.selectedOptions[0].textContent.trim());",
        )
        .await;
    assert_eq!(
        words,
        json!([
            "Attack Vector: Network",
            "Attack Complexity: Low",
            "Privileges Required: None",
            "User Interaction: Required",
            "Scope: Changed",
            "Confidentiality: Low",
            "Integrity: Low",
            "Availability: None"
        ])
    );

    // One metric changed in each: the score follows, the rest of the vector stays.
    d.click("#cvss-calculator select[data-version='3.1'][data-metric='UI'] option[value='N']")
        .await;
    d.wait_text("#cvss-calculator output[data-version='3.1']", "7.2 High")
        .await;
    d.click("#cvss-calculator select[data-version='4.0'][data-metric='AT'] option[value='P']")
        .await;
    d.wait_text("#cvss-calculator output[data-version='4.0']", "6.0 Medium")
        .await;
    d.click(&format!(
        "form[action='/advisories/{id}/edit'] button[type=submit]"
    ))
    .await;
    d.wait_url("saved", |u| u.ends_with(&format!("/advisories/{id}")))
        .await;
    assert_eq!(
        saved(client.clone(), base.clone(), admin.clone(), id.clone()).await,
        [V3.replace("UI:R", "UI:N"), V4.replace("AT:N", "AT:P")]
    );

    // Opened again, it starts from what was just saved.
    d.go(&format!("{base}/advisories/{id}/edit")).await;
    assert_eq!(
        chosen(&d, "3.1").await,
        "AV:N/AC:L/PR:N/UI:N/S:C/C:L/I:L/A:N"
    );
    d.wait_text("#cvss-calculator output[data-version='3.1']", "7.2 High")
        .await;
    // Without a v4.0 vector its pickers start empty: one choice writes nothing by itself.
    let field = d.find("textarea[name=cvss_vector]").await;
    d.cmd(
        reqwest::Method::POST,
        &format!("/element/{field}/clear"),
        json!({}),
    )
    .await;
    d.type_into("textarea[name=cvss_vector]", V3).await;
    d.wait_text(
        "#cvss-calculator output[data-version='4.0']",
        "No CVSS 4.0 vector",
    )
    .await;
    assert_eq!(
        chosen(&d, "4.0").await,
        "AV:/AC:/AT:/PR:/UI:/VC:/VI:/VA:/SC:/SI:/SA:"
    );
    assert_eq!(chosen(&d, "3.1").await, V3.trim_start_matches("CVSS:3.1/"));
    d.click("#cvss-calculator select[data-version='4.0'][data-metric='AV'] option[value='L']")
        .await;
    let typed = d
        .run("return document.querySelector('textarea[name=cvss_vector]').value;")
        .await;
    assert_eq!(typed, json!(V3), "no vector made up from one choice");
    d.cmd(reqwest::Method::DELETE, "", Value::Null).await;
}
