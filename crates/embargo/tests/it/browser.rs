//! One browser test in real headless Chromium, driven over WebDriver (chromedriver): sign
//! in, file a report through the form, and see it listed. The WebDriver calls are the W3C
//! protocol's own endpoints, spoken directly with the suite's HTTP client.

use serde_json::{Value, json};

use crate::support::Server;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

struct Driver {
    child: std::process::Child,
    base: String,
    session: String,
    client: reqwest::Client,
    _profile: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn tool(name: &str) -> String {
    let path = format!("/usr/bin/{name}");
    assert!(
        std::path::Path::new(&path).exists(),
        "{path} is missing: run the suite with scripts/test, which installs Debian's chromium and chromium-driver"
    );
    path
}

impl Driver {
    async fn start() -> Self {
        let chromium = tool("chromium");
        let port = free_port();
        let child = std::process::Command::new(tool("chromedriver"))
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        let base = format!("http://127.0.0.1:{port}");
        let client = reqwest::Client::new();
        let mut ready = false;
        for _ in 0..100 {
            if let Ok(r) = client.get(format!("{base}/status")).send().await
                && r.json::<Value>()
                    .await
                    .is_ok_and(|v| v["value"]["ready"] == true)
            {
                ready = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert!(ready, "chromedriver did not start");
        let profile = tempfile::tempdir().unwrap();
        let args = [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-dev-shm-usage",
            &format!("--user-data-dir={}", profile.path().display()),
        ];
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {"binary": chromium, "args": args}}}});
        let r: Value = client
            .post(format!("{base}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let session = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no WebDriver session: {r}"))
            .to_owned();
        Self {
            child,
            base,
            session,
            client,
            _profile: profile,
        }
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.client.request(method.clone(), url);
        if method == reqwest::Method::POST {
            req = req.json(&body);
        }
        let r: Value = req.send().await.unwrap().json().await.unwrap();
        assert!(r["value"].get("error").is_none(), "WebDriver {path}: {r}");
        r["value"].clone()
    }

    async fn go(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", json!({"url": url}))
            .await;
    }

    async fn find(&self, css: &str) -> String {
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/element",
                json!({"using": "css selector", "value": css}),
            )
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element {css}: {v}"))
            .to_owned()
    }

    async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/value"),
            json!({"text": text}),
        )
        .await;
    }

    async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/click"),
            json!({}),
        )
        .await;
    }

    async fn source(&self) -> String {
        self.cmd(reqwest::Method::GET, "/source", Value::Null)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Waits (up to 10 s) until the current URL satisfies `ok`; a click that submits a form
    /// can return before the next page has loaded.
    async fn wait_url(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let mut url = String::new();
        for _ in 0..100 {
            url = self.url().await;
            if ok(&url) {
                return url;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("{what}: still at {url}");
    }

    async fn url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", Value::Null)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

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
