//! Who the client is: the TCP peer, or, behind a load balancer named in
//! `FOLIO_TRUSTED_PROXIES`, the address that balancer saw.
//!
//! `X-Forwarded-For` is a list each proxy appends its peer to, so only its right end is
//! trustworthy: the client is the rightmost hop that is not one of our proxies. Anything left of
//! it was written by the client itself and is ignored, as is the whole header on a request that
//! did not come from a trusted proxy.

use std::net::IpAddr;
use std::str::FromStr;

use actix_web::HttpRequest;

/// An address or a network (`10.0.0.0/8`, `::1`, `fd00::/8`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl FromStr for Cidr {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (addr, prefix) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (s, None),
        };
        let network: IpAddr = addr
            .parse()
            .map_err(|_| "not an IP address or CIDR (e.g. 10.0.0.0/8)".to_owned())?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => match p.parse::<u8>() {
                Ok(p) if p <= max => p,
                _ => return Err(format!("the prefix length must be 0 to {max}")),
            },
        };
        Ok(Self { network, prefix })
    }
}

impl Cidr {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, canonical(ip)) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                let mask = u32::MAX.checked_shl(32 - self.prefix as u32).unwrap_or(0);
                u32::from(net) & mask == u32::from(ip) & mask
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                let mask = u128::MAX.checked_shl(128 - self.prefix as u32).unwrap_or(0);
                u128::from(net) & mask == u128::from(ip) & mask
            }
            _ => false,
        }
    }
}

/// IPv4 addresses seen through an IPv6 socket (`::ffff:10.0.0.1`) as IPv4.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map(IpAddr::V4).unwrap_or(ip),
        v4 => v4,
    }
}

/// The client's address, as rate limits count it.
pub fn client_ip(req: &HttpRequest, trusted: &[Cidr]) -> Option<IpAddr> {
    let peer = canonical(req.peer_addr()?.ip());
    let forwarded = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok());
    Some(client_from(peer, forwarded, trusted))
}

/// [`client_ip`] of a peer and its `X-Forwarded-For` header lines (in the order received).
pub fn client_from<'a>(
    peer: IpAddr,
    forwarded: impl Iterator<Item = &'a str>,
    trusted: &[Cidr],
) -> IpAddr {
    let is_trusted = |ip: IpAddr| trusted.iter().any(|c| c.contains(ip));
    if !is_trusted(peer) {
        return peer;
    }
    let hops: Vec<&str> = forwarded.flat_map(|line| line.split(',')).collect();
    let mut client = peer;
    for hop in hops.iter().rev() {
        match hop.trim().parse::<IpAddr>() {
            // A trusted proxy appended this one: it is the client unless it is a proxy too.
            Ok(ip) => {
                client = canonical(ip);
                if !is_trusted(client) {
                    return client;
                }
            }
            // Not an address (a port, garbage): the last trusted hop is all we know.
            Err(_) => return client,
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn cidrs_parse_and_match() {
        let net: Cidr = "10.1.0.0/16".parse().unwrap();
        assert!(net.contains(ip("10.1.200.3")));
        assert!(!net.contains(ip("10.2.0.1")));
        assert!(net.contains(ip("::ffff:10.1.0.9")), "IPv4-mapped");
        let one: Cidr = "127.0.0.1".parse().unwrap();
        assert!(one.contains(ip("127.0.0.1")) && !one.contains(ip("127.0.0.2")));
        let all: Cidr = "0.0.0.0/0".parse().unwrap();
        assert!(all.contains(ip("8.8.8.8")));
        let v6: Cidr = "fd00::/8".parse().unwrap();
        assert!(v6.contains(ip("fd12::1")) && !v6.contains(ip("fe80::1")));
        for bad in ["10.0.0.0/33", "nonsense", "::/129", "10.0.0.0/x", ""] {
            assert!(bad.parse::<Cidr>().is_err(), "{bad}");
        }
    }

    #[test]
    fn the_client_is_the_rightmost_untrusted_hop() {
        let trusted = ["127.0.0.1".parse().unwrap(), "10.0.0.0/8".parse().unwrap()];
        let lb = ip("127.0.0.1");
        // Straight to the node: the header is the client's own words.
        assert_eq!(
            client_from(ip("203.0.113.9"), ["1.2.3.4"].into_iter(), &trusted),
            ip("203.0.113.9")
        );
        // Through the balancer: what it appended.
        assert_eq!(
            client_from(lb, ["198.51.100.7"].into_iter(), &trusted),
            ip("198.51.100.7")
        );
        // A client that sends its own header gains nothing: its entries are left of the real one.
        assert_eq!(
            client_from(lb, ["1.1.1.1, 2.2.2.2, 198.51.100.7"].into_iter(), &trusted),
            ip("198.51.100.7")
        );
        // Two proxies of ours, and header lines split over several fields.
        assert_eq!(
            client_from(
                lb,
                ["9.9.9.9", "198.51.100.7, 10.0.0.5"].into_iter(),
                &trusted
            ),
            ip("198.51.100.7")
        );
        // No header from a proxy: the proxy itself.
        assert_eq!(client_from(lb, std::iter::empty(), &trusted), lb);
        // Garbage at the right end: the last hop known.
        assert_eq!(
            client_from(lb, ["198.51.100.7, junk"].into_iter(), &trusted),
            lb
        );
        // Nothing trusted: the peer, always.
        assert_eq!(client_from(lb, ["198.51.100.7"].into_iter(), &[]), lb);
    }
}
