//! `embargo import`: published advisories of other databases into an organisation's
//! repository, each record all or nothing (records read at the same time share commits).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use embargo_domain::advisory::ImportFacts;
use embargo_domain::types::Slug;
use embargo_formats::import::{MAX_BYTES, parse};
use embargo_store::{ImportOutcome, Repo, Store};
use futures_util::StreamExt;
use indicatif::{ProgressBar, ProgressStyle};

use crate::{Common, open};

/// Files to read: the ones named, and inside named folders every `.json`, `.yaml`, `.yml`
/// and `.md` file (sorted, so runs are repeatable).
fn collect(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for p in paths {
        if p.is_dir() {
            let mut stack = vec![p.clone()];
            while let Some(dir) = stack.pop() {
                let mut entries: Vec<PathBuf> = std::fs::read_dir(&dir)
                    .with_context(|| format!("reading the folder {}", dir.display()))?
                    .filter_map(|e| e.ok().map(|e| e.path()))
                    .collect();
                entries.sort();
                for e in entries {
                    let hidden = e
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with('.'));
                    if hidden {
                        continue;
                    }
                    if e.is_dir() {
                        stack.push(e);
                    } else if e.extension().is_some_and(|x| {
                        ["json", "yaml", "yml", "md"].contains(&x.to_string_lossy().as_ref())
                    }) {
                        out.push(e);
                    }
                }
            }
        } else {
            out.push(p.clone());
        }
    }
    Ok(out)
}

/// Records read and stored at the same time: the store commits what arrives together in one
/// transaction (a savepoint each), so more in flight means fewer, larger commits. Files are at
/// most [`MAX_BYTES`] each, so at most 64 × 4 MiB are held at once.
const IN_FLIGHT: usize = 64;

fn read(path: &Path) -> Result<Vec<u8>, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if meta.len() > MAX_BYTES as u64 {
        return Err(format!(
            "is {} bytes; the limit is {MAX_BYTES} bytes (4 MiB)",
            meta.len()
        ));
    }
    std::fs::read(path).map_err(|e| e.to_string())
}

/// What became of one file: its name, and the record's source id, outcome and warnings, or
/// why it was not imported.
type FileOutcome = (String, Result<(String, ImportOutcome, Vec<String>), String>);

async fn import_one(store: Store, place: Repo, path: PathBuf) -> FileOutcome {
    let name = path.display().to_string();
    let imported = match read(&path).and_then(|b| parse(&b).map_err(|e| e.message)) {
        Ok(imported) => imported,
        Err(e) => return (name, Err(e)),
    };
    let facts = ImportFacts {
        source_id: imported.source_id.clone(),
        published_at: imported.published.unwrap_or(imported.modified),
        modified_at: imported.modified,
        withdrawn_at: imported.withdrawn,
    };
    let outcome = store
        .import_into(&place, imported.content, facts)
        .await
        .map(|o| (imported.source_id, o, imported.warnings))
        .map_err(|e| e.to_string());
    (name, outcome)
}

pub async fn run(
    common: &Common,
    org: &str,
    repo: &str,
    json: bool,
    paths: &[PathBuf],
) -> Result<()> {
    let org = Slug::parse(org).map_err(|e| anyhow::anyhow!("--org: {}", e.message))?;
    let repo = Slug::parse(repo).map_err(|e| anyhow::anyhow!("--repo: {}", e.message))?;
    let files = collect(paths)?;
    let (_, store) = open(common, None).await?;
    // Fail early, before reading anything, when the place does not exist.
    let place = store
        .repo(&org, &repo)
        .await
        .with_context(|| format!("{org}/{repo}"))?;
    let bar = ProgressBar::new(files.len() as u64);
    bar.set_style(
        ProgressStyle::with_template("{bar:40} {pos}/{len} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let (mut created, mut existing, mut failed) = (0_usize, 0_usize, 0_usize);
    // Several records in flight share commits (group commit in the store); the results are
    // taken in file order, so the output is the same as one at a time.
    // Each record is a task of its own, so reading, parsing and sealing run on every core
    // while the store's writer commits.
    let mut outcomes = futures_util::stream::iter(files.iter().cloned())
        .map(|path| tokio::spawn(import_one(store.clone(), place.clone(), path)))
        .buffered(IN_FLIGHT);
    while let Some(joined) = outcomes.next().await {
        let (name, outcome) = joined.context("an import task failed")?;
        bar.set_message(name.clone());
        let outcome = outcome.map(|(source_id, o, warnings)| {
            for w in &warnings {
                bar.suspend(|| eprintln!("{name}: warning: {w}"));
            }
            (source_id, o)
        });
        bar.inc(1);
        match outcome {
            Ok((source_id, o)) => {
                let id = o.id().to_string();
                let line = if json {
                    serde_json::json!({"source_id": source_id, "id": id}).to_string()
                } else {
                    match &o {
                        ImportOutcome::Created(_) => {
                            format!("{name}: {source_id} imported as {id}")
                        }
                        ImportOutcome::Exists(_) => {
                            format!("{name}: {source_id} was imported before, as {id}; unchanged")
                        }
                    }
                };
                match o {
                    ImportOutcome::Created(_) => created += 1,
                    ImportOutcome::Exists(_) => existing += 1,
                }
                bar.suspend(|| println!("{line}"));
            }
            Err(e) => {
                failed += 1;
                bar.suspend(|| eprintln!("{name}: not imported: {e}"));
            }
        }
    }
    bar.finish_and_clear();
    store.close().await;
    if !json {
        eprintln!("{created} imported, {existing} imported before, {failed} not imported");
    }
    if failed > 0 {
        bail!("{failed} of {} files could not be imported", files.len());
    }
    Ok(())
}
