//! The access log: every read of an unpublished advisory and every change, with who, what,
//! when and from which address, in a keyed hash chain that [`Store::verify_audit`] checks.
//!
//! What protects it:
//! - Each entry holds the hash of the one before it and its own hash, an HMAC-SHA256 of its
//!   content and that link under the *audit key*. The key lives in the key file beside the
//!   sealing keys (`crypto.rs`), never in the database, and does not change when they rotate.
//!   Whoever edits an entry and recomputes every later hash and `audit_head` without it is
//!   found at the first entry they changed.
//! - `audit_head` in the database names the last entry; a *head file* outside it
//!   (`audit.head`, beside the key file) names an entry the log reached, with an HMAC under
//!   the same key. Entries cut from the end, with `audit_head` moved back, are found because
//!   the head file names an entry the log no longer holds. Appending writes it under the
//!   head's lock, naming the entry before the new one (committed by then); reads, in their
//!   own short transactions, name themselves after the commit. It only moves forward, never
//!   past an entry that no longer matches it, and may trail the database by an entry or two.
//! - Entries written before keyed hashes (plain SHA-256, by an older embargo) are accepted
//!   only before `keyed_from`, the first entry after the upgrade (set by migration 16; the
//!   head file carries it, so editing the database does not move it). The first keyed entry
//!   covers them through its link: once it exists they cannot be rewritten either.
//!
//! What it cannot find:
//! - Someone with the key file and write access to the database can rewrite anything.
//! - Someone who can also write the head file's folder can delete it (reported: without it
//!   entries cut from the end cannot be found) or put back an older copy and cut the log back
//!   to the entry it names.
//! - A change's entry is covered by the head file once the next entry is written: removing
//!   only the newest entry, when it is a change, is not found.
//! - Instances on one PostgreSQL database each keep their own head file, covering the entries
//!   that instance saw appended.
//! - Until the first keyed entry after an upgrade, the old entries can be rewritten unseen.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Weak};

use embargo_domain::access::{Action, Actor};
use embargo_domain::ids::AdvisoryId;
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::{AnyPool, Row};
use time::OffsetDateTime;

use crate::clock::{from_ms, to_ms};
use crate::crypto::{Keyring, hmac_sha256};
use crate::secrets::{constant_time_eq, hex};
use crate::{KeySource, Result, Store, StoreError};

const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The head file's name, beside the key file.
const HEAD_FILE: &str = "audit.head";

/// One entry of the access log.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct AuditEntry {
    pub seq: i64,
    #[serde(with = "time::serde::rfc3339")]
    pub at: OffsetDateTime,
    pub actor: Option<String>,
    pub origin: Option<String>,
    pub action: String,
    pub advisory_id: Option<String>,
    pub detail: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

/// The hashed fields of an entry.
struct Fields<'a> {
    seq: i64,
    at: i64,
    actor_id: Option<i64>,
    origin: Option<&'a str>,
    action: &'a str,
    advisory_id: Option<&'a str>,
    detail: &'a str,
    prev: &'a str,
}

impl Fields<'_> {
    /// A JSON array of the fields, in a fixed order, with the detail as the exact text stored.
    fn canonical(&self) -> String {
        serde_json::json!([
            self.seq,
            self.at,
            self.actor_id,
            self.origin,
            self.action,
            self.advisory_id,
            self.detail,
            self.prev
        ])
        .to_string()
    }

    /// The hash of entries written since keyed hashes: HMAC-SHA256 under the audit key.
    fn keyed(&self, key: &[u8; 32]) -> String {
        hex(&hmac_sha256(key, &[self.canonical().as_bytes()]))
    }

    /// The hash of entries written before (plain SHA-256, which anyone can recompute).
    fn plain(&self) -> String {
        hex(&Sha256::digest(self.canonical().as_bytes()))
    }
}

/// The entry the head file names, and where keyed hashes start.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Head {
    keyed_from: i64,
    seq: i64,
    hash: String,
}

/// What the head file holds.
#[derive(Debug, Clone, PartialEq, Eq)]
enum HeadFile {
    Missing,
    Unreadable(String),
    /// Its HMAC does not match: not written with this audit key.
    Forged(Head),
    Valid(Head),
}

/// The audit key and the head file of a store.
pub(crate) struct Trail {
    key: [u8; 32],
    /// A fingerprint of the key, kept in `audit_head.key_id`: [`append`] runs inside its
    /// callers' transactions with only their connection, and finds the key by it.
    id: String,
    /// `audit_head.keyed_from` when the store opened; a head file's own value wins.
    keyed_from: i64,
    head: Option<PathBuf>,
    /// Serialises this process's replacing of the head file.
    writing: Mutex<()>,
    /// Head file problems are logged once a process: a write that failed, and a log that
    /// no longer holds the file's entry. `embargo audit verify` reports them.
    warned_io: AtomicBool,
    warned_tampered: AtomicBool,
}

/// The trails of the stores open in this process, by key id.
static TRAILS: LazyLock<Mutex<HashMap<String, Weak<Trail>>>> = LazyLock::new(Default::default);

impl Trail {
    /// The trail of a store just opened. The first start after migration 16 records which
    /// audit key keys the log; later starts must bring the same key.
    pub(crate) async fn open(
        pool: &AnyPool,
        keys: &Keyring,
        head: Option<PathBuf>,
    ) -> Result<Arc<Self>> {
        let key = keys.audit_key()?;
        let id: String = hex(&hmac_sha256(&key, &[b"embargo audit key id"]))
            .chars()
            .take(16)
            .collect();
        sqlx::query("UPDATE audit_head SET key_id = $1 WHERE id = 1 AND key_id IS NULL")
            .bind(&id)
            .execute(pool)
            .await?;
        let row = sqlx::query("SELECT key_id, keyed_from FROM audit_head WHERE id = 1")
            .fetch_one(pool)
            .await?;
        let stored: Option<String> = row.try_get("key_id")?;
        if stored.as_deref() != Some(id.as_str()) {
            return Err(StoreError::Conflict(format!(
                "the access log is keyed with audit key {}, but the key file's audit key is {id}: it is not the key file that wrote the log (or its audit line was lost); restore it from your backup",
                stored.unwrap_or_default()
            )));
        }
        let keyed_from = row.try_get::<Option<i64>, _>("keyed_from")?.unwrap_or(1);
        Ok(Self::register(Self {
            key,
            id,
            keyed_from,
            head,
            writing: Mutex::new(()),
            warned_io: AtomicBool::new(false),
            warned_tampered: AtomicBool::new(false),
        }))
    }

    fn with_head(&self, head: PathBuf) -> Arc<Self> {
        Self::register(Self {
            key: self.key,
            id: self.id.clone(),
            keyed_from: self.keyed_from,
            head: Some(head),
            writing: Mutex::new(()),
            warned_io: AtomicBool::new(false),
            warned_tampered: AtomicBool::new(false),
        })
    }

    fn register(trail: Self) -> Arc<Self> {
        let trail = Arc::new(trail);
        if let Ok(mut all) = TRAILS.lock() {
            all.retain(|_, t| t.strong_count() > 0);
            all.insert(trail.id.clone(), Arc::downgrade(&trail));
        }
        trail
    }

    fn find(id: Option<&str>) -> Result<Arc<Self>> {
        let all = TRAILS
            .lock()
            .map_err(|_| StoreError::Internal("audit trails lock".into()))?;
        id.and_then(|id| all.get(id))
            .and_then(Weak::upgrade)
            .ok_or_else(|| {
                StoreError::Internal(format!(
                    "the access log is keyed with audit key {}, which this process does not hold",
                    id.unwrap_or("(none)")
                ))
            })
    }

    fn head_mac(&self, h: &Head) -> String {
        let text = format!(
            "embargo audit head v1 {} {} {}",
            h.keyed_from, h.seq, h.hash
        );
        hex(&hmac_sha256(&self.key, &[text.as_bytes()]))
    }

    fn read_head(&self, path: &Path) -> HeadFile {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return HeadFile::Missing,
            Err(e) => return HeadFile::Unreadable(e.to_string()),
        };
        let line = text
            .lines()
            .map(str::trim)
            .find(|l| !l.is_empty() && !l.starts_with('#'))
            .unwrap_or_default();
        let mut parts = line.split_whitespace();
        let (Some("v1"), Some(keyed_from), Some(seq), Some(hash), Some(mac), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return HeadFile::Unreadable("expected 'v1 KEYED_FROM SEQ HASH MAC'".into());
        };
        let (Ok(keyed_from), Ok(seq)) = (keyed_from.parse(), seq.parse()) else {
            return HeadFile::Unreadable("expected numbers".into());
        };
        let head = Head {
            keyed_from,
            seq,
            hash: hash.to_owned(),
        };
        if constant_time_eq(mac, &self.head_mac(&head)) {
            HeadFile::Valid(head)
        } else {
            HeadFile::Forged(head)
        }
    }

    /// Replaces the head file (a new file renamed over it), unless another task of this
    /// process changed it since it was read as `seen`.
    fn replace_head(&self, path: &Path, seen: &HeadFile, new: &Head) {
        let Ok(_writing) = self.writing.lock() else {
            return;
        };
        if self.read_head(path) != *seen {
            return;
        }
        let text = format!(
            "# The access log's head, kept outside the database: an entry this server saw written.\n\
             # `embargo audit verify` checks that the log still holds it. Written by embargo.\n\
             v1 {} {} {} {}\n",
            new.keyed_from,
            new.seq,
            new.hash,
            self.head_mac(new)
        );
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(format!(".{}.tmp", std::process::id()));
        let tmp = PathBuf::from(tmp);
        let written = std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            self.warn(
                false,
                &format!(
                    "cannot write the access log's head file {}: {e}",
                    path.display()
                ),
            );
        }
    }

    fn warn(&self, tampered: bool, what: &str) {
        let once = if tampered {
            &self.warned_tampered
        } else {
            &self.warned_io
        };
        if !once.swap(true, Ordering::Relaxed) {
            if tampered {
                tracing::error!("{what}; run `embargo audit verify`");
            } else {
                tracing::warn!("{what}; `embargo audit verify` will report on it");
            }
        }
    }

    /// Moves the head file to entry `seq` with `hash`, which is committed (the caller holds
    /// the head's lock), provided the log still holds the entry the file names now.
    async fn advance_in_lock(
        &self,
        conn: &mut sqlx::AnyConnection,
        seq: i64,
        hash: &str,
    ) -> Result<()> {
        let Some(path) = &self.head else {
            return Ok(());
        };
        if seq < 1 {
            return Ok(());
        }
        let seen = self.read_head(path);
        let keyed_from = match &seen {
            HeadFile::Valid(h) if h.seq == seq && h.hash == hash => return Ok(()),
            HeadFile::Valid(h) if h.seq >= seq => {
                self.warn(true, &format!("the access log's head file names entry {}, past the log's head (entry {seq}) or with another hash: entries were removed or rewritten", h.seq));
                return Ok(());
            }
            HeadFile::Valid(h) => {
                let held: Option<String> =
                    sqlx::query_scalar("SELECT hash FROM audit_log WHERE seq = $1")
                        .bind(h.seq)
                        .fetch_optional(&mut *conn)
                        .await?;
                if held.as_deref() != Some(h.hash.as_str()) {
                    self.warn(true, &format!("the access log no longer holds entry {} as its head file names it: entries were removed or rewritten", h.seq));
                    return Ok(());
                }
                h.keyed_from
            }
            HeadFile::Forged(_) => {
                // Kept as evidence; verify names it.
                self.warn(
                    true,
                    &format!(
                        "the access log's head file {} is not signed with the audit key",
                        path.display()
                    ),
                );
                return Ok(());
            }
            HeadFile::Missing => self.keyed_from,
            HeadFile::Unreadable(e) => {
                self.warn(
                    false,
                    &format!(
                        "the access log's head file {} cannot be read ({e}), writing it again",
                        path.display()
                    ),
                );
                self.keyed_from
            }
        };
        let new = Head {
            keyed_from,
            seq,
            hash: hash.to_owned(),
        };
        self.replace_head(path, &seen, &new);
        Ok(())
    }

    /// Moves the head file to `entry` after the transaction holding `first` to `entry` (one
    /// after the other in the chain) committed, when the file names the entry just before
    /// `first` (otherwise the next append moves it, checking the log).
    pub(crate) fn advance_committed_span(&self, first: &Appended, entry: &Appended) {
        let Some(path) = &self.head else {
            return;
        };
        let seen = self.read_head(path);
        let keyed_from = match &seen {
            HeadFile::Valid(h) if h.seq == first.seq - 1 && h.hash == first.prev => h.keyed_from,
            HeadFile::Missing => self.keyed_from,
            _ => return,
        };
        let new = Head {
            keyed_from,
            seq: entry.seq,
            hash: entry.hash.clone(),
        };
        self.replace_head(path, &seen, &new);
    }
}

impl KeySource {
    /// Where the access log's head file is kept: beside the key file.
    pub(crate) fn audit_head_file(&self) -> Option<PathBuf> {
        match self {
            Self::File(path) => Some(path.with_file_name(HEAD_FILE)),
            Self::Ephemeral => None,
        }
    }
}

tokio::task_local! {
    /// Set by the writers that put several callers' entries in one transaction
    /// ([`crate::audit_batch`], [`crate::group_tx`]): the chain's head as that transaction
    /// moved it, none before its first entry. The row `audit_head` is locked by the first
    /// entry's update and written once, by [`flush_shared_head`], before the commit, instead
    /// of twice per entry. Every append in such a writer's task goes through its one
    /// transaction.
    pub(crate) static SHARED_HEAD: std::cell::RefCell<Option<SharedHead>>;
}

/// The chain's head inside a shared transaction: the last entry's number and hash, and the
/// key's id.
#[derive(Clone)]
pub(crate) struct SharedHead {
    seq: i64,
    hash: String,
    key_id: Option<String>,
}

/// The chain's state in the current shared transaction, to put back with [`restore_shared`]
/// when what came after is rolled back (its entries and, on PostgreSQL, the first entry's
/// lock on the head row are undone with it). `None` outside a shared writer.
pub(crate) fn snapshot_shared() -> Option<Option<SharedHead>> {
    SHARED_HEAD.try_with(|s| s.borrow().clone()).ok()
}

pub(crate) fn restore_shared(saved: Option<Option<SharedHead>>) {
    if let Some(saved) = saved {
        let _ = SHARED_HEAD.try_with(|s| *s.borrow_mut() = saved);
    }
}

/// Writes the head the shared transaction moved into `audit_head`; the writers call it
/// just before they commit.
pub(crate) async fn flush_shared_head(conn: &mut sqlx::AnyConnection) -> Result<()> {
    let head = SHARED_HEAD
        .try_with(|s| s.borrow_mut().take())
        .ok()
        .flatten();
    if let Some(head) = head {
        sqlx::query("UPDATE audit_head SET seq = $1, hash = $2 WHERE id = 1")
            .bind(head.seq)
            .bind(head.hash)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// The head as the current shared transaction moved it (none outside one, or before its
/// first entry).
fn shared_head() -> Option<SharedHead> {
    SHARED_HEAD.try_with(|s| s.borrow().clone()).ok().flatten()
}

/// Records the entry just appended as the shared transaction's head; false outside one
/// (the caller writes the head row itself).
fn set_shared_head(head: SharedHead) -> bool {
    SHARED_HEAD
        .try_with(move |s| *s.borrow_mut() = Some(head))
        .is_ok()
}

/// An entry just appended.
pub(crate) struct Appended {
    seq: i64,
    hash: String,
    prev: String,
}

/// Appends one entry inside the caller's transaction. Locking `audit_head` first serialises
/// appends (a row lock on PostgreSQL, the write lock on SQLite), so the chain never forks.
/// The key comes from the trail `audit_head.key_id` names.
pub(crate) async fn append(
    conn: &mut sqlx::AnyConnection,
    at: OffsetDateTime,
    actor: Actor,
    origin: Option<&str>,
    action: &str,
    advisory_id: Option<&AdvisoryId>,
    detail: &serde_json::Value,
) -> Result<Appended> {
    // In a shared transaction after its first entry, the head is the one it moved (the row
    // is locked by that first update); otherwise the row is locked and moved here.
    let shared = shared_head();
    let (seq, prev, key_id) = match &shared {
        Some(h) => (h.seq + 1, h.hash.clone(), h.key_id.clone()),
        None => {
            let head = sqlx::query(
                "UPDATE audit_head SET seq = seq + 1 WHERE id = 1 RETURNING seq, hash, key_id",
            )
            .fetch_one(&mut *conn)
            .await?;
            (
                head.try_get("seq")?,
                head.try_get("hash")?,
                head.try_get::<Option<String>, _>("key_id")?,
            )
        }
    };
    let trail = Trail::find(key_id.as_deref())?;
    // The entry before this one is committed: this transaction holds the head's lock. In a
    // shared transaction (group commit) only the first entry's predecessor is known to be.
    if shared.is_none() {
        trail.advance_in_lock(conn, seq - 1, &prev).await?;
    }
    let at = to_ms(at);
    let actor_id = actor.user_id();
    let advisory = advisory_id.map(AdvisoryId::as_str);
    // Scheduled work has no account: the entry names the task.
    let detail = match (actor.system_task(), detail.as_object()) {
        (Some(task), Some(o)) => {
            let mut o = o.clone();
            o.insert("by".into(), task.label().into());
            serde_json::Value::Object(o).to_string()
        }
        _ => detail.to_string(),
    };
    let hash = Fields {
        seq,
        at,
        actor_id,
        origin,
        action,
        advisory_id: advisory,
        detail: &detail,
        prev: &prev,
    }
    .keyed(&trail.key);
    sqlx::query(
        "INSERT INTO audit_log (seq, at, actor_id, origin, action, advisory_id, detail, prev_hash, hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(seq)
    .bind(at)
    .bind(actor_id)
    .bind(origin)
    .bind(action)
    .bind(advisory)
    .bind(detail)
    .bind(&prev)
    .bind(&hash)
    .execute(&mut *conn)
    .await?;
    if !set_shared_head(SharedHead {
        seq,
        hash: hash.clone(),
        key_id,
    }) {
        sqlx::query("UPDATE audit_head SET hash = $1 WHERE id = 1")
            .bind(&hash)
            .execute(&mut *conn)
            .await?;
    }
    Ok(Appended { seq, hash, prev })
}

/// The result of checking the whole chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditCheck {
    /// Every entry, link and hash checked, and the head file names an entry the log holds.
    /// The first `legacy` entries predate keyed hashes (plain SHA-256): they are covered by
    /// the keyed entries after them.
    Intact { entries: i64, legacy: i64 },
    /// Every entry, link and hash checked, but the end of the log could not be checked
    /// against a head file: entries cut from the end would not be found. `reason` says why.
    Unanchored {
        entries: i64,
        legacy: i64,
        reason: String,
    },
    /// The first entry that does not fit, and why.
    Broken { seq: i64, reason: String },
}

impl Store {
    /// Records a read of an unpublished advisory, committed (with other reads at the same
    /// time: [`crate::audit_batch`]) before it returns.
    pub(crate) async fn audit_read(
        &self,
        actor: Actor,
        action: &str,
        id: &AdvisoryId,
    ) -> Result<()> {
        self.audit_append_shared(actor, action, Some(id), serde_json::json!({}))
            .await
    }

    /// Records that a list showed these unpublished advisories.
    pub(crate) async fn audit_list(&self, actor: Actor, ids: &[&AdvisoryId]) -> Result<()> {
        if ids.is_empty() {
            return Ok(());
        }
        let listed: Vec<&str> = ids.iter().map(|i| i.as_str()).collect();
        self.audit_append_shared(
            actor,
            "list",
            None,
            serde_json::json!({ "advisories": listed }),
        )
        .await
    }

    /// One advisory's access log, for those allowed to read it (security managers).
    pub async fn audit_log(&self, actor: Actor, id: &AdvisoryId) -> Result<Vec<AuditEntry>> {
        self.decided(actor, id, Action::ReadEvents, "read the access log of")
            .await?;
        let rows = sqlx::query(
            "SELECT l.seq, l.at, u.email, l.origin, l.action, l.advisory_id, l.detail, l.prev_hash, l.hash
             FROM audit_log l LEFT JOIN users u ON u.id = l.actor_id
             WHERE l.advisory_id = $1 OR (l.action = 'list' AND l.detail LIKE $2) ORDER BY l.seq",
        )
        .bind(id.as_str())
        .bind(format!("%\"{}\"%", id.as_str()))
        .fetch_all(&self.pool)
        .await?;
        let entries = rows
            .iter()
            .map(|r| {
                let detail: String = r.try_get("detail")?;
                Ok(AuditEntry {
                    seq: r.try_get("seq")?,
                    at: from_ms(r.try_get("at")?),
                    actor: r.try_get("email")?,
                    origin: r.try_get("origin")?,
                    action: r.try_get("action")?,
                    advisory_id: r.try_get("advisory_id")?,
                    detail: serde_json::from_str(&detail).unwrap_or(serde_json::Value::Null),
                    prev_hash: r.try_get("prev_hash")?,
                    hash: r.try_get("hash")?,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        // Reading the log is itself an access.
        self.audit_read(actor, "read_access_log", id).await?;
        Ok(entries)
    }

    /// The same store, keeping the access log's head file at `path` (a store opened with a
    /// key file keeps it beside the key file; tests give one to a store with an ephemeral key).
    pub fn with_audit_head(self, path: impl Into<PathBuf>) -> Self {
        Self {
            audit: self.audit.with_head(path.into()),
            ..self
        }
    }

    /// Where the access log's head file is kept, if this store keeps one.
    pub fn audit_head_file(&self) -> Option<&Path> {
        self.audit.head.as_deref()
    }

    /// Checks the whole chain from the first entry: every keyed hash, every link, no gap, the
    /// head matching the last entry, and the head file naming an entry the log holds.
    pub async fn verify_audit(&self) -> Result<AuditCheck> {
        let trail = &self.audit;
        // The head file first (it names committed entries only), then one snapshot of the
        // database, so that a running server appending meanwhile does not look like a cut.
        let file = trail.head.as_ref().map(|p| (p, trail.read_head(p)));
        let mut snapshot = self.pool.begin().await?;
        if self.backend == crate::Backend::Postgres {
            sqlx::query("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                .execute(&mut *snapshot)
                .await?;
        }
        let head = sqlx::query("SELECT seq, hash, keyed_from FROM audit_head WHERE id = 1")
            .fetch_one(&mut *snapshot)
            .await?;
        let (head_seq, head_hash): (i64, String) = (head.try_get("seq")?, head.try_get("hash")?);
        let db_keyed_from: Option<i64> = head.try_get("keyed_from")?;
        let pinned = match &file {
            Some((_, HeadFile::Valid(h))) => Some(h),
            _ => None,
        };
        let keyed_from = pinned.map_or(db_keyed_from.unwrap_or(1), |h| h.keyed_from);

        let mut expected_prev = GENESIS.to_owned();
        let mut expected_seq = 1_i64;
        let mut legacy = 0_i64;
        let mut after: i64 = 0;
        loop {
            let rows = sqlx::query(
                "SELECT seq, at, actor_id, origin, action, advisory_id, detail, prev_hash, hash
                 FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 1000",
            )
            .bind(after)
            .fetch_all(&mut *snapshot)
            .await?;
            if rows.is_empty() {
                break;
            }
            for r in &rows {
                let seq: i64 = r.try_get("seq")?;
                let broken = |reason: String| Ok(AuditCheck::Broken { seq, reason });
                if seq != expected_seq {
                    return Ok(AuditCheck::Broken {
                        seq: expected_seq,
                        reason: format!("entry {expected_seq} is missing (the next is {seq})"),
                    });
                }
                let prev: String = r.try_get("prev_hash")?;
                if prev != expected_prev {
                    return broken("its link to the previous entry does not match".into());
                }
                let origin: Option<String> = r.try_get("origin")?;
                let advisory: Option<String> = r.try_get("advisory_id")?;
                let action: String = r.try_get("action")?;
                let detail: String = r.try_get("detail")?;
                let fields = Fields {
                    seq,
                    at: r.try_get("at")?,
                    actor_id: r.try_get("actor_id")?,
                    origin: origin.as_deref(),
                    action: &action,
                    advisory_id: advisory.as_deref(),
                    detail: &detail,
                    prev: &prev,
                };
                let stored: String = r.try_get("hash")?;
                if !constant_time_eq(&fields.keyed(&trail.key), &stored) {
                    let plain = fields.plain() == stored;
                    if plain && seq >= keyed_from {
                        return broken(format!(
                            "it carries a plain SHA-256 hash where a keyed one belongs (from entry {keyed_from} on): it was changed, and the hashes recomputed without the audit key"
                        ));
                    }
                    if !plain {
                        return broken("its content does not match its hash: it was changed (or the key file's audit key is not the one that wrote it)".into());
                    }
                    legacy += 1;
                }
                if let Some(h) = pinned
                    && h.seq == seq
                    && h.hash != stored
                {
                    return broken(format!(
                        "the head file names this entry with another hash: it was rewritten, or entries were removed from the end and others written in their place (head file {})",
                        file_name(trail)
                    ));
                }
                expected_prev = stored;
                expected_seq += 1;
                after = seq;
            }
        }
        let last = expected_seq - 1;
        if head_seq != last || head_hash != expected_prev {
            return Ok(AuditCheck::Broken {
                seq: expected_seq,
                reason: format!(
                    "the chain ends at entry {last} but its head says {head_seq}: entries were removed from the end"
                ),
            });
        }
        if let Some(h) = pinned
            && db_keyed_from != Some(h.keyed_from)
        {
            return Ok(AuditCheck::Broken {
                seq: h.keyed_from.min(db_keyed_from.unwrap_or(1)),
                reason: format!(
                    "the database says keyed hashes start at entry {}, the head file says {}: audit_head was changed",
                    db_keyed_from.unwrap_or(1),
                    h.keyed_from
                ),
            });
        }
        let unanchored = |why: String| {
            let mut reason = format!("{why}: entries cut from the end cannot be found");
            if legacy == last && last > 0 {
                reason.push_str(", and no entry is keyed yet (all were written by an older embargo, with plain SHA-256 that anyone able to write the database can recompute; the next entry keys the log)");
            }
            Ok(AuditCheck::Unanchored {
                entries: last,
                legacy,
                reason,
            })
        };
        match file {
            Some((_, HeadFile::Valid(h))) if h.seq > last => Ok(AuditCheck::Broken {
                seq: last + 1,
                reason: format!(
                    "entries {} to {} were removed from the end: the head file names entry {}, the log ends at {last} (head file {})",
                    last + 1,
                    h.seq,
                    h.seq,
                    file_name(trail)
                ),
            }),
            Some((_, HeadFile::Valid(_))) => Ok(AuditCheck::Intact {
                entries: last,
                legacy,
            }),
            Some((path, HeadFile::Forged(h))) => Ok(AuditCheck::Broken {
                seq: h.seq,
                reason: format!(
                    "the head file {} is not signed with the audit key: it was forged, or written for another log",
                    path.display()
                ),
            }),
            _ if last == 0 => Ok(AuditCheck::Intact {
                entries: 0,
                legacy: 0,
            }),
            Some((path, HeadFile::Missing)) => {
                unanchored(format!("there is no head file ({})", path.display()))
            }
            Some((path, HeadFile::Unreadable(e))) => unanchored(format!(
                "the head file {} cannot be read ({e})",
                path.display()
            )),
            None => unanchored("this store keeps no head file".into()),
        }
    }
}

fn file_name(trail: &Trail) -> String {
    trail
        .head
        .as_ref()
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

impl From<AuditCheck> for std::result::Result<i64, StoreError> {
    fn from(c: AuditCheck) -> Self {
        match c {
            AuditCheck::Intact { entries, .. } => Ok(entries),
            AuditCheck::Unanchored { reason, .. } => Err(StoreError::Conflict(reason)),
            AuditCheck::Broken { seq, reason } => {
                Err(StoreError::Conflict(format!("entry {seq}: {reason}")))
            }
        }
    }
}
