//! Embargo's persistence: one [`Store`] over SQLite (the default) and PostgreSQL.
//!
//! One set of SQL serves both backends, written where the two dialects agree and run through
//! sqlx's `Any` driver; what differs (the first migration's column types, the migration lock)
//! sits in [`db`]. The same conformance suite runs on both.
//!
//! Every read and write of an advisory takes the decision of `embargo_domain::access` inside
//! the store function, and hands out an [`Authorized`] value only after it: there is no way
//! to fetch an advisory without asking the rule.
#![forbid(unsafe_code)]

mod advisories;
mod attachments;
mod attempts;
mod audit;
mod audit_batch;
pub mod backup;
mod batch;
pub mod clock;
mod codeowners;
mod collaborators;
mod credits;
pub mod crypto;
mod cve;
mod db;
mod disclosure;
mod fix_checks;
mod fix_repos;
mod group_tx;
mod imap_settings;
mod imports;
mod intake;
mod jobs;
mod mail;
mod mail_intake;
mod orgs;
mod page_view;
mod people;
mod preferences;
mod public_index;
mod record;
mod releases;
mod rotation;
mod schedule;
pub mod secrets;
mod spam;
mod stats;
mod subscribers;
mod two_factor;
mod users;
mod webhooks;

use std::sync::Arc;

use embargo_domain::FieldError;
use embargo_domain::access::{Decision, Permissions, Relations};
use sqlx::AnyPool;

pub use advisories::{AdvisoryFilter, Comment, Cursor, EventRecord, Sort, Transition};
pub use attachments::Attachment;
pub use audit::{AuditCheck, AuditEntry};
pub use clock::{Clock, ManualClock, SystemClock};
pub use codeowners::SyncReport;
pub use collaborators::{Collaborator, Invitation, NewInvitation, SignupDetails};
pub use credits::{CreditConsent, CreditEntry};
pub use cve::{
    ApiKey, CveJobTarget, CvePlan, CveServicesAccount, CveSettings, CveSettingsChange, CveState,
    CveStatus, LOW_BLOCK as CVE_LOW_BLOCK,
};
pub use db::Backend;
pub use disclosure::DisclosureRun;
pub use fix_checks::{
    CHECK_CONTEXT as FIX_CHECK_CONTEXT, CheckJob, CheckRun, FixSettings, FixSettingsChange,
    FixState, FixStatus, NewFixStatus, OUTPUT_LIMIT as FIX_OUTPUT_LIMIT, PushCredentials,
    Retention as FixRetention, UpstreamPush, UpstreamPushJob, bounded as bounded_check_output,
    check_sha,
};
pub use fix_repos::{FixAccess, FixAccessKind, FixPlan, FixRepo};
pub use imap_settings::{ImapClaim, ImapIntake, ImapIntakeRequest, ImapIntakeView, ImapTls};
pub use imports::{IMPORTER_EMAIL, ImportOutcome};
pub use intake::Confirmed;
pub use jobs::{Job, JobLane, JobStatus, LEASE as JOB_LEASE, SLOW_KINDS};
pub use mail::{MAX_ATTEMPTS, QueuedMail};
pub use mail_intake::{MailAttachment, MailIntake};
pub use orgs::{Org, OrgPermissions, POLICY_TEXT_MAX, PolicyChange, Repo};
pub use page_view::AdvisoryView;
pub use people::{NEW_ACCOUNT_LINK_DAYS, Person};
pub use preferences::MailPreferences;
pub use public_index::{DirectoryEntry, PublicKey};
pub use releases::{Recorded, ReleaseRecord, ReleaseSource};
pub use rotation::Rotation;
pub use schedule::{SweepRun, embargo_needs_attention};
pub use spam::Block;
pub use stats::OperationalStats;
pub use subscribers::{SubscriberCount, Subscription};
pub use two_factor::TotpEnrolment;
pub use users::{Session, SessionInfo, User, check_password as users_check_password};
pub use webhooks::{
    Delivery, EVENTS as WEBHOOK_EVENTS, MAX_ATTEMPTS as WEBHOOK_MAX_ATTEMPTS, NewWebhook,
    OutgoingDelivery, Webhook, signature as webhook_signature,
};

/// What a store call can fail with. `NotFound` carries what was looked for, never why.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0} not found")]
    NotFound(&'static str),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Invalid(FieldError),
    #[error("{what}; try again in {retry_after_secs} seconds")]
    RateLimited {
        retry_after_secs: u64,
        what: &'static str,
    },
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        Self::Internal(e.to_string())
    }
}

impl From<FieldError> for StoreError {
    fn from(e: FieldError) -> Self {
        Self::Invalid(e)
    }
}

impl StoreError {
    /// The error for an access decision other than `Allow`.
    pub(crate) fn from_decision(d: Decision, what: &'static str, action: &str) -> Option<Self> {
        match d {
            Decision::Allow => None,
            Decision::NotFound => Some(Self::NotFound(what)),
            Decision::Forbidden => {
                Some(Self::Forbidden(format!("you may not {action} this {what}")))
            }
            Decision::NeedsTwoFactor => Some(Self::Forbidden(TWO_FACTOR_REQUIRED.into())),
            Decision::Conflict => Some(Self::Conflict(format!(
                "cannot {action} this {what} in its current state"
            ))),
        }
    }
}

/// What a security manager or steering committee member hears until they turn on
/// two-factor sign-in, where their organisation requires it.
pub const TWO_FACTOR_REQUIRED: &str = "your organisation requires two-factor sign-in for its security managers and steering committee: turn it on (Account, or POST /api/v1/user/two-factor) to act in your role";

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// A value the caller was allowed to see, with how the caller stands to it. Only the store
/// builds one, after the access decision.
#[derive(Debug, Clone)]
pub struct Authorized<T> {
    value: T,
    relations: Relations,
}

impl<T> Authorized<T> {
    pub(crate) fn new(value: T, relations: Relations) -> Self {
        Self { value, relations }
    }

    pub fn get(&self) -> &T {
        &self.value
    }

    pub fn into_inner(self) -> T {
        self.value
    }

    pub fn relations(&self) -> Relations {
        self.relations
    }
}

impl Authorized<embargo_domain::advisory::Advisory> {
    /// What the caller may do next, from the same rule.
    pub fn permissions(&self) -> Permissions {
        Permissions::of(self.relations, self.value.state)
    }
}

/// The store. Cheap to clone.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    clock: Arc<dyn Clock>,
    /// Where the current request comes from, for the access log.
    origin: Option<Arc<str>>,
    keys: Arc<crypto::Keyring>,
    /// The access log's key and head file.
    audit: Arc<audit::Trail>,
    /// Access-log entries waiting for a shared commit.
    audit_queue: Arc<audit_batch::GroupCommit>,
    /// Small writes (filings) waiting for a shared transaction.
    group_tx: Arc<group_tx::GroupTx>,
}

impl Store {
    /// Opens (creating a SQLite file if needed) and migrates the database at `url`:
    /// `sqlite://PATH` or `postgres://...`. `keys` says where the encryption key is.
    pub async fn open(url: &str, clock: Arc<dyn Clock>, keys: KeySource) -> Result<Self> {
        let (pool, backend) = db::connect(url).await?;
        db::migrate(&pool, backend).await?;
        public_index::build_if_needed(&pool).await?;
        let head_file = keys.audit_head_file();
        let keys = Arc::new(open_keyring(&pool, keys).await?);
        let audit = audit::Trail::open(&pool, &keys, head_file).await?;
        Ok(Self {
            pool,
            backend,
            clock,
            origin: None,
            keys,
            audit,
            audit_queue: audit_batch::GroupCommit::new(),
            group_tx: group_tx::GroupTx::new(),
        })
    }

    /// The same store, recording `origin` (the client's address) in the access log.
    pub fn at(&self, origin: Option<String>) -> Self {
        Self {
            origin: origin.map(Arc::from),
            ..self.clone()
        }
    }

    pub(crate) fn origin(&self) -> Option<&str> {
        self.origin.as_deref()
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn now(&self) -> time::OffsetDateTime {
        self.clock.now()
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    /// A cheap query, for health checks.
    pub async fn ping(&self) -> Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }
}

/// Where the encryption key comes from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A key file; created on the first start of a new database, required afterwards.
    File(std::path::PathBuf),
    /// A new key held in memory only (tests).
    Ephemeral,
}

const KEY_CHECK: &str = "embargo key check";

/// Loads (or, for a new database, creates) the keyring, and checks that it opens this
/// database's sealed values, so a wrong or missing key file stops the start with a clear
/// message instead of failing on the first unpublished report.
async fn open_keyring(pool: &AnyPool, source: KeySource) -> Result<crypto::Keyring> {
    let check: Option<String> =
        sqlx::query_scalar("SELECT value FROM settings WHERE name = 'key_check'")
            .fetch_optional(pool)
            .await?;
    let keys = match (&source, &check) {
        (KeySource::Ephemeral, _) => crypto::Keyring::ephemeral()?,
        (KeySource::File(path), _) if path.exists() => crypto::Keyring::load(path)?,
        (KeySource::File(path), None) => crypto::Keyring::create(path)?,
        (KeySource::File(path), Some(_)) => {
            return Err(StoreError::Conflict(format!(
                "the key file {} is missing, and this database holds data sealed with it: restore the key file from your backup (unpublished reports cannot be read without it)",
                path.display()
            )));
        }
    };
    match check {
        Some(sealed) => {
            if keys.open("settings.key_check", &sealed).ok().as_deref() != Some(KEY_CHECK) {
                return Err(StoreError::Conflict(
                    "the key file does not open this database's sealed data: it is the wrong key file".into(),
                ));
            }
        }
        None => {
            sqlx::query("INSERT INTO settings (name, value) VALUES ('key_check', $1)")
                .bind(keys.seal("settings.key_check", KEY_CHECK)?)
                .execute(pool)
                .await?;
        }
    }
    Ok(keys)
}
