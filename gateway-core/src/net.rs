//! Client addresses: CIDR blocks, and which address a request comes from when it arrives through
//! reverse proxies (`TRUSTED_PROXIES`).
//!
//! A proxy appends the address it received the request from to `X-Forwarded-For`; whatever is
//! left of that was written by someone earlier, the client included, and proves nothing. So the
//! client is found from the right: the connection's own address, then each address in the header
//! from the last one back, skipping those of trusted proxies; the first untrusted one is the
//! client. Trusted proxies are given as CIDR blocks (the proxies' own addresses), or as a hop
//! count (that many proxies in front, each appending one address). A request whose connection does
//! not come from a trusted proxy is taken at its connection's address, whatever its headers say.

use std::net::IpAddr;

/// Parses `addr` or `addr/prefix`.
pub fn parse_cidr(entry: &str) -> Option<(IpAddr, u32)> {
    let (addr, prefix) = match entry.trim().split_once('/') {
        Some((a, p)) => (a.parse::<IpAddr>().ok()?, p.parse::<u32>().ok()?),
        None => {
            let a = entry.trim().parse::<IpAddr>().ok()?;
            (a, if a.is_ipv4() { 32 } else { 128 })
        }
    };
    let max = if addr.is_ipv4() { 32 } else { 128 };
    (prefix <= max).then_some((addr, prefix))
}

/// Whether `ip` is in `entry` (an address or a CIDR block).
pub fn cidr_contains(entry: &str, ip: IpAddr) -> bool {
    parse_cidr(entry).is_some_and(|block| in_block(block, ip))
}

/// Whether `ip` is in the parsed block `(net, prefix)`.
fn in_block((net, prefix): (IpAddr, u32), ip: IpAddr) -> bool {
    let (net, ip, bits) = match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) => (u128::from(u32::from(n)), u128::from(u32::from(i)), 32),
        (IpAddr::V6(n), IpAddr::V6(i)) => (u128::from(n), u128::from(i), 128),
        (IpAddr::V6(n), IpAddr::V4(i)) | (IpAddr::V4(i), IpAddr::V6(n)) => {
            // IPv4-mapped IPv6 addresses match IPv4 entries and vice versa.
            match n.to_ipv4_mapped() {
                Some(m) => (u128::from(u32::from(m)), u128::from(u32::from(i)), 32),
                None => return false,
            }
        }
    };
    let prefix = if bits == 32 && prefix > 32 { prefix.saturating_sub(96) } else { prefix };
    if prefix == 0 {
        return true;
    }
    let shift = bits - prefix;
    (net >> shift) == (ip >> shift)
}

/// Which reverse proxies in front of the gateway may say who the client is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum TrustedProxies {
    /// None: the connection's address is the client's.
    #[default]
    None,
    /// Proxies at these addresses or CIDR blocks (parsed: each request checks them).
    Blocks(Vec<(IpAddr, u32)>),
    /// This many proxies in front, whatever their addresses.
    Hops(usize),
}

impl TrustedProxies {
    /// Parses `TRUSTED_PROXIES`: a hop count (`1`), or comma-separated addresses and CIDR blocks.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Self::None);
        }
        if let Ok(n) = text.parse::<usize>() {
            return match n {
                0 => Ok(Self::None),
                1..=16 => Ok(Self::Hops(n)),
                _ => Err(format!("a hop count of at most 16, not {n}")),
            };
        }
        let blocks = text.split(',').map(|b| {
            let b = b.trim();
            parse_cidr(b)
                .ok_or_else(|| format!("{b:?} is neither an address, a CIDR block nor a hop count"))
        });
        blocks.collect::<Result<_, _>>().map(Self::Blocks)
    }

    /// Whether any proxy is trusted.
    pub fn any(&self) -> bool {
        *self != Self::None
    }

    /// The client's address: `peer` (the connection's) unless it is a trusted proxy, then the
    /// rightmost untrusted address of `forwarded_for` (the `X-Forwarded-For` values in order).
    /// Past the header's leftmost address, that address.
    pub fn client(&self, peer: Option<IpAddr>, forwarded_for: &[&str]) -> Option<IpAddr> {
        let hops: Vec<IpAddr> = forwarded_for
            .iter()
            .flat_map(|v| v.split(','))
            .filter_map(|a| parse_address(a.trim()))
            .collect();
        match self {
            Self::None => peer,
            Self::Hops(n) => {
                // `peer` is the nearest proxy; each of the n - 1 others appended one address.
                let from_right = n.saturating_sub(1);
                let index = hops.len().checked_sub(from_right + 1);
                match index {
                    Some(i) => hops.get(i).copied(),
                    None => hops.first().copied().or(peer),
                }
            }
            Self::Blocks(blocks) => {
                let trusted = |ip: IpAddr| blocks.iter().any(|b| in_block(*b, ip));
                let peer = peer?;
                if !trusted(peer) {
                    return Some(peer);
                }
                hops.iter().rev().find(|ip| !trusted(**ip)).or(hops.first()).copied().or(Some(peer))
            }
        }
    }
}

/// An address as proxies write it: bare, bracketed IPv6, or with a port.
fn parse_address(text: &str) -> Option<IpAddr> {
    if let Ok(ip) = text.parse() {
        return Some(ip);
    }
    if let Some(rest) = text.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    text.rsplit_once(':').and_then(|(ip, _)| ip.parse().ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Behind nginx (or an ALB) on 10.0.0.5 appending to the header: the client wrote
    /// `1.2.3.4` itself to pass an allow-list; the proxy appended its real address.
    #[test]
    fn the_client_is_the_rightmost_address_no_trusted_proxy_wrote() {
        let proxies = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let peer = Some(ip("10.0.0.5"));
        assert_eq!(proxies.client(peer, &["1.2.3.4, 203.0.113.9"]), Some(ip("203.0.113.9")));
        assert_eq!(proxies.client(peer, &["203.0.113.9"]), Some(ip("203.0.113.9")));
        // Two trusted hops (a CDN in 10/8, then the proxy): skipped both.
        assert_eq!(
            proxies.client(peer, &["1.2.3.4", "203.0.113.9, 10.1.1.1"]),
            Some(ip("203.0.113.9"))
        );
        // Not from a trusted proxy: the header is ignored.
        assert_eq!(
            proxies.client(Some(ip("198.51.100.7")), &["1.2.3.4"]),
            Some(ip("198.51.100.7"))
        );
        // Every address trusted: the leftmost.
        assert_eq!(proxies.client(peer, &["10.9.9.9"]), Some(ip("10.9.9.9")));
        assert_eq!(proxies.client(peer, &[]), peer);
    }

    #[test]
    fn a_hop_count_takes_that_many_from_the_right() {
        let one = TrustedProxies::parse("1").unwrap();
        let peer = Some(ip("127.0.0.1"));
        assert_eq!(one.client(peer, &["1.2.3.4, 203.0.113.9"]), Some(ip("203.0.113.9")));
        let two = TrustedProxies::parse("2").unwrap();
        assert_eq!(two.client(peer, &["1.2.3.4, 203.0.113.9, 10.0.0.7"]), Some(ip("203.0.113.9")));
        assert_eq!(two.client(peer, &["203.0.113.9"]), Some(ip("203.0.113.9")));
        assert_eq!(one.client(peer, &[]), peer);
        assert_eq!(TrustedProxies::None.client(peer, &["1.2.3.4"]), peer);
    }

    #[test]
    fn settings_and_addresses_parse() {
        assert_eq!(TrustedProxies::parse("").unwrap(), TrustedProxies::None);
        assert!(TrustedProxies::parse("10.0.0.0/8, ::1").is_ok());
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.local").is_err());
        assert!(TrustedProxies::parse("99").is_err());
        assert_eq!(parse_address("[2001:db8::1]:443"), Some(ip("2001:db8::1")));
        assert_eq!(parse_address("203.0.113.9:5000"), Some(ip("203.0.113.9")));
        assert_eq!(parse_address("unknown"), None);
    }
}
