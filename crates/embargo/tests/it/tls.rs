//! HTTPS: the real `embargo serve` with a certificate made by OpenSSL answers over TLS 1.2
//! and 1.3 (never older), with `Strict-Transport-Security` and `Secure` cookies; plain HTTP to
//! that port gets nothing; a missing or mismatched certificate or key stops the start, naming
//! the file. Behind a trusted proxy that says `X-Forwarded-Proto: https` the answers carry
//! HSTS too; from anyone else, or over plain HTTP, they never do. The client is curl (OpenSSL's
//! TLS, not the server's rustls), trusting only the test's CA.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};

use crate::pki::TestPki;
use crate::support::{Backend, Server, TestApp, embargo_bin};

const HSTS: &str = "max-age=31536000; includeSubDomains";

/// The settings that serve `cert` and `key`.
fn tls_env<'a>(cert: &'a Path, key: &'a Path) -> [(&'static str, &'a str); 2] {
    [
        ("EMBARGO_SERVER_TLS_CERT_FILE", cert.to_str().unwrap()),
        ("EMBARGO_SERVER_TLS_KEY_FILE", key.to_str().unwrap()),
    ]
}

/// `curl` with `args`: its exit status, the response's headers (`-D -`) and body.
fn curl(args: &[&str]) -> Output {
    Command::new("curl")
        .args(["--silent", "--show-error", "--max-time", "20", "-D", "-"])
        .args(args)
        .output()
        .expect("curl (Debian: curl)")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The header lines of a response (as curl prints them), lower-cased names.
fn header_lines(out: &Output) -> Vec<String> {
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(|l| l.trim().to_owned())
        .collect()
}

fn header_value(out: &Output, name: &str) -> Vec<String> {
    header_lines(out)
        .iter()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
        })
        .collect()
}

#[test]
fn https_served_directly_with_hsts() {
    let certs = TestPki::make();
    let env = tls_env(&certs.cert, &certs.key);
    let mut server = Server::start(&env);
    let base = server.base.clone();
    assert!(base.starts_with("https://127.0.0.1:"), "{base}");
    let ca = certs.ca.to_str().unwrap();

    // Over TLS 1.3 and 1.2, trusting the test's CA: answers, with HSTS.
    for version in [&["--tlsv1.3"][..], &["--tlsv1.2", "--tls-max", "1.2"]] {
        let mut args = vec!["--cacert", ca];
        args.extend(version);
        let url = format!("{base}/healthz");
        args.push(&url);
        let out = curl(&args);
        assert!(out.status.success(), "{version:?}: {}", text(&out));
        assert!(header_lines(&out)[0].contains(" 200"), "{}", text(&out));
        assert_eq!(header_value(&out, "strict-transport-security"), [HSTS]);
    }
    // A page's cookie is Secure, and the 404 of an unknown path carries HSTS too.
    let out = curl(&["--cacert", ca, &format!("{base}/login")]);
    assert!(out.status.success(), "{}", text(&out));
    let cookies = header_value(&out, "set-cookie");
    assert!(!cookies.is_empty(), "{}", text(&out));
    assert!(
        cookies.iter().all(|c| c.contains("; Secure")),
        "{cookies:?}"
    );
    let out = curl(&["--cacert", ca, &format!("{base}/api/v1/nothing-here")]);
    assert!(header_lines(&out)[0].contains(" 404"), "{}", text(&out));
    assert_eq!(header_value(&out, "strict-transport-security"), [HSTS]);

    // Without the CA the certificate is not trusted: the server shows the one it was given.
    let out = curl(&[&format!("{base}/healthz")]);
    assert!(!out.status.success(), "{}", text(&out));

    // TLS 1.1 is refused by the server (the client is told to allow it).
    let port = base.rsplit(':').next().unwrap();
    let out = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &format!("127.0.0.1:{port}"),
            "-tls1_1",
            "-cipher",
            "DEFAULT@SECLEVEL=0",
            "-CAfile",
            ca,
        ])
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    let said = text(&out);
    assert!(!out.status.success(), "{said}");
    // rustls answers an offer of TLS 1.1 alone with a handshake-failure alert.
    assert!(
        said.contains("alert handshake failure") || said.contains("alert protocol version"),
        "{said}"
    );
    assert!(said.contains("Cipher is (NONE)"), "{said}");

    // Plain HTTP to the TLS port: no answer at all.
    let plain = base.replacen("https://", "http://", 1);
    let out = curl(&[&format!("{plain}/healthz")]);
    assert!(!out.status.success(), "{}", text(&out));
    assert!(!header_lines(&out).iter().any(|l| l.contains(" 200")));

    // The TLS listener shuts down gracefully, like the plain one.
    assert!(server.stop(), "{}", server.stderr.lock().unwrap());
    drop(certs.dir);
}

#[test]
fn plain_http_never_sends_hsts() {
    let server = Server::start(&[]);
    assert!(server.base.starts_with("http://"), "{}", server.base);
    let out = curl(&[&format!("{}/login", server.base)]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(header_value(&out, "strict-transport-security").is_empty());
    let cookies = header_value(&out, "set-cookie");
    assert!(!cookies.is_empty() && cookies.iter().all(|c| !c.contains("Secure")));
}

/// `embargo serve` with `env`, expected to fail: what it said.
fn failed_start(env: &[(&str, &str)]) -> String {
    let data = tempfile::tempdir().unwrap();
    let mut cmd = Command::new(embargo_bin());
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(data.path())
        .env_remove("EMBARGO_DATABASE_URL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(!out.status.success(), "started anyway: {}", text(&out));
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("listening"),
        "{}",
        text(&out)
    );
    // It stopped before opening the database.
    assert!(!data.path().join("embargo.db").exists());
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_bad_certificate_or_key_stops_the_start() {
    let certs = TestPki::make();
    let missing = certs.dir.path().join("no-such-cert.pem");

    let said = failed_start(&tls_env(&missing, &certs.key));
    assert!(said.contains("server.tls_cert_file"), "{said}");
    assert!(said.contains(missing.to_str().unwrap()), "{said}");
    assert!(said.contains("cannot read"), "{said}");

    let missing_key = certs.dir.path().join("no-such-key.pem");
    let said = failed_start(&tls_env(&certs.cert, &missing_key));
    assert!(said.contains("server.tls_key_file"), "{said}");
    assert!(said.contains(missing_key.to_str().unwrap()), "{said}");

    // The certificate and key swapped: neither file holds what it should.
    let said = failed_start(&tls_env(&certs.key, &certs.cert));
    assert!(said.contains("server.tls_cert_file"), "{said}");

    // A key that is not the certificate's.
    let said = failed_start(&tls_env(&certs.cert, &certs.stray_key));
    assert!(said.contains("does not belong"), "{said}");
    assert!(said.contains(certs.stray_key.to_str().unwrap()), "{said}");

    // One of the two alone.
    let said = failed_start(&[("EMBARGO_SERVER_TLS_CERT_FILE", certs.cert.to_str().unwrap())]);
    assert!(said.contains("set both"), "{said}");
}

/// A request from `peer`, with `X-Forwarded-Proto` when given.
fn from(peer: &str, proto: Option<&str>) -> Request<Body> {
    let mut b = Request::builder()
        .uri("/healthz")
        .extension(ConnectInfo(peer.parse::<SocketAddr>().unwrap()));
    if let Some(p) = proto {
        b = b.header("x-forwarded-proto", p);
    }
    b.body(Body::empty()).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hsts_behind_a_trusted_proxy_only() {
    let mut app = TestApp::new(Backend::Sqlite).await;
    let hsts = |r: &crate::support::Resp| {
        assert_eq!(r.status, StatusCode::OK);
        r.headers
            .get(header::STRICT_TRANSPORT_SECURITY)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    // An http public address: never, whatever a proxy says.
    app.configure(|c| {
        c.server.trusted_proxies = vec!["127.0.0.1".into()];
        c.server.trusted =
            embargo_server::proxy::TrustedProxies::new(&c.server.trusted_proxies).unwrap();
    });
    let r = app.request(from("127.0.0.1:5000", Some("https"))).await;
    assert_eq!(hsts(&r), None);

    app.configure(|c| {
        c.server.public_url = "https://embargo.test".into();
        c.server.trusted_proxies = vec!["127.0.0.1".into()];
        c.server.trusted =
            embargo_server::proxy::TrustedProxies::new(&c.server.trusted_proxies).unwrap();
    });
    for (peer, proto, expected) in [
        ("127.0.0.1:5000", Some("https"), true),
        ("127.0.0.1:5000", Some("HTTPS"), true),
        // The nearest proxy's word is the last one.
        ("127.0.0.1:5000", Some("http, https"), true),
        ("127.0.0.1:5000", Some("https, http"), false),
        ("127.0.0.1:5000", Some("http"), false),
        ("127.0.0.1:5000", None, false),
        // Anyone else's header is not believed.
        ("203.0.113.9:5000", Some("https"), false),
    ] {
        let r = app.request(from(peer, proto)).await;
        let want = expected.then(|| HSTS.to_owned());
        assert_eq!(hsts(&r), want, "{peer} {proto:?}");
    }
}
