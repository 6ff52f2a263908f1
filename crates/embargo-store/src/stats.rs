//! Figures for operators (`/metrics`): queues and the connection pool. Counts only: nothing
//! about any advisory.

use sqlx::Row;

use crate::clock::to_ms;
use crate::{Result, Store};

/// The state of the queues and the pool, read at once.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OperationalStats {
    /// Jobs not done, by kind: (kind, waiting, of which have failed at least once).
    pub jobs: Vec<(String, i64, i64)>,
    /// Jobs whose time has come and that nobody holds.
    pub jobs_due: i64,
    /// Messages not sent yet, and of those the ones that failed at least once.
    pub mail_waiting: i64,
    pub mail_failing: i64,
    /// Webhook deliveries waiting (pending), and given up.
    pub webhooks_waiting: i64,
    pub webhooks_given_up: i64,
    /// Connections open in this instance's pool, and of those idle.
    pub pool_size: u32,
    pub pool_idle: usize,
}

impl Store {
    pub async fn operational_stats(&self) -> Result<OperationalStats> {
        let now = to_ms(self.now());
        let rows = sqlx::query(
            "SELECT kind, COUNT(*) AS waiting, SUM(CASE WHEN attempts > 0 THEN 1 ELSE 0 END) AS failing
             FROM jobs WHERE done_at IS NULL GROUP BY kind ORDER BY kind",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut jobs = Vec::with_capacity(rows.len());
        for r in &rows {
            jobs.push((
                r.try_get::<String, _>("kind")?,
                r.try_get::<i64, _>("waiting")?,
                r.try_get::<Option<i64>, _>("failing")?.unwrap_or(0),
            ));
        }
        let jobs_due: i64 = sqlx::query(
            "SELECT COUNT(*) AS n FROM jobs WHERE done_at IS NULL AND due_at <= $1
             AND (leased_until IS NULL OR leased_until < $1)",
        )
        .bind(now)
        .fetch_one(&self.pool)
        .await?
        .try_get("n")?;
        let mail = sqlx::query(
            "SELECT COUNT(*) AS waiting, SUM(CASE WHEN attempts > 0 THEN 1 ELSE 0 END) AS failing
             FROM mail_queue WHERE sent_at IS NULL",
        )
        .fetch_one(&self.pool)
        .await?;
        let hooks = sqlx::query(
            "SELECT SUM(CASE WHEN state = 'pending' THEN 1 ELSE 0 END) AS waiting,
                    SUM(CASE WHEN state = 'failed' THEN 1 ELSE 0 END) AS given_up
             FROM webhook_deliveries",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(OperationalStats {
            jobs,
            jobs_due,
            mail_waiting: mail.try_get("waiting")?,
            mail_failing: mail.try_get::<Option<i64>, _>("failing")?.unwrap_or(0),
            webhooks_waiting: hooks.try_get::<Option<i64>, _>("waiting")?.unwrap_or(0),
            webhooks_given_up: hooks.try_get::<Option<i64>, _>("given_up")?.unwrap_or(0),
            pool_size: self.pool.size(),
            pool_idle: self.pool.num_idle(),
        })
    }
}
