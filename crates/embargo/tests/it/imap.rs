//! The IMAP intake against a real Dovecot (Debian's `dovecot-imapd`, which `scripts/test`
//! installs), started here on 127.0.0.1 with plain IMAP (the host is listed in
//! `[network] allow`, the only way the intake goes without TLS). Messages arrive by IMAP
//! `APPEND`. Shown: the settings (security managers only, the password never read back, the
//! network rule), a report filed and moved to Embargo/Taken, a reply from its reporter made a
//! comment, an auto-reply dropped into Embargo/Dropped, nothing filed twice (a message found
//! again after it was filed is only moved; one whose reading was cut short is set aside in
//! Embargo/Unfinished), and a wrong password failing the job with a clear error.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::pki::TestPki;
use crate::support::{TestApp, World, on_both_backends};

const USER: &str = "intake";
const PASSWORD: &str = "mailbox-secret-4711";

/// A Dovecot in a temporary folder, stopped on drop.
struct Dovecot {
    child: Child,
    port: u16,
    /// The implicit-TLS (`imaps`) port, when started with a certificate.
    tls_port: Option<u16>,
    dir: tempfile::TempDir,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

impl Dovecot {
    /// Starts one serving plain IMAP, or says loudly why it cannot (and fails under
    /// `CI=true`).
    fn start() -> Option<Self> {
        Self::start_with(None)
    }

    /// Starts one; with `tls`, it also serves STARTTLS on its IMAP port and implicit TLS on
    /// another, with that certificate.
    fn start_with(tls: Option<&TestPki>) -> Option<Self> {
        let ci = std::env::var("CI").is_ok_and(|v| v == "true");
        let binary = ["/usr/sbin/dovecot", "/usr/bin/dovecot"]
            .into_iter()
            .find(|p| Path::new(p).exists());
        // Dovecot drops to its own users for mail access: it must start as root.
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.trim_ascii() == b"0");
        let Some(binary) = binary.filter(|_| root) else {
            let why = if root {
                "dovecot is not installed (Debian: dovecot-imapd)"
            } else {
                "the Dovecot test must run as root"
            };
            assert!(!ci, "{why}; CI requires it (scripts/test installs it)");
            eprintln!("!!! SKIPPING the IMAP intake test: {why}");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let mail = d.join("mail");
        std::fs::create_dir(&mail).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        // Dovecot's mail user writes here.
        std::fs::set_permissions(&mail, std::fs::Permissions::from_mode(0o1777)).unwrap();
        std::fs::write(d.join("passwd"), format!("{USER}:{{PLAIN}}{PASSWORD}\n")).unwrap();
        let port = free_port();
        let tls_port = tls.map(|_| free_port());
        let ssl = match tls {
            None => "ssl = no".to_owned(),
            Some(c) => {
                let dh = Path::new("/usr/share/dovecot/dh.pem");
                format!(
                    "ssl = yes\nssl_cert = <{}\nssl_key = <{}\n{}",
                    c.cert.display(),
                    c.key.display(),
                    if dh.exists() {
                        format!("ssl_dh = <{}\n", dh.display())
                    } else {
                        String::new()
                    }
                )
            }
        };
        let imaps = match tls_port {
            None => "port = 0".to_owned(),
            Some(p) => format!("address = 127.0.0.1\n    port = {p}"),
        };
        let d = d.display();
        let config = format!(
            "first_valid_uid = 100
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
mail_location = maildir:{d}/mail/%u
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/passwd
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={d}/mail/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    {imaps}
  }}
}}
service anvil {{
  chroot =
}}
"
        );
        let conf = dir.path().join("dovecot.conf");
        std::fs::write(&conf, config).unwrap();
        let child = Command::new(binary)
            .arg("-F")
            .arg("-c")
            .arg(&conf)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let dovecot = Self {
            child,
            port,
            tls_port,
            dir,
        };
        for _ in 0..100 {
            let up = |p: u16| TcpStream::connect(("127.0.0.1", p)).is_ok();
            if up(port) && tls_port.is_none_or(up) {
                return Some(dovecot);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("Dovecot did not listen on {port}: {}", dovecot.log());
    }

    /// What Dovecot logged.
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("dovecot.log")).unwrap_or_default()
    }

    /// A signed-in IMAP conversation: runs `commands` (each a tagged line, with an optional
    /// literal after it), returns everything the server said.
    fn talk(&self, commands: &[(&str, Option<&[u8]>)]) -> String {
        let stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut w = stream.try_clone().unwrap();
        let mut r = BufReader::new(stream);
        let mut said = String::new();
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        let login = format!("l LOGIN {USER} {PASSWORD}");
        let mut all = vec![(login.as_str(), None)];
        all.extend_from_slice(commands);
        all.push(("z LOGOUT", None));
        for (command, literal) in all {
            let tag = command.split(' ').next().unwrap();
            match literal {
                // LITERAL+ (RFC 7888): no wait for the server's go-ahead.
                Some(bytes) => {
                    write!(w, "{command} {{{}+}}\r\n", bytes.len()).unwrap();
                    w.write_all(bytes).unwrap();
                    w.write_all(b"\r\n").unwrap();
                }
                None => write!(w, "{command}\r\n").unwrap(),
            }
            loop {
                line.clear();
                assert!(r.read_line(&mut line).unwrap() > 0, "the server hung up");
                said.push_str(&line);
                if line.starts_with(&format!("{tag} ")) {
                    assert!(line.starts_with(&format!("{tag} OK")), "{command}: {line}");
                    break;
                }
            }
        }
        said
    }

    fn append(&self, raw: &str) {
        self.talk(&[("a APPEND INBOX", Some(raw.as_bytes()))]);
    }

    /// How many messages `folder` holds (0 when it does not exist).
    fn count(&self, folder: &str) -> usize {
        let listed = self.talk(&[(&format!("a LIST \"\" \"{folder}\""), None)]);
        if !listed.contains("* LIST") {
            return 0;
        }
        let said = self.talk(&[(&format!("s STATUS \"{folder}\" (MESSAGES)"), None)]);
        said.split("(MESSAGES ")
            .nth(1)
            .and_then(|r| r.split(')').next())
            .unwrap()
            .parse()
            .unwrap()
    }
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

fn message(from: &str, subject: &str, extra: &str, body: &str, n: u32) -> String {
    format!(
        "From: Rita <{from}>\r\nTo: security@coco.example\r\nSubject: {subject}\r\nMessage-ID: <imap-{n}@example.org>\r\n{extra}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    )
}

/// The ids of the advisories titled `title` that `token` sees.
async fn titled(app: &TestApp, token: &str, title: &str) -> Vec<String> {
    let r = app.get("/api/v1/advisories", Some(token)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.json
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["title"] == title)
        .map(|a| a["id"].as_str().unwrap().to_owned())
        .collect()
}

/// Runs the jobs after the intake's minute has passed.
async fn next_poll(app: &TestApp) {
    app.clock.advance(time::Duration::seconds(61));
    app.run_jobs().await;
}

async fn imap_intake(mut app: TestApp) {
    let Some(dovecot) = Dovecot::start() else {
        return;
    };
    let w = World::new(&app).await;
    let url = format!("imap://127.0.0.1:{}", dovecot.port);
    let settings =
        json!({"url": url, "user": USER, "password": PASSWORD, "tls": "none", "repo": "guest"});
    let path = "/api/v1/orgs/coco/mail-intake";

    // Not listed in [network] allow yet: refused, as a loopback address.
    let r = app
        .call(Method::PUT, path, Some(&w.sm), Some(settings.clone()))
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(r.text.contains("url"), "{}", r.text);
    app.configure(|c| c.network.allow = vec![format!("127.0.0.1:{}", dovecot.port)]);
    // Only security managers set or read it.
    for who in [&w.maintainer, &w.reporter, &w.other_org_sm] {
        let r = app
            .call(Method::PUT, path, Some(who), Some(settings.clone()))
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
        assert_eq!(app.get(path, Some(who)).await.status, StatusCode::FORBIDDEN);
    }
    assert_eq!(
        app.get(path, Some(&w.sm)).await.status,
        StatusCode::NOT_FOUND
    );
    // Implicit TLS is what imaps:// means; plain is spelled out.
    let mut wrong = settings.clone();
    wrong["url"] = json!(format!("imaps://127.0.0.1:{}", dovecot.port));
    let r = app.call(Method::PUT, path, Some(&w.sm), Some(wrong)).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    let r = app
        .call(Method::PUT, path, Some(&w.sm), Some(settings.clone()))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let shown = app.get(path, Some(&w.sm)).await;
    assert_eq!(shown.status, StatusCode::OK);
    assert_eq!(shown.json["url"], url);
    assert_eq!(shown.json["folder"], "INBOX");
    assert_eq!(shown.json["repo"], "guest");
    assert!(
        !shown.text.contains(PASSWORD) && shown.json.get("password").is_none(),
        "{}",
        shown.text
    );

    // A report, and an auto-reply.
    let report = message(
        "rita@example.org",
        "Heap overflow in the IMAP parser",
        "",
        "Send a long literal and it crashes.",
        1,
    );
    dovecot.append(&report);
    dovecot.append(&message(
        "rita@example.org",
        "Out of office",
        "Auto-Submitted: auto-replied\r\n",
        "I am away.",
        2,
    ));
    app.run_jobs().await;
    let filed = titled(&app, &w.sm, "Heap overflow in the IMAP parser").await;
    assert_eq!(filed.len(), 1, "filed once");
    assert!(titled(&app, &w.sm, "Out of office").await.is_empty());
    assert_eq!(dovecot.count("INBOX"), 0);
    assert_eq!(dovecot.count("Embargo/Taken"), 1);
    assert_eq!(dovecot.count("Embargo/Dropped"), 1);
    let id = &filed[0];
    let shown = app
        .get(&format!("/api/v1/advisories/{id}"), Some(&w.sm))
        .await;
    assert_eq!(shown.json["repository"], "guest", "{}", shown.text);

    // The reporter's reply is a comment.
    dovecot.append(&message(
        "rita@example.org",
        &format!("Re: [Embargo] Your private link to report {id}"),
        &format!("In-Reply-To: <{}@embargo>\r\n", id.to_lowercase()),
        "It also crashes on arm64.\r\n\r\nOn Mon, Embargo wrote:\r\n> Your report",
        3,
    ));
    next_poll(&app).await;
    let thread = app
        .get(&format!("/api/v1/advisories/{id}/comments"), Some(&w.sm))
        .await;
    let bodies: Vec<&str> = thread
        .json
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["It also crashes on arm64."]);
    assert_eq!(dovecot.count("Embargo/Taken"), 2);

    // Nothing twice. The same message again (as if the job died after filing it, before
    // moving it): moved, not filed. A run with nothing new does nothing.
    dovecot.append(&report);
    next_poll(&app).await;
    next_poll(&app).await;
    assert_eq!(
        titled(&app, &w.sm, "Heap overflow in the IMAP parser")
            .await
            .len(),
        1,
        "not filed twice"
    );
    assert_eq!(dovecot.count("INBOX"), 0);
    assert_eq!(dovecot.count("Embargo/Taken"), 3);
    // A message claimed but without an outcome (the job died while reading it): never read
    // again, set aside for a person.
    let cut_short = message(
        "rita@example.org",
        "Cut short",
        "",
        "The job died while reading me.",
        4,
    );
    let digest: String = {
        use sha2::Digest;
        sha2::Sha256::digest(cut_short.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    };
    let coco = app
        .store
        .org(&embargo_domain::types::Slug::parse("coco").unwrap())
        .await
        .unwrap();
    assert_eq!(
        app.store.imap_claim(coco.id, &digest, None).await.unwrap(),
        embargo_store::ImapClaim::New
    );
    dovecot.append(&cut_short);
    next_poll(&app).await;
    assert!(titled(&app, &w.sm, "Cut short").await.is_empty());
    assert_eq!(dovecot.count("Embargo/Unfinished"), 1);
    assert_eq!(dovecot.count("INBOX"), 0);

    // A wrong password fails the job, with an error that says so and does not hold it.
    let mut wrong = settings.clone();
    wrong["password"] = json!("not-the-password-0815");
    let r = app.call(Method::PUT, path, Some(&w.sm), Some(wrong)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    dovecot.append(&message(
        "rita@example.org",
        "Waiting",
        "",
        "Still here.",
        5,
    ));
    next_poll(&app).await;
    let jobs = app.store.jobs().await.unwrap();
    let job = jobs.iter().find(|j| j.kind == "imap_intake").unwrap();
    let error = job.last_error.as_deref().unwrap_or_default();
    assert!(
        error.contains("signing in as intake failed") && error.contains("coco"),
        "{error}"
    );
    assert!(
        !error.contains("not-the-password-0815") && !error.contains(PASSWORD),
        "{error}"
    );
    assert_eq!(dovecot.count("INBOX"), 1, "nothing lost");

    // Turned off: gone, and the job has nothing to do.
    let r = app.call(Method::DELETE, path, Some(&w.sm), None).await;
    assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
    assert_eq!(
        app.get(path, Some(&w.sm)).await.status,
        StatusCode::NOT_FOUND
    );
}

/// The last error of the intake job.
async fn intake_error(app: &TestApp) -> String {
    let jobs = app.store.jobs().await.unwrap();
    let job = jobs.iter().find(|j| j.kind == "imap_intake").unwrap();
    job.last_error.clone().unwrap_or_default()
}

/// IMAP over TLS against the real Dovecot, with a certificate of a CA made here: refused
/// while the CA is not trusted (the message stays in the mailbox), taken once the
/// administrator names the CA in `[mail] imap_ca_file`; implicit TLS and STARTTLS.
async fn imap_intake_over_tls(mut app: TestApp) {
    let certs = TestPki::make();
    let Some(dovecot) = Dovecot::start_with(Some(&certs)) else {
        return;
    };
    let tls_port = dovecot.tls_port.unwrap();
    let allow = vec![
        format!("127.0.0.1:{}", dovecot.port),
        format!("127.0.0.1:{tls_port}"),
    ];
    let allowed = allow.clone();
    app.configure(|c| c.network.allow = allowed);
    let w = World::new(&app).await;
    let path = "/api/v1/orgs/coco/mail-intake";
    let r = app
        .call(
            Method::PUT,
            path,
            Some(&w.sm),
            Some(json!({"url": format!("imaps://127.0.0.1:{tls_port}"), "user": USER, "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["tls"], "implicit");
    dovecot.append(&message(
        "tess@example.org",
        "Over TLS",
        "",
        "Sent over an encrypted connection.",
        10,
    ));

    // Only Mozilla's roots: the server's certificate is refused, readably; nothing is taken.
    app.run_jobs().await;
    let error = intake_error(&app).await;
    assert!(
        error.contains("TLS failed: the server's certificate is not trusted")
            && error.contains("[mail] imap_ca_file")
            && error.contains("coco"),
        "{error}"
    );
    assert!(!error.contains(PASSWORD), "{error}");
    assert!(titled(&app, &w.sm, "Over TLS").await.is_empty());
    assert_eq!(dovecot.count("INBOX"), 1, "the mail stays on the server");
    // Another CA trusted: still refused.
    let (other, a) = (certs.other_ca.display().to_string(), allow.clone());
    app.configure(|c| {
        c.network.allow = a;
        c.mail.imap_ca_file = other;
    });
    next_poll(&app).await;
    assert!(
        intake_error(&app).await.contains("not trusted"),
        "{}",
        intake_error(&app).await
    );
    assert_eq!(dovecot.count("INBOX"), 1);
    // A file that holds no certificate: the error names it.
    let junk = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(junk.path(), "not a certificate").unwrap();
    let (file, a) = (junk.path().display().to_string(), allow.clone());
    app.configure(|c| {
        c.network.allow = a;
        c.mail.imap_ca_file = file;
    });
    next_poll(&app).await;
    let error = intake_error(&app).await;
    assert!(
        error.contains("[mail] imap_ca_file") && error.contains("no PEM certificate"),
        "{error}"
    );
    assert_eq!(dovecot.count("INBOX"), 1);

    // The CA that signed the server's certificate: taken over TLS.
    let (ca, a) = (certs.ca.display().to_string(), allow.clone());
    app.configure(|c| {
        c.network.allow = a;
        c.mail.imap_ca_file = ca;
    });
    next_poll(&app).await;
    assert_eq!(
        titled(&app, &w.sm, "Over TLS").await.len(),
        1,
        "{}",
        intake_error(&app).await
    );
    assert_eq!(dovecot.count("INBOX"), 0);
    assert_eq!(dovecot.count("Embargo/Taken"), 1);

    // STARTTLS on the IMAP port: the sign-in goes over TLS too (Dovecot logs it).
    let r = app
        .call(
            Method::PUT,
            path,
            Some(&w.sm),
            Some(json!({"url": format!("imap://127.0.0.1:{}", dovecot.port), "user": USER, "password": PASSWORD})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["tls"], "starttls");
    dovecot.append(&message(
        "tess@example.org",
        "After STARTTLS",
        "",
        "Upgraded.",
        11,
    ));
    let tls_logins = |log: &str| {
        log.lines()
            .filter(|l| l.contains("Login: user=<intake>") && l.contains(", TLS"))
            .count()
    };
    let before = tls_logins(&dovecot.log());
    next_poll(&app).await;
    assert_eq!(
        titled(&app, &w.sm, "After STARTTLS").await.len(),
        1,
        "{}",
        intake_error(&app).await
    );
    assert_eq!(dovecot.count("Embargo/Taken"), 2);
    assert_eq!(tls_logins(&dovecot.log()), before + 1, "{}", dovecot.log());
}

/// The real messages of the issue, over IMAP: multipart with an attachment, HTML only, a
/// reply by a tag in the address, a blocked sender, and a 30 MiB message (dropped by its
/// size before it is read, never filed).
async fn imap_intake_real_messages(mut app: TestApp) {
    let Some(dovecot) = Dovecot::start() else {
        return;
    };
    let port = dovecot.port;
    app.configure(|c| c.network.allow = vec![format!("127.0.0.1:{port}")]);
    let w = World::new(&app).await;
    let r = app
        .call(
            Method::PUT,
            "/api/v1/orgs/coco/mail-intake",
            Some(&w.sm),
            Some(json!({"url": format!("imap://127.0.0.1:{port}"), "user": USER, "password": PASSWORD, "tls": "none", "repo": "guest"})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    dovecot.append("From: sam@example.net\r\nTo: security@coco.example\r\nSubject: PoC attached\r\nMessage-ID: <imap-20@example.net>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the attached proof of concept.\r\n--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"poc.py\"\r\nContent-Transfer-Encoding: base64\r\n\r\ncHJpbnQoIm92ZXJmbG93Iik=\r\n--b1--\r\n");
    dovecot.append("From: hana@example.net\r\nTo: security@coco.example\r\nSubject: HTML report\r\nMessage-ID: <imap-21@example.net>\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>The <b>token</b> leaks in logs.</p><script>alert(1)</script></body></html>\r\n");
    dovecot.append(&message("spammer@example.net", "Buy now", "", "cheap", 22));
    app.run_jobs().await;
    let poc = titled(&app, &w.sm, "PoC attached").await;
    assert_eq!(poc.len(), 1);
    let files = app
        .get(
            &format!("/api/v1/advisories/{}/attachments", poc[0]),
            Some(&w.sm),
        )
        .await;
    assert_eq!(files.json[0]["filename"], "poc.py", "{}", files.text);
    assert_eq!(files.json[0]["size"], 17);
    let html = titled(&app, &w.sm, "HTML report").await;
    let a = app
        .get(&format!("/api/v1/advisories/{}", html[0]), Some(&w.sm))
        .await;
    let d = a.json["description"].as_str().unwrap();
    assert!(
        d.contains("leaks in logs") && !d.contains("<b>") && !d.contains("<script"),
        "{d}"
    );
    assert_eq!(dovecot.count("Embargo/Taken"), 3);

    // A reply to the first, by a tag in the address (no In-Reply-To, no "Re:").
    dovecot.append(&format!(
        "From: sam@example.net\r\nTo: security+{}@coco.example\r\nSubject: One more thing\r\nMessage-ID: <imap-23@example.net>\r\n\r\nIt needs no sign-in.\r\n",
        poc[0]
    ));
    next_poll(&app).await;
    assert!(
        titled(&app, &w.sm, "One more thing").await.is_empty(),
        "never a new report"
    );
    let thread = app
        .get(
            &format!("/api/v1/advisories/{}/comments", poc[0]),
            Some(&w.sm),
        )
        .await;
    assert_eq!(
        thread.json[0]["body"], "It needs no sign-in.",
        "{}",
        thread.text
    );

    // The spammer's report is closed as spam: their next message is dropped.
    let spam = titled(&app, &w.sm, "Buy now").await;
    let r = app
        .post(
            &format!("/api/v1/advisories/{}/close", spam[0]),
            Some(&w.sm),
            json!({"reason": "spam"}),
        )
        .await;
    assert!(r.status.is_success(), "{}", r.text);
    dovecot.append(&message(
        "spammer@example.net",
        "Buy again",
        "",
        "cheap",
        24,
    ));
    // 30 MiB: over the limit, dropped by its size, never read.
    dovecot.append(&message(
        "big@example.net",
        "Huge",
        "",
        &"x".repeat(30 * 1024 * 1024),
        25,
    ));
    next_poll(&app).await;
    assert!(titled(&app, &w.sm, "Buy again").await.is_empty());
    assert!(titled(&app, &w.sm, "Huge").await.is_empty());
    assert_eq!(dovecot.count("Embargo/Dropped"), 2);
    assert_eq!(dovecot.count("INBOX"), 0);
    assert_eq!(intake_error(&app).await, "", "no run failed");
}

on_both_backends!(imap_intake, imap_intake_over_tls, imap_intake_real_messages);
