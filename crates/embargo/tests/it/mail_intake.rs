//! Reports by e-mail through the real binary (`embargo intake mail`, as an MTA pipes a
//! message): plain, multipart with an attachment, HTML only, a reply to an earlier report
//! (and one from a stranger), an auto-reply, a bounce, list mail, Embargo's own message
//! coming back, a blocked sender and a 30 MiB message. Each prints one line and exits 0.

use serde_json::{Value, json};

use crate::support::Server;

struct Intake {
    server: Server,
    sm: String,
    client: reqwest::Client,
}

impl Intake {
    async fn new() -> Self {
        let server = Server::start(&[]);
        let admin = server.user("admin@example.org", true, &[]);
        let sm = server.user("sm@example.org", false, &[]);
        crate::support::coco_over_http(&server.base, &admin, "sm@example.org").await;
        Self {
            server,
            sm,
            client: reqwest::Client::new(),
        }
    }

    /// Pipes `message` to `embargo intake mail`; the line it printed.
    fn pipe(&self, message: &str) -> String {
        let out = self.server.command(
            &["intake", "mail", "--org", "coco", "--repo", "guest"],
            Some(message),
            &[],
        );
        let line = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        assert!(
            out.status.success(),
            "exit {:?}: {line} {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        assert_eq!(line.lines().count(), 1, "one line: {line}");
        line
    }

    async fn get(&self, path: &str) -> Value {
        self.client
            .get(format!("{}{path}", self.server.base))
            .bearer_auth(&self.sm)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// Waits for the outbox to hold a message to `to` containing `needle`.
    async fn mailed(&self, to: &str, needle: &str) -> String {
        let dir = self.server.data.path().join("outbox");
        for _ in 0..100 {
            for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
                let text = std::fs::read_to_string(e.path()).unwrap_or_default();
                if text.contains(&format!("To: {to}")) && text.contains(needle) {
                    return text;
                }
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        panic!("no message to {to} with {needle}");
    }
}

fn message(from: &str, subject: &str, extra_headers: &str, body: &str) -> String {
    format!(
        "From: Rita <{from}>\r\nTo: security@coco.example\r\nSubject: {subject}\r\nMessage-ID: <{}@example.org>\r\n{extra_headers}MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        subject.len()
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_and_replies_by_mail() {
    let t = Intake::new().await;
    // Plain text: a report in triage, filed as the sender, who gets the id and private link.
    let id = t.pipe(&message(
        "rita@example.net",
        "Heap overflow in the attestation parser",
        "",
        "Sending a 70 kB quote overflows the buffer.\r\nSteps: ...",
    ));
    assert!(id.starts_with("EMB-"), "{id}");
    let a = t.get(&format!("/api/v1/advisories/{id}")).await;
    assert_eq!(a["state"], "triage");
    assert_eq!(a["title"], "Heap overflow in the attestation parser");
    assert!(a["description"].as_str().unwrap().contains("70 kB quote"));
    assert_eq!(a["tracking"]["reporter"], "rita");
    let mail = t.mailed("rita@example.net", &id).await;
    assert!(mail.contains("/r/"), "{mail}");
    assert!(mail.contains("Auto-Submitted: auto-generated"), "{mail}");

    // A reply from the reporter is a comment, quote left out; never a new report.
    let reply = t.pipe(&message(
        "rita@example.net",
        &format!("Re: [Embargo] Your private link to report {id}"),
        &format!(
            "In-Reply-To: <x@embargo>\r\nReferences: <{}@embargo>\r\n",
            id.to_lowercase()
        ),
        "It also crashes on arm64.\r\n\r\nOn Mon, Embargo wrote:\r\n> Your report is confirmed",
    ));
    assert_eq!(reply, format!("comment on {id}"));
    let thread = t.get(&format!("/api/v1/advisories/{id}/comments")).await;
    let bodies: Vec<&str> = thread
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["body"].as_str().unwrap())
        .collect();
    assert_eq!(bodies, ["It also crashes on arm64."]);
    // The same reply from someone else is dropped.
    let stranger = t.pipe(&message(
        "mallory@example.net",
        &format!("Re: {id}"),
        "",
        "let me in",
    ));
    assert!(stranger.starts_with("dropped: "), "{stranger}");
    assert_eq!(
        t.get(&format!("/api/v1/advisories/{id}/comments"))
            .await
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Multipart with an attachment: kept as an attachment of the report.
    let multipart = "From: sam@example.net\r\nTo: security@coco.example\r\nSubject: PoC attached\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"b1\"\r\n\r\n--b1\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nSee the attached proof of concept.\r\n--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment; filename=\"poc.py\"\r\nContent-Transfer-Encoding: base64\r\n\r\ncHJpbnQoIm92ZXJmbG93Iik=\r\n--b1--\r\n";
    let id2 = t.pipe(multipart);
    assert!(id2.starts_with("EMB-"), "{id2}");
    let files = t
        .get(&format!("/api/v1/advisories/{id2}/attachments"))
        .await;
    assert_eq!(files[0]["filename"], "poc.py", "{files}");
    assert_eq!(files[0]["size"], 17);

    // HTML only: the description is text.
    let html = "From: hana@example.net\r\nTo: security@coco.example\r\nSubject: HTML report\r\nMIME-Version: 1.0\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>The <b>token</b> leaks in logs.</p><script>alert(1)</script></body></html>\r\n";
    let id3 = t.pipe(html);
    let a3 = t.get(&format!("/api/v1/advisories/{id3}")).await;
    let d = a3["description"].as_str().unwrap();
    assert!(d.contains("token") && d.contains("leaks in logs"), "{d}");
    assert!(!d.contains("<b>") && !d.contains("<script"), "{d}");

    // Automatic mail is dropped, never filed.
    let before = t.get("/api/v1/advisories").await.as_array().unwrap().len();
    for (what, headers, from) in [
        (
            "auto-reply",
            "Auto-Submitted: auto-replied\r\n",
            "rita@example.net",
        ),
        ("bounce", "Return-Path: <>\r\n", "mailer-daemon@example.net"),
        (
            "list",
            "List-Id: <dev.example.org>\r\nPrecedence: list\r\n",
            "dev@example.org",
        ),
        (
            "our own",
            "Auto-Submitted: auto-generated\r\n",
            "embargo@localhost",
        ),
    ] {
        let line = t.pipe(&message(
            from,
            &format!("Out of office ({what})"),
            headers,
            "away",
        ));
        assert!(line.starts_with("dropped: "), "{what}: {line}");
    }
    let count = || async { t.get("/api/v1/advisories").await.as_array().unwrap().len() };
    assert_eq!(count().await, before, "nothing automatic was filed");
    // A sender blocked for spam is dropped.
    let spam = t.pipe(&message("spammer@example.net", "Buy now", "", "cheap"));
    let r = t
        .client
        .post(format!("{}/api/v1/advisories/{spam}/close", t.server.base))
        .bearer_auth(&t.sm)
        .json(&json!({"reason": "spam"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let after_spam = count().await;
    let blocked = t.pipe(&message("spammer@example.net", "Buy again", "", "cheap"));
    assert!(blocked.starts_with("dropped: blocked sender"), "{blocked}");
    // 30 MiB: dropped with the reason, exit 0 (so that the MTA does not retry).
    let huge = message("big@example.net", "Huge", "", &"x".repeat(30 * 1024 * 1024));
    let line = t.pipe(&huge);
    assert!(
        line.starts_with("dropped: ") && line.contains("25 MiB"),
        "{line}"
    );
    assert_eq!(count().await, after_spam, "neither was filed");
}

/// Encrypted reports: the organisation's key (made by GnuPG here) is imported with
/// `embargo keys openpgp import`; PGP/MIME and inline messages encrypted to it by GnuPG
/// become readable reports; one encrypted to another key is dropped; the public key is
/// published (SECURITY.md, security.txt, /orgs/coco/openpgp.asc).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn encrypted_reports_by_mail() {
    use crate::publishing::gpg;
    let t = Intake::new().await;
    let home = tempfile::tempdir().unwrap();
    let ok = |out: std::process::Output| {
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    ok(gpg(
        home.path(),
        &[
            "--quick-gen-key",
            "CoCo Security <security@coco.example>",
            "ed25519",
            "cert,sign",
            "never",
        ],
    ));
    let fpr = ok(gpg(
        home.path(),
        &["--with-colons", "--list-keys", "security@coco.example"],
    ))
    .lines()
    .find_map(|l| l.strip_prefix("fpr:::::::::"))
    .unwrap()
    .trim_end_matches(':')
    .to_owned();
    ok(gpg(
        home.path(),
        &["--quick-add-key", &fpr, "cv25519", "encr", "never"],
    ));
    let secret = ok(gpg(
        home.path(),
        &["--armor", "--export-secret-keys", "security@coco.example"],
    ));
    let key_file = home.path().join("org.asc");
    std::fs::write(&key_file, &secret).unwrap();
    let out = t.server.command(
        &[
            "keys",
            "openpgp",
            "import",
            "--org",
            "coco",
            key_file.to_str().unwrap(),
        ],
        None,
        &[],
    );
    let text = ok(out);
    assert!(text.contains(&fpr), "{text}");
    // Something that is not a key is refused, saying so.
    std::fs::write(home.path().join("bad.asc"), "not a key").unwrap();
    let out = t.server.command(
        &[
            "keys",
            "openpgp",
            "import",
            "--org",
            "coco",
            home.path().join("bad.asc").to_str().unwrap(),
        ],
        None,
        &[],
    );
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not an armored OpenPGP secret key"));

    let encrypt = |plain: &str, recipient_home: &std::path::Path, to: &str| {
        let p = recipient_home.join("plain.txt");
        std::fs::write(&p, plain).unwrap();
        ok(gpg(
            recipient_home,
            &[
                "--armor",
                "--trust-model",
                "always",
                "--encrypt",
                "-r",
                to,
                "--output",
                "-",
                p.to_str().unwrap(),
            ],
        ))
    };
    // PGP/MIME (RFC 3156): the encrypted part is the real message's MIME entity.
    let inner = "Content-Type: text/plain; charset=utf-8\r\n\r\nThe TEE attestation skips the nonce check: replay works.\r\n";
    let armored = encrypt(inner, home.path(), "security@coco.example");
    let pgp_mime = format!(
        "From: ana@example.net\r\nTo: security@coco.example\r\nSubject: Encrypted report\r\nMIME-Version: 1.0\r\nContent-Type: multipart/encrypted; protocol=\"application/pgp-encrypted\"; boundary=\"enc\"\r\n\r\n--enc\r\nContent-Type: application/pgp-encrypted\r\n\r\nVersion: 1\r\n\r\n--enc\r\nContent-Type: application/octet-stream; name=\"encrypted.asc\"\r\n\r\n{armored}\r\n--enc--\r\n"
    );
    let id = t.pipe(&pgp_mime);
    assert!(id.starts_with("EMB-"), "{id}");
    let a = t.get(&format!("/api/v1/advisories/{id}")).await;
    assert_eq!(a["title"], "Encrypted report");
    assert!(
        a["description"]
            .as_str()
            .unwrap()
            .contains("skips the nonce check"),
        "{a}"
    );
    // Inline: the armored block in the text.
    let armored = encrypt(
        "Inline secret: the key is logged.",
        home.path(),
        "security@coco.example",
    );
    let id = t.pipe(&message(
        "ben@example.net",
        "Inline encrypted",
        "",
        &armored.replace('\n', "\r\n"),
    ));
    let a = t.get(&format!("/api/v1/advisories/{id}")).await;
    assert!(
        a["description"]
            .as_str()
            .unwrap()
            .contains("Inline secret: the key is logged."),
        "{a}"
    );
    assert!(!a["description"].as_str().unwrap().contains("BEGIN PGP"));
    // Encrypted to someone else's key: dropped, never filed as ciphertext.
    let other = tempfile::tempdir().unwrap();
    ok(gpg(
        other.path(),
        &[
            "--quick-gen-key",
            "Other <other@example.net>",
            "default",
            "default",
            "never",
        ],
    ));
    let armored = encrypt("for someone else", other.path(), "other@example.net");
    let line = t.pipe(&message(
        "cid@example.net",
        "Wrong key",
        "",
        &armored.replace('\n', "\r\n"),
    ));
    assert!(line.starts_with("dropped: could not decrypt"), "{line}");
    // The public half is published.
    let public = t
        .client
        .get(format!("{}/orgs/coco/openpgp.asc", t.server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(public.contains("BEGIN PGP PUBLIC KEY BLOCK") && !public.contains("PRIVATE"));
    let imported = other.path().join("pub.asc");
    std::fs::write(&imported, &public).unwrap();
    let listed = ok(gpg(
        other.path(),
        &[
            "--import-options",
            "show-only",
            "--import",
            imported.to_str().unwrap(),
        ],
    ));
    assert!(listed.contains("security@coco.example"), "{listed}");
    let md = t
        .client
        .get(format!("{}/orgs/coco/SECURITY.md", t.server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(md.contains("/orgs/coco/openpgp.asc"), "{md}");
    let txt = t
        .client
        .get(format!("{}/.well-known/security.txt", t.server.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        txt.contains(&format!(
            "Encryption: {}/orgs/coco/openpgp.asc",
            t.server.base
        )),
        "{txt}"
    );
}
