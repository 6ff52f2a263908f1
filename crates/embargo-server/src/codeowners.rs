//! Reads a repository's CODEOWNERS from its upstream with the real `git` client, only where
//! the network rule ([`crate::net`]) allows it.
//!
//! The address is checked as it is used: a host name is resolved and each address checked,
//! then git is pinned to those addresses (`http.curloptResolve`), so DNS cannot send it
//! elsewhere; https only (http or `file` only where an administrator allows the host or
//! path), no redirects, prompts, credential helpers, proxies, nor the user's or system's git
//! settings. It fetches one commit's trees without file contents, then the one CODEOWNERS
//! blob, within a time limit, killing git when its folder outgrows a size limit. Errors say
//! what to check, never git's text or the address a name resolved to (they are logged).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use axum::http::StatusCode;
use embargo_domain::FieldError;
use embargo_domain::access::{Actor, OrgAction};
use embargo_domain::codeowners::{LOCATIONS, Owner, owners};
use embargo_domain::types::{Slug, Upstream};
use embargo_store::{Store, SyncReport};
use tokio::time::Instant;

use crate::config::Config;
use crate::error::AppError;
use crate::net::{Checked, NetError, NetworkPolicy};

/// How long reading an upstream may take, all steps together.
pub const FETCH_TIME: Duration = Duration::from_secs(60);
/// How large the clone may grow before git is stopped.
pub const FETCH_BYTES: u64 = 64 * 1024 * 1024;
/// The largest CODEOWNERS read.
const CODEOWNERS_BYTES: u64 = 3 * 1024 * 1024;

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

/// Refuses an upstream that the network rule would never reach, as it is set.
pub fn check_new_upstream(config: &Config, upstream: &Upstream) -> Result<(), AppError> {
    network(config)?
        .permits(upstream.as_str())
        .map_err(|e| AppError::invalid(FieldError::new("upstream", e.to_string())))
}

fn network(config: &Config) -> Result<NetworkPolicy, AppError> {
    config
        .network_policy()
        .map_err(|e| AppError::internal(&e.to_string()))
}

/// Reads the repository's CODEOWNERS from its upstream and makes its owners maintainers.
/// The caller's right is checked before anything is fetched, and again when applying.
pub async fn sync_maintainers(
    store: &Store,
    config: &Config,
    actor: Actor,
    org: &Slug,
    repo: &Slug,
) -> Result<SyncReport, AppError> {
    store
        .check_org_action(actor, org, OrgAction::ManageRepos)
        .await?;
    let upstream = store.upstream(org, repo).await?.ok_or_else(|| {
        AppError::invalid(FieldError::new(
            "upstream",
            "the repository has no upstream; set one first (PATCH .../repos/{repo} {\"upstream\": ...})",
        ))
    })?;
    let (owners, invalid) = read_owners(&network(config)?, &upstream, Limits::default()).await?;
    let mut report = store.apply_codeowners(actor, org, repo, &owners).await?;
    report.unknown.extend(invalid);
    Ok(report)
}

/// The owners in the upstream's CODEOWNERS, and tokens that are not owners.
pub async fn read_owners(
    network: &NetworkPolicy,
    upstream: &Upstream,
    limits: Limits,
) -> Result<(Vec<Owner>, Vec<String>), FetchError> {
    let deadline = Instant::now() + limits.time;
    let checked = network.check_url(upstream.as_str()).await?;
    read_checked(&checked, upstream, deadline, limits).await
}

/// [`read_owners`] once the address is checked.
async fn read_checked(
    checked: &Checked,
    upstream: &Upstream,
    deadline: Instant,
    limits: Limits,
) -> Result<(Vec<Owner>, Vec<String>), FetchError> {
    let dir =
        tempfile::tempdir().map_err(|e| FetchError::Local(format!("no temporary folder: {e}")))?;
    let home = dir.path().join("home");
    std::fs::create_dir(&home)
        .map_err(|e| FetchError::Local(format!("no temporary folder: {e}")))?;
    let target = dir.path().join("repo");
    let git = Git::new(checked, home, dir.path().to_owned(), deadline, limits)?;

    let out = git
        .run(&[
            "clone".into(),
            "--quiet".into(),
            "--no-tags".into(),
            "--single-branch".into(),
            "--depth=1".into(),
            "--no-checkout".into(),
            // Trees only; the one blob wanted comes after (servers without partial clone
            // send everything, which the size limit bounds).
            "--filter=blob:none".into(),
            "--".into(),
            git.url.clone().into(),
            target.clone().into(),
        ])
        .await?;
    if !out.status.success() {
        tracing::warn!(
            upstream = %upstream,
            git = %first_line(&out.stderr),
            "could not clone the upstream"
        );
        return Err(FetchError::Failed);
    }

    let mut listing: Vec<OsString> = vec!["-C".into(), target.clone().into()];
    listing.extend(["ls-tree", "-z", "HEAD", "--"].map(OsString::from));
    listing.extend(LOCATIONS.map(OsString::from));
    let out = git.run(&listing).await?;
    if !out.status.success() {
        // An empty repository has no HEAD.
        return Err(FetchError::NoCodeowners);
    }
    let tree = String::from_utf8_lossy(&out.stdout);
    let found = LOCATIONS.iter().find_map(|loc| {
        tree.split('\0').find_map(|entry| {
            let (meta, path) = entry.split_once('\t')?;
            let mut meta = meta.split(' ');
            let (mode, kind, oid) = (meta.next()?, meta.next()?, meta.next()?);
            // A symbolic link's blob is its target's name, not owners.
            (path == *loc && kind == "blob" && (mode == "100644" || mode == "100755"))
                .then(|| (*loc, oid.to_owned()))
        })
    });
    let Some((loc, oid)) = found else {
        return Err(FetchError::NoCodeowners);
    };

    // Fetches the blob when the clone left it out, through the same pinned connection.
    let size = git
        .run(&[
            "-C".into(),
            target.clone().into(),
            "cat-file".into(),
            "-s".into(),
            oid.clone().into(),
        ])
        .await?;
    if !size.status.success() {
        tracing::warn!(
            upstream = %upstream,
            git = %first_line(&size.stderr),
            "could not fetch the upstream's CODEOWNERS"
        );
        return Err(FetchError::Failed);
    }
    let bytes: u64 = String::from_utf8_lossy(&size.stdout)
        .trim()
        .parse()
        .map_err(|_| FetchError::Failed)?;
    if bytes > CODEOWNERS_BYTES {
        return Err(FetchError::Unreadable(loc));
    }
    let blob = git
        .run(&[
            "-C".into(),
            target.into(),
            "cat-file".into(),
            "blob".into(),
            oid.into(),
        ])
        .await?;
    if !blob.status.success() {
        return Err(FetchError::Failed);
    }
    let text = String::from_utf8(blob.stdout).map_err(|_| FetchError::Unreadable(loc))?;
    Ok(owners(&text))
}

/// Runs git against one checked address: its settings, environment and limits.
struct Git {
    /// `-c` settings before every command.
    settings: Vec<OsString>,
    env: Vec<(&'static str, OsString)>,
    /// What git is given as the remote.
    url: String,
    /// Watched for size.
    dir: PathBuf,
    deadline: Instant,
    limits: Limits,
}

impl Git {
    fn new(
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

    /// Runs `git ARGS` in its own process group, killing the whole group when the deadline
    /// passes or the folder outgrows the limit.
    async fn run(&self, args: &[OsString]) -> Result<std::process::Output, FetchError> {
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

fn first_line(stderr: &[u8]) -> String {
    String::from_utf8_lossy(stderr)
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("no message")
        .chars()
        .take(300)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    use super::*;
    use crate::net::Remote;

    fn git(dir: &Path, args: &[&str]) {
        let out = std::process::Command::new("git")
            .args(["-c", "user.name=T", "-c", "user.email=t@example.org"])
            .args([
                "-c",
                "init.defaultBranch=main",
                "-c",
                "commit.gpgsign=false",
            ])
            .args(args)
            .current_dir(dir)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn policy(allow: &[&str]) -> NetworkPolicy {
        NetworkPolicy::new(&allow.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[tokio::test]
    async fn git_connects_to_the_checked_address_only() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(AtomicUsize::new(0));
        let counter = seen.clone();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                counter.fetch_add(1, Ordering::SeqCst);
                let _ = s
                    .write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    )
                    .await;
            }
        });
        // A name no DNS answers: git reaches the server only through the pinned address.
        let url = format!("http://pinned.invalid:{port}/x.git");
        let checked = Checked::Remote(Remote {
            url: url::Url::parse(&url).unwrap(),
            name: Some("pinned.invalid".into()),
            port,
            addrs: vec![std::net::IpAddr::from([127, 0, 0, 1])],
        });
        let upstream = Upstream::parse(&url).unwrap();
        let r = read_checked(
            &checked,
            &upstream,
            Instant::now() + FETCH_TIME,
            Limits::default(),
        )
        .await;
        assert!(matches!(r, Err(FetchError::Failed)), "{r:?}");
        assert!(
            seen.load(Ordering::SeqCst) >= 1,
            "git connected to the pinned address"
        );
    }

    #[tokio::test]
    async fn a_silent_server_is_given_up_with_all_of_git() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let (s, _) = listener.accept().await.unwrap();
            let _ = tx.send(s);
            std::future::pending::<()>().await;
        });
        let upstream = Upstream::parse(&format!("http://127.0.0.1:{port}/x.git")).unwrap();
        let limits = Limits {
            time: Duration::from_secs(2),
            ..Limits::default()
        };
        let started = std::time::Instant::now();
        let r = read_owners(&policy(&[&format!("127.0.0.1:{port}")]), &upstream, limits).await;
        assert!(matches!(r, Err(FetchError::TimedOut(2))), "{r:?}");
        assert!(started.elapsed() < Duration::from_secs(5));
        // The connection was git-remote-http's: it closes because that helper was killed too.
        let mut sock = rx.await.unwrap();
        let closed = tokio::time::timeout(Duration::from_secs(3), async {
            let mut buf = [0u8; 4096];
            while sock.read(&mut buf).await.is_ok_and(|n| n > 0) {}
        })
        .await;
        assert!(closed.is_ok(), "git's helper still holds the connection");
    }

    #[tokio::test]
    async fn a_large_upstream_is_stopped() {
        let root = tempfile::tempdir().unwrap();
        let repo = root.path().join("big");
        std::fs::create_dir(&repo).unwrap();
        git(&repo, &["init", "-q"]);
        std::fs::write(repo.join("CODEOWNERS"), "* @alice\n").unwrap();
        // 2 MiB that do not compress.
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let noise: Vec<u8> = (0..2 * 1024 * 1024)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        std::fs::write(repo.join("noise.bin"), noise).unwrap();
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", "big"]);
        let allow = policy(&[root.path().to_str().unwrap()]);
        let upstream = Upstream::parse(repo.to_str().unwrap()).unwrap();

        let small = Limits {
            bytes: 512 * 1024,
            ..Limits::default()
        };
        let r = read_owners(&allow, &upstream, small).await;
        assert!(matches!(r, Err(FetchError::TooLarge(_))), "{r:?}");
        let (owners, _) = read_owners(&allow, &upstream, Limits::default())
            .await
            .unwrap();
        assert_eq!(owners.len(), 1);
    }

    #[tokio::test]
    async fn a_codeowners_link_is_not_followed() {
        let root = tempfile::tempdir().unwrap();
        let repo = root.path().join("linked");
        std::fs::create_dir(&repo).unwrap();
        git(&repo, &["init", "-q"]);
        std::fs::write(root.path().join("secret"), "* @leaked-from-the-server\n").unwrap();
        std::os::unix::fs::symlink(root.path().join("secret"), repo.join("CODEOWNERS")).unwrap();
        git(&repo, &["add", "-A"]);
        git(&repo, &["commit", "-q", "-m", "link"]);
        let allow = policy(&[root.path().to_str().unwrap()]);
        let upstream = Upstream::parse(repo.to_str().unwrap()).unwrap();
        let r = read_owners(&allow, &upstream, Limits::default()).await;
        assert!(matches!(r, Err(FetchError::NoCodeowners)), "{r:?}");
    }
}
