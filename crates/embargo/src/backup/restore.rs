//! `embargo restore`: the archive unpacked beside the data folder and checked against its
//! manifest before anything is written, then put in place.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use embargo_store::backup as db;
use sha2::{Digest, Sha256};

use super::{
    FORMAT, FixRepository, HEAD_FILE, MANIFEST, MAX_ENTRIES, MAX_MANIFEST_BYTES, Manifest,
    backend_name, copy_private, create_private, database_entry, git, parent_of, run_git,
    sha256_file, valid_repo_name,
};
use crate::{Common, create_data_dir, open_store, settings};

/// An entry's path in the archive, checked: relative, plain names, UTF-8.
fn entry_path(path: &Path) -> Result<String> {
    let ok = path.components().all(|c| matches!(c, Component::Normal(_)))
        && path.components().next().is_some();
    let text = path.to_str().filter(|_| ok).with_context(|| {
        format!(
            "the archive holds an entry {} outside its own folders: not an Embargo backup",
            path.display()
        )
    })?;
    Ok(text.to_owned())
}

/// Writes what it is given to a file and hashes it.
struct Hashing<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(buf.get(..n).unwrap_or_default());
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// Unpacks `file` into `stage`, checking every entry against the manifest.
fn unpack_and_verify(file: &Path, stage: &Path) -> Result<Manifest> {
    let f = std::fs::File::open(file).with_context(|| format!("reading {}", file.display()))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(f));
    let mut found: BTreeMap<String, (u64, String)> = BTreeMap::new();
    let mut manifest: Option<Manifest> = None;
    let not_ours = || format!("{} is not an Embargo backup", file.display());
    for (n, entry) in archive.entries().with_context(not_ours)?.enumerate() {
        ensure!(
            n < MAX_ENTRIES,
            "{} has more than {MAX_ENTRIES} entries: not an Embargo backup",
            file.display()
        );
        let mut entry = entry.with_context(not_ours)?;
        let kind = entry.header().entry_type();
        if kind.is_dir() {
            continue;
        }
        let path = entry_path(&entry.path().with_context(not_ours)?)?;
        ensure!(
            kind.is_file(),
            "the archive's entry {path} is not a regular file: not an Embargo backup"
        );
        if path == MANIFEST {
            ensure!(
                entry.size() <= MAX_MANIFEST_BYTES,
                "the archive's manifest is larger than {MAX_MANIFEST_BYTES} bytes: not an Embargo backup"
            );
            let mut text = Vec::new();
            entry.read_to_end(&mut text).with_context(not_ours)?;
            manifest = Some(
                serde_json::from_slice(&text)
                    .with_context(|| format!("{}: its manifest cannot be read", file.display()))?,
            );
            continue;
        }
        ensure!(
            !found.contains_key(&path),
            "the archive holds {path} twice: not an Embargo backup"
        );
        let target = stage.join(&path);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut out = Hashing {
            inner: create_private(&target)?,
            hasher: Sha256::new(),
        };
        let bytes = std::io::copy(&mut entry, &mut out)
            .with_context(|| format!("{}: reading {path}", file.display()))?;
        out.inner.sync_all()?;
        found.insert(
            path,
            (bytes, embargo_store::secrets::hex(&out.hasher.finalize())),
        );
    }
    let manifest = manifest.with_context(|| {
        format!(
            "{} holds no manifest: not an Embargo backup",
            file.display()
        )
    })?;
    ensure!(
        manifest.format == FORMAT,
        "{} is in backup format {}, this embargo reads format {FORMAT}",
        file.display(),
        manifest.format
    );
    for item in &manifest.contents {
        let (bytes, sha) = found.remove(&item.path).with_context(|| {
            format!(
                "{}: the manifest lists {}, which the archive lacks (a cut or damaged archive)",
                file.display(),
                item.path
            )
        })?;
        ensure!(
            bytes == item.bytes && sha == item.sha256,
            "{}: {} does not match its checksum in the manifest (a damaged or altered archive)",
            file.display(),
            item.path
        );
    }
    if let Some(extra) = found.keys().next() {
        bail!(
            "{}: it holds {extra}, which its manifest does not list (an altered archive)",
            file.display()
        );
    }
    Ok(manifest)
}

/// Where each archive entry goes; refuses names that are not ours.
fn destination(
    entry: &str,
    data: &Path,
    key_file: &Path,
    head_file: &Path,
    db_entry: &str,
) -> Result<Option<PathBuf>> {
    if entry == db_entry {
        return Ok(None);
    }
    if let Some(rel) = entry.strip_prefix("files/") {
        return Ok(Some(data.join(rel)));
    }
    if entry == format!("audit/{HEAD_FILE}") {
        return Ok(Some(head_file.to_owned()));
    }
    if entry.strip_prefix("key/").is_some_and(|n| !n.contains('/')) {
        return Ok(Some(key_file.to_owned()));
    }
    if entry
        .strip_prefix("fix/")
        .and_then(|n| n.strip_suffix(".bundle"))
        .is_some_and(valid_repo_name)
    {
        return Ok(None);
    }
    bail!("the archive holds {entry}, which is no part of an Embargo backup")
}

/// `embargo restore [--data DIR] FILE`: into a data folder (and database) with no database.
pub async fn restore(common: &Common, file: &Path) -> Result<()> {
    let config = settings(common, None)?;
    let url = config.database_url();
    let backend = db::backend_of(&url)?;
    let data = config.data_dir.clone();
    let key_file = config.key_file();
    let head_file = key_file.with_file_name(HEAD_FILE);
    let where_db = match db::sqlite_file(&url) {
        Some(f) => f.display().to_string(),
        None => "the configured PostgreSQL database".to_owned(),
    };
    ensure!(file.is_file(), "there is no backup at {}", file.display());
    if !db::is_empty(&url)
        .await
        .with_context(|| format!("looking at {where_db}"))?
    {
        bail!(
            "{where_db} already holds a database: restore only into a data folder with no database yet (a new --data folder, or a new, empty PostgreSQL database); nothing was changed"
        );
    }

    // Everything is unpacked and checked beside the data folder before anything is written.
    let data_parent = parent_of(&data);
    std::fs::create_dir_all(&data_parent)
        .with_context(|| format!("creating {}", data_parent.display()))?;
    let stage = tempfile::Builder::new()
        .prefix(".embargo-restore-")
        .tempdir_in(&data_parent)
        .with_context(|| format!("creating a scratch folder in {}", data_parent.display()))?;
    let manifest = unpack_and_verify(file, stage.path())?;
    ensure!(
        manifest.backend == backend_name(backend),
        "{} holds a {} database, and this installation is configured for {}: restore it into a {} installation",
        file.display(),
        manifest.backend,
        backend_name(backend),
        manifest.backend
    );
    let latest = db::latest_schema_version(backend);
    ensure!(
        manifest.schema_version <= latest,
        "{} was made by a newer embargo (schema version {}, this one knows up to {latest}, embargo {}): restore it with embargo {} or later",
        file.display(),
        manifest.schema_version,
        manifest.embargo_version,
        manifest.embargo_version
    );
    let db_entry = database_entry(backend);
    ensure!(
        manifest.contents.iter().any(|i| i.path == db_entry),
        "{} holds no database",
        file.display()
    );
    let mut moves: Vec<(PathBuf, PathBuf)> = Vec::new();
    for item in &manifest.contents {
        if let Some(to) = destination(&item.path, &data, &key_file, &head_file, db_entry)? {
            // The key file put in place by hand before the restore, the same as the archive's.
            let same_key = to == key_file
                && to.is_file()
                && sha256_file(&to).is_ok_and(|(_, sha)| sha == item.sha256);
            if !same_key {
                moves.push((stage.path().join(&item.path), to));
            }
        }
    }
    let mut repos: Vec<(&FixRepository, PathBuf)> = Vec::new();
    for r in &manifest.fix_repositories {
        ensure!(
            valid_repo_name(&r.name) && r.head.starts_with("refs/"),
            "the archive's fix repository {} is not one Embargo makes",
            r.name
        );
        if let Some(b) = &r.bundle {
            ensure!(
                manifest.contents.iter().any(|i| i.path == *b),
                "the manifest's fix repository {} names a bundle it does not list",
                r.name
            );
        }
        repos.push((r, data.join("fix").join(&r.name)));
    }
    let mut seen = std::collections::HashSet::new();
    for to in moves
        .iter()
        .map(|(_, to)| to)
        .chain(repos.iter().map(|(_, to)| to))
    {
        ensure!(
            !to.exists(),
            "{} exists already: restore only into a data folder with no database yet; nothing was changed",
            to.display()
        );
        ensure!(
            seen.insert(to),
            "the archive puts two entries at {}: not an Embargo backup",
            to.display()
        );
    }

    // Checked: now write.
    create_data_dir(&data)?;
    db::restore(&url, &stage.path().join(db_entry))
        .await
        .context("restoring the database")?;
    for (from, to) in &moves {
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        if std::fs::rename(from, to).is_err() {
            copy_private(from, to)?;
        }
    }
    let home = stage.path().join(".git-home");
    std::fs::create_dir_all(&home)?;
    for (r, to) in &repos {
        let what = format!("fix repository {}", r.name);
        let work = stage.path().join("fix-work").join(&r.name);
        let mut cmd = git(&home);
        cmd.args(["init", "--bare", "--quiet"]).arg(&work);
        run_git(cmd, &what).await?;
        if let Some(b) = &r.bundle {
            let mut cmd = git(&home);
            cmd.arg("--git-dir")
                .arg(&work)
                .args(["fetch", "--quiet", "--no-write-fetch-head"])
                .arg(stage.path().join(b))
                .arg("+refs/*:refs/*");
            run_git(cmd, &what).await?;
        }
        let mut cmd = git(&home);
        cmd.arg("--git-dir")
            .arg(&work)
            .args(["symbolic-ref", "HEAD", &r.head]);
        run_git(cmd, &what).await?;
        std::fs::create_dir_all(data.join("fix"))?;
        std::fs::rename(&work, to).with_context(|| format!("putting {what} in place"))?;
    }
    println!(
        "restored {} into {} (schema version {}, from embargo {} at {}): {} file(s), {} fix repositor{}",
        file.display(),
        data.display(),
        manifest.schema_version,
        manifest.embargo_version,
        manifest
            .created_at
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default(),
        moves.len(),
        repos.len(),
        if repos.len() == 1 { "y" } else { "ies" }
    );
    if !key_file.exists() {
        println!(
            "the key file is not in the backup: put the installation's key file at {} (or set keys.file to where it is) before starting embargo serve; without it nothing sealed can be read",
            key_file.display()
        );
        return Ok(());
    }
    // With the key: migrate to this build's schema and check the access log.
    let store = open_store(&config).await?;
    let check = store.verify_audit().await;
    store.close().await;
    match check? {
        embargo_store::AuditCheck::Intact { entries, .. } => {
            println!("the key opens the database; the access log's {entries} entries verify");
        }
        embargo_store::AuditCheck::Unanchored {
            entries, reason, ..
        } => println!(
            "the key opens the database; the access log's {entries} entries verify, its end not: {reason}"
        ),
        embargo_store::AuditCheck::Broken { seq, reason } => {
            bail!("restored, but the access log is broken at entry {seq}: {reason}")
        }
    }
    Ok(())
}
