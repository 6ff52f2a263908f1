//! A WebDriver client for the browser tests: headless Chromium through chromedriver, spoken
//! to over the W3C protocol's own endpoints with the suite's HTTP client. Besides navigation
//! and forms it saves screenshots at desktop and phone width (`target/screenshots/`), checks
//! that a page does not scroll sideways, and runs axe-core (installed by `scripts/tools-node`)
//! in the page.

use base64::Engine as _;
use serde_json::{Value, json};
use std::os::unix::process::CommandExt;

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub(crate) struct Driver {
    child: std::process::Child,
    base: String,
    session: String,
    client: reqwest::Client,
    _profile: tempfile::TempDir,
    /// The width last set by [`Driver::set_width`] (0: Chromium's own).
    width: std::sync::atomic::AtomicU32,
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
    pub(crate) async fn start() -> Self {
        let chromium = tool("chromium");
        let port = free_port();
        // In a process group of its own, so that the browser it starts goes with it.
        let child = std::process::Command::new(tool("chromedriver"))
            .process_group(0)
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
        // A find waits up to 5 s for its element: after a click that navigates, the new URL
        // shows before the new page's elements exist (a failure seen on a loaded machine).
        let caps = json!({"capabilities": {"alwaysMatch": {"browserName": "chrome", "timeouts": {"implicit": 5000}, "goog:chromeOptions": {"binary": chromium, "args": args}}}});
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
            width: std::sync::atomic::AtomicU32::new(0),
        }
    }

    pub(crate) async fn cmd(&self, method: reqwest::Method, path: &str, body: Value) -> Value {
        let url = format!("{}/session/{}{path}", self.base, self.session);
        let mut req = self.client.request(method.clone(), url);
        if method == reqwest::Method::POST {
            req = req.json(&body);
        }
        let r: Value = req.send().await.unwrap().json().await.unwrap();
        assert!(r["value"].get("error").is_none(), "WebDriver {path}: {r}");
        r["value"].clone()
    }

    pub(crate) async fn go(&self, url: &str) {
        self.cmd(reqwest::Method::POST, "/url", json!({"url": url}))
            .await;
    }

    pub(crate) async fn find(&self, css: &str) -> String {
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

    pub(crate) async fn type_into(&self, css: &str, text: &str) {
        let e = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/value"),
            json!({"text": text}),
        )
        .await;
    }

    pub(crate) async fn click(&self, css: &str) {
        let e = self.find(css).await;
        self.cmd(
            reqwest::Method::POST,
            &format!("/element/{e}/click"),
            json!({}),
        )
        .await;
    }

    pub(crate) async fn source(&self) -> String {
        self.cmd(reqwest::Method::GET, "/source", Value::Null)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Waits (up to 10 s) until the current URL satisfies `ok`; a click that submits a form
    /// can return before the next page has loaded.
    pub(crate) async fn wait_url(&self, what: &str, ok: impl Fn(&str) -> bool) -> String {
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

    /// Waits (up to 10 s) until the page's source contains `needle`; returns the source.
    pub(crate) async fn wait_source(&self, what: &str, needle: &str) -> String {
        let mut page = String::new();
        for _ in 0..100 {
            page = self.source().await;
            if page.contains(needle) {
                return page;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("{what}: no {needle:?} in {page}");
    }

    /// Runs `script` (a function body) in the page and returns its value.
    pub(crate) async fn run(&self, script: &str) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/execute/sync",
            json!({"script": script, "args": []}),
        )
        .await
    }

    /// The visible text of the first element matching `css`.
    pub(crate) async fn text(&self, css: &str) -> String {
        let e = self.find(css).await;
        self.cmd(
            reqwest::Method::GET,
            &format!("/element/{e}/text"),
            Value::Null,
        )
        .await
        .as_str()
        .unwrap_or_default()
        .to_owned()
    }

    /// Waits (up to 10 s) until the text of `css` contains `needle`; returns the text.
    pub(crate) async fn wait_text(&self, css: &str, needle: &str) -> String {
        let mut text = String::new();
        for _ in 0..100 {
            text = self.text(css).await;
            if text.contains(needle) {
                return text;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("{css}: no {needle:?} in {text:?}");
    }

    pub(crate) async fn sign_in(&self, base: &str, email: &str) {
        self.go(&format!("{base}/login")).await;
        self.type_into("input[name=email]", email).await;
        self.type_into("input[name=password]", "a long enough password")
            .await;
        self.click("form[action='/login'] button[type=submit]")
            .await;
        self.wait_url("signed in", |u| !u.contains("/login")).await;
    }

    pub(crate) async fn url(&self) -> String {
        self.cmd(reqwest::Method::GET, "/url", Value::Null)
            .await
            .as_str()
            .unwrap()
            .to_owned()
    }

    /// Chromium's DevTools command `cmd`, through chromedriver.
    async fn cdp(&self, cmd: &str, params: Value) -> Value {
        self.cmd(
            reqwest::Method::POST,
            "/goog/cdp/execute",
            json!({"cmd": cmd, "params": params}),
        )
        .await
    }

    /// Lays the page out as a `width` px wide screen (a phone's, with its viewport rules, below
    /// 600 px), as Chromium's device emulation does; stays until changed.
    pub(crate) async fn set_width(&self, width: u32) {
        self.set_width_as(width, width < 600).await;
    }

    /// [`Self::set_width`], as a phone (`mobile`: the page's viewport rules apply) or as a
    /// narrow window.
    async fn set_width_as(&self, width: u32, mobile: bool) {
        self.cdp(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": mobile}),
        )
        .await;
        self.width
            .store(width, std::sync::atomic::Ordering::Relaxed);
        // The new layout is ready when the page reports the new width; a page wider than a
        // phone makes the phone zoom out instead (a wider viewport), which
        // [`Driver::sideways`] reports.
        for _ in 0..50 {
            if self.run("return window.innerWidth;").await == json!(width) {
                return;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Shows pages in the dark colour scheme (`prefers-color-scheme: dark`), or the light one.
    pub(crate) async fn set_dark(&self, dark: bool) {
        self.cdp(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": if dark { "dark" } else { "light" }}]}),
        )
        .await;
    }

    /// Saves the whole page as `target/screenshots/{name}-desktop.png` (1280 px) and
    /// `{name}-phone.png` (360 px, the narrowest phone the pages are made for), and leaves the page at desktop width.
    pub(crate) async fn screenshot(&self, name: &str) {
        for (label, width) in WIDTHS {
            self.set_width(width).await;
            self.save_screenshot(&format!("{name}-{label}")).await;
        }
        self.set_width(WIDTHS[0].1).await;
    }

    /// Saves the page at its current width, all of its height (up to 8,000 px).
    async fn save_screenshot(&self, file: &str) {
        let size = self
            .run("return [window.innerWidth, document.documentElement.scrollHeight];")
            .await;
        let (w, h) = (
            size[0].as_u64().unwrap_or(1280),
            size[1].as_u64().unwrap_or(900).clamp(1, 8000),
        );
        let shot = self
            .cdp(
                "Page.captureScreenshot",
                json!({"format": "png", "captureBeyondViewport": true,
                       "clip": {"x": 0, "y": 0, "width": w, "height": h, "scale": 1}}),
            )
            .await;
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap_or_default())
            .unwrap();
        assert!(png.starts_with(b"\x89PNG"), "{file}: not a PNG");
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{file}.png")), png).unwrap();
    }

    /// The elements wider than the screen when the page scrolls sideways (empty when it does
    /// not): `document.documentElement.scrollWidth <= innerWidth`, and no wider than the width
    /// set.
    pub(crate) async fn sideways(&self) -> Vec<String> {
        // A phone zooms out of a page wider than itself, so its viewport (innerWidth) grows
        // with the page: the width set is the bound.
        let width = self.width.load(std::sync::atomic::Ordering::Relaxed);
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/execute/sync",
                json!({"script": "const w = arguments[0] > 0 ? Math.min(arguments[0], window.innerWidth) : window.innerWidth;\
                 if (document.documentElement.scrollWidth <= w) return [];\
                 const out = [document.documentElement.scrollWidth + ' > ' + w];\
                 for (const e of document.querySelectorAll('body *')) {\
                   const r = e.getBoundingClientRect();\
                   if (r.right > w + 0.5 && out.length < 12)\
                     out.push(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +\
                       (e.className && typeof e.className === 'string' ? '.' + e.className.trim().split(/\\s+/).join('.') : '') +\
                       ' right=' + Math.round(r.right));\
                 }\
                 return out;",
                       "args": [width]}),
            )
            .await;
        serde_json::from_value(v).unwrap()
    }

    /// Runs axe-core on the page and returns its serious and critical violations, one line
    /// each (rule, impact, help, the elements). axe-core's file is read from
    /// `target/tools/node` and handed to the page through execute-script: the page loads
    /// nothing from elsewhere, and its Content-Security-Policy stays as served. `None` when
    /// axe-core is not installed (outside CI only; `support::oracle` fails under CI).
    pub(crate) async fn axe(&self) -> Option<Vec<String>> {
        self.axe_except(&[]).await
    }

    /// [`Self::axe`] with the rules `off` not run.
    async fn axe_except(&self, off: &[&str]) -> Option<Vec<String>> {
        let path = crate::support::oracle(AXE, "axe-core (npm)")?;
        let source = std::fs::read_to_string(path).unwrap();
        self.run(&format!("{source}\n;return typeof window.axe;"))
            .await;
        let v = self
            .cmd(
                reqwest::Method::POST,
                "/execute/async",
                json!({"script": "const done = arguments[arguments.length - 1];\
                    const rules = {};\
                    for (const id of arguments[0]) rules[id] = {enabled: false};\
                    window.axe.run(document, {resultTypes: ['violations'], rules}).then(r => done(\
                      r.violations.filter(v => v.impact === 'serious' || v.impact === 'critical')\
                        .map(v => v.id + ' (' + v.impact + '): ' + v.help + ' at ' +\
                          v.nodes.slice(0, 5).map(n => n.target.join(' ') + ' [' + (n.failureSummary || '').replace(/\\s+/g, ' ') + ']').join('; '))),\
                      e => done(['axe failed: ' + e]));",
                       "args": [off]}),
            )
            .await;
        Some(serde_json::from_value(v).unwrap())
    }

    /// The quality bar for the page now open, at desktop and phone width: a screenshot of each
    /// (`target/screenshots/{name}-desktop.png`, `-phone.png`), no sideways scrolling, and no
    /// serious or critical axe-core violation. Leaves the page at desktop width.
    pub(crate) async fn check_page(&self, name: &str) {
        self.check(name, &[], true).await;
    }

    /// [`Self::check_page`] for a plain-text document (SECURITY.md, security.txt): Chromium
    /// shows it in a page of its own making, without a title or a language, so axe-core's
    /// two rules about those are left out; every other rule runs.
    /// A text document has no viewport rules (a phone would lay it out 980 px wide and zoom
    /// out), so it is checked in a window as narrow as the phone.
    pub(crate) async fn check_text(&self, name: &str) {
        self.check(name, &["document-title", "html-has-lang"], false)
            .await;
    }

    async fn check(&self, name: &str, axe_off: &[&str], html: bool) {
        for (label, width) in WIDTHS {
            self.set_width_as(width, html && width < 600).await;
            self.save_screenshot(&format!("{name}-{label}")).await;
            let wide = self.sideways().await;
            assert!(
                wide.is_empty(),
                "{name} scrolls sideways at {width} px: {wide:?}"
            );
            if let Some(found) = self.axe_except(axe_off).await {
                assert!(
                    found.is_empty(),
                    "{name} at {width} px: axe-core finds:\n{}",
                    found.join("\n")
                );
            }
        }
        self.set_width(WIDTHS[0].1).await;
    }
}

/// The widths every page is checked at: a desktop's and a phone's.
pub(crate) const WIDTHS: [(&str, u32); 2] = [("desktop", 1280), ("phone", 360)];

const AXE: &str = "target/tools/node/node_modules/axe-core/axe.min.js";

/// Where screenshots go: `target/screenshots/` of the workspace, kept as test artefacts.
fn screenshot_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots")
}

impl Drop for Driver {
    /// Stops chromedriver and the browser it started: killing chromedriver alone left every
    /// test's Chromium running (16 of them after a run of the suite).
    fn drop(&mut self) {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{}", self.child.id())])
            .status();
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
