//! `/metrics` for operators, in the Prometheus (OpenMetrics) text format: requests by route
//! template and status with latency histograms, the job queue (waiting by kind, due, failing),
//! the mail queue, webhook deliveries and this instance's database pool. Served only when
//! `[metrics] token` is set, and only to a scraper that sends it as a bearer token. Labels are
//! route templates (`/api/v1/advisories/{id}`), never paths, so no id or one-time token
//! reaches a metric; the store's figures are counts only.

use std::sync::{LazyLock, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use subtle::ConstantTimeEq;

use crate::AppState;
use crate::error::AppError;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct KindLabels {
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: &'static str,
}

type Buckets = fn() -> Histogram;

struct Metrics {
    registry: Registry,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, Buckets>,
    jobs_waiting: Family<KindLabels, Gauge>,
    jobs_failing: Family<KindLabels, Gauge>,
    jobs_due: Gauge,
    mail: Family<StateLabels, Gauge>,
    webhooks: Family<StateLabels, Gauge>,
    pool: Family<StateLabels, Gauge>,
    /// One scrape at a time sets the gauges and encodes them.
    scrape: Mutex<()>,
}

fn buckets() -> Histogram {
    // 1 ms to about 16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let mut registry = Registry::with_prefix("embargo");
    let requests = Family::<RequestLabels, Counter>::default();
    registry.register(
        "http_requests",
        "HTTP requests answered, by route template and status",
        requests.clone(),
    );
    let latency = Family::<RouteLabels, Histogram, Buckets>::new_with_constructor(buckets);
    registry.register(
        "http_request_duration_seconds",
        "Time to answer an HTTP request, by route template",
        latency.clone(),
    );
    let jobs_waiting = Family::<KindLabels, Gauge>::default();
    registry.register(
        "jobs_waiting",
        "Jobs not done yet (recurring jobs included), by kind",
        jobs_waiting.clone(),
    );
    let jobs_failing = Family::<KindLabels, Gauge>::default();
    registry.register(
        "jobs_failing",
        "Jobs not done that have failed at least once, by kind",
        jobs_failing.clone(),
    );
    let jobs_due = Gauge::default();
    registry.register(
        "jobs_due",
        "Jobs whose time has come that no instance holds",
        jobs_due.clone(),
    );
    let mail = Family::<StateLabels, Gauge>::default();
    registry.register(
        "mail_queue",
        "Messages not sent yet (waiting), and those that failed at least once (failing)",
        mail.clone(),
    );
    let webhooks = Family::<StateLabels, Gauge>::default();
    registry.register(
        "webhook_deliveries",
        "Webhook deliveries waiting, and given up after every retry",
        webhooks.clone(),
    );
    let pool = Family::<StateLabels, Gauge>::default();
    registry.register(
        "database_connections",
        "This instance's database connections: open, and idle among them",
        pool.clone(),
    );
    Metrics {
        registry,
        requests,
        latency,
        jobs_waiting,
        jobs_failing,
        jobs_due,
        mail,
        webhooks,
        pool,
        scrape: Mutex::new(()),
    }
});

/// Middleware counting every answer by its route template.
pub async fn track(req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let method = req.method().as_str().to_owned();
    let started = Instant::now();
    let res = next.run(req).await;
    let m = &*METRICS;
    m.latency
        .get_or_create(&RouteLabels {
            method: method.clone(),
            route: route.clone(),
        })
        .observe(started.elapsed().as_secs_f64());
    m.requests
        .get_or_create(&RequestLabels {
            method,
            route,
            status: res.status().as_u16(),
        })
        .inc();
    res
}

fn gauge(v: impl TryInto<i64>) -> i64 {
    v.try_into().unwrap_or(i64::MAX)
}

/// `GET /metrics`: 404 unless a token is configured; 401 without the right bearer token.
pub async fn serve(State(st): State<AppState>, headers: HeaderMap) -> Result<Response, AppError> {
    let want = st.config.metrics.token.as_bytes();
    if want.is_empty() {
        return Err(AppError::not_found("page"));
    }
    let given = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or_default()
        .as_bytes();
    if !bool::from(given.ct_eq(want)) {
        return Ok((
            StatusCode::UNAUTHORIZED,
            [(header::WWW_AUTHENTICATE, "Bearer realm=\"metrics\"")],
            "/metrics needs the token of [metrics] token as a bearer token\n",
        )
            .into_response());
    }
    let stats = st.store.operational_stats().await?;
    let m = &*METRICS;
    let text = {
        let _one = m.scrape.lock().unwrap_or_else(|e| e.into_inner());
        m.jobs_waiting.clear();
        m.jobs_failing.clear();
        for (kind, waiting, failing) in &stats.jobs {
            let l = KindLabels { kind: kind.clone() };
            m.jobs_waiting.get_or_create(&l).set(*waiting);
            m.jobs_failing.get_or_create(&l).set(*failing);
        }
        m.jobs_due.set(stats.jobs_due);
        let state = |s| StateLabels { state: s };
        m.mail
            .get_or_create(&state("waiting"))
            .set(stats.mail_waiting);
        m.mail
            .get_or_create(&state("failing"))
            .set(stats.mail_failing);
        m.webhooks
            .get_or_create(&state("waiting"))
            .set(stats.webhooks_waiting);
        m.webhooks
            .get_or_create(&state("given_up"))
            .set(stats.webhooks_given_up);
        m.pool
            .get_or_create(&state("open"))
            .set(gauge(stats.pool_size));
        m.pool
            .get_or_create(&state("idle"))
            .set(gauge(stats.pool_idle));
        let mut text = String::new();
        encode(&mut text, &m.registry)
            .map_err(|e| AppError::internal(&format!("encoding the metrics: {e}")))?;
        text
    };
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        text,
    )
        .into_response())
}
