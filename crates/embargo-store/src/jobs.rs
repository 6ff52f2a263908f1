//! Durable jobs: the one mechanism for background work.
//!
//! A job has a kind, a payload, a due time, attempts and its last error. Claiming one takes
//! a lease in one statement (PostgreSQL skips rows another instance holds with
//! `FOR UPDATE SKIP LOCKED`; SQLite has a single writer), so a job runs on one instance at a
//! time; one whose instance died is taken again when its lease runs out. A failed job is
//! retried with growing pauses. Recurring jobs move to their next due time when they finish;
//! one that fell due while every instance was down runs at the next start.

use serde::Serialize;
use sqlx::Row;
use time::{Duration, OffsetDateTime};

use crate::clock::{from_ms, to_ms};
use crate::{Result, Store};

/// How long a claimed job is held before another instance may take it again, unless the
/// runner renews it (it does, every third of it, while the job runs): an instance that dies
/// mid-job leaves it to the others, or to itself at its next start, within this time.
pub const LEASE: Duration = Duration::seconds(30);
/// The longest pause between two attempts of a failing job.
const MAX_BACKOFF: Duration = Duration::hours(1);

/// A job claimed to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: i64,
    pub kind: String,
    pub payload: serde_json::Value,
    /// Attempts so far, this one included.
    pub attempts: i64,
    pub every: Option<Duration>,
}

/// A job as the operator sees it.
#[derive(Debug, Clone, Serialize)]
pub struct JobStatus {
    pub kind: String,
    pub key: String,
    #[serde(with = "time::serde::rfc3339")]
    pub due_at: OffsetDateTime,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub done: bool,
}

/// The pause before attempt `n + 1` of a failing job: 2^n seconds, at most an hour.
/// Job kinds that may run for minutes: they have a lane of their own.
pub const SLOW_KINDS: [&str; 2] = ["fix_check", "fix_upstream_push"];

/// Which jobs a runner takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JobLane {
    /// Every kind (tests, `embargo jobs run`).
    Any,
    /// All but [`SLOW_KINDS`].
    Quick,
    /// Only [`SLOW_KINDS`].
    Slow,
}

pub fn backoff(attempts: i64) -> Duration {
    Duration::seconds(1_i64 << attempts.clamp(0, 12)).min(MAX_BACKOFF)
}

impl Store {
    /// Makes sure a recurring job of `kind` exists (due at once when new).
    pub async fn ensure_recurring_job(&self, kind: &str, every: Duration) -> Result<()> {
        let now = to_ms(self.now());
        sqlx::query(
            "INSERT INTO jobs (kind, job_key, payload, due_at, every_ms, created_at) VALUES ($1, $1, '{}', $2, $3, $2)
             ON CONFLICT (job_key) DO UPDATE SET every_ms = $3",
        )
        .bind(kind)
        .bind(now)
        .bind(i64::try_from(every.whole_milliseconds()).unwrap_or(i64::MAX))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Schedules a one-off job once per `key` (a second call with the same key does nothing).
    pub async fn schedule_job(
        &self,
        kind: &str,
        key: &str,
        payload: &serde_json::Value,
        due_at: OffsetDateTime,
    ) -> Result<()> {
        sqlx::query(
            "INSERT INTO jobs (kind, job_key, payload, due_at, created_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (job_key) DO NOTHING",
        )
        .bind(kind)
        .bind(key)
        .bind(payload.to_string())
        .bind(to_ms(due_at))
        .bind(to_ms(self.now()))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Claims the next due job, if any, with a lease.
    pub async fn claim_job(&self) -> Result<Option<Job>> {
        self.claim_job_in(JobLane::Any).await
    }

    /// Claims the next due job of a lane: long work (checks on fix repositories, pushes to
    /// upstreams) runs in a lane of its own, so it cannot hold back mail and publication.
    pub async fn claim_job_in(&self, lane: JobLane) -> Result<Option<Job>> {
        let kinds = SLOW_KINDS
            .iter()
            .map(|k| format!("'{k}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let only = match lane {
            JobLane::Any => String::new(),
            JobLane::Quick => format!(" AND kind NOT IN ({kinds})"),
            JobLane::Slow => format!(" AND kind IN ({kinds})"),
        };
        let now = to_ms(self.now());
        let skip = match self.backend {
            crate::Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            crate::Backend::Sqlite => "",
        };
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET leased_until = $1, attempts = attempts + 1
             WHERE id = (SELECT id FROM jobs WHERE done_at IS NULL AND due_at <= $2
                         AND (leased_until IS NULL OR leased_until <= $2){only}
                         ORDER BY due_at, id LIMIT 1{skip})
             AND (leased_until IS NULL OR leased_until <= $2)
             RETURNING id, kind, payload, attempts, every_ms"
        )))
        .bind(now.saturating_add(i64::try_from(LEASE.whole_milliseconds()).unwrap_or(0)))
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        let Some(r) = row else { return Ok(None) };
        let payload: String = r.try_get("payload")?;
        Ok(Some(Job {
            id: r.try_get("id")?,
            kind: r.try_get("kind")?,
            payload: serde_json::from_str(&payload).unwrap_or(serde_json::Value::Null),
            attempts: r.try_get("attempts")?,
            every: r
                .try_get::<Option<i64>, _>("every_ms")?
                .map(Duration::milliseconds),
        }))
    }

    /// Extends the lease of a job that is still running (the same claim: its attempt).
    pub async fn renew_job_lease(&self, job: &Job) -> Result<()> {
        sqlx::query(
            "UPDATE jobs SET leased_until = $1 WHERE id = $2 AND attempts = $3 AND done_at IS NULL",
        )
        .bind(to_ms(self.now() + LEASE))
        .bind(job.id)
        .bind(job.attempts)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Records a job's success: a recurring one is due again after its period.
    pub async fn job_done(&self, job: &Job) -> Result<()> {
        let now = self.now();
        match job.every {
            Some(every) => {
                sqlx::query(
                    "UPDATE jobs SET leased_until = NULL, attempts = 0, last_error = NULL, due_at = $1 WHERE id = $2",
                )
                .bind(to_ms(now + every))
                .bind(job.id)
                .execute(&self.pool)
                .await?
            }
            None => {
                sqlx::query(
                    "UPDATE jobs SET leased_until = NULL, last_error = NULL, done_at = $1 WHERE id = $2",
                )
                .bind(to_ms(now))
                .bind(job.id)
                .execute(&self.pool)
                .await?
            }
        };
        Ok(())
    }

    /// Records a failed attempt: the job is due again after a growing pause.
    pub async fn job_failed(&self, job: &Job, error: &str) -> Result<()> {
        let error: String = error.chars().take(2000).collect();
        sqlx::query(
            "UPDATE jobs SET leased_until = NULL, last_error = $1, due_at = $2 WHERE id = $3",
        )
        .bind(error)
        .bind(to_ms(self.now() + backoff(job.attempts)))
        .bind(job.id)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Every job not done, and the last hundred done, for operators.
    pub async fn jobs(&self) -> Result<Vec<JobStatus>> {
        let rows = sqlx::query(
            "SELECT kind, job_key, due_at, attempts, last_error, done_at FROM jobs
             WHERE done_at IS NULL OR id IN (SELECT id FROM jobs WHERE done_at IS NOT NULL ORDER BY done_at DESC LIMIT 100)
             ORDER BY due_at, id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(JobStatus {
                    kind: r.try_get("kind")?,
                    key: r.try_get("job_key")?,
                    due_at: from_ms(r.try_get("due_at")?),
                    attempts: r.try_get("attempts")?,
                    last_error: r.try_get("last_error")?,
                    done: r.try_get::<Option<i64>, _>("done_at")?.is_some(),
                })
            })
            .collect()
    }

    /// Records that a notice was sent; false when it had been already (so it is sent once).
    pub(crate) async fn claim_notice(
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        key: &str,
        advisory_id: &str,
        now: OffsetDateTime,
    ) -> Result<bool> {
        let done = sqlx::query(
            "INSERT INTO notices_sent (notice_key, advisory_id, sent_at) VALUES ($1, $2, $3) ON CONFLICT (notice_key) DO NOTHING",
        )
        .bind(key)
        .bind(advisory_id)
        .bind(to_ms(now))
        .execute(&mut **tx)
        .await?;
        Ok(done.rows_affected() == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stops_at_an_hour() {
        assert_eq!(backoff(1), Duration::seconds(2));
        assert_eq!(backoff(5), Duration::seconds(32));
        assert_eq!(backoff(40), MAX_BACKOFF);
        assert!(backoff(0) > Duration::ZERO);
    }
}
