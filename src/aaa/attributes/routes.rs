//! The routing attributes of an Access-Accept, as text and prefix values:
//! Framed-Route (RFC 2865 §5.22), Framed-IPv6-Route (RFC 3162 §2.5) and
//! Delegated-IPv6-Prefix (RFC 4818 §3, laid out as Framed-IPv6-Prefix).

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

/// One static route a RADIUS server gives a session (Framed-Route or
/// Framed-IPv6-Route).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FramedRoute {
    /// The destination.
    pub prefix: IpNet,
    /// The next hop; `None` for the session itself (RFC 2865 §5.22: "If
    /// the gateway address is "0.0.0.0", the IP address of the user SHOULD
    /// be used as the gateway address"; RFC 3162 §2.5 likewise for `::`).
    pub gateway: Option<IpAddr>,
    /// The first metric, when given.
    pub metric: Option<u32>,
}

/// Parses a Framed-Route or Framed-IPv6-Route value: the destination
/// prefix (`a.b.c.d/len`, or without `/len` a host route), then
/// optionally a gateway and metrics, separated by spaces. Vendors also
/// write `a.b.c.d/len gateway metric` with a trailing `tag=…`: words after
/// the first metric are ignored. `None` for anything else.
pub fn parse_framed_route(value: &[u8]) -> Option<FramedRoute> {
    let text = core::str::from_utf8(value).ok()?;
    let mut words = text.split_ascii_whitespace();
    let destination = words.next()?;
    let prefix = match destination.split_once('/') {
        Some(_) => destination.parse::<IpNet>().ok()?,
        None => IpNet::from(destination.parse::<IpAddr>().ok()?),
    }
    .trunc();
    let gateway = match words.next() {
        None => None,
        Some(word) => {
            let address = word.parse::<IpAddr>().ok()?;
            if address.is_ipv4() != prefix.addr().is_ipv4() {
                return None;
            }
            (!address.is_unspecified()).then_some(address)
        }
    };
    let metric = match words.next() {
        None => None,
        Some(word) => Some(word.parse::<u32>().ok()?),
    };
    Some(FramedRoute {
        prefix,
        gateway,
        metric,
    })
}

/// Parses a Framed-IPv6-Prefix or Delegated-IPv6-Prefix value (RFC 3162
/// §2.3, RFC 4818 §3): Reserved, Prefix-Length, then the prefix's
/// significant octets. Bits past the length are cleared.
pub fn parse_ipv6_prefix(value: &[u8]) -> Option<(Ipv6Addr, u8)> {
    let (&len, rest) = value.get(1..)?.split_first()?;
    if len > 128 || rest.len() > 16 || rest.len() * 8 < usize::from(len) {
        return None;
    }
    let mut octets = [0u8; 16];
    octets[..rest.len()].copy_from_slice(rest);
    let mask = u128::MAX.checked_shl(128 - u32::from(len)).unwrap_or(0);
    Some((
        Ipv6Addr::from(u128::from(Ipv6Addr::from(octets)) & mask),
        len,
    ))
}

/// An IPv4 host route to `address` (for the session's own address).
#[must_use]
pub fn host_route(address: Ipv4Addr) -> IpNet {
    IpNet::from(IpAddr::V4(address))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn framed_route_forms() {
        let route = parse_framed_route(b"192.0.2.0/24 0.0.0.0 1").unwrap();
        assert_eq!(route.prefix, "192.0.2.0/24".parse::<IpNet>().unwrap());
        assert_eq!(route.gateway, None);
        assert_eq!(route.metric, Some(1));
        let route = parse_framed_route(b"198.51.100.7/29 10.0.0.1 5 tag=3").unwrap();
        assert_eq!(route.prefix, "198.51.100.0/29".parse::<IpNet>().unwrap());
        assert_eq!(route.gateway, Some("10.0.0.1".parse().unwrap()));
        assert_eq!(route.metric, Some(5));
        let host = parse_framed_route(b"203.0.113.9").unwrap();
        assert_eq!(host.prefix, "203.0.113.9/32".parse::<IpNet>().unwrap());
        let v6 = parse_framed_route(b"2001:db8:1::/48 :: 1").unwrap();
        assert_eq!(v6.prefix, "2001:db8:1::/48".parse::<IpNet>().unwrap());
        assert_eq!(v6.gateway, None);
        for bad in [
            &b""[..],
            b"not-a-prefix",
            b"192.0.2.0/33",
            b"192.0.2.0/24 2001:db8::1",
            b"192.0.2.0/24 0.0.0.0 lots",
            b"\xff\xfe",
        ] {
            assert_eq!(parse_framed_route(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn ipv6_prefix_layout_and_bounds() {
        assert_eq!(
            parse_ipv6_prefix(&[0, 56, 0x20, 0x01, 0x0d, 0xb8, 0, 1, 2]),
            Some(("2001:db8:1:200::".parse().unwrap(), 56))
        );
        // Bits past the length are not part of the prefix.
        assert_eq!(
            parse_ipv6_prefix(&[0, 32, 0x20, 0x01, 0x0d, 0xb8, 0xff]),
            Some(("2001:db8::".parse().unwrap(), 32))
        );
        assert_eq!(parse_ipv6_prefix(&[0, 0]), Some((Ipv6Addr::UNSPECIFIED, 0)));
        assert_eq!(parse_ipv6_prefix(&[0, 129]), None);
        assert_eq!(parse_ipv6_prefix(&[0, 64, 0x20, 0x01]), None);
        assert_eq!(parse_ipv6_prefix(&[0]), None);
    }
}
