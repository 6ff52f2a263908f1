//! The test harness: a fresh Embargo per test on SQLite or PostgreSQL, called in-process,
//! with users by role and a clock the tests move.

use std::path::PathBuf;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode, header};
use embargo_domain::types::Email;
use embargo_server::{AppState, Config};
use embargo_store::{ManualClock, Store};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use sqlx::Connection;
use tower::ServiceExt;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs the test body once per backend, as two tests: `NAME::sqlite` and `NAME::postgres`.
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name(crate::support::TestApp::new(crate::support::Backend::Sqlite).await).await
            }
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(crate::support::TestApp::new(crate::support::Backend::Postgres).await).await
            }
        }
    )*};
}
pub(crate) use on_both_backends;

pub const BASE_URL: &str = "http://embargo.test";

pub struct TestApp {
    pub router: Router,
    pub store: Store,
    pub clock: Arc<ManualClock>,
    /// The database URL, for tests that reach past the store (tampering).
    pub url: String,
    /// The settings the router was built with.
    pub config: Arc<Config>,
    _dir: tempfile::TempDir,
}

/// A response, with its body as text and (when it is JSON) as a value.
#[derive(Debug)]
pub struct Resp {
    pub status: StatusCode,
    pub headers: axum::http::HeaderMap,
    pub text: String,
    pub json: Value,
}

/// The PostgreSQL server the suite uses. `scripts/test` starts one; without it the
/// PostgreSQL half of the suite fails, saying how to run it.
fn postgres_admin_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| {
        panic!("DATABASE_URL is not set: run the suite with scripts/test, which starts a throwaway PostgreSQL cluster")
    })
}

/// A new, empty database on the test cluster; returns its URL.
async fn fresh_postgres_database() -> String {
    let admin = postgres_admin_url();
    let mut conn = sqlx::postgres::PgConnection::connect(&admin)
        .await
        .expect("connect to the test PostgreSQL");
    let name = format!(
        "embargo_test_{}",
        embargo_store::secrets::hex(&embargo_store::secrets::random_bytes::<8>().unwrap())
    );
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .expect("create test database");
    conn.close().await.ok();
    let (base, _) = admin
        .rsplit_once('/')
        .expect("DATABASE_URL ends in /DBNAME");
    format!("{base}/{name}")
}

pub fn start_time() -> time::OffsetDateTime {
    time::macros::datetime!(2026-11-25 09:00 UTC)
}

impl TestApp {
    pub async fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = match backend {
            Backend::Sqlite => format!("sqlite://{}", dir.path().join("embargo.db").display()),
            Backend::Postgres => fresh_postgres_database().await,
        };
        let clock = Arc::new(ManualClock::new(start_time()));
        let store = Store::open(&url, clock.clone(), embargo_store::KeySource::Ephemeral)
            .await
            .expect("open store");
        let store = store.with_audit_head(dir.path().join("audit.head"));
        let mut config = Config {
            data_dir: dir.path().to_owned(),
            ..Config::default()
        };
        config.server.public_url = BASE_URL.into();
        let config = Arc::new(config);
        let router = embargo_server::router(AppState {
            store: store.clone(),
            config: config.clone(),
            signer: None,
            public_cache: Arc::default(),
        });
        Self {
            router,
            store,
            clock,
            url,
            config,
            _dir: dir,
        }
    }

    /// Runs every due job once, as a server's scheduler would, under this app's settings
    /// (mail is queued, not sent).
    pub async fn run_jobs(&self) -> usize {
        embargo_server::jobs::ensure_recurring(&self.store)
            .await
            .unwrap();
        let network = self.config.network_policy().unwrap();
        embargo_server::jobs::run_due(embargo_server::jobs::Context {
            store: &self.store,
            mailer: None,
            base_url: BASE_URL,
            network: &network,
            config: Some(&self.config),
        })
        .await
    }

    /// The same app under other settings (such as `[network] allow`): the router is built
    /// again over the same store, clock and data.
    pub fn configure(&mut self, change: impl FnOnce(&mut Config)) {
        let mut config = Config {
            data_dir: self._dir.path().to_owned(),
            ..Config::default()
        };
        config.server.public_url = BASE_URL.into();
        change(&mut config);
        self.config = Arc::new(config);
        self.router = embargo_server::router(AppState {
            store: self.store.clone(),
            config: self.config.clone(),
            signer: None,
            public_cache: Arc::default(),
        });
    }

    /// Creates an account (administrator when `admin`) and returns an API token for it.
    pub async fn user(&self, email: &str, admin: bool) -> String {
        let e = Email::parse(email).unwrap();
        let name = email.split('@').next().unwrap();
        let u = self
            .store
            .create_user(&e, Some(name), None, admin)
            .await
            .unwrap();
        self.store.create_api_token(u.id, "test").await.unwrap()
    }

    pub async fn request(&self, req: Request<Body>) -> Resp {
        let resp = self.router.clone().oneshot(req).await.unwrap();
        let status = resp.status();
        let headers = resp.headers().clone();
        let bytes = resp.into_body().collect().await.unwrap().to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Resp {
            status,
            headers,
            text,
            json,
        }
    }

    /// An API call; `body` is sent as JSON.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Resp {
        let mut b = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some(v) => b
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(v.to_string())),
            None => b.body(Body::empty()),
        };
        self.request(req.unwrap()).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Resp {
        self.call(Method::GET, path, token, None).await
    }

    /// A browser session cookie for the user holding API token `token`.
    pub async fn session_cookie(&self, token: &str) -> String {
        let user = self
            .store
            .user_for_api_token(token)
            .await
            .unwrap()
            .expect("token of a user");
        let (session, _csrf) = self.store.create_session(user.id).await.unwrap();
        format!("embargo_session={session}")
    }

    /// A page as a signed-in browser (the user of API token `token`) or an anonymous one.
    pub async fn page(&self, path: &str, token: Option<&str>) -> Resp {
        let mut b = Request::builder().uri(path);
        if let Some(t) = token {
            b = b.header(header::COOKIE, self.session_cookie(t).await);
        }
        self.request(b.body(Body::empty()).unwrap()).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Resp {
        self.call(Method::POST, path, token, Some(body)).await
    }
}

/// An organisation `coco` with repositories `guest` and `operator`, and one user per role.
pub struct World {
    pub admin: String,
    pub sm: String,
    pub sc: String,
    pub maintainer: String,
    pub other_maintainer: String,
    pub reporter: String,
    pub other_reporter: String,
    pub outsider: String,
    pub other_org_sm: String,
    /// Invited to every advisory `advisory_in` makes: accepted; accepted then revoked;
    /// accepted with an expiry that has passed.
    pub collaborator: String,
    pub revoked_collaborator: String,
    pub expired_collaborator: String,
}

impl World {
    pub async fn new(app: &TestApp) -> Self {
        let admin = app.user("admin@example.org", true).await;
        let w = Self {
            sm: app.user("sm@example.org", false).await,
            sc: app.user("sc@example.org", false).await,
            maintainer: app.user("maintainer@example.org", false).await,
            other_maintainer: app.user("other-maintainer@example.org", false).await,
            reporter: app.user("reporter@example.org", false).await,
            other_reporter: app.user("other-reporter@example.org", false).await,
            outsider: app.user("outsider@example.org", false).await,
            other_org_sm: app.user("other-sm@example.org", false).await,
            collaborator: app.user("collaborator@example.org", false).await,
            revoked_collaborator: app.user("revoked@example.org", false).await,
            expired_collaborator: app.user("expired@example.org", false).await,
            admin,
        };
        let a = Some(w.admin.as_str());
        for (slug, name) in [
            ("coco", "Confidential Containers"),
            ("kata", "Kata Containers"),
        ] {
            let r = app
                .post("/api/v1/orgs", a, json!({"slug": slug, "name": name}))
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        }
        let put = |path: String, body: Value| async move {
            let r = app.call(Method::PUT, &path, a, Some(body)).await;
            assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        };
        put(
            "/api/v1/orgs/coco/members/sm@example.org".into(),
            json!({"role": "security_manager"}),
        )
        .await;
        put(
            "/api/v1/orgs/coco/members/sc@example.org".into(),
            json!({"role": "steering_committee"}),
        )
        .await;
        put(
            "/api/v1/orgs/kata/members/other-sm@example.org".into(),
            json!({"role": "security_manager"}),
        )
        .await;
        let sm = Some(w.sm.as_str());
        // The suite files many reports as one reporter within the test clock's hour.
        let r = app
            .call(
                Method::PATCH,
                "/api/v1/orgs/coco",
                sm,
                Some(json!({"reports_per_hour": 10000})),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        for repo in ["guest", "operator"] {
            let r = app
                .post(
                    "/api/v1/orgs/coco/repos",
                    sm,
                    json!({"slug": repo, "name": repo}),
                )
                .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        }
        for (repo, who) in [
            ("guest", "maintainer@example.org"),
            ("operator", "other-maintainer@example.org"),
        ] {
            let r = app
                .call(
                    Method::PUT,
                    &format!("/api/v1/orgs/coco/repos/{repo}/maintainers/{who}"),
                    sm,
                    None,
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
        }
        w
    }

    /// Files a report on coco/guest as the reporter; returns its id.
    pub async fn file(&self, app: &TestApp, title: &str) -> String {
        let r = app
            .post(
                "/api/v1/orgs/coco/repos/guest/advisories",
                Some(&self.reporter),
                json!({"title": title, "description": format!("{title}: steps to reproduce")}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        r.json["id"].as_str().unwrap().to_owned()
    }

    /// Invites the three collaborators to `id`, and revokes or lets expire two of them.
    pub async fn share(&self, app: &TestApp, id: &str) {
        let sm = Some(self.sm.as_str());
        let path = format!("/api/v1/advisories/{id}/collaborators");
        let in_a_minute = (app.store.now() + time::Duration::minutes(1))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        for (email, token, expires) in [
            ("collaborator@example.org", &self.collaborator, None),
            ("revoked@example.org", &self.revoked_collaborator, None),
            (
                "expired@example.org",
                &self.expired_collaborator,
                Some(in_a_minute),
            ),
        ] {
            let r = app.post(&path, sm, json!({"email": email, "organisation": "Downstream Linux", "expires_at": expires})).await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
            let cid = r.json["id"].as_i64().unwrap();
            let r = app
                .post(
                    &format!("/api/v1/invitations/{cid}/accept"),
                    Some(token),
                    json!({}),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.text);
            if email.starts_with("revoked") {
                let r = app
                    .call(Method::DELETE, &format!("{path}/{cid}"), sm, None)
                    .await;
                assert_eq!(r.status, StatusCode::NO_CONTENT, "{}", r.text);
            }
        }
        app.clock.advance(time::Duration::minutes(2));
    }

    /// An advisory driven into `state` by the security manager.
    pub async fn advisory_in(&self, app: &TestApp, state: &str) -> String {
        let id = self.file(app, &format!("A report to be {state}")).await;
        let sm = Some(self.sm.as_str());
        self.share(app, &id).await;
        let step = |path: String, body: Value| async move {
            let r = app.post(&path, sm, body).await;
            assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.text);
        };
        match state {
            "triage" => {}
            "closed" => {
                step(
                    format!("/api/v1/advisories/{id}/close"),
                    json!({"reason": "other"}),
                )
                .await
            }
            "draft" | "published" | "withdrawn" => {
                step(format!("/api/v1/advisories/{id}/accept"), json!({})).await;
                let r = app
                    .call(
                        Method::PATCH,
                        &format!("/api/v1/advisories/{id}"),
                        sm,
                        Some(json!({"vulnerabilities": [{"package": {"ecosystem": "crates.io", "name": "guest"}, "vulnerable_version_range": "< 0.15.0", "patched_versions": "0.15.0"}]})),
                    )
                    .await;
                assert_eq!(r.status, StatusCode::OK, "{}", r.text);
                if state != "draft" {
                    step(format!("/api/v1/advisories/{id}/publish"), json!({})).await;
                }
                if state == "withdrawn" {
                    step(
                        format!("/api/v1/advisories/{id}/withdraw"),
                        json!({"reason": "not a vulnerability after all"}),
                    )
                    .await;
                }
            }
            other => panic!("no such state {other}"),
        }
        id
    }
}

/// The shared test data folder (schemas, samples), or `None` outside CI when it is absent.
pub use embargo_formats::schemas::test_data;

/// Validates `doc` against the OSV schema of the shared data; panics with every error.
pub fn assert_valid_osv(doc: &Value) {
    embargo_formats::schemas::assert_valid(embargo_formats::schemas::Schema::Osv, doc);
}

/// The real `embargo` binary, serving on a free port from its own data folder; stopped
/// when dropped.
pub struct Server {
    pub child: std::process::Child,
    pub base: String,
    pub data: tempfile::TempDir,
    pub stderr: std::sync::Arc<std::sync::Mutex<String>>,
}

pub fn embargo_bin() -> &'static str {
    env!("CARGO_BIN_EXE_embargo")
}

impl Server {
    /// Starts `embargo serve --listen 127.0.0.1:0` with `env` added; waits for its address.
    pub fn start(env: &[(&str, &str)]) -> Self {
        Self::start_in(tempfile::tempdir().unwrap(), env)
    }

    /// Kills the server at once (SIGKILL: no shutdown of any kind), and gives its data
    /// folder back for a restart.
    pub fn kill(mut self) -> tempfile::TempDir {
        let _ = self.child.kill();
        let _ = self.child.wait();
        std::mem::replace(&mut self.data, tempfile::tempdir().unwrap())
    }

    /// Starts `embargo serve` on an existing data folder.
    pub fn start_in(data: tempfile::TempDir, env: &[(&str, &str)]) -> Self {
        use std::io::{BufRead, BufReader, Read};
        let mut cmd = std::process::Command::new(embargo_bin());
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--data"])
            .arg(data.path())
            .env_remove("EMBARGO_DATABASE_URL")
            .env("EMBARGO_LOG", "info")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().expect("start embargo serve");
        let stderr = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let mut err_pipe = child.stderr.take().unwrap();
        let sink = stderr.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = err_pipe.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let base = line
            .trim()
            .strip_prefix("embargo listening on ")
            .unwrap_or_else(|| {
                panic!(
                    "unexpected first line {line:?}; stderr: {}",
                    stderr.lock().unwrap()
                )
            });
        Self {
            base: base.to_owned(),
            child,
            data,
            stderr,
        }
    }

    /// Runs an `embargo` command against this server's data folder.
    pub fn command(
        &self,
        args: &[&str],
        stdin: Option<&str>,
        env: &[(&str, &str)],
    ) -> std::process::Output {
        use std::io::Write;
        let mut cmd = std::process::Command::new(embargo_bin());
        cmd.args(args)
            .arg("--data")
            .arg(self.data.path())
            .env_remove("EMBARGO_DATABASE_URL");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        let mut child = cmd.spawn().unwrap();
        if let Some(s) = stdin {
            child.stdin.take().unwrap().write_all(s.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        child.wait_with_output().unwrap()
    }

    /// Creates a user with a password, and returns an API token for them.
    pub fn user(&self, email: &str, admin: bool, env: &[(&str, &str)]) -> String {
        let mut args = vec!["admin", "user", "add", email, "--password-stdin"];
        if admin {
            args.push("--admin");
        }
        let out = self.command(&args, Some("a long enough password\n"), env);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = self.command(&["admin", "token", "create", email], None, env);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .last()
            .unwrap()
            .to_owned()
    }

    /// The server's log so far, once it contains `needle` (it is read by another thread).
    pub fn log_containing(&self, needle: &str) -> String {
        for _ in 0..100 {
            let log = self.stderr.lock().unwrap().clone();
            if log.contains(needle) {
                return log;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!(
            "the log never contained {needle}: {}",
            self.stderr.lock().unwrap()
        )
    }

    /// Asks the server to stop (SIGTERM) and waits; returns whether it exited cleanly.
    pub fn stop(&mut self) -> bool {
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        self.child.wait().map(|s| s.success()).unwrap_or(false)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A new database on the test PostgreSQL cluster, for the real binary.
pub async fn postgres_database_for_binary() -> String {
    fresh_postgres_database().await
}

/// A test oracle that `scripts/test` installs under `target/tools` (the venv's Python, the
/// npm CSAF validator): its path, or `None` outside CI when it is missing, said loudly.
/// Under `CI=true` a missing oracle fails the test.
pub fn oracle(relative: &str, what: &str) -> Option<PathBuf> {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative);
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("CI").map_or(true, |v| v != "true"),
        "{} is missing; CI requires {what} (scripts/test installs it)",
        path.display()
    );
    eprintln!(
        "!!! SKIPPING: {what} is not installed ({} is missing)",
        path.display()
    );
    None
}

/// Runs API calls against a real server as `token`; each must succeed.
pub async fn api_steps(base: &str, token: &str, steps: &[(reqwest::Method, &str, Value)]) {
    let client = reqwest::Client::new();
    for (method, path, body) in steps {
        let r = client
            .request(method.clone(), format!("{base}{path}"))
            .bearer_auth(token)
            .json(body)
            .send()
            .await
            .unwrap();
        let status = r.status();
        assert!(
            status.is_success(),
            "{path}: {status} {}",
            r.text().await.unwrap()
        );
    }
}

/// Organisation `coco` (with `sm` as its security manager) and repository `guest`, over HTTP.
pub async fn coco_over_http(base: &str, admin: &str, sm_email: &str) {
    use reqwest::Method;
    api_steps(
        base,
        admin,
        &[
            (
                Method::POST,
                "/api/v1/orgs",
                json!({"slug": "coco", "name": "CoCo"}),
            ),
            (
                Method::PUT,
                &format!("/api/v1/orgs/coco/members/{sm_email}"),
                json!({"role": "security_manager"}),
            ),
            (
                Method::PUT,
                "/api/v1/orgs/coco/members/admin@example.org",
                json!({"role": "security_manager"}),
            ),
            (
                Method::POST,
                "/api/v1/orgs/coco/repos",
                json!({"slug": "guest", "name": "Guest"}),
            ),
        ],
    )
    .await;
}
