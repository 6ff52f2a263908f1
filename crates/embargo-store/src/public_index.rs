//! The public read model: what the public documents are made of, kept up to date in the
//! transaction of every change that makes an advisory public or changes its public content
//! (publication, public edits, withdrawal, disclosure, import).
//!
//! - `public_packages`: (ecosystem, folded package name) and (commit) → advisory, for the OSV
//!   query, so that a query loads only its candidate advisories. Folding is coarser than
//!   `embargo_formats::purl::same_package` (lower case, PEP 503 separators, for every
//!   ecosystem): the index finds a superset, and the caller's exact match decides.
//! - `public_entries`: one row per published or withdrawn advisory, with when its public
//!   content last changed and its CSAF directory paths: feeds and the CSAF directory read it
//!   without opening every advisory.
//! - `public_state.revision`: a counter bumped by every public change, in the same
//!   transaction. Servers cache public documents by it; it is in the database, so several
//!   instances on one PostgreSQL see each other's changes.
//!
//! Nothing here decides access: readers load candidates through the index and then ask the
//! one access rule (as the anonymous actor) on each advisory's stored state, so an index row
//! that outlived its advisory's publicity can never leak it.

use std::collections::BTreeSet;

use embargo_domain::access::{Action, Decision, Relations, decide};
use embargo_domain::advisory::{Advisory, State};
use embargo_domain::affected::{RangeEvent, RangeKind};
use embargo_domain::types::Slug;
use sqlx::{AssertSqlSafe, Row};
use time::OffsetDateTime;

use crate::clock::{from_ms, to_ms};
use crate::{Result, Store, StoreError};

/// The version of what this module derives from an advisory. A start with another version
/// in `public_state.indexed` (0 after migration 27) rebuilds the index from the advisories.
const INDEX_VERSION: i64 = 1;

/// Keys bound in one statement (well under SQLite's limit on parameters).
const CHUNK: usize = 500;

/// A package name as the index keys it: lower case, runs of `-`, `_`, `.` as one `-`
/// (PEP 503), whatever the ecosystem. Names `same_package` calls the same fold to one key.
pub fn fold_name(name: &str) -> String {
    embargo_formats::purl::pep503(name)
}

/// An ecosystem as the index keys it: without its release (`Debian:12` → `Debian`).
pub fn fold_ecosystem(ecosystem: &str) -> &str {
    ecosystem
        .split_once(':')
        .map_or(ecosystem, |(base, _)| base)
        .trim()
}

fn looks_like_commit(s: &str) -> bool {
    (7..=64).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

/// The index rows of an advisory: `(kind, ecosystem, key)`.
fn keys_of(a: &Advisory) -> BTreeSet<(&'static str, String, String)> {
    let mut keys = BTreeSet::new();
    for v in &a.content.vulnerabilities {
        keys.insert((
            "package",
            fold_ecosystem(v.package.ecosystem.as_str()).to_owned(),
            fold_name(v.package.name.as_str()),
        ));
        // A commit query names a commit of a GIT range, or one listed among the versions.
        let (ranges, versions) = v.effective_ranges();
        let git = ranges.iter().any(|r| r.kind == RangeKind::Git);
        for r in ranges.iter().filter(|r| r.kind == RangeKind::Git) {
            for e in &r.events {
                if let RangeEvent::Introduced(c) | RangeEvent::LastAffected(c) = e {
                    keys.insert(("commit", String::new(), c.to_lowercase()));
                }
            }
        }
        for x in versions.iter().filter(|x| git || looks_like_commit(x)) {
            keys.insert(("commit", String::new(), x.to_lowercase()));
        }
    }
    keys
}

/// Whether `before` and `after` show the public the same thing: they differ at most in
/// what every change moves (the event counter and the time of the last change).
fn same_in_public(before: &Advisory, after: &Advisory) -> bool {
    let mut b = before.clone();
    b.updated_at = after.updated_at;
    b.revision = after.revision;
    b == *after
}

/// Called in the transaction of every change of an advisory's read model (`before` is
/// `None` for a new advisory): when the change is public, rewrites the advisory's index
/// rows and bumps the public revision. A change no one outside its audience can see
/// writes nothing here.
pub(crate) async fn after_change(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    before: Option<&Advisory>,
    after: &Advisory,
    org_id: i64,
) -> Result<()> {
    let was_public = before.is_some_and(|b| b.state.is_public());
    if !was_public && !after.state.is_public() {
        return Ok(());
    }
    if before.is_some_and(|b| same_in_public(b, after)) {
        return Ok(());
    }
    index_one(tx, after, org_id, before.is_some()).await?;
    // In a shared transaction (group commit) the writer bumps once, before its commit.
    if DEFERRED_BUMP.try_with(|wanted| wanted.set(true)).is_ok() {
        return Ok(());
    }
    bump(tx).await
}

tokio::task_local! {
    /// Set by the shared writer ([`crate::group_tx`]) around each write: whether it made a
    /// public change, so that the writer bumps `public_state.revision` once for the whole
    /// transaction instead of once per write.
    static DEFERRED_BUMP: std::cell::Cell<bool>;
}

tokio::task_local! {
    /// Set by the shared writer ([`crate::group_tx`]): the index rows of advisories new in
    /// its transaction, written with one statement per table before the commit
    /// ([`flush_deferred`]) instead of two or more per advisory.
    static DEFERRED_ROWS: std::cell::RefCell<Deferred>;
}

/// An advisory's row of `public_entries`: id, organisation, state, modified, CSAF and VEX
/// paths.
type EntryRow = (
    String,
    i64,
    &'static str,
    i64,
    Option<String>,
    Option<String>,
);

/// A row of `public_packages`: advisory, kind, ecosystem, name key, withdrawn.
type PackageRow = (String, &'static str, String, String, i64);

/// Index rows waiting for the shared transaction's end.
#[derive(Clone, Default)]
pub(crate) struct Deferred {
    entries: Vec<EntryRow>,
    packages: Vec<PackageRow>,
}

impl Deferred {
    fn append(&mut self, more: &Self) {
        self.entries.extend_from_slice(&more.entries);
        self.packages.extend_from_slice(&more.packages);
    }
}

/// Runs the shared writer's `work` (its batches) with index rows deferred.
pub(crate) async fn deferring_rows<F: std::future::Future>(work: F) -> F::Output {
    DEFERRED_ROWS
        .scope(std::cell::RefCell::default(), work)
        .await
}

/// The deferred rows now, to put back with [`restore_deferred`] when what added rows after
/// this is rolled back.
pub(crate) fn snapshot_deferred() -> Option<Deferred> {
    DEFERRED_ROWS.try_with(|d| d.borrow().clone()).ok()
}

pub(crate) fn restore_deferred(saved: Option<Deferred>) {
    if let Some(saved) = saved {
        let _ = DEFERRED_ROWS.try_with(|d| *d.borrow_mut() = saved);
    }
}

/// Writes the deferred index rows; the shared writer calls it just before it commits.
pub(crate) async fn flush_deferred(tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> Result<()> {
    match DEFERRED_ROWS.try_with(|d| std::mem::take(&mut *d.borrow_mut())) {
        Ok(rows) => write_rows(tx, &rows).await,
        Err(_) => Ok(()),
    }
}

/// Index rows, a few hundred to a statement.
async fn write_rows(tx: &mut sqlx::Transaction<'_, sqlx::Any>, rows: &Deferred) -> Result<()> {
    for chunk in rows.entries.chunks(CHUNK / 6) {
        let sql = format!(
            "INSERT INTO public_entries (advisory_id, org_id, state, modified_at, csaf_path, vex_path) VALUES {}",
            row_placeholders(chunk.len(), 6)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (id, org, state, modified, csaf, vex) in chunk {
            q = q
                .bind(id.clone())
                .bind(*org)
                .bind(*state)
                .bind(*modified)
                .bind(csaf.clone())
                .bind(vex.clone());
        }
        q.execute(&mut **tx).await?;
    }
    for chunk in rows.packages.chunks(CHUNK / 5) {
        let sql = format!(
            "INSERT INTO public_packages (advisory_id, kind, ecosystem, name_key, withdrawn) VALUES {} ON CONFLICT DO NOTHING",
            row_placeholders(chunk.len(), 5)
        );
        let mut q = sqlx::query(AssertSqlSafe(sql));
        for (id, kind, eco, key, withdrawn) in chunk {
            q = q
                .bind(id.clone())
                .bind(*kind)
                .bind(eco.clone())
                .bind(key.clone())
                .bind(*withdrawn);
        }
        q.execute(&mut **tx).await?;
    }
    Ok(())
}

/// `($1, $2, …), ($n+1, …)`: `rows` rows of `columns` parameters.
fn row_placeholders(rows: usize, columns: usize) -> String {
    (0..rows)
        .map(|r| {
            let cells: Vec<String> = (1..=columns)
                .map(|c| format!("${}", r * columns + c))
                .collect();
            format!("({})", cells.join(", "))
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Runs one write of a shared transaction, answering also whether it asked for a bump of
/// the public revision (which the caller then owes before the commit).
pub(crate) async fn deferring_bump<F: std::future::Future>(work: F) -> (F::Output, bool) {
    DEFERRED_BUMP
        .scope(std::cell::Cell::new(false), async {
            let out = work.await;
            (out, DEFERRED_BUMP.with(std::cell::Cell::get))
        })
        .await
}

/// Replaces one advisory's rows in the index. `existed`: false for an advisory inserted in
/// this transaction (an import), which has no rows yet to remove.
async fn index_one(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    a: &Advisory,
    org_id: i64,
    existed: bool,
) -> Result<()> {
    for sql in [
        "DELETE FROM public_packages WHERE advisory_id = $1",
        "DELETE FROM public_entries WHERE advisory_id = $1",
    ] {
        if !existed {
            break;
        }
        sqlx::query(sql)
            .bind(a.id.as_str())
            .execute(&mut **tx)
            .await?;
    }
    // Disclosed reports are public but not advisories: no document lists them.
    if !a.state.is_advisory() {
        return Ok(());
    }
    let withdrawn = i64::from(a.state == State::Withdrawn);
    let id = a.id.as_str();
    let rows = Deferred {
        entries: vec![(
            id.to_owned(),
            org_id,
            a.state.as_str(),
            to_ms(a.public_modified_at()),
            embargo_formats::csaf::path_in_directory(a, false),
            embargo_formats::csaf::path_in_directory(a, true),
        )],
        packages: keys_of(a)
            .into_iter()
            .map(|(kind, eco, key)| (id.to_owned(), kind, eco, key, withdrawn))
            .collect(),
    };
    // A new advisory's rows in a shared transaction wait for its end (nothing in it reads
    // them before); rows replacing others are written now, after the deletes above.
    if !existed
        && DEFERRED_ROWS
            .try_with(|d| d.borrow_mut().append(&rows))
            .is_ok()
    {
        return Ok(());
    }
    write_rows(tx, &rows).await
}

pub(crate) async fn bump(tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> Result<()> {
    sqlx::query("UPDATE public_state SET revision = revision + 1 WHERE id = 1")
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// Builds the index from the advisories when this version has not (after migration 27, or
/// when what is derived changed). Several instances starting at once take turns on the
/// `public_state` row; the first builds, the others find it built.
pub(crate) async fn build_if_needed(pool: &sqlx::AnyPool) -> Result<()> {
    let indexed: i64 = sqlx::query_scalar("SELECT indexed FROM public_state WHERE id = 1")
        .fetch_one(pool)
        .await?;
    if indexed == INDEX_VERSION {
        return Ok(());
    }
    let mut tx = pool.begin().await?;
    // Takes the row's lock (and SQLite's write lock) before looking again.
    sqlx::query("UPDATE public_state SET indexed = indexed WHERE id = 1")
        .execute(&mut *tx)
        .await?;
    let indexed: i64 = sqlx::query_scalar("SELECT indexed FROM public_state WHERE id = 1")
        .fetch_one(&mut *tx)
        .await?;
    if indexed == INDEX_VERSION {
        return Ok(());
    }
    sqlx::query("DELETE FROM public_packages")
        .execute(&mut *tx)
        .await?;
    sqlx::query("DELETE FROM public_entries")
        .execute(&mut *tx)
        .await?;
    let mut after = String::new();
    let mut count = 0usize;
    loop {
        let rows = sqlx::query(
            "SELECT id, org_id, doc FROM advisories WHERE state IN ('published', 'withdrawn') AND id > $1 ORDER BY id LIMIT 1000",
        )
        .bind(after.as_str())
        .fetch_all(&mut *tx)
        .await?;
        let Some(last) = rows.last() else { break };
        after = last.try_get("id")?;
        for r in &rows {
            let doc: String = r.try_get("doc")?;
            // Public documents are stored open; a sealed one would not parse, and is skipped.
            let Ok(a) = serde_json::from_str::<Advisory>(&doc) else {
                continue;
            };
            // Every row was removed above: nothing of this advisory's to replace.
            index_one(&mut tx, &a, r.try_get("org_id")?, false).await?;
            count += 1;
        }
    }
    sqlx::query("UPDATE public_state SET indexed = $1, revision = revision + 1 WHERE id = 1")
        .bind(INDEX_VERSION)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    tracing::info!(advisories = count, "built the index of public advisories");
    Ok(())
}

/// What an OSV query asks the index for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublicKey {
    /// A package by name, in one ecosystem or (`None`) any.
    Package {
        ecosystem: Option<String>,
        name: String,
    },
    Commit(String),
}

/// One document of the CSAF directory (`index.txt`, `changes.csv`): its path, and when the
/// advisory's public content last changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DirectoryEntry {
    pub path: String,
    pub changed: OffsetDateTime,
}

impl Store {
    /// Builds the public index when it is missing or was derived by another version of
    /// this code. Every open does it; this is the same step, for a running store.
    pub async fn ensure_public_index(&self) -> Result<()> {
        build_if_needed(&self.pool).await
    }

    /// The public revision: a number that changes with every public change (in any
    /// instance on this database), for caching public documents. Cheap.
    pub async fn public_revision(&self) -> Result<i64> {
        Ok(
            sqlx::query_scalar("SELECT revision FROM public_state WHERE id = 1")
                .fetch_one(&self.pool)
                .await?,
        )
    }

    /// The published (not withdrawn) advisories that may answer any of `keys`: a superset
    /// of the matches, for the caller's exact match. Most recently changed first.
    pub async fn osv_candidates(&self, keys: &[PublicKey]) -> Result<Vec<Advisory>> {
        let mut packages: BTreeSet<String> = BTreeSet::new();
        let mut ecosystems: BTreeSet<Option<String>> = BTreeSet::new();
        let mut commits: BTreeSet<String> = BTreeSet::new();
        for k in keys {
            match k {
                PublicKey::Package { ecosystem, name } => {
                    packages.insert(fold_name(name));
                    ecosystems.insert(ecosystem.as_deref().map(|e| fold_ecosystem(e).to_owned()));
                }
                PublicKey::Commit(c) => {
                    commits.insert(c.to_lowercase());
                }
            }
        }
        // Any ecosystem asked for without one lets every ecosystem through.
        let any_ecosystem = ecosystems.contains(&None);
        let mut ids: BTreeSet<String> = BTreeSet::new();
        for (kind, set) in [("package", &packages), ("commit", &commits)] {
            let all: Vec<&String> = set.iter().collect();
            for chunk in all.chunks(CHUNK) {
                let sql = format!(
                    "SELECT advisory_id, ecosystem FROM public_packages WHERE withdrawn = 0 AND kind = $1 AND name_key IN ({})",
                    placeholders(2, chunk.len())
                );
                let mut q = sqlx::query(AssertSqlSafe(sql)).bind(kind);
                for k in chunk {
                    q = q.bind(k.as_str());
                }
                for r in q.fetch_all(&self.pool).await? {
                    let eco: String = r.try_get("ecosystem")?;
                    if kind == "commit" || any_ecosystem || ecosystems.contains(&Some(eco)) {
                        ids.insert(r.try_get("advisory_id")?);
                    }
                }
            }
        }
        let ids: Vec<String> = ids.into_iter().collect();
        let mut out = Vec::with_capacity(ids.len());
        for chunk in ids.chunks(CHUNK) {
            let sql = format!(
                "SELECT id, state, doc FROM advisories WHERE state = 'published' AND id IN ({})",
                placeholders(1, chunk.len())
            );
            let mut q = sqlx::query(AssertSqlSafe(sql));
            for id in chunk {
                q = q.bind(id.as_str());
            }
            for r in q.fetch_all(&self.pool).await? {
                out.extend(open_public(&r)?);
            }
        }
        sort_public(&mut out);
        self.keep_public_credits(&mut out).await?;
        Ok(out)
    }

    /// The latest `limit` public advisories (published or withdrawn) of one organisation
    /// or all, most recently changed in public first: what feeds list.
    pub async fn latest_public(&self, org: Option<&Slug>, limit: i64) -> Result<Vec<Advisory>> {
        let rows = sqlx::query(
            "SELECT a.id, a.state, a.doc FROM public_entries e JOIN advisories a ON a.id = e.advisory_id JOIN orgs o ON o.id = e.org_id
             WHERE ($1 = '' OR o.slug = $1) ORDER BY e.modified_at DESC, e.advisory_id LIMIT $2",
        )
        .bind(org.map(Slug::as_str).unwrap_or_default())
        .bind(limit.clamp(1, 1000))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.extend(open_public(r)?);
        }
        sort_public(&mut out);
        self.keep_public_credits(&mut out).await?;
        Ok(out)
    }

    /// Every document of the CSAF directory, most recently changed first (for each
    /// advisory its CSAF document, then its VEX document).
    pub async fn public_directory(&self) -> Result<Vec<DirectoryEntry>> {
        let rows = sqlx::query(
            "SELECT e.csaf_path, e.vex_path, e.modified_at FROM public_entries e JOIN advisories a ON a.id = e.advisory_id
             WHERE a.state IN ('published', 'withdrawn') ORDER BY e.modified_at DESC, e.advisory_id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len() * 2);
        for r in &rows {
            let changed = from_ms(r.try_get("modified_at")?);
            for c in ["csaf_path", "vex_path"] {
                if let Some(path) = r.try_get::<Option<String>, _>(c)? {
                    out.push(DirectoryEntry { path, changed });
                }
            }
        }
        Ok(out)
    }

    /// When the public content of any advisory last changed; `None` when none is public.
    pub async fn public_last_modified(&self) -> Result<Option<OffsetDateTime>> {
        let last: Option<i64> = sqlx::query_scalar(
            "SELECT MAX(e.modified_at) FROM public_entries e JOIN advisories a ON a.id = e.advisory_id WHERE a.state IN ('published', 'withdrawn')",
        )
        .fetch_one(&self.pool)
        .await?;
        Ok(last.map(from_ms))
    }
}

/// `$first, $first+1, ...`, `n` of them.
fn placeholders(first: usize, n: usize) -> String {
    (first..first + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The advisory of a row (`id`, `state`, `doc`) when the anonymous actor may read it and it
/// is a public advisory: the index only pre-selects, the one rule decides.
fn open_public(r: &sqlx::any::AnyRow) -> Result<Option<Advisory>> {
    let state: String = r.try_get("state")?;
    let Ok(state) = State::parse(&state) else {
        return Ok(None);
    };
    if !state.is_advisory() || decide(Relations::default(), Action::Read, state) != Decision::Allow
    {
        return Ok(None);
    }
    let doc: String = r.try_get("doc")?;
    let a: Advisory = serde_json::from_str(&doc).map_err(|e| {
        StoreError::Internal(format!("stored public advisory does not read back: {e}"))
    })?;
    Ok((a.state == state).then_some(a))
}

/// Public documents list by public change: an internal note must not reorder them.
fn sort_public(all: &mut [Advisory]) {
    all.sort_by(|a, b| {
        b.public_modified_at()
            .cmp(&a.public_modified_at())
            .then_with(|| a.id.as_str().cmp(b.id.as_str()))
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_is_coarser_than_same_package() {
        let pypi =
            embargo_domain::types::Ecosystem::parse("PyPI").unwrap_or_else(|_| unreachable!());
        for (a, b) in [
            ("Foo__Bar", "foo.bar"),
            ("zope.interface", "Zope-Interface"),
        ] {
            assert!(embargo_formats::purl::same_package(&pypi, a, b));
            assert_eq!(fold_name(a), fold_name(b));
        }
        assert_eq!(fold_ecosystem("Debian:12"), "Debian");
        assert_eq!(fold_ecosystem("crates.io"), "crates.io");
        assert!(looks_like_commit("deadbeef"));
        assert!(!looks_like_commit("1.0.0"));
    }
}
