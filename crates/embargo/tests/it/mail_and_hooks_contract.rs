//! Parts of the contract of reports by e-mail and webhooks (issue 12) that the other tests
//! leave out: every event a webhook may ask for is delivered once, signed; the network rule
//! is applied again when a delivery is sent, not only when the hook is added; and
//! `embargo intake mail` exits non-zero when the message cannot be stored.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};

use crate::support::{TestApp, World, on_both_backends};

const SECRET: &str = "another-long-random-webhook-secret";
/// The events issue 12's contract names.
const CONTRACT_EVENTS: [&str; 8] = [
    "advisory.filed",
    "advisory.replied",
    "advisory.accepted",
    "advisory.closed",
    "advisory.embargo_changed",
    "advisory.published",
    "advisory.withdrawn",
    "job.failed",
];

/// Everything a receiver on 127.0.0.1 was sent.
async fn start_receiver() -> (Arc<Mutex<Vec<(HeaderMap, String)>>>, u16) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let g = got.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let g = g.clone();
            async move {
                g.lock().unwrap().push((headers, body));
                StatusCode::NO_CONTENT
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (got, port)
}

fn signed(headers: &HeaderMap, body: &str) -> bool {
    let sig = headers["x-embargo-signature"].to_str().unwrap();
    let Some((t, v1)) = sig.split_once(",v1=") else {
        return false;
    };
    let t = t.strip_prefix("t=").unwrap();
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(SECRET.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    mac.verify_slice(&hex_bytes(v1)).is_ok()
}

fn hex_bytes(s: &str) -> Vec<u8> {
    (0..s.len() / 2)
        .map(|i| u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap_or(0))
        .collect()
}

/// Runs the jobs until the deliveries are out (the notifier queues them, the delivery job
/// comes round every two seconds).
async fn deliver(app: &TestApp) {
    for _ in 0..2 {
        app.run_jobs().await;
        app.clock.advance(time::Duration::seconds(3));
    }
    app.run_jobs().await;
}

async fn every_event_once(mut app: TestApp) {
    let (got, port) = start_receiver().await;
    app.configure(|c| c.network.allow = vec![format!("127.0.0.1:{port}")]);
    let w = World::new(&app).await;
    let events = CONTRACT_EVENTS;
    let r = app
        .post(
            "/api/v1/orgs/coco/webhooks",
            Some(&w.sm),
            json!({"url": format!("http://127.0.0.1:{port}/hook"), "events": events, "secret": SECRET}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    // Filed, accepted, published, withdrawn.
    let withdrawn = w.advisory_in(&app, "withdrawn").await;
    // Filed, closed.
    let closed = w.advisory_in(&app, "closed").await;
    // Filed, accepted, a public reply (the internal note is nobody's event), an embargo.
    let draft = w.advisory_in(&app, "draft").await;
    for (body, internal) in [("A reply to the reporter", false), ("A note", true)] {
        let r = app
            .post(
                &format!("/api/v1/advisories/{draft}/comments"),
                Some(&w.sm),
                json!({"body": body, "internal": internal}),
            )
            .await;
        assert!(r.status.is_success(), "{}", r.text);
    }
    let ends = app.store.now() + time::Duration::days(10);
    let r = app
        .post(
            &format!("/api/v1/advisories/{draft}/embargo"),
            Some(&w.sm),
            json!({"action": "propose", "ends_at": embargo_domain::rfc3339(ends)}),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // A job about the draft fails.
    app.store
        .schedule_job(
            "no_such_kind",
            "failing-for-every-event",
            &json!({"advisory": draft}),
            app.store.now(),
        )
        .await
        .unwrap();
    deliver(&app).await;

    let got = got.lock().unwrap().clone();
    let mut seen: BTreeMap<(String, String), usize> = BTreeMap::new();
    for (headers, body) in &got {
        assert!(signed(headers, body), "every delivery is signed: {body}");
        let v: Value = serde_json::from_str(body).unwrap();
        assert_eq!(headers["x-embargo-event"], v["event"].as_str().unwrap());
        assert!(v["delivered_at"].is_string(), "{v}");
        *seen
            .entry((
                v["event"].as_str().unwrap().to_owned(),
                v["advisory"]["id"].as_str().unwrap().to_owned(),
            ))
            .or_default() += 1;
    }
    let want: BTreeMap<(String, String), usize> = [
        ("advisory.filed", &withdrawn),
        ("advisory.accepted", &withdrawn),
        ("advisory.published", &withdrawn),
        ("advisory.withdrawn", &withdrawn),
        ("advisory.filed", &closed),
        ("advisory.closed", &closed),
        ("advisory.filed", &draft),
        ("advisory.accepted", &draft),
        ("advisory.replied", &draft),
        ("advisory.embargo_changed", &draft),
    ]
    .into_iter()
    .map(|(e, id)| ((e.to_owned(), id.clone()), 1))
    .collect();
    // A failing job is told of at each failed attempt (it is retried with growing pauses).
    let failed_attempts = app
        .store
        .jobs()
        .await
        .unwrap()
        .into_iter()
        .find(|j| j.key == "failing-for-every-event")
        .unwrap()
        .attempts;
    assert!(failed_attempts >= 1);
    let job_failed = seen
        .remove(&("job.failed".to_owned(), draft.clone()))
        .unwrap_or(0);
    assert_eq!(i64::try_from(job_failed).unwrap(), failed_attempts);
    assert_eq!(seen, want, "each event once");
    seen.insert(("job.failed".to_owned(), draft.clone()), job_failed);
    // Every event of the contract was seen.
    for e in CONTRACT_EVENTS {
        assert!(seen.keys().any(|(s, _)| s == e), "{e}");
    }
}

async fn deliveries_obey_the_network_rule_when_sent(mut app: TestApp) {
    let (got, port) = start_receiver().await;
    app.configure(|c| c.network.allow = vec![format!("127.0.0.1:{port}")]);
    let w = World::new(&app).await;
    let r = app
        .post(
            "/api/v1/orgs/coco/webhooks",
            Some(&w.sm),
            json!({"url": format!("http://127.0.0.1:{port}/hook"), "events": ["advisory.filed"], "secret": SECRET}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let hook = r.json["id"].as_i64().unwrap();
    // The administrator takes the address off the list: nothing is sent to it any more.
    app.configure(|c| c.network.allow = Vec::new());
    w.file(&app, "Filed while the receiver is not allowed")
        .await;
    deliver(&app).await;
    assert!(
        got.lock().unwrap().is_empty(),
        "nothing reached the receiver"
    );
    let log = app
        .get(
            &format!("/api/v1/orgs/coco/webhooks/{hook}/deliveries"),
            Some(&w.sm),
        )
        .await;
    let d = &log.json[0];
    assert_eq!(d["state"], "pending", "{d}");
    assert!(d["attempts"].as_i64().unwrap() >= 1, "{d}");
    assert_eq!(d["last_status"], Value::Null);
    assert!(!d["last_error"].as_str().unwrap().is_empty(), "{d}");
    // Allowed again: the retry goes out.
    app.configure(|c| c.network.allow = vec![format!("127.0.0.1:{port}")]);
    app.clock.advance(time::Duration::minutes(10));
    deliver(&app).await;
    assert_eq!(got.lock().unwrap().len(), 1);
}

on_both_backends!(every_event_once, deliveries_obey_the_network_rule_when_sent);

/// A message that cannot be stored (here: for an organisation that does not exist) makes
/// `embargo intake mail` exit non-zero, with the reason on standard error and no line on
/// standard output, so that the MTA keeps it.
#[test]
fn intake_mail_fails_when_the_message_cannot_be_stored() {
    use std::io::Write;
    let data = tempfile::tempdir().unwrap();
    let mut child = std::process::Command::new(crate::support::embargo_bin())
        .args(["intake", "mail", "--org", "nope", "--data"])
        .arg(data.path())
        .env_remove("EMBARGO_DATABASE_URL")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"From: rita@example.org\r\nSubject: A report\r\n\r\nText.\r\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        out.stdout.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(stderr.contains("organisation not found"), "{stderr}");
}
