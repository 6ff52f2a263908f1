//! Crash safety (#17): the real `embargo serve`, killed with SIGKILL while 50 clients file
//! reports and comment on them over HTTP, loses no write it acknowledged. After each kill the
//! database checks clean (`PRAGMA integrity_check` on SQLite), the access log's chain
//! verifies (`embargo audit verify`), and the restarted server serves again and holds every
//! acknowledged report and comment, read back through the API as a security manager.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};

use crate::support::{Server, coco_over_http, embargo_bin, postgres_database_for_binary};

/// Clients writing at once.
const CLIENTS: usize = 50;
/// Kill-and-restart rounds per backend.
const ROUNDS: usize = 3;
/// Reporter accounts the clients share (the hourly filing limit is per account and address).
const REPORTERS: usize = 5;
/// Comments each client adds to the report it just filed.
const COMMENTS_PER_REPORT: usize = 2;
/// Writes acknowledged in a round before the kill may come (a loaded machine is slower).
const WRITES_BEFORE_KILL: usize = 200;
/// How long a round may take to reach them.
const MOST_TIME_BEFORE_KILL: Duration = Duration::from_secs(25);

/// A report the server answered 201 for.
struct AckedReport {
    id: String,
    title: String,
}

/// A comment the server answered 201 for.
struct AckedComment {
    advisory: String,
    id: i64,
    body: String,
}

/// What one client saw before the server died under it.
#[derive(Default)]
struct ClientLog {
    reports: Vec<AckedReport>,
    comments: Vec<AckedComment>,
    /// Answers other than 201, by status.
    refused: BTreeMap<u16, usize>,
    /// The client's last request failed in transport (the kill cut it, or the server died
    /// just before it was sent).
    cut: bool,
}

/// Every write acknowledged so far, over all rounds.
#[derive(Default)]
struct Acked {
    reports: Vec<AckedReport>,
    comments: Vec<AckedComment>,
}

/// The outcome of one POST: acknowledged with its body, refused with a status, or cut.
enum Sent {
    Created(Value),
    Refused(u16),
    Cut,
}

async fn post(client: &reqwest::Client, url: String, token: &str, body: Value) -> Sent {
    let Ok(resp) = client.post(url).bearer_auth(token).json(&body).send().await else {
        return Sent::Cut;
    };
    let status = resp.status().as_u16();
    // Only a complete body with its id is an acknowledgement.
    match resp.json::<Value>().await {
        Ok(v) if status == 201 => Sent::Created(v),
        Ok(_) => Sent::Refused(status),
        Err(_) => Sent::Cut,
    }
}

/// Files reports and comments on them until a request is cut.
async fn client_loop(
    client: reqwest::Client,
    base: String,
    token: String,
    (round, n): (usize, usize),
    writes: Arc<AtomicUsize>,
) -> ClientLog {
    let mut log = ClientLog::default();
    let mut i = 0_usize;
    loop {
        i += 1;
        let title = format!("Crash round {round} client {n} report {i}");
        let filed = post(
            &client,
            format!("{base}/api/v1/orgs/coco/repos/guest/advisories"),
            &token,
            json!({"title": title, "description": format!("steps for {title}")}),
        )
        .await;
        let id = match filed {
            Sent::Created(v) => {
                let id = v["id"]
                    .as_str()
                    .expect("a filed report has an id")
                    .to_owned();
                log.reports.push(AckedReport {
                    id: id.clone(),
                    title,
                });
                writes.fetch_add(1, Ordering::Relaxed);
                id
            }
            Sent::Refused(status) => {
                *log.refused.entry(status).or_default() += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
                continue;
            }
            Sent::Cut => {
                log.cut = true;
                return log;
            }
        };
        for k in 0..COMMENTS_PER_REPORT {
            let body = format!("comment {k} of round {round} client {n} report {i}");
            match post(
                &client,
                format!("{base}/api/v1/advisories/{id}/comments"),
                &token,
                json!({"body": body}),
            )
            .await
            {
                Sent::Created(v) => {
                    log.comments.push(AckedComment {
                        advisory: id.clone(),
                        id: v["id"].as_i64().expect("a comment has an id"),
                        body,
                    });
                    writes.fetch_add(1, Ordering::Relaxed);
                }
                Sent::Refused(status) => *log.refused.entry(status).or_default() += 1,
                Sent::Cut => {
                    log.cut = true;
                    return log;
                }
            }
        }
    }
}

/// The end of a server's log, for a failure's message.
fn log_tail(log: &str) -> &str {
    let start = log.len().saturating_sub(4000);
    log.get(log.ceil_char_boundary(start)..).unwrap_or(log)
}

/// Waits until the clients have had at least 1.5 s and [`WRITES_BEFORE_KILL`] writes
/// acknowledged, then a further 0 to 1.5 s, different on every run: the kill lands
/// anywhere in a stream of writes.
async fn wait_for_kill(writes: &AtomicUsize) {
    let start = Instant::now();
    while start.elapsed() < Duration::from_millis(1500)
        || (writes.load(Ordering::Relaxed) < WRITES_BEFORE_KILL
            && start.elapsed() < MOST_TIME_BEFORE_KILL)
    {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let r = embargo_store::secrets::random_bytes::<2>().unwrap();
    tokio::time::sleep(Duration::from_millis(
        u64::from(u16::from_le_bytes(r)) % 1500,
    ))
    .await;
}

/// Runs `embargo ARGS --data DATA` with `env`, for a data folder whose server is dead.
fn embargo(data: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = std::process::Command::new(embargo_bin());
    cmd.args(args)
        .arg("--data")
        .arg(data)
        .env_remove("EMBARGO_DATABASE_URL");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

/// `embargo audit verify` says the chain is intact, head file included.
fn assert_audit_intact(data: &std::path::Path, env: &[(&str, &str)], when: &str) {
    let out = embargo(data, &["audit", "verify"], env);
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && said.contains("intact") && said.contains("head file names"),
        "{when}: the access log does not verify: {said} {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The SQLite file, as the kill left it, checks clean.
async fn assert_sqlite_clean(data: &std::path::Path, when: &str) {
    use sqlx::Connection;
    let url = format!("sqlite://{}", data.join("embargo.db").display());
    let mut c = sqlx::sqlite::SqliteConnection::connect(&url).await.unwrap();
    let integrity: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_all(&mut c)
        .await
        .unwrap();
    assert_eq!(integrity, ["ok"], "{when}: PRAGMA integrity_check");
    let dangling = sqlx::query("PRAGMA foreign_key_check")
        .fetch_all(&mut c)
        .await
        .unwrap();
    assert!(
        dangling.is_empty(),
        "{when}: {} rows break a foreign key",
        dangling.len()
    );
    c.close().await.unwrap();
}

/// Every acknowledged report and comment, read back through the API as a security manager.
async fn assert_all_there(base: &str, sm: &str, acked: &Acked, when: &str) {
    let client = reqwest::Client::new();
    let mut comments: BTreeMap<&str, Vec<&AckedComment>> = BTreeMap::new();
    for c in &acked.comments {
        comments.entry(c.advisory.as_str()).or_default().push(c);
    }
    let lost: Vec<String> = futures_util::stream::iter(&acked.reports)
        .map(|r| {
            let client = client.clone();
            let want = comments.get(r.id.as_str()).cloned().unwrap_or_default();
            async move {
                let mut lost = Vec::new();
                let got = client
                    .get(format!("{base}/api/v1/advisories/{}", r.id))
                    .bearer_auth(sm)
                    .send()
                    .await
                    .unwrap();
                let status = got.status().as_u16();
                let got: Value = got.json().await.unwrap_or_default();
                if status != 200 || got["title"] != r.title.as_str() {
                    lost.push(format!("report {} ({status}: {got})", r.id));
                }
                if want.is_empty() {
                    return lost;
                }
                let thread: Value = client
                    .get(format!("{base}/api/v1/advisories/{}/comments", r.id))
                    .bearer_auth(sm)
                    .send()
                    .await
                    .unwrap()
                    .json()
                    .await
                    .unwrap_or_default();
                let held: Vec<(i64, &str)> = thread
                    .as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|c| Some((c["id"].as_i64()?, c["body"].as_str()?)))
                            .collect()
                    })
                    .unwrap_or_default();
                for c in want {
                    if !held.contains(&(c.id, c.body.as_str())) {
                        lost.push(format!("comment {} on {}", c.id, r.id));
                    }
                }
                lost
            }
        })
        .buffer_unordered(8)
        .flat_map(futures_util::stream::iter)
        .collect()
        .await;
    assert!(
        lost.is_empty(),
        "{when}: {} acknowledged writes are lost: {lost:?}",
        lost.len()
    );
}

async fn killed_under_load_loses_nothing(env: &[(&str, &str)], sqlite: bool) {
    let started = Instant::now();
    let mut server = Server::start(env);
    let admin = server.user("admin@example.org", true, env);
    let sm = server.user("sm@example.org", false, env);
    let reporters: Vec<String> = (0..REPORTERS)
        .map(|i| server.user(&format!("reporter{i}@example.org"), false, env))
        .collect();
    coco_over_http(&server.base, &admin, "sm@example.org").await;
    let r = reqwest::Client::new()
        .patch(format!("{}/api/v1/orgs/coco", server.base))
        .bearer_auth(&sm)
        .json(&json!({"reports_per_hour": 10000}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);

    let mut acked = Acked::default();
    for round in 0..ROUNDS {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap();
        let writes = Arc::new(AtomicUsize::new(0));
        let mut set = tokio::task::JoinSet::new();
        for n in 0..CLIENTS {
            set.spawn(client_loop(
                client.clone(),
                server.base.clone(),
                reporters[n % REPORTERS].clone(),
                (round, n),
                writes.clone(),
            ));
        }
        wait_for_kill(&writes).await;
        let log = server.stderr.clone();
        let data = server.kill();
        let mut round_reports = 0;
        let mut round_comments = 0;
        let mut refused: BTreeMap<u16, usize> = BTreeMap::new();
        let mut cut = 0;
        for log in set.join_all().await {
            round_reports += log.reports.len();
            round_comments += log.comments.len();
            for (status, n) in log.refused {
                *refused.entry(status).or_default() += n;
            }
            cut += usize::from(log.cut);
            acked.reports.extend(log.reports);
            acked.comments.extend(log.comments);
        }
        eprintln!(
            "round {round}: {round_reports} reports and {round_comments} comments acknowledged, {cut} requests cut by the kill, refused: {refused:?}"
        );
        let when = format!("after kill {round}");
        // Only the hourly limit may refuse: a report just acknowledged is there to comment
        // on (no 404), and the server does not fail under load (no 5xx).
        assert!(
            refused.keys().all(|s| *s == 429),
            "{when}: writes were refused: {refused:?}"
        );
        assert!(
            round_reports >= 20 && round_comments >= 20,
            "{when}: too few writes to mean anything ({round_reports} reports, {round_comments} comments); the server's log ends: {}",
            log_tail(&log.lock().unwrap())
        );
        // The database as the kill left it, before any server touches it again.
        if sqlite {
            assert_sqlite_clean(data.path(), &when).await;
        }
        assert_audit_intact(data.path(), env, &when);

        server = Server::start_in(data, env);
        let health = reqwest::get(format!("{}/healthz", server.base))
            .await
            .unwrap();
        assert_eq!(health.status(), 200, "{when}: the restarted server serves");
        assert_all_there(&server.base, &sm, &acked, &when).await;
    }

    // The restarted server takes writes again, and the log still verifies with them.
    let client = reqwest::Client::new();
    let Sent::Created(filed) = post(
        &client,
        format!("{}/api/v1/orgs/coco/repos/guest/advisories", server.base),
        &reporters[0],
        json!({"title": "After the crashes", "description": "steps"}),
    )
    .await
    else {
        panic!("filing after the restarts failed");
    };
    let id = filed["id"].as_str().unwrap();
    assert!(matches!(
        post(
            &client,
            format!("{}/api/v1/advisories/{id}/comments", server.base),
            &reporters[0],
            json!({"body": "still here"}),
        )
        .await,
        Sent::Created(_)
    ));
    assert_audit_intact(server.data.path(), env, "at the end");
    assert!(server.stop(), "SIGTERM stops the server cleanly");
    eprintln!(
        "{} reports and {} comments survived {ROUNDS} kills in {:?}",
        acked.reports.len(),
        acked.comments.len(),
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_under_load_loses_nothing_on_sqlite() {
    killed_under_load_loses_nothing(&[], true).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_under_load_loses_nothing_on_postgres() {
    let url = postgres_database_for_binary().await;
    killed_under_load_loses_nothing(&[("EMBARGO_DATABASE_URL", &url)], false).await;
}
