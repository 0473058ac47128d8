//! Network addresses as the console's rules see them: one canonical form for every check, the
//! client's address behind trusted reverse proxies, and whether a request's `Host` names this
//! console (the guard against DNS rebinding).

use ipnet::IpNet;
use std::net::IpAddr;

/// One form for every comparison: an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is the IPv4
/// address it carries. Without this, `::ffff:0.0.0.0` passes an "is it every interface?"
/// check that `0.0.0.0` fails, and `::ffff:127.0.0.1` is not loopback.
pub fn canonical(addr: IpAddr) -> IpAddr {
    addr.to_canonical()
}

/// "Every interface" (`0.0.0.0`, `::`, `::ffff:0.0.0.0`).
pub fn is_every_interface(addr: IpAddr) -> bool {
    canonical(addr).is_unspecified()
}

/// This host only (`127.0.0.0/8`, `::1`, `::ffff:127.0.0.1`).
pub fn is_loopback(addr: IpAddr) -> bool {
    canonical(addr).is_loopback()
}

/// Whether two addresses are the same interface, whatever their form.
pub fn same_address(a: IpAddr, b: IpAddr) -> bool {
    canonical(a) == canonical(b)
}

/// The reverse proxies whose forwarding headers are believed (`serve --trusted-proxy`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// From `ADDR` or `ADDR/PREFIX` entries; the error names the entry and the rule.
    pub fn parse<'a>(entries: impl IntoIterator<Item = &'a str>) -> Result<Self, String> {
        let mut nets = Vec::new();
        for entry in entries {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            let net = match entry.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => entry.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
                    format!(
                        "trusted proxy {entry:?} is not an address or an ADDR/PREFIX network \
                         (e.g. 127.0.0.1 or 10.0.0.0/8)"
                    )
                })?,
            };
            if net.prefix_len() == 0 {
                return Err(format!(
                    "trusted proxy {entry:?} would trust every address: name the proxies"
                ));
            }
            let net = match net {
                IpNet::V6(v6) if v6.addr().to_ipv4_mapped().is_some() && v6.prefix_len() < 97 => {
                    return Err(format!(
                        "trusted proxy {entry:?}: an IPv4-mapped network needs a prefix of \
                         97 or more (it names IPv4 addresses)"
                    ));
                }
                IpNet::V6(v6) => match v6.addr().to_ipv4_mapped() {
                    Some(v4) => IpNet::new(IpAddr::V4(v4), v6.prefix_len().saturating_sub(96))
                        .map_err(|e| format!("trusted proxy {entry:?}: {e}"))?,
                    None => IpNet::V6(v6),
                },
                v4 => v4,
            };
            nets.push(net.trunc());
        }
        Ok(TrustedProxies(nets))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn trusts(&self, addr: IpAddr) -> bool {
        let addr = canonical(addr);
        self.0.iter().any(|net| net.contains(&addr))
    }
}

/// What a trusted proxy's forwarding header could not name (an entry that is not an address,
/// or a header that is not text): one address for all such clients, never loopback, so that
/// nothing about it is trusted and they share one allowance.
pub const UNKNOWN_CLIENT: IpAddr = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);

/// The client's address: the peer's, unless the peer is a trusted proxy; then the right-most
/// address of `X-Forwarded-For` that is not itself a trusted proxy (the entries to its left
/// were written by the client and prove nothing). A request the proxy sends without the
/// header is the proxy's own. An entry that is not an address stops the walk: the client is
/// [`UNKNOWN_CLIENT`]. Only `X-Forwarded-For` is read: the proxies the docs configure set it,
/// and pass a client's own `Forwarded` header through unchanged, so reading that one too
/// would let a client name itself.
pub fn client_address(peer: IpAddr, proxies: &TrustedProxies, x_forwarded_for: &[&str]) -> IpAddr {
    let peer = canonical(peer);
    if !proxies.trusts(peer) {
        return peer;
    }
    let chain: Vec<&str> = x_forwarded_for
        .iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    if chain.is_empty() {
        return peer;
    }
    let mut best = peer;
    for entry in chain.iter().rev() {
        let Some(addr) = parse_node(entry) else {
            return UNKNOWN_CLIENT;
        };
        if !proxies.trusts(addr) {
            return addr;
        }
        best = addr;
    }
    best
}

/// An address from a forwarding entry: `203.0.113.7`, `203.0.113.7:4711`, `[2001:db8::1]`,
/// `[2001:db8::1]:4711` or a bare IPv6 address.
fn parse_node(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    if let Ok(addr) = entry.parse::<IpAddr>() {
        return Some(canonical(addr));
    }
    if let Some(rest) = entry.strip_prefix('[') {
        let (inside, _) = rest.split_once(']')?;
        return inside.parse::<IpAddr>().ok().map(canonical);
    }
    let (host, port) = entry.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    host.parse::<IpAddr>().ok().map(canonical)
}

/// The host part of a `Host` header (`name`, `name:port`, `[v6]:port`), lower-cased, without a
/// trailing dot. None when it is not a host name or address at all.
pub fn host_of(host_header: &str) -> Option<String> {
    let text = host_header.trim();
    let host = if let Some(rest) = text.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        if !(after.is_empty() || after.strip_prefix(':').is_some_and(is_port)) {
            return None;
        }
        inside.parse::<std::net::Ipv6Addr>().ok()?;
        inside
    } else {
        match text.rsplit_once(':') {
            Some((host, port)) if is_port(port) => host,
            Some(_) => return None,
            None => text,
        }
    };
    let host = host.trim_end_matches('.').to_ascii_lowercase();
    let valid = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b':');
    valid.then_some(host)
}

fn is_port(text: &str) -> bool {
    !text.is_empty() && text.len() <= 5 && text.parse::<u16>().is_ok()
}

/// Which `Host` names this console answers to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    /// The configured names (`--public-url`'s host, `--allowed-host`), lower-case. Empty: any
    /// address literal is taken (see [`AllowedHosts::allows`]).
    names: Vec<String>,
    /// The address the console listens on, when it is one address.
    listen: Option<IpAddr>,
}

impl AllowedHosts {
    pub fn new(names: impl IntoIterator<Item = String>, listen: Option<IpAddr>) -> Self {
        AllowedHosts {
            names: names
                .into_iter()
                .filter_map(|name| host_of(&name))
                .collect(),
            listen: listen.map(canonical).filter(|a| !a.is_unspecified()),
        }
    }

    /// The rule. A DNS-rebinding page reaches the console under the attacker's own name, so
    /// a name is taken only when it is configured (or `localhost`, which resolves to this
    /// host only). Loopback addresses always work (the CLI, tests, an SSH tunnel's end).
    /// With no name configured any address literal is taken too: no rebinding can send one,
    /// and the console cannot know every address of its host. With names configured, the
    /// address it listens on is the only other literal taken.
    pub fn allows(&self, host_header: &str) -> bool {
        let Some(host) = host_of(host_header) else {
            return false;
        };
        if host == "localhost" || self.names.contains(&host) {
            return true;
        }
        let Ok(addr) = host.parse::<IpAddr>().map(canonical) else {
            return false;
        };
        addr.is_loopback() || self.names.is_empty() || self.listen == Some(addr)
    }

    pub fn names(&self) -> &[String] {
        &self.names
    }
}

/// Whether an `Origin` header (`scheme://host[:port]`) is `public_origin` (compared
/// case-insensitively, default ports made explicit), the console's configured public URL.
pub fn origin_matches(origin: &str, public_origin: &str) -> bool {
    normalise_origin(origin).is_some_and(|o| Some(o) == normalise_origin(public_origin))
}

fn normalise_origin(text: &str) -> Option<String> {
    let (scheme, rest) = text.trim().split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest.split('/').next()?.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => "443",
        "http" => "80",
        _ => return None,
    };
    let host = host_of(&authority)?;
    let port = match authority.rsplit_once(':') {
        Some((_, port)) if is_port(port) && !authority.ends_with(']') => port.to_string(),
        _ => default_port.to_string(),
    };
    let host = if host.contains(':') {
        format!("[{host}]")
    } else {
        host
    };
    Some(format!("{scheme}://{host}:{port}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn mapped_addresses_are_their_ipv4_selves() {
        assert!(is_every_interface(ip("::ffff:0.0.0.0")));
        assert!(is_every_interface(ip("0.0.0.0")));
        assert!(is_every_interface(ip("::")));
        assert!(!is_every_interface(ip("10.0.0.1")));
        assert!(is_loopback(ip("::ffff:127.0.0.1")));
        assert!(same_address(ip("::ffff:10.1.2.3"), ip("10.1.2.3")));
        assert!(!same_address(ip("10.1.2.4"), ip("10.1.2.3")));
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_sends() {
        let proxies = TrustedProxies::parse(["127.0.0.1"]).unwrap();
        assert_eq!(
            client_address(ip("198.51.100.9"), &proxies, &["1.2.3.4"]),
            ip("198.51.100.9")
        );
        // With no proxy configured, nobody's headers count.
        assert_eq!(
            client_address(ip("127.0.0.1"), &TrustedProxies::default(), &["1.2.3.4"]),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn behind_a_trusted_proxy_the_right_most_untrusted_entry_is_the_client() {
        let proxies = TrustedProxies::parse(["127.0.0.1", "10.0.0.0/8"]).unwrap();
        // The client forged "6.6.6.6"; the proxy appended the address it saw.
        assert_eq!(
            client_address(
                ip("127.0.0.1"),
                &proxies,
                &["6.6.6.6, 203.0.113.7", "10.0.0.5"]
            ),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_address(ip("::ffff:127.0.0.1"), &proxies, &["203.0.113.7:5555"]),
            ip("203.0.113.7")
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), &proxies, &["[2001:db8::7]:5555"]),
            ip("2001:db8::7")
        );
        // No header: the proxy itself.
        assert_eq!(
            client_address(ip("127.0.0.1"), &proxies, &[]),
            ip("127.0.0.1")
        );
        // Only proxies in the chain: the left-most of them.
        assert_eq!(
            client_address(ip("127.0.0.1"), &proxies, &["10.0.0.9, 10.0.0.5"]),
            ip("10.0.0.9")
        );
        // Garbage is an unknown client: never the proxy's (loopback) address.
        for garbage in [&["1.1.1.1, unknown"][..], &[""], &["127.0.0.1, "]] {
            assert_eq!(
                client_address(ip("127.0.0.1"), &proxies, garbage),
                UNKNOWN_CLIENT
            );
        }
        assert!(!is_loopback(UNKNOWN_CLIENT));
    }

    #[test]
    fn trusted_proxy_entries_are_checked() {
        assert!(TrustedProxies::parse(["nginx"]).is_err());
        assert!(TrustedProxies::parse(["10.0.0.0/33"]).is_err());
        assert!(TrustedProxies::parse(["0.0.0.0/0"]).is_err());
        assert!(TrustedProxies::parse(["::/0"]).is_err());
        assert!(TrustedProxies::parse(["::ffff:127.0.0.1/64"]).is_err());
        assert!(TrustedProxies::parse(["::ffff:10.0.0.0/104"])
            .unwrap()
            .trusts(ip("10.0.0.7")));
        let mapped = TrustedProxies::parse(["::ffff:127.0.0.1"]).unwrap();
        assert!(mapped.trusts(ip("127.0.0.1")));
        assert!(TrustedProxies::parse(["", " "]).unwrap().is_empty());
    }

    #[test]
    fn hosts_are_parsed_strictly() {
        assert_eq!(
            host_of("Console.Example.:8080").as_deref(),
            Some("console.example")
        );
        assert_eq!(host_of("[::1]:8080").as_deref(), Some("::1"));
        assert_eq!(host_of("127.0.0.1").as_deref(), Some("127.0.0.1"));
        assert_eq!(host_of("a b"), None);
        assert_eq!(host_of("host:99999"), None);
        assert_eq!(host_of(""), None);
        assert_eq!(host_of("[zz]:1"), None);
    }

    #[test]
    fn without_configured_names_addresses_and_localhost_pass_and_names_do_not() {
        let hosts = AllowedHosts::new(Vec::new(), None);
        assert!(hosts.allows("127.0.0.1:8080"));
        assert!(hosts.allows("localhost:8080"));
        assert!(hosts.allows("[::1]:8080"));
        assert!(hosts.allows("192.0.2.10:8080"));
        assert!(!hosts.allows("evil.example"));
        assert!(!hosts.allows("evil.example:8080"));
        assert!(!hosts.allows(""));
    }

    #[test]
    fn with_configured_names_only_they_loopback_and_the_listen_address_pass() {
        let hosts = AllowedHosts::new(vec!["console.example.com".into()], Some(ip("192.0.2.10")));
        assert!(hosts.allows("console.example.com"));
        assert!(hosts.allows("CONSOLE.example.com:443"));
        assert!(hosts.allows("127.0.0.1:8080"));
        assert!(hosts.allows("localhost"));
        assert!(hosts.allows("192.0.2.10:8080"));
        assert!(!hosts.allows("192.0.2.11:8080"));
        assert!(!hosts.allows("evil.example"));
    }

    #[test]
    fn origins_compare_with_default_ports() {
        assert!(origin_matches(
            "https://Console.example.com",
            "https://console.example.com/"
        ));
        assert!(origin_matches(
            "https://console.example.com:443",
            "https://console.example.com"
        ));
        assert!(!origin_matches(
            "http://console.example.com",
            "https://console.example.com"
        ));
        assert!(!origin_matches(
            "https://evil.example",
            "https://console.example.com"
        ));
        assert!(!origin_matches("null", "https://console.example.com"));
        assert!(origin_matches("http://[::1]:8080", "http://[::1]:8080"));
    }
}
