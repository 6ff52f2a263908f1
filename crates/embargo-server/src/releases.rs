//! Releases: read from the upstream's tags ([`crate::upstream_git::list_tags`], under the
//! network rule), by the `release_watch` job or on request; the proposal of the affected range
//! and patched version for a draft; and a release's "Security bulletins" section, the same
//! Markdown as `/orgs/{org}/bulletins.md?release=` (for the CLI and the release page).

use embargo_domain::FieldError;
use embargo_domain::access::{Actor, OrgAction};
use embargo_domain::advisory::{Advisory, State};
use embargo_domain::ids::AdvisoryId;
use embargo_domain::release::{IgnoredTag, Proposal, Release, propose, read_tags};
use embargo_domain::types::Slug;
use embargo_formats::markdown::{bulletins, fixed_in};
use embargo_store::{Recorded, ReleaseSource, Store, StoreError};
use serde::Serialize;

use crate::config::Config;
use crate::error::AppError;
use crate::net::NetworkPolicy;
use crate::upstream_git::{Limits, list_tags};

/// The most tags read from one upstream; beyond them the newest are not guessed at.
const MAX_TAGS: usize = 10_000;

/// What reading an upstream's tags did.
#[derive(Debug, Clone, Default, Serialize, utoipa::ToSchema)]
pub struct SyncOutcome {
    #[serde(flatten)]
    pub recorded: Recorded,
    /// Tags that are not semantic versions, each with a note.
    pub ignored: Vec<IgnoredTag>,
}

fn network(config: &Config) -> Result<NetworkPolicy, AppError> {
    config
        .network_policy()
        .map_err(|e| AppError::internal(&e.to_string()))
}

/// The releases among `tags`, and the notes on the others.
fn releases_of(tags: &[String]) -> (Vec<Release>, Vec<IgnoredTag>) {
    let (releases, mut ignored) = read_tags(tags.iter().take(MAX_TAGS).map(String::as_str));
    if tags.len() > MAX_TAGS {
        ignored.push(IgnoredTag {
            tag: format!("({} more)", tags.len() - MAX_TAGS),
            note: format!("only the first {MAX_TAGS} tags are read"),
        });
    }
    (releases, ignored)
}

/// `POST .../releases/sync`: reads the upstream's tags now and records the new releases.
/// The caller's right is checked before anything is fetched, and again when recording.
pub async fn sync(
    store: &Store,
    config: &Config,
    actor: Actor,
    org: &Slug,
    repo: &Slug,
) -> Result<SyncOutcome, AppError> {
    store
        .check_org_action(actor, org, OrgAction::ManageRepos)
        .await?;
    let upstream = store.upstream(org, repo).await?.ok_or_else(|| {
        AppError::invalid(FieldError::new(
            "upstream",
            "the repository has no upstream; set one first (PATCH .../repos/{repo} {\"upstream\": ...}) or enter releases by hand",
        ))
    })?;
    let tags = list_tags(&network(config)?, &upstream, Limits::default()).await?;
    let (releases, ignored) = releases_of(&tags);
    let recorded = store
        .record_releases(
            actor,
            org,
            repo,
            &releases,
            ReleaseSource::Upstream,
            &config.server.public_url,
        )
        .await?;
    Ok(SyncOutcome { recorded, ignored })
}

/// What one run of the release watch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WatchRun {
    pub repos: usize,
    pub added: usize,
    pub flagged: usize,
    /// Upstreams that could not be read (logged; tried again at the next run).
    pub unreadable: usize,
}

/// Reads the tags of every repository with an upstream and records new releases; an upstream
/// that cannot be read is logged and skipped, so one broken upstream does not stop the rest.
pub async fn watch(
    store: &Store,
    network: &NetworkPolicy,
    base_url: &str,
) -> Result<WatchRun, StoreError> {
    let mut run = WatchRun::default();
    for repo in store.repos_with_upstream().await? {
        run.repos += 1;
        let Some(upstream) = repo
            .upstream
            .as_deref()
            .and_then(|u| embargo_domain::types::Upstream::parse(u).ok())
        else {
            continue;
        };
        let tags = match list_tags(network, &upstream, Limits::default()).await {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!(org = %repo.org, repo = %repo.slug, error = %e, "release watch: could not read the upstream's tags");
                run.unreadable += 1;
                continue;
            }
        };
        let (releases, _) = releases_of(&tags);
        let r = store
            .record_watched_releases(&repo, &releases, base_url)
            .await?;
        run.added += r.added.len();
        run.flagged += r.flagged;
    }
    Ok(run)
}

/// The proposal for an advisory's fix, for those who may edit it.
pub async fn proposal(store: &Store, actor: Actor, id: &AdvisoryId) -> Result<Proposal, AppError> {
    let a = store.advisory(actor, id).await?;
    if !a.permissions().can_edit {
        return Err(AppError::new(
            axum::http::StatusCode::FORBIDDEN,
            "forbidden",
            "you may not edit this advisory now",
        ));
    }
    proposal_for(store, a.get()).await
}

/// The proposal for an advisory the caller was allowed to edit.
pub(crate) async fn proposal_for(store: &Store, a: &Advisory) -> Result<Proposal, AppError> {
    let org = store.org(&a.org).await?;
    let Some(repo) = &a.repo else {
        let mut p = propose(&[], org.policy.supported_releases, &[]);
        p.warnings = vec![
            "the report waits in the organisation's inbox: assign it to a repository to see its releases".into(),
        ];
        return Ok(p);
    };
    let releases: Vec<Release> = store
        .releases(&a.org, repo)
        .await?
        .iter()
        .filter_map(embargo_store::ReleaseRecord::release)
        .collect();
    Ok(propose(
        &releases,
        org.policy.supported_releases,
        &a.content.vulnerabilities,
    ))
}

/// The "Security bulletins" section of `release` in organisation `org`: every published
/// advisory fixed in it, the same Markdown as `/orgs/{org}/bulletins.md?release=`.
pub async fn org_bulletin(
    store: &Store,
    org: &Slug,
    release: &str,
    base_url: &str,
) -> Result<String, AppError> {
    embargo_domain::affected::check_version("release", release).map_err(AppError::invalid)?;
    let org = store.org(org).await?;
    let all = store.public_advisories(Some(&org.slug)).await?;
    let mut fixed: Vec<&Advisory> = all
        .iter()
        .filter(|a| a.state == State::Published)
        .filter(|a| fixed_in(a, release))
        .collect();
    fixed.sort_by_key(|a| a.published_at);
    Ok(bulletins(&fixed, release, base_url))
}
