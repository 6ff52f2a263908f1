//! What operators run Embargo with: `/metrics` behind its token, and client addresses read
//! from `X-Forwarded-For` only when the connection comes from a trusted proxy.

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Method, Request, StatusCode, header};
use embargo_server::proxy::TrustedProxies;
use serde_json::json;

use crate::support::{TestApp, World, on_both_backends};

const TOKEN: &str = "a-long-metrics-token-for-the-scraper";

fn metrics(token: Option<&str>) -> Request<Body> {
    let mut b = Request::builder().uri("/metrics");
    if let Some(t) = token {
        b = b.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    b.body(Body::empty()).unwrap()
}

/// The value of the sample line that starts with `prefix` (name and labels).
fn sample(text: &str, prefix: &str) -> Option<f64> {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
}

async fn metrics_are_served_to_the_scraper_only(mut app: TestApp) {
    // Without a token configured, there is no such page.
    assert_eq!(
        app.request(metrics(None)).await.status,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        app.request(metrics(Some(TOKEN))).await.status,
        StatusCode::NOT_FOUND
    );

    app.configure(|c| c.metrics.token = TOKEN.into());
    let w = World::new(&app).await;
    let r = app
        .post(
            "/api/v1/orgs/coco/repos/guest/advisories",
            Some(&w.reporter),
            json!({"title": "SECRET-TITLE-4711 in the parser", "description": "details"}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.json["id"].as_str().unwrap().to_owned();
    for _ in 0..3 {
        assert_eq!(
            app.get(&format!("/api/v1/advisories/{id}"), Some(&w.sm))
                .await
                .status,
            StatusCode::OK
        );
    }
    assert_eq!(
        app.get(&format!("/api/v1/advisories/{id}"), Some(&w.outsider))
            .await
            .status,
        StatusCode::NOT_FOUND
    );

    assert_eq!(
        app.request(metrics(None)).await.status,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        app.request(metrics(Some("a-long-but-wrong-token-for-metrics")))
            .await
            .status,
        StatusCode::UNAUTHORIZED
    );
    let m = app.request(metrics(Some(TOKEN))).await;
    assert_eq!(m.status, StatusCode::OK, "{}", m.text);
    assert!(
        m.headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("application/openmetrics-text"),
        "{:?}",
        m.headers
    );
    let text = &m.text;
    // Counted by route template and status, never by path.
    let ok = sample(
        text,
        "embargo_http_requests_total{method=\"GET\",route=\"/api/v1/advisories/{id}\",status=\"200\"}",
    );
    assert!(ok.is_some_and(|n| n >= 3.0), "{text}");
    let nf = sample(
        text,
        "embargo_http_requests_total{method=\"GET\",route=\"/api/v1/advisories/{id}\",status=\"404\"}",
    );
    assert!(nf.is_some_and(|n| n >= 1.0), "{text}");
    assert!(
        text.contains(
            "embargo_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/advisories/{id}\"}"
        ),
        "{text}"
    );
    assert!(!text.contains(&id), "an advisory id in the metrics: {text}");
    assert!(!text.contains("SECRET-TITLE"), "{text}");
    // The queues and the pool.
    assert!(
        sample(text, "embargo_jobs_due ").is_some(),
        "jobs due missing: {text}"
    );
    assert!(
        text.contains("embargo_mail_queue{state=\"waiting\"}"),
        "{text}"
    );
    assert!(
        text.contains("embargo_webhook_deliveries{state=\"given_up\"} 0"),
        "{text}"
    );
    let open = sample(text, "embargo_database_connections{state=\"open\"}");
    assert!(open.is_some_and(|n| n >= 1.0), "{text}");
    // The notifier job queues the messages about the new report (the tests send none).
    let mail = sample(text, "embargo_mail_queue{state=\"waiting\"}").unwrap();
    app.run_jobs().await;
    let after = app.request(metrics(Some(TOKEN))).await.text;
    let waiting = sample(&after, "embargo_mail_queue{state=\"waiting\"}").unwrap();
    assert!(
        waiting > mail,
        "the queued messages are not counted: {mail} → {waiting}"
    );
    assert!(text.ends_with("# EOF\n"), "{text}");
}

/// An API read of an unpublished advisory, over a connection from `peer`.
fn read_from(id: &str, token: &str, peer: [u8; 4], forwarded_for: Option<&str>) -> Request<Body> {
    let mut b = Request::builder()
        .method(Method::GET)
        .uri(format!("/api/v1/advisories/{id}"))
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .extension(ConnectInfo(SocketAddr::from((peer, 40_000))));
    if let Some(f) = forwarded_for {
        b = b.header("x-forwarded-for", f);
    }
    b.body(Body::empty()).unwrap()
}

/// The addresses the access log recorded for reads, in order.
async fn read_origins(app: &TestApp, id: &str, sm: &str) -> Vec<String> {
    let log = app
        .get(&format!("/api/v1/advisories/{id}/audit"), Some(sm))
        .await;
    assert_eq!(log.status, StatusCode::OK, "{}", log.text);
    log.json
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "read" && !e["origin"].is_null())
        .map(|e| e["origin"].as_str().unwrap().to_owned())
        .collect()
}

async fn forwarded_addresses_count_only_from_trusted_proxies(mut app: TestApp) {
    let w = World::new(&app).await;
    let id = w.file(&app, "read through a proxy").await;

    // No proxy is trusted: the header is the client's say, and ignored.
    let r = app
        .request(read_from(
            &id,
            &w.maintainer,
            [127, 0, 0, 1],
            Some("198.51.100.7"),
        ))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    app.configure(|c| {
        c.server.trusted_proxies = vec!["127.0.0.1".into()];
        c.server.trusted = TrustedProxies::new(&c.server.trusted_proxies).unwrap();
    });
    // From the trusted proxy: the client it names (after anything the client wrote itself).
    app.request(read_from(
        &id,
        &w.maintainer,
        [127, 0, 0, 1],
        Some("6.6.6.6, 198.51.100.7"),
    ))
    .await;
    // From elsewhere: the connection's address, whatever the header says.
    app.request(read_from(
        &id,
        &w.maintainer,
        [203, 0, 113, 5],
        Some("198.51.100.8"),
    ))
    .await;

    assert_eq!(
        read_origins(&app, &id, &w.sm).await,
        ["127.0.0.1", "198.51.100.7", "203.0.113.5"]
    );
}

/// Long work (a check on a fix repository) has a lane of its own: the quick lane never takes
/// it, so mail and publication do not wait behind a check that runs for minutes.
async fn slow_jobs_have_a_lane_of_their_own(app: TestApp) {
    use embargo_store::JobLane;
    let now = app.store.now();
    let past = now - time::Duration::seconds(5);
    // The slow job is due first.
    app.store
        .schedule_job("fix_check", "lane-test-check", &json!({"run": 1}), past)
        .await
        .unwrap();
    app.store
        .schedule_job("cve_publish", "lane-test-quick", &json!({}), now)
        .await
        .unwrap();
    let quick = app.store.claim_job_in(JobLane::Quick).await.unwrap();
    assert_eq!(quick.map(|j| j.kind).as_deref(), Some("cve_publish"));
    assert!(
        app.store
            .claim_job_in(JobLane::Quick)
            .await
            .unwrap()
            .is_none()
    );
    let slow = app.store.claim_job_in(JobLane::Slow).await.unwrap();
    assert_eq!(slow.map(|j| j.kind).as_deref(), Some("fix_check"));
    assert!(
        app.store
            .claim_job_in(JobLane::Slow)
            .await
            .unwrap()
            .is_none()
    );
}

on_both_backends!(
    slow_jobs_have_a_lane_of_their_own,
    metrics_are_served_to_the_scraper_only,
    forwarded_addresses_count_only_from_trusted_proxies,
);
