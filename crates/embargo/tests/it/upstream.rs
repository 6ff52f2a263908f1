//! Upstreams reach only what the network rule allows: `https://` on public hosts unless
//! `[network] allow` names the host or folder. Refused when set, and refused again when read
//! (a name is resolved then, and git pinned to what was checked), with no git text.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::http::{Method, StatusCode, header};
use serde_json::json;
use sqlx::Connection;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

use crate::codeowners::{commit_codeowners, git};
use crate::support::{Resp, TestApp, World, on_both_backends};

const REPO: &str = "/api/v1/orgs/coco/repos/guest";
const SYNC: &str = "/api/v1/orgs/coco/repos/guest/sync-maintainers";

/// Fragments of what git and curl print, none of which may reach the caller.
const GIT_TEXT: [&str; 10] = [
    "fatal",
    "error:",
    "unable to",
    "Could not",
    "Connection",
    "Failed to connect",
    "does not appear",
    "ssh:",
    "SSL",
    "/etc",
];

/// A git server over smart HTTP on 127.0.0.1 (`git http-backend` behind a small CGI bridge)
/// serving `repo.git`, which has a CODEOWNERS naming @alice; it counts its connections.
struct GitServer {
    port: u16,
    connections: Arc<AtomicUsize>,
    _dir: tempfile::TempDir,
}

impl GitServer {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("work");
        std::fs::create_dir(&work).unwrap();
        git(&work, &["init", "-q"]);
        commit_codeowners(&work, ".github/CODEOWNERS", "* @alice\n");
        let root = dir.path().join("root");
        std::fs::create_dir(&root).unwrap();
        git(
            dir.path(),
            &["clone", "-q", "--bare", "work", "root/repo.git"],
        );
        // A partial clone, as large forges serve it: trees first, the CODEOWNERS blob after.
        git(
            &root.join("repo.git"),
            &["config", "uploadpack.allowFilter", "true"],
        );
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let connections = Arc::new(AtomicUsize::new(0));
        let counter = connections.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                tokio::spawn(serve(stream, root.clone()));
            }
        });
        Self {
            port,
            connections,
            _dir: dir,
        }
    }

    fn seen(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

/// One request, one response, then the connection closes.
async fn serve(mut s: TcpStream, root: PathBuf) {
    let mut buf = Vec::new();
    let head_end = loop {
        let mut chunk = [0u8; 4096];
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut body = buf[head_end + 4..].to_vec();
    let mut lines = head.lines();
    let mut request = lines.next().unwrap_or("").split(' ');
    let (method, target) = (request.next().unwrap_or(""), request.next().unwrap_or("/"));
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
    };
    if header("expect").is_some_and(|e| e.eq_ignore_ascii_case("100-continue")) {
        let _ = s.write_all(b"HTTP/1.1 100 Continue\r\n\r\n").await;
    }
    let length: usize = header("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    while body.len() < length {
        let mut chunk = [0u8; 4096];
        match s.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let mut cgi = tokio::process::Command::new("git");
    cgi.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", &root)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_PROJECT_ROOT", &root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("CONTENT_LENGTH", length.to_string())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null());
    for (name, var) in [
        ("content-type", "CONTENT_TYPE"),
        ("content-encoding", "HTTP_CONTENT_ENCODING"),
        ("git-protocol", "HTTP_GIT_PROTOCOL"),
    ] {
        if let Some(v) = header(name) {
            cgi.env(var, v);
        }
    }
    let mut child = cgi.spawn().unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let _ = stdin.write_all(&body[..length.min(body.len())]).await;
    drop(stdin);
    let out = child.wait_with_output().await.unwrap();
    let split = out
        .stdout
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, i + 4))
        .or_else(|| {
            out.stdout
                .windows(2)
                .position(|w| w == b"\n\n")
                .map(|i| (i, i + 2))
        })
        .unwrap_or((out.stdout.len(), out.stdout.len()));
    let cgi_head = String::from_utf8_lossy(&out.stdout[..split.0]).into_owned();
    let cgi_body = &out.stdout[split.1..];
    let mut status = "200 OK".to_owned();
    let mut response = String::new();
    for line in cgi_head.lines() {
        match line.split_once(':') {
            Some((k, v)) if k.eq_ignore_ascii_case("status") => status = v.trim().to_owned(),
            Some(_) => response.push_str(&format!("{line}\r\n")),
            None => {}
        }
    }
    let response = format!(
        "HTTP/1.1 {status}\r\n{response}Content-Length: {}\r\nConnection: close\r\n\r\n",
        cgi_body.len()
    );
    let _ = s.write_all(response.as_bytes()).await;
    let _ = s.write_all(cgi_body).await;
}

async fn set_upstream(app: &TestApp, w: &World, upstream: &str) -> Resp {
    app.call(
        Method::PATCH,
        REPO,
        Some(&w.sm),
        Some(json!({ "upstream": upstream })),
    )
    .await
}

fn allow(app: &mut TestApp, entries: &[&str]) {
    let entries: Vec<String> = entries.iter().map(|e| e.to_string()).collect();
    app.configure(|c| c.network.allow = entries);
}

/// A refusal at sync time: "could not read the upstream", nothing of git's, nothing changed.
fn assert_unread(r: &Resp, what: &str) {
    assert_eq!(
        r.status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "{what}: {}",
        r.text
    );
    let message = r.json["error"]["message"].as_str().unwrap_or_default();
    assert!(
        message.starts_with("could not read the upstream: "),
        "{what}: {message}"
    );
    for text in GIT_TEXT {
        assert!(!message.contains(text), "{what}: {message:?} has {text:?}");
    }
}

/// Every kind of address outside the rule is refused as it is set, in the API and the form.
async fn internal_upstreams_are_refused_when_set(app: TestApp) {
    let w = World::new(&app).await;
    for bad in [
        "http://127.0.0.1:1/x",
        "https://127.0.0.1/x",
        "https://10.0.0.1/x",
        "https://192.168.1.1/x",
        "https://169.254.169.254/latest/meta-data",
        "https://100.64.0.1/x",
        "https://[::1]/x",
        "https://[fd00::1]/x",
        "https://[::ffff:127.0.0.1]/x",
        "https://2130706433/x",
        "http://github.com/org/repo",
        "/etc",
        "file:///etc",
        "ssh://git@github.com/org/repo",
        "git://github.com/org/repo",
        "git@github.com:org/repo.git",
    ] {
        let r = set_upstream(&app, &w, bad).await;
        assert_eq!(
            r.status,
            StatusCode::UNPROCESSABLE_ENTITY,
            "{bad}: {}",
            r.text
        );
        assert_eq!(r.json["error"]["field"], "upstream", "{bad}");
        assert!(
            r.json["error"]["message"]
                .as_str()
                .unwrap()
                .contains("https:// address"),
            "{bad}: {}",
            r.text
        );
    }
    let r = set_upstream(&app, &w, "https://github.com/confidential-containers/guest").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // The organisation page's form obeys the same rule.
    let cookie = app.session_cookie(&w.sm).await;
    let page = app
        .request(
            axum::http::Request::builder()
                .uri("/orgs/coco")
                .header(header::COOKIE, &cookie)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    let i = page.text.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = page.text[i..].split('"').next().unwrap().to_owned();
    let r = app
        .request(
            axum::http::Request::builder()
                .method(Method::POST)
                .uri("/orgs/coco/repos/guest/upstream")
                .header(header::COOKIE, &cookie)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(axum::body::Body::from(format!(
                    "csrf={csrf}&upstream=%2Fetc"
                )))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("https:// address"), "{}", r.text);
    assert_eq!(
        app.store
            .upstream(
                &embargo_domain::types::Slug::parse("coco").unwrap(),
                &embargo_domain::types::Slug::parse("guest").unwrap()
            )
            .await
            .unwrap()
            .unwrap()
            .as_str(),
        "https://github.com/confidential-containers/guest"
    );
}

/// An upstream stored while the settings allowed it (or before this rule) is refused when it
/// is read, before git runs: nothing connects, and the answer has no git text.
async fn stored_internal_upstreams_are_refused_when_read(mut app: TestApp) {
    let w = World::new(&app).await;
    let server = GitServer::start().await;
    let port = server.port;
    let local = format!("http://127.0.0.1:{port}/repo.git");
    let allowed_then = [
        ("http://127.0.0.1:1/x", "127.0.0.1:1".to_owned()),
        ("https://127.0.0.1/x", "127.0.0.1".to_owned()),
        ("https://10.0.0.1/x", "10.0.0.1".to_owned()),
        ("https://[::1]/x", "[::1]".to_owned()),
        ("/etc", "/etc".to_owned()),
        ("file:///etc", "/etc".to_owned()),
        (local.as_str(), format!("127.0.0.1:{port}")),
    ];
    for (upstream, entry) in &allowed_then {
        allow(&mut app, &[entry]);
        let r = set_upstream(&app, &w, upstream).await;
        assert_eq!(r.status, StatusCode::OK, "{upstream}: {}", r.text);
        allow(&mut app, &[]);
        let r = app.post(SYNC, Some(&w.sm), json!({})).await;
        assert_unread(&r, upstream);
    }
    // Forms this rule never allows, as rows from before it.
    sqlx::any::install_default_drivers();
    let mut c = sqlx::AnyConnection::connect(&app.url).await.unwrap();
    for stored in [
        format!("ssh://git@127.0.0.1:{port}/repo.git"),
        format!("git://127.0.0.1:{port}/repo.git"),
        "git@127.0.0.1:repo.git".to_owned(),
    ] {
        sqlx::query(
            "UPDATE repos SET upstream = $1 WHERE slug = 'guest' AND org_id = (SELECT id FROM orgs WHERE slug = 'coco')",
        )
        .bind(&stored)
        .execute(&mut c)
        .await
        .unwrap();
        let r = app.post(SYNC, Some(&w.sm), json!({})).await;
        assert_unread(&r, &stored);
    }
    c.close().await.unwrap();

    // The page's sync button says the same.
    let cookie = app.session_cookie(&w.sm).await;
    let page = app
        .request(
            axum::http::Request::builder()
                .uri("/orgs/coco")
                .header(header::COOKIE, &cookie)
                .body(axum::body::Body::empty())
                .unwrap(),
        )
        .await;
    let i = page.text.find("name=\"csrf\" value=\"").unwrap() + 19;
    let csrf = page.text[i..].split('"').next().unwrap().to_owned();
    let r = app
        .request(
            axum::http::Request::builder()
                .method(Method::POST)
                .uri("/orgs/coco/repos/guest/sync")
                .header(header::COOKIE, &cookie)
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(axum::body::Body::from(format!("csrf={csrf}")))
                .unwrap(),
        )
        .await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text.contains("could not read the upstream"), "{}", r.text);
    assert!(!r.text.contains("fatal"));
    assert_eq!(server.seen(), 0, "nothing reached the local git server");
}

/// A host name is checked after it is resolved: `localhost` is refused although its name
/// alone passes, and the answer does not say what it resolved to.
async fn names_resolving_to_internal_addresses_are_refused(app: TestApp) {
    let w = World::new(&app).await;
    let server = GitServer::start().await;
    let upstream = format!("https://localhost:{}/repo.git", server.port);
    let r = set_upstream(&app, &w, &upstream).await;
    assert_eq!(
        r.status,
        StatusCode::OK,
        "a name passes until it is resolved: {}",
        r.text
    );
    let r = app.post(SYNC, Some(&w.sm), json!({})).await;
    assert_unread(&r, &upstream);
    let message = r.json["error"]["message"].as_str().unwrap();
    assert!(
        !message.contains("127.0.0.1") && !message.contains("::1"),
        "{message}"
    );
    assert_eq!(server.seen(), 0, "git never connected");
}

/// With the local server's host and port allowed, the real clone over http works, by its
/// address or by a name allowed as such; without the setting the same address is refused.
async fn an_allowed_local_server_is_read(mut app: TestApp) {
    let w = World::new(&app).await;
    app.user("alice@example.org", false).await;
    app.store
        .set_forge_handle(
            &embargo_domain::types::Email::parse("alice@example.org").unwrap(),
            Some(&embargo_domain::types::ForgeHandle::parse("@alice").unwrap()),
        )
        .await
        .unwrap();
    let server = GitServer::start().await;
    let port = server.port;
    let by_address = format!("http://127.0.0.1:{port}/repo.git");
    let r = set_upstream(&app, &w, &by_address).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);

    allow(&mut app, &[&format!("127.0.0.1:{port}")]);
    assert_eq!(
        set_upstream(&app, &w, &by_address).await.status,
        StatusCode::OK
    );
    let r = app.post(SYNC, Some(&w.sm), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["added"], json!(["alice@example.org"]));
    assert!(server.seen() > 0);

    // Another port of the same host stays closed.
    let other = format!("http://127.0.0.1:{}/repo.git", port.wrapping_add(1).max(1));
    assert_eq!(
        set_upstream(&app, &w, &other).await.status,
        StatusCode::UNPROCESSABLE_ENTITY
    );

    let by_name = format!("http://localhost:{port}/repo.git");
    allow(&mut app, &[&format!("localhost:{port}")]);
    assert_eq!(
        set_upstream(&app, &w, &by_name).await.status,
        StatusCode::OK
    );
    let r = app.post(SYNC, Some(&w.sm), json!({})).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.json["kept"], json!(["alice@example.org"]));
}

/// A CODEOWNERS that is a symbolic link is not followed out of the repository (into the
/// server's own files).
async fn a_linked_codeowners_is_not_followed(mut app: TestApp) {
    let w = World::new(&app).await;
    let root = tempfile::tempdir().unwrap();
    let repo = root.path().join("repo");
    std::fs::create_dir(&repo).unwrap();
    git(&repo, &["init", "-q"]);
    let secret = root.path().join("server-secret");
    std::fs::write(&secret, "* @leaked-from-the-server\n").unwrap();
    std::os::unix::fs::symlink(&secret, repo.join("CODEOWNERS")).unwrap();
    git(&repo, &["add", "-A"]);
    git(&repo, &["commit", "-q", "-m", "link"]);
    allow(&mut app, &[root.path().to_str().unwrap()]);
    let r = set_upstream(&app, &w, repo.to_str().unwrap()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = app.post(SYNC, Some(&w.sm), json!({})).await;
    assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
    assert!(!r.text.contains("leaked-from-the-server"), "{}", r.text);
    assert!(r.text.contains("no CODEOWNERS"), "{}", r.text);
}

on_both_backends!(
    internal_upstreams_are_refused_when_set,
    stored_internal_upstreams_are_refused_when_read,
    names_resolving_to_internal_addresses_are_refused,
    an_allowed_local_server_is_read,
    a_linked_codeowners_is_not_followed,
);
