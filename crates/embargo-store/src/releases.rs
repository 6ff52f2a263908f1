//! Releases of a repository: tags of its upstream that are semantic versions (read by the
//! server's release watch or on request) and tags entered by hand.
//!
//! Recording a new release is the moment its fixes become public: every advisory of the
//! repository that the release fixes ([`embargo_domain::release::fixed_in_release`]) and that
//! is still unpublished is flagged to the organisation's security managers, once per release
//! and advisory (`notices_sent`), in the transaction that records the release. The bulletin
//! itself is computed from the published advisories whenever it is asked for.

use embargo_domain::access::{Action, Actor, OrgAction};
use embargo_domain::advisory::Advisory;
use embargo_domain::release::{Release, fixed_in_release};
use embargo_domain::types::Slug;
use serde::Serialize;
use sqlx::Row;
use time::OffsetDateTime;

use crate::advisories::open_doc;
use crate::clock::{from_ms, to_ms};
use crate::orgs::org_event;
use crate::{Repo, Result, Store};

/// Where Embargo learnt of a release.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseSource {
    /// A tag of the repository's upstream.
    Upstream,
    /// Entered by a security manager.
    Manual,
}

impl ReleaseSource {
    fn as_str(self) -> &'static str {
        match self {
            Self::Upstream => "upstream",
            Self::Manual => "manual",
        }
    }
}

/// A recorded release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct ReleaseRecord {
    pub org: Slug,
    pub repo: Slug,
    pub tag: String,
    pub version: String,
    pub prerelease: bool,
    pub source: String,
    #[serde(with = "time::serde::rfc3339")]
    pub seen_at: OffsetDateTime,
}

impl ReleaseRecord {
    /// The release as the domain reads it (recorded tags always parse).
    pub fn release(&self) -> Option<Release> {
        Release::parse(&self.tag).ok()
    }
}

/// What recording releases did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Recorded {
    /// Releases not known before.
    pub added: Vec<ReleaseRecord>,
    /// Messages queued to security managers about unpublished advisories fixed in them.
    pub flagged: usize,
}

const COLUMNS: &str = "o.slug AS org_slug, r.slug AS repo_slug, rl.tag, rl.version, rl.prerelease, rl.source, rl.seen_at";

fn record_from_row(row: &sqlx::any::AnyRow) -> Result<ReleaseRecord> {
    Ok(ReleaseRecord {
        org: Slug::parse(&row.try_get::<String, _>("org_slug")?)?,
        repo: Slug::parse(&row.try_get::<String, _>("repo_slug")?)?,
        tag: row.try_get("tag")?,
        version: row.try_get("version")?,
        prerelease: row.try_get::<i64, _>("prerelease")? != 0,
        source: row.try_get("source")?,
        seen_at: from_ms(row.try_get("seen_at")?),
    })
}

impl Store {
    /// The repository's releases, in version order (oldest first). Tags are public upstream.
    pub async fn releases(&self, org: &Slug, repo: &Slug) -> Result<Vec<ReleaseRecord>> {
        let r = self.repo(org, repo).await?;
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM releases rl JOIN repos r ON r.id = rl.repo_id JOIN orgs o ON o.id = r.org_id WHERE rl.repo_id = $1"
        )))
        .bind(r.id)
        .fetch_all(&self.pool)
        .await?;
        let mut out = rows
            .iter()
            .map(record_from_row)
            .collect::<Result<Vec<_>>>()?;
        out.sort_by(|a, b| match (a.release(), b.release()) {
            (Some(x), Some(y)) => x.version.cmp_precedence(&y.version),
            _ => a.tag.cmp(&b.tag),
        });
        Ok(out)
    }

    /// The organisation's releases tagged `tag` (`v0.8.1` and `0.8.1` alike), one per
    /// repository that has it.
    pub async fn releases_tagged(&self, org: &Slug, tag: &str) -> Result<Vec<ReleaseRecord>> {
        let o = self.org(org).await?;
        let bare = tag.strip_prefix('v').unwrap_or(tag);
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM releases rl JOIN repos r ON r.id = rl.repo_id JOIN orgs o ON o.id = r.org_id
             WHERE o.id = $1 AND (rl.tag = $2 OR rl.tag = $3) ORDER BY r.slug, rl.tag"
        )))
        .bind(o.id)
        .bind(bare)
        .bind(format!("v{bare}"))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(record_from_row).collect()
    }

    /// Records releases of a repository, by hand or read from its upstream on request (the
    /// organisation's rule `ManageRepos`). Returns those that are new; unpublished advisories
    /// fixed in them are flagged to the security managers.
    pub async fn record_releases(
        &self,
        actor: Actor,
        org: &Slug,
        repo: &Slug,
        releases: &[Release],
        source: ReleaseSource,
        base_url: &str,
    ) -> Result<Recorded> {
        let o = self.org(org).await?;
        self.require_org(actor, &o, OrgAction::ManageRepos, "record releases")
            .await?;
        let r = self.repo(org, repo).await?;
        self.record(actor, &r, releases, source, base_url).await
    }

    /// Records the tags the release watch read from the repository's upstream (no one's
    /// input but the upstream's, which its security managers chose).
    pub async fn record_watched_releases(
        &self,
        repo: &Repo,
        releases: &[Release],
        base_url: &str,
    ) -> Result<Recorded> {
        self.record(
            Actor::System(embargo_domain::access::SystemTask::ReleaseWatch),
            repo,
            releases,
            ReleaseSource::Upstream,
            base_url,
        )
        .await
    }

    async fn record(
        &self,
        actor: Actor,
        repo: &Repo,
        releases: &[Release],
        source: ReleaseSource,
        base_url: &str,
    ) -> Result<Recorded> {
        let mut out = Recorded::default();
        let now = self.now();
        for release in releases {
            let mut tx = self.pool.begin().await?;
            let done = sqlx::query(
                "INSERT INTO releases (repo_id, tag, version, prerelease, source, seen_at) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (repo_id, tag) DO NOTHING",
            )
            .bind(repo.id)
            .bind(&release.tag)
            .bind(release.version.to_string())
            .bind(i64::from(release.is_prerelease()))
            .bind(source.as_str())
            .bind(to_ms(now))
            .execute(&mut *tx)
            .await?;
            if done.rows_affected() == 0 {
                continue;
            }
            org_event(
                &mut tx,
                repo.org_id,
                actor,
                self.origin(),
                "release_recorded",
                serde_json::json!({"repo": repo.slug, "tag": release.tag, "source": source.as_str()}),
                to_ms(now),
            )
            .await?;
            out.flagged += self
                .flag_unpublished(&mut tx, repo, release, base_url)
                .await?;
            tx.commit().await?;
            out.added.push(ReleaseRecord {
                org: repo.org.clone(),
                repo: repo.slug.clone(),
                tag: release.tag.clone(),
                version: release.version.to_string(),
                prerelease: release.is_prerelease(),
                source: source.as_str().to_owned(),
                seen_at: now,
            });
        }
        Ok(out)
    }

    /// Tells the security managers (those the rule lets read it) of each advisory of the
    /// repository that `release` fixes and that is not published: the fix is public now.
    async fn flag_unpublished(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        repo: &Repo,
        release: &Release,
        base_url: &str,
    ) -> Result<usize> {
        let rows = sqlx::query(
            "SELECT a.id, a.doc, o.mail_titles FROM advisories a JOIN orgs o ON o.id = a.org_id
             WHERE a.repo_id = $1 AND a.state IN ('triage', 'draft') ORDER BY a.id",
        )
        .bind(repo.id)
        .fetch_all(&mut **tx)
        .await?;
        let mut fixed: Vec<(Advisory, bool)> = Vec::new();
        for r in &rows {
            let id: String = r.try_get("id")?;
            let a = open_doc(&self.keys, &id, &r.try_get::<String, _>("doc")?)?;
            if fixed_in_release(&a, &repo.slug, &release.tag) {
                fixed.push((a, r.try_get::<i64, _>("mail_titles")? != 0));
            }
        }
        if fixed.is_empty() {
            return Ok(0);
        }
        let mut n = 0;
        for (a, titles) in &fixed {
            let subject = format!(
                "{} {} is released and {} is not published",
                a.place(),
                release.tag,
                a.id
            );
            let body = format!(
                "The release {} of {} fixes {}, which is not published yet: the fix is public now. Publish the advisory (ending its embargo if one runs) so that users learn why to upgrade.\n\n{base_url}/advisories/{}\n",
                release.tag,
                a.place(),
                a.id,
                a.id
            );
            n += self
                .notice_in(
                    tx,
                    &crate::schedule::Notice {
                        advisory: a,
                        org_id: repo.org_id,
                        repo_id: Some(repo.id),
                        titles: *titles,
                    },
                    &format!("release:{}:{}:{}", repo.id, release.tag, a.id),
                    &["security_managers"],
                    &subject,
                    &body,
                    Action::ReadThread,
                )
                .await?;
        }
        Ok(n)
    }

    /// Repositories with an upstream, for the release watch.
    pub async fn repos_with_upstream(&self) -> Result<Vec<Repo>> {
        Ok(self
            .repos(None)
            .await?
            .into_iter()
            .filter(|r| r.upstream.is_some())
            .collect())
    }
}
