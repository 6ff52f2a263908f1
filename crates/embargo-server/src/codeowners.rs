//! Reads a repository's CODEOWNERS from its upstream with the real `git` client: a shallow
//! clone into a temporary folder, no prompts, no remote helpers, a time limit.

use std::time::Duration;

use embargo_domain::codeowners::{LOCATIONS, Owner, owners};
use embargo_domain::types::Upstream;

/// How long a fetch may take.
const FETCH_LIMIT: Duration = Duration::from_secs(60);

/// The owners in the upstream's CODEOWNERS, and tokens that are not owners. The error says
/// what went wrong in words an operator can act on.
pub async fn fetch_owners(upstream: &Upstream) -> Result<(Vec<Owner>, Vec<String>), String> {
    let dir = tempfile::tempdir().map_err(|e| format!("no temporary folder: {e}"))?;
    let target = dir.path().join("repo");
    let mut cmd = tokio::process::Command::new("git");
    cmd.args([
        "-c",
        "protocol.ext.allow=never",
        "-c",
        "core.askPass=true",
        "clone",
        "--depth",
        "1",
        "--quiet",
        "--no-tags",
        "--",
    ])
    .arg(upstream.as_str())
    .arg(&target)
    .env("GIT_TERMINAL_PROMPT", "0")
    .env("GIT_SSH_COMMAND", "ssh -o BatchMode=yes")
    .stdin(std::process::Stdio::null())
    .stdout(std::process::Stdio::null())
    .stderr(std::process::Stdio::piped())
    .kill_on_drop(true);
    let child = cmd.spawn().map_err(|e| format!("cannot run git: {e}"))?;
    let out = tokio::time::timeout(FETCH_LIMIT, child.wait_with_output())
        .await
        .map_err(|_| {
            format!(
                "fetching {upstream} took longer than {} seconds",
                FETCH_LIMIT.as_secs()
            )
        })?
        .map_err(|e| format!("git failed: {e}"))?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let first = err
            .lines()
            .find(|l| !l.trim().is_empty())
            .unwrap_or("no message");
        return Err(format!("git could not fetch {upstream}: {first}"));
    }
    for loc in LOCATIONS {
        let path = target.join(loc);
        if let Ok(meta) = std::fs::metadata(&path) {
            if meta.len() > 3 * 1024 * 1024 {
                return Err(format!("{loc} is larger than 3 MiB"));
            }
            let text =
                std::fs::read_to_string(&path).map_err(|e| format!("cannot read {loc}: {e}"))?;
            return Ok(owners(&text));
        }
    }
    Err(format!(
        "{upstream} has no CODEOWNERS in .github/, the root or docs/"
    ))
}
