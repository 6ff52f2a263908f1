//! The fix repository's section of the advisory page: its clone address, a button to create
//! it for who may, and its branches with the commits the upstream does not have, each with
//! its checks and its diff as escaped text (never rendered), bounded in size.

use axum::extract::Path;
use axum::response::Response;
use embargo_domain::access::{Actor, Permissions};
use embargo_domain::ids::AdvisoryId;

use super::{LocalGit, UPSTREAM_REFS, branches, clone_url};
use crate::AppState;
use crate::api::advisories::advisory_id;
use crate::error::{AppError, PageError};
use crate::extract::Req;
use crate::web::{SessionForm, redirect};

/// Commits shown per branch.
const COMMITS_PER_BRANCH: usize = 20;
/// Branches shown with their commits.
const BRANCHES_SHOWN: usize = 30;
/// One commit's diff is cut after this many bytes...
const DIFF_BYTES: usize = 64 * 1024;
/// ... and a page shows at most this much diff in all.
const PAGE_DIFF_BYTES: usize = 1024 * 1024;

/// What the template shows.
pub struct FixSection {
    pub clone_url: String,
    pub exists: bool,
    pub can_create: bool,
    pub can_push: bool,
    pub upstream: String,
    pub default_branch: String,
    pub branches: Vec<BranchView>,
    /// More branches than shown.
    pub more_branches: bool,
}

pub struct BranchView {
    pub name: String,
    pub head: String,
    pub ahead: u64,
    pub commits: Vec<CommitView>,
    /// More commits ahead than shown.
    pub more: bool,
}

pub struct CommitView {
    pub sha: String,
    pub short: String,
    pub author: String,
    pub date: String,
    pub subject: String,
    /// The patch as text (escaped by the template); empty when the page's budget is spent.
    pub diff: String,
    pub truncated: bool,
    pub statuses: Vec<StatusView>,
}

pub struct StatusView {
    pub context: String,
    pub state: String,
    pub description: String,
}

/// The section for the advisory page, or `None` when the caller may not fetch the fix
/// repository (or it does not exist and they may not create it).
pub(crate) async fn section(
    st: &AppState,
    actor: Actor,
    id: &AdvisoryId,
    p: &Permissions,
) -> Result<Option<FixSection>, AppError> {
    if !p.can_fetch_fix {
        return Ok(None);
    }
    let (_, repo) = st.store.fix_repository(actor, id).await?;
    let Some(repo) = repo else {
        return Ok(p.can_manage_fix.then(|| FixSection {
            clone_url: String::new(),
            exists: false,
            can_create: true,
            can_push: false,
            upstream: String::new(),
            default_branch: String::new(),
            branches: Vec::new(),
            more_branches: false,
        }));
    };
    let local = LocalGit::new(&st.config, id)?;
    let all = branches(&local).await?;
    let more_branches = all.len() > BRANCHES_SHOWN;
    let mut budget = PAGE_DIFF_BYTES;
    let mut views = Vec::new();
    for b in all.into_iter().take(BRANCHES_SHOWN) {
        let log = local
            .text(
                &[
                    "log",
                    "--no-color",
                    "--format=%H%x1f%an%x1f%ad%x1f%s%x1e",
                    "--date=short",
                    &format!("--max-count={}", COMMITS_PER_BRANCH + 1),
                    &b.head,
                    "--not",
                    &format!("--glob={UPSTREAM_REFS}/"),
                ],
                1024 * 1024,
            )
            .await?;
        let mut commits = Vec::new();
        for entry in log.split('\x1e').map(str::trim).filter(|e| !e.is_empty()) {
            let mut f = entry.split('\x1f');
            let (Some(sha), Some(author), Some(date), Some(subject)) =
                (f.next(), f.next(), f.next(), f.next())
            else {
                continue;
            };
            commits.push(CommitView {
                sha: sha.to_owned(),
                short: sha.chars().take(12).collect(),
                author: author.to_owned(),
                date: date.to_owned(),
                subject: subject.to_owned(),
                diff: String::new(),
                truncated: false,
                statuses: Vec::new(),
            });
        }
        let more = commits.len() > COMMITS_PER_BRANCH;
        commits.truncate(COMMITS_PER_BRANCH);
        for c in &mut commits {
            if budget == 0 {
                c.truncated = true;
                continue;
            }
            let out = local
                .output(
                    &[
                        "show",
                        "--no-color",
                        "--no-ext-diff",
                        "--no-textconv",
                        "--format=",
                        "--patch",
                        "--stat",
                        &c.sha,
                    ],
                    DIFF_BYTES.min(budget),
                )
                .await?;
            budget = budget.saturating_sub(out.stdout.len());
            c.diff = String::from_utf8_lossy(&out.stdout).into_owned();
            c.truncated = out.truncated;
        }
        views.push(BranchView {
            name: b.name,
            head: b.head,
            ahead: b.ahead_of_upstream,
            commits,
            more,
        });
    }
    let shas: Vec<String> = views
        .iter()
        .flat_map(|b| b.commits.iter().map(|c| c.sha.clone()))
        .collect();
    let statuses = crate::fix_checks::statuses_for(st, id.as_str(), &shas).await?;
    for c in views.iter_mut().flat_map(|b| b.commits.iter_mut()) {
        let text = |v: &serde_json::Value, k: &str| {
            v.get(k)
                .and_then(|s| s.as_str())
                .unwrap_or_default()
                .to_owned()
        };
        c.statuses = super::statuses_of(&statuses, &c.sha)
            .iter()
            .map(|s| StatusView {
                context: text(s, "context"),
                state: text(s, "state"),
                description: text(s, "description"),
            })
            .collect();
    }
    Ok(Some(FixSection {
        clone_url: clone_url(&st.config, id),
        exists: true,
        can_create: false,
        can_push: p.can_push_fix,
        upstream: repo.upstream,
        default_branch: repo.default_branch,
        branches: views,
        more_branches,
    }))
}

/// `POST /advisories/{id}/fix-repository` from the page's button.
pub async fn create(
    Req(st): Req,
    Path(id): Path<String>,
    SessionForm { caller, .. }: SessionForm,
) -> Result<Response, PageError> {
    let aid = advisory_id(&id)?;
    super::create(&st, caller.actor, &aid).await?;
    Ok(redirect(&format!("/advisories/{aid}#fix")))
}
