//! Where Embargo may connect: the one rule every outgoing connection obeys (repository
//! upstreams now; webhooks, CVE Services and mail servers as they come).
//!
//! By default only `https://` to public addresses. The settings' `[network] allow` names what
//! an administrator trusts besides: a `host` or `host:port` may be reached at any address and
//! over `http://` too, a path prefix (`/srv/git`) allows local repositories under it.
//! A host name is resolved here and every address it gives is checked; the caller then
//! connects only to the addresses returned in [`Remote`], so a name that resolves elsewhere a
//! moment later (DNS rebinding) reaches nothing that was not checked.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Component, Path, PathBuf};
use std::time::Duration;

use url::{Host, Url};

/// How long a name may take to resolve.
const RESOLVE_LIMIT: Duration = Duration::from_secs(10);

/// What outgoing connections may reach, built from `[network] allow`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NetworkPolicy {
    hosts: Vec<AllowedHost>,
    paths: Vec<PathBuf>,
}

/// A listed host (its canonical form, as [`Host`] prints it), on one port or on any.
#[derive(Debug, Clone, PartialEq, Eq)]
struct AllowedHost {
    host: String,
    port: Option<u16>,
}

/// Why a connection is refused. The text is what the person who gave the address reads: it
/// never says what a name resolved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum NetError {
    /// Not `https://` on a public host, nor allowed by the settings; decided without the
    /// network.
    #[error(
        "must be an https:// address on a public host (an administrator can allow other hosts and local paths with [network] allow)"
    )]
    Refused,
    /// The host name resolves to an address that is not public.
    #[error("its host name does not resolve to a public address")]
    NotPublic,
    /// The host name does not resolve.
    #[error("its host name does not resolve")]
    Unresolved,
    /// The local path (under an allowed prefix) does not exist.
    #[error("the path does not exist")]
    Missing,
}

/// Where a checked address leads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// A server, to be reached at the checked addresses only.
    Remote(Remote),
    /// A local path under an allowed prefix, symbolic links resolved.
    Local(PathBuf),
}

/// A checked server address.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// The address as the caller must use it: normalised, so that the client reads the same
    /// host as this check did.
    pub url: Url,
    /// The host name to pin to `addrs`; `None` when the host is an address itself.
    pub name: Option<String>,
    pub port: u16,
    /// Every address the name resolved to (at least one), each checked.
    pub addrs: Vec<IpAddr>,
}

/// What the address names, before any resolution.
enum Target {
    Remote {
        url: Url,
        host: Host<String>,
        port: u16,
        listed: bool,
    },
    Local(PathBuf),
}

impl NetworkPolicy {
    /// Reads the `allow` entries: `host`, `host:port`, `[ipv6]:port` or an absolute path
    /// prefix. The error names the entry that is not one of these.
    pub fn new(allow: &[String]) -> Result<Self, String> {
        let mut policy = Self::default();
        for entry in allow.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            if entry.starts_with('/') {
                let path = clean_path(Path::new(entry)).ok_or_else(|| {
                    format!("'{entry}' is not an absolute path without '..' in it")
                })?;
                policy.paths.push(path);
            } else {
                policy.hosts.push(parse_host_entry(entry).ok_or_else(|| {
                    format!(
                        "'{entry}' is not a host, host:port or path (such as git.example.org, 127.0.0.1:3000 or /srv/git)"
                    )
                })?);
            }
        }
        Ok(policy)
    }

    /// Whether `address` may be used at all, without resolving it: for refusing an address
    /// when it is given. Connecting needs [`NetworkPolicy::check_url`].
    pub fn permits(&self, address: &str) -> Result<(), NetError> {
        self.target(address).map(|_| ())
    }

    /// Checks `address` (an `http(s)://` or `file://` URL, or an absolute path) as it is about
    /// to be used: a host name is resolved and each of its addresses checked.
    pub async fn check_url(&self, address: &str) -> Result<Checked, NetError> {
        match self.target(address)? {
            Target::Local(path) => {
                let real = tokio::fs::canonicalize(&path)
                    .await
                    .map_err(|_| NetError::Missing)?;
                // A symbolic link must not lead out of the allowed folders.
                if self.allows_path(&real, true) {
                    Ok(Checked::Local(real))
                } else {
                    Err(NetError::Refused)
                }
            }
            Target::Remote {
                url,
                host,
                port,
                listed,
            } => resolve_remote(url, host, port, listed).await,
        }
    }

    /// Checks a mail server's address, `imaps://host:port` or `imap://host:port` (993 and 143
    /// when the port is left out), as [`NetworkPolicy::check_url`] checks an `https://` one:
    /// a public host, or one listed in `[network] allow`. Apart from `check_url`, so that no
    /// HTTP caller ever takes these schemes. Whether it may be reached without TLS is
    /// [`NetworkPolicy::lists_remote`].
    pub async fn check_mail_server(&self, address: &str) -> Result<Remote, NetError> {
        match self.mail_target(address)? {
            Target::Remote {
                url,
                host,
                port,
                listed,
            } => match resolve_remote(url, host, port, listed).await? {
                Checked::Remote(r) => Ok(r),
                Checked::Local(_) => Err(NetError::Refused),
            },
            Target::Local(_) => Err(NetError::Refused),
        }
    }

    /// Whether a mail server's address may be used, without resolving it.
    pub fn permits_mail_server(&self, address: &str) -> Result<(), NetError> {
        self.mail_target(address).map(|_| ())
    }

    /// Whether the checked server is listed in `[network] allow` (trusted by the
    /// administrator: it may be reached without TLS).
    pub fn lists_remote(&self, remote: &Remote) -> bool {
        remote
            .url
            .host_str()
            .and_then(|h| Host::parse(h).ok())
            .is_some_and(|h| self.lists(&h, remote.port))
    }

    fn mail_target(&self, address: &str) -> Result<Target, NetError> {
        let url = Url::parse(address.trim()).map_err(|_| NetError::Refused)?;
        let port = match url.scheme() {
            "imaps" => url.port().unwrap_or(993),
            "imap" => url.port().unwrap_or(143),
            _ => return Err(NetError::Refused),
        };
        // These schemes are not "special" to URL parsing: their host is opaque text, so it is
        // parsed here as an http(s) host is (addresses recognised, in every spelling).
        let host =
            Host::parse(url.host_str().ok_or(NetError::Refused)?).map_err(|_| NetError::Refused)?;
        let listed = self.lists(&host, port);
        let literal = match host {
            Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
            Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
            Host::Domain(_) => None,
        };
        if literal.is_some_and(|ip| !listed && !is_public(ip)) {
            return Err(NetError::Refused);
        }
        Ok(Target::Remote {
            url,
            host,
            port,
            listed,
        })
    }

    fn target(&self, address: &str) -> Result<Target, NetError> {
        let address = address.trim();
        if address.starts_with('/') {
            return self.local(Path::new(address));
        }
        let url = Url::parse(address).map_err(|_| NetError::Refused)?;
        match url.scheme() {
            "file" => {
                let path = url.to_file_path().map_err(|_| NetError::Refused)?;
                self.local(&path)
            }
            scheme @ ("https" | "http") => {
                let host = url.host().ok_or(NetError::Refused)?.to_owned();
                let port = url.port_or_known_default().ok_or(NetError::Refused)?;
                let listed = self.lists(&host, port);
                if scheme == "http" && !listed {
                    return Err(NetError::Refused);
                }
                let literal = match host {
                    Host::Ipv4(ip) => Some(IpAddr::V4(ip)),
                    Host::Ipv6(ip) => Some(IpAddr::V6(ip)),
                    Host::Domain(_) => None,
                };
                if literal.is_some_and(|ip| !listed && !is_public(ip)) {
                    return Err(NetError::Refused);
                }
                Ok(Target::Remote {
                    url,
                    host,
                    port,
                    listed,
                })
            }
            _ => Err(NetError::Refused),
        }
    }

    fn local(&self, path: &Path) -> Result<Target, NetError> {
        let path = clean_path(path).ok_or(NetError::Refused)?;
        if self.allows_path(&path, false) {
            Ok(Target::Local(path))
        } else {
            Err(NetError::Refused)
        }
    }

    /// Whether `path` lies under an allowed prefix; `real`: compare with the prefixes'
    /// symbolic links resolved too.
    fn allows_path(&self, path: &Path, real: bool) -> bool {
        self.paths.iter().any(|prefix| {
            if real {
                let prefix = std::fs::canonicalize(prefix).unwrap_or_else(|_| prefix.clone());
                path.starts_with(prefix)
            } else {
                path.starts_with(prefix)
            }
        })
    }

    fn lists(&self, host: &Host<String>, port: u16) -> bool {
        let host = canonical_host(host);
        self.hosts
            .iter()
            .any(|a| a.host == host && a.port.is_none_or(|p| p == port))
    }
}

/// Whether `ip` is an address on the public internet: not loopback, private, link-local,
/// shared (CGNAT), unique-local, multicast, unspecified, reserved, for documentation or
/// benchmarks, nor an IPv6 form of such an IPv4 address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(a == 0 // "this network", unspecified
        || a == 10 // private
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || a == 127 // loopback
        || (a == 169 && b == 254) // link-local
        || (a == 172 && (16..32).contains(&b)) // private
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation (TEST-NET-1)
        || (a == 192 && b == 88 && c == 99) // 6to4 relays
        || (a == 192 && b == 168) // private
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || (a == 198 && b == 51 && c == 100) // documentation (TEST-NET-2)
        || (a == 203 && b == 0 && c == 113) // documentation (TEST-NET-3)
        || a >= 224) // multicast, reserved, broadcast
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let [a, b, c, d, e, f, g, h] = ip.segments();
    let embedded_v4 = || Ipv4Addr::from((u32::from(g) << 16) | u32::from(h));
    // IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) reach an IPv4 address.
    if [a, b, c, d, e, f] == [0, 0, 0, 0, 0, 0xffff]
        || [a, b, c, d, e, f] == [0x64, 0xff9b, 0, 0, 0, 0]
    {
        return is_public_v4(embedded_v4());
    }
    // Only global unicast (2000::/3) is public; :: and ::1, unique-local fc00::/7,
    // link-local fe80::/10, multicast ff00::/8 and the rest lie outside it.
    (a & 0xe000) == 0x2000
        && !(a == 0x2001 && b < 0x0200) // IETF protocol assignments (Teredo among them)
        && !(a == 0x2001 && b == 0x0db8) // documentation
        && a != 0x2002 // 6to4: an IPv4 address inside
        && !(a == 0x3fff && b < 0x1000) // documentation (3fff::/20)
}

/// Resolves a host name (an address is itself) and checks every address it gives.
async fn resolve_remote(
    url: Url,
    host: Host<String>,
    port: u16,
    listed: bool,
) -> Result<Checked, NetError> {
    let (name, addrs) = match host {
        Host::Ipv4(ip) => (None, vec![IpAddr::V4(ip)]),
        Host::Ipv6(ip) => (None, vec![IpAddr::V6(ip)]),
        Host::Domain(name) => {
            let addrs = resolve(&name, port).await?;
            (Some(name), addrs)
        }
    };
    if !listed && !addrs.iter().all(|a| is_public(*a)) {
        return Err(NetError::NotPublic);
    }
    Ok(Checked::Remote(Remote {
        url,
        name,
        port,
        addrs,
    }))
}

/// The addresses `name` resolves to, IPv4-mapped ones as IPv4.
async fn resolve(name: &str, port: u16) -> Result<Vec<IpAddr>, NetError> {
    let found = tokio::time::timeout(RESOLVE_LIMIT, tokio::net::lookup_host((name, port)))
        .await
        .map_err(|_| NetError::Unresolved)?
        .map_err(|_| NetError::Unresolved)?;
    let mut addrs: Vec<IpAddr> = Vec::new();
    for a in found {
        let ip = a.ip().to_canonical();
        if !addrs.contains(&ip) {
            addrs.push(ip);
        }
    }
    if addrs.is_empty() {
        return Err(NetError::Unresolved);
    }
    Ok(addrs)
}

/// `host`, `host:port`, `[v6]`, `[v6]:port` or a bare IPv6 address, its host normalised as
/// URLs normalise theirs.
fn parse_host_entry(entry: &str) -> Option<AllowedHost> {
    let (host, port) = if let Some(rest) = entry.strip_prefix('[') {
        let (h, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (format!("[{h}]"), port)
    } else if entry.matches(':').count() > 1 {
        (format!("[{entry}]"), None)
    } else if let Some((h, p)) = entry.split_once(':') {
        (h.to_owned(), Some(p))
    } else {
        (entry.to_owned(), None)
    };
    let port = match port {
        Some(p) => Some(p.parse::<u16>().ok().filter(|p| *p != 0)?),
        None => None,
    };
    if host.is_empty() || host.contains(['/', '@', '?', '#']) {
        return None;
    }
    let host = Host::parse(&host).ok()?;
    Some(AllowedHost {
        host: canonical_host(&host),
        port,
    })
}

fn canonical_host(host: &Host<String>) -> String {
    match host {
        Host::Domain(d) => d.trim_end_matches('.').to_ascii_lowercase(),
        other => other.to_string(),
    }
}

/// An absolute path with `.` removed; `None` when it is relative or climbs with `..`.
fn clean_path(path: &Path) -> Option<PathBuf> {
    if !path.is_absolute() {
        return None;
    }
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::RootDir | Component::Prefix(_) => out.push(c),
            Component::CurDir => {}
            Component::Normal(n) => out.push(n),
            Component::ParentDir => return None,
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_addresses_are_public() {
        for (ip, public) in [
            ("8.8.8.8", true),
            ("1.1.1.1", true),
            ("140.82.121.4", true),
            ("100.63.255.255", true),
            ("100.128.0.1", true),
            ("172.15.0.1", true),
            ("172.32.0.1", true),
            ("192.0.1.1", true),
            ("223.255.255.255", true),
            ("0.0.0.0", false),
            ("0.1.2.3", false),
            ("10.0.0.1", false),
            ("100.64.0.1", false),
            ("100.127.255.255", false),
            ("127.0.0.1", false),
            ("127.255.255.254", false),
            ("169.254.169.254", false),
            ("172.16.0.1", false),
            ("172.31.255.255", false),
            ("192.0.0.8", false),
            ("192.0.2.1", false),
            ("192.88.99.1", false),
            ("192.168.1.1", false),
            ("198.18.0.1", false),
            ("198.19.255.255", false),
            ("198.51.100.7", false),
            ("203.0.113.9", false),
            ("224.0.0.1", false),
            ("239.255.255.250", false),
            ("240.0.0.1", false),
            ("255.255.255.255", false),
            ("2606:4700:4700::1111", true),
            ("2a00:1450:4001:81b::200e", true),
            ("2001:4860:4860::8888", true),
            ("::ffff:8.8.8.8", true),
            ("64:ff9b::808:808", true),
            ("::", false),
            ("::1", false),
            ("::127.0.0.1", false),
            ("::ffff:127.0.0.1", false),
            ("::ffff:10.0.0.1", false),
            ("::ffff:169.254.169.254", false),
            ("64:ff9b::a00:1", false),
            ("64:ff9b:1::1", false),
            ("100::1", false),
            ("2001::1", false),
            ("2001:db8::1", false),
            ("2002:7f00:1::1", false),
            ("3fff::1", false),
            ("fc00::1", false),
            ("fd12:3456::1", false),
            ("fe80::1", false),
            ("fec0::1", false),
            ("ff02::1", false),
        ] {
            let addr: IpAddr = ip.parse().unwrap();
            assert_eq!(is_public(addr), public, "{ip}");
        }
    }

    fn policy(allow: &[&str]) -> NetworkPolicy {
        NetworkPolicy::new(&allow.iter().map(|s| s.to_string()).collect::<Vec<_>>()).unwrap()
    }

    #[test]
    fn what_is_permitted_without_resolving() {
        let none = policy(&[]);
        let some = policy(&[
            "127.0.0.1:8080",
            "git.internal",
            "[::1]:3000",
            "10.0.0.1",
            "/srv/git",
        ]);
        for (address, by_default, allowed) in [
            ("https://github.com/org/repo", true, true),
            ("https://[2606:4700::1]/x", true, true),
            ("https://8.8.8.8/x", true, true),
            ("http://github.com/org/repo", false, false),
            ("https://127.0.0.1/x", false, false),
            ("https://127.0.0.1:8080/x", false, true),
            ("http://127.0.0.1:8080/x", false, true),
            ("http://127.0.0.1:1/x", false, false),
            ("https://127.1:8080/x", false, true),
            ("https://2130706433/x", false, false),
            ("https://0x7f.1/x", false, false),
            ("https://10.0.0.1/x", false, true),
            ("http://10.0.0.1:22/x", false, true),
            ("https://[::1]/x", false, false),
            ("https://[::1]:3000/x", false, true),
            ("https://[::ffff:127.0.0.1]/x", false, false),
            ("https://Git.Internal./x", true, true),
            ("http://git.internal/x", false, true),
            ("https://localhost/x", true, true),
            ("/etc", false, false),
            ("/srv/git", false, true),
            ("/srv/git/repo.git", false, true),
            ("/srv/git/../../etc", false, false),
            ("/srv/gitx", false, false),
            ("file:///etc", false, false),
            ("file:///srv/git/repo.git", false, true),
            ("file://host/srv/git/repo.git", false, false),
            ("ssh://git@github.com/org/repo", false, false),
            ("git://github.com/org/repo", false, false),
            ("git@github.com:org/repo.git", false, false),
            ("ftp://example.org/x", false, false),
            ("relative/path", false, false),
        ] {
            assert_eq!(none.permits(address).is_ok(), by_default, "{address}");
            assert_eq!(some.permits(address).is_ok(), allowed, "{address} allowed");
        }
    }

    #[tokio::test]
    async fn mail_servers_apart_from_http() {
        let none = policy(&[]);
        let some = policy(&["127.0.0.1:1143", "10.0.0.1"]);
        for (address, by_default, allowed) in [
            ("imaps://8.8.8.8:993", true, true),
            ("imaps://8.8.8.8", true, true),
            ("imap://8.8.8.8:143", true, true),
            ("imaps://127.0.0.1:993", false, false),
            ("imap://127.0.0.1:1143", false, true),
            ("imap://127.0.0.1", false, false),
            ("imap://0x7f.1:1143", false, true),
            ("imaps://2130706433:993", false, false),
            ("imaps://[::1]:993", false, false),
            ("imaps://10.0.0.1", false, true),
            ("https://8.8.8.8/", false, false),
            ("smtp://8.8.8.8:25", false, false),
            ("/var/mail", false, false),
        ] {
            assert_eq!(
                none.permits_mail_server(address).is_ok(),
                by_default,
                "{address}"
            );
            assert_eq!(
                some.permits_mail_server(address).is_ok(),
                allowed,
                "{address} allowed"
            );
        }
        // The HTTP rule does not take mail schemes, even for a listed host.
        assert!(some.permits("imap://127.0.0.1:1143").is_err());
        assert!(some.permits("imaps://8.8.8.8:993").is_err());
        // Only a listed server may go without TLS.
        let listed = some
            .check_mail_server("imap://127.0.0.1:1143")
            .await
            .unwrap();
        assert_eq!(listed.port, 1143);
        assert!(some.lists_remote(&listed));
        let public = some.check_mail_server("imaps://8.8.8.8").await.unwrap();
        assert_eq!(public.port, 993);
        assert!(!some.lists_remote(&public));
    }

    #[test]
    fn allow_entries() {
        for bad in [
            "relative/path",
            "/srv/../etc",
            "host:0",
            "host:http",
            "host:",
            "user@host",
            "a b",
            "[::1",
            "https://host",
        ] {
            assert!(
                NetworkPolicy::new(&[bad.to_owned()]).is_err(),
                "{bad} is refused"
            );
        }
        assert_eq!(
            policy(&["::1", " ", "Example.ORG:443"]).hosts,
            vec![
                AllowedHost {
                    host: "[::1]".into(),
                    port: None
                },
                AllowedHost {
                    host: "example.org".into(),
                    port: Some(443)
                }
            ]
        );
    }

    #[tokio::test]
    async fn names_are_checked_after_resolution() {
        let none = policy(&[]);
        assert_eq!(
            none.check_url("https://localhost/x").await,
            Err(NetError::NotPublic)
        );
        assert_eq!(
            none.check_url("https://nonexistent.invalid/x").await,
            Err(NetError::Unresolved)
        );
        let listed = policy(&["localhost"]);
        let Ok(Checked::Remote(r)) = listed.check_url("http://LOCALHOST:3000/x").await else {
            panic!("an allowed name is reached")
        };
        assert_eq!(r.name.as_deref(), Some("localhost"));
        assert_eq!(r.port, 3000);
        assert_eq!(r.url.as_str(), "http://localhost:3000/x");
        assert!(r.addrs.iter().all(|a| a.is_loopback()), "{:?}", r.addrs);
        let Ok(Checked::Remote(r)) = none.check_url("https://8.8.8.8/x").await else {
            panic!("a public address is reached")
        };
        assert_eq!((r.name, r.addrs), (None, vec![IpAddr::from([8, 8, 8, 8])]));
    }

    #[tokio::test]
    async fn local_paths_stay_under_their_prefix() {
        let dir = tempfile::tempdir().unwrap();
        let allowed = dir.path().join("allowed");
        std::fs::create_dir_all(allowed.join("repo")).unwrap();
        std::os::unix::fs::symlink("/etc", allowed.join("out")).unwrap();
        let p = policy(&[allowed.to_str().unwrap()]);
        let real = std::fs::canonicalize(allowed.join("repo")).unwrap();
        assert_eq!(
            p.check_url(allowed.join("repo").to_str().unwrap()).await,
            Ok(Checked::Local(real))
        );
        assert_eq!(
            p.check_url(allowed.join("out").to_str().unwrap()).await,
            Err(NetError::Refused),
            "a symbolic link out of the prefix"
        );
        assert_eq!(
            p.check_url(allowed.join("missing").to_str().unwrap()).await,
            Err(NetError::Missing)
        );
    }
}
