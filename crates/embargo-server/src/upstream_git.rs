//! Runs the real `git` client against a repository's upstream, only where the network rule
//! ([`crate::net`]) allows it: what reading CODEOWNERS ([`crate::codeowners`]) and listing
//! release tags ([`list_tags`]) share.
//!
//! The address is checked as it is used: a host name is resolved and each address checked,
//! then git is pinned to those addresses (`http.curloptResolve`), so DNS cannot send it
//! elsewhere; https only (http or `file` only where an administrator allows the host or
//! path), no redirects, prompts, credential helpers, proxies, nor the user's or system's git
//! settings; within a time limit, killing git's whole process group when its folder (or its
//! output) outgrows a size limit. Errors say what to check, never git's text or the address a
//! name resolved to (they are logged).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use axum::http::StatusCode;
use embargo_domain::types::Upstream;
use tokio::time::Instant;

use crate::error::AppError;
use crate::net::{Checked, NetError, NetworkPolicy};

/// How long reading an upstream may take, all steps together.
pub const FETCH_TIME: Duration = Duration::from_secs(60);
/// How large the clone may grow before git is stopped.
pub const FETCH_BYTES: u64 = 64 * 1024 * 1024;
/// Limits of one fetch.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub time: Duration,
    pub bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            time: FETCH_TIME,
            bytes: FETCH_BYTES,
        }
    }
}

/// Why the upstream's CODEOWNERS could not be read, in words for whoever set the upstream.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    #[error(
        "could not read the upstream: it must be an https:// address on a public host; set it again, or ask an administrator to allow it with [network] allow"
    )]
    Refused,
    #[error(
        "could not read the upstream: check that the address is right and that its host name resolves to a public address"
    )]
    Unreachable,
    #[error(
        "could not read the upstream: no answer within {0} seconds; check the address and that its host is up"
    )]
    TimedOut(u64),
    #[error(
        "could not read the upstream: fetching it went past {0} MiB; check that the address is the repository's"
    )]
    TooLarge(u64),
    #[error(
        "could not read the upstream: check the address, that the repository exists and that it can be read without signing in"
    )]
    Failed,
    #[error("the upstream has no CODEOWNERS in .github/, the root or docs/")]
    NoCodeowners,
    #[error("the upstream's {0} is larger than 3 MiB or is not text")]
    Unreadable(&'static str),
    /// Not the upstream's fault: no temporary folder, no git.
    #[error("{0}")]
    Local(String),
}

impl From<NetError> for FetchError {
    fn from(e: NetError) -> Self {
        match e {
            NetError::Refused => Self::Refused,
            // The same words whether the name did not resolve or resolved to a private
            // address: the answer must not map the server's network.
            NetError::NotPublic | NetError::Unresolved => Self::Unreachable,
            NetError::Missing => Self::Failed,
        }
    }
}

impl From<FetchError> for AppError {
    fn from(e: FetchError) -> Self {
        match e {
            FetchError::Local(detail) => AppError::internal(&detail),
            e => AppError {
                field: Some("upstream".into()),
                ..AppError::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", e.to_string())
            },
        }
    }
}

/// A temporary folder with a `home` for git, and git set up for one checked address.
pub(crate) fn session(
    checked: &Checked,
    deadline: Instant,
    limits: Limits,
) -> Result<(tempfile::TempDir, Git), FetchError> {
    let dir =
        tempfile::tempdir().map_err(|e| FetchError::Local(format!("no temporary folder: {e}")))?;
    let home = dir.path().join("home");
    std::fs::create_dir(&home)
        .map_err(|e| FetchError::Local(format!("no temporary folder: {e}")))?;
    let git = Git::new(checked, home, dir.path().to_owned(), deadline, limits)?;
    Ok((dir, git))
}

/// The upstream's tag names (`git ls-remote --tags --refs`), peeled tags left out.
pub async fn list_tags(
    network: &NetworkPolicy,
    upstream: &Upstream,
    limits: Limits,
) -> Result<Vec<String>, FetchError> {
    let deadline = Instant::now() + limits.time;
    let checked = network.check_url(upstream.as_str()).await?;
    list_checked_tags(&checked, upstream, deadline, limits).await
}

/// [`list_tags`] once the address is checked.
pub(crate) async fn list_checked_tags(
    checked: &Checked,
    upstream: &Upstream,
    deadline: Instant,
    limits: Limits,
) -> Result<Vec<String>, FetchError> {
    let (_dir, git) = session(checked, deadline, limits)?;
    let out = git
        .run(&[
            "ls-remote".into(),
            "--tags".into(),
            "--refs".into(),
            "--".into(),
            git.url.clone().into(),
        ])
        .await?;
    if !out.status.success() {
        tracing::warn!(
            upstream = %upstream,
            git = %first_line(&out.stderr),
            "could not list the upstream's tags"
        );
        return Err(FetchError::Failed);
    }
    if out.stdout.len() as u64 > limits.bytes {
        return Err(FetchError::TooLarge(limits.bytes / (1024 * 1024)));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Ok(text
        .lines()
        .filter_map(|l| l.split_once('\t'))
        .filter_map(|(_, r)| r.strip_prefix("refs/tags/"))
        .map(str::to_owned)
        .collect())
}

/// Runs git against one checked address: its settings, environment and limits.
pub(crate) struct Git {
    /// `-c` settings before every command.
    settings: Vec<OsString>,
    env: Vec<(&'static str, OsString)>,
    /// What git is given as the remote.
    pub(crate) url: String,
    /// Watched for size.
    dir: PathBuf,
    deadline: Instant,
    limits: Limits,
}

impl Git {
    pub(crate) fn new(
        checked: &Checked,
        home: PathBuf,
        dir: PathBuf,
        deadline: Instant,
        limits: Limits,
    ) -> Result<Self, FetchError> {
        let (protocol, url, pin) = match checked {
            Checked::Local(path) => {
                let url = url::Url::from_file_path(path)
                    .map_err(|()| FetchError::Refused)?
                    .to_string();
                ("file", url, None)
            }
            Checked::Remote(r) => {
                let pin = r.name.as_ref().map(|name| {
                    let addrs: Vec<String> = r
                        .addrs
                        .iter()
                        .map(|a| match a {
                            std::net::IpAddr::V4(v4) => v4.to_string(),
                            std::net::IpAddr::V6(v6) => format!("[{v6}]"),
                        })
                        .collect();
                    format!("{name}:{}:{}", r.port, addrs.join(","))
                });
                let protocol = if r.url.scheme() == "http" {
                    "http"
                } else {
                    "https"
                };
                (protocol, r.url.to_string(), pin)
            }
        };
        let mut settings: Vec<String> = vec![
            "protocol.allow=never".into(),
            format!("protocol.{protocol}.allow=always"),
            "http.followRedirects=false".into(),
            // Give up on a connection that stalls.
            "http.lowSpeedLimit=1024".into(),
            "http.lowSpeedTime=20".into(),
            "credential.helper=".into(),
            "core.askPass=true".into(),
            "core.hooksPath=/dev/null".into(),
            "core.fsmonitor=false".into(),
        ];
        if let Some(pin) = pin {
            // Every request for this host and port goes to the addresses checked, and no DNS
            // answer is asked again.
            settings.push(format!("http.curloptResolve={pin}"));
        }
        let settings = settings
            .into_iter()
            .flat_map(|s| [OsString::from("-c"), OsString::from(s)])
            .collect();
        let mut env: Vec<(&'static str, OsString)> = vec![
            (
                "PATH",
                std::env::var_os("PATH").unwrap_or_else(|| "/usr/local/bin:/usr/bin:/bin".into()),
            ),
            ("HOME", home.into_os_string()),
            ("GIT_CONFIG_NOSYSTEM", "1".into()),
            ("GIT_CONFIG_GLOBAL", "/dev/null".into()),
            ("GIT_TERMINAL_PROMPT", "0".into()),
            ("GIT_ALLOW_PROTOCOL", protocol.into()),
            ("LC_ALL", "C".into()),
        ];
        // Certificate authorities the operator chose still apply.
        for var in [
            "SSL_CERT_FILE",
            "SSL_CERT_DIR",
            "GIT_SSL_CAINFO",
            "GIT_SSL_CAPATH",
        ] {
            if let Some(v) = std::env::var_os(var) {
                env.push((var, v));
            }
        }
        Ok(Self {
            settings,
            env,
            url,
            dir,
            deadline,
            limits,
        })
    }

    /// Gives git one more setting through its environment (`GIT_CONFIG_KEY_0`), not its
    /// command line, which the machine's other users can read: for a URL with credentials.
    pub(crate) fn with_hidden_setting(mut self, key: &str, value: &str) -> Self {
        self.env.push(("GIT_CONFIG_COUNT", "1".into()));
        self.env.push(("GIT_CONFIG_KEY_0", key.into()));
        self.env.push(("GIT_CONFIG_VALUE_0", value.into()));
        self
    }

    /// Runs `git ARGS` in its own process group, killing the whole group when the deadline
    /// passes or the folder outgrows the limit.
    pub(crate) async fn run(&self, args: &[OsString]) -> Result<std::process::Output, FetchError> {
        let mut cmd = tokio::process::Command::new("git");
        cmd.env_clear()
            .envs(self.env.iter().map(|(k, v)| (k, v)))
            .args(&self.settings)
            .args(args)
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0)
            .kill_on_drop(true);
        let child = cmd
            .spawn()
            .map_err(|e| FetchError::Local(format!("cannot run git: {e}")))?;
        let group = child.id();
        let out = child.wait_with_output();
        tokio::pin!(out);
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        let stop = loop {
            tokio::select! {
                out = &mut out => {
                    let out = out.map_err(|e| FetchError::Local(format!("git failed: {e}")))?;
                    // A fast fetch can end between two looks.
                    if dir_size(&self.dir) > self.limits.bytes {
                        return Err(FetchError::TooLarge(self.limits.bytes / (1024 * 1024)));
                    }
                    return Ok(out);
                }
                _ = tokio::time::sleep_until(self.deadline) => {
                    break FetchError::TimedOut(self.limits.time.as_secs());
                }
                _ = tick.tick() => {
                    if dir_size(&self.dir) > self.limits.bytes {
                        break FetchError::TooLarge(self.limits.bytes / (1024 * 1024));
                    }
                }
            }
        };
        // git's helpers (git-remote-https, index-pack) are in the group too.
        if let Some(pid) = group {
            let _ = tokio::process::Command::new("kill")
                .args(["-KILL", "--", &format!("-{pid}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .await;
        }
        Err(stop)
    }
}

/// The bytes of the files under `dir`.
fn dir_size(dir: &Path) -> u64 {
    let mut total = 0;
    let mut todo = vec![dir.to_owned()];
    while let Some(d) = todo.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            match e.metadata() {
                Ok(m) if m.is_dir() => todo.push(e.path()),
                Ok(m) => total += m.len(),
                Err(_) => {}
            }
        }
    }
    total
}

pub(crate) fn first_line(stderr: &[u8]) -> String {
    String::from_utf8_lossy(stderr)
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message")
        .chars()
        .take(300)
        .collect()
}
