//! The database half of `embargo backup` and `embargo restore`: a consistent copy of a live
//! database, and putting one back into an empty database.
//!
//! - SQLite: `VACUUM INTO` a new file. It reads in one transaction, so the copy is the
//!   database at one moment while the server goes on writing (WAL), and it is compact.
//! - PostgreSQL: `pg_dump --format=custom`, restored with `pg_restore --single-transaction`.
//!   pg_dump takes its whole dump in one snapshot (a REPEATABLE READ transaction), and it
//!   knows every object (sequences, indexes, constraints) without a hand-written list that a
//!   later migration would have to keep up to date. It must be on PATH, of the server's
//!   major version or newer. The password never goes on its command line (where `ps` shows
//!   it): it is passed in `PGPASSWORD`.

use std::path::{Path, PathBuf};

use sqlx::{Connection, Executor};

use crate::db::{self, Backend};
use crate::{Result, StoreError};

/// What a snapshot holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    pub backend: Backend,
    /// The last migration applied to the copied database.
    pub schema_version: i64,
}

/// The newest schema version this build knows for `backend`.
pub fn latest_schema_version(backend: Backend) -> i64 {
    db::latest_version(backend)
}

/// The backend of a database URL.
pub fn backend_of(url: &str) -> Result<Backend> {
    if url.starts_with("sqlite:") {
        Ok(Backend::Sqlite)
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Ok(Backend::Postgres)
    } else {
        Err(StoreError::Invalid(embargo_domain::FieldError::new(
            "database.url",
            "must start with sqlite:// or postgres://",
        )))
    }
}

/// The file of a SQLite URL (`sqlite://PATH?params` or `sqlite:PATH`).
pub fn sqlite_file(url: &str) -> Option<PathBuf> {
    let rest = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))?;
    let path = rest.split('?').next().unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

fn io(what: &str, path: &Path, e: &std::io::Error) -> StoreError {
    StoreError::Internal(format!("{what} {}: {e}", path.display()))
}

async fn schema_version(pool: &sqlx::AnyPool) -> Result<i64> {
    let v: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
        .fetch_one(pool)
        .await
        .map_err(|e| {
            StoreError::Conflict(format!(
                "this is not an Embargo database (no schema version: {e})"
            ))
        })?;
    v.ok_or_else(|| StoreError::Conflict("this Embargo database has no migration applied".into()))
}

/// Copies the database at `url` (which a server may be using) to the new file `dest`, and
/// checks the copy.
pub async fn snapshot(url: &str, dest: &Path) -> Result<Snapshot> {
    match backend_of(url)? {
        Backend::Sqlite => snapshot_sqlite(url, dest).await,
        Backend::Postgres => snapshot_postgres(url, dest).await,
    }
}

async fn snapshot_sqlite(url: &str, dest: &Path) -> Result<Snapshot> {
    let file = sqlite_file(url)
        .ok_or_else(|| StoreError::Conflict(format!("{url} names no database file")))?;
    if !file.is_file() {
        return Err(StoreError::Conflict(format!(
            "there is no database at {}: nothing to back up",
            file.display()
        )));
    }
    let (pool, _) = db::connect(url).await?;
    let dest_text = dest
        .to_str()
        .ok_or_else(|| StoreError::Internal(format!("{} is not UTF-8", dest.display())))?;
    // A literal, not a parameter: SQLite takes the file name as a string.
    let statement = format!("VACUUM INTO '{}'", dest_text.replace('\'', "''"));
    let copied = pool.execute(sqlx::AssertSqlSafe(statement)).await;
    pool.close().await;
    copied?;
    // The copy's own version and integrity, on one connection of its own (a pool's second
    // connection would keep it from leaving WAL mode).
    let mut copy = sqlx::AnyConnection::connect(&format!("sqlite://{dest_text}")).await?;
    let checked = async {
        let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&mut copy)
            .await?;
        if integrity != "ok" {
            return Err(StoreError::Internal(format!(
                "the copy of the database fails its integrity check: {integrity}"
            )));
        }
        // One file, no WAL beside it.
        copy.execute("PRAGMA journal_mode = DELETE").await?;
        let v: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
            .fetch_one(&mut copy)
            .await?;
        v.ok_or_else(|| StoreError::Conflict("the database has no migration applied".into()))
    }
    .await;
    let _ = copy.close().await;
    Ok(Snapshot {
        backend: Backend::Sqlite,
        schema_version: checked?,
    })
}

/// The URL without its password, and the password (for `PGPASSWORD`).
fn split_password(url: &str) -> Result<(String, Option<String>)> {
    let mut parsed = url::Url::parse(url).map_err(|e| {
        StoreError::Invalid(embargo_domain::FieldError::new(
            "database.url",
            format!("not a URL: {e}"),
        ))
    })?;
    let password = parsed.password().map(|p| {
        percent_encoding::percent_decode_str(p)
            .decode_utf8_lossy()
            .into_owned()
    });
    if password.is_some() {
        let _ = parsed.set_password(None);
    }
    Ok((parsed.to_string(), password))
}

/// Runs a PostgreSQL client tool against `url`; its error output becomes the error.
async fn pg_tool(tool: &str, url: &str, args: &[&std::ffi::OsStr]) -> Result<()> {
    let (url, password) = split_password(url)?;
    let mut cmd = tokio::process::Command::new(tool);
    cmd.args(args)
        .arg(format!("--dbname={url}"))
        .stdin(std::process::Stdio::null())
        .kill_on_drop(true);
    if let Some(p) = password {
        cmd.env("PGPASSWORD", p);
    }
    let out = cmd.output().await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            StoreError::Conflict(format!(
                "{tool} is not on PATH: install PostgreSQL's client tools (Debian: postgresql-client), of the server's major version or newer"
            ))
        } else {
            StoreError::Internal(format!("cannot run {tool}: {e}"))
        }
    })?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        let first = stderr
            .lines()
            .filter(|l| !l.trim().is_empty())
            .take(5)
            .collect::<Vec<_>>()
            .join("; ");
        return Err(StoreError::Internal(format!("{tool} failed: {first}")));
    }
    Ok(())
}

async fn snapshot_postgres(url: &str, dest: &Path) -> Result<Snapshot> {
    let (pool, _) = db::connect(url).await?;
    let before = schema_version(&pool).await;
    let dumped = match before {
        Ok(_) => {
            pg_tool(
                "pg_dump",
                url,
                &[
                    "--format=custom".as_ref(),
                    "--no-owner".as_ref(),
                    "--no-privileges".as_ref(),
                    "--file".as_ref(),
                    dest.as_os_str(),
                ],
            )
            .await
        }
        Err(_) => Ok(()),
    };
    let after = schema_version(&pool).await;
    pool.close().await;
    let before = before?;
    dumped?;
    if after? != before {
        return Err(StoreError::Conflict(
            "the database was migrated while it was copied (a newer embargo started): back up again".into(),
        ));
    }
    Ok(Snapshot {
        backend: Backend::Postgres,
        schema_version: before,
    })
}

/// Whether the database at `url` holds nothing yet: no SQLite file, or a PostgreSQL
/// database without tables. Never creates anything.
pub async fn is_empty(url: &str) -> Result<bool> {
    match backend_of(url)? {
        Backend::Sqlite => {
            let file = sqlite_file(url)
                .ok_or_else(|| StoreError::Conflict(format!("{url} names no database file")))?;
            let mut wal = file.clone().into_os_string();
            wal.push("-wal");
            Ok(!file.exists() && !Path::new(&wal).exists())
        }
        Backend::Postgres => {
            let (pool, _) = db::connect(url).await?;
            let tables: std::result::Result<i64, sqlx::Error> = sqlx::query_scalar(
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema NOT IN ('pg_catalog', 'information_schema')",
            )
            .fetch_one(&pool)
            .await;
            pool.close().await;
            Ok(tables? == 0)
        }
    }
}

/// Puts the snapshot `src` (made by [`snapshot`] for the same backend) into the empty
/// database at `url`.
pub async fn restore(url: &str, src: &Path) -> Result<()> {
    if !is_empty(url).await? {
        return Err(StoreError::Conflict(
            "the database is not empty: restore only into a new, empty database".into(),
        ));
    }
    match backend_of(url)? {
        Backend::Sqlite => {
            let file = sqlite_file(url)
                .ok_or_else(|| StoreError::Conflict(format!("{url} names no database file")))?;
            let dir = file.parent().unwrap_or(Path::new("."));
            std::fs::create_dir_all(dir).map_err(|e| io("creating", dir, &e))?;
            let mut tmp = file.clone().into_os_string();
            tmp.push(".restoring");
            let tmp = PathBuf::from(tmp);
            std::fs::copy(src, &tmp).map_err(|e| io("writing", &tmp, &e))?;
            std::fs::File::open(&tmp)
                .and_then(|f| f.sync_all())
                .map_err(|e| io("writing", &tmp, &e))?;
            // Never over a database that appeared meanwhile.
            std::fs::hard_link(&tmp, &file)
                .map_err(|e| io("putting the database at", &file, &e))?;
            let _ = std::fs::remove_file(&tmp);
            Ok(())
        }
        Backend::Postgres => {
            pg_tool(
                "pg_restore",
                url,
                &[
                    "--no-owner".as_ref(),
                    "--no-privileges".as_ref(),
                    "--single-transaction".as_ref(),
                    "--exit-on-error".as_ref(),
                    src.as_os_str(),
                ],
            )
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sqlite_file_of_urls() {
        let f = |u: &str| super::sqlite_file(u).map(|p| p.display().to_string());
        assert_eq!(f("sqlite:///d/e.db?mode=rwc").as_deref(), Some("/d/e.db"));
        assert_eq!(f("sqlite:rel.db").as_deref(), Some("rel.db"));
        assert_eq!(f("sqlite::memory:"), None);
        assert_eq!(f("postgres://x/y"), None);
    }

    #[test]
    fn the_password_leaves_the_url() {
        let (url, pw) = super::split_password("postgres://u:p%40ss@h:5/db?sslmode=require")
            .map_err(|e| e.to_string())
            .unwrap_or_default();
        assert_eq!(url, "postgres://u@h:5/db?sslmode=require");
        assert_eq!(pw.as_deref(), Some("p@ss"));
    }
}
