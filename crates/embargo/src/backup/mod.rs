//! `embargo backup` and `embargo restore`: one archive (tar, gzipped) of an installation,
//! made while the server runs, and brought back into a data folder with no database yet.
//!
//! The archive holds `manifest.json` first (format, versions, backend, schema version, time,
//! and the size and SHA-256 of every other entry), then:
//! - `database/embargo.db` (SQLite, `VACUUM INTO`) or `database/embargo.pgdump` (pg_dump's
//!   custom format), see `embargo_store::backup`;
//! - `audit/audit.head`, the access log's head file (beside the key file), copied *before*
//!   the database so that it names an entry the copy holds;
//! - `files/...`, everything else in the data folder (outbox, ...), except the database's
//!   own files, `fix/`, temporary `*.tmp` files and the `*.key` files;
//! - `fix/NAME.git.bundle`, each fix repository as a `git bundle --all`, made after the
//!   database (a repository the copy records exists in the archive); each bundle is one
//!   consistent read of that repository's refs;
//! - `key/NAME` and `files/**.key`, the key files, only with `--with-key`.
//!
//! Attachments, report texts and comments are rows of the database (sealed with the key),
//! so they travel with it.

use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail, ensure};
use embargo_store::Backend;
use embargo_store::backup as db;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{Common, settings};

mod restore;
pub use restore::restore;

/// The archive format this build writes and reads.
const FORMAT: u32 = 1;
const MANIFEST: &str = "manifest.json";
/// A manifest larger than this is not one of ours.
const MAX_MANIFEST_BYTES: u64 = 64 * 1024 * 1024;
/// An archive with more entries than this is not one of ours.
const MAX_ENTRIES: usize = 1_000_000;
const HEAD_FILE: &str = "audit.head";

#[derive(Serialize, Deserialize)]
struct Manifest {
    format: u32,
    embargo_version: String,
    /// `sqlite` or `postgres`.
    backend: String,
    /// The database's last migration.
    schema_version: i64,
    #[serde(with = "time::serde::rfc3339")]
    created_at: time::OffsetDateTime,
    /// Whether the key files are inside (then the archive opens every sealed value).
    with_key: bool,
    /// Every entry but the manifest.
    contents: Vec<Item>,
    fix_repositories: Vec<FixRepository>,
}

#[derive(Serialize, Deserialize, Clone)]
struct Item {
    path: String,
    bytes: u64,
    sha256: String,
}

#[derive(Serialize, Deserialize)]
struct FixRepository {
    /// The folder's name under `fix/`, such as `EMB-2026-0001.git`.
    name: String,
    /// What HEAD points at, such as `refs/heads/main`.
    head: String,
    /// The bundle in the archive; none for a repository without refs.
    bundle: Option<String>,
}

fn backend_name(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    }
}

fn database_entry(b: Backend) -> &'static str {
    match b {
        Backend::Sqlite => "database/embargo.db",
        Backend::Postgres => "database/embargo.pgdump",
    }
}

/// A fix repository's folder name: `ID.git`, nothing that could climb out of `fix/`.
fn valid_repo_name(name: &str) -> bool {
    name.strip_suffix(".git").is_some_and(|id| {
        !id.is_empty()
            && !id.starts_with('.')
            && id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    })
}

/// `git` with no user or system settings, on repositories whoever owns them.
fn git(home: &Path) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new("git");
    cmd.env_clear()
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into()),
        )
        .env("HOME", home)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env("LC_ALL", "C")
        .args(["-c", "safe.directory=*"])
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    cmd
}

async fn run_git(mut cmd: tokio::process::Command, what: &str) -> Result<String> {
    let out = cmd
        .output()
        .await
        .with_context(|| format!("{what}: cannot run git"))?;
    if !out.status.success() {
        bail!(
            "{what}: git failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn sha256_file(path: &Path) -> Result<(u64, String)> {
    let mut f = std::fs::File::open(path).with_context(|| format!("reading {}", path.display()))?;
    let mut hasher = Sha256::new();
    let n = std::io::copy(&mut f, &mut hasher)
        .with_context(|| format!("reading {}", path.display()))?;
    Ok((n, embargo_store::secrets::hex(&hasher.finalize())))
}

/// A file only its owner may read (archives and restored files hold sealed data, maybe keys).
fn create_private(path: &Path) -> Result<std::fs::File> {
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .with_context(|| format!("creating {}", path.display()))
}

fn copy_private(from: &Path, to: &Path) -> Result<()> {
    if let Some(dir) = to.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let mut src =
        std::fs::File::open(from).with_context(|| format!("reading {}", from.display()))?;
    let mut dst = create_private(to)?;
    std::io::copy(&mut src, &mut dst).with_context(|| format!("copying {}", from.display()))?;
    dst.sync_all()?;
    Ok(())
}

/// The folder a path's file goes in (`.` for a bare name).
fn parent_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Files of the data folder to copy, as (path in the archive, file), and what is left out.
struct Walk {
    files: Vec<(String, PathBuf)>,
    skipped: Vec<String>,
}

fn walk_data(data: &Path, leave_out: &[PathBuf], with_key: bool) -> Result<Walk> {
    let mut walk = Walk {
        files: Vec::new(),
        skipped: Vec::new(),
    };
    // Walked as its real path, so that files named by other paths (keys.file) are known.
    let data = &std::fs::canonicalize(data)
        .with_context(|| format!("reading the folder {}", data.display()))?;
    let mut stack = vec![data.to_owned()];
    while let Some(dir) = stack.pop() {
        let mut entries: Vec<std::fs::DirEntry> = std::fs::read_dir(&dir)
            .with_context(|| format!("reading the folder {}", dir.display()))?
            .collect::<std::io::Result<_>>()
            .with_context(|| format!("reading the folder {}", dir.display()))?;
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for e in entries {
            let path = e.path();
            if leave_out.contains(&path) {
                continue;
            }
            let Ok(rel) = path.strip_prefix(data) else {
                continue;
            };
            let Some(rel_text) = rel.to_str() else {
                walk.skipped
                    .push(format!("{} (name not UTF-8)", path.display()));
                continue;
            };
            let kind = e.file_type()?;
            let name = e.file_name();
            let name = name.to_string_lossy();
            if kind.is_dir() {
                // Fix repositories go as bundles; the rest of fix/ is the server's scratch.
                if rel == Path::new("fix") {
                    continue;
                }
                stack.push(path);
            } else if kind.is_file() {
                if name.ends_with(".tmp") {
                    continue;
                }
                if name.ends_with(".key") && !with_key {
                    continue;
                }
                walk.files.push((format!("files/{rel_text}"), path));
            } else {
                walk.skipped
                    .push(format!("{} (not a regular file)", path.display()));
            }
        }
    }
    Ok(walk)
}

/// `embargo backup [--data DIR] [--with-key] FILE`.
pub async fn backup(common: &Common, file: &Path, with_key: bool) -> Result<()> {
    let config = settings(common, None)?;
    if file.exists() {
        bail!(
            "{} exists already; backup never overwrites a file: name a new one",
            file.display()
        );
    }
    let data = &config.data_dir;
    ensure!(
        data.is_dir(),
        "there is no data folder at {} (set --data or EMBARGO_DATA)",
        data.display()
    );
    let url = config.database_url();
    let backend = db::backend_of(&url)?;
    let key_file = config.key_file();
    let head_file = key_file.with_file_name(HEAD_FILE);
    let out_dir = parent_of(file);
    let stage = tempfile::Builder::new()
        .prefix(".embargo-backup-")
        .tempdir_in(&out_dir)
        .with_context(|| format!("creating a scratch folder in {}", out_dir.display()))?;
    let staged = |entry: &str| stage.path().join(entry);
    let mut entries: Vec<String> = Vec::new();

    // The head file first: it must name an entry the database copy holds.
    if head_file.is_file() {
        let entry = format!("audit/{HEAD_FILE}");
        copy_private(&head_file, &staged(&entry))?;
        entries.push(entry);
    }

    let db_entry = database_entry(backend);
    std::fs::create_dir_all(staged("database"))?;
    let snap = db::snapshot(&url, &staged(db_entry))
        .await
        .context("copying the database")?;
    entries.push(db_entry.to_owned());

    let mut leave_out = vec![
        key_file.clone(),
        head_file.clone(),
        stage.path().to_owned(),
        file.to_owned(),
    ];
    if let Some(db_file) = db::sqlite_file(&url) {
        for suffix in ["", "-wal", "-shm", "-journal"] {
            let mut p = db_file.clone().into_os_string();
            p.push(suffix);
            leave_out.push(PathBuf::from(p));
        }
    }
    // Compare as the walk sees them: under the data folder as given.
    let leave_out: Vec<PathBuf> = leave_out
        .into_iter()
        .flat_map(|p| {
            let canon = std::fs::canonicalize(&p).ok();
            [Some(p), canon].into_iter().flatten()
        })
        .collect();
    let walk = walk_data(data, &leave_out, with_key)?;
    for (entry, path) in &walk.files {
        copy_private(path, &staged(entry))?;
        entries.push(entry.clone());
    }
    for s in &walk.skipped {
        eprintln!("warning: left out {s}");
    }

    let fix_repositories = bundle_fix_repositories(data, stage.path(), &mut entries).await?;

    if with_key {
        ensure!(
            key_file.is_file(),
            "--with-key: there is no key file at {}",
            key_file.display()
        );
        let name = key_file
            .file_name()
            .and_then(|n| n.to_str())
            .context("the key file's name is not UTF-8")?;
        let entry = format!("key/{name}");
        copy_private(&key_file, &staged(&entry))?;
        entries.push(entry);
    }

    let mut contents = Vec::with_capacity(entries.len());
    for entry in &entries {
        let (bytes, sha256) = sha256_file(&staged(entry))?;
        contents.push(Item {
            path: entry.clone(),
            bytes,
            sha256,
        });
    }
    let manifest = Manifest {
        format: FORMAT,
        embargo_version: env!("CARGO_PKG_VERSION").to_owned(),
        backend: backend_name(backend).to_owned(),
        schema_version: snap.schema_version,
        created_at: time::OffsetDateTime::now_utc(),
        with_key,
        contents,
        fix_repositories,
    };
    let archive = write_archive(&out_dir, stage.path(), &manifest)?;
    archive.persist_noclobber(file).map_err(|e| {
        anyhow::anyhow!(
            "putting the archive at {}: {} (backup never overwrites a file)",
            file.display(),
            e.error
        )
    })?;
    if let Ok(d) = std::fs::File::open(&out_dir) {
        let _ = d.sync_all();
    }
    println!(
        "backup written to {}: the {} database (schema version {}), {} other file(s), {} fix repositor{}",
        file.display(),
        manifest.backend,
        manifest.schema_version,
        walk.files.len(),
        manifest.fix_repositories.len(),
        if manifest.fix_repositories.len() == 1 {
            "y"
        } else {
            "ies"
        }
    );
    if with_key {
        eprintln!(
            "warning: this archive holds the key file: whoever has it can read every unpublished report, comment and attachment in it. Keep it as safe as the key itself."
        );
    } else {
        println!(
            "the key file ({}) is not in it: keep a copy of the key apart from this archive; a restore needs both",
            key_file.display()
        );
    }
    Ok(())
}

/// Bundles every `fix/*.git` repository into the scratch folder.
async fn bundle_fix_repositories(
    data: &Path,
    stage: &Path,
    entries: &mut Vec<String>,
) -> Result<Vec<FixRepository>> {
    let root = data.join("fix");
    let mut out = Vec::new();
    if !root.is_dir() {
        return Ok(out);
    }
    let home = stage.join(".git-home");
    std::fs::create_dir_all(&home)?;
    std::fs::create_dir_all(stage.join("fix"))?;
    let mut names: Vec<String> = std::fs::read_dir(&root)
        .with_context(|| format!("reading {}", root.display()))?
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|n| valid_repo_name(n))
        .collect();
    names.sort();
    for name in names {
        let repo = root.join(&name);
        if !repo.join("HEAD").is_file() {
            continue;
        }
        let what = format!("fix repository {name}");
        let mut cmd = git(&home);
        cmd.arg("--git-dir")
            .arg(&repo)
            .args(["symbolic-ref", "HEAD"]);
        let head = run_git(cmd, &what).await?.trim().to_owned();
        let mut cmd = git(&home);
        cmd.arg("--git-dir")
            .arg(&repo)
            .args(["for-each-ref", "--count=1", "--format=%(refname)"]);
        let has_refs = !run_git(cmd, &what).await?.trim().is_empty();
        let bundle = if has_refs {
            let entry = format!("fix/{name}.bundle");
            let mut cmd = git(&home);
            cmd.arg("--git-dir")
                .arg(&repo)
                .args(["bundle", "create", "--quiet"])
                .arg(stage.join(&entry))
                .arg("--all");
            run_git(cmd, &what).await?;
            entries.push(entry.clone());
            Some(entry)
        } else {
            None
        };
        out.push(FixRepository { name, head, bundle });
    }
    Ok(out)
}

/// The manifest, then every staged entry, into a new private temporary file in `dir`.
fn write_archive(dir: &Path, stage: &Path, manifest: &Manifest) -> Result<tempfile::NamedTempFile> {
    let tmp = tempfile::Builder::new()
        .prefix(".embargo-backup-")
        .suffix(".partial")
        .tempfile_in(dir)
        .with_context(|| format!("creating a file in {}", dir.display()))?;
    let gz = flate2::write::GzEncoder::new(tmp.as_file(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    let text = serde_json::to_vec_pretty(manifest)?;
    let mut header = tar::Header::new_gnu();
    header.set_size(u64::try_from(text.len())?);
    header.set_mode(0o600);
    header.set_mtime(u64::try_from(manifest.created_at.unix_timestamp()).unwrap_or_default());
    header.set_entry_type(tar::EntryType::Regular);
    header.set_cksum();
    tar.append_data(&mut header, MANIFEST, text.as_slice())?;
    for item in &manifest.contents {
        let mut f = std::fs::File::open(stage.join(&item.path))?;
        tar.append_file(&item.path, &mut f)
            .with_context(|| format!("writing {} into the archive", item.path))?;
    }
    tar.into_inner()?.finish()?;
    tmp.as_file().sync_all()?;
    Ok(tmp)
}
