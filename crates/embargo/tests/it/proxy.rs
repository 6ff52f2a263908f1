//! Two `embargo serve` on one PostgreSQL database behind a real load balancer (HAProxy from
//! Debian, round robin): a session made through one instance works on both, the client's
//! address comes from the proxy's `X-Forwarded-For` (not from what the client wrote), and
//! scheduled work (the notifier) runs once.

use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use reqwest::header;
use serde_json::{Value, json};
use sqlx::Connection;

use crate::support::Server;

/// HAProxy, stopped when dropped.
struct Proxy {
    child: Child,
    base: String,
    _dir: tempfile::TempDir,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn haproxy_binary() -> Option<&'static str> {
    ["/usr/sbin/haproxy", "/usr/bin/haproxy"]
        .into_iter()
        .find(|p| std::path::Path::new(p).exists())
}

/// HAProxy in front of `backends`, round robin, naming the instance that answered in
/// `X-Served-By`.
fn start_proxy(binary: &str, backends: &[&str]) -> Proxy {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let servers: String = backends
        .iter()
        .enumerate()
        .map(|(i, b)| {
            format!(
                "  server s{i} {} check inter 200ms\n",
                b.trim_start_matches("http://")
            )
        })
        .collect();
    let config = format!(
        "global\n  maxconn 200\n\
         defaults\n  mode http\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n\
         frontend front\n  bind 127.0.0.1:{port}\n  option forwardfor\n  default_backend instances\n\
         backend instances\n  balance roundrobin\n  http-response set-header X-Served-By %s\n{servers}"
    );
    let path = dir.path().join("haproxy.cfg");
    std::fs::write(&path, config).unwrap();
    let child = Command::new(binary)
        .arg("-db")
        .arg("-f")
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start haproxy");
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Proxy {
        child,
        base: format!("http://127.0.0.1:{port}"),
        _dir: dir,
    }
}

/// The value of the first `name=value` cookie `name` set.
fn set_cookie(r: &reqwest::Response, name: &str) -> Option<String> {
    r.headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
        .find(|c| c.starts_with(&format!("{name}=")))
}

fn csrf_in(html: &str) -> String {
    let i = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[i..].split('"').next().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_behind_a_load_balancer() {
    let Some(haproxy) = haproxy_binary() else {
        assert!(
            std::env::var("CI").is_err(),
            "HAProxy is required under CI (scripts/test installs it)"
        );
        eprintln!("!! SKIPPED: HAProxy is not installed (apt-get install haproxy)");
        return;
    };
    let url = crate::support::postgres_database_for_binary().await;
    let keys = tempfile::tempdir().unwrap();
    let key = keys.path().join("embargo.key");
    let env = [
        ("EMBARGO_DATABASE_URL", url.as_str()),
        ("EMBARGO_KEYS_FILE", key.to_str().unwrap()),
        ("EMBARGO_SERVER_TRUSTED_PROXIES", "127.0.0.1"),
    ];
    let first = Server::start(&env);
    let second = Server::start(&env);
    let admin = first.user("admin@example.org", true, &env);
    let sm = first.user("sm@example.org", false, &env);
    let reporter = first.user("reporter@example.org", false, &env);
    crate::support::coco_over_http(&first.base, &admin, "sm@example.org").await;
    let proxy = start_proxy(haproxy, &[&first.base, &second.base]);

    // The test's client comes from 127.0.0.2: the proxy's address (127.0.0.1) is trusted,
    // the client's is not.
    let client = reqwest::Client::builder()
        .local_address(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)))
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // Sign in through the proxy: the sign-in form from one instance, the post to whichever.
    let page = client
        .get(format!("{}/login", proxy.base))
        .send()
        .await
        .unwrap();
    assert!(page.status().is_success(), "{}", page.status());
    let csrf_cookie = set_cookie(&page, "embargo_csrf").expect("the CSRF cookie");
    let csrf = csrf_in(&page.text().await.unwrap());
    let login = client
        .post(format!("{}/login", proxy.base))
        .header(header::COOKIE, &csrf_cookie)
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(
            url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs([
                    ("csrf", csrf.as_str()),
                    ("email", "sm@example.org"),
                    ("password", "a long enough password"),
                    ("next", "/account"),
                ])
                .finish(),
        )
        .send()
        .await
        .unwrap();
    assert!(
        login.status().is_redirection(),
        "sign-in answered {}",
        login.status()
    );
    let session = login
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(|v| v.split(';').next().unwrap_or_default().to_owned())
        .find(|c| !c.starts_with("embargo_csrf=") && c.contains('=') && !c.ends_with('='))
        .expect("a session cookie");

    // The session works whichever instance answers.
    let mut served_by = std::collections::BTreeSet::new();
    for _ in 0..8 {
        let r = client
            .get(format!("{}/account", proxy.base))
            .header(header::COOKIE, format!("{session}; {csrf_cookie}"))
            .send()
            .await
            .unwrap();
        let by = r.headers()["x-served-by"].to_str().unwrap().to_owned();
        assert_eq!(r.status(), reqwest::StatusCode::OK, "from {by}");
        let page = r.text().await.unwrap();
        assert!(
            page.contains("Sign out"),
            "from {by}, signed in with {session}: {page}"
        );
        served_by.insert(by);
    }
    assert_eq!(served_by.len(), 2, "both instances answered: {served_by:?}");

    // A report filed through the proxy, read by the security manager through it with a
    // forged X-Forwarded-For: the access log names the real client.
    let filed: Value = client
        .post(format!(
            "{}/api/v1/orgs/coco/repos/guest/advisories",
            proxy.base
        ))
        .bearer_auth(&reporter)
        .json(&json!({"title": "Filed through the proxy", "description": "steps"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = filed["id"].as_str().expect("an id").to_owned();
    for _ in 0..2 {
        let r = client
            .get(format!("{}/api/v1/advisories/{id}", proxy.base))
            .bearer_auth(&sm)
            .header("x-forwarded-for", "6.6.6.6")
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "{}", r.status());
    }
    let log: Value = client
        .get(format!("{}/api/v1/advisories/{id}/audit", proxy.base))
        .bearer_auth(&sm)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let origins: Vec<&str> = log
        .as_array()
        .expect("the access log")
        .iter()
        .filter(|e| e["action"] == "read")
        .filter_map(|e| e["origin"].as_str())
        .collect();
    assert_eq!(origins, ["127.0.0.2", "127.0.0.2"], "{log}");

    // The notifier ran once for the new report, though both instances run it every 2 s.
    let mut db = sqlx::PgConnection::connect(&url).await.unwrap();
    let mut to_sm = 0_i64;
    for _ in 0..100 {
        to_sm = sqlx::query_scalar(
            "SELECT COUNT(*) FROM mail_queue WHERE recipient = 'sm@example.org' AND subject LIKE '%' || $1 || '%'",
        )
        .bind(&id)
        .fetch_one(&mut db)
        .await
        .unwrap();
        if to_sm > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // Let both instances' notifiers run a few more times.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let again: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM mail_queue WHERE recipient = 'sm@example.org' AND subject LIKE '%' || $1 || '%'",
    )
    .bind(&id)
    .fetch_one(&mut db)
    .await
    .unwrap();
    assert_eq!(
        (to_sm, again),
        (1, 1),
        "messages to the security manager about {id}"
    );
}
