//! Webhooks, on both backends, against a receiver in the test that checks every signature as
//! a receiver should (HMAC-SHA256 over "{t}.{body}" with RustCrypto's `hmac`, refusing one
//! older than five minutes): deliveries carry ids and links only, a failing receiver gets the
//! retries, the log shows each attempt, and a delivery can be sent again.

use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, Method, StatusCode};
use hmac::{Hmac, Mac};
use serde_json::{Value, json};

use crate::support::{TestApp, World, on_both_backends};

const SECRET: &str = "a-long-random-webhook-secret";

/// What a receiver does with a delivery: the signature's time and MAC, checked.
fn verify(headers: &HeaderMap, body: &str, now: i64) -> Result<(), &'static str> {
    verify_with(SECRET, headers, body, now)
}

/// The same under any secret (other tests' receivers use it).
pub(crate) fn verify_with(
    secret: &str,
    headers: &HeaderMap,
    body: &str,
    now: i64,
) -> Result<(), &'static str> {
    let sig = headers
        .get("x-embargo-signature")
        .and_then(|v| v.to_str().ok())
        .ok_or("no signature")?;
    let (t, v1) = sig
        .split_once(',')
        .and_then(|(t, v)| Some((t.strip_prefix("t=")?, v.strip_prefix("v1=")?)))
        .ok_or("malformed signature")?;
    let t: i64 = t.parse().map_err(|_| "malformed time")?;
    if (now - t).abs() > 300 {
        return Err("too old");
    }
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{t}.{body}").as_bytes());
    let expected: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    if expected == v1 {
        Ok(())
    } else {
        Err("wrong signature")
    }
}

/// A receiver that keeps what it is sent and answers 204, or 500 while failing.
#[derive(Default)]
pub(crate) struct Receiver {
    pub(crate) got: Vec<(HeaderMap, String)>,
    pub(crate) fail: bool,
}

pub(crate) async fn start_receiver() -> (Arc<Mutex<Receiver>>, u16) {
    let state = Arc::new(Mutex::new(Receiver::default()));
    let s = state.clone();
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(move |headers: HeaderMap, body: String| {
            let s = s.clone();
            async move {
                let mut r = s.lock().unwrap();
                r.got.push((headers, body));
                if r.fail {
                    StatusCode::INTERNAL_SERVER_ERROR
                } else {
                    StatusCode::NO_CONTENT
                }
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (state, port)
}

async fn signed_ids_and_links_with_retries(mut app: TestApp) {
    let (rx, port) = start_receiver().await;
    app.configure(|c| c.network.allow = vec![format!("127.0.0.1:{port}")]);
    let w = World::new(&app).await;
    let url = format!("http://127.0.0.1:{port}/hook");
    let hooks = "/api/v1/orgs/coco/webhooks";
    // Refusals: who, what events, which address, how long a secret.
    let body = |url: &str, events: Value, secret: &str| json!({"url": url, "events": events, "secret": secret});
    let good = body(
        &url,
        json!(["advisory.filed", "advisory.published", "job.failed"]),
        SECRET,
    );
    let r = app.post(hooks, Some(&w.maintainer), good.clone()).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    for (b, field) in [
        (body(&url, json!(["advisory.eaten"]), SECRET), "events"),
        (body(&url, json!(["advisory.filed"]), "short"), "secret"),
        (
            body("http://10.0.0.1/hook", json!(["advisory.filed"]), SECRET),
            "url",
        ),
        (
            body(
                "https://127.0.0.1:1/hook",
                json!(["advisory.filed"]),
                SECRET,
            ),
            "url",
        ),
    ] {
        let r = app.post(hooks, Some(&w.sm), b).await;
        assert_eq!(r.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", r.text);
        assert_eq!(r.json["error"]["field"], field, "{}", r.text);
    }
    let r = app.post(hooks, Some(&w.sm), good).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let hook = r.json["id"].as_i64().unwrap();
    let listed = app.get(hooks, Some(&w.sm)).await;
    assert!(!listed.text.contains(SECRET), "the secret is write-only");

    // A filed report: one signed delivery with its id and link, never its text.
    let id = w.file(&app, "Secret title of an unpublished report").await;
    app.run_jobs().await;
    app.run_jobs().await;
    let got = std::mem::take(&mut rx.lock().unwrap().got);
    assert_eq!(got.len(), 1, "one delivery");
    let (headers, text) = &got[0];
    let now = app.store.now().unix_timestamp();
    assert_eq!(verify(headers, text, now), Ok(()));
    let v: Value = serde_json::from_str(text).unwrap();
    assert_eq!(v["event"], "advisory.filed");
    assert_eq!(v["advisory"]["id"], id.as_str());
    assert_eq!(
        v["advisory"]["url"],
        format!("{}/advisories/{id}", crate::support::BASE_URL)
    );
    assert!(
        !text.contains("Secret title") && !text.contains("steps to reproduce"),
        "{text}"
    );
    // A replayed delivery with a changed body, or an old one, is refused by the receiver.
    assert_eq!(
        verify(headers, &text.replace("filed", "published"), now),
        Err("wrong signature")
    );
    assert_eq!(verify(headers, text, now + 301), Err("too old"));

    // A failing receiver gets the retries; the log shows each attempt.
    rx.lock().unwrap().fail = true;
    let published = w.advisory_in(&app, "published").await;
    app.run_jobs().await;
    app.run_jobs().await;
    let log = format!("{hooks}/{hook}/deliveries");
    let d = app.get(&log, Some(&w.sm)).await.json;
    let newest = &d[0];
    assert_eq!(newest["event"], "advisory.published", "{d}");
    assert_eq!(newest["state"], "pending");
    assert_eq!(newest["attempts"], 1);
    assert_eq!(newest["last_status"], 500);
    app.clock.advance(time::Duration::seconds(30));
    app.run_jobs().await;
    assert_eq!(
        app.get(&log, Some(&w.sm)).await.json[0]["attempts"],
        1,
        "not before its pause"
    );
    rx.lock().unwrap().fail = false;
    app.clock.advance(time::Duration::minutes(1));
    app.run_jobs().await;
    let d = app.get(&log, Some(&w.sm)).await.json;
    assert_eq!(d[0]["state"], "delivered", "{d}");
    assert_eq!(d[0]["attempts"], 2);
    assert_eq!(d[0]["last_status"], 204);
    let last = rx.lock().unwrap().got.last().cloned().unwrap();
    let v: Value = serde_json::from_str(&last.1).unwrap();
    assert_eq!(v["advisory"]["id"], published.as_str());
    assert!(v["advisory"]["summary"].is_string(), "public now: {v}");
    // Redelivery: sent again, signed again.
    let did = d[0]["id"].as_i64().unwrap();
    let before = rx.lock().unwrap().got.len();
    let r = app
        .post(&format!("{log}/{did}/redeliver"), Some(&w.sm), json!({}))
        .await;
    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
    // The delivery job comes round every two seconds.
    app.clock.advance(time::Duration::seconds(3));
    app.run_jobs().await;
    let got = rx.lock().unwrap().got.clone();
    assert_eq!(got.len(), before + 1);
    let (h, b) = got.last().unwrap();
    assert_eq!(verify(h, b, app.store.now().unix_timestamp()), Ok(()));
    // A job about one of the organisation's advisories fails: its hooks hear of it.
    app.store
        .schedule_job(
            "no_such_kind",
            "failing-for-hooks",
            &json!({"advisory": published}),
            app.store.now(),
        )
        .await
        .unwrap();
    app.run_jobs().await;
    app.clock.advance(time::Duration::seconds(3));
    app.run_jobs().await;
    let got = rx.lock().unwrap().got.clone();
    let (h, b) = got.last().unwrap();
    let v: Value = serde_json::from_str(b).unwrap();
    assert_eq!(v["event"], "job.failed", "{v}");
    assert_eq!(v["advisory"]["id"], published.as_str());
    assert!(
        v["job"]["error"]
            .as_str()
            .unwrap()
            .contains("unknown job kind")
    );
    assert_eq!(verify(h, b, app.store.now().unix_timestamp()), Ok(()));
    // Another organisation's security manager sees nothing of it.
    let r = app.get(&log, Some(&w.other_org_sm)).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = app
        .call(
            Method::DELETE,
            &format!("{hooks}/{hook}"),
            Some(&w.sm),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NO_CONTENT);
}

on_both_backends!(signed_ids_and_links_with_retries);
