//! Advisories' private fix repositories: a bare git repository per advisory under
//! `{data_dir}/fix/{advisory-id}.git`, seeded from the repository's upstream (all branches
//! and tags, through the network rule of [`crate::upstream_git`]), served over git's smart
//! HTTP ([`http`]) and shown on the advisory's page ([`page`]).
//!
//! The upstream's refs at seeding are kept under `refs/embargo/upstream/`, hidden from
//! clients (`transfer.hideRefs`): commits "ahead of the upstream" are those not reachable
//! from them, and a push of a tag the upstream has is refused.
//!
//! Every git process runs with the repository's path built from a parsed advisory id, no
//! user or system settings (`GIT_CONFIG_NOSYSTEM`, an empty `HOME`), Embargo's own settings
//! given on each run (`GIT_CONFIG_COUNT`), in its own process group killed at a deadline.

pub mod http;
pub mod page;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{LazyLock, Mutex};
use std::time::Duration;

use embargo_domain::access::Actor;
use embargo_domain::ids::AdvisoryId;
use embargo_domain::types::Upstream;
use embargo_store::FixRepo;
use serde::Serialize;
use tokio::io::AsyncReadExt;
use tokio::time::Instant;

use crate::AppState;
use crate::config::Config;
use crate::error::AppError;
use crate::upstream_git::{FetchError, Git, Limits, first_line};

/// Where the upstream's refs at seeding are kept (hidden from clients).
pub const UPSTREAM_REFS: &str = "refs/embargo/upstream";
/// Seeding may take this long and grow this large.
const SEED_LIMITS: Limits = Limits {
    time: Duration::from_secs(600),
    bytes: 2 * 1024 * 1024 * 1024,
};
/// A git run for a page or an answer (listing branches, a diff) takes at most this long.
const LOCAL_TIME: Duration = Duration::from_secs(30);
/// At most this many branches are listed.
pub const MAX_BRANCHES: usize = 200;

/// The bare repository of an advisory's fix.
pub fn repo_path(data_dir: &Path, advisory_id: &str) -> PathBuf {
    fix_root(data_dir).join(format!("{advisory_id}.git"))
}

fn fix_root(data_dir: &Path) -> PathBuf {
    data_dir.join("fix")
}

/// The address git clients use.
pub fn clone_url(config: &Config, id: &AdvisoryId) -> String {
    format!("{}/git/{id}.git", config.server.public_url)
}

/// Settings every git run on a fix repository gets, whatever the repository's own config
/// says (command-line settings win over it).
fn hardening(hooks: &Path, max_push: u64) -> Vec<(String, String)> {
    [
        ("core.hooksPath", hooks.display().to_string()),
        ("core.fsmonitor", "false".into()),
        ("core.sshCommand", "false".into()),
        ("protocol.allow", "never".into()),
        ("transfer.hideRefs", format!("{UPSTREAM_REFS}/")),
        ("uploadpack.allowAnySHA1InWant", "false".into()),
        ("uploadpack.allowTipSHA1InWant", "false".into()),
        ("uploadpack.allowReachableSHA1InWant", "false".into()),
        ("uploadpack.allowFilter", "false".into()),
        ("uploadpack.allowRefInWant", "false".into()),
        ("receive.fsckObjects", "true".into()),
        ("receive.maxInputSize", max_push.to_string()),
        ("receive.advertisePushOptions", "false".into()),
        ("receive.autogc", "false".into()),
        ("receive.denyDeleteCurrent", "refuse".into()),
        ("receive.shallowUpdate", "false".into()),
        ("diff.external", String::new()),
        ("pack.threads", "1".into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Runs git on one fix repository.
pub(crate) struct LocalGit {
    pub(crate) repo: PathBuf,
    home: PathBuf,
    hooks: PathBuf,
    max_push: u64,
}

impl LocalGit {
    /// The runner for advisory `id`'s repository (which need not exist yet).
    pub(crate) fn new(config: &Config, id: &AdvisoryId) -> Result<Self, AppError> {
        let root = fix_root(&config.data_dir);
        let home = root.join(".home");
        let hooks = root.join(".hooks");
        for dir in [&home, &hooks] {
            std::fs::create_dir_all(dir).map_err(|e| {
                AppError::internal(&format!("cannot create {}: {e}", dir.display()))
            })?;
        }
        Ok(Self {
            repo: repo_path(&config.data_dir, id.as_str()),
            home,
            hooks,
            max_push: config.fix_repository.max_push_bytes,
        })
    }

    pub(crate) fn exists(&self) -> bool {
        self.repo.join("HEAD").is_file()
    }

    /// `git ARGS` on the repository, with Embargo's environment only.
    pub(crate) fn command<I, S>(&self, args: I) -> tokio::process::Command
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let mut cmd = tokio::process::Command::new("git");
        cmd.env_clear()
            .env(
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into()),
            )
            .env("HOME", &self.home)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("GIT_CONFIG_GLOBAL", "/dev/null")
            .env("GIT_TERMINAL_PROMPT", "0")
            .env("GIT_DIR", &self.repo)
            .env("LC_ALL", "C");
        let settings = hardening(&self.hooks, self.max_push);
        cmd.env("GIT_CONFIG_COUNT", settings.len().to_string());
        for (i, (k, v)) in settings.iter().enumerate() {
            cmd.env(format!("GIT_CONFIG_KEY_{i}"), k)
                .env(format!("GIT_CONFIG_VALUE_{i}"), v);
        }
        cmd.args(args.into_iter().map(Into::into))
            .current_dir(&self.repo)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        cmd
    }

    /// Runs `git ARGS` and returns its output, at most `cap` bytes of it (and whether it was
    /// cut there); stops git at the cap or after [`LOCAL_TIME`].
    pub(crate) async fn output(&self, args: &[&str], cap: usize) -> Result<Output, AppError> {
        let mut child = self
            .command(args)
            .spawn()
            .map_err(|e| AppError::internal(&format!("cannot run git: {e}")))?;
        let guard = Group::of(&child);
        let mut stdout = child
            .stdout
            .take()
            .ok_or_else(|| AppError::internal("git without stdout"))?;
        let mut stderr = child
            .stderr
            .take()
            .ok_or_else(|| AppError::internal("git without stderr"))?;
        let deadline = Instant::now() + LOCAL_TIME;
        let read = async {
            let mut out = Vec::new();
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = stdout.read(&mut buf).await?;
                if n == 0 {
                    return Ok::<_, std::io::Error>((out, false));
                }
                let room = cap.saturating_sub(out.len());
                out.extend_from_slice(buf.get(..n.min(room)).unwrap_or_default());
                if n > room {
                    return Ok((out, true));
                }
            }
        };
        let (stdout, truncated) = tokio::time::timeout_at(deadline, read)
            .await
            .map_err(|_| AppError::internal("git took too long on a fix repository"))?
            .map_err(|e| AppError::internal(&format!("reading git's output: {e}")))?;
        if truncated {
            // Whatever is left is not wanted: stop git now.
            drop(guard);
            return Ok(Output {
                stdout,
                truncated,
                success: true,
                stderr: String::new(),
            });
        }
        let mut err = Vec::new();
        let _ = tokio::time::timeout_at(
            deadline,
            (&mut stderr).take(64 * 1024).read_to_end(&mut err),
        )
        .await;
        let status = tokio::time::timeout_at(deadline, child.wait())
            .await
            .map_err(|_| AppError::internal("git took too long on a fix repository"))?
            .map_err(|e| AppError::internal(&format!("git failed: {e}")))?;
        guard.disarm();
        Ok(Output {
            stdout,
            truncated,
            success: status.success(),
            stderr: first_line(&err),
        })
    }

    /// Like [`Self::output`], failing unless git succeeded.
    pub(crate) async fn text(&self, args: &[&str], cap: usize) -> Result<String, AppError> {
        let out = self.output(args, cap).await?;
        if !out.success {
            return Err(AppError::internal(&format!(
                "git {} on a fix repository: {}",
                args.first().copied().unwrap_or_default(),
                out.stderr
            )));
        }
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Writes Embargo's hooks (shared by every fix repository), when they differ.
    pub(crate) fn ensure_hooks(&self) -> Result<(), AppError> {
        use std::os::unix::fs::PermissionsExt;
        for (name, text) in [("pre-receive", PRE_RECEIVE), ("post-receive", POST_RECEIVE)] {
            let path = self.hooks.join(name);
            if std::fs::read_to_string(&path).ok().as_deref() == Some(text) {
                continue;
            }
            let tmp = self.hooks.join(format!(".{name}.new"));
            std::fs::write(&tmp, text)
                .and_then(|()| {
                    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))
                })
                .and_then(|()| std::fs::rename(&tmp, &path))
                .map_err(|e| AppError::internal(&format!("cannot write the {name} hook: {e}")))?;
        }
        Ok(())
    }
}

/// What a git run printed.
pub(crate) struct Output {
    pub(crate) stdout: Vec<u8>,
    pub(crate) truncated: bool,
    pub(crate) success: bool,
    pub(crate) stderr: String,
}

/// Kills a git process's whole group (its helpers: pack-objects, index-pack, hooks) when
/// dropped before [`Group::disarm`].
pub(crate) struct Group(Option<u32>);

impl Group {
    pub(crate) fn of(child: &tokio::process::Child) -> Self {
        Self(child.id())
    }

    pub(crate) fn disarm(mut self) {
        self.0 = None;
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if let Some(pid) = self.0.take() {
            let _ = std::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// Refuses, before anything is written, pushes to tags the upstream has, to refs other than
/// branches and tags, and force-pushes (or deletions) of branches another user fetched unless
/// a security manager pushes; each refusal is a `remote:` line, and all of the push is
/// refused with it. Embargo passes what it decided in the environment.
const PRE_RECEIVE: &str = r#"#!/bin/sh
# Written by Embargo (fix repositories); replaced when it changes.
status=0
refuse() {
	echo "Embargo refused $1: $2" >&2
	if [ -n "$EMBARGO_REFUSALS_FILE" ]; then
		printf '%s: %s\n' "$1" "$2" >>"$EMBARGO_REFUSALS_FILE"
	fi
	status=1
}
zero() {
	case "$1" in *[!0]*) return 1 ;; *) return 0 ;; esac
}
while read -r old new ref; do
	case "$ref" in
	refs/heads/*) ;;
	refs/tags/*)
		if git rev-parse -q --verify "refs/embargo/upstream/$ref" >/dev/null; then
			refuse "$ref" "the upstream has this tag; put the fix on a branch (tags the upstream has stay as they are)"
		fi
		continue
		;;
	*)
		refuse "$ref" "only branches (refs/heads/) and new tags (refs/tags/) may be pushed"
		continue
		;;
	esac
	if zero "$old"; then
		continue
	fi
	if ! zero "$new" && git merge-base --is-ancestor "$old" "$new" 2>/dev/null; then
		continue
	fi
	if [ "$EMBARGO_FORCE_ALLOWED" = 1 ]; then
		continue
	fi
	if printf '%s\n' "$EMBARGO_FETCHED_BY_OTHERS" | grep -qxF -e "$ref"; then
		refuse "$ref" "this force-push (or deletion) rewrites a branch another user has fetched; push new commits on top instead, or ask a security manager"
	fi
done
if [ "$status" != 0 ]; then
	echo "Embargo refused the whole push; nothing was changed." >&2
fi
exit $status
"#;

/// Tells Embargo which refs a push changed.
const POST_RECEIVE: &str = r#"#!/bin/sh
# Written by Embargo (fix repositories); replaced when it changes.
if [ -n "$EMBARGO_UPDATES_FILE" ]; then
	cat >"$EMBARGO_UPDATES_FILE"
else
	cat >/dev/null
fi
"#;

/// Advisories whose repository is being seeded now (one seeding at a time each).
static SEEDING: LazyLock<Mutex<Vec<String>>> = LazyLock::new(Default::default);

struct Seeding(String);

impl Seeding {
    fn start(id: &AdvisoryId) -> Result<Self, AppError> {
        let mut all = SEEDING
            .lock()
            .map_err(|_| AppError::internal("seeding lock poisoned"))?;
        if all.iter().any(|s| s == id.as_str()) {
            return Err(AppError::new(
                axum::http::StatusCode::CONFLICT,
                "conflict",
                "the fix repository is being created; try again in a minute",
            ));
        }
        all.push(id.to_string());
        Ok(Self(id.to_string()))
    }
}

impl Drop for Seeding {
    fn drop(&mut self) {
        if let Ok(mut all) = SEEDING.lock() {
            all.retain(|s| s != &self.0);
        }
    }
}

/// Creates advisory `id`'s fix repository, seeded from its repository's upstream, for a
/// caller who may (`ManageFix`): decided before anything is fetched and again when it is
/// recorded.
pub async fn create(st: &AppState, actor: Actor, id: &AdvisoryId) -> Result<FixRepo, AppError> {
    let plan = st.store.plan_fix_repository(actor, id).await?;
    let _seeding = Seeding::start(id)?;
    let local = LocalGit::new(&st.config, id)?;
    let upstream = Upstream::parse(&plan.upstream).map_err(AppError::invalid)?;
    let network = st
        .config
        .network_policy()
        .map_err(|e| AppError::internal(&e.to_string()))?;
    let deadline = Instant::now() + SEED_LIMITS.time;
    let checked = network
        .check_url(upstream.as_str())
        .await
        .map_err(FetchError::from)?;
    let root = fix_root(&st.config.data_dir);
    let dir = tempfile::Builder::new()
        .prefix(".seed-")
        .tempdir_in(&root)
        .map_err(|e| AppError::internal(&format!("no temporary folder for seeding: {e}")))?;
    let home = dir.path().join("home");
    std::fs::create_dir(&home)
        .map_err(|e| AppError::internal(&format!("no temporary folder for seeding: {e}")))?;
    let git = Git::new(&checked, home, dir.path().to_owned(), deadline, SEED_LIMITS)?;
    let bare = dir.path().join("repo.git");
    let bare_arg = bare.clone().into_os_string();
    let upstream_ref = &upstream;
    let run = |args: Vec<OsString>| {
        let git = &git;
        async move {
            let out = git.run(&args).await?;
            if out.status.success() {
                Ok(out.stdout)
            } else {
                tracing::warn!(upstream = %upstream_ref, git = %first_line(&out.stderr), "could not seed a fix repository");
                Err(FetchError::Failed)
            }
        }
    };
    run(vec![
        "init".into(),
        "--bare".into(),
        "-q".into(),
        bare_arg.clone(),
    ])
    .await?;
    let head = run(vec![
        "ls-remote".into(),
        "--symref".into(),
        "--".into(),
        git.url.clone().into(),
        "HEAD".into(),
    ])
    .await?;
    let default_branch = String::from_utf8_lossy(&head)
        .lines()
        .find_map(|l| l.strip_prefix("ref: refs/heads/"))
        .and_then(|l| l.split('\t').next())
        .filter(|b| !b.is_empty())
        .unwrap_or("main")
        .to_owned();
    let mut fetch: Vec<OsString> = vec![
        "-C".into(),
        bare_arg.clone(),
        "fetch".into(),
        "--quiet".into(),
        "--no-tags".into(),
        "--no-write-fetch-head".into(),
        "--".into(),
        git.url.clone().into(),
    ];
    fetch.extend(
        [
            "+refs/heads/*:refs/heads/*".to_owned(),
            "+refs/tags/*:refs/tags/*".to_owned(),
            format!("+refs/heads/*:{UPSTREAM_REFS}/refs/heads/*"),
            format!("+refs/tags/*:{UPSTREAM_REFS}/refs/tags/*"),
        ]
        .map(OsString::from),
    );
    run(fetch).await?;
    run(vec![
        "-C".into(),
        bare_arg,
        "symbolic-ref".into(),
        "HEAD".into(),
        format!("refs/heads/{default_branch}").into(),
    ])
    .await?;
    // Put in place: a folder left by a seeding that died before it was recorded goes.
    if local.repo.exists() {
        std::fs::remove_dir_all(&local.repo).map_err(|e| {
            AppError::internal(&format!("cannot replace a stale fix repository: {e}"))
        })?;
    }
    std::fs::rename(&bare, &local.repo)
        .map_err(|e| AppError::internal(&format!("cannot put the fix repository in place: {e}")))?;
    match st
        .store
        .record_fix_repository(actor, id, upstream.as_str(), &default_branch)
        .await
    {
        Ok(repo) => Ok(repo),
        Err(e) => {
            let _ = std::fs::remove_dir_all(&local.repo);
            Err(e.into())
        }
    }
}

/// One branch of a fix repository.
#[derive(Debug, Clone, Serialize)]
pub struct Branch {
    pub name: String,
    pub head: String,
    /// Commits on the branch that no upstream ref (at seeding) has.
    pub ahead_of_upstream: u64,
}

/// The repository's branches (at most [`MAX_BRANCHES`]), with how far each is ahead of the
/// upstream.
pub(crate) async fn branches(local: &LocalGit) -> Result<Vec<Branch>, AppError> {
    if !local.exists() {
        return Ok(Vec::new());
    }
    let list = local
        .text(
            &[
                "for-each-ref",
                "--format=%(objectname) %(refname)",
                &format!("--count={MAX_BRANCHES}"),
                "refs/heads/",
            ],
            1024 * 1024,
        )
        .await?;
    let mut out = Vec::new();
    for line in list.lines() {
        let Some((head, name)) = line.split_once(' ') else {
            continue;
        };
        let Some(short) = name.strip_prefix("refs/heads/") else {
            continue;
        };
        let count = local
            .text(
                &[
                    "rev-list",
                    "--count",
                    head,
                    "--not",
                    &format!("--glob={UPSTREAM_REFS}/"),
                ],
                64,
            )
            .await?;
        out.push(Branch {
            name: short.to_owned(),
            head: head.to_owned(),
            ahead_of_upstream: count.trim().parse().unwrap_or(0),
        });
    }
    Ok(out)
}

/// The JSON answer for a fix repository: its address and branches with their checks'
/// statuses.
pub(crate) async fn describe(
    st: &AppState,
    id: &AdvisoryId,
    repo: &FixRepo,
) -> Result<serde_json::Value, AppError> {
    let local = LocalGit::new(&st.config, id)?;
    let branches = branches(&local).await?;
    let shas: Vec<String> = branches.iter().map(|b| b.head.clone()).collect();
    let statuses = crate::fix_checks::statuses_for(st, id.as_str(), &shas).await?;
    let branches: Vec<serde_json::Value> = branches
        .iter()
        .map(|b| {
            serde_json::json!({
                "name": b.name,
                "head": b.head,
                "ahead_of_upstream": b.ahead_of_upstream,
                "statuses": statuses_of(&statuses, &b.head),
            })
        })
        .collect();
    Ok(serde_json::json!({
        "clone_url": clone_url(&st.config, id),
        "upstream": repo.upstream,
        "default_branch": repo.default_branch,
        "created_at": repo.created_at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default(),
        "branches": branches,
    }))
}

/// The statuses of one commit in what `fix_checks::statuses_for` returns: an array of
/// statuses each naming its `sha` (or an object keyed by sha).
pub(crate) fn statuses_of(all: &serde_json::Value, sha: &str) -> Vec<serde_json::Value> {
    match all {
        serde_json::Value::Array(list) => list
            .iter()
            .filter(|s| s.get("sha").and_then(serde_json::Value::as_str) == Some(sha))
            .cloned()
            .collect(),
        serde_json::Value::Object(by_sha) => by_sha
            .get(sha)
            .and_then(serde_json::Value::as_array)
            .cloned()
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}
