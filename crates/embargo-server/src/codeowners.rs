//! Reads a repository's CODEOWNERS from its upstream with the real `git` client, only where
//! the network rule ([`crate::net`]) allows it, under the protections of
//! [`crate::upstream_git`]. It fetches one commit's trees without file contents, then the one
//! CODEOWNERS blob.

use std::ffi::OsString;

use embargo_domain::FieldError;
use embargo_domain::access::{Actor, OrgAction};
use embargo_domain::codeowners::{LOCATIONS, Owner, owners};
use embargo_domain::types::{Slug, Upstream};
use embargo_store::{Store, SyncReport};
use tokio::time::Instant;

use crate::config::Config;
use crate::error::AppError;
use crate::net::{Checked, NetworkPolicy};
pub use crate::upstream_git::{FETCH_BYTES, FETCH_TIME, FetchError, Limits};
use crate::upstream_git::{first_line, session};

/// The largest CODEOWNERS read.
const CODEOWNERS_BYTES: u64 = 3 * 1024 * 1024;

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
    let (dir, git) = session(checked, deadline, limits)?;
    let target = dir.path().join("repo");

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

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::time::Duration;

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
