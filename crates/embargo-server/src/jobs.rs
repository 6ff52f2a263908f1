//! The job runner: every kind of background work, run from the store's durable job table.
//!
//! Recurring jobs (mail, expiries, disclosure, deadlines, embargo ends) are sweeps: each run
//! finds what is due and does it through the store, where every change is decided under
//! the advisory's lock, so a sweep that two instances run at once does each thing once.
//! A failing job is retried with growing pauses; its error stays on the job
//! (`embargo jobs`) and in the log.

use std::time::Duration as StdDuration;

use embargo_store::{Job, JobLane, Store};
use time::Duration;

use crate::mail::{self, Mailer};

/// The recurring kinds and how often each runs.
pub const RECURRING: &[(&str, Duration)] = &[
    ("mail", Duration::seconds(2)),
    ("webhooks", Duration::seconds(2)),
    ("embargo_ends", Duration::seconds(2)),
    ("deadlines", Duration::seconds(10)),
    ("disclosure", Duration::seconds(30)),
    ("invitation_expiry", Duration::seconds(30)),
    ("unconfirmed_expiry", Duration::seconds(60)),
    ("imap_intake", Duration::seconds(60)),
    ("release_watch", Duration::minutes(10)),
    ("fix_retention", Duration::minutes(10)),
];

/// What a job needs from the server.
#[derive(Clone, Copy)]
pub struct Context<'a> {
    pub store: &'a Store,
    /// `None` in tests that read the queue themselves: mail is queued, not delivered.
    pub mailer: Option<&'a Mailer>,
    pub base_url: &'a str,
    /// The settings' rule for outgoing connections (upstreams, CVE Services, webhooks).
    pub network: &'a crate::net::NetworkPolicy,
    /// The server's settings, for work that reads them (the IMAP intake files reports as
    /// `embargo intake mail` does); `None` where there are none.
    pub config: Option<&'a crate::config::Config>,
}

/// Makes sure every recurring job exists (a new one is due at once).
pub async fn ensure_recurring(store: &Store) -> Result<(), embargo_store::StoreError> {
    for (kind, every) in RECURRING {
        store.ensure_recurring_job(kind, *every).await?;
    }
    Ok(())
}

/// Runs every job that is due now, one after another; returns how many ran.
pub async fn run_due(cx: Context<'_>) -> usize {
    run_lane(cx, JobLane::Any).await
}

/// Runs the due jobs of one lane, one after another; returns how many ran.
pub async fn run_lane(cx: Context<'_>, lane: JobLane) -> usize {
    let mut ran = 0;
    // A bound, so that a job that keeps falling due at once cannot hold the loop.
    while ran < 1000 {
        let job = match cx.store.claim_job_in(lane).await {
            Ok(Some(j)) => j,
            Ok(None) => break,
            Err(e) => {
                tracing::warn!(error = %e, "claiming a job failed");
                break;
            }
        };
        ran += 1;
        let result = with_heartbeat(cx.store, &job, run(cx, &job)).await;
        let recorded = match &result {
            Ok(()) => cx.store.job_done(&job).await,
            Err(e) => {
                tracing::warn!(job = job.kind, attempts = job.attempts, error = %e, "a job failed; it will be retried");
                if let Err(err) = cx.store.queue_job_failed(&job, e, cx.base_url).await {
                    tracing::warn!(error = %err, "telling webhooks of a failed job failed");
                }
                cx.store.job_failed(&job, e).await
            }
        };
        if let Err(e) = recorded {
            tracing::warn!(job = job.kind, error = %e, "recording a job's outcome failed");
        }
    }
    ran
}

/// Runs `work`, renewing the job's lease while it runs, so that a long job is not taken
/// by another instance, and a dead instance's job is taken soon.
async fn with_heartbeat<F: std::future::Future<Output = Result<(), String>>>(
    store: &Store,
    job: &Job,
    work: F,
) -> Result<(), String> {
    let every = StdDuration::from_millis(
        u64::try_from(embargo_store::JOB_LEASE.whole_milliseconds() / 3).unwrap_or(10_000),
    );
    tokio::pin!(work);
    let mut tick = tokio::time::interval(every);
    tick.tick().await;
    loop {
        tokio::select! {
            r = &mut work => return r,
            _ = tick.tick() => {
                if let Err(e) = store.renew_job_lease(job).await {
                    tracing::warn!(job = job.kind, error = %e, "renewing a job's lease failed");
                }
            }
        }
    }
}

async fn run(cx: Context<'_>, job: &Job) -> Result<(), String> {
    let s = cx.store;
    let e = |e: embargo_store::StoreError| e.to_string();
    match job.kind.as_str() {
        "mail" => match cx.mailer {
            Some(m) => {
                mail::deliver(s, m, cx.base_url).await;
            }
            None => {
                s.notify(cx.base_url).await.map_err(e)?;
            }
        },
        "webhooks" => {
            crate::webhooks::deliver(s, cx.network).await?;
        }
        "embargo_ends" => {
            let r = s.run_embargo_ends(cx.base_url).await.map_err(e)?;
            if r != embargo_store::SweepRun::default() {
                tracing::info!(
                    ended = r.ended,
                    published = r.published,
                    warnings = r.notices,
                    "embargo ends"
                );
            }
        }
        "deadlines" => {
            let r = s.run_deadlines(cx.base_url).await.map_err(e)?;
            if r.notices > 0 {
                tracing::info!(messages = r.notices, "response reminders and escalations");
            }
        }
        "disclosure" => {
            let r = s.run_disclosures().await.map_err(e)?;
            if r != embargo_store::DisclosureRun::default() {
                tracing::info!(
                    announced = r.announced,
                    disclosed = r.disclosed,
                    "closed reports disclosed by policy"
                );
            }
        }
        "invitation_expiry" => {
            let n = s.record_expiries().await.map_err(e)?;
            if n > 0 {
                tracing::info!(n, "recorded expired invitations");
            }
        }
        "unconfirmed_expiry" => {
            let n = s.expire_pending_reports().await.map_err(e)?;
            if n > 0 {
                tracing::info!(n, "deleted unconfirmed reports past their time");
            }
        }
        "imap_intake" => {
            let r = crate::imap::poll_all(s, cx.network, cx.config).await?;
            if r != crate::imap::PollRun::default() {
                tracing::info!(
                    filed = r.filed,
                    comments = r.comments,
                    dropped = r.dropped,
                    unfinished = r.unfinished,
                    "IMAP intake"
                );
            }
        }
        "release_watch" => {
            let r = crate::releases::watch(s, cx.network, cx.base_url)
                .await
                .map_err(e)?;
            if r.added > 0 || r.unreadable > 0 {
                tracing::info!(
                    repos = r.repos,
                    added = r.added,
                    flagged = r.flagged,
                    unreadable = r.unreadable,
                    "release watch"
                );
            }
        }
        // The CVE record of a published, changed or withdrawn advisory (its failure also
        // shows on the advisory).
        "cve_publish" | "cve_update" | "cve_reject" => {
            crate::cve_client::run_job(s, cx.network, cx.base_url, job).await?;
        }
        "fix_check" => {
            let run = job
                .payload
                .get("run")
                .and_then(serde_json::Value::as_i64)
                .ok_or("a fix_check job names no run")?;
            crate::fix_checks::run_check(cx, run).await?;
        }
        "fix_upstream_push" => {
            let push = job
                .payload
                .get("push")
                .and_then(serde_json::Value::as_i64)
                .ok_or("a fix_upstream_push job names no push")?;
            crate::fix_checks::run_upstream_push(cx, push).await?;
        }
        "fix_retention" => {
            let n = crate::fix_checks::run_retention(cx).await?;
            if n > 0 {
                tracing::info!(removed = n, "fix repositories removed after retention");
            }
        }
        other => return Err(format!("unknown job kind '{other}'")),
    }
    Ok(())
}

/// Runs due jobs every second, each round in its own task so that a panic in one is logged
/// and the next round still comes.
pub fn spawn(
    store: Store,
    mailer: std::sync::Arc<Mailer>,
    base_url: String,
    network: crate::net::NetworkPolicy,
    config: std::sync::Arc<crate::config::Config>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        if let Err(e) = ensure_recurring(&store).await {
            tracing::error!(error = %e, "setting up the recurring jobs failed");
        }
        // Two lanes: long checks and pushes cannot hold back mail and publication.
        let lanes = [JobLane::Quick, JobLane::Slow].map(|lane| {
            let (store, mailer, base_url, network, config) = (
                store.clone(),
                mailer.clone(),
                base_url.clone(),
                network.clone(),
                config.clone(),
            );
            async move {
                let mut tick = tokio::time::interval(StdDuration::from_secs(1));
                loop {
                    tick.tick().await;
                    let (s, m, b, n, c) = (
                        store.clone(),
                        mailer.clone(),
                        base_url.clone(),
                        network.clone(),
                        config.clone(),
                    );
                    let round = tokio::spawn(async move {
                        run_lane(
                            Context {
                                store: &s,
                                mailer: Some(&m),
                                base_url: &b,
                                network: &n,
                                config: Some(&c),
                            },
                            lane,
                        )
                        .await
                    });
                    if let Err(e) = round.await {
                        tracing::error!(error = %e, ?lane, "a round of jobs failed");
                    }
                }
            }
        });
        let [quick, slow] = lanes;
        tokio::join!(quick, slow);
    })
}
