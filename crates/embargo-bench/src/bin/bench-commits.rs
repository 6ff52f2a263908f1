//! The raw commit rate of SQLite on this disk, the yardstick of the filing figure in
//! `scripts/bench`: one connection commits single-row inserts, each its own transaction, into
//! a new SQLite file in WAL mode with `synchronous = FULL` (what Embargo runs with).
//!
//! `bench-commits FILE SECONDS` prints the commits per second.

use std::str::FromStr;
use std::time::{Duration, Instant};

use sqlx::ConnectOptions;
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};

type Error = Box<dyn std::error::Error>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: bench-commits FILE SECONDS";
    let file = args.next().ok_or(usage)?;
    let seconds: f64 = args.next().ok_or(usage)?.parse()?;
    if !(0.1..=600.0).contains(&seconds) {
        return Err("SECONDS must be between 0.1 and 600".into());
    }
    let mut conn = SqliteConnectOptions::from_str(&format!("sqlite://{file}"))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .connect()
        .await?;
    sqlx::query("CREATE TABLE IF NOT EXISTS t (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
        .execute(&mut conn)
        .await?;
    let body = "x".repeat(200);
    let limit = Duration::from_secs_f64(seconds);
    let start = Instant::now();
    let mut commits = 0u64;
    while start.elapsed() < limit {
        let mut tx = conn.begin().await?;
        sqlx::query("INSERT INTO t (body) VALUES ($1)")
            .bind(&body)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        commits += 1;
    }
    let rate = commits as f64 / start.elapsed().as_secs_f64();
    conn.close().await?;
    println!("{rate:.0}");
    Ok(())
}
