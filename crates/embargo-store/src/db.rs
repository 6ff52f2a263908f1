//! Connecting and migrating: the only place where SQLite and PostgreSQL differ.

use std::str::FromStr;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, Executor};

use crate::{Result, StoreError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Migrations, append-only: a released entry is never edited.
const SQLITE: &[(i64, &str)] = &[
    (1, include_str!("../migrations/sqlite/0001_initial.sql")),
    (2, include_str!("../migrations/sqlite/0002_audit_log.sql")),
    (3, include_str!("../migrations/sqlite/0003_settings.sql")),
    (
        4,
        include_str!("../migrations/sqlite/0004_collaborators.sql"),
    ),
    (5, include_str!("../migrations/sqlite/0005_two_factor.sql")),
    (6, include_str!("../migrations/sqlite/0006_attachments.sql")),
    (7, include_str!("../migrations/sqlite/0007_codeowners.sql")),
    (
        8,
        include_str!("../migrations/sqlite/0008_internal_notes.sql"),
    ),
    (9, include_str!("../migrations/sqlite/0009_intake.sql")),
    (10, include_str!("../migrations/sqlite/0010_spam.sql")),
    (11, include_str!("../migrations/sqlite/0011_inbox.sql")),
    (12, include_str!("../migrations/sqlite/0012_imports.sql")),
    (13, include_str!("../migrations/sqlite/0013_mail.sql")),
    (14, include_str!("../migrations/sqlite/0014_disclosure.sql")),
    (
        15,
        include_str!("../migrations/sqlite/0015_sign_in_limits.sql"),
    ),
    (
        16,
        include_str!("../migrations/sqlite/0016_audit_keyed.sql"),
    ),
    (
        17,
        include_str!("../migrations/sqlite/0017_intake_limits.sql"),
    ),
    (18, include_str!("../migrations/sqlite/0018_jobs.sql")),
    (19, include_str!("../migrations/sqlite/0019_cve.sql")),
    (20, include_str!("../migrations/sqlite/0020_releases.sql")),
    (
        21,
        include_str!("../migrations/sqlite/0021_subscribers.sql"),
    ),
    (22, include_str!("../migrations/sqlite/0022_webhooks.sql")),
    (
        23,
        include_str!("../migrations/sqlite/0023_mail_preferences.sql"),
    ),
    (24, include_str!("../migrations/sqlite/0024_imap.sql")),
    (25, include_str!("../migrations/sqlite/0025_fix_repos.sql")),
    (26, include_str!("../migrations/sqlite/0026_fix_checks.sql")),
    (
        27,
        include_str!("../migrations/sqlite/0027_public_index.sql"),
    ),
    (
        28,
        include_str!("../migrations/sqlite/0028_policy_text.sql"),
    ),
    (
        29,
        include_str!("../migrations/sqlite/0029_sweep_indexes.sql"),
    ),
    (
        30,
        include_str!("../migrations/sqlite/0030_credit_consent.sql"),
    ),
    (
        31,
        include_str!("../migrations/sqlite/0031_session_list.sql"),
    ),
    (
        32,
        include_str!("../migrations/sqlite/0032_filing_limit_indexes.sql"),
    ),
];
const POSTGRES: &[(i64, &str)] = &[
    (1, include_str!("../migrations/postgres/0001_initial.sql")),
    (2, include_str!("../migrations/postgres/0002_audit_log.sql")),
    (3, include_str!("../migrations/postgres/0003_settings.sql")),
    (
        4,
        include_str!("../migrations/postgres/0004_collaborators.sql"),
    ),
    (
        5,
        include_str!("../migrations/postgres/0005_two_factor.sql"),
    ),
    (
        6,
        include_str!("../migrations/postgres/0006_attachments.sql"),
    ),
    (
        7,
        include_str!("../migrations/postgres/0007_codeowners.sql"),
    ),
    (
        8,
        include_str!("../migrations/postgres/0008_internal_notes.sql"),
    ),
    (9, include_str!("../migrations/postgres/0009_intake.sql")),
    (10, include_str!("../migrations/postgres/0010_spam.sql")),
    (11, include_str!("../migrations/postgres/0011_inbox.sql")),
    (12, include_str!("../migrations/postgres/0012_imports.sql")),
    (13, include_str!("../migrations/postgres/0013_mail.sql")),
    (
        14,
        include_str!("../migrations/postgres/0014_disclosure.sql"),
    ),
    (
        15,
        include_str!("../migrations/postgres/0015_sign_in_limits.sql"),
    ),
    (
        16,
        include_str!("../migrations/postgres/0016_audit_keyed.sql"),
    ),
    (
        17,
        include_str!("../migrations/postgres/0017_intake_limits.sql"),
    ),
    (18, include_str!("../migrations/postgres/0018_jobs.sql")),
    (19, include_str!("../migrations/postgres/0019_cve.sql")),
    (20, include_str!("../migrations/postgres/0020_releases.sql")),
    (
        21,
        include_str!("../migrations/postgres/0021_subscribers.sql"),
    ),
    (22, include_str!("../migrations/postgres/0022_webhooks.sql")),
    (
        23,
        include_str!("../migrations/postgres/0023_mail_preferences.sql"),
    ),
    (24, include_str!("../migrations/postgres/0024_imap.sql")),
    (
        25,
        include_str!("../migrations/postgres/0025_fix_repos.sql"),
    ),
    (
        26,
        include_str!("../migrations/postgres/0026_fix_checks.sql"),
    ),
    (
        27,
        include_str!("../migrations/postgres/0027_public_index.sql"),
    ),
    (
        28,
        include_str!("../migrations/postgres/0028_policy_text.sql"),
    ),
    (
        29,
        include_str!("../migrations/postgres/0029_sweep_indexes.sql"),
    ),
    (
        30,
        include_str!("../migrations/postgres/0030_credit_consent.sql"),
    ),
    (
        31,
        include_str!("../migrations/postgres/0031_session_list.sql"),
    ),
    (
        32,
        include_str!("../migrations/postgres/0032_filing_limit_indexes.sql"),
    ),
];

/// The newest schema version this build migrates to.
pub(crate) fn latest_version(backend: Backend) -> i64 {
    let list = match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    };
    list.last().map_or(0, |(v, _)| *v)
}

/// Any key for PostgreSQL's advisory lock that serialises migrations across instances.
const MIGRATION_LOCK: i64 = 0x0065_6d62_6172_676f;

pub async fn connect(url: &str) -> Result<(AnyPool, Backend)> {
    sqlx::any::install_default_drivers();
    let backend = if url.starts_with("sqlite:") {
        Backend::Sqlite
    } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        Backend::Postgres
    } else {
        return Err(StoreError::Invalid(embargo_domain::FieldError::new(
            "database.url",
            "must start with sqlite:// or postgres://",
        )));
    };
    let (url, synchronous) = match backend {
        Backend::Sqlite => sqlite_synchronous(url)?,
        Backend::Postgres => (url.to_owned(), FULL),
    };
    let url = match backend {
        Backend::Sqlite if !url.contains('?') => format!("{url}?mode=rwc"),
        _ => url,
    };
    let options = AnyConnectOptions::from_str(&url)?;
    let pool = AnyPoolOptions::new()
        .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
        .acquire_timeout(Duration::from_secs(10))
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if backend == Backend::Sqlite {
                    // WAL lets readers (and the CLI beside a running server) work while one writes.
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    // FULL (the default) syncs every commit to disk before it returns.
                    conn.execute(synchronous).await?;
                    conn.execute("PRAGMA foreign_keys = ON").await?;
                    conn.execute("PRAGMA busy_timeout = 10000").await?;
                }
                Ok(())
            })
        })
        .connect_with(options)
        .await?;
    Ok((pool, backend))
}

const FULL: &str = "PRAGMA synchronous = FULL";

/// The SQLite URL without its `synchronous=` parameter (Embargo's, not sqlx's), and the
/// pragma of that setting: `full` (the default), `normal` or `extra`.
fn sqlite_synchronous(url: &str) -> Result<(String, &'static str)> {
    let Some((path, query)) = url.split_once('?') else {
        return Ok((url.to_owned(), FULL));
    };
    let mut synchronous = FULL;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("synchronous", v)) => {
                synchronous = match v.to_ascii_lowercase().as_str() {
                    "full" => FULL,
                    "normal" => "PRAGMA synchronous = NORMAL",
                    "extra" => "PRAGMA synchronous = EXTRA",
                    _ => {
                        return Err(StoreError::Invalid(embargo_domain::FieldError::new(
                            "database.synchronous",
                            format!("'{v}' is not full, normal or extra"),
                        )));
                    }
                }
            }
            _ => rest.push(pair),
        }
    }
    Ok(if rest.is_empty() {
        (path.to_owned(), synchronous)
    } else {
        (format!("{path}?{}", rest.join("&")), synchronous)
    })
}

pub async fn migrate(pool: &AnyPool, backend: Backend) -> Result<()> {
    let mut conn = pool.acquire().await?;
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *conn)
            .await?;
    }
    let result = run_migrations(&mut conn, backend).await;
    if backend == Backend::Postgres {
        sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(MIGRATION_LOCK)
            .execute(&mut *conn)
            .await?;
    }
    result
}

async fn run_migrations(conn: &mut sqlx::AnyConnection, backend: Backend) -> Result<()> {
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )
    .await?;
    let applied: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM schema_migrations")
        .fetch_one(&mut *conn)
        .await?;
    let applied = applied.unwrap_or(0);
    let list = match backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
    };
    if let Some((latest, _)) = list.last()
        && applied > *latest
    {
        {
            return Err(StoreError::Internal(format!(
                "the database is at schema version {applied}, newer than this embargo ({latest}); upgrade embargo"
            )));
        }
    }
    for (version, sql) in list.iter().filter(|(v, _)| *v > applied) {
        // SQLite rebuilds a table with foreign keys off (they cannot change inside a
        // transaction), and checks them all before committing.
        let rebuild = backend == Backend::Sqlite && sql.starts_with("-- REBUILDS TABLES");
        if rebuild {
            conn.execute("PRAGMA foreign_keys = OFF").await?;
        }
        let mut tx = sqlx::Connection::begin(&mut *conn).await?;
        tx.execute(*sql).await?;
        if rebuild {
            let broken: Vec<String> =
                sqlx::query_scalar("SELECT \"table\" FROM pragma_foreign_key_check")
                    .fetch_all(&mut *tx)
                    .await?;
            if !broken.is_empty() {
                return Err(StoreError::Internal(format!(
                    "migration {version} would break foreign keys in {}",
                    broken.join(", ")
                )));
            }
        }
        sqlx::query("INSERT INTO schema_migrations (version, applied_at) VALUES ($1, $2)")
            .bind(*version)
            .bind(crate::clock::to_ms(time::OffsetDateTime::now_utc()))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        if rebuild {
            conn.execute("PRAGMA foreign_keys = ON").await?;
        }
        tracing::info!(version, "applied database migration");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn synchronous_is_full_unless_chosen() {
        let s = |u: &str| super::sqlite_synchronous(u).map_err(|e| e.to_string());
        assert_eq!(
            s("sqlite:///d/e.db"),
            Ok(("sqlite:///d/e.db".into(), super::FULL))
        );
        assert_eq!(
            s("sqlite:///d/e.db?synchronous=normal"),
            Ok(("sqlite:///d/e.db".into(), "PRAGMA synchronous = NORMAL"))
        );
        assert_eq!(
            s("sqlite:///d/e.db?mode=rwc&synchronous=EXTRA"),
            Ok((
                "sqlite:///d/e.db?mode=rwc".into(),
                "PRAGMA synchronous = EXTRA"
            ))
        );
        assert!(
            s("sqlite:///d/e.db?synchronous=off")
                .is_err_and(|e| e.contains("database.synchronous"))
        );
    }

    /// Migrations run in list order and the last one is the schema version: the list must
    /// be strictly increasing, or a database would skip one or refuse to open.
    #[test]
    fn migrations_are_in_order() {
        for list in [super::SQLITE, super::POSTGRES] {
            let versions: Vec<i64> = list.iter().map(|(v, _)| *v).collect();
            let expected: Vec<i64> = (1..=i64::try_from(versions.len()).unwrap_or(0)).collect();
            assert_eq!(versions, expected);
        }
        assert_eq!(super::SQLITE.len(), super::POSTGRES.len());
    }
}
