//! Prepares an Embargo data folder for `scripts/bench`: an administrator with an API token,
//! an organisation `bench` with a repository `main`, and N OSV records written as files for
//! `embargo import` (the script times the import itself).
//!
//! `bench-seed DATA_DIR N OSV_DIR [REPORTERS [DATABASE_URL]]` prints one JSON line: the token,
//! a package name and ecosystem that some records affect, and the file (in DATA_DIR) holding
//! one API token a line for REPORTERS reporters (default 200), who file into the organisation
//! `intake` (repository `main`) under load. Without DATABASE_URL the database is SQLite in
//! DATA_DIR.

use std::sync::Arc;

use embargo_domain::access::Actor;
use embargo_domain::types::{Email, Slug};
use embargo_store::{KeySource, Store, SystemClock};
use serde_json::json;

const ECOSYSTEMS: &[&str] = &["PyPI", "npm", "crates.io", "Go", "RubyGems"];

type Error = Box<dyn std::error::Error>;

/// The OSV record number `i` of `n`: packages repeat, so each name has about two records.
fn record(i: usize, n: usize) -> serde_json::Value {
    let eco = ECOSYSTEMS
        .get(i % ECOSYSTEMS.len())
        .copied()
        .unwrap_or("PyPI");
    let name = format!("bench-package-{}", i % (n / 2).max(1));
    json!({
        "schema_version": "1.6.0",
        "id": format!("BENCH-{i:06}"),
        "modified": "2026-01-02T03:04:05Z",
        "published": "2026-01-01T00:00:00Z",
        "summary": format!("Overflow in {name} when parsing long input ({i})"),
        "details": format!("A long input to {name} overflows a buffer. Upgrade to the fixed version. Record {i} of the benchmark."),
        "aliases": [format!("CVE-2026-{:05}", 10000 + i)],
        "affected": [{
            "package": {"ecosystem": eco, "name": name},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": format!("1.{}.0", i % 10)}]}]
        }],
        "references": [{"type": "WEB", "url": format!("https://example.org/advisories/{i}")}]
    })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let mut args = std::env::args().skip(1);
    let usage = "usage: bench-seed DATA_DIR N OSV_DIR [REPORTERS [DATABASE_URL]]";
    let dir = std::path::PathBuf::from(args.next().ok_or(usage)?);
    let n: usize = args.next().ok_or(usage)?.parse()?;
    let osv = std::path::PathBuf::from(args.next().ok_or(usage)?);
    let reporters: usize = match args.next() {
        Some(r) => r.parse()?,
        None => 200,
    };
    if reporters > 10_000 {
        return Err("at most 10000 reporters".into());
    }
    let url = args
        .next()
        .unwrap_or_else(|| format!("sqlite://{}", dir.join("embargo.db").display()));
    std::fs::create_dir_all(&dir)?;
    std::fs::create_dir_all(&osv)?;
    for i in 0..n {
        std::fs::write(
            osv.join(format!("BENCH-{i:06}.json")),
            record(i, n).to_string(),
        )?;
    }
    let store = Store::open(
        &url,
        Arc::new(SystemClock),
        KeySource::File(dir.join("embargo.key")),
    )
    .await?;
    let admin = store
        .create_user(
            &Email::parse("bench@example.org")?,
            Some("Bench"),
            None,
            true,
        )
        .await?;
    let token = store.create_api_token(admin.id, "bench").await?;
    let actor = Actor::User {
        id: admin.id,
        admin: true,
    };
    let (org, repo) = (Slug::parse("bench")?, Slug::parse("main")?);
    store.create_org(actor, &org, "Bench").await?;
    store.create_repo(actor, &org, &repo, "main").await?;
    let intake = Slug::parse("intake")?;
    store.create_org(actor, &intake, "Intake").await?;
    store.create_repo(actor, &intake, &repo, "main").await?;
    let mut tokens = String::new();
    for i in 0..reporters {
        let user = store
            .create_user(
                &Email::parse(&format!("reporter{i}@example.org"))?,
                Some(&format!("Reporter {i}")),
                None,
                false,
            )
            .await?;
        tokens.push_str(&store.create_api_token(user.id, "bench").await?);
        tokens.push('\n');
    }
    let reporters_file = dir.join("reporters.txt");
    std::fs::write(&reporters_file, tokens)?;
    store.close().await;
    println!(
        "{}",
        json!({"token": token, "package": "bench-package-0", "ecosystem": "PyPI",
               "reporters": reporters_file.display().to_string()})
    );
    Ok(())
}
