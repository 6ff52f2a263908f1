//! Checks on an advisory's private fix: the check command run on every push, statuses from
//! the organisation's own CI, the signed `fix.pushed` webhook, the push of the fix branches
//! to the upstream on publication, and the removal of fix repositories after retention.
//!
//! The check command runs in a throwaway shallow checkout of the pushed commit (never inside
//! the bare repository), under `sh -c`, with an empty environment but `PATH` and `HOME`; in
//! new PID and network namespaces (`unshare --pid --fork --kill-child --net`: no network
//! unless the repository's settings allow it, and killing `unshare` ends every process the
//! check started); with an address-space limit (`prlimit --as`), as the unprivileged user
//! `nobody` (`setpriv`) when Embargo runs as root; within a time limit. When Embargo cannot
//! cut the check off the network, the check is not run, and its status says why.

use std::ffi::OsString;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use embargo_domain::access::{Action, Actor};
use embargo_domain::ids::AdvisoryId;
use embargo_store::{FixRetention, FixState, FixStatus, StoreError};
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::AppState;
use crate::error::AppError;
use crate::jobs::Context;
use crate::net::{Checked, NetError};

/// The user and group checks run as when Embargo runs as root.
const NOBODY: u32 = 65534;
/// How long making the checkout may take.
const CHECKOUT_TIME: Duration = Duration::from_secs(300);
/// Processes the check's user may have at once.
const CHECK_PROCESSES: u32 = 1024;
/// The largest file a check may write.
const CHECK_FILE_BYTES: u64 = 4 * 1024 * 1024 * 1024;
/// How long pushing the fix to the upstream may take.
const PUSH_TIME: Duration = Duration::from_secs(300);

/// Where an advisory's fix repository lives (as `fix_repo::repo_path` says).
fn repo_path(data_dir: &Path, advisory_id: &str) -> PathBuf {
    data_dir.join("fix").join(format!("{advisory_id}.git"))
}

fn advisory_id(id: &str) -> Result<AdvisoryId, AppError> {
    AdvisoryId::parse(id).map_err(|_| AppError::not_found("advisory"))
}

/// Called by the git smart HTTP handler after a push was accepted: `updated` holds
/// (ref, old sha, new sha) for each ref that changed. Records the refs, and schedules the
/// check runs (when the repository has a check command) and the `fix.pushed` webhook
/// deliveries, durably, in one transaction.
pub async fn after_push(
    state: &AppState,
    advisory_id: &str,
    updated: &[(String, String, String)],
) -> Result<(), AppError> {
    let id = self::advisory_id(advisory_id)?;
    state
        .store
        .fix_pushed(&id, updated, &state.config.server.public_url)
        .await?;
    Ok(())
}

/// The statuses of the given commits (a JSON array of statuses, each naming its `sha`), for
/// a caller that has taken the `Action::FetchFix` decision on the advisory: the fix
/// repository's API answer and page section.
pub async fn statuses_for(
    state: &AppState,
    advisory_id: &str,
    shas: &[String],
) -> Result<Value, AppError> {
    let id = self::advisory_id(advisory_id)?;
    let statuses = state.store.fix_commit_statuses(&id, shas).await?;
    serde_json::to_value(statuses).map_err(|e| AppError::internal(&e.to_string()))
}

/// A fix branch's head and its statuses, for the publication warning and the page.
#[derive(Debug, Clone, serde::Serialize)]
pub struct BranchChecks {
    #[serde(rename = "ref")]
    pub ref_name: String,
    pub sha: String,
    pub statuses: Vec<FixStatus>,
    /// Contexts reported on other heads (or the check command's) that this head lacks.
    pub missing: Vec<String>,
    pub green: bool,
}

/// Runs git on a local repository with no user or system settings, within `time`.
async fn local_git(dir: &Path, args: &[&str], time: Duration) -> Option<std::process::Output> {
    let mut cmd = tokio::process::Command::new("git");
    cmd.env_clear()
        .env(
            "PATH",
            std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into()),
        )
        .env("HOME", "/nonexistent")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("LC_ALL", "C")
        .arg("-c")
        .arg("core.hooksPath=/dev/null")
        .arg("-c")
        .arg("protocol.file.allow=always")
        .arg("-c")
        .arg("protocol.version=2")
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    tokio::time::timeout(time, cmd.output()).await.ok()?.ok()
}

/// The branches of a bare repository and their heads.
async fn heads(bare: &Path) -> Vec<(String, String)> {
    let Some(out) = local_git(
        bare,
        &[
            "for-each-ref",
            "--count=1000",
            "--format=%(refname) %(objectname)",
            "refs/heads/",
        ],
        Duration::from_secs(30),
    )
    .await
    else {
        return Vec::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_once(' '))
        .map(|(r, s)| (r.to_owned(), s.to_owned()))
        .collect()
}

/// Whether `sha` is a commit of the advisory's fix repository (`None`: there is none).
pub async fn has_commit(state: &AppState, id: &AdvisoryId, sha: &str) -> Option<bool> {
    let bare = repo_path(&state.config.data_dir, id.as_str());
    if !bare.is_dir() {
        return None;
    }
    let spec = format!("{sha}^{{commit}}");
    Some(
        local_git(
            &bare,
            &["cat-file", "-e", spec.as_str()],
            Duration::from_secs(30),
        )
        .await
        .is_some_and(|o| o.status.success()),
    )
}

/// The fix branches (refs a push changed, still in the fix repository) with their heads.
async fn fix_heads(state: &AppState, id: &AdvisoryId) -> Result<Vec<(String, String)>, StoreError> {
    let bare = repo_path(&state.config.data_dir, id.as_str());
    if !bare.is_dir() {
        return Ok(Vec::new());
    }
    let now = heads(&bare).await;
    let pushed = state.store.fix_branches(id).await?;
    Ok(pushed
        .into_iter()
        .filter_map(|r| now.iter().find(|(n, _)| *n == r).cloned())
        .collect())
}

/// Each fix branch's head with its statuses, for a caller that took the FetchFix decision.
async fn branch_checks(state: &AppState, id: &AdvisoryId) -> Result<Vec<BranchChecks>, StoreError> {
    let heads = fix_heads(state, id).await?;
    let shas: Vec<String> = heads.iter().map(|(_, s)| s.clone()).collect();
    let all = state.store.fix_commit_statuses(id, &shas).await?;
    let mut expected: Vec<String> = all.iter().map(|s| s.context.clone()).collect();
    if state.store.fix_check_configured(id).await? {
        expected.push(embargo_store::FIX_CHECK_CONTEXT.to_owned());
    }
    expected.sort();
    expected.dedup();
    Ok(heads
        .into_iter()
        .map(|(ref_name, sha)| {
            let statuses: Vec<FixStatus> = all.iter().filter(|s| s.sha == sha).cloned().collect();
            let missing: Vec<String> = expected
                .iter()
                .filter(|c| !statuses.iter().any(|s| &s.context == *c))
                .cloned()
                .collect();
            let green = !statuses.is_empty()
                && missing.is_empty()
                && statuses.iter().all(|s| s.state == FixState::Success);
            BranchChecks {
                ref_name,
                sha,
                statuses,
                missing,
                green,
            }
        })
        .collect())
}

/// The warnings publication gives when the fix's checks are not green: one line per fix
/// branch head whose statuses are missing or not `success`. Empty without a fix repository
/// or for a caller outside the audience.
pub async fn publication_warnings(
    state: &AppState,
    actor: Actor,
    id: &AdvisoryId,
) -> Result<Vec<String>, AppError> {
    if state
        .store
        .fix_decided(actor, id, Action::FetchFix)
        .await
        .is_err()
    {
        return Ok(Vec::new());
    }
    let checks = branch_checks(state, id).await?;
    let mut out = Vec::new();
    for b in checks.iter().filter(|b| !b.green) {
        let short: String = b.sha.chars().take(12).collect();
        let branch = b.ref_name.trim_start_matches("refs/heads/");
        if b.statuses.is_empty() && b.missing.is_empty() {
            out.push(format!("{branch} ({short}): no check has reported"));
            continue;
        }
        for s in b.statuses.iter().filter(|s| s.state != FixState::Success) {
            out.push(format!(
                "{branch} ({short}): {} is {}",
                s.context,
                s.state.as_str()
            ));
        }
        for c in &b.missing {
            out.push(format!("{branch} ({short}): {c} has not reported"));
        }
    }
    Ok(out)
}

/// Before publishing with `push_fix`: the settings must allow the push, and there must be a
/// fix branch to push. A refusal here leaves the advisory unpublished.
pub async fn before_publish(
    state: &AppState,
    actor: Actor,
    id: &AdvisoryId,
) -> Result<(), StoreError> {
    state.store.check_fix_push_allowed(actor, id).await?;
    if fix_heads(state, id).await?.is_empty() {
        return Err(embargo_domain::FieldError::new(
            "push_fix",
            "the fix repository has no fix branch to push (no branch was pushed to it)",
        )
        .into());
    }
    Ok(())
}

/// What the advisory page's publish form shows: the warnings about the fix's checks, and
/// whether it offers to push the fix to the upstream.
#[derive(Debug, Clone, Default)]
pub struct PublishForm {
    pub warnings: Vec<String>,
    pub offer_push: bool,
}

/// The publish form's part, for a caller who may publish (`can_publish`); empty otherwise.
pub async fn publish_form(
    state: &AppState,
    actor: Actor,
    id: &AdvisoryId,
    can_publish: bool,
) -> Result<PublishForm, AppError> {
    if !can_publish {
        return Ok(PublishForm::default());
    }
    Ok(PublishForm {
        warnings: publication_warnings(state, actor, id).await?,
        offer_push: before_publish(state, actor, id).await.is_ok(),
    })
}

/// Publishing from the page's form: with `push_fix` (its checkbox), the fix is pushed to
/// the upstream after publication, as the API's `push_fix` does.
pub async fn publish_from_page(
    state: &AppState,
    actor: Actor,
    id: &AdvisoryId,
    push_fix: bool,
) -> Result<(), StoreError> {
    if push_fix {
        before_publish(state, actor, id).await?;
    }
    state
        .store
        .transition(actor, id, embargo_store::Transition::Publish)
        .await?;
    after_publish(state, actor, id, push_fix).await;
    Ok(())
}

/// After publishing: the warnings about the fix's checks, and (with `push_fix`) the push of
/// the fix branches to the upstream, scheduled as a job. Never fails the publication that
/// happened: a problem is reported in the answer and logged.
pub async fn after_publish(
    state: &AppState,
    actor: Actor,
    id: &AdvisoryId,
    push_fix: bool,
) -> Value {
    let warnings = match publication_warnings(state, actor, id).await {
        Ok(w) => w,
        Err(e) => {
            tracing::warn!(error = %e.message, "reading the fix's checks after publication failed");
            vec!["the fix's checks could not be read".to_owned()]
        }
    };
    let mut out = json!({ "warnings": warnings });
    if push_fix {
        let pushed = async {
            let refs: Vec<String> = fix_heads(state, id)
                .await?
                .into_iter()
                .map(|(r, _)| r)
                .collect();
            state
                .store
                .schedule_upstream_push(actor, id, &refs)
                .await
                .map_err(AppError::from)
        }
        .await;
        let push = match pushed {
            Ok(push) => json!({"id": push, "state": "pending"}),
            Err(e) => json!({"state": "error", "detail": e.message}),
        };
        if let Some(o) = out.as_object_mut() {
            o.insert("upstream_push".into(), push);
        }
    }
    out
}

/// The job `fix_check`: runs the check command on one pushed commit and records the run
/// and the `embargo/check` status.
pub async fn run_check(cx: Context<'_>, run: i64) -> Result<(), String> {
    let s = cx.store;
    let e = |e: embargo_store::StoreError| e.to_string();
    let Some(job) = s.start_check_run(run).await.map_err(e)? else {
        return Ok(());
    };
    let Some(config) = cx.config else {
        return Err("the check runner needs the server's settings (its data folder)".into());
    };
    let bare = repo_path(&config.data_dir, &job.advisory_id);
    let (state, output, code) = match check_in_sandbox(&bare, &job).await {
        Ok(r) => r,
        Err(why) => (FixState::Error, why, None),
    };
    s.finish_check_run(run, state, &output, code)
        .await
        .map_err(e)
}

/// Runs the check; `Err` with the reason when it could not be run at all.
async fn check_in_sandbox(
    bare: &Path,
    job: &embargo_store::CheckJob,
) -> Result<(FixState, String, Option<i64>), String> {
    if !bare.is_dir() {
        return Err("not run: the fix repository is gone".into());
    }
    if !job.network && !can_isolate(true).await {
        return Err("not run: Embargo cannot cut the check off the network on this machine (unshare --net failed; it needs root or user namespaces); allow the network in the repository's fix settings only if the check may reach it".into());
    }
    let dir = tempfile::tempdir().map_err(|e| format!("not run: no temporary folder: {e}"))?;
    let work = dir.path().join("src");
    let home = dir.path().join("home");
    for d in [&work, &home] {
        std::fs::create_dir(d).map_err(|e| format!("not run: no temporary folder: {e}"))?;
    }
    checkout(bare, &work, &job.sha).await?;
    let as_root = std::fs::metadata("/proc/self").is_ok_and(|m| m.uid() == 0);
    if as_root {
        // The check runs as nobody: it may write its checkout and home, nothing of Embargo's.
        std::fs::set_permissions(
            dir.path(),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .map_err(|e| format!("not run: {e}"))?;
        let owned = tokio::process::Command::new("chown")
            .args(["-R", &format!("{NOBODY}:{NOBODY}")])
            .arg(&work)
            .arg(&home)
            .status()
            .await
            .is_ok_and(|s| s.success());
        if !owned {
            return Err("not run: could not hand the checkout to the check's user".into());
        }
    }
    let isolate = can_isolate(!job.network).await;
    let mut argv: Vec<OsString> = Vec::new();
    if isolate {
        argv.extend(["unshare", "--pid", "--fork", "--kill-child"].map(OsString::from));
        if !job.network {
            argv.push("--net".into());
        }
        argv.push("--".into());
    }
    let bytes = u64::try_from(job.memory_mb).unwrap_or(2048) * 1024 * 1024;
    argv.extend([
        "prlimit".into(),
        format!("--as={bytes}").into(),
        format!("--nproc={CHECK_PROCESSES}").into(),
        format!("--fsize={CHECK_FILE_BYTES}").into(),
        "--core=0".into(),
        "--".into(),
    ]);
    if as_root {
        argv.extend(
            [
                "setpriv".to_owned(),
                format!("--reuid={NOBODY}"),
                format!("--regid={NOBODY}"),
                "--clear-groups".to_owned(),
                "--no-new-privs".to_owned(),
                "--".to_owned(),
            ]
            .map(OsString::from),
        );
    }
    argv.extend(["sh".into(), "-c".into(), OsString::from(&job.command)]);
    let limit = Duration::from_secs(u64::try_from(job.seconds).unwrap_or(600));
    run_limited(&argv, &work, &home, limit).await
}

/// Whether `unshare` can make new PID namespaces here (and a network one, with `net`).
async fn can_isolate(net: bool) -> bool {
    let mut cmd = tokio::process::Command::new("unshare");
    cmd.args(["--pid", "--fork", "--kill-child"]);
    if net {
        cmd.arg("--net");
    }
    cmd.args(["--", "true"])
        .env_clear()
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    matches!(
        tokio::time::timeout(Duration::from_secs(10), cmd.status()).await,
        Ok(Ok(s)) if s.success()
    )
}

/// A shallow checkout of `sha` from the bare repository into `work`.
async fn checkout(bare: &Path, work: &Path, sha: &str) -> Result<(), String> {
    embargo_store::check_sha("sha", sha).map_err(|e| format!("not run: {e}"))?;
    let url = url::Url::from_file_path(bare)
        .map_err(|()| "not run: the fix repository's path is not absolute".to_owned())?;
    let steps: [&[&str]; 3] = [
        &["init", "-q"],
        &[
            "fetch",
            "-q",
            "--no-tags",
            "--depth",
            "1",
            url.as_str(),
            sha,
        ],
        &[
            "-c",
            "advice.detachedHead=false",
            "checkout",
            "-q",
            "--detach",
            "FETCH_HEAD",
        ],
    ];
    for args in steps {
        let ok = local_git(work, args, CHECKOUT_TIME)
            .await
            .is_some_and(|o| o.status.success());
        if !ok {
            return Err(format!(
                "not run: commit {sha} could not be checked out from the fix repository"
            ));
        }
    }
    Ok(())
}

/// Runs `argv` in `dir` with only `PATH` and `HOME`, its output (stdout and stderr
/// together) bounded, killing its process group when `limit` passes.
async fn run_limited(
    argv: &[OsString],
    dir: &Path,
    home: &Path,
    limit: Duration,
) -> Result<(FixState, String, Option<i64>), String> {
    let (program, args) = argv.split_first().ok_or("not run: no command")?;
    let (reader, writer) = std::io::pipe().map_err(|e| format!("not run: {e}"))?;
    let writer2 = writer.try_clone().map_err(|e| format!("not run: {e}"))?;
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("HOME", home)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(writer)
        .stderr(writer2)
        .process_group(0)
        .kill_on_drop(true);
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("not run: cannot start it: {e}"))?;
    // The parent's ends of the pipe close with the command, so the reader sees the end.
    drop(cmd);
    let group = child.id();
    let collected = tokio::task::spawn_blocking(move || collect(reader));
    let started = Instant::now();
    let (status, timed_out) = match tokio::time::timeout(limit, child.wait()).await {
        Ok(s) => (s.ok(), false),
        Err(_) => {
            if let Some(pid) = group {
                // Killing unshare ends every process in the check's PID namespace.
                let _ = tokio::process::Command::new("kill")
                    .args(["-KILL", "--", &format!("-{pid}")])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .await;
            }
            (child.wait().await.ok(), true)
        }
    };
    // Output still held open by a process that escaped is given a moment, not forever.
    let mut output = match tokio::time::timeout(Duration::from_secs(5), collected).await {
        Ok(Ok(o)) => o,
        _ => String::from("[Embargo: the output could not be read to its end]\n"),
    };
    let secs = started.elapsed().as_secs();
    if timed_out {
        output.push_str(&format!(
            "\n[Embargo: stopped after the time limit of {} seconds]\n",
            limit.as_secs()
        ));
        return Ok((FixState::Failure, output, None));
    }
    let code = status.and_then(|s| s.code());
    output.push_str(&format!(
        "\n[Embargo: {} after {secs} seconds]\n",
        match code {
            Some(0) => "passed".to_owned(),
            Some(c) => format!("exit status {c}"),
            None => "stopped by a signal".to_owned(),
        }
    ));
    let state = if code == Some(0) {
        FixState::Success
    } else {
        FixState::Failure
    };
    Ok((state, output, code.map(i64::from)))
}

/// Reads all of a check's output, keeping its start and its end within the limit.
fn collect(mut reader: std::io::PipeReader) -> String {
    let limit = embargo_store::FIX_OUTPUT_LIMIT;
    let head_max = limit / 4;
    let tail_max = limit - head_max;
    let mut head: Vec<u8> = Vec::new();
    let mut tail: std::collections::VecDeque<u8> = std::collections::VecDeque::new();
    let mut dropped: u64 = 0;
    let mut buf = [0u8; 8192];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for &b in buf.iter().take(n) {
            if head.len() < head_max {
                head.push(b);
            } else {
                tail.push_back(b);
                if tail.len() > tail_max {
                    tail.pop_front();
                    dropped += 1;
                }
            }
        }
    }
    let mut text = String::from_utf8_lossy(&head).into_owned();
    if dropped > 0 {
        text.push_str(&format!("\n[... {dropped} bytes left out ...]\n"));
    }
    text.push_str(&String::from_utf8_lossy(
        &tail.into_iter().collect::<Vec<u8>>(),
    ));
    embargo_store::bounded_check_output(&text)
}

/// The job `fix_upstream_push`: pushes the fix branches to the upstream named in the
/// repository's settings, through the network rule, with the sealed credentials; records
/// the result without git's text (which may hold addresses or credentials).
pub async fn run_upstream_push(cx: Context<'_>, push: i64) -> Result<(), String> {
    let s = cx.store;
    let e = |e: embargo_store::StoreError| e.to_string();
    let Some(job) = s.upstream_push_job(push).await.map_err(e)? else {
        return Ok(());
    };
    let Some(config) = cx.config else {
        return Err("the upstream push needs the server's settings (its data folder)".into());
    };
    let (ok, detail) =
        push_to_upstream(cx, &repo_path(&config.data_dir, &job.advisory_id), &job).await;
    if !ok {
        tracing::warn!(push, detail = %detail, "pushing a fix to its upstream failed");
    }
    s.finish_upstream_push(push, ok, &detail).await.map_err(e)
}

async fn push_to_upstream(
    cx: Context<'_>,
    bare: &Path,
    job: &embargo_store::UpstreamPushJob,
) -> (bool, String) {
    if !bare.is_dir() {
        return (false, "not pushed: the fix repository is gone".into());
    }
    if job.refs.is_empty() {
        return (false, "not pushed: there is no fix branch".into());
    }
    let checked = match cx.network.check_url(&job.url).await {
        Ok(c) => c,
        Err(e) => {
            let why = match e {
                NetError::Refused => {
                    "the push address must be an https:// address on a public host (an administrator can allow others with [network] allow)"
                }
                NetError::NotPublic | NetError::Unresolved => {
                    "the push address's host name does not resolve to a public address"
                }
                NetError::Missing => "the push address's path does not exist",
            };
            return (false, format!("not pushed: {why}"));
        }
    };
    let limits = crate::upstream_git::Limits {
        time: PUSH_TIME,
        bytes: crate::upstream_git::FETCH_BYTES,
    };
    let (_dir, git) =
        match crate::upstream_git::session(&checked, Instant::now() + PUSH_TIME, limits) {
            Ok(x) => x,
            Err(e) => return (false, format!("not pushed: {e}")),
        };
    let (git, remote) = match (&checked, &job.credentials) {
        (Checked::Remote(r), Some((user, password))) => {
            let mut u = r.url.clone();
            if u.set_username(user).is_err() || u.set_password(Some(password)).is_err() {
                return (
                    false,
                    "not pushed: the push address cannot carry credentials".into(),
                );
            }
            (
                git.with_hidden_setting("remote.upstream.url", u.as_str()),
                "upstream".to_owned(),
            )
        }
        _ => {
            let url = git.url.clone();
            (git, url)
        }
    };
    let mut args: Vec<OsString> = vec![
        "-C".into(),
        bare.as_os_str().to_owned(),
        "push".into(),
        "--porcelain".into(),
        remote.into(),
    ];
    args.extend(job.refs.iter().map(|r| OsString::from(format!("{r}:{r}"))));
    let out = match git.run(&args).await {
        Ok(o) => o,
        Err(e) => return (false, format!("not pushed: {e}")),
    };
    let branches: Vec<&str> = job
        .refs
        .iter()
        .map(|r| r.trim_start_matches("refs/heads/"))
        .collect();
    if out.status.success() {
        return (
            true,
            format!("pushed {} to the upstream", branches.join(", ")),
        );
    }
    // Porcelain lines name each ref and git's short reason; nothing else of git's is kept.
    let rejected: Vec<String> = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('!'))
        .filter_map(|l| {
            let mut parts = l.split('\t');
            let _flag = parts.next();
            let spec = parts.next()?;
            let reason = parts.next().unwrap_or("rejected");
            let branch = spec
                .split(':')
                .nth(1)
                .unwrap_or(spec)
                .trim_start_matches("refs/heads/");
            let reason: String = reason
                .chars()
                .filter(|c| !c.is_control())
                .take(200)
                .collect();
            Some(format!("{branch}: {reason}"))
        })
        .collect();
    if rejected.is_empty() {
        (
            false,
            "not pushed: the upstream could not be reached or refused the credentials; check the push address and credentials in the repository's fix settings".into(),
        )
    } else {
        (
            false,
            format!("not pushed: the upstream rejected {}", rejected.join("; ")),
        )
    }
}

/// The recurring job `fix_retention`: removes each fix repository whose advisory has been
/// published, withdrawn or closed for the repository's retention days, and records it.
pub async fn run_retention(cx: Context<'_>) -> Result<usize, String> {
    let Some(config) = cx.config else {
        return Ok(0);
    };
    let root = config.data_dir.join("fix");
    let Ok(entries) = std::fs::read_dir(&root) else {
        return Ok(0);
    };
    let now = cx.store.now();
    let mut removed = 0;
    for entry in entries.flatten().take(10_000) {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(id) = name.strip_suffix(".git") else {
            continue;
        };
        if AdvisoryId::parse(id).is_err() || !entry.path().is_dir() {
            continue;
        }
        match cx
            .store
            .fix_retention(id)
            .await
            .map_err(|e| e.to_string())?
        {
            FixRetention::Until(t) if t <= now => {
                std::fs::remove_dir_all(entry.path())
                    .map_err(|e| format!("removing a fix repository failed: {e}"))?;
                cx.store
                    .record_fix_removal(id)
                    .await
                    .map_err(|e| e.to_string())?;
                removed += 1;
            }
            _ => {}
        }
    }
    Ok(removed)
}

/// The advisory page's part about the fix's checks: each fix branch head's statuses, the
/// check runs with their output (escaped by the template), the upstream pushes and the
/// removal, rendered as HTML for a caller the page found may fetch the fix
/// (`Permissions::can_fetch_fix`); empty otherwise. The repository section includes it
/// with `|safe` (everything in it was escaped here).
pub async fn section_html(
    state: &AppState,
    actor: Actor,
    id: &AdvisoryId,
) -> Result<String, AppError> {
    use askama::Template;
    if state
        .store
        .fix_decided(actor, id, Action::FetchFix)
        .await
        .is_err()
    {
        return Ok(String::new());
    }
    let bare = repo_path(&state.config.data_dir, id.as_str());
    let part = FixChecksPart {
        branches: branch_checks(state, id).await?,
        runs: state
            .store
            .check_runs_of(id)
            .await?
            .into_iter()
            .take(20)
            .collect(),
        pushes: state.store.upstream_pushes(None, id).await?,
        removed_at: state
            .store
            .fix_removed_at(id)
            .await?
            .map(embargo_domain::embargo::format_instant)
            .unwrap_or_default(),
    };
    let nothing = !bare.is_dir()
        && part.runs.is_empty()
        && part.pushes.is_empty()
        && part.removed_at.is_empty();
    if nothing {
        return Ok(String::new());
    }
    part.render()
        .map_err(|e| AppError::internal(&format!("template: {e}")))
}

#[derive(askama::Template)]
#[template(path = "fix_checks.html")]
struct FixChecksPart {
    branches: Vec<BranchChecks>,
    runs: Vec<embargo_store::CheckRun>,
    pushes: Vec<embargo_store::UpstreamPush>,
    removed_at: String,
}
