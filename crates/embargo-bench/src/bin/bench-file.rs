//! The filing load of `scripts/bench`: many reporters file reports into one organisation at
//! once through the API, then the database is asked how many it holds (none may be lost).
//!
//! `bench-file BASE_URL ADMIN_TOKEN REPORTERS_FILE SECONDS DATABASE_URL`
//!
//! Raises the organisation `intake`'s `reports_per_hour` (`PATCH /api/v1/orgs/intake`), then
//! runs one client per token in REPORTERS_FILE (each its own connection, from its own loopback
//! address, so the per-address limit counts each reporter apart), each filing reports one after
//! another for SECONDS. Prints one JSON line: the 201 answers, other answers and errors, the
//! rate of 201s, and the reports the database holds for `intake`.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use serde_json::json;

type Error = Box<dyn std::error::Error + Send + Sync>;

#[derive(Default)]
struct Tally {
    created: u64,
    other: u64,
    errors: u64,
    first_problem: Option<String>,
}

async fn reporter(n: usize, base: String, token: String, until: Instant) -> Result<Tally, Error> {
    // 127.0.0.0/8 all reach the loopback: each reporter has its own address.
    let octets = u32::try_from(n).unwrap_or(0);
    let local = Ipv4Addr::new(127, 1, (octets / 250) as u8, (octets % 250 + 1) as u8);
    let client = reqwest::Client::builder()
        .local_address(IpAddr::V4(local))
        .pool_max_idle_per_host(1)
        .timeout(Duration::from_secs(60))
        .build()?;
    let url = format!("{base}/api/v1/orgs/intake/repos/main/advisories");
    let mut tally = Tally::default();
    let mut i = 0u64;
    while Instant::now() < until {
        i += 1;
        let body = json!({
            "title": format!("Load report {i} of reporter {n}"),
            "description": "Steps to reproduce: send a long header; the parser overflows.",
        });
        match client
            .post(&url)
            .bearer_auth(&token)
            .json(&body)
            .send()
            .await
        {
            Ok(r) if r.status() == reqwest::StatusCode::CREATED => {
                let _ = r.bytes().await;
                tally.created += 1;
            }
            Ok(r) => {
                let status = r.status();
                let text = r.text().await.unwrap_or_default();
                tally.other += 1;
                tally.first_problem.get_or_insert_with(|| {
                    format!("{status}: {}", text.chars().take(200).collect::<String>())
                });
            }
            Err(e) => {
                tally.errors += 1;
                tally.first_problem.get_or_insert_with(|| e.to_string());
            }
        }
    }
    Ok(tally)
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: bench-file BASE_URL ADMIN_TOKEN REPORTERS_FILE SECONDS DATABASE_URL";
    let base = args.next().ok_or(usage)?;
    let admin = args.next().ok_or(usage)?;
    let tokens: Vec<String> = std::fs::read_to_string(args.next().ok_or(usage)?)?
        .lines()
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let seconds: f64 = args.next().ok_or(usage)?.parse()?;
    let database = args.next().ok_or(usage)?;
    if !(0.1..=600.0).contains(&seconds) {
        return Err("SECONDS must be between 0.1 and 600".into());
    }
    if tokens.is_empty() || tokens.len() > 10_000 {
        return Err("REPORTERS_FILE must hold 1 to 10000 tokens".into());
    }
    let r = reqwest::Client::new()
        .patch(format!("{base}/api/v1/orgs/intake"))
        .bearer_auth(&admin)
        .json(&json!({"reports_per_hour": 10000}))
        .send()
        .await?;
    if !r.status().is_success() {
        return Err(format!("raising reports_per_hour: {}", r.status()).into());
    }
    sqlx::any::install_default_drivers();
    let pool = sqlx::any::AnyPoolOptions::new()
        .max_connections(1)
        .connect(&database)
        .await?;
    let count = "SELECT COUNT(*) FROM advisories WHERE org_id = (SELECT id FROM orgs WHERE slug = 'intake')";
    let before: i64 = sqlx::query_scalar(count).fetch_one(&pool).await?;

    let start = Instant::now();
    let until = start + Duration::from_secs_f64(seconds);
    let mut set = tokio::task::JoinSet::new();
    for (n, token) in tokens.into_iter().enumerate() {
        set.spawn(reporter(n, base.clone(), token, until));
    }
    let mut total = Tally::default();
    while let Some(t) = set.join_next().await {
        let t = t??;
        total.created += t.created;
        total.other += t.other;
        total.errors += t.errors;
        if total.first_problem.is_none() {
            total.first_problem = t.first_problem;
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    let after: i64 = sqlx::query_scalar(count).fetch_one(&pool).await?;
    pool.close().await;
    println!(
        "{}",
        json!({
            "created": total.created,
            "other": total.other,
            "errors": total.errors,
            "first_problem": total.first_problem,
            "seconds": elapsed,
            "rate": total.created as f64 / elapsed,
            "stored": after - before,
        })
    );
    Ok(())
}
