//! E-mail through a real SMTP server (aiosmtpd, from scripts/tools-venv) and the real binary:
//! a report filed without an account is confirmed by following the link that arrived, the
//! reporter's private link works (and only it), triagers are told without watching anything,
//! and a marker placed in the description, a reply and an internal note is in no message.
//! Without a relay, messages land in the data folder's outbox.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::Server;

const MARKER: &str = "ZEBRA-7741-SECRET";

/// The SMTP sink: a real SMTP server writing what it receives to a folder.
struct Sink {
    child: std::process::Child,
    port: u16,
    dir: tempfile::TempDir,
}

impl Sink {
    fn start() -> Option<Self> {
        use std::io::BufRead;
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
        let python = crate::support::oracle("target/tools/venv/bin/python", "PyPI aiosmtpd")?;
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new(python)
            .arg(root.join("scripts/smtp-sink.py"))
            .arg(dir.path())
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let port = line.trim().parse().expect("the sink prints its port");
        Some(Self { child, port, dir })
    }

    /// Every message received so far: (recipients, full text).
    fn messages(&self) -> Vec<(String, String)> {
        read_messages(self.dir.path(), "eml")
            .into_iter()
            .map(|(path, text)| {
                let rcpt = std::fs::read_to_string(path.with_extension("rcpt")).unwrap_or_default();
                (rcpt, decoded(&text))
            })
            .collect()
    }

    /// Waits for a message to `to` whose text contains `needle`.
    async fn wait_for(&self, to: &str, needle: &str) -> String {
        let start = Instant::now();
        loop {
            if let Some((_, text)) = self
                .messages()
                .into_iter()
                .find(|(r, t)| r.lines().any(|l| l == to) && t.contains(needle))
            {
                return text;
            }
            assert!(
                start.elapsed() < Duration::from_secs(30),
                "no message to {to} with {needle:?}; got {:#?}",
                self.messages()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn read_messages(dir: &Path, ext: &str) -> Vec<(PathBuf, String)> {
    let mut out: Vec<(PathBuf, String)> = std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == ext))
                .map(|p| {
                    let t = std::fs::read_to_string(&p).unwrap_or_default();
                    (p, t)
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

/// The text of a message with quoted-printable undone (soft line breaks, `=XX`).
fn decoded(text: &str) -> String {
    if !text.contains("Content-Transfer-Encoding: quoted-printable") {
        return text.to_owned();
    }
    let joined = text.replace("=\r\n", "").replace("=\n", "");
    let mut out = Vec::new();
    let b = joined.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'='
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&joined[i + 1..i + 3], 16)
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

/// The first `http…/{kind}/TOKEN` link in a message.
fn link(text: &str, kind: &str) -> String {
    let text = &decoded(text);
    let at = text
        .find(&format!("/{kind}/"))
        .unwrap_or_else(|| panic!("no /{kind}/ link in {text}"));
    let start = text[..at].rfind("http").unwrap();
    text[start..]
        .split(|c: char| c.is_whitespace())
        .next()
        .unwrap()
        .to_owned()
}

async fn setup(server: &Server) -> (String, String) {
    let base = &server.base;
    let admin = server.user("admin@example.org", true, &[]);
    let sm = server.user("sm@example.org", false, &[]);
    server.user("maintainer@example.org", false, &[]);
    crate::support::coco_over_http(base, &admin, "sm@example.org").await;
    crate::support::api_steps(
        base,
        &admin,
        &[(
            reqwest::Method::PUT,
            "/api/v1/orgs/coco/repos/guest/maintainers/maintainer@example.org",
            json!({}),
        )],
    )
    .await;
    (admin, sm)
}

fn form(pairs: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// The anonymous form cookie and token from a page.
async fn anon_form(client: &reqwest::Client, url: &str) -> (String, String) {
    let r = client.get(url).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    let cookie = r
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_owned())
        .find(|c| c.starts_with("embargo_csrf="))
        .unwrap();
    let page = r.text().await.unwrap();
    let at = page.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = page[at..at + 64].to_owned();
    (cookie, csrf)
}

#[tokio::test]
async fn smtp_confirmation_private_link_and_no_secrets_in_mail() {
    let Some(sink) = Sink::start() else { return };
    let smtp = format!("smtp://127.0.0.1:{}", sink.port);
    let env = [
        ("EMBARGO_MAIL_SMTP_URL", smtp.as_str()),
        ("EMBARGO_MAIL_FROM", "Embargo <security@embargo.test>"),
    ];
    let mut server = Server::start(&env);
    let base = server.base.clone();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (_admin, sm) = setup(&server).await;

    // Filed without an account: 202, and nobody sees it yet.
    let r = client
        .post(format!("{base}/api/v1/orgs/coco/repos/guest/advisories"))
        .json(&json!({"title": "Heap overflow", "description": format!("Steps: {MARKER}-description"), "reporter_email": "rita@example.org"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let list: Value = client
        .get(format!("{base}/api/v1/advisories"))
        .bearer_auth(&sm)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        list.as_array().map(Vec::len),
        Some(0),
        "unconfirmed reports are invisible: {list}"
    );

    let confirm = sink
        .wait_for("rita@example.org", "Confirm your report to coco/guest")
        .await;
    let confirm_url = link(&confirm, "confirm");
    assert!(confirm_url.starts_with(&base), "{confirm_url}");
    let (cookie, csrf) = anon_form(&client, &confirm_url).await;
    let r = client
        .post(&confirm_url)
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("csrf", csrf.as_str())]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let private = format!("{base}{}", r.headers()["location"].to_str().unwrap());
    assert!(private.contains("/r/"), "{private}");
    // The link works once.
    let r = client
        .post(&confirm_url)
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("csrf", csrf.as_str())]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 404);
    assert!(
        r.text()
            .await
            .unwrap()
            .contains("used already or has expired")
    );

    // The reporter gets the private link; the triagers hear of the report, unasked.
    let mail = sink.wait_for("rita@example.org", "Your private link").await;
    assert_eq!(link(&mail, "r"), private);
    sink.wait_for("sm@example.org", "New report EMB-").await;
    sink.wait_for("maintainer@example.org", "New report EMB-")
        .await;
    let list: Value = client
        .get(format!("{base}/api/v1/advisories"))
        .bearer_auth(&sm)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = list[0]["id"].as_str().unwrap().to_owned();

    // A reply and an internal note by the security manager.
    for (body, internal) in [
        (format!("Thanks! {MARKER}-reply"), false),
        (format!("Looks real. {MARKER}-note"), true),
    ] {
        let r = client
            .post(format!("{base}/api/v1/advisories/{id}/comments"))
            .bearer_auth(&sm)
            .json(&json!({"body": body, "internal": internal}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
    }
    let reply = sink.wait_for("rita@example.org", "New reply on").await;
    assert!(
        reply.contains("private link") && !reply.contains("/advisories/"),
        "{reply}"
    );
    sink.wait_for("maintainer@example.org", "New internal note on")
        .await;

    // The private link shows the reply, never the internal note.
    let page = client
        .get(&private)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains(&format!("{MARKER}-reply")) && !page.contains(&format!("{MARKER}-note")));
    // The reporter answers through the link; the triagers are told.
    let (cookie, csrf) = anon_form(&client, &private).await;
    let r = client
        .post(format!("{private}/comments"))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("csrf", csrf.as_str()), ("body", "More details")]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    sink.wait_for("sm@example.org", "New reply on").await;

    // A wrong token answers exactly as a missing report; a revoked one too.
    let wrong = client
        .get(format!("{base}/r/{}", "0".repeat(64)))
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 404);
    let wrong_body = wrong.text().await.unwrap();
    let r = client
        .post(format!("{private}/revoke"))
        .header("cookie", &cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form(&[("csrf", csrf.as_str())]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303);
    let revoked = client.get(&private).send().await.unwrap();
    assert_eq!(revoked.status(), 404);
    assert_eq!(revoked.text().await.unwrap(), wrong_body);

    // No message carries the marker; none no-one is told of their own action.
    let all = sink.messages();
    assert!(all.len() >= 8, "{all:#?}");
    for (rcpt, text) in &all {
        assert!(
            !text.contains(MARKER),
            "a message to {rcpt} carries report text:\n{text}"
        );
        assert!(
            !text.contains("Heap overflow"),
            "titles stay out unless the policy allows:\n{text}"
        );
    }
    assert!(
        !all.iter()
            .any(|(r, t)| r == "sm@example.org" && t.contains("New internal note")),
        "nobody is told of their own note"
    );
    server.stop();
}

#[tokio::test]
async fn without_a_relay_messages_land_in_the_outbox() {
    let mut server = Server::start(&[]);
    let client = reqwest::Client::new();
    setup(&server).await;
    let r = client
        .post(format!("{}/api/v1/orgs/coco/advisories", server.base))
        .json(&json!({"title": "t", "description": "d", "reporter_email": "rita@example.org"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let outbox = server.data.path().join("outbox");
    let start = Instant::now();
    let text = loop {
        if let Some((_, t)) = read_messages(&outbox, "eml").into_iter().next() {
            break decoded(&t);
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "nothing in {}",
            outbox.display()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    // An RFC 5322 message with its headers.
    assert!(text.contains("To: rita@example.org"), "{text}");
    assert!(
        text.contains("Subject: [Embargo] Confirm your report to coco"),
        "{text}"
    );
    assert!(text.contains("From: Embargo <embargo@localhost>"), "{text}");
    assert!(text.contains("/confirm/"), "{text}");
    server.stop();
}
