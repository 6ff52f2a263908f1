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

use crate::support::{TestApp, World, on_both_backends};

const USER: &str = "intake";
const PASSWORD: &str = "mailbox-secret-4711";

/// A Dovecot in a temporary folder, stopped on drop.
struct Dovecot {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Dovecot {
    /// Starts one, or says loudly why it cannot (and fails under `CI=true`).
    fn start() -> Option<Self> {
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
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let d = d.display();
        let config = format!(
            "first_valid_uid = 100
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
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
    port = 0
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
            _dir: dir,
        };
        for _ in 0..100 {
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Some(dovecot);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("Dovecot did not listen on {port}");
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

on_both_backends!(imap_intake);
