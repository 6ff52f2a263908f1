//! Whose address a request comes from. Behind a load balancer or reverse proxy every
//! connection comes from the proxy; the client's own address is in `X-Forwarded-For`, which
//! anyone can also send. `[server] trusted_proxies` names the proxies (addresses or CIDR
//! ranges) whose `X-Forwarded-For` is believed: the header is read from the right, skipping
//! trusted proxies, and the first address that is not one is the client (as nginx's
//! `real_ip_recursive` and HAProxy do). From an untrusted peer the header is ignored. The
//! result is what the access log records and what address-based sign-in limits count.

use std::net::IpAddr;

use axum::http::HeaderMap;
use ipnet::IpNet;

/// The trusted proxies, parsed once from the settings.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

/// Most `X-Forwarded-For` hops read: a longer chain is not a real deployment.
const MAX_HOPS: usize = 32;

impl TrustedProxies {
    /// Reads entries such as `127.0.0.1`, `::1`, `10.0.0.0/8` or `fd00::/8`.
    pub fn new(entries: &[String]) -> Result<Self, String> {
        let mut nets = Vec::new();
        for e in entries.iter().map(|e| e.trim()).filter(|e| !e.is_empty()) {
            let net = match e.parse::<IpNet>() {
                Ok(n) => n,
                Err(_) => match e.parse::<IpAddr>() {
                    Ok(ip) => IpNet::from(ip),
                    Err(_) => {
                        return Err(format!(
                            "'{e}' is not an address or a range such as 10.0.0.0/8"
                        ));
                    }
                },
            };
            nets.push(net.trunc());
        }
        Ok(Self(nets))
    }

    /// Whether `ip` is one of the trusted proxies.
    pub fn trusts(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        self.0.iter().any(|n| n.contains(&ip))
    }

    /// The client's address for a request that came from `peer` with `headers`.
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> IpAddr {
        let peer = canonical(peer);
        if !self.trusts(peer) {
            return peer;
        }
        let hops: Vec<&str> = headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .collect();
        let mut client = peer;
        for hop in hops.iter().rev().take(MAX_HOPS) {
            let Some(ip) = parse_hop(hop) else {
                // Garbage in the chain: believe nothing before it.
                return client;
            };
            client = ip;
            if !self.trusts(ip) {
                return ip;
            }
        }
        client
    }
}

/// An IPv4 address written as IPv6 (`::ffff:a.b.c.d`) is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    }
}

/// One hop: `a.b.c.d`, `a.b.c.d:port`, `::1` or `[::1]:port`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(canonical(ip));
    }
    if let Ok(sa) = hop.parse::<std::net::SocketAddr>() {
        return Some(canonical(sa.ip()));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for v in values {
            h.append("x-forwarded-for", v.parse().unwrap());
        }
        h
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn whose_address_counts() {
        let t = TrustedProxies::new(&["127.0.0.1".into(), "10.0.0.0/8".into(), "fd00::/8".into()])
            .unwrap();
        let none = TrustedProxies::default();
        // (peer, X-Forwarded-For headers, client with the proxies trusted, with none trusted)
        let cases: &[(&str, &[&str], &str, &str)] = &[
            // No proxy in between: the header is whatever the client wrote.
            (
                "203.0.113.9",
                &["198.51.100.1"],
                "203.0.113.9",
                "203.0.113.9",
            ),
            ("127.0.0.1", &[], "127.0.0.1", "127.0.0.1"),
            // One proxy: it appended the client.
            ("127.0.0.1", &["198.51.100.1"], "198.51.100.1", "127.0.0.1"),
            // The client sent its own header first; the proxy appended the real address.
            (
                "127.0.0.1",
                &["6.6.6.6, 198.51.100.1"],
                "198.51.100.1",
                "127.0.0.1",
            ),
            // Two proxies, the inner one trusted too.
            (
                "127.0.0.1",
                &["198.51.100.1, 10.1.2.3"],
                "198.51.100.1",
                "127.0.0.1",
            ),
            // Several headers are one list.
            (
                "127.0.0.1",
                &["6.6.6.6", "198.51.100.1:4711"],
                "198.51.100.1",
                "127.0.0.1",
            ),
            // Garbage after a trusted hop: the last address believed.
            (
                "127.0.0.1",
                &["198.51.100.1, nonsense"],
                "127.0.0.1",
                "127.0.0.1",
            ),
            (
                "127.0.0.1",
                &["nonsense, 10.9.9.9"],
                "10.9.9.9",
                "127.0.0.1",
            ),
            // Only proxies: the farthest one.
            (
                "127.0.0.1",
                &["10.0.0.1, 10.0.0.2"],
                "10.0.0.1",
                "127.0.0.1",
            ),
            // IPv6, bracketed with a port, and IPv4 written as IPv6.
            ("fd00::1", &["[2001:db8::7]:443"], "2001:db8::7", "fd00::1"),
            (
                "::ffff:127.0.0.1",
                &["198.51.100.1"],
                "198.51.100.1",
                "127.0.0.1",
            ),
        ];
        for (peer, xff, trusted, untrusted) in cases {
            assert_eq!(
                t.client(ip(peer), &headers(xff)),
                ip(trusted),
                "{peer} {xff:?}"
            );
            assert_eq!(
                none.client(ip(peer), &headers(xff)),
                ip(untrusted),
                "{peer} {xff:?}"
            );
        }
    }

    #[test]
    fn a_long_chain_is_read_only_so_far() {
        let t = TrustedProxies::new(&["10.0.0.0/8".into()]).unwrap();
        let mut chain = vec!["198.51.100.1".to_owned()];
        chain.extend((0..40).map(|i| format!("10.0.0.{i}")));
        let client = t.client(ip("10.0.0.200"), &headers(&[&chain.join(", ")]));
        assert_ne!(client, ip("198.51.100.1"));
        assert!(t.trusts(client));
    }

    #[test]
    fn bad_entries_are_named() {
        let e = TrustedProxies::new(&["10.0.0.0/33".into()]).unwrap_err();
        assert!(e.contains("10.0.0.0/33"), "{e}");
        assert!(TrustedProxies::new(&["proxy.example".into()]).is_err());
        assert_eq!(
            TrustedProxies::new(&["10.1.2.3/8".into()]).unwrap(),
            TrustedProxies::new(&["10.0.0.0/8".into()]).unwrap()
        );
    }
}
